#!/usr/bin/env python3
"""Turn the lab endpoint's request log into CloudTrail records, as CloudTrail
would have written them for the calls the server actually answered.

Input: the server log of scripts/tls_server.py --log-completion (one JSON line
per request: completion time, peer address, TLS version and cipher as
negotiated, Host, User-Agent, form body, SigV4 access key id, invocation id)
and the callers' logs of scripts/scenario_client.py (invocation id -> caller).

Output, under --out:
  cloudtrail/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_
      <region>_<YYYYMMDDTHHMMZ>_<16 chars>.json.gz    S3 delivery format
      {"Records":[...]}, gzipped; records shuffled (CloudTrail delivers them
      unordered) and split over --files files
  truth.tsv    eventID <TAB> caller label, for every record, in eventTime order

Record fields follow the CloudTrail record contents reference (eventVersion
1.09): the identity comes from the access key id the caller signed with (as
AWS resolves it), the error from a small policy table (the node role may not
call ec2:DescribeTags — the incident in ORIGIN.md), eventTime is the
completion time truncated to whole seconds, sourceIPAddress the peer address
the server saw (after the node's SNAT), tlsDetails what the server negotiated.
eventID/requestID are uuid4s drawn from a generator seeded with --seed.

Usage: scenario_cloudtrail.py --server-log FILE --client-log FILE [...]
                              --out DIR --seed TEXT [--files 2]
"""

import argparse
import datetime
import gzip
import io
import json
import os
import random
import sys
import uuid

ACCOUNT = "111122223333"
REGION = "us-east-1"
INSTANCE = "i-0123456789abcdef0"
VPCE = "vpce-1a2b3c4d"
OIDC = ("arn:aws:iam::%s:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/"
        "EXAMPLED539D4633E53DE1B716D3041E" % ACCOUNT)

# Access key id -> identity. The node role's keys come from IMDS (instance
# profile, ec2RoleDelivery 2.0 = IMDSv2); IRSA keys from
# AssumeRoleWithWebIdentity (webIdFederationData).
IDENTITIES = {
    "ASIA5LABNODEROLE0001": {
        "role": "eks-worker-role", "role_id": "AROA5LABEKSWORKERROLE",
        "session": INSTANCE, "imds": True,
    },
    "ASIA5LABCNIIRSA00002": {
        "role": "eks-vpc-cni-role", "role_id": "AROA5LABEKSVPCCNIROLE",
        "session": "1714560000123456789", "imds": False,
    },
}

# Role -> EC2 actions its policies allow (AmazonEKSWorkerNodePolicy does not
# grant ec2:DescribeTags; AmazonEKS_CNI_Policy grants the ENI calls).
ALLOWED = {
    "eks-worker-role": {"DescribeInstances", "DescribeRouteTables", "DescribeSecurityGroups",
                        "DescribeSubnets", "DescribeVolumes", "DescribeVpcs"},
    "eks-vpc-cni-role": {"DescribeInstances", "DescribeNetworkInterfaces", "DescribeTags",
                         "DescribeInstanceTypes", "AssignPrivateIpAddresses"},
}


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def user_identity(akid, creds_issued):
    ident = IDENTITIES.get(akid)
    if ident is None:
        raise SystemExit("scenario_cloudtrail: unknown access key id %r" % akid)
    role_arn = "arn:aws:iam::%s:role/%s" % (ACCOUNT, ident["role"])
    ctx = {
        "sessionIssuer": {"type": "Role", "principalId": ident["role_id"], "arn": role_arn,
                          "accountId": ACCOUNT, "userName": ident["role"]},
    }
    if not ident["imds"]:
        ctx["webIdFederationData"] = {"federatedProvider": OIDC, "attributes": {}}
    ctx["attributes"] = {"creationDate": iso(creds_issued), "mfaAuthenticated": "false"}
    if ident["imds"]:
        ctx["ec2RoleDelivery"] = "2.0"
    return {
        "type": "AssumedRole",
        "principalId": "%s:%s" % (ident["role_id"], ident["session"]),
        "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (ACCOUNT, ident["role"], ident["session"]),
        "accountId": ACCOUNT,
        "accessKeyId": akid,
        "sessionContext": ctx,
    }, ident


def indexed(form, prefix):
    """Query API lists: Prefix.1, Prefix.2, ... -> values in index order."""
    out = []
    n = 1
    while "%s.%d" % (prefix, n) in form:
        out.append(form["%s.%d" % (prefix, n)])
        n += 1
    return out


def filter_set(form):
    items = []
    n = 1
    while "Filter.%d.Name" % n in form:
        vals = indexed(form, "Filter.%d.Value" % n)
        items.append({"name": form["Filter.%d.Name" % n],
                      "valueSet": {"items": [{"value": v} for v in vals]}})
        n += 1
    return {"items": items} if items else {}


def request_parameters(action, form):
    """requestParameters as EC2 writes them for the Describe calls used here."""
    params = {}
    if action == "DescribeInstances":
        ids = indexed(form, "InstanceId")
        params["instancesSet"] = {"items": [{"instanceId": i} for i in ids]} if ids else {}
        params["filterSet"] = filter_set(form)
    elif action == "DescribeNetworkInterfaces":
        ids = indexed(form, "NetworkInterfaceId")
        params["networkInterfaceIdSet"] = ({"items": [{"networkInterfaceId": i} for i in ids]}
                                           if ids else {})
        params["filterSet"] = filter_set(form)
    else:
        params["filterSet"] = filter_set(form)
    if "MaxResults" in form:
        params["maxResults"] = int(form["MaxResults"])
    return params


def make_record(req, rng, creds_issued):
    ident_json, ident = user_identity(req["access_key_id"], creds_issued)
    action = req["action"]
    rec = {
        "eventVersion": "1.09",
        "userIdentity": ident_json,
        "eventTime": iso(req["time"]),  # truncated to the second, "Z"
        "eventSource": "ec2.amazonaws.com",
        "eventName": action,
        "awsRegion": REGION,
        "sourceIPAddress": req["peer"],
        "userAgent": req["user_agent"],
    }
    if action not in ALLOWED.get(ident["role"], ()):
        rec["errorCode"] = "Client.UnauthorizedOperation"
        rec["errorMessage"] = (
            "You are not authorized to perform this operation. User: %s is not authorized "
            "to perform: ec2:%s because no identity-based policy allows the ec2:%s action"
            % (ident_json["arn"], action, action))
    rec["requestParameters"] = request_parameters(action, req.get("form") or {})
    rec["responseElements"] = None
    rec["requestID"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    rec["eventID"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    rec["readOnly"] = action.startswith("Describe")
    rec["eventType"] = "AwsApiCall"
    rec["managementEvent"] = True
    rec["recipientAccountId"] = ACCOUNT
    rec["vpcEndpointId"] = VPCE
    rec["eventCategory"] = "Management"
    rec["tlsDetails"] = {"tlsVersion": req["tls_version"], "cipherSuite": req["cipher"],
                         "clientProvidedHostHeader": req["host"]}
    return rec


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_files(records, out, nfiles, rng):
    rng.shuffle(records)
    chunks = [records[i::nfiles] for i in range(nfiles)]
    paths = []
    for chunk in chunks:
        if not chunk:
            continue
        # CloudTrail delivers about every 5 minutes; the name carries the
        # delivery time (UTC, minute precision) and a 16-character unique part.
        last = max(datetime.datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
                   for r in chunk)
        deliver = last.replace(second=0) + datetime.timedelta(minutes=5 - last.minute % 5)
        uniq = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                       for _ in range(16))
        d = os.path.join(out, "cloudtrail", "AWSLogs", ACCOUNT, "CloudTrail", REGION,
                         deliver.strftime("%Y"), deliver.strftime("%m"), deliver.strftime("%d"))
        os.makedirs(d, exist_ok=True)
        name = "%s_CloudTrail_%s_%s_%s.json.gz" % (ACCOUNT, REGION,
                                                   deliver.strftime("%Y%m%dT%H%MZ"), uniq)
        buf = io.BytesIO()
        # mtime=0: the same records give the same bytes
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
            gz.write(json.dumps({"Records": chunk}, separators=(",", ":")).encode())
        with open(os.path.join(d, name), "wb") as f:
            f.write(buf.getvalue())
        paths.append(os.path.join(d, name))
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server-log", required=True)
    ap.add_argument("--client-log", action="append", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", required=True)
    ap.add_argument("--files", type=int, default=2)
    args = ap.parse_args()

    requests = [r for r in read_jsonl(args.server_log) if "conn" in r]
    errors = [r for r in read_jsonl(args.server_log) if "error" in r]
    if errors:
        print("scenario_cloudtrail: the server logged errors: %s" % errors, file=sys.stderr)
        return 1
    callers = {}
    for path in args.client_log:
        for c in read_jsonl(path):
            callers[c["invocation_id"]] = c["caller"]
    if len(callers) != len(requests):
        print("scenario_cloudtrail: %d calls made, %d answered" % (len(callers), len(requests)),
              file=sys.stderr)
        return 1

    rng = random.Random(args.seed)
    requests.sort(key=lambda r: (r["time"], r["conn"], r["conn_request"]))
    # credentials were issued some time before the first call
    creds_issued = int(requests[0]["time"]) - 5400
    records, truth = [], []
    for req in requests:
        caller = callers.get(req.get("invocation_id"))
        if caller is None:
            print("scenario_cloudtrail: no caller made %s" % req.get("invocation_id"),
                  file=sys.stderr)
            return 1
        rec = make_record(req, rng, creds_issued)
        records.append(rec)
        truth.append("%s\t%s\n" % (rec["eventID"], caller))
    write_files(records, args.out, args.files, rng)
    with open(os.path.join(args.out, "truth.tsv"), "w", encoding="utf-8") as f:
        f.writelines(truth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
