#!/bin/sh
# `callerid read` on hostile captures made by gen_bad.py: truncated at every
# record boundary and mid-record, wrong magic, absurd lengths, zero-length
# packets, time going backwards, pcapng with unknown blocks and bad block
# lengths, pcapng truncated at every block boundary and inside every block,
# ClientHellos with a 64 KiB SNI, 10000 extensions, escapes in the SNI,
# gzip-compressed captures whole, cut, damaged and with bytes after them.
# For each file: the exit status, an error message that names the file
# and the offset, what came before the damage in the database, and no raw
# ESC byte on stdout. Then a bad file and a good one in one run.
# Environment: CALLERID (binary), TMPROOT (scratch dir).
set -u
: "${CALLERID:?}" "${TMPROOT:?}"
D="$TMPROOT/hostile_read.$$"
G="$D/files"
mkdir -p "$D"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # description, then a command whose success means ok
	d=$1; shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}
diag() { sed 's/^/# /' "$@" | head -5; }
HERE=$(dirname "$0")

if ! command -v python3 >/dev/null 2>&1; then
	skip "hostile captures" "python3 not installed"
	echo "1..$n"
	exit 0
fi
if ! python3 "$HERE/gen_bad.py" "$G" >"$D/gen.err" 2>&1; then
	notok "gen_bad.py writes the hostile captures"
	diag "$D/gen.err"
	echo "1..$n"
	exit 0
fi
ok "gen_bad.py writes the hostile captures"
HAVE_SQLITE=1
command -v sqlite3 >/dev/null 2>&1 || HAVE_SQLITE=0

count_flows() { # db [source-substring]: number of flow rows (of captures whose source matches)
	if [ -f "$1" ]; then
		sqlite3 "$1" "SELECT count(*) FROM flow f JOIN capture c ON f.capture_id = c.id
			WHERE c.source LIKE '%' || '${2:-}' || '%';" 2>/dev/null
	else
		echo 0
	fi
}

has_esc() { # file: true when it holds a raw ESC (0x1b) byte
	[ "$(tr -dc '\033' <"$1" | wc -c)" -ne 0 ]
}

TAB=$(printf '\t')
while IFS="$TAB" read -r name want flows off what; do
	f="$G/$name"
	db="$D/$name.db"
	rm -f "$db"
	"$CALLERID" read --db "$db" "$f" >"$D/out" 2>"$D/err"
	rc=$?
	if [ "$rc" = "$want" ]; then
		ok "$name: exits $want ($what)"
	else
		notok "$name: exits $rc, expected $want ($what)"
		diag "$D/err"
	fi
	if grep -q 'AddressSanitizer\|runtime error\|LeakSanitizer' "$D/err"; then
		notok "$name: sanitizer report"
		diag "$D/err"
	fi
	if [ "$want" = 1 ]; then
		check "$name: the error names the file" grep -qF "$f" "$D/err"
	fi
	if [ "$off" != "-" ]; then
		if grep -qF "$f" "$D/err" && grep "$f" "$D/err" | grep -q "offset $off[^0-9]"; then
			ok "$name: the error names offset $off"
		else
			notok "$name: the error names offset $off"
			diag "$D/err"
		fi
	fi
	if [ "$HAVE_SQLITE" = 1 ]; then
		got=$(count_flows "$db")
		if [ "$got" = "$flows" ]; then
			ok "$name: $flows flows stored (everything before the damage)"
		else
			notok "$name: $got flows stored, expected $flows"
		fi
	else
		skip "$name: flows stored" "sqlite3 not installed"
	fi
	if has_esc "$D/out"; then
		notok "$name: stdout holds a raw ESC byte"
	else
		ok "$name: no raw ESC on stdout"
	fi
done <"$G/MANIFEST"

# The escapes in the SNI in every output format, and stored as they came.
for fmt in table json csv; do
	"$CALLERID" read --no-db --format "$fmt" "$G/sni-escapes.pcap" >"$D/out" 2>"$D/err"
	rc=$?
	if [ "$rc" = 0 ] && ! has_esc "$D/out" && grep -q 'evil.example.com' "$D/out"; then
		ok "SNI with escapes, --format $fmt: printed, escaped"
	else
		notok "SNI with escapes, --format $fmt: exit $rc, ESC or SNI missing"
		diag "$D/err"
	fi
	if tr -dc '\007\233' <"$D/out" | grep -q .; then
		notok "SNI with escapes, --format $fmt: raw BEL or C1 CSI on stdout"
	else
		ok "SNI with escapes, --format $fmt: no raw BEL or C1 CSI"
	fi
done
if [ "$HAVE_SQLITE" = 1 ]; then
	got=$(sqlite3 "$D/sni-escapes.pcap.db" "SELECT count(*) FROM tls WHERE instr(sni, 'evil.example.com') > 0;")
	check "SNI with escapes: stored in the tls table" test "$got" = 1
	got=$(sqlite3 "$D/exts-10000.pcap.db" "SELECT count(*) FROM tls WHERE sni = 'ec2.us-east-1.amazonaws.com';")
	check "10000 extensions: the SNI after them is still found" test "$got" = 1
fi

# A bad file before a good one: the good one is read and stored, exit 1.
db="$D/two.db"
"$CALLERID" read --db "$db" "$G/trunc-data05.pcap" "$G/good.pcap" >"$D/out" 2>"$D/err"
rc=$?
check "bad + good: exits 1" test "$rc" = 1
check "bad + good: the error names the bad file" grep -qF "$G/trunc-data05.pcap" "$D/err"
if [ "$HAVE_SQLITE" = 1 ]; then
	check "bad + good: the good file's 3 flows are stored" test "$(count_flows "$db" good.pcap)" = 3
	check "bad + good: the bad file's first flow is stored" test "$(count_flows "$db" trunc-data05)" = 1
fi
check "bad + good: the good file's TLS flows are printed" test "$(grep -c 'sni=' "$D/out")" -ge 3

# Unreadable and wrong-magic files among good ones: every good one is read.
db="$D/three.db"
"$CALLERID" read -q --db "$db" "$G/good.pcap" "$G/bad-magic.pcap" "$D/does-not-exist.pcap" \
	"$G/unknown-blocks.pcapng" >"$D/out" 2>"$D/err"
rc=$?
check "good + bad magic + missing + good: exits 1" test "$rc" = 1
check "good + bad magic + missing + good: the missing file is named" grep -qF "$D/does-not-exist.pcap" "$D/err"
if [ "$HAVE_SQLITE" = 1 ]; then
	check "good + bad magic + missing + good: 6 flows stored" test "$(count_flows "$db")" = 6
fi
check "-q: no per-flow lines" test ! -s "$D/out"

# gzip on standard input (tcpdump -w - | gzip | ...): as the plain file.
"$CALLERID" read --no-db - <"$G/good.pcap.gz" >"$D/gzout" 2>"$D/err"
check "gzip on standard input: exits 0" test "$?" = 0
"$CALLERID" read --no-db "$G/good.pcap" >"$D/plainout" 2>/dev/null
check "gzip on standard input: the same TLS lines as the plain file" cmp -s "$D/gzout" "$D/plainout"
check "gzip on standard input: 3 TLS lines" test "$(grep -c 'sni=' "$D/gzout")" = 3

echo "1..$n"
