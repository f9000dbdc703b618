/*
 * cloudtrail.c - loads CloudTrail records into the event table.
 *
 * Two stages joined by a bounded queue of event chunks:
 *
 * - the decoder reads files whole through zlib (gzread reads plain and gzip
 *   alike), splits them into records (ctscan.c) and has SQLite's JSON1
 *   functions parse each record in one prepared SELECT on a private
 *   in-memory connection (the JSON is parsed once per record: SQLite caches
 *   the parse of a bound argument across the calls of one statement). C
 *   checks the types and the time and applies the ingest filters. What it
 *   finds - files, rows ready to bind, messages, counts - becomes a stream
 *   of events;
 * - the writer replays that stream in order against the real database: one
 *   SAVEPOINT per file, one INSERT OR IGNORE per row (a duplicate eventID is
 *   ignored and counted), every message printed in the order the one-stage
 *   loader printed it, every counter bumped where it bumped it.
 *
 * cid_ingest_path runs the decoder in a second thread (the JSON work and
 * the B-tree/WAL work each keep one core busy) and moves WAL checkpoints to
 * a third (see "checkpoints off the writer's thread"); cid_ingest_buffer runs both
 * stages in the caller's thread. The output is the same either way. After a
 * database failure the writer discards the rest of the stream and tells the
 * decoder to stop, as the one-stage loader stopped its walk.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
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
	/* K_TEXT whose strings often start with '[' (Boto3 and console
	 * user agents): json_type runs in the SELECT (a lookup in the cached
	 * parse) rather than in C's fallback (a second parse). */
	bool typed;
} fields[] = {
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
#define NUM_FIELDS (sizeof(fields) / sizeof(fields[0]))

/* SELECT column layout: 1 eventID, 3 eventTime (0, 2, 4, 5 unused: their
 * types are derived in C), then per field its value and, for K_BOOL and
 * typed K_TEXT, its json_type (K_TAGS: the requestParameters.tags JSON). */
#define COL_FIELDS 6
/* INSERT parameters: event_id, time_us, raw, origin, then the fields. */
#define PARAM_FIELDS 4
#define NUM_PARAMS (PARAM_FIELDS + NUM_FIELDS)

/* ---- the event stream between the stages ---- */

/* Caps of the queue (one place): NUM_CHUNKS chunks in flight, each handed
 * over when it holds CHUNK_EVS events or CHUNK_BYTES bytes of text. A chunk
 * grows past CHUNK_BYTES only to fit one record (itself capped by
 * CID_CT_RECORD_CAP), so memory stays near NUM_CHUNKS MiB plus the file
 * being decoded. */
#define NUM_CHUNKS 32u
#define CHUNK_EVS 256u
#define CHUNK_BYTES (1024u * 1024u)

enum ev_kind {
	EV_FILE,     /* a file starts: text = its path (files++) */
	EV_READFAIL, /* it could not be read (files_failed++, result 1) */
	EV_BEGIN,    /* its content: len bytes; flag = already had a problem */
	EV_ROW,      /* a record to insert (records++) */
	EV_FILTERED, /* a record dropped by the filters (records++, filtered++) */
	EV_NOTE,     /* a message (file level, never skipped) */
	EV_BADREC,   /* a rejected record: message, bad++ (skipped after a db error) */
	EV_BADLINE,  /* a JSON line the splitter skipped: message, bad++ */
	EV_END,      /* the split finished: st, info */
	EV_PATHFAIL, /* a PATH argument that does not exist (files_failed++, 1) */
	EV_WALKFAIL, /* a directory problem (result 1) */
};

/* One value bound to the INSERT; text lives in the chunk's byte arena. */
struct cval {
	int type; /* SQLITE_NULL, SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB */
	int64_t i;
	double d;
	size_t off, len;
};

struct ev {
	enum ev_kind kind;
	bool flag;
	size_t index;   /* EV_ROW, EV_BADREC: record number */
	size_t off, len; /* text in the arena (EV_FILE, messages); EV_BEGIN: len = bytes */
	enum cid_status st;
	struct cid_ct_split_info info;
	struct cval v[NUM_PARAMS];
};

struct chunk {
	struct ev *evs;
	size_t num_evs;
	char *bytes;
	size_t num_bytes, cap_bytes;
	size_t lost; /* records whose event could not be made (out of memory) */
};

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t changed;
	struct chunk chunks[NUM_CHUNKS];
	size_t full[NUM_CHUNKS]; /* FIFO of chunk indexes handed to the writer */
	size_t num_full, full_head;
	size_t free_[NUM_CHUNKS]; /* stack of chunk indexes the decoder may fill */
	size_t num_free;
	bool done; /* the decoder has handed over everything */
	bool stop; /* the writer wants no more */
};

struct cid_ingest {
	struct cid_ingest_opts opts;
	struct cid_ingest_stats st;
	bool threaded; /* a decoder thread is running */
	struct queue q;
	struct chunk *cur; /* the chunk the decoder fills */
	bool q_init;

	/* checkpointer (see start_checkpointer) */
	sqlite3 *cdb;
	pthread_t ck_th;
	const char *ck_file; /* the database file (SQLite's string) */
	bool ck_hooked, ck_start, ck_running, ck_want, ck_quit;
	int ck_frames; /* the store's wal_autocheckpoint, restored after */
	int cache_size; /* the store's cache_size, restored after (0: untouched) */

	/* decoder (its own in-memory connection, used by one thread at a time) */
	sqlite3 *mdb;
	sqlite3_stmt *sel, *unwrap, *tags, *jtype;
	const char *d_origin;
	uint8_t *buf;
	size_t buf_cap;
	char *rec; /* the record being decoded, NUL-terminated */
	size_t rec_cap;

	/* writer */
	sqlite3 *db;
	sqlite3_stmt *ins;
	struct cid_buf origin;    /* the file being written */
	struct cid_buf originbuf; /* "path#index" */
	bool file_err, db_err, halted;
	uint64_t file_inserted;
	int rc; /* result of the current cid_ingest_path/buffer call */
};

/* ---- chunks and the queue ---- */

static int chunk_init(struct chunk *c)
{
	c->evs = calloc(CHUNK_EVS, sizeof(*c->evs));
	c->bytes = malloc(CHUNK_BYTES);
	c->num_evs = c->num_bytes = 0;
	c->cap_bytes = c->bytes ? CHUNK_BYTES : 0;
	return c->evs && c->bytes ? 0 : -CID_ENOMEM;
}

static void chunk_cleanup(struct chunk *c)
{
	free(c->evs);
	free(c->bytes);
	c->evs = NULL;
	c->bytes = NULL;
}

/* Empties a chunk; one that grew for a huge record shrinks back. */
static void chunk_reset(struct chunk *c)
{
	c->num_evs = 0;
	c->num_bytes = 0;
	c->lost = 0;
	if (c->cap_bytes > 4u * CHUNK_BYTES) {
		char *nb = realloc(c->bytes, CHUNK_BYTES);
		if (nb) {
			c->bytes = nb;
			c->cap_bytes = CHUNK_BYTES;
		}
	}
}

static void consume(struct cid_ingest *ig, struct chunk *c);
static void ck_launch(struct cid_ingest *ig);

/* Decoder: the current chunk is ready. Without a thread the writer takes it
 * at once; with one it joins the queue and the decoder waits for a free
 * chunk (the bound on memory). */
static void hand_over(struct cid_ingest *ig)
{
	struct queue *q = &ig->q;
	size_t i = (size_t)(ig->cur - q->chunks);
	if (ig->cur->num_evs == 0)
		return;
	if (!ig->threaded) {
		consume(ig, ig->cur);
		chunk_reset(ig->cur);
		return;
	}
	pthread_mutex_lock(&q->mu);
	if (q->stop) {
		chunk_reset(ig->cur); /* the writer discards the rest anyway */
	} else {
		q->full[(q->full_head + q->num_full) % NUM_CHUNKS] = i;
		q->num_full++;
		pthread_cond_broadcast(&q->changed);
		while (q->num_free == 0)
			pthread_cond_wait(&q->changed, &q->mu);
		ig->cur = &q->chunks[q->free_[--q->num_free]];
	}
	pthread_mutex_unlock(&q->mu);
}

/* Decoder: true once the writer has asked for no more (a database failure). */
static bool stopping(struct cid_ingest *ig)
{
	bool s;
	if (!ig->threaded)
		return ig->halted;
	pthread_mutex_lock(&ig->q.mu);
	s = ig->q.stop;
	pthread_mutex_unlock(&ig->q.mu);
	return s;
}

/* Decoder: room for one more event with up to n bytes of text. NULL when
 * the arena could not grow (events without text, such as EV_BEGIN and
 * EV_END, always get room: the writer relies on their pairing). */
static struct ev *ev_new(struct cid_ingest *ig, enum ev_kind kind, size_t n)
{
	struct chunk *c = ig->cur;
	struct ev *e;
	if (c->num_evs == CHUNK_EVS || (c->num_evs && c->num_bytes + n > CHUNK_BYTES)) {
		hand_over(ig);
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

static void emit_file(struct cid_ingest *ig, const char *path)
{
	size_t n = strlen(path);
	struct ev *e = ev_new(ig, EV_FILE, n);
	if (!e)
		return;
	e->len = n;
	e->off = put_bytes(ig, path, n);
}

/* ---- decoder ---- */

static int build_decoder(struct cid_ingest *ig, char *err, size_t err_len)
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
static void decode_content(struct cid_ingest *ig, const char *origin, const uint8_t *p,
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

	emit_file(ig, path);
	n = read_file(ig, path, &truncated);
	if (n < 0) {
		emit_simple(ig, EV_READFAIL);
		return;
	}
	decode_content(ig, path, ig->buf, (size_t)n, truncated);
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
		if (!strcmp(name, ".") || !strcmp(name, "..") || stopping(ig))
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

static void decode_path(struct cid_ingest *ig, const char *path)
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
	hand_over(ig);
}

/* ---- writer ---- */

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

static int exec(struct cid_ingest *ig, const char *sql)
{
	if (sqlite3_exec(ig->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		diag(ig, "%s: database: %s", cid_buf_str(&ig->origin), sqlite3_errmsg(ig->db));
		return -CID_EDB;
	}
	return 0;
}

/* Folds one file's result into the call's: the walk's rule (a database
 * failure stops everything; otherwise any problem makes it 1). */
static void result(struct cid_ingest *ig, int r)
{
	if (r < 0) {
		ig->rc = r;
		ig->halted = true;
	} else if (r > 0 && ig->rc == 0) {
		ig->rc = 1;
	}
}

/* Stores one decoded row. */
static void write_row(struct cid_ingest *ig, const struct chunk *c, const struct ev *e)
{
	sqlite3_stmt *w = ig->ins;
	int rc;

	cid_buf_reset(&ig->originbuf);
	cid_buf_printf(&ig->originbuf, "%s#%zu", cid_buf_str(&ig->origin), e->index);
	if (ig->origin.oom || ig->originbuf.oom) {
		/* no row with a wrong origin: the record is reported instead */
		diag(ig, "%s: record %zu: out of memory", cid_buf_str(&ig->origin), e->index);
		ig->st.bad++;
		ig->file_err = true;
		return;
	}
	for (int k = 0; k < (int)NUM_PARAMS; k++) {
		const struct cval *v = &e->v[k];
		if (k == 3) {
			sqlite3_bind_text(w, 4, cid_buf_str(&ig->originbuf), (int)ig->originbuf.len,
					  SQLITE_STATIC);
			continue;
		}
		switch (v->type) {
		case SQLITE_INTEGER:
			sqlite3_bind_int64(w, k + 1, v->i);
			break;
		case SQLITE_FLOAT:
			sqlite3_bind_double(w, k + 1, v->d);
			break;
		case SQLITE_TEXT:
			/* up to a NUL (\u0000 in the JSON): stored text is a C
			 * string everywhere */
			sqlite3_bind_text(w, k + 1, c->bytes + v->off, (int)strnlen(c->bytes + v->off, v->len),
					  SQLITE_STATIC);
			break;
		case SQLITE_BLOB:
			sqlite3_bind_blob(w, k + 1, c->bytes + v->off, (int)v->len, SQLITE_STATIC);
			break;
		default:
			sqlite3_bind_null(w, k + 1);
			break;
		}
	}
	rc = sqlite3_step(w);
	if (rc != SQLITE_DONE) {
		diag(ig, "%s: record %zu: database: %s", cid_buf_str(&ig->origin), e->index,
		     sqlite3_errmsg(ig->db));
		ig->db_err = true;
	} else if (sqlite3_changes(ig->db) == 0) {
		ig->st.duplicates++;
	} else {
		ig->file_inserted++;
	}
	sqlite3_reset(w);
}

/* The end of a file's split: commit or roll back its SAVEPOINT, report. */
static void write_end(struct cid_ingest *ig, const struct ev *e)
{
	const char *origin = cid_buf_str(&ig->origin);
	if (ig->db_err || exec(ig, "RELEASE cid_ingest_file") != 0) {
		/* Never half-commit: the file's rows all go. */
		sqlite3_exec(ig->db, "ROLLBACK TO cid_ingest_file; RELEASE cid_ingest_file", NULL,
			     NULL, NULL);
		diag(ig, "%s: database error, nothing from this file was stored", origin);
		ig->st.files_failed++;
		result(ig, -CID_EDB);
		return;
	}
	ig->st.inserted += ig->file_inserted;
	if (ig->ck_start)
		ck_launch(ig);
	if (e->info.num_digests && e->info.num_records == 0)
		diag(ig, "%s: note: CloudTrail digest file, skipped", origin);
	ig->st.digests += e->info.num_digests;
	if (e->st != CID_OK) {
		ig->file_err = true;
		if (e->st == CID_UNSUPPORTED)
			diag(ig, "%s: %s", origin, e->info.reason);
		else
			diag(ig, "%s: byte %zu: %s (%zu records before it were read)", origin,
			     e->info.err_offset, e->info.reason, e->info.num_records);
	}
	if (ig->file_err) {
		ig->st.files_failed++;
		result(ig, 1);
	} else {
		result(ig, 0);
	}
}

/* Replays a chunk of events against the database, in order. */
static void consume(struct cid_ingest *ig, struct chunk *c)
{
	if (c->lost && !ig->halted) {
		/* records the decoder could not hand over */
		diag(ig, "%s: %zu records not decoded: out of memory", cid_buf_str(&ig->origin), c->lost);
		ig->st.bad += c->lost;
		ig->file_err = true;
		result(ig, 1);
	}
	for (size_t k = 0; k < c->num_evs && !ig->halted; k++) {
		const struct ev *e = &c->evs[k];
		switch (e->kind) {
		case EV_FILE:
			ig->st.files++;
			cid_buf_reset(&ig->origin);
			cid_buf_add(&ig->origin, c->bytes + e->off, e->len);
			ig->file_err = ig->db_err = false;
			break;
		case EV_READFAIL:
			ig->st.files_failed++;
			result(ig, 1);
			break;
		case EV_PATHFAIL:
			ig->st.files_failed++;
			result(ig, 1);
			break;
		case EV_WALKFAIL:
			result(ig, 1);
			break;
		case EV_BEGIN:
			ig->file_inserted = 0;
			ig->file_err = e->flag;
			ig->db_err = false;
			ig->st.bytes += e->len;
			if (exec(ig, "SAVEPOINT cid_ingest_file") != 0) {
				ig->st.files_failed++;
				result(ig, -CID_EDB);
			}
			break;
		case EV_NOTE:
		case EV_BADREC:
		case EV_BADLINE:
			/* after a database error the old loader read no more
			 * records of the file, but the splitter still reported
			 * bad lines */
			if (e->kind == EV_BADREC && ig->db_err)
				break;
			if (e->kind != EV_NOTE) {
				ig->st.bad++;
				ig->file_err = true;
			}
			if (ig->opts.diag)
				diag(ig, "%.*s", (int)e->len, c->bytes + e->off);
			break;
		case EV_FILTERED:
			if (ig->db_err)
				break;
			ig->st.records++;
			ig->st.filtered++;
			break;
		case EV_ROW:
			if (ig->db_err)
				break;
			ig->st.records++;
			write_row(ig, c, e);
			break;
		case EV_END:
			write_end(ig, e);
			break;
		}
	}
}

/* ---- the two stages together ---- */

static void *decoder_main(void *arg)
{
	struct cid_ingest *ig = arg;
	struct queue *q = &ig->q;
	decode_path(ig, ig->d_origin);
	pthread_mutex_lock(&q->mu);
	q->done = true;
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* Puts every chunk back on the free list; the decoder fills chunks[0]. */
static void queue_reset(struct cid_ingest *ig)
{
	struct queue *q = &ig->q;
	for (size_t i = 0; i < NUM_CHUNKS; i++) {
		chunk_reset(&q->chunks[i]);
		q->free_[i] = NUM_CHUNKS - 1 - i;
	}
	q->num_free = NUM_CHUNKS - 1;
	q->num_full = q->full_head = 0;
	q->done = q->stop = false;
	ig->cur = &q->chunks[0];
	ig->halted = false;
	ig->rc = 0;
}

/* ---- checkpoints off the writer's thread ----
 *
 * In WAL mode every page is written twice: to the log at commit and, at a
 * checkpoint, back into the database file, with an fsync of each. SQLite
 * runs the checkpoint inside the commit that crosses wal_autocheckpoint,
 * so the writer would sit through that I/O while the decoder's queue
 * fills. Instead, during a walk, commits only signal a third thread that
 * runs PASSIVE checkpoints (they never block the writer) on its own
 * connection. A PASSIVE checkpoint cannot restart the log while the writer
 * keeps appending, so past CK_HARD_FRAMES_MULT times the store's threshold
 * the writer checkpoints itself, as SQLite would have, and the log restarts:
 * it stays bounded (80,000 frames, ~320 MB, with the store's 10,000). The store's setting is
 * restored afterwards; its close checkpoints what is left, as before.
 */
#define CK_HARD_FRAMES_MULT 8

static int wal_hook(void *ctx, sqlite3 *db, const char *name, int frames)
{
	struct cid_ingest *ig = ctx;
	if (!ig->ck_running) {
		/* SQLite's own rule until the thread runs (see ck_launch) */
		if (frames >= ig->ck_frames) {
			(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
			ig->ck_start = true;
		}
		return SQLITE_OK;
	}
	if (frames >= ig->ck_frames * CK_HARD_FRAMES_MULT) {
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	} else if (frames >= ig->ck_frames) {
		pthread_mutex_lock(&ig->q.mu);
		ig->ck_want = true;
		pthread_cond_broadcast(&ig->q.changed);
		pthread_mutex_unlock(&ig->q.mu);
	}
	return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
	struct cid_ingest *ig = arg;
	struct queue *q = &ig->q;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!ig->ck_want && !ig->ck_quit)
			pthread_cond_wait(&q->changed, &q->mu);
		if (ig->ck_quit)
			break;
		ig->ck_want = false;
		pthread_mutex_unlock(&q->mu);
		/* SQLITE_BUSY (the writer's own checkpoint is running) is fine */
		(void)sqlite3_wal_checkpoint_v2(ig->cdb, "main", SQLITE_CHECKPOINT_PASSIVE, NULL,
						NULL);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* An integer PRAGMA's value, or 0. */
static int pragma_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int v = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Sets the writer's page cache: 16 MiB holds the hot index pages of a
 * large ingest (the eventID index is in random order), which cuts the
 * page reads by half (make bench). The store's value comes back after. */
#define INGEST_CACHE_KIB 16384

static void cache_begin(struct cid_ingest *ig)
{
	char sql[64];
	ig->cache_size = pragma_int(ig->db, "PRAGMA cache_size");
	if (ig->cache_size == 0 || ig->cache_size <= -INGEST_CACHE_KIB)
		return;
	/* PRAGMA takes no parameters; the value is our own integer. */
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", INGEST_CACHE_KIB);
	if (sqlite3_exec(ig->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		ig->cache_size = 0;
}

static void cache_end(struct cid_ingest *ig)
{
	char sql[64];
	if (ig->cache_size == 0 || ig->cache_size <= -INGEST_CACHE_KIB)
		return;
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = %d", ig->cache_size);
	(void)sqlite3_exec(ig->db, sql, NULL, NULL, NULL);
}

/* Hooks the writer's commits when the database is a WAL file with automatic
 * checkpoints; otherwise SQLite's own checkpoints stay in place. */
static void setup_checkpointer(struct cid_ingest *ig)
{
	const char *fn = sqlite3_db_filename(ig->db, "main");
	sqlite3_stmt *st = NULL;
	bool wal = false;

	ig->ck_hooked = ig->ck_start = ig->ck_running = ig->ck_want = ig->ck_quit = false;
	ig->ck_frames = 0;
	ig->ck_file = fn;
	if (!fn || !*fn)
		return;
	if (sqlite3_prepare_v2(ig->db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		wal = !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	if (wal)
		ig->ck_frames = pragma_int(ig->db, "PRAGMA wal_autocheckpoint");
	if (ig->ck_frames <= 0 || ig->ck_frames > INT32_MAX / CK_HARD_FRAMES_MULT)
		return;
	sqlite3_wal_hook(ig->db, wal_hook, ig);
	ig->ck_hooked = true;
}

/*
 * Starts the thread, after a commit that crossed the threshold once (the
 * hook checkpointed it itself). Not before: a new database's pages,
 * header included, live only in the WAL until a first checkpoint, and a
 * second connection that finds the database file empty deletes the WAL
 * as stale - the writer's data with it. Hence also the size check.
 */
static void ck_launch(struct cid_ingest *ig)
{
	struct stat sb;
	ig->ck_start = false;
	if (!ig->ck_hooked || ig->ck_running || stat(ig->ck_file, &sb) != 0 || sb.st_size < 512)
		return;
	/* A read makes the new connection open the WAL (a checkpoint on a
	 * connection that has not would do nothing). */
	if (sqlite3_open_v2(ig->ck_file, &ig->cdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK ||
	    sqlite3_exec(ig->cdb, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) !=
		    SQLITE_OK) {
		sqlite3_close(ig->cdb);
		ig->cdb = NULL;
		return;
	}
	if (pthread_create(&ig->ck_th, NULL, checkpointer_main, ig) != 0) {
		sqlite3_close(ig->cdb);
		ig->cdb = NULL;
		return;
	}
	ig->ck_running = true;
}

static void stop_checkpointer(struct cid_ingest *ig)
{
	if (ig->ck_hooked)
		sqlite3_wal_autocheckpoint(ig->db, ig->ck_frames); /* SQLite's hook again */
	ig->ck_hooked = ig->ck_start = false;
	if (!ig->ck_running)
		return;
	pthread_mutex_lock(&ig->q.mu);
	ig->ck_quit = true;
	pthread_cond_broadcast(&ig->q.changed);
	pthread_mutex_unlock(&ig->q.mu);
	pthread_join(ig->ck_th, NULL);
	sqlite3_close(ig->cdb);
	ig->cdb = NULL;
	ig->ck_running = false;
}

int cid_ingest_path(struct cid_ingest *ig, const char *path)
{
	struct queue *q = &ig->q;
	pthread_t th;
	bool started = false;

	memset(&th, 0, sizeof(th));
	queue_reset(ig);
	ig->d_origin = path;
	/* threads only with a thread-safe SQLite build; the writer's settings
	 * are made before the decoder starts */
	if (sqlite3_threadsafe()) {
		cache_begin(ig);
		setup_checkpointer(ig);
	}
	/* Set before the thread starts: the decoder reads it (stopping(), the
	 * handoff of its output) from its first instruction on. */
	ig->threaded = sqlite3_threadsafe() != 0;
	if (ig->threaded) {
		started = pthread_create(&th, NULL, decoder_main, ig) == 0;
		ig->threaded = started;
	}
	if (!ig->threaded && sqlite3_threadsafe()) {
		stop_checkpointer(ig);
		cache_end(ig);
	}
	if (!ig->threaded) {
		decode_path(ig, path); /* no thread: both stages here */
		return ig->rc;
	}
	for (;;) {
		struct chunk *c;
		pthread_mutex_lock(&q->mu);
		while (q->num_full == 0 && !q->done)
			pthread_cond_wait(&q->changed, &q->mu);
		if (q->num_full == 0) {
			pthread_mutex_unlock(&q->mu);
			break;
		}
		c = &q->chunks[q->full[q->full_head]];
		q->full_head = (q->full_head + 1) % NUM_CHUNKS;
		q->num_full--;
		pthread_mutex_unlock(&q->mu);
		consume(ig, c);
		chunk_reset(c);
		pthread_mutex_lock(&q->mu);
		if (ig->halted)
			q->stop = true;
		q->free_[q->num_free++] = (size_t)(c - q->chunks);
		pthread_cond_broadcast(&q->changed);
		pthread_mutex_unlock(&q->mu);
	}
	if (started)
		pthread_join(th, NULL);
	stop_checkpointer(ig);
	cache_end(ig);
	ig->threaded = false;
	return ig->rc;
}

int cid_ingest_buffer(struct cid_ingest *ig, const char *origin, const uint8_t *p, size_t p_len)
{
	queue_reset(ig);
	ig->threaded = false;
	emit_file(ig, origin);
	decode_content(ig, origin, p, p_len, false);
	hand_over(ig);
	return ig->rc;
}

struct cid_ingest *cid_ingest_new(sqlite3 *db, const struct cid_ingest_opts *opts, char *err,
				  size_t err_len)
{
	struct cid_ingest *ig = calloc(1, sizeof(*ig));
	struct cid_buf ins;
	if (!ig) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	ig->db = db;
	if (opts)
		ig->opts = *opts;
	cid_buf_init(&ig->origin, 8192);
	cid_buf_init(&ig->originbuf, 8192);
	if (pthread_mutex_init(&ig->q.mu, NULL) != 0)
		goto oom;
	if (pthread_cond_init(&ig->q.changed, NULL) != 0) {
		pthread_mutex_destroy(&ig->q.mu);
		goto oom;
	}
	ig->q_init = true;
	for (size_t i = 0; i < NUM_CHUNKS; i++)
		if (chunk_init(&ig->q.chunks[i]) != 0)
			goto oom;
	if (build_decoder(ig, err, err_len) != 0)
		goto fail;
	cid_buf_init(&ins, 64 * 1024);
	cid_buf_adds(&ins, "INSERT OR IGNORE INTO event(event_id,time_us,raw,origin");
	for (size_t i = 0; i < NUM_FIELDS; i++)
		cid_buf_printf(&ins, ",%s", fields[i].col);
	cid_buf_adds(&ins, ") VALUES(?,?,?,?");
	for (size_t i = 0; i < NUM_FIELDS; i++)
		cid_buf_adds(&ins, ",?");
	cid_buf_adds(&ins, ")");
	if (ins.capped || ins.oom) {
		cid_buf_cleanup(&ins);
		goto oom;
	}
	if (sqlite3_prepare_v2(db, cid_buf_str(&ins), -1, &ig->ins, NULL) != SQLITE_OK) {
		snprintf(err, err_len, "preparing ingest statements: %s", sqlite3_errmsg(db));
		cid_buf_cleanup(&ins);
		goto fail;
	}
	cid_buf_cleanup(&ins);
	return ig;
oom:
	snprintf(err, err_len, "out of memory");
fail:
	cid_ingest_free(ig);
	return NULL;
}

void cid_ingest_free(struct cid_ingest *ig)
{
	if (!ig)
		return;
	sqlite3_finalize(ig->sel);
	sqlite3_finalize(ig->unwrap);
	sqlite3_finalize(ig->tags);
	sqlite3_finalize(ig->jtype);
	sqlite3_close(ig->mdb);
	sqlite3_finalize(ig->ins);
	for (size_t i = 0; i < NUM_CHUNKS; i++)
		chunk_cleanup(&ig->q.chunks[i]);
	if (ig->q_init) {
		pthread_cond_destroy(&ig->q.changed);
		pthread_mutex_destroy(&ig->q.mu);
	}
	cid_buf_cleanup(&ig->origin);
	cid_buf_cleanup(&ig->originbuf);
	free(ig->buf);
	free(ig->rec);
	free(ig);
}

const struct cid_ingest_stats *cid_ingest_stats(const struct cid_ingest *ig)
{
	return &ig->st;
}
