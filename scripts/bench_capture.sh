#!/bin/sh
# shellcheck disable=SC2016
# scripts/bench_capture.sh - the "live capture" section of `make bench`:
# replays a generated node capture into a veth pair at increasing packet
# rates (tcpreplay) and captures it on the peer with `callerid capture` and
# with `tcpdump -w /dev/null`, same filter, same kernel buffer. Prints, per
# tool and rate, the packets seen, kernel drops and CPU per packet, then the
# highest rate each holds with no kernel drop.
#
# Measures, never asserts (exit 0 unless it cannot measure at all). Needs
# root (a network namespace of its own, created and removed here; the root
# namespace is not touched), tcpreplay and tcpdump. bench.sh can call it as
# a section (`section_live() { sh scripts/bench_capture.sh; }`).
#
# Environment (all optional):
#   BUILD, CALLERID     as in bench.sh
#   BENCH_DIR           scratch directory (default: a mktemp dir, removed)
#   BENCH_LIVE_MB       size of the generated capture (default 200)
#   BENCH_LIVE_RATES    packet rates (default "25000 50000 100000 200000 400000 max")
#   BENCH_LIVE_SECONDS  seconds of traffic per rate (default 4)
#   BENCH_LIVE_BUF_KIB  -B for both tools (default 32768)
set -u

BUILD=${BUILD:-build/rel}
CALLERID=${CALLERID:-$(pwd)/$BUILD/callerid}
case $CALLERID in /*) ;; *) CALLERID=$(pwd)/$CALLERID ;; esac
TOOLS=$BUILD/bench
MB=${BENCH_LIVE_MB:-200}
RATES=${BENCH_LIVE_RATES:-25000 50000 100000 200000 400000 max}
SECS=${BENCH_LIVE_SECONDS:-4}
BUF=${BENCH_LIVE_BUF_KIB:-32768}
EPS="10.0.128.21 10.0.128.22 10.0.129.40 10.0.129.41"

echo "== live capture (callerid capture vs tcpdump -w /dev/null, tcpreplay into a veth) =="
skip() { echo "skipped: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (a network namespace)"
for c in tcpreplay tcpdump ip; do
	command -v "$c" >/dev/null 2>&1 || skip "$c is not installed (scripts/deps.sh installs it)"
done
[ -x "$TOOLS/gen_pcap" ] || skip "$TOOLS/gen_pcap is missing; run 'make bench'"
[ -x "$CALLERID" ] || skip "no binary $CALLERID"

if [ -n "${BENCH_DIR:-}" ]; then
	DIR=$BENCH_DIR
	mkdir -p "$DIR" || exit 1
	KEEP=1
else
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/callerid-bench-live.XXXXXX") || exit 1
	KEEP=0
fi
case $DIR in /*) ;; *) DIR=$(pwd)/$DIR ;; esac
NS=cidbench$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
TOOL_PID="" RM_PID=""
cleanup() {
	if [ -n "$TOOL_PID" ]; then
		kill -INT "$TOOL_PID" 2>/dev/null
		wait "$RM_PID" 2>/dev/null
	fi
	ip netns delete "$NS" 2>/dev/null
	[ "$KEEP" = 1 ] || rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS" || skip "cannot create a network namespace"
ip netns exec "$NS" ip link set lo up
ip -n "$NS" link add rp0 type veth peer name rp1 || skip "cannot create a veth pair"
ip -n "$NS" link set rp0 up
ip -n "$NS" link set rp1 up
# TSO-sized frames from the generator must pass the veth
ip -n "$NS" link set rp0 mtu 9000
ip -n "$NS" link set rp1 mtu 9000

CAP=$DIR/live-$MB.pcap
if [ ! -s "$CAP" ]; then
	"$TOOLS/gen_pcap" "$CAP" "$MB" 1 2>"$DIR/gen.log" || skip "gen_pcap failed: $(cat "$DIR/gen.log")"
fi
echo "input: $(sed 's/^gen_pcap: [^:]*: //' "$DIR/gen.log" 2>/dev/null)"
FILTER="host $(echo $EPS | sed 's/ / or host /g') or (host 169.254.169.254 and tcp port 80)"
CID_EPS=$(for e in $EPS; do printf -- '-e %s ' "$e"; done)
echo "filter: $FILTER; -B $BUF KiB for both; $SECS s of traffic per rate"
echo

# cpu_ns PID: CPU time of PID's threads in ns (schedstat: ns resolution,
# where /proc/PID/stat has 10 ms ticks).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'; }

# run TOOL RATE: replays at RATE into rp0 while TOOL captures on rp1.
# Prints "sent sent_pps received dropped cpu_ns startup_ns": cpu_ns is the
# tool's user+sys time from "listening on" to its exit (its final writes
# included; runmeasure's wait4 has it once the tool is gone), startup_ns
# what it spent before listening (opening, the first /proc scan), which
# is no packet's cost and is left out for both tools.
run() {
	tool=$1 rate=$2
	log=$DIR/$tool-$rate.log
	m=$DIR/$tool-$rate.m
	rm -f "$DIR"/live.db* "$m"
	if [ "$tool" = callerid ]; then
		# shellcheck disable=SC2086
		ip netns exec "$NS" "$TOOLS/runmeasure" "$m" -- "$CALLERID" capture -q ${CID_EXTRA:-} -i rp1 $CID_EPS \
			-B "$BUF" --db "$DIR/live.db" >/dev/null 2>"$log" &
	else
		ip netns exec "$NS" "$TOOLS/runmeasure" "$m" -- tcpdump -n -i rp1 -B "$BUF" -w /dev/null "$FILTER" \
			>/dev/null 2>"$log" &
	fi
	RM_PID=$!
	i=0
	while ! grep -q 'listening on' "$log" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	# ip netns exec execs: $! is runmeasure, the tool its only child
	TOOL_PID=$(pgrep -P "$RM_PID" | head -1)
	start=$(cpu_ns "$TOOL_PID")
	if [ "$rate" = max ]; then
		limit=$((400000 * SECS))
		ip netns exec "$NS" tcpreplay -q -i rp0 -t -L "$limit" "$CAP" >"$DIR/replay.log" 2>&1
	else
		limit=$((rate * SECS))
		ip netns exec "$NS" tcpreplay -q -i rp0 -p "$rate" -L "$limit" "$CAP" >"$DIR/replay.log" 2>&1
	fi
	sleep 1.5
	kill -INT "$TOOL_PID"
	wait "$RM_PID"
	TOOL_PID=""
	total=$(awk -F= '$1 == "user" || $1 == "sys" { s += $2 } END { printf "%.0f", s * 1e9 }' "$m" 2>/dev/null)
	sent=$(sed -n 's/.*Actual: \([0-9]*\) packets.*/\1/p' "$DIR/replay.log" | head -1)
	pps=$(sed -n 's/.*Rated: [0-9.]* Bps, [0-9.]* Mbps, \([0-9.]*\) pps.*/\1/p' "$DIR/replay.log" | head -1)
	recv=$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$log")
	drop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$log")
	echo "${sent:-0} ${pps:-0} ${recv:-0} ${drop:-?} $(( ${total:-0} - ${start:-0} )) ${start:-0}"
}

# floor_us RECV: CPU per received packet that SQLite alone spends storing the
# rows of the last callerid run (bench/storefloor: the same rows copied into
# an empty database with the same schema and settings, nothing decoded).
floor_us() {
	[ -x "$TOOLS/storefloor" ] && [ -f "$DIR/live.db" ] && [ "$1" -gt 0 ] || { echo -; return; }
	rm -f "$DIR"/floor.db*
	"$TOOLS/runmeasure" "$DIR/floor.m" -- "$TOOLS/storefloor" "$DIR/live.db" "$DIR/floor.db" >/dev/null 2>&1 ||
		{ echo -; return; }
	awk -F= -v n="$1" '$1 == "user" || $1 == "sys" { s += $2 } END { printf "%.3f", s * 1e6 / n }' "$DIR/floor.m"
}

printf '%-9s %-8s %10s %10s %10s %8s %12s %10s %12s\n' tool rate "sent" "sent pps" received "drops" "cpu us/pkt" \
	"startup ms" "store floor"
for tool in tcpdump callerid; do
	best=none
	for rate in $RATES; do
		set -- $(run "$tool" "$rate")
		sent=$1 pps=$2 recv=$3 drop=$4 ticks=$5 startup=$6
		cpu=$(awk "BEGIN { if ($recv > 0) printf \"%.3f\", $ticks / 1e3 / $recv; else print \"-\" }")
		st_ms=$(awk "BEGIN { printf \"%.1f\", $startup / 1e6 }")
		fl=""
		[ "$tool" = callerid ] && fl=$(floor_us "$recv")
		printf '%-9s %-8s %10s %10s %10s %8s %12s %10s %12s\n' "$tool" "$rate" "$sent" "$pps" "$recv" "$drop" "$cpu" \
			"$st_ms" "$fl"
		eval "floor_${tool}_$rate=\$fl"
		if [ "$drop" = 0 ] && [ "$recv" -gt 0 ]; then
			best=$rate
			eval "held_${tool}_$rate=1"
		fi
		eval "cpu_${tool}_$rate=$cpu"
		eval "best_$tool=$best"
	done
done
echo
echo "highest rate without kernel drops: tcpdump $best_tcpdump, callerid $best_callerid"
common=""
for rate in $RATES; do
	eval "a=\${held_tcpdump_$rate:-0} b=\${held_callerid_$rate:-0}"
	[ "$a" = 1 ] && [ "$b" = 1 ] && common=$rate
done
if [ -n "$common" ]; then
	eval "ct=\$cpu_tcpdump_$common cc=\$cpu_callerid_$common"
	r=$(awk "BEGIN { if ($ct > 0) printf \"%.2f\", $cc / $ct; else print \"-\" }")
	echo "cpu per packet at $common (both without drops): tcpdump $ct us, callerid $cc us (${r}x; target <= 1.5x)"
	eval "fl=\${floor_callerid_$common:-}"
	if [ -n "$fl" ] && [ "$fl" != - ]; then
		echo "storage floor at $common: SQLite alone spends $fl us/pkt storing callerid's rows;" \
			"1.5x tcpdump allows $(awk "BEGIN { printf \"%.3f\", $ct * 1.5 }") us in all" \
			"($(awk "BEGIN { print ($fl > $ct * 1.5) ? \"out of reach\" : \"within reach\" }"))"
	fi
fi
echo "(cpu/pkt = the capturing process's user+sys time from \"listening on\" to its exit, its final"
echo " writes included, over the packets it received; startup ms = what it spent before listening;"
echo " store floor = SQLite's own CPU to store the same rows, bench/storefloor, over the same packets)"
exit 0
