#!/bin/sh
# captures.t — every committed capture in captures/ has the properties its
# .facts file claims (the facts are what scripts/make-captures.sh configured;
# tshark is the independent reader). TAP on stdout. Needs tshark + capinfos;
# skips without them. Run from the repo root: sh tests/lab/captures.t
set -u
DIR=${CAPTURES:-captures}
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
check() { # DESCRIPTION EXPECTED GOT
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   expected: '$2'"
		echo "#   got:      '$3'"
	fi
}

if ! command -v tshark >/dev/null 2>&1 || ! command -v capinfos >/dev/null 2>&1; then
	echo "ok 1 - captures # SKIP tshark/capinfos missing"
	echo "1..1"
	exit 0
fi
set -- "$DIR"/*.facts
if [ ! -f "$1" ]; then
	echo "ok 1 - captures # SKIP no .facts files in $DIR"
	echo "1..1"
	exit 0
fi

# fact FILE KEY: the value of KEY in a .facts file (empty when absent).
fact() { sed -n "s/^$2=//p" "$1" | head -1; }

# tsv FILE FILTER FIELD...: tshark fields of the matching frames, one line per
# frame, occurrences joined with ','.
tsv() {
	_f=$1 _y=$2
	shift 2
	_args=""
	for _e in "$@"; do _args="$_args -e $_e"; done
	# shellcheck disable=SC2086
	tshark -n -r "$_f" -Y "$_y" -T fields -E occurrence=a -E aggregator=, $_args 2>/dev/null
}

# uniq_vals FILE FILTER FIELD: the distinct values, sorted, joined with ','.
uniq_vals() { tsv "$1" "$2" "$3" | tr ',' '\n' | grep -v '^$' | sort -u | paste -sd, -; }

count() { tsv "$1" "$2" frame.number | grep -c .; }

dlt_name() {
	case $(capinfos -E "$1" 2>/dev/null | sed -n 's/^File encapsulation: *//p') in
	"Linux cooked-mode capture v2") echo LINUX_SLL2 ;;
	"Linux cooked-mode capture v1") echo LINUX_SLL ;;
	Ethernet) echo EN10MB ;;
	*) echo unknown ;;
	esac
}

ts_precision() { # from the pcap magic number, read in host byte order
	case $(od -An -tx4 -N4 "$1" | tr -d ' ') in
	a1b2c3d4 | d4c3b2a1) echo micro ;;
	a1b23c4d | 4d3cb2a1) echo nano ;;
	*) echo other ;;
	esac
}

group_code() { # IANA TLS Supported Groups registry (RFC 8446 section 4.2.7)
	case $1 in
	secp256r1) echo 23 ;; secp384r1) echo 24 ;; x25519) echo 29 ;; x448) echo 30 ;; *) echo "?" ;;
	esac
}

# bursts FILE CLIENT-ADDRESSES(,-separated): request bursts — runs of
# client->server frames carrying a TLS record of at least 100 bytes (longer
# than an encrypted Finished or alert) other than a ClientHello, ended by
# any server frame with TLS records. Copies of one packet seen on two
# interfaces fall in the same burst.
bursts() {
	tsv "$1" 'tls && !(tls.handshake.type==1)' ip.src ipv6.src tls.record.length |
		awk -F'\t' -v clients="$2" '
		BEGIN { n = split(clients, c, ","); for (i = 1; i <= n; i++) isc[c[i]] = 1 }
		{
			src = ($1 != "") ? $1 : $2
			if (!(src in isc)) { inb = 0; next }
			nl = split($3, l, ",")
			for (i = 1; i <= nl; i++)
				if (l[i] + 0 >= 100) { if (!inb) b++; inb = 1 }
		}
		END { print b + 0 }'
}

for facts in "$DIR"/*.facts; do
	file=$(fact "$facts" file)
	name=${file:-$(basename "$facts")}
	pcap="$DIR/$file"
	if [ -z "$file" ] || [ ! -f "$pcap" ]; then
		not_ok "$name: capture named by $(basename "$facts") exists"
		continue
	fi
	ok "$name: exists"
	size=$(wc -c <"$pcap")
	if [ "$size" -lt 102400 ]; then ok "$name: $size bytes < 100 KB"; else not_ok "$name: $size bytes < 100 KB"; fi

	check "$name: link type" "$(fact "$facts" dlt)" "$(dlt_name "$pcap")"
	check "$name: timestamp precision" "$(fact "$facts" ts_precision)" "$(ts_precision "$pcap")"

	conns=$(fact "$facts" connections)
	copies=$(fact "$facts" copies_per_packet)
	hrr=$(fact "$facts" hrr)
	reqs=$(fact "$facts" requests_per_connection)
	check "$name: TCP connections (SYNs / copies)" "$conns" \
		"$(($(count "$pcap" 'tcp.flags.syn==1 && tcp.flags.ack==0') / copies))"
	check "$name: ClientHellos" "$((conns * copies * (1 + hrr)))" \
		"$(count "$pcap" 'tls.handshake.type==1')"
	check "$name: SNI" "$(fact "$facts" sni)" \
		"$(uniq_vals "$pcap" 'tls.handshake.type==1' tls.handshake.extensions_server_name)"

	if [ "$(fact "$facts" ip_version)" = 6 ]; then src=ipv6.src dst=ipv6.dst; else src=ip.src dst=ip.dst; fi
	clients=$(printf '%s\n%s\n' "$(fact "$facts" client_ip)" "$(fact "$facts" client_ip_after_nat)" |
		grep -v '^$' | sort -u | paste -sd, -)
	check "$name: client address(es)" "$clients" "$(uniq_vals "$pcap" 'tls.handshake.type==1' $src)"
	check "$name: server address" "$(fact "$facts" server_ip)" "$(uniq_vals "$pcap" 'tls.handshake.type==1' $dst)"
	check "$name: server port" "$(fact "$facts" server_port)" "$(uniq_vals "$pcap" 'tls.handshake.type==1' tcp.dstport)"

	# The negotiated version: supported_versions in the ServerHello for 1.3
	# (RFC 8446 section 4.2.1), legacy_version otherwise.
	sh='tls.handshake.type==2'
	case $(fact "$facts" tls_version) in
	TLSv1.3) check "$name: TLS 1.3 (ServerHello supported_versions)" 0x0304 \
		"$(uniq_vals "$pcap" "$sh" tls.handshake.extensions.supported_version)" ;;
	TLSv1.2) check "$name: TLS 1.2 (ServerHello version, no supported_versions)" "0x0303;" \
		"$(uniq_vals "$pcap" "$sh" tls.handshake.version);$(uniq_vals "$pcap" "$sh" tls.handshake.extensions.supported_version)" ;;
	*) not_ok "$name: known tls_version in facts" ;;
	esac
	check "$name: cipher suite" "$(fact "$facts" cipher_code)" \
		"$(uniq_vals "$pcap" "$sh" tls.handshake.ciphersuite)"

	# HelloRetryRequest: a ServerHello whose random is the fixed value of
	# RFC 8446 section 4.1.3.
	hrr_random=cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c
	check "$name: HelloRetryRequests" "$((conns * copies * hrr))" \
		"$(count "$pcap" "$sh && tls.handshake.random == $hrr_random")"
	g=$(fact "$facts" group)
	if [ -n "$g" ]; then
		check "$name: key exchange group" "$(group_code "$g")" \
			"$(uniq_vals "$pcap" "$sh && tls.handshake.random != $hrr_random" tls.handshake.extensions_key_share_group)"
	fi
	# ALPN: the ServerHello carries it in TLS 1.2; in TLS 1.3 it is in the
	# encrypted EncryptedExtensions, so only the client's offer is visible.
	a=$(fact "$facts" alpn)
	if [ -n "$a" ] && [ "$(fact "$facts" tls_version)" = TLSv1.2 ]; then
		check "$name: ALPN chosen" "$a" "$(uniq_vals "$pcap" "$sh" tls.handshake.extensions_alpn_str)"
	elif [ -n "$a" ]; then
		case ",$(uniq_vals "$pcap" 'tls.handshake.type==1' tls.handshake.extensions_alpn_str)," in
		*",$a,"*) ok "$name: ALPN $a offered" ;;
		*) not_ok "$name: ALPN $a offered" ;;
		esac
	fi

	segs=$(uniq_vals "$pcap" 'tls.handshake.type==1' tcp.segment.count)
	if [ "$(fact "$facts" clienthello_split)" = 1 ]; then
		if [ -n "$segs" ] && [ "$segs" -ge 2 ] 2>/dev/null; then
			ok "$name: ClientHello spans $segs TCP segments"
		else
			not_ok "$name: ClientHello spans several TCP segments (got '$segs')"
		fi
	else
		check "$name: ClientHello in one TCP segment" "" "$segs"
	fi

	check "$name: request bursts (connections x requests)" "$((conns * reqs))" "$(bursts "$pcap" "$clients")"

	if [ "$copies" -gt 1 ]; then
		check "$name: ClientHello seen on the pod veth and the uplink (SLL2 ifindex)" \
			"$(printf '%s\n%s\n' "$(fact "$facts" pod_veth_ifindex)" "$(fact "$facts" uplink_ifindex)" | sort -u | paste -sd, -)" \
			"$(uniq_vals "$pcap" 'tls.handshake.type==1' sll.ifindex)"
		check "$name: same ClientHello random on both sides of the NAT" 1 \
			"$(tsv "$pcap" 'tls.handshake.type==1' tls.handshake.random | sort -u | grep -c .)"
	fi
done

for pcap in "$DIR"/*.pcap "$DIR"/*.pcapng; do
	[ -f "$pcap" ] || continue
	f=$(basename "$pcap")
	if [ -f "$DIR/${f%.*}.facts" ]; then ok "$f: has a .facts file"; else not_ok "$f: has a .facts file"; fi
done

echo "1..$n"
exit 0
