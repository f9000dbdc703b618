#!/bin/sh
# `callerid timeline` end to end. The database comes from the real pipeline
# (`callerid read` on captures/*.pcap, `callerid ingest` on tests/ingest/data
# and on CloudTrail lines timed from the captured bursts) plus a hand-made
# situation in SQL: attribution rows (as `correlate` writes them), pod
# snapshot rows, a NAT link, a live owner row, and hostile strings (<script>,
# quotes, an ANSI escape) in a pod name, an SNI and a user agent.
# Then: text and JSON order, lanes and escaping; HTML well-formed and
# self-contained; rendering in headless Chromium (skipped when absent).
# Environment: CALLERID (binary), TMPROOT (scratch dir). TAP output.
set -u
: "${CALLERID:?}" "${TMPROOT:?}"
W="$TMPROOT/timeline.$$"
mkdir -p "$W"
DB="$W/t.db"
PY="python3 tests/timeline/tl_check.py"
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
has() { grep -qF -- "$1" "$2"; }

# usage errors first: they need no database
"$CALLERID" timeline --help >"$W/help" 2>&1; rc=$?
[ $rc = 0 ] && has 'usage: callerid timeline' "$W/help"; ok $? "--help exits 0"
"$CALLERID" timeline --db "$W/none.db" --format xml >/dev/null 2>&1; [ $? = 2 ]; ok $? "bad --format exits 2"
"$CALLERID" timeline --db "$W/none.db" --since soon >/dev/null 2>&1; [ $? = 2 ]; ok $? "bad --since exits 2"
"$CALLERID" timeline --db "$W/none.db" --since 20 --until 10 >/dev/null 2>&1; [ $? = 2 ]; ok $? "--since after --until exits 2"
"$CALLERID" timeline --db "$W/none.db" >/dev/null 2>"$W/e0"; rc=$?
[ $rc = 1 ] && [ ! -e "$W/none.db" ]; ok $? "missing database exits 1 and is not created"

if ! command -v python3 >/dev/null 2>&1 || ! command -v sqlite3 >/dev/null 2>&1; then
	for what in pipeline text json html chromium; do skip "$what" "python3 or sqlite3 absent"; done
	exit 0
fi

# ---- the database ----
"$CALLERID" read --db "$DB" captures/*.pcap >/dev/null 2>"$W/read.err"; rc=$?
ok $rc "callerid read on captures/*.pcap"
"$CALLERID" ingest --db "$DB" tests/ingest/data/s3-delivery.json tests/ingest/data/lookup-events.json >/dev/null 2>&1
ok $? "callerid ingest on tests/ingest/data"

# hostile strings: an SNI (the HelloRetryRequest capture's) and, below, a pod name
sqlite3 "$DB" "UPDATE tls SET sni = 'evil<script>alert(\"sni\")</script>''q''' || char(27) || '[2J.example'
	WHERE sni = 'sts.us-east-1.amazonaws.com'"
$PY events "$DB" "$W/events.jsonl" && "$CALLERID" ingest --db "$DB" "$W/events.jsonl" >/dev/null 2>&1
ok $? "CloudTrail lines timed from the captured bursts ingested"

INNER="(SELECT id FROM flow WHERE client_ip = '10.204.1.2')"
OUTER="(SELECT id FROM flow WHERE client_ip = '10.203.0.1' AND client_port = (SELECT client_port FROM flow WHERE id = $INNER))"
KEEP="(SELECT id FROM flow WHERE server_ip = '10.203.0.11' AND end_reason = 'rst')"
HRR="(SELECT flow_id FROM tls WHERE sni LIKE 'evil%')"
POD="'agent-<script>alert(\"pod\")</script>''x''' || char(27) || '[31m'"
sqlite3 "$DB" >"$W/sql.out" 2>&1 <<EOF
INSERT INTO nat_link(inner_flow_id, outer_flow_id, method)
  SELECT $INNER, $OUTER, 'client_random'
  WHERE NOT EXISTS (SELECT 1 FROM nat_link WHERE inner_flow_id = $INNER);
INSERT INTO pod(snapshot_us, namespace, name, uid, node, host_network, pod_ip, host_ip,
                owner_kind, owner_name, service_account, pod_ips, phase)
  SELECT min(first_us) - 60000000, 'kube-system', $POD, 'uid-agent', 'node-1', 0,
         '10.204.1.2', '10.203.0.1', 'DaemonSet', 'agent', 'agent-sa', '10.204.1.2', 'Running'
  FROM flow;
INSERT INTO pod(snapshot_us, namespace, name, uid, node, host_network, pod_ip, host_ip,
                owner_kind, owner_name, service_account, pod_ips, phase)
  SELECT min(first_us) - 60000000, 'kube-system', 'aws-node-x1', 'uid-aws-node', 'node-1', 1,
         '10.203.0.1', '10.203.0.1', 'DaemonSet', 'aws-node', 'aws-node', '10.203.0.1', 'Running'
  FROM flow;
INSERT INTO owner(flow_id, method, pid, comm, seen_us)
  SELECT id, 'sock_diag', 777, 'curl', first_us FROM flow WHERE id NOT IN ($INNER, $OUTER, $KEEP, $HRR)
    AND client_ip = '10.203.0.1' AND server_ip = '10.203.0.10' ORDER BY first_us DESC LIMIT 1;
$(for k in a:0 b:1; do cat <<EOS
INSERT INTO attribution(event_id, verdict, confidence, owner_kind, owner_key, pod_namespace, pod_name,
                        pod_uid, node_ip, flow_id, request_id, request_us, skew_us, reasons, detail)
  SELECT 'tl-event-${k%:*}', 'attributed', 0.9, 'pod', 'pod:kube-system/' || $POD, 'kube-system', $POD,
         'uid-agent', '10.203.0.1', $OUTER, r.id, r.ts_us, 400000,
         '["burst in window","SNI = host header","NAT link to pod IP"]', '{}'
  FROM request r WHERE r.flow_id = $OUTER ORDER BY r.ts_us LIMIT 1 OFFSET ${k#*:};
EOS
done)
INSERT INTO attribution(event_id, verdict, confidence, owner_kind, owner_key, pid, comm, node_ip,
                        flow_id, request_id, request_us, skew_us, reasons)
  SELECT 'tl-event-e', 'attributed', 0.8, 'process', 'process:aws-cli[4242]', 4242, 'aws-cli',
         '10.203.0.1', $HRR, r.id, r.ts_us, -200000, '["live attribution"]'
  FROM request r WHERE r.flow_id = $HRR;
INSERT INTO attribution(event_id, verdict, confidence, reasons)
  VALUES ('tl-event-c', 'unmatched', 0, '["source IP 10.0.9.9 never seen in the capture"]');
INSERT INTO attribution(event_id, verdict, confidence, flow_id, request_id, request_us, reasons)
  SELECT 'tl-event-d', 'ambiguous', 0.4, $KEEP, r.id, r.ts_us, '["two owners score alike"]'
  FROM request r WHERE r.flow_id = $KEEP ORDER BY r.ts_us LIMIT 1;
EOF
ok $? "hand-made attribution, pod, owner and NAT rows"

# the capture window, for --since/--until
SINCE=$(sqlite3 "$DB" "SELECT (min(first_us) / 1000000) - 120 FROM flow")
UNTIL=$(sqlite3 "$DB" "SELECT (max(last_us) / 1000000) + 10 FROM flow")

# ---- text ----
"$CALLERID" timeline --db "$DB" >"$W/t.txt" 2>"$W/t.err"; rc=$?
[ $rc = 0 ] && [ ! -s "$W/t.err" ]; ok $? "text: exits 0, nothing on stderr"
$PY text "$W/t.txt" >"$W/t.chk"
! grep -q '^bad' "$W/t.chk" && has 'ok order' "$W/t.chk"; ok $? "text: header, items time-ordered within each lane, no raw ESC"
[ "$(grep '^lane ' "$W/t.chk" | tail -1)" = "lane unattributed" ]; ok $? "text: unattributed lane last"
grep -q '^lane pod:kube-system/agent-<script>alert("pod")</script>'"'x'"'\\x1b\[31m$' "$W/t.chk"
ok $? "text: pod lane header with the ESC byte shown as \\x1b"
for l in 'process:curl[777]' 'process:aws-cli[4242]' 'host:10.203.0.1' 'host:fd00:203::1'; do
	grep -qxF "lane $l" "$W/t.chk"; ok $? "text: lane $l"
done
has 'sni=evil<script>alert("sni")</script>'"'q'"'\x1b[2J.example' "$W/t.txt"; ok $? "text: hostile SNI escaped"
has 'event      DescribeTags error=Client.UnauthorizedOperation src=10.203.0.1 verdict=attributed conf=0.90 id=tl-event-a' "$W/t.txt"
ok $? "text: attributed event line"
awk '/^== /{lane=$2} / match /{print lane}' "$W/t.txt" | sort -u >"$W/matchlanes"
grep -q '^pod:' "$W/matchlanes" && grep -q '^unattributed' "$W/matchlanes"; ok $? "text: match lines in the owner's lane and, for the ambiguous event, in unattributed"

# ---- JSON ----
"$CALLERID" timeline --db "$DB" --format json >"$W/t.json" 2>"$W/j.err"; rc=$?
[ $rc = 0 ]; ok $rc "json: exits 0"
$PY json "$W/t.json" >"$W/j.chk"
! grep -q '^bad' "$W/j.chk" && has 'ok parsed' "$W/j.chk" && has 'ok fields' "$W/j.chk" && has 'ok order' "$W/j.chk"
ok $? "json: every line parses, documented fields present, grouped and time-ordered, no raw ESC"
has 'types event flow_close flow_open match request snapshot' "$W/j.chk"; ok $? "json: all six item types"
PODLANE='"pod:kube-system/agent-<script>alert(\"pod\")</script>'"'x'"'\u001b[31m"'
has "event tl-event-a lane=$PODLANE verdict=attributed" "$W/j.chk" && has "event tl-event-b lane=$PODLANE verdict=attributed" "$W/j.chk"
ok $? "json: attributed events in the pod's lane"
has 'event tl-event-c lane="unattributed" verdict=unmatched' "$W/j.chk" && has 'event tl-event-d lane="unattributed" verdict=ambiguous' "$W/j.chk"
ok $? "json: unmatched and ambiguous events unattributed"
has 'event 00000000-0000-4000-8000-000000000000 lane="unattributed" verdict=None' "$W/j.chk"; ok $? "json: uncorrelated event unattributed, verdict null"
has 'match tl-event-d request_lane="host:10.203.0.1"' "$W/j.chk" && has "match tl-event-a request_lane=$PODLANE" "$W/j.chk"
ok $? "json: match names the burst's lane"
[ "$(grep -cF " lane=$PODLANE sni=" "$W/j.chk")" = 2 ]; ok $? "json: NAT-linked inner and outer flows both in the pod lane"
has "snapshot lane=$PODLANE hostnet=False" "$W/j.chk" && has 'snapshot lane="host:10.203.0.1" hostnet=True' "$W/j.chk"
ok $? "json: pod snapshot in its lane, hostNetwork pod in the node's host lane"
has 'ok ua keeps the ESC character as data' "$W/j.chk"; ok $? "json: user agent ESC escaped as \\u001b"
grep -q '"reasons":\["burst in window","SNI = host header","NAT link to pod IP"\]' "$W/t.json"; ok $? "json: reasons array"

"$CALLERID" timeline --db "$DB" --format json --since "$SINCE" --until "$UNTIL" >"$W/w.json"; rc=$?
[ $rc = 0 ] && ! grep -q '"time":"2024-' "$W/w.json" && grep -q '"event_id":"tl-event-a"' "$W/w.json"
ok $? "--since/--until: only the capture window"
"$CALLERID" timeline --db "$DB" --format json --until 2024-05-01T12:02:30Z >"$W/u.json"
[ "$(grep -c '"type":"event"' "$W/u.json")" = 3 ] && [ "$(grep -vc '"type":"event"' "$W/u.json")" = 0 ]
ok $? "--until ISO-8601: the three earliest events only"

# ---- -o ----
"$CALLERID" timeline --db "$DB" -o "$W/out.txt"; rc=$?
[ $rc = 0 ] && cmp -s "$W/out.txt" "$W/t.txt" && [ "$(stat -c %a "$W/out.txt")" = 600 ]
ok $? "-o FILE: same output, created 0600"
echo keep >"$W/target"
ln -s "$W/target" "$W/link"
"$CALLERID" timeline --db "$DB" -o "$W/link" >/dev/null 2>"$W/o.err"; rc=$?
[ $rc = 1 ] && has 'symbolic link' "$W/o.err" && [ "$(cat "$W/target")" = keep ]; ok $? "-o refuses a symbolic link"

# ---- HTML ----
"$CALLERID" timeline --db "$DB" --format html --since "$SINCE" --until "$UNTIL" -o "$W/t.html"; rc=$?
ok $rc "html: exits 0"
$PY html "$W/t.html" >"$W/h.chk"
cat "$W/h.chk" | sed 's/^/# /'
! grep -q '^bad' "$W/h.chk" && has 'ok balanced' "$W/h.chk" && has 'ok xml root=html' "$W/h.chk"
ok $? "html: well-formed (strict balance, parses as XML), no raw ESC"
has 'ok self-contained' "$W/h.chk"; ok $? "html: self-contained (no URL, script, link, image)"
has 'ok hostile strings shown as text' "$W/h.chk" && ! grep -q '<script>' "$W/t.html"; ok $? "html: hostile strings escaped"
grep -q '^tags .*circle.*path.*polygon.*rect.*svg.*table' "$W/h.chk" && [ "$(sed -n 's/^titles //p' "$W/h.chk")" -gt 20 ]
ok $? "html: SVG marks with hover titles, tables"
"$CALLERID" timeline --db "$DB" --format html >"$W/all.html"; rc=$?
$PY html "$W/all.html" >"$W/all.chk"; [ $rc = 0 ] && has "ok balanced" "$W/all.chk"; ok $? "html: whole database (two years apart) still well-formed"

CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$CHROME" ]; then
	skip "chromium renders the page" "chromium not installed (scripts/deps.sh installs it)"
	skip "chromium screenshot" "chromium not installed"
else
	run_chrome() {
		prof=$(mktemp -d "$W/chrome.XXXXXX")
		timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
			--no-first-run --disable-component-update --disable-sync --disable-extensions \
			--user-data-dir="$prof" "$@" 2>>"$W/chrome.err"
	}
	run_chrome --dump-dom "file://$W/t.html" >"$W/dom.html"; rc=$?
	[ $rc = 0 ] && has 'host:10.203.0.1' "$W/dom.html" && has 'process:curl[777]' "$W/dom.html" &&
		has 'unattributed' "$W/dom.html" && has '<svg' "$W/dom.html"
	ok $? "chromium renders the page: DOM has the lanes and the SVG"
	run_chrome --window-size=1500,1200 --screenshot="$W/t.png" "file://$W/t.html" >/dev/null; rc=$?
	size=$(stat -c %s "$W/t.png" 2>/dev/null || echo 0)
	[ $rc = 0 ] && [ "$size" -gt 30000 ]; ok $? "chromium screenshot: $size bytes"
	[ -n "${TIMELINE_KEEP:-}" ] && cp "$W/t.png" "$W/t.html" "$TIMELINE_KEEP/" 2>/dev/null
fi
echo "1..$n"
