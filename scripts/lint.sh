#!/bin/sh
# scripts/lint.sh - static analysis behind `make lint`. Three checks over
# src/ (and the headers they include), each reported, all must pass:
#   1. banned functions: strcpy strcat sprintf vsprintf gets strtok atoi
#      alloca sscanf (STYLE.md), as calls outside comments;
#   2. clang-tidy with the repo's .clang-tidy (errors on any finding);
#   3. cppcheck --enable=warning,portability,performance with
#      scripts/cppcheck.supp (each suppression carries its reason).
# Environment: LINT_JOBS (parallel clang-tidy processes, default 2),
# CLANG_TIDY / CPPCHECK (tool names), ONLY (substring of file paths).
# Exit 0 when all three are clean, 1 otherwise, 2 when a tool is missing.
set -u
cd "$(dirname "$0")/.."
JOBS=${LINT_JOBS:-2}
CLANG_TIDY=${CLANG_TIDY:-clang-tidy}
CPPCHECK=${CPPCHECK:-cppcheck}
PKGS="libpcap sqlite3 zlib libcrypto libnl-3.0 libnl-idiag-3.0 libnl-nf-3.0 libnl-route-3.0"

for tool in "$CLANG_TIDY" "$CPPCHECK"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "lint: $tool not installed (apt-get install clang-tidy cppcheck)" >&2
		exit 2
	fi
done

files=$(ls src/*.c src/*/*.c | { if [ -n "${ONLY:-}" ]; then grep -F -- "$ONLY"; else cat; fi; })
if [ -z "$files" ]; then
	echo "lint: no files" >&2
	exit 2
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/callerid-lint.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0

# ---- 1. banned functions --------------------------------------------------
# A call is the name followed by "(", not part of a longer name (snprintf,
# strtok_r and vsnprintf are fine). Comment lines are skipped so prose may
# name them. VLAs are caught by -Wvla in the build.
banned='strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|alloca|sscanf'
# shellcheck disable=SC2086
grep -nE "(^|[^A-Za-z0-9_])($banned)[[:space:]]*\(" $files include/callerid/*.h src/*/*.h 2>/dev/null |
	grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/\*|\*|//)' >"$tmp/banned"
if [ -s "$tmp/banned" ]; then
	echo "FAIL banned functions:"
	sed 's/^/    /' "$tmp/banned"
	status=1
else
	echo "ok   banned functions ($banned)"
fi

# ---- 2. clang-tidy ----------------------------------------------------------
cflags="-Iinclude -D_DEFAULT_SOURCE -std=c11 $(pkg-config --cflags $PKGS 2>/dev/null)"
n=$(echo "$files" | wc -l)
start=$(date +%s)
# One process per file, JOBS at a time; each writes its own log.
echo "$files" | xargs -P "$JOBS" -I{} sh -c '
	f=$1; shift
	log=$0/$(echo "$f" | tr / _).log
	"$@" --quiet "$f" -- '"$cflags"' >"$log" 2>&1 || echo "$f" >>"$0/tidy-failed.$$"
' "$tmp" {} "$CLANG_TIDY"
fails=$(cat "$tmp"/tidy-failed.* 2>/dev/null | sort)
secs=$(( $(date +%s) - start ))
if [ -n "$fails" ]; then
	echo "FAIL clang-tidy ($(echo "$fails" | wc -l) of $n files, ${secs}s):"
	for f in $fails; do
		echo "  $f:"
		grep -E '(warning|error):' "$tmp/$(echo "$f" | tr / _).log" | sed "s|^$(pwd)/||; s/^/    /"
	done
	status=1
else
	echo "ok   clang-tidy ($n files, ${secs}s)"
fi

# ---- 3. cppcheck ------------------------------------------------------------
# --inline-suppr allows "// cppcheck-suppress id" with a reason beside it;
# the suppressions file holds the rest, one reason per line.
# shellcheck disable=SC2086
if "$CPPCHECK" --enable=warning,portability,performance --error-exitcode=1 \
	--std=c11 --inline-suppr --suppressions-list=scripts/cppcheck.supp \
	--quiet -j "$JOBS" -Iinclude -D_DEFAULT_SOURCE -D__linux__ -D__GNUC__ \
	--template='{file}:{line}: {severity}: {message} [{id}]' \
	$files >"$tmp/cppcheck" 2>&1; then
	echo "ok   cppcheck ($n files)"
else
	echo "FAIL cppcheck:"
	sed 's/^/    /' "$tmp/cppcheck"
	status=1
fi

[ "$status" -eq 0 ] && echo "lint: clean" || echo "lint: findings above"
exit "$status"
