#!/bin/sh
# Per-flow TLS results against tshark, Arkime, Suricata and FoxIO expected
# values for the captures in ../shared/data. Skipped when it is absent.
DATA=${CALLERID_SHARED_DATA:-../shared/data}
if [ ! -d "$DATA" ]; then
	echo "ok 1 - peer comparison # SKIP $DATA not present"
	exit 0
fi
mkdir -p "$TMPROOT/peer"
exec python3 tests/peer/peer.py "$CALLERID" "$DATA" "$TMPROOT/peer"
