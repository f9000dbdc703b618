/*
 * merge.c - copies another callerid database into this one (store.h).
 *
 * One capture per node is the usual investigation: `callerid capture` on
 * each node of a DaemonSet, CloudTrail and the kubectl snapshots loaded
 * once. Merging gives correlate every node's flows in one database.
 *
 * Rows are copied through two connections (the source opened read-only,
 * never written, its WAL included), column by column by name: a source of
 * an older schema has fewer columns and tables, and what it has is copied.
 * Ids are moved past the ones already here (captures, flows, request
 * bursts), with every reference to them (flow.capture_id, tls.flow_id,
 * request.flow_id, nat_link, owner, http and dns); CloudTrail events are
 * kept once by eventID; pod and node snapshot rows already here are not
 * copied again. The correlator's attribution rows are not copied: they
 * name flows and bursts of their own database, and correlate remakes them.
 * A source goes in one transaction: it is merged whole or not at all.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_int.h"

enum off { OFF_NONE, OFF_CAPTURE, OFF_FLOW, OFF_REQUEST };
enum how { COPY, ONCE_BY_KEY, ONCE_BY_ROW };

struct mcol {
	const char *name;
	enum off off;
};

struct mtable {
	const char *name;
	enum how how;
	struct mcol ids[2];  /* columns holding ids that move */
	const char *omit;    /* a column not copied (a new one is given) */
	size_t written;      /* counters in struct cid_merge_stats */
	size_t known;        /* NO_COUNT: none */
};
#define NO_COUNT SIZE_MAX
#define MS(f) offsetof(struct cid_merge_stats, f)

/* In this order: references follow what they point at. */
static const struct mtable tables[] = {
	{"capture", COPY, {{"id", OFF_CAPTURE}, {NULL, OFF_NONE}}, NULL, MS(captures), NO_COUNT},
	{"flow", COPY, {{"id", OFF_FLOW}, {"capture_id", OFF_CAPTURE}}, NULL, MS(flows), NO_COUNT},
	{"tls", COPY, {{"flow_id", OFF_FLOW}, {NULL, OFF_NONE}}, NULL, MS(tls), NO_COUNT},
	{"request", COPY, {{"id", OFF_REQUEST}, {"flow_id", OFF_FLOW}}, NULL, MS(requests), NO_COUNT},
	{"nat_link", COPY, {{"inner_flow_id", OFF_FLOW}, {"outer_flow_id", OFF_FLOW}}, NULL, MS(nat_links), NO_COUNT},
	{"owner", COPY, {{"flow_id", OFF_FLOW}, {NULL, OFF_NONE}}, NULL, MS(owners), NO_COUNT},
	{"http", COPY, {{"flow_id", OFF_FLOW}, {NULL, OFF_NONE}}, NULL, MS(http), NO_COUNT},
	{"dns", COPY, {{"flow_id", OFF_FLOW}, {NULL, OFF_NONE}}, NULL, MS(dns), NO_COUNT},
	{"event", ONCE_BY_KEY, {{NULL, OFF_NONE}, {NULL, OFF_NONE}}, "id", MS(events), MS(events_known)},
	{"pod", ONCE_BY_ROW, {{NULL, OFF_NONE}, {NULL, OFF_NONE}}, NULL, MS(pods), MS(pods_known)},
	{"node", ONCE_BY_ROW, {{NULL, OFF_NONE}, {NULL, OFF_NONE}}, NULL, MS(nodes), MS(nodes_known)},
};
#define NUM_TABLES (sizeof(tables) / sizeof(tables[0]))
#define MAX_COLS 64

struct merge {
	struct cid_store *s;
	sqlite3 *src;
	const char *path;
	int64_t off[4]; /* by enum off */
	struct cid_merge_stats *st;
};

static int fail(struct merge *m, sqlite3 *db, const char *what)
{
	cid_store_set_err(m->s, "%s: %s: %s", m->path, what, sqlite3_errmsg(db));
	return -CID_EDB;
}

/* Column names of table t in db ("main"); 0 when the table is not there. */
static size_t columns(sqlite3 *db, const char *t, char names[MAX_COLS][64])
{
	sqlite3_stmt *st;
	size_t n = 0;
	if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1)", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW && n < MAX_COLS) {
		const char *c = (const char *)sqlite3_column_text(st, 0);
		snprintf(names[n++], 64, "%s", c ? c : "");
	}
	sqlite3_finalize(st);
	return n;
}

static int64_t max_id(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static enum off off_of(const struct mtable *t, const char *col)
{
	for (size_t i = 0; i < 2; i++)
		if (t->ids[i].name && !strcmp(t->ids[i].name, col))
			return t->ids[i].off;
	return OFF_NONE;
}

static bool append(char *buf, size_t cap, const char *s)
{
	size_t n = strlen(buf), k = strlen(s);
	if (n + k >= cap)
		return false;
	memcpy(buf + n, s, k + 1);
	return true;
}

/* Copies one table; counts the rows written and the ones already here. */
static int copy_table(struct merge *m, const struct mtable *t, uint64_t *written, uint64_t *known)
{
	static char dst_cols[MAX_COLS][64], src_cols[MAX_COLS][64];
	const char *use[MAX_COLS];
	enum off offs[MAX_COLS];
	char sel[4096] = "SELECT ", ins[8192], vals[1024] = "", where[4096] = "";
	sqlite3 *dst = cid_store_db(m->s);
	sqlite3_stmt *from = NULL, *to = NULL;
	size_t nd = columns(dst, t->name, dst_cols), ns = columns(m->src, t->name, src_cols), nu = 0;
	int rc, r = 0;

	if (!ns)
		return 0; /* an older source without this table */
	for (size_t i = 0; i < ns; i++) {
		bool here = false;
		for (size_t j = 0; j < nd && !here; j++)
			here = !strcmp(src_cols[i], dst_cols[j]);
		if (here && !(t->omit && !strcmp(src_cols[i], t->omit)))
			use[nu] = src_cols[i], offs[nu] = off_of(t, src_cols[i]), nu++;
	}
	if (!nu)
		return 0;
	snprintf(ins, sizeof(ins), "INSERT %sINTO main.\"%s\"(", t->how == ONCE_BY_KEY ? "OR IGNORE " : "", t->name);
	for (size_t i = 0; i < nu; i++) {
		char p[96], w[160];
		snprintf(p, sizeof(p), "%s\"%s\"", i ? ", " : "", use[i]);
		if (!append(sel, sizeof(sel), p) || !append(ins, sizeof(ins), p))
			return fail(m, dst, "too many columns");
		snprintf(p, sizeof(p), "%s?%zu", i ? ", " : "", i + 1);
		snprintf(w, sizeof(w), "%s\"%s\" IS ?%zu", i ? " AND " : "", use[i], i + 1);
		if (!append(vals, sizeof(vals), p) || !append(where, sizeof(where), w))
			return fail(m, dst, "too many columns");
	}
	if (!append(sel, sizeof(sel), " FROM \"") || !append(sel, sizeof(sel), t->name) ||
	    !append(sel, sizeof(sel), "\" ORDER BY rowid"))
		return fail(m, dst, "too many columns");
	if (t->how == ONCE_BY_ROW) {
		/* SELECT ... WHERE NOT EXISTS (the same row here) */
		char tail[4096 + 128];
		snprintf(tail, sizeof(tail), ") SELECT %s WHERE NOT EXISTS (SELECT 1 FROM main.\"%s\" WHERE %s)", vals,
			 t->name, where);
		if (!append(ins, sizeof(ins), tail))
			return fail(m, dst, "too many columns");
	} else if (!append(ins, sizeof(ins), ") VALUES(") || !append(ins, sizeof(ins), vals) ||
		   !append(ins, sizeof(ins), ")")) {
		return fail(m, dst, "too many columns");
	}
	if (sqlite3_prepare_v2(m->src, sel, -1, &from, NULL) != SQLITE_OK)
		return fail(m, m->src, t->name);
	if (sqlite3_prepare_v2(dst, ins, -1, &to, NULL) != SQLITE_OK) {
		sqlite3_finalize(from);
		return fail(m, dst, t->name);
	}
	while ((rc = sqlite3_step(from)) == SQLITE_ROW) {
		for (size_t i = 0; i < nu; i++) {
			int col = (int)i, p = (int)i + 1;
			if (offs[i] != OFF_NONE && sqlite3_column_type(from, col) == SQLITE_INTEGER)
				sqlite3_bind_int64(to, p, sqlite3_column_int64(from, col) + m->off[offs[i]]);
			else
				sqlite3_bind_value(to, p, sqlite3_column_value(from, col));
		}
		if (sqlite3_step(to) != SQLITE_DONE) {
			r = fail(m, dst, t->name);
			break;
		}
		if (sqlite3_changes(dst))
			(*written)++;
		else
			(*known)++;
		sqlite3_reset(to);
	}
	if (!r && rc != SQLITE_DONE)
		r = fail(m, m->src, t->name);
	sqlite3_finalize(from);
	sqlite3_finalize(to);
	return r;
}

/* The source must be a callerid database this build can read. */
static int check_source(struct merge *m)
{
	sqlite3_stmt *st;
	int ver = -1;
	if (sqlite3_prepare_v2(m->src, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return fail(m, m->src, "not a readable SQLite database");
	if (sqlite3_step(st) == SQLITE_ROW)
		ver = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (ver > cid_store_schema_version()) {
		cid_store_set_err(m->s, "%s: schema version %d is newer than this callerid's (%d)", m->path, ver,
				  cid_store_schema_version());
		return -CID_EVERSION;
	}
	if (ver < 1 || max_id(m->src, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
				      " ('capture', 'flow', 'tls', 'request')") != 4) {
		cid_store_set_err(m->s, "%s: not a callerid database", m->path);
		return -CID_EINVAL;
	}
	return 0;
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cid_store_merge(struct cid_store *s, const char *dst_path, const char *src_path, struct cid_merge_stats *st)
{
	struct merge m = {.s = s, .path = src_path, .st = st};
	sqlite3 *dst = cid_store_db(s);
	uint64_t ignored = 0;
	int r;
	struct stat sb;

	memset(st, 0, sizeof(*st));
	if (s->readonly) {
		cid_store_set_err(s, "the database is open read-only");
		return -CID_EINVAL;
	}
	if (stat(src_path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		cid_store_set_err(s, "%s: no such database file", src_path);
		return -CID_EIO;
	}
	if (same_file(dst_path, src_path)) {
		cid_store_set_err(s, "%s: that is the database merged into", src_path);
		return -CID_EINVAL;
	}
	if (cid_store_flush(s) < 0)
		return -CID_EDB;
	if (sqlite3_open_v2(src_path, &m.src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		r = fail(&m, m.src, "cannot open");
		sqlite3_close(m.src);
		return r;
	}
	r = check_source(&m);
	if (!r && sqlite3_exec(dst, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		r = fail(&m, dst, "cannot begin");
	if (!r) {
		m.off[OFF_CAPTURE] = max_id(dst, "SELECT coalesce(max(id), 0) FROM capture");
		m.off[OFF_FLOW] = max_id(dst, "SELECT coalesce(max(id), 0) FROM flow");
		m.off[OFF_REQUEST] = max_id(dst, "SELECT coalesce(max(id), 0) FROM request");
		for (size_t i = 0; i < NUM_TABLES && !r; i++)
			r = copy_table(&m, &tables[i], (uint64_t *)(void *)((char *)st + tables[i].written),
				       tables[i].known == NO_COUNT ? &ignored
								   : (uint64_t *)(void *)((char *)st + tables[i].known));
		if (!r && sqlite3_exec(dst, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			r = fail(&m, dst, "cannot commit");
		if (r) {
			(void)sqlite3_exec(dst, "ROLLBACK", NULL, NULL, NULL);
			memset(st, 0, sizeof(*st));
		}
	}
	sqlite3_close(m.src);
	return r;
}
