#!/bin/sh
# Per-flow TLS results against tshark, Arkime, Suricata and FoxIO expected
# values for the captures in ../shared/data (skipped when it is absent),
# and the TLS <= 1.2 ServerKeyExchange curves against tshark run here for
# those and for captures/ (skipped without tshark).
DATA=${CALLERID_SHARED_DATA:-../shared/data}
mkdir -p "$TMPROOT/peer"
exec python3 tests/peer/peer.py "$CALLERID" "$DATA" "$TMPROOT/peer"
