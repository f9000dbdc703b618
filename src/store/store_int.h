/*
 * store_int.h - internals shared by the files of src/store/ (not a public
 * interface: other modules use include/callerid/store.h).
 */
#ifndef CID_STORE_INT_H
#define CID_STORE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "callerid/dns.h"
#include "callerid/store.h"

/* The migration that takes a database from schema version `from` to
 * `from + 1`: one SQL text of ';'-separated statements, run inside the
 * migration transaction. NULL when `from` is out of range
 * (0 <= from < cid_store_schema_version()). */
const char *cid_store_migration_sql(int from);

#define LIST_CAP 4096u /* text of one list column: 256 ciphers * 5 bytes fits */

enum stmt_id {
	ST_CAPTURE_INS,
	ST_CAPTURE_END,
	ST_FLOW_INS,
	ST_FLOW_UPD,
	ST_TLS_PUT,
	ST_REQ_INS,
	ST_REQ_UPD,
	ST__COUNT
};

/* A fixed-size text builder for list columns; overflow cuts the list at an
 * item boundary and is remembered. */
struct list {
	char p[LIST_CAP];
	size_t len;
	bool cut;
};

struct cid_store {
	sqlite3 *db;
	bool readonly;
	bool failed;      /* a write in a batch failed: no more writes */
	unsigned pending; /* rows in the open batch */
	int bind_rc;      /* first failed bind of the statement being filled */
	uint64_t hash_failed; /* fingerprints libcrypto could not compute */
	sqlite3_stmt *st[ST__COUNT];
	char err[CID_ERRBUF_SIZE];
	/* Scratch for put_flow, kept here rather than on the stack. */
	struct list ciphers, versions, groups, key_shares, sig_algs, exts;
	char ja3[CID_JA3_MAX], ja3s[CID_JA3_MAX];
	struct cid_evidence *ev;  /* http/dns writers, made on first use */
	struct cid_dns_msg dns;   /* scratch for parsing a flow's DNS messages */
	struct cid_ckpt *ck;      /* checkpointer, between ckpt_begin and _end */
};

/* store.c: errors, statements, batches */
void cid_store_set_err(struct cid_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A write or commit that failed inside a batch: the batch is rolled back
 * and the store refuses writes from now on (returns -CID_EDB). */
int cid_store_write_stop(struct cid_store *s);
/* The same, with "what: SQLite's message" as the error. */
int cid_store_write_fail(struct cid_store *s, const char *what);
/* The prepared statement (made on first use), or NULL with the store stopped. */
sqlite3_stmt *cid_store_stmt(struct cid_store *s, enum stmt_id id);
/* Steps a bound statement that returns no rows, then resets it. */
int cid_store_run(struct cid_store *s, sqlite3_stmt *st, const char *what);
/* n rows written in the open batch: commits when it is full. */
int cid_store_count_rows(struct cid_store *s, unsigned n);

/* Wire text is bound with its length, every byte as it came (quotes,
 * backslashes, bytes that are not UTF-8) up to its first NUL byte, which
 * ends it: stored text is a C string everywhere (the SNI parser already
 * stops there; README "Strings from the wire"). The first failure is kept
 * for cid_store_run(). */
static inline void cid_store_bind_textn(struct cid_store *s, sqlite3_stmt *st, int i, const char *p, size_t n)
{
	int rc = p ? sqlite3_bind_text64(st, i, p, (sqlite3_uint64)strnlen(p, n), SQLITE_TRANSIENT, SQLITE_UTF8)
		   : sqlite3_bind_null(st, i);
	if (rc != SQLITE_OK && !s->bind_rc)
		s->bind_rc = rc;
}

static inline void cid_store_bind_str(struct cid_store *s, sqlite3_stmt *st, int i, const char *p)
{
	cid_store_bind_textn(s, st, i, p, p ? strlen(p) : 0);
}

static inline void cid_store_bind_i64(sqlite3_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

static inline void cid_store_bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
	sqlite3_bind_int64(st, i, (sqlite3_int64)(v > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : v));
}

/* 0 means "not known" for times and ids. */
static inline void cid_store_bind_i64_or_null(sqlite3_stmt *st, int i, int64_t v)
{
	if (v)
		cid_store_bind_i64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static inline void cid_store_bind_list(struct cid_store *s, sqlite3_stmt *st, int i, const struct list *l, bool have)
{
	if (have)
		cid_store_bind_textn(s, st, i, l->p, l->len);
	else
		sqlite3_bind_null(st, i);
}

#endif /* CID_STORE_INT_H */
