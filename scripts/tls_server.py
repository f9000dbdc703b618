#!/usr/bin/env python3
"""A small TLS HTTP/1.1 keep-alive server: the lab's stand-in for an AWS API
endpoint behind a VPC interface endpoint.

Every request (any method, any path) gets a small JSON body with a
Content-Length, so a client can make several requests ("API calls") on one
connection. One JSON line per request goes to --log (or stderr): time, peer
address and port, method, path, Host, the TLS version and cipher, plus what
an API front end would see inside TLS: User-Agent, the form body's Action and
parameters, the SigV4 access key id, the amz-sdk-invocation-id header, and a
connection serial number with the request's index on that connection. The lab
tests read it to check which source address the server saw (after SNAT);
scripts/scenario_cloudtrail.py turns it into CloudTrail records. With
--log-completion a request is logged after its answer was sent, "time" being
that completion time (CloudTrail's eventTime) and "time_received" the arrival.

TLS 1.3 cipher suites cannot be chosen through Python's ssl module; run the
server with OPENSSL_CONF pointing at a config with a "Ciphersuites" line to
restrict them (scripts/make-captures.sh does).

Usage: tls_server.py --cert C --key K [--bind ADDR]... [--port 443]
                     [--min-version 1.2] [--max-version 1.3] [--ciphers TLS12LIST]
                     [--log FILE] [--log-completion]
"""

import argparse
import http.server
import json
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

VERSIONS = {
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive by default (RFC 9112 section 9.3)
    server_version = "callerid-lab"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection is closed after this

    def setup(self):
        self.request.do_handshake()
        self.conn_serial = self.server.next_conn()
        self.conn_requests = 0
        super().setup()

    def _api_fields(self, body):
        """What an AWS API front end reads from the decrypted request."""
        hdr = self.headers
        rec = {"user_agent": hdr.get("User-Agent"),
               "invocation_id": hdr.get("amz-sdk-invocation-id")}
        auth = hdr.get("Authorization") or ""
        # SigV4: "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, ..."
        cred = auth.partition("Credential=")[2].split(",")[0]
        rec["access_key_id"] = cred.split("/")[0] if cred else None
        form = {}
        ctype = (hdr.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/x-www-form-urlencoded" and body:
            form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                               keep_blank_values=True))
        rec["action"] = form.get("Action")
        rec["form"] = form
        return rec

    def _answer(self):
        received = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        body = b""
        if length > 0:
            body = self.rfile.read(min(length, 1 << 20))
        self.conn_requests += 1
        tls = self.connection
        rec = {
            "time": time.time(),
            "peer": self.client_address[0],
            "peer_port": self.client_address[1],
            "local": self.connection.getsockname()[0],
            "method": self.command,
            "path": self.path,
            "host": self.headers.get("Host"),
            "tls_version": tls.version(),
            "cipher": tls.cipher()[0],
            "conn": self.conn_serial,
            "conn_request": self.conn_requests,
        }
        rec.update(self._api_fields(body))
        if not self.server.log_completion:
            self.server.log_line(json.dumps(rec, sort_keys=True))
        answer = json.dumps({"ok": True, "n": self.server.count()}).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        self.wfile.flush()
        if self.server.log_completion:
            rec["time_received"] = received
            rec["time"] = time.time()
            self.server.log_line(json.dumps(rec, sort_keys=True))

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format, *args):  # noqa: A002 - base-class signature
        pass  # requests are logged as JSON by _answer


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, ctx, logf, lock):
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self._ctx = ctx
        self._logf = logf
        self._lock = lock
        self._n = 0
        self.conn_counter = [0]  # main() shares one between all addresses
        self.log_completion = False
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.settimeout(Handler.timeout)
        # The handshake runs in the handler thread (Handler.setup), so a
        # slow client cannot stall the accept loop.
        return self._ctx.wrap_socket(sock, server_side=True,
                                     do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        err = sys.exc_info()[1]
        self.log_line(json.dumps({"time": time.time(), "peer": client_address[0],
                                  "error": repr(err)}))

    def log_line(self, line):
        with self._lock:
            self._logf.write(line + "\n")
            self._logf.flush()

    def next_conn(self):
        """Serial number of a connection, shared by all bound addresses."""
        with self._lock:
            self.conn_counter[0] += 1
            return self.conn_counter[0]

    def count(self):
        with self._lock:
            self._n += 1
            return self._n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--bind", action="append", default=[])
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--min-version", choices=VERSIONS, default="1.2")
    ap.add_argument("--max-version", choices=VERSIONS, default="1.3")
    ap.add_argument("--ciphers", help="TLS 1.2 cipher list (OpenSSL syntax)")
    ap.add_argument("--log")
    ap.add_argument("--log-completion", action="store_true",
                    help="log each request after its answer was sent")
    args = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = VERSIONS[args.min_version]
    ctx.maximum_version = VERSIONS[args.max_version]
    if args.ciphers:
        ctx.set_ciphers(args.ciphers)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["http/1.1"])

    logf = open(args.log, "a", encoding="utf-8") if args.log else sys.stderr
    lock = threading.Lock()
    servers = [Server((b, args.port), ctx, logf, lock) for b in (args.bind or ["0.0.0.0"])]
    shared = [0]
    for s in servers:
        s.log_completion = args.log_completion
        s.conn_counter = shared
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    print("listening on " + " ".join(f"{b}:{args.port}" for b in (args.bind or ["0.0.0.0"])),
          file=sys.stderr, flush=True)
    try:
        for t in threads:
            t.join()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
