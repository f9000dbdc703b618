/*
 * tlsflow.c - the TCP payload path of a flow: decide whether it carries
 * TLS, reassemble the first bytes of each direction, parse the hellos.
 *
 * Reassembly costs a copy only for early (out-of-order) segments and for
 * the hello buffers; flows that turn out not to be TLS stop being
 * reassembled after their first bytes. Hello buffers grow with what
 * arrives (a hello is usually one segment) up to stream_cap; their sizes,
 * the early bytes held and the TLS state are added up in e->held_bytes,
 * which the engine keeps under flow_mem (flow.c). After a TLS <= 1.2
 * ServerHello the server's buffer is kept until the ServerKeyExchange (the
 * group) or the end of the plaintext flight, then dropped too.
 */
#include <stdlib.h>
#include <string.h>

#include "callerid/cursor.h"
#include "callerid/stream.h"
#include "flow_internal.h"

#define UNDECIDED_TRIES 8  /* chunks a mid-stream flow may take to show TLS records */
#define HBUF_FIRST 4096u   /* first size of a hello buffer */
/* Handshake messages of a server direction looked at, ServerHello
 * included, before giving up on a ServerKeyExchange: SupplementalData,
 * Certificate and CertificateStatus may come before it (RFC 5246 7.3). A
 * cap, since each look walks the buffer from its start again. */
#define SKE_MAX_INDEX 8u

void cid_flow_held(struct cid_engine *e, int64_t delta)
{
	if (delta < 0 && (uint64_t)-delta > e->held_bytes)
		e->held_bytes = 0;
	else
		e->held_bytes = (size_t)((int64_t)e->held_bytes + delta);
	if (e->held_bytes > e->st.held_peak)
		e->st.held_peak = e->held_bytes;
}

/* A plausible TLS record header (RFC 8446 5.1; 1.0-1.2 records too): type
 * 20..24, major version 3, length at most 2^14 + 2048. */
static bool record_header_ok(const uint8_t *p, size_t n)
{
	struct cid_cur c;
	uint8_t type, major, minor;
	uint16_t len;
	cid_cur_init(&c, p, n);
	if (!cid_cur_u8(&c, &type) || !cid_cur_u8(&c, &major) || !cid_cur_u8(&c, &minor) ||
	    !cid_cur_u16(&c, &len))
		return false;
	return type >= 20 && type <= 24 && major == 3 && minor <= 4 && len > 0 && len <= 16384 + 2048;
}

static struct cid_flow_tls *tls_of(struct cid_engine *e, struct cid_flow *f)
{
	if (!f->tls) {
		f->tls = calloc(1, sizeof(*f->tls));
		if (!f->tls) {
			e->st.alloc_failed++;
			return NULL;
		}
		cid_flow_held(e, (int64_t)sizeof(*f->tls));
		e->st.flows_tls++;
	}
	return f->tls;
}

static void report_tls(struct cid_engine *e, struct cid_flow *f)
{
	if (f->tls && !f->tls->reported) {
		f->tls->reported = true;
		if (e->cfg.on_tls)
			e->cfg.on_tls(e->cfg.ctx, f);
	}
}

static void hbuf_drop(struct cid_engine *e, struct cid_flow *f, int dir)
{
	if (f->hbuf[dir])
		cid_flow_held(e, -(int64_t)f->hcap[dir]);
	free(f->hbuf[dir]);
	f->hbuf[dir] = NULL;
	f->hcap[dir] = 0;
	f->hlen[dir] = 0;
}

/* Starts (hbuf NULL) or grows a hello buffer to hold at least `need`
 * bytes, need <= stream_cap. false on allocation failure (counted; the
 * buffer, if any, is unchanged). */
static bool hbuf_reserve(struct cid_engine *e, struct cid_flow *f, int dir, size_t need)
{
	size_t cap = f->hcap[dir];
	uint8_t *nb;
	if (f->hbuf[dir] && cap >= need)
		return true;
	if (cap < HBUF_FIRST)
		cap = HBUF_FIRST;
	while (cap < need)
		cap *= 2;
	if (cap > e->cfg.stream_cap)
		cap = e->cfg.stream_cap;
	nb = realloc(f->hbuf[dir], cap);
	if (!nb) {
		e->st.alloc_failed++;
		return false;
	}
	cid_flow_held(e, (int64_t)cap - (int64_t)(f->hbuf[dir] ? f->hcap[dir] : 0));
	f->hbuf[dir] = nb;
	f->hcap[dir] = (uint32_t)cap;
	return true;
}

static void hello_done(struct cid_engine *e, struct cid_flow *f)
{
	hbuf_drop(e, f, 0);
	hbuf_drop(e, f, 1);
	f->hello_done = true;
}

static void set_failure(struct cid_engine *e, struct cid_flow *f, enum cid_tls_status st)
{
	if (f->tls && !f->tls->have_ch && !f->tls->have_sh) {
		f->tls->status = st;
		if (st == CID_TLSS_MALFORMED)
			e->st.tls_malformed++;
	}
}

/* Whether a final ServerHello leaves the group to a ServerKeyExchange worth
 * walking on to: TLS <= 1.2 (no key_share), a suite whose ServerKeyExchange
 * names a curve, and a full handshake. A resumed session has none: its
 * server echoes the client's session id (RFC 5246 7.4.1.3; RFC 5077 3.4 for
 * tickets); a resumption the id does not show ends the walk at the
 * NewSessionTicket or the ChangeCipherSpec. */
static bool expect_ske(const struct cid_flow_tls *t)
{
	const struct cid_tls_hello *sh = &t->sh;
	uint16_t v = cid_tls_negotiated_version(sh);
	if (v < 0x0300 || v > 0x0303 || sh->num_key_share || !sh->num_ciphers ||
	    cid_tls_cipher_ske_kind(sh->ciphers[0]) == CID_TLS_SKE_NONE)
		return false;
	return !(t->have_ch && t->ch.session_id_len && t->ch.session_id_len == sh->session_id_len &&
		 !memcmp(t->ch.session_id, sh->session_id, sh->session_id_len));
}

/* The walk to the ServerKeyExchange is over once the server buffer is gone
 * (the curve found, given up, or the buffer dropped for a gap or a cap):
 * the flow's TLS details are complete, report them. */
static void ske_settle(struct cid_engine *e, struct cid_flow *f)
{
	if (f->tls && f->tls->ske_wait && !f->hbuf[1]) {
		f->tls->ske_wait = false;
		report_tls(e, f);
	}
}

/* One message of the server's flight after a TLS <= 1.2 ServerHello
 * (RFC 5246 7.3): steps over what may precede the ServerKeyExchange, takes
 * its named curve, and stops at anything else (ServerHelloDone,
 * CertificateRequest, NewSessionTicket: no ServerKeyExchange follows). */
static void ske_walk(struct cid_engine *e, struct cid_flow *f, uint8_t type, size_t mlen)
{
	struct cid_flow_tls *t = f->tls;
	uint16_t group;
	if ((type == CID_TLS_HS_CERTIFICATE || type == CID_TLS_HS_CERTIFICATE_STATUS ||
	     type == CID_TLS_HS_SUPPLEMENTAL_DATA) &&
	    f->hindex[1] < SKE_MAX_INDEX)
		return;
	if (type == CID_TLS_HS_SERVER_KEY_EXCHANGE &&
	    cid_tls_parse_server_key_exchange(&group, e->scratch, mlen, cid_tls_negotiated_version(&t->sh),
					      t->sh.ciphers[0]) == CID_OK) {
		t->ske_group = group;
		t->have_ske_group = true;
	}
	hbuf_drop(e, f, 1);
}

/* Tries to make progress on the hellos of one direction. */
static void parse_hellos(struct cid_engine *e, struct cid_flow *f, int dir, int64_t ts)
{
	struct cid_flow_tls *t = f->tls;
	while (f->hbuf[dir] && f->hlen[dir] >= f->hneed[dir]) {
		uint8_t type = 0;
		size_t mlen = 0, need = 0;
		enum cid_status st;
		if (dir == 1 && t->ske_wait) /* a ChangeCipherSpec ends the plaintext flight */
			st = cid_tls_find_plain_handshake(f->hbuf[1], f->hlen[1], f->hindex[1], &type, e->scratch,
							  e->cfg.stream_cap, &mlen, &need);
		else
			st = cid_tls_find_handshake(f->hbuf[dir], f->hlen[dir], f->hindex[dir], &type, e->scratch,
						    e->cfg.stream_cap, &mlen, &need);
		if (st == CID_TRUNCATED) {
			if (need > e->cfg.stream_cap) {
				set_failure(e, f, CID_TLSS_TOO_BIG);
				hbuf_drop(e, f, dir);
			} else {
				f->hneed[dir] = (uint32_t)need;
			}
			return;
		}
		if (st != CID_OK) {
			if (f->hindex[dir] == 0)
				set_failure(e, f, st == CID_UNSUPPORTED ? (f->hlen[dir] && (f->hbuf[dir][0] & 0x80) ?
									  CID_TLSS_SSLV2 : CID_TLSS_TOO_BIG)
									: CID_TLSS_MALFORMED);
			hbuf_drop(e, f, dir);
			return;
		}
		f->hindex[dir]++;
		if (dir == 0) {
			if (type != CID_TLS_HS_CLIENT_HELLO) {
				if (f->hindex[dir] == 1)
					set_failure(e, f, CID_TLSS_MALFORMED);
				hbuf_drop(e, f, 0);
				return;
			}
			if (!t->have_ch) {
				if (cid_tls_parse_client_hello(&t->ch, e->scratch, mlen) != CID_OK) {
					set_failure(e, f, CID_TLSS_MALFORMED);
					hbuf_drop(e, f, 0);
					return;
				}
				t->have_ch = true;
				t->ch_ns = ts;
				t->num_client_hellos = 1;
				t->status = t->have_sh ? CID_TLSS_OK : CID_TLSS_CLIENT_ONLY;
				if (t->have_sh && !t->ske_wait)
					report_tls(e, f); /* the ServerHello came first (QUIC) */
			} else {
				t->num_client_hellos++;
			}
			/* Only a HelloRetryRequest makes the client send another
			 * hello; otherwise the next records are encrypted. */
			if (!t->hrr || t->num_client_hellos >= 2)
				hbuf_drop(e, f, 0);
		} else if (t->ske_wait) {
			ske_walk(e, f, type, mlen);
		} else {
			struct cid_tls_hello *sh = &e->tmp_hello;
			if (type != CID_TLS_HS_SERVER_HELLO ||
			    cid_tls_parse_server_hello(sh, e->scratch, mlen) != CID_OK) {
				if (!t->have_sh && f->hindex[dir] == 1)
					e->st.tls_malformed++;
				hbuf_drop(e, f, 1);
				return;
			}
			if (sh->hrr) {
				/* RFC 8446 4.1.4: a second ServerHello follows */
				t->hrr = true;
				continue;
			}
			t->sh = *sh;
			t->have_sh = true;
			t->sh_ns = ts;
			t->status = t->have_ch ? CID_TLSS_OK : CID_TLSS_SERVER_ONLY;
			/* the client's hello may still be on its way: QUIC's
			 * CRYPTO frames are not ordered with the server's */
			if (t->have_ch && (!t->hrr || t->num_client_hellos >= 2))
				hbuf_drop(e, f, 0);
			if (expect_ske(t)) {
				/* keep the buffer: the group is further on; reported
				 * when that walk ends (ske_settle) */
				t->ske_wait = true;
				continue;
			}
			hbuf_drop(e, f, 1);
			/* reported once the client's hello is in too (QUIC) */
			if (t->have_ch || !f->hbuf[0])
				report_tls(e, f);
		}
	}
}

static void hello_feed(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n, int64_t ts)
{
	size_t room;
	/* hbuf is only allocated once f->tls exists; checked so the parser
	 * below never relies on that from afar */
	if (!f->hbuf[dir] || !f->tls)
		return;
	room = e->cfg.stream_cap - f->hlen[dir];
	if (n > room) {
		e->st.stream_bytes_capped += n - room;
		n = room;
	}
	if (!hbuf_reserve(e, f, dir, f->hlen[dir] + n)) {
		hbuf_drop(e, f, dir);
		ske_settle(e, f);
		return;
	}
	memcpy(f->hbuf[dir] + f->hlen[dir], p, n);
	f->hlen[dir] += (uint32_t)n;
	parse_hellos(e, f, dir, ts);
	if (f->hbuf[dir] && f->hlen[dir] >= e->cfg.stream_cap) {
		set_failure(e, f, CID_TLSS_TOO_BIG);
		hbuf_drop(e, f, dir);
	}
	ske_settle(e, f);
	/* Done when neither side is being parsed and the server side has had
	 * its turn (or the client side failed). */
	if (!f->hbuf[0] && !f->hbuf[1] &&
	    (f->tls->have_sh || f->hindex[1] > 0 ||
	     (f->tls->status != CID_TLSS_CLIENT_ONLY && f->tls->status != CID_TLSS_NONE)))
		f->hello_done = true;
}

/* First bytes of a direction: is this TLS? */
static void classify(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n,
		     bool seg_start)
{
	if (f->tls) {
		/* the other side already showed TLS: parse this side's hello */
		/* (a warning alert may come before the ServerHello) */
		if (!f->hello_done && !f->hbuf[dir] && f->hindex[dir] == 0 && seg_start &&
		    (cid_tls_looks_like_handshake(p, n) || record_header_ok(p, n))) {
			(void)hbuf_reserve(e, f, dir, n < e->cfg.stream_cap ? n : e->cfg.stream_cap);
			f->hneed[dir] = 0;
		}
		return;
	}
	if (seg_start && cid_tls_looks_like_handshake(p, n)) {
		if (!tls_of(e, f))
			return;
		f->bursts = true;
		(void)hbuf_reserve(e, f, dir, n < e->cfg.stream_cap ? n : e->cfg.stream_cap);
		f->hneed[dir] = 0;
		return;
	}
	if (seg_start && record_header_ok(p, n) && f->mid_stream) {
		/* TLS already under way when the capture started: no hello, but
		 * record boundaries give request bursts */
		if (!tls_of(e, f))
			return;
		f->bursts = true;
		f->hello_done = true;
	}
}

static bool plain_evidence(const struct cid_flow *f)
{
	return f->ev && (f->ev->http || f->ev->dns_tcp);
}

static void deliver_chunk(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n,
			  bool seg_start, int64_t ts)
{
	if (!plain_evidence(f) && (!f->tls || (!f->hello_done && !f->hbuf[dir])))
		classify(e, f, dir, p, n, seg_start);
	/* Not TLS: plaintext HTTP on an HTTP port (IMDS), or DNS over TCP. */
	if (!f->tls && !plain_evidence(f) && f->stream_start_seen < 2) {
		f->stream_start_seen++;
		if (e->cfg.dns && f->sport == 53)
			(void)cid_ev_dns_tcp_start(e, f);
		else if (dir == 0 && seg_start && cid_ev_http_port(e, f->sport) && cid_ev_looks_like_http(p, n))
			(void)cid_ev_http_start(e, f);
	}
	if (f->ev) {
		if (f->ev->http)
			cid_ev_http_feed(e, f, dir, p, n, ts);
		else if (f->ev->dns_tcp)
			cid_ev_dns_tcp(e, f, dir, p, n, ts);
	}
	if (f->hbuf[dir])
		hello_feed(e, f, dir, p, n, ts);
	if (f->bursts)
		cid_burst_walk(e, f, dir, p, n, seg_start, ts);
}

static void deliver(void *ctx, const uint8_t *p, size_t n, bool seg_start, int64_t ts)
{
	struct cid_engine *e = ctx;
	struct cid_flow *f = e->cur_flow;
	int dir = e->cur_dir;
	size_t hl = f->head_len[dir];
	if (!p) {
		/* a hole: the hello cannot complete, records lose sync */
		if (f->hbuf[dir]) {
			set_failure(e, f, CID_TLSS_GAP);
			hbuf_drop(e, f, dir);
			ske_settle(e, f);
		}
		f->head_len[dir] = 0;
		f->walk[dir].lost = true;
		e->st.stream_gaps++;
		if (f->ev && f->ev->http)
			cid_ev_http_feed(e, f, dir, NULL, n, ts);
		else if (f->ev && f->ev->dns_tcp)
			cid_ev_dns_tcp(e, f, dir, NULL, n, ts);
		return;
	}
	/* A direction that starts with fewer bytes than a record header (5,
	 * RFC 8446 5.1) cannot be judged yet: keep them and judge the joined
	 * bytes, so a hello split after its first bytes is still found. */
	if (hl || (seg_start && n < 5 && cid_stream_delivered(f->stream[dir]) == 0 &&
		   (!f->tls || (!f->hello_done && !f->hbuf[dir] && f->hindex[dir] == 0)))) {
		uint8_t *joined;
		if (hl + n < 5) {
			memcpy(f->head[dir] + hl, p, n);
			f->head_len[dir] = (uint8_t)(hl + n);
			return;
		}
		f->head_len[dir] = 0;
		joined = malloc(hl + n);
		if (!joined) {
			e->st.alloc_failed++;
			deliver_chunk(e, f, dir, p, n, false, ts);
			return;
		}
		memcpy(joined, f->head[dir], hl);
		memcpy(joined + hl, p, n);
		deliver_chunk(e, f, dir, joined, hl + n, true, ts);
		free(joined);
		return;
	}
	deliver_chunk(e, f, dir, p, n, seg_start, ts);
}

void cid_flow_stream_isn(struct cid_engine *e, struct cid_flow *f, int dir, uint32_t next_seq)
{
	if (!f->stream[dir] && !f->hello_done) {
		f->stream[dir] = cid_stream_new();
		if (!f->stream[dir]) {
			e->st.alloc_failed++;
			return;
		}
	}
	if (f->stream[dir])
		cid_stream_set_isn(f->stream[dir], next_seq);
}

/* Whether this flow still needs its bytes in order. */
static bool wants_stream(const struct cid_flow *f)
{
	if (f->bursts || plain_evidence(f))
		return true;
	if (f->tls)
		return !f->hello_done;
	/* undecided: give it a few chunks */
	return f->undecided_tries < UNDECIDED_TRIES;
}

void cid_flow_tcp_payload(struct cid_engine *e, struct cid_flow *f, int dir, uint32_t seq, const uint8_t *p,
			  size_t n, int64_t ts)
{
	size_t held;
	if (!wants_stream(f)) {
		if (f->stream[0] || f->stream[1]) {
			cid_flow_held(e, -(int64_t)((f->stream[0] ? cid_stream_held(f->stream[0]) : 0) +
						     (f->stream[1] ? cid_stream_held(f->stream[1]) : 0)));
			cid_stream_free(f->stream[0]);
			cid_stream_free(f->stream[1]);
			f->stream[0] = f->stream[1] = NULL;
		}
		return;
	}
	if (!f->tls)
		f->undecided_tries++;
	if (!f->stream[dir]) {
		f->stream[dir] = cid_stream_new();
		if (!f->stream[dir]) {
			e->st.alloc_failed++;
			return;
		}
	}
	e->cur_flow = f;
	e->cur_dir = dir;
	/* delivery never frees this stream (only the test above does) */
	held = cid_stream_held(f->stream[dir]);
	if (!cid_stream_add(f->stream[dir], seq, p, n, ts, deliver, e))
		e->st.alloc_failed++;
	cid_flow_held(e, (int64_t)cid_stream_held(f->stream[dir]) - (int64_t)held);
	if (cid_stream_stats(f->stream[dir])->hold_full)
		e->st.stream_ooo_capped += 0; /* counted per flow at close */
}

void cid_flow_stream_close(struct cid_engine *e, struct cid_flow *f, int dir)
{
	const struct cid_stream_stats *ss;
	if (!f->stream[dir])
		return;
	e->cur_flow = f;
	e->cur_dir = dir;
	cid_flow_held(e, -(int64_t)cid_stream_held(f->stream[dir]));
	cid_stream_close(f->stream[dir], f->last_ns, deliver, e);
	ss = cid_stream_stats(f->stream[dir]);
	e->st.stream_ooo_capped += ss->hold_full;
	cid_stream_free(f->stream[dir]);
	f->stream[dir] = NULL;
}

struct cid_flow_tls *cid_flow_tls_start(struct cid_engine *e, struct cid_flow *f)
{
	return tls_of(e, f);
}

void cid_flow_hello_expect(struct cid_engine *e, struct cid_flow *f, int dir)
{
	if (f->tls && !f->hello_done && !f->hbuf[dir] && f->hindex[dir] == 0 && hbuf_reserve(e, f, dir, HBUF_FIRST))
		f->hneed[dir] = 0;
}

void cid_flow_crypto_bytes(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n,
			   bool first, int64_t ts)
{
	if (!p) {
		if (f->hbuf[dir]) {
			set_failure(e, f, CID_TLSS_GAP);
			hbuf_drop(e, f, dir);
		}
		return;
	}
	if (!f->tls || f->hello_done)
		return;
	if (first && !f->hbuf[dir] && f->hindex[dir] == 0) {
		(void)hbuf_reserve(e, f, dir, n + 5 < e->cfg.stream_cap ? n + 5 : e->cfg.stream_cap);
		f->hneed[dir] = 0;
	}
	/* RFC 9001 4.1.3: CRYPTO frames carry handshake messages without TLS
	 * records; framed as records here, the TCP path's walker reads them
	 * (messages may span records, as they may span frames). */
	while (n && f->hbuf[dir]) {
		size_t k = n < 16384 ? n : 16384;
		const uint8_t rh[5] = {22, 3, 3, (uint8_t)(k >> 8), (uint8_t)k};
		hello_feed(e, f, dir, rh, sizeof(rh), ts);
		if (f->hbuf[dir])
			hello_feed(e, f, dir, p, k, ts);
		p += k;
		n -= k;
	}
}

void cid_flow_tls_settle(struct cid_engine *e, struct cid_flow *f)
{
	if (!f->tls)
		return;
	hello_done(e, f);
	f->tls->ske_wait = false;
	if (f->tls->have_ch || f->tls->have_sh)
		report_tls(e, f);
}
