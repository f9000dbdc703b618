/*
 * ctdecode.c - the decoder stage of the CloudTrail loader (cloudtrail.c
 * has the overview): reads files whole through zlib (gzread reads plain
 * and gzip alike), splits them into records (ctscan.c) and has SQLite's
 * JSON1 functions parse each record in one prepared SELECT on a private
 * in-memory connection (the JSON is parsed once per record: SQLite caches
 * the parse of a bound argument across the calls of one statement). C
 * checks the types and the time and applies the ingest filters. What it
 * finds - files, rows ready to bind, messages, counts - becomes the stream
 * of events that the writer (ctwrite.c) replays.
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
#include "cloudtrail_int.h"

/* The record fields, in event-table column order after event_id/time_us.
 * Paths follow the CloudTrail record contents reference. */
static const struct field fields[] = {
	{"name", "$.eventName", K_TEXT, false},
	{"source", "$.eventSource", K_TEXT, false},
	{"region", "$.awsRegion", K_TEXT, false},
	{"source_ip", "$.sourceIPAddress", K_TEXT, false},
	{"user_agent", "$.userAgent", K_TEXT, true},
	{"arn", "$.userIdentity.arn", K_TEXT, false},
	{"identity_type", "$.userIdentity.type", K_TEXT, false},
	{"principal_id", "$.userIdentity.principalId", K_TEXT, false},
	{"account_id", "$.userIdentity.accountId", K_TEXT, false},
	{"access_key_id", "$.userIdentity.accessKeyId", K_TEXT, false},
	{"session_issuer_arn", "$.userIdentity.sessionContext.sessionIssuer.arn", K_TEXT, false},
	{"session_issuer_name", "$.userIdentity.sessionContext.sessionIssuer.userName", K_TEXT, false},
	{"ec2_role_delivery", "$.userIdentity.sessionContext.ec2RoleDelivery", K_TEXT, false},
	{"session_tags", NULL, K_TAGS, false},
	{"error_code", "$.errorCode", K_TEXT, false},
	{"error_message", "$.errorMessage", K_TEXT, false},
	{"vpce", "$.vpcEndpointId", K_TEXT, false},
	{"tls_version", "$.tlsDetails.tlsVersion", K_TEXT, false},
	{"cipher", "$.tlsDetails.cipherSuite", K_TEXT, false},
	{"host_header", "$.tlsDetails.clientProvidedHostHeader", K_TEXT, false},
	{"key_exchange", "$.tlsDetails.keyExchange", K_TEXT, false},
	{"request_params", "$.requestParameters", K_JSON, false},
	{"read_only", "$.readOnly", K_BOOL, false},
	{"event_type", "$.eventType", K_TEXT, false},
	{"event_category", "$.eventCategory", K_TEXT, false},
	{"invoked_by", "$.userIdentity.invokedBy", K_TEXT, false},
};
_Static_assert(sizeof(fields) / sizeof(fields[0]) == NUM_FIELDS,
	       "NUM_FIELDS (cloudtrail_int.h) counts the entries of fields");
const struct field *const cid_ct_fields = fields;

/* SELECT column layout: 1 eventID, 3 eventTime (0, 2, 4, 5 unused: their
 * types are derived in C), then per field its value and, for K_BOOL and
 * typed K_TEXT, its json_type (K_TAGS: the requestParameters.tags JSON). */
#define COL_FIELDS 6

/* ---- the event stream: the decoder's side ---- */

/* Decoder: room for one more event with up to n bytes of text. NULL when
 * the arena could not grow (events without text, such as EV_BEGIN and
 * EV_END, always get room: the writer relies on their pairing). */
static struct ev *ev_new(struct cid_ingest *ig, enum ev_kind kind, size_t n)
{
	struct chunk *c = ig->cur;
	struct ev *e;
	if (c->num_evs == CHUNK_EVS || (c->num_evs && c->num_bytes + n > CHUNK_BYTES)) {
		cid_ct_hand_over(ig);
		c = ig->cur;
	}
	if (c->num_bytes + n > c->cap_bytes) {
		size_t ncap = c->num_bytes + n;
		char *nb = realloc(c->bytes, ncap);
		if (!nb) {
			c->lost++; /* the writer reports it with the file */
			return NULL;
		}
		c->bytes = nb;
		c->cap_bytes = ncap;
	}
	e = &c->evs[c->num_evs++];
	e->kind = kind;
	e->flag = false;
	e->index = 0;
	e->off = e->len = 0;
	return e;
}

/* Copies n bytes into the current chunk (room reserved by ev_new). */
static size_t put_bytes(struct cid_ingest *ig, const void *p, size_t n)
{
	struct chunk *c = ig->cur;
	size_t off = c->num_bytes;
	if (n)
		memcpy(c->bytes + off, p, n);
	c->num_bytes += n;
	return off;
}

static void emit_simple(struct cid_ingest *ig, enum ev_kind kind)
{
	(void)ev_new(ig, kind, 0);
}

/* A message event; text is formatted here, printed by the writer. */
static void emit_msg(struct cid_ingest *ig, enum ev_kind kind, size_t index, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void emit_msg(struct cid_ingest *ig, enum ev_kind kind, size_t index, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	struct ev *e;
	int n = 0;
	if (ig->opts.diag) {
		va_start(ap, fmt);
		n = vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		if (n < 0)
			n = 0;
		if ((size_t)n >= sizeof(msg))
			n = (int)sizeof(msg) - 1;
	}
	e = ev_new(ig, kind, (size_t)n);
	if (!e)
		return;
	e->index = index;
	e->len = (size_t)n;
	e->off = put_bytes(ig, msg, (size_t)n);
}

void cid_ct_emit_file(struct cid_ingest *ig, const char *path)
{
	size_t n = strlen(path);
	struct ev *e = ev_new(ig, EV_FILE, n);
	if (!e)
		return;
	e->len = n;
	e->off = put_bytes(ig, path, n);
}

/* ---- decoder ---- */

int cid_ct_build_decoder(struct cid_ingest *ig, char *err, size_t err_len)
{
	struct cid_buf sel;
	int rc = -CID_EDB;

	if (sqlite3_open_v2(":memory:", &ig->mdb,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MEMORY |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(err, err_len, "opening the JSON connection: %s",
			 ig->mdb ? sqlite3_errmsg(ig->mdb) : "out of memory");
		return -CID_EDB;
	}
	cid_buf_init(&sel, 64 * 1024);
	/* Every function call costs a path lookup and a copy, so types are
	 * derived in C from the extracted values where they can be (see
	 * exact_type, field_type); json_type runs only for the rare rest. */
	cid_buf_adds(&sel, "SELECT NULL, json_extract(?1,'$.eventID'), NULL,"
			   " json_extract(?1,'$.eventTime'), NULL, NULL");
	for (size_t i = 0; i < NUM_FIELDS; i++) {
		const struct field *f = &fields[i];
		switch (f->kind) {
		case K_TEXT:
			/* the type is derived in C (field_type): one lookup */
			if (f->typed)
				cid_buf_printf(&sel, ", json_extract(?1,'%s'), json_type(?1,'%s')",
					       f->path, f->path);
			else
				cid_buf_printf(&sel, ", json_extract(?1,'%s'), NULL", f->path);
			break;
		case K_BOOL:
			cid_buf_printf(&sel, ", json_extract(?1,'%s'), json_type(?1,'%s')", f->path,
				       f->path);
			break;
		case K_JSON: /* any JSON value, kept as JSON text ('null' for null) */
			cid_buf_printf(&sel, ", ?1 -> '%s', NULL", f->path);
			break;
		case K_TAGS:
			/* EKS Pod Identity / session tags: an object under
			 * sessionContext, else (rare) the {key,value} list an
			 * AssumeRole* request carried, converted by the tags
			 * statement only when present. -> yields minified JSON,
			 * so the first byte tells object from array. */
			cid_buf_adds(&sel, ", ?1 -> '$.userIdentity.sessionContext.sessionTags',"
					   " ?1 -> '$.requestParameters.tags'");
			break;
		}
	}
	if (sel.capped || sel.oom) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	if (sqlite3_prepare_v2(ig->mdb, cid_buf_str(&sel), -1, &ig->sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ig->mdb,
			       "SELECT json_extract(?1,'$.CloudTrailEvent'),"
			       " json_type(?1,'$.CloudTrailEvent')",
			       -1, &ig->unwrap, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ig->mdb,
			       "SELECT json_group_object(k, v) FROM (SELECT json_extract(value,'$.key')"
			       " AS k, json_extract(value,'$.value') AS v FROM json_each(?1,"
			       " '$.requestParameters.tags') WHERE type='object' AND (k LIKE"
			       " 'kubernetes-%' OR k LIKE 'eks-%')) HAVING count(*) > 0",
			       -1, &ig->tags, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ig->mdb, "SELECT json_type(?1, ?2)", -1, &ig->jtype, NULL) !=
		    SQLITE_OK) {
		snprintf(err, err_len, "preparing ingest statements: %s", sqlite3_errmsg(ig->mdb));
		goto out;
	}
	rc = 0;
out:
	cid_buf_cleanup(&sel);
	return rc;
}

static const char *type_or_missing(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	return t ? t : "missing";
}

/* First byte of a text column, or 0. */
static char first_byte(sqlite3_stmt *st, int col)
{
	const unsigned char *t;
	if (sqlite3_column_type(st, col) != SQLITE_TEXT)
		return 0;
	t = sqlite3_column_text(st, col);
	return t ? (char)t[0] : 0;
}

/* json_type(record, path) on the jtype statement: a second parse of the
 * record, so only for the rare values C cannot classify. "missing" when
 * the path does not exist. */
static void slow_type(struct cid_ingest *ig, const char *path, const char *p, size_t p_len,
		      char ty[16])
{
	snprintf(ty, 16, "missing");
	(void)p_len; /* p is NUL-terminated (decode_record) */
	sqlite3_bind_text(ig->jtype, 1, p, -1, SQLITE_STATIC);
	sqlite3_bind_text(ig->jtype, 2, path, -1, SQLITE_STATIC);
	if (sqlite3_step(ig->jtype) == SQLITE_ROW && sqlite3_column_text(ig->jtype, 0))
		snprintf(ty, 16, "%s", (const char *)sqlite3_column_text(ig->jtype, 0));
	sqlite3_reset(ig->jtype);
}

/* The json_type name of the value json_extract put in column col: text
 * that does not start like an object or array is a string; anything else
 * is looked up. */
static void exact_type(struct cid_ingest *ig, int col, const char *path, const char *p,
		       size_t p_len, char ty[16])
{
	char b = first_byte(ig->sel, col);
	if (sqlite3_column_type(ig->sel, col) == SQLITE_TEXT && b != '{' && b != '[')
		snprintf(ty, 16, "text");
	else
		slow_type(ig, path, p, p_len, ty);
}

/* A K_JSON column (the -> operator's JSON text) holds no value when it is
 * NULL (missing) or the JSON null. */
static bool json_absent(sqlite3_stmt *st, int col)
{
	const unsigned char *t;
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return true;
	t = sqlite3_column_text(st, col);
	return !t || !strcmp((const char *)t, "null");
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
 * ty receives the name.
 */
static void field_type(struct cid_ingest *ig, int col, const char *path, const char *p,
		       size_t p_len, char ty[16])
{
	sqlite3_stmt *s = ig->sel;
	const unsigned char *v;
	switch (sqlite3_column_type(s, col)) {
	case SQLITE_NULL:
		snprintf(ty, 16, "null");
		return;
	case SQLITE_TEXT:
		if (sqlite3_column_type(s, col + 1) == SQLITE_TEXT) { /* a typed field */
			snprintf(ty, 16, "%s", (const char *)sqlite3_column_text(s, col + 1));
			return;
		}
		v = sqlite3_column_text(s, col);
		if (v && v[0] != '{' && v[0] != '[') {
			snprintf(ty, 16, "text");
			return;
		}
		break;
	default:
		break;
	}
	slow_type(ig, path, p, p_len, ty);
	if (!strcmp(ty, "missing"))
		snprintf(ty, 16, "unknown");
}

/* Bytes a value will take in the arena. */
static size_t val_bytes(sqlite3_stmt *s, int col)
{
	int t = sqlite3_column_type(s, col);
	if (t == SQLITE_TEXT || t == SQLITE_BLOB)
		return (size_t)sqlite3_column_bytes(s, col);
	return 0;
}

/* Copies column col of s into v (room reserved by ev_new). */
static void put_col(struct cid_ingest *ig, struct cval *v, sqlite3_stmt *s, int col)
{
	v->type = sqlite3_column_type(s, col);
	v->off = v->len = 0;
	switch (v->type) {
	case SQLITE_INTEGER:
		v->i = sqlite3_column_int64(s, col);
		break;
	case SQLITE_FLOAT:
		v->d = sqlite3_column_double(s, col);
		break;
	case SQLITE_TEXT:
		v->len = (size_t)sqlite3_column_bytes(s, col);
		v->off = put_bytes(ig, sqlite3_column_text(s, col), v->len);
		break;
	case SQLITE_BLOB:
		v->len = (size_t)sqlite3_column_bytes(s, col);
		v->off = put_bytes(ig, sqlite3_column_blob(s, col), v->len);
		break;
	default:
		v->type = SQLITE_NULL;
		break;
	}
}

/* Emits the row of a record that passed every check. */
static void emit_row(struct cid_ingest *ig, size_t index, const char *p, size_t p_len,
		     int64_t us)
{
	sqlite3_stmt *s = ig->sel, *t = ig->tags;
	size_t need = p_len + val_bytes(s, 1);
	bool tags_rows = false;
	struct ev *e;

	for (size_t i = 0; i < NUM_FIELDS; i++) {
		int col = COL_FIELDS + 2 * (int)i;
		need += val_bytes(s, col);
		if (fields[i].kind == K_TAGS && first_byte(s, col) != '{') {
			/* session_tags from requestParameters.tags (an array) */
			if (first_byte(s, col + 1) == '[') {
				int rc;
				sqlite3_bind_text(t, 1, p, -1, SQLITE_STATIC);
				rc = sqlite3_step(t);
				if (rc == SQLITE_ROW) {
					tags_rows = true, need += val_bytes(t, 0);
				} else if (rc != SQLITE_DONE) {
					/* out of memory: the record goes, said so */
					emit_msg(ig, EV_BADREC, index, "%s: record %zu: session tags: %s", ig->d_origin,
						 index, sqlite3_errmsg(ig->mdb));
					goto out;
				}
			}
		}
	}
	e = ev_new(ig, EV_ROW, need);
	if (!e) {
		emit_msg(ig, EV_BADREC, index, "%s: record %zu: out of memory", ig->d_origin, index);
		goto out;
	}
	e->index = index;
	put_col(ig, &e->v[0], s, 1);
	e->v[1].type = SQLITE_INTEGER;
	e->v[1].i = us;
	e->v[2].type = SQLITE_TEXT;
	e->v[2].len = p_len;
	e->v[2].off = put_bytes(ig, p, p_len);
	e->v[3].type = SQLITE_NULL; /* origin: the writer builds it */
	for (size_t i = 0; i < NUM_FIELDS; i++) {
		int col = COL_FIELDS + 2 * (int)i;
		struct cval *v = &e->v[PARAM_FIELDS + i];
		const char *ty = fields[i].kind == K_TEXT
					 ? (sqlite3_column_type(s, col) == SQLITE_NULL ? NULL : "text")
				 : fields[i].kind == K_JSON
					 ? (json_absent(s, col) ? NULL : "json")
					 : (const char *)sqlite3_column_text(s, col + 1);
		if (fields[i].kind == K_TAGS) {
			if (first_byte(s, col) == '{')
				put_col(ig, v, s, col);
			else if (tags_rows)
				put_col(ig, v, t, 0);
			else
				v->type = SQLITE_NULL;
		} else if (!ty || !strcmp(ty, "null")) {
			v->type = SQLITE_NULL;
		} else if (fields[i].kind == K_BOOL) {
			const unsigned char *b = sqlite3_column_text(s, col);
			v->type = SQLITE_INTEGER;
			v->i = !strcmp(ty, "true") || (b && !strcmp((const char *)b, "true"));
		} else {
			put_col(ig, v, s, col);
		}
	}
out:
	sqlite3_reset(t);
	sqlite3_clear_bindings(t);
}

/* A record that fails a check is reported with the reason, or as out of
 * memory when SQLite ran out during its checks (a json_type or a column
 * that could not be made): the reason would be made up. */
#define REJECT(...)                                                                                   \
	do {                                                                                          \
		if (sqlite3_errcode(ig->mdb) == SQLITE_NOMEM)                                         \
			emit_msg(ig, EV_BADREC, index, "%s: record %zu: out of memory", o, index);    \
		else                                                                                  \
			emit_msg(ig, EV_BADREC, index, __VA_ARGS__);                                  \
		goto out;                                                                             \
	} while (0)

/* Parses and checks one record (its JSON text); emits a row, a filtered
 * count or the reason it was rejected. */
static void decode_record(struct cid_ingest *ig, size_t index, const char *p, size_t p_len)
{
	sqlite3_stmt *s = ig->sel;
	const unsigned char *t;
	const char *o = ig->d_origin;
	char ty[16];
	int64_t us;

	if (p_len > CID_CT_RECORD_CAP) {
		emit_msg(ig, EV_BADREC, index, "%s: record %zu: record of %zu bytes exceeds the %u-byte cap",
			 o, index, p_len, (unsigned)CID_CT_RECORD_CAP);
		return;
	}
	/* Bound NUL-terminated (length -1), SQLite hands the text to each
	 * JSON function as it is; with an explicit length every call would
	 * copy it to add the terminator. The JSON parser stops at a NUL either
	 * way, so an embedded NUL (never valid in JSON) changes nothing. */
	if (p_len + 1 > ig->rec_cap) {
		size_t ncap = p_len + 1 > 64u * 1024u ? p_len + 1 : 64u * 1024u;
		char *nr = realloc(ig->rec, ncap);
		if (!nr) {
			emit_msg(ig, EV_BADREC, index, "%s: record %zu: out of memory", o, index);
			return;
		}
		ig->rec = nr;
		ig->rec_cap = ncap;
	}
	memcpy(ig->rec, p, p_len);
	ig->rec[p_len] = '\0';
	p = ig->rec;
	sqlite3_bind_text(s, 1, p, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW) {
		/* JSON1 raises "malformed JSON" for invalid text. */
		REJECT("%s: record %zu: invalid JSON (%s)", o, index, sqlite3_errmsg(ig->mdb));
	}
	/* A record that is not an object has no eventID: only then is the
	 * root's type looked up. */
	if (sqlite3_column_type(s, 1) == SQLITE_NULL) {
		slow_type(ig, "$", p, p_len, ty);
		if (strcmp(ty, "object")) {
			REJECT("%s: record %zu: not a JSON object (%s)", o,
				 index, ty);
		}
	}
	exact_type(ig, 1, "$.eventID", p, p_len, ty);
	if (strcmp(ty, "text")) {
		REJECT("%s: record %zu: eventID: expected a string, got %s", o,
			 index, ty);
	}
	exact_type(ig, 3, "$.eventTime", p, p_len, ty);
	if (strcmp(ty, "text")) {
		REJECT("%s: record %zu: eventTime: expected a string, got %s",
			 o, index, ty);
	}
	t = sqlite3_column_text(s, 3);
	if (cid_ct_parse_time((const char *)t, (size_t)sqlite3_column_bytes(s, 3), &us) != CID_OK) {
		REJECT("%s: record %zu: eventTime: not an ISO-8601 UTC time", o,
			 index);
	}
	for (size_t i = 0; i < NUM_FIELDS; i++) {
		int col = COL_FIELDS + 2 * (int)i;
		if (fields[i].kind == K_TAGS || fields[i].kind == K_JSON)
			continue; /* any JSON value is fine */
		if (fields[i].kind == K_TEXT)
			field_type(ig, col, fields[i].path, p, p_len, ty);
		else if (sqlite3_column_text(s, col + 1))
			snprintf(ty, sizeof(ty), "%s", (const char *)sqlite3_column_text(s, col + 1));
		else
			continue;
		if (!strcmp(ty, "null"))
			continue;
		if (fields[i].kind == K_TEXT && strcmp(ty, "text")) {
			REJECT("%s: record %zu: %s: expected a string, got %s", o,
				 index, fields[i].path + 2, ty);
		}
		if (fields[i].kind == K_BOOL && strcmp(ty, "true") && strcmp(ty, "false") &&
		    !(!strcmp(ty, "text") && (!strcmp((const char *)sqlite3_column_text(s, col), "true") ||
					       !strcmp((const char *)sqlite3_column_text(s, col), "false")))) {
			REJECT("%s: record %zu: %s: expected a boolean, got %s", o,
				 index, fields[i].path + 2, ty);
		}
	}
	if ((ig->opts.has_since && us < ig->opts.since_us) ||
	    (ig->opts.has_until && us > ig->opts.until_us) ||
	    !name_wanted(ig, sqlite3_column_text(s, COL_FIELDS))) {
		emit_simple(ig, EV_FILTERED);
		goto out;
	}
	emit_row(ig, index, p, p_len, us);
out:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* lookup-events output: each element holds the record as a JSON string in
 * CloudTrailEvent (the AWS CLI's LookupEvents response). */
static void decode_wrapped(struct cid_ingest *ig, size_t index, const uint8_t *p, size_t p_len)
{
	sqlite3_stmt *u = ig->unwrap;
	const char *o = ig->d_origin;
	if (p_len > CID_CT_RECORD_CAP) {
		emit_msg(ig, EV_BADREC, index, "%s: record %zu: record of %zu bytes exceeds the %u-byte cap",
			 o, index, p_len, (unsigned)CID_CT_RECORD_CAP);
		return;
	}
	sqlite3_bind_text(u, 1, (const char *)p, (int)p_len, SQLITE_STATIC);
	if (sqlite3_step(u) != SQLITE_ROW)
		REJECT("%s: record %zu: invalid JSON (%s)", o, index, sqlite3_errmsg(ig->mdb));
	if (strcmp(type_or_missing(u, 1), "text"))
		REJECT("%s: record %zu: CloudTrailEvent: expected a string, got %s", o, index,
		       type_or_missing(u, 1));
	if (!sqlite3_column_text(u, 0))
		REJECT("%s: record %zu: CloudTrailEvent: no text", o, index);
	decode_record(ig, index, (const char *)sqlite3_column_text(u, 0), (size_t)sqlite3_column_bytes(u, 0));
out:
	sqlite3_reset(u);
	sqlite3_clear_bindings(u);
}

static void on_record(void *ctx, enum cid_ct_src src, size_t index, const uint8_t *p, size_t p_len)
{
	struct cid_ingest *ig = ctx;
	if (src == CID_CT_SRC_EVENTS)
		decode_wrapped(ig, index, p, p_len);
	else
		decode_record(ig, index, (const char *)p, p_len);
}

static void on_bad(void *ctx, size_t index, size_t offset, const char *reason)
{
	struct cid_ingest *ig = ctx;
	emit_msg(ig, EV_BADLINE, index, "%s: record %zu: %s (byte %zu)", ig->d_origin, index,
		 reason ? reason : "bad line", offset);
}

/* Splits one file's content into events between EV_BEGIN and EV_END. */
void cid_ct_decode_content(struct cid_ingest *ig, const char *origin, const uint8_t *p,
			   size_t p_len, bool pre_err)
{
	struct cid_ct_sink sink = {ig, on_record, on_bad};
	struct cid_ct_split_info info;
	enum cid_status st;
	struct ev *e;

	ig->d_origin = origin;
	e = ev_new(ig, EV_BEGIN, 0);
	if (e) {
		e->len = p_len;
		e->flag = pre_err;
	}
	st = cid_ct_split(p, p_len, &sink, &info);
	e = ev_new(ig, EV_END, 0);
	if (e) {
		e->st = st;
		e->info = info;
	}
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
		emit_msg(ig, EV_NOTE, 0, "%s: %s", path, strerror(errno ? errno : ENOMEM));
		return -1;
	}
	gzbuffer(gz, 256 * 1024);
	for (;;) {
		if (len == ig->buf_cap) {
			size_t ncap = ig->buf_cap ? ig->buf_cap * 2 : 1024 * 1024;
			uint8_t *nb;
			if (ig->buf_cap >= CID_CT_FILE_CAP) {
				emit_msg(ig, EV_NOTE, 0, "%s: larger than the %llu-byte cap, not read",
					 path, (unsigned long long)CID_CT_FILE_CAP);
				gzclose(gz);
				return -1;
			}
			if (ncap > CID_CT_FILE_CAP)
				ncap = CID_CT_FILE_CAP;
			nb = realloc(ig->buf, ncap);
			if (!nb) {
				emit_msg(ig, EV_NOTE, 0, "%s: out of memory", path);
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
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	const char *msg = gzerror(gz, &errnum);
	if (errnum == Z_BUF_ERROR) {
		/* zlib: "unexpected end of file" - the gzip stream was cut. */
		emit_msg(ig, EV_NOTE, 0,
			 "%s: truncated gzip: compressed data ends at byte %lld (%zu bytes"
			 " decompressed); records before the cut are ingested",
			 path, (long long)gzoffset(gz), len);
		*truncated = true;
	} else if (errnum != Z_OK) {
		emit_msg(ig, EV_NOTE, 0, "%s: read error after %zu bytes: %s", path, len, msg);
		*truncated = true;
	}
	gzclose(gz);
	return (long long)len;
}

static void decode_file(struct cid_ingest *ig, const char *path)
{
	bool truncated;
	long long n;

	cid_ct_emit_file(ig, path);
	n = read_file(ig, path, &truncated);
	if (n < 0) {
		emit_simple(ig, EV_READFAIL);
		return;
	}
	cid_ct_decode_content(ig, path, ig->buf, (size_t)n, truncated);
	/* Memory stays bounded by the largest file; give back huge buffers. */
	if (ig->buf_cap > 256u * 1024u * 1024u) {
		free(ig->buf);
		ig->buf = NULL;
		ig->buf_cap = 0;
	}
}

static void walk(struct cid_ingest *ig, const char *path, unsigned depth)
{
	struct dirent **list = NULL;
	int n;

	if (depth > 64) {
		emit_msg(ig, EV_NOTE, 0, "%s: directory tree deeper than 64 levels, not walked", path);
		emit_simple(ig, EV_WALKFAIL);
		return;
	}
	n = scandir(path, &list, NULL, alphasort);
	if (n < 0) {
		emit_msg(ig, EV_NOTE, 0, "%s: %s", path, strerror(errno));
		emit_simple(ig, EV_WALKFAIL);
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		struct cid_buf child;
		struct stat sb;
		if (!strcmp(name, ".") || !strcmp(name, "..") || cid_ct_stopping(ig))
			goto next;
		cid_buf_init(&child, 8192);
		cid_buf_printf(&child, "%s%s%s", path,
			       path[0] && path[strlen(path) - 1] == '/' ? "" : "/", name);
		if (child.capped || child.oom) {
			emit_msg(ig, EV_NOTE, 0, "%s/%s: path too long", path, name);
			emit_simple(ig, EV_WALKFAIL);
		} else if (lstat(cid_buf_str(&child), &sb) != 0) {
			emit_msg(ig, EV_NOTE, 0, "%s: %s", cid_buf_str(&child), strerror(errno));
			emit_simple(ig, EV_WALKFAIL);
		} else if (S_ISDIR(sb.st_mode)) {
			walk(ig, cid_buf_str(&child), depth + 1);
		} else if (S_ISREG(sb.st_mode)) {
			decode_file(ig, cid_buf_str(&child));
		} else if (S_ISLNK(sb.st_mode) && stat(cid_buf_str(&child), &sb) == 0 &&
			   S_ISREG(sb.st_mode)) {
			decode_file(ig, cid_buf_str(&child));
		}
		cid_buf_cleanup(&child);
	next:
		free(list[i]);
	}
	free(list);
}

void cid_ct_decode_path(struct cid_ingest *ig, const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0) {
		emit_msg(ig, EV_NOTE, 0, "%s: %s", path, strerror(errno));
		emit_simple(ig, EV_PATHFAIL);
	} else if (S_ISDIR(sb.st_mode)) {
		walk(ig, path, 0);
	} else {
		decode_file(ig, path);
	}
	cid_ct_hand_over(ig);
}
