# tests/e2e/lib.sh - the start every e2e test shares; sourced from the repo
# root. TAP counters (n, ok, not_ok), skip_all, and
#   e2e_require NAME CMD...
# which skips the whole test, reported as NAME, unless it runs as root,
# every CMD is installed, network namespaces work and the callerid binary
# is there; it sets CALLERID to that binary's absolute path ($CALLERID, or
# $BUILD/callerid, build/rel by default); and e2e_lab (below), the scratch
# directory and lab a test runs in, torn down on exit.
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; }
e2e_name=e2e
skip_all() { echo "ok 1 - $e2e_name # SKIP $*"; echo "1..1"; exit 0; }
e2e_require() {
	e2e_name=$1
	shift
	[ "$(id -u)" = 0 ] || skip_all "not root"
	for _c in "$@"; do
		command -v "$_c" >/dev/null 2>&1 || skip_all "$_c missing"
	done
	ip netns list >/dev/null 2>&1 || skip_all "no network namespace support"
	CALLERID=${CALLERID:-$(pwd)/${BUILD:-build/rel}/callerid}
	case $CALLERID in /*) ;; *) CALLERID=$(pwd)/$CALLERID ;; esac
	[ -x "$CALLERID" ] || skip_all "no binary $CALLERID"
}

# e2e_lab NAME PODS: a scratch directory $W (mode 755, so that dropped
# privileges can write there) and a lab of scripts/lab.sh with PODS pods.
# On exit or a signal: the test's e2e_before_down when it defines one (for
# what it started outside the lab), lab_down, then $W goes. Skips the
# whole test when the lab cannot be made.
e2e_lab() {
	W=$(mktemp -d "${TMPROOT:-/tmp}/$1.XXXXXX")
	chmod 755 "$W"
	# shellcheck disable=SC2034 # read by scripts/lab.sh, sourced next
	LAB_PODS=$2
	LAB_LIB=1 . ./scripts/lab.sh
	if ! lab_up 2>"$W/lab.err"; then
		sed 's/^/# /' "$W/lab.err"
		rm -rf "$W"
		skip_all "lab_up failed"
	fi
	trap 'e2e_lab_down' EXIT
	trap 'e2e_lab_down; trap - EXIT; exit 1' INT TERM
}
e2e_lab_down() {
	command -v e2e_before_down >/dev/null 2>&1 && e2e_before_down
	lab_down
	rm -rf "$W"
}
