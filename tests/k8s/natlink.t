#!/bin/sh
# NAT links inside a capture: captures/pod-snat-sll2.pcap holds one pod
# connection twice, on the pod's veth (10.204.1.2) and on the uplink after
# masquerade (10.203.0.1). callerid read must link them, inner = pod flow.
set -u
W=$TMPROOT/natlink.$$
mkdir -p "$W"
DB=$W/t.db
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
q() { sqlite3 "$DB" "$1"; }
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "ok 1 - NAT link checks # SKIP sqlite3 CLI absent"
	exit 0
fi
"$CALLERID" read -q --db "$DB" captures/pod-snat-sll2.pcap captures/tls12-sll2.pcap >/dev/null 2>"$W/e"; rc=$?
[ $rc = 0 ]; ok $? "read the pod SNAT capture"
L="select i.client_ip||':'||i.client_port||'>'||o.client_ip||':'||o.client_port||' '||o.server_ip||':'||o.server_port||' '||l.method
   from nat_link l join flow i on i.id=l.inner_flow_id join flow o on o.id=l.outer_flow_id"
[ "$(q "$L" | wc -l)" = 1 ]; ok $? "exactly one link"
q "$L" | grep -qE '^10\.204\.1\.2:[0-9]+>10\.203\.0\.1:[0-9]+ 10\.203\.0\.11:443 client_random$'; ok $? "inner is the pod flow, outer the node flow, by client random"
[ "$(q "select count(*) from nat_link l join flow f on f.id=l.inner_flow_id join capture c on c.id=f.capture_id where c.source like '%tls12-sll2%'")" = 0 ]
ok $? "no link in a capture without NAT"
"$CALLERID" read -q --db "$DB" captures/pod-snat-sll2.pcap >/dev/null 2>&1
[ "$(q "select count(*) from nat_link")" = 2 ] && [ "$(q "select count(distinct f.capture_id) from nat_link l join flow f on f.id=l.outer_flow_id")" = 2 ]
ok $? "a second read is a second capture with its own link, never across captures"
