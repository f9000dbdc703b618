/*
 * stream.c - TCP reassembly of one direction (see stream.h).
 * Sequence numbers compare modulo 2^32 (RFC 9293 3.4).
 */
#include <stdlib.h>
#include <string.h>

#include "callerid/stream.h"

struct seg {
	uint32_t seq;
	uint32_t len;
	int64_t ts_ns;
	struct seg *next;
	uint8_t data[];
};

struct cid_stream {
	bool started;
	uint32_t next_seq;
	uint64_t delivered;
	struct seg *held;        /* sorted by seq (relative to next_seq) */
	size_t held_bytes;
	unsigned held_segs;
	struct cid_stream_stats st;
};

static inline int32_t seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

struct cid_stream *cid_stream_new(void)
{
	return calloc(1, sizeof(struct cid_stream));
}

void cid_stream_free(struct cid_stream *s)
{
	struct seg *g, *n;
	if (!s)
		return;
	for (g = s->held; g; g = n) {
		n = g->next;
		free(g);
	}
	free(s);
}

void cid_stream_set_isn(struct cid_stream *s, uint32_t next_seq)
{
	if (s->started)
		return;
	s->started = true;
	s->next_seq = next_seq;
}

/* Delivers the part of [seq, seq+n) at or after next_seq, if it touches it. */
static void deliver_from(struct cid_stream *s, uint32_t seq, const uint8_t *p, size_t n, int64_t ts,
			 cid_deliver_fn fn, void *ctx)
{
	int32_t d = seq_diff(s->next_seq, seq); /* bytes already delivered */
	size_t skip;
	if (d < 0)
		return;
	skip = (size_t)d;
	if (skip >= n) {
		s->st.retransmitted++;
		return;
	}
	if (skip)
		s->st.overlaps++;
	fn(ctx, p + skip, n - skip, skip == 0, ts);
	s->next_seq += (uint32_t)(n - skip);
	s->delivered += n - skip;
}

/* Delivers held segments that are now in order. */
static void drain(struct cid_stream *s, cid_deliver_fn fn, void *ctx)
{
	while (s->held && seq_diff(s->held->seq, s->next_seq) <= 0) {
		struct seg *g = s->held;
		s->held = g->next;
		s->held_bytes -= g->len;
		s->held_segs--;
		deliver_from(s, g->seq, g->data, g->len, g->ts_ns, fn, ctx);
		free(g);
	}
}

/* Skips the hole before the first held segment. */
static void skip_hole(struct cid_stream *s, int64_t ts, cid_deliver_fn fn, void *ctx)
{
	int32_t hole;
	if (!s->held)
		return;
	hole = seq_diff(s->held->seq, s->next_seq);
	if (hole > 0) {
		fn(ctx, NULL, (size_t)hole, false, ts);
		s->next_seq = s->held->seq;
		s->st.gaps++;
	}
	drain(s, fn, ctx);
}

bool cid_stream_add(struct cid_stream *s, uint32_t seq, const uint8_t *p, size_t n, int64_t ts_ns,
		    cid_deliver_fn fn, void *ctx)
{
	struct seg *g, **pp;
	if (n == 0)
		return true;
	if (!s->started) {
		s->started = true;
		s->next_seq = seq;
	}
	if (seq_diff(seq, s->next_seq) <= 0) {
		deliver_from(s, seq, p, n, ts_ns, fn, ctx);
		drain(s, fn, ctx);
		return true;
	}
	/* Early: hold a copy, unless the hold is full. A segment absurdly far
	 * ahead (beyond a window of 1 GiB) is treated the same way. */
	s->st.ooo++;
	while (s->held && (s->held_bytes + n > CID_STREAM_OOO_CAP || s->held_segs >= CID_STREAM_OOO_SEGS)) {
		s->st.hold_full++;
		skip_hole(s, ts_ns, fn, ctx);
		if (seq_diff(seq, s->next_seq) <= 0) {
			deliver_from(s, seq, p, n, ts_ns, fn, ctx);
			drain(s, fn, ctx);
			return true;
		}
	}
	if (n > CID_STREAM_OOO_CAP) {
		/* cannot hold it at all: jump over the hole to it */
		fn(ctx, NULL, (size_t)seq_diff(seq, s->next_seq), false, ts_ns);
		s->st.gaps++;
		s->next_seq = seq;
		deliver_from(s, seq, p, n, ts_ns, fn, ctx);
		drain(s, fn, ctx);
		return true;
	}
	g = malloc(sizeof(*g) + n);
	if (!g)
		return false;
	g->seq = seq;
	g->len = (uint32_t)n;
	g->ts_ns = ts_ns;
	memcpy(g->data, p, n);
	for (pp = &s->held; *pp && seq_diff((*pp)->seq, seq) <= 0; pp = &(*pp)->next)
		;
	g->next = *pp;
	*pp = g;
	s->held_bytes += n;
	s->held_segs++;
	return true;
}

void cid_stream_close(struct cid_stream *s, int64_t ts_ns, cid_deliver_fn fn, void *ctx)
{
	while (s->held)
		skip_hole(s, ts_ns, fn, ctx);
}

uint64_t cid_stream_delivered(const struct cid_stream *s)
{
	return s->delivered;
}

size_t cid_stream_held(const struct cid_stream *s)
{
	return s->held_bytes;
}

const struct cid_stream_stats *cid_stream_stats(const struct cid_stream *s)
{
	return &s->st;
}
