#!/bin/sh
# The test runner behind `make check`. Every suite speaks TAP on stdout:
#   - cmocka unit binaries ($BUILD/tests/test_*), with CMOCKA_MESSAGE_OUTPUT=TAP
#   - fuzz corpus replays ($BUILD/fuzz-replay/fuzz_* over tests/fuzz/corpus/*)
#   - scripts tests/*/*.t (golden, peer, e2e, hostile), run from the repo root
# "ok" counts as passed, "not ok" as failed, "# SKIP" as skipped (never as
# passed). A suite that exits non-zero without a "not ok" line counts as one
# failure. The last line is "N passed, N failed, N skipped".
# Environment: BUILD (build dir), CALLERID (binary), ONLY (substring filter).
set -u
BUILD=${BUILD:-build/rel}
CALLERID=${CALLERID:-$(pwd)/$BUILD/callerid}
export BUILD CALLERID
export CMOCKA_MESSAGE_OUTPUT=TAP
TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/callerid-test.XXXXXX")
export TMPROOT
trap 'rm -rf "$TMPROOT"' EXIT INT TERM

pass=0 fail=0 skip=0
failed_names=""

run_suite() { # name, command...
	name=$1; shift
	[ -n "${ONLY:-}" ] && case "$name" in *"$ONLY"*) ;; *) return ;; esac
	out="$TMPROOT/out.$$"
	"$@" >"$out" 2>"$out.err" </dev/null
	rc=$?
	# cmocka 1.1 prints a skipped test as "not ok N # SKIP": a skip, not a failure
	p=$(grep -E '^ok ' "$out" | grep -viEc '# skip' | head -1)
	s=$(grep -E '^(not )?ok ' "$out" | grep -ciE '# skip' | head -1)
	f=$(grep -E '^not ok ' "$out" | grep -viEc '# skip' | head -1)
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc" >>"$out"
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	if [ "$f" -gt 0 ]; then
		echo "FAIL $name ($p passed, $f failed, $s skipped)"
		grep -E '^not ok |^# ' "$out" | grep -viE '# skip' | sed 's/^/    /' | head -40
		sed 's/^/    stderr: /' "$out.err" | head -20
		failed_names="$failed_names $name"
	else
		echo "ok   $name ($p passed, $s skipped)"
		grep -iE '# skip' "$out" | sed 's/^/    /' | head -10
	fi
	rm -f "$out" "$out.err"
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	run_suite "unit/$(basename "$t")" "$t"
done

for r in "$BUILD"/fuzz-replay/fuzz_*; do
	[ -x "$r" ] || continue
	n=$(basename "$r")
	run_suite "fuzz-replay/$n" "$r" "tests/fuzz/corpus/${n#fuzz_}"
done

for s in tests/*/*.t; do
	[ -f "$s" ] || continue
	run_suite "$s" sh "$s"
done

[ -n "$failed_names" ] && echo "failed suites:$failed_names"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
