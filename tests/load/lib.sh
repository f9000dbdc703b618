# tests/load/lib.sh - shared parts of the resource-bound tests, sourced by
# tests/load/*.t after tests/faults/lib.sh (TAP helpers, q, rows).
#
# The floods come from bench/gen_flood with the committed lab captures
# merged in; REAL_Q lists what callerid recorded of those real flows (SNI,
# version, cipher, JA4, status, request bursts and their sizes), which must
# be the same with and without a flood.

GEN_FLOOD=$(pwd)/$BUILD/bench/gen_flood
RUNMEASURE=$(pwd)/$BUILD/bench/runmeasure
REAL_CAPTURES="tls12-sll2 tls13-keepalive-sll2 hrr-sll2 split-clienthello-sll2 tls13-ipv6-en10mb pod-snat-sll2"
REAL_ARGS=""
for _c in $REAL_CAPTURES; do REAL_ARGS="$REAL_ARGS --real $(pwd)/captures/$_c.pcap"; done
REAL_Q="SELECT f.client_ip, f.client_port, f.server_ip, f.server_port, t.sni, t.version, t.cipher, t.ja4,
 t.status, (SELECT count(*) || ' ' || coalesce(sum(r.c2s_bytes), 0) || ' ' || coalesce(sum(r.s2c_bytes), 0)
 FROM request r WHERE r.flow_id = f.id)
 FROM flow f JOIN tls t ON t.flow_id = f.id WHERE t.sni NOT LIKE '%.flood.invalid' ORDER BY 1, 2, 3, 4"

load_need() { # prints the reason to skip, or nothing
	need_tools
	[ -x "$GEN_FLOOD" ] && [ -x "$RUNMEASURE" ] || { echo "gen_flood/runmeasure not built (make tests)"; return; }
	for _c in $REAL_CAPTURES; do
		[ -f "captures/$_c.pcap" ] || { echo "captures/$_c.pcap missing"; return; }
	done
}

# An AddressSanitizer build keeps freed memory in quarantine and adds
# shadow memory: its RSS says nothing about callerid's caps, so the RSS
# checks are skipped there (the eviction and real-flow checks still run).
SANITIZED=
grep -aq __asan_init "$CALLERID" 2>/dev/null && SANITIZED=1

# kb FILE: the maxrss_kb of a runmeasure output
kb() { sed -n 's/^maxrss_kb=//p' "$1"; }
# summary_n FILE TEXT: the number after "TEXT: " in a summary (0 if absent)
summary_n() { _v=$(sed -n "s/^ *$2: \([0-9]*\).*/\1/p" "$1" | head -1); echo "${_v:-0}"; }
# mib KB: kilobytes as MiB with one decimal
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
