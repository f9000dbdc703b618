/*
 * ctwrite.c - the writer stage of the CloudTrail loader (cloudtrail.c has
 * the overview): it replays the decoder's stream of events in order
 * against the real database: one SAVEPOINT per file, one INSERT OR IGNORE
 * per row (a duplicate eventID is ignored and counted), every message
 * printed in the order the one-stage loader printed it, every counter
 * bumped where it bumped it. During a walk, WAL checkpoints run on a
 * thread of their own (ckpt.h).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/ckpt.h"
#include "callerid/ingest.h"
#include "cloudtrail_int.h"

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

/* The INSERT whose parameters an EV_ROW's values fill (PARAM_FIELDS, then
 * cid_ct_fields in order). */
int cid_ct_prepare_insert(struct cid_ingest *ig, char *err, size_t err_len)
{
	struct cid_buf ins;
	int rc = 0;

	cid_buf_init(&ins, 64 * 1024);
	cid_buf_adds(&ins, "INSERT OR IGNORE INTO event(event_id,time_us,raw,origin");
	for (size_t i = 0; i < NUM_FIELDS; i++)
		cid_buf_printf(&ins, ",%s", cid_ct_fields[i].col);
	cid_buf_adds(&ins, ") VALUES(?,?,?,?");
	for (size_t i = 0; i < NUM_FIELDS; i++)
		cid_buf_adds(&ins, ",?");
	cid_buf_adds(&ins, ")");
	if (ins.capped || ins.oom) {
		snprintf(err, err_len, "out of memory");
		rc = -CID_ENOMEM;
	} else if (sqlite3_prepare_v2(ig->db, cid_buf_str(&ins), -1, &ig->ins, NULL) != SQLITE_OK) {
		snprintf(err, err_len, "preparing ingest statements: %s", sqlite3_errmsg(ig->db));
		rc = -CID_EDB;
	}
	cid_buf_cleanup(&ins);
	return rc;
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
	cid_ckpt_committed(ig->ck);
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
void cid_ct_consume(struct cid_ingest *ig, struct chunk *c)
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

/* Sets the writer's page cache: 16 MiB holds the hot index pages of a
 * large ingest (the eventID index is in random order), which cuts the
 * page reads by half (make bench). The store's value comes back after. */
#define INGEST_CACHE_KIB 16384

void cid_ct_cache_begin(struct cid_ingest *ig)
{
	char sql[64];
	ig->cache_size = cid_ckpt_pragma_int(ig->db, "PRAGMA cache_size");
	if (ig->cache_size == 0 || ig->cache_size <= -INGEST_CACHE_KIB)
		return;
	/* PRAGMA takes no parameters; the value is our own integer. */
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", INGEST_CACHE_KIB);
	if (sqlite3_exec(ig->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		ig->cache_size = 0;
}

void cid_ct_cache_end(struct cid_ingest *ig)
{
	char sql[64];
	if (ig->cache_size == 0 || ig->cache_size <= -INGEST_CACHE_KIB)
		return;
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = %d", ig->cache_size);
	(void)sqlite3_exec(ig->db, sql, NULL, NULL, NULL);
}

/* Checkpoints during a walk run on a thread of their own (ckpt.h). */
void cid_ct_setup_checkpointer(struct cid_ingest *ig)
{
	ig->ck = cid_ckpt_begin(ig->db);
}

void cid_ct_stop_checkpointer(struct cid_ingest *ig)
{
	cid_ckpt_end(ig->ck);
	ig->ck = NULL;
}
