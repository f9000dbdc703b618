#!/bin/sh
# shellcheck disable=SC2016,SC2317
# scripts/bench.sh - `make bench`: measure callerid against baselines.
#
# Measures, never asserts: the exit status is 0 unless the tools needed to
# measure at all are missing. Every figure is the median of BENCH_RUNS
# whole-process runs (default 3) on a warm page cache; ratios compare tools
# measured in the same run. MB = 10^6 bytes. See bench/README.md.
#
# Environment (all optional):
#   BUILD            build dir holding bench/ tools (default build/rel)
#   CALLERID         the binary under test (default $BUILD/callerid)
#   BENCH_DIR        keep inputs here and reuse them (default: a mktemp dir,
#                    deleted at the end)
#   BENCH_SECTIONS   sections to run (default "pcap cloudtrail correlate live flood")
#   BENCH_RUNS       runs per measurement (default 3)
#   BENCH_SIZE_MB    capture size (default 500; keep it >= 200)
#   BENCH_TSHARK_MB  tshark reads the whole capture (default); set a size in
#                    MB to give it a smaller capture (same seed) instead
#   BENCH_TSHARK_RUNS runs of the (slow) tshark baseline (default 1)
#   BENCH_SEED       generator seed (default 1)
#   BENCH_SLL2=1     generate LINKTYPE_LINUX_SLL2 instead of EN10MB
#   BENCH_CT_RECORDS CloudTrail records (default 1000000)
#   BENCH_JQ_RUNS    runs of the (slow) jq baseline (default 1)
set -u

BUILD=${BUILD:-build/rel}
CALLERID=${CALLERID:-$(pwd)/$BUILD/callerid}
TOOLS=$BUILD/bench
RUNS=${BENCH_RUNS:-3}
SIZE_MB=${BENCH_SIZE_MB:-500}
TSHARK_MB=${BENCH_TSHARK_MB:-$SIZE_MB}
TSHARK_RUNS=${BENCH_TSHARK_RUNS:-1}
SEED=${BENCH_SEED:-1}
SECTIONS=${BENCH_SECTIONS:-pcap cloudtrail correlate live flood}
CT_RECORDS=${BENCH_CT_RECORDS:-1000000}
JQ_RUNS=${BENCH_JQ_RUNS:-1}
# Targets from the issue.
TARGET_VS_PLAIN=0.7
TARGET_VS_TSHARK=20
TARGET_RSS_MB=100
TARGET_EVIDENCE_PCT=10 # issue 7: HTTP/DNS parsing on costs at most this much

for t in runmeasure gen_pcap pcaploop; do
	if [ ! -x "$TOOLS/$t" ]; then
		echo "bench: $TOOLS/$t is missing; run 'make bench'" >&2
		exit 1
	fi
done
RUNMEASURE=$TOOLS/runmeasure

if [ -n "${BENCH_DIR:-}" ]; then
	DIR=$BENCH_DIR
	mkdir -p "$DIR" || exit 1
else
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/callerid-bench.XXXXXX") || exit 1
	trap 'rm -rf "$DIR"' EXIT
	trap 'exit 130' INT TERM
fi
# runmeasure and the measured tools need absolute paths once we cd nowhere:
case $DIR in /*) ;; *) DIR=$(pwd)/$DIR ;; esac

# --- helpers -----------------------------------------------------------------

# calc EXPR: evaluates an awk expression; prints it with 0-2 decimals.
calc() { awk "BEGIN { v = $1; if (v >= 100) printf \"%.0f\", v; else if (v >= 10) printf \"%.1f\", v; else if (v >= 0.1 || v == 0) printf \"%.2f\", v; else printf \"%.3f\", v }"; }

# kv FILE KEY: the value of KEY=... in a runmeasure output file.
kv() { sed -n "s/^$2=//p" "$1" | head -1; }

# median: the middle of the numbers on stdin (the lower middle for even counts).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "" }'; }

# measure NAME RUNS CMD...: runs CMD RUNS times under runmeasure, stdout to
# $DIR/NAME.out, stderr to $DIR/NAME.err; $BEFORE (if set) is eval'd before
# each run. Sets M_WALL M_USER M_SYS M_RSS_KB (medians) and M_STATUS (of the
# last run; non-zero if any run failed).
# MEASURE_KEEP=1: add to the runs NAME already has (interleaved A/B runs,
# where the machine's drift would otherwise favour whichever ran second).
measure() {
	m_name=$1 m_runs=$2
	shift 2
	i=1 M_STATUS=0
	[ -n "${MEASURE_KEEP:-}" ] || rm -f "$DIR/$m_name".m.*
	m_base=0
	for m_f in "$DIR/$m_name".m.*; do [ -e "$m_f" ] && m_base=$((m_base + 1)); done
	while [ "$i" -le "$m_runs" ]; do
		[ -n "${BEFORE:-}" ] && eval "$BEFORE"
		"$RUNMEASURE" "$DIR/$m_name.m.$((m_base + i))" -- "$@" >"$DIR/$m_name.out" 2>"$DIR/$m_name.err" </dev/null
		st=$?
		[ "$st" -ne 0 ] && M_STATUS=$st
		i=$((i + 1))
	done
	M_WALL=$(for f in "$DIR/$m_name".m.*; do kv "$f" wall; done | median)
	M_USER=$(for f in "$DIR/$m_name".m.*; do kv "$f" user; done | median)
	M_SYS=$(for f in "$DIR/$m_name".m.*; do kv "$f" sys; done | median)
	M_RSS_KB=$(for f in "$DIR/$m_name".m.*; do kv "$f" maxrss_kb; done | median)
}

# row LABEL FILE_LABEL BYTES PACKETS: one table line from the M_* values.
row() {
	if [ "$M_STATUS" -ne 0 ]; then
		printf '%-34s %-9s failed (exit %s): %s\n' "$1" "$2" "$M_STATUS" \
			"$(head -1 "$DIR/$m_name.err" 2>/dev/null)"
		return
	fi
	printf '%-34s %-9s %8s %9s %8s %9s %7s\n' "$1" "$2" "$(calc "$M_WALL")" \
		"$(calc "$3 / 1e6 / $M_WALL")" "$(calc "$4 / 1e6 / $M_WALL")" \
		"$(calc "$M_RSS_KB / 1024")" "$(calc "($M_USER + $M_SYS) / $M_WALL * 100")"
}

# verdict VALUE OP TARGET: PASS or MISS.
verdict() { awk "BEGIN { print ($1 $2 $3) ? \"PASS\" : \"MISS\" }"; }

filesize() { wc -c <"$1" | tr -d ' '; }

# --- section: offline read of a generated capture --------------------------

# gen SIZE_MB FILE: generates the capture unless a reusable one exists.
gen() {
	if [ -s "$2" ] && [ -f "$2.log" ]; then
		echo "reusing $2: $(sed 's/^gen_pcap: [^:]*: //' "$2.log")"
		return 0
	fi
	flag=""
	[ "${BENCH_SLL2:-0}" = 1 ] && flag=--sll2
	# shellcheck disable=SC2086
	"$RUNMEASURE" "$2.m" -- "$TOOLS/gen_pcap" $flag "$2" "$1" "$SEED" 2>"$2.log" || {
		echo "bench: gen_pcap failed: $(cat "$2.log")" >&2
		rm -f "$2" "$2.log"
		return 1
	}
	echo "generated $2 in $(calc "$(kv "$2.m" wall)") s: $(sed 's/^gen_pcap: [^:]*: //' "$2.log")"
}

section_pcap() {
	echo "== offline read (callerid read vs libpcap, tcpdump, tshark) =="
	lt=en10mb
	[ "${BENCH_SLL2:-0}" = 1 ] && lt=sll2
	big=$DIR/cap-$SIZE_MB-$SEED-$lt.pcap
	small=$DIR/cap-$TSHARK_MB-$SEED-$lt.pcap
	gen "$SIZE_MB" "$big" || return 0
	[ "$TSHARK_MB" = "$SIZE_MB" ] || gen "$TSHARK_MB" "$small" || return 0
	cat "$big" "$small" >/dev/null 2>&1 # warm the page cache
	big_pkts=0 small_pkts=0
	big_bytes=$(filesize "$big")
	small_bytes=$(filesize "$small")
	"$TOOLS/pcaploop" "$big" >"$DIR/count.out" && big_pkts=$(sed 's/^packets=\([0-9]*\).*/\1/' "$DIR/count.out")
	"$TOOLS/pcaploop" "$small" >"$DIR/count.out" && small_pkts=$(sed 's/^packets=\([0-9]*\).*/\1/' "$DIR/count.out")
	if [ "$TSHARK_MB" = "$SIZE_MB" ]; then
		echo "tshark reads the same ${SIZE_MB} MB file ($TSHARK_RUNS run(s): BENCH_TSHARK_RUNS)"
	else
		echo "tshark reads a ${TSHARK_MB} MB capture, a byte prefix of the ${SIZE_MB} MB one (same seed)"
	fi
	echo "median of $RUNS runs; MB = 10^6 bytes; cpu% = (user+sys)/wall"
	echo

	# Does this callerid have `read -q`? Probe on the small file: usage error
	# (2) means no -q; any other failure means read does not work yet.
	cid_q="-q" cid_ok=1
	rm -f "$DIR"/probe.db*
	"$CALLERID" read --db "$DIR/probe.db" -q "$small" >/dev/null 2>"$DIR/probe.err" </dev/null
	st=$?
	if [ "$st" -eq 2 ]; then
		cid_q=""
		rm -f "$DIR"/probe.db*
		"$CALLERID" read --db "$DIR/probe.db" "$small" >/dev/null 2>"$DIR/probe.err" </dev/null
		st=$?
	fi
	if [ "$st" -ne 0 ]; then
		cid_ok=0
		echo "callerid read does not work here (exit $st: $(head -1 "$DIR/probe.err")): its rows are skipped"
	fi
	[ "$cid_ok" = 1 ] && [ -z "$cid_q" ] && echo "callerid read has no -q yet: its output goes to a file"

	printf '%-34s %-9s %8s %9s %8s %9s %7s\n' reader file "wall s" "MB/s" Mpps "RSS MB" "cpu%"
	cid_mbs="" cid_small_mbs="" cid_rss=""
	if [ "$cid_ok" = 1 ]; then
		BEFORE='rm -f "$DIR"/b.db*'
		# with and without evidence, runs interleaved (their ratio is a target)
		rm -f "$DIR"/callerid.m.* "$DIR"/callerid_noev.m.*
		j=1 ev_status=0 noev_status=0
		while [ "$j" -le "$RUNS" ]; do
			# shellcheck disable=SC2086
			MEASURE_KEEP=1 measure callerid_noev 1 "$CALLERID" read --db "$DIR/b.db" $cid_q --no-evidence "$big"
			[ "$M_STATUS" -ne 0 ] && noev_status=$M_STATUS
			# shellcheck disable=SC2086
			MEASURE_KEEP=1 measure callerid 1 "$CALLERID" read --db "$DIR/b.db" $cid_q "$big"
			[ "$M_STATUS" -ne 0 ] && ev_status=$M_STATUS
			j=$((j + 1))
		done
		MEASURE_KEEP=1 measure callerid 0
		M_STATUS=$ev_status
		row "callerid read" "${SIZE_MB}MB" "$big_bytes" "$big_pkts"
		[ "$M_STATUS" -eq 0 ] && cid_mbs=$(calc "$big_bytes / 1e6 / $M_WALL") && cid_rss=$(calc "$M_RSS_KB / 1024")
		cid_wall=$M_WALL
		MEASURE_KEEP=1 measure callerid_noev 0
		M_STATUS=$noev_status
		row "callerid read --no-evidence" "${SIZE_MB}MB" "$big_bytes" "$big_pkts"
		[ "$M_STATUS" -eq 0 ] && cid_noev_wall=$M_WALL
		if [ "$TSHARK_MB" = "$SIZE_MB" ]; then
			cid_small_mbs=$cid_mbs
		else
			# shellcheck disable=SC2086
			measure callerid_small "$RUNS" "$CALLERID" read --db "$DIR/b.db" $cid_q "$small"
			row "callerid read" "${TSHARK_MB}MB" "$small_bytes" "$small_pkts"
			[ "$M_STATUS" -eq 0 ] && cid_small_mbs=$(calc "$small_bytes / 1e6 / $M_WALL")
		fi
		# The floor under any reader that stores these rows: SQLite alone
		# writing the rows of the last (default) run, nothing decoded.
		floor_wall=""
		if [ "$ev_status" -eq 0 ] && [ -x "$TOOLS/storefloor" ]; then
			BEFORE='rm -f "$DIR"/floor.db*'
			measure storefloor "$RUNS" "$TOOLS/storefloor" "$DIR/b.db" "$DIR/floor.db"
			floor_rows=$(sed -n 's/^rows=//p' "$DIR/storefloor.out")
			row "SQLite alone: its ${floor_rows:-?} rows" "${SIZE_MB}MB" "$big_bytes" "$big_pkts"
			[ "$M_STATUS" -eq 0 ] && floor_wall=$M_WALL
		fi
		BEFORE=""
	fi
	measure plain "$RUNS" "$TOOLS/pcaploop" "$big"
	row "plain libpcap loop" "${SIZE_MB}MB" "$big_bytes" "$big_pkts"
	plain_mbs="" plain_wall=""
	[ "$M_STATUS" -eq 0 ] && plain_mbs=$(calc "$big_bytes / 1e6 / $M_WALL") && plain_wall=$M_WALL
	measure bigbuf "$RUNS" "$TOOLS/pcaploop" --big-buffer "$big"
	row "libpcap + 1 MiB stdio buffer" "${SIZE_MB}MB" "$big_bytes" "$big_pkts"
	if command -v tcpdump >/dev/null 2>&1; then
		measure tcpdump "$RUNS" tcpdump -r "$big" -w /dev/null
		row "tcpdump -r F -w /dev/null" "${SIZE_MB}MB" "$big_bytes" "$big_pkts"
	else
		echo "tcpdump: not installed, skipped"
	fi
	tshark_mbs=""
	if command -v tshark >/dev/null 2>&1; then
		measure tshark "$TSHARK_RUNS" tshark -r "$small" -Y tls.handshake.type==1 -T fields \
			-e tls.handshake.extensions_server_name
		row "tshark SNI (ClientHello filter)" "${TSHARK_MB}MB" "$small_bytes" "$small_pkts"
		if [ "$M_STATUS" -eq 0 ]; then
			tshark_mbs=$(calc "$small_bytes / 1e6 / $M_WALL")
			tshark_sni=$(grep -c . "$DIR/tshark.out")
		fi
	else
		echo "tshark: not installed, skipped"
	fi

	echo
	echo "targets (issue):"
	if [ -n "$cid_mbs" ] && [ -n "$plain_mbs" ]; then
		r=$(calc "$cid_mbs / $plain_mbs")
		printf '  %-40s %8s   target >= %-6s %s\n' "callerid / plain libpcap loop (${SIZE_MB}MB)" \
			"${r}x" "${TARGET_VS_PLAIN}x" "$(verdict "$r" ">=" "$TARGET_VS_PLAIN")"
	else
		printf '  %-40s %8s   target >= %-6s %s\n' "callerid / plain libpcap loop" n/a "${TARGET_VS_PLAIN}x" "MISS (not measured)"
	fi
	if [ -n "${floor_wall:-}" ] && [ -n "$plain_wall" ]; then
		# the wall time the 0.7x target allows, against SQLite's floor
		budget=$(calc "$plain_wall / $TARGET_VS_PLAIN")
		printf '  %-40s %8s   (0.7x allows %s s in all; SQLite alone takes %s s: %s)\n' \
			"  storage floor / plain libpcap loop" "$(calc "$plain_wall / $floor_wall")x" "$budget" \
			"$(calc "$floor_wall")" "$(awk "BEGIN { print ($floor_wall > $budget) ? \"out of reach\" : \"within reach\" }")"
	fi
	if [ -n "$cid_small_mbs" ] && [ -n "$tshark_mbs" ]; then
		r=$(calc "$cid_small_mbs / $tshark_mbs")
		printf '  %-40s %8s   target >= %-6s %s\n' "callerid / tshark (${TSHARK_MB}MB)" \
			"${r}x" "${TARGET_VS_TSHARK}x" "$(verdict "$r" ">=" "$TARGET_VS_TSHARK")"
	else
		printf '  %-40s %8s   target >= %-6s %s\n' "callerid / tshark" n/a "${TARGET_VS_TSHARK}x" "MISS (not measured)"
	fi
	if [ -n "${cid_noev_wall:-}" ] && [ -n "${cid_wall:-}" ]; then
		r=$(calc "($cid_wall / $cid_noev_wall - 1) * 100")
		printf '  %-40s %8s   target <= %-6s %s\n' "HTTP/DNS evidence on vs --no-evidence" "+${r}%" \
			"+${TARGET_EVIDENCE_PCT}%" "$(verdict "$r" "<=" "$TARGET_EVIDENCE_PCT")"
	fi
	if [ -n "$cid_rss" ]; then
		printf '  %-40s %8s   target <  %-6s %s\n' "callerid peak RSS (${SIZE_MB}MB)" "${cid_rss}MB" \
			"${TARGET_RSS_MB}MB" "$(verdict "$cid_rss" "<" "$TARGET_RSS_MB")"
	else
		printf '  %-40s %8s   target <  %-6s %s\n' "callerid peak RSS" n/a "${TARGET_RSS_MB}MB" "MISS (not measured)"
	fi

	# What each side found: the generator's counts against the database.
	echo
	echo "found in the ${TSHARK_MB}MB capture: generator: $(sed 's/^gen_pcap: [^:]*: //; s/; [0-9.]* MB\/s$//' "$small.log")"
	[ -n "${tshark_sni:-}" ] && echo "  tshark: $tshark_sni ClientHellos (default settings: no out-of-order reassembly)"
	if [ "$cid_ok" = 1 ] && command -v sqlite3 >/dev/null 2>&1 && [ -f "$DIR/b.db" ]; then
		q="SELECT (SELECT count(*) FROM flow), (SELECT count(*) FROM tls), (SELECT count(*) FROM tls WHERE sni IS NOT NULL AND sni != ''), (SELECT count(*) FROM request);"
		res=$(sqlite3 -separator ' ' "$DIR/b.db" "$q" 2>/dev/null) &&
			echo "$res" | awk '{ printf "  callerid: %s flows, %s TLS rows, %s with SNI, %s request bursts\n", $1, $2, $3, $4 }'
	fi
}

# --- section: CloudTrail ingest --------------------------------------------

section_cloudtrail() {
	echo "== CloudTrail ingest (callerid ingest vs zcat | jq) =="
	# Targets from the issue (#3): records/s against the jq pipeline, peak RSS.
	target_vs_jq=3
	target_ct_rss_mb=200
	if [ ! -x "$TOOLS/gen_cloudtrail" ]; then
		echo "skipped: $TOOLS/gen_cloudtrail is not built yet"
		return 0
	fi
	ct=$DIR/ct-$CT_RECORDS-$SEED
	if [ ! -f "$ct/.complete" ]; then
		rm -rf "$ct"
		mkdir -p "$ct"
		"$RUNMEASURE" "$DIR/ctgen.m" -- "$TOOLS/gen_cloudtrail" "$ct" "$CT_RECORDS" >"$DIR/ctgen.log" 2>&1 || {
			echo "skipped: gen_cloudtrail failed: $(tail -1 "$DIR/ctgen.log")"
			return 0
		}
		touch "$ct/.complete"
		echo "generated $CT_RECORDS records in $(calc "$(kv "$DIR/ctgen.m" wall)") s"
	else
		echo "reusing $ct"
	fi
	gz_bytes=$(find "$ct" -name '*.json.gz' -exec cat {} + | wc -c | tr -d ' ')
	json_bytes=$(find "$ct" -name '*.json.gz' -exec zcat {} + | wc -c | tr -d ' ')
	echo "$(calc "$gz_bytes / 1e6") MB gzip, $(calc "$json_bytes / 1e6") MB JSON; MB/s counts JSON bytes"
	printf '%-34s %8s %11s %8s %9s\n' reader "wall s" "records/s" "MB/s" "RSS MB"
	ctrow() {
		if [ "$M_STATUS" -ne 0 ]; then
			printf '%-34s failed (exit %s): %s\n' "$1" "$M_STATUS" "$(head -1 "$DIR/$m_name.err")"
			return
		fi
		printf '%-34s %8s %11s %8s %9s\n' "$1" "$(calc "$M_WALL")" "$(calc "$CT_RECORDS / $M_WALL")" \
			"$(calc "$json_bytes / 1e6 / $M_WALL")" "$(calc "$M_RSS_KB / 1024")"
	}
	BEFORE='rm -f "$DIR"/ct.db*'
	measure ct_callerid "$RUNS" "$CALLERID" ingest --db "$DIR/ct.db" "$ct"
	BEFORE=""
	ctrow "callerid ingest"
	cid_wall=$M_WALL cid_st=$M_STATUS cid_rss=$(calc "$M_RSS_KB / 1024")
	cid_cpu=$(calc "($M_USER + $M_SYS) / $M_WALL * 100")
	ratio=""
	if command -v jq >/dev/null 2>&1; then
		measure ct_jq "$JQ_RUNS" sh -c 'find "$1" -name "*.json.gz" -exec zcat {} + | jq -c ".Records[]" >/dev/null' sh "$ct"
		ctrow "zcat | jq -c '.Records[]' ($JQ_RUNS run)"
		if [ "$cid_st" -eq 0 ] && [ "$M_STATUS" -eq 0 ]; then
			ratio=$(calc "$M_WALL / $cid_wall")
			echo "callerid ingest / jq: ${ratio}x (callerid cpu ${cid_cpu}%: it decodes and writes in two threads)"
		fi
	else
		echo "jq: not installed, baseline skipped"
	fi
	echo
	echo "targets (issue):"
	if [ -n "$ratio" ]; then
		printf '  %-40s %8s   target >= %-6s %s\n' "callerid ingest / jq records/s" "${ratio}x" \
			"${target_vs_jq}x" "$(verdict "$ratio" ">=" "$target_vs_jq")"
	else
		printf '  %-40s %8s   target >= %-6s %s\n' "callerid ingest / jq records/s" n/a "${target_vs_jq}x" "MISS (not measured)"
	fi
	if [ "$cid_st" -eq 0 ]; then
		printf '  %-40s %8s   target <  %-6s %s\n' "callerid ingest peak RSS" "${cid_rss}MB" \
			"${target_ct_rss_mb}MB" "$(verdict "$cid_rss" "<" "$target_ct_rss_mb")"
	else
		printf '  %-40s %8s   target <  %-6s %s\n' "callerid ingest peak RSS" n/a "${target_ct_rss_mb}MB" "MISS (not measured)"
	fi
}

# --- correlate: 100k and 1M events against as many flows ---------------------
section_correlate() {
	echo "== correlate: events against request bursts (target: 1M in < 30 s, growth <= n log n) =="
	BUILD=$BUILD CALLERID=$CALLERID sh scripts/bench_correlate.sh ${BENCH_COR_SIZES:-100000 1000000}
}

# --- live capture: replay into a veth, callerid vs tcpdump (needs root) -----
section_live() {
	echo "== live capture: highest rate held without kernel drops, CPU per packet =="
	if [ "$(id -u)" != 0 ]; then
		echo "live: needs root (network namespaces); skipped"
		return 0
	fi
	BUILD=$BUILD CALLERID=$CALLERID sh scripts/bench_capture.sh
}

# --- floods: 1M SYN tuples, 100k never-finished ClientHellos, read and live ---
section_flood() {
	BUILD=$BUILD CALLERID=$CALLERID sh scripts/bench_flood.sh
}

# Each section is a function section_<name> printing its own header and
# table and returning 0; add <name> to the default BENCH_SECTIONS above.

echo "callerid bench: $CALLERID"
echo "machine: $(nproc 2>/dev/null || echo '?') cpus, $(uname -sr); inputs in $DIR"
for s in $SECTIONS; do
	echo
	if command -v "section_$s" >/dev/null 2>&1; then
		"section_$s"
	else
		echo "bench: no section '$s'" >&2
	fi
done
exit 0
