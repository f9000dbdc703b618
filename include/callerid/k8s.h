/*
 * k8s.h - Kubernetes snapshots (`callerid k8s`) and the lookups the
 * correlator makes in them.
 *
 * A snapshot is the output of `kubectl get pods -A -o json` or `kubectl get
 * nodes -o json` (a List with items, a PodList/NodeList as the API returns
 * it, or a single Pod or Node object; detected from content, never from the
 * file name), stamped with one time: --at, else the file's mtime. SQLite's
 * JSON1 functions do all the JSON parsing (src/ingest/k8s.c); C only checks
 * types and derives a few values (owner, instance id). Rows go to the pod
 * and node tables of the storage contract (schema version 2).
 *
 * The lookups answer "whose IP was this at time T": among the snapshots that
 * contain the key, the one nearest to T wins (a tie goes to the earlier
 * snapshot: it was in effect at T).
 */
#ifndef CID_K8S_H
#define CID_K8S_H

#include <stdio.h>
#include <sqlite3.h>

#include "callerid/common.h"

/* Caps on untrusted input (one place). */
#define CID_K8S_FILE_CAP (1024ull * 1024u * 1024u) /* bytes of one snapshot file */
#define CID_K8S_MAX_ITEMS 1000000u                 /* items of one List */
/* bytes of one pod or node object: etcd refuses objects over 1.5 MiB, so a
 * larger one is not real; SQLite's JSON functions would parse it once per
 * field (a 50 MB pod took 2.8 GB) */
#define CID_K8S_ITEM_CAP (2u * 1024u * 1024u)
#define CID_K8S_MAX_DEPTH 256u                     /* JSON nesting of a file */
#define CID_K8S_MAX_DEPTH_TEXT "256"
#define CID_K8S_MAX_HOST_PODS 1024u                /* hostNetwork pods returned per node */

/* Sizes of the text kept in the result structs (Kubernetes limits: DNS
 * subdomain names are at most 253 bytes, IAM role ARNs 2048). Longer
 * values are truncated in the structs, never in the database. */
#define CID_K8S_NAME_LEN 254u
#define CID_K8S_ARN_LEN 2049u
#define CID_K8S_IDS_LEN 1024u

/* One pod row of a snapshot. Strings are "" when unknown. */
struct cid_pod {
	int64_t snapshot_us;
	char ns[CID_K8S_NAME_LEN];
	char name[CID_K8S_NAME_LEN];
	char uid[64];
	char node[CID_K8S_NAME_LEN];
	char pod_ip[CID_ADDRSTRLEN];
	char pod_ips[4 * CID_ADDRSTRLEN];   /* all pod IPs, comma-joined */
	char host_ip[CID_ADDRSTRLEN];
	char phase[32];
	char owner_kind[64];                /* Deployment, DaemonSet, Job, StatefulSet, Node... */
	char owner_name[CID_K8S_NAME_LEN];
	char service_account[CID_K8S_NAME_LEN];
	char role_arn[CID_K8S_ARN_LEN];     /* IRSA: AWS_ROLE_ARN of a container */
	char container_ids[CID_K8S_IDS_LEN]; /* "containerd://<id>,..." */
	int64_t start_us;                   /* status.startTime, 0 when unknown */
	bool host_network;
	bool irsa_token;                    /* projected sts.amazonaws.com token */
	bool pod_identity;                  /* EKS Pod Identity credentials */
};

/* One node row of a snapshot. */
struct cid_node {
	int64_t snapshot_us;
	char name[CID_K8S_NAME_LEN];
	char internal_ip[CID_ADDRSTRLEN];
	char instance_id[32];               /* "i-0abc..." from spec.providerID */
};

/* A list of pods (heap). cid_pod_list_cleanup frees it; NULL-safe. */
struct cid_pod_list {
	struct cid_pod *pods;
	size_t num_pods;
	bool capped; /* more than CID_K8S_MAX_HOST_PODS matched */
};
void cid_pod_list_cleanup(struct cid_pod_list *l);

/* ---- the loader ---- */

struct cid_k8s_opts {
	bool has_at;
	int64_t at_us;           /* snapshot time for every file (--at) */
	FILE *diag;              /* per-file / per-item messages, or NULL */
	const char *diag_prefix; /* e.g. "callerid: k8s: " */
};

struct cid_k8s_stats {
	uint64_t files;        /* files read (including failed ones) */
	uint64_t files_failed; /* files rejected (nothing of them stored) */
	uint64_t pods;         /* pod rows stored */
	uint64_t nodes;        /* node objects stored */
	uint64_t replaced;     /* rows that replaced the same object at the same snapshot time */
};

struct cid_k8s;

/* A loader writing to db (which must hold schema 2's pod and node tables
 * and have no transaction open). NULL with the reason in err. opts is
 * copied. */
struct cid_k8s *cid_k8s_new(sqlite3 *db, const struct cid_k8s_opts *opts, char *err, size_t err_len);
/* NULL-safe. */
void cid_k8s_free(struct cid_k8s *k);

/*
 * Loads one snapshot file ("-" = standard input). Snapshot time: opts.at_us
 * when set, else the file's mtime (standard input: the current time). The
 * file is one SAVEPOINT: every item is stored, or (on any problem: not
 * JSON, not a Pod/Node list, an item of another kind or with a field of the
 * wrong type) nothing is, and the problem is reported as "PATH: reason" or
 * "PATH: item N: reason" (N counts from 0, as kubectl's items[N]).
 * Loading the same object at the same snapshot time again replaces its row.
 * Returns 0 when stored, 1 when the file was rejected, -CID_EDB when the
 * database failed (stop).
 */
int cid_k8s_load_file(struct cid_k8s *k, const char *path);

/* Same, on content in memory with an explicit snapshot time; origin names it
 * in messages and in the origin column. Used by the tests and the fuzz
 * harness. */
int cid_k8s_load_buffer(struct cid_k8s *k, const char *origin, int64_t snapshot_us,
			const uint8_t *p, size_t p_len);

/* Totals so far. */
const struct cid_k8s_stats *cid_k8s_stats(const struct cid_k8s *k);

/* ---- lookups (read-only SQL over the pod and node tables) ----
 * Each returns 1 when found (out filled), 0 when not (out zeroed),
 * -CID_EDB on a database error. IPs are compared in their canonical text
 * form (inet_ntop), so "fd00:0::1" finds "fd00::1". */

/* The pod that owned ip at at_us: among the snapshots where a pod that is
 * not hostNetwork had ip as status.podIP or in status.podIPs, the nearest
 * one. Within one snapshot a Running pod beats a Pending one beats a
 * finished one (a Succeeded Job pod keeps its old IP in kubectl's output),
 * then the latest start time. */
int cid_k8s_pod_by_ip(sqlite3 *db, const char *ip, int64_t at_us, struct cid_pod *out);

/* The pod with this uid, from the snapshot nearest to at_us. */
int cid_k8s_pod_by_uid(sqlite3 *db, const char *uid, int64_t at_us, struct cid_pod *out);

/* The node whose InternalIP is ip, from the nearest snapshot holding it. */
int cid_k8s_node_by_ip(sqlite3 *db, const char *ip, int64_t at_us, struct cid_node *out);

/* The node with this EC2 instance id ("i-..."), from the nearest snapshot. */
int cid_k8s_node_by_instance(sqlite3 *db, const char *instance_id, int64_t at_us,
			     struct cid_node *out);

/*
 * The hostNetwork pods of a node at the snapshot nearest to at_us. node is
 * the node's name or an IP: its InternalIP (resolved through the node
 * table) or the pods' status.hostIP. The list (heap, in out; free with
 * cid_pod_list_cleanup) is sorted by "namespace/name" and holds at most
 * CID_K8S_MAX_HOST_PODS pods (out->capped says more matched). Returns the
 * number of pods (0 when none), or -CID_EDB / -CID_ENOMEM.
 */
int cid_k8s_host_pods(sqlite3 *db, const char *node, int64_t at_us, struct cid_pod_list *out);

#endif /* CID_K8S_H */
