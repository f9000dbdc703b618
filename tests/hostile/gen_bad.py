#!/usr/bin/env python3
"""gen_bad.py - writes crafted bad captures for tests/hostile/read.t.

Usage: gen_bad.py DIR

Writes the files into DIR and a manifest DIR/MANIFEST with one line per
file, tab-separated:

    name  exit  flows  offset  what

exit: the status `callerid read` must end with (0 or 1); flows: the number
of flows that must be in the database afterwards; offset: the byte offset
the error message must name ("-" when there is no error); what: a short
description for the TAP line.

Everything is built here from first principles (pcap per
draft-ietf-opsawg-pcap, pcapng per draft-ietf-opsawg-pcapng, TLS per
RFC 8446): no capture is copied.
"""
import gzip
import os
import struct
import sys
import zlib

SEC = 1700000000


# ---- packets ---------------------------------------------------------------

def ip4(s):
    return bytes(int(x) for x in s.split("."))


def tcp_frame(src, sport, dst, dport, seq, ack, flags, payload=b"", ip_id=1):
    """EN10MB + IPv4 + TCP (checksums left zero: the reader does not check)."""
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      0x50, flags, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, ip_id & 0xFFFF, 0x4000, 64, 6, 0,
                     ip4(src), ip4(dst))
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + tcp + payload


SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04


def u8len(b):
    return struct.pack(">B", len(b)) + b


def u16len(b):
    return struct.pack(">H", len(b)) + b


def u24len(b):
    return struct.pack(">I", len(b))[1:] + b


def ext(t, body):
    return struct.pack(">H", t) + u16len(body)


def client_hello_msg(sni=b"ec2.us-east-1.amazonaws.com", extra_exts=b""):
    """A ClientHello handshake message (RFC 8446 4.1.2)."""
    body = b"\x03\x03" + bytes(range(32)) + u8len(bytes(32))
    body += u16len(b"\x13\x01\x13\x02\xc0\x2f") + b"\x01\x00"
    exts = b""
    if sni is not None:
        exts += ext(0, u16len(b"\x00" + u16len(sni)))
    exts += ext(10, u16len(b"\x00\x1d\x00\x17"))
    exts += ext(43, u8len(b"\x03\x04\x03\x03"))
    exts += ext(51, u16len(b"\x00\x1d" + u16len(bytes(32))))
    exts += extra_exts
    body += u16len(exts)
    return b"\x01" + u24len(body)


def server_hello_msg():
    body = b"\x03\x03" + bytes(range(100, 132)) + u8len(bytes(32)) + b"\xc0\x2f\x00"
    body += u16len(ext(0xFF01, b"\x00"))
    return b"\x02" + u24len(body)


def records(msg, ctype=22, max_len=16384):
    """Splits a handshake message over records of at most max_len bytes."""
    out = b""
    for i in range(0, len(msg), max_len):
        chunk = msg[i:i + max_len]
        out += struct.pack(">BHH", ctype, 0x0301, len(chunk)) + chunk
    return out


def tls_flow(cport, t0, ch_stream, cli="10.0.0.10", srv="10.0.0.1", seg=1400):
    """One TLS connection: handshake, ClientHello (in segments of `seg`
    bytes), ServerHello, one application-data exchange, FIN both ways.
    Returns a list of (ts_ns, frame)."""
    pk = []
    t = t0
    c, s = 1000, 5000

    def add(frame):
        nonlocal t
        pk.append((t, frame))
        t += 1000000  # 1 ms apart

    add(tcp_frame(cli, cport, srv, 443, c, 0, SYN))
    add(tcp_frame(srv, 443, cli, cport, s, c + 1, SYN | ACK))
    c += 1
    s += 1
    add(tcp_frame(cli, cport, srv, 443, c, s, ACK))
    for i in range(0, len(ch_stream), seg):
        part = ch_stream[i:i + seg]
        add(tcp_frame(cli, cport, srv, 443, c, s, ACK | PSH, part))
        c += len(part)
    sh = records(server_hello_msg())
    add(tcp_frame(srv, 443, cli, cport, s, c, ACK | PSH, sh))
    s += len(sh)
    req = struct.pack(">BHH", 23, 0x0303, 300) + bytes(300)
    add(tcp_frame(cli, cport, srv, 443, c, s, ACK | PSH, req))
    c += len(req)
    add(tcp_frame(cli, cport, srv, 443, c, s, ACK | FIN))
    add(tcp_frame(srv, 443, cli, cport, s, c + 1, ACK | FIN))
    return pk


def three_flows():
    pk = []
    for i in range(3):
        pk += tls_flow(41000 + i, (SEC + 10 * i) * 10**9, records(client_hello_msg()))
    return pk


# ---- files -------------------------------------------------------------------

def pcap(packets, snaplen=65535, linktype=1, nsec=False, hdr=None):
    """Returns (bytes, record start offsets). packets: (ts_ns, frame) or
    (ts_ns, frame, caplen_override, len_override)."""
    out = bytearray(hdr if hdr is not None else struct.pack(
        "<IHHiIII", 0xA1B23C4D if nsec else 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
    offs = []
    for p in packets:
        ts, frame = p[0], p[1]
        caplen = p[2] if len(p) > 2 else len(frame)
        wire = p[3] if len(p) > 3 else len(frame)
        sec, frac = divmod(ts, 10**9)
        if not nsec:
            frac //= 1000
        offs.append(len(out))
        out += struct.pack("<IIII", sec, frac, caplen, wire) + frame
    offs.append(len(out))
    return bytes(out), offs


def ng_block(btype, body):
    body += b"\x00" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def pcapng(packets, extra_every=0):
    out = bytearray(ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
    opts = struct.pack("<HH", 2, 4) + b"eth0" + struct.pack("<HHB", 9, 1, 9) + b"\x00" * 3
    opts += struct.pack("<HH", 0, 0)
    out += ng_block(1, struct.pack("<HHI", 1, 0, 0) + opts)
    offs = []
    for i, (ts, frame) in enumerate(packets):
        if extra_every and i % extra_every == 0:
            out += ng_block(0x0BAD0000 + i, b"unknown block " + bytes([i & 0xFF]) * 7)
            out += ng_block(4, b"\x00\x00\x00\x00")  # empty name resolution block
        offs.append(len(out))
        out += ng_block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame)
    offs.append(len(out))
    return bytes(out), offs


def flows_in(packets, k):
    """Distinct client ports among the first k packets (one flow each)."""
    ports = set()
    for p in packets[:k]:
        frame = p[1]
        if len(frame) >= 38:
            sport, dport = struct.unpack(">HH", frame[34:38])
            ports.add(sport if dport == 443 else dport)
    return len(ports)


def out_dir(prog):
    """The output directory of a generator run as `prog DIR` (made), or
    None after a usage message."""
    if len(sys.argv) != 2:
        sys.stderr.write(f"usage: {prog} DIR\n")
        return None
    os.makedirs(sys.argv[1], exist_ok=True)
    return sys.argv[1]


def write_manifest(d, manifest):
    """DIR/MANIFEST: one tab-separated line per entry."""
    with open(os.path.join(d, "MANIFEST"), "w") as f:
        for m in manifest:
            f.write("\t".join(str(x) for x in m) + "\n")


def main():
    d = out_dir("gen_bad.py")
    if d is None:
        return 2
    manifest = []

    def write(name, data, exit_code, flows, offset, what):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        manifest.append((name, exit_code, flows, offset, what))

    pk = three_flows()
    good, offs = pcap(pk)
    write("good.pcap", good, 0, 3, "-", "a good capture")

    # truncated at every record boundary (a clean end) and in the middle of
    # every record header and every packet
    for k in range(len(pk) + 1):
        at = offs[k]
        write("trunc-rec%02d.pcap" % k, good[:at], 0, flows_in(pk, k), "-",
              "truncated at record boundary %d" % k)
        if k < len(pk):
            write("trunc-hdr%02d.pcap" % k, good[:at + 9], 1, flows_in(pk, k), str(at),
                  "truncated inside record header %d" % (k + 1))
            write("trunc-data%02d.pcap" % k, good[:at + 16 + 20], 1, flows_in(pk, k), str(at),
                  "truncated inside packet %d" % (k + 1))
    write("trunc-filehdr.pcap", good[:13], 1, 0, "0", "truncated file header")
    write("empty.pcap", b"", 1, 0, "-", "empty file")

    write("bad-magic.pcap", b"\xde\xad\xbe\xef" + good[4:], 1, 0, "0", "wrong magic")

    hdr = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 0xFFFFFFFF, 1)
    write("absurd-snaplen.pcap", pcap(pk, hdr=hdr)[0], 0, 3, "-", "absurd snaplen in the file header")

    # a record claiming more than 256 KiB in the middle
    bad = list(pk)
    bad.insert(9, (pk[8][0], b"\x00" * 64, 300000, 300000))
    data, boffs = pcap(bad)
    write("huge-caplen.pcap", data, 1, flows_in(pk, 9), str(boffs[9]), "caplen 300000 > 262144")

    # caplen > len, and zero-length packets between the real ones
    odd = [(ts, fr, len(fr), max(0, len(fr) - 30)) for ts, fr in pk]
    write("caplen-gt-len.pcap", pcap(odd)[0], 0, 3, "-", "caplen larger than the wire length")
    zero = []
    for ts, fr in pk:
        zero.append((ts, b""))
        zero.append((ts, fr))
        zero.append((ts, b"", 0, 1500))
    write("zero-length.pcap", pcap(zero)[0], 0, 3, "-", "zero-length packets")

    # time going backwards, and an ns-resolution file
    back = [(SEC * 10**9 - i * 10**9, fr) for i, (ts, fr) in enumerate(pk)]
    write("time-backwards.pcap", pcap(back)[0], 0, 3, "-", "time going backwards")
    write("nsec.pcap", pcap(pk, nsec=True)[0], 0, 3, "-", "nanosecond pcap")

    # pcapng: unknown blocks everywhere; bad block lengths mid-file
    ng, noffs = pcapng(pk, extra_every=2)
    write("unknown-blocks.pcapng", ng, 0, 3, "-", "pcapng with unknown blocks")
    ng, noffs = pcapng(pk)
    for name, val in (("odd", 0x3FF), ("short", 8), ("huge", 0x7FFFFFF0)):
        at = noffs[10]
        bad = bytearray(ng)
        bad[at + 4:at + 8] = struct.pack("<I", val)
        write("badlen-%s.pcapng" % name, bytes(bad), 1, flows_in(pk, 10), str(at),
              "pcapng block length %#x" % val)
    bad = bytearray(ng)
    at = noffs[12]
    end = noffs[13]
    bad[end - 4:end] = struct.pack("<I", 4)
    write("badtrail.pcapng", bytes(bad), 1, flows_in(pk, 12), str(at), "pcapng trailing length mismatch")
    write("trunc.pcapng", ng[:noffs[7] + 30], 1, flows_in(pk, 7), str(noffs[7]), "pcapng truncated mid-block")
    # pcapng truncated at every block boundary (a clean end) and inside
    # every block: its length words, its body, its trailing length
    shb_end = 28
    idb_end = noffs[0]
    starts = [(0, 0), (shb_end, 0)] + [(noffs[k], k) for k in range(len(pk))]
    for at, k in starts[1:] + [(noffs[len(pk)], len(pk))]:  # at 0: empty.pcap
        write("ngtrunc-at%04d.pcapng" % at, ng[:at], 0, flows_in(pk, k), "-",
              "pcapng truncated at the block boundary at byte %d" % at)
    ends = [shb_end, idb_end] + noffs[1:]
    for (at, k), end in zip(starts, ends):
        for cut, where in ((at + 6, "length"), ((at + end) // 2, "body"), (end - 2, "trailing length")):
            write("ngtrunc-%s%04d.pcapng" % (where.split()[0], at), ng[:cut], 1, flows_in(pk, k), str(at),
                  "pcapng truncated in the %s of the block at byte %d" % (where, at))

    # TLS hostile hellos, each in an otherwise good capture
    big_sni = b"a" * 65400  # about the most an extensions block (u16) can hold
    hello = records(client_hello_msg(sni=big_sni))
    write("sni-64k.pcap", pcap(tls_flow(42000, SEC * 10**9, hello))[0], 0, 1, "-", "ClientHello with a 64 KiB SNI")
    many = b"".join(ext(0xFF00 + (i % 200) if i % 200 else 0x7000 + i, b"") for i in range(10000))
    hello = records(client_hello_msg(extra_exts=many))
    write("exts-10000.pcap", pcap(tls_flow(42001, SEC * 10**9, hello))[0], 0, 1, "-",
          "ClientHello with 10000 extensions")
    evil = b"\x1b[31mred\x1b[0m\x1b]0;title\x07\r\n\t\x7f\x9b2Jevil.example.com"
    hello = records(client_hello_msg(sni=evil))
    write("sni-escapes.pcap", pcap(tls_flow(42002, SEC * 10**9, hello))[0], 0, 1, "-",
          "control characters and ANSI escapes in the SNI")
    # the same hello one byte per segment
    hello = records(client_hello_msg(sni=evil))
    write("sni-escapes-bytewise.pcap", pcap(tls_flow(42003, SEC * 10**9, hello, seg=1))[0], 0, 1, "-",
          "escapes in the SNI, one byte per segment")

    # gzip-compressed captures (RFC 1952): whole, in two members, with bytes
    # after them, a pcap error inside, the compressed stream cut and its CRC
    # damaged. Offsets of pcap errors are in the decompressed data.
    def gz(data):
        return gzip.compress(data, compresslevel=6, mtime=0)
    zgood = gz(good)
    write("good.pcap.gz", zgood, 0, 3, "-", "gzip-compressed capture")
    write("two-members.pcap.gz", gz(good[:offs[5] + 7]) + gz(good[offs[5] + 7:]), 0, 3, "-",
          "gzip capture in two members, split inside a record")
    write("trailing.pcap.gz", zgood + b"\0\0garbage", 0, 3, "-", "bytes after the gzip data")
    at = offs[5]
    write("trunc-hdr.pcap.gz", gz(good[:at + 9]), 1, flows_in(pk, 5), str(at),
          "gzip capture truncated inside record header 6 (decompressed offset)")
    for frac in (3, 2):
        cut = len(zgood) // frac
        avail = zlib.decompressobj(31).decompress(zgood[:cut])
        k = sum(1 for o in offs[1:] if o <= len(avail))
        write("gzcut%d.pcap.gz" % frac, zgood[:cut], 1, flows_in(pk, k), str(cut),
              "gzip stream cut at compressed byte %d" % cut)
    bad = bytearray(zgood)
    bad[-6] ^= 0xFF  # in the CRC-32 trailer: every byte inflates, the check fails
    write("badcrc.pcap.gz", bytes(bad), 1, 3, "-", "gzip trailer CRC damaged")
    write("gzip-header-only.pcap.gz", zgood[:10], 1, 0, "-", "gzip header and nothing else")

    write_manifest(d, manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
