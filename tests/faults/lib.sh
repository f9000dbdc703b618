# tests/faults/lib.sh - shared helpers of the fault tests, sourced by each
# tests/faults/*.t (run from the repo root by tests/run.sh, which sets
# CALLERID, BUILD and TMPROOT). Prints TAP lines; a test ends with
# "finish", whose status is 1 when any check failed.

BUILD=${BUILD:-build/rel}
CALLERID=${CALLERID:-$(pwd)/$BUILD/callerid}
GEN_PCAP=$(pwd)/$BUILD/bench/gen_pcap
GEN_CT=$(pwd)/$BUILD/bench/gen_cloudtrail
if [ -z "${TMPROOT:-}" ]; then
	TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/callerid-faults.XXXXXX")
	FAULTS_OWN_TMP=1
fi
# One scratch directory per test file; removed by finish (and on exit).
T=$(mktemp -d "$TMPROOT/faults.XXXXXX")
_n=0
_failed=0

ok() { _n=$((_n + 1)); echo "ok $_n - $1"; }
not_ok() { # what, [detail...]
	_n=$((_n + 1)); echo "not ok $_n - $1"; shift
	for d in "$@"; do printf '%s\n' "$d" | sed 's/^/# /' | head -20; done
	_failed=1
}
skip() { _n=$((_n + 1)); echo "ok $_n - $1 # SKIP $2"; }
# check WHAT CMD...: ok when CMD succeeds (one simple command)
check() { _w=$1; shift; if "$@"; then ok "$_w"; else not_ok "$_w"; fi; }
# ok_if WHAT STATUS: for compound conditions, "[ a ] && [ b ]; ok_if what $?"
ok_if() { if [ "$2" -eq 0 ]; then ok "$1"; else not_ok "$1"; fi; }

# A crash or sanitizer report must never pass for a clean error, even when
# its exit status is the expected one (ASan exits 1 by default).
clean_stderr() { ! grep -qE 'Sanitizer|runtime error|Segmentation|Aborted|core dumped|assert' "$1"; }

# q DB SQL: one query through the sqlite3 shell; empty output on error.
q() { sqlite3 -batch "$1" "$2" 2>/dev/null; }
integrity_ok() { [ "$(q "$1" 'PRAGMA integrity_check')" = ok ]; }
# rows DB TABLE: the row count, or -1 when the table does not exist (yet).
rows() { _r=$(q "$1" "SELECT count(*) FROM $2"); echo "${_r:--1}"; }
# orphans DB: child rows whose parent row is missing (a batch split apart).
orphans() {
	q "$1" "SELECT (SELECT count(*) FROM flow WHERE capture_id NOT IN (SELECT id FROM capture))
		+ (SELECT count(*) FROM tls WHERE flow_id NOT IN (SELECT id FROM flow))
		+ (SELECT count(*) FROM request WHERE flow_id NOT IN (SELECT id FROM flow))"
}
# mode FILE: the octal permission bits
mode() { stat -c %a "$1"; }
# random_ms MAX: a random integer in [0, MAX]
random_ms() {
	_r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	echo $(( _r * $1 / 65535 ))
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
ms_to_s() { awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }'; }

need_tools() { # prints the reason to skip, or nothing
	[ -x "$CALLERID" ] || { echo "no callerid binary at $CALLERID"; return; }
	command -v sqlite3 >/dev/null 2>&1 || { echo "sqlite3 shell not installed"; return; }
	[ -x "$GEN_PCAP" ] && [ -x "$GEN_CT" ] || { echo "bench generators not built (make tests)"; return; }
}

# A test may define before_finish (unmount, stop helpers) to run first.
finish() {
	if command -v before_finish >/dev/null 2>&1; then before_finish; fi
	rm -rf "$T"
	[ -n "${FAULTS_OWN_TMP:-}" ] && rm -rf "$TMPROOT"
	exit "$_failed"
}
