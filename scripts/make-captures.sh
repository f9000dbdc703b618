#!/bin/sh
# make-captures.sh — regenerate the small real captures in captures/ (as root).
#
# Builds a lab (scripts/lab.sh: node, endpoint and pod network namespaces,
# pod traffic masqueraded by the node), runs real TLS stacks (openssl
# s_server/s_client, curl, Python ssl) between them, and captures with
# tcpdump inside the node netns the way an operator does on an EKS node.
# Each capture gets a .facts file with what this script configured (SNI,
# version, cipher, addresses, connections, requests) — not what a parser
# read back; tests/lab/captures.t checks the two agree.
#
# Usage: sh scripts/make-captures.sh [NAME...]     (default: all captures)
# Environment: OUT (default captures/), LAB_PREFIX (default: random), KEEP=1
# keeps the scratch directory (certificate, server logs) for debugging.
# The TLS certificate is a throwaway self-signed one made at run time.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
OUT=${OUT:-$ROOT/captures}
LAB_LIB=1 . "$ROOT/scripts/lab.sh"

[ "$(id -u)" = 0 ] || { echo "make-captures: must run as root" >&2; exit 1; }
for t in tcpdump openssl curl python3 nft; do
	command -v "$t" >/dev/null 2>&1 || { echo "make-captures: $t missing (sh scripts/deps.sh)" >&2; exit 1; }
done
mkdir -p "$OUT" || exit 1

EC2=ec2.us-east-1.amazonaws.com
STS=sts.us-east-1.amazonaws.com
SSM=ssm.us-east-1.amazonaws.com
EP1=$(echo "$LAB_EP_IPS" | cut -d' ' -f1)
EP2=$(echo "$LAB_EP_IPS" | cut -d' ' -f2)
EP3=$(echo "$LAB_EP_IPS" | cut -d' ' -f3)
EP6=$(echo "$LAB_EP_IP6S" | cut -d' ' -f3)
BODY='Action=DescribeTags&Version=2016-11-15&Filter.1.Name=resource-id&Filter.1.Value.1=i-0123456789abcdef0'
FILTER="tcp port 443"

V_OPENSSL=$(openssl version | cut -d' ' -f1-2)
V_CURL=$(curl --version | head -1 | cut -d' ' -f1-2)
V_PY="Python $(python3 -c 'import platform, ssl; print(platform.python_version() + " (" + ssl.OPENSSL_VERSION + ")")')"
V_TCPDUMP="$(tcpdump --version 2>&1 | head -1), $(tcpdump --version 2>&1 | sed -n 's/^\(libpcap version [^ ]*\).*/\1/p')"
V_KERNEL="Linux $(uname -r)"

[ -n "${KEEP:-}" ] && echo "make-captures: keeping scratch files" >&2
lab_up || exit 1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/callerid-captures.XXXXXX") && [ -d "$WORK" ] || { echo "make-captures: mktemp failed" >&2; lab_down; exit 1; }
# lab_up's trap tears the lab down; also drop the scratch directory.
trap 'lab_down; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
trap 'lab_down; rm -rf "$WORK"; trap - EXIT; exit 130' INT TERM

lab_cert "$WORK" "$EC2" "$STS" "$SSM" || { echo "make-captures: certificate failed" >&2; exit 1; }
printf '{"Tags":[{"Key":"Name","ResourceId":"i-0123456789abcdef0","Value":"lab"}]}\n' >"$WORK/describe-tags.json"
# TLS 1.3 suites cannot be set through Python's ssl module: an OpenSSL config
# restricts them for the Python server (RFC 8446 section 4.1.1: the server
# picks from the client's list).
cat >"$WORK/tls13-aes128.cnf" <<'EOF'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Ciphersuites = TLS_AES_128_GCM_SHA256
EOF

fail=0
made=""

want() { # NAME: true when NAME was asked for (or nothing was)
	[ -z "$WANT" ] && return 0
	case " $WANT " in *" $1 "*) return 0 ;; esac
	return 1
}

# facts NAME key=value...: write NAME.facts (common keys first) beside the
# capture in $WORK; check_ok moves both to $OUT when the scenario succeeded.
facts() {
	_f=$1
	shift
	{
		echo "# What scripts/make-captures.sh configured for $_f (not parser output)."
		echo "file=$_f"
		for _kv in "$@"; do echo "$_kv"; done
		echo "capture_tool=$V_TCPDUMP"
		echo "kernel=$V_KERNEL"
	} >"$WORK/${_f%.*}.facts"
}

# s_server NAME IP EXTRA-ARGS...: openssl s_server -WWW on IP:443 serving
# files from $WORK (HTTP/1.0, one request per connection).
s_server() {
	_sn=$1 _ip=$2
	shift 2
	case $_ip in *:*) _acc="[$_ip]:443" ;; *) _acc="$_ip:443" ;; esac
	lab_spawn "$_sn" endpoint sh -c 'cd "$1" && shift && exec "$@"' sh "$WORK" \
		openssl s_server -quiet -WWW -accept "$_acc" \
		-cert "$WORK/cert.pem" -key "$WORK/key.pem" "$@" || return 1
	lab_wait_listen endpoint 443
}

py_server() { # NAME IP EXTRA-ARGS...  (PY_ENV: VAR=value words for env(1))
	_sn=$1 _ip=$2
	shift 2
	# shellcheck disable=SC2086
	lab_spawn "$_sn" endpoint env ${PY_ENV:-} python3 "$ROOT/scripts/tls_server.py" --bind "$_ip" \
		--cert "$WORK/cert.pem" --key "$WORK/key.pem" --log "$WORK/$_sn.requests" "$@" || return 1
	lab_wait_listen endpoint 443
}

# s_client ROLE SNI IP ARGS...: one HTTP/1.0 GET through openssl s_client;
# the server closes after the answer, which ends s_client (-ign_eof).
s_client() {
	_role=$1 _sni=$2 _ip=$3
	shift 3
	printf 'GET /describe-tags.json HTTP/1.0\r\nHost: %s\r\nUser-Agent: callerid-lab/1.0 openssl-s_client\r\n\r\n' "$_sni" |
		lab_exec "$_role" openssl s_client -connect "$_ip:443" -servername "$_sni" \
			-CAfile "$WORK/cert.pem" -verify_return_error -verify_hostname "$_sni" \
			-ign_eof "$@" >"$WORK/s_client.out" 2>&1
}

ifindex() { # ROLE IFNAME: the interface index (what SLL2 headers carry)
	lab_exec "$1" cat "/sys/class/net/$2/ifindex"
}

check_ok() { # NAME STATUS: record a failed scenario
	if [ "$2" -ne 0 ]; then
		echo "make-captures: $1 failed (status $2)" >&2
		fail=1
		return 1
	fi
	_sz=$(wc -c <"$WORK/$1")
	if [ "$_sz" -ge 102400 ]; then
		echo "make-captures: $1 is $_sz bytes (limit 100 KB)" >&2
		fail=1
		return 1
	fi
	mv "$WORK/$1" "$OUT/$1" && mv "$WORK/${1%.*}.facts" "$OUT/${1%.*}.facts" || { fail=1; return 1; }
	made="$made $1"
	echo "make-captures: $1 ($_sz bytes)" >&2
}

# 1 and 7: TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256, SNI, one request, from a
# host-network process in the node netns; -i any as SLL2 and as SLL v1.
tls12() { # NAME DLT
	s_server srv "$EP1" || return 1
	lab_capture_start cap node "$WORK/$1" -i any -y "$2" "$FILTER" || return 1
	s_client node "$EC2" "$EP1" -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
	_rc=$?
	grep -q '"Tags"' "$WORK/s_client.out" || _rc=1
	lab_capture_stop cap
	lab_stop srv
	facts "$1" dlt="$2" capture_iface=any capture_netns=node ts_precision=micro \
		ip_version=4 client_ip="$LAB_NODE_IP" server_ip="$EP1" server_port=443 \
		client_netns=node client_tool="$V_OPENSSL s_client" server_tool="$V_OPENSSL s_server -WWW" \
		sni="$EC2" tls_version=TLSv1.2 cipher=ECDHE-RSA-AES128-GCM-SHA256 cipher_code=0xc02f \
		hrr=0 connections=1 requests_per_connection=1 copies_per_packet=1 \
		app_protocol="HTTP/1.0 GET"
	return $_rc
}
tls12_sll2() { tls12 "$1" LINUX_SLL2; }
tls12_sll() { tls12 "$1" LINUX_SLL; }

# 2: TLS 1.3 TLS_AES_128_GCM_SHA256, Python client, 3 POSTs on one
# keep-alive connection with 300 ms pauses; nanosecond timestamps.
tls13_keepalive() {
	PY_ENV="OPENSSL_CONF=$WORK/tls13-aes128.cnf"
	py_server srv "$EP2" --min-version 1.3 || return 1
	PY_ENV=
	lab_capture_start cap node "$WORK/$1" -i any -y LINUX_SLL2 \
		--time-stamp-precision nano "$FILTER" || return 1
	lab_exec node python3 "$ROOT/scripts/tls_client.py" --connect "$EP2" --sni "$EC2" \
		--cafile "$WORK/cert.pem" --tls 1.3 --requests 3 --pause 0.3 >"$WORK/client.out" 2>&1
	_rc=$?
	grep -q 'TLS_AES_128_GCM_SHA256' "$WORK/client.out" || _rc=1
	lab_capture_stop cap
	lab_stop srv
	facts "$1" dlt=LINUX_SLL2 capture_iface=any capture_netns=node ts_precision=nano \
		ip_version=4 client_ip="$LAB_NODE_IP" server_ip="$EP2" server_port=443 \
		client_netns=node client_tool="$V_PY ssl+http.client (scripts/tls_client.py)" \
		server_tool="$V_PY ssl+http.server (scripts/tls_server.py)" \
		sni="$EC2" tls_version=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 cipher_code=0x1301 \
		hrr=0 connections=1 requests_per_connection=3 request_pause_ms=300 copies_per_packet=1 \
		alpn=http/1.1 app_protocol="HTTP/1.1 POST keep-alive"
	return $_rc
}

# 3: IPv6, curl TLS 1.3 (two URLs on one connection), captured on the
# uplink veth itself: Ethernet framing.
tls13_ipv6() {
	py_server srv "$EP6" --min-version 1.3 || return 1
	lab_capture_start cap node "$WORK/$1" -i eth0 "$FILTER" || return 1
	lab_exec node curl -sS --fail --tlsv1.3 --tls13-ciphers TLS_AES_256_GCM_SHA384 \
		--cacert "$WORK/cert.pem" --resolve "$SSM:443:[$EP6]" \
		-A "callerid-lab/1.0 curl" --data-binary "$BODY" \
		"https://$SSM/" "https://$SSM/" >"$WORK/client.out" 2>&1
	_rc=$?
	lab_capture_stop cap
	lab_stop srv
	facts "$1" dlt=EN10MB capture_iface=eth0 capture_netns=node ts_precision=micro \
		ip_version=6 client_ip="$LAB_NODE_IP6" server_ip="$EP6" server_port=443 \
		client_netns=node client_tool="$V_CURL" \
		server_tool="$V_PY ssl+http.server (scripts/tls_server.py)" \
		sni="$SSM" tls_version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 cipher_code=0x1302 \
		hrr=0 connections=1 requests_per_connection=2 copies_per_packet=1 \
		alpn=http/1.1 app_protocol="HTTP/1.1 POST keep-alive"
	return $_rc
}

# 4: the path to one endpoint address has a 160-byte MTU (a route with an
# mtu attribute in the node), and segmentation offload is off on the
# uplink, so the ClientHello leaves in several TCP segments.
split_ch() {
	s_server srv "$EP3" -tls1_3 || return 1
	lab_exec node ip route add "$EP3/32" dev eth0 mtu 160 || return 1
	lab_exec node ip link set eth0 gso_max_segs 1 || return 1
	lab_capture_start cap node "$WORK/$1" -i any -y LINUX_SLL2 "$FILTER" || return 1
	s_client node "$EC2" "$EP3" -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
	_rc=$?
	grep -q '"Tags"' "$WORK/s_client.out" || _rc=1
	lab_capture_stop cap
	lab_stop srv
	lab_exec node ip route del "$EP3/32" dev eth0
	lab_exec node ip link set eth0 gso_max_segs 65535
	facts "$1" dlt=LINUX_SLL2 capture_iface=any capture_netns=node ts_precision=micro \
		ip_version=4 client_ip="$LAB_NODE_IP" server_ip="$EP3" server_port=443 \
		client_netns=node client_tool="$V_OPENSSL s_client" server_tool="$V_OPENSSL s_server -WWW" \
		sni="$EC2" tls_version=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 cipher_code=0x1301 \
		hrr=0 connections=1 requests_per_connection=1 copies_per_packet=1 \
		path_mtu=160 clienthello_split=1 app_protocol="HTTP/1.0 GET"
	return $_rc
}

# 5: HelloRetryRequest — the client's first key share is X25519, the server
# accepts only P-256 (RFC 8446 section 4.1.4).
hrr() {
	s_server srv "$EP1" -tls1_3 -groups P-256 || return 1
	lab_capture_start cap node "$WORK/$1" -i any -y LINUX_SLL2 "$FILTER" || return 1
	s_client node "$STS" "$EP1" -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 -groups X25519:P-256
	_rc=$?
	grep -q '"Tags"' "$WORK/s_client.out" || _rc=1
	lab_capture_stop cap
	lab_stop srv
	facts "$1" dlt=LINUX_SLL2 capture_iface=any capture_netns=node ts_precision=micro \
		ip_version=4 client_ip="$LAB_NODE_IP" server_ip="$EP1" server_port=443 \
		client_netns=node client_tool="$V_OPENSSL s_client" server_tool="$V_OPENSSL s_server -WWW" \
		sni="$STS" tls_version=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 cipher_code=0x1301 \
		hrr=1 client_groups=x25519,secp256r1 client_first_key_share=x25519 \
		server_groups=secp256r1 group=secp256r1 \
		connections=1 requests_per_connection=1 copies_per_packet=1 app_protocol="HTTP/1.0 GET"
	return $_rc
}

# 6: a pod calls the endpoint through the node's masquerade. With -i any
# every packet is captured twice: on the pod's veth (pod address) and on
# the uplink (node address, after SNAT). curl TLS 1.2, two requests.
pod_snat() {
	py_server srv "$EP2" || return 1
	lab_capture_start cap node "$WORK/$1" -i any -y LINUX_SLL2 "$FILTER" || return 1
	lab_exec pod1 curl -sS --fail --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-RSA-AES128-GCM-SHA256 \
		--cacert "$WORK/cert.pem" --resolve "$EC2:443:$EP2" \
		-A "callerid-lab/1.0 curl" --data-binary "$BODY" \
		"https://$EC2/" "https://$EC2/" >"$WORK/client.out" 2>&1
	_rc=$?
	# The server must have seen the node's address, not the pod's.
	grep -q "\"peer\": \"$LAB_NODE_IP\"" "$WORK/srv.requests" || _rc=1
	lab_capture_stop cap
	lab_stop srv
	facts "$1" dlt=LINUX_SLL2 capture_iface=any capture_netns=node ts_precision=micro \
		ip_version=4 client_ip="$(lab_pod_ip 1)" client_ip_after_nat="$LAB_NODE_IP" \
		server_ip="$EP2" server_port=443 client_netns=pod1 \
		pod_veth="$(lab_pod_veth 1)" pod_veth_ifindex="$(ifindex node "$(lab_pod_veth 1)")" \
		uplink_ifindex="$(ifindex node eth0)" nat=masquerade \
		client_tool="$V_CURL" server_tool="$V_PY ssl+http.server (scripts/tls_server.py)" \
		sni="$EC2" tls_version=TLSv1.2 cipher=ECDHE-RSA-AES128-GCM-SHA256 cipher_code=0xc02f \
		hrr=0 connections=1 requests_per_connection=2 copies_per_packet=2 \
		alpn=http/1.1 app_protocol="HTTP/1.1 POST keep-alive"
	return $_rc
}

WANT="$*"
run() { # NAME FUNCTION ARGS...
	_run=$1
	shift
	want "$_run" || return 0
	"$@" "$_run"
	check_ok "$_run" $?
}

run tls12-sll2.pcap tls12_sll2
run tls13-keepalive-sll2.pcap tls13_keepalive
run tls13-ipv6-en10mb.pcap tls13_ipv6
run split-clienthello-sll2.pcap split_ch
run hrr-sll2.pcap hrr
run pod-snat-sll2.pcap pod_snat
run tls12-sll.pcap tls12_sll

echo "make-captures: made:${made:- nothing}" >&2
exit $fail
