/* ckpt.c - WAL checkpoints off the writer's thread (see ckpt.h). */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "callerid/ckpt.h"

struct cid_ckpt {
	sqlite3 *db;     /* the writer's connection */
	sqlite3 *cdb;    /* the checkpointer's own */
	const char *file; /* the database file (SQLite's string) */
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int frames;      /* the connection's wal_autocheckpoint, restored after */
	bool start, running, want, quit;
};

static void launch(struct cid_ckpt *ck);

static int wal_hook(void *ctx, sqlite3 *db, const char *name, int frames)
{
	struct cid_ckpt *ck = ctx;
	if (!ck->running) {
		/* SQLite's own rule until the thread runs (see launch) */
		if (frames >= ck->frames) {
			(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
			ck->start = true;
		}
		return SQLITE_OK;
	}
	if (frames >= ck->frames * CID_CKPT_HARD_MULT) {
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	} else if (frames >= ck->frames) {
		pthread_mutex_lock(&ck->mu);
		ck->want = true;
		pthread_cond_signal(&ck->cv);
		pthread_mutex_unlock(&ck->mu);
	}
	return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
	struct cid_ckpt *ck = arg;
	pthread_mutex_lock(&ck->mu);
	for (;;) {
		while (!ck->want && !ck->quit)
			pthread_cond_wait(&ck->cv, &ck->mu);
		if (ck->quit)
			break;
		ck->want = false;
		pthread_mutex_unlock(&ck->mu);
		/* SQLITE_BUSY (the writer's own checkpoint is running) is fine */
		(void)sqlite3_wal_checkpoint_v2(ck->cdb, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&ck->mu);
	}
	pthread_mutex_unlock(&ck->mu);
	return NULL;
}

/* An integer PRAGMA's value, or 0 (its text is the caller's constant). */
int cid_ckpt_pragma_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int v = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

struct cid_ckpt *cid_ckpt_begin(sqlite3 *db)
{
	const char *fn = db ? sqlite3_db_filename(db, "main") : NULL;
	sqlite3_stmt *st = NULL;
	struct cid_ckpt *ck;
	bool wal = false;
	int frames = 0;

	if (!fn || !*fn || !sqlite3_threadsafe())
		return NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		wal = !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	if (wal)
		frames = cid_ckpt_pragma_int(db, "PRAGMA wal_autocheckpoint");
	if (frames <= 0 || frames > INT32_MAX / CID_CKPT_HARD_MULT)
		return NULL;
	ck = calloc(1, sizeof(*ck));
	if (!ck)
		return NULL;
	if (pthread_mutex_init(&ck->mu, NULL) != 0) {
		free(ck);
		return NULL;
	}
	if (pthread_cond_init(&ck->cv, NULL) != 0) {
		pthread_mutex_destroy(&ck->mu);
		free(ck);
		return NULL;
	}
	ck->db = db;
	ck->file = fn;
	ck->frames = frames;
	sqlite3_wal_hook(db, wal_hook, ck);
	/* A database just made holds only its schema, in the WAL: putting
	 * it into the file now costs little and lets the thread start at
	 * once rather than after the first 40 MB. */
	if (sqlite3_get_autocommit(db))
		(void)sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	launch(ck);
	return ck;
}

/*
 * Starts the thread. Only once the database file holds the schema: a new
 * database's pages, header included, live only in the WAL until a first
 * checkpoint, and a second connection that finds the database file empty
 * deletes the WAL as stale - the writer's data with it. Hence the size
 * check; a caller who had nothing to checkpoint yet gets another chance
 * after its first commit that crosses the threshold.
 */
static void launch(struct cid_ckpt *ck)
{
	struct stat sb;
	ck->start = false;
	if (ck->running || stat(ck->file, &sb) != 0 || sb.st_size < 512)
		return;
	/* A read makes the new connection open the WAL (a checkpoint on a
	 * connection that has not would do nothing). */
	if (sqlite3_open_v2(ck->file, &ck->cdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
		    SQLITE_OK ||
	    sqlite3_exec(ck->cdb, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(ck->cdb);
		ck->cdb = NULL;
		return;
	}
	if (pthread_create(&ck->th, NULL, ckpt_main, ck) != 0) {
		sqlite3_close(ck->cdb);
		ck->cdb = NULL;
		return;
	}
	/* named here, not by the thread: it has that name once this returns */
	(void)pthread_setname_np(ck->th, "cid-ckpt"); /* for top -H and perf */
	ck->running = true;
}

void cid_ckpt_committed(struct cid_ckpt *ck)
{
	if (ck && ck->start)
		launch(ck);
}

void cid_ckpt_end(struct cid_ckpt *ck)
{
	if (!ck)
		return;
	sqlite3_wal_autocheckpoint(ck->db, ck->frames); /* SQLite's hook again */
	if (ck->running) {
		pthread_mutex_lock(&ck->mu);
		ck->quit = true;
		pthread_cond_signal(&ck->cv);
		pthread_mutex_unlock(&ck->mu);
		pthread_join(ck->th, NULL);
		sqlite3_close(ck->cdb);
	}
	pthread_cond_destroy(&ck->cv);
	pthread_mutex_destroy(&ck->mu);
	free(ck);
}
