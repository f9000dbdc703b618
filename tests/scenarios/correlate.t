#!/bin/sh
# Every scenario in captures/ (demo, scenario-keepalive, scenario-tls):
# read -> ingest -> k8s -> correlate, and each event's verdict against the
# scenario's truth.tsv (what the generating script actually ran).
set -u
for d in captures/demo captures/scenario-keepalive captures/scenario-tls; do
	n=$(basename "$d")
	db="$TMPROOT/scen-$n.db"
	rm -f "$db"*
	if ! "$CALLERID" read -q --db "$db" "$d/capture.pcap" 2>"$TMPROOT/scen.err" ||
	   ! "$CALLERID" ingest --db "$db" "$d/cloudtrail" >/dev/null 2>>"$TMPROOT/scen.err" ||
	   ! "$CALLERID" k8s --db "$db" "$d"/k8s/*.json >/dev/null 2>>"$TMPROOT/scen.err"; then
		echo "not ok - $n: pipeline failed"
		sed 's/^/# /' "$TMPROOT/scen.err"
		continue
	fi
	"$CALLERID" correlate --db "$db" --format json >"$TMPROOT/scen.json"
	python3 tests/scenarios/truth.py "$d/truth.tsv" <"$TMPROOT/scen.json" | sed "s/^\(not ok\|ok\) [0-9]* - /\1 - $n: /" | grep -v '^1\.\.'
done
# scenario-tls again, its records given the keyExchange the flows really
# negotiated (x25519 for both TLS versions, tshark's server_named_curve and
# key_share): the key exchange test, now that TLS 1.2 flows have a group too,
# must not lose a single event. (tests/golden: the same with a wrong curve.)
d=captures/scenario-tls
db="$TMPROOT/scen-kx.db"
rm -f "$db"*
if python3 tests/golden/key-exchange.py "$d/cloudtrail" TLSv1.2=x25519 TLSv1.3=X25519 >"$TMPROOT/scen-kx.jsonl" &&
   "$CALLERID" read -q --db "$db" "$d/capture.pcap" 2>"$TMPROOT/scen.err" &&
   "$CALLERID" ingest --db "$db" "$TMPROOT/scen-kx.jsonl" >/dev/null 2>>"$TMPROOT/scen.err" &&
   "$CALLERID" k8s --db "$db" "$d"/k8s/*.json >/dev/null 2>>"$TMPROOT/scen.err"; then
	if [ "$(sqlite3 "$db" "SELECT count(*) FROM tls WHERE version = 'TLSv1.2' AND \"group\" = 'x25519'")" -gt 0 ]; then
		echo "ok - scenario-tls-kx: TLS 1.2 flows have their group"
	else
		echo "not ok - scenario-tls-kx: TLS 1.2 flows have their group"
	fi
	"$CALLERID" correlate --db "$db" --format json >"$TMPROOT/scen.json"
	python3 tests/scenarios/truth.py "$d/truth.tsv" <"$TMPROOT/scen.json" | sed "s/^\(not ok\|ok\) [0-9]* - /\1 - scenario-tls-kx: /" | grep -v '^1\.\.'
else
	echo "not ok - scenario-tls-kx: pipeline failed"
	sed 's/^/# /' "$TMPROOT/scen.err"
fi
