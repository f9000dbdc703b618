#!/bin/sh
# capture.t - `callerid capture -i any` live in a lab node namespace
# (scripts/lab.sh): every TLS connection from a pod (through SNAT) and from
# the node itself is recorded with the same flows, SNI and request bursts
# as `tcpdump -w` of the same traffic read back by `callerid read`; 0 drops;
# the -w file holds what was captured; -G/-W rotate; -z gzip compresses
# each rotated file, and read takes them back; --retain keeps only the
# last flows; SIGINT commits
# everything and exits 0; a flow still open is in the database; kill -9
# leaves an intact database; -Z runs the capture as another user.
# TAP on stdout; needs root (skips otherwise). Run from the repo root.
set -u
. tests/e2e/lib.sh
t() { # DESCRIPTION CMD...
	_d=$1
	shift
	if "$@" >"$W/t.out" 2>&1; then ok "$_d"; else not_ok "$_d"; sed 's/^/#   /' "$W/t.out" | tail -8; fi
}

e2e_require capture ip nft openssl python3 tcpdump tshark sqlite3 curl ss

W=$(mktemp -d "${TMPROOT:-/tmp}/capture.XXXXXX")
chmod 755 "$W"
LAB_LIB=1 . ./scripts/lab.sh
cleanup() {
	lab_down
	rm -rf "$W"
}
if ! lab_up 2>"$W/lab.err"; then
	cat "$W/lab.err" | sed 's/^/# /'
	rm -rf "$W"
	skip_all "lab_up failed"
fi
# lab_up's trap tears the lab down; add our scratch directory to it.
trap 'cleanup' EXIT
trap 'cleanup; trap - EXIT; exit 1' INT TERM

SNI=ec2.us-east-1.amazonaws.com
EPS="-e 10.203.0.10 -e 10.203.0.11 -e 10.203.0.12"
lab_cert "$W" "$SNI"
lab_spawn srv endpoint python3 scripts/tls_server.py --bind 10.203.0.10 --bind 10.203.0.11 --bind 10.203.0.12 \
	--cert "$W/cert.pem" --key "$W/key.pem" --log "$W/requests"
lab_wait_listen endpoint 443 2>/dev/null || { not_ok "TLS server"; echo "1..$n"; exit 1; }
# A stand-in IMDS: 169.254.169.254 on the endpoint, reached on-link from the node.
ip -n "$(lab_ns endpoint)" addr add 169.254.169.254/32 dev eth0
ip -n "$(lab_ns node)" route add 169.254.169.254/32 dev eth0
lab_spawn imds endpoint python3 -m http.server 80 --bind 169.254.169.254 --directory "$W"
lab_wait_listen endpoint 80 2>/dev/null || not_ok "IMDS stand-in listening"
# A stand-in EKS Pod Identity agent: 169.254.170.23:80, /v1/credentials.
ip -n "$(lab_ns endpoint)" addr add 169.254.170.23/32 dev eth0
ip -n "$(lab_ns node)" route add 169.254.170.23/32 dev eth0
# (pods reach it routed, not masqueraded, as the agent on a node sees them)
ip -n "$(lab_ns endpoint)" route add 10.204.0.0/16 via 10.203.0.1
mkdir -p "$W/pia/v1"
echo '{"AccessKeyId":"ASIAEXAMPLE"}' >"$W/pia/v1/credentials"
lab_spawn pia endpoint python3 -m http.server 80 --bind 169.254.170.23 --directory "$W/pia"

# cap_start NAME ARGS...: callerid capture in the node netns; waits for
# "listening on". Sets CAP_PID.
cap_start() {
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
# cap_stop SIGNAL: signal the capture, wait for it; CAP_RC = its exit status.
cap_stop() {
	kill "-$1" "$CAP_PID" 2>/dev/null
	wait "$CAP_PID"
	CAP_RC=$?
}

# ---- 1. the same traffic through tcpdump and callerid capture -----------
lab_capture_start tcpd node "$W/ref.pcap" -i any host 10.203.0.10 or host 10.203.0.11 or host 10.203.0.12 \
	or \( \( host 169.254.169.254 or host 169.254.170.23 \) and tcp port 80 \) \
	2>"$W/tcpd.err" || { not_ok "tcpdump started"; cat "$W/tcpd.err" | sed 's/^/# /'; }
if cap_start cap1 $EPS -i any --db "$W/cap.db" -w "$W/cap.pcap"; then ok "capture listening"; else not_ok "capture listening"; fi

POD="lab_exec pod1"
NODE="lab_exec node"
{
	# python: TLS 1.3 and 1.2, three calls each on one keep-alive connection
	$POD python3 scripts/tls_client.py --connect 10.203.0.10 --sni "$SNI" --cafile "$W/cert.pem" --requests 3 --tls 1.3
	$POD python3 scripts/tls_client.py --connect 10.203.0.11 --sni "$SNI" --cafile "$W/cert.pem" --requests 3 --tls 1.2 \
		--pause 1.2
	$NODE python3 scripts/tls_client.py --connect 10.203.0.12 --sni "$SNI" --cafile "$W/cert.pem" --requests 2
	# curl: two URLs on one connection, TLS 1.2 and 1.3
	$POD curl -sS --cacert "$W/cert.pem" --resolve "$SNI:443:10.203.0.12" --tlsv1.2 --tls-max 1.2 \
		"https://$SNI/a" "https://$SNI/b"
	$NODE curl -sS --cacert "$W/cert.pem" --resolve "$SNI:443:10.203.0.10" --tlsv1.3 "https://$SNI/c"
	# openssl s_client
	echo | $POD openssl s_client -connect 10.203.0.11:443 -servername "$SNI" -CAfile "$W/cert.pem" -tls1_3 -brief
	echo | $NODE openssl s_client -connect 10.203.0.12:443 -servername "$SNI" -CAfile "$W/cert.pem" -tls1_2 -brief
	# IMDSv2 from the node: token PUT, then a GET with the token
	$NODE curl -sS -X PUT -A lab-agent/1.0 -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' \
		http://169.254.169.254/latest/api/token
	$NODE curl -sS -A lab-agent/1.0 -H 'X-aws-ec2-metadata-token: AQAE' \
		http://169.254.169.254/latest/meta-data/iam/security-credentials/
	# a pod's SDK asks the Pod Identity agent for its credentials
	$POD curl -sS -A lab-sdk/2.0 -H 'Authorization: pod-identity-token' http://169.254.170.23/v1/credentials
} >"$W/clients.out" 2>&1
t "clients made their calls" test "$(grep -c '"peer"' "$W/requests")" -ge 11
sleep 1.5
cap_stop INT
t "SIGINT: capture exits 0" test "$CAP_RC" = 0
lab_capture_stop tcpd 2>/dev/null
LOG1=$W/cap1.log
cp "$(lab_state)/cap1.log" "$LOG1"
t "end summary printed" grep -q 'packets dropped by kernel' "$LOG1"
t "one line per TLS flow printed" test "$(grep -c "sni=$SNI" "$LOG1")" -ge 7
t "IMDS token request line" grep -q '> 169.254.169.254:80 IMDS PUT /latest/api/token token-request ua=lab-agent/1.0$' "$LOG1"
t "IMDS v2 GET line, printed once" test "$(grep -c 'IMDS GET /latest/meta-data/iam/security-credentials/ v2 ua=lab-agent/1.0$' "$LOG1")" = 1
t "Pod Identity agent line, printed once (pod veth and uplink are one flow each, the pod's named)" \
	test "$(grep -c '^[^ ]* 10.204.1.2:[0-9]* > 169.254.170.23:80 POD-IDENTITY GET /v1/credentials ua=lab-sdk/2.0$' "$LOG1")" = 1
t "Pod Identity fetch stored as imds_kind pod-identity" \
	test "$(sqlite3 "$W/cap.db" "SELECT count(*) FROM http h JOIN flow f ON f.id = h.flow_id
		WHERE h.imds_kind = 'pod-identity' AND h.path = '/v1/credentials' AND f.client_ip = '10.204.1.2'")" = 1

"$CALLERID" read -q --db "$W/ref.db" "$W/ref.pcap" >/dev/null 2>"$W/read.err"
q_flows="SELECT f.client_ip, f.client_port, f.server_ip, f.server_port, t.sni, t.version, t.cipher,
 (SELECT count(*) FROM request r WHERE r.flow_id = f.id) FROM flow f LEFT JOIN tls t ON t.flow_id = f.id
 ORDER BY 1, 2, 3, 4;"
sqlite3 "$W/cap.db" "$q_flows" >"$W/cap.flows"
sqlite3 "$W/ref.db" "$q_flows" >"$W/ref.flows"
t "capture recorded flows" test "$(grep -c "$SNI" "$W/cap.flows")" -ge 10
t "same flows, SNI, versions, ciphers and bursts as tcpdump + read" diff "$W/ref.flows" "$W/cap.flows"
t "pod flows seen before and after SNAT" sh -c "grep -q '^10.204.1.2|' '$W/cap.flows' && grep -q '^10.203.0.1|' '$W/cap.flows'"
t "keep-alive: three bursts on the python TLS 1.2 flow" sh -c "grep '|10.203.0.11|443|$SNI|TLSv1.2|' '$W/cap.flows' | grep -q '|3\$'"
t "0 drops in the capture row" test "$(sqlite3 "$W/cap.db" 'SELECT pkts_dropped + pkts_if_dropped FROM capture')" = 0
t "capture row has received packets" test "$(sqlite3 "$W/cap.db" 'SELECT pkts_received > 0 AND ended_us >= started_us FROM capture')" = 1
t "flow.ifaces names interfaces" sh -c "sqlite3 '$W/cap.db' 'SELECT ifaces FROM flow' | grep -q eth0"
written=$(sed -n 's/^\([0-9]*\) packets written.*/\1/p' "$LOG1")
captured=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$LOG1")
t "-w file: tshark reads as many packets as were captured ($captured)" \
	test "$(tshark -r "$W/cap.pcap" 2>/dev/null | wc -l)" = "$captured" -a "$written" = "$captured"
t "database and -w file are 0600" sh -c "[ \$(stat -c %a '$W/cap.db') = 600 ] && [ \$(stat -c %a '$W/cap.pcap') = 600 ]"

# ---- 2. rotation: -G 1 -W 2 keeps a ring of two pcapng files --------------
if cap_start cap2 $EPS -q --db "$W/rot.db" -w "$W/rot.pcapng" -G 1 -W 2; then
	$POD python3 scripts/tls_client.py --connect 10.203.0.10 --sni "$SNI" --cafile "$W/cert.pem" --requests 8 \
		--pause 0.5 >/dev/null 2>&1
	sleep 0.5
	cap_stop TERM
	t "SIGTERM: exit 0" test "$CAP_RC" = 0
	t "-G 1 -W 2: rot0.pcapng and rot1.pcapng, nothing else" \
		sh -c "ls '$W' | grep -c '^rot.*pcapng\$' | grep -qx 2 && [ -s '$W/rot0.pcapng' ] && [ -s '$W/rot1.pcapng' ]"
	t "rotated files are readable by tshark" sh -c "tshark -r '$W/rot0.pcapng' >/dev/null 2>&1 && tshark -r '$W/rot1.pcapng' >/dev/null 2>&1"
else
	not_ok "rotation capture started"
fi

# ---- 2b. -z gzip: each file a rotation closes is compressed ------------------
if cap_start cap2z $EPS -q --db "$W/rotz.db" -w "$W/rotz.pcap" -G 1 -z gzip; then
	$POD python3 scripts/tls_client.py --connect 10.203.0.10 --sni "$SNI" --cafile "$W/cert.pem" --requests 8 \
		--pause 0.5 >/dev/null 2>&1
	sleep 0.5
	cap_stop INT
	LOGZ=$(lab_state)/cap2z.log
	t "-z gzip: exit 0, no command failed" sh -c "[ $CAP_RC = 0 ] && grep -q -- '-z gzip: .* handed over, 0 failed, 0 still running' '$LOGZ'"
	t "-z gzip: the rotated files are .gz, only the last one is not" \
		sh -c "[ \$(ls '$W' | grep -c '^rotz.*\\.pcap\\.gz\$') -ge 2 ] && [ \$(ls '$W' | grep -c '^rotz.*\\.pcap\$') = 1 ]"
	t "-z gzip: every .gz is whole (gzip -t)" sh -c "for f in '$W'/rotz*.pcap.gz; do gzip -t \"\$f\" || exit 1; done"
	captured=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$LOGZ")
	"$CALLERID" read -q --db "$W/rotz-read.db" "$W"/rotz*.pcap* >/dev/null 2>"$W/rotz-read.err"
	read_pkts=$(awk '$2 ~ /^[0-9]+$/ && $3 == "packets," { s += $2 } END { print s + 0 }' "$W/rotz-read.err")
	t "-z gzip: callerid read takes the .gz and the last file back: $captured packets" \
		test "$read_pkts" = "$captured"
	t "-z gzip: ... and the one TLS connection" \
		test "$(sqlite3 "$W/rotz-read.db" 'SELECT count(DISTINCT client_random) FROM tls')" = 1
else
	not_ok "-z capture started"
fi
# ---- 2c. --retain: the database keeps the flows of the last seconds only -----
if cap_start cap2r $EPS -q --db "$W/ret.db" --retain 2; then
	$POD python3 scripts/tls_client.py --connect 10.203.0.10 --sni "$SNI" --cafile "$W/cert.pem" --requests 2 \
		>/dev/null 2>&1
	sleep 6
	$POD python3 scripts/tls_client.py --connect 10.203.0.11 --sni "$SNI" --cafile "$W/cert.pem" --requests 2 \
		>/dev/null 2>&1
	sleep 0.5
	cap_stop INT
	t "--retain 2: exit 0, the summary counts the flows deleted" \
		sh -c "[ $CAP_RC = 0 ] && grep -q 'flows deleted by --retain: [1-9]' '$(lab_state)/cap2r.log'"
	t "--retain 2: the first connection's flows (pod and SNAT) are gone" \
		test "$(sqlite3 "$W/ret.db" "SELECT count(*) FROM flow WHERE server_ip = '10.203.0.10'")" = 0
	t "--retain 2: the last connection's flows are kept, with TLS rows and bursts" \
		test "$(sqlite3 "$W/ret.db" "SELECT count(DISTINCT f.id) || ',' || count(DISTINCT t.flow_id) || ',' ||
			(count(r.id) > 0) FROM flow f LEFT JOIN tls t ON t.flow_id = f.id LEFT JOIN request r
			ON r.flow_id = f.id WHERE f.server_ip = '10.203.0.11'")" = 2,2,1
	t "--retain 2: no TLS row, burst or owner without its flow" \
		test "$(sqlite3 "$W/ret.db" "SELECT (SELECT count(*) FROM tls WHERE flow_id NOT IN (SELECT id FROM flow))
			+ (SELECT count(*) FROM request WHERE flow_id NOT IN (SELECT id FROM flow))
			+ (SELECT count(*) FROM owner WHERE flow_id NOT IN (SELECT id FROM flow))")" = 0
else
	not_ok "--retain capture started"
fi
"$CALLERID" capture --retain 5x --db "$W/x.db" >/dev/null 2>&1
t "--retain with a bad duration is a usage error (2)" test $? = 2

"$CALLERID" capture -w "$W/x.pcap" -z gzip --db "$W/x.db" >/dev/null 2>"$W/z.err"
t "-z without -C or -G is a usage error (2)" sh -c "[ $? = 2 ] && grep -q -- '-z needs -C or -G' '$W/z.err'"

# ---- 3. kill -9: an open flow is already committed; the database is intact --
if cap_start cap3 $EPS -q --db "$W/kill.db"; then
	$POD python3 scripts/tls_client.py --connect 10.203.0.11 --sni "$SNI" --cafile "$W/cert.pem" --requests 8 \
		--pause 0.5 >/dev/null 2>&1 &
	CLI_PID=$!
	sleep 2.8
	t "an open flow is in the database while open" \
		test "$(sqlite3 "$W/kill.db" "SELECT count(*) FROM flow f JOIN tls t ON t.flow_id = f.id WHERE f.end_reason IS NULL AND t.sni = '$SNI'" 2>&1)" -ge 1
	t "its request bursts are committed as they come" \
		test "$(sqlite3 "$W/kill.db" "SELECT count(*) FROM request" 2>&1)" -ge 3
	cap_stop KILL 2>/dev/null
	wait "$CLI_PID"
	t "kill -9: PRAGMA integrity_check ok" test "$(sqlite3 "$W/kill.db" 'PRAGMA integrity_check')" = ok
	t "kill -9: the capture row survived" test "$(sqlite3 "$W/kill.db" 'SELECT count(*) FROM capture')" = 1
else
	not_ok "kill -9 capture started"
fi

# ---- 4. -Z: the capture runs as nobody ----------------------------------------
mkdir -p "$W/z"
chmod 777 "$W/z"
if id nobody >/dev/null 2>&1 && cap_start cap4 $EPS -q -Z nobody --db "$W/z/z.db" -w "$W/z/z.pcap"; then
	t "-Z nobody: process runs as nobody" sh -c "grep '^Uid:' /proc/$CAP_PID/status | grep -q \"\\b$(id -u nobody)\\b\""
	t "-Z nobody: no capabilities left" sh -c "grep '^CapEff:' /proc/$CAP_PID/status | grep -q '0000000000000000'"
	$NODE curl -sS --cacert "$W/cert.pem" --resolve "$SNI:443:10.203.0.12" "https://$SNI/z" >/dev/null 2>&1
	sleep 1.5
	cap_stop INT
	t "-Z nobody: exit 0, flow stored" sh -c "[ $CAP_RC = 0 ] && [ \$(sqlite3 '$W/z/z.db' 'SELECT count(*) FROM tls') -ge 1 ]"
	t "-Z nobody: files owned by nobody" sh -c "[ \$(stat -c %U '$W/z/z.db') = nobody ] && [ \$(stat -c %U '$W/z/z.pcap') = nobody ]"
else
	not_ok "-Z capture started"
fi

# ---- 5. usage errors before anything starts -----------------------------------
"$CALLERID" capture -f 'tcp and and' --db "$W/bad.db" >/dev/null 2>"$W/bad.err"
t "bad -f is a usage error (2) naming the filter" sh -c "[ $? = 2 ] && grep -q 'bad filter' '$W/bad.err' && [ ! -e '$W/bad.db' ]"
"$CALLERID" capture -e 10.0.0.0/33 >/dev/null 2>&1
t "bad endpoint is a usage error" test $? = 2
lab_exec node timeout -s INT 2 "$CALLERID" capture -v -e 10.203.0.10 --db "$W/v.db" -i lo \
	-f 'tcp port 443' >"$W/v.out" 2>&1 </dev/null
t "-v prints the compiled filter" grep -qF \
	'filter: (host 10.203.0.10 or ((host 169.254.169.254 or host fd00:ec2::254 or host 169.254.170.23 or host fd00:ec2::23) and tcp port 80)) and (tcp port 443) (' "$W/v.out"
# -c COUNT: stops by itself after COUNT packets, exit 0
lab_exec node timeout 20 "$CALLERID" capture -q -c 2 -i lo --db "$W/c.db" >/dev/null 2>"$W/c.err" </dev/null &
C_PID=$!
sleep 1
for _k in 1 2 3; do lab_exec node curl -s -m 1 http://127.0.0.1:9/ >/dev/null 2>&1; done
wait "$C_PID"
t "-c 2: exits 0 by itself after 2 packets" sh -c "[ $? = 0 ] && grep -q '^2 packets captured' '$W/c.err'"

echo "1..$n"
