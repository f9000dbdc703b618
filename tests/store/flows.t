#!/bin/sh
# `callerid flows` from the outside: usage and exit codes, refusals of
# unsafe or foreign database files, and (when `callerid read` and the
# shared captures are there) a listing of a real capture in every format.
# Environment: CALLERID (binary), TMPROOT (scratch dir).
set -u
: "${CALLERID:?}" "${TMPROOT:?}"
D="$TMPROOT/flows_t.$$"
mkdir -p "$D"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # description, then a command whose success means ok
	d=$1; shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}
status() { # runs callerid, prints its exit status
	"$CALLERID" "$@" >"$D/out" 2>"$D/err"
	echo $?
}

check "--help exits 0 and prints usage" \
	test "$(status flows --help)" = 0 -a -n "$(grep 'usage: callerid flows' "$D/out")"
check "unknown option exits 2" test "$(status flows --db "$D/x.db" --nope)" = 2
check "bad --format exits 2" test "$(status flows --db "$D/x.db" --format xml)" = 2
check "bad --limit exits 2" test "$(status flows --db "$D/x.db" --limit ten)" = 2
check "bad --server exits 2" test "$(status flows --db "$D/x.db" --server 10.0.0.300)" = 2
check "bad --since exits 2" test "$(status flows --db "$D/x.db" --since soon)" = 2

check "missing database exits 1" test "$(status flows --db "$D/missing.db")" = 1
check "missing database: message names it" grep -q "$D/missing.db" "$D/err"
check "missing database: not created by a read-only listing" test ! -e "$D/missing.db"

printf 'not a database, just text\n' >"$D/text.db"
check "non-SQLite file exits 1" test "$(status flows --db "$D/text.db")" = 1
check "non-SQLite file: message names it" grep -q "$D/text.db is not a SQLite database" "$D/err"

ln -s "$D/text.db" "$D/link.db"
check "symlinked database exits 1" test "$(status flows --db "$D/link.db")" = 1
check "symlinked database: refused as a link" grep -q "symbolic link" "$D/err"

check "CALLERID_DB is the default database" \
	sh -c 'CALLERID_DB="$1" "$2" flows >/dev/null 2>"$3"; grep -q "$1" "$3"' - \
	"$D/env.db" "$CALLERID" "$D/err"

PCAP=../shared/data/suricata-verify/ja4-sv-handshake/input.pcap
DB="$D/read.db"
if [ ! -f "$PCAP" ]; then
	why="../shared/data absent"
elif ! "$CALLERID" read --db "$DB" "$PCAP" >/dev/null 2>"$D/err"; then
	why="callerid read failed: $(head -1 "$D/err")"
else
	why=""
fi
if [ -n "$why" ]; then
	for t in "database mode 0600" "json: one flow" "json: endpoints and SNI" "csv header" \
		"table header" "--sni glob, case-insensitive" "--sni glob that matches nothing" \
		"--tls-only" "--limit 0"; do
		skip "$t" "$why"
	done
else
	check "database mode 0600" test "$(stat -c %a "$DB")" = 600
	"$CALLERID" flows --db "$DB" --format json >"$D/json"
	check "json: one flow" test "$(wc -l <"$D/json")" -eq 1
	check "json: endpoints and SNI" grep -q \
		'"client":"172.16.1.117:34140","server":"172.16.1.130:4433","proto":"tcp","sni":"dogfish"' \
		"$D/json"
	"$CALLERID" flows --db "$DB" --format csv >"$D/csv"
	check "csv header" test "$(head -1 "$D/csv")" = \
		"id,first,client,server,proto,sni,version,cipher,group,alpn,ja3_hash,ja4,requests,c2s_bytes,s2c_bytes,end,ja4_r,ja4_o,ja4_ro,community_id,capture,host"
	"$CALLERID" flows --db "$DB" --format table >"$D/table"
	check "table header" grep -q '^id  *first  *client  *server' "$D/table"
	check "--sni glob, case-insensitive" \
		test "$("$CALLERID" flows --db "$DB" --format json --sni 'DOG*' | wc -l)" -eq 1
	check "--sni glob that matches nothing" \
		test "$("$CALLERID" flows --db "$DB" --format json --sni '*.example' | wc -l)" -eq 0
	check "--tls-only" \
		test "$("$CALLERID" flows --db "$DB" --format json --tls-only | wc -l)" -eq 1
	check "--limit 0" test "$("$CALLERID" flows --db "$DB" --format json --limit 0 | wc -l)" -eq 0
fi

# JA4's other forms are made from the stored lists when listed: a list
# that is not one (a database edited by hand) gives null forms, the rest
# of the row as before.
DB2="$D/forms.db"
if "$CALLERID" read -q --db "$DB2" captures/tls12-sll2.pcap >/dev/null 2>"$D/err"; then
	"$CALLERID" flows --db "$DB2" --format json >"$D/forms"
	check "json: ja4_r has the sorted ciphers after JA4_a" \
		grep -q '"ja4":"t12d020700_[^"]*".*"ja4_r":"t12d020700_00ff,c02f_000a,' "$D/forms"
	check "json: ja4_ro has them in the client's order, SNI kept" \
		grep -q '"ja4_ro":"t12d020700_c02f,00ff_0000,' "$D/forms"
	# the Community ID of this flow (Zeek, Suricata and tshark compute it too)
	cid=1:t3iwpPBLvuHHfQJnj10c0yMqDUw=
	check "json: community_id" grep -q "\"community_id\":\"$cid\"" "$D/forms"
	check "--community-id finds its flow" \
		test "$("$CALLERID" flows --db "$DB2" --format json --community-id "$cid" | wc -l)" -eq 1
	check "--community-id of another flow finds none" \
		test "$("$CALLERID" flows --db "$DB2" --format json --community-id 1:AAAAAAAAAAAAAAAAAAAAAAAAAAA= | wc -l)" -eq 0
	python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("UPDATE tls SET extensions = ?", ("00zz,0017",)); c.commit()' "$DB2"
	"$CALLERID" flows --db "$DB2" --format json >"$D/forms" 2>"$D/err"
	check "a hand-edited list: exit 0, nothing on stderr" test "$?" = 0 -a ! -s "$D/err"
	check "a hand-edited list: null forms, ja4 kept" \
		grep -q '"ja4":"t12d020700_[^"]*".*"ja4_r":null,"ja4_o":null,"ja4_ro":null' "$D/forms"
else
	for t in "json: ja4_r has the sorted ciphers after JA4_a" "json: ja4_ro has them in the client's order, SNI kept" \
		"json: community_id" "--community-id finds its flow" "--community-id of another flow finds none" \
		"a hand-edited list: exit 0, nothing on stderr" "a hand-edited list: null forms, ja4 kept"; do
		check "$t" false
	done
fi

echo "1..$n"
rm -rf "$D"
