# tests/e2e/lib.sh - the start every e2e test shares; sourced from the repo
# root. TAP counters (n, ok, not_ok), skip_all, and
#   e2e_require NAME CMD...
# which skips the whole test, reported as NAME, unless it runs as root,
# every CMD is installed, network namespaces work and the callerid binary
# is there; it sets CALLERID to that binary's absolute path ($CALLERID, or
# $BUILD/callerid, build/rel by default).
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
