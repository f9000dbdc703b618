#!/bin/sh
# quic.t - QUIC on a live capture, in the lab of scripts/lab.sh, as root:
# a client in a pod's namespace and a server on the endpoint exchange the
# Initial packets of a QUIC handshake over real UDP sockets
# (tests/e2e/quic_peer.py: no QUIC stack is packaged for Debian 12), and
# `callerid capture -i any` in the node namespace must store the flow with
# its SNI, TLS 1.3 and a JA4 starting with q (the server's Initial comes
# between the two halves of the ClientHello, the second half first), on the pod's veth (owner: the
# client's pid, through the pod's namespace) and on the uplink after the
# masquerade (owner through conntrack).
# TAP on stdout; needs root (skips otherwise). Run from the repo root.
set -u
. tests/e2e/lib.sh

e2e_require quic ip nft python3 sqlite3
python3 -c 'import cryptography' 2>/dev/null || skip_all "python3-cryptography missing"

e2e_lab quic 1

SNI=sqs.eu-west-1.amazonaws.com
wait_log() { # NAME PATTERN
	_i=50
	while [ $_i -gt 0 ]; do
		grep -q "$2" "$(lab_state)/$1.log" 2>/dev/null && return 0
		sleep 0.1
		_i=$((_i - 1))
	done
	sed 's/^/#   /' "$(lab_state)/$1.log"
	return 1
}

lab_spawn qsrv endpoint python3 tests/e2e/quic_peer.py server 10.203.0.10
if wait_log qsrv ready; then ok "QUIC server listening"; else not_ok "QUIC server"; echo "1..$n"; exit 1; fi
lab_spawn cap node "$CALLERID" capture -i any --db "$W/q.db"
CAP_PID=$LAB_PID
if wait_log cap 'listening on'; then ok "capture listening"; else not_ok "capture listening"; echo "1..$n"; exit 1; fi

lab_exec pod1 python3 tests/e2e/quic_peer.py client 10.203.0.10 41020 "$SNI" >"$W/client.out" 2>&1
PID=$(sed -n 's/^pid //p' "$W/client.out")
if grep -q '^answer [0-9]* bytes' "$W/client.out"; then ok "the client got the server's Initial"; else
	not_ok "the client got no answer"; sed 's/^/#   /' "$W/client.out"
fi
sleep 1.5
kill -INT "$CAP_PID" 2>/dev/null
wait "$CAP_PID"
rc=$?
if [ "$rc" = 0 ]; then ok "capture: SIGINT, exit 0"; else not_ok "capture exit $rc"; fi
cp "$(lab_state)/cap.log" "$W/cap.log"
grep -E 'QUIC Initial' "$W/cap.log" | sed 's/^/# /'

q() { sqlite3 -separator ' ' "$W/q.db" "$1"; }
row() { # CLIENT_IP -> "sni version ja4-prefix pid comm method"
	q "SELECT t.sni, t.version_code, substr(t.ja4, 1, 4), ifnull(o.pid, '-'), ifnull(o.comm, '-'),
	   ifnull(o.method, '-') FROM flow f JOIN tls t ON t.flow_id = f.id LEFT JOIN owner o ON o.flow_id = f.id
	   WHERE f.proto = 17 AND f.client_ip = '$1' AND f.client_port = 41020 AND f.server_port = 443 LIMIT 1"
}
check_row() { # DESC CLIENT_IP METHOD
	_got=$(row "$2")
	case $_got in
	"$SNI 772 q13d $PID python"*" $3") ok "$1: $_got" ;;
	*) not_ok "$1"; echo "#   got  '$_got'"; echo "#   want '$SNI 772 q13d $PID python3 $3'" ;;
	esac
}
check_row "the pod's QUIC flow on its veth: SNI, TLS 1.3, JA4 q, the client's pid" 10.204.1.2 sock_diag_netns
check_row "the same flow on the uplink after the masquerade, through conntrack" 10.203.0.1 conntrack
if grep "ja4=q13d" "$W/cap.log" | grep -q "sni=$SNI"; then
	ok "the capture printed the QUIC flow's line, SNI included"
else
	not_ok "no line for the QUIC flow"; sed 's/^/#   /' "$W/cap.log" | head -10
fi
echo "1..$n"
