#!/usr/bin/env python3
"""ct.py - hostile CloudTrail files for tests/hostile/cloudtrail.t.

Usage: ct.py DIR

Writes the files into DIR and DIR/MANIFEST, one line per file,
tab-separated:

    name  exit  event_ids  message  what

exit: the status `callerid ingest` must end with; event_ids: the eventIDs
that must be stored afterwards, comma-separated, sorted ("-" for none; "+"
for e0001..eNNNN, at least one: the records before a cut);
message: a regular expression one stderr line must match (the file's name
is checked separately; "-" when stderr must be empty); what: a
description. Also DIR/escapes.json: terminal escapes, markup and
spreadsheet formulas in the fields the listings print.

Records per the CloudTrail record contents reference (field names only);
gzip per RFC 1952.
"""
import gzip
import json
import os
import random
import sys


def rec(i, **kw):
    r = {"eventVersion": "1.09", "eventID": "e%04d" % i, "eventTime": "2024-05-01T12:00:%02dZ" % i,
         "eventName": "DescribeTags", "eventSource": "ec2.amazonaws.com", "awsRegion": "us-east-1",
         "sourceIPAddress": "10.0.1.11", "userAgent": "aws-cli/2.15.0",
         "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/node/i-0abc"}}
    r.update(kw)
    return r


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: ct.py DIR\n")
        return 2
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    manifest = []

    def write(name, data, exit_code, ids, msg, what):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        manifest.append((name, str(exit_code), ids, msg, what))

    def s3(*records):
        return '{"Records":[' + ",".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "]}"

    deep = "[" * 100000 + "]" * 100000
    write("deep-record.json", s3(rec(1), deep, rec(2)), 1, "e0001,e0002",
          r"record 2: nesting deeper than 256 levels \(byte [0-9]+\)", "100000 nested arrays as a record")
    inner = json.dumps(rec(3))[:-1] + ',"requestParameters":' + deep + "}"
    write("deep-field.json", s3(rec(1), inner, rec(2)), 1, "e0001,e0002",
          r"record 2: nesting deeper than 256 levels \(byte [0-9]+\)", "100000 nested arrays in requestParameters")
    write("deep-file.json", deep, 1, "-", r"record 1: nesting deeper than 256 levels \(byte 1\)",
          "a file of 100000 nested arrays")
    lines = "\n".join([json.dumps(rec(1)), inner, json.dumps(rec(2))]) + "\n"
    write("deep-lines.jsonl", lines, 1, "e0001,e0002", r"record 2: nesting deeper than 256 levels",
          "JSON lines with a deep line between good ones")
    write("huge-string.json", s3(rec(1), rec(4, userAgent="A" * (50 * 1024 * 1024)), rec(2)), 1, "e0001,e0002",
          r"record 2: record of [0-9]+ bytes exceeds the 8388608-byte cap", "a 50 MB userAgent")
    write("wrong-types.json", s3(rec(1), rec(5, eventName=5), rec(6, eventTime={"a": 1}), rec(7, eventID=None),
                                 rec(8, readOnly="maybe"), rec(9, userIdentity=[1]), rec(2)),
          1, "e0001,e0002,e0009", r"record 2: eventName: expected a string, got integer",
          "wrong types: eventName a number, eventTime an object, eventID null, readOnly a word")
    write("records-object.json", '{"Records":{"eventID":"x"}}', 1, "-", r'"Records" is not an array',
          "Records an object")
    write("records-string.json", '{"Records":"e0001"}', 1, "-", r'"Records" is not an array',
          "Records a string")
    write("records-null.json", '{"Records":null}', 1, "-", r'"Records" is not an array', "Records null")
    write("events-number.json", '{"Events":5}', 1, "-", r'"Events" is not an array',
          "lookup-events output whose Events is a number")
    write("plain.json.gz", s3(rec(1), rec(2)), 0, "e0001,e0002", "-",
          "plain JSON named .gz: the content decides")
    rnd = random.Random(8)
    write("garbage.json.gz", b"\x1f\x8b\x08\x00" + bytes(rnd.randrange(256) for _ in range(4096)), 1, "-",
          r"read error after [0-9]+ bytes", "gzip magic, then garbage")
    write("binary.gz", bytes(rnd.randrange(256) for _ in range(4096)).replace(b"\x1f\x8b", b"\x00\x00"), 1, "-",
          r"not JSON", "neither gzip nor JSON, named .gz")
    # random requestIDs: the cut leaves records before it to ingest
    g = gzip.compress(s3(*[rec(i, eventTime="2024-05-01T12:%02d:%02dZ" % (i // 60, i % 60),
                               requestID="%032x" % rnd.getrandbits(128)) for i in range(1, 500)]).encode())
    for frac in (3, 2):
        cut = len(g) * (frac - 1) // frac if frac == 2 else len(g) // 3
        write("trunc%d.json.gz" % frac, g[:cut], 1, "+",
              r"truncated gzip: compressed data ends at byte %d" % cut, "gzip cut at byte %d of %d" % (cut, len(g)))
    write("trunc-header.json.gz", g[:6], 1, "-", r"truncated gzip|read error", "gzip cut inside its header")

    esc = "\x1b[31mred\x1b[0m\x1b]0;title\x07\r\n\x9b2J<script>alert(1)</script>&'\""
    write("escapes.json", s3(rec(1, userAgent=esc + "ua", eventName="=cmd|' /C calc'!A0",
                                errorCode=esc + "code", errorMessage="+SUM(1)" + esc),
                            rec(2, userAgent="@SUM(1)", eventName="-2+3")),
          0, "e0001,e0002", "-", "terminal escapes, markup and formulas in printed fields")
    with open(os.path.join(d, "MANIFEST"), "w") as f:
        for m in manifest:
            f.write("\t".join(m) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
