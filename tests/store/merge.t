#!/bin/sh
# `callerid merge`: databases made apart (a capture in one, CloudTrail and
# the kubectl snapshots in another, as when each node captured on its own)
# merged into one give correlate exactly what one database made of all of
# them gives; ids move with every reference to them (NAT links, owners,
# HTTP and DNS rows); events and snapshot rows are kept once; attribution
# rows stay behind; an older schema merges, a newer one, a foreign file,
# a missing one and the target itself are refused without changing
# anything; a source is never written. Uses only captures/ (always there).
# Environment: CALLERID (binary), TMPROOT (scratch dir).
# TAP counters, check and q DB SQL: the hostile suites' helpers
. tests/hostile/lib.sh
D="$TMPROOT/merge_t.$$"
mkdir -p "$D"
C=$CALLERID
DEMO=captures/demo

# one database made of everything, the reference
$C read -q --db "$D/one.db" "$DEMO/capture.pcap" 2>/dev/null
$C ingest --db "$D/one.db" "$DEMO/cloudtrail" >/dev/null
$C k8s --db "$D/one.db" "$DEMO/k8s/pods.json" "$DEMO/k8s/nodes.json" >/dev/null
$C correlate --db "$D/one.db" >"$D/one.out"
check "reference correlate attributes events" grep -q 'attributed' "$D/one.out"

# the same parts made apart
$C read -q --db "$D/a.db" "$DEMO/capture.pcap" 2>/dev/null
$C ingest --db "$D/b.db" "$DEMO/cloudtrail" >/dev/null
$C k8s --db "$D/b.db" "$DEMO/k8s/pods.json" "$DEMO/k8s/nodes.json" >/dev/null
sum_a=$(sha256sum <"$D/a.db")
$C merge --db "$D/c.db" --format csv "$D/a.db" "$D/b.db" >"$D/m.csv" 2>"$D/m.err"
check "merge a + b: exit 0, nothing on stderr" test "$?" = 0 -a ! -s "$D/m.err"
check "merge a + b: a row per source with what it gave" \
	grep -q "^$D/a.db,1,10,10,24,0,0,0,0,0,0,0,\$" "$D/m.csv"
check "merge a + b: the events and snapshots of b" grep -q "^$D/b.db,0,0,0,0,0,0,0,16,0,6,1,\$" "$D/m.csv"
$C correlate --db "$D/c.db" >"$D/c.out"
check "correlate on the merged database: the same output as on one database" cmp -s "$D/one.out" "$D/c.out"
check "a source is never written" test "$(sha256sum <"$D/a.db")" = "$sum_a"

# b again: its events and snapshot rows are there already
$C merge --db "$D/c.db" --format csv "$D/b.db" >"$D/m.csv" 2>&1
check "merge b again: 16 events known, none copied" grep -q "^$D/b.db,0,0,0,0,0,0,0,0,16,0,0,\$" "$D/m.csv"
check "merge b again: still 16 events, 6 pods, 1 node" \
	test "$(q "$D/c.db" 'SELECT count(*) FROM event; SELECT count(*) FROM pod; SELECT count(*) FROM node' | paste -sd,)" = 16,6,1

# ids move with their references: a NAT link, an owner, HTTP and DNS rows
$C read -q --db "$D/p.db" captures/pod-snat-sll2.pcap 2>/dev/null
q "$D/p.db" "INSERT INTO owner(flow_id, method, pid, comm) VALUES(2, 'sock_diag', 4242, 'python3')"
$C read -q --db "$D/i.db" captures/imds-dns/capture.pcap 2>/dev/null
http_i=$(q "$D/i.db" 'SELECT count(*) FROM http')
dns_i=$(q "$D/i.db" 'SELECT count(*) FROM dns WHERE flow_id IS NOT NULL')
$C merge --db "$D/c.db" "$D/p.db" "$D/i.db" >/dev/null 2>&1
check "merged flows: 10 + 2 + those of the IMDS capture" \
	test "$(q "$D/c.db" 'SELECT count(*) FROM flow')" = "$((12 + $(q "$D/i.db" 'SELECT count(*) FROM flow')))"
check "the NAT link joins the pod's flow to its SNATed twin (ids 12 and 11)" \
	test "$(q "$D/c.db" "SELECT i.client_ip || ' ' || o.client_ip FROM nat_link l JOIN flow i ON i.id = l.inner_flow_id
		JOIN flow o ON o.id = l.outer_flow_id WHERE l.inner_flow_id BETWEEN 11 AND 12")" = \
	"$(q "$D/p.db" "SELECT i.client_ip || ' ' || o.client_ip FROM nat_link l JOIN flow i ON i.id = l.inner_flow_id
		JOIN flow o ON o.id = l.outer_flow_id")"
check "the owner row follows its flow" \
	test "$(q "$D/c.db" "SELECT f.client_port FROM owner w JOIN flow f ON f.id = w.flow_id WHERE w.pid = 4242")" = \
	"$(q "$D/p.db" "SELECT client_port FROM flow WHERE id = 2")"
check "HTTP rows: all $http_i there, each on a flow to port 80" \
	test "$(q "$D/c.db" "SELECT count(*) FROM http h JOIN flow f ON f.id = h.flow_id WHERE f.server_port = 80")" = "$http_i"
check "DNS rows: all $dns_i with a flow there, each on a flow to port 53" \
	test "$(q "$D/c.db" "SELECT count(*) FROM dns d JOIN flow f ON f.id = d.flow_id WHERE f.server_port = 53")" = "$dns_i"
check "flows names each flow's capture: the pod-snat capture is the second" \
	test "$($C flows --db "$D/c.db" --format json | grep -c '"capture":2,')" = 2
check "every tls, request and flow row points at a row that is there" \
	test "$(q "$D/c.db" "SELECT (SELECT count(*) FROM tls WHERE flow_id NOT IN (SELECT id FROM flow))
		+ (SELECT count(*) FROM request WHERE flow_id NOT IN (SELECT id FROM flow))
		+ (SELECT count(*) FROM flow WHERE capture_id NOT IN (SELECT id FROM capture))")" = 0

# correlate's verdicts are not copied
$C merge --db "$D/v.db" "$D/one.db" >/dev/null 2>&1
check "attribution rows stay behind" \
	test "$(q "$D/one.db" 'SELECT count(*) > 0 FROM attribution'),$(q "$D/v.db" 'SELECT count(*) FROM attribution')" = 1,0

# an older schema: fewer columns, copied as far as they go
cp "$D/i.db" "$D/old.db"
q "$D/old.db" "ALTER TABLE http DROP COLUMN status; PRAGMA user_version = 2" >/dev/null
$C merge --db "$D/o.db" "$D/old.db" >/dev/null 2>"$D/o.err"
check "an older schema merges (exit 0)" test "$?" = 0
check "... its rows with the columns it has" \
	test "$(q "$D/o.db" 'SELECT count(*), count(status) FROM http')" = "$http_i|0"

# refusals: nothing changes, the other sources still go in
before=$(q "$D/c.db" 'SELECT count(*) FROM flow; SELECT count(*) FROM event' | paste -sd,)
cp "$D/a.db" "$D/new.db"
q "$D/new.db" 'PRAGMA user_version = 99' >/dev/null
printf 'not a database at all, just some text to fill a page\n' >"$D/text.db"
q "$D/foreign.db" 'CREATE TABLE t(a); PRAGMA user_version = 3' >/dev/null
$C merge --db "$D/c.db" "$D/c.db" "$D/missing.db" "$D/new.db" "$D/text.db" "$D/foreign.db" >/dev/null 2>"$D/r.err"
check "refused sources: exit 1" test "$?" = 1
check "the target itself is refused" grep -q "$D/c.db: that is the database merged into" "$D/r.err"
check "a missing source is named" grep -q "$D/missing.db: no such database file" "$D/r.err"
check "a newer schema is refused" grep -q "$D/new.db: schema version 99 is newer" "$D/r.err"
check "a file that is not SQLite is named" grep -q "$D/text.db: " "$D/r.err"
check "a SQLite file that is not callerid's is refused" grep -q "$D/foreign.db: not a callerid database" "$D/r.err"
check "refused sources change nothing" \
	test "$(q "$D/c.db" 'SELECT count(*) FROM flow; SELECT count(*) FROM event' | paste -sd,)" = "$before"
$C merge --db "$D/c.db" "$D/missing.db" "$D/p.db" >/dev/null 2>&1
check "after a refused source the next one still goes in" \
	test "$(q "$D/c.db" 'SELECT count(*) FROM flow')" = "$(($(echo "$before" | cut -d, -f1) + 2))"
check "no SOURCE is a usage error (2)" sh -c '"$1" merge --db "$2" >/dev/null 2>&1; [ $? = 2 ]' - "$C" "$D/c.db"

echo "1..$n"
rm -rf "$D"
