#!/bin/sh
# callerid k8s over the kubectl fixtures in tests/k8s/data: two pod
# snapshots an hour apart (a pod IP moves to another pod), nodes, single
# objects, and the files that must be refused whole. TAP output.
set -u
D=tests/k8s/data
W=$TMPROOT/k8s.$$
mkdir -p "$W"
DB=$W/t.db
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
q() { sqlite3 "$DB" "$1"; }
T1=1714564800000000 # 2024-05-01T12:00:00Z
T2=1714568400000000 # 2024-05-01T13:00:00Z

"$CALLERID" k8s --db "$DB" --at 2024-05-01T12:00:00Z --format json "$D/pods-t1.json" "$D/nodes.json" >"$W/o1" 2>"$W/e1"; rc=$?
[ $rc = 0 ] && [ ! -s "$W/e1" ]; ok $? "pods and nodes load, nothing on stderr"
grep -q '"files":2,"failed":0,"pods":12,"nodes":2' "$W/o1"; ok $? "12 pods, 2 nodes"
"$CALLERID" k8s --db "$DB" --at 1714568400 --format json "$D/pods-t2.json" >"$W/o2" 2>&1; rc=$?
[ $rc = 0 ] && grep -q '"pods":13' "$W/o2"; ok $? "second snapshot (--at as epoch seconds)"
"$CALLERID" k8s --db "$DB" --at 1714568400 --format json "$D/pods-t2.json" >"$W/o3" 2>&1
grep -q '"pods":13,"nodes":0,"replaced":13' "$W/o3"; ok $? "loading the same snapshot again replaces its rows"

"$CALLERID" k8s --db "$DB" "$D/services.json" "$D/truncated.json" "$D/cloudtrail.json" "$D/mixed-pod-service.json" \
	"$D/bad-field.json" "$D/node-single.json" >"$W/o4" 2>"$W/e4"; rc=$?
[ $rc = 1 ]; ok $? "bad files make the exit status 1"
grep -q 'services.json: item 0: kind Service is not Pod or Node' "$W/e4"; ok $? "wrong kind named with file and item"
grep -q 'mixed-pod-service.json: item 1: kind Service' "$W/e4"; ok $? "wrong kind after a good item"
grep -q 'truncated.json: not valid JSON' "$W/e4"; ok $? "invalid JSON named"
grep -q 'cloudtrail.json: CloudTrail records, not kubectl output' "$W/e4"; ok $? "CloudTrail file recognised"
grep -q 'bad-field.json: item 1 (default/worker-5b7d9c8f4-zz9q1): spec.nodeName: expected a string, got integer' "$W/e4"
ok $? "wrong field type named with item and pod"
[ "$(grep -c 'nothing from this file was stored' "$W/e4")" = 5 ]; ok $? "each refused file says nothing was stored"
"$CALLERID" k8s --db "$DB" "$D/nope.json" >/dev/null 2>&1; [ $? = 1 ]; ok $? "missing file exits 1"
"$CALLERID" k8s --db "$DB" --at yesterday "$D/nodes.json" >/dev/null 2>&1; [ $? = 2 ]; ok $? "bad --at is a usage error"
"$CALLERID" k8s --db "$DB" >/dev/null 2>&1; [ $? = 2 ]; ok $? "no FILE is a usage error"

if command -v sqlite3 >/dev/null 2>&1; then
	[ "$(q "select count(*) from pod where origin like '%mixed%' or origin like '%bad-field%'")" = 0 ]; ok $? "refused files half-commit nothing"
	[ "$(q "select count(*) from node where name='ip-10-0-3-33.ec2.internal' and instance_id='i-0a1b2c3d4e5f60003'")" = 1 ]
	ok $? "a single Node object, stamped with the file mtime"
	[ "$(q "select group_concat(namespace||'/'||name, ' ') from (select * from pod where snapshot_us=$T1 and host_network=1 and host_ip='10.0.1.11' order by namespace||'/'||name)")" = \
		"kube-system/aws-node-7xk2p kube-system/kube-proxy-q9z8m security/security-agent-4hn2w" ]
	ok $? "DaemonSet hostNetwork pods on node 1, pod IP = host IP"
	[ "$(q "select owner_kind||' '||owner_name||' '||service_account||' '||irsa_token||' '||pod_identity||' '||role_arn from pod where snapshot_us=$T1 and name='aws-node-7xk2p'")" = \
		"DaemonSet aws-node aws-node 1 0 arn:aws:iam::111122223333:role/eks-vpc-cni" ]
	ok $? "aws-node: DaemonSet, IRSA role and token"
	[ "$(q "select owner_kind||' '||owner_name||' '||pod_identity||' '||irsa_token||' '||coalesce(role_arn,'-') from pod where snapshot_us=$T1 and name='web-6d4cf56db6-x7k2p'")" = "Deployment web 1 0 -" ]
	ok $? "Deployment from the ReplicaSet and pod-template-hash; Pod Identity"
	[ "$(q "select owner_kind||' '||owner_name||' '||phase from pod where snapshot_us=$T1 and namespace='batch'")" = "Job report-28570140 Succeeded" ]
	ok $? "CronJob's pod owned by its Job"
	[ "$(q "select pod_ips from pod where snapshot_us=$T1 and name like 'api-%'")" = "10.0.2.50,2600:1f18:abcd:2::a" ]; ok $? "dual-stack pod IPs"
	q "select container_ids from pod where snapshot_us=$T1 and name='aws-node-m3v5t'" | grep -qE '^cri-o://[0-9a-f]{64},cri-o://[0-9a-f]{64},cri-o://[0-9a-f]{64}$'
	ok $? "cri-o container ids, init container last"
	q "select container_ids from pod where snapshot_us=$T1 and name='coredns-5d78c9869d-k8q2w'" | grep -qE '^containerd://[0-9a-f]{64}$'
	ok $? "containerd container id"
	[ "$(q "select name from pod where pod_ip='10.0.1.45' order by abs(snapshot_us-$T2) limit 1")" = "worker-5b7d9c8f4-zz9q1" ]
	ok $? "the moved IP belongs to another pod in the later snapshot"
	[ "$(q "select count(*) from pod where snapshot_us=$T1 and pod_ip is null and phase='Pending' and node is null")" = 1 ]; ok $? "Pending pod without IP or node"
	[ "$(q "select group_concat(internal_ip) from node where name='ip-10-0-2-22.ec2.internal'")" = "10.0.2.22,2600:1f18:abcd:2::16" ]; ok $? "dual-stack node: one row per InternalIP"
else
	for i in 1 2 3 4 5 6 7 8 9 10 11; do n=$((n + 1)); echo "ok $n - column check # SKIP sqlite3 CLI absent"; done
fi
