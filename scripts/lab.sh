#!/bin/sh
# lab.sh — a network-namespace stand-in for an EKS node, its pods and a VPC
# endpoint, for callerid's end-to-end tests, demos and committed captures.
#
#   pod<N> netns                node netns                     endpoint netns
#   eth0 10.204.N.2/24  <veth>  eni<hash> 10.204.N.1/24
#        fd00:204:N::2/64           fd00:204:N::1/64
#                               eth0 10.203.0.1/24     <veth>  eth0 10.203.0.10-12/24
#                                    fd00:203::1/64                 fd00:203::10-12/64
#                               nftables: pods -> endpoint masqueraded to 10.203.0.1
#
# The three endpoint addresses stand in for a VPC interface endpoint's ENI
# IPs. Forwarding is enabled inside the node netns only; the root namespace
# is never configured (veths are created directly inside the namespaces).
# Every name carries a per-run prefix (LAB_PREFIX, default "cid" + 5 random
# hex digits), so two labs coexist and `down` removes only its own.
#
# CLI (as root):
#   sh scripts/lab.sh up [PREFIX]       build; prints LAB_PREFIX=... on stdout
#   sh scripts/lab.sh down [PREFIX]     kill what the lab started, delete its netns
#   sh scripts/lab.sh exec NS CMD...    NS = node | endpoint | pod1 | podN | full name
#   sh scripts/lab.sh status [PREFIX]   namespaces, addresses, spawned processes
# Without PREFIX, `down`/`exec`/`status` use $LAB_PREFIX or the only lab present.
#
# Library (POSIX sh): `. scripts/lab.sh` then lab_up (installs an EXIT/INT/TERM
# trap that calls lab_down), lab_exec, lab_spawn/lab_stop (background daemons,
# killed by recorded pid), lab_capture_start/lab_capture_stop (tcpdump),
# lab_add_pod N (more pods), lab_cert (throwaway self-signed certificate),
# lab_imds_up (IMDS + DNS stand-ins in an imds netns), lab_resolve.
# A later demo (hostNetwork agent in the node netns + pods calling the
# endpoint, CloudTrail records to match) is a sequence of these calls.

LAB_STATE_ROOT=${LAB_STATE_ROOT:-/run/callerid-lab}
LAB_NODE_IP=10.203.0.1
LAB_NODE_IP6=fd00:203::1
LAB_EP_IPS="10.203.0.10 10.203.0.11 10.203.0.12"
LAB_EP_IP6S="fd00:203::10 fd00:203::11 fd00:203::12"
LAB_UPLINK_NET=10.203.0.0/24
LAB_UPLINK_NET6=fd00:203::/64
LAB_POD_NET=10.204.0.0/16
LAB_POD_NET6=fd00:204::/48
LAB_PODS=${LAB_PODS:-1}
LAB_NFT_TABLE=callerid_lab

lab_log() { printf 'lab: %s\n' "$*" >&2; }
lab_die() { lab_log "error: $*"; return 1; }

# lab_new_prefix: prints "cid" + 5 random hex digits.
lab_new_prefix() {
	printf 'cid%s\n' "$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-5)"
}

# lab_ns ROLE: the netns name of a role (node, endpoint/ep, podN) in this lab;
# a name that already carries the prefix is returned unchanged.
lab_ns() {
	case $1 in
	"$LAB_PREFIX"-*) printf '%s\n' "$1" ;;
	ep) printf '%s-endpoint\n' "$LAB_PREFIX" ;;
	pod) printf '%s-pod1\n' "$LAB_PREFIX" ;;
	*) printf '%s-%s\n' "$LAB_PREFIX" "$1" ;;
	esac
}

# lab_pod_ip N / lab_pod_ip6 N / lab_pod_gw N: addresses of pod N (1..250).
lab_pod_ip() { printf '10.204.%s.2\n' "$1"; }
lab_pod_ip6() { printf 'fd00:204:%s::2\n' "$1"; }
lab_pod_gw() { printf '10.204.%s.1\n' "$1"; }
# lab_pod_veth N: the node-side veth of pod N, named like the VPC CNI's
# "eni" + 11 hex digits (unique per lab and pod).
lab_pod_veth() {
	printf 'eni%s\n' "$(printf '%s-%s' "$LAB_PREFIX" "$1" | md5sum | cut -c1-11)"
}

# lab_exec ROLE CMD...: run CMD inside the role's netns (exec, no fork).
lab_exec() {
	_ns=$(lab_ns "$1") || return 1
	shift
	ip netns exec "$_ns" "$@"
}

# lab_state: the state directory of this lab (pids, logs, addresses).
lab_state() { printf '%s/%s\n' "$LAB_STATE_ROOT" "$LAB_PREFIX"; }

lab_add_ns() { # name
	ip netns add "$1" || return 1
	printf '%s\n' "$1" >>"$(lab_state)/netns"
	ip -n "$1" link set lo up
}

# lab_add_pod N: create netns podN, its veth to the node, addresses, routes.
lab_add_pod() {
	_n=$1
	_pns=$(lab_ns "pod$_n")
	_nns=$(lab_ns node)
	_veth=$(lab_pod_veth "$_n")
	lab_add_ns "$_pns" || return 1
	ip link add "$_veth" netns "$_nns" type veth peer name eth0 netns "$_pns" || return 1
	ip -n "$_nns" addr add "$(lab_pod_gw "$_n")/24" dev "$_veth" || return 1
	ip -n "$_nns" addr add "fd00:204:$_n::1/64" dev "$_veth" nodad || return 1
	ip -n "$_nns" link set "$_veth" up || return 1
	ip -n "$_pns" addr add "$(lab_pod_ip "$_n")/24" dev eth0 || return 1
	ip -n "$_pns" addr add "$(lab_pod_ip6 "$_n")/64" dev eth0 nodad || return 1
	ip -n "$_pns" link set eth0 up || return 1
	ip -n "$_pns" route add default via "$(lab_pod_gw "$_n")" || return 1
	ip -n "$_pns" -6 route add default via "fd00:204:$_n::1" || return 1
	printf 'pod%s %s %s %s\n' "$_n" "$(lab_pod_ip "$_n")" "$(lab_pod_ip6 "$_n")" "$_veth" \
		>>"$(lab_state)/pods"
}

lab_trap_install() {
	trap 'lab_down' EXIT
	trap 'lab_down; trap - EXIT; exit 130' INT TERM
}

lab_trap_remove() { trap - EXIT INT TERM; }

# lab_up [PREFIX]: build the topology. As a library call it installs a trap
# that tears the lab down when the calling script exits. Returns non-zero
# (after cleaning up) on any failure.
lab_up() {
	[ "$(id -u)" = 0 ] || { lab_die "must run as root"; return 1; }
	LAB_PREFIX=${1:-${LAB_PREFIX:-$(lab_new_prefix)}}
	export LAB_PREFIX
	if ip netns list | grep -q "^$LAB_PREFIX-"; then
		lab_die "a lab with prefix $LAB_PREFIX already exists"
		return 1
	fi
	mkdir -p "$(lab_state)" || return 1
	: >"$(lab_state)/netns"
	: >"$(lab_state)/pids"
	: >"$(lab_state)/pods"
	lab_trap_install
	if ! lab_build; then
		lab_log "setup failed; cleaning up"
		lab_down
		return 1
	fi
	lab_log "up: prefix $LAB_PREFIX, node $(lab_ns node), endpoint $(lab_ns endpoint)"
}

lab_build() {
	_nns=$(lab_ns node)
	_ens=$(lab_ns endpoint)
	lab_add_ns "$_nns" || return 1
	lab_add_ns "$_ens" || return 1
	# Uplink: node eth0 <-> endpoint eth0.
	ip link add eth0 netns "$_nns" type veth peer name eth0 netns "$_ens" || return 1
	ip -n "$_nns" addr add "$LAB_NODE_IP/24" dev eth0 || return 1
	ip -n "$_nns" addr add "$LAB_NODE_IP6/64" dev eth0 nodad || return 1
	for _a in $LAB_EP_IPS; do
		ip -n "$_ens" addr add "$_a/24" dev eth0 || return 1
	done
	for _a in $LAB_EP_IP6S; do
		ip -n "$_ens" addr add "$_a/64" dev eth0 nodad || return 1
	done
	ip -n "$_nns" link set eth0 up || return 1
	ip -n "$_ens" link set eth0 up || return 1
	# Routing inside the node only.
	ip netns exec "$_nns" sysctl -qw net.ipv4.ip_forward=1 || return 1
	ip netns exec "$_nns" sysctl -qw net.ipv6.conf.all.forwarding=1 || return 1
	# The endpoint has no route to the pod range: pod traffic only works
	# because the node masquerades it (as on a node that SNATs pod egress).
	ip netns exec "$_nns" nft -f - <<EOF || return 1
table inet $LAB_NFT_TABLE {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr $LAB_POD_NET ip daddr $LAB_UPLINK_NET oifname "eth0" masquerade
		ip6 saddr $LAB_POD_NET6 ip6 daddr $LAB_UPLINK_NET6 oifname "eth0" masquerade
	}
}
EOF
	_i=1
	while [ "$_i" -le "$LAB_PODS" ]; do
		lab_add_pod "$_i" || return 1
		_i=$((_i + 1))
	done
	{
		echo "LAB_PREFIX=$LAB_PREFIX"
		echo "LAB_NODE_IP=$LAB_NODE_IP"
		echo "LAB_NODE_IP6=$LAB_NODE_IP6"
		echo "LAB_EP_IPS='$LAB_EP_IPS'"
		echo "LAB_EP_IP6S='$LAB_EP_IP6S'"
	} >"$(lab_state)/env"
}

lab_proc_start() { # pid -> starttime (field 22 of /proc/PID/stat), or nothing
	[ -r "/proc/$1/stat" ] || return 0
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20
}

# lab_spawn NAME ROLE CMD...: start CMD in the background inside the role's
# netns, stdout+stderr to $(lab_state)/NAME.log; the pid (with its start time,
# against pid reuse) is recorded so lab_stop/lab_down kill exactly it.
# Sets LAB_PID.
lab_spawn() {
	_name=$1 _role=$2
	shift 2
	_ns=$(lab_ns "$_role")
	ip netns exec "$_ns" "$@" >"$(lab_state)/$_name.log" 2>&1 </dev/null &
	LAB_PID=$!
	printf '%s %s %s\n' "$_name" "$LAB_PID" "$(lab_proc_start "$LAB_PID")" >>"$(lab_state)/pids"
}

lab_kill_pid() { # pid starttime signal
	[ -n "$1" ] || return 0
	_st=$(lab_proc_start "$1")
	[ -n "$_st" ] || return 0
	[ -z "$2" ] || [ "$_st" = "$2" ] || return 0 # pid reused by someone else
	kill "-$3" "$1" 2>/dev/null || return 0
	_w=0
	while [ -n "$(lab_proc_start "$1")" ] && [ "$_w" -lt 30 ]; do
		# reap it when it is our child, otherwise just poll
		sleep 0.1
		_w=$((_w + 1))
		# a zombie child of ours still has /proc entry; stop polling then
		grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null && break
	done
	if [ -n "$(lab_proc_start "$1")" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; then
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
	return 0
}

# lab_stop NAME [SIGNAL]: stop the process(es) spawned under NAME (default
# SIGTERM; tcpdump is stopped with INT so it flushes its file).
lab_stop() {
	_f="$(lab_state)/pids"
	[ -f "$_f" ] || return 0
	while read -r _n _p _s; do
		[ "$_n" = "$1" ] && lab_kill_pid "$_p" "$_s" "${2:-TERM}"
	done <"$_f"
	grep -v "^$1 " "$_f" >"$_f.tmp"
	mv "$_f.tmp" "$_f"
}

# lab_wait_listen ROLE PORT [TIMEOUT_S]: wait until something listens on
# TCP PORT inside the role's netns.
lab_wait_listen() {
	_t=$((${3:-5} * 10))
	while [ "$_t" -gt 0 ]; do
		lab_exec "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q . && return 0
		sleep 0.1
		_t=$((_t - 1))
	done
	lab_die "nothing listens on port $2 in $(lab_ns "$1")"
}

# lab_capture_start NAME ROLE FILE TCPDUMP-ARGS...: tcpdump -s 0 -w FILE in
# the role's netns; returns once tcpdump reports that it is listening.
# Not --immediate-mode: with -s 0 that switches libpcap to TPACKET_V2 with
# snaplen-sized ring frames, i.e. a handful of them, and bursts get dropped.
lab_capture_start() {
	_cn=$1 _cr=$2 _cf=$3
	shift 3
	lab_spawn "$_cn" "$_cr" tcpdump -Z root -n -s 0 -U -w "$_cf" "$@" || return 1
	_t=50
	while [ "$_t" -gt 0 ]; do
		grep -q 'listening on' "$(lab_state)/$_cn.log" 2>/dev/null && return 0
		sleep 0.1
		_t=$((_t - 1))
	done
	cat "$(lab_state)/$_cn.log" >&2
	lab_die "tcpdump did not start"
}

# lab_capture_stop NAME: stop tcpdump (SIGINT), print its summary to stderr.
lab_capture_stop() {
	# TPACKET_V3 hands a ring block to tcpdump when it fills or after the
	# 1 s block timeout; SIGINT before that would lose the last packets.
	sleep 1.5
	lab_stop "$1" INT
	grep -E 'captured|dropped' "$(lab_state)/$1.log" | sed 's/^/lab: tcpdump: /' >&2
	return 0
}

# lab_cert DIR CN [DNS-NAME...]: a throwaway self-signed RSA-2048 certificate
# DIR/cert.pem + DIR/key.pem whose SANs are the names and the endpoint IPs.
lab_cert() {
	_d=$1 _cn=$2
	shift 2
	_san="DNS:$_cn"
	for _x in "$@"; do _san="$_san,DNS:$_x"; done
	for _x in $LAB_EP_IPS $LAB_EP_IP6S; do _san="$_san,IP:$_x"; done
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$_cn" \
		-addext "subjectAltName=$_san" \
		-keyout "$_d/key.pem" -out "$_d/cert.pem" 2>/dev/null
}

# lab_down [PREFIX]: kill the recorded processes, delete this lab's netns
# (their veths go with them), remove the state directory. Idempotent.
lab_down() {
	lab_trap_remove
	[ -n "${1:-}" ] && LAB_PREFIX=$1
	[ -n "${LAB_PREFIX:-}" ] || return 0
	_sd=$(lab_state)
	if [ -f "$_sd/pids" ]; then
		while read -r _n _p _s; do
			lab_kill_pid "$_p" "$_s" TERM
		done <"$_sd/pids"
	fi
	for _ns in $(cat "$_sd/netns" 2>/dev/null) $(ip netns list | sed -n "s/^\($LAB_PREFIX-[^ ]*\).*/\1/p"); do
		case $_ns in "$LAB_PREFIX"-*) ;; *) continue ;; esac
		ip netns list | grep -q "^$_ns\( \|$\)" || continue
		_left=$(ip netns pids "$_ns" 2>/dev/null | tr '\n' ' ')
		[ -z "$_left" ] || lab_log "warning: processes not started by the lab still in $_ns: $_left"
		ip netns delete "$_ns" || lab_log "warning: could not delete $_ns"
	done
	rm -rf "$_sd"
	rmdir "$LAB_STATE_ROOT" 2>/dev/null
	return 0
}

# ---- IMDS and DNS stand-ins (issue 7) ------------------------------------
#
#   node netns                              imds netns
#   imds0 169.254.0.1/32  <veth>            eth0 169.254.169.254/32 (IMDS, HTTP :80)
#   route 169.254.169.254, .253 dev imds0        169.254.169.253/32 (DNS, dnsmasq :53)
#         src 10.203.0.1 (the node's address)
#
# As on an EC2 instance, host-network processes reach IMDS and the VPC
# resolver (169.254.169.253) from the node's address; pods reach them
# through the node (routed, not masqueraded: their own address is seen).
LAB_IMDS_IP=169.254.169.254
LAB_DNS_IP=169.254.169.253
LAB_IMDS_ROLE=${LAB_IMDS_ROLE:-eks-node-role-lab}
LAB_DNS_NAME=ec2.us-east-1.amazonaws.com
LAB_DNS_VPCE=vpce-0a1b2c3d4e5f60718-abcdefgh.ec2.us-east-1.vpce.amazonaws.com

# lab_imds_up: the imds netns, its veth to the node, the routes, the IMDS
# stand-in (scripts/imds_server.py) and dnsmasq answering $LAB_DNS_NAME with
# a CNAME to the endpoint's VPCE name, whose A records are the endpoint
# addresses (and AAAA the IPv6 ones). Needs lab_up first.
lab_imds_up() {
	_nns=$(lab_ns node)
	_ins=$(lab_ns imds)
	_here=$(cd "$(dirname "${LAB_SELF:-$0}")" && pwd)
	[ -f "$_here/imds_server.py" ] || _here=$(pwd)/scripts
	command -v dnsmasq >/dev/null 2>&1 || { lab_die "dnsmasq missing (sh scripts/deps.sh)"; return 1; }
	lab_add_ns "$_ins" || return 1
	ip link add imds0 netns "$_nns" type veth peer name eth0 netns "$_ins" || return 1
	ip -n "$_nns" addr add 169.254.0.1/32 dev imds0 || return 1
	ip -n "$_nns" link set imds0 up || return 1
	ip -n "$_ins" addr add "$LAB_IMDS_IP/32" dev eth0 || return 1
	ip -n "$_ins" addr add "$LAB_DNS_IP/32" dev eth0 || return 1
	ip -n "$_ins" link set eth0 up || return 1
	ip -n "$_nns" route add "$LAB_IMDS_IP/32" dev imds0 src "$LAB_NODE_IP" || return 1
	ip -n "$_nns" route add "$LAB_DNS_IP/32" dev imds0 src "$LAB_NODE_IP" || return 1
	ip -n "$_ins" route add 169.254.0.1/32 dev eth0 || return 1
	ip -n "$_ins" route add default via 169.254.0.1 dev eth0 onlink || return 1
	lab_spawn imds imds python3 "$_here/imds_server.py" serve --bind "$LAB_IMDS_IP" \
		--role "$LAB_IMDS_ROLE" --log "$(lab_state)/imds-requests.jsonl" || return 1
	lab_wait_listen imds 80 || return 1
	_hr=""
	for _a in $LAB_EP_IPS; do _hr="$_hr --host-record=$LAB_DNS_VPCE,$_a,60"; done
	for _a in $LAB_EP_IP6S; do _hr="$_hr --host-record=$LAB_DNS_VPCE,$_a,60"; done
	# shellcheck disable=SC2086
	lab_spawn dnsmasq imds dnsmasq --keep-in-foreground --no-daemon --no-resolv --no-hosts \
		--no-poll --user=root --pid-file= --bind-interfaces --listen-address="$LAB_DNS_IP" \
		--except-interface=lo --log-queries --log-facility=- \
		--cname="$LAB_DNS_NAME,$LAB_DNS_VPCE,10" $_hr || return 1
	lab_wait_listen imds 53 || return 1
	echo "LAB_IMDS_IP=$LAB_IMDS_IP" >>"$(lab_state)/env"
	echo "LAB_DNS_IP=$LAB_DNS_IP" >>"$(lab_state)/env"
	lab_log "imds: $LAB_IMDS_IP:80 (role $LAB_IMDS_ROLE), dns: $LAB_DNS_IP:53 in $_ins"
}

# lab_resolve ROLE CMD...: run CMD in the role's netns with a private mount
# namespace whose /etc/resolv.conf names the lab resolver (for getent and
# other libc lookups; dig can be given @$LAB_DNS_IP instead).
lab_resolve() {
	_rr=$1
	shift
	_rc="$(lab_state)/resolv.conf"
	printf 'nameserver %s\noptions attempts:1 timeout:2\n' "$LAB_DNS_IP" >"$_rc"
	lab_exec "$_rr" unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' \
		sh "$_rc" "$@"
}

lab_pick_prefix() { # set LAB_PREFIX from $1, the env, or the only lab present
	if [ -n "${1:-}" ]; then
		LAB_PREFIX=$1
	elif [ -z "${LAB_PREFIX:-}" ]; then
		_all=$(ls "$LAB_STATE_ROOT" 2>/dev/null)
		case $(printf '%s\n' "$_all" | grep -c .) in
		1) LAB_PREFIX=$_all ;;
		0) lab_die "no lab is up"; return 1 ;;
		*) lab_die "several labs are up ($(echo $_all)); set LAB_PREFIX"; return 1 ;;
		esac
	fi
	export LAB_PREFIX
}

lab_status() {
	echo "prefix: $LAB_PREFIX"
	for _ns in $(cat "$(lab_state)/netns" 2>/dev/null); do
		echo "== $_ns"
		ip -n "$_ns" -br addr show | grep -v '^lo '
	done
	[ -s "$(lab_state)/pids" ] && { echo "== processes (name pid starttime)"; cat "$(lab_state)/pids"; }
	return 0
}

lab_usage() {
	cat >&2 <<'EOF'
usage: lab.sh up [PREFIX] | down [PREFIX] | exec NS CMD... | status [PREFIX]
  NS: node | endpoint | pod1 (podN) | a full netns name
EOF
}

lab_main() {
	_cmd=${1:-}
	[ $# -gt 0 ] && shift
	case $_cmd in
	up)
		lab_up "${1:-}" || exit 1
		lab_trap_remove # the lab outlives this command
		echo "LAB_PREFIX=$LAB_PREFIX"
		;;
	down)
		lab_pick_prefix "${1:-}" || exit 1
		lab_down
		;;
	exec)
		[ $# -ge 2 ] || { lab_usage; exit 2; }
		lab_pick_prefix || exit 1
		lab_exec "$@"
		;;
	status)
		lab_pick_prefix "${1:-}" || exit 1
		lab_status
		;;
	*)
		lab_usage
		exit 2
		;;
	esac
}

case ${0##*/} in
lab.sh) [ -n "${LAB_LIB:-}" ] || lab_main "$@" ;;
esac
