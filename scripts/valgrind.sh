#!/bin/sh
# scripts/valgrind.sh - every unit test binary under valgrind memcheck.
#
# Runs each $BUILD/tests/test_* (default build/rel: the plain build; ASan
# builds cannot run under valgrind) with --error-exitcode=1 and a full leak
# check, from the repo root as tests/run.sh does, and prints one line per
# binary: "ok   NAME" or "FAIL NAME" followed by the valgrind summary. The
# last line is "N clean, N failed"; exit 1 when any binary failed.
# Definite and indirect leaks fail; "still reachable" (libraries' one-time
# allocations: OpenSSL, libnl, SQLite's static state) does not.
# Environment: BUILD, ONLY (substring filter on the binary name),
# VALGRIND_LOG (directory to keep every log; default: a temp dir, removed).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/rel}
export CMOCKA_MESSAGE_OUTPUT=TAP

if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind not installed (apt-get install valgrind)" >&2
	exit 1
fi
case "$BUILD" in *san*)
	echo "valgrind.sh: $BUILD is a sanitizer build; use the plain build/rel" >&2
	exit 2 ;;
esac

if [ -n "${VALGRIND_LOG:-}" ]; then
	logdir=$VALGRIND_LOG
	mkdir -p "$logdir"
else
	logdir=$(mktemp -d "${TMPDIR:-/tmp}/callerid-vg.XXXXXX")
	trap 'rm -rf "$logdir"' EXIT INT TERM
fi
TMPROOT=$logdir/tmp
mkdir -p "$TMPROOT"
export TMPROOT

clean=0 failed=0 names=""
found=0
for t in "$BUILD"/tests/test_*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	n=$(basename "$t")
	[ -n "${ONLY:-}" ] && case "$n" in *"$ONLY"*) ;; *) continue ;; esac
	found=1
	log=$logdir/$n.log
	start=$(date +%s)
	valgrind --quiet --error-exitcode=1 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect \
		--show-leak-kinds=definite,indirect --track-origins=yes \
		--log-file="$log" "$t" >"$logdir/$n.out" 2>&1 </dev/null
	rc=$?
	secs=$(( $(date +%s) - start ))
	if [ "$rc" -eq 0 ]; then
		echo "ok   $n (${secs}s)"
		clean=$((clean + 1))
	else
		# no valgrind report but a non-zero exit: a test failed under
		# valgrind; its "not ok" lines follow
		nerr=$(grep -cE 'ERROR SUMMARY: [1-9]|definitely lost|indirectly lost|Invalid |uninitialised' "$log")
		echo "FAIL $n (exit $rc, ${secs}s, $nerr valgrind reports)"
		grep -E '^==[0-9]+==' "$log" | head -60 | sed 's/^/    /'
		grep -E '^not ok ' "$logdir/$n.out" | head -10 | sed 's/^/    /'
		failed=$((failed + 1))
		names="$names $n"
	fi
done
if [ "$found" -eq 0 ]; then
	echo "no unit test binaries in $BUILD/tests (run make tests)" >&2
	exit 1
fi
[ -n "$names" ] && echo "failed:$names"
echo "$clean clean, $failed failed"
[ "$failed" -eq 0 ]
