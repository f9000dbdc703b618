/*
 * cloudtrail.c - loads CloudTrail records into the event table.
 *
 * Two stages joined by a bounded queue of event chunks:
 *
 * - the decoder (ctdecode.c) reads files whole through zlib (gzread reads
 *   plain and gzip alike), splits them into records (ctscan.c) and has
 *   SQLite's JSON1 functions parse each record in one prepared SELECT on a
 *   private in-memory connection (the JSON is parsed once per record:
 *   SQLite caches the parse of a bound argument across the calls of one
 *   statement). C checks the types and the time and applies the ingest
 *   filters. What it finds - files, rows ready to bind, messages, counts -
 *   becomes a stream of events;
 * - the writer (ctwrite.c) replays that stream in order against the real
 *   database: one SAVEPOINT per file, one INSERT OR IGNORE per row (a
 *   duplicate eventID is ignored and counted), every message printed in the
 *   order the one-stage loader printed it, every counter bumped where it
 *   bumped it.
 *
 * cid_ingest_path runs the decoder in a second thread (the JSON work and
 * the B-tree/WAL work each keep one core busy) and moves WAL checkpoints to
 * a third (see "checkpoints off the writer's thread" in ctwrite.c);
 * cid_ingest_buffer runs both stages in the caller's thread. The output is the same either way. After a
 * database failure the writer discards the rest of the stream and tells the
 * decoder to stop, as the one-stage loader stopped its walk.
 *
 * This file holds the entry points and the queue between the stages; what
 * the three files share is in cloudtrail_int.h.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/ingest.h"
#include "cloudtrail_int.h"

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

/* Decoder: the current chunk is ready. Without a thread the writer takes it
 * at once; with one it joins the queue and the decoder waits for a free
 * chunk (the bound on memory). */
void cid_ct_hand_over(struct cid_ingest *ig)
{
	struct queue *q = &ig->q;
	size_t i = (size_t)(ig->cur - q->chunks);
	if (ig->cur->num_evs == 0)
		return;
	if (!ig->threaded) {
		cid_ct_consume(ig, ig->cur);
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
bool cid_ct_stopping(struct cid_ingest *ig)
{
	bool s;
	if (!ig->threaded)
		return ig->halted;
	pthread_mutex_lock(&ig->q.mu);
	s = ig->q.stop;
	pthread_mutex_unlock(&ig->q.mu);
	return s;
}

/* ---- the two stages together ---- */

static void *decoder_main(void *arg)
{
	struct cid_ingest *ig = arg;
	struct queue *q = &ig->q;
	cid_ct_decode_path(ig, ig->d_origin);
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
		cid_ct_cache_begin(ig);
		cid_ct_setup_checkpointer(ig);
	}
	/* Set before the thread starts: the decoder reads it
	 * (cid_ct_stopping(), the handoff of its output) from its first
	 * instruction on. */
	ig->threaded = sqlite3_threadsafe() != 0;
	if (ig->threaded) {
		started = pthread_create(&th, NULL, decoder_main, ig) == 0;
		ig->threaded = started;
	}
	if (!ig->threaded && sqlite3_threadsafe()) {
		cid_ct_stop_checkpointer(ig);
		cid_ct_cache_end(ig);
	}
	if (!ig->threaded) {
		cid_ct_decode_path(ig, path); /* no thread: both stages here */
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
		cid_ct_consume(ig, c);
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
	cid_ct_stop_checkpointer(ig);
	cid_ct_cache_end(ig);
	ig->threaded = false;
	return ig->rc;
}

int cid_ingest_buffer(struct cid_ingest *ig, const char *origin, const uint8_t *p, size_t p_len)
{
	queue_reset(ig);
	ig->threaded = false;
	cid_ct_emit_file(ig, origin);
	cid_ct_decode_content(ig, origin, p, p_len, false);
	cid_ct_hand_over(ig);
	return ig->rc;
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
	if (cid_ct_build_decoder(ig, err, err_len) != 0)
		goto fail;
	if (cid_ct_prepare_insert(ig, err, err_len) != 0)
		goto fail;
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
