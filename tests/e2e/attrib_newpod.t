#!/bin/sh
# attrib_newpod.t - pods that appear during a capture are attributed from
# their first connection, while SYNs from remote clients (no namespace's
# address: every new flow misses the namespace table and asks for a
# rescan) keep the table busy. Each pod is made the way a CNI makes one (a
# namespace, a veth to the node, an address, a default route) and curl
# calls out from it as soon as its network is up, within milliseconds.
# Rescans come at most every second, so the pod's first SYN usually finds
# the last rescan older than its namespace; the veth's appearance makes
# rescans come every 10 ms for a second, and a miss that has to wait for
# one is asked again when it may (it failed as "client not local" before
# that: 4 of 4 pods here). Remote clients must stay "not local" and get no
# owner. IDLE idle namespaces (pods that do not call), there from the
# start, each with an address: a rescan must not enter them all again
# (their addresses live as long as they do), so the capture's namespace
# loads stay below half of scans x IDLE. In the lab of scripts/lab.sh, as
# root. NEWPOD_DEBUG=1 prints the
# pods' attribution attempts; NEWPOD_BG_PPS sets the SYN rate (2000).
# TAP on stdout; skips without root, tcpreplay or curl. Run from the repo root.
set -u
. tests/e2e/lib.sh

BUILD=${BUILD:-build/rel}
e2e_require attrib_newpod ip nft openssl python3 sqlite3 tcpreplay curl
[ -x "$BUILD/bench/gen_flood" ] || skip_all "no $BUILD/bench/gen_flood (make tests builds it)"

BG_PID=""
e2e_before_down() { [ -n "$BG_PID" ] && kill "$BG_PID" 2>/dev/null && wait "$BG_PID" 2>/dev/null; }
e2e_lab newpod 1

NODE=$(lab_ns node)
SNI=sts.us-east-1.amazonaws.com
lab_cert "$W" "$SNI"
lab_spawn srv endpoint python3 scripts/tls_server.py --bind 10.203.0.10 --cert "$W/cert.pem" \
	--key "$W/key.pem" --log "$W/requests"
lab_wait_listen endpoint 443 2>/dev/null || { not_ok "TLS server"; echo "1..$n"; exit 1; }

# remote clients: SYNs from new tuples (gen_flood: none of the clients is
# any namespace's), 2000 a second into a veth of the node, so that a miss
# comes every half millisecond
ip -n "$NODE" link add bg0 type veth peer name bg1 && ip -n "$NODE" link set bg0 up &&
	ip -n "$NODE" link set bg1 up && ip -n "$NODE" link set bg0 mtu 9000 && ip -n "$NODE" link set bg1 mtu 9000 ||
	{ not_ok "background veth"; echo "1..$n"; exit 1; }
"$BUILD/bench/gen_flood" --syn 20000 --rate 2000 "$W/bg.pcap" 2>"$W/gen.log" ||
	{ not_ok "gen_flood: $(cat "$W/gen.log")"; echo "1..$n"; exit 1; }

# idle pods, named with the lab's prefix so that lab_down removes them
IDLE=20
i=1
while [ $i -le $IDLE ]; do
	ns=$LAB_PREFIX-idle$i
	ip netns add "$ns" && ip -n "$ns" link set lo up && ip -n "$ns" link add eth0 type veth peer name peer0 &&
		ip -n "$ns" addr add "10.205.$i.2/24" dev eth0 && ip -n "$ns" link set eth0 up &&
		ip -n "$ns" link set peer0 up || { not_ok "idle namespace $i"; echo "1..$n"; exit 1; }
	i=$((i + 1))
done

lab_spawn cap node env CALLERID_ATTRIB_DEBUG=${NEWPOD_DEBUG:-} "$CALLERID" capture -i any --db "$W/n.db" -q
CAP_PID=$LAB_PID
i=50
while [ $i -gt 0 ] && ! grep -q 'listening on' "$(lab_state)/cap.log" 2>/dev/null; do sleep 0.1; i=$((i - 1)); done
if grep -q 'listening on' "$(lab_state)/cap.log"; then ok "capture with attribution listening"; else
	not_ok "capture listening"; sed 's/^/#   /' "$(lab_state)/cap.log"; echo "1..$n"; exit 1
fi
ip netns exec "$NODE" tcpreplay -q -i bg0 -p "${NEWPOD_BG_PPS:-2000}" "$W/bg.pcap" >"$W/replay.log" 2>&1 &
BG_PID=$!
sleep 1

# New pods, one after another, each calling out as soon as its network is
# up (a container that starts at once once the CNI has set up its namespace).
PODS="2 3 4 5"
for p in $PODS; do
	lab_add_pod "$p" || { not_ok "pod$p created"; continue; }
	ip netns exec "$(lab_ns "pod$p")" curl -s -o /dev/null -w '%{http_code}\n' --cacert "$W/cert.pem" \
		--resolve "$SNI:443:10.203.0.10" --local-port "4100$p" "https://$SNI/" >"$W/client$p.out" 2>&1 &
	echo "$! $p" >>"$W/clients"
	wait $!
	sleep 0.3
done
kill "$BG_PID" 2>/dev/null
wait "$BG_PID" 2>/dev/null
BG_PID=""
sleep 0.5
kill -INT "$CAP_PID"
wait "$CAP_PID"
rc=$?
if [ "$rc" = 0 ]; then ok "SIGINT: exit 0"; else not_ok "capture exit $rc"; fi
grep -E '^attribution:|^  (not attributed|lookups)' "$(lab_state)/cap.log" | sed 's/^/# /'
[ -n "${NEWPOD_DEBUG:-}" ] && grep '^attrib: try.* 10\.204\.' "$(lab_state)/cap.log" | sed 's/^/# /'

scans=$(sed -n 's/.*namespace scans \([0-9]*\) (\([0-9]*\) namespace loads).*/\1/p' "$(lab_state)/cap.log")
loads=$(sed -n 's/.*namespace scans \([0-9]*\) (\([0-9]*\) namespace loads).*/\2/p' "$(lab_state)/cap.log")
if [ -n "$scans" ] && [ "$scans" -ge 10 ] && [ $((loads * 2)) -lt $((scans * IDLE)) ]; then
	ok "rescans do not enter every namespace: $loads loads in $scans scans with $IDLE idle namespaces"
else
	not_ok "namespace loads: ${loads:-?} in ${scans:-?} scans with $IDLE idle namespaces (want < half of scans x $IDLE)"
fi

q() { sqlite3 -separator ' ' "$W/n.db" "$1"; }
bg=$(q "SELECT count(*) FROM flow WHERE client_ip NOT LIKE '10.20%'")
if [ "${bg:-0}" -ge 100 ]; then ok "background: $bg flows from remote clients seen"; else
	not_ok "background: only ${bg:-0} flows from remote clients (replay: $(head -c 300 "$W/replay.log"))"; fi
wrong=$(q "SELECT count(*) FROM owner o JOIN flow f ON f.id = o.flow_id WHERE f.client_ip NOT LIKE '10.20%'")
if [ "$wrong" = 0 ]; then ok "no remote client got an owner"; else not_ok "$wrong remote clients got an owner"; fi
while read -r pid p; do
	if ! grep -q '^200' "$W/client$p.out"; then
		not_ok "pod$p made its call"; sed 's/^/#   /' "$W/client$p.out" | head -5
		continue
	fi
	got=$(q "SELECT o.pid || ' ' || o.comm FROM flow f JOIN owner o ON o.flow_id = f.id
		WHERE f.client_ip = '10.204.$p.2' AND f.client_port = 4100$p AND f.proto = 6")
	case $got in
	"$pid curl"*) ok "new pod$p's first connection attributed: $got" ;;
	*) not_ok "new pod$p's first connection attributed (got '${got:-no owner}', want pid $pid)" ;;
	esac
done <"$W/clients"
echo "1..$n"
