#!/usr/bin/env python3
"""Compare callerid's per-flow TLS results with other projects' expected values.

For every capture in ../shared/data (see its SOURCES.md):
  - tshark (4.0.17) TSVs: SNI of the first ClientHello per TCP connection,
    negotiated version and cipher of the final ServerHello, JA3 and JA3S hashes;
  - Arkime .test files: ja3, ja3s, ja4 per session;
  - Suricata-verify test.yaml: tls.sni, tls.ja3.hash, tls.ja3s.hash, tls.ja4;
  - FoxIO JA4 Rust snapshots: ja4 per TCP stream;
  - FoxIO JA4 Python output: ja4_r, ja4_o, ja4_ro per TCP stream;
  - tshark run here (when installed), for every capture in ../shared/data and
    in captures/: the named curve of each TLS <= 1.2 ServerKeyExchange
    (tls.handshake.server_named_curve) against the flow's group_code, and
    no group on a TLS <= 1.2 flow without one.
QUIC rows of versions 1 and 2 (their hellos are in Initial packets) are
compared like TCP ones, on the UDP flow. Prints TAP. Rows that callerid does
not cover by design are counted as SKIP with the reason (other QUIC versions:
not decoded; tunnelled packets: not decapsulated).
Usage: peer.py CALLERID DATADIR TMPDIR (DATADIR may be absent: then only
the captures/ checks run)
"""
import csv
import glob
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys

callerid, data, tmp = sys.argv[1:4]
n = 0
fails = 0


def tap(ok, desc, detail=()):
    global n, fails
    n += 1
    print(("ok" if ok else "not ok") + f" {n} - {desc}")
    if not ok:
        fails += 1
        for d in list(detail)[:12]:
            print(f"#   {d}")


def skip(desc, why):
    global n
    n += 1
    print(f"ok {n} - {desc} # SKIP {why}")


_cache = {}


def run(pcap):
    """callerid read into a fresh db; returns rows keyed by endpoint pair."""
    if pcap in _cache:
        return _cache[pcap]
    db = os.path.join(tmp, "peer-%d.db" % len(_cache))
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    r = subprocess.run([callerid, "read", "-q", "--db", db, pcap], capture_output=True, text=True)
    con = sqlite3.connect(db)
    con.text_factory = lambda b: b.decode("utf-8", "replace")
    rows = con.execute(
        "SELECT f.client_ip, f.client_port, f.server_ip, f.server_port, t.sni, t.version_code,"
        " t.cipher_code, t.ja3_hash, t.ja3s_hash, t.ja4, f.first_us, f.proto, t.status, t.group_code, f.id"
        " FROM flow f LEFT JOIN tls t ON t.flow_id = f.id ORDER BY f.first_us, f.id").fetchall()
    con.close()
    # JA4's other forms as `callerid flows` gives them (ja4_r, ja4_ro are
    # rebuilt from the stored lists), after the row as columns 14-16
    forms = {}
    fl = subprocess.run([callerid, "flows", "--db", db, "--format", "json"], capture_output=True, text=True)
    for line in fl.stdout.splitlines():
        j = json.loads(line)
        forms[j["id"]] = (j["ja4_r"], j["ja4_o"], j["ja4_ro"])
    rows = [row + forms.get(row[14], (None, None, None)) for row in rows]
    flows = {}
    for row in rows:
        key = frozenset([(row[0], row[1]), (row[2], row[3])])
        flows.setdefault((row[11], key), []).append(row)
    _cache[pcap] = (r.returncode, r.stderr, flows)
    return _cache[pcap]


def norm_ip(s):
    return s.split(",")[-1] if s else s


def tsv_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


# Where a peer's published value contradicts the published definition, the
# test asserts the definition's value instead. Each entry: (capture, field,
# peer value) -> (our value, why).
KNOWN = {
    ("foxio-ja4/pcap/tls-non-ascii-alpn.pcapng", "ja4", "t13d151699_8daaf6152771_e5627efa2ab1"):
        ("t13d1516bd_8daaf6152771_e5627efa2ab1",
         "JA4 spec: a non-alphanumeric ALPN uses the first and last hex digits (0xbaad -> bd); FoxIO's outputs predate that rule (99)"),
    ("suricata-verify/bug-5713-01/TLSv1-Extracted-MaliciousC2.pcap", "ja4", "t10i070600_c50f5591e341_ce66f3b797c1"):
        ("t10i070600_c50f5591e341_c39ab67fec8e",
         "JA4 spec: without signature algorithms the extension string has no trailing '_'; Suricata hashes it with one"),
    ("foxio-ja4/pcap/socks4-https.pcap", "ske_group", "none"):
        (0x0017,
         "tshark 4.0 does not dissect the TLS inside this SOCKS4 connection (port 9901); its server flight,"
         " read by hand, holds a ServerKeyExchange naming secp256r1 (03 0017 41 04 ...)"),
    ("zeek/traces/tls/hrr.pcap", "ja3s", "15af977ce25de452b96affa2addb1036"):
        ("907bf3ecef1c987c889946b737b43de8",
         "tshark fingerprints the HelloRetryRequest; callerid's JA3S describes the final ServerHello"),
}


def expect(capture, field, want):
    """The value callerid must produce for a peer's `want`, and a note."""
    k = (capture, field, want)
    if k in KNOWN:
        return KNOWN[k]
    return want, None


notes = []


def tshark_checks(pcap):
    sni_tsv = pcap + ".tshark-sni.tsv"
    sh_tsv = pcap + ".tshark-serverhello.tsv"
    rc, err, flows = run(pcap)
    name = os.path.relpath(pcap, data)
    chs, shs = {}, {}
    quic = tunnel = 0

    def keep(r):
        """The row's stream id ("t7", "u21"), or None (counted when from a ClientHello)."""
        udp = bool(r["udp.srcport"])
        if udp and r["quic.version"].split(",")[0] not in ("0x00000001", "0x6b3343cf"):
            return "quic"
        ports = r["udp.srcport"] if udp else r["tcp.srcport"]
        if not ports or "," in (r["ip.src"] or "") or "," in (r["ipv6.src"] or "") or "," in ports:
            return "tunnel"
        return ("u" + r["udp.stream"]) if udp else ("t" + r["tcp.stream"])

    for r in tsv_rows(sni_tsv):
        k = keep(r)
        if k == "quic":
            quic += 1
        elif k == "tunnel":
            tunnel += 1
        else:
            chs.setdefault(k, []).append(r)
    for r in tsv_rows(sh_tsv):
        k = keep(r)
        if k not in ("quic", "tunnel"):
            shs.setdefault(k, []).append(r)
    if quic:
        skip(f"tshark {name}: {quic} ClientHello rows of other QUIC versions", "only QUIC versions 1 and 2 are decoded")
    if tunnel:
        skip(f"tshark {name}: {tunnel} tunnelled ClientHello rows", "tunnels (GRE/VXLAN/GTP/Geneve) are not decapsulated")
    if not chs and not shs:
        return
    used = {}

    def ours(r):
        src = norm_ip(r["ip.src"] or r["ipv6.src"])
        dst = norm_ip(r["ip.dst"] or r["ipv6.dst"])
        if r["udp.srcport"]:
            key = (17, frozenset([(src, int(r["udp.srcport"])), (dst, int(r["udp.dstport"]))]))
            stream = "u" + r["udp.stream"]
        else:
            key = (6, frozenset([(src, int(r["tcp.srcport"])), (dst, int(r["tcp.dstport"]))]))
            stream = "t" + r["tcp.stream"]
        cands = flows.get(key, [])
        if not cands:
            return None
        # several connections on one tuple: match in order of tcp.stream
        idx = used.setdefault((key, stream), len([k for k in used if k[0] == key]))
        return cands[min(idx, len(cands) - 1)]

    bad_sni, bad_ja3, bad_ver, bad_cipher, bad_ja3s = [], [], [], [], []
    for stream, rows in chs.items():
        r = rows[0]
        o = ours(r)
        want = r["tls.handshake.extensions_server_name"] or None
        if o is None:
            bad_sni.append(f"stream {stream}: flow not found")
            continue
        if (o[4] or None) != want:
            bad_sni.append(f"stream {stream}: sni {o[4]!r} want {want!r}")
        if r["tls.handshake.ja3"] and o[7] != r["tls.handshake.ja3"]:
            bad_ja3.append(f"stream {stream}: ja3 {o[7]} want {r['tls.handshake.ja3']}")
    for stream, rows in shs.items():
        r = rows[-1]  # after a HelloRetryRequest the last ServerHello counts
        o = ours(r)
        if o is None:
            bad_ver.append(f"stream {stream}: flow not found")
            continue
        sv = r["tls.handshake.extensions.supported_version"] or r["tls.handshake.version"]
        if not sv:
            continue  # tshark gives no version (SSLv2-format hello): nothing to compare
        if o[5] is None or o[5] != int(sv, 16):
            bad_ver.append(f"stream {stream}: version {o[5]} want {sv}")
        cs = r["tls.handshake.ciphersuite"]
        if o[6] is None or o[6] != int(cs, 16):
            bad_cipher.append(f"stream {stream}: cipher {o[6]} want {cs}")
        if r["tls.handshake.ja3s"]:
            want, note = expect(name, "ja3s", r["tls.handshake.ja3s"])
            if note:
                notes.append(f"{name}: {note}")
            if o[8] != want:
                bad_ja3s.append(f"stream {stream}: ja3s {o[8]} want {want}")
    if chs:
        tap(not bad_sni, f"tshark {name}: SNI of {len(chs)} connections", bad_sni)
        tap(not bad_ja3, f"tshark {name}: JA3 of {len(chs)} ClientHellos", bad_ja3)
    if shs:
        tap(not bad_ver, f"tshark {name}: negotiated version of {len(shs)} connections", bad_ver)
        tap(not bad_cipher, f"tshark {name}: cipher of {len(shs)} connections", bad_cipher)
        tap(not bad_ja3s, f"tshark {name}: JA3S of {len(shs)} ServerHellos", bad_ja3s)


SKE_FIELDS = ["tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
              "tls.handshake.server_curve_type", "tls.handshake.server_named_curve"]
ske_flows = [0, 0]  # TLS <= 1.2 flows with a curve tshark named, of them agreeing with callerid


def ske_checks(pcap, name):
    """The ServerKeyExchange's named curve (RFC 8422 5.4), tshark's reading,
    against the flow's group_code; and no TLS <= 1.2 group where tshark saw
    no ServerKeyExchange. Captures where tshark names no curve add nothing."""
    r = subprocess.run(["tshark", "-n", "-r", pcap, "-Y", "tls.handshake.type == 12", "-T", "fields",
                        "-E", "separator=/t", "-E", "occurrence=f"] + sum((["-e", f] for f in SKE_FIELDS), []),
                       capture_output=True, text=True)
    rows = [dict(zip(SKE_FIELDS, l.split("\t"))) for l in r.stdout.splitlines() if l.strip()]
    rc, err, flows = run(pcap)
    per_stream = {}
    tunnel = 0
    for row in rows:
        if "," in (row["ip.src"] or "") or "," in (row["ipv6.src"] or "") or "," in row["tcp.srcport"]:
            tunnel += 1
            continue
        per_stream.setdefault(int(row["tcp.stream"]), row)  # the first one (renegotiation aside)
    named = {st: row for st, row in per_stream.items()
             if row["tls.handshake.server_curve_type"] in ("0x03", "3") and row["tls.handshake.server_named_curve"]}
    if tunnel:
        skip(f"tshark {name}: {tunnel} tunnelled ServerKeyExchange rows", "tunnels are not decapsulated")
    bad, keys, used = [], set(), {}
    for st in sorted(named):
        row = named[st]
        src = norm_ip(row["ip.src"] or row["ipv6.src"])
        dst = norm_ip(row["ip.dst"] or row["ipv6.dst"])
        key = (6, frozenset([(src, int(row["tcp.srcport"])), (dst, int(row["tcp.dstport"]))]))
        keys.add(key)
        cands = [c for c in flows.get(key, []) if c[5] is not None and c[5] <= 0x0303]
        idx = used.get(key, 0)
        used[key] = idx + 1
        want = int(row["tls.handshake.server_named_curve"], 16)
        if not cands:
            bad.append(f"stream {st}: no TLS <= 1.2 flow")
            continue
        got = cands[min(idx, len(cands) - 1)][13]
        ske_flows[0] += 1
        if got == want:
            ske_flows[1] += 1
        else:
            bad.append(f"stream {st}: group_code {got} want {want:#06x}")
    # the other way: a TLS <= 1.2 group only where tshark read a curve
    extra = []
    for k, cs in flows.items():
        for c in cs:
            if c[5] is None or c[5] > 0x0303 or c[13] is None or k in keys:
                continue
            want, note = expect(name, "ske_group", "none")
            if note and want == c[13]:
                notes.append(f"{name}: {note}")
                continue
            extra.append(f"{sorted(k[1])}: group_code {c[13]} without a ServerKeyExchange tshark names")
    if named:
        tap(not bad, f"tshark {name}: named curve of {len(named)} ServerKeyExchanges", bad)
    if named or extra:
        tap(not extra, f"tshark {name}: no TLS <= 1.2 group without a ServerKeyExchange", extra)


def arkime_checks(test):
    pcap = test[: -len(".test")] + ".pcap"
    name = os.path.relpath(pcap, data)
    rc, err, flows = run(pcap)
    d = json.load(open(test))
    bad = []
    count = 0
    for s in d.get("sessions3", []):
        b = s["body"]
        tls = b.get("tls")
        if not tls or b.get("ipProtocol") not in (6, 17):
            continue
        key = (b["ipProtocol"], frozenset([(b["source"]["ip"], b["source"]["port"]),
                             (b["destination"]["ip"], b["destination"]["port"])]))
        cands = flows.get(key)
        if not cands:
            bad.append(f"session {key}: flow not found")
            continue
        for field, col in (("ja3", 7), ("ja3s", 8), ("ja4", 9)):
            if field in tls:
                count += 1
                got = {c[col] for c in cands}
                want, note = expect(name, field, tls[field][0])
                if note:
                    notes.append(f"{name}: {note}")
                if want not in got:
                    bad.append(f"{field}: got {sorted(map(str, got))} want {want}")
    if count:
        tap(not bad, f"arkime {name}: {count} ja3/ja3s/ja4 values", bad)


def suricata_checks(yaml_path):
    d = os.path.dirname(yaml_path)
    text = open(yaml_path).read()
    m = re.search(r"^pcap:\s*(\S+)", text, re.M)
    pcap = None
    if m:
        pcap = os.path.normpath(os.path.join(d, m.group(1)))
    else:
        pcaps = [p for p in glob.glob(os.path.join(d, "*.pcap")) + glob.glob(os.path.join(d, "*.pcapng"))]
        pcap = pcaps[0] if len(pcaps) == 1 else None
    if not pcap or not os.path.exists(pcap):
        return
    name = os.path.relpath(yaml_path, data)
    rc, err, flows = run(pcap)
    allrows = [r for rows in flows.values() for r in rows]
    bad = []
    count = 0
    if "quic" in text and "event_type: quic" in text:
        pass
    for field, col in (("tls.sni", 4), ("tls.ja3.hash", 7), ("tls.ja3s.hash", 8), ("tls.ja4", 9)):
        for m in re.finditer(r"^\s+" + re.escape(field) + r":\s*\"?([^\"\s]+)\"?\s*$", text, re.M):
            want, note = expect(os.path.relpath(pcap, data), field.split(".")[1], m.group(1))
            if note:
                notes.append(f"{name}: {note}")
            count += 1
            if want not in {r[col] for r in allrows}:
                bad.append(f"{field} {want} not among callerid's flows")
    if count:
        tap(not bad, f"suricata {name}: {count} tls values", bad)


def foxio_checks(snap):
    pname = os.path.basename(snap)[len("ja4__insta@"):-len(".snap")]
    pcap = os.path.join(data, "foxio-ja4", "pcap", pname)
    if not os.path.exists(pcap):
        return
    rc, err, flows = run(pcap)
    blocks = re.split(r"^- stream:", open(snap).read(), flags=re.M)[1:]
    bad = []
    count = quic = tunnel = 0
    for blk in blocks:
        kv = dict(re.findall(r"^  (\w+): (.*)$", blk, re.M))
        if "ja4" not in kv:
            continue
        if kv.get("transport") not in ("tcp", "udp"):
            quic += 1
            continue
        proto = 6 if kv["transport"] == "tcp" else 17  # "udp": QUIC
        key = (proto, frozenset([(kv["src"], int(kv["src_port"])), (kv["dst"], int(kv["dst_port"]))]))
        cands = flows.get(key)
        count += 1
        if not cands:
            # the Rust tool reports the innermost tuple of tunnelled packets
            tunnel += 1
            count -= 1
            continue
        want, note = expect("foxio-ja4/pcap/" + pname, "ja4", kv["ja4"])
        if note:
            notes.append(f"foxio-ja4/pcap/{pname}: {note}")
        if want not in {c[9] for c in cands}:
            bad.append(f"{kv['src']}:{kv['src_port']} ja4 {sorted(map(str, {c[9] for c in cands}))} want {want}")
    name = "foxio-ja4/pcap/" + pname
    if quic:
        skip(f"foxio {name}: {quic} ja4 values of other transports", "only TCP and QUIC are decoded")
    if tunnel:
        skip(f"foxio {name}: {tunnel} ja4 values on flows not found", "tunnelled flows are not decapsulated")
    if count:
        tap(not bad, f"foxio {name}: {count} ja4 values", bad)


def foxio_python_checks(js):
    """FoxIO's Python output: JA4's raw and original-order forms per TCP stream."""
    pname = os.path.basename(js)[: -len(".json")]
    pcap = os.path.join(data, "foxio-ja4", "pcap", pname)
    if not os.path.exists(pcap):
        return
    name = "foxio-ja4/pcap/" + pname
    rc, err, flows = run(pcap)
    bad = []
    count = second = 0
    for rec in json.load(open(js)):
        if "JA4.1" not in rec:
            continue
        second += sum(1 for f in ("JA4_r", "JA4_o", "JA4_ro") if f + ".2" in rec)
        key = (6, frozenset([(rec["src"], int(rec["srcport"])), (rec["dst"], int(rec["dstport"]))]))
        cands = flows.get(key, [])
        # the first ten characters are JA4_a, shared by every form
        want_a, note = expect(name, "ja4", rec["JA4.1"])
        if note:
            notes.append(f"{name}: {note} (in every JA4 form)")
        for field, col in (("JA4_r", 15), ("JA4_o", 16), ("JA4_ro", 17)):
            if field + ".1" not in rec:
                continue
            want = want_a[:10] + rec[field + ".1"][10:]
            count += 1
            if want not in {c[col] for c in cands}:
                bad.append(f"{rec['src']}:{rec['srcport']} {field} {sorted(map(str, {c[col] for c in cands}))} want {want}")
    if second:
        skip(f"foxio {name}: {second} JA4 forms of second ClientHellos",
             "after a HelloRetryRequest callerid fingerprints the first ClientHello")
    if count:
        tap(not bad, f"foxio {name}: {count} ja4_r/ja4_o/ja4_ro values (FoxIO Python)", bad)


def main():
    have_tshark = shutil.which("tshark") is not None
    caps = []
    if os.path.isdir(data):
        caps = sorted(p[: -len(".tshark-sni.tsv")] for p in glob.glob(os.path.join(data, "**", "*.tshark-sni.tsv"), recursive=True))
    else:
        skip(f"peer values in {data}", "not present")
    for pcap in caps:
        rc, err, flows = run(pcap)
        name = os.path.relpath(pcap, data)
        crashed = rc not in (0, 1) or "Sanitizer" in err or "runtime error" in err
        tap(not crashed, f"read {name} without crashing (exit {rc})", err.splitlines()[-5:])
        tshark_checks(pcap)
        if have_tshark:
            ske_checks(pcap, name)
    # this project's own captures (always there)
    own = sorted(glob.glob("captures/*.pcap") + glob.glob("captures/*/capture.pcap"))
    if not have_tshark:
        skip(f"ServerKeyExchange curves of {len(own) + len(caps)} captures", "tshark not installed")
    else:
        for pcap in own:
            ske_checks(pcap, pcap)
        print(f"# TLS <= 1.2 flows with a named curve (tshark): {ske_flows[0]}, callerid agrees on {ske_flows[1]}")
    for t in sorted(glob.glob(os.path.join(data, "arkime", "*.test"))):
        arkime_checks(t)
    for y in sorted(glob.glob(os.path.join(data, "suricata-verify", "**", "test.yaml"), recursive=True)):
        suricata_checks(y)
    for s in sorted(glob.glob(os.path.join(data, "foxio-ja4", "expected-rust", "*.snap"))):
        foxio_checks(s)
    for js in sorted(glob.glob(os.path.join(data, "foxio-ja4", "expected-python", "*.json"))):
        foxio_python_checks(js)
    for note in sorted(set(notes)):
        print(f"# known disagreement: {note}")
    print(f"1..{n}")
    return 0


sys.exit(main())
