/*
 * stream.h - in-order delivery of one direction of a TCP stream.
 *
 * Segments arrive in any order, retransmitted, overlapping. The stream
 * delivers each byte once, in sequence order, to a callback; bytes that
 * arrive early are held (copied) up to CID_STREAM_OOO_CAP bytes and
 * CID_STREAM_OOO_SEGS segments. When the hold is full, or the stream is
 * closed with bytes still missing, the hole is reported to the callback as
 * a gap (p == NULL, n = bytes skipped) and delivery resumes after it.
 * Overlaps: the bytes delivered first win (RFC 9293 leaves the choice to
 * the receiver; most stacks keep the original data).
 */
#ifndef CID_STREAM_H
#define CID_STREAM_H

#include "callerid/common.h"
#include "callerid/flow.h"

/* p == NULL means a gap of n bytes. seg_start: p begins where a segment began. */
typedef void (*cid_deliver_fn)(void *ctx, const uint8_t *p, size_t n, bool seg_start, int64_t ts_ns);

struct cid_stream_stats {
	uint64_t retransmitted;   /* segments entirely already delivered */
	uint64_t overlaps;        /* segments partly already delivered */
	uint64_t ooo;             /* segments held for later */
	uint64_t gaps;
	uint64_t hold_full;       /* gaps forced by the hold caps */
};

struct cid_stream *cid_stream_new(void);
void cid_stream_free(struct cid_stream *s);
/* Sets the sequence number of the first data byte (SYN's seq + 1). Without
 * it the first segment seen starts the stream. */
void cid_stream_set_isn(struct cid_stream *s, uint32_t next_seq);
/* Adds a segment (seq, payload). Delivers what became in order. Returns
 * false only on allocation failure (the segment is then treated as lost). */
bool cid_stream_add(struct cid_stream *s, uint32_t seq, const uint8_t *p, size_t n, int64_t ts_ns,
		    cid_deliver_fn fn, void *ctx);
/* Delivers everything held, reporting holes as gaps (end of the flow). */
void cid_stream_close(struct cid_stream *s, int64_t ts_ns, cid_deliver_fn fn, void *ctx);
uint64_t cid_stream_delivered(const struct cid_stream *s);
size_t cid_stream_held(const struct cid_stream *s);
const struct cid_stream_stats *cid_stream_stats(const struct cid_stream *s);

#endif /* CID_STREAM_H */
