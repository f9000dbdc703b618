/*
 * timeline_load.c - the per-table loaders of `callerid timeline` (the
 * entry points, strings, lanes and ordering are timeline.c): pods, events
 * and the bursts they claim, flows and their lanes, request bursts, IMDS
 * requests and DNS lookups, pod snapshots. Each reads one table with SQL
 * built from constant fragments and bound parameters, and hands items to
 * cid_tl_add_item.
 */
#include <stdlib.h>
#include <string.h>

#include "callerid/output.h"
#include "callerid/timeline.h"
#include "timeline_int.h"

#define MAX_PODS 200000u     /* pod rows read from all snapshots */
#define MAX_CLAIMS 1000000u  /* attribution rows naming a burst */

/* ---- pods ------------------------------------------------------------------ */

static int cmp_addr(const void *a, const void *b)
{
	const struct pod_addr *x = a, *y = b;
	size_t n = x->ip_len < y->ip_len ? x->ip_len : y->ip_len;
	int c = memcmp(x->ip, y->ip, n);
	if (c)
		return c;
	if (x->ip_len != y->ip_len)
		return x->ip_len < y->ip_len ? -1 : 1;
	return x->pod < y->pod ? -1 : x->pod > y->pod;
}

static void add_addr(struct loader *L, size_t *cap, const char *ip, size_t n, size_t pod)
{
	if (!n)
		return;
	for (size_t i = L->num_addrs; i-- > 0 && L->addrs[i].pod == pod;)
		if (L->addrs[i].ip_len == n && !memcmp(L->addrs[i].ip, ip, n))
			return; /* pod_ip is usually also in pod_ips */
	if (!cid_tl_grow((void **)&L->addrs, cap, L->num_addrs + 1, sizeof(*L->addrs))) {
		L->oom = true;
		return;
	}
	L->addrs[L->num_addrs++] = (struct pod_addr){ip, n, pod};
}

void cid_tl_load_pods(struct loader *L)
{
	bool v2 = cid_tl_has_column(L, "pod", "pod_ips") && cid_tl_has_column(L, "pod", "phase");
	sqlite3_stmt *st;
	size_t cap = 0, acap = 0;
	int rc;
	if (!L->have_pod)
		return;
	st = cid_tl_prep(L, v2 ? "SELECT snapshot_us, namespace, name, uid, host_network, pod_ip, pod_ips,"
			  " host_ip, node, phase, owner_kind || '/' || owner_name, service_account"
			  " FROM pod ORDER BY snapshot_us, rowid"
			: "SELECT snapshot_us, namespace, name, uid, host_network, pod_ip, NULL,"
			  " host_ip, node, NULL, owner_kind || '/' || owner_name, service_account"
			  " FROM pod ORDER BY snapshot_us, rowid");
	if (!st)
		return;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && L->num_pods < MAX_PODS) {
		struct pod *p;
		if (!cid_tl_grow((void **)&L->pods, &cap, L->num_pods + 1, sizeof(*L->pods))) {
			L->oom = true;
			break;
		}
		p = &L->pods[L->num_pods++];
		memset(p, 0, sizeof(*p));
		p->snapshot_us = cid_tl_col_i64(st, 0);
		cid_tl_col(L, &p->ns, st, 1);
		cid_tl_col(L, &p->name, st, 2);
		cid_tl_col(L, &p->uid, st, 3);
		p->host_network = cid_tl_col_i64(st, 4) != 0;
		cid_tl_col(L, &p->ip, st, 5);
		cid_tl_col(L, &p->ips, st, 6);
		cid_tl_col(L, &p->host_ip, st, 7);
		cid_tl_col(L, &p->node, st, 8);
		cid_tl_col(L, &p->phase, st, 9);
		cid_tl_col(L, &p->controller, st, 10);
		cid_tl_col(L, &p->sa, st, 11);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		cid_tl_db_err(L, "pods");
	sqlite3_finalize(st);
	/* address index: hostNetwork pods share the node's address and name no
	 * pod (DESIGN, correlation step 3: those are host candidates) */
	for (size_t i = 0; i < L->num_pods; i++) {
		struct pod *p = &L->pods[i];
		if (p->host_network)
			continue;
		if (p->ip.p)
			add_addr(L, &acap, p->ip.p, p->ip.n, i);
		for (size_t s = 0, e; p->ips.p && s <= p->ips.n; s = e + 1) {
			for (e = s; e < p->ips.n && p->ips.p[e] != ','; e++)
				;
			add_addr(L, &acap, p->ips.p + s, e - s, i);
		}
	}
	if (L->num_addrs)
		qsort(L->addrs, L->num_addrs, sizeof(*L->addrs), cmp_addr);
}

/* The pod that had address ip in the snapshot nearest to at_us; NULL if none. */
static const struct pod *pod_by_ip(const struct loader *L, const char *ip, size_t n, int64_t at_us)
{
	struct pod_addr key = {ip, n, 0};
	size_t lo = 0, hi = L->num_addrs;
	const struct pod *best = NULL;
	uint64_t best_d = UINT64_MAX;
	while (lo < hi) { /* first entry >= (ip, pod 0) */
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_addr(&L->addrs[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < L->num_addrs && L->addrs[lo].ip_len == n && !memcmp(L->addrs[lo].ip, ip, n); lo++) {
		const struct pod *p = &L->pods[L->addrs[lo].pod];
		uint64_t d = p->snapshot_us > at_us ? (uint64_t)(p->snapshot_us - at_us)
						    : (uint64_t)(at_us - p->snapshot_us);
		if (d <= best_d) { /* equal distance: the later snapshot */
			best = p;
			best_d = d;
		}
	}
	return best;
}

static const struct pod *pod_by_uid(const struct loader *L, const char *uid, size_t n)
{
	for (size_t i = L->num_pods; i-- > 0;)
		if (L->pods[i].uid.p && L->pods[i].uid.n == n && !memcmp(L->pods[i].uid.p, uid, n))
			return &L->pods[i];
	return NULL;
}

static void pod_key(struct cid_buf *b, const struct pod *p)
{
	cid_buf_reset(b);
	cid_buf_adds(b, "pod:");
	if (p->ns.p)
		cid_buf_add(b, p->ns.p, p->ns.n);
	cid_buf_addc(b, '/');
	if (p->name.p)
		cid_buf_add(b, p->name.p, p->name.n);
}

/* ---- events -------------------------------------------------------------- */

static void add_claim(struct loader *L, int64_t request_id, const struct cid_tl_str *event_id,
		      const struct cid_tl_str *verdict, const char *key, size_t key_len)
{
	struct claim *c;
	if (L->num_claims >= MAX_CLAIMS ||
	    !cid_tl_grow((void **)&L->claims, &L->cap_claims, L->num_claims + 1, sizeof(*L->claims)))
		return;
	c = &L->claims[L->num_claims];
	memset(c, 0, sizeof(*c));
	c->request_id = request_id;
	if ((event_id->p && !cid_tl_str_dup(&c->event_id, event_id->p, event_id->n)) ||
	    (verdict->p && !cid_tl_str_dup(&c->verdict, verdict->p, verdict->n)) ||
	    !cid_tl_str_dup(&c->lane_key, key, key_len)) {
		L->oom = true;
		cid_tl_str_free(&c->event_id);
		cid_tl_str_free(&c->verdict);
		return;
	}
	L->num_claims++;
}

static int cmp_claim(const void *a, const void *b)
{
	const struct claim *x = a, *y = b;
	bool ax = cid_tl_str_eq(&x->verdict, "attributed"), ay = cid_tl_str_eq(&y->verdict, "attributed");
	if (x->request_id != y->request_id)
		return x->request_id < y->request_id ? -1 : 1;
	return ax == ay ? 0 : ax ? -1 : 1; /* the attributed claim first */
}

static const struct claim *claim_find(const struct loader *L, int64_t request_id)
{
	size_t lo = 0, hi = L->num_claims;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (L->claims[mid].request_id < request_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < L->num_claims && L->claims[lo].request_id == request_id ? &L->claims[lo] : NULL;
}

void cid_tl_load_events(struct loader *L)
{
	/* An event is read when it or its burst is in the window: a burst in
	 * the window still needs to know which event claims it. */
	static const char with_attr[] =
		"SELECT e.event_id, e.time_us, e.name, e.source, e.error_code, e.error_message,"
		" e.source_ip, e.user_agent, e.arn, a.verdict, a.confidence, a.owner_key,"
		" a.flow_id, a.request_id, coalesce(a.request_us, r.ts_us), a.skew_us,"
		" CASE WHEN json_valid(a.reasons) THEN json(a.reasons) END"
		" FROM event e LEFT JOIN attribution a ON a.event_id = e.event_id"
		" LEFT JOIN request r ON r.id = a.request_id"
		" WHERE ((?1 IS NULL OR e.time_us >= ?1) AND (?2 IS NULL OR e.time_us <= ?2))"
		"  OR ((?1 IS NULL OR coalesce(a.request_us, r.ts_us) >= ?1)"
		"   AND (?2 IS NULL OR coalesce(a.request_us, r.ts_us) <= ?2))"
		" ORDER BY e.time_us, e.id";
	static const char without_attr[] =
		"SELECT e.event_id, e.time_us, e.name, e.source, e.error_code, e.error_message,"
		" e.source_ip, e.user_agent, e.arn, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
		" FROM event e"
		" WHERE (?1 IS NULL OR e.time_us >= ?1) AND (?2 IS NULL OR e.time_us <= ?2)"
		" ORDER BY e.time_us, e.id";
	sqlite3_stmt *st = cid_tl_prep(L, L->have_attr ? with_attr : without_attr);
	int rc;
	if (!st)
		return;
	cid_tl_bind_window(L, st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !L->oom) {
		struct cid_tl_item ev = {0}, m = {0};
		struct cid_tl_str owner;
		const char *key = UNATTRIBUTED;
		size_t key_len = strlen(UNATTRIBUTED);
		ev.type = CID_TL_EVENT;
		cid_tl_col(L, &ev.event_id, st, 0);
		ev.time_us = cid_tl_col_i64(st, 1);
		cid_tl_col(L, &ev.name, st, 2);
		cid_tl_col(L, &ev.source, st, 3);
		cid_tl_col(L, &ev.error_code, st, 4);
		cid_tl_col(L, &ev.error_message, st, 5);
		cid_tl_col(L, &ev.source_ip, st, 6);
		cid_tl_col(L, &ev.user_agent, st, 7);
		cid_tl_col(L, &ev.arn, st, 8);
		cid_tl_col(L, &ev.verdict, st, 9);
		ev.has_confidence = sqlite3_column_type(st, 10) != SQLITE_NULL;
		ev.confidence = sqlite3_column_double(st, 10);
		cid_tl_col(L, &owner, st, 11);
		ev.flow_id = cid_tl_col_i64(st, 12);
		ev.request_id = cid_tl_col_i64(st, 13);
		ev.other_us = cid_tl_col_i64(st, 14);
		ev.has_skew = sqlite3_column_type(st, 15) != SQLITE_NULL;
		ev.skew_us = cid_tl_col_i64(st, 15);
		cid_tl_col(L, &ev.reasons, st, 16);
		if (cid_tl_str_eq(&ev.verdict, "attributed") && owner.p && owner.n) {
			key = owner.p;
			key_len = owner.n;
		}
		if (ev.request_id)
			add_claim(L, ev.request_id, &ev.event_id, &ev.verdict, key, key_len);
		if (ev.other_us) {
			/* the match: at the burst's time, in the event's lane */
			m.type = CID_TL_MATCH;
			m.time_us = ev.other_us;
			m.other_us = ev.time_us;
			m.flow_id = ev.flow_id;
			m.request_id = ev.request_id;
			m.has_confidence = ev.has_confidence;
			m.confidence = ev.confidence;
			m.has_skew = ev.has_skew;
			m.skew_us = ev.skew_us;
			if ((ev.event_id.p && !cid_tl_str_dup(&m.event_id, ev.event_id.p, ev.event_id.n)) ||
			    (ev.name.p && !cid_tl_str_dup(&m.name, ev.name.p, ev.name.n)) ||
			    (ev.verdict.p && !cid_tl_str_dup(&m.verdict, ev.verdict.p, ev.verdict.n)))
				L->oom = true;
			cid_tl_add_item(L, &m, key, key_len);
		}
		cid_tl_add_item(L, &ev, key, key_len);
		cid_tl_str_free(&owner);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		cid_tl_db_err(L, "events");
	sqlite3_finalize(st);
	if (L->num_claims)
		qsort(L->claims, L->num_claims, sizeof(*L->claims), cmp_claim);
}

/* ---- flows ------------------------------------------------------------------ */

void cid_tl_load_attr_ids(struct loader *L)
{
	static const char *const direct = "SELECT DISTINCT flow_id FROM attribution WHERE verdict = 'attributed'"
					  " AND owner_key IS NOT NULL AND flow_id IS NOT NULL ORDER BY 1";
	static const char *const linked =
		"SELECT flow_id FROM attribution WHERE verdict = 'attributed' AND owner_key IS NOT NULL"
		" AND flow_id IS NOT NULL"
		" UNION SELECT n.inner_flow_id FROM nat_link n JOIN attribution a ON a.flow_id = n.outer_flow_id"
		" WHERE a.verdict = 'attributed' AND a.owner_key IS NOT NULL AND n.inner_flow_id IS NOT NULL"
		" UNION SELECT n.outer_flow_id FROM nat_link n JOIN attribution a ON a.flow_id = n.inner_flow_id"
		" WHERE a.verdict = 'attributed' AND a.owner_key IS NOT NULL AND n.outer_flow_id IS NOT NULL"
		" ORDER BY 1";
	sqlite3_stmt *st = cid_tl_prep(L, L->have_nat ? linked : direct);
	int rc;
	if (!st)
		return;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		if (!cid_tl_grow((void **)&L->attr_ids, &L->cap_attr_ids, L->num_attr_ids + 1, sizeof(*L->attr_ids))) {
			L->oom = true;
			break;
		}
		L->attr_ids[L->num_attr_ids++] = id;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		cid_tl_db_err(L, "attribution");
	sqlite3_finalize(st);
}

static bool has_attr(const struct loader *L, int64_t id)
{
	size_t lo = 0, hi = L->num_attr_ids;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (L->attr_ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < L->num_attr_ids && L->attr_ids[lo] == id;
}

/* Writes the lane key of a flow into b (DESIGN, correlation step 3, and
 * the order in timeline.h). */
static void flow_key(struct loader *L, struct cid_buf *b, int64_t flow_id,
		     const struct cid_tl_str *client_ip, int64_t first_us)
{
	const struct pod *p;
	cid_buf_reset(b);
	/* an attributed event on this flow or on a flow NAT-linked to it */
	if (L->q_attr_flow && has_attr(L, flow_id)) {
		sqlite3_reset(L->q_attr_flow);
		sqlite3_bind_int64(L->q_attr_flow, 1, flow_id);
		if (sqlite3_step(L->q_attr_flow) == SQLITE_ROW) {
			const char *k = (const char *)sqlite3_column_text(L->q_attr_flow, 0);
			int n = sqlite3_column_bytes(L->q_attr_flow, 0);
			if (k && n > 0) {
				cid_buf_add(b, k, (size_t)n);
				return;
			}
		}
	}
	/* live attribution: the socket's process, or the pod its cgroup names */
	if (L->q_owner) {
		sqlite3_reset(L->q_owner);
		sqlite3_bind_int64(L->q_owner, 1, flow_id);
		if (sqlite3_step(L->q_owner) == SQLITE_ROW) {
			const char *uid = (const char *)sqlite3_column_text(L->q_owner, 2);
			int uid_n = sqlite3_column_bytes(L->q_owner, 2);
			if (uid && uid_n > 0 && (p = pod_by_uid(L, uid, (size_t)uid_n)) != NULL) {
				pod_key(b, p);
				return;
			}
			if (sqlite3_column_type(L->q_owner, 0) != SQLITE_NULL) {
				const char *comm = (const char *)sqlite3_column_text(L->q_owner, 1);
				int comm_n = sqlite3_column_bytes(L->q_owner, 1);
				cid_buf_adds(b, "process:");
				if (comm && comm_n > 0)
					cid_buf_add(b, comm, (size_t)comm_n);
				else
					cid_buf_addc(b, '?');
				cid_buf_printf(b, "[%lld]", (long long)sqlite3_column_int64(L->q_owner, 0));
				return;
			}
		}
	}
	/* the inner (pre-NAT) flow's client is a pod */
	if (L->q_nat_inner) {
		sqlite3_reset(L->q_nat_inner);
		sqlite3_bind_int64(L->q_nat_inner, 1, flow_id);
		while (sqlite3_step(L->q_nat_inner) == SQLITE_ROW) {
			const char *ip = (const char *)sqlite3_column_text(L->q_nat_inner, 0);
			int n = sqlite3_column_bytes(L->q_nat_inner, 0);
			if (ip && n > 0 && (p = pod_by_ip(L, ip, (size_t)n, first_us)) != NULL) {
				pod_key(b, p);
				return;
			}
		}
	}
	if (client_ip->p && (p = pod_by_ip(L, client_ip->p, client_ip->n, first_us)) != NULL) {
		pod_key(b, p);
		return;
	}
	cid_buf_adds(b, "host:");
	if (client_ip->p && client_ip->n)
		cid_buf_add(b, client_ip->p, client_ip->n);
	else
		cid_buf_addc(b, '?');
}

/* "ip:port", "[v6]:port". */
static void endpoint(struct loader *L, struct cid_tl_str *s, sqlite3_stmt *st, int ip_col,
		     int port_col)
{
	struct cid_buf b;
	const char *ip = (const char *)sqlite3_column_text(st, ip_col);
	int n = sqlite3_column_bytes(st, ip_col);
	s->p = NULL;
	s->n = 0;
	if (!ip)
		return;
	cid_buf_init(&b, 4096);
	if (memchr(ip, ':', (size_t)n))
		cid_buf_addc(&b, '[');
	cid_buf_add(&b, ip, (size_t)n);
	if (memchr(ip, ':', (size_t)n))
		cid_buf_addc(&b, ']');
	if (sqlite3_column_type(st, port_col) != SQLITE_NULL)
		cid_buf_printf(&b, ":%lld", (long long)sqlite3_column_int64(st, port_col));
	if (b.oom || !cid_tl_str_dup(s, cid_buf_str(&b), b.len))
		L->oom = true;
	cid_buf_cleanup(&b);
}

void cid_tl_load_flows(struct loader *L)
{
	static const char with_tls[] =
		"SELECT f.id, f.first_us, f.last_us, f.client_ip, f.client_port, f.server_ip,"
		" f.server_port, f.end_reason, f.c2s_pkts, f.c2s_bytes, f.s2c_pkts, f.s2c_bytes,"
		" t.sni, t.version, t.cipher, t.alpn"
		" FROM flow f LEFT JOIN tls t ON t.flow_id = f.id"
		" WHERE (?1 IS NULL OR coalesce(f.last_us, f.first_us) >= ?1)"
		"  AND (?2 IS NULL OR f.first_us <= ?2) ORDER BY f.id";
	static const char no_tls[] =
		"SELECT f.id, f.first_us, f.last_us, f.client_ip, f.client_port, f.server_ip,"
		" f.server_port, f.end_reason, f.c2s_pkts, f.c2s_bytes, f.s2c_pkts, f.s2c_bytes,"
		" NULL, NULL, NULL, NULL FROM flow f"
		" WHERE (?1 IS NULL OR coalesce(f.last_us, f.first_us) >= ?1)"
		"  AND (?2 IS NULL OR f.first_us <= ?2) ORDER BY f.id";
	sqlite3_stmt *st;
	struct cid_buf key;
	int rc;
	if (!cid_tl_has_table(L, "flow"))
		return;
	st = cid_tl_prep(L, L->have_tls ? with_tls : no_tls);
	if (!st)
		return;
	cid_tl_bind_window(L, st);
	cid_buf_init(&key, 64 * 1024);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !L->oom) {
		struct cid_tl_item o = {0}, c = {0};
		struct cid_tl_str client_ip;
		struct flow_lane *fl;
		int64_t id = sqlite3_column_int64(st, 0);
		o.type = CID_TL_FLOW_OPEN;
		o.flow_id = id;
		o.time_us = cid_tl_col_i64(st, 1);
		o.other_us = cid_tl_col_i64(st, 2);
		cid_tl_col(L, &client_ip, st, 3);
		endpoint(L, &o.client, st, 3, 4);
		endpoint(L, &o.server, st, 5, 6);
		cid_tl_col(L, &o.end_reason, st, 7);
		o.c2s_pkts = cid_tl_col_i64(st, 8);
		o.c2s_bytes = cid_tl_col_i64(st, 9);
		o.s2c_pkts = cid_tl_col_i64(st, 10);
		o.s2c_bytes = cid_tl_col_i64(st, 11);
		cid_tl_col(L, &o.sni, st, 12);
		cid_tl_col(L, &o.tls_version, st, 13);
		cid_tl_col(L, &o.cipher, st, 14);
		cid_tl_col(L, &o.alpn, st, 15);
		flow_key(L, &key, id, &client_ip, o.time_us);
		cid_tl_str_free(&client_ip);
		if (key.oom || key.capped) {
			L->oom = L->oom || key.oom;
			cid_tl_item_free(&o);
			continue;
		}
		if (cid_tl_grow((void **)&L->flows, &L->cap_flows, L->num_flows + 1, sizeof(*L->flows))) {
			fl = &L->flows[L->num_flows];
			fl->id = id;
			if (cid_tl_str_dup(&fl->key, key.p, key.len))
				L->num_flows++;
			else
				L->oom = true;
		} else {
			L->oom = true;
		}
		/* the close: same flow, at its last packet */
		if (o.other_us) {
			c = o;
			c.type = CID_TL_FLOW_CLOSE;
			c.time_us = o.other_us;
			c.other_us = o.time_us;
			memset(&c.sni, 0, sizeof(c.sni));
			memset(&c.tls_version, 0, sizeof(c.tls_version));
			memset(&c.cipher, 0, sizeof(c.cipher));
			memset(&c.alpn, 0, sizeof(c.alpn));
			if ((o.client.p && !cid_tl_str_dup(&c.client, o.client.p, o.client.n)) ||
			    (o.server.p && !cid_tl_str_dup(&c.server, o.server.p, o.server.n)) ||
			    (o.end_reason.p && !cid_tl_str_dup(&c.end_reason, o.end_reason.p, o.end_reason.n)))
				L->oom = true;
			cid_tl_add_item(L, &o, key.p, key.len);
			cid_tl_add_item(L, &c, key.p, key.len);
		} else {
			cid_tl_add_item(L, &o, key.p, key.len);
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE && !L->oom)
		cid_tl_db_err(L, "flows");
	sqlite3_finalize(st);
	cid_buf_cleanup(&key);
}

static const struct flow_lane *flow_find(const struct loader *L, int64_t id)
{
	size_t lo = 0, hi = L->num_flows; /* flows were read in id order */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (L->flows[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < L->num_flows && L->flows[lo].id == id ? &L->flows[lo] : NULL;
}

void cid_tl_load_requests(struct loader *L)
{
	sqlite3_stmt *st;
	int rc;
	if (!cid_tl_has_table(L, "request"))
		return;
	st = cid_tl_prep(L, "SELECT id, flow_id, ts_us, answer_us, c2s_bytes, s2c_bytes FROM request"
		     " WHERE (?1 IS NULL OR ts_us >= ?1) AND (?2 IS NULL OR ts_us <= ?2)"
		     " ORDER BY ts_us, id");
	if (!st)
		return;
	cid_tl_bind_window(L, st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !L->oom) {
		struct cid_tl_item r = {0};
		const struct claim *c;
		const struct flow_lane *fl;
		const char *key = "host:?";
		size_t key_len = 6;
		r.type = CID_TL_REQUEST;
		r.request_id = sqlite3_column_int64(st, 0);
		r.flow_id = cid_tl_col_i64(st, 1);
		r.time_us = cid_tl_col_i64(st, 2);
		r.other_us = cid_tl_col_i64(st, 3);
		r.c2s_bytes = cid_tl_col_i64(st, 4);
		r.s2c_bytes = cid_tl_col_i64(st, 5);
		if ((fl = flow_find(L, r.flow_id)) != NULL) {
			key = fl->key.p;
			key_len = fl->key.n;
		}
		if ((c = claim_find(L, r.request_id)) != NULL) {
			if ((c->event_id.p && !cid_tl_str_dup(&r.event_id, c->event_id.p, c->event_id.n)) ||
			    (c->verdict.p && !cid_tl_str_dup(&r.verdict, c->verdict.p, c->verdict.n)))
				L->oom = true;
			/* an attributed burst sits with its owner */
			if (cid_tl_str_eq(&c->verdict, "attributed")) {
				key = c->lane_key.p;
				key_len = c->lane_key.n;
			}
		}
		cid_tl_add_item(L, &r, key, key_len);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE && !L->oom)
		cid_tl_db_err(L, "requests");
	sqlite3_finalize(st);
}

/* ---- IMDS requests and DNS lookups (issue 7) ------------------------------------ */

/* The lane of an evidence row: its flow's, else the pod whose IP asked,
 * else the asking address. */
static void evidence_key(struct loader *L, struct cid_buf *b, int64_t flow_id, const struct cid_tl_str *client_ip,
			 int64_t at_us)
{
	const struct flow_lane *fl = flow_id ? flow_find(L, flow_id) : NULL;
	const struct pod *p;
	cid_buf_reset(b);
	if (fl && fl->key.p) {
		cid_buf_add(b, fl->key.p, fl->key.n);
		return;
	}
	if (client_ip->p && (p = pod_by_ip(L, client_ip->p, client_ip->n, at_us)) != NULL) {
		pod_key(b, p);
		return;
	}
	cid_buf_adds(b, "host:");
	if (client_ip->p && client_ip->n)
		cid_buf_add(b, client_ip->p, client_ip->n);
	else
		cid_buf_addc(b, '?');
}

/* IMDS requests: http rows on an IMDS path (schema version 3), or that
 * broke. Never a body: the table has none. */
void cid_tl_load_imds(struct loader *L)
{
	sqlite3_stmt *st;
	struct cid_buf key;
	int rc;
	if (!cid_tl_has_table(L, "http") || !cid_tl_has_column(L, "http", "imdsv") || !cid_tl_has_table(L, "flow"))
		return;
	st = cid_tl_prep(L, "SELECT h.flow_id, h.ts_us, h.answer_us, f.client_ip, f.client_port, f.server_ip,"
		     " f.server_port, h.method, h.path, h.user_agent, h.imds_kind, h.role_name, h.imdsv,"
		     " h.imds_token, h.status, h.parse_error"
		     " FROM http h LEFT JOIN flow f ON f.id = h.flow_id"
		     " WHERE (h.imdsv IS NOT NULL OR h.parse_error IS NOT NULL)"
		     " AND (?1 IS NULL OR h.ts_us >= ?1) AND (?2 IS NULL OR h.ts_us <= ?2)"
		     " ORDER BY h.ts_us, h.rowid");
	if (!st)
		return;
	cid_tl_bind_window(L, st);
	cid_buf_init(&key, 4096);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !L->oom) {
		struct cid_tl_item r = {0};
		struct cid_tl_str ip = {0};
		r.type = CID_TL_IMDS;
		r.flow_id = cid_tl_col_i64(st, 0);
		r.time_us = cid_tl_col_i64(st, 1);
		r.other_us = cid_tl_col_i64(st, 2);
		endpoint(L, &r.client, st, 3, 4);
		endpoint(L, &r.server, st, 5, 6);
		cid_tl_col(L, &r.method, st, 7);
		cid_tl_col(L, &r.path, st, 8);
		cid_tl_col(L, &r.user_agent, st, 9);
		cid_tl_col(L, &r.imds_kind, st, 10);
		cid_tl_col(L, &r.role, st, 11);
		r.imdsv = cid_tl_col_i64(st, 12);
		r.imds_token = cid_tl_col_i64(st, 13) != 0;
		r.has_status = sqlite3_column_type(st, 14) != SQLITE_NULL;
		r.status = cid_tl_col_i64(st, 14);
		cid_tl_col(L, &r.error_message, st, 15);
		cid_tl_col(L, &ip, st, 3);
		evidence_key(L, &key, r.flow_id, &ip, r.time_us);
		cid_tl_str_free(&ip);
		if (key.oom)
			L->oom = true;
		cid_tl_add_item(L, &r, cid_buf_str(&key), key.len);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE && !L->oom)
		cid_tl_db_err(L, "imds");
	sqlite3_finalize(st);
	cid_buf_cleanup(&key);
}

/* DNS lookups: each answer, and each query that got none in the capture. */
void cid_tl_load_dns(struct loader *L)
{
	sqlite3_stmt *st;
	struct cid_buf key;
	int rc;
	if (!cid_tl_has_table(L, "dns") || !cid_tl_has_column(L, "dns", "response"))
		return;
	st = cid_tl_prep(L, "SELECT d.flow_id, d.ts_us, d.client_ip, d.client_port, d.server_ip, d.server_port,"
		     " d.qname, d.qtype, d.rcode, d.parse_error,"
		     " (SELECT group_concat(json_extract(j.value, '$.data'), ',') FROM json_each("
		     "   CASE WHEN json_valid(d.answers) THEN d.answers ELSE '[]' END) j)"
		     " FROM dns d"
		     /* a query is shown when no answer has its (client, port, txid):
		      * NOT IN builds one index for the answers where a correlated
		      * NOT EXISTS scanned the table per query (1.3 s at 9 000
		      * messages, quadratic) */
		     " WHERE (d.response = 1 OR d.parse_error IS NOT NULL OR d.client_ip IS NULL"
		     "   OR d.client_port IS NULL OR d.txid IS NULL"
		     "   OR (d.client_ip, d.client_port, d.txid) NOT IN (SELECT a.client_ip, a.client_port,"
		     "   a.txid FROM dns a WHERE a.response = 1 AND a.client_ip IS NOT NULL"
		     "   AND a.client_port IS NOT NULL AND a.txid IS NOT NULL))"
		     " AND (?1 IS NULL OR d.ts_us >= ?1) AND (?2 IS NULL OR d.ts_us <= ?2)"
		     " ORDER BY d.ts_us, d.rowid");
	if (!st)
		return;
	cid_tl_bind_window(L, st);
	cid_buf_init(&key, 4096);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !L->oom) {
		struct cid_tl_item r = {0};
		struct cid_tl_str ip = {0};
		r.type = CID_TL_DNS;
		r.flow_id = cid_tl_col_i64(st, 0);
		r.time_us = cid_tl_col_i64(st, 1);
		endpoint(L, &r.client, st, 2, 3);
		endpoint(L, &r.server, st, 4, 5);
		cid_tl_col(L, &r.qname, st, 6);
		r.qtype = cid_tl_col_i64(st, 7);
		r.has_status = sqlite3_column_type(st, 8) != SQLITE_NULL;
		r.rcode = cid_tl_col_i64(st, 8);
		cid_tl_col(L, &r.error_message, st, 9);
		cid_tl_col(L, &r.answers, st, 10);
		cid_tl_col(L, &ip, st, 2);
		evidence_key(L, &key, r.flow_id, &ip, r.time_us);
		cid_tl_str_free(&ip);
		if (key.oom)
			L->oom = true;
		cid_tl_add_item(L, &r, cid_buf_str(&key), key.len);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE && !L->oom)
		cid_tl_db_err(L, "dns");
	sqlite3_finalize(st);
	cid_buf_cleanup(&key);
}

/* ---- snapshots --------------------------------------------------------------- */

static void snapshot_item(struct loader *L, const struct pod *p, const char *key, size_t key_len)
{
	struct cid_tl_item s = {0};
	const struct cid_tl_str *from[] = {&p->ns, &p->name, &p->uid, &p->ip, &p->node,
					   &p->host_ip, &p->phase, &p->controller, &p->sa};
	struct cid_tl_str *to[] = {&s.pod_ns, &s.pod_name, &s.pod_uid, &s.pod_ip, &s.node,
				   &s.host_ip, &s.phase, &s.controller, &s.service_account};
	s.type = CID_TL_SNAPSHOT;
	s.time_us = p->snapshot_us;
	s.host_network = p->host_network;
	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++)
		if (from[i]->p && !cid_tl_str_dup(to[i], from[i]->p, from[i]->n))
			L->oom = true;
	cid_tl_add_item(L, &s, key, key_len);
}

/* A pod's snapshot rows go to its lane; a hostNetwork pod's to the lane of
 * its node address (it is one of the host's candidates). Only lanes that
 * hold other items get snapshots. */
void cid_tl_add_snapshots(struct loader *L)
{
	struct cid_buf key;
	cid_buf_init(&key, 64 * 1024);
	for (size_t i = 0; i < L->num_pods && !L->oom; i++) {
		const struct pod *p = &L->pods[i];
		if (!cid_tl_in_window(L->t, p->snapshot_us))
			continue;
		if (!p->host_network) {
			pod_key(&key, p);
		} else {
			const struct cid_tl_str *ip = p->host_ip.p ? &p->host_ip : &p->ip;
			cid_buf_reset(&key);
			cid_buf_adds(&key, "host:");
			if (ip->p)
				cid_buf_add(&key, ip->p, ip->n);
		}
		if (!key.capped && !key.oom && cid_tl_lane_find(L->t, key.p, key.len) != SIZE_MAX)
			snapshot_item(L, p, key.p, key.len);
	}
	cid_buf_cleanup(&key);
}
