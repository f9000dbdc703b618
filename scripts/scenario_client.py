#!/usr/bin/env python3
"""An AWS-SDK-shaped caller for the correlation scenarios (scripts/make-scenarios.sh).

It makes --calls EC2 Query API calls (HTTP/1.1 POST, form body with Action=...,
SigV4-shaped Authorization header) to the lab's endpoint addresses, sending
--sni as the TLS server name and the Host header, the way an SDK reaches a
VPC interface endpoint through private DNS. Two connection styles:

  --mode fresh      a new TCP+TLS connection per call (closed after the answer);
                    successive connections rotate over the --connect addresses
  --mode keepalive  one connection, opened --open-early seconds before the
                    first call, carries every call

With --imds URL the caller first takes credentials from the instance
metadata service the way an SDK's instance-profile provider does (IMDSv2 on
one keep-alive connection: PUT /latest/api/token with a TTL header, GET the
role list, GET .../security-credentials/<role>, every request with
--user-agent): the node role's credentials, fetched by a process that may
have its own (ORIGIN.md). The answer is checked and dropped, never logged;
the calls are still signed with --access-key-id, the key the lab's
CloudTrail generator knows (scripts/scenario_cloudtrail.py), so the fake
credentials the IMDS stand-in serves stay out of the CloudTrail records.

Call k (0-based) starts at --start-at + k * --interval (epoch seconds), so
several callers started separately can be interleaved or made to land in the
same seconds. Every request carries a fresh amz-sdk-invocation-id header
(inside TLS, invisible to a capture); one JSON line per call goes to --log
with that id and --caller, which is how the generator knows, afterwards, who
made each call the server logged (truth.tsv).

Usage: scenario_client.py --caller LABEL --connect IP[,IP...] --sni NAME
           --cafile CA --action NAME [--param K=V]... --user-agent UA
           --access-key-id AKID [--tls 1.2|1.3] [--ciphers LIST]
           [--mode fresh|keepalive] [--calls N] [--interval S]
           [--start-at EPOCH] [--open-early S] [--imds URL] --log FILE
Exits 1 when a call fails.
"""

import argparse
import datetime
import hashlib
import http.client
import json
import socket
import ssl
import sys
import time
import urllib.parse
import uuid

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
EC2_API_VERSION = "2016-11-15"


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with SNI and Host taken from `host`."""

    def __init__(self, host, addr, ctx, port):
        super().__init__(host, port=port, context=ctx, timeout=15)
        self._addr = addr
        self._ctx = ctx

    def connect(self):
        sock = socket.create_connection((self._addr, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


def sleep_until(t):
    while True:
        d = t - time.time()
        if d <= 0:
            return
        time.sleep(min(d, 0.5))


def headers_for(args, body, now):
    """SigV4-shaped headers (AWS General Reference, "Signature Version 4").
    The signature is a stand-in (nobody verifies it in the lab): a SHA-256
    over the body and the date, hex encoded like a real one."""
    amzdate = now.strftime("%Y%m%dT%H%M%SZ")
    scope = "%s/%s/%s/ec2/aws4_request" % (args.access_key_id, now.strftime("%Y%m%d"),
                                          args.region)
    sig = hashlib.sha256(body + amzdate.encode()).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "User-Agent": args.user_agent,
        "X-Amz-Date": amzdate,
        "X-Amz-Security-Token": "lab-session-token-not-a-secret",
        "amz-sdk-invocation-id": str(uuid.uuid4()),
        "amz-sdk-request": "attempt=1; max=3",
        "Authorization": "AWS4-HMAC-SHA256 Credential=%s, "
                         "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "
                         "Signature=%s" % (scope, sig),
    }


def imds_credentials(base, user_agent):
    """IMDSv2 credential fetch (EC2 User Guide, "Retrieve security credentials
    from instance metadata"). Returns the role name; raises on any failure."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=5)
    try:
        conn.request("PUT", "/latest/api/token",
                     headers={"User-Agent": user_agent,
                              "X-aws-ec2-metadata-token-ttl-seconds": "21600"})
        resp = conn.getresponse()
        token = resp.read().decode()
        if resp.status != 200:
            raise OSError("IMDS token: HTTP %d" % resp.status)
        hdrs = {"User-Agent": user_agent, "X-aws-ec2-metadata-token": token}
        base_path = "/latest/meta-data/iam/security-credentials/"
        conn.request("GET", base_path, headers=hdrs)
        resp = conn.getresponse()
        roles = resp.read().decode().split()
        if resp.status != 200 or not roles:
            raise OSError("IMDS role list: HTTP %d" % resp.status)
        conn.request("GET", base_path + roles[0], headers=hdrs)
        resp = conn.getresponse()
        doc = json.loads(resp.read())
        if resp.status != 200 or doc.get("Code") != "Success" or not doc.get("AccessKeyId"):
            raise OSError("IMDS credentials of %s: HTTP %d" % (roles[0], resp.status))
        return roles[0]
    finally:
        conn.close()


def one_call(conn, args, body, k, log):
    now = datetime.datetime.now(datetime.timezone.utc)
    hdrs = headers_for(args, body, now)
    t0 = time.time()
    conn.request("POST", "/", body=body, headers=hdrs)
    resp = conn.getresponse()
    resp.read()
    t1 = time.time()
    local = conn.sock.getsockname()
    peer = conn.sock.getpeername()
    rec = {
        "caller": args.caller, "call": k, "invocation_id": hdrs["amz-sdk-invocation-id"],
        "action": args.action, "start": t0, "end": t1, "status": resp.status,
        "local": "%s:%d" % (local[0], local[1]), "remote": "%s:%d" % (peer[0], peer[1]),
        "tls_version": conn.sock.version(), "cipher": conn.sock.cipher()[0],
        "mode": args.mode,
    }
    log.write(json.dumps(rec, sort_keys=True) + "\n")
    log.flush()
    return resp.status == 200


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--caller", required=True, help="truth label, e.g. pod:default/app-x")
    ap.add_argument("--connect", required=True, help="endpoint address(es), comma-separated")
    ap.add_argument("--sni", required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--action", required=True)
    ap.add_argument("--param", action="append", default=[], help="K=V form parameter")
    ap.add_argument("--user-agent", required=True)
    ap.add_argument("--access-key-id", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--tls", choices=VERSIONS)
    ap.add_argument("--ciphers")
    ap.add_argument("--mode", choices=("fresh", "keepalive"), default="fresh")
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--start-at", type=float, default=0.0)
    ap.add_argument("--open-early", type=float, default=0.0)
    ap.add_argument("--imds", help="IMDS base URL: fetch the node role's credentials first")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()

    ctx = ssl.create_default_context(cafile=args.cafile)
    if args.tls:
        ctx.minimum_version = ctx.maximum_version = VERSIONS[args.tls]
    if args.ciphers:
        ctx.set_ciphers(args.ciphers)
    ctx.set_alpn_protocols(["http/1.1"])

    form = [("Action", args.action), ("Version", EC2_API_VERSION)]
    for p in args.param:
        k, _, v = p.partition("=")
        form.append((k, v))
    body = urllib.parse.urlencode(form).encode()
    addrs = args.connect.split(",")
    start = args.start_at or time.time()
    ok = True
    with open(args.log, "a", encoding="utf-8") as log:
        try:
            conn = None
            if args.imds:
                role = imds_credentials(args.imds, args.user_agent)
                print("scenario_client %s: IMDSv2 credentials of role %s fetched at %.6f"
                      % (args.caller, role, time.time()), file=sys.stderr)
            if args.mode == "keepalive":
                sleep_until(start - args.open_early)
                conn = PinnedHTTPSConnection(args.sni, addrs[0], ctx, args.port)
                conn.connect()
            for k in range(args.calls):
                sleep_until(start + k * args.interval)
                if args.mode == "fresh":
                    conn = PinnedHTTPSConnection(args.sni, addrs[k % len(addrs)], ctx,
                                                 args.port)
                ok = one_call(conn, args, body, k, log) and ok
                if args.mode == "fresh":
                    conn.close()
            if conn is not None:
                conn.close()
        except (OSError, ValueError, http.client.HTTPException) as e:
            print("scenario_client %s: %s" % (args.caller, e), file=sys.stderr)
            return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
