#!/usr/bin/env python3
"""The lab's stand-in for the EC2 instance metadata service (IMDS), and the
clients that query it the way AWS SDKs do.

Server (run inside the lab's "imds" netns on 169.254.169.254:80):

    imds_server.py serve [--bind 169.254.169.254] [--port 80] [--role NAME]
                         [--require-v2] [--log FILE]

answers, over HTTP/1.1 keep-alive:
  PUT /latest/api/token         a session token; needs the header
                                X-aws-ec2-metadata-token-ttl-seconds (1..21600),
                                else 400; the token expires after that TTL
  GET /latest/meta-data/iam/security-credentials/         the role name
  GET /latest/meta-data/iam/security-credentials/<role>   a credential JSON
  GET /latest/meta-data/instance-id                       i-0123456789abcdef0
A GET with an X-aws-ec2-metadata-token header must carry a live token (else
401); without one it is an IMDSv1 call (refused with 401 under --require-v2).

The credentials are FAKE and fixed (FAKE_CREDS below) so tests can prove
that no byte of them reaches callerid's database or output. One JSON line
per request goes to --log: time, peer, method, path, IMDS version.

Clients (run in the node or a pod netns):

    imds_server.py client botocore-like [--ua UA]   one keep-alive connection:
        PUT token, GET role list, GET credentials (IMDSv2), like botocore's
        InstanceMetadataFetcher
    imds_server.py client botocore       botocore's own InstanceMetadataFetcher
                                         (needs the botocore package)
    imds_server.py client split [--ua UA]  one IMDSv1 credentials GET whose
        request head is sent in three TCP segments, 100 ms apart
"""

import argparse
import http.client
import http.server
import json
import secrets
import socket
import socketserver
import sys
import threading
import time

IMDS_IP = "169.254.169.254"
ROLE = "eks-node-role-lab"
# Fake, fixed, recognisable: tests grep callerid's database and output for them.
FAKE_CREDS = {
    "AccessKeyId": "ASIACALLERIDFAKEKEY7",
    "SecretAccessKey": "callerIdFakeSecretKeyNeverStoreMe0123456789",
    "Token": "CallerIdFakeSessionTokenNeverStoreMeZZZZ0123456789abcdef",
}
TTL_MAX = 21600


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "EC2ws"
    sys_version = ""
    timeout = 30

    def log_message(self, fmt, *args):  # noqa: A003 - quiet; we log JSON
        pass

    def _send(self, code, body, ctype="text/plain", extra=None):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _log(self, version, code):
        self.server.log({"time": time.time(), "peer": self.client_address[0],
                         "port": self.client_address[1], "method": self.command,
                         "path": self.path, "imdsv": version, "status": code,
                         "user_agent": self.headers.get("User-Agent")})

    def do_PUT(self):  # noqa: N802
        if self.path != "/latest/api/token":
            self._log(2, 404)
            return self._send(404, "Not Found")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= TTL_MAX:
            self._log(2, 400)
            return self._send(400, "Bad Request")
        tok = self.server.new_token(int(ttl))
        self._log(2, 200)
        self._send(200, tok, extra={"X-aws-ec2-metadata-token-ttl-seconds": ttl})

    def do_GET(self):  # noqa: N802
        tok = self.headers.get("X-aws-ec2-metadata-token")
        version = 2 if tok is not None else 1
        if tok is not None and not self.server.token_ok(tok):
            self._log(version, 401)
            return self._send(401, "Unauthorized")
        if tok is None and self.server.require_v2:
            self._log(version, 401)
            return self._send(401, "Unauthorized")
        base = "/latest/meta-data/iam/security-credentials/"
        role = self.server.role
        if self.path == base:
            code, body, ctype = 200, role, "text/plain"
        elif self.path == base + role:
            now = time.gmtime()
            doc = {"Code": "Success",
                   "LastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ", now),
                   "Type": "AWS-HMAC",
                   "AccessKeyId": FAKE_CREDS["AccessKeyId"],
                   "SecretAccessKey": FAKE_CREDS["SecretAccessKey"],
                   "Token": FAKE_CREDS["Token"],
                   "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                               time.gmtime(time.time() + 6 * 3600))}
            code, body, ctype = 200, json.dumps(doc, indent=2), "text/plain"
        elif self.path == "/latest/meta-data/instance-id":
            code, body, ctype = 200, "i-0123456789abcdef0", "text/plain"
        else:
            code, body, ctype = 404, "Not Found", "text/html"
        self._log(version, code)
        self._send(code, body, ctype)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, role, require_v2, log_path):
        super().__init__(addr, Handler)
        self.role = role
        self.require_v2 = require_v2
        self.tokens = {}
        self.lock = threading.Lock()
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else sys.stderr

    def new_token(self, ttl):
        tok = "AQAEA" + secrets.token_urlsafe(40)
        with self.lock:
            self.tokens[tok] = time.monotonic() + ttl
        return tok

    def token_ok(self, tok):
        with self.lock:
            exp = self.tokens.get(tok)
        return exp is not None and time.monotonic() < exp

    def log(self, rec):
        with self.lock:
            self.log_file.write(json.dumps(rec, sort_keys=True) + "\n")
            self.log_file.flush()


def serve(a):
    srv = Server((a.bind, a.port), a.role, a.require_v2, a.log)
    srv.serve_forever()


def botocore_like(a):
    """PUT token, GET role list, GET credentials on one connection (IMDSv2)."""
    c = http.client.HTTPConnection(a.host, 80, timeout=5)
    hdr = {"User-Agent": a.ua, "Accept": "*/*"}
    c.request("PUT", "/latest/api/token", headers=dict(hdr, **{
        "X-aws-ec2-metadata-token-ttl-seconds": "21600"}))
    r = c.getresponse()
    tok = r.read().decode()
    if r.status != 200:
        raise SystemExit("token: %d" % r.status)
    base = "/latest/meta-data/iam/security-credentials/"
    c.request("GET", base, headers=dict(hdr, **{"X-aws-ec2-metadata-token": tok}))
    r = c.getresponse()
    role = r.read().decode().strip()
    c.request("GET", base + role, headers=dict(hdr, **{"X-aws-ec2-metadata-token": tok}))
    r = c.getresponse()
    doc = json.loads(r.read())
    c.close()
    print("role=%s code=%s" % (role, doc.get("Code")))


def botocore_real(_a):
    from botocore.utils import InstanceMetadataFetcher  # noqa: PLC0415
    creds = InstanceMetadataFetcher(timeout=2, num_attempts=1).retrieve_iam_role_credentials()
    print("role=%s code=%s" % (creds.get("role_name"), "Success" if creds else "none"))
    if not creds:
        raise SystemExit(1)


def split(a):
    """An IMDSv1 credentials GET whose head leaves in three segments."""
    path = "/latest/meta-data/iam/security-credentials/" + a.role
    head = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n"
            "Connection: close\r\n\r\n" % (path, a.host, a.ua)).encode()
    s = socket.create_connection((a.host, 80), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for part in (head[:10], head[10:60], head[60:]):
        s.sendall(part)
        time.sleep(0.1)
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    s.close()
    print(data.split(b"\r\n", 1)[0].decode())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--bind", default=IMDS_IP)
    s.add_argument("--port", type=int, default=80)
    s.add_argument("--role", default=ROLE)
    s.add_argument("--require-v2", action="store_true")
    s.add_argument("--log")
    c = sub.add_parser("client")
    c.add_argument("kind", choices=["botocore-like", "botocore", "split"])
    c.add_argument("--host", default=IMDS_IP)
    c.add_argument("--role", default=ROLE)
    c.add_argument("--ua", default="Botocore/1.31.0 ua/2.0 os/linux lang/python#3.11.7 (callerid-lab)")
    a = p.parse_args()
    if a.cmd == "serve":
        serve(a)
    elif a.kind == "botocore-like":
        botocore_like(a)
    elif a.kind == "botocore":
        botocore_real(a)
    else:
        split(a)


if __name__ == "__main__":
    main()
