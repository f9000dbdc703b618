# tests/hostile/lib.sh - sourced by the hostile suites (cloudtrail.t,
# k8s.t, tls.t, sql.t): TAP counters and checks, the scratch directory, and
# the skip when a tool the suite needs is missing.
#   hostile_init NAME TITLE TOOL...   D=$TMPROOT/hostile_NAME.PID; prints
#                                     "ok 1 - TITLE # SKIP" and exits when
#                                     a TOOL is not installed
# Then: ok/notok/check for TAP lines, q DB SQL, raw_ctl FILE (true when it
# holds ESC, BEL, C1 CSI, CR or NUL), clean FILE (no sanitizer report).
set -u
: "${CALLERID:?}" "${TMPROOT:?}"
HERE=$(dirname "$0")
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { d=$1; shift; if "$@"; then ok "$d"; else notok "$d"; fi; }
q() { sqlite3 -batch "$1" "$2" 2>&1; }
raw_ctl() { [ "$(tr -dc '\033\007\233\015\000' <"$1" | wc -c)" -ne 0 ]; }
clean() { ! grep -qE 'Sanitizer|runtime error' "$1"; }

hostile_init() {
	_name=$1 _title=$2
	shift 2
	for _t in "$@"; do
		if ! command -v "$_t" >/dev/null 2>&1; then
			echo "ok 1 - $_title # SKIP $_t not installed"
			echo "1..1"
			exit 0
		fi
	done
	D="$TMPROOT/hostile_$_name.$$"
	mkdir -p "$D"
}
