#!/bin/sh
# imds_hostnet.t - issue 7's correlate scenario, live, as root: two
# hostNetwork processes on the node call the same endpoint in the same
# seconds, from the same address, over alike TLS; only the IMDS evidence
# tells which one made the node-role calls CloudTrail shows.
#
#   A  python3 in the security-agent pod's cgroup (hostNetwork, its service
#      account has IRSA): fetches the node role's credentials from the IMDS
#      stand-in (IMDSv2: token PUT, role list, credentials; User-Agent UA),
#      then makes DescribeTags calls on one keep-alive TLS connection at
#      S + 0.2 s, S + 2.2 s, ... (the calls CloudTrail records with the node
#      role: assumed-role/eks-worker-role/i-..., ec2RoleDelivery 2.0, UA);
#   B  python3 in the aws-node pod's cgroup (hostNetwork, IRSA), same client,
#      same User-Agent, same endpoint, calls at S + 0.4 s, S + 2.4 s, ...,
#      never touches IMDS (its calls carry its IRSA role in CloudTrail);
#   C  a plain node process that fetches the node role's credentials (no pod,
#      no IRSA: not flagged) and calls nothing.
# `callerid capture` runs in the node netns (live attribution, IMDS on, -w),
# the CloudTrail records come from what the endpoint answered
# (scripts/scenario_cloudtrail.py: AWSLogs tree, gzip), the kubectl snapshot
# from scripts/scenario_k8s.py. Then ingest, k8s, correlate must name A for
# every node-role call with the IMDS reasons, B never; the same database
# without its http rows must leave those calls ambiguous between A and B
# (the IMDS evidence is what decides); correlating all events, B's IRSA
# calls must all be B's (by elimination where A's burst shares their
# second); events --summary must flag A and only
# A; the fake credentials the stand-in served cross the capture point (they
# are in the -w file) yet appear in no database file and no output.
# TAP on stdout; needs root (skips otherwise). Run from the repo root.
set -u
. tests/e2e/lib.sh
t() { # DESCRIPTION CMD...
	_d=$1
	shift
	if "$@" >"$W/t.out" 2>&1; then ok "$_d"; else not_ok "$_d"; sed 's/^/#   /' "$W/t.out" | tail -12; fi
}

e2e_require imds_hostnet ip nft openssl python3 sqlite3 ss dnsmasq
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	CG2=/sys/fs/cgroup
elif [ -f /sys/fs/cgroup/unified/cgroup.procs ]; then
	CG2=/sys/fs/cgroup/unified
else
	skip_all "no cgroup v2 hierarchy"
fi

W=$(mktemp -d "${TMPROOT:-/tmp}/imds_hostnet.XXXXXX")
chmod 755 "$W"
# The story's node role, as scripts/scenario_cloudtrail.py names it.
LAB_IMDS_ROLE=eks-worker-role
LAB_LIB=1 . ./scripts/lab.sh
LAB_PREFIX=cimh$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
CGDIRS=""
cleanup() {
	lab_down
	for _d in $CGDIRS; do rmdir "$_d" 2>/dev/null; done
	rm -rf "$W"
}
if ! lab_up "$LAB_PREFIX" 2>"$W/lab.err" || ! lab_imds_up 2>>"$W/lab.err"; then
	sed 's/^/# /' "$W/lab.err"
	lab_down
	rm -rf "$W"
	skip_all "lab_up/lab_imds_up failed"
fi
trap 'cleanup' EXIT
trap 'cleanup; trap - EXIT; exit 1' INT TERM

SNI=ec2.us-east-1.amazonaws.com
EP=10.203.0.10
UA="rusoto/0.47.0 rust/1.62.0 linux"
UA_C="Botocore/1.31.0 (callerid-lab plain node process)"
CALLS=4

# ---- the kubectl snapshot and the pods' cgroups --------------------------------
python3 scripts/scenario_k8s.py --scenario demo --at "$(date +%s)" --node-ip "$LAB_NODE_IP" \
	--pod-ip "$(lab_pod_ip 1)" --out "$W" || { not_ok "kubectl snapshot"; echo "1..$n"; exit 1; }
pod_field() { # DAEMONSET name|uid|container
	python3 - "$W/k8s/pods.json" "$1" "$2" <<'EOF'
import json, sys
for p in json.load(open(sys.argv[1]))["items"]:
    if p["metadata"]["name"].startswith(sys.argv[2] + "-"):
        print({"name": p["metadata"]["name"], "uid": p["metadata"]["uid"],
               "container": p["status"]["containerStatuses"][0]["containerID"].split("://")[1]}[sys.argv[3]])
        break
EOF
}
POD_A=$(pod_field security-agent name)
UID_A=$(pod_field security-agent uid)
CID_A=$(pod_field security-agent container)
POD_B=$(pod_field aws-node name)
UID_B=$(pod_field aws-node uid)
CID_B=$(pod_field aws-node container)
if [ -z "$UID_A" ] || [ -z "$CID_A" ] || [ -z "$UID_B" ] || [ -z "$CID_B" ]; then
	not_ok "pods in the snapshot"
	echo "1..$n"
	exit 1
fi
TAG="callerid-lab-$LAB_PREFIX"
u_() { printf '%s' "$1" | tr - _; }
CGA=$CG2/$TAG/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$(u_ "$UID_A").slice/cri-containerd-$CID_A.scope
CGB=$CG2/$TAG/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$(u_ "$UID_B").slice/cri-containerd-$CID_B.scope
for _p in "$CGA" "$CGB"; do
	mkdir -p "$_p" || skip_all "cannot create cgroups"
	_d=$_p
	while [ "$_d" != "$CG2" ]; do
		CGDIRS="$CGDIRS $_d"
		_d=${_d%/*}
	done
done
CGDIRS=$(for _d in $CGDIRS; do echo "$_d"; done | sort -ru)

# in_cg LABEL CGROUP CMD...: CMD in the node netns inside CGROUP (empty: the
# test's own), its pid (kept by the execs) in $W/pid.LABEL.
in_cg() {
	_l=$1 _cg=$2
	shift 2
	sh -c 'echo $$ >"$1"; [ -z "$2" ] || echo $$ >"$2/cgroup.procs" || exit 9; shift 2; exec ip netns exec "$@"' \
		sh "$W/pid.$_l" "$_cg" "$(lab_ns node)" "$@"
}

# ---- the endpoint and the capture --------------------------------------------------
lab_cert "$W" "$SNI"
lab_spawn srv endpoint python3 scripts/tls_server.py --bind "$EP" --cert "$W/cert.pem" --key "$W/key.pem" \
	--log "$W/server.jsonl" --log-completion
lab_wait_listen endpoint 443 2>/dev/null || { not_ok "TLS server"; echo "1..$n"; exit 1; }

DB=$W/cap.db
lab_spawn cap node "$CALLERID" capture -e "$EP" -i any --db "$DB" -w "$W/cap.pcap"
CAP_PID=$LAB_PID
_i=50
while [ $_i -gt 0 ] && ! grep -q 'listening on' "$(lab_state)/cap.log" 2>/dev/null; do
	kill -0 "$CAP_PID" 2>/dev/null || break
	sleep 0.1
	_i=$((_i - 1))
done
if grep -q 'listening on' "$(lab_state)/cap.log" 2>/dev/null; then
	ok "capture with live attribution and IMDS listening"
else
	not_ok "capture listening"
	sed 's/^/#   /' "$(lab_state)/cap.log"
	echo "1..$n"
	exit 1
fi

# ---- the callers -------------------------------------------------------------------
S=$(($(date +%s) + 4))
call_as() { # LABEL CGROUP START AKID [extra args]
	_l=$1 _cg=$2 _st=$3 _ak=$4
	shift 4
	in_cg "$_l" "$_cg" python3 scripts/scenario_client.py --caller "$_l" --connect "$EP" --sni "$SNI" \
		--cafile "$W/cert.pem" --action DescribeTags --param Filter.1.Name=resource-id \
		--param Filter.1.Value.1=i-0123456789abcdef0 --user-agent "$UA" --access-key-id "$_ak" \
		--mode keepalive --open-early 1.5 --calls "$CALLS" --interval 2 --start-at "$_st" \
		--log "$W/calls.$_l.jsonl" "$@" >"$W/out.$_l" 2>&1
}
call_as A "$CGA" "$S.2" ASIA5LABNODEROLE0001 --imds "http://$LAB_IMDS_IP" &
JA=$!
call_as B "$CGB" "$S.4" ASIA5LABCNIIRSA00002 &
JB=$!
in_cg C "" python3 scripts/imds_server.py client botocore-like --ua "$UA_C" >"$W/out.C" 2>&1
RC_C=$?
wait "$JA"
RC_A=$?
wait "$JB"
RC_B=$?
sleep 1
kill -INT "$CAP_PID" 2>/dev/null
wait "$CAP_PID" 2>/dev/null
CAP_RC=$?
cp "$(lab_state)/cap.log" "$W/cap.log"
lab_stop srv
cp "$(lab_state)/imds-requests.jsonl" "$W/imds.jsonl" 2>/dev/null
PID_A=$(cat "$W/pid.A")
PID_B=$(cat "$W/pid.B")
PID_C=$(cat "$W/pid.C")
echo "# A pid $PID_A ($POD_A), B pid $PID_B ($POD_B), C pid $PID_C (plain node process)"
t "A fetched IMDS credentials and made its $CALLS calls" test "$RC_A" = 0
t "B made its $CALLS calls" test "$RC_B" = 0
t "C fetched IMDS credentials" test "$RC_C" = 0
t "capture: SIGINT, exit 0" test "$CAP_RC" = 0
grep -E '^attribution:|^  (not attributed|lookups)' "$W/cap.log" | sed 's/^/# /'

# The endpoint's log: A and B in the same second for each call, from one address.
python3 - "$W/server.jsonl" "$W/calls.A.jsonl" "$W/calls.B.jsonl" >"$W/pairs" <<'EOF'
import json, sys
srv = [json.loads(l) for l in open(sys.argv[1]) if '"conn"' in l]
who = {}
for label, path in (("A", sys.argv[2]), ("B", sys.argv[3])):
    for l in open(path):
        c = json.loads(l)
        who[c["invocation_id"]] = (label, c["call"])
done = {}
for r in srv:
    label, k = who[r["invocation_id"]]
    done[(label, k)] = r
same = [k for k in range(len(done)) if ("A", k) in done and ("B", k) in done
        and int(done[("A", k)]["time"]) == int(done[("B", k)]["time"])]
peers = sorted({r["peer"] for r in srv})
print("peers", " ".join(peers))
print("same_second", len(same))
EOF
SAME=$(sed -n 's/^same_second //p' "$W/pairs")
echo "# calls of A and B answered in the same second: ${SAME:-?} of $CALLS"
t "the endpoint saw A and B from one address (the node's)" test "$(sed -n 's/^peers //p' "$W/pairs")" = "$LAB_NODE_IP"
t "A's and B's calls ended in the same seconds (at least $((CALLS - 1)) of $CALLS)" test "${SAME:-0}" -ge $((CALLS - 1))

# ---- what capture stored -----------------------------------------------------------
q() { sqlite3 -separator ' ' "$DB" "$1"; }
t "A's TLS flow and its IMDS flow are owned by A (sock_diag, pod UID from the cgroup)" test "$(q "SELECT
	count(DISTINCT f.server_port) FROM flow f JOIN owner o ON o.flow_id = f.id WHERE o.pid = $PID_A
	AND o.pod_uid = '$UID_A' AND f.client_ip = '$LAB_NODE_IP' AND f.server_port IN (80, 443)")" = 2
t "B's TLS flow is owned by B, from the same address" test "$(q "SELECT count(*) FROM flow f JOIN owner o
	ON o.flow_id = f.id WHERE o.pid = $PID_B AND o.pod_uid = '$UID_B' AND f.client_ip = '$LAB_NODE_IP'
	AND f.server_port = 443")" = 1
t "http rows: A's IMDSv2 token PUT, role list and credential fetch of $LAB_IMDS_ROLE with its User-Agent" \
	test "$(q "SELECT group_concat(x, ', ') FROM (SELECT h.method || ' ' || h.imds_kind || ' v' || h.imdsv || ' '
	|| ifnull(h.role_name, '-') || ' ' || h.status AS x FROM http h JOIN owner o ON o.flow_id = h.flow_id
	WHERE o.pid = $PID_A AND h.user_agent = '$UA' ORDER BY h.ts_us)")" = \
	"PUT token v2 - 200, GET role-list v2 - 200, GET credentials v2 $LAB_IMDS_ROLE 200"
t "the IMDS stand-in logged what the http rows say (3 requests from A, 3 from C)" test "$(python3 -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
print(sum(r["user_agent"] == sys.argv[2] for r in rs), sum(r["user_agent"] == sys.argv[3] for r in rs))' \
	"$W/imds.jsonl" "$UA" "$UA_C")" = "3 3"

# ---- CloudTrail, kubectl, correlate ------------------------------------------------
python3 scripts/scenario_cloudtrail.py --server-log "$W/server.jsonl" --client-log "$W/calls.A.jsonl" \
	--client-log "$W/calls.B.jsonl" --out "$W" --seed "imds-hostnet" --files 2 >"$W/ct.out" 2>&1
t "CloudTrail files in the AWSLogs layout, gzipped" test "$(find "$W/cloudtrail/AWSLogs" -name '*.json.gz' | wc -l)" -ge 1
OUT=$W/outputs
: >"$OUT"
run() { # the command's stdout and stderr also go to $OUT (grepped for credentials)
	"$@" 2>&1 | tee -a "$OUT"
}
run "$CALLERID" ingest --db "$DB" "$W/cloudtrail" >/dev/null
run "$CALLERID" k8s --db "$DB" "$W/k8s/pods.json" "$W/k8s/nodes.json" >/dev/null
t "node-role events: $CALLS (A's calls), B's under its IRSA role: $CALLS" test "$(q "SELECT
	sum(arn LIKE '%assumed-role/$LAB_IMDS_ROLE/i-%' AND ec2_role_delivery = '2.0' AND user_agent = '$UA'),
	sum(arn LIKE '%assumed-role/eks-vpc-cni-role/%' AND ec2_role_delivery IS NULL) FROM event")" = "$CALLS $CALLS"

run "$CALLERID" correlate --db "$DB" --arn-like "$LAB_IMDS_ROLE" --format json >"$W/cor.json"
run "$CALLERID" correlate --db "$DB" --arn-like "$LAB_IMDS_ROLE" >"$W/cor.txt"
sed -n '/events:/,$p' "$W/cor.txt" | sed 's/^/# /'
# check JSON-FILE imds|no-imds: prints "EVENTS BAD", then one "# why" line
# per event that is not as the mode wants it.
check() {
	python3 - "$1" "$2" "$PID_A" "$PID_B" "$POD_A" "$LAB_IMDS_ROLE" "$UA" "$LAB_NODE_IP" <<'EOF'
import json, sys
path, mode, pid_a, pid_b, pod_a, role, ua, node_ip = sys.argv[1:]
evs = [o for o in map(json.loads, open(path)) if o.get("type") == "event"]
bad = []
for o in evs:
    ow = o.get("owner") or {}
    proc = ow.get("process") or {}
    pod = ow.get("pod") or {}
    rs = o.get("reasons", [])
    if mode == "imds":
        if o["verdict"] != "attributed" or ow.get("kind") != "process" or str(proc.get("pid")) != pid_a \
                or pod.get("name") != pod_a or (o.get("flow") or {}).get("client") != node_ip:
            bad.append("%s: %s %s" % (o["event_id"], o["verdict"], ow.get("label")))
        elif not any(r.startswith("the call used node role %s (ec2RoleDelivery 2.0), and this owner fetched "
                                  "its credentials from IMDS (IMDSv2, User-Agent %s)" % (role, ua)) for r in rs) \
                or not any(r == "userAgent %s is the User-Agent of this owner's IMDS credential fetches" % ua
                           for r in rs):
            bad.append("%s: IMDS reasons missing: %s" % (o["event_id"], rs))
    elif mode == "no-imds":
        cands = o.get("candidates", [])
        if o["verdict"] != "ambiguous" or len(cands) != 2 \
                or not any("[%s]" % pid_a in c for c in cands) or not any("[%s]" % pid_b in c for c in cands):
            bad.append("%s: %s %s" % (o["event_id"], o["verdict"], cands))
print(len(evs), len(bad))
for b in bad:
    print("# " + b)
EOF
}
check "$W/cor.json" imds >"$W/chk"
t "every node-role call is attributed to process A (pid $PID_A in $POD_A), from the node's address, with both IMDS reasons" \
	sh -c "cat '$W/chk'; test \"\$(head -1 '$W/chk')\" = '$CALLS 0'"
t "B is named for none of them" test "$(grep -c "\"pid\":$PID_B," "$W/cor.json")" = 0
t "the confidence says another owner's burst was a candidate (0.85)" test "$(python3 -c '
import json, sys
print(sorted({o["confidence"] for o in map(json.loads, open(sys.argv[1])) if o["type"] == "event"}))' "$W/cor.json")" = "[0.85]"

# --explain: A's and B's bursts are both candidates; A's scores two tiers higher.
EID=$(python3 -c 'import json,sys; print([o for o in map(json.loads, open(sys.argv[1])) if o["type"] == "event"][0]["event_id"])' "$W/cor.json")
run "$CALLERID" correlate --db "$DB" --arn-like "$LAB_IMDS_ROLE" --no-store --explain "$EID" >"$W/explain.txt"
sed 's/^/# /' "$W/explain.txt" | grep -v '^# verdict'
t "--explain: A's burst CHOSEN, B's a candidate two tiers (IMDS role + User-Agent) below" python3 - "$W/explain.txt" \
	"$PID_A" "$PID_B" <<'EOF'
import re, sys
txt, a, b = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
got = {}
for m in re.finditer(r"owner (\S+)\[(\d+)\][^\n]*\n\s+score ([0-9.]+): (\w[\w ]*)", txt):
    got[m.group(2)] = (float(m.group(3)), m.group(4))
print(got)
assert got[a][1] == "CHOSEN" and got[b][1] == "candidate", got
assert abs(got[a][0] - got[b][0] - 2.0) < 1e-9, got
EOF

# The same database without its IMDS rows: the calls cannot be told apart.
cp "$DB" "$W/noimds.db"
sqlite3 "$W/noimds.db" "DELETE FROM http"
"$CALLERID" correlate --db "$W/noimds.db" --arn-like "$LAB_IMDS_ROLE" --no-store --format json >"$W/cor-noimds.json"
check "$W/cor-noimds.json" no-imds >"$W/chk2"
t "without the http rows, the calls whose A and B bursts share a second are ambiguous between A and B" \
	sh -c "cat '$W/chk2'; test \"\$(head -1 '$W/chk2' | cut -d' ' -f1)\" = $CALLS &&
	test \"\$(head -1 '$W/chk2' | cut -d' ' -f2)\" -le $((CALLS - SAME))"

# All events (B's too): A still wins the node-role ones; none of B's is A's.
run "$CALLERID" correlate --db "$DB" --format json >"$W/cor-all.json"
t "correlating B's IRSA calls too: no IRSA call is attributed to A, every node-role call still is" python3 - \
	"$W/cor-all.json" "$PID_A" "$DB" <<'EOF'
import json, sqlite3, sys
path, pid_a, db = sys.argv[1:]
node = {r[0] for r in sqlite3.connect(db).execute(
    "SELECT event_id FROM event WHERE ec2_role_delivery IS NOT NULL")}
for o in map(json.loads, open(path)):
    if o["type"] != "event":
        continue
    p = ((o.get("owner") or {}).get("process") or {}).get("pid")
    mine = o["verdict"] == "attributed" and str(p) == pid_a
    assert mine == (o["event_id"] in node), (o["event_id"], o["verdict"], o.get("candidates"))
EOF
t "B's IRSA calls are all B's: where A's burst shares their second, by elimination once A's calls took theirs" \
	python3 - "$W/cor-all.json" "$PID_B" "$DB" <<'EOF'
import json, sqlite3, sys
path, pid_b, db = sys.argv[1:]
irsa = {r[0] for r in sqlite3.connect(db).execute("SELECT event_id FROM event WHERE ec2_role_delivery IS NULL")}
v = [o for o in map(json.loads, open(path)) if o["type"] == "event" and o["event_id"] in irsa]
mine = [o for o in v if o["verdict"] == "attributed"
        and str(((o.get("owner") or {}).get("process") or {}).get("pid")) == pid_b]
elim = [o for o in mine if any(r.startswith("by elimination") for r in o.get("reasons", []))]
print("# B's IRSA calls: %d, attributed to B %d (%d by elimination), ambiguous %d, unmatched %d"
      % (len(v), len(mine), len(elim), sum(o["verdict"] == "ambiguous" for o in v),
         sum(o["verdict"] == "unmatched" for o in v)))
assert v and len(mine) == len(v), [(o["event_id"], o["verdict"], o.get("candidates")) for o in v]
EOF
# the stored verdicts of the node-role calls again (events --summary reads them)
run "$CALLERID" correlate --db "$DB" --arn-like "$LAB_IMDS_ROLE" --format json >/dev/null

# ---- events --summary: A is flagged, not B (no IMDS), not C (no IRSA) ------------------
run "$CALLERID" events --db "$DB" --summary --format json >"$W/sum.json"
run "$CALLERID" events --db "$DB" --summary >"$W/sum.txt"
run "$CALLERID" events --db "$DB" --summary --format csv >"$W/sum.csv"
sed -n '/^== node-role credentials/,$p' "$W/sum.txt" | sed 's/^/# /'
t "events --summary (json): one flagged owner, A in $POD_A (IRSA), with its fetch and the $CALLS node-role calls" \
	python3 - "$W/sum.json" "$PID_A" "$POD_A" "$LAB_IMDS_ROLE" "$UA" "$CALLS" <<'EOF'
import json, sys
path, pid_a, pod_a, role, ua, calls = sys.argv[1:]
lines = [json.loads(l) for l in open(path)]
head = lines[0]
assert head["imds_credential_fetches"] == 2 and head["imds_under_irsa"] == 1, head
rows = [l for l in lines if l.get("section") == "imds_under_irsa" and l["type"] == "summary_row"]
assert len(rows) == 1, rows
k = rows[0]["key"]
assert k["kind"] == "process" and k["owner"].startswith("python3[%s] in kube-system/%s " % (pid_a, pod_a)), k
assert k["pods_with_own_credentials"] == "kube-system/%s (IRSA)" % pod_a, k
assert k["roles"] == [role] and k["user_agents"] == [ua] and k["imds_versions"] == "IMDSv2", k
r = rows[0]
assert r["count"] == 1 and r["node_role_events"] == int(calls) and r["attributed_events"] == int(calls), r
EOF
t "events --summary (table, csv) carry the flag too" sh -c "grep -q '^1 owner fetched node-role credentials from IMDS' '$W/sum.txt' &&
	grep -q '^  python3\[$PID_A\] in kube-system/$POD_A' '$W/sum.txt' &&
	grep -q '^imds_under_irsa,1,\"python3\[$PID_A\] in kube-system/$POD_A' '$W/sum.csv' &&
	grep -q 'imds_under_irsa=1' '$W/sum.csv'"

# ---- the credentials never reach the database or an output ---------------------------
run "$CALLERID" flows --db "$DB" --format json >/dev/null
run "$CALLERID" timeline --db "$DB" --format json >/dev/null
run "$CALLERID" timeline --db "$DB" --format html >/dev/null
run "$CALLERID" read --no-db --format json "$W/cap.pcap" >/dev/null
sqlite3 "$DB" .dump >>"$OUT"
cat "$W/cap.log" "$W/cor.txt" "$W/explain.txt" "$W/cor-all.json" >>"$OUT"
CREDS=$(python3 -c 'import sys; sys.path.insert(0, "scripts"); import imds_server as m; c = m.FAKE_CREDS
print(c["AccessKeyId"], c["SecretAccessKey"], c["Token"])')
for v in $CREDS; do
	_inpcap=$(grep -c -a -F "$v" "$W/cap.pcap")
	_hits=$(cat "$DB" "$DB-wal" "$W/noimds.db" "$OUT" 2>/dev/null | grep -c -a -F "$v")
	t "credential ${v%"${v#????????}"}…: crossed the capture point ($_inpcap packet(s) in the -w file), 0 hits in the database and outputs" \
		test "$_inpcap" -ge 1 -a "$_hits" = 0
done

echo "1..$n"
