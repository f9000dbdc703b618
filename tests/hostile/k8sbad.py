#!/usr/bin/env python3
"""k8sbad.py - hostile kubectl JSON for tests/hostile/k8s.t.

Usage: k8sbad.py DIR

Writes the files into DIR and DIR/MANIFEST, one line per file,
tab-separated:

    name  exit  pods  nodes  message  what

exit: the status `callerid k8s` must end with; pods, nodes: the rows the
file must add; message: a regular expression a stderr line naming the
file must match ("-": stderr must be empty); what: a description.

Objects per the Kubernetes v1 API (field names only).
"""
import json
import os
import sys


def pod(name, ip, **kw):
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"namespace": "default", "name": name, "uid": "uid-" + name},
         "spec": {"nodeName": "ip-10-0-1-11.ec2.internal", "serviceAccountName": "default"},
         "status": {"phase": "Running", "podIP": ip, "hostIP": "10.0.1.11"}}
    p.update(kw)
    return p


def node(name, ip):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "spec": {"providerID": "aws:///us-east-1a/i-0123456789abcdef0"},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}


def lst(kind, items):
    return json.dumps({"apiVersion": "v1", "kind": kind, "items": items})


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: k8sbad.py DIR\n")
        return 2
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    manifest = []

    def write(name, data, exit_code, pods, nodes, msg, what):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        manifest.append((name, str(exit_code), str(pods), str(nodes), msg, what))

    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": "default", "name": "web"},
           "spec": {"clusterIP": "10.100.0.1"}}
    write("services.json", lst("List", [svc, svc]), 1, 0, 0, r"item 0: kind Service is not Pod or Node",
          "a Service list")
    write("service.json", json.dumps(svc), 1, 0, 0, r"kind Service: not pods or nodes", "a single Service")
    write("pod.json", json.dumps(pod("single", "10.0.2.1")), 0, 1, 0, "-", "a single Pod")
    write("node.json", json.dumps(node("ip-10-0-1-12.ec2.internal", "10.0.1.12")), 0, 0, 1, "-", "a single Node")
    # kubectl get nodes -o json saved as pods.json: the content decides
    write("pods.json", lst("List", [node("ip-10-0-1-13.ec2.internal", "10.0.1.13"),
                                    node("ip-10-0-1-14.ec2.internal", "10.0.1.14")]), 0, 0, 2, "-",
          "a Node list given where pods were meant: stored as nodes, no pod")
    write("nodelist-items-pods.json", lst("NodeList", [pod("p", "10.0.2.2")]), 0, 1, 0, "-",
          "a NodeList whose item says kind Pod: the item's own kind decides")
    write("podlist-items-object.json", '{"apiVersion":"v1","kind":"PodList","items":{"a":1}}', 1, 0, 0,
          r"PodList without an items array", "a PodList whose items is an object")
    good = lst("List", [pod("a", "10.0.2.3"), pod("b", "10.0.2.4"), pod("c", "10.0.2.5")])
    for at in (10, len(good) // 2, len(good) - 1):
        write("trunc%05d.json" % at, good[:at], 1, 0, 0, r"not valid JSON",
              "a pod list cut at byte %d of %d" % (at, len(good)))
    deep = "[" * 100000 + "]" * 100000
    write("deep-file.json", deep, 1, 0, 0, r"nesting deeper than 256 levels at byte 256",
          "a file of 100000 nested arrays")
    items = json.dumps([pod("a", "10.0.2.6"), pod("b", "10.0.2.7")])
    write("deep-item.json", '{"apiVersion":"v1","kind":"List","items":' + items[:-1] + "," +
          json.dumps(pod("c", "10.0.2.8"))[:-1] + ',"extra":' + deep + "}]}", 1, 0, 0,
          r"nesting deeper than 256 levels at byte [0-9]+", "an item with 100000 nested arrays")
    write("huge-string.json", lst("List", [pod("a", "10.0.2.9"),
                                           pod("b", "10.0.2.10", spec={"nodeName": "x" * (50 * 1024 * 1024)})]),
          1, 0, 0, r"a string longer than the cap of one object at byte [0-9]+", "a 50 MB string in a pod")
    write("wrong-type.json", lst("List", [pod("a", "10.0.2.11"),
                                          pod("b", "10.0.2.12", spec={"nodeName": 5, "hostNetwork": "yes"})]),
          1, 0, 0, r"item 1 \(default/b\): spec.nodeName: expected a string, got integer", "a number for a name")
    write("utf16.json", "\ufeff" + json.dumps(pod("u", "10.0.2.13")), 0, 0, 0, "-", "placeholder")
    with open(os.path.join(d, "utf16.json"), "wb") as f:
        f.write(("\ufeff" + json.dumps(pod("u", "10.0.2.13"))).encode("utf-16-le"))
    manifest[-1] = ("utf16.json", "1", "0", "0", r"UTF-16 text", "UTF-16 (PowerShell redirection)")
    write("nul.json", json.dumps(pod("n", "10.0.2.14")).encode().replace(b'"Running"', b'"Run\x00ing"'), 1, 0, 0,
          r"NUL byte at offset [0-9]+", "a NUL byte in the JSON")
    write("cloudtrail.json", '{"Records":[{"eventID":"x","eventTime":"2024-05-01T12:00:00Z"}]}', 1, 0, 0,
          r"CloudTrail records, not kubectl output", "CloudTrail given to k8s")
    with open(os.path.join(d, "MANIFEST"), "w") as f:
        for m in manifest:
            f.write("\t".join(m) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
