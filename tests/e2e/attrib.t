#!/bin/sh
# attrib.t - live attribution (issue 6) in the lab of scripts/lab.sh, as root:
# `callerid capture` in the node namespace names the process, container and
# pod of every flow.
#   - processes are placed in cgroups laid out like kubelet's (created under a
#     lab-specific parent, pids moved in before they connect): systemd driver +
#     containerd (cgroup v2), cgroupfs driver (v1 pids hierarchy when there is
#     one, else v2), a hostNetwork pod in the node namespace;
#   - pods in their own namespaces behind SNAT (seen on the veth and on the
#     uplink: the uplink flow is attributed through conntrack);
#   - a connection that lives under 50 ms, a keep-alive connection opened
#     before the capture started, a UDP datagram, a plain node process;
#   - then a capture on the uplink only: the pod's flow gets its pod through
#     conntrack (owner row + nat_link to a flow with the pre-NAT address).
# Every flow must carry the right pid, comm, container id and pod UID, none a
# wrong one; the summary's cost line is echoed as a TAP comment.
# TAP on stdout; needs root (skips otherwise). Run from the repo root.
set -u
. tests/e2e/lib.sh
t() { # DESCRIPTION CMD...
	_d=$1
	shift
	if "$@" >"$W/t.out" 2>&1; then ok "$_d"; else not_ok "$_d"; sed 's/^/#   /' "$W/t.out" | tail -8; fi
}

e2e_require attrib ip nft openssl python3 sqlite3 ss

# cgroup hierarchies: v2 (pure, or "unified" in hybrid mode), v1 pids
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	CG2=/sys/fs/cgroup
elif [ -f /sys/fs/cgroup/unified/cgroup.procs ]; then
	CG2=/sys/fs/cgroup/unified
else
	skip_all "no cgroup v2 hierarchy"
fi
CG1=
[ -f /sys/fs/cgroup/pids/cgroup.procs ] && CG1=/sys/fs/cgroup/pids

W=$(mktemp -d "${TMPROOT:-/tmp}/attrib.XXXXXX")
chmod 755 "$W"
LAB_LIB=1 LAB_PODS=2 . ./scripts/lab.sh
CGDIRS=""
cleanup() {
	lab_down
	# the lab's processes are gone: remove the cgroups, deepest first
	for _d in $CGDIRS; do rmdir "$_d" 2>/dev/null; done
	rm -rf "$W"
}
if ! LAB_PODS=2 lab_up 2>"$W/lab.err"; then
	sed 's/^/# /' "$W/lab.err"
	rm -rf "$W"
	skip_all "lab_up failed"
fi
trap 'cleanup' EXIT
trap 'cleanup; trap - EXIT; exit 1' INT TERM

TAG="callerid-lab-$LAB_PREFIX"
UID1=6b4c5a1e-7d2f-4e8a-9c3b-1f2e3d4c5b6a # pod1: systemd driver, containerd, besteffort
UID2=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d # pod2: cgroupfs driver, burstable
UID3=9f8e7d6c-5b4a-4392-8170-6a5b4c3d2e1f # hostNetwork agent: systemd driver, burstable
ID1=3f1c9a7b2e4d6f80a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718
ID2=aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899
ID3=5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d
u_() { printf '%s' "$1" | tr - _; }
CGP1=$CG2/$TAG/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod$(u_ $UID1).slice/cri-containerd-$ID1.scope
CGP3=$CG2/$TAG/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$(u_ $UID3).slice/cri-containerd-$ID3.scope
CGP2=${CG1:-$CG2}/$TAG/kubepods/burstable/pod$UID2/$ID2
for _p in "$CGP1" "$CGP2" "$CGP3"; do
	mkdir -p "$_p" || skip_all "cannot create cgroups"
	_d=$_p
	while [ "$_d" != "$CG2" ] && [ "$_d" != "${CG1:-$CG2}" ]; do
		CGDIRS="$CGDIRS $_d"
		_d=${_d%/*}
	done
done
CGDIRS=$(for _d in $CGDIRS; do echo "$_d"; done | sort -ru)

SNI=ec2.us-east-1.amazonaws.com
EPS="-e 10.203.0.10 -e 10.203.0.11"
lab_cert "$W" "$SNI"
lab_spawn srv endpoint python3 scripts/tls_server.py --bind 10.203.0.10 --bind 10.203.0.11 \
	--cert "$W/cert.pem" --key "$W/key.pem" --log "$W/requests"
lab_wait_listen endpoint 443 2>/dev/null || { not_ok "TLS server"; echo "1..$n"; exit 1; }

# in_cg LABEL CGROUP ROLE CMD...: runs CMD inside CGROUP in the role's netns
# (the shell moves itself, then execs ip netns exec, which execs CMD: the pid
# stays; the cgroup is joined first since ip netns exec hides /sys/fs/cgroup),
# recording the pid in $W/pids.LABEL.
in_cg() {
	_l=$1 _cg=$2 _r=$3
	shift 3
	sh -c 'echo $$ >>"$1"; [ -z "$2" ] || echo $$ >"$2/cgroup.procs" || exit 9; shift 2; exec ip netns exec "$@"' \
		sh "$W/pids.$_l" "$_cg" "$(lab_ns "$_r")" "$@"
}
client() { # LABEL CGROUP ROLE ADDR PORT [tls_client args]
	_l=$1 _cg=$2 _r=$3 _a=$4 _bp=$5
	shift 5
	in_cg "$_l" "$_cg" "$_r" python3 scripts/tls_client.py --connect "$_a" --sni "$SNI" --cafile "$W/cert.pem" \
		--bind-port "$_bp" "$@"
}

# A keep-alive connection of the hostNetwork agent, open before the capture.
client keep "$CGP3" node 10.203.0.11 41003 --requests 6 --pause 0.7 >"$W/keep.out" 2>&1 &
KEEP_PID=$!
sleep 0.8

cap_start() { # NAME ARGS...
	_cn=$1
	shift
	lab_spawn "$_cn" node "$CALLERID" capture "$@"
	CAP_PID=$LAB_PID
	_i=50
	while [ $_i -gt 0 ]; do
		grep -q 'listening on' "$(lab_state)/$_cn.log" 2>/dev/null && return 0
		kill -0 "$CAP_PID" 2>/dev/null || break
		sleep 0.1
		_i=$((_i - 1))
	done
	sed 's/^/#   /' "$(lab_state)/$_cn.log"
	return 1
}
cap_stop() {
	kill -INT "$CAP_PID" 2>/dev/null
	wait "$CAP_PID"
	CAP_RC=$?
}

# ---- 1. capture on any: veths and uplink ------------------------------------
if cap_start cap1 $EPS -i any --db "$W/a.db"; then ok "capture with attribution listening"; else not_ok "capture listening"; fi
{
	client pod1 "$CGP1" pod1 10.203.0.10 41001 --requests 2
	client pod2 "$CGP2" pod2 10.203.0.11 41002 --requests 1 --tls 1.2
	in_cg short "$CGP2" pod2 python3 tests/e2e/attrib_short.py tcp 10.203.0.10 443 41004 "$SNI" "$W/cert.pem"
	in_cg udp "$CGP3" node python3 tests/e2e/attrib_short.py udp 10.203.0.10 53 41006
	in_cg host "" node python3 tests/e2e/attrib_short.py tcp 10.203.0.11 443 41005 "$SNI" "$W/cert.pem"
} >"$W/clients.out" 2>&1
wait "$KEEP_PID"
sed "s/^/# clients: /" "$W/clients.out" "$W/keep.out" | head -${ATTRIB_T_DEBUG:-0}
t "clients made their calls" test "$(grep -c '^200 ' "$W/clients.out" "$W/keep.out" | awk -F: '{s+=$2} END {print s}')" -ge 9
LIFE=$(sed -n 's/^lifetime_ms //p' "$W/clients.out" | head -1)
echo "# short connection lifetime: ${LIFE:-?} ms"
t "the short connection lived under 50 ms" awk -v l="${LIFE:-999}" 'BEGIN { exit !(l < 50) }'
sleep 1
cap_stop
t "SIGINT: exit 0" test "$CAP_RC" = 0
LOG=$W/cap1.log
cp "$(lab_state)/cap1.log" "$LOG"
grep "^attrib: try" "$LOG" | sed "s/^/# /" | head -${ATTRIB_T_DEBUG:-0}
grep -E '^attribution:|^  (not attributed|lookups)' "$LOG" | sed 's/^/# /'

pid_of() { head -1 "$W/pids.$1"; }
DB=$W/a.db
q() { sqlite3 -separator ' ' "$DB" "$1"; }
# owner of the flow whose client port is PORT on the given side
owner() { # CLIENT_IP PORT -> "pid comm container pod method"
	q "SELECT o.pid, o.comm, ifnull(o.container_id,'-'), ifnull(o.pod_uid,'-'), o.method FROM flow f
	   JOIN owner o ON o.flow_id = f.id WHERE f.client_ip = '$1' AND f.client_port = $2 AND f.proto IN (6, 17)"
}
expect() { # DESC CLIENT_IP PORT LABEL CONTAINER POD METHOD
	_got=$(owner "$2" "$3")
	_want="$(pid_of "$4") python3 $5 $6 $7"
	case $_got in
	"$(pid_of "$4") python"*" $5 $6 $7") ok "$1: $_got" ;;
	*) not_ok "$1"; echo "#   got  '$_got'"; echo "#   want '$_want'" ;;
	esac
}
expect "pod1 (systemd/containerd) on its veth" 10.204.1.2 41001 pod1 $ID1 $UID1 sock_diag_netns
expect "pod1 on the uplink, through conntrack" 10.203.0.1 41001 pod1 $ID1 $UID1 conntrack
expect "pod2 (cgroupfs) on its veth" 10.204.2.2 41002 pod2 $ID2 $UID2 sock_diag_netns
expect "pod2 on the uplink, through conntrack" 10.203.0.1 41002 pod2 $ID2 $UID2 conntrack
expect "short-lived (<50 ms) connection from pod2" 10.204.2.2 41004 short $ID2 $UID2 sock_diag_netns
expect "hostNetwork agent: keep-alive open before the capture" 10.203.0.1 41003 keep $ID3 $UID3 sock_diag
expect "hostNetwork agent: UDP datagram" 10.203.0.1 41006 udp $ID3 $UID3 sock_diag
expect "plain node process: no container, no pod" 10.203.0.1 41005 host - - sock_diag
t "nat_link rows (conntrack) from each pod's veth flow to its uplink flow" test "$(q "SELECT count(*) FROM nat_link n
	JOIN flow i ON i.id = n.inner_flow_id JOIN flow o ON o.id = n.outer_flow_id
	WHERE n.method = 'conntrack' AND i.client_port = o.client_port AND i.client_ip LIKE '10.204.%'")" -ge 3
t "every flow has an owner" test "$(q "SELECT count(*) FROM flow WHERE id NOT IN (SELECT flow_id FROM owner)")" = 0
t "no flow attributed wrongly (one owner per flow, pid matches its port's client)" test "$(q "SELECT count(*) FROM
	(SELECT flow_id FROM owner GROUP BY flow_id HAVING count(DISTINCT pid) > 1)")" = 0
t "keep-alive flow was mid-stream at capture start" test "$(q "SELECT count(*) FROM flow WHERE client_port = 41003")" -ge 1
t "summary: no flow ended before it could be attributed" sh -c "! grep -q 'not attributed' '$LOG'"
t "summary reports the CPU per lookup" grep -q 'CPU per lookup' "$LOG"

# ---- 2. uplink only: the pod is found through conntrack ----------------------
if cap_start cap2 $EPS -i eth0 -q --db "$W/b.db"; then
	client pod1b "$CGP1" pod1 10.203.0.10 41011 --requests 1 >/dev/null 2>&1
	sleep 1
	cap_stop
	DB=$W/b.db
	expect "uplink only: pod1's flow gets pid, container and pod through conntrack" 10.203.0.1 41011 pod1b $ID1 \
		$UID1 conntrack
	t "uplink only: nat_link to a flow with the pre-NAT pod address" test "$(q "SELECT i.client_ip || ':' ||
		i.client_port || ' ' || i.ifaces FROM nat_link n JOIN flow i ON i.id = n.inner_flow_id
		WHERE n.method = 'conntrack'")" = "10.204.1.2:41011 conntrack"
else
	not_ok "uplink capture started"
fi

# ---- 3. --no-attrib: no owner rows ---------------------------------------------
if cap_start cap3 $EPS -i any -q --no-attrib --db "$W/c.db"; then
	client none "" node 10.203.0.10 41021 --requests 1 >/dev/null 2>&1
	sleep 1
	cap_stop
	t "--no-attrib: flows, no owner rows" test "$(sqlite3 "$W/c.db" "SELECT (SELECT count(*) FROM flow) > 0 AND
		(SELECT count(*) FROM owner) = 0")" = 1
else
	not_ok "--no-attrib capture started"
fi

echo "1..$n"
