#!/bin/sh
# Faults during `callerid capture`, in a scripts/lab.sh lab (root):
#  a. disk full while writing the -w file (a small tmpfs): the error names
#     the file at once, the file is cut back to its last whole packet (tools
#     read it to the end), flows keep going to the database, exit 1;
#  b. disk full on the database: a clear error naming it, the capture ends
#     by itself (exit 1), the database passes integrity_check and keeps what
#     was committed;
#  c. an interface deleted during the capture: with two -i the other one
#     goes on (exit 0 on SIGINT); with one the capture ends (exit 1) with
#     its final statistics written and everything before stored;
#  d. kill -9 at random moments (CAPFAULT_KILLS rounds, default 5) while
#     TLS connections are made: integrity_check ok, row counts never go
#     down, and every connection whose handshake was done more than
#     KILL_MARGIN (1.5) s before the kill is in the database (flows are
#     committed every second).
# TAP on stdout; SKIP when not root or a tool is missing.
. tests/faults/lib.sh

# Own TAP numbering: lab.sh's helpers use the names faults/lib.sh counts with.
tapn=0
ok() { tapn=$((tapn + 1)); echo "ok $tapn - $1"; }
not_ok() {
	tapn=$((tapn + 1)); echo "not ok $tapn - $1"; shift
	for d in "$@"; do printf '%s\n' "$d" | sed 's/^/# /' | head -20; done
	_failed=1
}
skip() { tapn=$((tapn + 1)); echo "ok $tapn - $1 # SKIP $2"; }
check() { _what=$1; shift; if "$@"; then ok "$_what"; else not_ok "$_what"; fi; }

ROUNDS=${CAPFAULT_KILLS:-5}
KILL_MARGIN=${KILL_MARGIN:-1.5}
PARTS=${CAPFAULT_PARTS:-a b c d}
why=$(need_tools)
[ -z "$why" ] && [ "$(id -u)" != 0 ] && why="needs root (network namespaces, tmpfs)"
for c in ip nft openssl python3 tcpreplay tcpdump; do
	[ -z "$why" ] && ! command -v "$c" >/dev/null 2>&1 && why="$c not installed"
done
[ -z "$why" ] && ! ip netns list >/dev/null 2>&1 && why="no network namespace support"
if [ -n "$why" ]; then
	for p in $PARTS; do skip "capture fault $p" "$why"; done
	finish
fi

SNI=ec2.us-east-1.amazonaws.com
LAB_LIB=1 . ./scripts/lab.sh
LAB_PREFIX=cidfc$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
LAB_PODS=2
MNT=$T/mnt
mkdir -p "$MNT"
chmod 755 "$T"
mounted=
cleanup() {
	[ -n "$mounted" ] && umount "$MNT" 2>/dev/null
	mounted=
	lab_down
	rm -rf "$T"
	[ -n "${FAULTS_OWN_TMP:-}" ] && rm -rf "$TMPROOT"
}
before_finish() { [ -n "$mounted" ] && umount "$MNT" 2>/dev/null; mounted=; lab_down; }
if ! lab_up >"$T/lab.out" 2>&1; then
	for p in $PARTS; do skip "capture fault $p" "lab_up failed: $(tail -1 "$T/lab.out")"; done
	finish
fi
trap cleanup EXIT
trap 'cleanup; trap - EXIT; exit 1' INT TERM

lab_cert "$T" "$SNI"
lab_spawn srv endpoint python3 scripts/tls_server.py --bind 10.203.0.10 --cert "$T/cert.pem" --key "$T/key.pem" \
	--log "$T/requests"
if ! lab_wait_listen endpoint 443 2>/dev/null; then
	not_ok "TLS server in the lab"
	finish
fi

# mount_small SIZE: a fresh tmpfs at $MNT
mount_small() {
	[ -n "$mounted" ] && umount "$MNT"
	mounted=
	mount -t tmpfs -o "size=$1,mode=0755" tmpfs "$MNT" 2>"$T/mount.err" && mounted=1
}
# cap_start NAME ARGS...: callerid capture in the node netns, waiting for
# "listening on" on every interface; CAP_PID, CAP_LOG.
cap_start() {
	_cn=$1
	shift
	lab_spawn "$_cn" node "$CALLERID" capture "$@"
	CAP_PID=$LAB_PID
	CAP_LOG=$(lab_state)/$_cn.log
	_i=50
	while [ $_i -gt 0 ]; do
		grep -q 'listening on' "$CAP_LOG" 2>/dev/null && return 0
		kill -0 "$CAP_PID" 2>/dev/null || break
		sleep 0.1
		_i=$((_i - 1))
	done
	return 1
}
# cap_wait SECONDS: waits for the capture to end by itself; CAP_RC (or
# empty if it is still running).
cap_wait() {
	_i=$(($1 * 10))
	CAP_RC=
	while [ $_i -gt 0 ] && kill -0 "$CAP_PID" 2>/dev/null; do
		grep -q '^State:.*Z' "/proc/$CAP_PID/status" 2>/dev/null && break
		sleep 0.1
		_i=$((_i - 1))
	done
	if ! kill -0 "$CAP_PID" 2>/dev/null || grep -q '^State:.*Z' "/proc/$CAP_PID/status" 2>/dev/null; then
		wait "$CAP_PID"
		CAP_RC=$?
	fi
}
# log_wait PATTERN SECONDS: until the capture's log has a line matching
# PATTERN (grep -E), at most SECONDS
log_wait() {
	_i=$(($2 * 10))
	while [ $_i -gt 0 ] && ! grep -qE "$1" "$CAP_LOG" 2>/dev/null; do sleep 0.1; _i=$((_i - 1)); done
}
cap_stop() { # SIGNAL
	kill "-$1" "$CAP_PID" 2>/dev/null
	{ wait "$CAP_PID"; } 2>/dev/null
	CAP_RC=$?
}
# calls ROLE LOGFILE COUNT: COUNT TLS connections from ROLE, logged
calls() {
	lab_exec "$1" python3 tests/faults/tls_loop.py --connect 10.203.0.10 --sni "$SNI" --cafile "$T/cert.pem" \
		--log "$2" --count "$3" --interval 0.05 2>>"$T/clients.err"
}
# stored DB LOGFILE [CAPTURE_ID]: how many of the logged connections' ports
# have a flow with the SNI and both hellos in the database. A port the
# node's masquerade rewrote is found through the flow's nat_link: when
# conntrack still holds an earlier connection from the same port (the
# pod's, in part c), a connection from the node itself leaves with another
# port, and the port its client logged is the link's inner side.
stored() {
	_c=${3:-}
	awk '{ print $2 }' "$2" | sort -u >"$T/want.ports"
	q "$1" "SELECT f.client_port FROM flow f JOIN tls t ON t.flow_id = f.id WHERE t.sni = '$SNI'
		AND t.status = 'ok' ${_c:+AND f.capture_id = $_c}
		UNION SELECT i.client_port FROM nat_link n JOIN flow i ON i.id = n.inner_flow_id
		JOIN flow o ON o.id = n.outer_flow_id JOIN tls t ON t.flow_id = o.id WHERE t.sni = '$SNI'
		AND t.status = 'ok' ${_c:+AND o.capture_id = $_c}" | sort -u >"$T/have.ports"
	comm -12 "$T/want.ports" "$T/have.ports" | wc -l | tr -d ' '
}
n_lines() { wc -l <"$1" | tr -d ' '; }
# counts_of DB: "captures flows tls requests" (-1 for a missing table)
counts_of() { echo "$(rows "$1" capture) $(rows "$1" flow) $(rows "$1" tls) $(rows "$1" request)"; }
# ge_all "OLD" "NEW": every NEW count >= its OLD count
ge_all() {
	_new=$2
	for _o in $1; do
		_v=${_new%% *}
		_new=${_new#* }
		[ "$_v" -ge "$_o" ] || return 1
	done
}

# A replay of generated node traffic from the endpoint into the node's eth0.
"$GEN_PCAP" "$T/traffic.pcap" 3 5 2>"$T/gen.err" || not_ok "gen_pcap" "$(cat "$T/gen.err")"
# replay [-t] PCAP: at the file's own timing, or (-t) as fast as it goes
replay() { lab_exec endpoint tcpreplay -q -i eth0 "$@" >/dev/null 2>&1; }

# ---- a. disk full on the -w file ---------------------------------------------
if echo "$PARTS" | grep -q a; then
	if ! mount_small 256k; then
		skip "a: -w on a full disk" "cannot mount a tmpfs: $(cat "$T/mount.err")"
	elif ! cap_start wfull -q -i eth0 --db "$T/a.db" -w "$MNT/ev.pcap"; then
		not_ok "a: capture started" "$(cat "$CAP_LOG")"
	else
		calls node "$T/a.before" 3
		replay -t "$T/traffic.pcap"
		log_wait 'cannot write' 5
		if kill -0 "$CAP_PID" 2>/dev/null && grep -q "capture: -w: cannot write $MNT/ev.pcap at byte [0-9]*: No space left on device; it keeps its first [0-9]* packets" "$CAP_LOG"; then
			ok "a: the disk-full error names the file at once; the capture goes on"
		else
			not_ok "a: the disk-full error names the file at once; the capture goes on" "$(cat "$CAP_LOG")"
		fi
		calls node "$T/a.after" 3
		sleep 1.5
		cap_stop INT
		check "a: SIGINT then exit 1 (the evidence file is short)" [ "$CAP_RC" = 1 ]
		check "a: the end summary says where -w stopped" grep -q "^  -w stopped: cannot write $MNT/ev.pcap" "$CAP_LOG"
		clean_stderr "$CAP_LOG" || not_ok "a: no crash or sanitizer report" "$(cat "$CAP_LOG")"
		kept=$(sed -n 's/.*it keeps its first \([0-9]*\) packets.*/\1/p' "$CAP_LOG" | head -1)
		"$CALLERID" read --no-db -q "$MNT/ev.pcap" >/dev/null 2>"$T/a.read"
		rc=$?
		got=$(sed -n 's/^[^:]*: \([0-9]*\) packets,.*/\1/p' "$T/a.read")
		if [ "$rc" = 0 ] && [ "${got:-x}" = "${kept:-y}" ] && ! grep -qi 'truncat\|warning' "$T/a.read"; then
			ok "a: the -w file ends on a whole packet: read back whole, $got packets as the error said"
		else
			not_ok "a: the -w file ends on a whole packet (read exit $rc, $got packets, error said $kept)" "$(cat "$T/a.read")"
		fi
		check "a: tcpdump reads the -w file to its end" tcpdump -r "$MNT/ev.pcap" -w /dev/null 2>/dev/null
		check "a: the database passes integrity_check" integrity_ok "$T/a.db"
		check "a: connections before the disk filled are stored ($(n_lines "$T/a.before"))" \
			[ "$(stored "$T/a.db" "$T/a.before")" = "$(n_lines "$T/a.before")" ]
		check "a: connections after it are stored too ($(n_lines "$T/a.after"))" \
			[ "$(stored "$T/a.db" "$T/a.after")" = "$(n_lines "$T/a.after")" ]
		check "a: the capture row has its end and statistics" \
			[ "$(q "$T/a.db" 'SELECT ended_us > started_us AND pkts_received > 0 FROM capture')" = 1 ]
	fi
	[ -n "$mounted" ] && umount "$MNT" && mounted=
fi

# ---- b. disk full on the database --------------------------------------------
if echo "$PARTS" | grep -q b; then
	"$BUILD/bench/gen_flood" --syn 40000 --rate 20000 "$T/syn.pcap" 2>"$T/gen.err" ||
		not_ok "b: gen_flood" "$(cat "$T/gen.err")"
	if ! mount_small 1m; then
		skip "b: database on a full disk" "cannot mount a tmpfs: $(cat "$T/mount.err")"
	elif ! cap_start dbfull -q -i eth0 --max-flows 1000 --db "$MNT/b.db"; then
		not_ok "b: capture started" "$(cat "$CAP_LOG")"
	else
		calls node "$T/b.before" 3
		sleep 1.5
		committed=$(stored "$MNT/b.db" "$T/b.before")
		# evicted SYN-flood flows are written as they go: the disk fills
		# (at the file's 20000 packets/s, which even a sanitizer build holds)
		replay "$T/syn.pcap"
		cap_wait 10
		if [ -n "$CAP_RC" ]; then
			check "b: the capture ends by itself with exit 1" [ "$CAP_RC" = 1 ]
		else
			cap_stop INT
			not_ok "b: the capture ends by itself with exit 1 (still running 10 s after the disk filled)" \
				"$(df -k "$MNT" | tail -1; ls -l "$MNT")" "$(cat "$CAP_LOG")"
		fi
		if grep -q "capture: database $MNT/b.db: storing flows failed: .*full.*; what was committed before is kept" "$CAP_LOG" &&
			clean_stderr "$CAP_LOG"; then
			ok "b: a clear error naming the database"
		else
			not_ok "b: a clear error naming the database" "$(cat "$CAP_LOG")"
		fi
		check "b: the database passes integrity_check on the full disk" integrity_ok "$MNT/b.db"
		check "b: the connections committed before ($committed of $(n_lines "$T/b.before")) are kept" \
			[ "$(stored "$MNT/b.db" "$T/b.before")" = "$(n_lines "$T/b.before")" -a "$committed" = "$(n_lines "$T/b.before")" ]
		check "b: no half-written batch (orphan rows)" [ "$(orphans "$MNT/b.db")" = 0 ]
		check "b: the database is still 0600" [ "$(mode "$MNT/b.db")" = 600 ]
	fi
	[ -n "$mounted" ] && umount "$MNT" && mounted=
fi

# ---- c. an interface deleted during the capture ------------------------------
if echo "$PARTS" | grep -q c; then
	NODE_NS=$(lab_ns node)
	V1=$(lab_pod_veth 1) V2=$(lab_pod_veth 2)
	# c1: two interfaces, one goes
	if ! cap_start ifgone1 -q -i "$V1" -i eth0 --db "$T/c1.db"; then
		not_ok "c1: capture started" "$(cat "$CAP_LOG")"
	else
		calls pod1 "$T/c1.pod" 2
		sleep 1.5
		ip -n "$NODE_NS" link del "$V1"
		log_wait 'disappeared' 5
		if kill -0 "$CAP_PID" 2>/dev/null &&
			grep -q "capture: warning: $V1: The interface disappeared; still capturing on the other interfaces" "$CAP_LOG"; then
			ok "c1: one of two interfaces deleted: a warning naming it, the capture goes on"
		else
			not_ok "c1: one of two interfaces deleted: a warning naming it, the capture goes on" "$(cat "$CAP_LOG")"
		fi
		calls node "$T/c1.node" 2
		sleep 1.5
		cap_stop INT
		check "c1: SIGINT then exit 0" [ "$CAP_RC" = 0 ]
		check "c1: integrity_check ok" integrity_ok "$T/c1.db"
		check "c1: the pod's connections (seen on the deleted veth) are stored" \
			[ "$(q "$T/c1.db" "SELECT count(*) FROM flow f JOIN tls t ON t.flow_id = f.id WHERE f.client_ip = '10.204.1.2' AND t.sni = '$SNI'")" = "$(n_lines "$T/c1.pod")" ]
		check "c1: connections after the deletion (on eth0) are stored" \
			[ "$(stored "$T/c1.db" "$T/c1.node")" = "$(n_lines "$T/c1.node")" ]
	fi
	# c2: the only interface goes
	if ! cap_start ifgone2 -q -i "$V2" --db "$T/c2.db"; then
		not_ok "c2: capture started" "$(cat "$CAP_LOG")"
	else
		calls pod2 "$T/c2.pod" 3
		sleep 1.5
		ip -n "$NODE_NS" link del "$V2"
		cap_wait 5
		if [ -n "$CAP_RC" ]; then
			check "c2: the only interface deleted: the capture ends by itself, exit 1" [ "$CAP_RC" = 1 ]
		else
			cap_stop KILL
			not_ok "c2: the only interface deleted: the capture ends by itself (still running after 5 s)"
		fi
		if grep -q "capture: $V2: The interface disappeared; no interface left, the capture ends" "$CAP_LOG" &&
			clean_stderr "$CAP_LOG"; then
			ok "c2: a clear message naming the interface"
		else
			not_ok "c2: a clear message naming the interface" "$(cat "$CAP_LOG")"
		fi
		check "c2: integrity_check ok" integrity_ok "$T/c2.db"
		check "c2: everything captured before is stored ($(n_lines "$T/c2.pod") connections)" \
			[ "$(q "$T/c2.db" "SELECT count(*) FROM flow f JOIN tls t ON t.flow_id = f.id WHERE f.client_ip = '10.204.2.2' AND t.sni = '$SNI' AND t.status = 'ok'")" = "$(n_lines "$T/c2.pod")" ]
		recv=$(sed -n 's/^\([0-9]*\) packets received by filter$/\1/p' "$CAP_LOG")
		check "c2: the final statistics are in the capture row (received ${recv:-?}, end time)" \
			[ "$(q "$T/c2.db" 'SELECT pkts_received || (ended_us > started_us) FROM capture')" = "${recv:-x}1" -a "${recv:-0}" -gt 0 ]
	fi
fi

# ---- d. kill -9 at random moments ----------------------------------------------
if echo "$PARTS" | grep -q d; then
	DB=$T/k.db
	prev=
	i=1
	while [ "$i" -le "$ROUNDS" ]; do
		log=$T/k.$i.log
		: >"$log"
		if ! cap_start kill$i -q -i any --db "$DB"; then
			not_ok "d round $i: capture started" "$(cat "$CAP_LOG")"
			i=$((i + 1))
			continue
		fi
		cid=$(q "$DB" 'SELECT max(id) FROM capture')
		# ip netns exec execs: $! is the client itself
		ip netns exec "$(lab_ns node)" python3 tests/faults/tls_loop.py --connect 10.203.0.10 --sni "$SNI" \
			--cafile "$T/cert.pem" --log "$log" --interval 0.05 --duration 30 2>>"$T/clients.err" &
		cli=$!
		# the kill comes 1.8 to 4.3 s after the first connection, so some
		# are always older than the margin
		_w=100
		while [ ! -s "$log" ] && [ $_w -gt 0 ]; do sleep 0.1; _w=$((_w - 1)); done
		delay=$((1800 + $(random_ms 2500)))
		sleep "$(ms_to_s "$delay")"
		t_kill=$(date +%s.%N)
		cap_stop KILL
		kill "$cli" 2>/dev/null
		{ wait "$cli"; } 2>/dev/null
		# connections done KILL_MARGIN s before the kill must be committed
		awk -v t="$t_kill" -v m="$KILL_MARGIN" '$1 < t - m' "$log" >"$log.old"
		old=$(n_lines "$log.old")
		have=$(stored "$DB" "$log.old" "$cid")
		recent=$(($(n_lines "$log") - old))
		recent_have=$(($(stored "$DB" "$log" "$cid") - have))
		now=$(counts_of "$DB")
		if ! integrity_ok "$DB"; then
			not_ok "d round $i (killed $delay ms after the first connection): integrity_check" "$(q "$DB" 'PRAGMA integrity_check' | head -5)"
		elif [ -n "$prev" ] && ! ge_all "$prev" "$now"; then
			not_ok "d round $i (killed $delay ms after the first connection): row counts went down" "before: $prev" "after:  $now"
		elif [ "$old" -eq 0 ] || [ "$have" != "$old" ]; then
			# what the database holds for each missing one, for the next
			# reader of a failure (a flow row without TLS, a TLS status)
			stored "$DB" "$log.old" "$cid" >/dev/null
			miss=$(awk '{ print $2 }' "$log.old" | sort -u | comm -23 - "$T/have.ports" | head -5)
			detail=""
			for p in $miss; do
				t_c=$(awk -v p="$p" '$2 == p { print $1 }' "$log.old" | head -1)
				row=$(q "$DB" "SELECT f.capture_id, f.first_us, f.last_us, f.c2s_pkts, f.s2c_pkts, f.end_reason, t.status, t.sni FROM flow f LEFT JOIN tls t ON t.flow_id = f.id WHERE f.client_port = $p ORDER BY f.id DESC LIMIT 1")
				detail="$detail port $p (handshake done at $t_c, kill at $t_kill): ${row:-no flow row};"
			done
			st=$(q "$DB" "SELECT pkts_received, pkts_dropped, pkts_if_dropped, ended_us FROM capture WHERE id = $cid")
			not_ok "d round $i (killed $delay ms after the first connection): $have of the $old connections older than ${KILL_MARGIN} s are stored" \
				"missing:$detail" "capture row (received, dropped, if_dropped, last tick): $st"
		else
			ok "d round $i (killed $delay ms after the first connection): integrity ok, all $old connections older than ${KILL_MARGIN} s stored (and $recent_have of the $recent newer); counts $now"
		fi
		prev=$now
		i=$((i + 1))
	done
fi
finish
