#!/bin/sh
# oom.t - allocation failure injected at every allocation site of `read`
# (pcap and pcapng readers, flows, streams, TLS, HTTP/IMDS, DNS, evidence,
# the flow writer thread, the store, NAT links, the output lines), of
# `ingest` (CloudTrail) and of `k8s` (kubectl snapshots), one run per
# failure, through build/*/oom/oom_harness (tests/oom/oom_harness.c):
# no crash, no sanitizer report (leaks included under SANITIZE=1), a clean
# error or a counted degradation, the database sound and what it held
# before still there. TAP on stdout; run from the repo root.
set -u
: "${TMPROOT:=${TMPDIR:-/tmp}}"
BUILD=${BUILD:-build/rel}
CALLERID=${CALLERID:-$(pwd)/$BUILD/callerid}
case $BUILD in /*) H=$BUILD/oom/oom_harness ;; *) H=$(pwd)/$BUILD/oom/oom_harness ;; esac
n=0
skip_all() { echo "ok 1 - allocation failure # SKIP $*"; echo "1..1"; exit 0; }
fail_all() { echo "not ok 1 - allocation failure: $*"; echo "1..1"; exit 1; }
[ -x "$H" ] || skip_all "no $H (make tests)"
[ -x "$CALLERID" ] || skip_all "no $CALLERID"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"

# Hundreds of runs each create a database: on a tmpfs when there is one
# (fsync on a shared disk is most of a run's time), else under TMPROOT.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	W=$(mktemp -d /dev/shm/callerid-oom.XXXXXX)
else
	W=$(mktemp -d "$TMPROOT/oom.XXXXXX")
fi
trap 'rm -rf "$W"' EXIT
trap 'rm -rf "$W"; exit 1' INT TERM
TMPROOT=$W
export TMPROOT
# A small quarantine: each of the hundreds of children forked by the
# harness otherwise scans the default 256 MiB of it for leaks at exit
# (4 MiB still catches a use after a recent free).
ASAN_OPTIONS="quarantine_size_mb=4${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export ASAN_OPTIONS
# libcrypto's own leak on its error path, see the file
LSAN_OPTIONS="suppressions=$(pwd)/tests/oom/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS

python3 tests/oom/gen_oom.py "$W/oom.pcapng" || fail_all "gen_oom.py failed"

# What the database holds before: a capture and CloudTrail events; every
# row of it must survive each run.
"$CALLERID" read -q --db "$W/template.db" captures/tls12-sll2.pcap >/dev/null 2>&1 &&
	"$CALLERID" ingest --db "$W/template.db" tests/ingest/data/s3-delivery.json >/dev/null 2>&1 ||
	fail_all "cannot make the template database"

# harness ARGS...: one harness run, its lines added to $W/tap
: >"$W/tap"
harness() {
	"$H" "$@" >"$W/h.out" 2>"$W/h.err"
	_rc=$?
	# a failed run's frames named, when binutils is there
	grep -v '^1\.\.' "$W/h.out" | while IFS= read -r l; do
		echo "$l"
		case $l in
		"# FAIL "*)
			command -v addr2line >/dev/null 2>&1 || continue
			echo "$l" | grep -o 'exe+0x[0-9a-f]*' | sed 's/exe+//' | while read -r a; do
				echo "#     $(addr2line -f -i -e "$H" "$a" | paste -sd' ' - | sed 's|[^ ]*/src/|src/|g')"
			done ;;
		esac
	done >>"$W/tap"
	if [ "$_rc" -gt 1 ] || ! grep -q '^ok\|^not ok' "$W/h.out"; then
		echo "not ok - the harness ran: $* (status $_rc)" >>"$W/tap"
		sed 's/^/# /' "$W/h.err" | head -20 >>"$W/tap"
	fi
}

# read: three lab captures (TLS 1.2/1.3, HelloRetryRequest, IMDS, DNS, a
# pod behind SNAT and its NAT link), then the generated pcapng on standard
# input (named interfaces, out-of-order and split hellos, DNS over TCP).
harness -i "$W/oom.pcapng" "$W/t.db" "$W/template.db" read --db "$W/t.db" \
	captures/imds-dns/capture.pcap captures/pod-snat-sll2.pcap captures/hrr-sll2.pcap -

# ingest: S3 delivery (plain and gzip), lookup-events pages, JSON lines
# with bad records, a truncated gzip (the reference exits 1: the same
# reports must come, and more only with "out of memory").
harness "$W/t.db" "$W/template.db" ingest --db "$W/t.db" tests/ingest/data/s3-delivery.json \
	tests/ingest/data/111122223333_CloudTrail_us-east-1_20240501T1205Z_abc.json.gz \
	tests/ingest/data/lookup-events.json tests/ingest/data/lines.jsonl tests/ingest/data/truncated.json.gz

# k8s: a pod list, a node list, a file refused for a wrong field type
harness "$W/t.db" "$W/template.db" k8s --db "$W/t.db" --at 2024-05-01T12:00:00Z \
	tests/k8s/data/pods-t1.json tests/k8s/data/nodes.json tests/k8s/data/bad-field.json

# one numbering over every harness run
awk '/^(not )?ok / { n++; v = /^not/ ? "not ok" : "ok"; sub(/^(not )?ok [0-9]* *-* */, ""); $0 = v " " n " - " $0 }
	{ print } END { print "1.." n }' "$W/tap"
