/*
 * test_http.c - HTTP/1.x request and response heads and the connection
 * state machine that IMDS evidence comes from.
 *
 * Real vectors: both directions of two keep-alive connections captured on
 * lo with tcpdump (tshark follow,tcp,raw) between a python http.server
 * IMDS stand-in and, for v_*_1, curl 7.88.1 with an IMDSv2 token (role list
 * then the role's credentials), for v_*_3, python http.client sending what
 * botocore sends (token PUT with its TTL, role list, credentials). The
 * credential answers hold "SECRET" and "ASIAFAKE" marks that must never
 * reach a record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "callerid/http.h"

static const char v_c2s_1[] =
	"474554202f6c61746573742f6d6574612d646174612f69616d2f73656375726974792d63726564656e7469616c732f20"
	"485454502f312e310d0a486f73743a203132372e302e302e313a31383038300d0a557365722d4167656e743a20637572"
	"6c2f372e38382e310d0a4163636570743a202a2f2a0d0a582d6177732d6563322d6d657461646174612d746f6b656e3a"
	"20415141454146616b65546f6b656e534543524554544f4b454e3d3d0d0a0d0a474554202f6c61746573742f6d657461"
	"2d646174612f69616d2f73656375726974792d63726564656e7469616c732f656b732d6e6f64652d726f6c6520485454"
	"502f312e310d0a486f73743a203132372e302e302e313a31383038300d0a557365722d4167656e743a206375726c2f37"
	"2e38382e310d0a4163636570743a202a2f2a0d0a582d6177732d6563322d6d657461646174612d746f6b656e3a204151"
	"41454146616b65546f6b656e534543524554544f4b454e3d3d0d0a0d0a"
;
static const char v_s2c_1[] =
	"485454502f312e3120323030204f4b0d0a5365727665723a2042617365485454502f302e3620507974686f6e2f332e31"
	"312e370d0a446174653a205468752c203236204e6f7620323032362032333a30333a343320474d540d0a436f6e74656e"
	"742d547970653a20746578742f706c61696e0d0a436f6e74656e742d4c656e6774683a2031330d0a0d0a656b732d6e6f"
	"64652d726f6c65485454502f312e3120323030204f4b0d0a5365727665723a2042617365485454502f302e3620507974"
	"686f6e2f332e31312e370d0a446174653a205468752c203236204e6f7620323032362032333a30333a343320474d540d"
	"0a436f6e74656e742d547970653a206170706c69636174696f6e2f6a736f6e0d0a436f6e74656e742d4c656e6774683a"
	"203137320d0a0d0a7b22436f6465223a202253756363657373222c20224163636573734b65794964223a202241534941"
	"46414b454b455949443132333435222c20225365637265744163636573734b6579223a20225345435245545345435245"
	"54534543524554534543524554222c2022546f6b656e223a202253455353494f4e544f4b454e534543524554222c2022"
	"45787069726174696f6e223a2022323032362d31312d32375430353a30303a30305a227d"
;
static const char v_c2s_3[] =
	"505554202f6c61746573742f6170692f746f6b656e20485454502f312e310d0a486f73743a203132372e302e302e313a"
	"31383038300d0a4163636570742d456e636f64696e673a206964656e746974790d0a436f6e74656e742d4c656e677468"
	"3a20300d0a782d6177732d6563322d6d657461646174612d746f6b656e2d74746c2d7365636f6e64733a203231363030"
	"0d0a557365722d4167656e743a20426f746f636f72652f312e33342e3020507974686f6e2f332e31312e32204c696e75"
	"782f362e312e300d0a0d0a474554202f6c61746573742f6d6574612d646174612f69616d2f73656375726974792d6372"
	"6564656e7469616c732f20485454502f312e310d0a486f73743a203132372e302e302e313a31383038300d0a41636365"
	"70742d456e636f64696e673a206964656e746974790d0a782d6177732d6563322d6d657461646174612d746f6b656e3a"
	"20415141454146616b65546f6b656e534543524554544f4b454e3d3d0d0a557365722d4167656e743a20426f746f636f"
	"72652f312e33342e3020507974686f6e2f332e31312e32204c696e75782f362e312e300d0a0d0a474554202f6c617465"
	"73742f6d6574612d646174612f69616d2f73656375726974792d63726564656e7469616c732f656b732d6e6f64652d72"
	"6f6c6520485454502f312e310d0a486f73743a203132372e302e302e313a31383038300d0a4163636570742d456e636f"
	"64696e673a206964656e746974790d0a782d6177732d6563322d6d657461646174612d746f6b656e3a20415141454146"
	"616b65546f6b656e534543524554544f4b454e3d3d0d0a557365722d4167656e743a20426f746f636f72652f312e3334"
	"2e3020507974686f6e2f332e31312e32204c696e75782f362e312e300d0a0d0a"
;
static const char v_s2c_3[] =
	"485454502f312e3120323030204f4b0d0a5365727665723a2042617365485454502f302e3620507974686f6e2f332e31"
	"312e370d0a446174653a205468752c203236204e6f7620323032362032333a30333a343420474d540d0a436f6e74656e"
	"742d547970653a20746578742f706c61696e0d0a436f6e74656e742d4c656e6774683a2032370d0a0d0a415141454146"
	"616b65546f6b656e534543524554544f4b454e3d3d485454502f312e3120323030204f4b0d0a5365727665723a204261"
	"7365485454502f302e3620507974686f6e2f332e31312e370d0a446174653a205468752c203236204e6f762032303236"
	"2032333a30333a343420474d540d0a436f6e74656e742d547970653a20746578742f706c61696e0d0a436f6e74656e74"
	"2d4c656e6774683a2031330d0a0d0a656b732d6e6f64652d726f6c65485454502f312e3120323030204f4b0d0a536572"
	"7665723a2042617365485454502f302e3620507974686f6e2f332e31312e370d0a446174653a205468752c203236204e"
	"6f7620323032362032333a30333a343420474d540d0a436f6e74656e742d547970653a206170706c69636174696f6e2f"
	"6a736f6e0d0a436f6e74656e742d4c656e6774683a203137320d0a0d0a7b22436f6465223a202253756363657373222c"
	"20224163636573734b65794964223a20224153494146414b454b455949443132333435222c2022536563726574416363"
	"6573734b6579223a2022534543524554534543524554534543524554534543524554222c2022546f6b656e223a202253"
	"455353494f4e544f4b454e534543524554222c202245787069726174696f6e223a2022323032362d31312d3237543035"
	"3a30303a30305a227d"
;

static size_t unhex(uint8_t **out, const char *hex)
{
	size_t n = strlen(hex) / 2;
	uint8_t *p = malloc(n ? n : 1);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		char two[3] = {hex[2 * i], hex[2 * i + 1], 0};
		v = (unsigned)strtoul(two, NULL, 16);
		p[i] = (uint8_t)v;
	}
	*out = p;
	return n;
}

/* true when the bytes of *r contain needle anywhere (the record is flat). */
static bool rec_contains(const struct cid_http_rec *r, const char *needle)
{
	const uint8_t *p = (const uint8_t *)r;
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= sizeof(*r); i++)
		if (memcmp(p + i, needle, n) == 0)
			return true;
	return false;
}

#define MAX_RECS 64
struct recs {
	struct cid_http_rec r[MAX_RECS];
	size_t n;
};

static void drain(struct cid_http_conn *c, struct recs *out)
{
	struct cid_http_rec r;
	while (cid_http_conn_next(c, &r)) {
		assert_true(out->n < MAX_RECS);
		out->r[out->n++] = r;
	}
}

/* Feeds both directions in chunks of `step` bytes (0: whole), popping
 * records as they come. interleave: alternate client and server chunks
 * (answers may then be parsed before their request, as when a caller
 * drains the server direction first); else the client side goes first,
 * as it does on the wire. */
static void run_conn2(struct recs *out, const uint8_t *c2s, size_t c2s_len, const uint8_t *s2c, size_t s2c_len,
		      size_t step, bool interleave)
{
	struct cid_http_conn *c = cid_http_conn_new();
	size_t a = 0, b = 0;
	int64_t t = 1000;
	assert_non_null(c);
	memset(out, 0, sizeof(*out));
	if (!step)
		step = c2s_len > s2c_len ? c2s_len : s2c_len;
	while (a < c2s_len || b < s2c_len) {
		size_t n = c2s_len - a < step ? c2s_len - a : step;
		if (n)
			assert_int_equal(cid_http_conn_feed(c, 0, t, c2s + a, n), CID_OK);
		a += n;
		t += 1000;
		drain(c, out);
		if (!interleave && a < c2s_len)
			continue;
		n = s2c_len - b < step ? s2c_len - b : step;
		if (n)
			assert_int_equal(cid_http_conn_feed(c, 1, t, s2c + b, n), CID_OK);
		b += n;
		t += 1000;
		drain(c, out);
	}
	cid_http_conn_finish(c);
	drain(c, out);
	cid_http_conn_free(c);
}

static void run_conn(struct recs *out, const uint8_t *c2s, size_t c2s_len, const uint8_t *s2c, size_t s2c_len,
		     size_t step)
{
	run_conn2(out, c2s, c2s_len, s2c, s2c_len, step, true);
}

static void check_botocore(const struct recs *rs)
{
	assert_int_equal(rs->n, 3);
	assert_string_equal(rs->r[0].req.method, "PUT");
	assert_string_equal(rs->r[0].req.path, "/latest/api/token");
	assert_int_equal(rs->r[0].req.imds, CID_HTTP_IMDS_TOKEN);
	assert_true(rs->r[0].req.have_token_ttl);
	assert_int_equal(rs->r[0].req.token_ttl, 21600);
	assert_int_equal(rs->r[0].req.imdsv, 2);
	assert_false(rs->r[0].req.imds_token);
	assert_string_equal(rs->r[0].req.user_agent, "Botocore/1.34.0 Python/3.11.2 Linux/6.1.0");
	assert_string_equal(rs->r[0].req.host, "127.0.0.1:18080");
	assert_int_equal(rs->r[0].status, 200);
	assert_int_equal(rs->r[1].req.imds, CID_HTTP_IMDS_ROLE_LIST);
	assert_true(rs->r[1].req.imds_token);
	assert_int_equal(rs->r[1].status, 200);
	assert_int_equal(rs->r[2].req.imds, CID_HTTP_IMDS_CREDS);
	assert_string_equal(rs->r[2].req.role, "eks-node-role");
	assert_int_equal(rs->r[2].req.imdsv, 2);
	assert_int_equal(rs->r[2].status, 200);
	for (size_t i = 0; i < rs->n; i++) {
		assert_int_equal(rs->r[i].parse_error[0], 0);
		assert_true(rs->r[i].answer_ns != 0);
		/* the answers' bodies (token, credentials) never reach a record */
		assert_false(rec_contains(&rs->r[i], "SECRET"));
		assert_false(rec_contains(&rs->r[i], "ASIAFAKE"));
		assert_false(rec_contains(&rs->r[i], "eks-node-roleHTTP"));
	}
}

static void test_real_botocore(void **state)
{
	uint8_t *c2s, *s2c;
	size_t c2s_len = unhex(&c2s, v_c2s_3), s2c_len = unhex(&s2c, v_s2c_3);
	static struct recs rs;
	(void)state;
	/* whole, then split at every size from 1 byte up: same records */
	run_conn(&rs, c2s, c2s_len, s2c, s2c_len, 0);
	check_botocore(&rs);
	for (size_t step = 1; step < 64; step += (step < 8 ? 1 : 7)) {
		run_conn(&rs, c2s, c2s_len, s2c, s2c_len, step);
		check_botocore(&rs);
	}
	free(c2s);
	free(s2c);
}

static void test_real_curl(void **state)
{
	uint8_t *c2s, *s2c;
	size_t c2s_len = unhex(&c2s, v_c2s_1), s2c_len = unhex(&s2c, v_s2c_1);
	static struct recs rs;
	(void)state;
	run_conn(&rs, c2s, c2s_len, s2c, s2c_len, 0);
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.r[0].req.user_agent, "curl/7.88.1");
	assert_int_equal(rs.r[0].req.imds, CID_HTTP_IMDS_ROLE_LIST);
	assert_int_equal(rs.r[1].req.imds, CID_HTTP_IMDS_CREDS);
	assert_string_equal(rs.r[1].req.role, "eks-node-role");
	assert_true(rs.r[1].req.imds_token);
	assert_int_equal(rs.r[1].status, 200);
	assert_false(rec_contains(&rs.r[1], "SECRET"));
	/* only the client side seen (asymmetric capture): records, no status */
	run_conn(&rs, c2s, c2s_len, NULL, 0, 7);
	assert_int_equal(rs.n, 2);
	assert_int_equal(rs.r[0].status, 0);
	assert_int_equal(rs.r[1].answer_ns, 0);
	free(c2s);
	free(s2c);
}

/* Every prefix of a head is TRUNCATED; the whole head is OK. Every prefix
 * of a stream yields exactly the requests whose heads are complete. */
static void test_truncation_sweep(void **state)
{
	uint8_t *c2s, *s2c;
	size_t c2s_len = unhex(&c2s, v_c2s_3), s2c_len = unhex(&s2c, v_s2c_3);
	struct cid_http_req r;
	struct cid_http_resp resp;
	size_t head, head2, k;
	const char *why;
	static struct recs rs;
	(void)state;
	assert_int_equal(cid_http_parse_request(&r, &head, &why, c2s, c2s_len), CID_OK);
	for (k = 0; k < head; k++) {
		size_t h;
		assert_int_equal(cid_http_parse_request(&r, &h, &why, c2s, k), CID_TRUNCATED);
	}
	assert_int_equal(cid_http_parse_request(&r, &k, &why, c2s, head), CID_OK);
	assert_int_equal(k, head);
	assert_int_equal(cid_http_parse_response(&resp, &head2, &why, s2c, s2c_len), CID_OK);
	assert_int_equal(resp.status, 200);
	assert_true(resp.have_content_length);
	for (k = 0; k < head2; k++) {
		size_t h;
		assert_int_equal(cid_http_parse_response(&resp, &h, &why, s2c, k), CID_TRUNCATED);
	}
	for (k = 0; k <= c2s_len; k++) {
		size_t heads = 0;
		/* count the complete heads in the prefix */
		for (size_t i = 0; i + 4 <= k; i++)
			if (memcmp(c2s + i, "\r\n\r\n", 4) == 0)
				heads++;
		run_conn(&rs, c2s, k, s2c, s2c_len, 0);
		assert_int_equal(rs.n, heads);
		for (size_t i = 0; i < rs.n; i++)
			assert_int_equal(rs.r[i].parse_error[0], 0);
	}
	free(c2s);
	free(s2c);
}

struct hostile {
	const char *name;
	const char *bytes;
	size_t len;                /* 0: strlen */
	enum cid_status want;
	const char *reason_part;   /* substring of the reason */
};

static const struct hostile hostile_reqs[] = {
	{"binary (TLS hello)", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15, CID_MALFORMED, "method"},
	{"no version (HTTP/0.9)", "GET /latest/meta-data/\r\n\r\n", 0, CID_MALFORMED, "version"},
	{"bad version", "GET / HTTP/1.x\r\n\r\n", 0, CID_MALFORMED, "version"},
	{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, CID_UNSUPPORTED, "HTTP/1"},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", 0, CID_MALFORMED, "folding"},
	{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 0, CID_MALFORMED, "colon"},
	{"no colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", 0, CID_MALFORMED, "colon"},
	{"empty name", "GET / HTTP/1.1\r\n: a\r\n\r\n", 0, CID_MALFORMED, "name"},
	{"two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0, CID_MALFORMED, "Host"},
	{"bad Content-Length", "PUT / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 0, CID_MALFORMED, "Content-Length"},
	{"negative Content-Length", "PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 0, CID_MALFORMED, "Content-Length"},
	{"disagreeing Content-Length", "PUT / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", 0, CID_MALFORMED,
	 "Content-Length"},
	{"huge Content-Length", "PUT / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0,
	 CID_MALFORMED, "Content-Length"},
	{"Content-Length wrapping 64 bits", "PUT / HTTP/1.1\r\nContent-Length: 46116860184273879040\r\n\r\n", 0,
	 CID_MALFORMED, "Content-Length"},
	{"Content-Length one past the cap", "PUT / HTTP/1.1\r\nContent-Length: 4611686018427387905\r\n\r\n", 0,
	 CID_MALFORMED, "Content-Length"},
	{"TE not chunked", "PUT / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 0, CID_MALFORMED, "chunked"},
	{"bare CR", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 0, CID_MALFORMED, "CR"},
	{"NUL in value", "GET / HTTP/1.1\r\nUser-Agent: a\0b\r\n\r\n", 35, CID_MALFORMED, "control"},
	{"control in target", "GET /a\x01 HTTP/1.1\r\n\r\n", 0, CID_MALFORMED, "target"},
	{"long method", "GETGETGETGETGETGETGET / HTTP/1.1\r\n\r\n", 0, CID_MALFORMED, "method"},
	{"double space", "GET  / HTTP/1.1\r\n\r\n", 0, CID_MALFORMED, "request-line"},
	{"trailing junk", "GET / HTTP/1.1 x\r\n\r\n", 0, CID_MALFORMED, "version"},
	{"missing CRLF (no end)", "GET / HTTP/1.1\r\nHost: a\r\n", 0, CID_TRUNCATED, "complete"},
	{"LF only (accepted)", "GET /latest/meta-data/ HTTP/1.0\nHost: a\n\n", 0, CID_OK, ""},
};

static void test_hostile_requests(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hostile_reqs) / sizeof(hostile_reqs[0]); i++) {
		const struct hostile *h = &hostile_reqs[i];
		size_t len = h->len ? h->len : strlen(h->bytes), head;
		uint8_t *copy = malloc(len);
		struct cid_http_req r;
		const char *why = NULL;
		enum cid_status st;
		memcpy(copy, h->bytes, len);
		st = cid_http_parse_request(&r, &head, &why, copy, len);
		if (st != h->want || !why || !strstr(why, h->reason_part))
			fail_msg("%s: got %s (%s), want %s (%s)", h->name, cid_status_name(st), why ? why : "-",
				 cid_status_name(h->want), h->reason_part);
		/* the connection stops that direction with the same reason */
		if (st == CID_MALFORMED || st == CID_UNSUPPORTED) {
			struct cid_http_conn *c = cid_http_conn_new();
			struct cid_http_rec rec;
			assert_int_equal(cid_http_conn_feed(c, 0, 5, copy, len), st);
			assert_true(strlen(cid_http_conn_error(c, 0)) > 0);
			/* later bytes are ignored, and do not crash */
			assert_int_equal(cid_http_conn_feed(c, 0, 6, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18),
					 st);
			if (st == CID_MALFORMED) {
				assert_true(cid_http_conn_next(c, &rec));
				assert_int_not_equal(rec.parse_error[0], 0);
				assert_non_null(strstr(rec.parse_error, cid_http_conn_error(c, 0)));
				assert_int_equal(rec.ts_ns, 5);
			}
			assert_false(cid_http_conn_next(c, &rec));
			cid_http_conn_free(c);
		}
		free(copy);
	}
}

static void test_head_cap(void **state)
{
	struct cid_http_conn *c = cid_http_conn_new();
	uint8_t *big = malloc(20000);
	struct cid_http_rec rec;
	(void)state;
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	memset(big + 19, 'a', 20000 - 19);
	/* a head that never ends: stopped at the cap, memory bounded */
	assert_int_equal(cid_http_conn_feed(c, 0, 1, big, 20000), CID_MALFORMED);
	assert_non_null(strstr(cid_http_conn_error(c, 0), "8192"));
	assert_true(cid_http_conn_next(c, &rec));
	assert_string_equal(rec.parse_error, "request: head longer than 8192 bytes");
	cid_http_conn_free(c);
	/* exactly at the cap is fine */
	c = cid_http_conn_new();
	memset(big + 19, 'a', CID_HTTP_HEAD_CAP - 19 - 4);
	memcpy(big + CID_HTTP_HEAD_CAP - 4, "\r\n\r\n", 4);
	assert_int_equal(cid_http_conn_feed(c, 0, 1, big, CID_HTTP_HEAD_CAP), CID_OK);
	cid_http_conn_finish(c);
	assert_true(cid_http_conn_next(c, &rec));
	assert_int_equal(rec.parse_error[0], 0);
	cid_http_conn_free(c);
	free(big);
}

/* Bodies by Content-Length and chunked coding in both directions, HEAD,
 * 204, 1xx, close-delimited; body bytes counted, never kept. */
static void test_bodies(void **state)
{
	static const char req[] =
		"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
		"5;ext=\"x\"\r\nSECRE\r\n0A\r\nTSECRETSEC\r\n0\r\nTrailer: v\r\n\r\n"
		"PUT /b HTTP/1.1\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
		"6\r\nSECRET\r\n0\r\n\r\n"
		"HEAD /c HTTP/1.1\r\n\r\n"
		"GET /d HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 6\r\n\r\nSECRET"
		"GET /e HTTP/1.1\r\n\r\n"
		"GET /latest/meta-data/iam/security-credentials/r1 HTTP/1.0\r\n\r\n";
	static const char resp[] =
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nSEC\r\n3\r\nRET\r\n0\r\n\r\n"
		"HTTP/1.1 201 Created\r\nContent-Length: 6\r\n\r\nSECRET"
		"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" /* HEAD: no body */
		"HTTP/1.1 100 Continue\r\n\r\n"
		"HTTP/1.1 200\r\nContent-Length: 6\r\n\r\nSECRET"
		"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
		"HTTP/1.0 200 OK\r\n\r\n{\"SecretAccessKey\":\"SECRET\"}HTTP/1.1 999 not a head, body";
	static const uint16_t want_status[] = {200, 201, 200, 200, 204, 200};
	static struct recs rs;
	(void)state;
	for (size_t step = 0; step < 5; step++) {
		run_conn2(&rs, (const uint8_t *)req, strlen(req), (const uint8_t *)resp, strlen(resp), step, false);
		assert_int_equal(rs.n, 6);
		for (size_t i = 0; i < rs.n; i++) {
			assert_int_equal(rs.r[i].parse_error[0], 0);
			if (rs.r[i].status != want_status[i])
				fail_msg("step %zu record %zu (%s): status %u", step, i, rs.r[i].req.path, rs.r[i].status);
			assert_false(rec_contains(&rs.r[i], "SECRET"));
		}
		assert_string_equal(rs.r[1].req.method, "PUT");
		assert_true(rs.r[1].req.chunked);
		assert_string_equal(rs.r[5].req.role, "r1");
		assert_int_equal(rs.r[5].req.imdsv, 1);
		assert_int_equal(rs.r[5].req.version_minor, 0);
	}
}

static void test_chunk_hostile(void **state)
{
	static const char *const bad[] = {
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cid_http_conn *c = cid_http_conn_new();
		assert_int_equal(cid_http_conn_feed(c, 0, 1, (const uint8_t *)bad[i], strlen(bad[i])),
				 CID_MALFORMED);
		assert_non_null(strstr(cid_http_conn_error(c, 0), "chunk"));
		cid_http_conn_free(c);
	}
}

static void test_responses(void **state)
{
	static const struct {
		const char *s;
		enum cid_status want;
		uint16_t status;
	} t[] = {
		{"HTTP/1.1 200 OK\r\n\r\n", CID_OK, 200},
		{"HTTP/1.1 404\r\n\r\n", CID_OK, 404},
		{"HTTP/1.0 401 Unauthorized\r\nConnection: close\r\n\r\n", CID_OK, 401},
		{"HTTP/1.1 20 OK\r\n\r\n", CID_MALFORMED, 0},
		{"HTTP/1.1 099 x\r\n\r\n", CID_MALFORMED, 0},
		{"HTTP/1.1 2000 x\r\n\r\n", CID_MALFORMED, 0},
		{"HTTP/2 200\r\n\r\n", CID_MALFORMED, 0},
		{"HTTP/2.0 200 OK\r\n\r\n", CID_UNSUPPORTED, 0},
		{"SSH-2.0-OpenSSH\r\n\r\n", CID_MALFORMED, 0},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", CID_MALFORMED, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cid_http_resp r;
		size_t head;
		const char *why;
		enum cid_status st = cid_http_parse_response(&r, &head, &why, (const uint8_t *)t[i].s, strlen(t[i].s));
		if (st != t[i].want)
			fail_msg("%s: got %s (%s)", t[i].s, cid_status_name(st), why);
		if (st == CID_OK)
			assert_int_equal(r.status, t[i].status);
	}
}

/* A server side that breaks releases the waiting requests; a 101 stops
 * both parsing and matching; a gap stops a direction. */
static void test_server_stops(void **state)
{
	struct cid_http_conn *c = cid_http_conn_new();
	struct cid_http_rec r;
	static const char req[] = "GET /latest/meta-data/ HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nGARBAGE\x01\r\n\r\n";
	(void)state;
	assert_int_equal(cid_http_conn_feed(c, 0, 1, (const uint8_t *)req, strlen(req)), CID_OK);
	assert_false(cid_http_conn_next(c, &r));
	assert_int_equal(cid_http_conn_feed(c, 1, 2, (const uint8_t *)resp, strlen(resp)), CID_MALFORMED);
	assert_true(cid_http_conn_next(c, &r));
	assert_int_equal(r.status, 200);
	assert_int_equal(r.req.imds, CID_HTTP_IMDS_OTHER);
	assert_true(cid_http_conn_next(c, &r));
	assert_int_equal(r.status, 0);
	assert_string_equal(r.req.path, "/x");
	assert_true(cid_http_conn_next(c, &r));
	assert_non_null(strstr(r.parse_error, "response: "));
	assert_false(cid_http_conn_next(c, &r));
	/* later requests come out at once: no answer will be parsed */
	assert_int_equal(cid_http_conn_feed(c, 0, 3, (const uint8_t *)req, 35), CID_OK);
	assert_true(cid_http_conn_next(c, &r));
	assert_int_equal(r.ts_ns, 3);
	cid_http_conn_gap(c, 0, 4);
	assert_int_equal(cid_http_conn_feed(c, 0, 3, (const uint8_t *)req, 35), CID_MALFORMED);
	assert_true(cid_http_conn_next(c, &r));
	assert_string_equal(r.parse_error, "request: gap in the stream");
	assert_int_equal(r.ts_ns, 4);
	cid_http_conn_free(c);

	c = cid_http_conn_new();
	assert_int_equal(cid_http_conn_feed(c, 0, 1, (const uint8_t *)"GET / HTTP/1.1\r\nUpgrade: x\r\n\r\n", 30),
			 CID_OK);
	assert_int_equal(cid_http_conn_feed(c, 1, 1,
					    (const uint8_t *)"HTTP/1.1 101 Switching\r\n\r\n\x00\x01\x02", 29),
			 CID_UNSUPPORTED);
	assert_true(cid_http_conn_next(c, &r));
	assert_int_equal(r.status, 0);
	assert_false(cid_http_conn_next(c, &r)); /* UNSUPPORTED is not an error record */
	cid_http_conn_free(c);
}

/* Requests with no answers visible: records keep flowing (the oldest is
 * released past half the queue), none is lost when the caller pops. A
 * caller that never pops loses records past the queue, counted. */
static void test_pipeline(void **state)
{
	struct cid_http_conn *c = cid_http_conn_new();
	struct cid_http_rec r;
	static const char one[] = "GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n";
	size_t got = 0;
	(void)state;
	for (int i = 0; i < 100; i++) {
		assert_int_equal(cid_http_conn_feed(c, 0, i, (const uint8_t *)one, strlen(one)), CID_OK);
		while (cid_http_conn_next(c, &r))
			got++;
	}
	cid_http_conn_finish(c);
	while (cid_http_conn_next(c, &r))
		got++;
	assert_int_equal(got, 100);
	assert_int_equal(cid_http_conn_stats(c)->dropped, 0);
	/* late answers for released requests are not matched to newer ones */
	assert_int_equal(cid_http_conn_feed(c, 1, 200, (const uint8_t *)"HTTP/1.1 200 OK\r\n\r\n", 19), CID_OK);
	assert_false(cid_http_conn_next(c, &r));
	cid_http_conn_free(c);

	c = cid_http_conn_new();
	for (int i = 0; i < 40; i++)
		assert_int_equal(cid_http_conn_feed(c, 0, i, (const uint8_t *)one, strlen(one)), CID_OK);
	assert_int_equal(cid_http_conn_stats(c)->dropped, 40 - CID_HTTP_PIPELINE);
	cid_http_conn_free(c);
}

static void test_imds_paths(void **state)
{
	static const struct {
		const char *line;
		enum cid_http_imds k;
		const char *role;
	} t[] = {
		{"GET /latest/meta-data/iam/security-credentials/my-role", CID_HTTP_IMDS_CREDS, "my-role"},
		{"GET /latest/meta-data/iam/security-credentials/my-role/", CID_HTTP_IMDS_CREDS, "my-role"},
		{"GET /2021-07-15/meta-data/iam/security-credentials/R+=,.@_-1", CID_HTTP_IMDS_CREDS, "R+=,.@_-1"},
		{"GET http://169.254.169.254/latest/meta-data/iam/security-credentials/p", CID_HTTP_IMDS_CREDS, "p"},
		{"GET /latest/meta-data/iam/security-credentials/r?x=1", CID_HTTP_IMDS_CREDS, "r"},
		{"GET /latest/meta-data/iam/security-credentials", CID_HTTP_IMDS_ROLE_LIST, ""},
		{"GET /latest/meta-data/iam/security-credentials/", CID_HTTP_IMDS_ROLE_LIST, ""},
		{"GET /latest/meta-data/iam/security-credentials/a/b", CID_HTTP_IMDS_OTHER, ""},
		{"GET /latest/meta-data/iam/security-credentials/a%20b", CID_HTTP_IMDS_OTHER, ""},
		{"GET /latest/meta-data/iam/security-credentialsX/a", CID_HTTP_IMDS_OTHER, ""},
		{"GET /latest/meta-data/iam/security-credentials/"
		 "r12345678901234567890123456789012345678901234567890123456789012345",
		 CID_HTTP_IMDS_OTHER, ""},
		{"PUT /latest/api/token", CID_HTTP_IMDS_TOKEN, ""},
		{"GET /latest/api/token", CID_HTTP_IMDS_OTHER, ""},
		{"GET /latest/user-data", CID_HTTP_IMDS_OTHER, ""},
		{"GET /v1/credentials", CID_HTTP_IMDS_POD_IDENTITY, ""},  /* EKS Pod Identity agent */
		{"GET /v1/credentials/", CID_HTTP_IMDS_POD_IDENTITY, ""},
		{"GET http://169.254.170.23/v1/credentials", CID_HTTP_IMDS_POD_IDENTITY, ""},
		{"GET /v1/credentials?x", CID_HTTP_IMDS_POD_IDENTITY, ""},
		{"GET /v1/credentialsX", CID_HTTP_IMDS_NONE, ""},
		{"GET /v1/other", CID_HTTP_IMDS_NONE, ""},
		{"GET /v2/credentials", CID_HTTP_IMDS_NONE, ""},
		{"GET /2021-7-15/meta-data/", CID_HTTP_IMDS_NONE, ""},
		{"GET /index.html", CID_HTTP_IMDS_NONE, ""},
		{"GET *", CID_HTTP_IMDS_NONE, ""},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char buf[512];
		struct cid_http_req r;
		size_t head;
		const char *why;
		int n = snprintf(buf, sizeof(buf), "%s HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 99999999999\r\n\r\n",
				 t[i].line);
		assert_int_equal(cid_http_parse_request(&r, &head, &why, (const uint8_t *)buf, (size_t)n), CID_OK);
		if (r.imds != t[i].k || strcmp(r.role, t[i].role))
			fail_msg("%s: kind %s role '%s'", t[i].line, cid_http_imds_name(r.imds), r.role);
		assert_int_equal(r.token_ttl, UINT32_MAX);
	}
}

static void test_caps(void **state)
{
	char buf[2048];
	struct cid_http_req r;
	size_t head;
	const char *why;
	int n;
	(void)state;
	memset(buf, 0, sizeof(buf));
	n = snprintf(buf, sizeof(buf), "GET /%0700d HTTP/1.1\r\nUser-Agent: %0400d\r\nHost: %0300d\r\n\r\n", 1, 2, 3);
	assert_int_equal(cid_http_parse_request(&r, &head, &why, (const uint8_t *)buf, (size_t)n), CID_OK);
	assert_true(r.path_cut);
	assert_int_equal(r.path_len, CID_HTTP_PATH_MAX);
	assert_int_equal(strlen(r.path), CID_HTTP_PATH_MAX);
	assert_true(r.user_agent_cut);
	assert_true(r.host_cut);
	assert_int_equal(r.host_len, CID_HTTP_FIELD_MAX);
	assert_int_equal(head, (size_t)n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_botocore),
		cmocka_unit_test(test_real_curl),
		cmocka_unit_test(test_truncation_sweep),
		cmocka_unit_test(test_hostile_requests),
		cmocka_unit_test(test_head_cap),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_chunk_hostile),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_server_stops),
		cmocka_unit_test(test_pipeline),
		cmocka_unit_test(test_imds_paths),
		cmocka_unit_test(test_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
