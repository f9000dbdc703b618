#!/usr/bin/env python3
"""A Python ssl + http.client caller for the lab: several POST requests
("API calls") on one keep-alive TLS connection, with pauses between them.

It connects to --connect (an endpoint address) while sending --sni as the
server name and Host header, the way an SDK reaches a VPC endpoint through
private DNS. The certificate is verified against --cafile.

Usage: tls_client.py --connect IP --sni NAME --cafile CA [--port 443]
                     [--requests 3] [--pause 0.3] [--tls 1.2|1.3]
                     [--ciphers TLS12LIST] [--bind-port N]
Prints one line per response (status, body) on stdout; exits 1 on error.
"""

import argparse
import http.client
import socket
import ssl
import sys
import time

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
BODY = b"Action=DescribeTags&Version=2016-11-15&Filter.1.Name=resource-id&Filter.1.Value.1=i-0123456789abcdef0"


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with SNI and Host taken from `host`."""

    def __init__(self, host, addr, ctx, port, bind_port):
        super().__init__(host, port=port, context=ctx, timeout=10)
        self._addr = addr
        self._ctx = ctx
        self._bind_port = bind_port

    def connect(self):
        src = ("", self._bind_port) if self._bind_port else None
        sock = socket.create_connection((self._addr, self.port), self.timeout, src)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--connect", required=True)
    ap.add_argument("--sni", required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--requests", type=int, default=3)
    ap.add_argument("--pause", type=float, default=0.3)
    ap.add_argument("--tls", choices=VERSIONS)
    ap.add_argument("--ciphers")
    ap.add_argument("--bind-port", type=int, default=0)
    args = ap.parse_args()

    ctx = ssl.create_default_context(cafile=args.cafile)
    if args.tls:
        ctx.minimum_version = ctx.maximum_version = VERSIONS[args.tls]
    if args.ciphers:
        ctx.set_ciphers(args.ciphers)
    ctx.set_alpn_protocols(["http/1.1"])

    conn = PinnedHTTPSConnection(args.sni, args.connect, ctx, args.port, args.bind_port)
    try:
        for i in range(args.requests):
            if i:
                time.sleep(args.pause)
            conn.request("POST", "/", body=BODY, headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                "User-Agent": "callerid-lab/1.0 python-http.client",
            })
            resp = conn.getresponse()
            data = resp.read()
            print(resp.status, data.decode(errors="replace").strip(), flush=True)
            if resp.status != 200:
                return 1
        print("tls", conn.sock.version(), conn.sock.cipher()[0], flush=True)
    except (OSError, http.client.HTTPException) as e:
        print("tls_client: %s" % e, file=sys.stderr)
        return 1
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
