/* test_flow.c - the flow engine on hand-built frames (EN10MB + IPv4 + TCP,
 * RAW + IPv6 + TCP): direction, counters, end reasons, idle expiry, the
 * table cap (and which flows it evicts first), the memory cap, duplicates
 * across interfaces, ClientHellos split and reordered
 * at every byte position, request bursts on keep-alive TLS flows, the TLS
 * 1.3 client Finished, the TLS 1.2 ServerKeyExchange's group (and when
 * there is none), and port reuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "callerid/flow.h"

#define SEC 1000000000LL
#define MS 1000000LL

/* ---- frames ------------------------------------------------------------- */

struct ep {
	bool v6;
	uint8_t a[16];
	uint16_t port;
};

static const struct ep CLI = {false, {10, 0, 0, 1}, 40000};
static const struct ep SRV = {false, {10, 0, 0, 2}, 443};
static const struct ep CLI6 = {true, {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 40000};
static const struct ep SRV6 = {true, {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, 443};

static uint8_t frame[70000];
static uint16_t ip_id = 1;

static size_t w16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

static size_t w32(uint8_t *p, uint32_t v)
{
	w16(p, (uint16_t)(v >> 16));
	w16(p + 2, (uint16_t)v);
	return 4;
}

/* Builds one TCP frame: EN10MB + IPv4, or RAW + IPv6. Returns its length
 * and the link type in *dlt. */
static size_t mk_tcp(int *dlt, const struct ep *s, const struct ep *d, uint32_t seq, uint32_t ack, uint8_t flags,
		     const uint8_t *pl, size_t n)
{
	size_t o = 0, tcp_len = 20 + n;
	assert_true(n <= 65000);
	if (!s->v6) {
		*dlt = CID_DLT_EN10MB;
		memset(frame, 0, 12);
		frame[0] = 0x02, frame[6] = 0x02, frame[11] = 1;
		o = 12;
		o += w16(frame + o, 0x0800);
		frame[o++] = 0x45;
		frame[o++] = 0;
		o += w16(frame + o, (uint16_t)(20 + tcp_len));
		o += w16(frame + o, ip_id++);
		o += w16(frame + o, 0x4000); /* DF */
		frame[o++] = 64;
		frame[o++] = 6;
		o += w16(frame + o, 0);
		memcpy(frame + o, s->a, 4), o += 4;
		memcpy(frame + o, d->a, 4), o += 4;
	} else {
		*dlt = CID_DLT_RAW;
		frame[o++] = 0x60;
		frame[o++] = 0;
		o += w16(frame + o, 0);
		o += w16(frame + o, (uint16_t)tcp_len);
		frame[o++] = 6;
		frame[o++] = 64;
		memcpy(frame + o, s->a, 16), o += 16;
		memcpy(frame + o, d->a, 16), o += 16;
	}
	o += w16(frame + o, s->port);
	o += w16(frame + o, d->port);
	o += w32(frame + o, seq);
	o += w32(frame + o, ack);
	frame[o++] = 0x50;
	frame[o++] = flags;
	o += w16(frame + o, 65535);
	o += w16(frame + o, (uint16_t)(seq * 7u + n)); /* a checksum-like value */
	o += w16(frame + o, 0);
	if (n)
		memcpy(frame + o, pl, n);
	return o + n;
}

static void feed(struct cid_engine *e, int64_t ts, uint32_t ifindex, const struct ep *s, const struct ep *d,
		 uint32_t seq, uint32_t ack, uint8_t flags, const uint8_t *pl, size_t n)
{
	int dlt;
	size_t len = mk_tcp(&dlt, s, d, seq, ack, flags, pl, n);
	cid_engine_frame(e, ts, dlt, ifindex, frame, len, len);
}

/* ---- what the engine reports -------------------------------------------- */

#define MAX_ENDED 64

struct ended {
	struct cid_addr cli, srv;
	uint16_t cport, sport;
	bool guessed;
	enum cid_end why;
	uint64_t c2s_pkts, c2s_bytes, s2c_pkts, s2c_bytes, dup_pkts;
	uint32_t syn_seq;
	bool have_syn;
	uint8_t num_ifaces;
	bool have_ch, have_sh;
	enum cid_tls_status tls_status;
	bool have_group;                  /* cid_flow_tls_group at the end */
	uint16_t group;
	char sni[CID_TLS_MAX_NAME];
	uint32_t num_reqs;
	struct cid_request reqs[8];
};

struct rep {
	size_t num_ended;
	uint64_t num_ended_total;
	uint64_t evicted_seen;
	struct ended e[MAX_ENDED];
	unsigned on_tls;
	bool group_at_tls;                /* the group was known when on_tls ran */
	uint16_t group_at_tls_code;
};

static struct rep R;

static void on_end(void *ctx, struct cid_flow *f)
{
	struct rep *r = ctx;
	struct ended *x;
	r->num_ended_total++;
	if (f->end_reason == CID_END_EVICTED)
		r->evicted_seen++;
	if (r->num_ended >= MAX_ENDED)
		return;
	x = &r->e[r->num_ended++];
	memset(x, 0, sizeof(*x));
	x->cli = f->cli, x->srv = f->srv, x->cport = f->cport, x->sport = f->sport;
	x->guessed = f->direction_guessed;
	x->why = f->end_reason;
	x->c2s_pkts = f->c2s_pkts, x->c2s_bytes = f->c2s_bytes;
	x->s2c_pkts = f->s2c_pkts, x->s2c_bytes = f->s2c_bytes;
	x->dup_pkts = f->dup_pkts;
	x->syn_seq = f->syn_seq, x->have_syn = f->have_syn;
	x->num_ifaces = f->num_ifaces;
	if (f->tls) {
		x->have_ch = f->tls->have_ch;
		x->have_sh = f->tls->have_sh;
		x->tls_status = f->tls->status;
		x->have_group = cid_flow_tls_group(f->tls, &x->group);
		if (f->tls->have_ch && f->tls->ch.has_sni)
			memcpy(x->sni, f->tls->ch.sni, sizeof(x->sni));
	}
	x->num_reqs = f->num_reqs;
	for (uint32_t i = 0; i < f->num_reqs && i < 8; i++)
		x->reqs[i] = f->reqs[i];
}

static void on_tls(void *ctx, struct cid_flow *f)
{
	struct rep *r = ctx;
	r->on_tls++;
	r->group_at_tls = cid_flow_tls_group(f->tls, &r->group_at_tls_code);
}

static struct cid_engine *engine(size_t max_flows, int64_t idle_ns, size_t stream_cap)
{
	struct cid_engine_config cfg;
	struct cid_engine *e;
	memset(&R, 0, sizeof(R));
	cid_engine_config_default(&cfg);
	if (max_flows)
		cfg.max_flows = max_flows;
	if (idle_ns)
		cfg.idle_ns = idle_ns;
	if (stream_cap)
		cfg.stream_cap = stream_cap;
	cfg.hash_seed = 0x1234567;
	cfg.on_end = on_end;
	cfg.on_tls = on_tls;
	cfg.ctx = &R;
	e = cid_engine_new(&cfg);
	assert_non_null(e);
	return e;
}

static bool addr_is(const struct cid_addr *a, const struct ep *p)
{
	return a->family == (p->v6 ? 6 : 4) && !memcmp(a->b, p->a, p->v6 ? 16 : 4);
}

/* ---- TLS bytes ----------------------------------------------------------- */

struct tb {
	uint8_t b[4096];
	size_t n;
};

static void t8(struct tb *t, uint8_t v) { t->b[t->n++] = v; }
static void t16(struct tb *t, uint16_t v) { t8(t, (uint8_t)(v >> 8)), t8(t, (uint8_t)v); }
static void t24at(struct tb *t, size_t at, size_t v)
{
	t->b[at] = (uint8_t)(v >> 16), t->b[at + 1] = (uint8_t)(v >> 8), t->b[at + 2] = (uint8_t)v;
}
static void t16at(struct tb *t, size_t at, size_t v)
{
	t->b[at] = (uint8_t)(v >> 8), t->b[at + 1] = (uint8_t)v;
}
static void tfill(struct tb *t, uint8_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		t8(t, (uint8_t)(v + i));
}

#define TEST_SNI "sts.us-east-1.amazonaws.com"

/* A ClientHello (RFC 8446 4.1.2) in one handshake record: TLS 1.3 and 1.2
 * offered, SNI, groups, signature algorithms, key share. */
static void client_hello(struct tb *t)
{
	size_t rec_len, hs_len, exts_len, x;
	t->n = 0;
	t8(t, 22), t16(t, 0x0301), rec_len = t->n, t16(t, 0);
	t8(t, 1), hs_len = t->n, t8(t, 0), t16(t, 0);
	t16(t, 0x0303);
	tfill(t, 0x10, 32);                    /* random */
	t8(t, 32), tfill(t, 0x50, 32);         /* legacy_session_id */
	t16(t, 6), t16(t, 0x1301), t16(t, 0x1302), t16(t, 0xc02f);
	t8(t, 1), t8(t, 0);                    /* compression: null */
	exts_len = t->n, t16(t, 0);
	/* server_name (RFC 6066 3) */
	t16(t, 0), t16(t, (uint16_t)(5 + strlen(TEST_SNI)));
	t16(t, (uint16_t)(3 + strlen(TEST_SNI))), t8(t, 0), t16(t, (uint16_t)strlen(TEST_SNI));
	memcpy(t->b + t->n, TEST_SNI, strlen(TEST_SNI)), t->n += strlen(TEST_SNI);
	/* supported_groups, ec_point_formats, signature_algorithms */
	t16(t, 10), t16(t, 6), t16(t, 4), t16(t, 0x001d), t16(t, 0x0017);
	t16(t, 11), t16(t, 2), t8(t, 1), t8(t, 0);
	t16(t, 13), t16(t, 6), t16(t, 4), t16(t, 0x0403), t16(t, 0x0804);
	/* supported_versions (RFC 8446 4.2.1) */
	t16(t, 43), t16(t, 5), t8(t, 4), t16(t, 0x0304), t16(t, 0x0303);
	/* key_share (RFC 8446 4.2.8) */
	t16(t, 51), t16(t, 38), t16(t, 36), t16(t, 0x001d), t16(t, 32), tfill(t, 0x90, 32);
	x = t->n;
	t16at(t, exts_len, x - exts_len - 2);
	t24at(t, hs_len, x - hs_len - 3);
	t16at(t, rec_len, x - rec_len - 2);
}

/* A ServerHello: TLS 1.3 (supported_versions 0x0304) or TLS 1.2. The
 * session id echoes the ClientHello's (a resumed session, for TLS 1.2). */
static void server_hello(struct tb *t, bool tls13)
{
	size_t rec_len, hs_len, exts_len, x;
	t->n = 0;
	t8(t, 22), t16(t, 0x0303), rec_len = t->n, t16(t, 0);
	t8(t, 2), hs_len = t->n, t8(t, 0), t16(t, 0);
	t16(t, 0x0303);
	tfill(t, 0x20, 32);
	t8(t, 32), tfill(t, 0x50, 32);
	t16(t, tls13 ? 0x1301 : 0xc02f);
	t8(t, 0);
	exts_len = t->n, t16(t, 0);
	if (tls13) {
		t16(t, 43), t16(t, 2), t16(t, 0x0304);
		t16(t, 51), t16(t, 36), t16(t, 0x001d), t16(t, 32), tfill(t, 0xa0, 32);
	} else {
		t16(t, 0xff01), t16(t, 1), t8(t, 0);
	}
	x = t->n;
	t16at(t, exts_len, x - exts_len - 2);
	t24at(t, hs_len, x - hs_len - 3);
	t16at(t, rec_len, x - rec_len - 2);
}

/* Appends one handshake message (type, body of n bytes) in its own record. */
static void hs_record(struct tb *t, uint8_t type, const uint8_t *body, size_t n)
{
	t8(t, 22), t16(t, 0x0303), t16(t, (uint16_t)(4 + n));
	t8(t, type), t8(t, 0), t16(t, (uint16_t)n);
	memcpy(t->b + t->n, body, n), t->n += n;
}

/* A TLS 1.2 server's first flight (RFC 5246 7.3): ServerHello with a fresh
 * session id (a full handshake) and the given suite, Certificate (a dummy
 * body), then — when ske — a ServerKeyExchange naming x25519 (RFC 8422
 * 5.4, signed: rsa_pss_rsae_sha256 and 64 dummy bytes), then
 * ServerHelloDone. */
enum { SH_REC = 86, CERT_REC = 309, SKE_REC = 113, SHD_REC = 9 }; /* record sizes in it */

static void server_flight12(struct tb *t, uint16_t suite, bool ske)
{
	uint8_t body[512];
	size_t n = 0;
	t->n = 0;
	body[n++] = 3, body[n++] = 3;
	for (int i = 0; i < 32; i++)
		body[n++] = (uint8_t)(0x20 + i);
	body[n++] = 32;
	for (int i = 0; i < 32; i++)
		body[n++] = (uint8_t)(0xe0 + i); /* not the client's: no resumption */
	body[n++] = (uint8_t)(suite >> 8), body[n++] = (uint8_t)suite;
	body[n++] = 0;
	body[n++] = 0, body[n++] = 5, body[n++] = 0xff, body[n++] = 1, body[n++] = 0, body[n++] = 1, body[n++] = 0;
	hs_record(t, 2, body, n);
	memset(body, 0x30, 300);
	hs_record(t, 11, body, 300);
	if (ske) {
		n = 0;
		body[n++] = 3, body[n++] = 0, body[n++] = 0x1d, body[n++] = 32;
		for (int i = 0; i < 32; i++)
			body[n++] = (uint8_t)(0x90 + i);
		body[n++] = 8, body[n++] = 4, body[n++] = 0, body[n++] = 64;
		for (int i = 0; i < 64; i++)
			body[n++] = (uint8_t)i;
		hs_record(t, 12, body, n);
	}
	hs_record(t, 14, body, 0);
}

/* A record of the given type with n body bytes. */
static size_t tls_record(uint8_t *out, uint8_t type, size_t n)
{
	out[0] = type;
	w16(out + 1, 0x0303);
	w16(out + 3, (uint16_t)n);
	for (size_t i = 0; i < n; i++)
		out[5 + i] = (uint8_t)(i * 13 + 1);
	return 5 + n;
}

/* ---- tests ---------------------------------------------------------------- */

/* Handshake: SYN, SYN-ACK, ACK. Client ISN 1000, server ISN 5000. */
static void handshake(struct cid_engine *e, int64_t t, const struct ep *c, const struct ep *s)
{
	feed(e, t, 0, c, s, 1000, 0, CID_TCP_SYN, NULL, 0);
	feed(e, t + 1 * MS, 0, s, c, 5000, 1001, CID_TCP_SYN | CID_TCP_ACK, NULL, 0);
	feed(e, t + 2 * MS, 0, c, s, 1001, 5001, CID_TCP_ACK, NULL, 0);
}

static void test_direction(void **state)
{
	static const struct ep lo = {false, {10, 0, 0, 1}, 1000}, hi = {false, {10, 0, 0, 2}, 50000};
	struct cid_engine *e;
	(void)state;
	/* SYN from the low port: the SYN wins over the port heuristic */
	e = engine(0, 0, 0);
	feed(e, SEC, 0, &lo, &hi, 1, 0, CID_TCP_SYN, NULL, 0);
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(R.num_ended, 1);
	assert_true(addr_is(&R.e[0].cli, &lo));
	assert_int_equal(R.e[0].cport, 1000);
	assert_int_equal(R.e[0].sport, 50000);
	assert_false(R.e[0].guessed);
	assert_true(R.e[0].have_syn);
	assert_int_equal(R.e[0].syn_seq, 1);
	assert_int_equal(R.e[0].why, CID_END_EOC);
	cid_engine_free(e);

	/* first packet a SYN-ACK: its destination is the client */
	e = engine(0, 0, 0);
	feed(e, SEC, 0, &hi, &lo, 7, 2, CID_TCP_SYN | CID_TCP_ACK, NULL, 0);
	feed(e, SEC + MS, 0, &lo, &hi, 2, 8, CID_TCP_ACK, NULL, 0);
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(R.num_ended, 1);
	assert_true(addr_is(&R.e[0].cli, &lo));
	assert_false(R.e[0].guessed);
	assert_int_equal(R.e[0].c2s_pkts, 1);
	assert_int_equal(R.e[0].s2c_pkts, 1);
	cid_engine_free(e);

	/* mid-stream, from the server: ports decide, flagged as guessed */
	e = engine(0, 0, 0);
	feed(e, SEC, 0, &SRV, &CLI, 9, 9, CID_TCP_ACK, NULL, 0);
	feed(e, SEC, 0, &SRV6, &CLI6, 9, 9, CID_TCP_ACK, NULL, 0);
	feed(e, SEC, 0, &lo, &hi, 9, 9, CID_TCP_ACK, NULL, 0);
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(R.num_ended, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_true(R.e[i].guessed);
		assert_false(R.e[i].have_syn);
		if (R.e[i].cli.family == 6) {
			assert_true(addr_is(&R.e[i].cli, &CLI6));
			assert_int_equal(R.e[i].sport, 443);
		} else if (R.e[i].sport == 443) {
			assert_true(addr_is(&R.e[i].cli, &CLI));
			assert_int_equal(R.e[i].s2c_pkts, 1);
			assert_int_equal(R.e[i].c2s_pkts, 0);
		} else {
			assert_true(addr_is(&R.e[i].cli, &hi)); /* port < 1024 serves */
			assert_int_equal(R.e[i].sport, 1000);
		}
	}
	cid_engine_free(e);
}

static void test_counters_and_end_reasons(void **state)
{
	static const uint8_t data[300] = {1};
	const struct cid_engine_stats *st;
	struct cid_engine *e;
	(void)state;
	e = engine(0, 0, 0);
	handshake(e, SEC, &CLI, &SRV);
	feed(e, SEC + 3 * MS, 0, &CLI, &SRV, 1001, 5001, CID_TCP_ACK | CID_TCP_PSH, data, 100);
	feed(e, SEC + 4 * MS, 0, &SRV, &CLI, 5001, 1101, CID_TCP_ACK | CID_TCP_PSH, data, 300);
	feed(e, SEC + 5 * MS, 0, &CLI, &SRV, 1101, 5301, CID_TCP_ACK | CID_TCP_FIN, NULL, 0);
	feed(e, SEC + 6 * MS, 0, &SRV, &CLI, 5301, 1102, CID_TCP_ACK | CID_TCP_FIN, NULL, 0);
	feed(e, SEC + 7 * MS, 0, &CLI, &SRV, 1102, 5302, CID_TCP_ACK, NULL, 0); /* late ACK: same flow */
	/* a second connection ends with RST */
	handshake(e, 2 * SEC, &CLI6, &SRV6);
	feed(e, 2 * SEC + 5 * MS, 0, &SRV6, &CLI6, 5001, 1001, CID_TCP_RST | CID_TCP_ACK, NULL, 0);
	assert_int_equal(cid_engine_num_flows(e), 2);
	st = cid_engine_stats(e);
	assert_int_equal(st->frames, 12);
	assert_int_equal(st->decoded, 12);
	assert_int_equal(st->flows, 2);
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(cid_engine_num_flows(e), 0);
	assert_int_equal(R.num_ended, 2);
	for (size_t i = 0; i < 2; i++) {
		struct ended *x = &R.e[i];
		if (x->cli.family == 4) {
			assert_int_equal(x->why, CID_END_FIN);
			assert_int_equal(x->c2s_pkts, 5);
			assert_int_equal(x->c2s_bytes, 100);
			assert_int_equal(x->s2c_pkts, 3);
			assert_int_equal(x->s2c_bytes, 300);
			assert_false(x->guessed);
		} else {
			assert_int_equal(x->why, CID_END_RST);
			assert_int_equal(x->c2s_pkts, 2);
			assert_int_equal(x->s2c_pkts, 2);
		}
	}
	cid_engine_free(e);
}

static void test_idle_expiry(void **state)
{
	static const struct ep other = {false, {10, 0, 0, 9}, 40001};
	struct cid_engine *e;
	(void)state;
	e = engine(0, 10 * SEC, 0);
	handshake(e, SEC, &CLI, &SRV);
	feed(e, 5 * SEC, 0, &CLI, &SRV, 1001, 5001, CID_TCP_ACK, NULL, 0);
	/* 14 s later: still within 10 s of the last packet at 5 s? no: 15 > 10 */
	feed(e, 14 * SEC, 0, &other, &SRV, 1, 0, CID_TCP_SYN, NULL, 0);
	assert_int_equal(R.num_ended, 0);
	feed(e, 15 * SEC + 3 * MS, 0, &other, &SRV, 2, 0, CID_TCP_ACK, NULL, 0);
	assert_int_equal(R.num_ended, 1);
	assert_int_equal(R.e[0].why, CID_END_IDLE);
	assert_int_equal(R.e[0].cport, 40000);
	assert_int_equal(cid_engine_stats(e)->flows_idle, 1);
	assert_int_equal(cid_engine_num_flows(e), 1);
	/* the same tuple again is a new flow */
	feed(e, 16 * SEC, 0, &CLI, &SRV, 1001, 5001, CID_TCP_ACK, NULL, 0);
	assert_int_equal(cid_engine_num_flows(e), 2);
	/* explicit expiry (the live capture's timer) */
	cid_engine_expire(e, 100 * SEC);
	assert_int_equal(cid_engine_num_flows(e), 0);
	assert_int_equal(R.num_ended, 3);
	assert_int_equal(R.e[2].why, CID_END_IDLE);
	cid_engine_free(e);
}

static void test_table_cap(void **state)
{
	struct cid_engine *e;
	struct ep c = {false, {10, 1, 0, 0}, 0};
	(void)state;
	e = engine(1000, 0, 0);
	for (uint32_t i = 0; i < 100000; i++) {
		c.a[2] = (uint8_t)(i >> 16);
		c.a[3] = (uint8_t)(i >> 8);
		c.port = (uint16_t)(1024 + (i & 0xff) * 200);
		feed(e, SEC + (int64_t)i * 1000, 0, &c, &SRV, i, 0, CID_TCP_SYN, NULL, 0);
		if (i % 997 == 0)
			assert_true(cid_engine_num_flows(e) <= 1000);
	}
	assert_true(cid_engine_num_flows(e) <= 1000);
	assert_int_equal(cid_engine_stats(e)->flows, 100000);
	assert_int_equal(cid_engine_stats(e)->flows_evicted, 99000);
	assert_int_equal(R.evicted_seen, 99000);
	/* the least recently active went first: the very first flow */
	assert_int_equal(R.e[0].why, CID_END_EVICTED);
	assert_int_equal(R.e[0].syn_seq, 0);
	assert_int_equal(R.e[1].syn_seq, 1);
	cid_engine_free(e);
	assert_int_equal(R.num_ended_total, 100000);
}

static void test_table_cap_lru(void **state)
{
	static const struct ep a = {false, {10, 0, 1, 1}, 1111}, b = {false, {10, 0, 1, 2}, 2222},
			       c = {false, {10, 0, 1, 3}, 3333};
	struct cid_engine *e;
	(void)state;
	/* max_flows 2: touching a keeps it; b is the least recently active */
	e = engine(2, 0, 0);
	feed(e, 1 * SEC, 0, &a, &SRV, 10, 0, CID_TCP_SYN, NULL, 0);
	feed(e, 2 * SEC, 0, &b, &SRV, 20, 0, CID_TCP_SYN, NULL, 0);
	feed(e, 3 * SEC, 0, &a, &SRV, 11, 0, CID_TCP_ACK, NULL, 0);
	feed(e, 4 * SEC, 0, &c, &SRV, 30, 0, CID_TCP_SYN, NULL, 0);
	assert_int_equal(R.num_ended, 1);
	assert_int_equal(R.e[0].cport, 2222);
	assert_int_equal(R.e[0].why, CID_END_EVICTED);
	assert_int_equal(cid_engine_num_flows(e), 2);
	cid_engine_free(e);
}

/* A SYN flood past the table cap evicts the flood, not a connection the
 * server answered: its later request burst stays on it. */
static void test_table_cap_keeps_answered(void **state)
{
	static const uint8_t req[200] = {23, 3, 3, 0, 195}, ans[300] = {23, 3, 3, 1, 39};
	struct tb ch, sh;
	struct cid_engine *e;
	struct ep c = {false, {10, 9, 0, 0}, 0};
	size_t a = MAX_ENDED;
	(void)state;
	e = engine(16, 0, 0);
	client_hello(&ch);
	server_hello(&sh, true);
	handshake(e, SEC, &CLI, &SRV);
	feed(e, SEC + 3 * MS, 0, &CLI, &SRV, 1001, 5001, CID_TCP_ACK | CID_TCP_PSH, ch.b, ch.n);
	feed(e, SEC + 4 * MS, 0, &SRV, &CLI, 5001, 1001 + (uint32_t)ch.n, CID_TCP_ACK | CID_TCP_PSH, sh.b, sh.n);
	feed(e, SEC + 5 * MS, 0, &CLI, &SRV, 1001 + (uint32_t)ch.n, 5001 + (uint32_t)sh.n, CID_TCP_ACK, req,
	     sizeof(req));
	feed(e, SEC + 6 * MS, 0, &SRV, &CLI, 5001 + (uint32_t)sh.n, 1201 + (uint32_t)ch.n, CID_TCP_ACK, ans,
	     sizeof(ans));
	for (uint32_t i = 0; i < 40; i++) {
		c.a[3] = (uint8_t)i;
		c.port = (uint16_t)(2000 + i);
		feed(e, 2 * SEC + (int64_t)i * MS, 0, &c, &SRV, i, 0, CID_TCP_SYN, NULL, 0);
	}
	assert_int_equal(cid_engine_stats(e)->flows_evicted, 40 - 15);
	/* the second call on the keep-alive connection, after the flood */
	feed(e, 3 * SEC, 0, &CLI, &SRV, 1201 + (uint32_t)ch.n, 5301 + (uint32_t)sh.n, CID_TCP_ACK, req, sizeof(req));
	feed(e, 3 * SEC + MS, 0, &SRV, &CLI, 5301 + (uint32_t)sh.n, 1401 + (uint32_t)ch.n, CID_TCP_ACK, ans,
	     sizeof(ans));
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(R.evicted_seen, 25);
	for (size_t i = 0; i < R.num_ended; i++)
		if (R.e[i].cport == CLI.port)
			a = i;
	assert_true(a < R.num_ended);
	assert_int_equal(R.e[a].why, CID_END_EOC);
	assert_string_equal(R.e[a].sni, TEST_SNI);
	assert_int_equal(R.e[a].num_reqs, 2);
	assert_int_equal(cid_engine_held(e), 0);
	cid_engine_free(e);
}

/* Never-finished ClientHellos: the bytes held stay under flow_mem (flows
 * are evicted to keep them there), a real hello among them is still
 * parsed, and everything is given back at the end. */
static void test_flow_mem_cap(void **state)
{
	static uint8_t part[8000];
	struct cid_engine_config cfg;
	struct cid_engine *e;
	struct ep c = {false, {10, 8, 0, 0}, 0};
	struct tb ch, sh;
	const size_t cap = 1u << 20;
	size_t peak = 0;
	(void)state;
	memset(&R, 0, sizeof(R));
	cid_engine_config_default(&cfg);
	cfg.stream_cap = 16384;
	cfg.flow_mem = cap;
	cfg.hash_seed = 7;
	cfg.on_end = on_end;
	cfg.on_tls = on_tls;
	cfg.ctx = &R;
	e = cid_engine_new(&cfg);
	assert_non_null(e);
	/* a handshake record promising 16000 bytes, of which 8000 come */
	part[0] = 22, w16(part + 1, 0x0301), w16(part + 3, 16000);
	part[5] = 1, part[6] = 0, w16(part + 7, 15996), w16(part + 9, 0x0303);
	for (uint32_t i = 0; i < 300; i++) {
		c.a[2] = (uint8_t)(i >> 8), c.a[3] = (uint8_t)i;
		c.port = (uint16_t)(3000 + i);
		handshake(e, SEC + (int64_t)i * 10 * MS, &c, &SRV);
		feed(e, SEC + (int64_t)i * 10 * MS + 3 * MS, 0, &c, &SRV, 1001, 5001, CID_TCP_ACK, part, sizeof(part));
		if (cid_engine_held(e) > peak)
			peak = cid_engine_held(e);
	}
	assert_true(cid_engine_stats(e)->flows_evicted_mem > 150);
	assert_int_equal(cid_engine_stats(e)->flows_evicted, cid_engine_stats(e)->flows_evicted_mem);
	assert_true(peak <= cap);
	assert_true(cid_engine_stats(e)->held_peak <= cap + 16384 + 8192);
	/* a real connection still gets its hellos parsed */
	client_hello(&ch);
	server_hello(&sh, false);
	handshake(e, 10 * SEC, &CLI, &SRV);
	feed(e, 10 * SEC + 3 * MS, 0, &CLI, &SRV, 1001, 5001, CID_TCP_ACK | CID_TCP_PSH, ch.b, ch.n);
	feed(e, 10 * SEC + 4 * MS, 0, &SRV, &CLI, 5001, 1001 + (uint32_t)ch.n, CID_TCP_ACK | CID_TCP_PSH, sh.b,
	     sh.n);
	assert_int_equal(R.on_tls, 1); /* both hellos, and none of the flood */
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(R.num_ended_total, 301);
	assert_int_equal(R.on_tls, 1);
	assert_int_equal(cid_engine_held(e), 0);
	cid_engine_free(e);
}

static void test_duplicates(void **state)
{
	static const uint8_t data[64] = {7};
	struct cid_engine *e;
	(void)state;
	e = engine(0, 0, 0);
	feed(e, SEC, 1, &CLI, &SRV, 1000, 0, CID_TCP_SYN, NULL, 0);
	/* the same frame seen on a second interface (bridge + veth) */
	ip_id--;
	feed(e, SEC + 10000, 2, &CLI, &SRV, 1000, 0, CID_TCP_SYN, NULL, 0);
	feed(e, SEC + MS, 1, &CLI, &SRV, 1001, 0, CID_TCP_ACK, data, 64);
	ip_id--;
	feed(e, SEC + MS + 5000, 2, &CLI, &SRV, 1001, 0, CID_TCP_ACK, data, 64);
	/* a retransmission on the same interface is a packet of its own */
	ip_id--;
	feed(e, SEC + 300 * MS, 1, &CLI, &SRV, 1001, 0, CID_TCP_ACK, data, 64);
	assert_int_equal(cid_engine_stats(e)->dup_pkts, 2);
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(R.num_ended, 1);
	assert_int_equal(R.e[0].dup_pkts, 2);
	assert_int_equal(R.e[0].c2s_pkts, 3);
	assert_int_equal(R.e[0].c2s_bytes, 128);
	assert_int_equal(R.e[0].num_ifaces, 2);
	cid_engine_free(e);
}

/* on_touch: once per packet counted on a flow that has caller state
 * (f->user), duplicates included; never for the others. */
static unsigned touches;
static struct cid_flow *touched_flow;

static void on_new_mark(void *ctx, struct cid_flow *f)
{
	static int mark;
	(void)ctx;
	if (f->cport == CLI.port)
		f->user = &mark; /* the caller keeps state for this flow only */
}

static void on_touch(void *ctx, struct cid_flow *f)
{
	(void)ctx;
	touches++;
	touched_flow = f;
}

static void test_on_touch(void **state)
{
	static const uint8_t data[16] = {1};
	struct cid_engine_config cfg;
	struct cid_engine *e;
	struct ep other = CLI;
	(void)state;
	memset(&R, 0, sizeof(R));
	cid_engine_config_default(&cfg);
	cfg.hash_seed = 0x1234567;
	cfg.on_end = on_end;
	cfg.on_new = on_new_mark;
	cfg.on_touch = on_touch;
	cfg.ctx = &R;
	e = cid_engine_new(&cfg);
	assert_non_null(e);
	touches = 0;
	other.port = (uint16_t)(CLI.port + 1);
	feed(e, SEC, 1, &CLI, &SRV, 1000, 0, CID_TCP_SYN, NULL, 0);
	assert_int_equal(touches, 1);
	assert_non_null(touched_flow);
	assert_int_equal(touched_flow->cport, CLI.port);
	feed(e, SEC + MS, 1, &SRV, &CLI, 5000, 1001, CID_TCP_SYN | CID_TCP_ACK, NULL, 0);
	feed(e, SEC + 2 * MS, 1, &CLI, &SRV, 1001, 5001, CID_TCP_ACK, data, sizeof(data));
	assert_int_equal(touches, 3);
	/* the same frame on a second interface: dup_pkts changes */
	ip_id--;
	feed(e, SEC + 2 * MS + 5000, 2, &CLI, &SRV, 1001, 5001, CID_TCP_ACK, data, sizeof(data));
	assert_int_equal(touches, 4);
	/* a flow without caller state is not reported */
	feed(e, SEC + 3 * MS, 1, &other, &SRV, 7000, 0, CID_TCP_SYN, NULL, 0);
	feed(e, SEC + 4 * MS, 1, &other, &SRV, 7001, 0, CID_TCP_ACK, data, sizeof(data));
	assert_int_equal(touches, 4);
	/* the caller drops its state: no more calls */
	touched_flow->user = NULL;
	feed(e, SEC + 5 * MS, 1, &CLI, &SRV, 1017, 5001, CID_TCP_ACK, data, sizeof(data));
	assert_int_equal(touches, 4);
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(R.num_ended, 2);
	cid_engine_free(e);
}

/* Feeds the ClientHello in segments [cut0, cut1), [cut1, cut2) ... in the
 * order given, after a handshake; the flow's report lands in R. */
static void feed_hello_pieces(const struct tb *ch, const size_t *cuts, size_t num_cuts, const size_t *order)
{
	struct cid_engine *e = engine(16, 0, 4096);
	handshake(e, SEC, &CLI, &SRV);
	for (size_t k = 0; k + 1 < num_cuts; k++) {
		size_t i = order[k];
		size_t from = cuts[i], to = cuts[i + 1];
		feed(e, SEC + (int64_t)(10 + k) * MS, 0, &CLI, &SRV, 1001 + (uint32_t)from, 5001,
		     CID_TCP_ACK | CID_TCP_PSH, ch->b + from, to - from);
	}
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(R.num_ended, 1);
	cid_engine_free(e);
}

static void test_hello_split_everywhere(void **state)
{
	static struct tb ch;
	(void)state;
	client_hello(&ch);
	/* whole, in one segment */
	{
		size_t cuts[2] = {0, ch.n}, order[1] = {0};
		feed_hello_pieces(&ch, cuts, 2, order);
		assert_true(R.e[0].have_ch);
		assert_string_equal(R.e[0].sni, TEST_SNI);
		assert_int_equal(R.e[0].tls_status, CID_TLSS_CLIENT_ONLY);
		assert_int_equal(R.on_tls, 1);
	}
	/* two segments, later one first, split at every byte */
	for (size_t cut = 1; cut < ch.n; cut++) {
		size_t cuts[3] = {0, cut, ch.n}, order[2] = {1, 0};
		feed_hello_pieces(&ch, cuts, 3, order);
		if (!R.e[0].have_ch)
			fail_msg("split at %zu: no ClientHello", cut);
		assert_string_equal(R.e[0].sni, TEST_SNI);
	}
	/* three segments in the order 3, 1, 2 and 2, 3, 1, every pair of cuts */
	for (size_t a = 1; a < ch.n; a += 1) {
		for (size_t b = a + 1; b < ch.n; b += 3) {
			size_t cuts[4] = {0, a, b, ch.n}, o1[3] = {2, 0, 1}, o2[3] = {1, 2, 0};
			feed_hello_pieces(&ch, cuts, 4, o1);
			if (!R.e[0].have_ch || strcmp(R.e[0].sni, TEST_SNI))
				fail_msg("cuts %zu/%zu order 3,1,2: no SNI", a, b);
			feed_hello_pieces(&ch, cuts, 4, o2);
			if (!R.e[0].have_ch || strcmp(R.e[0].sni, TEST_SNI))
				fail_msg("cuts %zu/%zu order 2,3,1: no SNI", a, b);
		}
	}
}

static void test_hello_prefixes(void **state)
{
	static struct tb ch;
	(void)state;
	client_hello(&ch);
	/* every prefix of the hello, then the flow ends: never a hello that
	 * was not all there */
	for (size_t n = 1; n < ch.n; n++) {
		size_t cuts[2] = {0, n}, order[1] = {0};
		feed_hello_pieces(&ch, cuts, 2, order);
		assert_false(R.e[0].have_ch);
		assert_int_equal(R.on_tls, 0);
	}
}

/* A TLS flow on a keep-alive connection with three exchanges. */
static void test_keepalive_requests(void **state)
{
	static struct tb ch, sh;
	static uint8_t buf[8192];
	struct cid_engine *e;
	uint32_t cseq = 1001, sseq = 5001;
	size_t n;
	static const size_t req_len[3] = {400, 1200, 90}, resp_len[3] = {2000, 300, 5000};
	(void)state;
	client_hello(&ch);
	server_hello(&sh, false);
	e = engine(0, 0, 0);
	handshake(e, SEC, &CLI, &SRV);
	feed(e, SEC + 10 * MS, 0, &CLI, &SRV, cseq, sseq, CID_TCP_ACK | CID_TCP_PSH, ch.b, ch.n);
	cseq += (uint32_t)ch.n;
	feed(e, SEC + 20 * MS, 0, &SRV, &CLI, sseq, cseq, CID_TCP_ACK | CID_TCP_PSH, sh.b, sh.n);
	sseq += (uint32_t)sh.n;
	/* client key exchange + CCS + Finished (handshake records) */
	n = tls_record(buf, 22, 70);
	n += tls_record(buf + n, 20, 1);
	n += tls_record(buf + n, 22, 40);
	feed(e, SEC + 30 * MS, 0, &CLI, &SRV, cseq, sseq, CID_TCP_ACK | CID_TCP_PSH, buf, n);
	cseq += (uint32_t)n;
	n = tls_record(buf, 20, 1);
	n += tls_record(buf + n, 22, 40);
	feed(e, SEC + 40 * MS, 0, &SRV, &CLI, sseq, cseq, CID_TCP_ACK | CID_TCP_PSH, buf, n);
	sseq += (uint32_t)n;
	for (int i = 0; i < 3; i++) {
		int64_t t = (10 + 10 * i) * SEC;
		n = tls_record(buf, 23, req_len[i]);
		feed(e, t, 0, &CLI, &SRV, cseq, sseq, CID_TCP_ACK | CID_TCP_PSH, buf, n);
		cseq += (uint32_t)n;
		/* the answer in two records over two segments */
		n = tls_record(buf, 23, resp_len[i] / 2);
		feed(e, t + 150 * MS, 0, &SRV, &CLI, sseq, cseq, CID_TCP_ACK | CID_TCP_PSH, buf, n);
		sseq += (uint32_t)n;
		n = tls_record(buf, 23, resp_len[i] - resp_len[i] / 2);
		feed(e, t + 160 * MS, 0, &SRV, &CLI, sseq, cseq, CID_TCP_ACK | CID_TCP_PSH, buf, n);
		sseq += (uint32_t)n;
	}
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(R.num_ended, 1);
	assert_int_equal(R.e[0].tls_status, CID_TLSS_OK);
	assert_string_equal(R.e[0].sni, TEST_SNI);
	assert_int_equal(R.e[0].num_reqs, 3);
	for (int i = 0; i < 3; i++) {
		const struct cid_request *r = &R.e[0].reqs[i];
		assert_int_equal(r->ts_ns, (10 + 10 * i) * SEC);
		assert_int_equal(r->answer_ns, (10 + 10 * i) * SEC + 150 * MS);
		assert_int_equal(r->c2s_bytes, req_len[i] + 5);
		assert_int_equal(r->s2c_bytes, resp_len[i] + 10);
	}
	assert_int_equal(cid_engine_stats(e)->reqs, 3);
	cid_engine_free(e);
}

static void test_tls13_finished_not_a_request(void **state)
{
	static struct tb ch, sh;
	static uint8_t buf[8192];
	struct cid_engine *e;
	uint32_t cseq = 1001, sseq = 5001;
	size_t n;
	(void)state;
	client_hello(&ch);
	server_hello(&sh, true);
	e = engine(0, 0, 0);
	handshake(e, SEC, &CLI, &SRV);
	feed(e, SEC + 10 * MS, 0, &CLI, &SRV, cseq, sseq, CID_TCP_ACK | CID_TCP_PSH, ch.b, ch.n);
	cseq += (uint32_t)ch.n;
	/* ServerHello, CCS, then the encrypted handshake as application data */
	memcpy(buf, sh.b, sh.n);
	n = sh.n;
	n += tls_record(buf + n, 20, 1);
	n += tls_record(buf + n, 23, 2500);
	feed(e, SEC + 20 * MS, 0, &SRV, &CLI, sseq, cseq, CID_TCP_ACK | CID_TCP_PSH, buf, n);
	sseq += (uint32_t)n;
	/* client: CCS + Finished (53 bytes with SHA-256), then the request in
	 * a later segment */
	n = tls_record(buf, 20, 1);
	n += tls_record(buf + n, 23, 53);
	feed(e, SEC + 30 * MS, 0, &CLI, &SRV, cseq, sseq, CID_TCP_ACK | CID_TCP_PSH, buf, n);
	cseq += (uint32_t)n;
	n = tls_record(buf, 23, 700);
	feed(e, 2 * SEC, 0, &CLI, &SRV, cseq, sseq, CID_TCP_ACK | CID_TCP_PSH, buf, n);
	cseq += (uint32_t)n;
	n = tls_record(buf, 23, 900);
	feed(e, 2 * SEC + 80 * MS, 0, &SRV, &CLI, sseq, cseq, CID_TCP_ACK | CID_TCP_PSH, buf, n);
	sseq += (uint32_t)n;
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(R.num_ended, 1);
	assert_int_equal(R.e[0].tls_status, CID_TLSS_OK);
	assert_true(R.e[0].have_sh);
	assert_int_equal(R.e[0].num_reqs, 1);
	assert_int_equal(R.e[0].reqs[0].ts_ns, 2 * SEC);
	assert_int_equal(R.e[0].reqs[0].c2s_bytes, 705);
	assert_int_equal(R.e[0].reqs[0].answer_ns, 2 * SEC + 80 * MS);
	assert_int_equal(R.e[0].reqs[0].s2c_bytes, 905);
	cid_engine_free(e);
}

/* TLS 1.2 ECDHE: the group is in the ServerKeyExchange after the
 * Certificate (RFC 8422 5.4). The flow is reported once that message is
 * in, with the group; the server's buffer is let go at the end of the
 * plaintext flight; request bursts are counted as before. */
static void test_tls12_ske_group(void **state)
{
	static struct tb ch, fl;
	static uint8_t buf[8192];
	struct cid_engine *e;
	uint32_t cseq = 1001, sseq = 5001;
	size_t n, cut;
	(void)state;
	client_hello(&ch);
	server_flight12(&fl, 0xc02f, true);
	e = engine(0, 0, 0);
	handshake(e, SEC, &CLI, &SRV);
	feed(e, SEC + 10 * MS, 0, &CLI, &SRV, cseq, sseq, CID_TCP_ACK | CID_TCP_PSH, ch.b, ch.n);
	cseq += (uint32_t)ch.n;
	/* ServerHello and Certificate, and the ServerKeyExchange's first bytes */
	cut = SH_REC + CERT_REC + 50;
	feed(e, SEC + 20 * MS, 0, &SRV, &CLI, sseq, cseq, CID_TCP_ACK, fl.b, cut);
	assert_int_equal(R.on_tls, 0); /* not yet: the group is still to come */
	assert_true(cid_engine_held(e) > sizeof(struct cid_flow_tls));
	feed(e, SEC + 21 * MS, 0, &SRV, &CLI, sseq + (uint32_t)cut, cseq, CID_TCP_ACK | CID_TCP_PSH, fl.b + cut,
	     fl.n - cut);
	sseq += (uint32_t)fl.n;
	assert_int_equal(R.on_tls, 1);
	assert_true(R.group_at_tls);
	assert_int_equal(R.group_at_tls_code, 0x001d);
	/* nothing held but the TLS state: the flight's buffer is gone */
	assert_int_equal(cid_engine_held(e), sizeof(struct cid_flow_tls));
	/* client key exchange, CCS, Finished; server CCS, Finished */
	n = tls_record(buf, 22, 37);
	n += tls_record(buf + n, 20, 1);
	n += tls_record(buf + n, 22, 40);
	feed(e, SEC + 30 * MS, 0, &CLI, &SRV, cseq, sseq, CID_TCP_ACK | CID_TCP_PSH, buf, n);
	cseq += (uint32_t)n;
	n = tls_record(buf, 20, 1);
	n += tls_record(buf + n, 22, 40);
	feed(e, SEC + 40 * MS, 0, &SRV, &CLI, sseq, cseq, CID_TCP_ACK | CID_TCP_PSH, buf, n);
	sseq += (uint32_t)n;
	for (int i = 0; i < 2; i++) {
		n = tls_record(buf, 23, 300);
		feed(e, (2 + i) * SEC, 0, &CLI, &SRV, cseq, sseq, CID_TCP_ACK | CID_TCP_PSH, buf, n);
		cseq += (uint32_t)n;
		n = tls_record(buf, 23, 900);
		feed(e, (2 + i) * SEC + 50 * MS, 0, &SRV, &CLI, sseq, cseq, CID_TCP_ACK | CID_TCP_PSH, buf, n);
		sseq += (uint32_t)n;
	}
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(R.on_tls, 1);
	assert_int_equal(R.num_ended, 1);
	assert_int_equal(R.e[0].tls_status, CID_TLSS_OK);
	assert_true(R.e[0].have_group);
	assert_int_equal(R.e[0].group, 0x001d);
	assert_int_equal(R.e[0].num_reqs, 2);
	assert_int_equal(R.e[0].reqs[0].ts_ns, 2 * SEC);
	assert_int_equal(R.e[0].reqs[1].answer_ns, 3 * SEC + 50 * MS);
	assert_int_equal(cid_engine_held(e), 0);
	cid_engine_free(e);
}

/* The server's flight in two segments split at every byte: one report,
 * with the group, every time. */
static void test_tls12_flight_split_everywhere(void **state)
{
	static struct tb ch, fl;
	(void)state;
	client_hello(&ch);
	server_flight12(&fl, 0xc02b, true);
	for (size_t cut = 1; cut < fl.n; cut++) {
		struct cid_engine *e = engine(16, 0, 0);
		uint32_t cseq = 1001 + (uint32_t)ch.n;
		handshake(e, SEC, &CLI, &SRV);
		feed(e, SEC + 10 * MS, 0, &CLI, &SRV, 1001, 5001, CID_TCP_ACK | CID_TCP_PSH, ch.b, ch.n);
		/* the later piece first: held out of order, then delivered */
		feed(e, SEC + 20 * MS, 0, &SRV, &CLI, 5001 + (uint32_t)cut, cseq, CID_TCP_ACK, fl.b + cut, fl.n - cut);
		feed(e, SEC + 21 * MS, 0, &SRV, &CLI, 5001, cseq, CID_TCP_ACK, fl.b, cut);
		if (R.on_tls != 1 || !R.group_at_tls || R.group_at_tls_code != 0x001d)
			fail_msg("cut %zu: on_tls %u, group %d 0x%04x", cut, R.on_tls, R.group_at_tls,
				 R.group_at_tls_code);
		assert_int_equal(cid_engine_held(e), sizeof(struct cid_flow_tls));
		cid_engine_flush(e, CID_END_EOC);
		assert_int_equal(R.on_tls, 1);
		cid_engine_free(e);
	}
}

/* No group without a ServerKeyExchange that names one: a resumed session
 * (the session id echoed, or a ChangeCipherSpec before any
 * ServerKeyExchange), RSA and DHE key exchange, a flight that stops short,
 * a hole in the server's bytes, a flight of too many messages. Each is
 * reported once, and holds no buffer afterwards. */
static void test_tls12_no_group(void **state)
{
	static struct tb ch, sh, fl;
	static uint8_t buf[8192];
	struct cid_engine *e;
	uint32_t cseq;
	size_t n;
	(void)state;
	client_hello(&ch);
	cseq = 1001 + (uint32_t)ch.n;

	/* resumed: the ServerHello echoes the session id; reported at once */
	server_hello(&sh, false);
	e = engine(0, 0, 0);
	handshake(e, SEC, &CLI, &SRV);
	feed(e, SEC + 10 * MS, 0, &CLI, &SRV, 1001, 5001, CID_TCP_ACK | CID_TCP_PSH, ch.b, ch.n);
	feed(e, SEC + 20 * MS, 0, &SRV, &CLI, 5001, cseq, CID_TCP_ACK | CID_TCP_PSH, sh.b, sh.n);
	assert_int_equal(R.on_tls, 1);
	assert_false(R.group_at_tls);
	assert_int_equal(cid_engine_held(e), sizeof(struct cid_flow_tls));
	cid_engine_flush(e, CID_END_EOC);
	assert_false(R.e[0].have_group);
	cid_engine_free(e);

	/* resumed with a ticket the session id does not show: CCS, then the
	 * encrypted Finished, whose first bytes read like a ServerKeyExchange */
	server_flight12(&fl, 0xc02f, false);
	n = SH_REC;
	memcpy(buf, fl.b, n);
	n += tls_record(buf + n, 20, 1);
	buf[n] = 22, w16(buf + n + 1, 0x0303), w16(buf + n + 3, 40);
	buf[n + 5] = 12, buf[n + 6] = 0, buf[n + 7] = 0, buf[n + 8] = 36, buf[n + 9] = 3, buf[n + 10] = 0;
	buf[n + 11] = 0x17, buf[n + 12] = 1;
	memset(buf + n + 13, 0x41, 32);
	n += 45;
	e = engine(0, 0, 0);
	handshake(e, SEC, &CLI, &SRV);
	feed(e, SEC + 10 * MS, 0, &CLI, &SRV, 1001, 5001, CID_TCP_ACK | CID_TCP_PSH, ch.b, ch.n);
	feed(e, SEC + 20 * MS, 0, &SRV, &CLI, 5001, cseq, CID_TCP_ACK | CID_TCP_PSH, buf, n);
	assert_int_equal(R.on_tls, 1);
	assert_false(R.group_at_tls);
	assert_int_equal(cid_engine_held(e), sizeof(struct cid_flow_tls));
	cid_engine_free(e);

	/* RSA key exchange (AES128-GCM-SHA256) and DHE (DHE-RSA-AES128-GCM-SHA256):
	 * no curve to wait for, reported at the ServerHello */
	for (int k = 0; k < 2; k++) {
		server_flight12(&fl, k ? 0x009e : 0x009c, k == 1);
		e = engine(0, 0, 0);
		handshake(e, SEC, &CLI, &SRV);
		feed(e, SEC + 10 * MS, 0, &CLI, &SRV, 1001, 5001, CID_TCP_ACK | CID_TCP_PSH, ch.b, ch.n);
		/* the ServerHello record and the Certificate's first bytes */
		feed(e, SEC + 20 * MS, 0, &SRV, &CLI, 5001, cseq, CID_TCP_ACK, fl.b, SH_REC + 10);
		assert_int_equal(R.on_tls, 1);
		assert_false(R.group_at_tls);
		feed(e, SEC + 21 * MS, 0, &SRV, &CLI, 5001 + SH_REC + 10, cseq, CID_TCP_ACK, fl.b + SH_REC + 10,
		     fl.n - SH_REC - 10);
		cid_engine_flush(e, CID_END_EOC);
		assert_int_equal(R.on_tls, 1);
		assert_false(R.e[0].have_group);
		cid_engine_free(e);
	}

	/* the flight stops inside the Certificate, the flow ends: reported at
	 * its end, without a group */
	server_flight12(&fl, 0xc02f, true);
	e = engine(0, 0, 0);
	handshake(e, SEC, &CLI, &SRV);
	feed(e, SEC + 10 * MS, 0, &CLI, &SRV, 1001, 5001, CID_TCP_ACK | CID_TCP_PSH, ch.b, ch.n);
	feed(e, SEC + 20 * MS, 0, &SRV, &CLI, 5001, cseq, CID_TCP_ACK, fl.b, 200);
	assert_int_equal(R.on_tls, 0);
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(R.on_tls, 1);
	assert_int_equal(R.e[0].tls_status, CID_TLSS_OK);
	assert_false(R.e[0].have_group);
	assert_int_equal(cid_engine_held(e), 0);
	cid_engine_free(e);

	/* a hole in the server's bytes before the ServerKeyExchange: reported
	 * when the stream gives up on the hole (here: at the flow's end) */
	e = engine(0, 0, 0);
	handshake(e, SEC, &CLI, &SRV);
	feed(e, SEC + 10 * MS, 0, &CLI, &SRV, 1001, 5001, CID_TCP_ACK | CID_TCP_PSH, ch.b, ch.n);
	feed(e, SEC + 20 * MS, 0, &SRV, &CLI, 5001, cseq, CID_TCP_ACK, fl.b, 200);
	feed(e, SEC + 21 * MS, 0, &SRV, &CLI, 5001 + 300, cseq, CID_TCP_ACK, fl.b + 300, fl.n - 300);
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(R.on_tls, 1);
	assert_false(R.e[0].have_group);
	cid_engine_free(e);

	/* a ServerHello followed by ten Certificates: the walk gives up */
	assert_int_equal(fl.n, SH_REC + CERT_REC + SKE_REC + SHD_REC);
	memcpy(buf, fl.b, SH_REC);
	n = SH_REC;
	for (int i = 0; i < 10; i++) {
		static const uint8_t cert[] = {22, 3, 3, 0, 5, 11, 0, 0, 1, 0};
		memcpy(buf + n, cert, sizeof(cert)), n += sizeof(cert);
	}
	memcpy(buf + n, fl.b + SH_REC + CERT_REC, SKE_REC + SHD_REC);
	n += SKE_REC + SHD_REC;
	e = engine(0, 0, 0);
	handshake(e, SEC, &CLI, &SRV);
	feed(e, SEC + 10 * MS, 0, &CLI, &SRV, 1001, 5001, CID_TCP_ACK | CID_TCP_PSH, ch.b, ch.n);
	feed(e, SEC + 20 * MS, 0, &SRV, &CLI, 5001, cseq, CID_TCP_ACK | CID_TCP_PSH, buf, n);
	assert_int_equal(R.on_tls, 1);
	assert_false(R.group_at_tls);
	assert_int_equal(cid_engine_held(e), sizeof(struct cid_flow_tls));
	cid_engine_free(e);
}

static void test_port_reuse_after_fin(void **state)
{
	struct cid_engine *e;
	(void)state;
	e = engine(0, 0, 0);
	handshake(e, SEC, &CLI, &SRV);
	feed(e, SEC + 5 * MS, 0, &CLI, &SRV, 1001, 5001, CID_TCP_ACK | CID_TCP_FIN, NULL, 0);
	feed(e, SEC + 6 * MS, 0, &SRV, &CLI, 5001, 1002, CID_TCP_ACK | CID_TCP_FIN, NULL, 0);
	feed(e, SEC + 7 * MS, 0, &CLI, &SRV, 1002, 5002, CID_TCP_ACK, NULL, 0);
	/* the same ports again 500 ms later (within the linger time) */
	feed(e, SEC + 500 * MS, 0, &CLI, &SRV, 777777, 0, CID_TCP_SYN, NULL, 0);
	feed(e, SEC + 501 * MS, 0, &SRV, &CLI, 888888, 777778, CID_TCP_SYN | CID_TCP_ACK, NULL, 0);
	assert_int_equal(cid_engine_stats(e)->flows, 2);
	assert_int_equal(R.num_ended, 1);
	assert_int_equal(R.e[0].why, CID_END_FIN);
	assert_int_equal(R.e[0].syn_seq, 1000);
	assert_int_equal(R.e[0].c2s_pkts, 4);
	cid_engine_flush(e, CID_END_EOC);
	assert_int_equal(R.num_ended, 2);
	assert_int_equal(R.e[1].syn_seq, 777777);
	assert_int_equal(R.e[1].c2s_pkts, 1);
	assert_int_equal(R.e[1].s2c_pkts, 1);
	assert_int_equal(R.e[1].why, CID_END_EOC);
	/* a SYN retransmission (same ISN) is not a new flow */
	handshake(e, 10 * SEC, &CLI, &SRV);
	feed(e, 11 * SEC, 0, &CLI, &SRV, 1000, 0, CID_TCP_SYN, NULL, 0);
	assert_int_equal(cid_engine_num_flows(e), 1);
	cid_engine_free(e);
}

static void test_garbage_frames(void **state)
{
	static uint8_t junk[2000];
	struct cid_engine *e;
	(void)state;
	e = engine(16, 0, 1024);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	for (size_t n = 0; n < sizeof(junk); n += 7) {
		cid_engine_frame(e, (int64_t)n, CID_DLT_EN10MB, 0, junk, n, n);
		cid_engine_frame(e, (int64_t)n, CID_DLT_RAW, 0, junk, n, n);
		cid_engine_frame(e, (int64_t)n, 9999, 0, junk, n, n);
	}
	/* time going backwards is counted, not fatal */
	feed(e, 5 * SEC, 0, &CLI, &SRV, 1, 0, CID_TCP_SYN, NULL, 0);
	feed(e, 1 * SEC, 0, &SRV, &CLI, 1, 2, CID_TCP_SYN | CID_TCP_ACK, NULL, 0);
	assert_true(cid_engine_stats(e)->time_backwards >= 1);
	cid_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direction),
		cmocka_unit_test(test_counters_and_end_reasons),
		cmocka_unit_test(test_idle_expiry),
		cmocka_unit_test(test_table_cap),
		cmocka_unit_test(test_table_cap_lru),
		cmocka_unit_test(test_table_cap_keeps_answered),
		cmocka_unit_test(test_flow_mem_cap),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_on_touch),
		cmocka_unit_test(test_hello_split_everywhere),
		cmocka_unit_test(test_hello_prefixes),
		cmocka_unit_test(test_keepalive_requests),
		cmocka_unit_test(test_tls13_finished_not_a_request),
		cmocka_unit_test(test_tls12_ske_group),
		cmocka_unit_test(test_tls12_flight_split_everywhere),
		cmocka_unit_test(test_tls12_no_group),
		cmocka_unit_test(test_port_reuse_after_fin),
		cmocka_unit_test(test_garbage_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
