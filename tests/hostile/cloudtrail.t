#!/bin/sh
# cloudtrail.t - `callerid ingest` on hostile CloudTrail files made by
# tests/hostile/ct.py: 100000 nested arrays (as a record, inside a record,
# as the whole file, in JSON lines), a 50 MB string, wrong types, Records
# or Events that are not arrays, plain JSON named .gz, garbage behind a
# gzip header, binary named .gz, gzip cut mid-stream and in its header.
# For each file: the exit status, a message naming the file (and the record
# or byte), the events stored, no sanitizer report; each run starts from a
# database holding another file's events, which must all still be there.
# Then terminal escapes, markup and spreadsheet formulas in the fields
# through events (table, json, csv), events --summary and timeline (text,
# json, html).
# Environment: CALLERID (binary), TMPROOT (scratch dir).
. "$(dirname "$0")/lib.sh"
hostile_init ct "hostile CloudTrail" python3 sqlite3
python3 "$HERE/ct.py" "$D" >"$D/gen.err" 2>&1 || { notok "ct.py writes the files"; echo "1..$n"; exit 1; }

# what every database holds before: tests/ingest's S3 delivery file
"$CALLERID" ingest --db "$D/base.db" tests/ingest/data/s3-delivery.json >/dev/null 2>&1
BASE=$(q "$D/base.db" "SELECT group_concat(event_id) FROM (SELECT event_id FROM event ORDER BY 1)")
[ -n "$BASE" ] || notok "the base database holds events"

TAB=$(printf '\t')
while IFS="$TAB" read -r name want ids msg what; do
	db="$D/$name.db"
	cp "$D/base.db" "$db"
	"$CALLERID" ingest --db "$db" "$D/$name" >"$D/out" 2>"$D/err"
	rc=$?
	if [ "$rc" = "$want" ]; then ok "$name: exit $want ($what)"; else
		notok "$name: exit $rc, expected $want ($what)"
		sed 's/^/# /' "$D/err" | head -5
	fi
	grep -qE 'Sanitizer|runtime error' "$D/err" && notok "$name: sanitizer report"
	if [ "$msg" = "-" ]; then
		check "$name: nothing on stderr" test ! -s "$D/err"
	elif grep -F "$D/$name" "$D/err" | grep -qE "$msg"; then
		ok "$name: a message naming the file: /$msg/"
	else
		notok "$name: a message naming the file: /$msg/"
		sed 's/^/# /' "$D/err" | head -5
	fi
	got=$(q "$db" "SELECT group_concat(event_id) FROM (SELECT event_id FROM event
		WHERE origin LIKE '%' || '$name' || '#%' ORDER BY 1)")
	if [ "$ids" = "+" ]; then
		# the records before the cut: e0001 .. eNNNN, at least one
		k=$(echo "$got" | tr ',' '\n' | grep -c .)
		exp=$(seq 1 "$k" | awk '{ printf "%se%04d", (NR > 1 ? "," : ""), $1 }')
		check "$name: the $k records before the cut stored" sh -c "[ $k -ge 1 ] && [ '$got' = '$exp' ]"
	else
		[ "$ids" = "-" ] && ids=""
		check "$name: events stored: ${ids:-none}" test "$got" = "$ids"
	fi
	check "$name: the events stored before are all still there" test \
		"$(q "$db" "SELECT group_concat(event_id) FROM (SELECT event_id FROM event WHERE origin NOT LIKE '%$name#%' ORDER BY 1)")" = "$BASE"
	rm -f "$db"*
done <"$D/MANIFEST"
rm -f "$D/huge-string.json" "$D"/deep-*

# ---- escapes, markup and formulas in the listings -------------------------------
E=$D/escapes.db
"$CALLERID" ingest --db "$E" "$D/escapes.json" >/dev/null 2>&1
check "the escapes file has 2 events" test "$(q "$E" "SELECT count(*) FROM event")" = 2
for fmt in table json csv; do
	"$CALLERID" events --db "$E" --format "$fmt" >"$D/events.$fmt" 2>/dev/null
	"$CALLERID" events --db "$E" --summary --format "$fmt" >"$D/summary.$fmt" 2>/dev/null
done
"$CALLERID" timeline --db "$E" --format text >"$D/timeline.text" 2>/dev/null
"$CALLERID" timeline --db "$E" --format json >"$D/timeline.json" 2>/dev/null
"$CALLERID" timeline --db "$E" --format html -o "$D/timeline.html" 2>/dev/null
for f in events.table events.json events.csv summary.table summary.json timeline.text timeline.json timeline.html; do
	if [ ! -s "$D/$f" ]; then notok "$f: written"; continue; fi
	check "$f: the escaped user agent is there" grep -q 'script' "$D/$f"
	if raw_ctl "$D/$f"; then notok "$f: raw ESC, BEL, C1 CSI, CR or NUL"; else ok "$f: no raw ESC, BEL, C1 CSI, CR or NUL"; fi
done
for f in events.json summary.json timeline.json; do
	python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], "rb")]
sys.exit(0 if rows else 1)' "$D/$f"
	check "$f: every line is JSON" test $? = 0
done
python3 - "$D/events.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8", newline="")))
cells = [c for r in rows[1:] for c in r]
want = ["'=cmd|' /C calc'!A0", "'-2+3", "'@SUM(1)"]
bad = [w for w in want if w not in cells]
bad += [c for c in cells if c and c[0] in "=+-@\t\r"]
sys.exit(1 if bad or len({len(r) for r in rows}) != 1 else 0)
PY
check "events.csv: formula cells (= + - @) begin with ', every row as wide as the header" test $? = 0
check "timeline.html: <script> shown as text" grep -q '&lt;script&gt;' "$D/timeline.html"
check "timeline.html: no <script> element from the data" sh -c "! grep -qi '<script' '$D/timeline.html'"
rm -rf "$D"
echo "1..$n"
