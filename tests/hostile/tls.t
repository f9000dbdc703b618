#!/bin/sh
# tls.t - hostile TLS hellos (tests/hostile/tls.py): lengths that overflow
# (record, handshake, extensions, server_name list and name, cipher
# suites), two SNI names, two server_name extensions, ALPN with control and
# non-UTF-8 bytes; each next to an ordinary flow that must be stored
# intact. Then SNI and ALPN full of terminal escapes and spreadsheet
# formulas through every output form: read (table, json, csv), flows
# (table, json, csv), timeline (text, json, html): no raw ESC, BEL, C1 CSI
# or CR reaches a terminal, JSON and CSV parse, CSV cells that would start a
# formula begin with ', the HTML shows the markup as text.
# Environment: CALLERID (binary), TMPROOT (scratch dir).
. "$(dirname "$0")/lib.sh"
hostile_init tls "hostile TLS" python3 sqlite3
python3 "$HERE/tls.py" "$D" >"$D/gen.err" 2>&1 || { notok "tls.py writes the captures"; echo "1..$n"; exit 1; }

TAB=$(printf '\t')
while IFS="$TAB" read -r name status sni what; do
	db="$D/$name.db"
	"$CALLERID" read --db "$db" "$D/$name.pcap" >"$D/out" 2>"$D/err"
	rc=$?
	if [ $rc = 0 ] && ! grep -qE 'Sanitizer|runtime error' "$D/err"; then ok "$name: exit 0 ($what)"; else
		notok "$name: exit $rc ($what)"
		sed 's/^/# /' "$D/err" | head -5
	fi
	got=$(q "$db" "SELECT t.status || '|' || coalesce(t.sni, '-') FROM flow f JOIN tls t ON t.flow_id = f.id
		WHERE f.client_port = 42000")
	check "$name: stored with status $status, SNI $sni (got $got)" test "$got" = "$status|$sni"
	got=$(q "$db" "SELECT t.status || '|' || t.sni || '|' || t.version FROM flow f JOIN tls t ON t.flow_id = f.id
		WHERE f.client_port = 41000")
	check "$name: the ordinary flow before it intact" test "$got" = "ok|ec2.us-east-1.amazonaws.com|TLSv1.2"
	if raw_ctl "$D/out"; then notok "$name: raw control byte on stdout"; else ok "$name: no raw control byte on stdout"; fi
done <"$D/TLS"
check "two server_name extensions: both listed in extensions" \
	test "$(q "$D/sni-two-exts.db" "SELECT t.extensions FROM flow f JOIN tls t ON t.flow_id = f.id
		WHERE f.client_port = 42000" | grep -o '0000' | wc -l)" -ge 2
check "ALPN with ESC, BEL, NUL, non-UTF-8: stored up to the NUL" \
	test "$(q "$D/alpn-hostile.db" "SELECT hex(t.alpn) FROM flow f JOIN tls t ON t.flow_id = f.id
		WHERE f.client_port = 42000")" = "1B5B33316D6832072CFFFE"

# ---- escapes and formulas in every output form ------------------------------
E=$D/escapes.db
for fmt in table json csv; do
	"$CALLERID" read --db "$E.$fmt" --format "$fmt" "$D/escapes.pcap" >"$D/read.$fmt" 2>"$D/err"
done
cp "$E.table" "$E"
for fmt in table json csv; do
	"$CALLERID" flows --db "$E" --format "$fmt" >"$D/flows.$fmt" 2>"$D/err"
done
"$CALLERID" timeline --db "$E" --format text >"$D/timeline.text" 2>"$D/err"
"$CALLERID" timeline --db "$E" --format json >"$D/timeline.json" 2>"$D/err"
"$CALLERID" timeline --db "$E" --format html -o "$D/timeline.html" 2>"$D/err"
for f in read.table read.json read.csv flows.table flows.json flows.csv timeline.text timeline.json timeline.html; do
	if [ ! -s "$D/$f" ]; then
		notok "$f: written"
		continue
	fi
	check "$f: the escaped SNI is there" grep -q 'evil\.example\.com' "$D/$f"
	if raw_ctl "$D/$f"; then notok "$f: raw ESC, BEL, C1 CSI, CR or NUL"; else ok "$f: no raw ESC, BEL, C1 CSI, CR or NUL"; fi
done
for f in read.json flows.json timeline.json; do
	python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], "rb")]
sys.exit(0 if rows else 1)' "$D/$f"
	check "$f: every line is JSON" test $? = 0
done
for f in read.csv flows.csv; do
	python3 - "$D/$f" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8", newline="")))
snis = [r["sni"] for r in rows]
# a cell starting with = + - @ (or tab, CR) would be a formula: it gets a '
want = ["'=cmd|' /C calc'!A0", "'+SUM(1)", "'@SUM(1)", "'-2+3"]
bad = [w for w in want if w not in snis]
bad += [s for s in snis if s and s[0] in "=+-@\t\r"]
sys.exit(1 if bad or len(rows) != 5 else 0)
PY
	check "$f: 5 rows; formula SNIs (= + - @) begin with '" test $? = 0
done
check "timeline.html: the SNI's markup is text (&lt;b&gt;&amp;)" grep -q '&lt;b&gt;&amp;' "$D/timeline.html"
check "timeline.html: the SNI's markup is not markup" sh -c "! grep -q \"<b>&'\" '$D/timeline.html'"
check "table forms: the formula shown as it is (no spreadsheet there)" grep -q "=cmd|' /C calc'!A0" "$D/flows.table"
rm -rf "$D"
echo "1..$n"
