/*
 * fuzz_http.c - libFuzzer harness for the HTTP/1.x head parsers and the
 * connection state machine (src/proto/http.c).
 *
 * Input: byte 0 = segment size - 1 for the stream feeds (1..256), bytes
 * 1-2 = length of the client->server part (big-endian, clipped), then the
 * client bytes, then the server bytes. Both directions are fed in
 * alternating segments of that size; every record is checked against the
 * caps; both parts are also parsed whole as a request and a response head
 * from an exact-size heap copy, so ASan sees any overread.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rec(const struct cid_http_rec *r)
{
	const struct cid_http_req *q = &r->req;
	if (q->method_len > CID_HTTP_METHOD_MAX || q->path_len > CID_HTTP_PATH_MAX ||
	    q->host_len > CID_HTTP_FIELD_MAX || q->user_agent_len > CID_HTTP_FIELD_MAX ||
	    q->role_len > CID_HTTP_ROLE_MAX)
		abort();
	if (strlen(q->method) != q->method_len || strlen(q->path) != q->path_len ||
	    strlen(q->host) != q->host_len || strlen(q->user_agent) != q->user_agent_len ||
	    strlen(q->role) != q->role_len)
		abort(); /* NUL and CTL bytes are refused, so lengths agree */
	if (r->parse_error[0] && q->method_len)
		abort();
	(void)cid_http_imds_name(q->imds);
}

static void heads(const uint8_t *p, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);
	struct cid_http_req r;
	struct cid_http_resp s;
	size_t head;
	const char *why;
	if (!copy)
		return;
	if (n)
		memcpy(copy, p, n);
	if (cid_http_parse_request(&r, &head, &why, copy, n) == CID_OK && head > n)
		abort();
	if (cid_http_parse_response(&s, &head, &why, copy, n) == CID_OK && (head > n || s.status < 100))
		abort();
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cid_http_conn *c;
	struct cid_http_rec r;
	size_t seg, c2s_len, s2c_len, a = 0, b = 0;
	const uint8_t *c2s, *s2c;
	int64_t t = 0;

	if (size < 3)
		return 0;
	seg = (size_t)data[0] + 1;
	c2s_len = ((size_t)data[1] << 8) | data[2];
	data += 3;
	size -= 3;
	if (c2s_len > size)
		c2s_len = size;
	c2s = data;
	s2c = data + c2s_len;
	s2c_len = size - c2s_len;
	heads(c2s, c2s_len);
	heads(s2c, s2c_len);

	c = cid_http_conn_new();
	if (!c)
		return 0;
	while (a < c2s_len || b < s2c_len) {
		size_t n = c2s_len - a < seg ? c2s_len - a : seg;
		if (n)
			(void)cid_http_conn_feed(c, 0, t++, c2s + a, n);
		a += n;
		while (cid_http_conn_next(c, &r))
			check_rec(&r);
		n = s2c_len - b < seg ? s2c_len - b : seg;
		if (n)
			(void)cid_http_conn_feed(c, 1, t++, s2c + b, n);
		b += n;
		while (cid_http_conn_next(c, &r))
			check_rec(&r);
	}
	cid_http_conn_finish(c);
	while (cid_http_conn_next(c, &r))
		check_rec(&r);
	(void)cid_http_conn_error(c, 0);
	(void)cid_http_conn_error(c, 1);
	cid_http_conn_free(c);
	return 0;
}
