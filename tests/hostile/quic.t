#!/bin/sh
# QUIC on `callerid read`, on captures made by quic_gen.py: version 1 and
# version 2 handshakes, a Retry, and hostile Initial packets (a Length past
# the datagram, tags that do not verify, a CRYPTO offset near 2^62, frames
# not allowed in Initial packets, half a hello, 40 coalesced packets, a
# draft version, Version Negotiation, a 20-byte connection ID). For each:
# exit 0, no sanitizer report, the TLS rows stored, the first one's SNI,
# JA4 and negotiated version. tshark, when installed, must read the same
# SNI from the valid ones (the generator is checked against Wireshark's
# QUIC dissector). Environment: CALLERID (binary), TMPROOT (scratch dir).
set -u
: "${CALLERID:?}" "${TMPROOT:?}"
D="$TMPROOT/hostile_quic.$$"
G="$D/files"
mkdir -p "$D"
trap 'rm -rf "$D"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
diag() { sed 's/^/# /' "$@" | head -5; }
HERE=$(dirname "$0")

if ! command -v python3 >/dev/null 2>&1 || ! command -v sqlite3 >/dev/null 2>&1; then
	skip "QUIC captures" "python3 or sqlite3 not installed"
	echo "1..$n"
	exit 0
fi
python3 "$HERE/quic_gen.py" "$G" >"$D/gen.err" 2>&1
rc=$?
if [ "$rc" = 3 ]; then
	skip "QUIC captures" "python3-cryptography not installed"
	echo "1..$n"
	exit 0
elif [ "$rc" != 0 ]; then
	notok "quic_gen.py writes the QUIC captures"
	diag "$D/gen.err"
	echo "1..$n"
	exit 0
fi
ok "quic_gen.py writes the QUIC captures"
HAVE_TSHARK=0
command -v tshark >/dev/null 2>&1 && HAVE_TSHARK=1

TAB=$(printf '\t')
while IFS="$TAB" read -r name tls sni ja4 ver what; do
	f="$G/$name"
	db="$D/$name.db"
	"$CALLERID" read -q --db "$db" "$f" >"$D/out" 2>"$D/err"
	rc=$?
	if [ "$rc" = 0 ] && ! grep -q 'AddressSanitizer\|runtime error\|LeakSanitizer' "$D/err"; then
		ok "$name: exits 0, no sanitizer report ($what)"
	else
		notok "$name: exits $rc or a sanitizer report ($what)"
		diag "$D/err"
	fi
	got=$(sqlite3 "$db" "SELECT count(*) FROM tls t JOIN flow f ON f.id = t.flow_id WHERE f.proto = 17;")
	if [ "$got" = "$tls" ]; then ok "$name: $tls TLS rows"; else notok "$name: $got TLS rows, expected $tls"; fi
	row=$(sqlite3 -separator "$TAB" "$db" "SELECT coalesce(sni, '-'), coalesce(substr(ja4, 1, 4), '-'),
		coalesce(version_code, '-') FROM tls ORDER BY flow_id LIMIT 1;")
	[ -n "$row" ] || row="-$TAB-$TAB-"
	if [ "$row" = "$sni$TAB$ja4$TAB$ver" ]; then
		ok "$name: SNI, JA4 and version as expected ($sni $ja4 $ver)"
	else
		notok "$name: got '$row', expected '$sni $ja4 $ver'"
	fi
	if [ "$ver" != "-" ]; then
		if [ "$HAVE_TSHARK" = 1 ]; then
			ts=$(tshark -n -r "$f" -Y 'tls.handshake.type == 1' -T fields \
				-e tls.handshake.extensions_server_name 2>/dev/null | head -1)
			if [ "$ts" = "$sni" ]; then
				ok "$name: tshark reads the same SNI"
			else
				notok "$name: tshark reads '$ts', expected '$sni'"
			fi
		else
			skip "$name: tshark reads the same SNI" "tshark not installed"
		fi
	fi
done <"$G/MANIFEST"

# All of them in one run, with the summary's QUIC counts.
"$CALLERID" read -q --no-db "$G"/*.pcap >"$D/out" 2>"$D/err"
rc=$?
if [ "$rc" = 0 ] && grep -q 'QUIC Initial packets: [1-9][0-9]* decrypted' "$D/err"; then
	ok "every file in one run: exits 0, the summary counts the Initial packets"
else
	notok "every file in one run: exit $rc, no QUIC count in the summary"
	diag "$D/err"
fi

echo "1..$n"
