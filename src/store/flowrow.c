/*
 * flowrow.c - a flow's rows: the flow itself, its TLS hellos with their
 * fingerprints, its request bursts and its plaintext evidence, written in
 * the store's open batch (store.c opens, batches and commits).
 *
 * A flow may be written several times (a live capture rewrites its open
 * flows every second): the flow row is inserted once and then updated, the
 * TLS row is rewritten only when what it is made of changed, and bursts
 * already written are not inserted again.
 */
#include "callerid/evidence.h"
#include "callerid/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* ---- list columns ------------------------------------------------------- */

static void list_reset(struct list *l)
{
	l->len = 0;
	l->cut = false;
	l->p[0] = '\0';
}

/* Appends one item (with a ',' before it unless first). */
static void list_add(struct list *l, const char *item)
{
	size_t n = strlen(item), need = n + (l->len ? 1 : 0);
	if (l->cut || l->len + need >= sizeof(l->p)) {
		l->cut = true;
		return;
	}
	if (l->len)
		l->p[l->len++] = ',';
	memcpy(l->p + l->len, item, n);
	l->len += n;
	l->p[l->len] = '\0';
}

static void hex16(char out[5], uint16_t v)
{
	static const char digits[] = "0123456789abcdef";
	out[0] = digits[(v >> 12) & 15];
	out[1] = digits[(v >> 8) & 15];
	out[2] = digits[(v >> 4) & 15];
	out[3] = digits[v & 15];
	out[4] = '\0';
}

/* 4-digit lowercase hex in wire order, GREASE kept. (Written by hand: these
 * lists are most of a TLS row, and printf was a tenth of a large read.) */
static void list_hex16(struct list *l, const uint16_t *v, size_t n)
{
	char item[8];
	list_reset(l);
	for (size_t i = 0; i < n; i++) {
		hex16(item, v[i]);
		list_add(l, item);
	}
}

/* Names from name_of(), "0x%04x" for unknown values, GREASE dropped. */
static void list_names(struct list *l, const uint16_t *v, size_t n, const char *(*name_of)(uint16_t))
{
	char item[8];
	list_reset(l);
	for (size_t i = 0; i < n; i++) {
		const char *name;
		if (cid_tls_is_grease(v[i]))
			continue;
		name = name_of(v[i]);
		if (!name) {
			item[0] = '0';
			item[1] = 'x';
			hex16(item + 2, v[i]);
			name = item;
		}
		list_add(l, name);
	}
}

static void hex_bytes(char *out, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- flows -------------------------------------------------------------- */

/* A hash of the values a rewrite binds: a live capture puts an open flow
 * every second it changed and once more as it ends, and an UPDATE that
 * would store the same values costs as much as one that does not. */
static uint64_t sig_u64(uint64_t h, uint64_t v)
{
	return cid_mix64(h ^ cid_mix64(v));
}

static uint64_t sig_str(uint64_t h, const char *p)
{
	return sig_u64(h, p ? cid_fnv1a(CID_FNV1A_INIT, p, strlen(p)) : 0);
}

static uint64_t flow_sig(const struct cid_flow *f, const char *ifaces_text)
{
	uint64_t h = sig_u64(0, (uint64_t)(f->last_ns / 1000));
	h = sig_u64(h, f->direction_guessed);
	h = sig_u64(h, f->c2s_pkts);
	h = sig_u64(h, f->c2s_bytes);
	h = sig_u64(h, f->s2c_pkts);
	h = sig_u64(h, f->s2c_bytes);
	h = sig_u64(h, f->have_syn ? (uint64_t)f->syn_seq : UINT64_MAX);
	h = sig_u64(h, (uint64_t)f->end_reason);
	h = sig_u64(h, f->mid_stream);
	h = sig_u64(h, f->dup_pkts);
	h = sig_u64(h, f->reqs_dropped);
	return sig_str(h, ifaces_text);
}

/* A burst's answer time and sizes, bound as ?i, ?i+1, ?i+2 (the insert
 * and the update of a request row both end with them). */
static void bind_req_tail(sqlite3_stmt *st, int i, const struct cid_request *q)
{
	cid_store_bind_i64_or_null(st, i, q->answer_ns / 1000);
	cid_store_bind_u64(st, i + 1, q->c2s_bytes);
	cid_store_bind_u64(st, i + 2, q->s2c_bytes);
}

static uint64_t req_sig(const struct cid_request *q)
{
	uint64_t h = sig_u64(0, (uint64_t)(q->answer_ns / 1000));
	h = sig_u64(h, q->c2s_bytes);
	return sig_u64(h, q->s2c_bytes);
}

static int put_flow_row(struct cid_store *s, int64_t capture_id, struct cid_flow *f,
			const char *ifaces_text, const struct cid_flow_fp *fp)
{
	char cli[CID_ADDRSTRLEN], srv[CID_ADDRSTRLEN], cid[64], ifs[CID_MAX_IFACES * 12];
	bool update = f->db_id != 0;
	sqlite3_stmt *st;
	uint64_t sig;
	int r;
	if (!ifaces_text && f->num_ifaces) {
		/* No names known: the interface indexes. */
		size_t len = 0;
		ifs[0] = '\0';
		for (unsigned i = 0; i < f->num_ifaces && i < CID_MAX_IFACES; i++) {
			int n = snprintf(ifs + len, sizeof(ifs) - len, "%s%u", i ? "," : "",
					 (unsigned)f->ifaces[i]);
			if (n < 0 || (size_t)n >= sizeof(ifs) - len)
				break;
			len += (size_t)n;
		}
		ifaces_text = ifs;
	}
	sig = flow_sig(f, ifaces_text);
	if (update && sig == f->row_sig)
		return 0; /* the row holds these values already */
	st = cid_store_stmt(s, update ? ST_FLOW_UPD : ST_FLOW_INS);
	if (!st)
		return -CID_EDB;
	if (update) {
		cid[0] = '\0'; /* not rewritten */
	} else {
		if (fp)
			memcpy(cid, fp->community_id, sizeof(cid));
		else
			cid_community_id(f, 0, cid);
		if (!cid[0])
			s->hash_failed++;
	}
	cid_store_bind_i64_or_null(st, 1, capture_id);
	cid_store_bind_i64(st, 2, f->first_ns / 1000);
	cid_store_bind_i64(st, 3, f->last_ns / 1000);
	sqlite3_bind_int(st, 4, f->proto);
	cid_store_bind_str(s, st, 5, cid_addr_str(&f->cli, cli, sizeof(cli)));
	sqlite3_bind_int(st, 6, f->cport);
	cid_store_bind_str(s, st, 7, cid_addr_str(&f->srv, srv, sizeof(srv)));
	sqlite3_bind_int(st, 8, f->sport);
	cid_store_bind_str(s, st, 9, ifaces_text);
	sqlite3_bind_int(st, 10, f->direction_guessed);
	cid_store_bind_u64(st, 11, f->c2s_pkts);
	cid_store_bind_u64(st, 12, f->c2s_bytes);
	cid_store_bind_u64(st, 13, f->s2c_pkts);
	cid_store_bind_u64(st, 14, f->s2c_bytes);
	if (f->have_syn)
		cid_store_bind_i64(st, 15, f->syn_seq);
	else
		sqlite3_bind_null(st, 15);
	cid_store_bind_str(s, st, 16, f->end_reason == CID_END_NONE ? NULL : cid_end_name(f->end_reason));
	cid_store_bind_str(s, st, 17, cid[0] ? cid : NULL);
	sqlite3_bind_int(st, 18, f->mid_stream);
	cid_store_bind_u64(st, 19, f->dup_pkts);
	cid_store_bind_i64(st, 20, f->reqs_dropped);
	if (update)
		cid_store_bind_i64(st, 21, f->db_id);
	r = cid_store_run(s, st, update ? "cannot update flow" : "cannot insert flow");
	if (r)
		return r;
	if (!update)
		f->db_id = (int64_t)sqlite3_last_insert_rowid(s->db);
	f->row_sig = sig;
	return 0;
}

static int put_tls_row(struct cid_store *s, const struct cid_flow *f, const struct cid_flow_fp *fp)
{
	const struct cid_flow_tls *t = f->tls;
	const struct cid_tls_hello *ch = t->have_ch ? &t->ch : NULL;
	const struct cid_tls_hello *sh = t->have_sh ? &t->sh : NULL;
	char random_hex[65], sid_hex[65], ja3_md5[33], ja3s_md5[33], ja4[CID_JA4_LEN];
	sqlite3_stmt *st = cid_store_stmt(s, ST_TLS_PUT);
	if (!st)
		return -CID_EDB;
	cid_store_bind_i64(st, 1, f->db_id);
	if (ch) {
		bool ja3_ok;
		if (ch->has_sni)
			cid_store_bind_textn(s, st, 2, ch->sni, ch->sni_len);
		hex_bytes(random_hex, ch->random, sizeof(ch->random));
		cid_store_bind_str(s, st, 3, random_hex);
		if (ch->num_versions) {
			list_names(&s->versions, ch->versions, ch->num_versions, cid_tls_version_name);
		} else {
			/* No supported_versions: the client offers legacy_version
			 * (RFC 8446 4.2.1; TLS 1.2 and earlier negotiate on it). */
			list_names(&s->versions, &ch->legacy_version, 1, cid_tls_version_name);
		}
		cid_store_bind_list(s, st, 4, &s->versions, true);
		if (ch->has_alpn)
			cid_store_bind_textn(s, st, 11, ch->alpn, strnlen(ch->alpn, sizeof(ch->alpn)));
		/* the JA3 string always fits (the hello's lists are capped):
		 * no hash means libcrypto failed */
		if (fp && fp->ja3) {
			ja3_ok = fp->ja3_md5[0] != '\0';
			cid_store_bind_str(s, st, 13, fp->ja3);
			cid_store_bind_str(s, st, 14, ja3_ok ? fp->ja3_md5 : NULL);
			cid_store_bind_str(s, st, 17, fp->ja4[0] ? fp->ja4 : NULL);
			s->hash_failed += (uint64_t)!ja3_ok + (uint64_t)!fp->ja4[0];
		} else {
			ja3_ok = cid_ja3(ch, s->ja3, sizeof(s->ja3), ja3_md5);
			cid_store_bind_str(s, st, 13, s->ja3);
			cid_store_bind_str(s, st, 14, ja3_ok ? ja3_md5 : NULL);
			cid_ja4(ch, f->proto == 17 ? 'q' : 't', ja4);
			cid_store_bind_str(s, st, 17, ja4[0] ? ja4 : NULL);
			s->hash_failed += (uint64_t)!ja3_ok + (uint64_t)!ja4[0];
		}
		sqlite3_bind_int(st, 18, ch->ech);
		list_hex16(&s->ciphers, ch->ciphers, ch->num_ciphers);
		cid_store_bind_list(s, st, 21, &s->ciphers, true);
		list_names(&s->groups, ch->groups, ch->num_groups, cid_tls_group_name);
		cid_store_bind_list(s, st, 22, &s->groups, true);
		list_names(&s->key_shares, ch->key_share, ch->num_key_share, cid_tls_group_name);
		cid_store_bind_list(s, st, 23, &s->key_shares, true);
		list_hex16(&s->sig_algs, ch->sig_algs, ch->num_sig_algs);
		cid_store_bind_list(s, st, 24, &s->sig_algs, true);
		sqlite3_bind_int(st, 25, ch->legacy_version);
		hex_bytes(sid_hex, ch->session_id,
			  ch->session_id_len <= sizeof(ch->session_id) ? ch->session_id_len
								       : sizeof(ch->session_id));
		cid_store_bind_str(s, st, 26, sid_hex);
		list_hex16(&s->exts, ch->exts, ch->num_exts);
		cid_store_bind_list(s, st, 28, &s->exts, true);
		cid_store_bind_i64_or_null(st, 29, t->ch_ns / 1000);
	}
	if (sh) {
		uint16_t v = cid_tls_negotiated_version(sh), group;
		bool ja3s_ok;
		cid_store_bind_str(s, st, 5, cid_tls_version_name(v));
		sqlite3_bind_int(st, 6, v);
		if (sh->num_ciphers) {
			sqlite3_bind_int(st, 7, sh->ciphers[0]);
			cid_store_bind_str(s, st, 8, cid_tls_cipher_name(sh->ciphers[0]));
		}
		/* the key_share group (TLS 1.3), else the ServerKeyExchange's
		 * named curve (TLS <= 1.2 ECDHE) */
		if (cid_flow_tls_group(t, &group)) {
			cid_store_bind_str(s, st, 9, cid_tls_group_name(group));
			sqlite3_bind_int(st, 10, group);
		}
		if (sh->has_alpn)
			cid_store_bind_textn(s, st, 12, (const char *)sh->alpn_first, sh->alpn_first_len);
		if (fp && fp->ja3s) {
			ja3s_ok = fp->ja3s_md5[0] != '\0';
			cid_store_bind_str(s, st, 15, fp->ja3s);
			cid_store_bind_str(s, st, 16, ja3s_ok ? fp->ja3s_md5 : NULL);
		} else {
			ja3s_ok = cid_ja3s(sh, s->ja3s, sizeof(s->ja3s), ja3s_md5);
			cid_store_bind_str(s, st, 15, s->ja3s);
			cid_store_bind_str(s, st, 16, ja3s_ok ? ja3s_md5 : NULL);
		}
		s->hash_failed += !ja3s_ok;
		if (!ch)
			sqlite3_bind_int(st, 25, sh->legacy_version);
		cid_store_bind_i64_or_null(st, 30, t->sh_ns / 1000);
	}
	sqlite3_bind_int(st, 19, t->hrr);
	sqlite3_bind_int(st, 20, (int)t->num_client_hellos);
	cid_store_bind_str(s, st, 27, cid_tls_status_name(t->status));
	return cid_store_run(s, st, "cannot write tls");
}

/* The flow's plaintext evidence (issue 7): IMDS/HTTP requests and DNS
 * messages not written yet. DNS bytes are parsed here, once. */
static int ev_fail(struct cid_store *s, int r, const char *what)
{
	if (r == -CID_ENOMEM) {
		cid_store_set_err(s, "%s: out of memory", what);
		return cid_store_write_stop(s);
	}
	return cid_store_write_fail(s, what);
}

static int put_evidence(struct cid_store *s, struct cid_flow *f)
{
	struct cid_flow_ev *ev = f->ev;
	char err[CID_ERRBUF_SIZE];
	int r;
	if (ev->http_written >= ev->num_http && ev->dns_written >= ev->num_dns)
		return 0;
	if (!s->ev) {
		s->ev = cid_evidence_new(s, err, sizeof(err));
		if (!s->ev) {
			cid_store_set_err(s, "%s", err);
			return -CID_EDB;
		}
	}
	for (; ev->http_written < ev->num_http; ev->http_written++)
		if ((r = cid_evidence_put_http(s->ev, f->db_id, &ev->http_recs[ev->http_written])) < 0)
			return ev_fail(s, r, "cannot insert http row");
	for (; ev->dns_written < ev->num_dns; ev->dns_written++) {
		const struct cid_dns_raw *d = &ev->dns[ev->dns_written];
		struct cid_dns_seen w;
		memset(&w, 0, sizeof(w));
		w.ts_ns = d->ts_ns;
		w.flow_id = f->db_id;
		w.proto = f->proto;
		w.client = f->cli;
		w.server = f->srv;
		w.client_port = f->cport;
		w.server_port = f->sport;
		if (ev->dns_rows)
			r = cid_evidence_put_dns_row(s->ev, &w, &ev->dns_rows[ev->dns_written]);
		else
			r = cid_evidence_put_dns_raw(s->ev, &w, &s->dns, d);
		if (r < 0)
			return ev_fail(s, r, "cannot insert dns row");
	}
	return 0;
}

int cid_flow_fp_make(const struct cid_flow *f, struct cid_flow_fp *fp)
{
	const struct cid_flow_tls *t = f->tls;
	memset(fp, 0, sizeof(*fp));
	cid_community_id(f, 0, fp->community_id);
	if (t && t->have_ch) {
		char buf[CID_JA3_MAX];
		if (!cid_ja3(&t->ch, buf, sizeof(buf), fp->ja3_md5))
			fp->ja3_md5[0] = '\0';
		fp->ja3 = strdup(buf);
		cid_ja4(&t->ch, f->proto == 17 ? 'q' : 't', fp->ja4);
	}
	if (t && t->have_sh) {
		char buf[CID_JA3_MAX];
		if (!cid_ja3s(&t->sh, buf, sizeof(buf), fp->ja3s_md5))
			fp->ja3s_md5[0] = '\0';
		fp->ja3s = strdup(buf);
	}
	if ((t && t->have_ch && !fp->ja3) || (t && t->have_sh && !fp->ja3s)) {
		cid_flow_fp_free(fp);
		return -1;
	}
	return 0;
}

void cid_flow_fp_free(struct cid_flow_fp *fp)
{
	if (!fp)
		return;
	free(fp->ja3);
	free(fp->ja3s);
	fp->ja3 = fp->ja3s = NULL;
}

int cid_store_put_flow(struct cid_store *s, int64_t capture_id, struct cid_flow *f,
		       const char *ifaces_text)
{
	return cid_store_put_flow_fp(s, capture_id, f, ifaces_text, NULL);
}

int cid_store_put_flow_fp(struct cid_store *s, int64_t capture_id, struct cid_flow *f,
			  const char *ifaces_text, const struct cid_flow_fp *fp)
{
	sqlite3_stmt *st;
	unsigned rows = 1;
	uint32_t i;
	int r = cid_store_begin(s);
	if (r)
		return r;
	r = put_flow_row(s, capture_id, f, ifaces_text, fp);
	if (r)
		return r;
	if (f->tls) {
		const struct cid_flow_tls *t = f->tls;
		/* what the row is made of: the hellos (each set once, at its
		 * time), the ServerKeyExchange's curve (set once, after the
		 * ServerHello: a live flow's row is rewritten when it comes)
		 * and these flags */
		uint32_t state = (uint32_t)t->have_ch | (uint32_t)t->have_sh << 1 | (uint32_t)t->hrr << 2 |
				 (uint32_t)t->have_ske_group << 3 | ((uint32_t)t->status & 0xff) << 8 |
				 (t->num_client_hellos & 0xffff) << 16;
		if (!f->tls_written || f->tls_written_state != state || f->tls_written_ch_ns != t->ch_ns ||
		    f->tls_written_sh_ns != t->sh_ns) {
			r = put_tls_row(s, f, fp);
			if (r)
				return r;
			f->tls_written = true;
			f->tls_written_state = state;
			f->tls_written_ch_ns = t->ch_ns;
			f->tls_written_sh_ns = t->sh_ns;
			rows++;
		}
	}
	/* The last burst written may have been open then (a live capture
	 * writes open flows every second): its answer time and sizes are
	 * rewritten; the bursts before it were closed when written. */
	if (f->reqs_written && f->req_last_id && req_sig(&f->reqs[f->reqs_written - 1]) != f->req_last_sig) {
		const struct cid_request *q = &f->reqs[f->reqs_written - 1];
		st = cid_store_stmt(s, ST_REQ_UPD);
		if (!st)
			return -CID_EDB;
		cid_store_bind_i64(st, 1, f->req_last_id);
		bind_req_tail(st, 2, q);
		r = cid_store_run(s, st, "cannot update request");
		if (r)
			return r;
		f->req_last_sig = req_sig(q);
	}
	if (f->reqs_written < f->num_reqs) {
		st = cid_store_stmt(s, ST_REQ_INS);
		if (!st)
			return -CID_EDB;
		for (i = f->reqs_written; i < f->num_reqs; i++) {
			const struct cid_request *q = &f->reqs[i];
			cid_store_bind_i64(st, 1, f->db_id);
			cid_store_bind_i64(st, 2, q->ts_ns / 1000);
			bind_req_tail(st, 3, q);
			r = cid_store_run(s, st, "cannot insert request");
			if (r)
				return r;
			/* Written: never inserted again, even if a later one fails. */
			f->reqs_written = i + 1;
			f->req_last_id = (int64_t)sqlite3_last_insert_rowid(s->db);
			f->req_last_sig = req_sig(q);
			rows++;
		}
	}
	r = cid_store_count_rows(s, rows);
	if (!r && f->ev)
		r = put_evidence(s, f);
	return r;
}
