/*
 * http_conn.c - one TCP connection's HTTP/1.x exchange (RFC 9112) for IMDS
 * evidence: the per-direction state machine that collects each head, hands
 * it to the parser of http.c, then skips the body without copying it
 * (Content-Length, chunked coding, or until the connection closes: RFC 9112
 * section 6.3), and the bounded queue where requests wait for the response
 * that answers them (in request order on HTTP/1.1: section 9.3.2).
 *
 * Every bail-out on bad input leaves a one-line reason and stops that
 * direction; memory never grows past the struct.
 */
#include "callerid/http.h"

#include <stdlib.h>
#include <string.h>

#include "callerid/cursor.h"

#include "http_int.h"

#define CHUNK_LINE_CAP 1024u /* chunk-size line with its extensions */

enum dstate {
	D_HEAD = 0,    /* collecting a head */
	D_BODY_LEN,    /* skipping `left` body bytes */
	D_CHUNK_SIZE,  /* reading a chunk-size line (RFC 9112 section 7.1) */
	D_CHUNK_DATA,  /* skipping `left` chunk-data bytes */
	D_CHUNK_CRLF,  /* the CRLF after chunk-data */
	D_TRAILER,     /* trailer section after the last chunk (section 7.1.2) */
	D_BODY_CLOSE,  /* body delimited by the end of the connection */
	D_STOPPED,     /* malformed, a gap, or not HTTP/1.x any more */
};

struct dir {
	enum dstate st;
	enum cid_status stop;  /* MALFORMED or UNSUPPORTED once stopped */
	const char *reason;
	int64_t head_ns;
	uint64_t left;
	uint8_t nl;            /* end-of-head scan: 0 in a line, 1 after LF, 2 after LF CR */
	uint8_t crlf_cr;       /* D_CHUNK_CRLF: CR seen */
	uint64_t chunk_size;
	uint8_t chunk_digits;
	bool chunk_ext;        /* past the size: in BWS / chunk-ext */
	size_t line_len;       /* bytes of the chunk line or trailer so far */
	bool first_tok;        /* in the method / HTTP-version that starts a head */
	size_t head_len;
	uint8_t head[CID_HTTP_HEAD_CAP];
};

struct qent {
	struct cid_http_rec rec;
	uint64_t seq;          /* request number on the connection */
	bool done;             /* may be popped */
	bool answered;         /* its final response was seen */
};

/* Methods that change how the response is framed (RFC 9112 section 6.3),
 * remembered per request number even after the record was popped. */
#define METHOD_RING 256u
#define M_HEAD 1u
#define M_CONNECT 2u

struct cid_http_conn {
	struct dir d[2];
	struct qent q[CID_HTTP_PIPELINE];
	unsigned q_first, q_num;
	uint64_t req_seq, resp_seq;    /* requests / final responses so far */
	uint8_t methods[METHOD_RING];  /* M_* of request seq % METHOD_RING */
	/* Answers parsed before their request (the caller fed the server
	 * direction first): kept for the request to pick up. */
	struct {
		uint64_t seq;
		int64_t ns;
		uint16_t status;
		bool valid;
	} early[CID_HTTP_PIPELINE];
	struct cid_http_rec err[2];
	bool err_pending[2];
	struct cid_http_stats stats;
};

/* ---- the connection ------------------------------------------------------ */

struct cid_http_conn *cid_http_conn_new(void)
{
	return calloc(1, sizeof(struct cid_http_conn));
}

size_t cid_http_conn_size(void)
{
	return sizeof(struct cid_http_conn);
}

void cid_http_conn_free(struct cid_http_conn *c)
{
	free(c);
}

static struct qent *q_at(struct cid_http_conn *c, unsigned i)
{
	return &c->q[(c->q_first + i) % CID_HTTP_PIPELINE];
}

/* Stops direction dir; a stopped server side releases the waiting requests. */
static void stop(struct cid_http_conn *c, int dir, enum cid_status why, const char *reason, int64_t ts_ns)
{
	struct dir *d = &c->d[dir];
	if (d->st == D_STOPPED)
		return;
	d->st = D_STOPPED;
	d->stop = why;
	d->reason = reason;
	d->head_len = 0;
	if (why == CID_MALFORMED) {
		struct cid_http_rec *e = &c->err[dir];
		memset(e, 0, sizeof(*e));
		e->ts_ns = ts_ns;
		/* "request: " / "response: " + reason, in the record itself */
		{
			const char *pre = dir == 0 ? "request: " : "response: ";
			size_t a = strlen(pre), b = strlen(reason);
			if (a + b >= sizeof(e->parse_error))
				b = sizeof(e->parse_error) - a - 1;
			memcpy(e->parse_error, pre, a);
			memcpy(e->parse_error + a, reason, b);
			e->parse_error[a + b] = '\0';
		}
		c->err_pending[dir] = true;
	}
	if (dir == 1)
		for (unsigned i = 0; i < c->q_num; i++)
			q_at(c, i)->done = true;
}

/* Queues a request. More than CID_HTTP_PIPELINE / 2 requests waiting for
 * an answer (a server direction that is not in the capture) releases the
 * oldest without a status, so records keep flowing; a late answer still
 * finds it while it is queued. A full queue (the caller did not pop)
 * drops the new record. */
static void got_request(struct cid_http_conn *c, const struct cid_http_req *r)
{
	struct qent *e;
	unsigned waiting = 0;
	uint64_t seq = c->req_seq++;

	c->stats.requests++;
	c->methods[seq % METHOD_RING] = (uint8_t)((strcmp(r->method, "HEAD") == 0 ? M_HEAD : 0) |
						  (strcmp(r->method, "CONNECT") == 0 ? M_CONNECT : 0));
	if (c->q_num == CID_HTTP_PIPELINE) {
		c->stats.dropped++;
		return;
	}
	e = q_at(c, c->q_num);
	memset(e, 0, sizeof(*e));
	e->seq = seq;
	e->rec.ts_ns = c->d[0].head_ns;
	e->rec.req = *r;
	/* no answer will be parsed once the server side stopped */
	e->done = c->d[1].st == D_STOPPED;
	{
		unsigned k = (unsigned)(seq % CID_HTTP_PIPELINE);
		if (c->early[k].valid && c->early[k].seq == seq) {
			e->rec.status = c->early[k].status;
			e->rec.answer_ns = c->early[k].ns;
			e->answered = e->done = true;
			c->early[k].valid = false;
		}
	}
	c->q_num++;
	for (unsigned i = 0; i < c->q_num; i++)
		if (!q_at(c, i)->done)
			waiting++;
	for (unsigned i = 0; i < c->q_num && waiting > CID_HTTP_PIPELINE / 2; i++) {
		if (!q_at(c, i)->done) {
			q_at(c, i)->done = true;
			waiting--;
		}
	}
}

/* Body framing after a head (RFC 9112 section 6.3). */
static void start_body(struct dir *d, bool chunked, uint64_t len)
{
	if (chunked) {
		d->st = D_CHUNK_SIZE;
		d->chunk_size = 0;
		d->chunk_digits = 0;
		d->chunk_ext = false;
		d->line_len = 0;
	} else if (len) {
		d->st = D_BODY_LEN;
		d->left = len;
	} else {
		d->st = D_HEAD;
	}
}

static void head_done(struct cid_http_conn *c, int dir, int64_t ts_ns)
{
	struct dir *d = &c->d[dir];
	const char *why;
	size_t used;
	enum cid_status st;

	if (dir == 0) {
		struct cid_http_req r;
		st = cid_http_parse_request(&r, &used, &why, d->head, d->head_len);
		d->head_len = 0;
		if (st != CID_OK) {
			stop(c, 0, st == CID_TRUNCATED ? CID_MALFORMED : st, why, ts_ns);
			return;
		}
		got_request(c, &r);
		if (strcmp(r.method, "CONNECT") == 0) {
			stop(c, 0, CID_UNSUPPORTED, "CONNECT tunnel", ts_ns); /* RFC 9110 9.3.6 */
			return;
		}
		start_body(d, r.chunked, r.content_length);
		return;
	}

	{
		struct cid_http_resp r;
		struct qent *e;
		bool head_method = false, connect = false;
		st = cid_http_parse_response(&r, &used, &why, d->head, d->head_len);
		d->head_len = 0;
		if (st != CID_OK) {
			stop(c, 1, st == CID_TRUNCATED ? CID_MALFORMED : st, why, ts_ns);
			return;
		}
		if (r.status < 200) {
			/* interim responses (RFC 9110 section 15.2) have no body */
			c->stats.interim++;
			if (r.status == 101)
				stop(c, 1, CID_UNSUPPORTED, "101 switching protocols", ts_ns);
			else
				d->st = D_HEAD;
			return;
		}
		c->stats.responses++;
		{
			/* responses come in request order (RFC 9112 section 9.3.2) */
			uint64_t seq = c->resp_seq++;
			if (seq >= c->req_seq) {
				unsigned k = (unsigned)(seq % CID_HTTP_PIPELINE);
				if (seq - c->req_seq < CID_HTTP_PIPELINE) {
					c->early[k].seq = seq;
					c->early[k].ns = d->head_ns;
					c->early[k].status = r.status;
					c->early[k].valid = true;
				} else {
					c->stats.unanswered++;
				}
			} else {
				head_method = (c->methods[seq % METHOD_RING] & M_HEAD) != 0;
				connect = (c->methods[seq % METHOD_RING] & M_CONNECT) != 0;
			}
			for (unsigned i = 0; i < c->q_num; i++) {
				e = q_at(c, i);
				if (e->seq == seq) {
					e->rec.status = r.status;
					e->rec.answer_ns = d->head_ns;
					e->answered = e->done = true;
					break;
				}
			}
		}
		/* Section 6.3: items 1 and 2, then 3-7. */
		if (connect && r.status < 300) {
			stop(c, 1, CID_UNSUPPORTED, "CONNECT tunnel", ts_ns);
			return;
		}
		if (head_method || r.status == 204 || r.status == 304)
			d->st = D_HEAD;
		else if (r.chunked)
			start_body(d, true, 0);
		else if (r.have_content_length)
			start_body(d, false, r.content_length);
		else
			d->st = D_BODY_CLOSE;
	}
}

/* The chunk-size line: chunk-size [ chunk-ext ] CRLF (section 7.1), where
 * chunk-ext is BWS ";" ... and is skipped. Returns false when malformed. */
static bool chunk_line_byte(struct cid_http_conn *c, int dir, uint8_t b, int64_t ts_ns)
{
	struct dir *d = &c->d[dir];
	if (++d->line_len > CHUNK_LINE_CAP) {
		stop(c, dir, CID_MALFORMED, "chunk-size line too long", ts_ns);
		return false;
	}
	if (b == '\n') {
		if (!d->chunk_digits) {
			stop(c, dir, CID_MALFORMED, "chunk without a size", ts_ns);
			return false;
		}
		d->line_len = 0;
		if (d->chunk_size == 0) {
			d->st = D_TRAILER; /* last-chunk: the trailer section follows */
			d->nl = 1;
		} else {
			d->st = D_CHUNK_DATA;
			d->left = d->chunk_size;
		}
		return true;
	}
	if (!d->chunk_ext) {
		int v = -1;
		if (b >= '0' && b <= '9')
			v = b - '0';
		else if (cid_http_lower(b) >= 'a' && cid_http_lower(b) <= 'f')
			v = cid_http_lower(b) - 'a' + 10;
		if (v >= 0) {
			if (d->chunk_digits >= 15) {
				stop(c, dir, CID_MALFORMED, "chunk size too large", ts_ns);
				return false;
			}
			d->chunk_size = (d->chunk_size << 4) | (uint64_t)v;
			d->chunk_digits++;
			return true;
		}
		if (b != ';' && b != ' ' && b != '\t' && b != '\r') {
			stop(c, dir, CID_MALFORMED, "bad chunk size", ts_ns);
			return false;
		}
		d->chunk_ext = true;
	}
	return true;
}

/* The scan for the empty line that ends a head or a trailer section: true
 * when b is the LF of it (LF LF, or LF CR LF; d->nl is left for the caller
 * to reset with the state it moves to). */
static bool empty_line_end(struct dir *d, uint8_t b)
{
	if (b == '\n') {
		if (d->nl)
			return true;
		d->nl = 1;
	} else if (b == '\r' && d->nl == 1) {
		d->nl = 2;
	} else {
		d->nl = 0;
	}
	return false;
}

enum cid_status cid_http_conn_feed(struct cid_http_conn *c, int dir, int64_t ts_ns,
				   const uint8_t *p, size_t p_len)
{
	struct dir *d;
	struct cid_cur cur;
	uint8_t b;

	if (dir != 0 && dir != 1)
		return CID_MALFORMED;
	d = &c->d[dir];
	cid_cur_init(&cur, p, p_len);
	while (cid_cur_len(&cur) && d->st != D_STOPPED) {
		switch (d->st) {
		case D_HEAD:
			(void)cid_cur_u8(&cur, &b);
			if (d->head_len == 0) {
				if (b == '\r' || b == '\n')
					continue; /* section 2.2: leading empty lines */
				d->head_ns = ts_ns;
				d->nl = 0;
				d->first_tok = true;
			}
			/* Refuse binary at once rather than buffering 8 KiB of it:
			 * a request starts with a method token, a response with
			 * "HTTP/" (RFC 9112 sections 3 and 4). */
			if (d->first_tok) {
				if (b == ' ') {
					d->first_tok = false;
				} else if (dir == 0 && !cid_http_is_tchar(b)) {
					stop(c, dir, CID_MALFORMED, "not an HTTP request (invalid byte in the method)", ts_ns);
					break;
				} else if (dir == 0 && d->head_len >= CID_HTTP_METHOD_MAX) {
					stop(c, dir, CID_MALFORMED, "method longer than 16 bytes", ts_ns);
					break;
				} else if (dir == 1 && d->head_len < 5 && b != (uint8_t)"HTTP/"[d->head_len]) {
					stop(c, dir, CID_MALFORMED, "not an HTTP response", ts_ns);
					break;
				}
			}
			if (d->head_len == CID_HTTP_HEAD_CAP) {
				stop(c, dir, CID_MALFORMED, "head longer than 8192 bytes", ts_ns);
				break;
			}
			d->head[d->head_len++] = b;
			if (empty_line_end(d, b))
				head_done(c, dir, ts_ns);
			break;
		case D_BODY_LEN:
		case D_CHUNK_DATA: {
			size_t n = cid_cur_len(&cur);
			if (n > d->left)
				n = (size_t)d->left;
			(void)cid_cur_skip(&cur, n); /* never copied */
			c->stats.body_bytes[dir] += n;
			d->left -= n;
			if (!d->left)
				d->st = d->st == D_BODY_LEN ? D_HEAD : D_CHUNK_CRLF;
			d->crlf_cr = 0;
			break;
		}
		case D_CHUNK_SIZE:
			(void)cid_cur_u8(&cur, &b);
			(void)chunk_line_byte(c, dir, b, ts_ns);
			break;
		case D_CHUNK_CRLF:
			(void)cid_cur_u8(&cur, &b);
			if (b == '\r' && !d->crlf_cr) {
				d->crlf_cr = 1;
			} else if (b == '\n') {
				start_body(d, true, 0);
			} else {
				stop(c, dir, CID_MALFORMED, "chunk data not followed by CRLF", ts_ns);
			}
			break;
		case D_TRAILER:
			/* trailer field lines up to an empty line (section 7.1.2);
			 * skipped, bounded like a head */
			(void)cid_cur_u8(&cur, &b);
			if (++d->line_len > CID_HTTP_HEAD_CAP) {
				stop(c, dir, CID_MALFORMED, "trailer section too long", ts_ns);
				break;
			}
			if (empty_line_end(d, b)) {
				d->st = D_HEAD;
				d->line_len = 0;
			}
			break;
		case D_BODY_CLOSE:
			c->stats.body_bytes[dir] += cid_cur_len(&cur);
			(void)cid_cur_skip(&cur, cid_cur_len(&cur));
			break;
		case D_STOPPED:
			break;
		}
	}
	return d->st == D_STOPPED ? d->stop : CID_OK;
}

void cid_http_conn_gap(struct cid_http_conn *c, int dir, int64_t ts_ns)
{
	if (dir == 0 || dir == 1)
		stop(c, dir, CID_MALFORMED, "gap in the stream", ts_ns);
}

bool cid_http_conn_next(struct cid_http_conn *c, struct cid_http_rec *out)
{
	if (c->q_num && q_at(c, 0)->done) {
		*out = q_at(c, 0)->rec;
		c->q_first = (c->q_first + 1) % CID_HTTP_PIPELINE;
		c->q_num--;
		return true;
	}
	for (int dir = 0; dir < 2; dir++) {
		if (c->err_pending[dir]) {
			*out = c->err[dir];
			c->err_pending[dir] = false;
			return true;
		}
	}
	return false;
}

void cid_http_conn_finish(struct cid_http_conn *c)
{
	for (unsigned i = 0; i < c->q_num; i++)
		q_at(c, i)->done = true;
}

const char *cid_http_conn_error(const struct cid_http_conn *c, int dir)
{
	if ((dir != 0 && dir != 1) || c->d[dir].st != D_STOPPED)
		return "";
	return c->d[dir].reason;
}

const struct cid_http_stats *cid_http_conn_stats(const struct cid_http_conn *c)
{
	return &c->stats;
}
