/*
 * track.c - attribution during `callerid capture`: the engine reports each
 * new flow (on_new); the attributor runs at once, on that first packet, so
 * that a connection shorter than the capture's tick is still seen with its
 * socket. A miss is retried twice (5 ms and 50 ms later) while the flow is
 * open. Owner and nat_link rows are written as soon as they are known; a
 * flow row is written first when it has none yet (the capture updates it
 * later as usual).
 *
 * Records are kept per attempted flow in two hash chains: by flow pointer
 * (end, retry) and by 5-tuple (so that the uplink flow of a pod's
 * connection finds the pod-side flow that conntrack names). When the
 * pod-side flow was never captured (capture on the uplink only), a flow row
 * with the pre-NAT tuple, no packets and ifaces "conntrack" stands for it,
 * so that nat_link can name the pod address.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/attrib_int.h"
#include "callerid/flow.h"
#include "callerid/store.h"

#define NBUCKETS 65536u
#define MAX_TRIES 3u
#define RETRY1_NS 5000000LL
#define RETRY2_NS 50000000LL

struct rec {
	struct cid_flow *f;
	struct rec *pnext, *tnext;
	struct rec *rprev, *rnext;   /* retry list */
	bool in_retry;
	bool attributed;
	bool counted;                /* in the "flows from local clients" */
	uint8_t tries;
	int64_t next_ns;
	enum cid_attrib_fail last;
};

struct cid_attrib_track {
	struct cid_attrib *a;
	struct cid_store *store;
	int64_t capture_id;
	cid_attrib_put_fn put;
	void *put_ctx;
	struct rec *byptr[NBUCKETS];
	struct rec *bytuple[NBUCKETS];
	struct rec *retry;
	bool failed;
	bool debug;                  /* CALLERID_ATTRIB_DEBUG: one stderr line per attempt */
	char err[CID_ERRBUF_SIZE];
};

static size_t ptr_hash(const struct cid_flow *f)
{
	uint64_t h = (uint64_t)(uintptr_t)f * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 32) & (NBUCKETS - 1);
}

static size_t tuple_hash(uint8_t proto, const struct cid_addr *c, uint16_t cp, const struct cid_addr *s, uint16_t sp)
{
	uint64_t h = cid_fnv1a(CID_FNV1A_INIT, c->b, sizeof(c->b));
	h = cid_fnv1a(h, s->b, sizeof(s->b));
	h = (h ^ proto) * 1099511628211ULL;
	h = (h ^ ((uint64_t)cp << 16 | sp)) * 1099511628211ULL;
	return (size_t)(h >> 20) & (NBUCKETS - 1);
}

struct cid_attrib_track *cid_attrib_track_new(struct cid_attrib *a, struct cid_store *store, int64_t capture_id,
					      cid_attrib_put_fn put, void *put_ctx)
{
	struct cid_attrib_track *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->a = a;
	t->store = store;
	t->capture_id = capture_id;
	t->put = put;
	t->put_ctx = put_ctx;
	t->debug = getenv("CALLERID_ATTRIB_DEBUG") != NULL;
	return t;
}

static void unlink_retry(struct cid_attrib_track *t, struct rec *r)
{
	if (!r->in_retry)
		return;
	if (r->rprev)
		r->rprev->rnext = r->rnext;
	else
		t->retry = r->rnext;
	if (r->rnext)
		r->rnext->rprev = r->rprev;
	r->rprev = r->rnext = NULL;
	r->in_retry = false;
}

void cid_attrib_track_free(struct cid_attrib_track *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct rec *r = t->byptr[i];
		while (r) {
			struct rec *n = r->pnext;
			free(r);
			r = n;
		}
	}
	free(t);
}

static struct rec *find_tuple(struct cid_attrib_track *t, uint8_t proto, const struct cid_addr *c, uint16_t cp,
			      const struct cid_addr *s, uint16_t sp)
{
	for (struct rec *r = t->bytuple[tuple_hash(proto, c, cp, s, sp)]; r; r = r->tnext) {
		const struct cid_flow *f = r->f;
		if (f->proto == proto && f->cport == cp && f->sport == sp && !memcmp(&f->cli, c, sizeof(*c)) &&
		    !memcmp(&f->srv, s, sizeof(*s)))
			return r;
	}
	return NULL;
}

static void fail_store(struct cid_attrib_track *t, const char *what)
{
	if (t->failed)
		return;
	t->failed = true;
	snprintf(t->err, sizeof(t->err), "%s: %s", what, cid_store_errmsg(t->store));
}

static bool ensure_row(struct cid_attrib_track *t, struct cid_flow *f)
{
	if (f->db_id)
		return true;
	if (t->put(t->put_ctx, f) < 0 || !f->db_id) {
		fail_store(t, "flow");
		return false;
	}
	return true;
}

/* The pre-NAT side of a translated flow: the captured pod-side flow, or a
 * stand-in row. Its flow id, or 0. */
static int64_t inner_id(struct cid_attrib_track *t, const struct cid_flow *outer, const struct cid_owner *o)
{
	struct rec *r = find_tuple(t, outer->proto, &o->orig_cli, o->orig_cport, &outer->srv, outer->sport);
	struct cid_flow tmp;
	if (r)
		return ensure_row(t, r->f) ? r->f->db_id : 0;
	memset(&tmp, 0, sizeof(tmp));
	tmp.proto = outer->proto;
	tmp.cli = o->orig_cli;
	tmp.cport = o->orig_cport;
	tmp.srv = outer->srv;
	tmp.sport = outer->sport;
	tmp.first_ns = tmp.last_ns = outer->first_ns;
	if (cid_store_put_flow(t->store, t->capture_id, &tmp, "conntrack") < 0) {
		fail_store(t, "flow");
		return 0;
	}
	return tmp.db_id;
}

static void write_rows(struct cid_attrib_track *t, struct cid_flow *f, const struct cid_owner *o, bool owner,
		       int64_t now_ns)
{
	int64_t in;
	if (t->failed || !ensure_row(t, f))
		return;
	if (owner && cid_attrib_put_owner(t->store, f->db_id, o, now_ns / 1000) < 0) {
		fail_store(t, "owner");
		return;
	}
	if (!o->nat)
		return;
	in = inner_id(t, f, o);
	if (!in)
		return;
	if (cid_attrib_put_nat_link(t->store, in, f->db_id, "conntrack") < 0) {
		fail_store(t, "nat_link");
		return;
	}
	cid_attrib_stats_rw(t->a)->nat_links++;
}

static bool worth_retry(enum cid_attrib_fail f)
{
	return f == CID_AF_NO_SOCKET || f == CID_AF_NO_INODE || f == CID_AF_NO_PROCESS || f == CID_AF_PROC_GONE ||
	       f == CID_AF_NETLINK || f == CID_AF_NETNS || f == CID_AF_NETNS_WAIT;
}

/* A flow counts as a local client's once a namespace (ours or another)
 * is known to hold its client: not while that waits for a rescan. */
static void count_local(struct cid_attrib_track *t, struct rec *r)
{
	if (r->counted || r->last == CID_AF_NOT_LOCAL || r->last == CID_AF_NETNS_WAIT)
		return;
	r->counted = true;
	cid_attrib_stats_rw(t->a)->flows++;
}

/* When to try r again: when the namespaces may be rescanned if that is
 * what it waits for (within 10 ms after a pod's veth appeared), else
 * after `otherwise`. */
static int64_t retry_delay(const struct cid_attrib_track *t, const struct rec *r, int64_t otherwise)
{
	if (r->last == CID_AF_NETNS_WAIT && cid_attrib_wait_ns(t->a) > 0)
		return cid_attrib_wait_ns(t->a) + 1000000LL / 10; /* and 0.1 ms */
	return otherwise;
}

/* One attempt on r's flow. */
static void attempt(struct cid_attrib_track *t, struct rec *r, int64_t now_ns)
{
	struct cid_owner *o = malloc(sizeof(*o));
	struct cid_flow *f = r->f;
	bool retry = r->tries > 0;
	if (!o)
		return;
	r->tries++;
	r->last = cid_attrib_lookup(t->a, o, f->proto, &f->cli, f->cport, &f->srv, f->sport);
	if (t->debug) {
		char a[CID_ADDRSTRLEN], b[CID_ADDRSTRLEN];
		fprintf(stderr, "attrib: try %u %s:%u > %s:%u: %s%s pid %d %s nat=%d\n", r->tries,
			cid_addr_str(&f->cli, a, sizeof(a)), f->cport, cid_addr_str(&f->srv, b, sizeof(b)), f->sport,
			cid_attrib_fail_name(r->last), o->method ? o->method : "", (int)o->pid, o->comm, o->nat);
	}
	if (r->last == CID_AF_NONE) {
		r->attributed = true;
		cid_attrib_note(t->a, CID_AF_NONE, true, retry);
		write_rows(t, f, o, true, now_ns);
	} else if (o->nat && r->tries == 1) {
		/* translated, owner unknown: the link still names the pod address */
		write_rows(t, f, o, false, now_ns);
	}
	free(o);
}

void cid_attrib_track_new_flow(struct cid_attrib_track *t, struct cid_flow *f, int64_t now_ns)
{
	struct rec *r;
	size_t h;
	if (f->proto != 6 && f->proto != 17)
		return;
	r = calloc(1, sizeof(*r));
	if (!r)
		return;
	r->f = f;
	h = ptr_hash(f);
	r->pnext = t->byptr[h];
	t->byptr[h] = r;
	h = tuple_hash(f->proto, &f->cli, f->cport, &f->srv, f->sport);
	r->tnext = t->bytuple[h];
	t->bytuple[h] = r;
	attempt(t, r, now_ns);
	if (r->last == CID_AF_NOT_LOCAL) {
		cid_attrib_note(t->a, CID_AF_NOT_LOCAL, true, false);
		return;
	}
	count_local(t, r);
	if (!r->attributed && worth_retry(r->last)) {
		r->next_ns = now_ns + retry_delay(t, r, RETRY1_NS);
		r->in_retry = true;
		r->rnext = t->retry;
		if (t->retry)
			t->retry->rprev = r;
		t->retry = r;
	}
}

void cid_attrib_track_retry(struct cid_attrib_track *t, int64_t now_ns)
{
	struct rec *r = t->retry, *n;
	for (; r; r = n) {
		n = r->rnext;
		if (r->next_ns > now_ns)
			continue;
		attempt(t, r, now_ns);
		if (r->last == CID_AF_NOT_LOCAL && !r->counted) {
			/* the wait is over: no namespace holds the client */
			cid_attrib_note(t->a, CID_AF_NOT_LOCAL, true, false);
			unlink_retry(t, r);
			continue;
		}
		count_local(t, r);
		if (r->attributed || r->tries >= MAX_TRIES || !worth_retry(r->last))
			unlink_retry(t, r);
		else
			r->next_ns = now_ns + retry_delay(t, r, RETRY2_NS);
	}
}

bool cid_attrib_track_pending(const struct cid_attrib_track *t)
{
	return t->retry != NULL;
}

void cid_attrib_track_end(struct cid_attrib_track *t, struct cid_flow *f)
{
	struct rec **pp = &t->byptr[ptr_hash(f)], *r;
	while (*pp && (*pp)->f != f)
		pp = &(*pp)->pnext;
	r = *pp;
	if (!r)
		return;
	*pp = r->pnext;
	for (pp = &t->bytuple[tuple_hash(f->proto, &f->cli, f->cport, &f->srv, f->sport)]; *pp; pp = &(*pp)->tnext)
		if (*pp == r) {
			*pp = r->tnext;
			break;
		}
	unlink_retry(t, r);
	if (!r->attributed && r->last != CID_AF_NOT_LOCAL)
		/* still waiting for a namespace that would hold the client:
		 * none did, as far as anyone knows */
		cid_attrib_note(t->a, r->counted ? r->last : CID_AF_NOT_LOCAL, true, false);
	free(r);
}

const char *cid_attrib_track_error(const struct cid_attrib_track *t)
{
	return t->failed ? t->err : NULL;
}
