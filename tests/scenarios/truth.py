#!/usr/bin/env python3
"""Checks `callerid correlate --format json` against a scenario's truth.tsv.

truth.tsv: eventID <TAB> "pod:<ns>/<name>" or "hostnet:<ns>/<name>".
An event is right when it is attributed and its owner is the true pod, or,
for a hostNetwork caller, a host owner whose candidates include the true
pod (a capture cannot tell hostNetwork pods apart; live attribution can).
Prints TAP: one line per event, then the counts. Usage: truth.py TRUTH < JSON
"""
import json
import sys

truth = dict(l.rstrip("\n").split("\t")[:2] for l in open(sys.argv[1]) if l.strip())
n = 0
seen = set()
for line in sys.stdin:
    o = json.loads(line)
    if o.get("type") != "event":
        continue
    n += 1
    eid = o["event_id"]
    seen.add(eid)
    want = truth.get(eid)
    ow = o.get("owner") or {}
    pod = ow.get("pod")
    got = f"{pod['namespace']}/{pod['name']}" if pod else None
    if want is None:
        print(f"not ok {n} - {eid}: not in truth.tsv")
        continue
    kind, name = want.split(":", 1)
    if o["verdict"] != "attributed":
        print(f"not ok {n} - {eid} ({want}): {o['verdict']}: {'; '.join(o['reasons'])}")
        continue
    if kind == "pod":
        good = got == name
    else:
        good = got == name or (ow.get("kind") == "host" and name in ow.get("host_network_candidates", []))
    print(f"{'ok' if good else 'not ok'} {n} - {eid} {want} -> {ow.get('label')}")
missing = set(truth) - seen
for eid in sorted(missing):
    n += 1
    print(f"not ok {n} - {eid}: in truth.tsv but not correlated")
print(f"1..{n}")
