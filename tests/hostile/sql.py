#!/usr/bin/env python3
"""sql.py - SQL-hostile text in every field that reaches the database.

    sql.py gen DIR        writes DIR/sql.pcap, DIR/cloudtrail.json,
                          DIR/pods.json, DIR/nodes.json
    sql.py check DIR DB   prints TAP lines: each field stored as designed

The strings carry a quote, a double quote, a backslash, a semicolon, "--",
"%", "_" and bytes that are not UTF-8; others carry a NUL byte. Designed
(README, "Strings from the wire"): text is stored byte for byte up to its
first NUL byte, which ends it; an HTTP request with a NUL (a control byte,
not HTTP) is stored as a parse_error row without its fields. Next to each
hostile record is an ordinary one whose row must be intact. The database
is read with text as bytes, so every byte is compared.

Built from first principles with tests/hostile/gen_bad.py's packet helpers
(TLS per RFC 8446 / 6066 / 7301, DNS per RFC 1035, HTTP per RFC 9112).
"""
import importlib.util
import json
import os
import sqlite3
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gen_bad", os.path.join(HERE, "gen_bad.py"))
gb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gb)

# the hostile core: no NUL, no control byte, no space, no dot
H = b"q'uote\"dq\\bs;semi--dash%pct_us\xff\xfe\x80z"
# and the same idea as JSON text: raw non-UTF-8 bytes inside JSON strings
HJ = H.replace(b"\\", b"\\\\").replace(b'"', b'\\"')

SYN, ACK, PSH, FIN = gb.SYN, gb.ACK, gb.PSH, gb.FIN
T0 = gb.SEC * 10**9


def cut(b):
    """What the database must hold: the bytes before the first NUL."""
    return b.split(b"\x00", 1)[0]


# ---- the capture --------------------------------------------------------------

def alpn_ext(names):
    return gb.ext(16, gb.u16len(b"".join(gb.u8len(n) for n in names)))


def server_hello(alpn):
    body = b"\x03\x03" + bytes(range(100, 132)) + gb.u8len(bytes(32)) + b"\xc0\x2f\x00"
    body += gb.u16len(gb.ext(0xFF01, b"\x00") + alpn_ext([alpn]))
    return gb.records(b"\x02" + gb.u24len(body))


def tcp_conv(cli, cport, srv, sport, t, c_data, s_data):
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
    add(gb.tcp_frame(cli, cport, srv, sport, c, s, ACK | PSH, c_data))
    c += len(c_data)
    add(gb.tcp_frame(srv, sport, cli, cport, s, c, ACK | PSH, s_data))
    s += len(s_data)
    add(gb.tcp_frame(cli, cport, srv, sport, c, s, ACK | FIN))
    add(gb.tcp_frame(srv, sport, cli, cport, s, c + 1, ACK | FIN))
    return pk, t


def udp_frame(src, sport, dst, dport, payload):
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, 17, 0,
                     gb.ip4(src), gb.ip4(dst))
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip + udp


def dns_name(labels):
    return b"".join(gb.u8len(label) for label in labels) + b"\x00"


def dns_pair(txid, labels, addr):
    q = dns_name(labels) + struct.pack(">HH", 1, 1)
    query = struct.pack(">HHHHHH", txid, 0x0100, 1, 0, 0, 0) + q
    rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + gb.ip4(addr)
    answer = struct.pack(">HHHHHH", txid, 0x8180, 1, 1, 0, 0) + q + rr
    return query, answer


# (client port, SNI, offered ALPN, chosen ALPN) of the TLS flows
TLS_FLOWS = [
    (44001, b"sni." + H, [b"h2" + H, b"a%_"], b"h2" + H),
    (44002, b"nul-before\x00after.evil.example", [b"al\x00pn", b"x"], b"se\x00l"),
    (44003, b"ec2.us-east-1.amazonaws.com", [b"h2", b"http/1.1"], b"h2"),
]
# (client port, method, path, Host, User-Agent) of the HTTP requests
HTTP_REQS = [
    (45001, b"G'%_-T", b"/latest/meta-data/iam/security-credentials/r" + H, b"host " + H, b"ua " + H),
    (45002, b"GET", b"/latest/meta-data/", b"169.254.169.254", b"ua\x00tail"),
    (45003, b"GET", b"/latest/meta-data/iam/security-credentials/node+=,.@-_role", b"169.254.169.254",
     b"agent/1.0"),
]
HTTP_FIRST = b"GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n"
HTTP_404 = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
# (txid, labels) of the DNS queries
DNS_QS = [
    (0x1001, [b"d" + H, b"example", b"com"]),
    (0x1002, [b"nul\x00byte", b"example", b"com"]),
    (0x1003, [b"sts", b"us-east-1", b"amazonaws", b"com"]),
]


def gen_pcap(path):
    pk = []
    t = T0
    for cport, sni, offered, chosen in TLS_FLOWS:
        hello = gb.records(gb.client_hello_msg(sni=sni, extra_exts=alpn_ext(offered)))
        p, t = tcp_conv("10.0.0.10", cport, "10.0.0.1", 443, t, hello, server_hello(chosen))
        pk += p
    for cport, method, path_, host, ua in HTTP_REQS:
        # a flow is taken for HTTP when it starts with a known method: the
        # hostile method comes second on the keep-alive connection
        req = HTTP_FIRST + method + b" " + path_ + b" HTTP/1.1\r\nHost: " + host + b"\r\nUser-Agent: " + ua
        req += b"\r\n\r\n"
        p, t = tcp_conv("10.0.0.11", cport, "169.254.169.254", 80, t, req, HTTP_404 * 2)
        pk += p
    for txid, labels in DNS_QS:
        q, a = dns_pair(txid, labels, "10.0.1.5")
        pk.append((t, udp_frame("10.0.0.12", 53000 + (txid & 0xff), "10.0.0.2", 53, q)))
        pk.append((t + 1000000, udp_frame("10.0.0.2", 53, "10.0.0.12", 53000 + (txid & 0xff), a)))
        t += 2000000
    with open(path, "wb") as f:
        f.write(gb.pcap(pk)[0])


# ---- CloudTrail ------------------------------------------------------------------

# stored column -> JSON path, for the text fields
CT_FIELDS = [
    ("name", ["eventName"]), ("source", ["eventSource"]), ("region", ["awsRegion"]),
    ("source_ip", ["sourceIPAddress"]), ("user_agent", ["userAgent"]), ("arn", ["userIdentity", "arn"]),
    ("identity_type", ["userIdentity", "type"]), ("principal_id", ["userIdentity", "principalId"]),
    ("account_id", ["userIdentity", "accountId"]), ("access_key_id", ["userIdentity", "accessKeyId"]),
    ("session_issuer_arn", ["userIdentity", "sessionContext", "sessionIssuer", "arn"]),
    ("session_issuer_name", ["userIdentity", "sessionContext", "sessionIssuer", "userName"]),
    ("ec2_role_delivery", ["userIdentity", "sessionContext", "ec2RoleDelivery"]),
    ("error_code", ["errorCode"]), ("error_message", ["errorMessage"]), ("vpce", ["vpcEndpointId"]),
    ("tls_version", ["tlsDetails", "tlsVersion"]), ("cipher", ["tlsDetails", "cipherSuite"]),
    ("host_header", ["tlsDetails", "clientProvidedHostHeader"]), ("key_exchange", ["tlsDetails", "keyExchange"]),
    ("event_type", ["eventType"]), ("event_category", ["eventCategory"]),
    ("invoked_by", ["userIdentity", "invokedBy"]),
]


def json_text(raw):
    """raw bytes as the inside of a JSON string (raw non-UTF-8 bytes kept,
    NUL as \\u0000)."""
    return raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\x00", b"\\u0000")


def ct_record(event_id, value_of):
    """A record whose every text field is value_of(column) (raw bytes)."""
    tree = {}
    for col, path in CT_FIELDS:
        node = tree
        for k in path[:-1]:
            node = node.setdefault(k, {})
        node[path[-1]] = value_of(col)
    tree["eventID"] = event_id
    tree["eventTime"] = b"2024-05-01T12:00:00Z"
    tree["requestID"] = value_of("request_id")
    tree["eventVersion"] = b"1.09"

    def enc(v):
        if isinstance(v, dict):
            return b"{" + b",".join(b'"' + k.encode() + b'":' + enc(x) for k, x in v.items()) + b"}"
        return b'"' + json_text(v) + b'"'
    return enc(tree)


CT_HOSTILE_ID = b"id-" + H
CT_NUL_ID = b"id-nul\x00tail"
CT_PLAIN_ID = b"00000000-0000-0000-0000-000000000001"


def ct_value(kind, col):
    if kind == "hostile":
        return col.encode() + b" " + H
    if kind == "nul":
        return col.encode() + b"\x00after"
    return b"plain-" + col.encode()


def gen_cloudtrail(path):
    recs = [ct_record(CT_HOSTILE_ID, lambda c: ct_value("hostile", c)),
            ct_record(CT_NUL_ID, lambda c: ct_value("nul", c)),
            ct_record(CT_PLAIN_ID, lambda c: ct_value("plain", c))]
    with open(path, "wb") as f:
        f.write(b'{"Records":[' + b",".join(recs) + b"]}")


# ---- kubectl ----------------------------------------------------------------------

def pod(ns, name, uid, node, sa, owner, ip, cid):
    return (b'{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"' + json_text(ns) + b'","name":"'
            + json_text(name) + b'","uid":"' + json_text(uid) + b'","ownerReferences":[{"kind":"DaemonSet","name":"'
            + json_text(owner) + b'"}]},"spec":{"nodeName":"' + json_text(node)
            + b'","serviceAccountName":"' + json_text(sa) + b'","hostNetwork":false},'
            + b'"status":{"phase":"Running","podIP":"' + ip + b'","hostIP":"10.0.1.11",'
            + b'"containerStatuses":[{"containerID":"' + json_text(cid) + b'"}]}}')


K8S_PODS = [
    # (namespace, name, uid, node, service account, owner, pod IP, container id)
    (b"ns" + H, b"pod" + H, b"uid" + H, b"node" + H, b"sa" + H, b"owner" + H, b"10.0.2.1",
     b"containerd://" + H),
    (b"ns\x00x", b"pod\x00x", b"uid\x00x", b"node\x00x", b"sa\x00x", b"owner\x00x", b"10.0.2.2",
     b"containerd://a\x00b"),
    (b"kube-system", b"aws-node-abcde", b"11111111-2222-3333-4444-555555555555", b"ip-10-0-1-11.ec2.internal",
     b"aws-node", b"aws-node", b"10.0.2.3", b"containerd://" + b"ab" * 32),
]
K8S_NODES = [(b"node" + H, b"10.0.1.21"), (b"ip-10-0-1-11.ec2.internal", b"10.0.1.11")]


def gen_k8s(pods_path, nodes_path):
    items = [pod(*p) for p in K8S_PODS]
    with open(pods_path, "wb") as f:
        f.write(b'{"apiVersion":"v1","kind":"List","items":[' + b",".join(items) + b"]}")
    nodes = []
    for name, ip in K8S_NODES:
        nodes.append(b'{"apiVersion":"v1","kind":"Node","metadata":{"name":"' + json_text(name)
                     + b'"},"spec":{"providerID":"aws:///us-east-1a/i-0123456789abcdef0"},'
                     + b'"status":{"addresses":[{"type":"InternalIP","address":"' + ip + b'"}]}}')
    with open(nodes_path, "wb") as f:
        f.write(b'{"apiVersion":"v1","kind":"List","items":[' + b",".join(nodes) + b"]}")


# ---- the checks ----------------------------------------------------------------------

class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, what, got, want):
        self.n += 1
        if got == want:
            print("ok %d - %s" % (self.n, what))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, what))
            print("#   got:  %r" % (got,))
            print("#   want: %r" % (want,))


def one(db, sql, args=()):
    rows = db.execute(sql, args).fetchall()
    return rows[0] if len(rows) == 1 else ("%d rows" % len(rows),)


def check(d, dbpath):
    t = Tap()
    db = sqlite3.connect(dbpath)
    db.text_factory = bytes
    # TLS
    for cport, sni, offered, chosen in TLS_FLOWS:
        row = one(db, "SELECT t.sni, t.alpn, t.alpn_chosen, t.status FROM flow f JOIN tls t ON t.flow_id = f.id"
                      " WHERE f.client_port = ?", (cport,))
        want_offered = cut(b",".join(offered))
        t.check("TLS flow %d: SNI, offered and chosen ALPN stored up to a NUL" % cport,
                row, (cut(sni), want_offered, cut(chosen), b"ok"))
    # HTTP
    for cport, method, path_, host, ua in HTTP_REQS:
        rows = db.execute("SELECT h.method, h.path, h.host, h.user_agent, h.parse_error IS NOT NULL FROM flow f"
                          " JOIN http h ON h.flow_id = f.id WHERE f.client_port = ? ORDER BY h.rowid",
                          (cport,)).fetchall()
        first = (b"GET", b"/latest/meta-data/", b"169.254.169.254", None, 0)
        t.check("HTTP flow %d: its first request intact" % cport, first in rows, True)
        rest = [r for r in rows if r != first]
        row = rest[0] if len(rows) == 2 and len(rest) == 1 else ("%d rows" % len(rows),)
        if b"\x00" in method + path_ + host + ua:
            t.check("HTTP request %d with a NUL: a parse_error row, no fields" % cport,
                    row, (None, None, None, None, 1))
        else:
            t.check("HTTP request %d: method, path, Host, User-Agent stored as sent" % cport,
                    row, (method, path_, host, ua, 0))
    # a role name is IAM's [A-Za-z0-9+=,.@_-]: the hostile path names none,
    # the one with every punctuation IAM allows is kept as sent
    roles = [r[0] for r in db.execute("SELECT h.role_name FROM flow f JOIN http h ON h.flow_id = f.id"
                                      " WHERE f.client_port = 45001").fetchall()]
    t.check("HTTP: a hostile credentials path is not taken for a role", roles, [None, None])
    row = one(db, "SELECT h.role_name FROM flow f JOIN http h ON h.flow_id = f.id WHERE f.client_port = 45003"
                  " AND h.role_name IS NOT NULL")
    t.check("HTTP: a role name with + = , . @ - _ kept as sent", row, (b"node+=,.@-_role",))
    # DNS
    for txid, labels in DNS_QS:
        name = b".".join(labels)
        rows = db.execute("SELECT qname, answers FROM dns WHERE txid = ? ORDER BY response", (txid,)).fetchall()
        t.check("DNS %#x: query and answer qname stored up to a NUL" % txid,
                [r[0] for r in rows], [cut(name), cut(name)])
        ans = rows[1][1] if len(rows) == 2 else None
        try:
            a = json.loads(ans.decode("utf-8")) if ans else None
            ok = a is not None and len(a) == 1 and a[0]["data"] == "10.0.1.5"
            # the owner name in JSON: the bytes up to a NUL, non-UTF-8 as \u00XX
            ok = ok and a[0]["name"].encode("latin-1", "replace")[:3] == cut(name)[:3]
        except (ValueError, UnicodeDecodeError, KeyError, TypeError):
            ok = False
        t.check("DNS %#x: answers are valid JSON with the A record" % txid, ok, True)
    t.check("flows: 9 (3 TLS, 3 HTTP, 3 DNS), none lost or duplicated",
            one(db, "SELECT count(*) FROM flow"), (9,))
    # CloudTrail
    cols = ", ".join(c for c, _ in CT_FIELDS)
    for eid, kind in ((CT_HOSTILE_ID, "hostile"), (CT_NUL_ID, "nul"), (CT_PLAIN_ID, "plain")):
        row = one(db, "SELECT " + cols + " FROM event WHERE event_id = CAST(? AS TEXT)", (cut(eid),))
        want = tuple(cut(ct_value(kind, c)) for c, _ in CT_FIELDS)
        t.check("CloudTrail %s record: every text column stored %s" %
                (kind, "up to the NUL" if kind == "nul" else "as sent"), row, want)
        raw = one(db, "SELECT json_extract(raw, '$.requestID') FROM event WHERE event_id = CAST(? AS TEXT)",
                  (cut(eid),))
        t.check("CloudTrail %s record: requestID kept in raw" % kind, raw,
                (cut(ct_value(kind, "request_id")),))
    t.check("CloudTrail: 3 events stored", one(db, "SELECT count(*) FROM event"), (3,))
    # kubectl
    for ns, name, uid, node, sa, owner, ip, cid in K8S_PODS:
        row = one(db, "SELECT namespace, name, uid, node, service_account, owner_name, container_ids"
                      " FROM pod WHERE pod_ip = CAST(? AS TEXT)", (ip,))
        t.check("pod %s: namespace, name, uid, node, service account, owner, container id stored up to a NUL"
                % ip.decode(), row, (cut(ns), cut(name), cut(uid), cut(node), cut(sa), cut(owner), cut(cid)))
    for name, ip in K8S_NODES:
        t.check("node %s: name stored as sent" % ip.decode(),
                one(db, "SELECT name FROM node WHERE internal_ip = CAST(? AS TEXT)", (ip,)), (name,))
    t.check("PRAGMA integrity_check", one(db, "PRAGMA integrity_check"), (b"ok",))
    print("1..%d" % t.n)
    return 1 if t.failed else 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "gen":
        d = sys.argv[2]
        os.makedirs(d, exist_ok=True)
        gen_pcap(os.path.join(d, "sql.pcap"))
        gen_cloudtrail(os.path.join(d, "cloudtrail.json"))
        gen_k8s(os.path.join(d, "pods.json"), os.path.join(d, "nodes.json"))
        # the hostile strings for sql.t's filters, one per line (no NUL)
        with open(os.path.join(d, "strings"), "wb") as f:
            f.write(ct_value("hostile", "name") + b"\n" + b"sni." + H + b"\n")
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        return check(sys.argv[2], sys.argv[3])
    sys.stderr.write("usage: sql.py gen DIR | sql.py check DIR DB\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
