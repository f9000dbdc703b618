#!/bin/sh
# `make demo`: the incident of ORIGIN.md, replayed from captures/demo.
# A real capture (tcpdump -i any on a lab node), the CloudTrail files the
# calls produced, and kubectl snapshots go through read -> ingest -> k8s ->
# correlate, and the summary names who called DescribeTags.
set -eu
CALLERID=${CALLERID:-build/rel/callerid}
cd "$(dirname "$0")/.."
D=captures/demo
TMP=$(mktemp -d "${TMPDIR:-/tmp}/callerid-demo.XXXXXX")
DB=$TMP/demo.db
trap 'rm -rf "$TMP"' EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "1. read the node's capture (tcpdump -i any, SLL2): flows, TLS, request bursts" \
	"callerid read --db demo.db $D/capture.pcap"
"$CALLERID" read --db "$DB" "$D/capture.pcap"
step "2. ingest the CloudTrail files for the same minutes" "callerid ingest --db demo.db $D/cloudtrail"
"$CALLERID" ingest --db "$DB" "$D/cloudtrail"
step "3. what CloudTrail alone says (the Athena step of the story)" \
	"callerid events --db demo.db --summary --error-code Client.UnauthorizedOperation --top 3"
"$CALLERID" events --db "$DB" --summary --error-code Client.UnauthorizedOperation --top 3
step "4. load the kubectl snapshots" "callerid k8s --db demo.db $D/k8s/pods.json $D/k8s/nodes.json"
"$CALLERID" k8s --db "$DB" "$D/k8s/pods.json" "$D/k8s/nodes.json"
step "5. name the caller of every unauthorized DescribeTags" \
	"callerid correlate --db demo.db --event-name DescribeTags"
"$CALLERID" correlate --db "$DB" --event-name DescribeTags
step "6. and of every call in the window" "callerid correlate --db demo.db"
"$CALLERID" correlate --db "$DB" | sed -n '/ events: /,$p'
if "$CALLERID" timeline --help >/dev/null 2>&1; then
	"$CALLERID" timeline --db "$DB" --format html -o "$TMP/timeline.html" &&
		echo "(the timeline: callerid timeline --db demo.db --format html -o timeline.html)"
fi
