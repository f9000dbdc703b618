#!/bin/sh
# scripts/fuzz.sh [MINUTES_EACH] [HARNESS...]: builds the libFuzzer harnesses
# (make fuzz) and runs each for MINUTES_EACH (default 1; a number followed by
# "s" is seconds, for quick checks: 30s) on a scratch copy
# of its corpus, one after the other. Prints, per harness, the executions,
# the corpus size reached and the findings (crash-/leak-/timeout- files,
# kept in build/fuzz/findings/<harness>/). New inputs are not written back
# into tests/fuzz/corpus: minimise and commit them by hand.
set -u
cd "$(dirname "$0")/.."
ARG=${1:-1}
case $ARG in
*s) SECS=${ARG%s} ;;
*) SECS=$((ARG * 60)) ;;
esac
case $SECS in
'' | *[!0-9]*) echo "usage: scripts/fuzz.sh [MINUTES|SECONDSs] [HARNESS...]" >&2; exit 2 ;;
esac
[ $# -gt 0 ] && shift
make fuzz >/dev/null || { echo "fuzz: make fuzz failed" >&2; exit 1; }
HARNESSES=${*:-$(ls tests/fuzz/fuzz_*.c | sed 's|tests/fuzz/fuzz_||; s|\.c$||')}
printf '%-12s %12s %8s %9s\n' harness execs corpus findings
total=0
for h in $HARNESSES; do
	bin=build/fuzz/fuzz_$h
	[ -x "$bin" ] || { printf '%-12s %s\n' "$h" "not built"; continue; }
	work=$(mktemp -d) find="build/fuzz/findings/$h"
	mkdir -p "$find"
	cp -r "tests/fuzz/corpus/$h/." "$work/" 2>/dev/null
	"$bin" -max_total_time="$SECS" -print_final_stats=1 -artifact_prefix="$find/" "$work" \
		>"$find/log" 2>&1
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$find/log" | tail -1)
	n=$(ls "$work" | wc -l)
	f=$(ls "$find" | grep -c -E '^(crash|leak|timeout|oom)-')
	total=$((total + f))
	printf '%-12s %12s %8s %9s\n' "$h" "${execs:-?}" "$n" "$f"
	rm -rf "$work"
done
echo "findings: $total (see build/fuzz/findings/)"
[ "$total" -eq 0 ]
