#!/bin/sh
# shellcheck disable=SC2086
# scripts/bench_flood.sh - the "flood" section of `make bench`: the resource
# bounds at full size. bench/gen_flood writes a SYN flood (BENCH_FLOOD_SYN
# random tuples, default 1,000,000) and a flood of never-finished
# ClientHellos (BENCH_FLOOD_HELLO connections, default 100,000, each sending
# BENCH_FLOOD_HELLO_BYTES of a hello that promises 16000), both with the
# committed lab captures (7 real TLS flows) merged in. Each is read offline
# (`callerid read`) and captured live (`callerid capture` on a veth while
# tcpreplay sends it at BENCH_FLOOD_PPS packets/s; when the kernel drops
# packets, again at 1/2, 1/4 and 1/8 of that rate: the highest rate held
# is the figure), with the default caps unless BENCH_FLOOD_ARGS says
# otherwise. Prints wall time, peak RSS, evictions (table cap / memory
# cap), kernel drops and whether the real flows were recorded as they are
# without a flood.
#
# Measures, never asserts (exit 0 unless it cannot measure at all). The
# live part needs root (a network namespace of its own, created and removed
# here) and tcpreplay; it is skipped otherwise.
#
# Environment (all optional):
#   BUILD, CALLERID          as in bench.sh
#   BENCH_DIR                keep inputs here (default: a mktemp dir, removed)
#   BENCH_FLOOD_SYN          SYN tuples (1000000)
#   BENCH_FLOOD_HELLO        never-finished ClientHellos (100000)
#   BENCH_FLOOD_HELLO_BYTES  bytes of each hello sent (1400: one segment)
#   BENCH_FLOOD_PPS          replay rate to try first, packets/s (50000)
#   BENCH_FLOOD_ARGS         extra arguments of read and capture (e.g. --max-flows 100000)
#   BENCH_FLOOD_CAPTURE_ARGS extra arguments of capture only (e.g. --no-attrib, -B 131072)
#   BENCH_FLOOD_LIVE=0       offline only
set -u

BUILD=${BUILD:-build/rel}
CALLERID=${CALLERID:-$(pwd)/$BUILD/callerid}
case $CALLERID in /*) ;; *) CALLERID=$(pwd)/$CALLERID ;; esac
TOOLS=$(pwd)/$BUILD/bench
SYN_N=${BENCH_FLOOD_SYN:-1000000}
HELLO_N=${BENCH_FLOOD_HELLO:-100000}
HELLO_BYTES=${BENCH_FLOOD_HELLO_BYTES:-1400}
PPS=${BENCH_FLOOD_PPS:-50000}
ARGS=${BENCH_FLOOD_ARGS:-}
CAPTURE_ARGS=${BENCH_FLOOD_CAPTURE_ARGS:-}
LIVE=${BENCH_FLOOD_LIVE:-1}
BUF_KIB=32768

echo "== floods: SYN tuples and never-finished ClientHellos, read and captured =="
echo "(a replay at a rate the machine cannot hold shows kernel drops: it is tried again slower)"
for t in gen_flood runmeasure; do
	[ -x "$TOOLS/$t" ] || { echo "skipped: $TOOLS/$t is missing; run 'make bench'"; exit 0; }
done
[ -x "$CALLERID" ] || { echo "skipped: no binary $CALLERID"; exit 0; }
command -v sqlite3 >/dev/null 2>&1 || { echo "skipped: the sqlite3 shell is not installed"; exit 0; }

if [ -n "${BENCH_DIR:-}" ]; then
	DIR=$BENCH_DIR
	mkdir -p "$DIR" || exit 1
	KEEP=1
else
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/callerid-bench-flood.XXXXXX") || exit 1
	KEEP=0
fi
case $DIR in /*) ;; *) DIR=$(pwd)/$DIR ;; esac
NS=""
CAP_PID=""
cleanup() {
	if [ -n "$CAP_PID" ]; then
		kill -INT "$CAP_PID" 2>/dev/null
		wait "$CAP_PID" 2>/dev/null
	fi
	[ -n "$NS" ] && ip netns delete "$NS" 2>/dev/null
	[ "$KEEP" = 1 ] || rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

REAL_ARGS=""
for c in tls12-sll2 tls13-keepalive-sll2 hrr-sll2 split-clienthello-sll2 tls13-ipv6-en10mb pod-snat-sll2; do
	REAL_ARGS="$REAL_ARGS --real $(pwd)/captures/$c.pcap"
done
# What callerid records of the real flows (as tests/load/lib.sh).
REAL_Q="SELECT f.client_ip, f.client_port, f.server_ip, f.server_port, t.sni, t.version, t.cipher, t.ja4,
 t.status, (SELECT count(*) || ' ' || coalesce(sum(r.c2s_bytes), 0) || ' ' || coalesce(sum(r.s2c_bytes), 0)
 FROM request r WHERE r.flow_id = f.id)
 FROM flow f JOIN tls t ON t.flow_id = f.id WHERE t.sni NOT LIKE '%.flood.invalid' ORDER BY 1, 2, 3, 4"

calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
kv() { sed -n "s/^$2=//p" "$1" | head -1; }
summary_n() { _v=$(sed -n "s/^ *$2: \([0-9]*\).*/\1/p" "$1" | head -1); echo "${_v:-0}"; }

gen() { # FILE ARGS...
	_f=$1
	shift
	if [ -s "$_f" ] && [ -f "$_f.log" ]; then
		echo "reusing $_f"
		return 0
	fi
	"$TOOLS/runmeasure" "$_f.m" -- "$TOOLS/gen_flood" "$@" $REAL_ARGS "$_f" 2>"$_f.log" || {
		echo "gen_flood failed: $(cat "$_f.log")"
		rm -f "$_f" "$_f.log"
		return 1
	}
	echo "$(sed 's/^gen_flood: [^:]*: //' "$_f.log") (generated in $(calc "$(kv "$_f.m" wall)") s)"
}

gen "$DIR/real.pcap" || exit 0
rm -f "$DIR/real.db"*
"$CALLERID" read -q --db "$DIR/real.db" "$DIR/real.pcap" 2>/dev/null
sqlite3 "$DIR/real.db" "$REAL_Q" >"$DIR/real.txt"
NREAL=$(grep -c . "$DIR/real.txt")
gen "$DIR/syn.pcap" --syn "$SYN_N" --rate "$PPS" || exit 0
gen "$DIR/hello.pcap" --hello "$HELLO_N" --hello-bytes "$HELLO_BYTES" --rate "$PPS" || exit 0
echo "caps: ${ARGS:-the defaults (--max-flows 262144, --flow-mem 128M, --stream-cap 64K)}; live: -B $BUF_KIB KiB $CAPTURE_ARGS"
echo

# real_result DB: "N/M" real flows recorded as without a flood (and which differ)
real_result() {
	sqlite3 "$1" "$REAL_Q" >"$1.real" 2>/dev/null
	_same=$(grep -cxFf "$DIR/real.txt" "$1.real")
	echo "$_same/$NREAL"
}

printf '%-22s %-14s %9s %9s %10s %10s %9s %8s %s\n' flood mode "packets" "wall s" "peak RSS" "evicted" \
	"(by mem)" "drops" "real flows as without flood"
row() { # FLOOD MODE PACKETS WALL RSS_KB ERRFILE DROPS DB
	printf '%-22s %-14s %9s %9s %7s MB %10s %9s %8s %s\n' "$1" "$2" "$3" "$4" "$(calc "$5 / 1024" 0)" \
		"$(($(summary_n "$6" "flows evicted by the table cap") + $(summary_n "$6" "flows evicted by the memory cap")))" \
		"$(summary_n "$6" "flows evicted by the memory cap")" "$7" "$(real_result "$8")"
}

offline() { # NAME LABEL
	rm -f "$DIR/$1.db"*
	"$TOOLS/runmeasure" "$DIR/$1.read.m" -- "$CALLERID" read -q --db "$DIR/$1.db" $ARGS "$DIR/$1.pcap" \
		>/dev/null 2>"$DIR/$1.read.err"
	_pk=$(sed -n 's/^[^:]*: \([0-9]*\) packets,.*/\1/p' "$DIR/$1.read.err")
	row "$2" read "$_pk" "$(calc "$(kv "$DIR/$1.read.m" wall)" 2)" "$(kv "$DIR/$1.read.m" maxrss_kb)" \
		"$DIR/$1.read.err" - "$DIR/$1.db"
}

# cpu_ns PID: CPU time of PID's threads (schedstat, ns)
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'; }

live() { # NAME LABEL: at PPS, PPS/2, PPS/4, PPS/8 until the kernel drops nothing
	for _rate in "$PPS" $((PPS / 2)) $((PPS / 4)) $((PPS / 8)); do
		live_at "$1" "$2" "$_rate"
		[ "$_drop" = 0 ] && break
	done
}

live_at() { # NAME LABEL RATE
	rm -f "$DIR/$1.live.db"*
	ip netns exec "$NS" "$CALLERID" capture -q -i rp1 -B "$BUF_KIB" --db "$DIR/$1.live.db" $ARGS $CAPTURE_ARGS \
		>/dev/null 2>"$DIR/$1.live.err" &
	CAP_PID=$!
	_i=0
	while ! grep -q 'listening on' "$DIR/$1.live.err" 2>/dev/null && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
	_t0=$(date +%s.%N)
	ip netns exec "$NS" tcpreplay -i rp0 -p "$3" "$DIR/$1.pcap" >"$DIR/$1.replay" 2>&1
	_t1=$(date +%s.%N)
	sleep 1.5
	_hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$CAP_PID/status")
	_cpu=$(cpu_ns "$CAP_PID")
	kill -INT "$CAP_PID"
	wait "$CAP_PID"
	CAP_PID=""
	_recv=$(sed -n 's/^\([0-9]*\) packets received by filter$/\1/p' "$DIR/$1.live.err")
	_drop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$DIR/$1.live.err")
	_pps=$(sed -n 's/.*Rated: [0-9.]* Bps, [0-9.]* Mbps, \([0-9.]*\) pps.*/\1/p' "$DIR/$1.replay" | head -1)
	row "$2" "capture@$(calc "${_pps:-0} / 1000" 0)kpps" "${_recv:-?}" "$(calc "$_t1 - $_t0" 2)" "${_hwm:-0}" \
		"$DIR/$1.live.err" "${_drop:-?}" "$DIR/$1.live.db"
	LIVE_NOTES="$LIVE_NOTES
  $2 at $(calc "${_pps:-0}" 0) pps: capture CPU $(calc "${_cpu:-0} / 1e9" 2) s, $(calc "${_cpu:-0} / 1e3 / ${_recv:-1}" 2) us per packet"
}

offline syn "${SYN_N} SYN tuples"
offline hello "${HELLO_N} ClientHellos"
LIVE_NOTES=""
if [ "$LIVE" != 1 ]; then
	echo "(live: BENCH_FLOOD_LIVE=0)"
elif [ "$(id -u)" != 0 ] || ! command -v tcpreplay >/dev/null 2>&1; then
	echo "(live: needs root and tcpreplay; skipped)"
else
	NS=cidflood$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	if ip netns add "$NS" && ip -n "$NS" link add rp0 type veth peer name rp1 &&
		ip -n "$NS" link set rp0 mtu 9000 && ip -n "$NS" link set rp1 mtu 9000 &&
		ip -n "$NS" link set rp0 up && ip -n "$NS" link set rp1 up; then
		live syn "${SYN_N} SYN tuples"
		live hello "${HELLO_N} ClientHellos"
	else
		echo "(live: cannot create a network namespace with a veth pair; skipped)"
	fi
fi
echo "$LIVE_NOTES" | sed '/^$/d'
echo "(evicted: flows pushed out by --max-flows or --flow-mem, of which 'by mem' by --flow-mem;"
echo " real flows: the lab captures' TLS flows with SNI, version, cipher, JA4, bursts and their sizes"
echo " as 'callerid read' records them with no flood)"
exit 0
