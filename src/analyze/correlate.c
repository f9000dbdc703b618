/*
 * correlate.c - events to request bursts, one to one (see correlate.h).
 *
 * Cost: sorting plus, per event, a binary search into the bursts and a walk
 * over its time window: O((E + B) log B + candidates).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "callerid/correlate.h"

#define US 1000000LL
#define ALIKE 1.0      /* scores closer than this cannot separate owners */

const char *cid_verdict_name(enum cid_verdict v)
{
	switch (v) {
	case CID_ATTRIBUTED: return "attributed";
	case CID_AMBIGUOUS: return "ambiguous";
	case CID_UNMATCHED: return "unmatched";
	}
	return "?";
}

const char *cid_cor_excl_name(enum cid_cor_excl x)
{
	switch (x) {
	case CID_EXCL_NONE: return "candidate";
	case CID_EXCL_HOST: return "host header differs from SNI";
	case CID_EXCL_VERSION: return "TLS version differs";
	case CID_EXCL_CIPHER: return "cipher differs";
	case CID_EXCL_KEY_EXCHANGE: return "key exchange differs";
	case CID_EXCL_ADDRESS: return "client address differs from sourceIPAddress";
	case CID_EXCL__COUNT: break;
	}
	return "?";
}

void cid_cor_params_default(struct cid_cor_params *p)
{
	memset(p, 0, sizeof(*p));
	p->skew_us = 1 * US;
	p->auto_range_us = 300 * US;
}

bool cid_ip_is_private(const char *ip)
{
	struct cid_addr a;
	if (!ip || !cid_addr_parse(&a, ip))
		return false;
	if (a.family == 4) {
		uint8_t x = a.b[0], y = a.b[1];
		return x == 10 || x == 127 || (x == 172 && (y & 0xf0) == 16) || (x == 192 && y == 168) ||
		       (x == 169 && y == 254) || (x == 100 && (y & 0xc0) == 64);
	}
	return (a.b[0] & 0xfe) == 0xfc || (a.b[0] == 0xfe && (a.b[1] & 0xc0) == 0x80) ||
	       (!memcmp(a.b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15) && a.b[15] == 1);
}

/* CloudTrail writes "TLSv1.2"; some exports write "1.2". */
static bool version_eq(const char *ev, const char *fl)
{
	if (!strncmp(ev, "TLSv", 4))
		return !strcmp(ev, fl);
	return !strncmp(fl, "TLSv", 4) && !strcmp(ev, fl + 4);
}

unsigned cid_cor_evidence(const struct cid_cor_event *e, const struct cid_cor_burst *b)
{
	unsigned ev = 0;
	/* Fetching the node role's credentials says something only about calls
	 * made with the node role: a call with IRSA or a user's keys that
	 * happens to carry the same user agent (the same SDK) is no evidence
	 * for the owner that fetched node credentials. */
	if (!e->node_role)
		return 0;
	for (size_t i = 0; i < b->num_imds && b->imds; i++) {
		const struct cid_cor_imds *f = &b->imds[i];
		/* IAM role names are unique without regard to case */
		if (!f->role || strcasecmp(e->node_role, f->role))
			continue;
		if (!e->imdsv || e->imdsv == f->imdsv)
			ev |= CID_COR_EV_IMDS_ROLE;
		if (e->user_agent && f->user_agent && !strcmp(e->user_agent, f->user_agent))
			ev |= CID_COR_EV_IMDS_UA;
	}
	return ev;
}

bool cid_cor_node_role(const char *arn, const char *role_delivery, char *role, size_t role_len)
{
	const char *a = arn ? strstr(arn, ":assumed-role/") : NULL;
	const char *slash;
	if (!a || !role_len)
		return false;
	a += strlen(":assumed-role/");
	slash = strchr(a, '/');
	if (!slash || slash == a || (size_t)(slash - a) >= role_len)
		return false;
	if (!role_delivery && strncmp(slash + 1, "i-", 2))
		return false;
	memcpy(role, a, (size_t)(slash - a));
	role[slash - a] = '\0';
	return true;
}

/* Shared candidate test; slot_us is the start of the event's second on the
 * capture clock (eventTime + offset). */
static enum cid_cor_excl evaluate(const struct cid_cor_event *e, const struct cid_cor_burst *b, bool check_addr,
				  int64_t slot_us, double *score, unsigned *evidence)
{
	double s = 1.0;
	unsigned ev;
	int64_t t = b->answer_us ? b->answer_us : b->ts_us;
	if (e->host && b->sni) {
		if (strcasecmp(e->host, b->sni))
			return CID_EXCL_HOST;
		s += 0.5;
	}
	if (e->tls_version && b->tls_version) {
		if (!version_eq(e->tls_version, b->tls_version))
			return CID_EXCL_VERSION;
		s += 0.5;
	}
	if (e->cipher && b->cipher) {
		if (strcmp(e->cipher, b->cipher))
			return CID_EXCL_CIPHER;
		s += 0.5;
	}
	/* CloudTrail spells keyExchange as the group names (x25519,
	 * secp256r1, X25519MLKEM768); the case is not worth a mismatch */
	if (e->key_exchange && *e->key_exchange && b->group) {
		if (strcasecmp(e->key_exchange, b->group))
			return CID_EXCL_KEY_EXCHANGE;
		s += 0.5;
	}
	if (check_addr) {
		if (!e->source_ip || !b->client_ip || strcmp(e->source_ip, b->client_ip))
			return CID_EXCL_ADDRESS;
		s += 1.0;
	}
	if (!b->handshake)
		s -= 0.5;
	/* the call completed in the event's own second */
	if (t >= slot_us - CID_COR_SLOT_SLACK_US && t < slot_us + US + CID_COR_SLOT_SLACK_US)
		s += ALIKE;
	/* identity evidence, only for a burst that passed every test above:
	 * worth one tier each, so it separates owners, never overrides */
	ev = cid_cor_evidence(e, b);
	if (ev & CID_COR_EV_IMDS_ROLE)
		s += ALIKE;
	if (ev & CID_COR_EV_IMDS_UA)
		s += ALIKE;
	if (evidence)
		*evidence = ev;
	*score = s;
	return CID_EXCL_NONE;
}

/* First burst with ts >= t. */
static size_t lower_bound(const struct cid_cor_burst *b, size_t n, int64_t t)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b[mid].ts_us < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The client addresses of the bursts, each with the time of its first and
 * last burst, sorted by address. */
struct seen_ip {
	const char *ip;
	int64_t first_us, last_us;
};

struct seen_set {
	struct seen_ip *ips;
	size_t n;
};

static int cmp_seen(const void *a, const void *b)
{
	const struct seen_ip *x = a, *y = b;
	return strcmp(x->ip, y->ip);
}

/* Fills s from bursts b (sorted by time, so the first seen is the first);
 * false when out of memory. */
static bool seen_build(struct seen_set *s, const struct cid_cor_burst *b, size_t nb)
{
	size_t w = 0;
	s->n = 0;
	s->ips = malloc((nb ? nb : 1) * sizeof(*s->ips));
	if (!s->ips)
		return false;
	for (size_t i = 0; i < nb; i++)
		if (b[i].client_ip) {
			s->ips[s->n].ip = b[i].client_ip;
			s->ips[s->n].first_us = s->ips[s->n].last_us = b[i].ts_us;
			s->n++;
		}
	qsort(s->ips, s->n, sizeof(*s->ips), cmp_seen);
	for (size_t i = 0; i < s->n; i++) {
		if (w && !strcmp(s->ips[w - 1].ip, s->ips[i].ip)) {
			if (s->ips[i].first_us < s->ips[w - 1].first_us)
				s->ips[w - 1].first_us = s->ips[i].first_us;
			if (s->ips[i].last_us > s->ips[w - 1].last_us)
				s->ips[w - 1].last_us = s->ips[i].last_us;
		} else {
			s->ips[w++] = s->ips[i];
		}
	}
	s->n = w;
	return true;
}

static const struct seen_ip *seen_find(const struct seen_set *s, const char *ip)
{
	struct seen_ip key = {ip, 0, 0};
	return ip ? bsearch(&key, s->ips, s->n, sizeof(*s->ips), cmp_seen) : NULL;
}

static bool seen(const struct seen_set *s, const char *ip)
{
	return seen_find(s, ip) != NULL;
}

/* Whether the address test applies to this event (DESIGN step 1). */
static bool address_applies(const struct seen_set *s, const struct cid_cor_event *e)
{
	if (!e->source_ip)
		return false;
	return cid_ip_is_private(e->source_ip) || seen(s, e->source_ip);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The clock offset (capture - CloudTrail) that puts the most compatible
 * bursts inside the events' one-second windows. */
static int64_t estimate_offset(const struct cid_cor_event *ev, size_t ne, const struct cid_cor_burst *b, size_t nb,
			       const struct cid_cor_params *p, const struct seen_set *ss)
{
	int64_t *d = NULL;
	size_t nd = 0, cap = 0, best = 0;
	int64_t best_off = 0, width = 1 * US + 2 * (p->skew_us < US / 4 ? p->skew_us : US / 4);
	for (size_t i = 0; i < ne; i++) {
		size_t k = lower_bound(b, nb, ev[i].time_us - p->auto_range_us);
		bool addr = address_applies(ss, &ev[i]);
		unsigned taken = 0;
		for (; k < nb && b[k].ts_us <= ev[i].time_us + p->auto_range_us + US && taken < 64; k++) {
			double sc;
			if (evaluate(&ev[i], &b[k], addr, 0, &sc, NULL) != CID_EXCL_NONE)
				continue;
			if (nd == cap) {
				size_t nc = cap ? cap * 2 : 1024;
				int64_t *nd2 = realloc(d, nc * sizeof(*d));
				if (!nd2) {
					free(d);
					return 0;
				}
				d = nd2;
				cap = nc;
			}
			d[nd++] = b[k].ts_us - ev[i].time_us;
			taken++;
		}
	}
	if (!nd) {
		free(d);
		return 0;
	}
	qsort(d, nd, sizeof(*d), cmp_i64);
	/* widest-populated window of `width` over the sorted deltas; ties go
	 * to the offset nearest zero */
	for (size_t lo = 0, hi = 0; lo < nd; lo++) {
		int64_t off;
		while (hi < nd && d[hi] - d[lo] <= width)
			hi++;
		off = d[lo] - (width - US) / 2;
		if (hi - lo > best || (hi - lo == best && llabs(off) < llabs(best_off))) {
			best = hi - lo;
			best_off = off;
		}
	}
	free(d);
	return best_off;
}

struct cand {
	size_t burst;
	double score;
	unsigned evidence;  /* CID_COR_EV_* */
};

struct evstate {
	struct cand *c;   /* candidates, best score first */
	int n;
	size_t order;     /* event index */
};

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return (x->burst > y->burst) - (x->burst < y->burst);
}

struct order_key {
	int n;          /* candidates */
	int64_t time_us;
	size_t idx;
};

static int cmp_order(const void *a, const void *b)
{
	const struct order_key *x = a, *y = b;
	/* most constrained first, then by time */
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	if (x->time_us != y->time_us)
		return x->time_us < y->time_us ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

void cid_cor_explain(const struct cid_cor_event *e, const struct cid_cor_burst *bursts, size_t num_bursts,
		     const struct cid_cor_params *p, int64_t offset_us,
		     void (*fn)(void *ctx, size_t burst, enum cid_cor_excl why, double score), void *ctx)
{
	struct seen_set ss;
	int64_t lo = e->time_us + offset_us - p->skew_us, hi = e->time_us + offset_us + US + p->skew_us;
	bool addr;
	if (!seen_build(&ss, bursts, num_bursts))
		return;
	addr = address_applies(&ss, e);
	for (size_t k = lower_bound(bursts, num_bursts, lo); k < num_bursts && bursts[k].ts_us <= hi; k++) {
		double sc = 0;
		enum cid_cor_excl x = evaluate(e, &bursts[k], addr, e->time_us + offset_us, &sc, NULL);
		fn(ctx, k, x, x == CID_EXCL_NONE ? sc : 0);
	}
	free(ss.ips);
}

/* Decides event r from its candidates s against the bursts taken so far:
 * attributed (the burst taken) when the best available tier holds one
 * owner, ambiguous when it holds several, unmatched when every candidate
 * is taken. Returns false only for ambiguous. A retry (`again`) of an
 * ambiguous event attributes it, or narrows its owners to those whose
 * bursts are left; an event whose alike bursts all went to other events
 * stays ambiguous as it was. */
static bool assign(struct cid_cor_result *r, const struct evstate *s, const struct cid_cor_burst *b, bool *taken,
		   int64_t want, bool again)
{
	double best = 0, conf = 0.95;
	int first = -1, num_owners = 0, owners[CID_COR_MAX_OWNERS];
	long pick = -1;
	unsigned pick_ev = 0;
	int64_t pick_d = 0;
	const struct cid_cor_burst *bb;
	/* the best available score sets the tier */
	for (int c = 0; c < s->n; c++)
		if (!taken[s->c[c].burst]) {
			first = c;
			best = s->c[c].score;
			break;
		}
	if (first < 0) {
		if (again)
			return false;
		r->unmatched |= CID_UNM_TAKEN;
		return true;
	}
	for (int c = first; c < s->n && s->c[c].score > best - ALIKE; c++) {
		bool known = false;
		int64_t dist;
		bb = &b[s->c[c].burst];
		if (taken[s->c[c].burst])
			continue;
		for (int o = 0; o < num_owners; o++)
			known |= owners[o] == bb->owner;
		if (!known && num_owners < CID_COR_MAX_OWNERS)
			owners[num_owners++] = bb->owner;
		/* within one owner, the burst nearest the expected time */
		dist = llabs(bb->ts_us - want);
		if (pick < 0 || dist < pick_d) {
			pick = (long)s->c[c].burst;
			pick_ev = s->c[c].evidence;
			pick_d = dist;
		}
	}
	if (num_owners > 1) {
		/* still ambiguous; a retry narrows the owners to those left */
		r->score = best;
		r->num_owners = num_owners;
		memcpy(r->owners, owners, (size_t)num_owners * sizeof(*owners));
		r->verdict = CID_AMBIGUOUS;
		r->confidence = 0.9 / num_owners;
		return false;
	}
	bb = &b[pick];
	r->score = best;
	r->num_owners = 1;
	r->owners[0] = bb->owner;
	r->verdict = CID_ATTRIBUTED;
	r->burst = pick;
	r->evidence = pick_ev;
	r->by_elimination = again;
	taken[pick] = true;
	if (!r->address_checked)
		conf -= 0.15;
	if (!bb->handshake)
		conf -= 0.25;
	/* a weaker candidate with another owner still exists, or the others
	 * were ruled out only by other events' verdicts */
	for (int c = 0; c < s->n; c++)
		if (!taken[s->c[c].burst] && b[s->c[c].burst].owner != bb->owner) {
			conf -= 0.1;
			break;
		}
	if (again)
		conf -= 0.1;
	r->confidence = conf;
	return true;
}

/* Step 4 of cid_correlate over the events left ambiguous (defer, in
 * assignment order). Returns 0, or -CID_ENOMEM. */
static int eliminate(struct cid_cor_result *res, const struct evstate *st, const struct cid_cor_event *ev, size_t ne,
		     const struct order_key *defer, size_t num_deferred, const struct cid_cor_burst *b, size_t nb,
		     bool *taken, int64_t off)
{
	size_t *start = calloc(nb + 1, sizeof(*start)), *by_burst = NULL, *queue = NULL;
	bool *queued = calloc(ne ? ne : 1, sizeof(*queued));
	size_t total = 0, head = 0, len = 0;
	int rc = -CID_ENOMEM;
	if (!start || !queued)
		goto out;
	/* the deferred events of each burst (CSR: by_burst[start[k]..start[k+1])) */
	for (size_t d = 0; d < num_deferred; d++)
		for (int c = 0; c < st[defer[d].idx].n; c++)
			start[st[defer[d].idx].c[c].burst + 1]++;
	for (size_t k = 0; k < nb; k++)
		start[k + 1] += start[k];
	total = start[nb];
	by_burst = malloc((total ? total : 1) * sizeof(*by_burst));
	queue = malloc((num_deferred ? num_deferred : 1) * sizeof(*queue));
	if (!by_burst || !queue)
		goto out;
	for (size_t d = 0; d < num_deferred; d++)
		for (int c = 0; c < st[defer[d].idx].n; c++)
			by_burst[start[st[defer[d].idx].c[c].burst]++] = defer[d].idx;
	for (size_t k = nb; k > 0; k--) /* the fill moved each start to the next one's */
		start[k] = start[k - 1];
	start[0] = 0;
	for (size_t d = 0; d < num_deferred; d++) {
		queue[len++] = defer[d].idx;
		queued[defer[d].idx] = true;
	}
	/* each event is queued at most once at a time: a ring of num_deferred */
	while (len) {
		size_t i = queue[head];
		long p;
		head = (head + 1) % num_deferred;
		len--;
		queued[i] = false;
		if (res[i].verdict != CID_AMBIGUOUS ||
		    !assign(&res[i], &st[i], b, taken, ev[i].time_us + off + US / 2, true))
			continue;
		p = res[i].burst;
		for (size_t k = start[p]; k < start[p + 1]; k++) {
			size_t j = by_burst[k];
			if (res[j].verdict == CID_AMBIGUOUS && !queued[j]) {
				queue[(head + len) % num_deferred] = j;
				len++;
				queued[j] = true;
			}
		}
	}
	rc = 0;
out:
	free(start);
	free(by_burst);
	free(queue);
	free(queued);
	return rc;
}

int cid_correlate(struct cid_cor_result *res, int64_t *offset_used, const struct cid_cor_event *ev, size_t ne,
		  const struct cid_cor_burst *b, size_t nb, const struct cid_cor_params *p)
{
	struct seen_set ss = {NULL, 0};
	struct evstate *st = NULL;
	struct order_key *order = NULL;
	bool *taken = NULL;
	size_t num_deferred = 0;
	int64_t off, span_lo = nb ? b[0].ts_us : 0, span_hi = nb ? b[nb - 1].ts_us : 0;
	int rc = -CID_ENOMEM;

	st = calloc(ne ? ne : 1, sizeof(*st));
	order = malloc((ne ? ne : 1) * sizeof(*order));
	taken = calloc(nb ? nb : 1, sizeof(*taken));
	if (!seen_build(&ss, b, nb) || !st || !order || !taken)
		goto out;

	off = p->auto_offset ? estimate_offset(ev, ne, b, nb, p, &ss) : p->offset_us;
	*offset_used = off;

	/* 1. candidates */
	for (size_t i = 0; i < ne; i++) {
		struct cid_cor_result *r = &res[i];
		const struct cid_cor_event *e = &ev[i];
		int64_t lo = e->time_us + off - p->skew_us, hi = e->time_us + off + US + p->skew_us;
		size_t k = lower_bound(b, nb, lo);
		int cap = 0;
		memset(r, 0, sizeof(*r));
		r->burst = -1;
		r->address_checked = address_applies(&ss, e);
		if (r->address_checked && !seen(&ss, e->source_ip))
			r->unmatched |= CID_UNM_ADDRESS_UNSEEN;
		for (; k < nb && b[k].ts_us <= hi; k++) {
			double sc;
			unsigned evb = 0;
			enum cid_cor_excl x = evaluate(e, &b[k], r->address_checked, e->time_us + off, &sc, &evb);
			if (x != CID_EXCL_NONE) {
				r->excluded[x]++;
				continue;
			}
			if (st[i].n == cap) {
				int ncap = cap ? cap * 2 : 4;
				struct cand *nc;
				if (ncap > CID_COR_MAX_CANDS * 4)
					ncap = CID_COR_MAX_CANDS * 4;
				if (st[i].n >= ncap)
					continue; /* a very busy window: the rest are alike anyway */
				nc = realloc(st[i].c, (size_t)ncap * sizeof(*nc));
				if (!nc)
					goto out;
				st[i].c = nc;
				cap = ncap;
			}
			st[i].c[st[i].n].burst = k;
			st[i].c[st[i].n].score = sc;
			st[i].c[st[i].n].evidence = evb;
			st[i].n++;
		}
		r->num_cands = st[i].n;
		if (st[i].n > 1)
			qsort(st[i].c, (size_t)st[i].n, sizeof(*st[i].c), cmp_cand);
		if (!st[i].n) {
			bool any_excl = false;
			for (int x = 1; x < CID_EXCL__COUNT; x++)
				any_excl |= r->excluded[x] != 0;
			if (any_excl)
				r->unmatched |= CID_UNM_ALL_EXCLUDED;
			else
				r->unmatched |= CID_UNM_NO_BURST_IN_WINDOW;
			if (!nb || e->time_us + off + US + p->skew_us < span_lo || e->time_us + off - p->skew_us > span_hi) {
				r->unmatched |= CID_UNM_OUTSIDE_CAPTURE;
			} else if (r->address_checked) {
				/* inside the capture, outside what it saw of this address */
				const struct seen_ip *s = seen_find(&ss, e->source_ip);
				if (s && (e->time_us + off + US + p->skew_us < s->first_us ||
					  e->time_us + off - p->skew_us > s->last_us)) {
					r->unmatched |= CID_UNM_ADDRESS_OUTSIDE;
					r->addr_first_us = s->first_us;
					r->addr_last_us = s->last_us;
				}
			}
		}
	}

	/* 2-3. assignment, most constrained first */
	for (size_t i = 0; i < ne; i++) {
		order[i].n = st[i].n;
		order[i].time_us = ev[i].time_us;
		order[i].idx = i;
	}
	qsort(order, ne, sizeof(*order), cmp_order);
	for (size_t oi = 0; oi < ne; oi++) {
		size_t i = order[oi].idx;
		if (st[i].n && !assign(&res[i], &st[i], b, taken, ev[i].time_us + off + US / 2, false))
			order[num_deferred++] = order[oi]; /* ambiguous for now */
	}
	/* 4. by elimination: an ambiguous event whose alike candidates of all
	 * but one owner were taken by events decided after it is that owner's,
	 * which can settle others in turn. A worklist: each deferred event is
	 * tried once, then again only when a burst it could have was taken. */
	if (num_deferred && eliminate(res, st, ev, ne, order, num_deferred, b, nb, taken, off))
		goto out;
	rc = 0;
out:
	for (size_t i = 0; st && i < ne; i++)
		free(st[i].c);
	free(st);
	free(order);
	free(taken);
	free(ss.ips);
	return rc;
}
