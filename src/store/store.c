/*
 * store.c - the SQLite adapter: opening (safely), migrating, and the
 * batched writers for captures, flows, TLS hellos and request bursts.
 *
 * Safety on open: the file is created by us with O_CREAT|O_EXCL|O_NOFOLLOW
 * and mode 0600 before SQLite sees it (SQLite then gives the -wal and -shm
 * files the same mode); an existing path must be a regular file, never a
 * symbolic link (lstat here, SQLITE_OPEN_NOFOLLOW in SQLite against a swap
 * in between), and must start with the SQLite header or be empty.
 *
 * Writes: every statement is prepared once per store and bound; wire text
 * (SNI, ALPN) is bound with its length so any byte but NUL round-trips.
 * A batch is one transaction (BEGIN IMMEDIATE: take the write lock up front
 * so a concurrent writer waits in busy_timeout instead of deadlocking on a
 * lock upgrade) committed every CID_STORE_BATCH rows or on flush/free.
 */
#include "callerid/dns.h"
#include "callerid/evidence.h"
#include "callerid/ckpt.h"
#include "callerid/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"

#define BUSY_TIMEOUT_MS 5000
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

/* Flow columns bound as ?1..?20 by both the insert and the update (?21 = id). */
#define FLOW_COLS                                                                        \
	"capture_id, first_us, last_us, proto, client_ip, client_port, server_ip,"      \
	" server_port, ifaces, direction_guessed, c2s_pkts, c2s_bytes, s2c_pkts,"       \
	" s2c_bytes, syn_seq, end_reason, community_id, mid_stream, dup_pkts, reqs_dropped"

static const char *const stmt_sql[ST__COUNT] = {
	[ST_CAPTURE_INS] = "INSERT INTO capture(kind, source, host, filter, started_us)"
			   " VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_CAPTURE_END] = "UPDATE capture SET started_us = COALESCE(?2, started_us),"
			   " ended_us = ?3, pkts_received = ?4, pkts_dropped = ?5,"
			   " pkts_if_dropped = ?6 WHERE id = ?1",
	[ST_FLOW_INS] = "INSERT INTO flow(" FLOW_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
			" ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
	/* A flow's tuple, first packet and Community ID never change: leaving
	 * them (and so the three indexes on them) alone made a live capture's
	 * once-a-second rewrite of its open flows several times cheaper. The
	 * parameters keep ST_FLOW_INS's numbers (put_flow_row binds both). */
	[ST_FLOW_UPD] = "UPDATE flow SET last_us = ?3, ifaces = ?9, direction_guessed = ?10,"
			" c2s_pkts = ?11, c2s_bytes = ?12, s2c_pkts = ?13, s2c_bytes = ?14,"
			" syn_seq = ?15, end_reason = ?16, mid_stream = ?18, dup_pkts = ?19,"
			" reqs_dropped = ?20 WHERE id = ?21",
	[ST_TLS_PUT] = "INSERT OR REPLACE INTO tls(flow_id, sni, client_random,"
		       " offered_versions, version, version_code, cipher_code, cipher,"
		       " \"group\", group_code, alpn, alpn_chosen, ja3, ja3_hash, ja3s,"
		       " ja3s_hash, ja4, ech, hrr, num_client_hellos, offered_ciphers,"
		       " offered_groups, key_share_groups, sig_algs, legacy_version,"
		       " session_id, status, extensions, ch_us, sh_us)"
		       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
		       " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26,"
		       " ?27, ?28, ?29, ?30)",
	[ST_REQ_INS] = "INSERT INTO request(flow_id, ts_us, answer_us, c2s_bytes, s2c_bytes)"
		       " VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_REQ_UPD] = "UPDATE request SET answer_us = ?2, c2s_bytes = ?3, s2c_bytes = ?4 WHERE id = ?1",
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

static void set_err(struct cid_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct cid_store *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
}

static int db_fail(struct cid_store *s, const char *what)
{
	set_err(s, "%s: %s", what, sqlite3_errmsg(s->db));
	return -CID_EDB;
}

/* A write or commit that failed inside a batch loses the batch: SQLite may
 * already have rolled it back (SQLITE_FULL, SQLITE_IOERR) and the rows
 * after it may refer to rows in it (a flow to its capture). Later writes
 * must not open a new batch that commits them without those rows, so the
 * batch is rolled back here and the store refuses writes from now on with
 * this first error. What earlier batches committed stays. */
static int exec(struct cid_store *s, const char *sql);

static int write_stop(struct cid_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK");
	s->pending = 0;
	s->failed = true;
	return -CID_EDB;
}

static int write_fail(struct cid_store *s, const char *what)
{
	db_fail(s, what);
	return write_stop(s);
}

/* ---- opening ------------------------------------------------------------ */

/* The first 16 bytes of every SQLite database file (fileformat2 1.3.1). */
static const char sqlite_magic[16] = "SQLite format 3";

/* SQLite opens these beside the database by name; a symbolic link put there
 * would have it write where the link points. */
static int check_side_files(struct cid_store *s, const char *path)
{
	static const char *const suffix[] = {"-wal", "-shm", "-journal"};
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		char side[4096];
		struct stat st;
		int n = snprintf(side, sizeof(side), "%s%s", path, suffix[i]);
		if (n < 0 || (size_t)n >= sizeof(side)) {
			set_err(s, "database path too long");
			return -CID_EINVAL;
		}
		if (lstat(side, &st) == 0 && !S_ISREG(st.st_mode)) {
			set_err(s, "refusing to open database %s: %s is %s", path, side,
				S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file");
			return -CID_EIO;
		}
	}
	return 0;
}

/* Refuses symlinks and non-regular files (the database and the files
 * SQLite keeps beside it), checks the header of an existing file, creates
 * a missing one 0600. */
static int check_or_create(struct cid_store *s, const char *path, bool readonly)
{
	struct stat st;
	if (check_side_files(s, path))
		return -CID_EIO;
	if (lstat(path, &st) == 0) {
		char head[16];
		ssize_t n;
		int fd;
		if (S_ISLNK(st.st_mode)) {
			set_err(s, "refusing to open database %s: it is a symbolic link", path);
			return -CID_EIO;
		}
		if (!S_ISREG(st.st_mode)) {
			set_err(s, "database %s is not a regular file", path);
			return -CID_EIO;
		}
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			set_err(s, "cannot open database %s: %s", path, strerror(errno));
			return -CID_EIO;
		}
		n = read(fd, head, sizeof(head));
		close(fd);
		if (n < 0) {
			set_err(s, "cannot read database %s: %s", path, strerror(errno));
			return -CID_EIO;
		}
		/* An empty file is an empty database; anything else must carry
		 * the header. */
		if (n > 0 && (n < (ssize_t)sizeof(head) || memcmp(head, sqlite_magic, sizeof(head)))) {
			set_err(s, "%s is not a SQLite database", path);
			return -CID_EINVAL;
		}
		return 0;
	}
	if (errno != ENOENT) {
		set_err(s, "cannot open database %s: %s", path, strerror(errno));
		return -CID_EIO;
	}
	if (readonly) {
		set_err(s, "database %s does not exist", path);
		return -CID_EIO;
	}
	{
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			set_err(s, "cannot create database %s: %s", path, strerror(errno));
			return -CID_EIO;
		}
		close(fd);
	}
	return 0;
}

/* Maps "file is not a database" to a message naming the file. */
static int open_fail(struct cid_store *s, const char *path, const char *what)
{
	if ((sqlite3_errcode(s->db) & 0xff) == SQLITE_NOTADB) {
		set_err(s, "%s is not a SQLite database", path);
		return -CID_EINVAL;
	}
	set_err(s, "database %s: %s: %s", path, what, sqlite3_errmsg(s->db));
	return -CID_EDB;
}

static int read_user_version(struct cid_store *s, int *ver)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return -1;
	}
	*ver = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

static int exec(struct cid_store *s, const char *sql)
{
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int newer_err(struct cid_store *s, const char *path, int ver)
{
	set_err(s, "database %s has schema version %d, newer than this callerid (%d)", path, ver,
		cid_store_schema_version());
	return -CID_EVERSION;
}

/* Runs the migrations from the database's version to ours in one
 * transaction. The version is read again under the write lock: another
 * process may have migrated between our first look and the lock. */
static int migrate(struct cid_store *s, const char *path)
{
	int cur = cid_store_schema_version(), ver = 0;
	char sql[64];
	if (exec(s, "BEGIN IMMEDIATE"))
		return open_fail(s, path, "cannot begin migration");
	if (read_user_version(s, &ver)) {
		int r = open_fail(s, path, "cannot read schema version");
		exec(s, "ROLLBACK");
		return r;
	}
	if (ver > cur) {
		exec(s, "ROLLBACK");
		return newer_err(s, path, ver);
	}
	for (int v = ver; v < cur; v++) {
		if (exec(s, cid_store_migration_sql(v))) {
			set_err(s, "database %s: migration from schema version %d to %d failed: %s",
				path, v, v + 1, sqlite3_errmsg(s->db));
			exec(s, "ROLLBACK");
			return -CID_EDB;
		}
	}
	/* PRAGMA takes no parameters; the value is our own integer. */
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", cur);
	if (exec(s, sql) || exec(s, "COMMIT")) {
		int r = open_fail(s, path, "cannot finish migration");
		exec(s, "ROLLBACK");
		return r;
	}
	return 0;
}

static int configure_and_migrate(struct cid_store *s, const char *path, bool readonly)
{
	int ver = 0, cur = cid_store_schema_version();
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if (read_user_version(s, &ver))
		return open_fail(s, path, "cannot read schema version");
	if (ver > cur)
		return newer_err(s, path, ver);
	if (exec(s, "PRAGMA foreign_keys = OFF"))
		return open_fail(s, path, "cannot configure");
	if (readonly) {
		if (ver < cur) {
			if (ver == 0)
				set_err(s, "database %s is empty (no callerid schema)", path);
			else
				set_err(s, "database %s has schema version %d, older than this callerid (%d);"
					   " open it read-write once to migrate", path, ver, cur);
			return -CID_EVERSION;
		}
		return 0;
	}
	/* WAL: readers (flows, events) never block the writer (capture).
	 * Checkpoints are where WAL mode syncs; letting the log reach 40 MB
	 * before one makes a large read several times cheaper (make bench). */
	if (exec(s, "PRAGMA journal_mode = WAL") || exec(s, "PRAGMA synchronous = NORMAL") ||
	    exec(s, "PRAGMA wal_autocheckpoint = 10000"))
		return open_fail(s, path, "cannot configure");
	if (ver < cur)
		return migrate(s, path);
	return 0;
}

/* SQLite's memory statistics take a global mutex on every allocation (a
 * tenth of the writer thread's time in make bench); callerid never reads
 * them. Must run before SQLite initialises: a later call fails, harmlessly. */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

static void configure_sqlite(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct cid_store *cid_store_open(const char *path, bool readonly, char *err, size_t err_len)
{
	struct cid_store *s;
	int flags, r;
	pthread_once(&sqlite_once, configure_sqlite);
	s = calloc(1, sizeof(*s));
	if (!s) {
		if (err && err_len)
			snprintf(err, err_len, "out of memory");
		return NULL;
	}
	s->readonly = readonly;
	if (!path || !*path) {
		set_err(s, "no database path");
		goto fail;
	}
	if (check_or_create(s, path, readonly))
		goto fail;
	/* one thread at a time uses a connection (read's writer thread takes
	 * it over until it is drained): SQLite's own mutexes are not needed */
	flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
#ifdef SQLITE_OPEN_NOFOLLOW
	flags |= SQLITE_OPEN_NOFOLLOW;
#endif
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		if (s->db)
			set_err(s, "cannot open database %s: %s", path, sqlite3_errmsg(s->db));
		else
			set_err(s, "cannot open database %s: out of memory", path);
		goto fail;
	}
	r = configure_and_migrate(s, path, readonly);
	if (r)
		goto fail;
	return s;
fail:
	if (err && err_len)
		snprintf(err, err_len, "%s", s->err);
	sqlite3_close_v2(s->db);
	free(s);
	return NULL;
}

void cid_store_free(struct cid_store *s)
{
	if (!s)
		return;
	if (s->db && !s->readonly)
		cid_store_flush(s);
	cid_store_ckpt_end(s);
	cid_evidence_free(s->ev);
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close_v2(s->db);
	free(s);
}

const char *cid_store_errmsg(const struct cid_store *s)
{
	return s ? s->err : "out of memory";
}

uint64_t cid_store_hash_failures(const struct cid_store *s)
{
	return s ? s->hash_failed : 0;
}

sqlite3 *cid_store_db(struct cid_store *s)
{
	return s ? s->db : NULL;
}

/* ---- batches ------------------------------------------------------------ */

int cid_store_begin(struct cid_store *s)
{
	if (s->readonly) {
		set_err(s, "database opened read-only");
		return -CID_EDB;
	}
	if (s->failed)
		return -CID_EDB; /* s->err keeps the write error that stopped us */
	/* A transaction opened by another module on this connection counts as
	 * the batch. */
	if (!sqlite3_get_autocommit(s->db))
		return 0;
	if (exec(s, "BEGIN IMMEDIATE"))
		return db_fail(s, "cannot begin a write batch");
	s->pending = 0;
	return 0;
}

int cid_store_flush(struct cid_store *s)
{
	if (s->failed)
		return -CID_EDB;
	if (sqlite3_get_autocommit(s->db)) {
		s->pending = 0;
		return 0;
	}
	if (exec(s, "COMMIT"))
		return write_fail(s, "cannot commit");
	s->pending = 0;
	cid_ckpt_committed(s->ck);
	return 0;
}

void cid_store_ckpt_begin(struct cid_store *s)
{
	if (s && s->db && !s->readonly && !s->ck)
		s->ck = cid_ckpt_begin(s->db);
}

void cid_store_ckpt_end(struct cid_store *s)
{
	if (!s)
		return;
	cid_ckpt_end(s->ck);
	s->ck = NULL;
}

static int count_rows(struct cid_store *s, unsigned n)
{
	s->pending += n;
	if (s->pending >= CID_STORE_BATCH)
		return cid_store_flush(s);
	return 0;
}

int cid_store_row_done(struct cid_store *s)
{
	return count_rows(s, 1);
}

/* ---- binding helpers ---------------------------------------------------- */

static sqlite3_stmt *stmt(struct cid_store *s, enum stmt_id id)
{
	if (!s->st[id] && sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					      &s->st[id], NULL) != SQLITE_OK) {
		/* all of them write: the batch is lost like a failed write */
		db_fail(s, "cannot prepare statement");
		s->st[id] = NULL;
		write_stop(s);
	}
	return s->st[id];
}

/* Steps a bound statement that returns no rows, then resets it. A bind
 * that failed (text is copied, which needs memory) fails the write instead
 * of storing the row with a NULL in that column. */
static int run(struct cid_store *s, sqlite3_stmt *st, const char *what)
{
	int rc, r = 0;
	if (s->bind_rc) {
		set_err(s, "%s: %s", what, sqlite3_errstr(s->bind_rc));
		s->bind_rc = 0;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return write_stop(s);
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = db_fail(s, what);
	sqlite3_reset(st); /* the message is taken before reset */
	if (r)
		r = write_stop(s);
	sqlite3_clear_bindings(st);
	return r;
}

/* Wire text is bound with its length, every byte as it came (quotes,
 * backslashes, bytes that are not UTF-8) up to its first NUL byte, which
 * ends it: stored text is a C string everywhere (the SNI parser already
 * stops there; README "Strings from the wire"). The first failure is kept
 * for run(). */
static void bind_textn(struct cid_store *s, sqlite3_stmt *st, int i, const char *p, size_t n)
{
	int rc = p ? sqlite3_bind_text64(st, i, p, (sqlite3_uint64)strnlen(p, n), SQLITE_TRANSIENT, SQLITE_UTF8)
		   : sqlite3_bind_null(st, i);
	if (rc != SQLITE_OK && !s->bind_rc)
		s->bind_rc = rc;
}

static void bind_str(struct cid_store *s, sqlite3_stmt *st, int i, const char *p)
{
	bind_textn(s, st, i, p, p ? strlen(p) : 0);
}

static void bind_i64(sqlite3_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

static void bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
	sqlite3_bind_int64(st, i, (sqlite3_int64)(v > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : v));
}

/* 0 means "not known" for times and ids. */
static void bind_i64_or_null(sqlite3_stmt *st, int i, int64_t v)
{
	if (v)
		bind_i64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static void bind_list(struct cid_store *s, sqlite3_stmt *st, int i, const struct list *l, bool have)
{
	if (have)
		bind_textn(s, st, i, l->p, l->len);
	else
		sqlite3_bind_null(st, i);
}

/* ---- captures ----------------------------------------------------------- */

int cid_store_capture_begin(struct cid_store *s, const char *kind, const char *source,
			    const char *host, const char *filter, int64_t started_us,
			    int64_t *capture_id)
{
	sqlite3_stmt *st;
	int r = cid_store_begin(s);
	if (r)
		return r;
	st = stmt(s, ST_CAPTURE_INS);
	if (!st)
		return -CID_EDB;
	bind_str(s, st, 1, kind ? kind : "file");
	bind_str(s, st, 2, source);
	bind_str(s, st, 3, host);
	bind_str(s, st, 4, filter);
	bind_i64_or_null(st, 5, started_us);
	r = run(s, st, "cannot insert capture");
	if (r)
		return r;
	if (capture_id)
		*capture_id = (int64_t)sqlite3_last_insert_rowid(s->db);
	return count_rows(s, 1);
}

int cid_store_capture_end(struct cid_store *s, int64_t capture_id, int64_t started_us,
			  int64_t ended_us, uint64_t pkts_received, uint64_t pkts_dropped,
			  uint64_t pkts_if_dropped)
{
	sqlite3_stmt *st;
	int r = cid_store_begin(s);
	if (r)
		return r;
	st = stmt(s, ST_CAPTURE_END);
	if (!st)
		return -CID_EDB;
	bind_i64(st, 1, capture_id);
	bind_i64_or_null(st, 2, started_us);
	bind_i64_or_null(st, 3, ended_us);
	bind_u64(st, 4, pkts_received);
	bind_u64(st, 5, pkts_dropped);
	bind_u64(st, 6, pkts_if_dropped);
	r = run(s, st, "cannot update capture");
	if (r)
		return r;
	return count_rows(s, 1);
}

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

static int put_flow_row(struct cid_store *s, int64_t capture_id, struct cid_flow *f,
			const char *ifaces_text, const struct cid_flow_fp *fp)
{
	char cli[CID_ADDRSTRLEN], srv[CID_ADDRSTRLEN], cid[64], ifs[CID_MAX_IFACES * 12];
	bool update = f->db_id != 0;
	sqlite3_stmt *st = stmt(s, update ? ST_FLOW_UPD : ST_FLOW_INS);
	int r;
	if (!st)
		return -CID_EDB;
	if (!ifaces_text && f->num_ifaces) {
		/* No names known: the interface indexes. */
		size_t len = 0;
		for (unsigned i = 0; i < f->num_ifaces && i < CID_MAX_IFACES; i++) {
			int n = snprintf(ifs + len, sizeof(ifs) - len, "%s%u", i ? "," : "",
					 (unsigned)f->ifaces[i]);
			if (n < 0 || (size_t)n >= sizeof(ifs) - len)
				break;
			len += (size_t)n;
		}
		ifaces_text = ifs;
	}
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
	bind_i64_or_null(st, 1, capture_id);
	bind_i64(st, 2, f->first_ns / 1000);
	bind_i64(st, 3, f->last_ns / 1000);
	sqlite3_bind_int(st, 4, f->proto);
	bind_str(s, st, 5, cid_addr_str(&f->cli, cli, sizeof(cli)));
	sqlite3_bind_int(st, 6, f->cport);
	bind_str(s, st, 7, cid_addr_str(&f->srv, srv, sizeof(srv)));
	sqlite3_bind_int(st, 8, f->sport);
	bind_str(s, st, 9, ifaces_text);
	sqlite3_bind_int(st, 10, f->direction_guessed);
	bind_u64(st, 11, f->c2s_pkts);
	bind_u64(st, 12, f->c2s_bytes);
	bind_u64(st, 13, f->s2c_pkts);
	bind_u64(st, 14, f->s2c_bytes);
	if (f->have_syn)
		bind_i64(st, 15, f->syn_seq);
	else
		sqlite3_bind_null(st, 15);
	bind_str(s, st, 16, f->end_reason == CID_END_NONE ? NULL : cid_end_name(f->end_reason));
	bind_str(s, st, 17, cid[0] ? cid : NULL);
	sqlite3_bind_int(st, 18, f->mid_stream);
	bind_u64(st, 19, f->dup_pkts);
	bind_i64(st, 20, f->reqs_dropped);
	if (update)
		bind_i64(st, 21, f->db_id);
	r = run(s, st, update ? "cannot update flow" : "cannot insert flow");
	if (r)
		return r;
	if (!update)
		f->db_id = (int64_t)sqlite3_last_insert_rowid(s->db);
	return 0;
}

static int put_tls_row(struct cid_store *s, const struct cid_flow *f, const struct cid_flow_fp *fp)
{
	const struct cid_flow_tls *t = f->tls;
	const struct cid_tls_hello *ch = t->have_ch ? &t->ch : NULL;
	const struct cid_tls_hello *sh = t->have_sh ? &t->sh : NULL;
	char random_hex[65], sid_hex[65], ja3_md5[33], ja3s_md5[33], ja4[CID_JA4_LEN];
	sqlite3_stmt *st = stmt(s, ST_TLS_PUT);
	if (!st)
		return -CID_EDB;
	bind_i64(st, 1, f->db_id);
	if (ch) {
		bool ja3_ok;
		if (ch->has_sni)
			bind_textn(s, st, 2, ch->sni, ch->sni_len);
		hex_bytes(random_hex, ch->random, sizeof(ch->random));
		bind_str(s, st, 3, random_hex);
		if (ch->num_versions) {
			list_names(&s->versions, ch->versions, ch->num_versions, cid_tls_version_name);
		} else {
			/* No supported_versions: the client offers legacy_version
			 * (RFC 8446 4.2.1; TLS 1.2 and earlier negotiate on it). */
			list_names(&s->versions, &ch->legacy_version, 1, cid_tls_version_name);
		}
		bind_list(s, st, 4, &s->versions, true);
		if (ch->has_alpn)
			bind_textn(s, st, 11, ch->alpn, strnlen(ch->alpn, sizeof(ch->alpn)));
		/* the JA3 string always fits (the hello's lists are capped):
		 * no hash means libcrypto failed */
		if (fp && fp->ja3) {
			ja3_ok = fp->ja3_md5[0] != '\0';
			bind_str(s, st, 13, fp->ja3);
			bind_str(s, st, 14, ja3_ok ? fp->ja3_md5 : NULL);
			bind_str(s, st, 17, fp->ja4[0] ? fp->ja4 : NULL);
			s->hash_failed += (uint64_t)!ja3_ok + (uint64_t)!fp->ja4[0];
		} else {
			ja3_ok = cid_ja3(ch, s->ja3, sizeof(s->ja3), ja3_md5);
			bind_str(s, st, 13, s->ja3);
			bind_str(s, st, 14, ja3_ok ? ja3_md5 : NULL);
			cid_ja4(ch, f->proto == 17 ? 'q' : 't', ja4);
			bind_str(s, st, 17, ja4[0] ? ja4 : NULL);
			s->hash_failed += (uint64_t)!ja3_ok + (uint64_t)!ja4[0];
		}
		sqlite3_bind_int(st, 18, ch->ech);
		list_hex16(&s->ciphers, ch->ciphers, ch->num_ciphers);
		bind_list(s, st, 21, &s->ciphers, true);
		list_names(&s->groups, ch->groups, ch->num_groups, cid_tls_group_name);
		bind_list(s, st, 22, &s->groups, true);
		list_names(&s->key_shares, ch->key_share, ch->num_key_share, cid_tls_group_name);
		bind_list(s, st, 23, &s->key_shares, true);
		list_hex16(&s->sig_algs, ch->sig_algs, ch->num_sig_algs);
		bind_list(s, st, 24, &s->sig_algs, true);
		sqlite3_bind_int(st, 25, ch->legacy_version);
		hex_bytes(sid_hex, ch->session_id,
			  ch->session_id_len <= sizeof(ch->session_id) ? ch->session_id_len
								       : sizeof(ch->session_id));
		bind_str(s, st, 26, sid_hex);
		list_hex16(&s->exts, ch->exts, ch->num_exts);
		bind_list(s, st, 28, &s->exts, true);
		bind_i64_or_null(st, 29, t->ch_ns / 1000);
	}
	if (sh) {
		uint16_t v = cid_tls_negotiated_version(sh), group;
		bool ja3s_ok;
		bind_str(s, st, 5, cid_tls_version_name(v));
		sqlite3_bind_int(st, 6, v);
		if (sh->num_ciphers) {
			sqlite3_bind_int(st, 7, sh->ciphers[0]);
			bind_str(s, st, 8, cid_tls_cipher_name(sh->ciphers[0]));
		}
		/* the key_share group (TLS 1.3), else the ServerKeyExchange's
		 * named curve (TLS <= 1.2 ECDHE) */
		if (cid_flow_tls_group(t, &group)) {
			bind_str(s, st, 9, cid_tls_group_name(group));
			sqlite3_bind_int(st, 10, group);
		}
		if (sh->has_alpn)
			bind_textn(s, st, 12, (const char *)sh->alpn_first, sh->alpn_first_len);
		if (fp && fp->ja3s) {
			ja3s_ok = fp->ja3s_md5[0] != '\0';
			bind_str(s, st, 15, fp->ja3s);
			bind_str(s, st, 16, ja3s_ok ? fp->ja3s_md5 : NULL);
		} else {
			ja3s_ok = cid_ja3s(sh, s->ja3s, sizeof(s->ja3s), ja3s_md5);
			bind_str(s, st, 15, s->ja3s);
			bind_str(s, st, 16, ja3s_ok ? ja3s_md5 : NULL);
		}
		s->hash_failed += !ja3s_ok;
		if (!ch)
			sqlite3_bind_int(st, 25, sh->legacy_version);
		bind_i64_or_null(st, 30, t->sh_ns / 1000);
	}
	sqlite3_bind_int(st, 19, t->hrr);
	sqlite3_bind_int(st, 20, (int)t->num_client_hellos);
	bind_str(s, st, 27, cid_tls_status_name(t->status));
	return run(s, st, "cannot write tls");
}

/* The flow's plaintext evidence (issue 7): IMDS/HTTP requests and DNS
 * messages not written yet. DNS bytes are parsed here, once. */
static int ev_fail(struct cid_store *s, int r, const char *what)
{
	if (r == -CID_ENOMEM) {
		set_err(s, "%s: out of memory", what);
		return write_stop(s);
	}
	return write_fail(s, what);
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
			set_err(s, "%s", err);
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
	if (f->reqs_written && f->req_last_id) {
		const struct cid_request *q = &f->reqs[f->reqs_written - 1];
		st = stmt(s, ST_REQ_UPD);
		if (!st)
			return -CID_EDB;
		bind_i64(st, 1, f->req_last_id);
		bind_i64_or_null(st, 2, q->answer_ns / 1000);
		bind_u64(st, 3, q->c2s_bytes);
		bind_u64(st, 4, q->s2c_bytes);
		r = run(s, st, "cannot update request");
		if (r)
			return r;
	}
	if (f->reqs_written < f->num_reqs) {
		st = stmt(s, ST_REQ_INS);
		if (!st)
			return -CID_EDB;
		for (i = f->reqs_written; i < f->num_reqs; i++) {
			const struct cid_request *q = &f->reqs[i];
			bind_i64(st, 1, f->db_id);
			bind_i64(st, 2, q->ts_ns / 1000);
			bind_i64_or_null(st, 3, q->answer_ns / 1000);
			bind_u64(st, 4, q->c2s_bytes);
			bind_u64(st, 5, q->s2c_bytes);
			r = run(s, st, "cannot insert request");
			if (r)
				return r;
			/* Written: never inserted again, even if a later one fails. */
			f->reqs_written = i + 1;
			f->req_last_id = (int64_t)sqlite3_last_insert_rowid(s->db);
			rows++;
		}
	}
	r = count_rows(s, rows);
	if (!r && f->ev)
		r = put_evidence(s, f);
	return r;
}
