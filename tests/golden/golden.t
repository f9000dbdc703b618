#!/bin/sh
# Golden tests: each line of tests/golden/TESTLIST is "NAME<TAB>SHELL COMMAND"
# run from the repo root with $CALLERID (the binary) and $DB (a fresh
# database) set. Its stdout and stderr together must equal
# tests/golden/expected/NAME.out. UPDATE_GOLDEN=1 rewrites the expected
# files. A missing expected file fails.
set -u
list=tests/golden/TESTLIST
n=0
while IFS='	' read -r name cmd; do
	case "$name" in ''|'#'*) continue ;; esac
	n=$((n + 1))
	DB="$TMPROOT/golden-$name.db"
	rm -f "$DB" "$DB-wal" "$DB-shm"
	export DB
	out="$TMPROOT/golden-$name.out"
	( eval "$cmd" ) >"$out" 2>&1
	exp="tests/golden/expected/$name.out"
	if [ "${UPDATE_GOLDEN:-}" = 1 ]; then
		cp "$out" "$exp"
		echo "ok $n - $name (updated)"
	elif [ ! -f "$exp" ]; then
		echo "not ok $n - $name: no expected file $exp"
	elif diff -u "$exp" "$out" >"$out.diff"; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		sed 's/^/# /' "$out.diff" | head -40
	fi
done <"$list"
echo "1..$n"
