/*
 * quicflow.c - the hellos of QUIC flows (RFC 9000, RFC 9001).
 *
 * A UDP flow is taken for QUIC when one of its first client packets is an
 * Initial packet of version 1 or 2 in a datagram of at least 1200 bytes (RFC 9000
 * 14.1) with a Destination Connection ID of at least 8 bytes (7.2). Its
 * Initial keys come from that DCID; each Initial packet of either side
 * (coalesced ones included) is decrypted, and the CRYPTO frames are put in
 * order by a stream reassembler (the TCP one: a CRYPTO offset is a
 * sequence number) and handed to the TLS hello parser. Once the
 * ServerHello is in, or the flow ends, the keys and buffers go. A client
 * Initial that the keys do not open may come after a Retry (5.2: the new
 * keys follow the DCID the server chose): its own DCID is tried once.
 * Short-header (1-RTT) packets are not looked at: no request bursts for
 * QUIC flows.
 */
#include <stdlib.h>
#include <string.h>

#include "callerid/quic.h"
#include "callerid/stream.h"
#include "flow_internal.h"

#define MAX_UNDECRYPTED 8  /* Initial packets per direction that may fail before giving up */

struct cid_flow_quic {
	struct cid_quic_keys keys[2];     /* client's, server's */
	uint8_t odcid[CID_QUIC_MAX_CID];
	uint8_t odcid_len;
	uint32_t version;
	uint8_t undecrypted[2];
	bool retried;                     /* a client DCID of its own was tried */
	uint64_t delivered[2];            /* CRYPTO bytes handed on, per direction */
};

static bool keys_for(struct cid_flow_quic *q, const uint8_t *dcid, size_t dcid_len)
{
	if (!cid_quic_initial_keys(&q->keys[0], q->version, dcid, dcid_len, false) ||
	    !cid_quic_initial_keys(&q->keys[1], q->version, dcid, dcid_len, true))
		return false;
	memcpy(q->odcid, dcid, dcid_len);
	q->odcid_len = (uint8_t)dcid_len;
	return true;
}

static bool start(struct cid_engine *e, struct cid_flow *f, const struct cid_quic_long *h)
{
	struct cid_flow_quic *q = calloc(1, sizeof(*q));
	if (!q) {
		e->st.alloc_failed++;
		return false;
	}
	q->version = h->version;
	if (!keys_for(q, h->dcid, h->dcid_len)) {
		e->st.alloc_failed++; /* libcrypto fails only for memory here */
		free(q);
		return false;
	}
	f->quic = q;
	cid_flow_held(e, (int64_t)sizeof(*q));
	return true;
}

void cid_flow_quic_release(struct cid_engine *e, struct cid_flow *f)
{
	if (!f->quic)
		return;
	for (int d = 0; d < 2; d++) {
		if (!f->stream[d])
			continue;
		cid_flow_held(e, -(int64_t)cid_stream_held(f->stream[d]));
		cid_stream_free(f->stream[d]);
		f->stream[d] = NULL;
	}
	cid_flow_held(e, -(int64_t)sizeof(*f->quic));
	free(f->quic);
	f->quic = NULL;
}

static void crypto_deliver(void *ctx, const uint8_t *p, size_t n, bool seg_start, int64_t ts)
{
	struct cid_engine *e = ctx;
	struct cid_flow *f = e->cur_flow;
	int dir = e->cur_dir;
	bool first = f->quic->delivered[dir] == 0;
	(void)seg_start;
	f->quic->delivered[dir] += n;
	cid_flow_crypto_bytes(e, f, dir, p, n, first, ts);
}

struct crypto_ctx {
	struct cid_engine *e;
	int64_t ts;
};

static void on_crypto(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
	struct crypto_ctx *c = ctx;
	struct cid_engine *e = c->e;
	struct cid_flow *f = e->cur_flow;
	int dir = e->cur_dir;
	size_t held;
	/* a hello is the first bytes of the stream: later ones are not kept */
	if (off >= e->cfg.stream_cap) {
		e->st.stream_bytes_capped += n;
		return;
	}
	if (n > e->cfg.stream_cap - off) {
		e->st.stream_bytes_capped += n - (e->cfg.stream_cap - off);
		n = (size_t)(e->cfg.stream_cap - off);
	}
	if (!f->stream[dir]) {
		f->stream[dir] = cid_stream_new();
		if (!f->stream[dir]) {
			e->st.alloc_failed++;
			return;
		}
		cid_stream_set_isn(f->stream[dir], 0);
	}
	held = cid_stream_held(f->stream[dir]);
	if (!cid_stream_add(f->stream[dir], (uint32_t)off, p, n, c->ts, crypto_deliver, e))
		e->st.alloc_failed++;
	cid_flow_held(e, (int64_t)cid_stream_held(f->stream[dir]) - (int64_t)held);
}

/* One Initial packet of the flow's datagram. */
static void initial(struct cid_engine *e, struct cid_flow *f, int dir, const struct cid_quic_long *h,
		    const uint8_t *pkt, int64_t ts)
{
	struct cid_flow_quic *q = f->quic;
	uint8_t plain[CID_QUIC_MAX_PACKET];
	size_t len = 0;
	uint64_t pn;
	struct crypto_ctx c = {e, ts};
	enum cid_status st;

	if (q->undecrypted[dir] >= MAX_UNDECRYPTED)
		return;
	st = cid_quic_decrypt(&q->keys[dir], h, pkt, plain, &len, &pn);
	if (st == CID_MALFORMED && dir == 0 && !q->retried &&
	    (h->dcid_len != q->odcid_len || memcmp(h->dcid, q->odcid, h->dcid_len))) {
		/* after a Retry: keys from the DCID the server chose */
		struct cid_flow_quic alt = *q;
		q->retried = alt.retried = true;
		if (!keys_for(&alt, h->dcid, h->dcid_len))
			st = CID_TRUNCATED;
		else if ((st = cid_quic_decrypt(&alt.keys[0], h, pkt, plain, &len, &pn)) == CID_OK)
			*q = alt;
	}
	if (st == CID_TRUNCATED) {
		e->st.alloc_failed++; /* libcrypto could not run */
		return;
	}
	if (st != CID_OK) {
		q->undecrypted[dir]++;
		e->st.quic_undecrypted++;
		return;
	}
	/* TLS state once a first Initial opened: a datagram that only looks
	 * like one (its keys come from its own header) is not QUIC */
	if (!f->tls) {
		if (!cid_flow_tls_start(e, f))
			return;
		/* the ClientHello may reach offset 0 only after the server's
		 * Initial (out-of-order CRYPTO frames, a lost packet) */
		cid_flow_hello_expect(e, f, 0);
	}
	e->st.quic_initials++;
	/* the CRYPTO frames before a malformed frame are still good */
	(void)cid_quic_frames(plain, len, on_crypto, &c);
}

void cid_flow_quic(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n, int64_t ts)
{
	struct cid_quic_long h;
	size_t off = 0;
	if (!f->quic) {
		/* a client's first Initial: a full-size datagram, a long
		 * header with the fixed bit, type Initial */
		if (n < CID_QUIC_MIN_INITIAL || (p[0] & 0xc0) != 0xc0 ||
		    cid_quic_parse_long(&h, p, n) != CID_OK || h.type != CID_QUIC_INITIAL || h.dcid_len < 8 ||
		    !start(e, f, &h))
			return;
	}
	e->cur_flow = f;
	e->cur_dir = dir;
	/* coalesced packets (RFC 9000 12.2): Initial, then Handshake or 0-RTT */
	while (off < n && f->quic && !f->hello_done) {
		if (cid_quic_parse_long(&h, p + off, n - off) != CID_OK || !h.packet_len)
			break;
		if (h.type == CID_QUIC_INITIAL && h.version == f->quic->version)
			initial(e, f, dir, &h, p + off, ts);
		off += h.packet_len;
	}
	if (f->hello_done || (f->quic && !f->tls) ||
	    (f->quic && f->quic->undecrypted[0] >= MAX_UNDECRYPTED && f->quic->undecrypted[1] >= MAX_UNDECRYPTED))
		cid_flow_quic_release(e, f);
}
