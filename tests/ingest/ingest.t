#!/bin/sh
# callerid ingest / events over the small CloudTrail files in tests/ingest/data
# (all three formats, gzip, duplicates, digest, hostile files) and the real
# samples in ../shared/data/cloudtrail (skipped when absent). TAP output.
set -u
D=tests/ingest/data
W=$TMPROOT/ingest.$$
mkdir -p "$W"
DB=$W/t.db
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
q() { sqlite3 "$DB" "$1"; }
have_sqlite=1; command -v sqlite3 >/dev/null 2>&1 || have_sqlite=0

"$CALLERID" ingest --db "$DB" --format json "$D/s3-delivery.json" >"$W/o1" 2>"$W/e1"; rc=$?
ok $rc "S3 delivery file ingests"
grep -q '"records":7,"inserted":6,"duplicates":1' "$W/o1"; ok $? "7 records, 6 new, 1 duplicate eventID"

"$CALLERID" ingest --db "$DB" --format json "$D/lookup-events.json" >"$W/o2" 2>&1
grep -q '"records":3,"inserted":3' "$W/o2"; ok $? "lookup-events: two concatenated pages, 3 records"

"$CALLERID" ingest --db "$DB" --format json "$D/111122223333_CloudTrail_us-east-1_20240501T1205Z_abc.json.gz" >"$W/o3" 2>&1
grep -q '"inserted":2' "$W/o3"; ok $? "gzip S3 file"

"$CALLERID" ingest --db "$DB" --format json "$D/lines.jsonl" >"$W/o4" 2>"$W/e4"; rc=$?
[ $rc = 1 ]; ok $? "JSON lines with bad lines exits 1"
grep -q '"inserted":3' "$W/o4" && grep -q '"bad":3' "$W/o4"; ok $? "JSON lines: 3 good stored, 3 bad reported"
grep -q 'lines.jsonl: record 4: eventName: expected a string, got object' "$W/e4"; ok $? "wrong type named with file and record"
grep -q 'lines.jsonl: record 5: eventTime' "$W/e4"; ok $? "impossible date rejected"

"$CALLERID" ingest --db "$DB" --format json "$D/truncated.json.gz" >"$W/o5" 2>"$W/e5"; rc=$?
[ $rc = 1 ] && grep -q 'truncated gzip' "$W/e5" && grep -q '"inserted":7' "$W/o5"; ok $? "truncated gzip: error with offset, 7 records before the cut kept"

"$CALLERID" ingest --db "$DB" --format json "$D/digest.json" >"$W/o6" 2>"$W/e6"; rc=$?
[ $rc = 0 ] && grep -q '"digests":1' "$W/o6"; ok $? "digest file recognised and skipped"

"$CALLERID" ingest --db "$DB" --format json "$D/not-json.txt" "$D/not-cloudtrail.json" "$D/s3-delivery.json" >"$W/o7" 2>"$W/e7"; rc=$?
[ $rc = 1 ] && grep -q 'not-cloudtrail.json: JSON but not CloudTrail' "$W/e7" && grep -q '"duplicates":7' "$W/o7"; ok $? "bad files reported, others still ingested"

mkdir -p "$W/tree/AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01"
cp "$D/111122223333_CloudTrail_us-east-1_20240501T1205Z_abc.json.gz" "$W/tree/AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/"
cp "$D/s3-delivery.json" "$W/tree/AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/x.json"
"$CALLERID" ingest --db "$W/tree.db" --format json "$W/tree" >"$W/o8" 2>&1
grep -q '"files":2,"failed":0,"digests":0,"records":9,"inserted":8' "$W/o8"; ok $? "directory tree walked"

"$CALLERID" ingest --db "$W/f.db" --format json --since 2024-05-01T12:01:00Z --until 2024-05-01T12:04:00Z --event-name DescribeTags "$D/s3-delivery.json" >"$W/o9" 2>&1
grep -q '"inserted":2,"duplicates":1,"filtered":4' "$W/o9"; ok $? "--since/--until/--event-name filter at ingest"

if [ $have_sqlite = 1 ]; then
	[ "$(q "select count(*) from event")" = 21 ]; ok $? "21 distinct events stored"
	[ "$(q "select source_ip from event where event_id like '%000000000003'")" = "2600:1f18:abcd:1::5" ]; ok $? "IPv6 source address kept"
	[ "$(q "select invoked_by||'|'||source_ip||'|'||coalesce(tls_version,'NULL')||'|'||time_us from event where event_id like '%000000000004'")" = "secretsmanager.amazonaws.com|secretsmanager.amazonaws.com|NULL|1714565070250000" ]
	ok $? "AWS-service source, invokedBy, missing tlsDetails, fractional time"
	[ "$(q "select json_extract(session_tags,'\$.kubernetes-pod-name') from event where event_id like '%000000000005'")" = agent-x ]; ok $? "EKS Pod Identity session tags"
	[ "$(q "select tls_version||' '||cipher||' '||host_header||' '||vpce||' '||read_only||' '||session_issuer_name||' '||ec2_role_delivery from event where event_id like '%000000000000'")" = "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 ec2.us-east-1.amazonaws.com vpce-1a2b3c 1 eks-worker-role 2.0" ]
	ok $? "tlsDetails, vpce, readOnly, session issuer, ec2RoleDelivery columns"
	[ "$(q "select origin from event where event_id like '%000000000002'")" = "$D/s3-delivery.json#3" ]; ok $? "origin is path#record"
	[ "$(q "select json_extract(request_params,'\$.filterSet.items[0].name') from event where event_id like '%000000000000'")" = resource-id ]; ok $? "requestParameters kept as JSON"
else
	for i in 1 2 3 4 5 6 7; do n=$((n + 1)); echo "ok $n - column check # SKIP sqlite3 CLI absent"; done
fi

"$CALLERID" events --db "$DB" --error-code Client.UnauthorizedOperation --format json >"$W/l1"; rc=$?
[ $rc = 0 ] && [ "$(wc -l <"$W/l1")" -eq 11 ]; ok $? "events --error-code lists 11"
"$CALLERID" events --db "$DB" --arn-like eks-worker-role --source-ip 10.0.1.11 --format csv >"$W/l2"
[ "$(grep -c DescribeTags "$W/l2")" -ge 1 ]; ok $? "events --arn-like substring, --source-ip, csv"
"$CALLERID" events --db "$DB" --summary --format json >"$W/s1"; rc=$?
[ $rc = 0 ] && head -1 "$W/s1" | grep -q '"type":"summary","events":21'; ok $? "summary JSON header"
grep '"section":"error_pattern"' "$W/s1" | grep -q '"name":"DescribeTags","role":"arn:aws:iam::111122223333:role/eks-worker-role","user_agent":"rusoto/0.47.0 rust/1.62.0 linux","vpce":"vpce-1a2b3c"},"count":11'
ok $? "summary names the DescribeTags error pattern"
grep '"section":"source_ip"' "$W/s1" | grep -q '"median_interval_s":'; ok $? "summary has median interval per source IP"
grep -q '"shape":{"filterSet":{"items":\[{"name":"string","valueSet":{"items":\[{"value":"string"}\]}}\]}}' "$W/s1"; ok $? "summary requestParameters shape"
"$CALLERID" events --db "$DB" --summary >"$W/s2"; rc=$?
[ $rc = 0 ] && grep -q 'error patterns' "$W/s2"; ok $? "summary table form"
"$CALLERID" events --db "$DB" --bogus >/dev/null 2>&1; [ $? = 2 ]; ok $? "usage error exits 2"

S=../shared/data/cloudtrail
if [ -d "$S/stratus-red-team" ]; then
	mkdir -p "$W/strat"
	for f in "$S"/stratus-red-team/*.json; do { printf '{"Records":'; cat "$f"; printf '}'; } >"$W/strat/$(basename "$f")"; done
	"$CALLERID" ingest --db "$W/s.db" --format json "$W/strat" "$S"/elastic-integrations/*.log >"$W/r1" 2>"$W/re1"; rc=$?
	[ $rc = 0 ] && grep -q '"failed":0' "$W/r1"; ok $? "stratus-red-team samples (wrapped) and elastic NDJSON ingest cleanly"
	"$CALLERID" events --db "$W/s.db" --summary --format json >"$W/r2"
	grep '"section":"error_code"' "$W/r2" | grep -q '"error_code":"Client.UnauthorizedOperation"},"count":46'; ok $? "samples: 46 Client.UnauthorizedOperation (30+15+1)"
	if command -v jq >/dev/null 2>&1; then
		for f in "$S"/panther-analysis/*.json; do jq -c '.Tests[].Log | select(.eventID != null)' "$f"; done >"$W/panther.jsonl" 2>/dev/null
		"$CALLERID" ingest --db "$W/p.db" --format json "$W/panther.jsonl" >"$W/r3" 2>"$W/re3"
		grep -q '"inserted":[1-9]' "$W/r3"; ok $? "panther test events as JSON lines"
	else
		n=$((n + 1)); echo "ok $n - panther samples # SKIP jq absent"
	fi
else
	for i in 1 2 3; do n=$((n + 1)); echo "ok $n - real samples # SKIP ../shared/data absent"; done
fi
echo "1..$n"
