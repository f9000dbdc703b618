/*
 * cloudtrail_int.h - what the CloudTrail loader's three files share:
 * cloudtrail.c (the entry points and the queue between the two stages),
 * ctdecode.c (the decoder stage: the field table, reading files, the JSON1
 * extraction and checks, the event stream it emits) and ctwrite.c (the
 * writer stage: the INSERTs, and checkpoints off its thread). Not
 * installed, not for callers of ingest.h.
 */
#ifndef CID_CLOUDTRAIL_INT_H
#define CID_CLOUDTRAIL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "callerid/ingest.h"

/* ---- the record fields ---- */

enum kind { K_TEXT, K_BOOL, K_JSON, K_TAGS };

struct field {
	const char *col, *path;
	enum kind kind;
	/* K_TEXT whose strings often start with '[' (Boto3 and console
	 * user agents): json_type runs in the SELECT (a lookup in the cached
	 * parse) rather than in C's fallback (a second parse). */
	bool typed;
};

/* The record fields, in event-table column order after event_id/time_us:
 * NUM_FIELDS entries (ctdecode.c's table, checked there against it). */
#define NUM_FIELDS ((size_t)26)
extern const struct field *const cid_ct_fields;

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

	struct cid_ckpt *ck; /* checkpointer during a walk (ckpt.h), or NULL */
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

/* ---- cloudtrail.c: the queue ---- */

/* Decoder: the current chunk is ready. Without a decoder thread the writer
 * replays it at once (cid_ct_consume); with one it joins the queue and the
 * decoder waits for a free chunk. */
void cid_ct_hand_over(struct cid_ingest *ig);
/* Decoder: true once the writer has asked for no more (a database failure). */
bool cid_ct_stopping(struct cid_ingest *ig);

/* ---- ctdecode.c: the decoder stage ---- */

/* Opens the decoder's private in-memory connection and prepares its
 * statements. 0, or -CID_EDB with a message in err. */
int cid_ct_build_decoder(struct cid_ingest *ig, char *err, size_t err_len);
/* Emits the events of one PATH argument (a file, or a directory walked
 * recursively), then hands the current chunk over. */
void cid_ct_decode_path(struct cid_ingest *ig, const char *path);
/* Emits EV_FILE for a file (or buffer) that starts. */
void cid_ct_emit_file(struct cid_ingest *ig, const char *path);
/* Splits one file's content into events between EV_BEGIN and EV_END;
 * pre_err: the file already had a problem (a truncated gzip). */
void cid_ct_decode_content(struct cid_ingest *ig, const char *origin, const uint8_t *p,
			   size_t p_len, bool pre_err);

/* ---- ctwrite.c: the writer stage ---- */

/* Prepares the writer's INSERT on ig->db. 0, or -CID_ENOMEM / -CID_EDB
 * with a message in err. */
int cid_ct_prepare_insert(struct cid_ingest *ig, char *err, size_t err_len);
/* Replays a chunk of events against the database, in order. */
void cid_ct_consume(struct cid_ingest *ig, struct chunk *c);
/* The writer's page cache for a walk, and the store's value back after. */
void cid_ct_cache_begin(struct cid_ingest *ig);
void cid_ct_cache_end(struct cid_ingest *ig);
/* Hooks the writer's commits so that WAL checkpoints run on a thread of
 * their own (when the database is a WAL file with automatic checkpoints);
 * stop joins that thread and gives SQLite its own hook back. */
void cid_ct_setup_checkpointer(struct cid_ingest *ig);
void cid_ct_stop_checkpointer(struct cid_ingest *ig);

#endif
