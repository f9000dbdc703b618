#!/usr/bin/env python3
"""quic_gen.py - writes QUIC captures for tests/hostile/quic.t.

Usage: quic_gen.py DIR
       quic_gen.py --flood N FILE   N clients, each one Initial with its
                                    ClientHello and no answer (a flood of
                                    new QUIC flows, tests/load/flood_read.t)

Writes pcap files into DIR and DIR/MANIFEST, one tab-separated line per
file:

    name  tls_flows  sni  ja4_prefix  version  what

tls_flows: TLS rows `callerid read` must store; sni: the SNI of the first
one ("-": none); ja4_prefix: the start of its JA4 ("-": none); version: its
negotiated version code ("-": no ServerHello); what: a description.

Built from first principles: QUIC Initial packets per RFC 9000 17.2 and
RFC 9001 5 (version 2 per RFC 9369), protected with python3-cryptography
(AES-128-GCM, AES-128-ECB header protection, HKDF-SHA256 through hmac),
TLS messages per RFC 8446 from gen_bad.py's helpers. Exits 3 when
python3-cryptography is missing (the test then skips).
"""
import hashlib
import hmac
import importlib.util
import os
import struct
import sys

try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:
    sys.stderr.write("quic_gen.py: python3-cryptography is not installed\n")
    sys.exit(3)

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gen_bad", os.path.join(HERE, "gen_bad.py"))
gb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gb)

V1, V2 = 0x00000001, 0x6B3343CF
VERSIONS = {
    V1: (bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"), b"quic ", {"initial": 0, "handshake": 2, "retry": 3}),
    V2: (bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9"), b"quicv2 ", {"initial": 1, "handshake": 3, "retry": 0}),
}
CLI, SRV = "10.0.1.10", "10.0.1.1"


def expand_label(secret, label, n):
    full = b"tls13 " + label
    info = struct.pack(">HB", n, len(full)) + full + b"\x00"
    return hmac.new(secret, info + b"\x01", hashlib.sha256).digest()[:n]


def keys(version, dcid, server):
    salt, prefix, _ = VERSIONS[version]
    initial = hmac.new(salt, dcid, hashlib.sha256).digest()
    secret = expand_label(initial, b"server in" if server else b"client in", 32)
    return (expand_label(secret, prefix + b"key", 16), expand_label(secret, prefix + b"iv", 12),
            expand_label(secret, prefix + b"hp", 16))


def varint(v):
    if v < 64:
        return bytes([v])
    if v < 16384:
        return struct.pack(">H", 0x4000 | v)
    if v < 2**30:
        return struct.pack(">I", 0x80000000 | v)
    return struct.pack(">Q", 0xC000000000000000 | v)


def crypto(off, data):
    return b"\x06" + varint(off) + varint(len(data)) + data


def initial(version, key_dcid, dcid, scid, frames, pn=0, server=False, pad_to=0, length_delta=0, tamper=False):
    """A protected Initial packet (2-byte packet number)."""
    key, iv, hp = keys(version, key_dcid, server)
    ptype = VERSIONS[version][2]["initial"]
    head = bytes([0xC0 | ptype << 4 | 1]) + struct.pack(">I", version)
    head += gb.u8len(dcid) + gb.u8len(scid) + varint(0)
    fixed = len(head) + 2 + 2 + 16
    if pad_to and fixed + len(frames) < pad_to:
        frames += bytes(pad_to - fixed - len(frames))
    head += struct.pack(">H", 0x4000 | (2 + len(frames) + 16 + length_delta)) + struct.pack(">H", pn)
    nonce = bytes(a ^ b for a, b in zip(iv, bytes(4) + struct.pack(">Q", pn)))
    body = AESGCM(key).encrypt(nonce, frames, head)
    if tamper:
        body = body[:-1] + bytes([body[-1] ^ 1])
    pkt = bytearray(head + body)
    pn_off = len(head) - 2
    enc = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = enc.update(bytes(pkt[pn_off + 4:pn_off + 20])) + enc.finalize()
    pkt[0] ^= mask[0] & 0x0F
    pkt[pn_off] ^= mask[1]
    pkt[pn_off + 1] ^= mask[2]
    return bytes(pkt)


def long_junk(version, kind, dcid, scid, n):
    """A Handshake (or 0-RTT) packet whose payload nobody here can open."""
    ptype = VERSIONS[version][2][kind]
    return (bytes([0xC0 | ptype << 4 | 1]) + struct.pack(">I", version) + gb.u8len(dcid) + gb.u8len(scid)
            + varint(n) + bytes((i * 7) & 0xFF for i in range(n)))


def retry(version, dcid, scid, token=b"retry-token-0123456789"):
    ptype = VERSIONS[version][2]["retry"]
    return (bytes([0xC0 | ptype << 4]) + struct.pack(">I", version) + gb.u8len(dcid) + gb.u8len(scid)
            + token + bytes(16))


def server_hello13():
    """A TLS 1.3 ServerHello with x25519 (RFC 8446 4.1.3)."""
    body = b"\x03\x03" + bytes(range(100, 132)) + gb.u8len(b"") + b"\x13\x01\x00"
    exts = gb.ext(43, b"\x03\x04") + gb.ext(51, b"\x00\x1d" + gb.u16len(bytes(range(32))))
    return b"\x02" + gb.u24len(body + gb.u16len(exts))


def client_hello(sni):
    return gb.client_hello_msg(sni=sni, extra_exts=gb.ext(57, b"\x01\x02\x40\x64"))


def udp(src, sport, dst, dport, payload):
    u = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(u), 1, 0x4000, 64, 17, 0, gb.ip4(src), gb.ip4(dst))
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + u


def handshake(version, cport, t, sni, odcid, split=True, retry_dcid=None):
    """Client Initial(s) with the ClientHello (second half first when split),
    an optional Retry, the server's Initial coalesced with a Handshake packet."""
    scid, sscid = b"\xc1\x01\x02\x03", b"\x5e\x01\x02\x03\x04"
    ch, pk = client_hello(sni), []

    def send(from_client, payload):
        nonlocal t
        if from_client:
            pk.append((t, udp(CLI, cport, SRV, 443, payload)))
        else:
            pk.append((t, udp(SRV, 443, CLI, cport, payload)))
        t += 1000000

    kd = odcid
    if retry_dcid:
        send(True, initial(version, odcid, odcid, scid, crypto(0, ch), pad_to=1200))
        send(False, retry(version, scid, retry_dcid))
        kd = retry_dcid
    if split:
        cut = len(ch) // 2
        send(True, initial(version, kd, kd, scid, crypto(cut, ch[cut:]), pn=1, pad_to=1200))
        send(True, initial(version, kd, kd, scid, crypto(0, ch[:cut]), pn=2, pad_to=1200))
    else:
        send(True, initial(version, kd, kd, scid, crypto(0, ch), pn=1, pad_to=1200))
    sh = initial(version, kd, scid, sscid, b"\x02\x01\x00\x00\x01" + crypto(0, server_hello13()), server=True)
    send(False, sh + long_junk(version, "handshake", scid, sscid, 600))
    send(False, bytes([0x41]) + bytes(range(60)))  # a 1-RTT packet
    return pk


def flood(n, path):
    ch = client_hello(b"flood.example.com")
    t0 = gb.SEC * 10**9
    pk = []
    for i in range(n):
        dcid = struct.pack(">Q", (i * 2654435761) & 0xFFFFFFFFFFFFFFFF)
        p = initial(V1, dcid, dcid, b"\xc1\x01\x02\x03", crypto(0, ch), pad_to=1200)
        pk.append((t0 + i * 100000, udp("10.9.%d.%d" % ((i >> 8) & 255, i & 255), 10000 + i % 50000, SRV, 443, p)))
    data, _ = gb.pcap(pk)
    with open(path, "wb") as f:
        f.write(data)
    return 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--flood":
        return flood(int(sys.argv[2]), sys.argv[3])
    d = gb.out_dir("quic_gen.py")
    if d is None:
        return 2
    manifest = []
    t0 = gb.SEC * 10**9
    odcid = bytes.fromhex("8394c8f03e515708")

    def write(name, packets, tls_flows, sni, ja4, version, what):
        data, _ = gb.pcap(packets)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        manifest.append((name, str(tls_flows), sni, ja4, version, what))

    sni = b"sqs.eu-west-1.amazonaws.com"
    write("quic-v1.pcap", handshake(V1, 50001, t0, sni, odcid), 1, sni.decode(), "q13d", "772",
          "QUIC v1: ClientHello over two Initials out of order, ServerHello coalesced with a Handshake packet")
    write("quic-v2.pcap", handshake(V2, 50002, t0, sni, odcid), 1, sni.decode(), "q13d", "772",
          "QUIC v2 (RFC 9369)")
    write("quic-retry.pcap", handshake(V1, 50003, t0, sni, odcid, retry_dcid=b"\x1b\x03\x6a\x11"), 1,
          sni.decode(), "q13d", "772", "QUIC v1 with a Retry: new keys from the server's connection ID")

    # hostile: each must leave the process whole and the flow stored
    scid = b"\xc1\x01\x02\x03"
    ch = client_hello(sni)
    bad = []
    # the Length field runs past the datagram
    bad.append(("quic-length-past-end.pcap",
                [(t0, udp(CLI, 50010, SRV, 443, initial(V1, odcid, odcid, scid, crypto(0, ch), pad_to=1200,
                                                         length_delta=40)))],
                0, "-", "-", "-", "Initial whose Length runs past the datagram"))
    # the AEAD tag does not verify
    bad.append(("quic-bad-tag.pcap",
                [(t0 + i, udp(CLI, 50011, SRV, 443, initial(V1, odcid, odcid, scid, crypto(0, ch), pn=i,
                                                             pad_to=1200, tamper=True))) for i in range(6)],
                0, "-", "-", "-", "six Initials whose tag does not verify"))
    # a CRYPTO frame at an offset near 2^62, then the hello
    bad.append(("quic-huge-offset.pcap",
                [(t0, udp(CLI, 50012, SRV, 443, initial(V1, odcid, odcid, scid,
                                                         crypto(2**62 - 10, b"x" * 9) + crypto(0, ch),
                                                         pad_to=1200)))],
                1, sni.decode(), "q13d", "-", "CRYPTO frame at offset 2^62-10, then the ClientHello"))
    # a STREAM frame (not allowed in Initial) after the hello
    bad.append(("quic-stream-frame.pcap",
                [(t0, udp(CLI, 50013, SRV, 443, initial(V1, odcid, odcid, scid,
                                                         crypto(0, ch) + b"\x08\x00\x05hello", pad_to=1200)))],
                1, sni.decode(), "q13d", "-", "a STREAM frame after the ClientHello in an Initial"))
    # the hello's first half never comes: client_hello_only is not reached
    cut = len(ch) // 2
    bad.append(("quic-hello-half.pcap",
                [(t0, udp(CLI, 50014, SRV, 443, initial(V1, odcid, odcid, scid, crypto(cut, ch[cut:]),
                                                         pad_to=1200)))],
                1, "-", "-", "-", "only the second half of the ClientHello"))
    # a ClientHello that is not one: handshake type 2 from the client
    bad.append(("quic-not-hello.pcap",
                [(t0, udp(CLI, 50015, SRV, 443, initial(V1, odcid, odcid, scid, crypto(0, server_hello13()),
                                                         pad_to=1200)))],
                1, "-", "-", "-", "a ServerHello in the client's CRYPTO stream"))
    # 40 tiny coalesced Initials, each with 1 byte of the hello, in reverse
    pkts = b""
    for i in reversed(range(min(len(ch), 40))):
        pkts += initial(V1, odcid, odcid, scid, crypto(i, ch[i:i + 1]), pn=i)
    bad.append(("quic-coalesced-40.pcap", [(t0, udp(CLI, 50016, SRV, 443, pkts + bytes(1200)))],
                1, "-", "-", "-", "40 coalesced Initials, one hello byte each, in reverse"))
    # a Version Negotiation answer and a draft version: not decoded
    vn = bytes([0x80]) + bytes(4) + gb.u8len(scid) + gb.u8len(odcid) + struct.pack(">II", V1, V2)
    draft = bytearray(initial(V1, odcid, odcid, scid, crypto(0, ch), pad_to=1200))
    draft[1:5] = struct.pack(">I", 0xFF00001D)
    bad.append(("quic-vn-draft.pcap",
                [(t0, udp(CLI, 50017, SRV, 443, bytes(draft))), (t0 + 1, udp(SRV, 443, CLI, 50017, vn))],
                0, "-", "-", "-", "a draft-29 Initial and a Version Negotiation packet"))
    # a 20-byte connection ID and a 0-byte server one
    bad.append(("quic-cid20.pcap",
                [(t0, udp(CLI, 50018, SRV, 443, initial(V1, bytes(range(20)), bytes(range(20)), b"",
                                                         crypto(0, ch), pad_to=1200)))],
                1, sni.decode(), "q13d", "-", "a 20-byte DCID and an empty SCID"))
    for name, packets, n, s, j, v, what in bad:
        write(name, packets, n, s, j, v, what)

    gb.write_manifest(d, manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
