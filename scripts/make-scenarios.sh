#!/bin/sh
# make-scenarios.sh — regenerate the correlation scenarios in captures/ (as root):
# captures/demo, captures/scenario-keepalive, captures/scenario-tls.
#
# Each scenario runs real callers in the lab (scripts/lab.sh): hostNetwork
# processes in the node netns, a pod in its own netns behind the node's SNAT,
# all calling the lab "VPC endpoint" (scripts/tls_server.py on the endpoint's
# three addresses, SNI/Host ec2.us-east-1.amazonaws.com) with
# scripts/scenario_client.py, while tcpdump -i any -y LINUX_SLL2 records the
# node netns. Afterwards:
#   scripts/scenario_cloudtrail.py  server log -> CloudTrail records (S3
#                                   delivery files) + truth.tsv (who called)
#   scripts/scenario_k8s.py         kubectl get pods/nodes -o json snapshot
# A scenario directory holds capture.pcap, cloudtrail/AWSLogs/..., k8s/,
# truth.tsv, server-log.jsonl (what the endpoint saw), callers.jsonl (what
# each caller did: the ground truth truth.tsv is joined from) and README.md.
# tests/scenarios/facts.t checks them.
#
# Usage: sh scripts/make-scenarios.sh [demo|scenario-keepalive|scenario-tls...]
# Environment: OUT (default captures/), LAB_PREFIX (default random), KEEP=1
# keeps the scratch directory.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
OUT=${OUT:-$ROOT/captures}
LAB_LIB=1 . "$ROOT/scripts/lab.sh"

[ "$(id -u)" = 0 ] || { echo "make-scenarios: must run as root" >&2; exit 1; }
for t in tcpdump openssl python3 nft; do
	command -v "$t" >/dev/null 2>&1 || { echo "make-scenarios: $t missing (sh scripts/deps.sh)" >&2; exit 1; }
done
mkdir -p "$OUT" || exit 1

EC2=ec2.us-east-1.amazonaws.com
INSTANCE=i-0123456789abcdef0
EP1=$(echo "$LAB_EP_IPS" | cut -d' ' -f1)
EP2=$(echo "$LAB_EP_IPS" | cut -d' ' -f2)
EP3=$(echo "$LAB_EP_IPS" | cut -d' ' -f3)
EPS="$EP1,$EP2,$EP3"
FILTER="tcp port 443 and (host $EP1 or host $EP2 or host $EP3)"
# Access key ids the callers sign with; scripts/scenario_cloudtrail.py maps
# them to identities: the node role (credentials from IMDS) and aws-node's
# IRSA role.
KEY_NODE=ASIA5LABNODEROLE0001
KEY_CNI=ASIA5LABCNIIRSA00002
UA_RUSOTO="rusoto/0.47.0 rust/1.62.0 linux"
UA_GOV2="aws-sdk-go-v2/1.30.0 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.171.0"
UA_GOV1="aws-sdk-go/1.44.302 (go1.20.6; linux; amd64)"
TLS12_CIPHER=ECDHE-RSA-AES128-GCM-SHA256
AGENT=hostnet:kube-system/security-agent-7xk2p
AWSNODE=hostnet:kube-system/aws-node-8fj2k

lab_up || exit 1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/callerid-scenarios.XXXXXX") && [ -d "$WORK" ] || { echo "make-scenarios: mktemp failed" >&2; lab_down; exit 1; }
trap 'lab_down; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
trap 'lab_down; rm -rf "$WORK"; trap - EXIT; exit 130' INT TERM

lab_cert "$WORK" "$EC2" || { echo "make-scenarios: certificate failed" >&2; exit 1; }
# TLS 1.3 suites cannot be set through Python's ssl module: an OpenSSL config
# restricts the server to TLS_AES_128_GCM_SHA256 (RFC 8446 section 4.1.1:
# the server picks from the client's list), the suite of the story.
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
CALLERS=""

# start_at SECONDS: an epoch second at least SECONDS from now.
start_at() { python3 -c "import time, sys; print(int(time.time()) + int(sys.argv[1]))" "$1"; }
# plus T DELTA: T + DELTA (seconds, decimal).
plus() { python3 -c "import sys; print('%.3f' % (float(sys.argv[1]) + float(sys.argv[2])))" "$1" "$2"; }

# server DIR: the endpoint on all three addresses, logging each request once
# its answer was sent (CloudTrail's eventTime is the completion time).
server() {
	lab_spawn srv endpoint env "OPENSSL_CONF=$WORK/tls13-aes128.cnf" \
		python3 "$ROOT/scripts/tls_server.py" --bind "$EP1" --bind "$EP2" --bind "$EP3" \
		--cert "$WORK/cert.pem" --key "$WORK/key.pem" \
		--log "$1/server-log.jsonl" --log-completion || return 1
	lab_wait_listen endpoint 443
}

# start_caller DIR NAME ROLE CLIENT-ARGS...: start scripts/scenario_client.py in
# the role's netns (node = hostNetwork, pod1 = the pod); its call log goes
# to DIR/NAME.calls.
start_caller() {
	sc_cd=$1 sc_cn=$2 sc_cr=$3
	shift 3
	lab_spawn "$sc_cn" "$sc_cr" python3 "$ROOT/scripts/scenario_client.py" \
		--sni "$EC2" --cafile "$WORK/cert.pem" --log "$sc_cd/$sc_cn.calls" "$@" || return 1
	CALLERS="$CALLERS $sc_cn:$LAB_PID"
}

# wait_callers: wait for every started caller; fails when one failed.
wait_callers() {
	sc_wrc=0
	for sc_c in $CALLERS; do
		if ! wait "${sc_c#*:}"; then
			echo "make-scenarios: caller ${sc_c%%:*} failed:" >&2
			sed 's/^/    /' "$(lab_state)/${sc_c%%:*}.log" >&2
			sc_wrc=1
		fi
		lab_stop "${sc_c%%:*}"
	done
	CALLERS=""
	return $sc_wrc
}

# finish NAME DIR SEED: CloudTrail files, truth, kubectl snapshot; then the
# scenario replaces captures/NAME.
finish() {
	sc_fn=$1 sc_fd=$2
	cat "$sc_fd"/*.calls >"$sc_fd/callers.jsonl" && rm -f "$sc_fd"/*.calls || return 1
	python3 "$ROOT/scripts/scenario_cloudtrail.py" --server-log "$sc_fd/server-log.jsonl" \
		--client-log "$sc_fd/callers.jsonl" --out "$sc_fd" --seed "callerid-$sc_fn" --files 2 || return 1
	python3 "$ROOT/scripts/scenario_k8s.py" --scenario "$sc_fn" --at "$(start_at 0)" \
		--node-ip "$LAB_NODE_IP" --pod-ip "$(lab_pod_ip 1)" --out "$sc_fd" || return 1
	sc_sz=$(wc -c <"$sc_fd/capture.pcap")
	if [ "$sc_sz" -ge 153600 ]; then
		echo "make-scenarios: $sc_fn/capture.pcap is $sc_sz bytes (limit 150 KB)" >&2
		return 1
	fi
	rm -rf "${OUT:?}/$sc_fn" && mv "$sc_fd" "$OUT/$sc_fn" || return 1
	echo "make-scenarios: $sc_fn (capture $sc_sz bytes, $(grep -c . "$OUT/$sc_fn/truth.tsv") events)" >&2
}

# calls DIR CALLER: how many calls the caller made (from its log).
calls() { grep -c "\"caller\": \"$2\"" "$1/callers.jsonl"; }

# run_scenario NAME BODY-FUNCTION README-FUNCTION: server + capture around BODY, then finish.
run_scenario() {
	sc_rn=$1
	sc_rd="$WORK/$sc_rn"
	rm -rf "$sc_rd" && mkdir -p "$sc_rd" || return 1
	server "$sc_rd" || return 1
	lab_capture_start cap node "$sc_rd/capture.pcap" -i any -y LINUX_SLL2 "$FILTER" || return 1
	"$2" "$sc_rd"
	sc_rc=$?
	wait_callers || sc_rc=1
	lab_capture_stop cap
	lab_stop srv
	[ "$sc_rc" -eq 0 ] || return "$sc_rc"
	finish "$sc_rn" "$sc_rd" || return 1
	"$3" "$OUT/$sc_rn" >"$OUT/$sc_rn/README.md"
}

# --- demo: the story. The security-agent (hostNetwork, node role from IMDS,
# rusoto, TLS 1.2) calls DescribeTags every 2 s on a new connection each
# time and is refused; the app pod (behind SNAT, aws-sdk-go-v2, TLS 1.3)
# calls DescribeInstances every 3 s on one keep-alive connection.
demo_body() {
	sc_t0=$(start_at 3)
	start_caller "$1" agent node --caller "$AGENT" --connect "$EPS" --tls 1.2 --ciphers "$TLS12_CIPHER" \
		--user-agent "$UA_RUSOTO" --access-key-id "$KEY_NODE" --action DescribeTags \
		--param Filter.1.Name=resource-id --param "Filter.1.Value.1=$INSTANCE" \
		--mode fresh --calls 8 --interval 2 --start-at "$(plus "$sc_t0" 0.2)" || return 1
	start_caller "$1" app pod1 --caller pod:default/app-7c9f8d6b5-x2x9q --connect "$EP2" --tls 1.3 \
		--user-agent "$UA_GOV2" --access-key-id "$KEY_NODE" --action DescribeInstances \
		--param "InstanceId.1=$INSTANCE" \
		--mode keepalive --open-early 0.5 --calls 8 --interval 3 --start-at "$(plus "$sc_t0" 0.7)"
}
demo_readme() {
	cat <<EOF
# demo — who calls ec2:DescribeTags with the node role?

The incident of ORIGIN.md on one lab node (10.203.0.1, i-0123456789abcdef0), made by \`sh scripts/make-scenarios.sh demo\`.
- \`kube-system/security-agent-7xk2p\` (hostNetwork DaemonSet; its service account has IRSA, but it uses the node role's IMDS credentials) made $(calls "$1" "$AGENT") DescribeTags calls, one every 2 s, each on a NEW connection rotating over the three endpoint addresses: rusoto/0.47.0 user agent, TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256. CloudTrail: Client.UnauthorizedOperation.
- \`default/app-7c9f8d6b5-x2x9q\` (pod 10.204.1.2, SNAT to the node address) made $(calls "$1" pod:default/app-7c9f8d6b5-x2x9q) DescribeInstances calls every 3 s on ONE keep-alive connection to 10.203.0.11: aws-sdk-go-v2 user agent, TLS 1.3 TLS_AES_128_GCM_SHA256, node role, allowed.
- Every CloudTrail record has sourceIPAddress 10.203.0.1; capture.pcap (tcpdump -i any in the node netns) shows the pod's packets twice, on its veth (10.204.1.2) and on the uplink (10.203.0.1).
- k8s/: the node and its pods (aws-node, kube-proxy, kubecost-network-costs and security-agent on the host network, coredns, app). truth.tsv: eventID -> real caller, joined from callers.jsonl and server-log.jsonl by the amz-sdk-invocation-id each request carried inside TLS.
- Expected answer: the $(calls "$1" "$AGENT") DescribeTags errors belong to the security-agent; a capture alone says "host network", the snapshot narrows it to the four hostNetwork pods, TLS 1.2 + per-call connections to the agent.
EOF
}

# --- scenario-keepalive: the inventory pod opens ONE keep-alive connection
# 3 s before its first call and makes 10 calls on it, 2 s apart; aws-node
# (hostNetwork, IRSA) calls on fresh connections 1 s after every other of
# them. Same TLS (1.3, TLS_AES_128_GCM_SHA256), same source IP in
# CloudTrail: only the request times separate them.
keepalive_body() {
	sc_t0=$(start_at 5)
	start_caller "$1" inventory pod1 --caller pod:default/inventory-6d5f8b7c9-m4kzp --connect "$EP1" \
		--tls 1.3 --user-agent "$UA_GOV2" --access-key-id "$KEY_NODE" --action DescribeInstances \
		--param "InstanceId.1=$INSTANCE" \
		--mode keepalive --open-early 3 --calls 10 --interval 2 --start-at "$(plus "$sc_t0" 0.3)" || return 1
	start_caller "$1" awsnode node --caller "$AWSNODE" --connect "$EPS" --tls 1.3 \
		--user-agent "$UA_GOV1" --access-key-id "$KEY_CNI" --action DescribeNetworkInterfaces \
		--param Filter.1.Name=attachment.instance-id --param "Filter.1.Value.1=$INSTANCE" \
		--mode fresh --calls 5 --interval 4 --start-at "$(plus "$sc_t0" 1.3)"
}
keepalive_readme() {
	cat <<EOF
# scenario-keepalive — many calls on one old connection, interleaved with fresh ones

Made by \`sh scripts/make-scenarios.sh scenario-keepalive\` on the lab node 10.203.0.1.
- \`default/inventory-6d5f8b7c9-m4kzp\` (pod 10.204.1.2 behind SNAT) opened ONE TLS 1.3 connection to 10.203.0.10 three seconds before its first call, then made $(calls "$1" pod:default/inventory-6d5f8b7c9-m4kzp) DescribeInstances calls on it, 2 s apart (aws-sdk-go-v2, node role).
- \`kube-system/aws-node-8fj2k\` (hostNetwork, IRSA role eks-vpc-cni-role) made $(calls "$1" "$AWSNODE") DescribeNetworkInterfaces calls, each on a NEW TLS 1.3 connection (rotating over the endpoint addresses), 1 s after every other inventory call.
- Both negotiate TLS 1.3 TLS_AES_128_GCM_SHA256 and appear in CloudTrail as 10.203.0.1: only the time of each request burst matches an event to its flow; the inventory connection's handshake is seconds older than any of its events.
- truth.tsv: eventID -> real caller; server-log.jsonl / callers.jsonl: what the endpoint and the callers logged.
EOF
}

# --- scenario-tls: a pod (TLS 1.3) and the hostNetwork security-agent
# (TLS 1.2) make the same call, with the same role, user agent and
# endpoint, at the same instants: only tlsDetails separate their events.
tls_body() {
	sc_t0=$(start_at 3)
	start_caller "$1" report pod1 --caller pod:default/report-5b7d9f6c8-t7wqn --connect "$EPS" --tls 1.3 \
		--user-agent "$UA_RUSOTO" --access-key-id "$KEY_NODE" --action DescribeTags \
		--param Filter.1.Name=resource-id --param "Filter.1.Value.1=$INSTANCE" \
		--mode fresh --calls 6 --interval 2 --start-at "$(plus "$sc_t0" 0.3)" || return 1
	start_caller "$1" agent node --caller "$AGENT" --connect "$EPS" --tls 1.2 --ciphers "$TLS12_CIPHER" \
		--user-agent "$UA_RUSOTO" --access-key-id "$KEY_NODE" --action DescribeTags \
		--param Filter.1.Name=resource-id --param "Filter.1.Value.1=$INSTANCE" \
		--mode fresh --calls 6 --interval 2 --start-at "$(plus "$sc_t0" 0.3)"
}
tls_readme() {
	cat <<EOF
# scenario-tls — same second, same everything but TLS

Made by \`sh scripts/make-scenarios.sh scenario-tls\` on the lab node 10.203.0.1.
- \`default/report-5b7d9f6c8-t7wqn\` (pod 10.204.1.2 behind SNAT) made $(calls "$1" pod:default/report-5b7d9f6c8-t7wqn) DescribeTags calls with TLS 1.3 (TLS_AES_128_GCM_SHA256).
- \`kube-system/security-agent-7xk2p\` (hostNetwork) made $(calls "$1" "$AGENT") DescribeTags calls with TLS 1.2 (ECDHE-RSA-AES128-GCM-SHA256).
- Both started each call at the same instant (every 2 s), on a new connection each, to the same endpoint address, with the same user agent (rusoto/0.47.0), the node role and the same parameters; all events are Client.UnauthorizedOperation from 10.203.0.1, pairwise in the same second.
- Only tlsDetails (tlsVersion, cipherSuite) tells which flow made which event; the capture shows the pod's flows on its veth too.
- truth.tsv: eventID -> real caller; server-log.jsonl / callers.jsonl: what the endpoint and the callers logged.
EOF
}

WANT="$*"
want() {
	[ -z "$WANT" ] && return 0
	case " $WANT " in *" $1 "*) return 0 ;; esac
	return 1
}
run() { # NAME BODY README
	want "$1" || return 0
	if run_scenario "$@"; then
		made="$made $1"
	else
		echo "make-scenarios: $1 failed" >&2
		fail=1
	fi
}

run demo demo_body demo_readme
run scenario-keepalive keepalive_body keepalive_readme
run scenario-tls tls_body tls_readme

echo "make-scenarios: made:${made:- nothing}" >&2
exit $fail
