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
