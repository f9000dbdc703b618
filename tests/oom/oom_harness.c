/*
 * oom_harness.c - allocation-failure injection over a whole callerid
 * command (issue 8, "Faults": allocation failure at every allocation of the
 * flow/stream/store paths).
 *
 *   oom_harness [-n MAX] [-q] [-v] [-i STDIN] [-K callerid|sqlite|libcrypto]
 *               DB TEMPLATE COMMAND ARGS...
 *
 * The harness is linked with -Wl,--wrap=malloc,calloc,realloc,strdup,strndup
 * so that every allocation made by callerid's own code (libcallerid.a) goes
 * through the __wrap_ functions below; SQLite's allocations are routed here
 * through sqlite3_config(SQLITE_CONFIG_MALLOC) and libcrypto's (JA3/JA4
 * digests, Community ID) through CRYPTO_set_mem_functions. An allocation's
 * *site* is the innermost three return addresses in callerid's code on its
 * stack (for SQLite and libcrypto, the callerid frames that led there), so
 * one cid_buf realloc is a different site for each of its callers.
 *
 * 1. Reference run: COMMAND (a subcommand, e.g. `read --db DB FILE...`) runs
 *    in a child with every allocation counted per site. DB starts as a copy
 *    of TEMPLATE (or absent when TEMPLATE is "-"). Its exit status, stdout
 *    and a copy of the database are kept.
 * 2. One run per planned (site, occurrence): the first, the middle and the
 *    last occurrence of every site (three more of callerid's own sites),
 *    found by its position in its thread's sequence of allocations of its
 *    kind (a site whose position moved, because threads interleaved or
 *    SQLite allocated in another order, is tried again, found by walking
 *    the stack): that one allocation fails, every other succeeds
 *    ("transient"); and per site of callerid's own code, one run where that
 *    allocation and every later one fail ("persistent": the error paths
 *    must not need memory either).
 *    -K plans only one kind's sites, -n stops after MAX runs, -v lists
 *    the sites (offsets for addr2line -e oom_harness), -i gives the
 *    command a file as its standard input.
 * 3. Each run must: not crash; print no sanitizer report (under
 *    SANITIZE=1 LeakSanitizer checks for leaks at the child's exit); exit
 *    with the reference status or 1, and when 1 print a "callerid:" error;
 *    leave PRAGMA integrity_check "ok", no orphan rows, and every row of
 *    TEMPLATE still there; and when it exits like the reference without
 *    saying anything was lost ("allocation failure", "out of memory" or
 *    "not computed" on stderr), leave the database (compared table by
 *    table in SQLite, every byte) and stdout as the reference did.
 *
 * Prints TAP: a "# FAIL" line per failed run (its site as "exe+0xOFF" for
 * addr2line -e oom_harness), one "ok"/"not ok" line per check over all
 * runs, and "#" lines with the figures.
 */
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "callerid/cli.h"

/* ---- the allocator hooks ----------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

enum kind { K_OWN, K_SQLITE, K_CRYPTO, K__COUNT };
static const char *const kind_name[K__COUNT] = {"callerid", "sqlite", "libcrypto"};

enum mode { M_PASS, M_COUNT, M_INJECT, M_INJECT_SITE };

#define MAX_SITES 4096

#define SITE_FRAMES 3

/* A site: the innermost SITE_FRAMES return addresses in callerid's code
 * (so that cid_buf's one realloc is a different site for each of its
 * callers); 0 where the stack had fewer. */
struct site {
	uintptr_t fr[SITE_FRAMES];
	uint32_t kind;
	bool used;
	uint64_t count; /* allocations seen at this site in the current run */
};

#define MAX_RECS (1u << 18)

/* One allocation of the counting run: its site, which occurrence of the
 * site it was, and where it stood in its thread's sequence of allocations
 * of its kind. The injecting runs find their target by that position (no
 * stack walk per allocation: a SQLite-heavy run makes tens of thousands)
 * and check the site with one stack walk when they reach it. */
struct rec {
	uint32_t site;
	uint32_t occ;
	uint32_t idx;
	uint8_t kind;
	uint8_t main; /* made by the command's main thread */
};

/* Shared with the children (MAP_SHARED): the children count, the parent
 * reads. */
struct shared {
	struct site sites[MAX_SITES];
	uint32_t num_sites;
	bool overflow;
	struct rec recs[MAX_RECS];
	uint32_t num_recs;
	/* injection target: the idx-th allocation of kind in the main or
	 * another thread */
	struct rec target;
	bool persistent;
	bool hit;        /* the target position was reached */
	int hit_site;    /* the site that failed there */
	uint64_t failed; /* allocations made to fail */
	uint64_t total[K__COUNT];
};

static struct shared *sh;
static volatile int mode = M_PASS;
static bool failing; /* persistent mode after the hit */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local bool tl_main;            /* set in the child's main thread */
static _Thread_local uint32_t tl_idx[K__COUNT]; /* this thread's allocations per kind */

extern char __executable_start[];
extern char etext[];

static bool in_exe(uintptr_t a)
{
	return a >= (uintptr_t)__executable_start && a < (uintptr_t)etext;
}

/* The site's slot (open addressing); -1 when the table is full. */
static int site_slot(const uintptr_t fr[SITE_FRAMES], uint32_t kind)
{
	uint64_t h = kind;
	for (int j = 0; j < SITE_FRAMES; j++)
		h = (h ^ fr[j]) * 0x9e3779b97f4a7c15ULL;
	for (uint32_t i = 0; i < MAX_SITES; i++) {
		uint32_t k = (uint32_t)((h >> 40) + i) % MAX_SITES;
		struct site *x = &sh->sites[k];
		if (!x->used) {
			memcpy(x->fr, fr, sizeof(x->fr));
			x->kind = kind;
			x->used = true;
			sh->num_sites++;
			return (int)k;
		}
		if (x->kind == kind && !memcmp(x->fr, fr, sizeof(x->fr)))
			return (int)k;
	}
	sh->overflow = true;
	return -1;
}

/* The innermost SITE_FRAMES return addresses in callerid's code, skipping
 * this file's hooks (which live in their own section). */
extern char __start_oom_hooks[];
extern char __stop_oom_hooks[];
#define HOOK __attribute__((section("oom_hooks"), noinline))

HOOK static void site_of(uintptr_t out[SITE_FRAMES])
{
	void *fr[64];
	int n, k = 0;
	memset(out, 0, SITE_FRAMES * sizeof(*out));
	n = backtrace(fr, 64);
	for (int i = 0; i < n && k < SITE_FRAMES; i++) {
		uintptr_t a = (uintptr_t)fr[i];
		if (a >= (uintptr_t)__start_oom_hooks && a < (uintptr_t)__stop_oom_hooks)
			continue;
		if (in_exe(a))
			out[k++] = a;
	}
}

/* true: this allocation must fail */
HOOK static bool decide(uint32_t kind)
{
	bool fail = false;
	uintptr_t fr[SITE_FRAMES];
	uint32_t idx;
	int s;
	if (mode == M_PASS)
		return false;
	idx = ++tl_idx[kind];
	if (mode == M_INJECT) {
		bool target = !sh->hit && kind == sh->target.kind && tl_main == sh->target.main && idx == sh->target.idx;
		if (!target && !failing)
			return false;
		if (target)
			site_of(fr);
		pthread_mutex_lock(&mu);
		if (target && !sh->hit) {
			sh->hit = true;
			sh->hit_site = site_slot(fr, kind);
			if (sh->persistent)
				failing = true;
			fail = true;
		}
		if (failing)
			fail = true;
		if (fail)
			sh->failed++;
		pthread_mutex_unlock(&mu);
		return fail;
	}
	if (mode == M_INJECT_SITE) {
		/* the target by its site, walking the stack of every allocation
		 * of its kind: for sites whose position moved between runs */
		if (kind != sh->target.kind)
			return failing;
		site_of(fr);
		pthread_mutex_lock(&mu);
		s = site_slot(fr, kind);
		if (s >= 0 && ++sh->sites[s].count == sh->target.occ && s == (int)sh->target.site && !sh->hit) {
			sh->hit = true;
			sh->hit_site = s;
			if (sh->persistent)
				failing = true;
			fail = true;
		}
		if (failing)
			fail = true;
		if (fail)
			sh->failed++;
		pthread_mutex_unlock(&mu);
		return fail;
	}
	site_of(fr);
	pthread_mutex_lock(&mu);
	sh->total[kind]++;
	s = site_slot(fr, kind);
	if (s >= 0) {
		uint64_t occ = ++sh->sites[s].count;
		if (sh->num_recs < MAX_RECS)
			sh->recs[sh->num_recs++] =
				(struct rec){(uint32_t)s, (uint32_t)occ, idx, (uint8_t)kind, (uint8_t)tl_main};
		else
			sh->overflow = true;
	}
	pthread_mutex_unlock(&mu);
	return false;
}

HOOK void *__wrap_malloc(size_t n)
{
	if (decide(K_OWN))
		return NULL;
	return __real_malloc(n);
}

HOOK void *__wrap_calloc(size_t k, size_t n)
{
	if (decide(K_OWN))
		return NULL;
	return __real_calloc(k, n);
}

HOOK void *__wrap_realloc(void *p, size_t n)
{
	if (decide(K_OWN))
		return NULL;
	return __real_realloc(p, n);
}

HOOK char *__wrap_strdup(const char *s)
{
	if (decide(K_OWN)) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_strdup(s);
}

HOOK char *__wrap_strndup(const char *s, size_t n)
{
	if (decide(K_OWN)) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_strndup(s, n);
}

/* SQLite: a size header in front of each block (xSize needs it). */
#define HDR 16
HOOK static void *sq_malloc(int n)
{
	uint8_t *p;
	if (n <= 0 || decide(K_SQLITE))
		return NULL;
	p = __real_malloc((size_t)n + HDR);
	if (!p)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + HDR;
}

HOOK static void sq_free(void *q)
{
	if (q)
		free((uint8_t *)q - HDR);
}

HOOK static int sq_size(void *q)
{
	int n = 0;
	if (q)
		memcpy(&n, (uint8_t *)q - HDR, sizeof(n));
	return n;
}

HOOK static void *sq_realloc(void *q, int n)
{
	uint8_t *p;
	if (!q)
		return sq_malloc(n);
	if (n <= 0 || decide(K_SQLITE))
		return NULL;
	p = __real_realloc((uint8_t *)q - HDR, (size_t)n + HDR);
	if (!p)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + HDR;
}

static int sq_roundup(int n)
{
	return (n + 7) & ~7;
}

static int sq_init(void *a)
{
	(void)a;
	return SQLITE_OK;
}

static void sq_shutdown(void *a)
{
	(void)a;
}

HOOK static void *cr_malloc(size_t n, const char *file, int line)
{
	(void)file, (void)line;
	if (decide(K_CRYPTO))
		return NULL;
	return __real_malloc(n);
}

HOOK static void *cr_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file, (void)line;
	if (decide(K_CRYPTO))
		return NULL;
	return __real_realloc(p, n);
}

static void cr_free(void *p, const char *file, int line)
{
	(void)file, (void)line;
	free(p);
}

/* ---- the commands ---------------------------------------------------------- */

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};
static const struct cmd cmds[] = {
	{"read", cid_cmd_read},           {"ingest", cid_cmd_ingest}, {"k8s", cid_cmd_k8s},
	{"flows", cid_cmd_flows},         {"events", cid_cmd_events}, {"correlate", cid_cmd_correlate},
	{"timeline", cid_cmd_timeline},
};

/* ---- database checks (parent side, nothing fails here) ------------------- */

struct names {
	char v[64][64];
	int n;
};

/* The tables of schema sch ("main" or an attached name). */
static bool tables_of(sqlite3 *db, const char *sch, struct names *out)
{
	char sql[256];
	sqlite3_stmt *st;
	out->n = 0;
	snprintf(sql, sizeof(sql),
		 "SELECT name FROM %s.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%%' ORDER BY name",
		 sch);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return false;
	while (sqlite3_step(st) == SQLITE_ROW && out->n < 64)
		snprintf(out->v[out->n++], sizeof(out->v[0]), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return true;
}

static long long count_sql(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Compares the rows of DB with those of OTHER, table by table, in SQLite
 * (EXCEPT compares every byte of text and blobs, NUL included).
 * equal=false: every row of OTHER is in DB. equal=true: the same tables
 * with the same rows. A missing OTHER (absent template) has no rows. */
static bool db_rows(const char *path, const char *other, bool equal, char *why, size_t why_len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct names mine, theirs;
	char sql[1024];
	bool ok = false;
	if (access(other, F_OK) != 0) {
		if (!equal || access(path, F_OK) != 0)
			return true;
		snprintf(why, why_len, "the database exists, the reference made none");
		return false;
	}
	if (access(path, F_OK) != 0) {
		snprintf(why, why_len, "no database");
		return false;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		snprintf(why, why_len, "open: %s", db ? sqlite3_errmsg(db) : "?");
		goto out;
	}
	if (sqlite3_prepare_v2(db, "ATTACH ?1 AS o", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, other, -1, SQLITE_STATIC) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
		snprintf(why, why_len, "attach %s: %s", other, sqlite3_errmsg(db));
		goto out;
	}
	if (!tables_of(db, "main", &mine) || !tables_of(db, "o", &theirs)) {
		snprintf(why, why_len, "list tables: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (equal && mine.n != theirs.n) {
		snprintf(why, why_len, "%d tables, the reference has %d", mine.n, theirs.n);
		goto out;
	}
	for (int t = 0; t < theirs.n; t++) {
		const char *T = theirs.v[t];
		long long c;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM (SELECT * FROM o.\"%s\" EXCEPT SELECT * FROM main.\"%s\")",
			 T, T);
		c = count_sql(db, sql);
		if (c != 0) {
			snprintf(why, why_len, "%s: %lld rows %s", T, c,
				 c < 0 ? "(table missing or unreadable)" : equal ? "of the reference missing" : "gone");
			goto out;
		}
		if (!equal)
			continue;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM (SELECT * FROM main.\"%s\" EXCEPT SELECT * FROM o.\"%s\")",
			 T, T);
		c = count_sql(db, sql);
		if (c != 0) {
			snprintf(why, why_len, "%s: %lld rows the reference does not have", T, c);
			goto out;
		}
		snprintf(sql, sizeof(sql), "SELECT (SELECT count(*) FROM main.\"%s\") - (SELECT count(*) FROM o.\"%s\")", T,
			 T);
		if ((c = count_sql(db, sql)) != 0) {
			snprintf(why, why_len, "%s: %lld rows more than the reference", T, c);
			goto out;
		}
	}
	ok = true;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

/* PRAGMA integrity_check, then rows whose parent is missing over the
 * relations that exist in the database. True when both are clean; else
 * the finding in why. */
static bool db_sound(const char *path, char *why, size_t why_len)
{
	static const char *const rel[][3] = {
		{"flow", "capture_id", "capture"}, {"tls", "flow_id", "flow"},    {"request", "flow_id", "flow"},
		{"http", "flow_id", "flow"},       {"owner", "flow_id", "flow"},  {"nat_link", "inner_flow_id", "flow"},
		{"nat_link", "outer_flow_id", "flow"},
	};
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	bool ok = false;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		snprintf(why, why_len, "open: %s", db ? sqlite3_errmsg(db) : "?");
		goto out;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		snprintf(why, why_len, "integrity_check: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "ok")) {
		snprintf(why, why_len, "integrity_check: %s", (const char *)sqlite3_column_text(st, 0));
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		char sql[256];
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s NOT IN (SELECT id FROM %s)", rel[i][0],
			 rel[i][1], rel[i][2]);
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
			/* the table is not in this database */
			sqlite3_finalize(st);
			st = NULL;
			continue;
		}
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0)) {
			snprintf(why, why_len, "%lld %s rows without their %s", (long long)sqlite3_column_int64(st, 0),
				 rel[i][0], rel[i][2]);
			goto out;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	ok = true;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

/* ---- files ------------------------------------------------------------------ */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t cap = 0, n = 0;
	*len = 0;
	if (!f)
		return __real_strdup("");
	for (;;) {
		size_t r;
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			p = __real_realloc(p, cap);
			if (!p)
				abort();
		}
		r = fread(p + n, 1, cap - n - 1, f);
		if (!r)
			break;
		n += r;
	}
	fclose(f);
	p[n] = '\0';
	*len = n;
	return p;
}

static int copy_file(const char *from, const char *to)
{
	size_t n;
	char *p;
	int fd;
	ssize_t w;
	unlink(to);
	if (!strcmp(from, "-"))
		return 0;
	p = slurp(from, &n);
	fd = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		free(p);
		return -1;
	}
	w = write(fd, p, n);
	close(fd);
	free(p);
	return w == (ssize_t)n ? 0 : -1;
}

static void rm_db(const char *db)
{
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < 4; i++) {
		char p[4096];
		snprintf(p, sizeof(p), "%s%s", db, sfx[i]);
		unlink(p);
	}
}

/* A copy of the database at path (VACUUM INTO: WAL content included), or
 * no file when there is no database. */
static bool keep_copy(const char *path, const char *to, char *why, size_t why_len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	bool ok;
	unlink(to);
	if (access(path, F_OK) != 0)
		return true;
	ok = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	     sqlite3_prepare_v2(db, "VACUUM INTO ?1", -1, &st, NULL) == SQLITE_OK &&
	     sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;
	if (!ok)
		snprintf(why, why_len, "%s: %s", path, db ? sqlite3_errmsg(db) : "?");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

/* ---- one run -------------------------------------------------------------- */

struct run {
	int status;  /* exit status, or -signal */
	char *out, *err;
	size_t out_len, err_len;
};

static const char *g_db, *g_template, *g_tmp, *g_stdin;
static int g_argc;
static char **g_argv;
static int (*g_fn)(int, char **);

static void run_cmd(enum mode m, struct run *r)
{
	char outp[4096], errp[4096];
	pid_t pid;
	int st;
	snprintf(outp, sizeof(outp), "%s/oom.out", g_tmp);
	snprintf(errp, sizeof(errp), "%s/oom.err", g_tmp);
	rm_db(g_db);
	if (copy_file(g_template, g_db) < 0) {
		fprintf(stderr, "oom_harness: cannot copy %s to %s\n", g_template, g_db);
		exit(2);
	}
	for (int i = 0; i < MAX_SITES; i++)
		sh->sites[i].count = 0;
	sh->hit = false;
	sh->hit_site = -1;
	sh->failed = 0;
	if (m == M_COUNT)
		sh->num_recs = 0;
	memset(sh->total, 0, sizeof(sh->total));
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("oom_harness: fork");
		exit(2);
	}
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int rc;
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(99);
		if (g_stdin) {
			int i = open(g_stdin, O_RDONLY);
			if (i < 0 || dup2(i, 0) < 0)
				_exit(99);
			close(i);
		}
		close(o);
		close(e);
		tl_main = true;
		mode = (int)m;
		rc = g_fn(g_argc, g_argv);
		mode = M_PASS;
		failing = false;
		fflush(NULL);
		exit(rc); /* exit, not _exit: LeakSanitizer checks at exit */
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r->status = WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
	r->out = slurp(outp, &r->out_len);
	r->err = slurp(errp, &r->err_len);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* ---- main -------------------------------------------------------------------- */

struct plan {
	int site;
	uint64_t occ;
	bool persistent;
	struct rec rec; /* where the counting run met it */
	bool by_site;   /* a retry that finds the site by walking the stack */
};

static int cmp_site(const void *a, const void *b)
{
	const struct site *x = &sh->sites[*(const int *)a], *y = &sh->sites[*(const int *)b];
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	for (int j = 0; j < SITE_FRAMES; j++)
		if (x->fr[j] != y->fr[j])
			return x->fr[j] < y->fr[j] ? -1 : 1;
	return 0;
}

enum check { C_CRASH, C_SANITIZER, C_STATUS, C_MESSAGE, C_INTEGRITY, C_KEPT, C_SILENT, C__COUNT };
static const char *const check_name[C__COUNT] = {
	"no crash",
	"no sanitizer report (leaks included under SANITIZE=1)",
	"exit status is the reference's or 1",
	"an exit status 1 comes with a callerid: error message",
	"PRAGMA integrity_check ok and no orphan rows",
	"every row that was in the database before is still there",
	"a run that reports no loss stores and prints exactly the reference",
};

int main(int argc, char **argv)
{
	static const char usage[] = "usage: oom_harness [-n MAX] [-q] [-v] [-i STDIN] [-K callerid|sqlite|libcrypto]"
				    " DB TEMPLATE COMMAND ARGS...\n";
	static const sqlite3_mem_methods mm = {sq_malloc, sq_free, sq_realloc, sq_size, sq_roundup,
					       sq_init,   sq_shutdown, NULL};
	struct run ref;
	char ref_db[4096 + 16], tmpl_db[4096];
	char why[512], tmpdir[4096];
	int opt, max_runs = 0, nfail[C__COUNT] = {0};
	bool quiet = false, retried = false, verbose = false;
	const char *only_kind = NULL; /* -K: plan only this kind's sites */
	int *order;
	struct plan *plan;
	size_t num_plan = 0, num_own = 0, runs = 0, not_reached = 0, counted = 0, errored = 0, same = 0, moved = 0;
	uint64_t ref_total[K__COUNT];
	size_t sites_of[K__COUNT] = {0};
	static bool site_hit[MAX_SITES];
	static uint64_t ref_count[MAX_SITES];
	const char *t;

	/* before SQLite or libcrypto allocate anything */
	if (sqlite3_config(SQLITE_CONFIG_MALLOC, &mm) != SQLITE_OK ||
	    !CRYPTO_set_mem_functions(cr_malloc, cr_realloc, cr_free)) {
		fprintf(stderr, "oom_harness: cannot install the allocator hooks\n");
		return 2;
	}
	{
		void *fr[4];
		(void)backtrace(fr, 4); /* loads the unwinder now, not inside a hook */
	}
	while ((opt = getopt(argc, argv, "+n:qvK:i:")) != -1) {
		switch (opt) {
		case 'n': max_runs = (int)strtol(optarg, NULL, 10); break;
		case 'q': quiet = true; break;
		case 'v': verbose = true; break;
		case 'i': g_stdin = optarg; break;
		case 'K': only_kind = optarg; break;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (argc - optind < 3) {
		fputs(usage, stderr);
		return 2;
	}
	g_db = argv[optind];
	g_template = argv[optind + 1];
	g_argc = argc - optind - 2;
	g_argv = argv + optind + 2;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(g_argv[0], cmds[i].name))
			g_fn = cmds[i].fn;
	if (!g_fn) {
		fprintf(stderr, "oom_harness: unknown command %s\n", g_argv[0]);
		return 2;
	}
	t = getenv("TMPROOT");
	snprintf(tmpdir, sizeof(tmpdir), "%s/oomh.XXXXXX", t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("oom_harness: mkdtemp");
		return 2;
	}
	g_tmp = tmpdir;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("oom_harness: mmap");
		return 2;
	}
	memset(sh, 0, sizeof(*sh));

	/* 1. the reference */
	snprintf(ref_db, sizeof(ref_db), "%s/reference.db", g_tmp);
	snprintf(tmpl_db, sizeof(tmpl_db), "%s", strcmp(g_template, "-") ? g_template : "/nonexistent");
	run_cmd(M_COUNT, &ref);
	memcpy(ref_total, sh->total, sizeof(ref_total));
	for (int i = 0; i < MAX_SITES; i++)
		ref_count[i] = sh->sites[i].count;
	if (ref.status < 0 || strstr(ref.err, "Sanitizer") || strstr(ref.err, "runtime error")) {
		printf("not ok 1 - the reference run is clean (status %d)\n# %.2000s\n1..1\n", ref.status, ref.err);
		return 1;
	}
	if (!keep_copy(g_db, ref_db, why, sizeof(why))) {
		printf("not ok 1 - the reference database can be read: %s\n1..1\n", why);
		return 1;
	}
	if (sh->overflow) {
		printf("not ok 1 - more than %d allocation sites\n1..1\n", MAX_SITES);
		return 1;
	}

	/* 2. the plan: per site, its first, second and last occurrence and
	 * up to 3 more spread over the rest; a persistent failure from the
	 * first occurrence of each site of callerid's own code. */
	order = __real_calloc(MAX_SITES, sizeof(*order));
	plan = __real_calloc(MAX_SITES * 9, sizeof(*plan));
	if (!order || !plan)
		return 2;
	{
		size_t k = 0;
		for (int i = 0; i < MAX_SITES; i++)
			if (ref_count[i])
				order[k++] = i;
		qsort(order, k, sizeof(*order), cmp_site);
		for (size_t j = 0; j < k; j++) {
			int s = order[j];
			uint64_t c = ref_count[s];
			/* callerid's own sites are few: more of their occurrences */
			uint64_t occs[6] = {1, c, c / 2, 2, c / 4, 3 * c / 4};
			int num_occs = sh->sites[s].kind == K_OWN ? 6 : 3;
			sites_of[sh->sites[s].kind]++;
			if (verbose) {
				printf("# site %s", kind_name[sh->sites[s].kind]);
				for (int f = 0; f < SITE_FRAMES && sh->sites[s].fr[f]; f++)
					printf(" %#lx", (unsigned long)(sh->sites[s].fr[f] - (uintptr_t)__executable_start));
				printf(" x%llu\n", (unsigned long long)c);
			}
			if (only_kind && strcmp(only_kind, kind_name[sh->sites[s].kind]))
				continue;
			for (int a = 0; a < num_occs; a++) {
				bool dup = occs[a] < 1 || occs[a] > c;
				for (int b = 0; b < a && !dup; b++)
					dup = occs[b] == occs[a];
				if (!dup)
					plan[num_plan++] = (struct plan){s, occs[a], false, {0, 0, 0, 0, 0}, false};
			}
			if (sh->sites[s].kind == K_OWN) {
				plan[num_plan++] = (struct plan){s, 1, true, {0, 0, 0, 0, 0}, false};
				num_own++;
			}
		}
	}
	for (size_t p = 0; p < num_plan; p++) {
		bool found = false;
		for (uint32_t i = 0; i < sh->num_recs && !found; i++)
			if ((int)sh->recs[i].site == plan[p].site && sh->recs[i].occ == plan[p].occ) {
				plan[p].rec = sh->recs[i];
				found = true;
			}
		if (!found)
			return 2;
	}
	{
		uint64_t sum_own = 0;
		for (int i = 0; i < MAX_SITES; i++)
			if (ref_count[i] && sh->sites[i].kind == K_OWN)
				sum_own += ref_count[i];
		printf("# command: %s, reference exit status %d\n", g_argv[0], ref.status);
		for (int k = 0; k < K__COUNT; k++)
			printf("# %s: %zu allocation sites reached, %llu allocations\n", kind_name[k], sites_of[k],
			       (unsigned long long)ref_total[k]);
		(void)sum_own;
	}

	/* 3. the runs */
	for (size_t p = 0;; p++) {
		struct run r;
		const struct site *s;
		char label[256];
		bool reports_loss, bad = false;
		if (p == num_plan && !retried) {
			/* sites whose position moved between runs: once more, by site */
			size_t n = num_plan;
			retried = true;
			for (size_t q = 0; q < n; q++)
				if (!site_hit[plan[q].site] && plan[q].occ == 1 && !plan[q].persistent) {
					plan[num_plan] = plan[q];
					plan[num_plan++].by_site = true;
				}
		}
		if (p == num_plan || (max_runs && (int)runs >= max_runs))
			break;
		s = &sh->sites[plan[p].site];
		sh->target = plan[p].rec;
		sh->persistent = plan[p].persistent;
		run_cmd(plan[p].by_site ? M_INJECT_SITE : M_INJECT, &r);
		runs++;
		{
			/* the site that failed (the planned one, unless it moved) */
			size_t len;
			if (sh->hit && sh->hit_site >= 0)
				s = &sh->sites[sh->hit_site];
			len = (size_t)snprintf(label, sizeof(label), "%s site", kind_name[s->kind]);
			for (int j = 0; j < SITE_FRAMES && s->fr[j] && len < sizeof(label) - 40; j++)
				len += (size_t)snprintf(label + len, sizeof(label) - len, "%sexe+%#lx", j ? "<" : " ",
							(unsigned long)(s->fr[j] - (uintptr_t)__executable_start));
			if (sh->hit && sh->hit_site != plan[p].site)
				snprintf(label + len, sizeof(label) - len, "%s (planned elsewhere)",
					 plan[p].persistent ? " and every later allocation" : "");
			else
				snprintf(label + len, sizeof(label) - len, " occurrence %llu%s%s",
					 (unsigned long long)plan[p].occ,
					 plan[p].persistent ? " and every later allocation" : "",
					 plan[p].by_site ? " (found by site)" : "");
		}
		if (!sh->hit) {
			not_reached++;
			run_free(&r);
			continue;
		}
		if (sh->hit_site >= 0)
			site_hit[sh->hit_site] = true;
		if (sh->hit_site != plan[p].site && !plan[p].by_site)
			moved++; /* allocations interleaved otherwise: another site failed */
#define FAIL(c, ...)                                                                                   \
	do {                                                                                           \
		nfail[c]++;                                                                            \
		bad = true;                                                                            \
		printf("# FAIL %s: ", label);                                                          \
		printf(__VA_ARGS__);                                                                   \
		printf("\n");                                                                          \
	} while (0)
		if (r.status < 0)
			FAIL(C_CRASH, "killed by signal %d", -r.status);
		if (strstr(r.err, "Sanitizer") || strstr(r.err, "runtime error"))
			FAIL(C_SANITIZER, "sanitizer report");
		if (r.status >= 0 && r.status != ref.status && r.status != 1)
			FAIL(C_STATUS, "exit status %d", r.status);
		if (r.status == 1 && ref.status != 1 && !strstr(r.err, "callerid: "))
			FAIL(C_MESSAGE, "exit 1 without a callerid: message");
		if (access(g_db, F_OK) == 0 && !db_sound(g_db, why, sizeof(why)))
			FAIL(C_INTEGRITY, "%s", why);
		if (!db_rows(g_db, tmpl_db, false, why, sizeof(why)))
			FAIL(C_KEPT, "what the database held before: %s", why);
		reports_loss = r.status != ref.status || strstr(r.err, "allocation failure") ||
			       strstr(r.err, "out of memory") || strstr(r.err, "not computed");
		if (reports_loss) {
			if (r.status != ref.status)
				errored++;
			else
				counted++;
		} else if (!db_rows(g_db, ref_db, true, why, sizeof(why))) {
			FAIL(C_SILENT, "exit %d, nothing reported, but the database differs from the reference: %s",
			     r.status, why);
		} else if (r.out_len != ref.out_len || memcmp(r.out, ref.out, r.out_len)) {
			FAIL(C_SILENT, "exit %d, nothing reported, but stdout differs from the reference", r.status);
		} else {
			same++;
		}
		if (bad && !quiet) {
			/* the stderr, from the sanitizer's report when there is one */
			char *nl, *e = strstr(r.err, "ERROR: ") ? strstr(r.err, "ERROR: ") : r.err;
			for (int k = 0; k < 30 && e && *e; k++) {
				nl = strchr(e, '\n');
				printf("#   %.*s\n", nl ? (int)(nl - e) : (int)strlen(e), e);
				e = nl ? nl + 1 : NULL;
			}
		}
		run_free(&r);
	}

	printf("# %zu runs (%zu planned; %zu transient, %zu persistent), %zu reached their allocation"
	       " (%zu of them at another site than planned: the order of allocations varies)\n",
	       runs, num_plan, num_plan - num_own, num_own, runs - not_reached, moved);
	printf("# outcomes: %zu failed cleanly (exit 1 with a message), %zu counted the failure and went on, "
	       "%zu absorbed it with output identical to the reference\n",
	       errored, counted, same);
	for (int c = 0; c < C__COUNT; c++)
		printf("%s %d - %s: %s\n", nfail[c] ? "not ok" : "ok", c + 1, g_argv[0], check_name[c]);
	{
		/* every site the reference reached was made to fail at least once */
		size_t missed = 0;
		for (size_t p = 0; p < num_plan; p++)
			if (!site_hit[plan[p].site] && plan[p].occ == 1 && !plan[p].persistent) {
				const struct site *x = &sh->sites[plan[p].site];
				missed++;
				printf("# never made to fail: %s site", kind_name[x->kind]);
				for (int j = 0; j < SITE_FRAMES && x->fr[j]; j++)
					printf("%sexe+%#lx", j ? "<" : " ",
					       (unsigned long)(x->fr[j] - (uintptr_t)__executable_start));
				printf(" (%llu allocations in the reference run)\n",
				       (unsigned long long)ref_count[plan[p].site]);
			}
		size_t planned_sites = 0;
		for (size_t p = 0; p < num_plan; p++)
			planned_sites += plan[p].occ == 1 && !plan[p].persistent && !plan[p].by_site;
		printf("# %zu of %zu sites made to fail\n", planned_sites - missed, planned_sites);
		printf("%s %d - %s: every allocation site reached was made to fail at least once%s\n",
		       missed ? "not ok" : "ok", C__COUNT + 1, g_argv[0], missed ? " (some were not reached)" : "");
	}
	printf("1..%d\n", C__COUNT + 1);
	rm_db(g_db);
	{
		char p[4096];
		snprintf(p, sizeof(p), "%s/oom.out", g_tmp);
		unlink(p);
		snprintf(p, sizeof(p), "%s/oom.err", g_tmp);
		unlink(p);
		rmdir(g_tmp);
	}
	unlink(ref_db);
	run_free(&ref);
	free(order);
	free(plan);
	for (int c = 0; c < C__COUNT; c++)
		if (nfail[c])
			return 1;
	return 0;
}
