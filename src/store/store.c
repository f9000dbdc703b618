/*
 * store.c - the SQLite adapter: opening (safely), migrating, batches, the
 * prepared statements and the capture rows. A flow's rows (flow, TLS,
 * bursts, evidence) are written by flowrow.c through store_int.h.
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

void cid_store_set_err(struct cid_store *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
}

static int db_fail(struct cid_store *s, const char *what)
{
	cid_store_set_err(s, "%s: %s", what, sqlite3_errmsg(s->db));
	return -CID_EDB;
}

/* A write or commit that failed inside a batch loses the batch: SQLite may
 * already have rolled it back (SQLITE_FULL, SQLITE_IOERR) and the rows
 * after it may refer to rows in it (a flow to its capture). Later writes
 * must not open a new batch that commits them without those rows, so the
 * batch is rolled back here and the store refuses writes from now on with
 * this first error. What earlier batches committed stays. */
static int exec(struct cid_store *s, const char *sql);

int cid_store_write_stop(struct cid_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK");
	s->pending = 0;
	s->failed = true;
	return -CID_EDB;
}

int cid_store_write_fail(struct cid_store *s, const char *what)
{
	db_fail(s, what);
	return cid_store_write_stop(s);
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
			cid_store_set_err(s, "database path too long");
			return -CID_EINVAL;
		}
		if (lstat(side, &st) == 0 && !S_ISREG(st.st_mode)) {
			cid_store_set_err(s, "refusing to open database %s: %s is %s", path, side,
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
			cid_store_set_err(s, "refusing to open database %s: it is a symbolic link", path);
			return -CID_EIO;
		}
		if (!S_ISREG(st.st_mode)) {
			cid_store_set_err(s, "database %s is not a regular file", path);
			return -CID_EIO;
		}
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			cid_store_set_err(s, "cannot open database %s: %s", path, strerror(errno));
			return -CID_EIO;
		}
		n = read(fd, head, sizeof(head));
		close(fd);
		if (n < 0) {
			cid_store_set_err(s, "cannot read database %s: %s", path, strerror(errno));
			return -CID_EIO;
		}
		/* An empty file is an empty database; anything else must carry
		 * the header. */
		if (n > 0 && (n < (ssize_t)sizeof(head) || memcmp(head, sqlite_magic, sizeof(head)))) {
			cid_store_set_err(s, "%s is not a SQLite database", path);
			return -CID_EINVAL;
		}
		return 0;
	}
	if (errno != ENOENT) {
		cid_store_set_err(s, "cannot open database %s: %s", path, strerror(errno));
		return -CID_EIO;
	}
	if (readonly) {
		cid_store_set_err(s, "database %s does not exist", path);
		return -CID_EIO;
	}
	{
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			cid_store_set_err(s, "cannot create database %s: %s", path, strerror(errno));
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
		cid_store_set_err(s, "%s is not a SQLite database", path);
		return -CID_EINVAL;
	}
	cid_store_set_err(s, "database %s: %s: %s", path, what, sqlite3_errmsg(s->db));
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
	cid_store_set_err(s, "database %s has schema version %d, newer than this callerid (%d)", path, ver,
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
			cid_store_set_err(s, "database %s: migration from schema version %d to %d failed: %s",
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
				cid_store_set_err(s, "database %s is empty (no callerid schema)", path);
			else
				cid_store_set_err(s, "database %s has schema version %d, older than this callerid (%d);"
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
		cid_store_set_err(s, "no database path");
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
			cid_store_set_err(s, "cannot open database %s: %s", path, sqlite3_errmsg(s->db));
		else
			cid_store_set_err(s, "cannot open database %s: out of memory", path);
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
		cid_store_set_err(s, "database opened read-only");
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
		return cid_store_write_fail(s, "cannot commit");
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

int cid_store_count_rows(struct cid_store *s, unsigned n)
{
	s->pending += n;
	if (s->pending >= CID_STORE_BATCH)
		return cid_store_flush(s);
	return 0;
}

int cid_store_row_done(struct cid_store *s)
{
	return cid_store_count_rows(s, 1);
}

/* ---- binding helpers ---------------------------------------------------- */

sqlite3_stmt *cid_store_stmt(struct cid_store *s, enum stmt_id id)
{
	if (!s->st[id] && sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					      &s->st[id], NULL) != SQLITE_OK) {
		/* all of them write: the batch is lost like a failed write */
		db_fail(s, "cannot prepare statement");
		s->st[id] = NULL;
		cid_store_write_stop(s);
	}
	return s->st[id];
}

/* Steps a bound statement that returns no rows, then resets it. A bind
 * that failed (text is copied, which needs memory) fails the write instead
 * of storing the row with a NULL in that column. */
int cid_store_run(struct cid_store *s, sqlite3_stmt *st, const char *what)
{
	int rc, r = 0;
	if (s->bind_rc) {
		cid_store_set_err(s, "%s: %s", what, sqlite3_errstr(s->bind_rc));
		s->bind_rc = 0;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return cid_store_write_stop(s);
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = db_fail(s, what);
	sqlite3_reset(st); /* the message is taken before reset */
	if (r)
		r = cid_store_write_stop(s);
	sqlite3_clear_bindings(st);
	return r;
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
	st = cid_store_stmt(s, ST_CAPTURE_INS);
	if (!st)
		return -CID_EDB;
	cid_store_bind_str(s, st, 1, kind ? kind : "file");
	cid_store_bind_str(s, st, 2, source);
	cid_store_bind_str(s, st, 3, host);
	cid_store_bind_str(s, st, 4, filter);
	cid_store_bind_i64_or_null(st, 5, started_us);
	r = cid_store_run(s, st, "cannot insert capture");
	if (r)
		return r;
	if (capture_id)
		*capture_id = (int64_t)sqlite3_last_insert_rowid(s->db);
	return cid_store_count_rows(s, 1);
}

int cid_store_capture_end(struct cid_store *s, int64_t capture_id, int64_t started_us,
			  int64_t ended_us, uint64_t pkts_received, uint64_t pkts_dropped,
			  uint64_t pkts_if_dropped)
{
	sqlite3_stmt *st;
	int r = cid_store_begin(s);
	if (r)
		return r;
	st = cid_store_stmt(s, ST_CAPTURE_END);
	if (!st)
		return -CID_EDB;
	cid_store_bind_i64(st, 1, capture_id);
	cid_store_bind_i64_or_null(st, 2, started_us);
	cid_store_bind_i64_or_null(st, 3, ended_us);
	cid_store_bind_u64(st, 4, pkts_received);
	cid_store_bind_u64(st, 5, pkts_dropped);
	cid_store_bind_u64(st, 6, pkts_if_dropped);
	r = cid_store_run(s, st, "cannot update capture");
	if (r)
		return r;
	return cid_store_count_rows(s, 1);
}
