#!/usr/bin/env python3
"""tls.py - hostile TLS hellos for tests/hostile/tls.t, one capture each.

Usage: tls.py DIR

Writes DIR/<name>.pcap and DIR/TLS, one line per capture, tab-separated:

    name  status  sni  what

status: the tls.status the flow must be stored with; sni: the SNI the tls
row must hold, as Python bytes literal text ("-" for NULL); what: a
description. Every capture also holds an ordinary TLS flow (client port
41000) that must be stored intact after the hostile one (port 42000).

Also DIR/escapes.pcap: SNI and ALPN full of terminal escapes, control and
non-UTF-8 bytes, and a spreadsheet formula, for the output checks.

Built from first principles with gen_bad.py's helpers (RFC 8446, 6066,
7301).
"""
import importlib.util
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gen_bad", os.path.join(HERE, "gen_bad.py"))
gb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gb)

SEC = gb.SEC
ext, u8len, u16len, u24len = gb.ext, gb.u8len, gb.u16len, gb.u24len


def hello_body(exts, ciphers=b"\x13\x01\x13\x02\xc0\x2f"):
    body = b"\x03\x03" + bytes(range(32)) + u8len(bytes(32))
    body += u16len(ciphers) + b"\x01\x00"
    return body + u16len(exts)


def std_exts():
    e = ext(10, u16len(b"\x00\x1d\x00\x17"))
    e += ext(43, u8len(b"\x03\x04\x03\x03"))
    e += ext(51, u16len(b"\x00\x1d" + u16len(bytes(32))))
    return e


def sni_ext(*names):
    return ext(0, u16len(b"".join(b"\x00" + u16len(n) for n in names)))


def alpn_ext(*names):
    return ext(16, u16len(b"".join(u8len(n) for n in names)))


def ch_msg(body):
    return b"\x01" + u24len(body)


def capture(name, hostile_stream, d):
    """The ordinary flow, then the hostile one."""
    good = gb.records(gb.client_hello_msg())
    pk = gb.tls_flow(41000, SEC * 10**9, good)
    pk += gb.tls_flow(42000, (SEC + 10) * 10**9, hostile_stream)
    with open(os.path.join(d, name + ".pcap"), "wb") as f:
        f.write(gb.pcap(pk)[0])


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: tls.py DIR\n")
        return 2
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    lines = []

    def add(name, stream, status, sni, what):
        capture(name, stream, d)
        lines.append("\t".join([name, status, sni, what]))

    ok_body = hello_body(sni_ext(b"ok.example.com") + std_exts())
    # lengths that overflow what follows them
    add("rec-len-overflow", struct.pack(">BHH", 22, 0x0301, 0xFFFF) + ch_msg(ok_body), "server_hello_only", "-",
        "record length 65535, fewer bytes follow: the hello never completes")
    add("hs-len-overflow", gb.records(b"\x01" + b"\xff\xff\xff" + ok_body), "too_big", "-",
        "handshake length 2^24-1")
    body = ok_body[:-len(u16len(sni_ext(b"ok.example.com") + std_exts()))]
    body += struct.pack(">H", 0xFFFF) + sni_ext(b"ok.example.com") + std_exts()
    add("exts-len-overflow", gb.records(ch_msg(body)), "malformed", "-", "extensions length 65535")
    bad_sni = ext(0, struct.pack(">H", 0xFFF0) + b"\x00" + u16len(b"x.example.com"))
    add("sni-list-overflow", gb.records(ch_msg(hello_body(bad_sni + std_exts()))), "ok", "-",
        "server_name list length past the extension: the extension is skipped")
    bad_name = ext(0, u16len(b"\x00" + struct.pack(">H", 0x4000) + b"x.example.com"))
    add("sni-name-overflow", gb.records(ch_msg(hello_body(bad_name + std_exts()))), "ok", "-",
        "host_name length past the list: no SNI")
    add("cipher-len-overflow", gb.records(ch_msg(b"\x03\x03" + bytes(32) + b"\x00" + b"\xff\xff" + b"\x13\x01")),
        "malformed", "-", "cipher_suites length 65535")
    # duplicate SNI: two entries, and two server_name extensions
    add("sni-two-names", gb.records(ch_msg(hello_body(sni_ext(b"first.example.com", b"second.example.com")
                                                      + std_exts()))),
        "ok", "first.example.com", "two host_name entries: the first is kept")
    add("sni-two-exts", gb.records(ch_msg(hello_body(sni_ext(b"first.example.com") + sni_ext(b"second.example.com")
                                                     + std_exts()))),
        "ok", "first.example.com",
        "two server_name extensions (RFC 8446 4.2 forbids it): the first kept, both in extensions")
    # ALPN with control bytes and non-ASCII
    add("alpn-hostile", gb.records(ch_msg(hello_body(sni_ext(b"alpn.example.com")
                                                     + alpn_ext(b"\x1b[31mh2\x07", b"\xff\xfe\x00x") + std_exts()))),
        "ok", "alpn.example.com", "ALPN with ESC, BEL, NUL and non-UTF-8 bytes")

    # the output checks: escapes everywhere, a formula
    evil = b"\x1b[31mred\x1b[0m\x1b]0;title\x07\r\n\t\x7f\x9b2J\xff<b>&'\"evil.example.com"
    formula = b"=cmd|' /C calc'!A0"
    pk = gb.tls_flow(41000, SEC * 10**9, gb.records(ch_msg(hello_body(sni_ext(evil) + alpn_ext(b"\x1b]52;c;AAAA\x07",
                                                                                               b"h2") + std_exts()))))
    pk += gb.tls_flow(41001, (SEC + 1) * 10**9, gb.records(ch_msg(hello_body(sni_ext(formula) + std_exts()))))
    pk += gb.tls_flow(41002, (SEC + 2) * 10**9, gb.records(ch_msg(hello_body(sni_ext(b"+SUM(1)") + std_exts()))))
    pk += gb.tls_flow(41003, (SEC + 3) * 10**9, gb.records(ch_msg(hello_body(sni_ext(b"@SUM(1)") + std_exts()))))
    pk += gb.tls_flow(41004, (SEC + 4) * 10**9, gb.records(ch_msg(hello_body(sni_ext(b"-2+3") + std_exts()))))
    with open(os.path.join(d, "escapes.pcap"), "wb") as f:
        f.write(gb.pcap(pk)[0])

    with open(os.path.join(d, "TLS"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
