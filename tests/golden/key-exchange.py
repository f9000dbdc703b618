#!/usr/bin/env python3
"""Writes the CloudTrail records of an AWSLogs tree as JSON lines, with
tlsDetails.keyExchange set by tlsVersion: key-exchange.py DIR TLSv1.2=secp256r1 ...
The scenario captures' records were written before keyExchange was recorded;
this gives a golden test events whose keyExchange agrees, or not, with the
group the flows negotiated (tshark: x25519 for every flow there)."""
import glob
import gzip
import json
import os
import sys

root, pairs = sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:])
recs = []
for path in sorted(glob.glob(os.path.join(root, "**", "*.json.gz"), recursive=True)):
    with gzip.open(path, "rt") as f:
        recs.extend(json.load(f)["Records"])
for r in sorted(recs, key=lambda r: (r["eventTime"], r["eventID"])):
    tls = r.get("tlsDetails") or {}
    if tls.get("tlsVersion") in pairs:
        tls["keyExchange"] = pairs[tls["tlsVersion"]]
    print(json.dumps(r, separators=(",", ":")))
