#!/bin/sh
# facts.t — the correlation scenarios in captures/ (demo, scenario-keepalive,
# scenario-tls; made by scripts/make-scenarios.sh) are complete and agree
# with themselves: the files exist, the CloudTrail files are gzipped S3
# deliveries with Records, every record's eventID has a true caller in
# truth.tsv, the records are what the endpoint logged (server-log.jsonl),
# tshark sees one ClientHello per connection the endpoint accepted, the
# kubectl snapshot holds the callers, and each scenario has its defining
# property. TAP on stdout; run from the repo root. Needs python3 (JSON),
# tshark + capinfos (capture checks; skipped without them).
set -u
DIR=${CAPTURES:-captures}
SCENARIOS="demo scenario-keepalive scenario-tls"
NODE_IP=10.203.0.1
EP_IPS="10.203.0.10 10.203.0.11 10.203.0.12"
n=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # DESCRIPTION EXPECTED GOT
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   expected: '$2'"
		echo "#   got:      '$3'"
	fi
}

if ! command -v python3 >/dev/null 2>&1; then
	echo "ok 1 - scenarios # SKIP python3 missing"
	echo "1..1"
	exit 0
fi
have_tshark=1
command -v tshark >/dev/null 2>&1 && command -v capinfos >/dev/null 2>&1 || have_tshark=0

# json_checks SCENARIO-DIR NAME: the JSON-level checks, printed as
# "PASS text" / "FAIL text" / "# diagnostic" lines.
json_checks() {
	python3 - "$1" "$2" "$NODE_IP" <<'EOF'
import collections, glob, gzip, json, os, re, sys

d, name, node_ip = sys.argv[1], sys.argv[2], sys.argv[3]
out = []

def res(cond, text, diag=None):
    out.append(("PASS " if cond else "FAIL ") + text)
    if not cond and diag:
        out.append("# " + str(diag)[:300])

def done():
    print("\n".join(out))
    sys.exit(0)

gz = sorted(glob.glob(os.path.join(d, "cloudtrail/AWSLogs/111122223333/CloudTrail/us-east-1/*/*/*/*.json.gz")))
res(len(gz) >= 2, "CloudTrail S3 delivery files (>= 2) under AWSLogs/111122223333/CloudTrail/us-east-1/YYYY/MM/DD", len(gz))
names_ok = all(re.fullmatch(r"111122223333_CloudTrail_us-east-1_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz",
                            os.path.basename(p)) for p in gz)
res(names_ok, "delivery file names follow AccountID_CloudTrail_Region_YYYYMMDDTHHMMZ_Unique.json.gz")
records, bad = [], []
for p in gz:
    try:
        with gzip.open(p, "rt", encoding="utf-8") as f:
            doc = json.load(f)
        recs = doc["Records"]
        assert isinstance(recs, list) and recs
        records.extend(recs)
    except Exception as e:  # any failure is a finding
        bad.append("%s: %r" % (os.path.basename(p), e))
res(not bad, "every .json.gz is gzip + JSON with a non-empty Records array", bad)

truth = {}
with open(os.path.join(d, "truth.tsv"), encoding="utf-8") as f:
    for line in f:
        if line.strip():
            eid, _, who = line.rstrip("\n").partition("\t")
            truth[eid] = who
ids = [r.get("eventID") for r in records]
res(len(ids) == len(set(ids)), "eventIDs are unique")
missing = [i for i in ids if i not in truth]
res(not missing, "every record's eventID is in truth.tsv", missing)
res(set(truth) == set(ids), "truth.tsv names no event that is not in the files",
    sorted(set(truth) - set(ids)))
res(all(re.fullmatch(r"(pod|hostnet):[a-z0-9-]+/[a-z0-9-]+", w) for w in truth.values()),
    "truth callers are pod:NS/NAME or hostnet:NS/NAME", sorted(set(truth.values())))

need = ("eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
        "sourceIPAddress", "userAgent", "requestParameters", "requestID", "eventID", "readOnly",
        "eventType", "managementEvent", "recipientAccountId", "eventCategory", "vpcEndpointId",
        "tlsDetails")
res(all(all(k in r for k in need) for r in records), "records carry the CloudTrail fields")
res(all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["eventTime"]) for r in records),
    "eventTime is whole seconds, UTC 'Z'")
res(all(r["sourceIPAddress"] == node_ip for r in records),
    "sourceIPAddress is the node address for every record (pods are SNATed)")
res(all(r["eventVersion"] >= "1.09" and r["userIdentity"].get("type") == "AssumedRole" and
        r["tlsDetails"].get("clientProvidedHostHeader") == "ec2.us-east-1.amazonaws.com"
        for r in records), "eventVersion >= 1.09, AssumedRole identities, Host header of the endpoint")
times = [r["eventTime"] for r in records]
res(times != sorted(times), "records are delivered unordered")

log = [json.loads(l) for l in open(os.path.join(d, "server-log.jsonl"), encoding="utf-8") if l.strip()]
reqs = [x for x in log if "conn" in x]
res(len(reqs) == len(records) and len(log) == len(reqs),
    "the endpoint logged one request per record and no errors", (len(reqs), len(log), len(records)))
def key_log(x):
    import datetime
    t = datetime.datetime.fromtimestamp(x["time"], datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (t, x["peer"], x["action"], x["user_agent"], x["tls_version"], x["cipher"], x["host"])
def key_rec(r):
    t = r["tlsDetails"]
    return (r["eventTime"], r["sourceIPAddress"], r["eventName"], r["userAgent"], t["tlsVersion"],
            t["cipherSuite"], t["clientProvidedHostHeader"])
res(collections.Counter(map(key_log, reqs)) == collections.Counter(map(key_rec, records)),
    "records = server log (time truncated, peer, action, user agent, TLS version/cipher, Host)")
print("CONNS %d" % len({x["conn"] for x in reqs}))

pods = json.load(open(os.path.join(d, "k8s/pods.json"), encoding="utf-8"))
nodes = json.load(open(os.path.join(d, "k8s/nodes.json"), encoding="utf-8"))
res(pods.get("kind") == "List" and all(p.get("kind") == "Pod" for p in pods["items"]),
    "k8s/pods.json is a kubectl List of Pods")
res(nodes.get("kind") == "List" and len(nodes["items"]) == 1 and
    {"type": "InternalIP", "address": node_ip} in nodes["items"][0]["status"]["addresses"] and
    nodes["items"][0]["spec"]["providerID"] == "aws:///us-east-1a/i-0123456789abcdef0",
    "k8s/nodes.json: one node, InternalIP = node address, providerID of the instance")
bypod = {"%s/%s" % (p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods["items"]}
bad = []
for who in set(truth.values()):
    kind, _, nn = who.partition(":")
    p = bypod.get(nn)
    hn = bool(p and p["spec"].get("hostNetwork"))
    if p is None or hn != (kind == "hostnet") or \
            (p["status"]["podIP"] == node_ip) != hn or p["status"]["hostIP"] != node_ip:
        bad.append(who)
res(not bad, "every true caller is a pod of the snapshot, hostNetwork exactly for hostnet: callers", bad)
hostnet = sorted(k for k, p in bypod.items() if p["spec"].get("hostNetwork"))
res(len(hostnet) >= 3, "the snapshot has several hostNetwork candidates", hostnet)

calls = [json.loads(l) for l in open(os.path.join(d, "callers.jsonl"), encoding="utf-8") if l.strip()]
by_inv = {c["invocation_id"]: c for c in calls}
res(len(calls) == len(reqs) and all(x["invocation_id"] in by_inv for x in reqs),
    "every logged request matches one call of callers.jsonl")
byid = {r["eventID"]: r for r in records}
per = collections.defaultdict(list)
for eid, who in truth.items():
    per[who].append(byid.get(eid))

if name == "demo":
    agent = per.get("hostnet:kube-system/security-agent-7xk2p", [])
    app = per.get("pod:default/app-7c9f8d6b5-x2x9q", [])
    res(len(agent) >= 6 and len(app) >= 6, "the agent and the app both called several times",
        (len(agent), len(app)))
    res(all(r["eventName"] == "DescribeTags" and r.get("errorCode") == "Client.UnauthorizedOperation"
            and r["userAgent"] == "rusoto/0.47.0 rust/1.62.0 linux"
            and r["tlsDetails"]["tlsVersion"] == "TLSv1.2"
            and r["tlsDetails"]["cipherSuite"] == "ECDHE-RSA-AES128-GCM-SHA256"
            and r["userIdentity"]["arn"] ==
            "arn:aws:sts::111122223333:assumed-role/eks-worker-role/i-0123456789abcdef0"
            for r in agent), "the agent's events are the story's refused DescribeTags (TLS 1.2, rusoto)")
    res(all("errorCode" not in r and r["eventName"] == "DescribeInstances"
            and r["tlsDetails"]["tlsVersion"] == "TLSv1.3"
            and r["tlsDetails"]["cipherSuite"] == "TLS_AES_128_GCM_SHA256"
            and r["userAgent"].startswith("aws-sdk-go-v2/1.30.0") for r in app),
        "the app's events are allowed DescribeInstances (TLS 1.3, aws-sdk-go-v2)")
    ac = [c for c in calls if c["caller"].endswith("security-agent-7xk2p")]
    pc = [c for c in calls if c["caller"].endswith("app-7c9f8d6b5-x2x9q")]
    res(len({c["local"] for c in ac}) == len(ac) and len({c["local"] for c in pc}) == 1,
        "the agent used a new connection per call, the app one keep-alive connection")
    sg = bypod.get("kube-system/security-agent-7xk2p", {"spec": {"containers": []}})
    envs = {e["name"] for c in sg["spec"]["containers"] for e in c.get("env", [])}
    res({"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} <= envs and
        sg["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet",
        "security-agent is a DaemonSet pod whose service account uses IRSA")
elif name == "scenario-keepalive":
    ka = [c for c in calls if c["mode"] == "keepalive"]
    fr = [c for c in calls if c["mode"] == "fresh"]
    res(len(ka) >= 8 and len({c["local"] for c in ka}) == 1 and len({c["caller"] for c in ka}) == 1,
        "one caller made its calls over ONE connection", len(ka))
    res(len(fr) >= 3 and len({c["local"] for c in fr}) == len(fr) and
        len({c["caller"] for c in fr}) == 1, "the other caller used a fresh connection per call")
    kat = sorted(c["start"] for c in ka)
    res(any(kat[0] < c["start"] < kat[-1] for c in fr), "the two callers' calls interleave")
    res(len({(r["tlsDetails"]["tlsVersion"], r["tlsDetails"]["cipherSuite"]) for r in records}) == 1,
        "both callers negotiated the same TLS version and cipher")
elif name == "scenario-tls":
    bysec = collections.defaultdict(set)
    for r in records:
        bysec[r["eventTime"]].add((r["tlsDetails"]["tlsVersion"], truth[r["eventID"]]))
    res(len(bysec) >= 4 and all(len(v) == 2 and len({t for t, _ in v}) == 2 for v in bysec.values()),
        "each second holds one TLS 1.2 and one TLS 1.3 event from different callers",
        dict((k, sorted(v)) for k, v in bysec.items()))
    strip = lambda r: json.dumps({k: v for k, v in r.items()
                                  if k not in ("eventID", "requestID", "eventTime", "tlsDetails")},
                                 sort_keys=True)
    res(len({strip(r) for r in records}) == 1, "apart from ids, time and tlsDetails the records are identical")
    vers = {who: {r["tlsDetails"]["tlsVersion"] for r in rs} for who, rs in per.items()}
    res(sorted(map(tuple, map(sorted, vers.values()))) == [("TLSv1.2",), ("TLSv1.3",)],
        "each caller used one TLS version, the two differ", vers)
done()
EOF
}

for s in $SCENARIOS; do
	d="$DIR/$s"
	if [ ! -d "$d" ]; then
		not_ok "$s: directory $d exists (sh scripts/make-scenarios.sh)"
		continue
	fi
	missing=""
	for f in capture.pcap truth.tsv README.md server-log.jsonl callers.jsonl k8s/pods.json k8s/nodes.json; do
		[ -s "$d/$f" ] || missing="$missing $f"
	done
	check "$s: files exist" "" "$missing"
	[ -z "$missing" ] || continue
	sz=$(wc -c <"$d/capture.pcap")
	if [ "$sz" -lt 153600 ]; then ok "$s: capture.pcap < 150 KB ($sz bytes)"; else not_ok "$s: capture.pcap < 150 KB ($sz bytes)"; fi

	conns=""
	json_checks "$d" "$s" >"${TMPROOT:-/tmp}/facts.$$" 2>&1
	while IFS= read -r line; do
		case $line in
		"PASS "*) ok "$s: ${line#PASS }" ;;
		"FAIL "*) not_ok "$s: ${line#FAIL }" ;;
		"CONNS "*) conns=${line#CONNS } ;;
		*) echo "# $line" ;;
		esac
	done <"${TMPROOT:-/tmp}/facts.$$"
	rm -f "${TMPROOT:-/tmp}/facts.$$"
	[ -n "$conns" ] || not_ok "$s: the JSON checks ran to the end"

	if [ "$have_tshark" = 0 ]; then
		skip "$s: tshark checks" "tshark/capinfos missing"
		continue
	fi
	enc=$(capinfos -E "$d/capture.pcap" 2>/dev/null | sed -n 's/^File encapsulation: *//p')
	check "$s: capture is -i any as LINUX_SLL2" "Linux cooked-mode capture v2" "$enc"
	ep_filter=$(for a in $EP_IPS; do printf 'ip.dst==%s || ' "$a"; done | sed 's/ || $//')
	# One ClientHello per connection: a pod's appears twice (veth, uplink)
	# with the same random; a HelloRetryRequest would repeat it too.
	hellos=$(tshark -n -r "$d/capture.pcap" -Y "tls.handshake.type==1 && ($ep_filter)" \
		-T fields -e tls.handshake.random 2>/dev/null | sort -u | grep -c .)
	check "$s: distinct ClientHellos to the endpoint = connections in the server log" "$conns" "$hellos"
	snat=$(tshark -n -r "$d/capture.pcap" -Y "tls.handshake.type==1 && ip.src==$NODE_IP" \
		-T fields -e tls.handshake.random 2>/dev/null | sort -u | grep -c .)
	check "$s: every connection left the node from the node address" "$conns" "$snat"
	podhellos=$(tshark -n -r "$d/capture.pcap" -Y "tls.handshake.type==1 && ip.src==10.204.0.0/16" \
		-T fields -e tls.handshake.random 2>/dev/null | sort -u | grep -c .)
	if [ "$podhellos" -ge 1 ]; then ok "$s: pod connections also seen on the pod's veth ($podhellos)"; else not_ok "$s: pod connections also seen on the pod's veth"; fi
done

echo "1..$n"
