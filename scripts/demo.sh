#!/bin/sh
# `make demo`: the offline pipeline on real captures from captures/.
# Reads the captures into a fresh database, lists the TLS flows with their
# request bursts, then loads the demo CloudTrail records and prints the
# investigator's summary. (The correlator that names the caller from these
# is the next step of the project; see the README.)
set -eu
CALLERID=${CALLERID:-build/rel/callerid}
cd "$(dirname "$0")/.."
DB=$(mktemp -d "${TMPDIR:-/tmp}/callerid-demo.XXXXXX")/demo.db
trap 'rm -rf "$(dirname "$DB")"' EXIT INT TERM

echo "== callerid read: a pod behind SNAT and a hostNetwork client, captured with tcpdump -i any"
"$CALLERID" read --db "$DB" captures/pod-snat-sll2.pcap captures/tls13-keepalive-sll2.pcap captures/tls12-sll2.pcap
echo
echo "== callerid flows: what was stored"
"$CALLERID" flows --db "$DB"
if [ -d captures/cloudtrail ]; then
	echo
	echo "== callerid ingest: the CloudTrail files for the same window"
	"$CALLERID" ingest --db "$DB" captures/cloudtrail
	echo
	echo "== callerid events --summary"
	"$CALLERID" events --db "$DB" --summary
fi
