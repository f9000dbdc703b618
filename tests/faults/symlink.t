#!/bin/sh
# Files callerid creates are 0600 whatever the umask, and it refuses to
# write through a symbolic link it did not expect: a link where the database
# should be (to a file, to a database, dangling), or where SQLite keeps its
# -wal/-shm/-journal files, is refused with a clear error, exit 1, and the
# link's target is left alone (a dangling link's target is not created).
. tests/faults/lib.sh

why=$(need_tools)
if [ -n "$why" ]; then
	skip "symlinks and modes" "$why"
	finish
fi
"$GEN_PCAP" "$T/small.pcap" 1 5 2>/dev/null
"$GEN_CT" "$T/ct" 100 100 >/dev/null 2>&1
D=$T/d
mkdir -p "$D"

# ---- modes --------------------------------------------------------------------
for u in 000 022 077; do
	rm -f "$D"/m.db*
	(umask "$u" && "$CALLERID" read -q --db "$D/m.db" "$T/small.pcap" >/dev/null 2>"$T/err")
	check "read with umask $u creates the database 0600" [ "$(mode "$D/m.db")" = 600 ]
done
rm -f "$D"/m.db*
(umask 000 && "$CALLERID" ingest --db "$D/m.db" "$T/ct" >/dev/null 2>"$T/err")
check "ingest with umask 000 creates the database 0600" [ "$(mode "$D/m.db")" = 600 ]
# The -wal and -shm files exist only while callerid has the database open
# (they go at close): look at them in the middle of a longer read.
rm -f "$D"/m.db*
"$GEN_PCAP" "$T/mid.pcap" 60 5 2>/dev/null
(umask 000 && exec "$CALLERID" read -q --db "$D/m.db" "$T/mid.pcap" "$T/mid.pcap" >/dev/null 2>&1) &
rpid=$!
: >"$T/sidemodes"
for _i in $(seq 1 300); do
	if [ -f "$D/m.db-wal" ] && [ -f "$D/m.db-shm" ]; then
		stat -c '%n %a' "$D/m.db-wal" "$D/m.db-shm" >"$T/sidemodes" 2>/dev/null && break
	fi
	kill -0 "$rpid" 2>/dev/null || break
	sleep 0.01
done
wait "$rpid"
rm -f "$T/mid.pcap"
if [ "$(wc -l <"$T/sidemodes")" -eq 2 ]; then
	[ -z "$(awk '$2 != 600' "$T/sidemodes")" ]
	ok_if "the -wal and -shm files callerid makes are 0600 too (umask 000)" $?
else
	skip "the -wal and -shm files are 0600" "the read ended before they could be seen"
fi

# ---- symbolic links -------------------------------------------------------------
echo "precious" >"$T/target"
# refused WHAT LINKPATH CMD...: CMD must exit 1 naming the link; target intact
refused() {
	_w=$1 _l=$2; shift 2
	"$@" >/dev/null 2>"$T/err"
	_rc=$?
	if [ "$_rc" -eq 1 ] && grep -q 'symbolic link' "$T/err" && clean_stderr "$T/err" &&
	   [ "$(cat "$T/target")" = precious ]; then
		ok "$_w"
	else
		not_ok "$_w (exit $_rc)" "$(cat "$T/err")" "target now: $(head -c 60 "$T/target" | od -c | head -2)"
	fi
}

rm -f "$D"/*
ln -s "$T/target" "$D/file.db"
refused "read refuses a database path that links to a file" "$D/file.db" \
	"$CALLERID" read -q --db "$D/file.db" "$T/small.pcap"
refused "ingest refuses it too" "$D/file.db" "$CALLERID" ingest --db "$D/file.db" "$T/ct"
refused "flows (read-only) refuses it too" "$D/file.db" "$CALLERID" flows --db "$D/file.db"

ln -s "$T/nowhere.db" "$D/dangling.db"
refused "read refuses a dangling link" "$D/dangling.db" \
	"$CALLERID" read -q --db "$D/dangling.db" "$T/small.pcap"
check "... and does not create the link's target" [ ! -e "$T/nowhere.db" ]
refused "ingest refuses a dangling link" "$D/dangling.db" "$CALLERID" ingest --db "$D/dangling.db" "$T/ct"
check "... and does not create the link's target" [ ! -e "$T/nowhere.db" ]

# a link to a real callerid database is refused as well: we did not expect it
"$CALLERID" read -q --db "$T/real.db" "$T/small.pcap" >/dev/null 2>&1
before=$(rows "$T/real.db" capture)
ln -s "$T/real.db" "$D/real.db"
"$CALLERID" read -q --db "$D/real.db" "$T/small.pcap" >/dev/null 2>"$T/err"
rc=$?
[ "$rc" -eq 1 ] && grep -q 'symbolic link' "$T/err" && [ "$(rows "$T/real.db" capture)" = "$before" ]
ok_if "read refuses a link to a real database and leaves it alone" $?

for side in -wal -shm -journal; do
	rm -f "$D"/s.db*
	ln -s "$T/target" "$D/s.db$side"
	refused "read refuses a symbolic link at s.db$side" "$D/s.db$side" \
		"$CALLERID" read -q --db "$D/s.db" "$T/small.pcap"
	# also when the database itself already exists
	rm -f "$D/s.db$side"
	"$CALLERID" read -q --db "$D/s.db" "$T/small.pcap" >/dev/null 2>&1
	ln -s "$T/target" "$D/s.db$side"
	refused "ingest into an existing database refuses a link at s.db$side" "$D/s.db$side" \
		"$CALLERID" ingest --db "$D/s.db" "$T/ct"
done

# a directory or a FIFO where the database should be is refused, not opened
mkdir "$D/dir.db"
"$CALLERID" read -q --db "$D/dir.db" "$T/small.pcap" >/dev/null 2>"$T/err"
[ $? -eq 1 ] && grep -q 'not a regular file' "$T/err"
ok_if "read refuses a directory as the database" $?
mkfifo "$D/fifo.db"
"$CALLERID" read -q --db "$D/fifo.db" "$T/small.pcap" >/dev/null 2>"$T/err" </dev/null
[ $? -eq 1 ] && grep -q 'not a regular file' "$T/err"
ok_if "read refuses a FIFO as the database (and does not block on it)" $?
finish
