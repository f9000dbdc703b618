#!/bin/sh
# sql.t - SQL-hostile text (quote, double quote, backslash, ";", "--", "%",
# "_", bytes that are not UTF-8, a NUL) in every text field that reaches
# the database: SNI and ALPN (offered and chosen), HTTP method, path, Host,
# User-Agent and role, DNS names, every CloudTrail text column and the
# requestID, kubectl namespace, name, uid, node, service account, owner and
# container id (tests/hostile/sql.py makes the inputs and reads the rows back
# byte for byte). Then the same strings as filters: matched exactly, never
# as SQL, and the JSON and CSV listings still parse.
# Environment: CALLERID (binary), TMPROOT (scratch dir).
. "$(dirname "$0")/lib.sh"
hostile_init sql "SQL-hostile text" python3
python3 "$HERE/sql.py" gen "$D" || { notok "sql.py gen"; echo "1..$n"; exit 1; }
DB=$D/t.db

"$CALLERID" read -q --db "$DB" "$D/sql.pcap" >"$D/o1" 2>"$D/e1"
check "read: exit 0" test $? = 0
check "read: no sanitizer report, no SQL error" sh -c "! grep -qE 'Sanitizer|runtime error|SQL|syntax' '$D/e1'"
"$CALLERID" ingest --db "$DB" "$D/cloudtrail.json" >"$D/o2" 2>"$D/e2"
rc=$?
[ $rc = 0 ] && [ ! -s "$D/e2" ]
if [ $? = 0 ]; then ok "ingest: exit 0, nothing on stderr"; else
	notok "ingest: exit 0, nothing on stderr (exit $rc)"
	sed 's/^/# /' "$D/e2" | head -5
fi
"$CALLERID" k8s --db "$DB" --at 2024-05-01T12:00:00Z "$D/pods.json" "$D/nodes.json" >"$D/o3" 2>"$D/e3"
rc=$?
[ $rc = 0 ] && [ ! -s "$D/e3" ]
if [ $? = 0 ]; then ok "k8s: exit 0, nothing on stderr"; else
	notok "k8s: exit 0, nothing on stderr (exit $rc)"
	sed 's/^/# /' "$D/e3" | head -5
fi

# the rows, byte for byte (its own TAP lines, renumbered after ours)
python3 "$HERE/sql.py" check "$D" "$DB" >"$D/check" 2>&1
grep -v '^1\.\.' "$D/check" | awk -v n="$n" '/^(not )?ok / { n++; v = /^not/ ? "not ok" : "ok"; sub(/^(not )?ok [0-9]* - /, ""); $0 = v " " n " - " $0 }
	{ print } END { print "#n " n }' >"$D/check.tap"
grep -v '^#n ' "$D/check.tap"
n=$(sed -n 's/^#n //p' "$D/check.tap")
[ -n "$n" ] || n=0

# ---- the strings as filters -------------------------------------------------
EVNAME=$(sed -n 1p "$D/strings")
SNI=$(sed -n 2p "$D/strings")
"$CALLERID" events --db "$DB" --event-name "$EVNAME" --format json >"$D/f1" 2>"$D/fe1"
rc=$?
[ $rc = 0 ] && [ "$(wc -l <"$D/f1")" = 1 ] && clean "$D/fe1"
check "events --event-name with the hostile name: exactly its event" test $? = 0
"$CALLERID" events --db "$DB" --event-name "x' OR '1'='1" --format json >"$D/f2" 2>"$D/fe2"
rc=$?
check "events --event-name \"x' OR '1'='1\": no event, exit 0" sh -c "[ $rc = 0 ] && [ ! -s '$D/f2' ]"
"$CALLERID" events --db "$DB" --event-id "'; DROP TABLE event; --" --format json >"$D/f3" 2>"$D/fe3"
rc=$?
check "events --event-id \"'; DROP TABLE event; --\": no event, exit 0" sh -c "[ $rc = 0 ] && [ ! -s '$D/f3' ]"
"$CALLERID" events --db "$DB" --format json >"$D/f4" 2>"$D/fe4"
check "... and the event table still holds its 3 events" test "$(wc -l <"$D/f4")" = 3
"$CALLERID" flows --db "$DB" --sni "$SNI" --format json >"$D/f5" 2>"$D/fe5"
rc=$?
check "flows --sni with the hostile SNI: exactly its flow" sh -c "[ $rc = 0 ] && [ \$(wc -l <'$D/f5') = 1 ]"
"$CALLERID" flows --db "$DB" --sni "%" --format json >"$D/f6" 2>"$D/fe6"
check "flows --sni %: a glob, so % matches only a literal %: no flow" test ! -s "$D/f6"
"$CALLERID" flows --db "$DB" --sni "*%pct_us*" --format json >"$D/f7" 2>"$D/fe7"
check "flows --sni '*%pct_us*': the hostile SNI by its % and _" test "$(wc -l <"$D/f7")" = 1

# the listings with these strings still parse as JSON and CSV
for cmd in flows events; do
	"$CALLERID" $cmd --db "$DB" --format json >"$D/$cmd.json" 2>/dev/null
	python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], "rb")]
sys.exit(0 if rows else 1)' "$D/$cmd.json"
	check "$cmd --format json: every line is JSON" test $? = 0
	"$CALLERID" $cmd --db "$DB" --format csv >"$D/$cmd.csv" 2>/dev/null
	python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8", newline="")))
sys.exit(0 if len(rows) > 1 and len({len(r) for r in rows}) == 1 else 1)' "$D/$cmd.csv"
	check "$cmd --format csv: UTF-8, every row with the header's columns" test $? = 0
done
rm -rf "$D"
echo "1..$n"
