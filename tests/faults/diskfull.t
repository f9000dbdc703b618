#!/bin/sh
# Disk full while writing the database: `callerid read` and `callerid ingest`
# with the database on a small tmpfs (mounted here, so root only). Each must
# stop with a clear error and exit 1, leave a database that passes
# PRAGMA integrity_check, keep every row committed before the failure, and
# leave no half-written batch (flows without their capture, TLS or request
# rows without their flow).
. tests/faults/lib.sh

why=$(need_tools)
[ -z "$why" ] && [ "$(id -u)" != 0 ] && why="needs root to mount a tmpfs"
if [ -n "$why" ]; then
	skip "disk full during read" "$why"
	skip "disk full during ingest" "$why"
	finish
fi

MNT=$T/mnt
mkdir -p "$MNT"
mounted=
before_finish() { if [ -n "$mounted" ]; then umount "$MNT" 2>/dev/null; mounted=; fi; }
trap 'before_finish; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
# mount_small SIZE: a fresh tmpfs of SIZE at $MNT
mount_small() {
	[ -n "$mounted" ] && umount "$MNT"
	mounted=
	mount -t tmpfs -o "size=$1,mode=0700" tmpfs "$MNT" 2>"$T/mount.err" && mounted=1
}

# ---- read -------------------------------------------------------------------
"$GEN_PCAP" "$T/small.pcap" 2 7 2>/dev/null
"$GEN_PCAP" "$T/big.pcap" 60 3 2>/dev/null
if ! mount_small 1500k; then
	skip "disk full during read" "cannot mount a tmpfs: $(cat "$T/mount.err")"
	skip "disk full during ingest" "cannot mount a tmpfs"
	finish
fi
DB=$MNT/read.db
"$CALLERID" read -q --db "$DB" "$T/small.pcap" >/dev/null 2>"$T/err"
check "read: a small capture fits on the small disk" [ $? -eq 0 ]
flows0=$(q "$DB" "SELECT count(*) FROM flow WHERE capture_id = 1")
tls0=$(q "$DB" "SELECT count(*) FROM tls")
check "read: the small capture stored flows" [ "${flows0:-0}" -gt 0 ]

"$CALLERID" read -q --db "$DB" "$T/big.pcap" >/dev/null 2>"$T/err"
rc=$?
if [ "$rc" -eq 1 ]; then ok "read: disk full exits 1"; else not_ok "read: disk full exits 1 (got $rc)" "$(cat "$T/err")"; fi
if grep -q 'full' "$T/err" && clean_stderr "$T/err"; then
	ok "read: disk full is reported clearly"
else
	not_ok "read: disk full is reported clearly" "$(cat "$T/err")"
fi
check "read: database passes integrity_check on the full disk" integrity_ok "$DB"
check "read: rows committed before the failure are kept" \
	[ "$(q "$DB" "SELECT count(*) FROM flow WHERE capture_id = 1")" = "$flows0" ]
check "read: their capture row is complete" \
	[ "$(q "$DB" "SELECT count(*) FROM capture WHERE id = 1 AND ended_us IS NOT NULL")" = 1 ]
check "read: TLS rows committed before the failure are kept" [ "$(rows "$DB" tls)" -ge "$tls0" ]
check "read: no half-written batch (orphan rows)" [ "$(orphans "$DB")" = 0 ]
check "read: database still 0600 after the failure" [ "$(mode "$DB")" = 600 ]
# Once space is back the same database takes the capture.
cp -p "$DB" "$T/read.db" 2>/dev/null
for s in -wal -shm; do [ -f "$DB$s" ] && cp "$DB$s" "$T/read.db$s"; done
"$CALLERID" read -q --db "$T/read.db" "$T/small.pcap" >/dev/null 2>"$T/err"
check "read: the database is usable again once space is back" [ $? -eq 0 ]
check "read: ... and still passes integrity_check" integrity_ok "$T/read.db"

# ---- ingest -----------------------------------------------------------------
"$GEN_CT" "$T/ct-small" 300 300 >/dev/null 2>&1
"$GEN_CT" "$T/ct-big" 20000 1000 >/dev/null 2>&1
if ! mount_small 3m; then
	skip "disk full during ingest" "cannot mount a tmpfs: $(cat "$T/mount.err")"
	finish
fi
DB=$MNT/ingest.db
"$CALLERID" ingest --db "$DB" "$T/ct-small" >/dev/null 2>"$T/err"
check "ingest: a small trail fits on the small disk" [ $? -eq 0 ]
q "$DB" "SELECT event_id FROM event ORDER BY 1" >"$T/ids0"
check "ingest: the small trail stored events" [ -s "$T/ids0" ]

"$CALLERID" ingest --db "$DB" "$T/ct-big" >/dev/null 2>"$T/err"
rc=$?
if [ "$rc" -eq 1 ]; then ok "ingest: disk full exits 1"; else not_ok "ingest: disk full exits 1 (got $rc)" "$(grep -v digest "$T/err")"; fi
if grep -q 'full' "$T/err" && clean_stderr "$T/err"; then
	ok "ingest: disk full is reported clearly"
else
	not_ok "ingest: disk full is reported clearly" "$(grep -v digest "$T/err")"
fi
check "ingest: database passes integrity_check on the full disk" integrity_ok "$DB"
q "$DB" "SELECT event_id FROM event ORDER BY 1" >"$T/ids1"
check "ingest: events committed before the failure are kept" \
	[ -z "$(comm -23 "$T/ids0" "$T/ids1")" ]
check "ingest: database still 0600 after the failure" [ "$(mode "$DB")" = 600 ]
finish
