#!/bin/sh
# The database locked by another process: a sqlite3 shell holds a write
# transaction (BEGIN IMMEDIATE) while `callerid read` and `callerid ingest`
# want to write. Each must wait out the busy timeout (5 s), then stop with a
# clear "locked" error and exit 1 -- no crash, no hang -- and readers keep
# working meanwhile (WAL). Once the lock is gone both succeed.
. tests/faults/lib.sh

why=$(need_tools)
if [ -n "$why" ]; then
	skip "locked database during read" "$why"
	skip "locked database during ingest" "$why"
	finish
fi

holder=
# Stops the lock holder we started: the sleep feeding the shell, then the
# shell (by the pids we recorded, nothing else).
unlock() {
	if [ -n "$holder" ]; then
		kill "$(cat "$T/sleep.pid" 2>/dev/null)" 2>/dev/null
		wait "$holder" 2>/dev/null
		holder=
	fi
}
before_finish() { unlock; }
trap 'unlock; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM

# lock DB: a sqlite3 shell takes the write lock and keeps it for up to 60 s
lock() {
	rm -f "$T/locked"
	{
		echo "BEGIN IMMEDIATE;"
		echo "UPDATE capture SET host = host;"
		echo ".shell touch $T/locked"
		sleep 60 &
		echo $! >"$T/sleep.pid"
		wait
	} | sqlite3 -batch "$1" >/dev/null 2>&1 &
	holder=$!
	for _i in $(seq 1 100); do
		[ -f "$T/locked" ] && return 0
		sleep 0.05
	done
	return 1
}

"$GEN_PCAP" "$T/small.pcap" 2 7 2>/dev/null
"$GEN_CT" "$T/ct" 300 100 >/dev/null 2>&1
DB=$T/l.db
"$CALLERID" read -q --db "$DB" "$T/small.pcap" >/dev/null 2>"$T/err"
check "setup: a database with one capture" [ "$(rows "$DB" capture)" = 1 ]
if ! lock "$DB"; then
	not_ok "a sqlite3 shell takes the write lock"
	finish
fi
ok "a sqlite3 shell takes the write lock"

# -- read --
t0=$(now_ms)
"$CALLERID" read -q --db "$DB" "$T/small.pcap" >/dev/null 2>"$T/err"
rc=$? el=$(( $(now_ms) - t0 ))
if [ "$rc" -eq 1 ]; then ok "read: locked database exits 1"; else not_ok "read: locked database exits 1 (got $rc)" "$(cat "$T/err")"; fi
if grep -q 'locked' "$T/err" && clean_stderr "$T/err"; then
	ok "read: the error says the database is locked"
else
	not_ok "read: the error says the database is locked" "$(cat "$T/err")"
fi
[ "$el" -ge 4000 ] && [ "$el" -lt 30000 ]
ok_if "read: it waited for the busy timeout first (${el} ms)" $?
"$CALLERID" flows --db "$DB" --format json >"$T/flows" 2>"$T/err" && [ -s "$T/flows" ]
ok_if "readers still work while a writer holds the lock" $?

# -- ingest --
t0=$(now_ms)
"$CALLERID" ingest --db "$DB" "$T/ct" >/dev/null 2>"$T/err"
rc=$? el=$(( $(now_ms) - t0 ))
if [ "$rc" -eq 1 ]; then ok "ingest: locked database exits 1"; else not_ok "ingest: locked database exits 1 (got $rc)" "$(cat "$T/err")"; fi
if grep -q 'locked' "$T/err" && clean_stderr "$T/err"; then
	ok "ingest: the error says the database is locked"
else
	not_ok "ingest: the error says the database is locked" "$(cat "$T/err")"
fi
[ "$el" -ge 4000 ] && [ "$el" -lt 60000 ]
ok_if "ingest: it waited for the busy timeout first (${el} ms)" $?

unlock
check "integrity_check ok after the lock is released" integrity_ok "$DB"
[ "$(rows "$DB" capture)" = 1 ] && [ "$(rows "$DB" event)" -le 0 ]
ok_if "the failed writers left nothing behind" $?
"$CALLERID" read -q --db "$DB" "$T/small.pcap" >/dev/null 2>"$T/err" && [ "$(rows "$DB" capture)" = 2 ]
ok_if "read succeeds once the lock is gone" $?
"$CALLERID" ingest --db "$DB" "$T/ct" >/dev/null 2>"$T/err" && [ "$(rows "$DB" event)" -gt 0 ]
ok_if "ingest succeeds once the lock is gone" $?
finish
