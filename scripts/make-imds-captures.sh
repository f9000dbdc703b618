#!/bin/sh
# make-imds-captures.sh — regenerate captures/imds-dns/ (as root): IMDS and
# DNS traffic of real clients, captured in the lab's node netns.
#
# Builds a lab (scripts/lab.sh) with its IMDS and DNS stand-ins
# (lab_imds_up: scripts/imds_server.py on 169.254.169.254:80 and dnsmasq on
# 169.254.169.253:53 in an "imds" netns routed from the node), then, while
# `tcpdump -i any -y LINUX_SLL2` runs in the node netns:
#   1. curl (node, host network): IMDSv1 role list + credentials, two URLs
#      on one keep-alive connection
#   2. curl (pod1): IMDSv2 token PUT, then the credentials with the token
#   3. python (node): botocore-like IMDSv2 sequence on one connection
#      (PUT token, GET role list, GET credentials), botocore's User-Agent
#   4. python (pod1): an IMDSv1 credentials GET whose head is split in 3
#      TCP segments
#   5. botocore's own InstanceMetadataFetcher (node), when botocore is
#      installed (facts: botocore=yes|no)
#   6. dig (node, UDP) and dig +tcp (pod1) for ec2.us-east-1.amazonaws.com
#      (CNAME to the VPCE name, A records = the endpoint addresses)
#   7. getent ahostsv4 (pod1, glibc stub resolver)
#   8. a pod connects to the resolved endpoint address over TLS (one
#      s_client handshake), so a flow follows a lookup
# Beside the capture: cloudtrail.jsonl, one CloudTrail record of that TLS
# call as the node role (ec2RoleDelivery 2.0, the pod's curl User-Agent),
# eventTime = the second the call ended on this machine's clock, and
# k8s/{pods,nodes}.json, the demo snapshot with the pod at 10.204.1.2 under
# an IRSA service account: the pod that fetches node-role credentials
# although it has its own (ORIGIN.md), for `correlate`.
# The credentials served are fake and fixed; the .facts list them so the
# golden test can prove they reach neither the database nor the output.
#
# Usage: sh scripts/make-imds-captures.sh      Environment: OUT (default
# captures/imds-dns), LAB_PREFIX, KEEP=1 (keep the scratch directory).
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
OUT=${OUT:-$ROOT/captures/imds-dns}
LAB_LIB=1 . "$ROOT/scripts/lab.sh"

[ "$(id -u)" = 0 ] || { echo "make-imds-captures: must run as root" >&2; exit 1; }
for t in tcpdump curl python3 nft dnsmasq dig getent openssl; do
	command -v "$t" >/dev/null 2>&1 || { echo "make-imds-captures: $t missing (sh scripts/deps.sh)" >&2; exit 1; }
done

V_CURL=$(curl --version | head -1 | cut -d' ' -f1-2)
V_PY="Python $(python3 -c 'import platform; print(platform.python_version())')"
V_DIG=$(dig -v 2>&1 | head -1)
V_DNSMASQ=$(dnsmasq --version | head -1 | cut -d' ' -f1-3)
V_TCPDUMP="$(tcpdump --version 2>&1 | head -1), $(tcpdump --version 2>&1 | sed -n 's/^\(libpcap version [^ ]*\).*/\1/p')"
V_BOTOCORE=$(python3 -c 'import botocore; print(botocore.__version__)' 2>/dev/null || echo no)

lab_up || exit 1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/callerid-imds.XXXXXX") && [ -d "$WORK" ] || { lab_down; exit 1; }
trap 'lab_down; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
trap 'lab_down; rm -rf "$WORK"; trap - EXIT; exit 130' INT TERM
lab_imds_up || exit 1

EP1=$(echo "$LAB_EP_IPS" | cut -d' ' -f1)
IMDS=http://$LAB_IMDS_IP
CREDS=/latest/meta-data/iam/security-credentials/
UA_CURL="curl/7.88.1 callerid-lab"
UA_BOTO="Botocore/1.31.0 ua/2.0 os/linux lang/python#3.11.7 (callerid-lab)"
UA_SPLIT="aws-sdk-go/1.44.0 (go1.20; linux; amd64) callerid-lab"
rc=0
step() { # what; runs the rest, records a failure
	_what=$1
	shift
	if ! "$@" >>"$WORK/clients.log" 2>&1; then
		echo "make-imds-captures: step failed: $_what" >&2
		rc=1
	fi
	sleep 0.3
}

lab_cert "$WORK" "$LAB_DNS_NAME" || exit 1
lab_spawn srv endpoint openssl s_server -quiet -www -accept "$EP1:443" \
	-cert "$WORK/cert.pem" -key "$WORK/key.pem" || exit 1
lab_wait_listen endpoint 443 || exit 1

lab_capture_start cap node "$WORK/capture.pcap" -i any -y LINUX_SLL2 \
	"host $LAB_IMDS_IP or host $LAB_DNS_IP or (tcp port 443 and host $EP1)" || exit 1

step "curl IMDSv1" lab_exec node curl -sS --fail -A "$UA_CURL" "$IMDS$CREDS" "$IMDS$CREDS$LAB_IMDS_ROLE"
step "curl IMDSv2" lab_exec pod1 sh -c 'tok=$(curl -sS --fail -X PUT -A "$1" -H "X-aws-ec2-metadata-token-ttl-seconds: 300" "$2/latest/api/token") &&
	curl -sS --fail -A "$1" -H "X-aws-ec2-metadata-token: $tok" "$2$3$4"' sh "$UA_CURL" "$IMDS" "$CREDS" "$LAB_IMDS_ROLE"
step "python botocore-like" lab_exec node python3 "$ROOT/scripts/imds_server.py" client botocore-like --ua "$UA_BOTO"
step "python split" lab_exec pod1 python3 "$ROOT/scripts/imds_server.py" client split --ua "$UA_SPLIT"
if [ "$V_BOTOCORE" != no ]; then
	step "botocore" lab_exec node env -u AWS_EC2_METADATA_DISABLED python3 "$ROOT/scripts/imds_server.py" client botocore
fi
step "dig udp" lab_exec node dig +nocookie +tries=1 @"$LAB_DNS_IP" "$LAB_DNS_NAME" A
step "dig tcp" lab_exec pod1 dig +nocookie +tcp +tries=1 @"$LAB_DNS_IP" "$LAB_DNS_NAME" A
step "getent" lab_resolve pod1 getent ahostsv4 "$LAB_DNS_NAME"
step "tls to endpoint" sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | ip netns exec "$1" openssl s_client -quiet -connect "$2:443" -servername "$3" 2>&1 | head -1' \
	sh "$(lab_ns pod1)" "$EP1" "$LAB_DNS_NAME"
T_TLS=$(date +%s)

lab_capture_stop cap
lab_stop srv
cp "$(lab_state)/imds-requests.jsonl" "$WORK/imds-requests.jsonl" 2>/dev/null
[ "$rc" = 0 ] || { cat "$WORK/clients.log" >&2; exit 1; }

sz=$(wc -c <"$WORK/capture.pcap")
[ "$sz" -lt 102400 ] || { echo "make-imds-captures: capture is $sz bytes (limit 100 KB)" >&2; exit 1; }
mkdir -p "$OUT" || exit 1
cp "$WORK/capture.pcap" "$OUT/capture.pcap" || exit 1
python3 - "$WORK/imds-requests.jsonl" >"$OUT/imds-requests.jsonl" <<'EOF'
import json, sys
# the server's log without times or ports (they change on every run)
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(json.dumps({k: r[k] for k in ("peer", "method", "path", "imdsv", "status", "user_agent")}, sort_keys=True))
EOF
FAKE=$(python3 -c 'import sys; sys.path.insert(0, "scripts"); import imds_server as m; c = m.FAKE_CREDS; print(c["AccessKeyId"], c["SecretAccessKey"], c["Token"])')
{
	echo "# What scripts/make-imds-captures.sh configured (not parser output)."
	echo "file=capture.pcap"
	echo "dlt=LINUX_SLL2"
	echo "capture_iface=any"
	echo "capture_netns=node"
	echo "imds_ip=$LAB_IMDS_IP"
	echo "imds_port=80"
	echo "dns_ip=$LAB_DNS_IP"
	echo "node_ip=$LAB_NODE_IP"
	echo "pod_ip=$(lab_pod_ip 1)"
	echo "role=$LAB_IMDS_ROLE"
	echo "ua_curl=$UA_CURL"
	echo "ua_botocore_like=$UA_BOTO"
	echo "ua_split=$UA_SPLIT"
	echo "botocore=$V_BOTOCORE"
	echo "dns_name=$LAB_DNS_NAME"
	echo "dns_cname=$LAB_DNS_VPCE"
	echo "dns_a=$LAB_EP_IPS"
	echo "fake_access_key_id=$(echo "$FAKE" | cut -d' ' -f1)"
	echo "fake_secret_access_key=$(echo "$FAKE" | cut -d' ' -f2)"
	echo "fake_token=$(echo "$FAKE" | cut -d' ' -f3)"
	echo "client_tools=$V_CURL; $V_PY (scripts/imds_server.py); $V_DIG; glibc getent; OpenSSL s_client"
	echo "server_tools=$V_PY http.server (scripts/imds_server.py); $V_DNSMASQ; OpenSSL s_server"
	echo "capture_tool=$V_TCPDUMP"
	echo "kernel=Linux $(uname -r)"
} >"$OUT/capture.facts"
mkdir -p "$OUT/k8s" || exit 1
python3 - "$T_TLS" "$OUT" "$ROOT/captures/demo/k8s" "$LAB_IMDS_ROLE" "$UA_CURL" "$LAB_NODE_IP" "$LAB_DNS_NAME" <<'EOF'
import json, sys, time
t, out, k8s, role, ua, node_ip, host = sys.argv[1:]
et = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))
rec = {"eventVersion": "1.09",
       "userIdentity": {"type": "AssumedRole", "principalId": "AROA5LABIMDSNODEROLE:i-0123456789abcdef0",
                        "arn": "arn:aws:sts::111122223333:assumed-role/%s/i-0123456789abcdef0" % role,
                        "accountId": "111122223333", "accessKeyId": "ASIA5LABIMDSNODE0001",
                        "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROA5LABIMDSNODEROLE",
                                                             "arn": "arn:aws:iam::111122223333:role/" + role,
                                                             "accountId": "111122223333", "userName": role},
                                           "ec2RoleDelivery": "2.0"}},
       "eventTime": et, "eventSource": "ec2.amazonaws.com", "eventName": "DescribeTags",
       "awsRegion": "us-east-1", "sourceIPAddress": node_ip, "userAgent": ua,
       "requestParameters": None, "responseElements": None,
       "requestID": "7f6c1f4e-0d7a-4f43-9b38-2f1f4c1d0a01", "eventID": "5b1d7c2e-8f4a-4c1b-a6d2-3e9f0b7a1c42",
       "readOnly": True, "eventType": "AwsApiCall", "managementEvent": True,
       "recipientAccountId": "111122223333", "vpcEndpointId": "vpce-0a1b2c3d4e5f60718",
       "eventCategory": "Management",
       "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_256_GCM_SHA384",
                      "clientProvidedHostHeader": host}}
with open(out + "/cloudtrail.jsonl", "w") as f:
    f.write(json.dumps(rec) + "\n")
pods = json.load(open(k8s + "/pods.json"))
for p in pods["items"]:
    if p["status"].get("podIP") == "10.204.1.2":
        p["spec"]["serviceAccountName"] = "app-irsa"
        for c in p["spec"]["containers"]:
            c.setdefault("env", []).append({"name": "AWS_ROLE_ARN",
                                            "value": "arn:aws:iam::111122223333:role/app-irsa-role"})
with open(out + "/k8s/pods.json", "w") as f:
    json.dump(pods, f, indent=1)
    f.write("\n")
with open(out + "/k8s/nodes.json", "w") as f:
    f.write(open(k8s + "/nodes.json").read())
EOF
echo "make-imds-captures: $OUT/capture.pcap ($sz bytes)" >&2
