#!/usr/bin/env python3
"""Write the kubectl snapshot of a correlation scenario: k8s/pods.json and
k8s/nodes.json as `kubectl get pods -A -o json` / `kubectl get nodes -o json`
print them (a v1 List of real-schema Pod / Node objects).

The node stands for the lab's node netns (InternalIP = the lab's node
address, providerID aws:///us-east-1a/i-0123456789abcdef0). Its pods are the
usual EKS node set — aws-node (VPC CNI) and kube-proxy on the host network,
coredns with a pod IP — plus the story's hostNetwork DaemonSets
(security-agent, whose service account uses IRSA although its calls carry
the node role; kubecost-network-costs) and the scenario's application pod at
the lab pod's address. UIDs and container IDs are derived from the names, so
a regeneration writes the same objects apart from the times.

Usage: scenario_k8s.py --scenario demo|scenario-keepalive|scenario-tls
                       --at EPOCH --node-ip IP --pod-ip IP --out DIR
"""

import argparse
import datetime
import hashlib
import json
import os
import sys
import uuid

ACCOUNT = "111122223333"
INSTANCE = "i-0123456789abcdef0"
ECR = "602401143452.dkr.ecr.us-east-1.amazonaws.com"

# The application pod of each scenario (the lab's pod1 netns).
APPS = {
    "demo": ("default", "app", "7c9f8d6b5", "x2x9q", "app",
             "111122223333.dkr.ecr.us-east-1.amazonaws.com/app:1.4.2"),
    "scenario-keepalive": ("default", "inventory", "6d5f8b7c9", "m4kzp", "inventory",
                           "111122223333.dkr.ecr.us-east-1.amazonaws.com/inventory:2.0.1"),
    "scenario-tls": ("default", "report", "5b7d9f6c8", "t7wqn", "report",
                     "111122223333.dkr.ecr.us-east-1.amazonaws.com/report:0.9.3"),
}


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def uid(*parts):
    return str(uuid.UUID(bytes=hashlib.sha256("/".join(parts).encode()).digest()[:16], version=4))


def hexid(*parts):
    return hashlib.sha256(("cid-" + "/".join(parts)).encode()).hexdigest()


def irsa_env(role):
    return [
        {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
        {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"},
        {"name": "AWS_REGION", "value": "us-east-1"},
        {"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::%s:role/%s" % (ACCOUNT, role)},
        {"name": "AWS_WEB_IDENTITY_TOKEN_FILE",
         "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"},
    ]


def api_access_volume(suffix):
    return {"name": "kube-api-access-" + suffix, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}


class Env:
    def __init__(self, at, node_ip, pod_ip):
        self.at = at
        self.node_ip = node_ip
        self.pod_ip = pod_ip
        self.node = "ip-%s.ec2.internal" % node_ip.replace(".", "-")


def pod(env, ns, name, owner_kind, owner_name, sa, containers, host_network, ip, labels,
        irsa_role=None, age_h=30.0, extra_volumes=(), priority=None):
    """One Pod object. containers: [(name, image, env list, ports list)]."""
    created = env.at - age_h * 3600
    started = created + 9
    suffix = hexid(ns, name, "kaa")[:5]
    vols = [api_access_volume(suffix)] + list(extra_volumes)
    mounts = [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
               "name": "kube-api-access-" + suffix, "readOnly": True}]
    if irsa_role:
        vols.insert(0, {"name": "aws-iam-token", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"audience": "sts.amazonaws.com",
                                     "expirationSeconds": 86400, "path": "token"}}]}})
        mounts.insert(0, {"mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount",
                          "name": "aws-iam-token", "readOnly": True})
    specs, statuses = [], []
    for cname, image, cenv, ports in containers:
        c = {"name": cname, "image": image, "imagePullPolicy": "IfNotPresent",
             "resources": {"requests": {"cpu": "25m", "memory": "64Mi"}},
             "terminationMessagePath": "/dev/termination-log",
             "terminationMessagePolicy": "File", "volumeMounts": mounts}
        e = list(cenv) + (irsa_env(irsa_role) if irsa_role else [])
        if e:
            c["env"] = e
        if ports:
            c["ports"] = [{"containerPort": p, "name": n, "protocol": "TCP"} for n, p in ports]
            if host_network:
                for p in c["ports"]:
                    p["hostPort"] = p["containerPort"]
        specs.append(c)
        statuses.append({
            "containerID": "containerd://" + hexid(ns, name, cname),
            "image": image,
            "imageID": image.split(":")[0] + "@sha256:" + hexid("image", image),
            "lastState": {}, "name": cname, "ready": True, "restartCount": 0, "started": True,
            "state": {"running": {"startedAt": iso(started)}},
        })
    cond = [{"lastProbeTime": None, "lastTransitionTime": iso(t), "status": "True", "type": k}
            for k, t in (("PodReadyToStartContainers", started), ("Initialized", created + 2),
                         ("Ready", started + 3), ("ContainersReady", started + 3),
                         ("PodScheduled", created))]
    spec = {
        "containers": specs,
        "dnsPolicy": "ClusterFirstWithHostNet" if host_network else "ClusterFirst",
        "enableServiceLinks": True,
        "nodeName": env.node,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 2000001000 if priority else 0,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": sa,
        "serviceAccountName": sa,
        "terminationGracePeriodSeconds": 30,
        "tolerations": [{"operator": "Exists"}] if owner_kind == "DaemonSet" else [
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready",
             "operator": "Exists", "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable",
             "operator": "Exists", "tolerationSeconds": 300}],
        "volumes": vols,
    }
    if host_network:
        spec["hostNetwork"] = True
    if priority:
        spec["priorityClassName"] = priority
    md = {
        "creationTimestamp": iso(created),
        "generateName": name[:name.rfind("-") + 1],
        "labels": labels,
        "name": name,
        "namespace": ns,
        "ownerReferences": [{"apiVersion": "apps/v1", "blockOwnerDeletion": True,
                             "controller": True, "kind": owner_kind, "name": owner_name,
                             "uid": uid(ns, owner_kind, owner_name)}],
        "resourceVersion": str(int(hexid(ns, name)[:6], 16)),
        "uid": uid(ns, name),
    }
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec,
        "status": {
            "conditions": cond, "containerStatuses": statuses,
            "hostIP": env.node_ip, "hostIPs": [{"ip": env.node_ip}],
            "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
            "qosClass": "Burstable", "startTime": iso(created),
        },
    }


def daemonset_pod(env, ns, ds, suffix, sa, containers, irsa_role=None, extra_labels=None):
    labels = {"app.kubernetes.io/name": ds, "controller-revision-hash": hexid(ds)[:10],
              "pod-template-generation": "1"}
    labels.update(extra_labels or {})
    return pod(env, ns, "%s-%s" % (ds, suffix), "DaemonSet", ds, sa, containers, True,
               env.node_ip, labels, irsa_role=irsa_role, priority="system-node-critical")


def pods_for(scenario, env):
    items = [
        daemonset_pod(env, "kube-system", "aws-node", "8fj2k", "aws-node", [
            ("aws-node", ECR + "/amazon-k8s-cni:v1.18.1-eksbuild.1",
             [{"name": "AWS_VPC_K8S_CNI_EXTERNALSNAT", "value": "false"},
              {"name": "MY_NODE_NAME", "valueFrom": {"fieldRef": {
                  "apiVersion": "v1", "fieldPath": "spec.nodeName"}}}],
             [("metrics", 61678)]),
            ("aws-eks-nodeagent", ECR + "/amazon/aws-network-policy-agent:v1.1.1-eksbuild.1",
             [], [])],
            irsa_role="eks-vpc-cni-role", extra_labels={"k8s-app": "aws-node"}),
        daemonset_pod(env, "kube-system", "kube-proxy", "q6xw9", "kube-proxy", [
            ("kube-proxy", ECR + "/eks/kube-proxy:v1.29.3-minimal-eksbuild.2", [], [])],
            extra_labels={"k8s-app": "kube-proxy"}),
        daemonset_pod(env, "kube-system", "security-agent", "7xk2p", "security-agent", [
            ("agent", "registry.example.com/secvendor/security-agent:4.12.0",
             [{"name": "AGENT_NODE_NAME", "valueFrom": {"fieldRef": {
                 "apiVersion": "v1", "fieldPath": "spec.nodeName"}}}], [])],
            irsa_role="security-agent-irsa-role"),
        daemonset_pod(env, "kubecost", "kubecost-network-costs", "lp4mz", "kubecost-network-costs", [
            ("kubecost-network-costs", "gcr.io/kubecost1/kubecost-network-costs:v0.17.3", [],
             [("http-server", 3001)])],
            irsa_role="kubecost-irsa-role"),
        pod(env, "kube-system", "coredns-54d6f577c6-9hz4d", "ReplicaSet", "coredns-54d6f577c6",
            "coredns", [("coredns", ECR + "/eks/coredns:v1.11.1-eksbuild.9", [],
                         [("dns-tcp", 53), ("metrics", 9153)])], False, "10.204.9.2",
            {"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns",
             "pod-template-hash": "54d6f577c6"}, priority="system-cluster-critical"),
    ]
    ns, app, rs, sfx, sa, image = APPS[scenario]
    items.append(pod(env, ns, "%s-%s-%s" % (app, rs, sfx), "ReplicaSet", "%s-%s" % (app, rs), sa,
                     [(app, image, [{"name": "AWS_REGION", "value": "us-east-1"}],
                       [("http", 8080)])], False, env.pod_ip,
                     {"app": app, "pod-template-hash": rs}, age_h=2.0))
    items.sort(key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"]))
    return items


def node_for(env):
    created = env.at - 3 * 86400
    ready = created + 40
    labels = {
        "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/instance-type": "m5.large",
        "beta.kubernetes.io/os": "linux", "eks.amazonaws.com/capacityType": "ON_DEMAND",
        "eks.amazonaws.com/nodegroup": "workers", "eks.amazonaws.com/nodegroup-image":
        "ami-0abcdef1234567890", "failure-domain.beta.kubernetes.io/region": "us-east-1",
        "failure-domain.beta.kubernetes.io/zone": "us-east-1a", "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": env.node, "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "m5.large",
        "topology.kubernetes.io/region": "us-east-1", "topology.kubernetes.io/zone": "us-east-1a",
    }
    res = {"cpu": "2", "ephemeral-storage": "83873772Ki", "hugepages-1Gi": "0",
           "hugepages-2Mi": "0", "memory": "7910348Ki", "pods": "29"}
    alloc = dict(res, cpu="1930m", memory="7220172Ki", **{"ephemeral-storage": "76224326324"})
    cond = []
    for typ, status, reason, msg in (
            ("MemoryPressure", "False", "KubeletHasSufficientMemory",
             "kubelet has sufficient memory available"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID",
             "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status")):
        cond.append({"lastHeartbeatTime": iso(env.at - 20), "lastTransitionTime": iso(ready),
                     "message": msg, "reason": reason, "status": status, "type": typ})
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "annotations": {"alpha.kubernetes.io/provided-node-ip": env.node_ip,
                            "node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
            "creationTimestamp": iso(created), "labels": labels, "name": env.node,
            "resourceVersion": str(int(hexid(env.node)[:6], 16)), "uid": uid("node", env.node),
        },
        "spec": {"providerID": "aws:///us-east-1a/" + INSTANCE},
        "status": {
            "addresses": [{"address": env.node_ip, "type": "InternalIP"},
                          {"address": env.node, "type": "InternalDNS"},
                          {"address": env.node, "type": "Hostname"}],
            "allocatable": alloc, "capacity": res, "conditions": cond,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64", "bootID": uid("boot", env.node),
                "containerRuntimeVersion": "containerd://1.7.11",
                "kernelVersion": "5.10.215-203.850.amzn2.x86_64",
                "kubeProxyVersion": "v1.29.3-eks-ae9a62a", "kubeletVersion": "v1.29.3-eks-ae9a62a",
                "machineID": hexid("machine", env.node)[:32], "operatingSystem": "linux",
                "osImage": "Amazon Linux 2", "systemUUID": "ec2" + uid("sys", env.node)[3:],
            },
        },
    }


def dump(path, items):
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"apiVersion": "v1", "items": items, "kind": "List",
                   "metadata": {"resourceVersion": ""}}, f, indent=4, sort_keys=True)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", required=True, choices=sorted(APPS))
    ap.add_argument("--at", type=float, required=True)
    ap.add_argument("--node-ip", required=True)
    ap.add_argument("--pod-ip", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    env = Env(int(args.at), args.node_ip, args.pod_ip)
    d = os.path.join(args.out, "k8s")
    os.makedirs(d, exist_ok=True)
    dump(os.path.join(d, "pods.json"), pods_for(args.scenario, env))
    dump(os.path.join(d, "nodes.json"), [node_for(env)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
