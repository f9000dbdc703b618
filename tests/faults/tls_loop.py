#!/usr/bin/env python3
"""TLS connections one after another, for the capture fault tests: each
connects to --connect with --sni, completes the handshake (certificate
verified against --cafile), makes one HTTP/1.1 request, reads the answer and
closes. After each handshake one line "EPOCH_SECONDS LOCAL_PORT" is appended
to --log and flushed, so a test knows which connections had reached the
capture point (the ServerHello has been received) and when.

Usage: tls_loop.py --connect IP --sni NAME --cafile CA --log FILE
                   [--interval 0.1] [--count N] [--duration SEC]
Runs until --count connections or --duration seconds (default: forever,
until killed). Exits 1 if no connection succeeded.
"""

import argparse
import socket
import ssl
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--connect", required=True)
    ap.add_argument("--sni", required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--duration", type=float, default=0)
    args = ap.parse_args()

    ctx = ssl.create_default_context(cafile=args.cafile)
    request = ("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % args.sni).encode()
    start = time.time()
    done = 0
    with open(args.log, "a", encoding="ascii") as log:
        while (not args.count or done < args.count) and (not args.duration or time.time() - start < args.duration):
            try:
                with socket.create_connection((args.connect, args.port), timeout=5) as raw:
                    with ctx.wrap_socket(raw, server_hostname=args.sni) as tls:
                        log.write("%.6f %d\n" % (time.time(), tls.getsockname()[1]))
                        log.flush()
                        tls.sendall(request)
                        try:
                            while tls.recv(4096):
                                pass
                        except OSError:  # the server may close without close_notify
                            pass
                done += 1
            except OSError as e:
                print("tls_loop: %s" % e, file=sys.stderr)
            time.sleep(args.interval)
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
