#!/bin/sh
# privs.t - `callerid capture -Z nobody` in a fresh network namespace (lo
# only, traffic made there): once it listens, /proc/PID/status shows
# exactly the identity and capability sets docs/capture.md documents
# (the block between its "privs-status" markers); the database, its
# -wal/-shm and every -w file (also those rotated in after the drop) are
# 0600 and owned by nobody; a symbolic link planted where the next rotated
# file goes is refused (the capture stops with exit 1 naming it, the
# link's target untouched, the database intact); a -w or --db path that is
# a symbolic link is refused before anything starts.
# TAP on stdout; needs root (SKIP otherwise). Run from the repo root.
set -u
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { _d=$1; shift; if "$@"; then ok "$_d"; else not_ok "$_d"; fi; }
skip_all() { echo "ok 1 - privileges # SKIP $*"; echo "1..1"; exit 0; }

[ "$(id -u)" = 0 ] || skip_all "not root"
for c in ip python3 sqlite3 stat; do
	command -v "$c" >/dev/null 2>&1 || skip_all "$c missing"
done
id nobody >/dev/null 2>&1 || skip_all "no user nobody"
CALLERID=${CALLERID:-$(pwd)/build/rel/callerid}
case $CALLERID in /*) ;; *) CALLERID=$(pwd)/$CALLERID ;; esac
[ -x "$CALLERID" ] || skip_all "no binary $CALLERID"
NS=cidprv$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
ip netns add "$NS" 2>/dev/null || skip_all "cannot create a network namespace"
# not under TMPROOT: nobody must be able to reach the directory to create
# the rotated files after the drop, and TMPROOT is 0700
W=$(mktemp -d "${TMPDIR:-/tmp}/callerid-privs.XXXXXX")
chmod 755 "$W"
GEN_PID="" CAP_PID=""
cleanup() {
	[ -n "$GEN_PID" ] && kill "$GEN_PID" 2>/dev/null
	[ -n "$CAP_PID" ] && kill -KILL "$CAP_PID" 2>/dev/null
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'cleanup; trap - EXIT; exit 1' INT TERM
ip -n "$NS" link set lo up
UID_N=$(id -u nobody)
GID_N=$(id -g nobody)
Z=$W/z
mkdir "$Z"
chown nobody:"$GID_N" "$Z"
chmod 755 "$Z"
# what a symbolic link must not reach: a file nobody could write
echo precious >"$W/precious"
chown nobody:"$GID_N" "$W/precious"
chmod 600 "$W/precious"

# traffic on lo, 50 packets a second, for at most a minute
ip netns exec "$NS" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 60
while time.time() < end:
    s.sendto(b"x" * 64, ("127.0.0.1", 9999))
    time.sleep(0.02)
' >/dev/null 2>&1 &
GEN_PID=$!

# ---- 1. the capture as nobody -----------------------------------------------
ip netns exec "$NS" "$CALLERID" capture -i lo -q -Z nobody --db "$Z/z.db" -w "$Z/z.pcap" -G 1 -W 4 \
	>"$W/cap.out" 2>"$W/cap.err" </dev/null &
CAP_PID=$!
i=100
while [ $i -gt 0 ] && ! grep -q 'listening on' "$W/cap.err" 2>/dev/null; do
	kill -0 "$CAP_PID" 2>/dev/null || break
	sleep 0.1
	i=$((i - 1))
done
if ! grep -q 'listening on' "$W/cap.err"; then
	not_ok "capture -Z nobody listens"
	sed 's/^/# /' "$W/cap.err" | head -10
	echo "1..$n"
	exit 1
fi
ok "capture -Z nobody listens"
# a file rotated in after the drop, created by nobody
i=60
while [ $i -gt 0 ] && [ ! -e "$Z/z1.pcap" ]; do sleep 0.1; i=$((i - 1)); done
cp "/proc/$CAP_PID/status" "$W/status" 2>/dev/null
# every thread (capabilities are per thread): the checkpointer's too
: >"$W/tasks"
for t in /proc/"$CAP_PID"/task/*; do
	cp "$t/status" "$W/task.$(basename "$t")" 2>/dev/null && echo "$(cat "$t/comm" 2>/dev/null) $W/task.$(basename "$t")" >>"$W/tasks"
done
# the next file of the ring but one: a link to the precious file
ln -s "$W/precious" "$Z/z3.pcap"

# the documented lines, <uid>/<gid> filled in, against /proc/PID/status
sed -n '/<!-- privs-status -->/,/<!-- \/privs-status -->/p' docs/capture.md | grep -E '^[A-Za-z]+:' |
	sed "s/<uid>/$UID_N/g; s/<gid>/$GID_N/g" | tr -s ' \t' ' ' | sed 's/ *$//' >"$W/want"
if [ "$(wc -l <"$W/want")" -lt 9 ]; then
	not_ok "docs/capture.md documents the status lines (found $(wc -l <"$W/want"))"
fi
while IFS= read -r line; do
	key=${line%%:*}
	got=$(grep "^$key:" "$W/status" | tr -s ' \t' ' ' | sed 's/ *$//')
	if [ "$got" = "$line" ]; then
		ok "after -Z: $line"
	else
		not_ok "after -Z: $line (status has: ${got:-nothing})"
	fi
done <"$W/want"
n_tasks=$(wc -l <"$W/tasks")
bad_tasks=""
while read -r comm f; do
	while IFS= read -r line; do
		key=${line%%:*}
		got=$(grep "^$key:" "$f" | tr -s ' \t' ' ' | sed 's/ *$//')
		[ "$got" = "$line" ] || bad_tasks="$bad_tasks $comm($key)"
	done <"$W/want"
done <"$W/tasks"
if [ "$n_tasks" -ge 2 ] && grep -q '^cid-ckpt ' "$W/tasks" && [ -z "$bad_tasks" ]; then
	ok "after -Z: all $n_tasks threads ($(cut -d' ' -f1 "$W/tasks" | tr '\n' ' ' | sed 's/ $//')) have the same status lines"
else
	not_ok "after -Z: all threads, the checkpointer's included, have the status lines ($n_tasks threads:$(cut -d' ' -f1 "$W/tasks" | tr '\n' ' '); wrong:${bad_tasks:- none})"
fi

# ---- 2. the link where the next rotated file goes ------------------------------
i=100
while [ $i -gt 0 ] && kill -0 "$CAP_PID" 2>/dev/null; do sleep 0.1; i=$((i - 1)); done
if kill -0 "$CAP_PID" 2>/dev/null; then
	kill -INT "$CAP_PID"
	wait "$CAP_PID"
	rc=$?
	not_ok "a link at the next rotated file stops the capture (still running after 10 s; exit $rc)"
else
	wait "$CAP_PID"
	rc=$?
	[ "$rc" = 1 ] && grep -F "$Z/z3.pcap" "$W/cap.err" | grep -q 'symbolic link'
	if [ $? = 0 ]; then
		ok "a link at the next rotated file: refused, exit 1, named"
	else
		not_ok "a link at the next rotated file: refused, exit 1, named (exit $rc)"
		sed 's/^/# /' "$W/cap.err" | tail -5
	fi
fi
CAP_PID=""
check "... the link's target is untouched" [ "$(cat "$W/precious")" = precious ]
check "... the link is still a link (not replaced by a file)" [ -L "$Z/z3.pcap" ]
check "... the database is intact" [ "$(sqlite3 "$Z/z.db" 'PRAGMA integrity_check' 2>&1)" = ok ]
check "... the capture row was ended" [ "$(sqlite3 "$Z/z.db" 'SELECT count(*) FROM capture WHERE ended_us IS NOT NULL' 2>&1)" = 1 ]

# ---- 3. modes and owners -----------------------------------------------------
: >"$W/files"
for f in "$Z"/z.db "$Z"/z.db-wal "$Z"/z.db-shm; do
	[ -e "$f" ] && echo "$f" >>"$W/files"
done
for f in "$Z"/z[0-9].pcap; do
	[ -f "$f" ] && [ ! -L "$f" ] && echo "$f" >>"$W/files"
done
check "the database and at least z0, z1 and z2.pcap exist" \
	sh -c "grep -q 'z.db\$' '$W/files' && grep -q z0.pcap '$W/files' && grep -q z1.pcap '$W/files' && grep -q z2.pcap '$W/files'"
while IFS= read -r f; do
	m=$(stat -c '%a %U' "$f")
	check "$(basename "$f") is 0600 and nobody's ($m)" [ "$m" = "600 nobody" ]
done <"$W/files"

# ---- 4. links refused before anything starts -----------------------------------
ln -s "$W/precious" "$Z/link.pcap"
ip netns exec "$NS" "$CALLERID" capture -i lo -q -c 5 -Z nobody --db "$Z/w.db" -w "$Z/link.pcap" \
	>/dev/null 2>"$W/e1" </dev/null
rc=$?
[ "$rc" = 1 ] && grep -q 'symbolic link' "$W/e1" && [ "$(cat "$W/precious")" = precious ]
if [ $? = 0 ]; then ok "-w naming a symbolic link: refused, exit 1, target untouched"; else
	not_ok "-w naming a symbolic link: refused, exit 1, target untouched (exit $rc)"
	sed 's/^/# /' "$W/e1" | head -3
fi
ln -s "$W/precious" "$Z/link.db"
ip netns exec "$NS" "$CALLERID" capture -i lo -q -c 5 -Z nobody --db "$Z/link.db" >/dev/null 2>"$W/e2" </dev/null
rc=$?
[ "$rc" = 1 ] && grep -q 'symbolic link' "$W/e2" && [ "$(cat "$W/precious")" = precious ]
if [ $? = 0 ]; then ok "--db naming a symbolic link: refused, exit 1, target untouched"; else
	not_ok "--db naming a symbolic link: refused, exit 1, target untouched (exit $rc)"
	sed 's/^/# /' "$W/e2" | head -3
fi
echo "1..$n"
