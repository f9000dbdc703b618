/*
 * burst.c - request bursts: one API call each on a keep-alive connection.
 *
 * A burst is client->server application data that starts after the server
 * has answered the previous burst, or after an idle gap. On TLS flows the
 * record layer (RFC 8446 5.1) is followed, so only application_data records
 * (type 23) count and handshake traffic is ignored; when the record walk
 * loses sync (a hole in the stream), payload sizes are used instead until a
 * segment starts with a record header again.
 */
#include <stdlib.h>
#include <string.h>

#include "callerid/cursor.h"
#include "flow_internal.h"

#define TLS_APPDATA 23
#define TLS13_MAX_FINISHED_RECORD 69 /* 4 + SHA-384 48 + 1 type + 16 tag */
#define TLS13_MIN_REQUEST_RECORD 32  /* below: an encrypted alert (19) or KeyUpdate (22) */

void cid_burst_data(struct cid_engine *e, struct cid_flow *f, int dir, uint64_t n, int64_t ts)
{
	struct cid_request *r;
	if (dir == 0) {
		bool fresh = !f->burst_open || f->burst_answered || ts - f->burst_last_c2s_ns > e->cfg.burst_gap_ns;
		f->burst_last_c2s_ns = ts;
		if (fresh) {
			f->burst_open = true;
			f->burst_answered = false;
			e->st.reqs++;
			if (f->num_reqs >= CID_FLOW_MAX_REQUESTS) {
				f->reqs_dropped++;
				e->st.reqs_dropped++;
				f->burst_dropped = true;
				return;
			}
			f->burst_dropped = false;
			if (f->num_reqs == f->cap_reqs) {
				uint32_t ncap = f->cap_reqs ? f->cap_reqs * 2 : 4;
				struct cid_request *nr = realloc(f->reqs, ncap * sizeof(*nr));
				if (!nr) {
					e->st.alloc_failed++;
					f->burst_dropped = true;
					return;
				}
				f->reqs = nr;
				f->cap_reqs = ncap;
			}
			r = &f->reqs[f->num_reqs++];
			memset(r, 0, sizeof(*r));
			r->ts_ns = ts;
		}
		if (!f->burst_dropped && f->num_reqs)
			f->reqs[f->num_reqs - 1].c2s_bytes += n;
		return;
	}
	if (!f->burst_open)
		return; /* server data before any request: handshake, banners */
	f->burst_answered = true;
	if (f->burst_dropped || !f->num_reqs)
		return;
	r = &f->reqs[f->num_reqs - 1];
	if (!r->answer_ns)
		r->answer_ns = ts;
	r->s2c_bytes += n;
}

void cid_burst_finish(struct cid_engine *e, struct cid_flow *f)
{
	(void)e;
	f->burst_open = false;
}

static bool is_tls13(const struct cid_flow *f)
{
	return f->tls && f->tls->have_sh && cid_tls_negotiated_version(&f->tls->sh) == 0x0304;
}

/* One complete record header: account the record. */
static void record(struct cid_engine *e, struct cid_flow *f, int dir, uint8_t type, uint16_t len, int64_t ts)
{
	if (type != TLS_APPDATA)
		return;
	/* TLS 1.3: the client's first protected record is its Finished
	 * (RFC 8446 4.4.4), not a request. */
	if (dir == 0 && !f->tls13_fin_skipped && is_tls13(f)) {
		f->tls13_fin_skipped = true;
		if (len <= TLS13_MAX_FINISHED_RECORD)
			return;
	}
	/* TLS 1.3 hides alerts (close_notify) and KeyUpdate in application
	 * data records (RFC 8446 5.2); they are far smaller than any request. */
	if (dir == 0 && len < TLS13_MIN_REQUEST_RECORD && is_tls13(f))
		return;
	cid_burst_data(e, f, dir, (uint64_t)len + 5, ts);
}

static bool header_ok(const uint8_t h[5], uint8_t *type, uint16_t *len)
{
	struct cid_cur c;
	uint8_t major, minor;
	cid_cur_init(&c, h, 5);
	if (!cid_cur_u8(&c, type) || !cid_cur_u8(&c, &major) || !cid_cur_u8(&c, &minor) || !cid_cur_u16(&c, len))
		return false;
	return *type >= 20 && *type <= 24 && major == 3 && minor <= 4 && *len <= 16384 + 2048;
}

void cid_burst_walk(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n, bool seg_start,
		    int64_t ts)
{
	struct cid_recwalk *w = &f->walk[dir];
	struct cid_cur c;
	if (w->lost || !w->synced) {
		uint8_t type;
		uint16_t len;
		if (seg_start && n >= 5 && header_ok(p, &type, &len)) {
			w->lost = false;
			w->synced = true;
			w->hdr_have = 0;
			w->body_left = 0;
		} else {
			/* not at a record boundary: fall back to payload sizes */
			if (w->synced || f->mid_stream || w->lost)
				cid_burst_data(e, f, dir, n, ts);
			w->lost = true;
			return;
		}
	}
	cid_cur_init(&c, p, n);
	while (cid_cur_len(&c)) {
		if (w->body_left) {
			size_t take = cid_cur_len(&c) < w->body_left ? cid_cur_len(&c) : w->body_left;
			cid_cur_skip(&c, take);
			w->body_left -= (uint32_t)take;
			continue;
		}
		while (w->hdr_have < 5 && cid_cur_u8(&c, &w->hdr[w->hdr_have]))
			w->hdr_have++;
		if (w->hdr_have == 5) {
			uint8_t type;
			uint16_t len;
			w->hdr_have = 0;
			if (!header_ok(w->hdr, &type, &len)) {
				w->lost = true;
				cid_burst_data(e, f, dir, cid_cur_len(&c), ts);
				return;
			}
			w->type = type;
			w->body_left = len;
			record(e, f, dir, type, len, ts);
		}
	}
}
