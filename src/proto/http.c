/*
 * http.c - HTTP/1.x request and response heads (RFC 9112), for IMDS
 * evidence: who asked 169.254.169.254 for what, with or without an IMDSv2
 * token, and what the answer's status was.
 *
 * A head is parsed through a cursor, line by line; a field that breaks the
 * grammar, or framing that cannot be trusted (RFC 9112 section 6.3:
 * Content-Lengths that differ, a request's Transfer-Encoding that does not
 * end in chunked), fails the head with a one-line reason. The connection's
 * state machine that collects heads and skips bodies is http_conn.c.
 */
#include "callerid/http.h"

#include <stdlib.h>
#include <string.h>

#include "callerid/cursor.h"

#include "http_int.h"

#define MAX_CONTENT_LENGTH (1ull << 62)

const char *cid_http_imds_name(enum cid_http_imds k)
{
	switch (k) {
	case CID_HTTP_IMDS_NONE: return "none";
	case CID_HTTP_IMDS_TOKEN: return "token";
	case CID_HTTP_IMDS_ROLE_LIST: return "role-list";
	case CID_HTTP_IMDS_CREDS: return "credentials";
	case CID_HTTP_IMDS_OTHER: return "metadata";
	case CID_HTTP_IMDS_POD_IDENTITY: return "pod-identity";
	}
	return "?";
}

/* ---- small helpers over cursors ------------------------------------------ */

/* Case-insensitive compare of a cursor's bytes with a lowercase literal. */
static bool cur_eq_ci(const struct cid_cur *c, const char *lit)
{
	size_t n = strlen(lit);
	struct cid_cur t = *c;
	uint8_t b;
	if (cid_cur_len(c) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!cid_cur_u8(&t, &b) || cid_http_lower(b) != (uint8_t)lit[i])
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
			if (!cid_http_is_tchar(b)) {
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
 * instance metadata categories); the EKS Pod Identity agent serves
 * /v1/credentials; absolute-form targets are reduced to their path first
 * (RFC 9112 section 3.2.2). */
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
	if (cur_eq(&seg, "v1")) {
		/* the EKS Pod Identity agent's (and ECS's) container credentials */
		if (cur_eq(&path, "credentials") || cur_eq(&path, "credentials/"))
			r->imds = CID_HTTP_IMDS_POD_IDENTITY;
		return;
	}
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
			if (!cid_http_is_tchar(b)) {
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
