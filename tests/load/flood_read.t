#!/bin/sh
# Resource bounds, offline: `callerid read` of a SYN flood (LOAD_SYN random
# tuples, default 100000) and of never-finished ClientHellos (LOAD_HELLO
# connections, default 3000, each holding 15000 bytes of a hello that
# promises 16000), and of never-finished HTTP request heads to port 80
# (LOAD_HTTP, default 3000: each holds the HTTP parser's state, ~41 KB),
# with the committed lab captures merged in; and a flood of new QUIC flows
# (LOAD_QUIC, default 10000 clients, one Initial each: Initial keys, TLS
# state and a hello buffer per flow; tests/hostile/quic_gen.py, skipped
# without python3-cryptography). With small caps (--max-flows,
# --flow-mem):
#  - peak RSS stays under a bound derived from the caps (and without the
#    cap the same flood goes over it, so the bound means something);
#  - evictions are counted in the summary, and the evicted flows are in the
#    database with end_reason 'evicted';
#  - every real flow is recorded exactly as without the flood: SNI,
#    version, cipher, JA4, status, request bursts and their sizes.
# Scaled down to take seconds; `make bench` (section flood) runs 1M/100k.
. tests/faults/lib.sh
. tests/load/lib.sh

SYN_N=${LOAD_SYN:-100000}
HELLO_N=${LOAD_HELLO:-3000}
HTTP_N=${LOAD_HTTP:-3000}
why=$(load_need)
if [ -n "$why" ]; then
	skip "SYN flood" "$why"
	skip "ClientHello flood" "$why"
	skip "HTTP flood" "$why"
	finish
fi

# run NAME PCAP ARGS...: callerid read -q into $T/NAME.db under runmeasure;
# RUN_RC, RUN_KB (peak RSS), stderr in $T/NAME.err.
run() {
	_rn=$1 _rp=$2
	shift 2
	rm -f "$T/$_rn".db*
	"$RUNMEASURE" "$T/$_rn.m" -- "$CALLERID" read -q --db "$T/$_rn.db" "$@" "$_rp" >/dev/null 2>"$T/$_rn.err"
	RUN_RC=$?
	RUN_KB=$(kb "$T/$_rn.m")
}
# window PCAP: KiB of the input the reader keeps mapped (16 MiB at most)
window() { _s=$(($(wc -c <"$1") / 1024)); [ "$_s" -gt 16384 ] && _s=16384; echo "$_s"; }
# Each queued flow on its way to the writer thread (capacity 1024) is a copy
# of at most ~5 KiB (the flow and its TLS state); malloc and SQLite's page
# cache get 8 MiB of slack.
QUEUE_KB=$((1024 * 6))
SLACK_KB=8192

# check_run NAME WHAT BOUND_KB: exit status, clean stderr, RSS under BOUND_KB
check_run() {
	if [ "$RUN_RC" -eq 0 ] && clean_stderr "$T/$1.err"; then
		ok "$2: read exits 0"
	else
		not_ok "$2: read exits 0 (got $RUN_RC)" "$(cat "$T/$1.err")"
	fi
	if [ -n "$SANITIZED" ]; then
		skip "$2: peak RSS under the bound" "AddressSanitizer build (quarantine, shadow memory)"
	elif [ -n "$RUN_KB" ] && [ "$RUN_KB" -le "$3" ]; then
		ok "$2: peak RSS $(mib "$RUN_KB") MiB <= bound $(mib "$3") MiB"
	else
		not_ok "$2: peak RSS $(mib "${RUN_KB:-0}") MiB <= bound $(mib "$3") MiB"
	fi
}

# check_evictions NAME WHAT MIN LABEL: the summary counts at least MIN
# evictions under LABEL; the database holds every flow of the summary and
# as many 'evicted' rows as the summary's evictions (table and memory cap).
check_evictions() {
	_table=$(summary_n "$T/$1.err" "flows evicted by the table cap")
	_mem=$(summary_n "$T/$1.err" "flows evicted by the memory cap")
	_got=$(summary_n "$T/$1.err" "$4")
	_flows=$(sed -n 's/.*decoded, \([0-9]*\) flows,.*/\1/p' "$T/$1.err")
	if [ "$_got" -ge "$3" ]; then
		ok "$2: $_got evictions counted in the summary ($4, >= $3)"
	else
		not_ok "$2: evictions counted in the summary ($4: $_got, want >= $3)" "$(cat "$T/$1.err")"
	fi
	check "$2: the database has every flow ($_flows) and $((_table + _mem)) evicted" \
		[ "$(q "$T/$1.db" "SELECT count(*) || ' ' || sum(end_reason = 'evicted') FROM flow")" = "$_flows $((_table + _mem))" ]
}

# check_real NAME WHAT: the real flows as recorded without a flood
check_real() {
	q "$T/$1.db" "$REAL_Q" >"$T/$1.real"
	if cmp -s "$T/base.real" "$T/$1.real"; then
		ok "$2: the $(wc -l <"$T/base.real") real TLS flows are recorded as without the flood"
	else
		not_ok "$2: the real TLS flows are recorded as without the flood" \
			"$(diff "$T/base.real" "$T/$1.real" | head -20)"
	fi
}

# ---- the real flows alone ---------------------------------------------------
"$GEN_FLOOD" $REAL_ARGS "$T/base.pcap" 2>"$T/gen.err" || not_ok "gen_flood (real flows only)" "$(cat "$T/gen.err")"
run base "$T/base.pcap"
BASE_KB=$RUN_KB
q "$T/base.db" "$REAL_Q" >"$T/base.real"
check "the real captures alone: 7 TLS flows with their SNI, all with both hellos" \
	[ "$(grep -c '|ok|' "$T/base.real")" = 7 ]

# ---- SYN flood, --max-flows 1000 -------------------------------------------
MF=1000
"$GEN_FLOOD" --syn "$SYN_N" $REAL_ARGS "$T/syn.pcap" 2>"$T/gen.err" ||
	not_ok "gen_flood --syn" "$(cat "$T/gen.err")"
W=$(window "$T/syn.pcap")
# the table: a flow without TLS is ~0.6 KiB with its stream state and hash slot
BOUND=$((BASE_KB + W + MF * 1 + QUEUE_KB + SLACK_KB))
run syn "$T/syn.pcap" --max-flows "$MF"
check_run syn "SYN flood ($SYN_N tuples, --max-flows $MF)" "$BOUND"
check_evictions syn "SYN flood" $((SYN_N - MF)) "flows evicted by the table cap"
check_real syn "SYN flood"
if [ -z "$SANITIZED" ]; then
	run syn_nocap "$T/syn.pcap"
	check "SYN flood: without the cap it takes more ($(mib "$RUN_KB") MiB): the bound can fail" \
		[ "$RUN_KB" -gt "$BOUND" ]
fi

# ---- never-finished ClientHellos --------------------------------------------
"$GEN_FLOOD" --hello "$HELLO_N" --hello-bytes 15000 --hello-len 16000 $REAL_ARGS "$T/hello.pcap" \
	2>"$T/gen.err" || not_ok "gen_flood --hello" "$(cat "$T/gen.err")"
W=$(window "$T/hello.pcap")
# --max-flows 256: each flow holds at most its TLS state (4.1 KiB) and a
# hello buffer of --stream-cap (16 KiB)
MF=256
BOUND=$((BASE_KB + W + MF * (1 + 5 + 16) + QUEUE_KB + SLACK_KB))
run hello "$T/hello.pcap" --max-flows "$MF" --stream-cap 16384
check_run hello "ClientHello flood ($HELLO_N, --max-flows $MF)" "$BOUND"
check_evictions hello "ClientHello flood (table cap)" $((HELLO_N - MF)) "flows evicted by the table cap"
check_real hello "ClientHello flood (table cap)"
# --flow-mem 4M with the default table: what all flows hold together is
# capped, each flow itself is ~0.6 KiB
FM_KB=4096
BOUND_MEM=$((BASE_KB + W + (HELLO_N + 10) * 1 + FM_KB + QUEUE_KB + SLACK_KB))
run hello_mem "$T/hello.pcap" --flow-mem 4M --stream-cap 16384
check_run hello_mem "ClientHello flood ($HELLO_N, --flow-mem 4M)" "$BOUND_MEM"
# 4 MiB holds ~200 of these flows (4.1 KiB of TLS state + a 16 KiB buffer)
check_evictions hello_mem "ClientHello flood (memory cap)" $((HELLO_N - 300)) "flows evicted by the memory cap"
check_real hello_mem "ClientHello flood (memory cap)"
peak=$(sed -n 's/.*flow memory peak \([0-9]*\) bytes.*/\1/p' "$T/hello_mem.err")
check "ClientHello flood: flow memory peak ${peak:-?} bytes stays within 4 MiB + one hello buffer" \
	[ "${peak:-99999999}" -le $((FM_KB * 1024 + 16384 + 8192)) ]
if [ -z "$SANITIZED" ]; then
	run hello_nocap "$T/hello.pcap" --flow-mem 1024G --stream-cap 16384
	check "ClientHello flood: without the caps it takes more ($(mib "$RUN_KB") MiB): the bound can fail" \
		[ "$RUN_KB" -gt "$BOUND_MEM" ]
fi

# ---- never-finished HTTP request heads (IMDS-style, port 80) ----------------
# The HTTP parser's state of each connection (two 8 KiB head buffers and
# the request queue) counts in --flow-mem like TLS state does.
"$GEN_FLOOD" --hello "$HTTP_N" --http --hello-bytes 4000 $REAL_ARGS "$T/http.pcap" 2>"$T/gen.err" ||
	not_ok "gen_flood --http" "$(cat "$T/gen.err")"
W=$(window "$T/http.pcap")
BOUND_MEM=$((BASE_KB + W + (HTTP_N + 10) * 1 + FM_KB + QUEUE_KB + SLACK_KB))
run http_mem "$T/http.pcap" --flow-mem 4M
check_run http_mem "HTTP flood ($HTTP_N, --flow-mem 4M)" "$BOUND_MEM"
# 4 MiB holds ~95 of these flows
check_evictions http_mem "HTTP flood (memory cap)" $((HTTP_N - 200)) "flows evicted by the memory cap"
check_real http_mem "HTTP flood (memory cap)"
peak=$(sed -n 's/.*flow memory peak \([0-9]*\) bytes.*/\1/p' "$T/http_mem.err")
check "HTTP flood: flow memory peak ${peak:-?} bytes stays within 4 MiB + one connection's state" \
	[ "${peak:-99999999}" -le $((FM_KB * 1024 + 65536)) ]
if [ -z "$SANITIZED" ]; then
	run http_nocap "$T/http.pcap" --flow-mem 1024G
	check "HTTP flood: without the cap it takes more ($(mib "$RUN_KB") MiB): the bound can fail" \
		[ "$RUN_KB" -gt "$BOUND_MEM" ]
fi

# ---- new QUIC flows (one client Initial each, never answered) ---------------
QUIC_N=${LOAD_QUIC:-10000}
python3 tests/hostile/quic_gen.py --flood "$QUIC_N" "$T/quic.pcap" 2>"$T/gen.err"
rc=$?
if [ "$rc" = 3 ]; then
	skip "QUIC flood" "python3-cryptography not installed"
elif [ "$rc" != 0 ]; then
	not_ok "quic_gen.py --flood" "$(cat "$T/gen.err")"
else
	W=$(window "$T/quic.pcap")
	BOUND_MEM=$((BASE_KB + W + (QUIC_N + 10) * 1 + FM_KB + QUEUE_KB + SLACK_KB))
	run quic_mem "$T/quic.pcap" --flow-mem 4M
	check_run quic_mem "QUIC flood ($QUIC_N, --flow-mem 4M)" "$BOUND_MEM"
	# 4 MiB holds ~1000 of these flows (TLS state, keys, a 4 KiB hello buffer)
	check_evictions quic_mem "QUIC flood (memory cap)" $((QUIC_N - 2000)) "flows evicted by the memory cap"
	check "QUIC flood: every Initial decrypted" \
		[ "$(summary_n "$T/quic_mem.err" "QUIC Initial packets")" = "$QUIC_N" ]
	check "QUIC flood: every flow stored with its SNI and a q JA4, evicted or not" \
		[ "$(q "$T/quic_mem.db" "SELECT count(*) FROM tls WHERE sni = 'flood.example.com' AND ja4 LIKE 'q13%'")" = "$QUIC_N" ]
	if [ -z "$SANITIZED" ]; then
		run quic_nocap "$T/quic.pcap" --flow-mem 1024G
		check "QUIC flood: without the cap it takes more ($(mib "$RUN_KB") MiB): the bound can fail" \
			[ "$RUN_KB" -gt "$BOUND_MEM" ]
	fi
fi
finish
