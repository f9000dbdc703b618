#!/bin/sh
# k8s.t - `callerid k8s` on hostile kubectl JSON made by
# tests/hostile/k8sbad.py: the wrong kind (a Service list, a single
# Service, CloudTrail), a single Pod and Node, a Node list saved as
# pods.json, a NodeList holding a Pod, items that are not an array, a pod
# list cut at three places, 100000 nested arrays (the file, one item), a
# 50 MB string, a number for a name, UTF-16, a NUL byte. For each file:
# the exit status, a message naming the file (item, or byte), the pod and
# node rows it adds (a refused file adds none), no sanitizer report, and
# the snapshot loaded before it untouched.
# Environment: CALLERID (binary), TMPROOT (scratch dir).
. "$(dirname "$0")/lib.sh"
hostile_init k8s "hostile kubectl JSON" python3 sqlite3
python3 "$HERE/k8sbad.py" "$D" >"$D/gen.err" 2>&1 || { notok "k8sbad.py writes the files"; echo "1..$n"; exit 1; }
T1=1714564800000000 # the snapshot before, 12:00; the hostile files at 13:00
"$CALLERID" k8s --db "$D/base.db" --at 2024-05-01T12:00:00Z tests/k8s/data/pods-t1.json tests/k8s/data/nodes.json \
	>/dev/null 2>&1
BEFORE=$(q "$D/base.db" "SELECT count(*) || '/' || (SELECT count(*) FROM node) FROM pod")
[ "$BEFORE" = "12/3" ] || notok "the snapshot before: 12 pods, 3 node rows (got $BEFORE)"

TAB=$(printf '\t')
while IFS="$TAB" read -r name want pods nodes msg what; do
	db="$D/$name.db"
	cp "$D/base.db" "$db"
	"$CALLERID" k8s --db "$db" --at 2024-05-01T13:00:00Z "$D/$name" >"$D/out" 2>"$D/err"
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
	if [ "$want" = 1 ]; then
		check "$name: the file is refused whole (said so)" grep -qF "$D/$name: nothing from this file was stored" "$D/err"
	fi
	got=$(q "$db" "SELECT (SELECT count(*) FROM pod WHERE snapshot_us > $T1) || '/' ||
		(SELECT count(DISTINCT name) FROM node WHERE snapshot_us > $T1)")
	check "$name: $pods pods and $nodes nodes added (got $got)" test "$got" = "$pods/$nodes"
	got=$(q "$db" "SELECT (SELECT count(*) FROM pod WHERE snapshot_us = $T1) || '/' ||
		(SELECT count(*) FROM node WHERE snapshot_us = $T1)")
	check "$name: the snapshot before untouched" test "$got" = "$BEFORE"
	rm -f "$db"*
done <"$D/MANIFEST"
rm -rf "$D"
echo "1..$n"
