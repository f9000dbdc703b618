/*
 * k8s.c - kubectl pod/node snapshots into the pod and node tables, and the
 * lookups the correlator makes in them.
 *
 * SQLite's JSON1 functions parse everything (RFC 8259 validation included):
 * a file is checked with json_type, its items are walked with json_each,
 * and each item's fields come out of one prepared SELECT per kind. C checks
 * the JSON types, derives the owner (a ReplicaSet named after its
 * pod-template-hash is a Deployment's) and the EC2 instance id, and
 * canonicalises addresses. Each file is one SAVEPOINT: stored whole or not
 * at all.
 *
 * Field paths follow the Kubernetes API reference (core/v1 Pod and Node);
 * the IRSA and Pod Identity hints are what the EKS webhooks inject:
 * AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE + a projected token with
 * audience sts.amazonaws.com (IRSA), AWS_CONTAINER_CREDENTIALS_FULL_URI
 * (the agent at 169.254.170.23) + the eks-pod-identity-token volume with
 * audience pods.eks.amazonaws.com (Pod Identity).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "callerid/k8s.h"
#include "callerid/output.h"

enum { K_POD, K_NODE };

/* Text/boolean fields of a Pod: value and JSON type are selected for each,
 * in this order, after the computed columns below. */
static const struct field {
	const char *what, *path;
	bool is_bool, required;
} pod_fields[] = {
	{"metadata.namespace", "$.metadata.namespace", false, true},
	{"metadata.name", "$.metadata.name", false, true},
	{"metadata.uid", "$.metadata.uid", false, false},
	{"spec.nodeName", "$.spec.nodeName", false, false},
	{"spec.hostNetwork", "$.spec.hostNetwork", true, false},
	{"status.podIP", "$.status.podIP", false, false},
	{"status.hostIP", "$.status.hostIP", false, false},
	{"status.phase", "$.status.phase", false, false},
	{"status.startTime", "$.status.startTime", false, false},
	{"spec.serviceAccountName", "$.spec.serviceAccountName", false, false},
	{"spec.serviceAccount", "$.spec.serviceAccount", false, false},
	{"metadata.labels.pod-template-hash", "$.metadata.labels.\"pod-template-hash\"", false, false},
};
enum { PF_NS, PF_NAME, PF_UID, PF_NODE, PF_HOSTNET, PF_PODIP, PF_HOSTIP, PF_PHASE, PF_START,
       PF_SA, PF_SA_OLD, PF_HASH, NUM_POD_FIELDS };

/* Computed pod columns 0..6: owner kind, owner name (the controller
 * reference, else the first), pod IPs, container ids (containers then init
 * containers), AWS_ROLE_ARN, IRSA token, Pod Identity. */
#define POD_COMPUTED 7
static const char pod_sql_head[] =
	"WITH c(v) AS (SELECT value FROM json_each(?1,'$.spec.containers') WHERE type='object'"
	" UNION ALL SELECT value FROM json_each(?1,'$.spec.initContainers') WHERE type='object'),"
	" env(n, v, t) AS (SELECT json_extract(e.value,'$.name'), json_extract(e.value,'$.value'),"
	" json_type(e.value,'$.value') FROM c, json_each(c.v,'$.env') e WHERE e.type='object'),"
	" vol(v) AS (SELECT value FROM json_each(?1,'$.spec.volumes') WHERE type='object'),"
	" own(k, n) AS (SELECT json_extract(value,'$.kind'), json_extract(value,'$.name')"
	" FROM json_each(?1,'$.metadata.ownerReferences') WHERE type='object'"
	" ORDER BY json_extract(value,'$.controller') IS NOT 1, key LIMIT 1)"
	" SELECT (SELECT k FROM own WHERE typeof(k)='text'), (SELECT n FROM own WHERE typeof(n)='text'),"
	" (SELECT group_concat(a, ',') FROM (SELECT json_extract(value,'$.ip') AS a"
	" FROM json_each(?1,'$.status.podIPs') WHERE type='object' ORDER BY key) WHERE typeof(a)='text'),"
	" (SELECT group_concat(i, ',') FROM (SELECT json_extract(value,'$.containerID') AS i, 0 AS o, key AS q"
	" FROM json_each(?1,'$.status.containerStatuses') WHERE type='object' UNION ALL"
	" SELECT json_extract(value,'$.containerID'), 1, key FROM json_each(?1,'$.status.initContainerStatuses')"
	" WHERE type='object' ORDER BY o, q) WHERE typeof(i)='text' AND i <> ''),"
	" (SELECT v FROM env WHERE n='AWS_ROLE_ARN' AND t='text' LIMIT 1),"
	" EXISTS(SELECT 1 FROM env WHERE n='AWS_WEB_IDENTITY_TOKEN_FILE') OR EXISTS(SELECT 1 FROM vol,"
	" json_each(vol.v,'$.projected.sources') s WHERE s.type='object'"
	" AND json_extract(s.value,'$.serviceAccountToken.audience')='sts.amazonaws.com'),"
	" EXISTS(SELECT 1 FROM env WHERE n='AWS_CONTAINER_CREDENTIALS_FULL_URI') OR EXISTS(SELECT 1 FROM vol"
	" WHERE json_extract(v,'$.name')='eks-pod-identity-token') OR EXISTS(SELECT 1 FROM vol,"
	" json_each(vol.v,'$.projected.sources') s WHERE s.type='object'"
	" AND json_extract(s.value,'$.serviceAccountToken.audience')='pods.eks.amazonaws.com')";

/* Node: name, its type, providerID, its type, the InternalIP addresses. */
static const char node_sql[] =
	"SELECT json_extract(?1,'$.metadata.name'), json_type(?1,'$.metadata.name'),"
	" json_extract(?1,'$.spec.providerID'), json_type(?1,'$.spec.providerID'),"
	" (SELECT group_concat(a, ',') FROM (SELECT json_extract(value,'$.address') AS a"
	" FROM json_each(?1,'$.status.addresses') WHERE type='object'"
	" AND json_extract(value,'$.type')='InternalIP' ORDER BY key) WHERE typeof(a)='text')";

enum stmt_id {
	S_VALID,
	S_ROOT,
	S_ITEMS,
	S_POD,
	S_NODE,
	S_POD_DEL,
	S_POD_INS,
	S_NODE_DEL,
	S_NODE_INS,
	S__COUNT
};

static const char *const fixed_sql[S__COUNT] = {
	/* json_type, not json_valid: json_valid answers 0 when it runs out
	 * of memory, json_type raises "malformed JSON" or the NOMEM */
	[S_VALID] = "SELECT json_type(?1) IS NOT NULL",
	[S_ROOT] = "SELECT json_type(?1), json_extract(?1,'$.kind'), json_type(?1,'$.kind'),"
		   " json_type(?1,'$.items'), json_array_length(?1,'$.items'), json_type(?1,'$.Records')",
	[S_ITEMS] = "SELECT key, value, type, json_extract(value,'$.kind'), json_type(value,'$.kind')"
		    " FROM json_each(?1,'$.items') ORDER BY key",
	[S_POD_DEL] = "DELETE FROM pod WHERE snapshot_us=?1 AND namespace=?2 AND name=?3",
	[S_POD_INS] = "INSERT INTO pod(snapshot_us, namespace, name, uid, node, host_network, pod_ip,"
		      " host_ip, owner_kind, owner_name, service_account, container_ids, pod_ips, phase,"
		      " role_arn, irsa_token, pod_identity, start_us, origin) VALUES(?1,?2,?3,?4,?5,?6,"
		      "?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)",
	[S_NODE_DEL] = "DELETE FROM node WHERE snapshot_us=?1 AND name=?2",
	[S_NODE_INS] = "INSERT INTO node(snapshot_us, name, internal_ip, instance_id, origin)"
		       " VALUES(?1,?2,?3,?4,?5)",
};

struct cid_k8s {
	sqlite3 *db;
	sqlite3_stmt *st[S__COUNT];
	struct cid_k8s_opts opts;
	struct cid_k8s_stats st_;
	/* the file being loaded */
	const char *origin;
	int64_t snapshot_us;
	uint64_t file_pods, file_nodes, file_replaced;
	uint8_t *buf;
	size_t buf_cap;
	bool bind_failed; /* a value of the row being written could not be bound */
};

static void diag(struct cid_k8s *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void diag(struct cid_k8s *k, const char *fmt, ...)
{
	va_list ap;
	if (!k->opts.diag)
		return;
	fputs(k->opts.diag_prefix ? k->opts.diag_prefix : "", k->opts.diag);
	va_start(ap, fmt);
	vfprintf(k->opts.diag, fmt, ap);
	va_end(ap);
	fputc('\n', k->opts.diag);
}

struct cid_k8s *cid_k8s_new(sqlite3 *db, const struct cid_k8s_opts *opts, char *err, size_t err_len)
{
	struct cid_k8s *k = calloc(1, sizeof(*k));
	struct cid_buf sql;
	if (!k) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	k->db = db;
	if (opts)
		k->opts = *opts;
	cid_buf_init(&sql, 64 * 1024);
	cid_buf_adds(&sql, pod_sql_head);
	for (size_t i = 0; i < NUM_POD_FIELDS; i++)
		cid_buf_printf(&sql, ", json_extract(?1,'%s'), json_type(?1,'%s')", pod_fields[i].path,
			       pod_fields[i].path);
	for (int i = 0; i < S__COUNT; i++) {
		const char *text = i == S_POD ? cid_buf_str(&sql) : i == S_NODE ? node_sql : fixed_sql[i];
		if (sql.oom || sql.capped ||
		    sqlite3_prepare_v2(db, text, -1, &k->st[i], NULL) != SQLITE_OK) {
			snprintf(err, err_len, "preparing snapshot statements: %s",
				 sql.oom ? "out of memory" : sqlite3_errmsg(db));
			cid_buf_cleanup(&sql);
			cid_k8s_free(k);
			return NULL;
		}
	}
	cid_buf_cleanup(&sql);
	return k;
}

void cid_k8s_free(struct cid_k8s *k)
{
	if (!k)
		return;
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(k->st[i]);
	free(k->buf);
	free(k);
}

const struct cid_k8s_stats *cid_k8s_stats(const struct cid_k8s *k)
{
	return &k->st_;
}

/* Canonical text of an address (inet_ntop's form); other text is copied. */
static void canon_ip(char *out, size_t out_len, const char *in)
{
	struct cid_addr a;
	if (in && cid_addr_parse(&a, in))
		cid_addr_str(&a, out, out_len);
	else
		snprintf(out, out_len, "%s", in ? in : "");
}

/* Canonicalises each element of a comma-joined address list into b. */
static void canon_list(struct cid_buf *b, const char *list)
{
	const char *p = list;
	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char one[256], c[256];
		snprintf(one, sizeof(one), "%.*s", (int)(n < 255 ? n : 255), p);
		canon_ip(c, sizeof(c), one);
		if (b->len)
			cid_buf_addc(b, ',');
		cid_buf_adds(b, c);
		p = e ? e + 1 : NULL;
	}
}

static const char *col_text(sqlite3_stmt *s, int col)
{
	return (const char *)sqlite3_column_text(s, col);
}

/* Makes every column of the row text now, so that later col_text calls
 * only read. False when SQLite ran out of memory doing so: a NULL would
 * then pass for an absent field. */
static bool row_ready(sqlite3 *db, sqlite3_stmt *s)
{
	for (int c = 0; c < sqlite3_column_count(s); c++)
		(void)sqlite3_column_text(s, c);
	return sqlite3_errcode(db) != SQLITE_NOMEM;
}

/* Item-level failure: "PATH: item N (ns/name): reason" (no item for a lone
 * object). Always returns 1. */
static int item_fail(struct cid_k8s *k, long long index, const char *who, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int item_fail(struct cid_k8s *k, long long index, const char *who, const char *fmt, ...)
{
	char msg[512], where[320] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (index >= 0)
		snprintf(where, sizeof(where), "item %lld%s%s%s: ", index, who ? " (" : "",
			 who ? who : "", who ? ")" : "");
	diag(k, "%s: %s%s", k->origin, where, msg);
	return 1;
}

/* Binds a copy of text (n bytes, -1: to its NUL). A copy needs memory:
 * a failure is kept for step_write, which then writes nothing rather than
 * a row with a NULL in its place. */
static void bind_txt(struct cid_k8s *k, sqlite3_stmt *s, int i, const char *v, int n)
{
	if (sqlite3_bind_text(s, i, v, n, SQLITE_TRANSIENT) != SQLITE_OK)
		k->bind_failed = true;
}

/* Binds text or NULL. */
static void bind_opt(struct cid_k8s *k, sqlite3_stmt *s, int i, const char *v)
{
	if (v && *v)
		bind_txt(k, s, i, v, -1);
	else
		sqlite3_bind_null(s, i);
}

static int db_fail(struct cid_k8s *k)
{
	diag(k, "%s: database: %s", k->origin, sqlite3_errmsg(k->db));
	return -CID_EDB;
}

/* Runs a write statement; resets it. 0 or -CID_EDB. */
static int step_write(struct cid_k8s *k, sqlite3_stmt *s)
{
	int rc;
	if (sqlite3_get_autocommit(k->db)) {
		/* SQLite rolled the file's savepoint back (a statement reset
		 * after running out of memory does): a write now would be
		 * committed on its own, outside the file's all-or-nothing */
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		k->bind_failed = false;
		diag(k, "%s: database: the file's transaction was rolled back (out of memory)", k->origin);
		return -CID_EDB;
	}
	if (k->bind_failed) {
		k->bind_failed = false;
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		diag(k, "%s: database: out of memory", k->origin);
		return -CID_EDB;
	}
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : db_fail(k);
}

/*
 * The owner: a ReplicaSet whose name ends in "-<pod-template-hash>" was made
 * by a Deployment of the name before it (the Deployment controller names its
 * ReplicaSets so); anything else (DaemonSet, StatefulSet, Job, Node for
 * static pods) is kept as it is.
 */
static void owner_of(const char *kind, const char *name, const char *hash, char *okind,
		     size_t okind_len, char *oname, size_t oname_len)
{
	snprintf(okind, okind_len, "%s", kind ? kind : "");
	snprintf(oname, oname_len, "%s", name ? name : "");
	if (kind && name && hash && *hash && !strcmp(kind, "ReplicaSet")) {
		size_t n = strlen(name), h = strlen(hash);
		if (n > h + 1 && name[n - h - 1] == '-' && !strcmp(name + n - h, hash)) {
			snprintf(okind, okind_len, "Deployment");
			snprintf(oname, oname_len, "%.*s", (int)(n - h - 1), name);
		}
	}
}

/* Type checks of the pod fields: strings must be strings, booleans
 * booleans; required ones present. NULL when fine, else the message. */
static const char *check_pod_types(sqlite3_stmt *s, char *msg, size_t msg_len)
{
	for (size_t i = 0; i < NUM_POD_FIELDS; i++) {
		int col = POD_COMPUTED + 2 * (int)i;
		const char *ty = col_text(s, col + 1);
		const struct field *f = &pod_fields[i];
		if (!ty || !strcmp(ty, "null")) {
			if (f->required) {
				snprintf(msg, msg_len, "%s is missing", f->what);
				return msg;
			}
			continue;
		}
		if (f->is_bool ? (strcmp(ty, "true") && strcmp(ty, "false")) : strcmp(ty, "text")) {
			snprintf(msg, msg_len, "%s: expected a %s, got %s", f->what,
				 f->is_bool ? "boolean" : "string", ty);
			return msg;
		}
	}
	return NULL;
}

static int store_pod(struct cid_k8s *k, long long index, const char *p, size_t p_len)
{
	sqlite3_stmt *s = k->st[S_POD], *w = k->st[S_POD_INS], *d = k->st[S_POD_DEL];
	char msg[300], who[2 * CID_K8S_NAME_LEN + 2], okind[64], oname[CID_K8S_NAME_LEN];
	char podip[256], hostip[256];
	struct cid_buf ips;
	int64_t start = 0;
	int rc = 0;

	cid_buf_init(&ips, 4096);
	sqlite3_bind_text(s, 1, p, (int)p_len, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW) {
		rc = item_fail(k, index, NULL, "cannot read the pod (%s)", sqlite3_errmsg(k->db));
		goto out;
	}
	if (!row_ready(k->db, s)) {
		rc = item_fail(k, index, NULL, "cannot read the pod (out of memory)");
		goto out;
	}
#define F(i) col_text(s, POD_COMPUTED + 2 * (i))
	snprintf(who, sizeof(who), "%s/%s", F(PF_NS) ? F(PF_NS) : "?", F(PF_NAME) ? F(PF_NAME) : "?");
	if (check_pod_types(s, msg, sizeof(msg))) {
		rc = item_fail(k, index, who, "%s", msg);
		goto out;
	}
	if (F(PF_START) && !cid_time_parse(F(PF_START), &start)) {
		rc = item_fail(k, index, who, "status.startTime: not an ISO-8601 time");
		goto out;
	}
	owner_of(col_text(s, 0), col_text(s, 1), F(PF_HASH), okind, sizeof(okind), oname, sizeof(oname));
	canon_ip(podip, sizeof(podip), F(PF_PODIP));
	canon_ip(hostip, sizeof(hostip), F(PF_HOSTIP));
	/* status.podIPs holds podIP first; a pod with podIP only (old API
	 * servers) still gets its one address in the list. */
	canon_list(&ips, col_text(s, 2) ? col_text(s, 2) : podip);
	if (ips.oom) {
		rc = item_fail(k, index, who, "out of memory");
		goto out;
	}

	sqlite3_bind_int64(d, 1, k->snapshot_us);
	bind_txt(k, d, 2, F(PF_NS), -1);
	bind_txt(k, d, 3, F(PF_NAME), -1);
	if ((rc = step_write(k, d)) != 0)
		goto out;
	k->file_replaced += (uint64_t)sqlite3_changes(k->db);

	sqlite3_bind_int64(w, 1, k->snapshot_us);
	bind_txt(k, w, 2, F(PF_NS), -1);
	bind_txt(k, w, 3, F(PF_NAME), -1);
	bind_opt(k, w, 4, F(PF_UID));
	bind_opt(k, w, 5, F(PF_NODE));
	sqlite3_bind_int(w, 6, F(PF_HOSTNET) && col_text(s, POD_COMPUTED + 2 * PF_HOSTNET + 1) &&
				       !strcmp(col_text(s, POD_COMPUTED + 2 * PF_HOSTNET + 1), "true"));
	bind_opt(k, w, 7, podip);
	bind_opt(k, w, 8, hostip);
	bind_opt(k, w, 9, okind);
	bind_opt(k, w, 10, oname);
	bind_opt(k, w, 11, F(PF_SA) ? F(PF_SA) : F(PF_SA_OLD));
	bind_opt(k, w, 12, col_text(s, 3));
	bind_opt(k, w, 13, cid_buf_str(&ips));
	bind_opt(k, w, 14, F(PF_PHASE));
	bind_opt(k, w, 15, col_text(s, 4));
	sqlite3_bind_int(w, 16, sqlite3_column_int(s, 5) != 0);
	sqlite3_bind_int(w, 17, sqlite3_column_int(s, 6) != 0);
	if (F(PF_START))
		sqlite3_bind_int64(w, 18, start);
	else
		sqlite3_bind_null(w, 18);
	bind_txt(k, w, 19, k->origin, -1);
	if ((rc = step_write(k, w)) != 0)
		goto out;
	k->file_pods++;
#undef F
out:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	cid_buf_cleanup(&ips);
	return rc;
}

/* spec.providerID of an EC2 node is "aws:///<zone>/<instance id>". */
static void instance_of(const char *provider, char *out, size_t out_len)
{
	const char *slash;
	out[0] = '\0';
	if (!provider || strncmp(provider, "aws://", 6))
		return;
	slash = strrchr(provider, '/');
	if (slash && !strncmp(slash + 1, "i-", 2) && strlen(slash + 1) < out_len)
		snprintf(out, out_len, "%s", slash + 1);
}

static int store_node(struct cid_k8s *k, long long index, const char *p, size_t p_len)
{
	sqlite3_stmt *s = k->st[S_NODE], *w = k->st[S_NODE_INS], *d = k->st[S_NODE_DEL];
	char inst[32], name[CID_K8S_NAME_LEN];
	const char *ty;
	struct cid_buf ips;
	int rc = 0;

	cid_buf_init(&ips, 4096);
	sqlite3_bind_text(s, 1, p, (int)p_len, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW) {
		rc = item_fail(k, index, NULL, "cannot read the node (%s)", sqlite3_errmsg(k->db));
		goto out;
	}
	if (!row_ready(k->db, s)) {
		rc = item_fail(k, index, NULL, "cannot read the node (out of memory)");
		goto out;
	}
	ty = col_text(s, 1);
	if (!ty || strcmp(ty, "text")) {
		rc = item_fail(k, index, NULL, "metadata.name: expected a string, got %s",
			       ty ? ty : "nothing");
		goto out;
	}
	snprintf(name, sizeof(name), "%s", col_text(s, 0));
	ty = col_text(s, 3);
	if (ty && strcmp(ty, "text") && strcmp(ty, "null")) {
		rc = item_fail(k, index, name, "spec.providerID: expected a string, got %s", ty);
		goto out;
	}
	instance_of(col_text(s, 2), inst, sizeof(inst));
	canon_list(&ips, col_text(s, 4));
	if (ips.oom) {
		rc = item_fail(k, index, name, "out of memory");
		goto out;
	}

	sqlite3_bind_int64(d, 1, k->snapshot_us);
	bind_txt(k, d, 2, col_text(s, 0), -1);
	if ((rc = step_write(k, d)) != 0)
		goto out;
	k->file_replaced += sqlite3_changes(k->db) ? 1u : 0u;
	/* One row per InternalIP (dual-stack nodes have two); none: one row
	 * without an address, so the node is still known by name. */
	const char *q = ips.len ? cid_buf_str(&ips) : NULL;
	do {
		const char *e = q ? strchr(q, ',') : NULL;
		sqlite3_bind_int64(w, 1, k->snapshot_us);
		bind_txt(k, w, 2, col_text(s, 0), -1);
		if (q)
			bind_txt(k, w, 3, q, e ? (int)(e - q) : -1);
		else
			sqlite3_bind_null(w, 3);
		bind_opt(k, w, 4, inst);
		bind_txt(k, w, 5, k->origin, -1);
		if ((rc = step_write(k, w)) != 0)
			goto out;
		q = e ? e + 1 : NULL;
	} while (q);
	k->file_nodes++;
out:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	cid_buf_cleanup(&ips);
	return rc;
}

/* The kind an item's "kind" names, or -1. */
static int kind_of(const char *kind)
{
	if (!kind)
		return -1;
	if (!strcmp(kind, "Pod"))
		return K_POD;
	if (!strcmp(kind, "Node"))
		return K_NODE;
	return -1;
}

/* Stores the items of a List (list_kind: the kind its items have when they
 * carry none, as in the API's PodList/NodeList, else -1). */
static int store_items(struct cid_k8s *k, const char *p, size_t p_len, int list_kind)
{
	sqlite3_stmt *it = k->st[S_ITEMS];
	int rc = 0, r;
	sqlite3_bind_text(it, 1, p, (int)p_len, SQLITE_STATIC);
	while ((r = sqlite3_step(it)) == SQLITE_ROW) {
		long long index = sqlite3_column_int64(it, 0);
		const char *ty, *kty;
		int kind = list_kind;
		if (!row_ready(k->db, it)) {
			rc = item_fail(k, index, NULL, "out of memory");
			break;
		}
		ty = col_text(it, 2), kty = col_text(it, 4);
		if (!ty || strcmp(ty, "object")) {
			rc = item_fail(k, index, NULL, "not an object (%s)", ty ? ty : "?");
			break;
		}
		if (kty && strcmp(kty, "null")) {
			kind = kind_of(strcmp(kty, "text") ? NULL : col_text(it, 3));
			if (kind < 0) {
				rc = item_fail(k, index, NULL,
					       "kind %s is not Pod or Node (kubectl get pods -A -o json,"
					       " kubectl get nodes -o json)",
					       strcmp(kty, "text") ? kty : col_text(it, 3));
				break;
			}
		} else if (kind < 0) {
			rc = item_fail(k, index, NULL, "no kind");
			break;
		}
		const char *v = col_text(it, 1);
		size_t vn = (size_t)sqlite3_column_bytes(it, 1);
		if (vn > CID_K8S_ITEM_CAP) {
			rc = item_fail(k, index, NULL, "%zu bytes, over the %u-byte cap of one object", vn,
				       CID_K8S_ITEM_CAP);
			break;
		}
		rc = kind == K_POD ? store_pod(k, index, v, vn) : store_node(k, index, v, vn);
		if (rc != 0)
			break;
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = item_fail(k, -1, NULL, "reading items: %s", sqlite3_errmsg(k->db));
	sqlite3_reset(it);
	sqlite3_clear_bindings(it);
	return rc;
}

/* Recognises the document and stores its objects. 0, 1 (rejected, reported)
 * or -CID_EDB. Runs inside the file's SAVEPOINT. */
/* Before SQLite parses anything (its JSON functions parse a document once
 * per field, a 50 MB string took gigabytes): the offset of the first
 * bracket nesting deeper than CID_K8S_MAX_DEPTH or of the first string
 * longer than CID_K8S_ITEM_CAP, with what it is in *why; SIZE_MAX when
 * neither. kubectl output nests a few levels, and etcd refuses objects
 * over 1.5 MiB, so neither is real. Strings are skipped, escapes honoured. */
static size_t implausible(const char *p, size_t n, const char **why)
{
	size_t depth = 0, str_start = 0;
	bool in_str = false;
	for (size_t i = 0; i < n; i++) {
		char b = p[i];
		if (in_str) {
			if (b == '\\')
				i++;
			else if (b == '"')
				in_str = false;
			if (in_str && i - str_start > CID_K8S_ITEM_CAP) {
				*why = "a string longer than the cap of one object";
				return str_start;
			}
		} else if (b == '"') {
			in_str = true;
			str_start = i;
		} else if (b == '{' || b == '[') {
			if (++depth > CID_K8S_MAX_DEPTH) {
				*why = "nesting deeper than " CID_K8S_MAX_DEPTH_TEXT " levels";
				return i;
			}
		} else if ((b == '}' || b == ']') && depth) {
			depth--;
		}
	}
	return SIZE_MAX;
}

static int store_doc(struct cid_k8s *k, const uint8_t *p, size_t p_len)
{
	sqlite3_stmt *v = k->st[S_VALID], *r = k->st[S_ROOT];
	const char *text = (const char *)p;
	const void *nul;
	const char *why = NULL;
	size_t odd;
	int rc = 1;

	if (p_len >= 2 && ((p[0] == 0xff && p[1] == 0xfe) || (p[0] == 0xfe && p[1] == 0xff)))
		return item_fail(k, -1, NULL, "UTF-16 text (PowerShell redirection?); convert it to UTF-8");
	if (p_len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
		text += 3; /* a UTF-8 byte order mark: RFC 8259 section 8.1 lets parsers skip it */
		p_len -= 3;
	}
	if ((nul = memchr(text, 0, p_len)) != NULL)
		return item_fail(k, -1, NULL, "not JSON text: NUL byte at offset %zu",
				 (size_t)((const char *)nul - (const char *)p));
	if (p_len > INT32_MAX)
		return item_fail(k, -1, NULL, "too large for SQLite's JSON functions");
	if ((odd = implausible(text, p_len, &why)) != SIZE_MAX)
		return item_fail(k, -1, NULL, "%s at byte %zu", why, odd + (size_t)(text - (const char *)p));
	sqlite3_bind_text(v, 1, text, (int)p_len, SQLITE_STATIC);
	if (sqlite3_step(v) != SQLITE_ROW || sqlite3_column_int(v, 0) != 1) {
		bool oom = sqlite3_errcode(k->db) == SQLITE_NOMEM;
		sqlite3_reset(v);
		sqlite3_clear_bindings(v);
		return item_fail(k, -1, NULL, "%s", oom ? "out of memory" : "not valid JSON");
	}
	sqlite3_reset(v);
	sqlite3_clear_bindings(v);

	sqlite3_bind_text(r, 1, text, (int)p_len, SQLITE_STATIC);
	if (sqlite3_step(r) != SQLITE_ROW) {
		rc = item_fail(k, -1, NULL, "reading the document: %s", sqlite3_errmsg(k->db));
		goto out;
	}
	if (!row_ready(k->db, r)) {
		rc = item_fail(k, -1, NULL, "reading the document: out of memory");
		goto out;
	}
	const char *root = col_text(r, 0), *kind = col_text(r, 1), *kty = col_text(r, 2);
	const char *items = col_text(r, 3);
	if (!root || strcmp(root, "object")) {
		rc = item_fail(k, -1, NULL, "JSON %s, not a kubectl object", root ? root : "?");
	} else if (!kty || strcmp(kty, "text")) {
		rc = item_fail(k, -1, NULL, "%s",
			       col_text(r, 5) ? "CloudTrail records, not kubectl output (use callerid ingest)"
					      : "no \"kind\": not kubectl get pods/nodes -o json output");
	} else if (!strcmp(kind, "List") || !strcmp(kind, "PodList") || !strcmp(kind, "NodeList")) {
		if (!items || strcmp(items, "array"))
			rc = item_fail(k, -1, NULL, "%s without an items array", kind);
		else if (sqlite3_column_int64(r, 4) > (sqlite3_int64)CID_K8S_MAX_ITEMS)
			rc = item_fail(k, -1, NULL, "more than %u items", CID_K8S_MAX_ITEMS);
		else
			rc = store_items(k, text, p_len,
					 !strcmp(kind, "PodList") ? K_POD : !strcmp(kind, "NodeList") ? K_NODE : -1);
	} else if ((kind_of(kind) == K_POD || kind_of(kind) == K_NODE) && p_len > CID_K8S_ITEM_CAP) {
		rc = item_fail(k, -1, NULL, "%zu bytes, over the %u-byte cap of one object", p_len, CID_K8S_ITEM_CAP);
	} else if (kind_of(kind) == K_POD) {
		rc = store_pod(k, -1, text, p_len);
	} else if (kind_of(kind) == K_NODE) {
		rc = store_node(k, -1, text, p_len);
	} else {
		rc = item_fail(k, -1, NULL,
			       "kind %s: not pods or nodes (kubectl get pods -A -o json, kubectl get nodes -o json)",
			       kind);
	}
out:
	sqlite3_reset(r);
	sqlite3_clear_bindings(r);
	return rc;
}

static int exec(struct cid_k8s *k, const char *sql)
{
	return sqlite3_exec(k->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : db_fail(k);
}

int cid_k8s_load_buffer(struct cid_k8s *k, const char *origin, int64_t snapshot_us,
			const uint8_t *p, size_t p_len)
{
	int rc;
	k->st_.files++;
	k->origin = origin;
	k->snapshot_us = snapshot_us;
	k->file_pods = k->file_nodes = k->file_replaced = 0;
	if (exec(k, "SAVEPOINT cid_k8s_file") != 0) {
		k->st_.files_failed++;
		return -CID_EDB;
	}
	rc = store_doc(k, p ? p : (const uint8_t *)"", p_len);
	if (rc == 0 && exec(k, "RELEASE cid_k8s_file") == 0) {
		k->st_.pods += k->file_pods;
		k->st_.nodes += k->file_nodes;
		k->st_.replaced += k->file_replaced;
		return 0;
	}
	/* Never half-commit: the file's rows all go (SQLite may have rolled
	 * the savepoint back already: then there is none to roll back). */
	if (!sqlite3_get_autocommit(k->db) &&
	    sqlite3_exec(k->db, "ROLLBACK TO cid_k8s_file; RELEASE cid_k8s_file", NULL, NULL, NULL) != SQLITE_OK &&
	    !sqlite3_get_autocommit(k->db)) {
		/* still inside it: leaving it open would swallow the next files */
		db_fail(k);
		sqlite3_exec(k->db, "ROLLBACK", NULL, NULL, NULL);
		rc = -CID_EDB;
	}
	if (rc == 0)
		rc = -CID_EDB;
	diag(k, "%s: nothing from this file was stored", origin);
	k->st_.files_failed++;
	return rc;
}

/* Reads a whole (plain or gzip) file into k->buf. Length, or -1 after
 * reporting. */
static long long read_all(struct cid_k8s *k, const char *path, int fd)
{
	gzFile gz = fd >= 0 ? gzdopen(fd, "rb") : gzopen(path, "rb");
	size_t len = 0;
	int errnum = Z_OK;
	if (!gz) {
		diag(k, "%s: %s", path, strerror(errno ? errno : ENOMEM));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (;;) {
		if (len == k->buf_cap) {
			size_t ncap = k->buf_cap ? k->buf_cap * 2 : 1024 * 1024;
			uint8_t *nb;
			if (k->buf_cap >= CID_K8S_FILE_CAP) {
				diag(k, "%s: larger than the %llu-byte cap, not read", path,
				     (unsigned long long)CID_K8S_FILE_CAP);
				gzclose(gz);
				return -1;
			}
			if (ncap > CID_K8S_FILE_CAP)
				ncap = CID_K8S_FILE_CAP;
			nb = realloc(k->buf, ncap);
			if (!nb) {
				diag(k, "%s: out of memory", path);
				gzclose(gz);
				return -1;
			}
			k->buf = nb;
			k->buf_cap = ncap;
		}
		size_t want = k->buf_cap - len;
		int n = gzread(gz, k->buf + len, (unsigned)(want > (1u << 30) ? (1u << 30) : want));
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	const char *msg = gzerror(gz, &errnum);
	if (errnum != Z_OK) {
		diag(k, "%s: read error after %zu bytes: %s", path, len, msg);
		gzclose(gz);
		return -1;
	}
	gzclose(gz);
	return (long long)len;
}

int cid_k8s_load_file(struct cid_k8s *k, const char *path)
{
	struct stat sb;
	int64_t snap;
	long long n;
	int fd = -1, rc;
	bool is_stdin = !strcmp(path, "-");

	if (is_stdin) {
		fd = dup(0);
		if (fd < 0) {
			diag(k, "-: %s", strerror(errno));
			k->st_.files++;
			k->st_.files_failed++;
			return 1;
		}
		snap = (int64_t)time(NULL) * 1000000;
	} else {
		if (stat(path, &sb) != 0) {
			diag(k, "%s: %s", path, strerror(errno));
			k->st_.files++;
			k->st_.files_failed++;
			return 1;
		}
		if (S_ISDIR(sb.st_mode)) {
			diag(k, "%s: a directory; give the snapshot files", path);
			k->st_.files++;
			k->st_.files_failed++;
			return 1;
		}
		snap = (int64_t)sb.st_mtim.tv_sec * 1000000 + sb.st_mtim.tv_nsec / 1000;
	}
	if (k->opts.has_at)
		snap = k->opts.at_us;
	n = read_all(k, is_stdin ? "-" : path, fd);
	if (n < 0) {
		k->st_.files++;
		k->st_.files_failed++;
		return 1;
	}
	rc = cid_k8s_load_buffer(k, path, snap, k->buf, (size_t)n);
	if (k->buf_cap > 256u * 1024u * 1024u) {
		free(k->buf);
		k->buf = NULL;
		k->buf_cap = 0;
	}
	return rc;
}

/* ---- lookups ---------------------------------------------------------- */

#define POD_COLS                                                                              \
	"snapshot_us, namespace, name, uid, node, host_network, pod_ip, pod_ips, host_ip, phase," \
	" owner_kind, owner_name, service_account, role_arn, container_ids, start_us, irsa_token,"  \
	" pod_identity"

static void cp(char *dst, size_t dst_len, sqlite3_stmt *s, int col)
{
	const char *v = col_text(s, col);
	snprintf(dst, dst_len, "%s", v ? v : "");
}

static void fill_pod(struct cid_pod *p, sqlite3_stmt *s)
{
	memset(p, 0, sizeof(*p));
	p->snapshot_us = sqlite3_column_int64(s, 0);
	cp(p->ns, sizeof(p->ns), s, 1);
	cp(p->name, sizeof(p->name), s, 2);
	cp(p->uid, sizeof(p->uid), s, 3);
	cp(p->node, sizeof(p->node), s, 4);
	p->host_network = sqlite3_column_int(s, 5) != 0;
	cp(p->pod_ip, sizeof(p->pod_ip), s, 6);
	cp(p->pod_ips, sizeof(p->pod_ips), s, 7);
	cp(p->host_ip, sizeof(p->host_ip), s, 8);
	cp(p->phase, sizeof(p->phase), s, 9);
	cp(p->owner_kind, sizeof(p->owner_kind), s, 10);
	cp(p->owner_name, sizeof(p->owner_name), s, 11);
	cp(p->service_account, sizeof(p->service_account), s, 12);
	cp(p->role_arn, sizeof(p->role_arn), s, 13);
	cp(p->container_ids, sizeof(p->container_ids), s, 14);
	p->start_us = sqlite3_column_int64(s, 15);
	p->irsa_token = sqlite3_column_int(s, 16) != 0;
	p->pod_identity = sqlite3_column_int(s, 17) != 0;
}

static void fill_node(struct cid_node *n, sqlite3_stmt *s)
{
	memset(n, 0, sizeof(*n));
	n->snapshot_us = sqlite3_column_int64(s, 0);
	cp(n->name, sizeof(n->name), s, 1);
	cp(n->internal_ip, sizeof(n->internal_ip), s, 2);
	cp(n->instance_id, sizeof(n->instance_id), s, 3);
}

/* Runs a one-row lookup with ?1 = key, ?2 = time. 1, 0 or -CID_EDB. */
static int lookup_one(sqlite3 *db, const char *sql, const char *key, int64_t at_us, bool is_pod,
		      void *out)
{
	sqlite3_stmt *s = NULL;
	int rc;
	if (is_pod)
		memset(out, 0, sizeof(struct cid_pod));
	else
		memset(out, 0, sizeof(struct cid_node));
	if (!key)
		return 0;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -CID_EDB;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC); /* outlives s: no copy to fail */
	sqlite3_bind_int64(s, 2, at_us);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (is_pod)
			fill_pod(out, s);
		else
			fill_node(out, s);
		rc = 1;
	} else {
		rc = rc == SQLITE_DONE ? 0 : -CID_EDB;
	}
	sqlite3_finalize(s);
	return rc;
}

/* Nearest snapshot first; on a tie the earlier one (in effect at T). */
#define NEAREST "abs(snapshot_us - ?2), snapshot_us"

int cid_k8s_pod_by_ip(sqlite3 *db, const char *ip, int64_t at_us, struct cid_pod *out)
{
	char c[CID_K8S_NAME_LEN + 2];
	canon_ip(c, sizeof(c), ip);
	return lookup_one(db,
			  "SELECT " POD_COLS " FROM pod WHERE coalesce(host_network, 0) = 0 AND"
			  " (pod_ip = ?1 OR instr(',' || pod_ips || ',', ',' || ?1 || ',') > 0)"
			  " ORDER BY " NEAREST ", CASE phase WHEN 'Running' THEN 0 WHEN 'Pending'"
			  " THEN 1 ELSE 2 END, start_us DESC, rowid DESC LIMIT 1",
			  ip ? c : NULL, at_us, true, out);
}

int cid_k8s_pod_by_uid(sqlite3 *db, const char *uid, int64_t at_us, struct cid_pod *out)
{
	return lookup_one(db, "SELECT " POD_COLS " FROM pod WHERE uid = ?1 ORDER BY " NEAREST ", rowid DESC LIMIT 1",
			  uid, at_us, true, out);
}

int cid_k8s_node_by_ip(sqlite3 *db, const char *ip, int64_t at_us, struct cid_node *out)
{
	char c[CID_K8S_NAME_LEN + 2];
	canon_ip(c, sizeof(c), ip);
	return lookup_one(db,
			  "SELECT snapshot_us, name, internal_ip, instance_id FROM node"
			  " WHERE internal_ip = ?1 ORDER BY " NEAREST ", rowid DESC LIMIT 1",
			  ip ? c : NULL, at_us, false, out);
}

int cid_k8s_node_by_instance(sqlite3 *db, const char *instance_id, int64_t at_us,
			     struct cid_node *out)
{
	return lookup_one(db,
			  "SELECT snapshot_us, name, internal_ip, instance_id FROM node"
			  " WHERE instance_id = ?1 ORDER BY " NEAREST ", internal_ip IS NULL, rowid LIMIT 1",
			  instance_id, at_us, false, out);
}

void cid_pod_list_cleanup(struct cid_pod_list *l)
{
	if (!l)
		return;
	free(l->pods);
	memset(l, 0, sizeof(*l));
}

int cid_k8s_host_pods(sqlite3 *db, const char *node, int64_t at_us, struct cid_pod_list *out)
{
	static const char sql[] =
		"WITH m AS (SELECT *, rowid AS r FROM pod WHERE host_network = 1 AND (node = ?1 OR host_ip = ?1"
		" OR node IN (SELECT name FROM node WHERE internal_ip = ?1))),"
		" s(t) AS (SELECT snapshot_us FROM m ORDER BY " NEAREST " LIMIT 1)"
		" SELECT " POD_COLS " FROM m WHERE snapshot_us = (SELECT t FROM s)"
		" ORDER BY namespace || '/' || name, r";
	char c[CID_K8S_NAME_LEN + 2];
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!node)
		return 0;
	canon_ip(c, sizeof(c), node);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -CID_EDB;
	sqlite3_bind_text(s, 1, c, -1, SQLITE_STATIC); /* outlives s: no copy to fail */
	sqlite3_bind_int64(s, 2, at_us);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (out->num_pods == CID_K8S_MAX_HOST_PODS) {
			out->capped = true;
			continue;
		}
		if (out->num_pods == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct cid_pod *np = realloc(out->pods, ncap * sizeof(*np));
			if (!np) {
				sqlite3_finalize(s);
				cid_pod_list_cleanup(out);
				return -CID_ENOMEM;
			}
			out->pods = np;
			cap = ncap;
		}
		fill_pod(&out->pods[out->num_pods++], s);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		cid_pod_list_cleanup(out);
		return -CID_EDB;
	}
	return (int)out->num_pods;
}
