#!/usr/bin/env python3
"""Helpers for tests/timeline/timeline.t (standard library only).

  tl_check.py events DB OUT      write CloudTrail JSON lines for the
                                 hand-made situation, timed from the
                                 bursts that `callerid read` stored in DB
  tl_check.py json FILE          every line is a JSON object with the
                                 documented fields; prints facts, one a line
  tl_check.py text FILE          lanes and time order of the text format
  tl_check.py html FILE          well-formed (strict tag balance and XML),
                                 self-contained; prints facts

Each check prints "ok <fact>" / "bad <reason>" lines; the .t file greps them.
"""
import datetime
import html.parser
import json
import re
import sqlite3
import sys
import xml.etree.ElementTree as ET

ESC = "\x1b"


def iso(us):
    t = datetime.datetime.fromtimestamp(us // 1000000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def record(eid, us, name, src_ip, ua, error=None):
    r = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/eks-worker-role/i-0abc",
            "accountId": "111122223333",
        },
        # CloudTrail times are whole seconds, after the call completed
        "eventTime": iso(us + 1000000),
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": src_ip,
        "userAgent": ua,
        "requestParameters": None,
        "responseElements": None,
        "eventID": eid,
        "readOnly": True,
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
        "eventCategory": "Management",
    }
    if error:
        r["errorCode"] = error
        r["errorMessage"] = "You are not authorized to perform this operation."
    return r


def cmd_events(db, out):
    c = sqlite3.connect(db)
    q = lambda s: c.execute(s).fetchone()
    inner = q("SELECT id FROM flow WHERE client_ip = '10.204.1.2'")[0]
    port = q("SELECT client_port FROM flow WHERE id = %d" % inner)[0]
    outer = q("SELECT id FROM flow WHERE client_ip = '10.203.0.1' AND client_port = %d" % port)[0]
    b1, b2 = [r[0] for r in c.execute(
        "SELECT ts_us FROM request WHERE flow_id = %d ORDER BY ts_us" % outer)]
    hrr = q("SELECT r.ts_us FROM request r JOIN tls t ON t.flow_id = r.flow_id"
            " WHERE t.sni LIKE 'sts.%' OR t.sni LIKE 'evil%'")[0]
    keep = q("SELECT min(r.ts_us) FROM request r JOIN flow f ON f.id = r.flow_id"
             " WHERE f.server_ip = '10.203.0.11' AND f.end_reason = 'rst'")[0]
    ua = 'agent/1.0 <script>alert("ua")</script> \'q\' ' + ESC + "[31mred"
    recs = [
        record("tl-event-a", b1, "DescribeTags", "10.203.0.1", ua, "Client.UnauthorizedOperation"),
        record("tl-event-b", b2, "DescribeTags", "10.203.0.1", ua, "Client.UnauthorizedOperation"),
        record("tl-event-c", keep + 3000000, "DescribeInstances", "10.0.9.9", "aws-cli/2.15"),
        record("tl-event-d", keep, "DescribeTags", "10.203.0.1", "aws-sdk-go/1.44"),
        record("tl-event-e", hrr, "GetCallerIdentity", "10.203.0.1", "aws-cli/2.15"),
    ]
    with open(out, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")


FIELDS = {
    "event": ["event_id", "name", "source", "error_code", "error_message", "source_ip",
              "user_agent", "arn", "verdict", "confidence", "flow_id", "request_id",
              "request_time", "skew_us", "reasons"],
    "flow_open": ["flow_id", "client", "server", "sni", "tls_version", "cipher", "alpn",
                  "close_time"],
    "flow_close": ["flow_id", "client", "server", "end_reason", "open_time", "duration_us",
                   "c2s_pkts", "c2s_bytes", "s2c_pkts", "s2c_bytes"],
    "request": ["request_id", "flow_id", "answer_time", "c2s_bytes", "s2c_bytes", "event_id",
                "verdict"],
    "match": ["event_id", "name", "event_time", "request_id", "flow_id", "request_lane",
              "verdict", "confidence", "skew_us"],
    "snapshot": ["namespace", "name", "uid", "pod_ip", "node", "host_ip", "host_network",
                 "phase", "controller", "service_account"],
}


def cmd_json(path):
    raw = open(path, "rb").read()
    if b"\x1b" in raw:
        print("bad raw ESC byte in JSON output")
    objs = []
    for n, line in enumerate(raw.decode("utf-8").splitlines(), 1):
        try:
            o = json.loads(line)
        except ValueError as e:
            print("bad line %d does not parse: %s" % (n, e))
            return
        if not isinstance(o, dict):
            print("bad line %d is not an object" % n)
            return
        objs.append(o)
    print("ok parsed %d" % len(objs))
    for o in objs:
        want = ["type", "lane", "lane_kind", "time", "time_us"] + FIELDS.get(o.get("type"), ["?"])
        missing = [k for k in want if k not in o]
        if missing:
            print("bad %s item lacks %s" % (o.get("type"), missing))
            return
    print("ok fields")
    # grouped by lane, time-ordered inside a lane, unattributed last
    lanes, last = [], None
    for o in objs:
        if not lanes or lanes[-1] != o["lane"]:
            if o["lane"] in lanes:
                print("bad lane %r is split" % o["lane"])
                return
            lanes.append(o["lane"])
            last = None
        if last is not None and o["time_us"] < last:
            print("bad time goes back in lane %r" % o["lane"])
            return
        last = o["time_us"]
    print("ok order")
    if lanes and "unattributed" in lanes and lanes[-1] != "unattributed":
        print("bad unattributed lane is not last")
    for ln in lanes:
        print("lane " + json.dumps(ln))
    for o in objs:
        t = o["type"]
        if t == "event":
            print("event %s lane=%s verdict=%s" % (o["event_id"], json.dumps(o["lane"]), o["verdict"]))
            if ESC in (o["user_agent"] or ""):
                print("ok ua keeps the ESC character as data")
        elif t == "match":
            print("match %s request_lane=%s" % (o["event_id"], json.dumps(o["request_lane"])))
        elif t == "snapshot":
            print("snapshot lane=%s hostnet=%s" % (json.dumps(o["lane"]), o["host_network"]))
        elif t == "flow_open":
            print("flow_open %d lane=%s sni=%s" % (o["flow_id"], json.dumps(o["lane"]), json.dumps(o["sni"])))
        elif t == "request":
            print("request %d lane=%s event=%s" % (o["request_id"], json.dumps(o["lane"]), o["event_id"]))
    print("types " + " ".join(sorted({o["type"] for o in objs})))


def cmd_text(path):
    raw = open(path, "rb").read()
    if b"\x1b" in raw:
        print("bad raw ESC byte in text output")
    lines = raw.decode("utf-8").splitlines()
    if not lines or not lines[0].startswith("# callerid timeline"):
        print("bad header")
        return
    lanes, last = [], None
    for ln in lines[1:]:
        if not ln:
            continue
        if ln.startswith("== "):
            lanes.append(ln[3:].rsplit(" (", 1)[0])
            last = None
            continue
        ts = ln.split(" ", 1)[0]
        if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", ts):
            print("bad item line %r" % ln)
            return
        if last is not None and ts < last:
            print("bad time goes back in lane %r" % lanes[-1])
            return
        last = ts
    print("ok order")
    for ln in lanes:
        print("lane " + ln)


class Strict(html.parser.HTMLParser):
    """Every element closed in order (XHTML style: void elements self-closed)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags, self.attrs = [], [], set(), []
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)
        self.tags.add(tag)
        self.attrs.extend(attrs)

    def handle_startendtag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.extend(attrs)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes <%s>" % (tag, self.stack[-1] if self.stack else ""))
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def cmd_html(path):
    raw = open(path, "rb").read()
    doc = raw.decode("utf-8")
    if b"\x1b" in raw:
        print("bad raw ESC byte in HTML")
    p = Strict()
    p.feed(doc)
    p.close()
    if p.errors or p.stack:
        print("bad balance: %s %s" % (p.errors[:3], p.stack))
    else:
        print("ok balanced")
    try:
        root = ET.fromstring(doc.split("\n", 1)[1] if doc.startswith("<!DOCTYPE") else doc)
        print("ok xml root=%s" % root.tag)
    except ET.ParseError as e:
        print("bad xml: %s" % e)
    low = doc.lower()
    bad = [w for w in ("http://", "https://", "<script", "<link", "<iframe", "<object",
                       "<embed", "<img", "@import", "url(") if w in low]
    urlattr = [a for a in p.attrs if a[0] in ("src", "href", "xlink:href", "action", "data")
               or (a[1] or "").lstrip().startswith("//")]
    if bad or urlattr:
        print("bad not self-contained: %s %s" % (bad, urlattr[:3]))
    else:
        print("ok self-contained")
    print("tags " + " ".join(sorted(p.tags)))
    print("titles %d" % doc.count("<title>"))
    text = "".join(p.text)
    for needle in ("unattributed", "host:10.203.0.1", "process:curl[777]", "process:aws-cli[4242]"):
        if needle in text:
            print("has " + needle)
    if '<script>alert("ua")</script>' in text and "\\x1b[31m" in text:
        print("ok hostile strings shown as text")


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: tl_check.py events|json|text|html ARGS")
    cmd = sys.argv[1]
    if cmd == "events":
        cmd_events(sys.argv[2], sys.argv[3])
    elif cmd == "json":
        cmd_json(sys.argv[2])
    elif cmd == "text":
        cmd_text(sys.argv[2])
    elif cmd == "html":
        cmd_html(sys.argv[2])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
