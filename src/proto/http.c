/*
 * http.c - HTTP/1.x request and response heads on one TCP connection
 * (RFC 9112), for IMDS evidence: who asked 169.254.169.254 for what, with
 * or without an IMDSv2 token, and what the answer's status was.
 *
 * Each direction is a small state machine: it collects a head (at most
 * CID_HTTP_HEAD_CAP bytes) until the empty line that ends it, parses it
 * through a cursor, then skips the body without copying it (Content-Length,
 * chunked coding, or until the connection closes: RFC 9112 section 6.3).
 * Requests wait in a bounded queue for the response that answers them
 * (responses come in request order on HTTP/1.1: RFC 9112 section 9.3.2).
 *
 * Every bail-out on bad input leaves a one-line reason and stops that
 * direction; memory never grows past the struct.
 */
#include "callerid/http.h"

#include <stdlib.h>
#include <string.h>

#include "callerid/cursor.h"

#define CHUNK_LINE_CAP 1024u /* chunk-size line with its extensions */
#define MAX_CONTENT_LENGTH (1ull << 62)

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

const char *cid_http_imds_name(enum cid_http_imds k)
{
	switch (k) {
	case CID_HTTP_IMDS_NONE: return "none";
	case CID_HTTP_IMDS_TOKEN: return "token";
	case CID_HTTP_IMDS_ROLE_LIST: return "role-list";
	case CID_HTTP_IMDS_CREDS: return "credentials";
	case CID_HTTP_IMDS_OTHER: return "metadata";
	}
	return "?";
}

/* ---- small helpers over cursors ------------------------------------------ */

/* tchar (RFC 9110 section 5.6.2). */
static bool is_tchar(uint8_t b)
{
	if ((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z'))
		return true;
	return b != 0 && strchr("!#$%&'*+-.^_`|~", b) != NULL;
}

static uint8_t lower(uint8_t b)
{
	return (b >= 'A' && b <= 'Z') ? (uint8_t)(b + 32) : b;
}

/* Case-insensitive compare of a cursor's bytes with a lowercase literal. */
static bool cur_eq_ci(const struct cid_cur *c, const char *lit)
{
	size_t n = strlen(lit);
	struct cid_cur t = *c;
	uint8_t b;
	if (cid_cur_len(c) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!cid_cur_u8(&t, &b) || lower(b) != (uint8_t)lit[i])
			return false;
	}
	return true;
}

static bool cur_eq(const struct cid_cur *c, const char *lit)
{
	size_t n = strlen(lit);
	return cid_cur_len(c) == n && (n == 0 || memcmp(cid_cur_data(c), lit, n) == 0);
}

static bool cur_has_prefix(const struct cid_cur *c, const char *lit)
{
	size_t n = strlen(lit);
	return cid_cur_len(c) >= n && memcmp(cid_cur_data(c), lit, n) == 0;
}

/* Splits off the next line (without its line ending) as a child. RFC 9112
 * section 2.2: lines end in CRLF; a lone LF is accepted as a line ending
 * (a preceding CR is dropped), a CR anywhere else is refused. Returns
 * CID_TRUNCATED when no LF is left. */
static enum cid_status next_line(struct cid_cur *c, struct cid_cur *line, const char **reason)
{
	const uint8_t *lf = memchr(cid_cur_data(c), '\n', cid_cur_len(c));
	size_t n;
	uint8_t last;
	if (!lf)
		return CID_TRUNCATED;
	n = (size_t)(lf - cid_cur_data(c));
	if (!cid_cur_sub(c, line, n) || !cid_cur_skip(c, 1))
		return CID_TRUNCATED;
	if (n && cid_cur_peek_u8(line, n - 1, &last) && last == '\r')
		line->len--;
	if (memchr(cid_cur_data(line), '\r', cid_cur_len(line))) {
		*reason = "bare CR inside a line";
		return CID_MALFORMED;
	}
	return CID_OK;
}

/* Reads up to the next byte `stop` (not consumed) or the end. */
static void take_until(struct cid_cur *c, struct cid_cur *tok, uint8_t stop)
{
	const uint8_t *e = memchr(cid_cur_data(c), stop, cid_cur_len(c));
	size_t n = e ? (size_t)(e - cid_cur_data(c)) : cid_cur_len(c);
	cid_cur_init(tok, cid_cur_data(c), n);
	(void)cid_cur_skip(c, n);
}

static void trim_ows(struct cid_cur *c)
{
	uint8_t b;
	while (cid_cur_peek_u8(c, 0, &b) && (b == ' ' || b == '\t'))
		(void)cid_cur_skip(c, 1);
	while (cid_cur_len(c) && cid_cur_peek_u8(c, cid_cur_len(c) - 1, &b) && (b == ' ' || b == '\t'))
		c->len--;
}

/* Copies a field into dst (cap bytes + NUL), cutting when longer. */
static void keep(char *dst, size_t cap, size_t *len, bool *cut, const struct cid_cur *v)
{
	size_t n = cid_cur_len(v);
	struct cid_cur t = *v;
	if (n > cap) {
		n = cap;
		if (cut)
			*cut = true;
	}
	(void)cid_cur_copy(&t, (uint8_t *)dst, n);
	dst[n] = '\0';
	*len = n;
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 2.3). */
static bool parse_version(struct cid_cur *c, uint8_t *major, uint8_t *minor)
{
	const uint8_t *v;
	struct cid_cur t = *c;
	if (!cur_has_prefix(&t, "HTTP/") || !cid_cur_skip(&t, 5) || !cid_cur_bytes(&t, &v, 3))
		return false;
	{
		struct cid_cur vc;
		uint8_t d0, dot, d1;
		cid_cur_init(&vc, v, 3);
		if (!cid_cur_u8(&vc, &d0) || !cid_cur_u8(&vc, &dot) || !cid_cur_u8(&vc, &d1))
			return false;
		if (d0 < '0' || d0 > '9' || dot != '.' || d1 < '0' || d1 > '9')
			return false;
		*major = (uint8_t)(d0 - '0');
		*minor = (uint8_t)(d1 - '0');
	}
	*c = t;
	return true;
}

/* 1*DIGIT into *out; false on anything else or past max. */
static bool parse_digits(const struct cid_cur *v, uint64_t max, uint64_t *out)
{
	struct cid_cur t = *v;
	uint64_t n = 0;
	uint8_t b;
	if (!cid_cur_len(&t))
		return false;
	while (cid_cur_u8(&t, &b)) {
		if (b < '0' || b > '9')
			return false;
		/* n * 10 + digit <= max, checked before it can wrap */
		if (n > (max - (uint64_t)(b - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(b - '0');
	}
	*out = n;
	return true;
}

/* Content-Length (RFC 9110 section 8.6, RFC 9112 section 6.3 item 5): a
 * number, or a list of identical numbers; repeated fields must agree. */
static bool content_length(struct cid_cur v, bool *have, uint64_t *len)
{
	while (cid_cur_len(&v)) {
		struct cid_cur item;
		uint64_t n;
		take_until(&v, &item, ',');
		(void)cid_cur_skip(&v, 1);
		trim_ows(&item);
		if (!parse_digits(&item, MAX_CONTENT_LENGTH, &n))
			return false;
		if (*have && n != *len)
			return false;
		*have = true;
		*len = n;
	}
	return *have;
}

/* Transfer-Encoding: is "chunked" the final coding? (RFC 9112 section 6.1) */
static bool te_final_chunked(struct cid_cur v)
{
	struct cid_cur item = {0};
	while (cid_cur_len(&v)) {
		take_until(&v, &item, ',');
		(void)cid_cur_skip(&v, 1);
	}
	{
		struct cid_cur name;
		take_until(&item, &name, ';'); /* transfer-parameters */
		trim_ows(&name);
		return cur_eq_ci(&name, "chunked");
	}
}

/* Field values: VCHAR, obs-text, SP, HTAB (RFC 9110 section 5.5). */
static bool value_ok(const struct cid_cur *v)
{
	struct cid_cur t = *v;
	uint8_t b;
	while (cid_cur_u8(&t, &b))
		if ((b < 0x20 && b != '\t') || b == 0x7f)
			return false;
	return true;
}

/* One field line: field-name ":" OWS field-value OWS (RFC 9112 section 5). */
static enum cid_status split_field(struct cid_cur line, struct cid_cur *name, struct cid_cur *value,
				   const char **reason)
{
	uint8_t b;
	if (cid_cur_peek_u8(&line, 0, &b) && (b == ' ' || b == '\t')) {
		*reason = "obsolete line folding"; /* section 5.2: refuse */
		return CID_MALFORMED;
	}
	take_until(&line, name, ':');
	if (!cid_cur_len(&line)) {
		*reason = "field line without a colon";
		return CID_MALFORMED;
	}
	(void)cid_cur_skip(&line, 1);
	if (!cid_cur_len(name)) {
		*reason = "field line without a name";
		return CID_MALFORMED;
	}
	{
		struct cid_cur t = *name;
		while (cid_cur_u8(&t, &b)) {
			if (!is_tchar(b)) {
				/* section 5.1: no whitespace between name and colon */
				*reason = (b == ' ' || b == '\t') ? "whitespace before a field colon"
								  : "invalid byte in a field name";
				return CID_MALFORMED;
			}
		}
	}
	trim_ows(&line);
	if (!value_ok(&line)) {
		*reason = "control byte in a field value";
		return CID_MALFORMED;
	}
	*value = line;
	return CID_OK;
}

/* ---- IMDS paths ---------------------------------------------------------- */

/* IAM role names: [A-Za-z0-9+=,.@_-]{1,64} (IAM API reference, Role). */
static bool role_ok(const struct cid_cur *r)
{
	struct cid_cur t = *r;
	uint8_t b;
	if (!cid_cur_len(r) || cid_cur_len(r) > CID_HTTP_ROLE_MAX)
		return false;
	while (cid_cur_u8(&t, &b))
		if (!((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
		      strchr("+=,.@_-", b)))
			return false;
	return true;
}

/* IMDS paths start with /latest/ or a version date /YYYY-MM-DD/ (EC2
 * instance metadata categories); absolute-form targets are reduced to
 * their path first (RFC 9112 section 3.2.2). */
static void classify(struct cid_http_req *r, struct cid_cur target)
{
	struct cid_cur path, seg;
	uint8_t b;
	r->imds = CID_HTTP_IMDS_NONE;
	if (cid_cur_len(&target) >= 7) {
		struct cid_cur scheme;
		struct cid_cur t = target;
		(void)cid_cur_sub(&t, &scheme, 7);
		if (cur_eq_ci(&scheme, "http://")) {
			take_until(&t, &seg, '/');
			target = t;
		}
	}
	take_until(&target, &path, '?');
	if (!cid_cur_u8(&path, &b) || b != '/')
		return;
	take_until(&path, &seg, '/');
	if (!cid_cur_skip(&path, 1))
		return;
	if (!cur_eq(&seg, "latest")) {
		/* YYYY-MM-DD */
		struct cid_cur t = seg;
		if (cid_cur_len(&t) != 10)
			return;
		for (size_t i = 0; i < 10; i++) {
			(void)cid_cur_u8(&t, &b);
			if ((i == 4 || i == 7) ? b != '-' : (b < '0' || b > '9'))
				return;
		}
	}
	r->imds = CID_HTTP_IMDS_OTHER;
	if (cur_eq(&path, "api/token") || cur_eq(&path, "api/token/")) {
		if (strcmp(r->method, "PUT") == 0)
			r->imds = CID_HTTP_IMDS_TOKEN;
		return;
	}
	if (!cur_has_prefix(&path, "meta-data/iam/security-credentials"))
		return;
	(void)cid_cur_skip(&path, strlen("meta-data/iam/security-credentials"));
	if (!cid_cur_len(&path) || cur_eq(&path, "/")) {
		r->imds = CID_HTTP_IMDS_ROLE_LIST;
		return;
	}
	if (!cid_cur_u8(&path, &b) || b != '/')
		return;
	take_until(&path, &seg, '/');
	if (cid_cur_len(&path) > 1 || !role_ok(&seg))
		return; /* deeper path or not a role name: plain metadata */
	keep(r->role, CID_HTTP_ROLE_MAX, &r->role_len, NULL, &seg);
	r->imds = CID_HTTP_IMDS_CREDS;
}

/* ---- heads --------------------------------------------------------------- */

enum cid_status cid_http_parse_request(struct cid_http_req *r, size_t *head_len,
				       const char **reason, const uint8_t *p, size_t p_len)
{
	struct cid_cur c, line, tok, name, value;
	enum cid_status st;
	uint8_t major, minor, b;
	bool have_cl = false, have_te = false;
	const char *why = "";

	memset(r, 0, sizeof(*r));
	*head_len = 0;
	cid_cur_init(&c, p, p_len);
	/* Section 2.2: empty lines before the request-line are ignored. */
	while (cid_cur_peek_u8(&c, 0, &b) && (b == '\r' || b == '\n'))
		(void)cid_cur_skip(&c, 1);
	st = next_line(&c, &line, &why);
	if (st != CID_OK)
		goto out;

	/* request-line = method SP request-target SP HTTP-version (section 3) */
	take_until(&line, &tok, ' ');
	if (!cid_cur_len(&tok) || !cid_cur_skip(&line, 1)) {
		why = "request-line is not method SP target SP version";
		st = CID_MALFORMED;
		goto out;
	}
	{
		struct cid_cur t = tok;
		while (cid_cur_u8(&t, &b))
			if (!is_tchar(b)) {
				why = "invalid byte in the method";
				st = CID_MALFORMED;
				goto out;
			}
	}
	if (cid_cur_len(&tok) > CID_HTTP_METHOD_MAX) {
		why = "method longer than 16 bytes";
		st = CID_MALFORMED;
		goto out;
	}
	keep(r->method, CID_HTTP_METHOD_MAX, &r->method_len, NULL, &tok);

	take_until(&line, &tok, ' ');
	if (!cid_cur_len(&tok) || !cid_cur_skip(&line, 1)) {
		why = "request-line without an HTTP version";
		st = CID_MALFORMED;
		goto out;
	}
	{
		struct cid_cur t = tok;
		while (cid_cur_u8(&t, &b))
			if (b <= 0x20 || b == 0x7f) {
				why = "control byte in the request-target";
				st = CID_MALFORMED;
				goto out;
			}
	}
	keep(r->path, CID_HTTP_PATH_MAX, &r->path_len, &r->path_cut, &tok);
	if (!parse_version(&line, &major, &minor) || cid_cur_len(&line)) {
		why = "bad HTTP version in the request-line";
		st = CID_MALFORMED;
		goto out;
	}
	if (major != 1) {
		why = "not HTTP/1.x";
		st = CID_UNSUPPORTED;
		goto out;
	}
	r->version_minor = minor;
	classify(r, tok);

	/* field lines up to the empty line (section 5) */
	for (;;) {
		st = next_line(&c, &line, &why);
		if (st != CID_OK)
			goto out;
		if (!cid_cur_len(&line))
			break;
		st = split_field(line, &name, &value, &why);
		if (st != CID_OK)
			goto out;
		if (cur_eq_ci(&name, "host")) {
			if (r->have_host) {
				why = "more than one Host field"; /* section 3.2 */
				st = CID_MALFORMED;
				goto out;
			}
			r->have_host = true;
			keep(r->host, CID_HTTP_FIELD_MAX, &r->host_len, &r->host_cut, &value);
		} else if (cur_eq_ci(&name, "user-agent")) {
			r->have_user_agent = true;
			keep(r->user_agent, CID_HTTP_FIELD_MAX, &r->user_agent_len, &r->user_agent_cut,
			     &value);
		} else if (cur_eq_ci(&name, "x-aws-ec2-metadata-token")) {
			r->imds_token = true;
		} else if (cur_eq_ci(&name, "x-aws-ec2-metadata-token-ttl-seconds")) {
			uint64_t ttl;
			r->have_token_ttl = true;
			if (parse_digits(&value, UINT64_MAX, &ttl))
				r->token_ttl = ttl > UINT32_MAX ? UINT32_MAX : (uint32_t)ttl;
		} else if (cur_eq_ci(&name, "content-length")) {
			if (!content_length(value, &have_cl, &r->content_length)) {
				why = "invalid Content-Length";
				st = CID_MALFORMED;
				goto out;
			}
		} else if (cur_eq_ci(&name, "transfer-encoding")) {
			have_te = true;
			r->chunked = te_final_chunked(value);
		}
	}
	/* Section 6.3 item 4: a request whose final coding is not chunked has
	 * no determinable length. Item 3: Transfer-Encoding overrides
	 * Content-Length. */
	if (have_te && !r->chunked) {
		why = "Transfer-Encoding without final chunked in a request";
		st = CID_MALFORMED;
		goto out;
	}
	if (have_te)
		r->content_length = 0;
	r->imdsv = (r->imds_token || r->imds == CID_HTTP_IMDS_TOKEN) ? 2 : 1;
	*head_len = p_len - cid_cur_len(&c);
	st = CID_OK;
out:
	if (reason)
		*reason = st == CID_TRUNCATED ? "head not complete" : why;
	return st;
}

enum cid_status cid_http_parse_response(struct cid_http_resp *r, size_t *head_len,
					const char **reason, const uint8_t *p, size_t p_len)
{
	struct cid_cur c, line, name, value;
	enum cid_status st;
	uint8_t major, minor, b;
	uint64_t code;
	bool have_te = false;
	const char *why = "";

	memset(r, 0, sizeof(*r));
	*head_len = 0;
	cid_cur_init(&c, p, p_len);
	while (cid_cur_peek_u8(&c, 0, &b) && (b == '\r' || b == '\n'))
		(void)cid_cur_skip(&c, 1);
	st = next_line(&c, &line, &why);
	if (st != CID_OK)
		goto out;
	/* status-line = HTTP-version SP status-code SP [reason-phrase] (section 4) */
	if (!parse_version(&line, &major, &minor)) {
		why = "response does not start with an HTTP version";
		st = CID_MALFORMED;
		goto out;
	}
	if (major != 1) {
		why = "not HTTP/1.x";
		st = CID_UNSUPPORTED;
		goto out;
	}
	{
		struct cid_cur digits;
		if (!cid_cur_u8(&line, &b) || b != ' ' || !cid_cur_sub(&line, &digits, 3) ||
		    !parse_digits(&digits, 999, &code) || code < 100) {
			why = "bad status code";
			st = CID_MALFORMED;
			goto out;
		}
	}
	/* Some servers omit the SP before an empty reason: tolerated. */
	if (cid_cur_len(&line) && (!cid_cur_u8(&line, &b) || b != ' ' || !value_ok(&line))) {
		why = "bad reason phrase";
		st = CID_MALFORMED;
		goto out;
	}
	r->status = (uint16_t)code;
	r->version_minor = minor;
	for (;;) {
		st = next_line(&c, &line, &why);
		if (st != CID_OK)
			goto out;
		if (!cid_cur_len(&line))
			break;
		st = split_field(line, &name, &value, &why);
		if (st != CID_OK)
			goto out;
		if (cur_eq_ci(&name, "content-length")) {
			if (!content_length(value, &r->have_content_length, &r->content_length)) {
				why = "invalid Content-Length";
				st = CID_MALFORMED;
				goto out;
			}
		} else if (cur_eq_ci(&name, "transfer-encoding")) {
			have_te = true;
			r->chunked = te_final_chunked(value);
		} else if (cur_eq_ci(&name, "connection")) {
			struct cid_cur v = value, item;
			while (cid_cur_len(&v)) {
				take_until(&v, &item, ',');
				(void)cid_cur_skip(&v, 1);
				trim_ows(&item);
				if (cur_eq_ci(&item, "close"))
					r->close = true;
			}
		}
	}
	if (have_te) {
		/* section 6.3 item 3: Transfer-Encoding overrides Content-Length;
		 * a final coding other than chunked reads until close (item 4) */
		r->have_content_length = false;
		r->content_length = 0;
		if (!r->chunked)
			r->close = true;
	}
	*head_len = p_len - cid_cur_len(&c);
	st = CID_OK;
out:
	if (reason)
		*reason = st == CID_TRUNCATED ? "head not complete" : why;
	return st;
}

/* ---- the connection ------------------------------------------------------ */

struct cid_http_conn *cid_http_conn_new(void)
{
	return calloc(1, sizeof(struct cid_http_conn));
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
		else if (lower(b) >= 'a' && lower(b) <= 'f')
			v = lower(b) - 'a' + 10;
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
				} else if (dir == 0 && !is_tchar(b)) {
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
			if (b == '\n') {
				if (d->nl) {
					head_done(c, dir, ts_ns);
					break;
				}
				d->nl = 1;
			} else if (b == '\r' && d->nl == 1) {
				d->nl = 2;
			} else {
				d->nl = 0;
			}
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
			if (b == '\n') {
				if (d->nl) {
					d->st = D_HEAD;
					d->line_len = 0;
					break;
				}
				d->nl = 1;
			} else if (b == '\r' && d->nl == 1) {
				d->nl = 2;
			} else {
				d->nl = 0;
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
