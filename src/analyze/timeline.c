/*
 * timeline.c - `callerid timeline`: the loader (store -> lanes and items).
 * Here: the entry points, strings, lanes, ordering and the order of work;
 * the per-table loaders are timeline_load.c, what both share
 * timeline_int.h. The text and JSON-lines writers are timeline_text.c,
 * HTML timeline_html.c.
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
#include "timeline_int.h"

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

void cid_tl_str_free(struct cid_tl_str *s)
{
	free(s->p);
	s->p = NULL;
	s->n = 0;
}

bool cid_tl_str_dup(struct cid_tl_str *d, const char *p, size_t n)
{
	d->p = malloc(n + 1);
	d->n = d->p ? n : 0;
	if (!d->p)
		return false;
	memcpy(d->p, p, n);
	d->p[n] = '\0';
	return true;
}

bool cid_tl_str_eq(const struct cid_tl_str *s, const char *z)
{
	return s->p && s->n == strlen(z) && !memcmp(s->p, z, s->n);
}

void cid_tl_item_free(struct cid_tl_item *it)
{
	struct cid_tl_str *all[] = {
		&it->event_id, &it->name, &it->source, &it->error_code, &it->error_message,
		&it->source_ip, &it->user_agent, &it->arn, &it->verdict, &it->reasons,
		&it->client, &it->server, &it->sni, &it->tls_version, &it->cipher, &it->alpn,
		&it->end_reason, &it->pod_ns, &it->pod_name, &it->pod_uid, &it->pod_ip, &it->node,
		&it->host_ip, &it->phase, &it->controller, &it->service_account,
		&it->method, &it->path, &it->imds_kind, &it->role, &it->qname, &it->answers};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		cid_tl_str_free(all[i]);
}

void cid_timeline_free(struct cid_timeline *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->num_items; i++)
		cid_tl_item_free(&t->items[i]);
	for (size_t i = 0; i < t->num_lanes; i++)
		cid_tl_str_free(&t->lanes[i].key);
	free(t->items);
	free(t->lanes);
	free(t->lane_index);
	free(t);
}

/* ---- loader helpers (declared in timeline_int.h) ---------------------------- */

bool cid_tl_grow(void **p, size_t *cap, size_t need, size_t elem)
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

void cid_tl_db_err(struct loader *L, const char *what)
{
	if (!L->failed)
		snprintf(L->err, L->err_len, "timeline: %s: %s", what, sqlite3_errmsg(L->db));
	L->failed = true;
}

sqlite3_stmt *cid_tl_prep(struct loader *L, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(L->db, sql, -1, &st, NULL) != SQLITE_OK) {
		cid_tl_db_err(L, "query");
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/* Binds the window to ?1 (since) and ?2 (until); unbound means NULL. */
void cid_tl_bind_window(struct loader *L, sqlite3_stmt *st)
{
	if (L->t->has_since)
		sqlite3_bind_int64(st, 1, L->t->since_us);
	if (L->t->has_until)
		sqlite3_bind_int64(st, 2, L->t->until_us);
}

bool cid_tl_in_window(const struct cid_timeline *t, int64_t us)
{
	return (!t->has_since || us >= t->since_us) && (!t->has_until || us <= t->until_us);
}

bool cid_tl_has_table(struct loader *L, const char *name)
{
	sqlite3_stmt *st = cid_tl_prep(L, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
	bool yes;
	if (!st)
		return false;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

bool cid_tl_has_column(struct loader *L, const char *table, const char *col)
{
	sqlite3_stmt *st = cid_tl_prep(L, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
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
void cid_tl_col(struct loader *L, struct cid_tl_str *s, sqlite3_stmt *st, int i)
{
	const unsigned char *v;
	int n;
	s->p = NULL;
	s->n = 0;
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return;
	v = sqlite3_column_text(st, i);
	n = sqlite3_column_bytes(st, i);
	if (!v || n < 0 || !cid_tl_str_dup(s, (const char *)v, (size_t)n))
		L->oom = true;
}

int64_t cid_tl_col_i64(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

/* ---- lanes ------------------------------------------------------------------ */

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
	size_t i = (size_t)cid_fnv1a(CID_FNV1A_INIT, k->p, k->n) & mask;
	while (t->lane_index[i] != SIZE_MAX)
		i = (i + 1) & mask;
	t->lane_index[i] = lane;
	return true;
}

/* Finds the lane with this key; SIZE_MAX when there is none. */
size_t cid_tl_lane_find(const struct cid_timeline *t, const char *p, size_t n)
{
	size_t mask, i;
	if (!t->lane_index_cap)
		return SIZE_MAX;
	mask = t->lane_index_cap - 1;
	i = (size_t)cid_fnv1a(CID_FNV1A_INIT, p, n) & mask;
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
	size_t lane = cid_tl_lane_find(t, p, n);
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
	if (!cid_tl_grow((void **)&t->lanes, &t->cap_lanes, t->num_lanes + 1, sizeof(*t->lanes))) {
		L->oom = true;
		return SIZE_MAX;
	}
	ln = &t->lanes[t->num_lanes];
	memset(ln, 0, sizeof(*ln));
	if (!cid_tl_str_dup(&ln->key, p, n)) {
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
void cid_tl_add_item(struct loader *L, struct cid_tl_item *it, const char *key, size_t key_len)
{
	struct cid_timeline *t = L->t;
	size_t lane;
	struct cid_tl_lane *ln;
	if (!cid_tl_in_window(t, it->time_us)) {
		cid_tl_item_free(it);
		return;
	}
	if (t->num_items >= L->max_items ||
	    (lane = lane_get(L, key, key_len)) == SIZE_MAX ||
	    !cid_tl_grow((void **)&t->items, &t->cap_items, t->num_items + 1, sizeof(*t->items))) {
		t->num_dropped++;
		cid_tl_item_free(it);
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
		if (cid_tl_str_eq(&it->verdict, "attributed"))
			ln->num_attributed++;
		if (it->error_code.p && it->error_code.n)
			ln->num_errors++;
		break;
	case CID_TL_FLOW_OPEN: ln->num_flows++; break;
	case CID_TL_REQUEST: ln->num_requests++; break;
	default: break;
	}
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
			if (!ts[k] || (k == 1 && !cid_tl_in_window(t, ts[k])))
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
			cid_tl_str_free(all[k]);
	}
	for (size_t i = 0; i < L->num_claims; i++) {
		cid_tl_str_free(&L->claims[i].event_id);
		cid_tl_str_free(&L->claims[i].verdict);
		cid_tl_str_free(&L->claims[i].lane_key);
	}
	for (size_t i = 0; i < L->num_flows; i++)
		cid_tl_str_free(&L->flows[i].key);
	free(L->pods);
	free(L->addrs);
	free(L->claims);
	free(L->flows);
	free(L->attr_ids);
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

	L.have_attr = cid_tl_has_table(&L, "attribution");
	L.have_nat = cid_tl_has_table(&L, "nat_link");
	L.have_owner = cid_tl_has_table(&L, "owner");
	L.have_pod = cid_tl_has_table(&L, "pod");
	L.have_tls = cid_tl_has_table(&L, "tls");
	if (L.have_attr)
		L.q_attr_flow = cid_tl_prep(
			&L, L.have_nat
				? "SELECT owner_key FROM attribution WHERE verdict = 'attributed'"
				  " AND owner_key IS NOT NULL AND (flow_id = ?1"
				  " OR flow_id IN (SELECT outer_flow_id FROM nat_link WHERE inner_flow_id = ?1)"
				  " OR flow_id IN (SELECT inner_flow_id FROM nat_link WHERE outer_flow_id = ?1))"
				  " GROUP BY owner_key ORDER BY count(*) DESC, owner_key LIMIT 1"
				: "SELECT owner_key FROM attribution WHERE verdict = 'attributed'"
				  " AND owner_key IS NOT NULL AND flow_id = ?1"
				  " GROUP BY owner_key ORDER BY count(*) DESC, owner_key LIMIT 1");
	if (L.q_attr_flow)
		cid_tl_load_attr_ids(&L);
	if (L.have_owner)
		L.q_owner = cid_tl_prep(&L, "SELECT pid, comm, pod_uid FROM owner WHERE flow_id = ?1"
				     " ORDER BY seen_us, rowid LIMIT 1");
	if (L.have_nat && cid_tl_has_table(&L, "flow"))
		L.q_nat_inner = cid_tl_prep(&L, "SELECT f.client_ip FROM nat_link n"
					 " JOIN flow f ON f.id = n.inner_flow_id"
					 " WHERE n.outer_flow_id = ?1 ORDER BY f.id");
	if (!L.failed)
		cid_tl_load_pods(&L);
	if (!L.failed && !L.oom && cid_tl_has_table(&L, "event"))
		cid_tl_load_events(&L);
	if (!L.failed && !L.oom)
		cid_tl_load_flows(&L);
	if (!L.failed && !L.oom)
		cid_tl_load_requests(&L);
	if (!L.failed && !L.oom)
		cid_tl_load_imds(&L);
	if (!L.failed && !L.oom)
		cid_tl_load_dns(&L);
	if (!L.failed && !L.oom)
		cid_tl_add_snapshots(&L);
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

