#!/bin/sh
# no-secrets.sh DIR: the fake IMDS credentials served while DIR/capture.pcap
# was made (DIR/capture.facts: fake_access_key_id, fake_secret_access_key,
# fake_token) are in the capture, yet appear nowhere in callerid's database
# files nor in the output of any command over it. Uses $CALLERID and $DB.
dir=$1
out="$DB.outputs"
{
	$CALLERID read --db "$DB" "$dir/capture.pcap"
	$CALLERID read --no-db --format json "$dir/capture.pcap"
	$CALLERID ingest --db "$DB" "$dir/cloudtrail.jsonl"
	$CALLERID k8s --db "$DB" "$dir/k8s/pods.json" "$dir/k8s/nodes.json"
	$CALLERID flows --db "$DB" --format json
	$CALLERID events --db "$DB" --summary
	$CALLERID correlate --db "$DB" --format json
	$CALLERID timeline --db "$DB" --format json
	$CALLERID timeline --db "$DB" --format html
	sqlite3 "$DB" .dump
} >"$out" 2>&1
for key in fake_access_key_id fake_secret_access_key fake_token; do
	val=$(sed -n "s/^$key=//p" "$dir/capture.facts")
	[ -n "$val" ] || { echo "$key: not in the facts"; continue; }
	grep -q -a -F "$val" "$dir/capture.pcap" && inpcap=yes || inpcap=no
	hits=$(cat "$DB" "$DB-wal" "$out" 2>/dev/null | grep -c -a -F "$val")
	echo "$key: in the capture: $inpcap; in the database and outputs: $hits"
done
rm -f "$out"
