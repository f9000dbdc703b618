/*
 * cloudtrail.c - loads CloudTrail records into the event table.
 *
 * Files are read whole through zlib (gzread reads plain and gzip alike),
 * split into records by ctscan.c, and each record is parsed by SQLite's
 * JSON1 functions in one prepared SELECT (the JSON is parsed once per
 * record: SQLite caches the parse of a bound argument across calls in one
 * statement). C checks the types and the time, applies the ingest filters,
 * then one INSERT OR IGNORE stores the row: a duplicate eventID is ignored
 * and counted. Each file runs inside one SAVEPOINT.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "callerid/cursor.h"
#include "callerid/ingest.h"

enum kind { K_TEXT, K_BOOL, K_JSON, K_TAGS };

/* The record fields, in event-table column order after event_id/time_us.
 * Paths follow the CloudTrail record contents reference. */
static const struct field {
	const char *col, *path;
	enum kind kind;
} fields[] = {
	{"name", "$.eventName", K_TEXT},
	{"source", "$.eventSource", K_TEXT},
	{"region", "$.awsRegion", K_TEXT},
	{"source_ip", "$.sourceIPAddress", K_TEXT},
	{"user_agent", "$.userAgent", K_TEXT},
	{"arn", "$.userIdentity.arn", K_TEXT},
	{"identity_type", "$.userIdentity.type", K_TEXT},
	{"principal_id", "$.userIdentity.principalId", K_TEXT},
	{"account_id", "$.userIdentity.accountId", K_TEXT},
	{"access_key_id", "$.userIdentity.accessKeyId", K_TEXT},
	{"session_issuer_arn", "$.userIdentity.sessionContext.sessionIssuer.arn", K_TEXT},
	{"session_issuer_name", "$.userIdentity.sessionContext.sessionIssuer.userName", K_TEXT},
	{"ec2_role_delivery", "$.userIdentity.sessionContext.ec2RoleDelivery", K_TEXT},
	{"session_tags", NULL, K_TAGS},
	{"error_code", "$.errorCode", K_TEXT},
	{"error_message", "$.errorMessage", K_TEXT},
	{"vpce", "$.vpcEndpointId", K_TEXT},
	{"tls_version", "$.tlsDetails.tlsVersion", K_TEXT},
	{"cipher", "$.tlsDetails.cipherSuite", K_TEXT},
	{"host_header", "$.tlsDetails.clientProvidedHostHeader", K_TEXT},
	{"key_exchange", "$.tlsDetails.keyExchange", K_TEXT},
	{"request_params", "$.requestParameters", K_JSON},
	{"read_only", "$.readOnly", K_BOOL},
	{"event_type", "$.eventType", K_TEXT},
	{"event_category", "$.eventCategory", K_TEXT},
	{"invoked_by", "$.userIdentity.invokedBy", K_TEXT},
};
#define NUM_FIELDS (sizeof(fields) / sizeof(fields[0]))

/* SELECT column layout: 0 root type, 1 eventID, 2 its type, 3 eventTime,
 * 4 its type, 5 raw (minified), then per field value and type. */
#define COL_FIELDS 6

struct cid_ingest {
	sqlite3 *db;
	sqlite3_stmt *sel, *ins, *unwrap, *tags, *jtype;
	struct cid_ingest_opts opts;
	struct cid_ingest_stats st;
	/* the file being ingested */
	const char *origin;
	bool file_err;
	bool db_err;
	uint64_t file_inserted;
	struct cid_buf originbuf;
	uint8_t *buf;
	size_t buf_cap;
};

static void diag(struct cid_ingest *ig, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void diag(struct cid_ingest *ig, const char *fmt, ...)
{
	va_list ap;
	if (!ig->opts.diag)
		return;
	fputs(ig->opts.diag_prefix ? ig->opts.diag_prefix : "", ig->opts.diag);
	va_start(ap, fmt);
	vfprintf(ig->opts.diag, fmt, ap);
	va_end(ap);
	fputc('\n', ig->opts.diag);
}

/* A record-level problem: reported with the file and record number. */
static void bad_record(struct cid_ingest *ig, size_t index, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void bad_record(struct cid_ingest *ig, size_t index, const char *fmt, ...)
{
	va_list ap;
	char msg[512];
	ig->st.bad++;
	ig->file_err = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag(ig, "%s: record %zu: %s", ig->origin, index, msg);
}

static int build_statements(struct cid_ingest *ig, char *err, size_t err_len)
{
	struct cid_buf sel, ins;
	int rc = -CID_EDB;

	cid_buf_init(&sel, 64 * 1024);
	cid_buf_init(&ins, 64 * 1024);
	cid_buf_adds(&sel, "SELECT json_type(?1), json_extract(?1,'$.eventID'),"
			   " json_type(?1,'$.eventID'), json_extract(?1,'$.eventTime'),"
			   " json_type(?1,'$.eventTime'), NULL");
	cid_buf_adds(&ins, "INSERT OR IGNORE INTO event(event_id,time_us,raw,origin");
	for (size_t i = 0; i < NUM_FIELDS; i++) {
		const struct field *f = &fields[i];
		cid_buf_printf(&ins, ",%s", f->col);
		switch (f->kind) {
		case K_TEXT:
			/* the type is derived in C (field_type): one lookup */
			cid_buf_printf(&sel, ", json_extract(?1,'%s'), NULL", f->path);
			break;
		case K_BOOL:
			cid_buf_printf(&sel, ", json_extract(?1,'%s'), json_type(?1,'%s')", f->path,
				       f->path);
			break;
		case K_JSON: /* any JSON value, kept as JSON text */
			cid_buf_printf(&sel, ", ?1 -> '%s', json_type(?1,'%s')", f->path, f->path);
			break;
		case K_TAGS:
			/* EKS Pod Identity / session tags: an object under
			 * sessionContext, else (rare) the {key,value} list an
			 * AssumeRole* request carried, converted in C's second
			 * statement only when present. */
			cid_buf_adds(&sel, ", iif(json_type(?1,'$.userIdentity.sessionContext.sessionTags')"
					   "='object', ?1 -> '$.userIdentity.sessionContext.sessionTags',"
					   " NULL), json_type(?1,'$.requestParameters.tags')");
			break;
		}
	}
	cid_buf_adds(&ins, ") VALUES(?,?,?,?");
	for (size_t i = 0; i < NUM_FIELDS; i++)
		cid_buf_adds(&ins, ",?");
	cid_buf_adds(&ins, ")");
	if (sel.capped || sel.oom || ins.capped || ins.oom) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	if (sqlite3_prepare_v2(ig->db, cid_buf_str(&sel), -1, &ig->sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ig->db, cid_buf_str(&ins), -1, &ig->ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ig->db,
			       "SELECT json_extract(?1,'$.CloudTrailEvent'),"
			       " json_type(?1,'$.CloudTrailEvent')",
			       -1, &ig->unwrap, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ig->db,
			       "SELECT json_group_object(k, v) FROM (SELECT json_extract(value,'$.key')"
			       " AS k, json_extract(value,'$.value') AS v FROM json_each(?1,"
			       " '$.requestParameters.tags') WHERE type='object' AND (k LIKE"
			       " 'kubernetes-%' OR k LIKE 'eks-%')) HAVING count(*) > 0",
			       -1, &ig->tags, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ig->db, "SELECT json_type(?1, ?2)", -1, &ig->jtype, NULL) !=
		    SQLITE_OK) {
		snprintf(err, err_len, "preparing ingest statements: %s", sqlite3_errmsg(ig->db));
		goto out;
	}
	rc = 0;
out:
	cid_buf_cleanup(&sel);
	cid_buf_cleanup(&ins);
	return rc;
}

struct cid_ingest *cid_ingest_new(sqlite3 *db, const struct cid_ingest_opts *opts, char *err,
				  size_t err_len)
{
	struct cid_ingest *ig = calloc(1, sizeof(*ig));
	if (!ig) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	ig->db = db;
	if (opts)
		ig->opts = *opts;
	cid_buf_init(&ig->originbuf, 8192);
	if (build_statements(ig, err, err_len) != 0) {
		cid_ingest_free(ig);
		return NULL;
	}
	return ig;
}

void cid_ingest_free(struct cid_ingest *ig)
{
	if (!ig)
		return;
	sqlite3_finalize(ig->sel);
	sqlite3_finalize(ig->ins);
	sqlite3_finalize(ig->unwrap);
	sqlite3_finalize(ig->tags);
	sqlite3_finalize(ig->jtype);
	cid_buf_cleanup(&ig->originbuf);
	free(ig->buf);
	free(ig);
}

const struct cid_ingest_stats *cid_ingest_stats(const struct cid_ingest *ig)
{
	return &ig->st;
}

static const char *type_or_missing(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	return t ? t : "missing";
}

static bool name_wanted(const struct cid_ingest *ig, const unsigned char *name)
{
	if (ig->opts.num_names == 0)
		return true;
	if (!name)
		return false;
	for (size_t i = 0; i < ig->opts.num_names; i++)
		if (!strcmp((const char *)name, ig->opts.names[i]))
			return true;
	return false;
}

/*
 * The JSON type of a K_TEXT field from json_extract's result: NULL is
 * missing/null, a number is a number; text is a string unless it starts
 * like an object or array, when json_type decides (rare: a second lookup).
 * The returned text is static or lives in a buffer until the next call.
 */
static const char *field_type(struct cid_ingest *ig, int col, const char *path, const char *p,
			      size_t p_len)
{
	static char ty[16];
	sqlite3_stmt *s = ig->sel;
	const unsigned char *v;
	switch (sqlite3_column_type(s, col)) {
	case SQLITE_NULL:
		return "null";
	case SQLITE_TEXT:
		v = sqlite3_column_text(s, col);
		if (v && v[0] != '{' && v[0] != '[')
			return "text";
		break;
	default:
		break;
	}
	snprintf(ty, sizeof(ty), "unknown");
	sqlite3_bind_text(ig->jtype, 1, p, (int)p_len, SQLITE_STATIC);
	sqlite3_bind_text(ig->jtype, 2, path, -1, SQLITE_STATIC);
	if (sqlite3_step(ig->jtype) == SQLITE_ROW && sqlite3_column_text(ig->jtype, 0))
		snprintf(ty, sizeof(ty), "%s", (const char *)sqlite3_column_text(ig->jtype, 0));
	sqlite3_reset(ig->jtype);
	return ty;
}

/* session_tags: the sessionContext object if any, else kubernetes-* and
 * eks-* entries of requestParameters.tags (when that is an array). */
static void bind_tags(struct cid_ingest *ig, int pi, const char *p, size_t p_len, int col)
{
	sqlite3_stmt *s = ig->sel, *t = ig->tags;
	const char *ty = (const char *)sqlite3_column_text(s, col + 1);
	if (sqlite3_column_type(s, col) != SQLITE_NULL) {
		sqlite3_bind_value(ig->ins, pi, sqlite3_column_value(s, col));
		return;
	}
	sqlite3_bind_null(ig->ins, pi);
	if (!ty || strcmp(ty, "array"))
		return;
	sqlite3_bind_text(t, 1, p, (int)p_len, SQLITE_STATIC);
	if (sqlite3_step(t) == SQLITE_ROW && sqlite3_column_type(t, 0) != SQLITE_NULL)
		sqlite3_bind_value(ig->ins, pi, sqlite3_column_value(t, 0));
	sqlite3_reset(t);
	sqlite3_clear_bindings(t);
}

/* Parses, checks and stores one record (its JSON text). */
static void store_record(struct cid_ingest *ig, size_t index, const char *p, size_t p_len)
{
	sqlite3_stmt *s = ig->sel, *w = ig->ins;
	const unsigned char *t;
	int64_t us;
	int rc;

	if (p_len > CID_CT_RECORD_CAP) {
		bad_record(ig, index, "record of %zu bytes exceeds the %u-byte cap", p_len,
			   (unsigned)CID_CT_RECORD_CAP);
		return;
	}
	sqlite3_bind_text(s, 1, p, (int)p_len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		/* JSON1 raises "malformed JSON" for invalid text. */
		bad_record(ig, index, "invalid JSON (%s)", sqlite3_errmsg(ig->db));
		goto out;
	}
	t = sqlite3_column_text(s, 0);
	if (!t || strcmp((const char *)t, "object")) {
		bad_record(ig, index, "not a JSON object (%s)", t ? (const char *)t : "null");
		goto out;
	}
	if (strcmp(type_or_missing(s, 2), "text")) {
		bad_record(ig, index, "eventID: expected a string, got %s", type_or_missing(s, 2));
		goto out;
	}
	if (strcmp(type_or_missing(s, 4), "text")) {
		bad_record(ig, index, "eventTime: expected a string, got %s", type_or_missing(s, 4));
		goto out;
	}
	t = sqlite3_column_text(s, 3);
	if (cid_ct_parse_time((const char *)t, (size_t)sqlite3_column_bytes(s, 3), &us) != CID_OK) {
		bad_record(ig, index, "eventTime: not an ISO-8601 UTC time");
		goto out;
	}
	for (size_t i = 0; i < NUM_FIELDS; i++) {
		int col = COL_FIELDS + 2 * (int)i;
		const char *ty = fields[i].kind == K_TEXT
					 ? field_type(ig, col, fields[i].path, p, p_len)
					 : (const char *)sqlite3_column_text(s, col + 1);
		if (!ty || !strcmp(ty, "null") || fields[i].kind == K_TAGS)
			continue;
		if (fields[i].kind == K_TEXT && strcmp(ty, "text")) {
			bad_record(ig, index, "%s: expected a string, got %s", fields[i].path + 2, ty);
			goto out;
		}
		if (fields[i].kind == K_BOOL && strcmp(ty, "true") && strcmp(ty, "false") &&
		    !(!strcmp(ty, "text") && (!strcmp((const char *)sqlite3_column_text(s, col), "true") ||
					       !strcmp((const char *)sqlite3_column_text(s, col), "false")))) {
			bad_record(ig, index, "%s: expected a boolean, got %s", fields[i].path + 2, ty);
			goto out;
		}
	}
	ig->st.records++;
	if ((ig->opts.has_since && us < ig->opts.since_us) ||
	    (ig->opts.has_until && us > ig->opts.until_us) ||
	    !name_wanted(ig, sqlite3_column_text(s, COL_FIELDS))) {
		ig->st.filtered++;
		goto out;
	}
	cid_buf_reset(&ig->originbuf);
	cid_buf_printf(&ig->originbuf, "%s#%zu", ig->origin, index);
	sqlite3_bind_value(w, 1, sqlite3_column_value(s, 1));
	sqlite3_bind_int64(w, 2, us);
	sqlite3_bind_text(w, 3, p, (int)p_len, SQLITE_STATIC);
	sqlite3_bind_text(w, 4, cid_buf_str(&ig->originbuf), (int)ig->originbuf.len, SQLITE_STATIC);
	for (size_t i = 0; i < NUM_FIELDS; i++) {
		int col = COL_FIELDS + 2 * (int)i, pi = 5 + (int)i;
		const char *ty = fields[i].kind == K_TEXT
					 ? (sqlite3_column_type(s, col) == SQLITE_NULL ? NULL : "text")
					 : (const char *)sqlite3_column_text(s, col + 1);
		if (fields[i].kind == K_TAGS)
			bind_tags(ig, pi, p, p_len, col);
		else if (!ty || !strcmp(ty, "null"))
			sqlite3_bind_null(w, pi);
		else if (fields[i].kind == K_BOOL)
			sqlite3_bind_int(w, pi, !strcmp(ty, "true") ||
						    !strcmp((const char *)sqlite3_column_text(s, col), "true"));
		else
			sqlite3_bind_value(w, pi, sqlite3_column_value(s, col));
	}
	rc = sqlite3_step(w);
	if (rc != SQLITE_DONE) {
		diag(ig, "%s: record %zu: database: %s", ig->origin, index, sqlite3_errmsg(ig->db));
		ig->db_err = true;
	} else if (sqlite3_changes(ig->db) == 0) {
		ig->st.duplicates++;
	} else {
		ig->file_inserted++;
	}
	sqlite3_reset(w);
	sqlite3_clear_bindings(w);
out:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* lookup-events output: each element holds the record as a JSON string in
 * CloudTrailEvent (the AWS CLI's LookupEvents response). */
static void store_wrapped(struct cid_ingest *ig, size_t index, const uint8_t *p, size_t p_len)
{
	sqlite3_stmt *u = ig->unwrap;
	if (p_len > CID_CT_RECORD_CAP) {
		bad_record(ig, index, "record of %zu bytes exceeds the %u-byte cap", p_len,
			   (unsigned)CID_CT_RECORD_CAP);
		return;
	}
	sqlite3_bind_text(u, 1, (const char *)p, (int)p_len, SQLITE_STATIC);
	if (sqlite3_step(u) != SQLITE_ROW)
		bad_record(ig, index, "invalid JSON (%s)", sqlite3_errmsg(ig->db));
	else if (strcmp(type_or_missing(u, 1), "text"))
		bad_record(ig, index, "CloudTrailEvent: expected a string, got %s",
			   type_or_missing(u, 1));
	else
		store_record(ig, index, (const char *)sqlite3_column_text(u, 0),
			     (size_t)sqlite3_column_bytes(u, 0));
	sqlite3_reset(u);
	sqlite3_clear_bindings(u);
}

static void on_record(void *ctx, enum cid_ct_src src, size_t index, const uint8_t *p, size_t p_len)
{
	struct cid_ingest *ig = ctx;
	if (ig->db_err)
		return;
	if (src == CID_CT_SRC_EVENTS)
		store_wrapped(ig, index, p, p_len);
	else
		store_record(ig, index, (const char *)p, p_len);
}

static void on_bad(void *ctx, size_t index, size_t offset, const char *reason)
{
	struct cid_ingest *ig = ctx;
	bad_record(ig, index, "%s (byte %zu)", reason ? reason : "bad line", offset);
}

static int exec(struct cid_ingest *ig, const char *sql)
{
	if (sqlite3_exec(ig->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		diag(ig, "%s: database: %s", ig->origin, sqlite3_errmsg(ig->db));
		return -CID_EDB;
	}
	return 0;
}

/* Splits and stores one file's content inside one SAVEPOINT. pre_err: the
 * file already had a problem (a truncated gzip). 0, 1 or -CID_EDB. */
static int ingest_content(struct cid_ingest *ig, const char *origin, const uint8_t *p,
			  size_t p_len, bool pre_err)
{
	struct cid_ct_sink sink = {ig, on_record, on_bad};
	struct cid_ct_split_info info;
	enum cid_status st;

	ig->origin = origin;
	ig->file_inserted = 0;
	ig->file_err = pre_err;
	ig->db_err = false;
	ig->st.bytes += p_len;
	if (exec(ig, "SAVEPOINT cid_ingest_file") != 0) {
		ig->st.files_failed++;
		return -CID_EDB;
	}
	st = cid_ct_split(p, p_len, &sink, &info);
	if (ig->db_err || exec(ig, "RELEASE cid_ingest_file") != 0) {
		/* Never half-commit: the file's rows all go. */
		sqlite3_exec(ig->db, "ROLLBACK TO cid_ingest_file; RELEASE cid_ingest_file", NULL,
			     NULL, NULL);
		diag(ig, "%s: database error, nothing from this file was stored", origin);
		ig->st.files_failed++;
		return -CID_EDB;
	}
	ig->st.inserted += ig->file_inserted;
	if (info.num_digests && info.num_records == 0)
		diag(ig, "%s: note: CloudTrail digest file, skipped", origin);
	ig->st.digests += info.num_digests;
	if (st != CID_OK) {
		ig->file_err = true;
		if (st == CID_UNSUPPORTED)
			diag(ig, "%s: %s", origin, info.reason);
		else
			diag(ig, "%s: byte %zu: %s (%zu records before it were read)", origin,
			     info.err_offset, info.reason, info.num_records);
	}
	if (ig->file_err) {
		ig->st.files_failed++;
		return 1;
	}
	return 0;
}

int cid_ingest_buffer(struct cid_ingest *ig, const char *origin, const uint8_t *p, size_t p_len)
{
	ig->st.files++;
	return ingest_content(ig, origin, p, p_len, false);
}

/* Reads a whole (possibly gzip) file into ig->buf. Returns the length, or
 * -1 after reporting. *truncated is set when gzip data ended early: the
 * bytes before the cut are returned. */
static long long read_file(struct cid_ingest *ig, const char *path, bool *truncated)
{
	gzFile gz;
	size_t len = 0;
	int n, errnum = Z_OK;

	*truncated = false;
	gz = gzopen(path, "rb");
	if (!gz) {
		diag(ig, "%s: %s", path, strerror(errno ? errno : ENOMEM));
		return -1;
	}
	gzbuffer(gz, 256 * 1024);
	for (;;) {
		if (len == ig->buf_cap) {
			size_t ncap = ig->buf_cap ? ig->buf_cap * 2 : 1024 * 1024;
			uint8_t *nb;
			if (ig->buf_cap >= CID_CT_FILE_CAP) {
				diag(ig, "%s: larger than the %llu-byte cap, not read", path,
				     (unsigned long long)CID_CT_FILE_CAP);
				gzclose(gz);
				return -1;
			}
			if (ncap > CID_CT_FILE_CAP)
				ncap = CID_CT_FILE_CAP;
			nb = realloc(ig->buf, ncap);
			if (!nb) {
				diag(ig, "%s: out of memory", path);
				gzclose(gz);
				return -1;
			}
			ig->buf = nb;
			ig->buf_cap = ncap;
		}
		size_t want = ig->buf_cap - len;
		if (want > (1u << 30))
			want = 1u << 30;
		n = gzread(gz, ig->buf + len, (unsigned)want);
		if (n < 0)
			break;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	const char *msg = gzerror(gz, &errnum);
	if (errnum == Z_BUF_ERROR) {
		/* zlib: "unexpected end of file" - the gzip stream was cut. */
		diag(ig, "%s: truncated gzip: compressed data ends at byte %lld (%zu bytes"
			 " decompressed); records before the cut are ingested",
		     path, (long long)gzoffset(gz), len);
		*truncated = true;
	} else if (errnum != Z_OK) {
		diag(ig, "%s: read error after %zu bytes: %s", path, len, msg);
		*truncated = true;
	}
	gzclose(gz);
	return (long long)len;
}

static int ingest_file(struct cid_ingest *ig, const char *path)
{
	bool truncated;
	long long n;
	int rc;

	ig->st.files++;
	n = read_file(ig, path, &truncated);
	if (n < 0) {
		ig->st.files_failed++;
		return 1;
	}
	rc = ingest_content(ig, path, ig->buf, (size_t)n, truncated);
	/* Memory stays bounded by the largest file; give back huge buffers. */
	if (ig->buf_cap > 256u * 1024u * 1024u) {
		free(ig->buf);
		ig->buf = NULL;
		ig->buf_cap = 0;
	}
	return rc;
}

static int walk(struct cid_ingest *ig, const char *path, unsigned depth)
{
	struct dirent **list = NULL;
	int n, rc = 0;

	if (depth > 64) {
		diag(ig, "%s: directory tree deeper than 64 levels, not walked", path);
		return 1;
	}
	n = scandir(path, &list, NULL, alphasort);
	if (n < 0) {
		diag(ig, "%s: %s", path, strerror(errno));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		struct cid_buf child;
		struct stat sb;
		int r = 0;
		if (!strcmp(name, ".") || !strcmp(name, "..") || rc < 0)
			goto next;
		cid_buf_init(&child, 8192);
		cid_buf_printf(&child, "%s%s%s", path,
			       path[0] && path[strlen(path) - 1] == '/' ? "" : "/", name);
		if (child.capped || child.oom) {
			diag(ig, "%s/%s: path too long", path, name);
			r = 1;
		} else if (lstat(cid_buf_str(&child), &sb) != 0) {
			diag(ig, "%s: %s", cid_buf_str(&child), strerror(errno));
			r = 1;
		} else if (S_ISDIR(sb.st_mode)) {
			r = walk(ig, cid_buf_str(&child), depth + 1);
		} else if (S_ISREG(sb.st_mode)) {
			r = ingest_file(ig, cid_buf_str(&child));
		} else if (S_ISLNK(sb.st_mode) && stat(cid_buf_str(&child), &sb) == 0 &&
			   S_ISREG(sb.st_mode)) {
			r = ingest_file(ig, cid_buf_str(&child));
		}
		cid_buf_cleanup(&child);
		if (r < 0)
			rc = r;
		else if (r > 0 && rc == 0)
			rc = 1;
	next:
		free(list[i]);
	}
	free(list);
	return rc;
}

int cid_ingest_path(struct cid_ingest *ig, const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0) {
		diag(ig, "%s: %s", path, strerror(errno));
		ig->st.files_failed++;
		return 1;
	}
	if (S_ISDIR(sb.st_mode))
		return walk(ig, path, 0);
	return ingest_file(ig, path);
}
