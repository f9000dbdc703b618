/*
 * timeline.c - `callerid timeline`: the loader (store -> lanes and items).
 * The text and JSON-lines writers are timeline_text.c, HTML timeline_html.c.
 *
 * The loader only reads. Every value reaches SQL as a bound parameter; the
 * SQL text itself is assembled from constant fragments only (to tolerate
 * schema version 1, which lacks the attribution table and some columns).
 * Order of work: pods (in memory, for IP and uid lookups), events (event
 * and match items, and which burst each event claims), flows (open/close
 * items and each flow's lane), bursts, then pod snapshots for the lanes
 * that exist. Lanes are created only when an item lands in them, so a
 * time window never shows empty lanes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/output.h"
#include "callerid/timeline.h"

#define UNATTRIBUTED "unattributed"
#define MAX_PODS 200000u     /* pod rows read from all snapshots */
#define MAX_CLAIMS 1000000u  /* attribution rows naming a burst */

bool cid_tl_fmt_parse(enum cid_tl_fmt *fmt, const char *s)
{
	if (!strcmp(s, "text"))
		*fmt = CID_TL_TEXT;
	else if (!strcmp(s, "json"))
		*fmt = CID_TL_JSON;
	else if (!strcmp(s, "html"))
		*fmt = CID_TL_HTML;
	else
		return false;
	return true;
}

const char *cid_tl_type_name(enum cid_tl_type t)
{
	switch (t) {
	case CID_TL_SNAPSHOT: return "snapshot";
	case CID_TL_FLOW_OPEN: return "flow_open";
	case CID_TL_REQUEST: return "request";
	case CID_TL_MATCH: return "match";
	case CID_TL_EVENT: return "event";
	case CID_TL_FLOW_CLOSE: return "flow_close";
	case CID_TL_IMDS: return "imds";
	case CID_TL_DNS: return "dns";
	}
	return "?";
}

int64_t cid_tl_tick_step(int64_t span_us, int max_ticks)
{
	static const int64_t steps[] = {
		1, 2, 5, 10, 20, 50, 100, 200, 500,                        /* us */
		1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, /* ms */
		1000000, 2000000, 5000000, 10000000, 15000000, 30000000,   /* s */
		60000000, 120000000, 300000000, 600000000, 900000000, 1800000000, /* min */
		3600000000LL, 7200000000LL, 10800000000LL, 21600000000LL, 43200000000LL, /* h */
		86400000000LL, 172800000000LL, 604800000000LL, 2592000000000LL, 31536000000000LL};
	size_t n = sizeof(steps) / sizeof(steps[0]);
	int64_t need;
	if (max_ticks < 1)
		max_ticks = 1;
	if (span_us < 1)
		span_us = 1;
	/* the smallest step with step * max_ticks >= span */
	need = span_us / max_ticks + (span_us % max_ticks != 0);
	for (size_t i = 0; i < n; i++)
		if (steps[i] >= need)
			return steps[i];
	/* beyond years: a multiple of the largest step */
	return (need / steps[n - 1] + 1) * steps[n - 1];
}

/* ---- strings ------------------------------------------------------------ */

static void str_free(struct cid_tl_str *s)
{
	free(s->p);
	s->p = NULL;
	s->n = 0;
}

static bool str_dup(struct cid_tl_str *d, const char *p, size_t n)
{
	d->p = malloc(n + 1);
	d->n = d->p ? n : 0;
	if (!d->p)
		return false;
	memcpy(d->p, p, n);
	d->p[n] = '\0';
	return true;
}

static bool str_eq(const struct cid_tl_str *s, const char *z)
{
	return s->p && s->n == strlen(z) && !memcmp(s->p, z, s->n);
}

static void item_free(struct cid_tl_item *it)
{
	struct cid_tl_str *all[] = {
		&it->event_id, &it->name, &it->source, &it->error_code, &it->error_message,
		&it->source_ip, &it->user_agent, &it->arn, &it->verdict, &it->reasons,
		&it->client, &it->server, &it->sni, &it->tls_version, &it->cipher, &it->alpn,
		&it->end_reason, &it->pod_ns, &it->pod_name, &it->pod_uid, &it->pod_ip, &it->node,
		&it->host_ip, &it->phase, &it->controller, &it->service_account,
		&it->method, &it->path, &it->imds_kind, &it->role, &it->qname, &it->answers};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		str_free(all[i]);
}

void cid_timeline_free(struct cid_timeline *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->num_items; i++)
		item_free(&t->items[i]);
	for (size_t i = 0; i < t->num_lanes; i++)
		str_free(&t->lanes[i].key);
	free(t->items);
	free(t->lanes);
	free(t->lane_index);
	free(t);
}

/* ---- loader state --------------------------------------------------------- */

/* One pod row of a kubectl snapshot. */
struct pod {
	int64_t snapshot_us;
	bool host_network;
	struct cid_tl_str ns, name, uid, ip, ips, host_ip, node, phase, controller, sa;
};

/* An address a (non-hostNetwork) pod had in a snapshot. */
struct pod_addr {
	const char *ip; /* borrowed from the pod */
	size_t ip_len;
	size_t pod;
};

/* A burst that an attribution row names. */
struct claim {
	int64_t request_id;
	struct cid_tl_str event_id, verdict, lane_key;
};

/* A flow's lane, kept for its bursts. */
struct flow_lane {
	int64_t id;
	struct cid_tl_str key;
};

struct loader {
	struct cid_timeline *t;
	sqlite3 *db;
	char *err;
	size_t err_len;
	bool oom, failed;
	size_t max_items;
	bool have_attr, have_nat, have_owner, have_pod, have_tls;
	struct pod *pods;
	size_t num_pods;
	struct pod_addr *addrs;
	size_t num_addrs;
	struct claim *claims;
	size_t num_claims, cap_claims;
	struct flow_lane *flows;
	size_t num_flows, cap_flows;
	sqlite3_stmt *q_attr_flow, *q_owner, *q_nat_inner;
};

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;
	if (need <= *cap)
		return true;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * elem);
	if (!np)
		return false;
	*p = np;
	*cap = ncap;
	return true;
}

static void db_err(struct loader *L, const char *what)
{
	if (!L->failed)
		snprintf(L->err, L->err_len, "timeline: %s: %s", what, sqlite3_errmsg(L->db));
	L->failed = true;
}

static sqlite3_stmt *prep(struct loader *L, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(L->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_err(L, "query");
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/* Binds the window to ?1 (since) and ?2 (until); unbound means NULL. */
static void bind_window(struct loader *L, sqlite3_stmt *st)
{
	if (L->t->has_since)
		sqlite3_bind_int64(st, 1, L->t->since_us);
	if (L->t->has_until)
		sqlite3_bind_int64(st, 2, L->t->until_us);
}

static bool in_window(const struct cid_timeline *t, int64_t us)
{
	return (!t->has_since || us >= t->since_us) && (!t->has_until || us <= t->until_us);
}

static bool has_table(struct loader *L, const char *name)
{
	sqlite3_stmt *st = prep(L, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
	bool yes;
	if (!st)
		return false;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

static bool has_column(struct loader *L, const char *table, const char *col)
{
	sqlite3_stmt *st = prep(L, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
	bool yes;
	if (!st)
		return false;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

/* Copies column i (NULL stays NULL; bytes are kept as stored). */
static void col(struct loader *L, struct cid_tl_str *s, sqlite3_stmt *st, int i)
{
	const unsigned char *v;
	int n;
	s->p = NULL;
	s->n = 0;
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return;
	v = sqlite3_column_text(st, i);
	n = sqlite3_column_bytes(st, i);
	if (!v || n < 0 || !str_dup(s, (const char *)v, (size_t)n))
		L->oom = true;
}

static int64_t col_i64(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

/* ---- lanes ------------------------------------------------------------------ */

static uint64_t hash_key(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static const char *lane_kind(const char *p, size_t n)
{
	if (n >= 4 && !memcmp(p, "pod:", 4))
		return "pod";
	if (n >= 8 && !memcmp(p, "process:", 8))
		return "process";
	if (n >= 5 && !memcmp(p, "host:", 5))
		return "host";
	return UNATTRIBUTED;
}

static bool index_put(struct cid_timeline *t, size_t lane)
{
	const struct cid_tl_str *k = &t->lanes[lane].key;
	size_t mask = t->lane_index_cap - 1;
	size_t i = (size_t)hash_key(k->p, k->n) & mask;
	while (t->lane_index[i] != SIZE_MAX)
		i = (i + 1) & mask;
	t->lane_index[i] = lane;
	return true;
}

/* Finds the lane with this key; SIZE_MAX when there is none. */
static size_t lane_find(const struct cid_timeline *t, const char *p, size_t n)
{
	size_t mask, i;
	if (!t->lane_index_cap)
		return SIZE_MAX;
	mask = t->lane_index_cap - 1;
	i = (size_t)hash_key(p, n) & mask;
	while (t->lane_index[i] != SIZE_MAX) {
		const struct cid_tl_str *k = &t->lanes[t->lane_index[i]].key;
		if (k->n == n && !memcmp(k->p, p, n))
			return t->lane_index[i];
		i = (i + 1) & mask;
	}
	return SIZE_MAX;
}

/* Finds or creates a lane. SIZE_MAX at the lane cap or out of memory. */
static size_t lane_get(struct loader *L, const char *p, size_t n)
{
	struct cid_timeline *t = L->t;
	size_t lane = lane_find(t, p, n);
	struct cid_tl_lane *ln;
	if (lane != SIZE_MAX)
		return lane;
	if (t->num_lanes >= CID_TL_MAX_LANES)
		return SIZE_MAX;
	/* keep the index at most half full */
	if ((t->num_lanes + 1) * 2 > t->lane_index_cap) {
		size_t ncap = t->lane_index_cap ? t->lane_index_cap * 2 : 64;
		size_t *ni = malloc(ncap * sizeof(*ni));
		if (!ni) {
			L->oom = true;
			return SIZE_MAX;
		}
		for (size_t i = 0; i < ncap; i++)
			ni[i] = SIZE_MAX;
		free(t->lane_index);
		t->lane_index = ni;
		t->lane_index_cap = ncap;
		for (size_t i = 0; i < t->num_lanes; i++)
			index_put(t, i);
	}
	if (!grow((void **)&t->lanes, &t->cap_lanes, t->num_lanes + 1, sizeof(*t->lanes))) {
		L->oom = true;
		return SIZE_MAX;
	}
	ln = &t->lanes[t->num_lanes];
	memset(ln, 0, sizeof(*ln));
	if (!str_dup(&ln->key, p, n)) {
		L->oom = true;
		return SIZE_MAX;
	}
	ln->kind = lane_kind(p, n);
	ln->first_us = INT64_MAX;
	index_put(t, t->num_lanes);
	return t->num_lanes++;
}

/*
 * Adds a copy of *it (taking its strings) to the lane named key. The item
 * is dropped (strings freed, counted) outside the window or past a cap.
 */
static void add_item(struct loader *L, struct cid_tl_item *it, const char *key, size_t key_len)
{
	struct cid_timeline *t = L->t;
	size_t lane;
	struct cid_tl_lane *ln;
	if (!in_window(t, it->time_us)) {
		item_free(it);
		return;
	}
	if (t->num_items >= L->max_items ||
	    (lane = lane_get(L, key, key_len)) == SIZE_MAX ||
	    !grow((void **)&t->items, &t->cap_items, t->num_items + 1, sizeof(*t->items))) {
		t->num_dropped++;
		item_free(it);
		return;
	}
	it->lane = lane;
	it->lane2 = SIZE_MAX;
	it->seq = t->num_items;
	t->items[t->num_items++] = *it;
	ln = &t->lanes[lane];
	ln->num_items++;
	if (it->time_us < ln->first_us)
		ln->first_us = it->time_us;
	switch (it->type) {
	case CID_TL_EVENT:
		ln->num_events++;
		if (str_eq(&it->verdict, "attributed"))
			ln->num_attributed++;
		if (it->error_code.p && it->error_code.n)
			ln->num_errors++;
		break;
	case CID_TL_FLOW_OPEN: ln->num_flows++; break;
	case CID_TL_REQUEST: ln->num_requests++; break;
	default: break;
	}
}

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
	if (!grow((void **)&L->addrs, cap, L->num_addrs + 1, sizeof(*L->addrs))) {
		L->oom = true;
		return;
	}
	L->addrs[L->num_addrs++] = (struct pod_addr){ip, n, pod};
}

static void load_pods(struct loader *L)
{
	bool v2 = has_column(L, "pod", "pod_ips") && has_column(L, "pod", "phase");
	sqlite3_stmt *st;
	size_t cap = 0, acap = 0;
	int rc;
	if (!L->have_pod)
		return;
	st = prep(L, v2 ? "SELECT snapshot_us, namespace, name, uid, host_network, pod_ip, pod_ips,"
			  " host_ip, node, phase, owner_kind || '/' || owner_name, service_account"
			  " FROM pod ORDER BY snapshot_us, rowid"
			: "SELECT snapshot_us, namespace, name, uid, host_network, pod_ip, NULL,"
			  " host_ip, node, NULL, owner_kind || '/' || owner_name, service_account"
			  " FROM pod ORDER BY snapshot_us, rowid");
	if (!st)
		return;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && L->num_pods < MAX_PODS) {
		struct pod *p;
		if (!grow((void **)&L->pods, &cap, L->num_pods + 1, sizeof(*L->pods))) {
			L->oom = true;
			break;
		}
		p = &L->pods[L->num_pods++];
		memset(p, 0, sizeof(*p));
		p->snapshot_us = col_i64(st, 0);
		col(L, &p->ns, st, 1);
		col(L, &p->name, st, 2);
		col(L, &p->uid, st, 3);
		p->host_network = col_i64(st, 4) != 0;
		col(L, &p->ip, st, 5);
		col(L, &p->ips, st, 6);
		col(L, &p->host_ip, st, 7);
		col(L, &p->node, st, 8);
		col(L, &p->phase, st, 9);
		col(L, &p->controller, st, 10);
		col(L, &p->sa, st, 11);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_err(L, "pods");
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
	    !grow((void **)&L->claims, &L->cap_claims, L->num_claims + 1, sizeof(*L->claims)))
		return;
	c = &L->claims[L->num_claims];
	memset(c, 0, sizeof(*c));
	c->request_id = request_id;
	if ((event_id->p && !str_dup(&c->event_id, event_id->p, event_id->n)) ||
	    (verdict->p && !str_dup(&c->verdict, verdict->p, verdict->n)) ||
	    !str_dup(&c->lane_key, key, key_len)) {
		L->oom = true;
		str_free(&c->event_id);
		str_free(&c->verdict);
		return;
	}
	L->num_claims++;
}

static int cmp_claim(const void *a, const void *b)
{
	const struct claim *x = a, *y = b;
	bool ax = str_eq(&x->verdict, "attributed"), ay = str_eq(&y->verdict, "attributed");
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

static void load_events(struct loader *L)
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
	sqlite3_stmt *st = prep(L, L->have_attr ? with_attr : without_attr);
	int rc;
	if (!st)
		return;
	bind_window(L, st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !L->oom) {
		struct cid_tl_item ev = {0}, m = {0};
		struct cid_tl_str owner;
		const char *key = UNATTRIBUTED;
		size_t key_len = strlen(UNATTRIBUTED);
		ev.type = CID_TL_EVENT;
		col(L, &ev.event_id, st, 0);
		ev.time_us = col_i64(st, 1);
		col(L, &ev.name, st, 2);
		col(L, &ev.source, st, 3);
		col(L, &ev.error_code, st, 4);
		col(L, &ev.error_message, st, 5);
		col(L, &ev.source_ip, st, 6);
		col(L, &ev.user_agent, st, 7);
		col(L, &ev.arn, st, 8);
		col(L, &ev.verdict, st, 9);
		ev.has_confidence = sqlite3_column_type(st, 10) != SQLITE_NULL;
		ev.confidence = sqlite3_column_double(st, 10);
		col(L, &owner, st, 11);
		ev.flow_id = col_i64(st, 12);
		ev.request_id = col_i64(st, 13);
		ev.other_us = col_i64(st, 14);
		ev.has_skew = sqlite3_column_type(st, 15) != SQLITE_NULL;
		ev.skew_us = col_i64(st, 15);
		col(L, &ev.reasons, st, 16);
		if (str_eq(&ev.verdict, "attributed") && owner.p && owner.n) {
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
			if ((ev.event_id.p && !str_dup(&m.event_id, ev.event_id.p, ev.event_id.n)) ||
			    (ev.name.p && !str_dup(&m.name, ev.name.p, ev.name.n)) ||
			    (ev.verdict.p && !str_dup(&m.verdict, ev.verdict.p, ev.verdict.n)))
				L->oom = true;
			add_item(L, &m, key, key_len);
		}
		add_item(L, &ev, key, key_len);
		str_free(&owner);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_err(L, "events");
	sqlite3_finalize(st);
	if (L->num_claims)
		qsort(L->claims, L->num_claims, sizeof(*L->claims), cmp_claim);
}

/* ---- flows ------------------------------------------------------------------ */

/* Writes the lane key of a flow into b (DESIGN, correlation step 3, and
 * the order in timeline.h). */
static void flow_key(struct loader *L, struct cid_buf *b, int64_t flow_id,
		     const struct cid_tl_str *client_ip, int64_t first_us)
{
	const struct pod *p;
	cid_buf_reset(b);
	/* an attributed event on this flow or on a flow NAT-linked to it */
	if (L->q_attr_flow) {
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
	if (b.oom || !str_dup(s, cid_buf_str(&b), b.len))
		L->oom = true;
	cid_buf_cleanup(&b);
}

static void load_flows(struct loader *L)
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
	if (!has_table(L, "flow"))
		return;
	st = prep(L, L->have_tls ? with_tls : no_tls);
	if (!st)
		return;
	bind_window(L, st);
	cid_buf_init(&key, 64 * 1024);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !L->oom) {
		struct cid_tl_item o = {0}, c = {0};
		struct cid_tl_str client_ip;
		struct flow_lane *fl;
		int64_t id = sqlite3_column_int64(st, 0);
		o.type = CID_TL_FLOW_OPEN;
		o.flow_id = id;
		o.time_us = col_i64(st, 1);
		o.other_us = col_i64(st, 2);
		col(L, &client_ip, st, 3);
		endpoint(L, &o.client, st, 3, 4);
		endpoint(L, &o.server, st, 5, 6);
		col(L, &o.end_reason, st, 7);
		o.c2s_pkts = col_i64(st, 8);
		o.c2s_bytes = col_i64(st, 9);
		o.s2c_pkts = col_i64(st, 10);
		o.s2c_bytes = col_i64(st, 11);
		col(L, &o.sni, st, 12);
		col(L, &o.tls_version, st, 13);
		col(L, &o.cipher, st, 14);
		col(L, &o.alpn, st, 15);
		flow_key(L, &key, id, &client_ip, o.time_us);
		str_free(&client_ip);
		if (key.oom || key.capped) {
			L->oom = L->oom || key.oom;
			item_free(&o);
			continue;
		}
		if (grow((void **)&L->flows, &L->cap_flows, L->num_flows + 1, sizeof(*L->flows))) {
			fl = &L->flows[L->num_flows];
			fl->id = id;
			if (str_dup(&fl->key, key.p, key.len))
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
			if ((o.client.p && !str_dup(&c.client, o.client.p, o.client.n)) ||
			    (o.server.p && !str_dup(&c.server, o.server.p, o.server.n)) ||
			    (o.end_reason.p && !str_dup(&c.end_reason, o.end_reason.p, o.end_reason.n)))
				L->oom = true;
			add_item(L, &o, key.p, key.len);
			add_item(L, &c, key.p, key.len);
		} else {
			add_item(L, &o, key.p, key.len);
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE && !L->oom)
		db_err(L, "flows");
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

static void load_requests(struct loader *L)
{
	sqlite3_stmt *st;
	int rc;
	if (!has_table(L, "request"))
		return;
	st = prep(L, "SELECT id, flow_id, ts_us, answer_us, c2s_bytes, s2c_bytes FROM request"
		     " WHERE (?1 IS NULL OR ts_us >= ?1) AND (?2 IS NULL OR ts_us <= ?2)"
		     " ORDER BY ts_us, id");
	if (!st)
		return;
	bind_window(L, st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !L->oom) {
		struct cid_tl_item r = {0};
		const struct claim *c;
		const struct flow_lane *fl;
		const char *key = "host:?";
		size_t key_len = 6;
		r.type = CID_TL_REQUEST;
		r.request_id = sqlite3_column_int64(st, 0);
		r.flow_id = col_i64(st, 1);
		r.time_us = col_i64(st, 2);
		r.other_us = col_i64(st, 3);
		r.c2s_bytes = col_i64(st, 4);
		r.s2c_bytes = col_i64(st, 5);
		if ((fl = flow_find(L, r.flow_id)) != NULL) {
			key = fl->key.p;
			key_len = fl->key.n;
		}
		if ((c = claim_find(L, r.request_id)) != NULL) {
			if ((c->event_id.p && !str_dup(&r.event_id, c->event_id.p, c->event_id.n)) ||
			    (c->verdict.p && !str_dup(&r.verdict, c->verdict.p, c->verdict.n)))
				L->oom = true;
			/* an attributed burst sits with its owner */
			if (str_eq(&c->verdict, "attributed")) {
				key = c->lane_key.p;
				key_len = c->lane_key.n;
			}
		}
		add_item(L, &r, key, key_len);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE && !L->oom)
		db_err(L, "requests");
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
static void load_imds(struct loader *L)
{
	sqlite3_stmt *st;
	struct cid_buf key;
	int rc;
	if (!has_table(L, "http") || !has_column(L, "http", "imdsv") || !has_table(L, "flow"))
		return;
	st = prep(L, "SELECT h.flow_id, h.ts_us, h.answer_us, f.client_ip, f.client_port, f.server_ip,"
		     " f.server_port, h.method, h.path, h.user_agent, h.imds_kind, h.role_name, h.imdsv,"
		     " h.imds_token, h.status, h.parse_error"
		     " FROM http h LEFT JOIN flow f ON f.id = h.flow_id"
		     " WHERE (h.imdsv IS NOT NULL OR h.parse_error IS NOT NULL)"
		     " AND (?1 IS NULL OR h.ts_us >= ?1) AND (?2 IS NULL OR h.ts_us <= ?2)"
		     " ORDER BY h.ts_us, h.rowid");
	if (!st)
		return;
	bind_window(L, st);
	cid_buf_init(&key, 4096);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !L->oom) {
		struct cid_tl_item r = {0};
		struct cid_tl_str ip = {0};
		r.type = CID_TL_IMDS;
		r.flow_id = col_i64(st, 0);
		r.time_us = col_i64(st, 1);
		r.other_us = col_i64(st, 2);
		endpoint(L, &r.client, st, 3, 4);
		endpoint(L, &r.server, st, 5, 6);
		col(L, &r.method, st, 7);
		col(L, &r.path, st, 8);
		col(L, &r.user_agent, st, 9);
		col(L, &r.imds_kind, st, 10);
		col(L, &r.role, st, 11);
		r.imdsv = col_i64(st, 12);
		r.imds_token = col_i64(st, 13) != 0;
		r.has_status = sqlite3_column_type(st, 14) != SQLITE_NULL;
		r.status = col_i64(st, 14);
		col(L, &r.error_message, st, 15);
		col(L, &ip, st, 3);
		evidence_key(L, &key, r.flow_id, &ip, r.time_us);
		str_free(&ip);
		if (key.oom)
			L->oom = true;
		add_item(L, &r, cid_buf_str(&key), key.len);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE && !L->oom)
		db_err(L, "imds");
	sqlite3_finalize(st);
	cid_buf_cleanup(&key);
}

/* DNS lookups: each answer, and each query that got none in the capture. */
static void load_dns(struct loader *L)
{
	sqlite3_stmt *st;
	struct cid_buf key;
	int rc;
	if (!has_table(L, "dns") || !has_column(L, "dns", "response"))
		return;
	st = prep(L, "SELECT d.flow_id, d.ts_us, d.client_ip, d.client_port, d.server_ip, d.server_port,"
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
	bind_window(L, st);
	cid_buf_init(&key, 4096);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !L->oom) {
		struct cid_tl_item r = {0};
		struct cid_tl_str ip = {0};
		r.type = CID_TL_DNS;
		r.flow_id = col_i64(st, 0);
		r.time_us = col_i64(st, 1);
		endpoint(L, &r.client, st, 2, 3);
		endpoint(L, &r.server, st, 4, 5);
		col(L, &r.qname, st, 6);
		r.qtype = col_i64(st, 7);
		r.has_status = sqlite3_column_type(st, 8) != SQLITE_NULL;
		r.rcode = col_i64(st, 8);
		col(L, &r.error_message, st, 9);
		col(L, &r.answers, st, 10);
		col(L, &ip, st, 2);
		evidence_key(L, &key, r.flow_id, &ip, r.time_us);
		str_free(&ip);
		if (key.oom)
			L->oom = true;
		add_item(L, &r, cid_buf_str(&key), key.len);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE && !L->oom)
		db_err(L, "dns");
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
		if (from[i]->p && !str_dup(to[i], from[i]->p, from[i]->n))
			L->oom = true;
	add_item(L, &s, key, key_len);
}

/* A pod's snapshot rows go to its lane; a hostNetwork pod's to the lane of
 * its node address (it is one of the host's candidates). Only lanes that
 * hold other items get snapshots. */
static void add_snapshots(struct loader *L)
{
	struct cid_buf key;
	cid_buf_init(&key, 64 * 1024);
	for (size_t i = 0; i < L->num_pods && !L->oom; i++) {
		const struct pod *p = &L->pods[i];
		if (!in_window(L->t, p->snapshot_us))
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
		if (!key.capped && !key.oom && lane_find(L->t, key.p, key.len) != SIZE_MAX)
			snapshot_item(L, p, key.p, key.len);
	}
	cid_buf_cleanup(&key);
}

/* ---- ordering ------------------------------------------------------------------ */

static int cmp_lane(const void *a, const void *b)
{
	const struct cid_tl_lane *x = a, *y = b;
	bool ux = !strcmp(x->kind, UNATTRIBUTED), uy = !strcmp(y->kind, UNATTRIBUTED);
	size_t n;
	int c;
	if (ux != uy)
		return ux ? 1 : -1;
	if (x->first_us != y->first_us)
		return x->first_us < y->first_us ? -1 : 1;
	n = x->key.n < y->key.n ? x->key.n : y->key.n;
	c = memcmp(x->key.p, y->key.p, n);
	if (c)
		return c;
	return x->key.n < y->key.n ? -1 : x->key.n > y->key.n;
}

static int cmp_item(const void *a, const void *b)
{
	const struct cid_tl_item *x = a, *y = b;
	if (x->lane != y->lane)
		return x->lane < y->lane ? -1 : 1;
	if (x->time_us != y->time_us)
		return x->time_us < y->time_us ? -1 : 1;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct req_lane {
	int64_t request_id;
	size_t lane;
};

static int cmp_req_lane(const void *a, const void *b)
{
	const struct req_lane *x = a, *y = b;
	return x->request_id < y->request_id ? -1 : x->request_id > y->request_id;
}

/* Sorts lanes and items, resolves each match's burst lane, computes the
 * time range. */
static void finish(struct loader *L)
{
	struct cid_timeline *t = L->t;
	size_t *old_to_new = NULL;
	struct req_lane *rl = NULL;
	size_t num_rl = 0;
	if (t->num_lanes) {
		/* sort lanes remembering where each went: the key copy in the
		 * index is by position, so the index is rebuilt after */
		struct cid_tl_lane *tmp = malloc(t->num_lanes * sizeof(*tmp));
		old_to_new = malloc(t->num_lanes * sizeof(*old_to_new));
		if (!tmp || !old_to_new) {
			free(tmp);
			L->oom = true;
			goto out;
		}
		for (size_t i = 0; i < t->num_lanes; i++) {
			tmp[i] = t->lanes[i];
			tmp[i].num_items = i; /* carry the old index through the sort */
		}
		qsort(tmp, t->num_lanes, sizeof(*tmp), cmp_lane);
		for (size_t i = 0; i < t->num_lanes; i++) {
			old_to_new[tmp[i].num_items] = i;
			tmp[i].num_items = t->lanes[tmp[i].num_items].num_items;
		}
		memcpy(t->lanes, tmp, t->num_lanes * sizeof(*tmp));
		free(tmp);
		for (size_t i = 0; i < t->lane_index_cap; i++)
			t->lane_index[i] = SIZE_MAX;
		for (size_t i = 0; i < t->num_lanes; i++)
			index_put(t, i);
		for (size_t i = 0; i < t->num_items; i++)
			t->items[i].lane = old_to_new[t->items[i].lane];
	}
	if (t->num_items)
		qsort(t->items, t->num_items, sizeof(*t->items), cmp_item);
	/* each match's burst lane */
	for (size_t i = 0; i < t->num_items; i++)
		if (t->items[i].type == CID_TL_REQUEST)
			num_rl++;
	if (num_rl) {
		rl = malloc(num_rl * sizeof(*rl));
		if (!rl) {
			L->oom = true;
			goto out;
		}
		num_rl = 0;
		for (size_t i = 0; i < t->num_items; i++)
			if (t->items[i].type == CID_TL_REQUEST)
				rl[num_rl++] = (struct req_lane){t->items[i].request_id, t->items[i].lane};
		qsort(rl, num_rl, sizeof(*rl), cmp_req_lane);
	}
	t->first_us = INT64_MAX;
	t->last_us = INT64_MIN;
	for (size_t i = 0; i < t->num_items; i++) {
		struct cid_tl_item *it = &t->items[i];
		int64_t ts[2] = {it->time_us, 0};
		if (it->type == CID_TL_MATCH) {
			struct req_lane key = {it->request_id, 0}, *f = NULL;
			if (rl && it->request_id)
				f = bsearch(&key, rl, num_rl, sizeof(*rl), cmp_req_lane);
			it->lane2 = f ? f->lane : SIZE_MAX;
			ts[1] = it->other_us;
		}
		for (int k = 0; k < 2; k++) {
			if (!ts[k] || (k == 1 && !in_window(t, ts[k])))
				continue;
			if (ts[k] < t->first_us)
				t->first_us = ts[k];
			if (ts[k] > t->last_us)
				t->last_us = ts[k];
		}
	}
	if (!t->num_items)
		t->first_us = t->last_us = 0;
out:
	free(old_to_new);
	free(rl);
}

static void loader_cleanup(struct loader *L)
{
	for (size_t i = 0; i < L->num_pods; i++) {
		struct pod *p = &L->pods[i];
		struct cid_tl_str *all[] = {&p->ns, &p->name, &p->uid, &p->ip, &p->ips,
					    &p->host_ip, &p->node, &p->phase, &p->controller, &p->sa};
		for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
			str_free(all[k]);
	}
	for (size_t i = 0; i < L->num_claims; i++) {
		str_free(&L->claims[i].event_id);
		str_free(&L->claims[i].verdict);
		str_free(&L->claims[i].lane_key);
	}
	for (size_t i = 0; i < L->num_flows; i++)
		str_free(&L->flows[i].key);
	free(L->pods);
	free(L->addrs);
	free(L->claims);
	free(L->flows);
	sqlite3_finalize(L->q_attr_flow);
	sqlite3_finalize(L->q_owner);
	sqlite3_finalize(L->q_nat_inner);
}

struct cid_timeline *cid_timeline_load(sqlite3 *db, const struct cid_tl_opts *o, char *err,
				       size_t err_len)
{
	struct loader L = {0};
	struct cid_tl_opts none = {0};
	if (!o)
		o = &none;
	L.db = db;
	L.err = err;
	L.err_len = err_len;
	L.max_items = o->max_items ? o->max_items : CID_TL_MAX_ITEMS_DEFAULT;
	L.t = calloc(1, sizeof(*L.t));
	if (!L.t) {
		snprintf(err, err_len, "timeline: out of memory");
		return NULL;
	}
	L.t->has_since = o->has_since;
	L.t->since_us = o->since_us;
	L.t->has_until = o->has_until;
	L.t->until_us = o->until_us;

	L.have_attr = has_table(&L, "attribution");
	L.have_nat = has_table(&L, "nat_link");
	L.have_owner = has_table(&L, "owner");
	L.have_pod = has_table(&L, "pod");
	L.have_tls = has_table(&L, "tls");
	if (L.have_attr)
		L.q_attr_flow = prep(
			&L, L.have_nat
				? "SELECT owner_key FROM attribution WHERE verdict = 'attributed'"
				  " AND owner_key IS NOT NULL AND (flow_id = ?1"
				  " OR flow_id IN (SELECT outer_flow_id FROM nat_link WHERE inner_flow_id = ?1)"
				  " OR flow_id IN (SELECT inner_flow_id FROM nat_link WHERE outer_flow_id = ?1))"
				  " GROUP BY owner_key ORDER BY count(*) DESC, owner_key LIMIT 1"
				: "SELECT owner_key FROM attribution WHERE verdict = 'attributed'"
				  " AND owner_key IS NOT NULL AND flow_id = ?1"
				  " GROUP BY owner_key ORDER BY count(*) DESC, owner_key LIMIT 1");
	if (L.have_owner)
		L.q_owner = prep(&L, "SELECT pid, comm, pod_uid FROM owner WHERE flow_id = ?1"
				     " ORDER BY seen_us, rowid LIMIT 1");
	if (L.have_nat && has_table(&L, "flow"))
		L.q_nat_inner = prep(&L, "SELECT f.client_ip FROM nat_link n"
					 " JOIN flow f ON f.id = n.inner_flow_id"
					 " WHERE n.outer_flow_id = ?1 ORDER BY f.id");
	if (!L.failed)
		load_pods(&L);
	if (!L.failed && !L.oom && has_table(&L, "event"))
		load_events(&L);
	if (!L.failed && !L.oom)
		load_flows(&L);
	if (!L.failed && !L.oom)
		load_requests(&L);
	if (!L.failed && !L.oom)
		load_imds(&L);
	if (!L.failed && !L.oom)
		load_dns(&L);
	if (!L.failed && !L.oom)
		add_snapshots(&L);
	if (!L.failed && !L.oom)
		finish(&L);
	loader_cleanup(&L);
	if (L.oom && !L.failed)
		snprintf(err, err_len, "timeline: out of memory");
	if (L.oom || L.failed) {
		cid_timeline_free(L.t);
		return NULL;
	}
	return L.t;
}

