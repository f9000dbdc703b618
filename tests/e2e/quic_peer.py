#!/usr/bin/env python3
"""quic_peer.py - the two ends of a QUIC handshake's Initial packets over
real UDP sockets, for tests/e2e/quic.t (Debian 12 packages no QUIC client
or server). Packets come from tests/hostile/quic_gen.py.

  quic_peer.py server ADDR          answers each client Initial with the
                                    server's Initial (ServerHello) and a
                                    Handshake packet; prints "ready"
  quic_peer.py client ADDR PORT SNI sends the ClientHello's second half
                                    in an Initial from local PORT, waits
                                    for the answer, then sends the first
                                    half; prints "pid N" and "answer N
                                    bytes"
"""
import importlib.util
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("quic_gen", os.path.join(HERE, "..", "hostile", "quic_gen.py"))
qg = importlib.util.module_from_spec(spec)
spec.loader.exec_module(qg)

SCID = b"\xc1\x01\x02\x03"
SERVER_CID = b"\x5e\x01\x02\x03\x04"


def server(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 443))
    print("ready", flush=True)
    answered = set()
    while True:
        data, peer = s.recvfrom(65535)
        if len(data) < 7 or (data[0] & 0xF0) != 0xC0:
            continue
        dlen = data[5]
        dcid = data[6:6 + dlen]
        slen = data[6 + dlen]
        scid = data[7 + dlen:7 + dlen + slen]
        if (peer, dcid) in answered:
            continue
        answered.add((peer, dcid))
        sh = qg.initial(qg.V1, dcid, scid, SERVER_CID, b"\x02\x01\x00\x00\x01" + qg.crypto(0, qg.server_hello13()),
                        server=True)
        s.sendto(sh + qg.long_junk(qg.V1, "handshake", scid, SERVER_CID, 600), peer)


def client(addr, port, sni):
    odcid = os.urandom(8)
    ch = qg.client_hello(sni.encode())
    cut = len(ch) // 2
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    s.connect((addr, 443))
    print("pid", os.getpid(), flush=True)
    # the hello's second half, the server's answer, then the first half:
    # the ServerHello before the ClientHello's start (a real client sends
    # both at once; a lost datagram makes this order)
    s.send(qg.initial(qg.V1, odcid, odcid, SCID, qg.crypto(cut, ch[cut:]), pn=0, pad_to=1200))
    s.settimeout(3)
    answer = s.recv(65535)
    print("answer", len(answer), "bytes", flush=True)
    s.send(qg.initial(qg.V1, odcid, odcid, SCID, qg.crypto(0, ch[:cut]), pn=1, pad_to=1200))
    time.sleep(0.2)
    s.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "server":
        server(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "client":
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
