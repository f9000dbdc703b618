/*
 * ingest.h - CloudTrail ingestion (`callerid ingest`) and the queries over
 * the event table (`callerid events`, `events --summary`).
 *
 * Three layers:
 * - a pure splitter (src/ingest/ctscan.c) that finds the byte range of each
 *   CloudTrail record in a file's content without parsing JSON: it tracks
 *   only strings, escapes and nesting depth (RFC 8259 sections 2 and 7);
 * - the loader (src/ingest/cloudtrail.c) that hands each record to SQLite's
 *   JSON1 functions (SQLite does the parsing and validation) and writes the
 *   `event` table, one transaction per file; decoding and writing run in
 *   two threads joined by a bounded queue;
 * - the event queries (src/analyze/summary.c): filters, listing, summary.
 *
 * Formats, detected from content (never from the file name):
 *   S3 delivery       {"Records":[record,...]}  (plain or gzip)
 *   lookup-events     {"Events":[{"CloudTrailEvent":"<record as a JSON
 *                     string>",...},...],"NextToken":...}, pages may be
 *                     concatenated in one file
 *   JSON lines        one record object per line
 *   bare array        [record,...]  (what `jq .Records` prints)
 *   digest files      {"digestStartTime":...} - recognised and skipped
 */
#ifndef CID_INGEST_H
#define CID_INGEST_H

#include <stdio.h>
#include <sqlite3.h>

#include "callerid/common.h"
#include "callerid/cursor.h"
#include "callerid/output.h"

/* Caps on untrusted input (one place, DESIGN "every buffer has a cap"). */
#define CID_CT_FILE_CAP (2ull * 1024u * 1024u * 1024u) /* bytes of one (decompressed) file */
#define CID_CT_RECORD_CAP (8u * 1024u * 1024u)         /* bytes of one record */
#define CID_CT_MAX_DEPTH 256u                          /* JSON nesting depth scanned */
#define CID_CT_SHAPE_CAP 4096u                         /* bytes of one requestParameters shape */
#define CID_CT_MAX_NAMES 64u                           /* --event-name values */

/* ---- pure splitter (no I/O) ---- */

/* Where a record candidate came from. */
enum cid_ct_src {
	CID_CT_SRC_RECORDS = 0, /* element of an S3 file's "Records" array */
	CID_CT_SRC_EVENTS,      /* element of lookup-events "Events": unwrap CloudTrailEvent */
	CID_CT_SRC_ARRAY,       /* element of a bare top-level array */
	CID_CT_SRC_LINE,        /* a top-level record object (JSON lines) */
};

/* Receives what the splitter finds. index is the 1-based record number in
 * the file (counted across pages/arrays). Callbacks may be NULL. */
struct cid_ct_sink {
	void *ctx;
	void (*record)(void *ctx, enum cid_ct_src src, size_t index, const uint8_t *p,
		       size_t p_len);
	/* A record that could not be delimited but was skipped (JSON lines:
	 * the rest of its line). reason is a static string. */
	void (*bad)(void *ctx, size_t index, size_t offset, const char *reason);
};

/* What the splitter saw in a file. */
struct cid_ct_split_info {
	size_t num_records;  /* record callbacks made */
	size_t num_bad;      /* bad callbacks made */
	size_t num_digests;  /* digest objects skipped */
	size_t err_offset;   /* on failure: byte offset of the problem */
	const char *reason;  /* on failure: static text */
	bool lines;          /* JSON lines mode was used */
};

/*
 * Splits a file's content into records and calls sink->record for each, in
 * order. Records before a problem are always delivered. Returns CID_OK when
 * the whole content was consumed (bad JSON lines reported through sink->bad
 * do not make it fail); CID_TRUNCATED when the content ends inside a value
 * (a truncated file); CID_MALFORMED when the bytes are not a sequence of JSON
 * values; CID_UNSUPPORTED when the first value is JSON but not CloudTrail.
 * info->err_offset and info->reason say where and why.
 */
enum cid_status cid_ct_split(const uint8_t *p, size_t p_len, const struct cid_ct_sink *sink,
			     struct cid_ct_split_info *info);

/*
 * Finds the end of the JSON value at the start of c (after whitespace):
 * *val gets its bytes and c moves past it. Checks only strings, escapes and
 * bracket nesting, not the grammar. CID_OK; CID_UNSUPPORTED when the value
 * nests deeper than CID_CT_MAX_DEPTH (*val and c are still set, so the
 * caller can skip it whole; brackets below that depth are only counted);
 * CID_TRUNCATED (ends inside the value), CID_MALFORMED (mismatched
 * bracket, no value). On those failures c is unchanged.
 */
enum cid_status cid_ct_scan_value(struct cid_cur *c, struct cid_cur *val);

/*
 * Parses a CloudTrail eventTime: "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|
 * -hh:mm)" (a space instead of T, and no zone meaning UTC, are accepted for
 * Athena/Lake exports). Fractions beyond microseconds are truncated. Returns
 * CID_OK and *us, or CID_MALFORMED for anything else (including impossible
 * dates such as February 30th).
 */
enum cid_status cid_ct_parse_time(const char *s, size_t s_len, int64_t *us);

/*
 * Appends to out the shape of a JSON value that SQLite already validated:
 * the same objects and keys, every leaf replaced by its type name ("string",
 * "number", "boolean", "null"), consecutive equal array elements collapsed
 * into one. Output beyond CID_CT_SHAPE_CAP or nesting beyond CID_CT_MAX_DEPTH
 * yields CID_UNSUPPORTED (out then holds a prefix); bytes that are not JSON
 * yield CID_MALFORMED.
 */
enum cid_status cid_ct_shape(struct cid_buf *out, const uint8_t *p, size_t p_len);

/* ---- the loader (SQLite) ---- */

struct cid_ingest_opts {
	bool has_since, has_until;
	int64_t since_us, until_us; /* inclusive bounds on eventTime */
	const char *const *names;   /* eventName values to keep (exact), or NULL */
	size_t num_names;
	FILE *diag;                 /* per-file/per-record messages, or NULL */
	const char *diag_prefix;    /* e.g. "callerid: ingest: " */
};

struct cid_ingest_stats {
	uint64_t files;        /* files read (including failed and skipped) */
	uint64_t files_failed; /* files with at least one error */
	uint64_t digests;      /* digest files skipped */
	uint64_t records;      /* records seen */
	uint64_t inserted;     /* new rows committed */
	uint64_t duplicates;   /* records whose eventID was already stored */
	uint64_t filtered;     /* records dropped by --since/--until/--event-name */
	uint64_t bad;          /* records rejected (reported one by one) */
	uint64_t bytes;        /* decompressed bytes read */
};

struct cid_ingest;

/* A loader writing to db (which must hold the schema-1 event table and have
 * no transaction open). Returns NULL with the reason in err. opts is copied
 * (the names array is borrowed). */
struct cid_ingest *cid_ingest_new(sqlite3 *db, const struct cid_ingest_opts *opts, char *err,
				  size_t err_len);
/* NULL-safe. */
void cid_ingest_free(struct cid_ingest *ig);

/*
 * Ingests one file or a directory tree (walked in name order, symlinked
 * directories not followed). Each file is one SAVEPOINT: its good records
 * commit together even when some of its records are bad (each bad one is
 * reported as "PATH: record N: reason"); a database error rolls back the
 * whole file, so a failed file never half-commits. Returns 0 when every
 * file and record was fine, 1 when something was reported (the rest was
 * still ingested), -CID_EDB when the database failed (stop).
 * Decoding (gunzip, split, JSON extraction on a private in-memory SQLite
 * connection) runs in a second thread and, once the WAL first reaches its
 * checkpoint threshold, checkpoints run in a third on a second connection
 * to the same file; db must not be used by another thread during the call.
 * Messages, counts and rows are the same as a single-threaded run. During
 * the call db's cache_size is raised to 16 MiB and its WAL hook replaced;
 * both are restored before the call returns.
 */
int cid_ingest_path(struct cid_ingest *ig, const char *path);

/* Same, on content already in memory; origin names it in messages and in
 * the origin column. Used by the fuzz harness and the tests. */
int cid_ingest_buffer(struct cid_ingest *ig, const char *origin, const uint8_t *p, size_t p_len);

/* Totals so far. */
const struct cid_ingest_stats *cid_ingest_stats(const struct cid_ingest *ig);

/* ---- event queries (src/analyze/summary.c) ---- */

/* The DESIGN's event filters. NULL / false = not set. */
struct cid_event_filter {
	const char *event_name, *event_source, *error_code, *arn_like, *source_ip, *event_id;
	bool has_since, has_until;
	int64_t since_us, until_us; /* inclusive */
};

/* Appends " WHERE ..." (or nothing) for the filter to sql, with ?N
 * placeholders numbered from 1; cid_event_filter_bind binds them. arn_like
 * is an SQL LIKE pattern; without % or _ it matches as a substring. */
void cid_event_filter_sql(struct cid_buf *sql, const struct cid_event_filter *f);
/* Binds the filter's values. Returns SQLITE_OK or an SQLite error code. */
int cid_event_filter_bind(sqlite3_stmt *st, const struct cid_event_filter *f);

/* Lists matching events, oldest first, at most limit (0 = all), through the
 * output module. 0 or -CID_EDB (message in err). */
int cid_events_list(sqlite3 *db, const struct cid_event_filter *f, int64_t limit, FILE *out,
		    enum cid_fmt fmt, char *err, size_t err_len);

/*
 * Prints the investigator's summary of the matching events (sections and
 * JSON form documented in docs/events-summary.md): counts by error code,
 * error pattern, identity (role) and session, event source and name, user
 * agent, VPC endpoint, TLS version and cipher, source IP (with first/last
 * time and the median interval between consecutive calls), and the distinct
 * requestParameters shapes. top bounds the rows per section (0 = 20).
 * 0 or -CID_EDB / -CID_ENOMEM (message in err).
 */
int cid_events_summary(sqlite3 *db, const struct cid_event_filter *f, size_t top, FILE *out,
		       enum cid_fmt fmt, char *err, size_t err_len);

#endif /* CID_INGEST_H */
