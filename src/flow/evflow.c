/*
 * evflow.c - plaintext evidence on flows: HTTP/1.x requests (the instance
 * metadata service at 169.254.169.254:80 is plain HTTP) and DNS messages.
 *
 * Bounded: at most CID_EV_PER_FLOW records per flow and CID_EV_TOTAL in
 * the engine at once; records past the caps are counted, not kept. HTTP
 * bodies never reach a record (http.c skips them): IMDS credentials are
 * never held.
 */
#include <stdlib.h>
#include <string.h>

#include "callerid/dns.h"
#include "callerid/http.h"
#include "flow_internal.h"

/* n more bytes of f's evidence count in the engine's flow_mem (so its cap
 * evicts flows that hold HTTP state or DNS messages too: a connection's
 * HTTP parser alone is ~41 KB); cid_ev_release gives them back. */
static void ev_held(struct cid_engine *e, struct cid_flow_ev *ev, size_t n)
{
	ev->held += n;
	cid_flow_held(e, (int64_t)n);
}

static struct cid_flow_ev *ev_of(struct cid_engine *e, struct cid_flow *f)
{
	if (!f->ev) {
		f->ev = calloc(1, sizeof(*f->ev));
		if (!f->ev)
			e->st.alloc_failed++;
		else
			ev_held(e, f->ev, sizeof(*f->ev));
	}
	return f->ev;
}

bool cid_ev_http_port(const struct cid_engine *e, uint16_t port)
{
	for (size_t i = 0; i < e->cfg.num_http_ports; i++)
		if (e->cfg.http_ports[i] == port)
			return true;
	return false;
}

/* An HTTP/1.x request line starts with a token and a space (RFC 9112 3). */
bool cid_ev_looks_like_http(const uint8_t *p, size_t n)
{
	static const char *const methods[] = {"GET ", "PUT ", "POST ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH "};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t m = strlen(methods[i]);
		if (n >= m && !memcmp(p, methods[i], m))
			return true;
	}
	return false;
}

bool cid_ev_dns_tcp_start(struct cid_engine *e, struct cid_flow *f)
{
	struct cid_flow_ev *ev = ev_of(e, f);
	if (!ev)
		return false;
	ev->dns_tcp = true;
	return true;
}

bool cid_ev_http_start(struct cid_engine *e, struct cid_flow *f)
{
	struct cid_flow_ev *ev = ev_of(e, f);
	if (!ev)
		return false;
	if (!ev->http) {
		ev->http = cid_http_conn_new();
		if (!ev->http) {
			e->st.alloc_failed++;
			return false;
		}
		ev_held(e, ev, cid_http_conn_size());
	}
	return true;
}

static void take_http_records(struct cid_engine *e, struct cid_flow *f)
{
	struct cid_flow_ev *ev = f->ev;
	struct cid_http_rec r;
	while (cid_http_conn_next(ev->http, &r)) {
		if (!r.parse_error[0])
			e->st.http_reqs++;
		if (e->cfg.on_http && !r.parse_error[0])
			e->cfg.on_http(e->cfg.ctx, f, &r);
		if (ev->num_http >= CID_EV_PER_FLOW || e->ev_records >= CID_EV_TOTAL) {
			ev->dropped++;
			e->st.ev_dropped++;
			continue;
		}
		if (!ev->http_recs) {
			ev->http_recs = malloc(CID_EV_PER_FLOW * sizeof(*ev->http_recs));
			if (!ev->http_recs) {
				e->st.alloc_failed++;
				continue;
			}
			ev_held(e, ev, CID_EV_PER_FLOW * sizeof(*ev->http_recs));
		}
		ev->http_recs[ev->num_http++] = r;
		e->ev_records++;
	}
}

void cid_ev_http_feed(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n, int64_t ts)
{
	if (!f->ev || !f->ev->http)
		return;
	if (p)
		(void)cid_http_conn_feed(f->ev->http, dir, ts, p, n);
	else
		cid_http_conn_gap(f->ev->http, dir, ts);
	take_http_records(e, f);
}

static void keep_dns(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n, int64_t ts)
{
	struct cid_flow_ev *ev = ev_of(e, f);
	struct cid_dns_raw *d;
	if (!ev)
		return;
	e->st.dns_msgs++;
	if (ev->num_dns >= CID_EV_PER_FLOW || e->ev_records >= CID_EV_TOTAL) {
		ev->dropped++;
		e->st.ev_dropped++;
		return;
	}
	if (n > CID_DNS_RAW_CAP)
		n = CID_DNS_RAW_CAP; /* parsed later as truncated: recorded with its reason */
	d = &ev->dns[ev->num_dns];
	d->bytes = malloc(n ? n : 1);
	if (!d->bytes) {
		e->st.alloc_failed++;
		return;
	}
	memcpy(d->bytes, p, n);
	ev_held(e, ev, n ? n : 1);
	d->len = (uint16_t)n;
	d->ts_ns = ts;
	d->dir = (uint8_t)dir;
	ev->num_dns++;
	e->ev_records++;
}

void cid_ev_dns_udp(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n, int64_t ts)
{
	if (n)
		keep_dns(e, f, dir, p, n, ts);
}

void cid_ev_dns_tcp(struct cid_engine *e, struct cid_flow *f, int dir, const uint8_t *p, size_t n, int64_t ts)
{
	struct cid_flow_ev *ev = ev_of(e, f);
	if (!ev)
		return;
	if (!ev->framer[dir]) {
		ev->framer[dir] = malloc(sizeof(*ev->framer[dir]));
		if (!ev->framer[dir]) {
			e->st.alloc_failed++;
			return;
		}
		cid_dns_framer_init(ev->framer[dir]);
		ev_held(e, ev, sizeof(*ev->framer[dir]));
	}
	if (!p) /* a hole: message boundaries are lost for this direction */
		ev->dns_lost[dir] = true;
	if (ev->dns_lost[dir])
		return;
	while (n) {
		size_t used = 0;
		const uint8_t *msg = NULL;
		size_t mlen = 0;
		enum cid_status st = cid_dns_framer_feed(ev->framer[dir], &used, &msg, &mlen, p, n);
		if (st == CID_OK && msg)
			keep_dns(e, f, dir, msg, mlen, ts);
		if (!used)
			break;
		p += used;
		n -= used;
	}
}

void cid_ev_release(struct cid_engine *e, struct cid_flow *f)
{
	struct cid_flow_ev *ev = f->ev;
	if (!ev)
		return;
	e->ev_records -= ev->num_http + ev->num_dns;
	cid_flow_held(e, -(int64_t)ev->held);
	cid_http_conn_free(ev->http);
	free(ev->http_recs);
	for (uint32_t i = 0; i < ev->num_dns; i++)
		free(ev->dns[i].bytes);
	free(ev->framer[0]);
	free(ev->framer[1]);
	free(ev);
	f->ev = NULL;
}

void cid_ev_finish(struct cid_engine *e, struct cid_flow *f)
{
	if (f->ev && f->ev->http) {
		cid_http_conn_finish(f->ev->http);
		take_http_records(e, f);
	}
}
