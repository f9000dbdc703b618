#!/usr/bin/env python3
"""gen_oom.py - a pcapng for tests/oom/oom.t that reaches the allocation
sites the lab captures do not: two named interfaces (pcapng if_name), a
ClientHello whose second segment arrives before its first (the stream's
out-of-order hold), a ClientHello whose first segment is shorter than a
record header (the joined head), IMDS HTTP, DNS over UDP and over TCP, and
a QUIC handshake (Initial keys, CRYPTO reassembly; when python3-cryptography
is there, through tests/hostile/quic_gen.py).

Usage: gen_oom.py FILE

Built from first principles with the packet helpers of
tests/hostile/gen_bad.py (pcapng per draft-ietf-opsawg-pcapng, DNS per
RFC 1035, TLS per RFC 8446).
"""
import importlib.util
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gen_bad", os.path.join(HERE, "..", "hostile", "gen_bad.py"))
gb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gb)

SYN, ACK, PSH, FIN = gb.SYN, gb.ACK, gb.PSH, gb.FIN
T0 = gb.SEC * 10**9


def udp_frame(src, sport, dst, dport, payload):
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, 17, 0,
                     gb.ip4(src), gb.ip4(dst))
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip + udp


def dns_name(name):
    return b"".join(gb.u8len(label.encode()) for label in name.split(".")) + b"\x00"


def dns_query(txid, name):
    return struct.pack(">HHHHHH", txid, 0x0100, 1, 0, 0, 0) + dns_name(name) + struct.pack(">HH", 1, 1)


def dns_answer(txid, name, addr):
    q = dns_name(name) + struct.pack(">HH", 1, 1)
    rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + gb.ip4(addr)
    return struct.pack(">HHHHHH", txid, 0x8180, 1, 1, 0, 0) + q + rr


def tcp_exchange(cli, cport, srv, sport, t, client_parts, server_data, order=None):
    """Handshake, the client's parts (sent in `order`), the server's
    answer, FIN both ways. Returns (packets, next time)."""
    pk = []
    c, s = 1000, 5000

    def add(frame):
        nonlocal t
        pk.append((t, frame))
        t += 1000000

    add(gb.tcp_frame(cli, cport, srv, sport, c, 0, SYN))
    add(gb.tcp_frame(srv, sport, cli, cport, s, c + 1, SYN | ACK))
    c += 1
    s += 1
    add(gb.tcp_frame(cli, cport, srv, sport, c, s, ACK))
    offs = []
    o = c
    for part in client_parts:
        offs.append(o)
        o += len(part)
    for i in (order or range(len(client_parts))):
        add(gb.tcp_frame(cli, cport, srv, sport, offs[i], s, ACK | PSH, client_parts[i]))
    c = o
    if server_data:
        add(gb.tcp_frame(srv, sport, cli, cport, s, c, ACK | PSH, server_data))
        s += len(server_data)
    add(gb.tcp_frame(cli, cport, srv, sport, c, s, ACK | FIN))
    add(gb.tcp_frame(srv, sport, cli, cport, s, c + 1, ACK | FIN))
    return pk, t


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: gen_oom.py FILE\n")
        return 2
    pk = []  # (ts, iface, frame)
    t = T0
    hello = gb.records(gb.client_hello_msg(sni=b"sts.us-east-1.amazonaws.com"))
    sh = gb.records(gb.server_hello_msg())
    app = struct.pack(">BHH", 23, 0x0303, 200) + bytes(200)
    # out of order: the hello's second half first
    half = len(hello) // 2
    p, t = tcp_exchange("10.0.0.10", 43000, "10.0.0.1", 443, t, [hello[:half], hello[half:], app], sh,
                        order=[1, 0, 2])
    pk += [(ts, 0, fr) for ts, fr in p]
    # a first segment shorter than a record header
    p, t = tcp_exchange("10.0.0.11", 43001, "10.0.0.1", 443, t, [hello[:3], hello[3:], app], sh)
    pk += [(ts, 1, fr) for ts, fr in p]
    # IMDS: a token PUT and a credentials GET
    put = (b"PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: oom-agent/1.0\r\n"
           b"X-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: 0\r\n\r\n")
    get = (b"GET /latest/meta-data/iam/security-credentials/node-role HTTP/1.1\r\nHost: 169.254.169.254\r\n"
           b"User-Agent: oom-agent/1.0\r\nX-aws-ec2-metadata-token: AQAE\r\n\r\n")
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    p, t = tcp_exchange("10.0.0.12", 43002, "169.254.169.254", 80, t, [put], ok)
    pk += [(ts, 0, fr) for ts, fr in p]
    p, t = tcp_exchange("10.0.0.12", 43003, "169.254.169.254", 80, t, [get], ok)
    pk += [(ts, 0, fr) for ts, fr in p]
    # DNS over UDP, then over TCP (two-byte length prefix, RFC 1035 4.2.2)
    name = "ec2.us-east-1.amazonaws.com"
    pk.append((t, 1, udp_frame("10.0.0.13", 53000, "10.0.0.2", 53, dns_query(0x1234, name))))
    pk.append((t + 1000000, 1, udp_frame("10.0.0.2", 53, "10.0.0.13", 53000, dns_answer(0x1234, name, "10.0.1.5"))))
    t += 2000000
    q = dns_query(0x4321, name)
    a = dns_answer(0x4321, name, "10.0.1.6")
    p, t = tcp_exchange("10.0.0.13", 43004, "10.0.0.2", 53, t, [struct.pack(">H", len(q)) + q],
                        struct.pack(">H", len(a)) + a)
    pk += [(ts, 1, fr) for ts, fr in p]
    # QUIC: the hello over two Initials out of order, the server's Initial
    try:
        qspec = importlib.util.spec_from_file_location("quic_gen", os.path.join(HERE, "..", "hostile", "quic_gen.py"))
        qg = importlib.util.module_from_spec(qspec)
        qspec.loader.exec_module(qg)
        p = qg.handshake(qg.V1, 50001, t, b"sqs.eu-west-1.amazonaws.com", bytes.fromhex("8394c8f03e515708"))
        pk += [(ts, 0, fr) for ts, fr in p]
    except SystemExit:
        sys.stderr.write("gen_oom.py: no QUIC flow (python3-cryptography missing)\n")

    out = bytearray(gb.ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
    for name in (b"eth0", b"eni0a1b2c3d4e5"):
        opts = struct.pack("<HH", 2, len(name)) + name + b"\x00" * (-len(name) % 4)
        opts += struct.pack("<HHB", 9, 1, 9) + b"\x00" * 3 + struct.pack("<HH", 0, 0)
        out += gb.ng_block(1, struct.pack("<HHI", 1, 0, 0) + opts)
    for ts, iface, frame in pk:
        out += gb.ng_block(6, struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame)
    with open(sys.argv[1], "wb") as f:
        f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
