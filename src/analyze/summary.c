/*
 * summary.c - queries over the event table: DESIGN's event filters, the
 * `events` listing and the investigator's summary (`events --summary`,
 * JSON form documented in docs/events-summary.md).
 *
 * Every value reaches SQL as a bound parameter; every string from a
 * CloudTrail record is escaped by the output module before it is printed.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "callerid/correlate.h"
#include "callerid/correlate_db.h"
#include "callerid/http.h"
#include "callerid/ingest.h"
#include "callerid/output.h"

/* ---- filters ---- */

/* Fixed parameter numbers, so binding does not depend on which are set. */
enum { P_NAME = 1, P_SOURCE, P_ERROR, P_ARN, P_IP, P_ID, P_SINCE, P_UNTIL };

void cid_event_filter_sql(struct cid_buf *sql, const struct cid_event_filter *f)
{
	cid_buf_adds(sql, " WHERE 1");
	if (f->event_name)
		cid_buf_adds(sql, " AND name = ?1");
	if (f->event_source)
		cid_buf_adds(sql, " AND source = ?2");
	if (f->error_code)
		cid_buf_adds(sql, " AND error_code = ?3");
	if (f->arn_like)
		cid_buf_adds(sql, " AND (arn LIKE ?4 OR session_issuer_arn LIKE ?4)");
	if (f->source_ip)
		cid_buf_adds(sql, " AND source_ip = ?5");
	if (f->event_id)
		cid_buf_adds(sql, " AND event_id = ?6");
	if (f->has_since)
		cid_buf_adds(sql, " AND time_us >= ?7");
	if (f->has_until)
		cid_buf_adds(sql, " AND time_us <= ?8");
}

int cid_event_filter_bind(sqlite3_stmt *st, const struct cid_event_filter *f)
{
	int rc = SQLITE_OK;
	if (f->event_name)
		rc |= sqlite3_bind_text(st, P_NAME, f->event_name, -1, SQLITE_TRANSIENT);
	if (f->event_source)
		rc |= sqlite3_bind_text(st, P_SOURCE, f->event_source, -1, SQLITE_TRANSIENT);
	if (f->error_code)
		rc |= sqlite3_bind_text(st, P_ERROR, f->error_code, -1, SQLITE_TRANSIENT);
	if (f->arn_like) {
		struct cid_buf b;
		cid_buf_init(&b, 4096);
		/* A plain string matches as a substring; % or _ means a pattern. */
		if (strpbrk(f->arn_like, "%_"))
			cid_buf_adds(&b, f->arn_like);
		else
			cid_buf_printf(&b, "%%%s%%", f->arn_like);
		rc |= sqlite3_bind_text(st, P_ARN, cid_buf_str(&b), -1, SQLITE_TRANSIENT);
		cid_buf_cleanup(&b);
	}
	if (f->source_ip)
		rc |= sqlite3_bind_text(st, P_IP, f->source_ip, -1, SQLITE_TRANSIENT);
	if (f->event_id)
		rc |= sqlite3_bind_text(st, P_ID, f->event_id, -1, SQLITE_TRANSIENT);
	if (f->has_since)
		rc |= sqlite3_bind_int64(st, P_SINCE, f->since_us);
	if (f->has_until)
		rc |= sqlite3_bind_int64(st, P_UNTIL, f->until_us);
	return rc;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *pre, const struct cid_event_filter *f,
			     const char *post, char *err, size_t err_len)
{
	struct cid_buf sql;
	sqlite3_stmt *st = NULL;
	cid_buf_init(&sql, 64 * 1024);
	cid_buf_adds(&sql, pre);
	cid_event_filter_sql(&sql, f);
	cid_buf_adds(&sql, post);
	if (sqlite3_prepare_v2(db, cid_buf_str(&sql), -1, &st, NULL) != SQLITE_OK ||
	    cid_event_filter_bind(st, f) != SQLITE_OK) {
		snprintf(err, err_len, "query: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		st = NULL;
	}
	cid_buf_cleanup(&sql);
	return st;
}

/* ---- listing ---- */

int cid_events_list(sqlite3 *db, const struct cid_event_filter *f, int64_t limit, FILE *out,
		    enum cid_fmt fmt, char *err, size_t err_len)
{
	static const char *const cols[] = {
		"time", "event_id", "name", "source", "region", "source_ip", "arn", "user_agent",
		"error_code", "vpce", "tls_version", "cipher", "host_header", "request_params"};
	size_t ncols = sizeof(cols) / sizeof(cols[0]) - (fmt == CID_FMT_TABLE ? 1 : 0);
	char post[64];
	sqlite3_stmt *st;
	struct cid_table *t;
	int rc;

	snprintf(post, sizeof(post), " ORDER BY time_us, event_id%s", limit > 0 ? " LIMIT ?9" : "");
	st = prepare(db,
		     "SELECT time_us, event_id, name, source, region, source_ip, arn, user_agent,"
		     " error_code, vpce, tls_version, cipher, host_header, request_params FROM event",
		     f, post, err, err_len);
	if (!st)
		return -CID_EDB;
	if (limit > 0)
		sqlite3_bind_int64(st, 9, limit);
	t = cid_table_new(out, fmt, cols, ncols);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cid_table_time(t, sqlite3_column_int64(st, 0));
		for (int i = 1; i < (int)ncols; i++) {
			const char *v = (const char *)sqlite3_column_text(st, i);
			if (i == 13 && v)
				cid_table_json(t, v);
			else
				cid_table_strn(t, v, (size_t)sqlite3_column_bytes(st, i));
		}
		cid_table_end_row(t);
	}
	cid_table_free(t);
	if (rc != SQLITE_DONE)
		snprintf(err, err_len, "query: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -CID_EDB;
}

/* ---- summary ---- */

#define MAX_KEYS 6
#define MAX_EXTRA 3

/* One output row of a section. Strings are owned copies. */
struct row {
	char *key[MAX_KEYS];
	int64_t count, first, last;
	int64_t extra[MAX_EXTRA];
	double median_s; /* < 0: none */
};

struct section {
	const char *name, *title;
	const char *keys[MAX_KEYS];
	const char *extras[MAX_EXTRA];
	const char *pre, *post; /* SQL around the filter's WHERE */
};

/* Section SQL: key columns, count, first, last, extras, in that order. */
#define ROLE "coalesce(session_issuer_arn, arn, principal_id)"
static const struct section sql_sections[] = {
	{"error_code", "by error code", {"error_code"}, {"source_ips", "identities"},
	 "SELECT error_code, count(*), min(time_us), max(time_us), count(DISTINCT source_ip),"
	 " count(DISTINCT " ROLE ") FROM event", " GROUP BY 1 ORDER BY 2 DESC, 1"},
	{"error_pattern", "error patterns (code, call, role, user agent, endpoint)",
	 {"error_code", "source", "name", "role", "user_agent", "vpce"}, {"source_ips", "sessions"},
	 "SELECT error_code, source, name, " ROLE ", user_agent, vpce, count(*), min(time_us),"
	 " max(time_us), count(DISTINCT source_ip), count(DISTINCT arn) FROM event",
	 " AND error_code IS NOT NULL GROUP BY 1,2,3,4,5,6 ORDER BY 7 DESC, 1, 2, 3"},
	{"identity", "by identity (role or user)", {"identity_type", "role"},
	 {"sessions", "source_ips", "errors"},
	 "SELECT identity_type, " ROLE ", count(*), min(time_us), max(time_us),"
	 " count(DISTINCT arn), count(DISTINCT source_ip), count(error_code) FROM event",
	 " GROUP BY 1,2 ORDER BY 3 DESC, 2"},
	{"session", "by session (identity ARN)", {"arn"}, {"source_ips", "errors"},
	 "SELECT arn, count(*), min(time_us), max(time_us), count(DISTINCT source_ip),"
	 " count(error_code) FROM event", " GROUP BY 1 ORDER BY 2 DESC, 1"},
	{"event", "by event source and name", {"source", "name"}, {"source_ips", "errors"},
	 "SELECT source, name, count(*), min(time_us), max(time_us), count(DISTINCT source_ip),"
	 " count(error_code) FROM event", " GROUP BY 1,2 ORDER BY 3 DESC, 1, 2"},
	{"user_agent", "by user agent", {"user_agent"}, {"source_ips", "errors"},
	 "SELECT user_agent, count(*), min(time_us), max(time_us), count(DISTINCT source_ip),"
	 " count(error_code) FROM event", " GROUP BY 1 ORDER BY 2 DESC, 1"},
	{"vpce", "by VPC endpoint", {"vpce"}, {"source_ips", "errors"},
	 "SELECT vpce, count(*), min(time_us), max(time_us), count(DISTINCT source_ip),"
	 " count(error_code) FROM event", " GROUP BY 1 ORDER BY 2 DESC, 1"},
	{"tls", "by TLS version and cipher", {"tls_version", "cipher", "key_exchange"},
	 {"source_ips", "host_headers"},
	 "SELECT tls_version, cipher, key_exchange, count(*), min(time_us), max(time_us),"
	 " count(DISTINCT source_ip), count(DISTINCT host_header) FROM event",
	 " GROUP BY 1,2,3 ORDER BY 4 DESC, 1, 2"},
};

static const struct section ip_section = {
	"source_ip", "by source IP (median interval between consecutive calls)",
	{"source_ip"}, {"errors"}, NULL, NULL};
static const struct section shape_section = {
	"request_shape", "requestParameters shapes (leaf values replaced by their type)",
	{"source", "name", "shape"}, {NULL}, NULL, NULL};
/* Extras < 0 mean "unknown" (null): attributed_events before any correlate. */
static const struct section imds_section = {
	"imds_under_irsa", "node-role credentials fetched from IMDS under IRSA / Pod Identity",
	{"owner", "kind", "pods_with_own_credentials", "roles", "imds_versions", "user_agents"},
	{"node_role_events", "attributed_events"}, NULL, NULL};

/* Bit k: key k of the section's rows is already JSON (printed as it is). */
static unsigned json_keys(const struct section *s)
{
	if (s == &shape_section)
		return 1u << 2;              /* shape */
	if (s == &imds_section)
		return 1u << 3 | 1u << 5;    /* roles, user_agents */
	return 0;
}

struct emitter {
	FILE *out;
	enum cid_fmt fmt;
	struct cid_table *csv;
	struct cid_buf line;
};

static size_t num_keys(const struct section *s)
{
	size_t n = 0;
	while (n < MAX_KEYS && s->keys[n])
		n++;
	return n;
}

static size_t num_extras(const struct section *s)
{
	size_t n = 0;
	while (n < MAX_EXTRA && s->extras[n])
		n++;
	return n;
}

static void json_time(struct cid_buf *b, int64_t us)
{
	char t[40];
	cid_buf_addc(b, '"');
	cid_buf_adds(b, cid_time_str(us, t, sizeof(t)));
	cid_buf_addc(b, '"');
}

static void flush_line(struct emitter *e)
{
	cid_buf_addc(&e->line, '\n');
	fwrite(cid_buf_str(&e->line), 1, e->line.len, e->out);
	cid_buf_reset(&e->line);
}

/* Prints one section: a header and its rows (already sorted). */
static void emit_section(struct emitter *e, const struct section *s, const struct row *rows,
			 size_t n, uint64_t groups, bool has_median)
{
	size_t nk = num_keys(s), nx = num_extras(s);

	if (e->fmt == CID_FMT_JSON) {
		cid_buf_printf(&e->line, "{\"type\":\"summary_section\",\"section\":\"%s\",\"groups\":%llu,"
					 "\"rows\":%zu}",
			       s->name, (unsigned long long)groups, n);
		flush_line(e);
		for (size_t i = 0; i < n; i++) {
			const struct row *r = &rows[i];
			cid_buf_printf(&e->line, "{\"type\":\"summary_row\",\"section\":\"%s\",\"rank\":%zu,\"key\":{",
				       s->name, i + 1);
			for (size_t k = 0; k < nk; k++) {
				cid_buf_printf(&e->line, "%s\"%s\":", k ? "," : "", s->keys[k]);
				if (!r->key[k])
					cid_buf_adds(&e->line, "null");
				else if (json_keys(s) & (1u << k))
					cid_buf_adds(&e->line, r->key[k]); /* already JSON */
				else
					cid_esc_json(&e->line, r->key[k], strlen(r->key[k]));
			}
			cid_buf_printf(&e->line, "},\"count\":%lld,\"first\":", (long long)r->count);
			json_time(&e->line, r->first);
			cid_buf_adds(&e->line, ",\"last\":");
			json_time(&e->line, r->last);
			for (size_t x = 0; x < nx; x++) {
				if (r->extra[x] < 0)
					cid_buf_printf(&e->line, ",\"%s\":null", s->extras[x]);
				else
					cid_buf_printf(&e->line, ",\"%s\":%lld", s->extras[x], (long long)r->extra[x]);
			}
			if (has_median) {
				if (r->median_s < 0)
					cid_buf_adds(&e->line, ",\"median_interval_s\":null");
				else
					cid_buf_printf(&e->line, ",\"median_interval_s\":%.3f", r->median_s);
			}
			cid_buf_addc(&e->line, '}');
			flush_line(e);
		}
		return;
	}
	if (e->fmt == CID_FMT_CSV) {
		for (size_t i = 0; i < n; i++) {
			const struct row *r = &rows[i];
			struct cid_buf k, x;
			cid_buf_init(&k, 1 << 16);
			cid_buf_init(&x, 4096);
			for (size_t j = 0; j < nk; j++) {
				cid_buf_adds(&k, j ? " | " : "");
				cid_buf_adds(&k, r->key[j] ? r->key[j] : "-");
			}
			for (size_t j = 0; j < nx; j++)
				if (r->extra[j] >= 0)
					cid_buf_printf(&x, "%s%s=%lld", x.len ? ";" : "", s->extras[j],
						       (long long)r->extra[j]);
			if (has_median && r->median_s >= 0)
				cid_buf_printf(&x, "%smedian_interval_s=%.3f", x.len ? ";" : "", r->median_s);
			cid_table_str(e->csv, s->name);
			cid_table_int(e->csv, (int64_t)i + 1);
			cid_table_strn(e->csv, cid_buf_str(&k), k.len);
			cid_table_int(e->csv, r->count);
			cid_table_time(e->csv, r->first);
			cid_table_time(e->csv, r->last);
			cid_table_strn(e->csv, cid_buf_str(&x), x.len);
			cid_table_end_row(e->csv);
			cid_buf_cleanup(&k);
			cid_buf_cleanup(&x);
		}
		return;
	}
	/* table */
	const char *cols[MAX_KEYS + MAX_EXTRA + 4];
	size_t nc = 0;
	for (size_t k = 0; k < nk; k++)
		cols[nc++] = s->keys[k];
	cols[nc++] = "count";
	cols[nc++] = "first";
	cols[nc++] = "last";
	for (size_t x = 0; x < nx; x++)
		cols[nc++] = s->extras[x];
	if (has_median)
		cols[nc++] = "median_interval_s";
	fprintf(e->out, "\n== %s: %llu group%s%s ==\n", s->title, (unsigned long long)groups,
		groups == 1 ? "" : "s", groups > n ? " (top shown)" : "");
	fflush(e->out);
	struct cid_table *t = cid_table_new(e->out, CID_FMT_TABLE, cols, nc);
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		for (size_t k = 0; k < nk; k++)
			cid_table_str(t, r->key[k]);
		cid_table_int(t, r->count);
		cid_table_time(t, r->first);
		cid_table_time(t, r->last);
		for (size_t x = 0; x < nx; x++) {
			if (r->extra[x] < 0)
				cid_table_null(t);
			else
				cid_table_int(t, r->extra[x]);
		}
		if (has_median) {
			if (r->median_s < 0)
				cid_table_null(t);
			else
				cid_table_real(t, r->median_s);
		}
		cid_table_end_row(t);
	}
	cid_table_free(t);
	fflush(e->out);
}

static void row_clear(struct row *r)
{
	for (size_t k = 0; k < MAX_KEYS; k++) {
		free(r->key[k]);
		r->key[k] = NULL;
	}
}

static char *dup_col(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);
	return v ? strdup(v) : NULL;
}

static int run_sql_section(sqlite3 *db, const struct cid_event_filter *f, const struct section *s,
			   size_t top, struct emitter *e, char *err, size_t err_len)
{
	size_t nk = num_keys(s), nx = num_extras(s), n = 0;
	uint64_t groups = 0;
	struct row *rows = calloc(top, sizeof(*rows));
	sqlite3_stmt *st;
	int rc;

	if (!rows)
		return -CID_ENOMEM;
	st = prepare(db, s->pre, f, s->post, err, err_len);
	if (!st) {
		free(rows);
		return -CID_EDB;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		groups++;
		if (n == top)
			continue;
		struct row *r = &rows[n++];
		int c = 0;
		for (size_t k = 0; k < nk; k++)
			r->key[k] = dup_col(st, c++);
		r->count = sqlite3_column_int64(st, c++);
		r->first = sqlite3_column_int64(st, c++);
		r->last = sqlite3_column_int64(st, c++);
		for (size_t x = 0; x < nx; x++)
			r->extra[x] = sqlite3_column_int64(st, c++);
		r->median_s = -1;
	}
	if (rc != SQLITE_DONE)
		snprintf(err, err_len, "query: %s", sqlite3_errmsg(db));
	else
		emit_section(e, s, rows, n, groups, false);
	sqlite3_finalize(st);
	for (size_t i = 0; i < n; i++)
		row_clear(&rows[i]);
	free(rows);
	return rc == SQLITE_DONE ? 0 : -CID_EDB;
}

/* ---- per source IP: count, first, last, median interval ---- */

struct ipstat {
	char *ip;
	int64_t count, first, last, errors;
	double median_s;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int cmp_ipstat(const void *a, const void *b)
{
	const struct ipstat *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->ip, y->ip);
}

static int run_ip_section(sqlite3 *db, const struct cid_event_filter *f, size_t top,
			  struct emitter *e, char *err, size_t err_len)
{
	sqlite3_stmt *st;
	struct ipstat *ips = NULL;
	int64_t *iv = NULL, prev = 0;
	size_t num_ips = 0, cap_ips = 0, num_iv = 0, cap_iv = 0;
	int rc, ret = 0;

	st = prepare(db, "SELECT source_ip, time_us, error_code IS NOT NULL FROM event", f,
		     " AND source_ip IS NOT NULL ORDER BY source_ip, time_us", err, err_len);
	if (!st)
		return -CID_EDB;
	struct ipstat *cur = NULL;
	for (;;) {
		rc = sqlite3_step(st);
		const char *ip = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
		if (cur && (!ip || strcmp(ip, cur->ip))) {
			/* close the previous IP: median of its intervals */
			if (num_iv) {
				qsort(iv, num_iv, sizeof(*iv), cmp_i64);
				double m = num_iv % 2 ? (double)iv[num_iv / 2]
						      : ((double)iv[num_iv / 2 - 1] + (double)iv[num_iv / 2]) / 2;
				cur->median_s = m / 1e6;
			}
			cur = NULL;
			num_iv = 0;
		}
		if (rc != SQLITE_ROW)
			break;
		int64_t t = sqlite3_column_int64(st, 1);
		if (!cur) {
			if (num_ips == cap_ips) {
				size_t nc = cap_ips ? cap_ips * 2 : 256;
				struct ipstat *n = realloc(ips, nc * sizeof(*n));
				if (!n) {
					ret = -CID_ENOMEM;
					goto out;
				}
				ips = n;
				cap_ips = nc;
			}
			cur = &ips[num_ips++];
			memset(cur, 0, sizeof(*cur));
			cur->ip = strdup(ip ? ip : "");
			cur->first = t;
			cur->median_s = -1;
			if (!cur->ip) {
				num_ips--;
				ret = -CID_ENOMEM;
				goto out;
			}
		} else {
			if (num_iv == cap_iv) {
				size_t nc = cap_iv ? cap_iv * 2 : 1024;
				int64_t *n = realloc(iv, nc * sizeof(*n));
				if (!n) {
					ret = -CID_ENOMEM;
					goto out;
				}
				iv = n;
				cap_iv = nc;
			}
			iv[num_iv++] = t - prev;
		}
		prev = t;
		cur->count++;
		cur->last = t;
		cur->errors += sqlite3_column_int(st, 2);
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, err_len, "query: %s", sqlite3_errmsg(db));
		ret = -CID_EDB;
		goto out;
	}
	if (num_ips > 1)
		qsort(ips, num_ips, sizeof(*ips), cmp_ipstat);
	{
		size_t n = num_ips < top ? num_ips : top;
		struct row *rows = calloc(n ? n : 1, sizeof(*rows));
		if (!rows) {
			ret = -CID_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			rows[i].key[0] = ips[i].ip; /* borrowed */
			rows[i].count = ips[i].count;
			rows[i].first = ips[i].first;
			rows[i].last = ips[i].last;
			rows[i].extra[0] = ips[i].errors;
			rows[i].median_s = ips[i].median_s;
		}
		emit_section(e, &ip_section, rows, n, num_ips, true);
		free(rows);
	}
out:
	for (size_t i = 0; i < num_ips; i++)
		free(ips[i].ip);
	free(ips);
	free(iv);
	sqlite3_finalize(st);
	return ret;
}

/* ---- requestParameters shapes: a small hash table keyed by
 * source NUL name NUL shape ---- */

#define SHAPE_MAX_GROUPS 65536u

struct shape_ent {
	char *key; /* source \0 name \0 shape \0 */
	size_t key_len;
	int64_t count, first, last;
};

static int cmp_shape(const void *a, const void *b)
{
	const struct shape_ent *x = a, *y = b;
	if (!x->key || !y->key)
		return (x->key == NULL) - (y->key == NULL);
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);
	return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static int run_shape_section(sqlite3 *db, const struct cid_event_filter *f, size_t top,
			     struct emitter *e, char *err, size_t err_len)
{
	const size_t nslots = SHAPE_MAX_GROUPS * 2;
	struct shape_ent *tab = calloc(nslots, sizeof(*tab));
	struct cid_buf key, shp;
	sqlite3_stmt *st;
	size_t used = 0;
	int rc, ret = 0;

	if (!tab)
		return -CID_ENOMEM;
	cid_buf_init(&key, 3 * CID_CT_SHAPE_CAP);
	cid_buf_init(&shp, CID_CT_SHAPE_CAP);
	st = prepare(db,
		     "SELECT source, name, request_params, count(*), min(time_us), max(time_us)"
		     " FROM event",
		     f, " GROUP BY 1,2,3", err, err_len);
	if (!st) {
		ret = -CID_EDB;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *src = (const char *)sqlite3_column_text(st, 0);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const uint8_t *rp = sqlite3_column_text(st, 2);
		cid_buf_reset(&shp);
		if (!rp)
			cid_buf_adds(&shp, "null");
		else if (cid_ct_shape(&shp, rp, (size_t)sqlite3_column_bytes(st, 2)) != CID_OK) {
			cid_buf_reset(&shp);
			cid_buf_adds(&shp, "\"(too large or too deep)\"");
		}
		cid_buf_reset(&key);
		cid_buf_adds(&key, src ? src : "");
		cid_buf_addc(&key, '\0');
		cid_buf_adds(&key, name ? name : "");
		cid_buf_addc(&key, '\0');
		cid_buf_add(&key, cid_buf_str(&shp), shp.len);
		size_t h = (size_t)(cid_fnv1a(CID_FNV1A_INIT, cid_buf_str(&key), key.len) % nslots);
		while (tab[h].key && (tab[h].key_len != key.len || memcmp(tab[h].key, cid_buf_str(&key), key.len)))
			h = (h + 1) % nslots;
		int64_t cnt = sqlite3_column_int64(st, 3), t0 = sqlite3_column_int64(st, 4),
			t1 = sqlite3_column_int64(st, 5);
		if (!tab[h].key) {
			if (used == SHAPE_MAX_GROUPS)
				continue; /* cap reached: counted out, groups stays at the cap */
			tab[h].key = malloc(key.len + 1);
			if (!tab[h].key) {
				ret = -CID_ENOMEM;
				goto out;
			}
			memcpy(tab[h].key, cid_buf_str(&key), key.len);
			tab[h].key[key.len] = '\0';
			tab[h].key_len = key.len;
			tab[h].first = t0;
			tab[h].last = t1;
			used++;
		}
		tab[h].count += cnt;
		if (t0 < tab[h].first)
			tab[h].first = t0;
		if (t1 > tab[h].last)
			tab[h].last = t1;
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, err_len, "query: %s", sqlite3_errmsg(db));
		ret = -CID_EDB;
		goto out;
	}
	qsort(tab, nslots, sizeof(*tab), cmp_shape);
	{
		size_t n = used < top ? used : top;
		struct row *rows = calloc(n ? n : 1, sizeof(*rows));
		if (!rows) {
			ret = -CID_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			char *k = tab[i].key;
			rows[i].key[0] = k;
			rows[i].key[1] = k + strlen(k) + 1;
			rows[i].key[2] = rows[i].key[1] + strlen(rows[i].key[1]) + 1;
			rows[i].count = tab[i].count;
			rows[i].first = tab[i].first;
			rows[i].last = tab[i].last;
			rows[i].median_s = -1;
		}
		emit_section(e, &shape_section, rows, n, used, false);
		free(rows);
	}
out:
	sqlite3_finalize(st);
	for (size_t i = 0; i < nslots; i++)
		free(tab[i].key);
	free(tab);
	cid_buf_cleanup(&key);
	cid_buf_cleanup(&shp);
	return ret;
}

/* ---- owners fetching node-role credentials from IMDS under IRSA / Pod
 * Identity (issue 7). The owners and the predicate are correlate's
 * (cid_imds_flags_load); the events the filter selects add how many used a
 * role the owner fetched and how many correlate attributed to it. ---- */

struct imds_counts {
	int64_t node_role_events, attributed_events; /* attributed: -1 unknown */
};

static bool flag_has_role(const struct cid_imds_flag *x, const char *role)
{
	for (size_t k = 0; k < x->num_roles; k++)
		if (!strcasecmp(x->roles[k], role))
			return true;
	return false;
}

/* One pass over the selected events: their node role (as correlate reads
 * it) and the owner their stored verdict names. */
static int imds_count_events(sqlite3 *db, const struct cid_event_filter *f, const struct cid_imds_flags *fl,
			     struct imds_counts *cnt, char *err, size_t err_len)
{
	sqlite3_stmt *st = prepare(db,
				   "SELECT arn, ec2_role_delivery,"
				   " (SELECT a.owner_key FROM attribution a WHERE a.event_id = event.event_id"
				   "  AND a.verdict = 'attributed'),"
				   " EXISTS(SELECT 1 FROM attribution a WHERE a.event_id = event.event_id)"
				   " FROM event",
				   f, "", err, err_len);
	bool any_verdict = false;
	int rc;
	if (!st)
		return -CID_EDB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char role[CID_HTTP_ROLE_MAX + 1];
		const char *arn = (const char *)sqlite3_column_text(st, 0);
		const char *rd = (const char *)sqlite3_column_text(st, 1);
		const char *key = (const char *)sqlite3_column_text(st, 2);
		bool node = cid_cor_node_role(arn, rd, role, sizeof(role));
		any_verdict |= sqlite3_column_int(st, 3) != 0;
		for (size_t i = 0; i < fl->num_flags; i++) {
			if (node && flag_has_role(&fl->flag[i], role))
				cnt[i].node_role_events++;
			if (key && !strcmp(key, fl->flag[i].owner_key))
				cnt[i].attributed_events++;
		}
	}
	if (rc != SQLITE_DONE)
		snprintf(err, err_len, "query: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	for (size_t i = 0; !any_verdict && i < fl->num_flags; i++)
		cnt[i].attributed_events = -1;
	return rc == SQLITE_DONE ? 0 : -CID_EDB;
}

static const char *imds_versions(const struct cid_imds_flag *x)
{
	return x->imdsv1 && x->imdsv2 ? "IMDSv1 and IMDSv2" : x->imdsv2 ? "IMDSv2" : x->imdsv1 ? "IMDSv1" : NULL;
}

/* A JSON array of strings (a key of the JSON form). */
static void json_list(struct cid_buf *b, char *const *v, size_t n)
{
	cid_buf_addc(b, '[');
	for (size_t k = 0; k < n; k++) {
		cid_buf_adds(b, k ? "," : "");
		cid_esc_json(b, v[k], strlen(v[k]));
	}
	cid_buf_addc(b, ']');
}

/* The same list for a terminal: escaped, comma-separated. */
static void text_list(struct cid_buf *b, char *const *v, size_t n, const char *none)
{
	if (!n)
		cid_buf_adds(b, none);
	for (size_t k = 0; k < n; k++) {
		cid_buf_adds(b, k ? ", " : "");
		cid_esc_text(b, v[k], strlen(v[k]));
	}
}

/* The table form: a paragraph per owner, like correlate's closing one. */
static void imds_text(FILE *out, const struct cid_imds_flags *fl, const size_t *order, size_t n,
		      const struct imds_counts *cnt)
{
	struct cid_buf b;
	char t0[40], t1[40];
	cid_buf_init(&b, 1 << 20);
	cid_buf_printf(&b, "\n== %s: %zu owner%s (of %zu that fetched credentials) ==\n", imds_section.title,
		       fl->num_flags, fl->num_flags == 1 ? "" : "s", fl->num_owners);
	for (size_t j = 0; j < n; j++) {
		const struct cid_imds_flag *x = &fl->flag[order[j]];
		const struct imds_counts *c = &cnt[order[j]];
		cid_buf_adds(&b, "  ");
		cid_esc_text(&b, x->label, strlen(x->label));
		cid_buf_printf(&b, "\n    fetched node-role credentials from IMDS %zu time(s) (role ", x->fetches);
		text_list(&b, x->roles, x->num_roles, "?");
		cid_buf_printf(&b, ", %s, User-Agent ", imds_versions(x) ? imds_versions(x) : "?");
		text_list(&b, x->user_agents, x->num_user_agents, "(none)");
		cid_buf_printf(&b, ") from %s to %s\n    although ", cid_time_str(x->first_us, t0, sizeof(t0)),
			       cid_time_str(x->last_us, t1, sizeof(t1)));
		cid_esc_text(&b, x->pods, strlen(x->pods));
		cid_buf_adds(&b, strcmp(x->kind, "host") ? " has its own credentials\n"
							   : " share(s) its address and has its own credentials: the SDK may ignore them\n");
		cid_buf_printf(&b, "    %lld selected event(s) used that role", (long long)c->node_role_events);
		if (c->attributed_events >= 0)
			cid_buf_printf(&b, "; correlate attributed %lld to this owner\n", (long long)c->attributed_events);
		else
			cid_buf_adds(&b, "; not correlated yet (callerid correlate names the caller of each)\n");
	}
	fputs(cid_buf_str(&b), out);
	fflush(out);
	cid_buf_cleanup(&b);
}

static int run_imds_section(sqlite3 *db, const struct cid_event_filter *f, size_t top, struct emitter *e,
			    const struct cid_imds_flags *fl, char *err, size_t err_len)
{
	size_t n = fl->num_flags < top ? fl->num_flags : top;
	struct imds_counts *cnt = calloc(fl->num_flags ? fl->num_flags : 1, sizeof(*cnt));
	size_t *order = calloc(fl->num_flags ? fl->num_flags : 1, sizeof(*order));
	struct row *rows = calloc(n ? n : 1, sizeof(*rows));
	int rc = -CID_ENOMEM;

	if (!cnt || !order || !rows)
		goto out;
	rc = imds_count_events(db, f, fl, cnt, err, err_len);
	if (rc < 0)
		goto out;
	/* most fetches first, then by label; fl is in first-fetch order */
	for (size_t i = 0; i < fl->num_flags; i++) {
		size_t j = i;
		while (j > 0 && (fl->flag[order[j - 1]].fetches < fl->flag[i].fetches ||
				 (fl->flag[order[j - 1]].fetches == fl->flag[i].fetches &&
				  strcmp(fl->flag[order[j - 1]].label, fl->flag[i].label) > 0))) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	if (e->fmt == CID_FMT_TABLE) {
		imds_text(e->out, fl, order, n, cnt);
		goto out;
	}
	for (size_t j = 0; j < n; j++) {
		const struct cid_imds_flag *x = &fl->flag[order[j]];
		struct cid_buf r, u;
		cid_buf_init(&r, 4096);
		cid_buf_init(&u, 8192);
		json_list(&r, x->roles, x->num_roles);
		json_list(&u, x->user_agents, x->num_user_agents);
		rows[j].key[0] = strdup(x->label);
		rows[j].key[1] = strdup(x->kind);
		rows[j].key[2] = strdup(x->pods);
		rows[j].key[3] = strdup(cid_buf_str(&r));
		rows[j].key[4] = imds_versions(x) ? strdup(imds_versions(x)) : NULL;
		rows[j].key[5] = strdup(cid_buf_str(&u));
		rows[j].count = (int64_t)x->fetches;
		rows[j].first = x->first_us;
		rows[j].last = x->last_us;
		rows[j].extra[0] = cnt[order[j]].node_role_events;
		rows[j].extra[1] = cnt[order[j]].attributed_events;
		rows[j].median_s = -1;
		cid_buf_cleanup(&r);
		cid_buf_cleanup(&u);
	}
	emit_section(e, &imds_section, rows, n, fl->num_flags, false);
	for (size_t j = 0; j < n; j++)
		row_clear(&rows[j]);
out:
	free(cnt);
	free(order);
	free(rows);
	if (rc == -CID_ENOMEM)
		snprintf(err, err_len, "out of memory");
	return rc;
}

/* fl: the IMDS flags, or NULL when the database holds no IMDS credential
 * fetch (then nothing about IMDS is printed). */
static int overview(sqlite3 *db, const struct cid_event_filter *f, struct emitter *e,
		    const struct cid_imds_flags *fl, char *err, size_t err_len)
{
	sqlite3_stmt *st = prepare(db,
				   "SELECT count(*), min(time_us), max(time_us), count(DISTINCT source_ip),"
				   " count(DISTINCT " ROLE "), count(DISTINCT arn), count(error_code)"
				   " FROM event",
				   f, "", err, err_len);
	char a[40], b[40];
	if (!st)
		return -CID_EDB;
	if (sqlite3_step(st) != SQLITE_ROW) {
		snprintf(err, err_len, "query: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -CID_EDB;
	}
	int64_t n = sqlite3_column_int64(st, 0), t0 = sqlite3_column_int64(st, 1),
		t1 = sqlite3_column_int64(st, 2), ips = sqlite3_column_int64(st, 3),
		roles = sqlite3_column_int64(st, 4), sess = sqlite3_column_int64(st, 5),
		errs = sqlite3_column_int64(st, 6);
	sqlite3_finalize(st);
	if (e->fmt == CID_FMT_JSON) {
		cid_buf_printf(&e->line, "{\"type\":\"summary\",\"events\":%lld,\"first\":", (long long)n);
		if (n) {
			json_time(&e->line, t0);
			cid_buf_adds(&e->line, ",\"last\":");
			json_time(&e->line, t1);
		} else {
			cid_buf_adds(&e->line, "null,\"last\":null");
		}
		cid_buf_printf(&e->line,
			       ",\"source_ips\":%lld,\"identities\":%lld,\"sessions\":%lld,\"errors\":%lld",
			       (long long)ips, (long long)roles, (long long)sess, (long long)errs);
		if (fl)
			cid_buf_printf(&e->line, ",\"imds_credential_fetches\":%zu,\"imds_under_irsa\":%zu",
				       fl->num_fetches, fl->num_flags);
		cid_buf_addc(&e->line, '}');
		flush_line(e);
	} else if (e->fmt == CID_FMT_TABLE) {
		fprintf(e->out,
			"%lld events from %s to %s; %lld source IPs, %lld identities, %lld sessions,"
			" %lld errors\n",
			(long long)n, n ? cid_time_str(t0, a, sizeof(a)) : "-",
			n ? cid_time_str(t1, b, sizeof(b)) : "-", (long long)ips, (long long)roles,
			(long long)sess, (long long)errs);
		if (fl && fl->num_flags)
			fprintf(e->out,
				"%zu owner%s fetched node-role credentials from IMDS although running under"
				" IRSA or Pod Identity: see the last section\n",
				fl->num_flags, fl->num_flags == 1 ? "" : "s");
		else if (fl)
			fprintf(e->out, "%zu IMDS credential fetch(es) by %zu owner(s), none under IRSA or Pod Identity\n",
				fl->num_fetches, fl->num_owners);
	} else {
		struct cid_buf x;
		cid_buf_init(&x, 4096);
		cid_buf_printf(&x, "source_ips=%lld;identities=%lld;sessions=%lld;errors=%lld",
			       (long long)ips, (long long)roles, (long long)sess, (long long)errs);
		if (fl)
			cid_buf_printf(&x, ";imds_credential_fetches=%zu;imds_under_irsa=%zu", fl->num_fetches,
				       fl->num_flags);
		cid_table_str(e->csv, "summary");
		cid_table_int(e->csv, 0);
		cid_table_null(e->csv);
		cid_table_int(e->csv, n);
		cid_table_time(e->csv, n ? t0 : 0);
		cid_table_time(e->csv, n ? t1 : 0);
		cid_table_str(e->csv, cid_buf_str(&x));
		cid_table_end_row(e->csv);
		cid_buf_cleanup(&x);
	}
	return 0;
}

int cid_events_summary(sqlite3 *db, const struct cid_event_filter *f, size_t top, FILE *out,
		       enum cid_fmt fmt, char *err, size_t err_len)
{
	static const char *const csv_cols[] = {"section", "rank", "key", "count",
					       "first",   "last", "details"};
	struct emitter e = {out, fmt, NULL, {0}};
	struct cid_imds_flags fl;
	int rc = 0;

	if (top == 0)
		top = 20;
	cid_buf_init(&e.line, 1 << 20);
	if (fmt == CID_FMT_CSV)
		e.csv = cid_table_new(out, CID_FMT_CSV, csv_cols, sizeof(csv_cols) / sizeof(csv_cols[0]));
	/* One read transaction: every section sees the same rows. */
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	rc = cid_imds_flags_load(db, &fl, err, err_len);
	if (rc == 0)
		rc = overview(db, f, &e, fl.num_fetches ? &fl : NULL, err, err_len);
	for (size_t i = 0; rc == 0 && i < sizeof(sql_sections) / sizeof(sql_sections[0]); i++) {
		rc = run_sql_section(db, f, &sql_sections[i], top, &e, err, err_len);
		if (i == 1 && rc == 0) /* source IPs right after the error patterns */
			rc = run_ip_section(db, f, top, &e, err, err_len);
	}
	if (rc == 0)
		rc = run_shape_section(db, f, top, &e, err, err_len);
	if (rc == 0 && fl.num_fetches)
		rc = run_imds_section(db, f, top, &e, &fl, err, err_len);
	cid_imds_flags_cleanup(&fl);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	cid_table_free(e.csv);
	cid_buf_cleanup(&e.line);
	if (rc == -CID_ENOMEM)
		snprintf(err, err_len, "out of memory");
	return rc;
}
