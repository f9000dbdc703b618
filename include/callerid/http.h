/*
 * http.h - plaintext HTTP/1.x (RFC 9112) requests and responses on one TCP
 * connection, as IMDS (169.254.169.254:80) sees them.
 *
 * Pure and bounded: bytes in, records out, no I/O, no globals. A
 * connection (struct cid_http_conn) is fed the in-order bytes of each
 * direction; every request head becomes one record (struct cid_http_rec)
 * with the status code of the response that answered it. Message bodies
 * are skipped by Content-Length, chunked coding (RFC 9112 section 7.1) or
 * connection close and are never copied anywhere: IMDS answers carry
 * credentials, and callerid must not keep them.
 *
 * Strings in a record are the raw wire bytes (no NUL, no CR/LF: such heads
 * are refused), NUL-terminated for convenience, cut at their caps; they
 * are escaped only on output.
 */
#ifndef CID_HTTP_H
#define CID_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "callerid/common.h"

/* Caps (the buffer of a head is the only thing that grows on input). */
#define CID_HTTP_HEAD_CAP 8192u   /* bytes of one request or response head */
#define CID_HTTP_METHOD_MAX 16u   /* longer methods are refused (MALFORMED) */
#define CID_HTTP_PATH_MAX 512u    /* request-target kept; longer is cut (path_cut) */
#define CID_HTTP_FIELD_MAX 256u   /* Host / User-Agent kept; longer is cut */
#define CID_HTTP_ROLE_MAX 64u     /* IAM role names are at most 64 characters */
#define CID_HTTP_PIPELINE 16u     /* requests waiting for their response */

/* What an IMDS request asked for, from its method and path. */
enum cid_http_imds {
	CID_HTTP_IMDS_NONE = 0,   /* not an IMDS path (no /latest/ or /YYYY-MM-DD/) */
	CID_HTTP_IMDS_TOKEN,      /* PUT /latest/api/token: an IMDSv2 session token */
	CID_HTTP_IMDS_ROLE_LIST,  /* GET .../meta-data/iam/security-credentials/ */
	CID_HTTP_IMDS_CREDS,      /* GET .../meta-data/iam/security-credentials/<role> */
	CID_HTTP_IMDS_OTHER,      /* any other metadata / user-data / dynamic path */
	CID_HTTP_IMDS_POD_IDENTITY, /* GET /v1/credentials: EKS Pod Identity agent (169.254.170.23) */
};
const char *cid_http_imds_name(enum cid_http_imds k);

/* One request head (RFC 9112 section 3 and 5). */
struct cid_http_req {
	char method[CID_HTTP_METHOD_MAX + 1];
	char path[CID_HTTP_PATH_MAX + 1];        /* request-target as sent */
	char host[CID_HTTP_FIELD_MAX + 1];       /* Host field value */
	char user_agent[CID_HTTP_FIELD_MAX + 1];
	char role[CID_HTTP_ROLE_MAX + 1];        /* from .../security-credentials/<role> */
	size_t method_len, path_len, host_len, user_agent_len, role_len;
	bool path_cut, host_cut, user_agent_cut;
	bool have_host, have_user_agent;
	uint8_t version_minor;                   /* HTTP/1.<minor> */
	bool imds_token;      /* X-aws-ec2-metadata-token was sent (IMDSv2 call) */
	bool have_token_ttl;  /* X-aws-ec2-metadata-token-ttl-seconds was sent... */
	uint32_t token_ttl;   /* ...with this value (digits; capped at UINT32_MAX) */
	uint8_t imdsv;        /* 2: token header sent or token PUT; else 1 */
	enum cid_http_imds imds;
	/* Framing of the body that follows (RFC 9112 section 6.3). */
	bool chunked;
	uint64_t content_length;
};

/* One response head (RFC 9112 section 4). */
struct cid_http_resp {
	uint16_t status;                         /* 100..999 */
	uint8_t version_minor;
	bool chunked;
	bool have_content_length;
	uint64_t content_length;
	bool close;                              /* Connection: close */
};

/* Parses one complete request head: p starts at the request-line and
 * p_len covers at least the empty line that ends the head (bytes after it
 * are ignored). *head_len = bytes of the head including the empty line.
 * OK: r filled. TRUNCATED: the empty line is not in p. MALFORMED: not an
 * HTTP/1.x request head (*reason says why). UNSUPPORTED: a valid request of
 * another HTTP major version (e.g. the HTTP/2 preface). */
enum cid_status cid_http_parse_request(struct cid_http_req *r, size_t *head_len,
				       const char **reason, const uint8_t *p, size_t p_len);

/* As cid_http_parse_request, for a response head (status-line and fields). */
enum cid_status cid_http_parse_response(struct cid_http_resp *r, size_t *head_len,
					const char **reason, const uint8_t *p, size_t p_len);

/* A request with what the connection learnt about it. */
struct cid_http_rec {
	int64_t ts_ns;        /* time of the segment holding the first byte of the head */
	int64_t answer_ns;    /* time of the response head; 0 when none was seen */
	uint16_t status;      /* response status; 0 when none was seen */
	struct cid_http_req req;
	/* A record with parse_error set (non-empty) stands for a direction
	 * that broke (req is then empty): "request: <reason>" or "response:
	 * <reason>". Held in the record, not pointed to: records are copied
	 * to the writer thread and outlive their connection. */
	char parse_error[96];
};

/* Counters of one connection. */
struct cid_http_stats {
	uint64_t requests;       /* request heads parsed */
	uint64_t responses;      /* final (non-1xx) response heads parsed */
	uint64_t interim;        /* 1xx responses */
	uint64_t body_bytes[2];  /* body bytes skipped per direction (0 c2s, 1 s2c) */
	uint64_t dropped;        /* requests dropped: pipeline full */
	uint64_t unanswered;     /* responses with no request waiting */
};

struct cid_http_conn; /* opaque: two parsers and the queue of requests */

/* A new connection, or NULL when out of memory. Its size is bounded
 * (two CID_HTTP_HEAD_CAP buffers and CID_HTTP_PIPELINE records). */
struct cid_http_conn *cid_http_conn_new(void);
/* Bytes one connection's state takes (for memory budgets). */
size_t cid_http_conn_size(void);
/* NULL-safe. */
void cid_http_conn_free(struct cid_http_conn *c);

/* Feeds in-order bytes of direction dir (0 client->server, 1 server->
 * client) that arrived at ts_ns. Consumes all p_len bytes. Feed segments
 * in capture order: a response parsed before its request still gets
 * matched to it (up to CID_HTTP_PIPELINE ahead), but its body is framed
 * without knowing whether the request was HEAD or CONNECT. Returns the
 * state of that direction: OK (still parsing), MALFORMED (it broke: its
 * reason is in cid_http_conn_error; later bytes of that direction are
 * ignored) or UNSUPPORTED (it left HTTP/1.x: a 101 upgrade, a CONNECT
 * tunnel, an HTTP/2 preface; later bytes ignored). */
enum cid_status cid_http_conn_feed(struct cid_http_conn *c, int dir, int64_t ts_ns,
				   const uint8_t *p, size_t p_len);

/* Marks a hole in direction dir (bytes lost at ts_ns): that direction
 * stops, as when malformed, with the reason "gap in the stream". */
void cid_http_conn_gap(struct cid_http_conn *c, int dir, int64_t ts_ns);

/* Pops the next finished record, in request order: a request whose
 * response head has been seen (or will never be: the server direction
 * stopped), or a parse_error record. true when *out was filled. */
bool cid_http_conn_next(struct cid_http_conn *c, struct cid_http_rec *out);

/* The connection ended: every request still waiting becomes finished
 * without a status, so cid_http_conn_next returns them all. */
void cid_http_conn_finish(struct cid_http_conn *c);

/* Why direction dir stopped ("" while it is fine). */
const char *cid_http_conn_error(const struct cid_http_conn *c, int dir);
const struct cid_http_stats *cid_http_conn_stats(const struct cid_http_conn *c);

#endif /* CID_HTTP_H */
