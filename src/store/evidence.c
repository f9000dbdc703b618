/*
 * evidence.c - the http and dns rows: IMDS requests with their status and
 * role, DNS questions with their answers. Statements are prepared once per
 * writer and bound; wire text is bound with its length.
 */
#include "callerid/evidence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


enum { EV_HTTP, EV_DNS, EV__COUNT };

static const char *const ev_sql[EV__COUNT] = {
	[EV_HTTP] = "INSERT INTO http(flow_id, ts_us, method, path, host, user_agent, imds_token,"
		    " answer_us, status, role_name, token_ttl, imdsv, imds_kind, parse_error)"
		    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[EV_DNS] = "INSERT INTO dns(ts_us, client_ip, client_port, qname, qtype, rcode, answers,"
		   " flow_id, server_ip, server_port, proto, txid, response, flags, parse_error)"
		   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
};

struct cid_evidence {
	struct cid_store *store;
	sqlite3_stmt *st[EV__COUNT];
	struct cid_buf answers;
	bool bind_failed;
};

struct cid_evidence *cid_evidence_new(struct cid_store *s, char *err, size_t err_len)
{
	struct cid_evidence *e = calloc(1, sizeof(*e));
	sqlite3 *db = cid_store_db(s);
	if (!e) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	e->store = s;
	cid_buf_init(&e->answers, CID_DNS_ROW_CAP);
	for (int i = 0; i < EV__COUNT; i++) {
		if (sqlite3_prepare_v3(db, ev_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &e->st[i], NULL) !=
		    SQLITE_OK) {
			snprintf(err, err_len, "cannot prepare evidence statement: %s", sqlite3_errmsg(db));
			cid_evidence_free(e);
			return NULL;
		}
	}
	return e;
}

void cid_evidence_free(struct cid_evidence *e)
{
	if (!e)
		return;
	for (int i = 0; i < EV__COUNT; i++)
		sqlite3_finalize(e->st[i]);
	cid_buf_cleanup(&e->answers);
	free(e);
}

/* Wire text up to its first NUL byte (a DNS label may carry one; stored
 * text is a C string everywhere, as in store.c). Text is copied, which
 * needs memory: the first failure is kept for run(), which then writes
 * nothing rather than a row with a NULL in its place. */
static void bind_textn(struct cid_evidence *e, sqlite3_stmt *st, int i, const char *p, size_t n)
{
	int rc = p ? sqlite3_bind_text64(st, i, p, (sqlite3_uint64)strnlen(p, n), SQLITE_TRANSIENT, SQLITE_UTF8)
		   : sqlite3_bind_null(st, i);
	if (rc != SQLITE_OK)
		e->bind_failed = true;
}

static void bind_id(sqlite3_stmt *st, int i, int64_t id)
{
	if (id)
		sqlite3_bind_int64(st, i, id);
	else
		sqlite3_bind_null(st, i);
}

static void bind_addr(struct cid_evidence *e, sqlite3_stmt *st, int i, const struct cid_addr *a)
{
	char buf[CID_ADDRSTRLEN];
	if (a->family == 4 || a->family == 6) {
		cid_addr_str(a, buf, sizeof(buf));
		bind_textn(e, st, i, buf, strlen(buf));
	} else
		sqlite3_bind_null(st, i);
}

/* Steps, resets, counts the row. -CID_ENOMEM when a bind failed. */
static int run(struct cid_evidence *e, sqlite3_stmt *st)
{
	int rc, r = 0;
	if (e->bind_failed) {
		e->bind_failed = false;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return -CID_ENOMEM;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = -CID_EDB;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (!r)
		r = cid_store_row_done(e->store);
	return r;
}

int cid_evidence_put_http(struct cid_evidence *e, int64_t flow_id, const struct cid_http_rec *r)
{
	sqlite3_stmt *st = e->st[EV_HTTP];
	const struct cid_http_req *q = &r->req;
	int rc = cid_store_begin(e->store);
	if (rc)
		return rc;
	bind_id(st, 1, flow_id);
	sqlite3_bind_int64(st, 2, r->ts_ns / 1000);
	if (r->parse_error[0]) {
		/* a broken direction: when and why, nothing else */
		bind_textn(e, st, 14, r->parse_error, strlen(r->parse_error));
		return run(e, st);
	}
	bind_textn(e, st, 3, q->method, q->method_len);
	bind_textn(e, st, 4, q->path, q->path_len);
	bind_textn(e, st, 5, q->have_host ? q->host : NULL, q->host_len);
	bind_textn(e, st, 6, q->have_user_agent ? q->user_agent : NULL, q->user_agent_len);
	sqlite3_bind_int(st, 7, q->imds_token);
	if (r->answer_ns)
		sqlite3_bind_int64(st, 8, r->answer_ns / 1000);
	if (r->status)
		sqlite3_bind_int(st, 9, r->status);
	bind_textn(e, st, 10, q->role_len ? q->role : NULL, q->role_len);
	if (q->have_token_ttl)
		sqlite3_bind_int64(st, 11, q->token_ttl);
	if (q->imds != CID_HTTP_IMDS_NONE)
		sqlite3_bind_int(st, 12, q->imdsv);
	bind_textn(e, st, 13, cid_http_imds_name(q->imds), strlen(cid_http_imds_name(q->imds)));
	return run(e, st);
}

void cid_evidence_dns_answers_json(struct cid_buf *b, const struct cid_dns_msg *m)
{
	char addr[CID_ADDRSTRLEN];
	cid_buf_addc(b, '[');
	for (uint32_t i = 0; i < m->num_answers; i++) {
		const struct cid_dns_rr *rr = &m->answers[i];
		if (i)
			cid_buf_addc(b, ',');
		/* names up to a NUL byte, like every stored wire string */
		cid_buf_adds(b, "{\"name\":");
		cid_esc_json(b, rr->name.text, strnlen(rr->name.text, rr->name.len));
		cid_buf_printf(b, ",\"type\":\"%s\",\"ttl\":%lu,\"data\":", cid_dns_type_name(rr->type),
			       (unsigned long)rr->ttl);
		if (rr->type == CID_DNS_TYPE_CNAME)
			cid_esc_json(b, rr->target.text, strnlen(rr->target.text, rr->target.len));
		else {
			cid_addr_str(&rr->addr, addr, sizeof(addr));
			cid_esc_json(b, addr, strlen(addr));
		}
		cid_buf_adds(b, rr->on_chain ? ",\"chain\":true}" : ",\"chain\":false}");
	}
	cid_buf_addc(b, ']');
}

/* Fills r's values from a parse result, its text (qname, then answers;
 * or the parse error) written to b, which r->text does not point into
 * yet. -CID_ENOMEM when b could not grow. */
static int row_fill(struct cid_dns_row *r, struct cid_buf *b, const struct cid_dns_msg *m,
		    enum cid_status st, const char *reason)
{
	memset(r, 0, sizeof(*r));
	cid_buf_reset(b);
	if (st != CID_OK || !m) {
		char why[160];
		int n = snprintf(why, sizeof(why), "%s: %s", cid_status_name(st), reason ? reason : "");
		cid_buf_add(b, why, n < 0 ? 0 : (size_t)n < sizeof(why) ? (size_t)n : sizeof(why) - 1);
		r->why_len = (uint32_t)b->len;
		return b->oom ? -CID_ENOMEM : 0;
	}
	r->ok = true;
	r->have_question = m->have_question;
	if (m->have_question) {
		cid_buf_add(b, m->qname.text, m->qname.len);
		r->qname_len = (uint32_t)b->len;
		r->qtype = m->qtype;
	}
	r->rcode = m->rcode;
	r->qr = m->qr;
	if (m->qr) {
		size_t before = b->len;
		cid_evidence_dns_answers_json(b, m);
		/* past the cap the answers are NULL, not cut JSON */
		r->answers_null = b->capped;
		r->answers_len = b->capped ? 0 : (uint32_t)(b->len - before);
	}
	r->id = m->id;
	r->flags = m->flags;
	return b->oom ? -CID_ENOMEM : 0;
}

int cid_dns_row_make(struct cid_dns_row *r, struct cid_dns_msg *scratch, struct cid_buf *b,
		     const struct cid_dns_raw *d)
{
	const char *reason = NULL;
	enum cid_status st = cid_dns_parse(scratch, &reason, d->bytes, d->len);
	int rc = row_fill(r, b, scratch, st, reason);
	if (rc)
		return rc;
	r->ts_ns = d->ts_ns;
	r->text = malloc(b->len ? b->len : 1);
	if (!r->text)
		return -CID_ENOMEM;
	memcpy(r->text, b->p, b->len);
	return 0;
}

void cid_dns_row_free(struct cid_dns_row *r)
{
	if (!r)
		return;
	free(r->text);
	r->text = NULL;
}

int cid_evidence_put_dns_row(struct cid_evidence *e, const struct cid_dns_seen *w, const struct cid_dns_row *r)
{
	sqlite3_stmt *st = e->st[EV_DNS];
	int rc = cid_store_begin(e->store);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, w->ts_ns / 1000);
	bind_addr(e, st, 2, &w->client);
	sqlite3_bind_int(st, 3, w->client_port);
	bind_id(st, 8, w->flow_id);
	bind_addr(e, st, 9, &w->server);
	sqlite3_bind_int(st, 10, w->server_port);
	sqlite3_bind_int(st, 11, w->proto);
	if (!r->ok) {
		bind_textn(e, st, 15, r->text, r->why_len);
		return run(e, st);
	}
	if (r->have_question) {
		bind_textn(e, st, 4, r->text, r->qname_len);
		sqlite3_bind_int(st, 5, r->qtype);
	}
	sqlite3_bind_int(st, 6, r->rcode);
	if (r->qr && !r->answers_null)
		bind_textn(e, st, 7, r->text + r->qname_len, r->answers_len);
	sqlite3_bind_int(st, 12, r->id);
	sqlite3_bind_int(st, 13, r->qr);
	sqlite3_bind_int(st, 14, r->flags);
	return run(e, st);
}

int cid_evidence_put_dns(struct cid_evidence *e, const struct cid_dns_seen *w, const struct cid_dns_msg *m,
			 enum cid_status st, const char *reason)
{
	struct cid_dns_row r;
	if (row_fill(&r, &e->answers, m, st, reason))
		return -CID_ENOMEM;
	r.ts_ns = w->ts_ns;
	r.text = e->answers.p;
	return cid_evidence_put_dns_row(e, w, &r);
}

int cid_evidence_put_dns_raw(struct cid_evidence *e, const struct cid_dns_seen *w, struct cid_dns_msg *scratch,
			     const struct cid_dns_raw *d)
{
	const char *reason = NULL;
	enum cid_status st = cid_dns_parse(scratch, &reason, d->bytes, d->len);
	return cid_evidence_put_dns(e, w, scratch, st, reason);
}
