#!/usr/bin/env python3
"""attrib_short.py - one short-lived connection for the attribution lab test.

  attrib_short.py tcp ADDR PORT BIND_PORT SNI CAFILE   TLS handshake, one
      request and its answer, close; prints the connection's lifetime in ms
  attrib_short.py udp ADDR PORT BIND_PORT              one datagram from a
      connected UDP socket, kept open 0.5 s
The process stays 0.2 s after closing, then exits.
"""
import socket
import ssl
import sys
import time


def main():
    kind, addr, port, bport = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if kind == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("", bport))
        s.connect((addr, port))
        s.send(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03ec2\x00\x00\x01\x00\x01")
        time.sleep(0.5)
        s.close()
        return 0
    sni, cafile = sys.argv[5], sys.argv[6]
    ctx = ssl.create_default_context(cafile=cafile)
    t0 = time.monotonic()
    raw = socket.create_connection((addr, port), 5, ("", bport))
    s = ctx.wrap_socket(raw, server_hostname=sni)
    s.sendall(b"POST / HTTP/1.1\r\nHost: " + sni.encode() + b"\r\nContent-Length: 0\r\n\r\n")
    s.settimeout(0.02)  # wait briefly for the answer: the whole stays under 50 ms
    try:
        s.recv(4096)
    except OSError:
        pass
    s.close()
    print("lifetime_ms %.1f" % ((time.monotonic() - t0) * 1000.0), flush=True)
    time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
