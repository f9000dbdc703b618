/*
 * correlate_db.c - `correlate` over the database: load the selected events
 * and the request bursts around them, resolve each flow's owner (DESIGN
 * "Correlation" step 3), run the core (correlate.c), store the verdicts in
 * the attribution table and print them with the evidence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "callerid/correlate.h"
#include "callerid/correlate_db.h"
#include "callerid/http.h"
#include "callerid/k8s.h"
#include "callerid/output.h"
#include "callerid/tlsline.h"
#include "correlate_int.h"

#define WINDOW_MARGIN_US (600 * US)  /* bursts loaded around the events */

/* ---- string interning: many bursts share addresses, SNI, versions ---- */


static uint64_t hash_str(const char *s)
{
	return cid_fnv1a(CID_FNV1A_INIT, s, strlen(s));
}

static const char *intern(struct strtab *t, const char *s)
{
	size_t i;
	if (!s)
		return NULL;
	if (t->n * 2 >= t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 1024;
		char **ns = calloc(ncap, sizeof(*ns));
		if (!ns)
			return NULL;
		for (size_t k = 0; k < t->cap; k++)
			if (t->slot[k]) {
				size_t j = hash_str(t->slot[k]) & (ncap - 1);
				while (ns[j])
					j = (j + 1) & (ncap - 1);
				ns[j] = t->slot[k];
			}
		free(t->slot);
		t->slot = ns;
		t->cap = ncap;
	}
	for (i = hash_str(s) & (t->cap - 1); t->slot[i]; i = (i + 1) & (t->cap - 1))
		if (!strcmp(t->slot[i], s))
			return t->slot[i];
	t->slot[i] = strdup(s);
	if (t->slot[i])
		t->n++;
	return t->slot[i];
}

static void strtab_free(struct strtab *t)
{
	for (size_t k = 0; k < t->cap; k++)
		free(t->slot[k]);
	free(t->slot);
}

static int find_flow(struct ctx *c, int64_t flow_id)
{
	if (!c->cap_flows)
		return -1;
	for (size_t i = (size_t)((uint64_t)flow_id * 0x9E3779B97F4A7C15ULL) & (c->cap_flows - 1); c->flow_ids[i];
	     i = (i + 1) & (c->cap_flows - 1))
		if (c->flow_ids[i] == flow_id)
			return c->flow_owner[i];
	return -1;
}

static bool put_flow(struct ctx *c, int64_t flow_id, int owner)
{
	size_t i;
	if ((c->num_flows + 1) * 2 > c->cap_flows) {
		size_t ncap = c->cap_flows ? c->cap_flows * 2 : 1024;
		int64_t *nf = calloc(ncap, sizeof(*nf));
		int *no = calloc(ncap, sizeof(*no));
		if (!nf || !no) {
			free(nf);
			free(no);
			return false;
		}
		for (size_t k = 0; k < c->cap_flows; k++)
			if (c->flow_ids[k]) {
				size_t j = (size_t)((uint64_t)c->flow_ids[k] * 0x9E3779B97F4A7C15ULL) & (ncap - 1);
				while (nf[j])
					j = (j + 1) & (ncap - 1);
				nf[j] = c->flow_ids[k];
				no[j] = c->flow_owner[k];
			}
		free(c->flow_ids);
		free(c->flow_owner);
		c->flow_ids = nf;
		c->flow_owner = no;
		c->cap_flows = ncap;
	}
	for (i = (size_t)((uint64_t)flow_id * 0x9E3779B97F4A7C15ULL) & (c->cap_flows - 1); c->flow_ids[i];
	     i = (i + 1) & (c->cap_flows - 1))
		;
	c->flow_ids[i] = flow_id;
	c->flow_owner[i] = owner;
	c->num_flows++;
	return true;
}

static int find_ip(struct ctx *c, const char *ip)
{
	/* interned strings compare by pointer */
	for (size_t i = 0; i < c->num_ip; i++)
		if (c->ip_cached[i] == ip)
			return c->ip_owner[i];
	return -1;
}

static char *dup_col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? strdup((const char *)t) : NULL;
}

static int owner_add(struct ctx *c, const char *key)
{
	for (size_t i = 0; i < c->num_owners; i++)
		if (!strcmp(c->owners[i].key, key))
			return (int)i;
	if (c->num_owners == c->cap_owners) {
		size_t ncap = c->cap_owners ? c->cap_owners * 2 : 16;
		struct owner *no = realloc(c->owners, ncap * sizeof(*no));
		if (!no)
			return -1;
		c->owners = no;
		c->cap_owners = ncap;
	}
	memset(&c->owners[c->num_owners], 0, sizeof(struct owner));
	snprintf(c->owners[c->num_owners].key, sizeof(c->owners[0].key), "%s", key);
	return (int)c->num_owners++;
}

static void label_pod(struct cid_buf *b, const struct cid_pod *p)
{
	cid_buf_printf(b, "%s/%s", p->ns, p->name);
	if (p->owner_kind[0])
		cid_buf_printf(b, " (%s %s/%s%s)", p->owner_kind, p->ns, p->owner_name,
			       p->host_network ? ", hostNetwork" : "");
}

/* DESIGN step 3: live attribution, a NAT link to a pod flow, the pod that
 * owns the client address, the node's hostNetwork pods. */
static int resolve_owner(struct ctx *c, int64_t flow_id, int64_t inner_id, const char *client_ip,
			 const char *inner_ip, const char *nat_method, int64_t at_us)
{
	sqlite3_stmt *st = NULL;
	struct cid_pod *pod = calloc(1, sizeof(*pod));
	struct cid_buf key, label;
	int idx = -1, found;
	struct owner *o;
	char method[200];
	const char *ip = inner_ip ? inner_ip : client_ip;

	if (!pod)
		return -1;
	cid_buf_init(&key, 600);
	cid_buf_init(&label, 4096);
	/* 1. live attribution rows */
	if (c->have_owner_rows && sqlite3_prepare_v2(c->db,
			       "SELECT pid, comm, exe, container_id, pod_uid, method FROM owner"
			       " WHERE flow_id IN (?1, ?2) ORDER BY flow_id = ?1 DESC LIMIT 1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, inner_id ? inner_id : flow_id);
		sqlite3_bind_int64(st, 2, flow_id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *uid = (const char *)sqlite3_column_text(st, 4);
			int64_t pid = sqlite3_column_int64(st, 0);
			const char *comm = (const char *)sqlite3_column_text(st, 1);
			cid_buf_printf(&key, "process:%s[%lld]", comm ? comm : "?", (long long)pid);
			idx = owner_add(c, cid_buf_str(&key));
			if (idx >= 0 && !c->owners[idx].kind[0]) {
				o = &c->owners[idx];
				snprintf(o->kind, sizeof(o->kind), "process");
				o->pid = pid;
				o->comm = dup_col(st, 1);
				o->exe = dup_col(st, 2);
				o->container_id = dup_col(st, 3);
				snprintf(method, sizeof(method), "live attribution (%s)",
					 sqlite3_column_text(st, 5) ? (const char *)sqlite3_column_text(st, 5) : "?");
				o->method = strdup(method);
				cid_buf_printf(&label, "%s[%lld]", comm ? comm : "?", (long long)pid);
				if (uid && cid_k8s_pod_by_uid(c->db, uid, at_us, pod) == 1) {
					cid_buf_adds(&label, " in ");
					label_pod(&label, pod);
					o->pod = pod;
					pod = NULL;
				}
				o->label = strdup(cid_buf_str(&label));
			}
			sqlite3_finalize(st);
			goto out;
		}
		sqlite3_finalize(st);
	}
	/* 2-3. a pod owns the (pre-NAT) client address */
	found = ip ? cid_k8s_pod_by_ip(c->db, ip, at_us, pod) : 0;
	if (found == 1) {
		cid_buf_printf(&key, "pod:%s/%s", pod->ns, pod->name);
		idx = owner_add(c, cid_buf_str(&key));
		if (idx >= 0 && !c->owners[idx].kind[0]) {
			o = &c->owners[idx];
			snprintf(o->kind, sizeof(o->kind), "pod");
			snprintf(o->node_ip, sizeof(o->node_ip), "%s", pod->host_ip);
			snprintf(o->client_ip, sizeof(o->client_ip), "%s", ip);
			if (inner_ip)
				snprintf(method, sizeof(method), "NAT link (%s) to a flow from pod IP %s",
					 nat_method ? nat_method : "?", ip);
			else
				snprintf(method, sizeof(method), "client address %s is the pod's IP", ip);
			o->method = strdup(method);
			label_pod(&label, pod);
			o->label = strdup(cid_buf_str(&label));
			o->pod = pod;
			pod = NULL;
		}
		goto out;
	}
	/* a NAT link to an address no snapshot names: still a pod's flow */
	if (inner_ip) {
		cid_buf_printf(&key, "pod:%s", inner_ip);
		idx = owner_add(c, cid_buf_str(&key));
		if (idx >= 0 && !c->owners[idx].kind[0]) {
			o = &c->owners[idx];
			snprintf(o->kind, sizeof(o->kind), "pod");
			snprintf(o->client_ip, sizeof(o->client_ip), "%s", inner_ip);
			snprintf(method, sizeof(method), "NAT link (%s) from %s, which no kubectl snapshot names",
				 nat_method ? nat_method : "?", inner_ip);
			o->method = strdup(method);
			cid_buf_printf(&label, "pod IP %s (behind SNAT as %s)", inner_ip, client_ip ? client_ip : "?");
			o->label = strdup(cid_buf_str(&label));
		}
		goto out;
	}
	/* 4. the node's own address: its hostNetwork pods are the candidates */
	cid_buf_printf(&key, "host:%s", ip ? ip : "?");
	idx = owner_add(c, cid_buf_str(&key));
	if (idx >= 0 && !c->owners[idx].kind[0]) {
		struct cid_node node;
		o = &c->owners[idx];
		snprintf(o->kind, sizeof(o->kind), "host");
		snprintf(o->node_ip, sizeof(o->node_ip), "%s", ip ? ip : "");
		snprintf(o->client_ip, sizeof(o->client_ip), "%s", ip ? ip : "");
		if (ip && cid_k8s_host_pods(c->db, ip, at_us, &o->host_pods) > 0) {
			cid_buf_printf(&label, "host %s (hostNetwork pods:", ip);
			for (size_t i = 0; i < o->host_pods.num_pods; i++)
				cid_buf_printf(&label, "%s %s/%s", i ? "," : "", o->host_pods.pods[i].ns,
					       o->host_pods.pods[i].name);
			cid_buf_adds(&label, ")");
			o->method = strdup("client address is the node's: a host process or a hostNetwork pod");
		} else if (ip && cid_k8s_node_by_ip(c->db, ip, at_us, &node) == 1) {
			cid_buf_printf(&label, "host %s (node %s)", ip, node.name);
			o->method = strdup("client address is the node's");
		} else {
			cid_buf_printf(&label, "host %s", ip ? ip : "?");
			o->method = strdup("client address belongs to no known pod");
		}
		o->label = strdup(cid_buf_str(&label));
	}
out:
	free(pod);
	cid_buf_cleanup(&key);
	cid_buf_cleanup(&label);
	return idx;
}

static void owners_free(struct ctx *c)
{
	for (size_t i = 0; i < c->num_owners; i++) {
		struct owner *o = &c->owners[i];
		free(o->pod);
		free(o->comm);
		free(o->exe);
		free(o->container_id);
		free(o->label);
		free(o->method);
		cid_pod_list_cleanup(&o->host_pods);
	}
	free(c->owners);
}

/* ---- loading ----------------------------------------------------------- */

/* Event text other than the id repeats a lot: it is interned in c->strs. */
static void events_free(struct cid_cor_event *ev, struct event_row *er, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(er[i].event_id);
	free(ev);
	free(er);
}

static const char *col_interned(struct ctx *c, sqlite3_stmt *st, int i)
{
	return intern(&c->strs, (const char *)sqlite3_column_text(st, i));
}

/* The event's identity evidence: the node role (cid_cor_node_role), the
 * IMDS version ec2RoleDelivery names ("1.0" IMDSv1, "2.0" IMDSv2) and the
 * user agent. */
static void node_identity(struct ctx *c, struct cid_cor_event *e, const struct event_row *er)
{
	char role[CID_HTTP_ROLE_MAX + 1];
	e->user_agent = er->user_agent;
	if (er->role_delivery)
		e->imdsv = !strcmp(er->role_delivery, "2.0") ? 2 : !strcmp(er->role_delivery, "1.0") ? 1 : 0;
	if (cid_cor_node_role(er->arn, er->role_delivery, role, sizeof(role)))
		e->node_role = intern(&c->strs, role);
}

static int load_events(struct ctx *c, const struct cid_event_filter *f, struct cid_cor_event **evp,
		       struct event_row **erp, size_t *np)
{
	struct cid_buf sql;
	sqlite3_stmt *st = NULL;
	struct cid_cor_event *ev = NULL;
	struct event_row *er = NULL;
	size_t n = 0, cap = 0;
	int rc;
	cid_buf_init(&sql, 4096);
	cid_buf_adds(&sql, "SELECT event_id, time_us, name, source_ip, tls_version, cipher, host_header,"
			   " error_code, user_agent, arn, ec2_role_delivery, key_exchange FROM event");
	cid_event_filter_sql(&sql, f);
	cid_buf_adds(&sql, " ORDER BY time_us, event_id");
	if (sqlite3_prepare_v2(c->db, cid_buf_str(&sql), -1, &st, NULL) != SQLITE_OK ||
	    cid_event_filter_bind(st, f) != SQLITE_OK) {
		snprintf(c->err, sizeof(c->err), "query: %s", sqlite3_errmsg(c->db));
		cid_buf_cleanup(&sql);
		sqlite3_finalize(st);
		return -CID_EDB;
	}
	cid_buf_cleanup(&sql);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct cid_cor_event *ne = realloc(ev, ncap * sizeof(*ne));
			struct event_row *nr;
			if (!ne)
				goto oom;
			ev = ne;
			nr = realloc(er, ncap * sizeof(*nr));
			if (!nr)
				goto oom;
			er = nr;
			cap = ncap;
		}
		memset(&ev[n], 0, sizeof(ev[n]));
		memset(&er[n], 0, sizeof(er[n]));
		er[n].event_id = dup_col(st, 0);
		ev[n].time_us = er[n].time_us = sqlite3_column_int64(st, 1);
		er[n].name = col_interned(c, st, 2);
		ev[n].source_ip = col_interned(c, st, 3);
		ev[n].tls_version = col_interned(c, st, 4);
		ev[n].cipher = col_interned(c, st, 5);
		ev[n].host = col_interned(c, st, 6);
		er[n].error_code = col_interned(c, st, 7);
		er[n].user_agent = col_interned(c, st, 8);
		er[n].arn = col_interned(c, st, 9);
		er[n].role_delivery = col_interned(c, st, 10);
		ev[n].key_exchange = col_interned(c, st, 11);
		node_identity(c, &ev[n], &er[n]);
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(c->err, sizeof(c->err), "query: %s", sqlite3_errmsg(c->db));
		events_free(ev, er, n);
		return -CID_EDB;
	}
	*evp = ev;
	*erp = er;
	*np = n;
	return 0;
oom:
	sqlite3_finalize(st);
	events_free(ev, er, n);
	snprintf(c->err, sizeof(c->err), "out of memory");
	return -CID_ENOMEM;
}

static int load_bursts(struct ctx *c, int64_t lo, int64_t hi, struct cid_cor_burst **bp, struct burst_row **rp,
		       size_t *np)
{
	/* Bursts of a flow that is the inner side of a NAT link are the same
	 * requests as the outer flow's: the outer one carries the address the
	 * endpoint saw, the inner one names the pod. */
	static const char q[] =
		"SELECT r.id, r.flow_id, r.ts_us, f.client_ip, f.server_ip, f.server_port, t.sni, t.version,"
		" t.cipher, t.status, n.inner_flow_id, n.method, fi.client_ip, f.first_us, r.answer_us, t.\"group\""
		" FROM request r JOIN flow f ON f.id = r.flow_id"
		" LEFT JOIN tls t ON t.flow_id = f.id"
		" LEFT JOIN nat_link n ON n.outer_flow_id = f.id"
		" LEFT JOIN flow fi ON fi.id = n.inner_flow_id"
		" WHERE r.ts_us BETWEEN ?1 AND ?2"
		" AND NOT EXISTS (SELECT 1 FROM nat_link x WHERE x.inner_flow_id = f.id)"
		" GROUP BY r.id ORDER BY r.ts_us, r.id";
	sqlite3_stmt *st = NULL;
	struct cid_cor_burst *b = NULL;
	struct burst_row *br = NULL;
	size_t n = 0, cap = 0;
	int rc;
	if (sqlite3_prepare_v2(c->db, q, -1, &st, NULL) != SQLITE_OK) {
		snprintf(c->err, sizeof(c->err), "query: %s", sqlite3_errmsg(c->db));
		return -CID_EDB;
	}
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *status = (const char *)sqlite3_column_text(st, 9);
		int64_t flow_id = sqlite3_column_int64(st, 1);
		int owner;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			struct cid_cor_burst *nb = realloc(b, ncap * sizeof(*nb));
			struct burst_row *nr;
			if (!nb)
				goto oom;
			b = nb;
			nr = realloc(br, ncap * sizeof(*nr));
			if (!nr)
				goto oom;
			br = nr;
			cap = ncap;
		}
		memset(&b[n], 0, sizeof(b[n]));
		memset(&br[n], 0, sizeof(br[n]));
		br[n].request_id = sqlite3_column_int64(st, 0);
		br[n].flow_id = flow_id;
		b[n].ts_us = sqlite3_column_int64(st, 2);
		b[n].client_ip = intern(&c->strs, (const char *)sqlite3_column_text(st, 3));
		br[n].server_ip = intern(&c->strs, (const char *)sqlite3_column_text(st, 4));
		br[n].server_port = sqlite3_column_int(st, 5);
		b[n].sni = intern(&c->strs, (const char *)sqlite3_column_text(st, 6));
		b[n].tls_version = intern(&c->strs, (const char *)sqlite3_column_text(st, 7));
		b[n].cipher = intern(&c->strs, (const char *)sqlite3_column_text(st, 8));
		b[n].handshake = status && (!strcmp(status, "ok") || !strcmp(status, "client_hello_only") ||
					    !strcmp(status, "server_hello_only"));
		br[n].inner_flow_id = sqlite3_column_int64(st, 10);
		br[n].nat_method = intern(&c->strs, (const char *)sqlite3_column_text(st, 11));
		br[n].inner_client_ip = intern(&c->strs, (const char *)sqlite3_column_text(st, 12));
		br[n].flow_first_us = sqlite3_column_int64(st, 13);
		b[n].answer_us = sqlite3_column_int64(st, 14);
		b[n].group = intern(&c->strs, (const char *)sqlite3_column_text(st, 15));
		owner = find_flow(c, flow_id);
		if (owner < 0) {
			const char *key = br[n].inner_client_ip ? br[n].inner_client_ip : b[n].client_ip;
			if (c->ip_cache_ok && key)
				owner = find_ip(c, key);
			if (owner < 0) {
				owner = resolve_owner(c, flow_id, br[n].inner_flow_id, b[n].client_ip,
						      br[n].inner_client_ip, br[n].nat_method, b[n].ts_us);
				if (owner < 0)
					goto oom;
				if (c->ip_cache_ok && key && c->num_ip < 4096) {
					if (c->num_ip == c->cap_ip) {
						size_t ncap = c->cap_ip ? c->cap_ip * 2 : 64;
						const char **nk = realloc(c->ip_cached, ncap * sizeof(*nk));
						int *no;
						if (!nk)
							goto oom;
						c->ip_cached = nk;
						no = realloc(c->ip_owner, ncap * sizeof(*no));
						if (!no)
							goto oom;
						c->ip_owner = no;
						c->cap_ip = ncap;
					}
					c->ip_cached[c->num_ip] = key;
					c->ip_owner[c->num_ip++] = owner;
				}
			}
			if (!put_flow(c, flow_id, owner))
				goto oom;
		}
		b[n].owner = owner;
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(c->err, sizeof(c->err), "query: %s", sqlite3_errmsg(c->db));
		free(b);
		free(br);
		return -CID_EDB;
	}
	*bp = b;
	*rp = br;
	*np = n;
	return 0;
oom:
	sqlite3_finalize(st);
	free(b);
	free(br);
	snprintf(c->err, sizeof(c->err), "out of memory");
	return -CID_ENOMEM;
}

/* ---- IMDS evidence (issue 7) -------------------------------------------- */

#define IMDS_MAX_ROWS 20000  /* credential fetches loaded; more are ignored */

static int cmp_imds_owner(const void *a, const void *b)
{
	const struct imds_row *x = a, *y = b;
	if (x->owner != y->owner)
		return x->owner < y->owner ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The IMDS credential fetches (http rows of kind "credentials" with a
 * role) and their owners, resolved by flow as the bursts' owners are; then
 * each burst points at its owner's fetches. 0 or a negative -CID_E*. */
static int load_imds(struct ctx *c, struct cid_cor_burst *b, size_t nb)
{
	static const char q[] =
		"SELECT h.flow_id, h.ts_us, h.role_name, h.user_agent, h.imdsv, f.client_ip, n.inner_flow_id,"
		" n.method, fi.client_ip"
		" FROM http h JOIN flow f ON f.id = h.flow_id"
		" LEFT JOIN nat_link n ON n.outer_flow_id = f.id"
		" LEFT JOIN flow fi ON fi.id = n.inner_flow_id"
		" WHERE h.imds_kind = 'credentials' AND h.role_name IS NOT NULL AND h.parse_error IS NULL"
		" AND NOT EXISTS (SELECT 1 FROM nat_link x WHERE x.inner_flow_id = f.id)"
		" GROUP BY h.rowid ORDER BY h.ts_us, h.rowid LIMIT ?1";
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc;
	if (sqlite3_prepare_v2(c->db, q, -1, &st, NULL) != SQLITE_OK)
		return 0; /* a database without the http table: no evidence */
	sqlite3_bind_int(st, 1, IMDS_MAX_ROWS);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t flow_id = sqlite3_column_int64(st, 0), ts = sqlite3_column_int64(st, 1);
		int owner = find_flow(c, flow_id);
		if (c->num_imds == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct cid_cor_imds *ni = realloc(c->imds, ncap * sizeof(*ni));
			struct imds_row *nr;
			if (!ni)
				goto oom;
			c->imds = ni;
			nr = realloc(c->imds_rows, ncap * sizeof(*nr));
			if (!nr)
				goto oom;
			c->imds_rows = nr;
			cap = ncap;
		}
		if (owner < 0) {
			owner = resolve_owner(c, flow_id, sqlite3_column_int64(st, 6), col_interned(c, st, 5),
					      col_interned(c, st, 8), col_interned(c, st, 7), ts);
			if (owner < 0 || !put_flow(c, flow_id, owner))
				goto oom;
		}
		c->imds_rows[c->num_imds].f.ts_us = ts;
		c->imds_rows[c->num_imds].f.role = col_interned(c, st, 2);
		c->imds_rows[c->num_imds].f.user_agent = col_interned(c, st, 3);
		c->imds_rows[c->num_imds].f.imdsv = (uint8_t)sqlite3_column_int(st, 4);
		c->imds_rows[c->num_imds].flow_id = flow_id;
		c->imds_rows[c->num_imds].owner = owner;
		c->imds_rows[c->num_imds].seq = c->num_imds;
		c->num_imds++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(c->err, sizeof(c->err), "query: %s", sqlite3_errmsg(c->db));
		return -CID_EDB;
	}
	/* group by owner, in time order inside a group */
	if (c->num_imds > 1) /* imds_rows is NULL when there are none: qsort's pointer is nonnull */
		qsort(c->imds_rows, c->num_imds, sizeof(*c->imds_rows), cmp_imds_owner);
	for (size_t i = 0; i < c->num_imds; i++)
		c->imds[i] = c->imds_rows[i].f;
	for (size_t i = 0; i < c->num_imds; i++) {
		struct owner *o = &c->owners[c->imds_rows[i].owner];
		if (!o->num_imds)
			o->imds_first = i;
		o->num_imds++;
	}
	for (size_t i = 0; i < nb; i++) {
		const struct owner *o = &c->owners[b[i].owner];
		if (o->num_imds) {
			b[i].imds = &c->imds[o->imds_first];
			b[i].num_imds = o->num_imds;
		}
	}
	return 0;
oom:
	sqlite3_finalize(st);
	snprintf(c->err, sizeof(c->err), "out of memory");
	return -CID_ENOMEM;
}

static int store_rows(struct cid_store *s, const struct ctx *c, const struct cid_cor_event *ev,
		      const struct event_row *er, const struct cid_cor_result *res, size_t ne,
		      const struct cid_cor_burst *bu, const struct burst_row *br, int64_t offset)
{
	sqlite3 *db = cid_store_db(s);
	sqlite3_stmt *st = NULL;
	struct cid_buf js, rs;
	int rc = 0;
	if (cid_store_begin(s) < 0)
		return -CID_EDB;
	if (sqlite3_prepare_v2(db,
			       "INSERT OR REPLACE INTO attribution(event_id, computed_us, verdict, confidence,"
			       " owner_kind, owner_key, pod_namespace, pod_name, pod_uid, pid, comm, node_ip, flow_id,"
			       " request_id, request_us, skew_us, reasons, detail)"
			       " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)",
			       -1, &st, NULL) != SQLITE_OK)
		return -CID_EDB;
	cid_buf_init(&js, 1 << 20);
	cid_buf_init(&rs, 1 << 20);
	for (size_t i = 0; i < ne && !rc; i++) {
		const struct cid_cor_result *r = &res[i];
		const struct owner *o = r->verdict == CID_ATTRIBUTED ? &c->owners[bu[r->burst].owner] : NULL;
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		cid_buf_reset(&js);
		cid_buf_reset(&rs);
		cid_cor_out_event_json(&js, &ev[i], &er[i], r, bu, br, c, offset);
		cid_cor_out_reasons(&rs, &ev[i], r, bu, br, o, offset);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		sqlite3_bind_text(st, 1, er[i].event_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (int64_t)now.tv_sec * US + now.tv_nsec / 1000);
		sqlite3_bind_text(st, 3, cid_verdict_name(r->verdict), -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 4, r->confidence);
		if (o) {
			sqlite3_bind_text(st, 5, o->kind, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 6, o->key, -1, SQLITE_STATIC);
			if (o->pod) {
				sqlite3_bind_text(st, 7, o->pod->ns, -1, SQLITE_STATIC);
				sqlite3_bind_text(st, 8, o->pod->name, -1, SQLITE_STATIC);
				sqlite3_bind_text(st, 9, o->pod->uid, -1, SQLITE_STATIC);
			}
			if (!strcmp(o->kind, "process")) {
				sqlite3_bind_int64(st, 10, o->pid);
				sqlite3_bind_text(st, 11, o->comm, -1, SQLITE_STATIC);
			}
			if (o->node_ip[0])
				sqlite3_bind_text(st, 12, o->node_ip, -1, SQLITE_STATIC);
		}
		if (r->burst >= 0) {
			/* an index >= 0 implies its rows were loaded */
			// NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
			sqlite3_bind_int64(st, 13, br[r->burst].flow_id);
			sqlite3_bind_int64(st, 14, br[r->burst].request_id);
			sqlite3_bind_int64(st, 15, bu[r->burst].ts_us);
		}
		sqlite3_bind_int64(st, 16, offset);
		sqlite3_bind_text(st, 17, cid_buf_str(&rs), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 18, cid_buf_str(&js), -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE || cid_store_row_done(s) < 0)
			rc = -CID_EDB;
	}
	sqlite3_finalize(st);
	cid_buf_cleanup(&js);
	cid_buf_cleanup(&rs);
	if (!rc && cid_store_flush(s) < 0)
		rc = -CID_EDB;
	return rc;
}

static bool table_exists_rows(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	bool yes = false;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		yes = sqlite3_column_int64(st, 0) != 0;
	sqlite3_finalize(st);
	return yes;
}

static void ctx_cleanup(struct ctx *c)
{
	owners_free(c);
	free(c->flow_ids);
	free(c->flow_owner);
	free(c->ip_cached);
	free(c->ip_owner);
	free(c->imds);
	free(c->imds_rows);
	strtab_free(&c->strs);
}

int cid_correlate_run(struct cid_store *s, const struct cid_cor_opts *o, FILE *out, enum cid_fmt fmt,
		      struct cid_cor_totals *tot, char *err, size_t err_len)
{
	struct ctx c;
	struct cid_cor_event *ev = NULL;
	struct event_row *er = NULL;
	struct cid_cor_burst *bu = NULL;
	struct burst_row *br = NULL;
	struct cid_cor_result *res = NULL;
	size_t ne = 0, nb = 0;
	int64_t lo = INT64_MAX, hi = INT64_MIN, offset = 0;
	int rc;

	memset(&c, 0, sizeof(c));
	memset(tot, 0, sizeof(*tot));
	c.db = cid_store_db(s);
	c.have_owner_rows = table_exists_rows(c.db, "SELECT EXISTS(SELECT 1 FROM owner)");
	c.ip_cache_ok = !c.have_owner_rows &&
			!table_exists_rows(c.db, "SELECT COUNT(DISTINCT snapshot_us) > 1 FROM pod");
	rc = load_events(&c, &o->filter, &ev, &er, &ne);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < ne; i++) {
		if (ev[i].time_us < lo)
			lo = ev[i].time_us;
		if (ev[i].time_us > hi)
			hi = ev[i].time_us;
	}
	if (ne) {
		int64_t margin = WINDOW_MARGIN_US + o->params.skew_us + llabs(o->params.offset_us) +
				 (o->params.auto_offset ? o->params.auto_range_us : 0);
		rc = load_bursts(&c, lo - margin, hi + margin, &bu, &br, &nb);
		if (rc < 0)
			goto out;
		rc = load_imds(&c, bu, nb);
		if (rc < 0)
			goto out;
	}
	res = calloc(ne ? ne : 1, sizeof(*res));
	if (!res) {
		rc = -CID_ENOMEM;
		snprintf(c.err, sizeof(c.err), "out of memory");
		goto out;
	}
	rc = cid_correlate(res, &offset, ev, ne, bu, nb, &o->params);
	if (rc < 0) {
		snprintf(c.err, sizeof(c.err), "out of memory");
		goto out;
	}
	tot->events = ne;
	tot->bursts = nb;
	tot->offset_us = offset;
	for (size_t i = 0; i < ne; i++) {
		if (res[i].verdict == CID_ATTRIBUTED) {
			tot->attributed++;
			/* an index >= 0 implies its rows were loaded */
			// NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
			c.owners[bu[res[i].burst].owner].explained++;
		} else if (res[i].verdict == CID_AMBIGUOUS) {
			tot->ambiguous++;
			for (int k = 0; k < res[i].num_owners; k++)
				/* an index >= 0 implies its rows were loaded */
				// NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
				c.owners[res[i].owners[k]].ambiguous_in++;
		} else {
			tot->unmatched++;
		}
	}
	if (!o->no_store) {
		rc = store_rows(s, &c, ev, er, res, ne, bu, br, offset);
		if (rc < 0) {
			snprintf(c.err, sizeof(c.err), "storing verdicts: %s", cid_store_errmsg(s));
			goto out;
		}
	}
	if (o->explain) {
		for (size_t i = 0; i < ne; i++) {
			struct explain_ctx x = {out, bu, br, &c, res, ev, er, ne, i, offset};
			struct cid_buf jb;
			char t[40];
			if (strcmp(er[i].event_id, o->explain))
				continue;
			fprintf(out, "event %s %s %s from %s at %s\n", er[i].event_id, er[i].name ? er[i].name : "-",
				er[i].error_code ? er[i].error_code : "", ev[i].source_ip ? ev[i].source_ip : "-",
				cid_time_str(ev[i].time_us, t, sizeof(t)));
			fprintf(out, "window [eventTime %+.3f s, eventTime %+.3f s] (clock offset %+.3f s, skew %.3f s)\n",
				(double)(offset - o->params.skew_us) / 1e6,
				(double)(offset + US + o->params.skew_us) / 1e6, (double)offset / 1e6,
				(double)o->params.skew_us / 1e6);
			cid_cor_explain(&ev[i], bu, nb, &o->params, offset, cid_cor_out_explain_one, &x);
			cid_buf_init(&jb, 1 << 20);
			cid_cor_out_event_json(&jb, &ev[i], &er[i], &res[i], bu, br, &c, offset);
			fprintf(out, "verdict: %s\n", cid_buf_str(&jb));
			cid_buf_cleanup(&jb);
			goto out;
		}
		snprintf(c.err, sizeof(c.err), "no selected event has eventID %s", o->explain);
		rc = -CID_EINVAL;
		goto out;
	}
	if (fmt == CID_FMT_JSON) {
		struct cid_buf jb;
		cid_buf_init(&jb, 1 << 20);
		for (size_t i = 0; i < ne; i++) {
			cid_buf_reset(&jb);
			cid_cor_out_event_json(&jb, &ev[i], &er[i], &res[i], bu, br, &c, offset);
			fprintf(out, "%s\n", cid_buf_str(&jb));
		}
		cid_buf_cleanup(&jb);
	} else {
		static const char *const cols[] = {"event_time", "event", "error", "source_ip", "verdict",
						   "confidence", "owner", "flow", "request_time"};
		struct cid_table *t = cid_table_new(out, fmt, cols, sizeof(cols) / sizeof(cols[0]));
		struct cid_buf tmp;
		cid_buf_init(&tmp, 1 << 16);
		for (size_t i = 0; t && i < ne; i++) {
			const struct cid_cor_result *r = &res[i];
			cid_table_time(t, ev[i].time_us);
			cid_table_str(t, er[i].name);
			cid_table_str(t, er[i].error_code);
			cid_table_str(t, ev[i].source_ip);
			cid_table_str(t, cid_verdict_name(r->verdict));
			cid_table_real(t, r->confidence);
			cid_table_str(t, cid_cor_out_owner_cell(&c, r, bu, &tmp));
			if (r->burst >= 0)
				/* an index >= 0 implies its rows were loaded */
				// NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
				cid_table_int(t, br[r->burst].flow_id);
			else
				cid_table_null(t);
			cid_table_time(t, r->burst >= 0 ? bu[r->burst].ts_us : 0);
			cid_table_end_row(t);
		}
		cid_table_free(t);
		cid_buf_cleanup(&tmp);
	}
	if (fmt != CID_FMT_CSV)
		cid_cor_out_summary(out, fmt, &c, ev, er, res, ne, bu, tot);
out:
	if (rc < 0)
		snprintf(err, err_len, "%s", c.err);
	events_free(ev, er, ne);
	free(bu);
	free(br);
	free(res);
	ctx_cleanup(&c);
	return rc;
}

/* ---- owners flagged for IMDS under IRSA (events --summary) --------------- */

void cid_imds_flags_cleanup(struct cid_imds_flags *f)
{
	for (size_t i = 0; f->flag && i < f->num_flags; i++) {
		struct cid_imds_flag *x = &f->flag[i];
		free(x->owner_key);
		free(x->label);
		free(x->kind);
		free(x->pods);
		for (size_t k = 0; k < x->num_roles; k++)
			free(x->roles[k]);
		for (size_t k = 0; k < x->num_user_agents; k++)
			free(x->user_agents[k]);
	}
	free(f->flag);
	memset(f, 0, sizeof(*f));
}

/* Adds s to the set v (at most CID_IMDS_FLAG_ROLES; compared with cmp).
 * False only when out of memory. */
static bool set_add(char **v, size_t *n, const char *s, int (*cmp)(const char *, const char *))
{
	for (size_t k = 0; k < *n; k++)
		if (!cmp(v[k], s))
			return true;
	if (*n == CID_IMDS_FLAG_ROLES)
		return true;
	v[*n] = strdup(s);
	if (!v[*n])
		return false;
	(*n)++;
	return true;
}

/* Fills x from owner o (flagged; pods = the pods with own credentials). */
static bool flag_fill(struct cid_imds_flag *x, const struct ctx *c, const struct owner *o, const char *pods)
{
	const struct imds_row *r = &c->imds_rows[o->imds_first];
	x->owner_key = strdup(o->key);
	x->label = strdup(o->label ? o->label : o->key);
	x->kind = strdup(o->kind);
	x->pods = strdup(pods);
	x->fetches = o->num_imds;
	x->first_us = x->last_us = r[0].f.ts_us;
	if (!x->owner_key || !x->label || !x->kind || !x->pods)
		return false;
	for (size_t i = 0; i < o->num_imds; i++) {
		if (r[i].f.ts_us < x->first_us)
			x->first_us = r[i].f.ts_us;
		if (r[i].f.ts_us > x->last_us)
			x->last_us = r[i].f.ts_us;
		x->imdsv1 |= r[i].f.imdsv == 1;
		x->imdsv2 |= r[i].f.imdsv == 2;
		/* IAM role names are unique without regard to case */
		if (!set_add(x->roles, &x->num_roles, r[i].f.role, strcasecmp))
			return false;
		if (r[i].f.user_agent && !set_add(x->user_agents, &x->num_user_agents, r[i].f.user_agent, strcmp))
			return false;
	}
	return true;
}

int cid_imds_flags_load(sqlite3 *db, struct cid_imds_flags *out, char *err, size_t err_len)
{
	struct ctx c;
	struct cid_buf w;
	int rc;

	memset(&c, 0, sizeof(c));
	memset(out, 0, sizeof(*out));
	c.db = db;
	c.have_owner_rows = table_exists_rows(db, "SELECT EXISTS(SELECT 1 FROM owner)");
	cid_buf_init(&w, 4096);
	rc = load_imds(&c, NULL, 0);
	if (rc < 0)
		goto out;
	out->num_fetches = c.num_imds;
	out->flag = calloc(c.num_owners ? c.num_owners : 1, sizeof(*out->flag));
	if (!out->flag) {
		rc = -CID_ENOMEM;
		snprintf(c.err, sizeof(c.err), "out of memory");
		goto out;
	}
	/* owners appear in the order of their first fetch (load_imds resolves
	 * them in time order) */
	for (size_t i = 0; i < c.num_owners; i++) {
		const struct owner *o = &c.owners[i];
		if (!o->num_imds)
			continue;
		out->num_owners++;
		cid_buf_reset(&w);
		if (!cid_cor_imds_under_irsa(o, &w))
			continue;
		if (!flag_fill(&out->flag[out->num_flags++], &c, o, cid_buf_str(&w))) {
			rc = -CID_ENOMEM;
			snprintf(c.err, sizeof(c.err), "out of memory");
			goto out;
		}
	}
out:
	if (rc < 0) {
		snprintf(err, err_len, "%s", c.err);
		cid_imds_flags_cleanup(out);
	}
	cid_buf_cleanup(&w);
	ctx_cleanup(&c);
	return rc;
}
