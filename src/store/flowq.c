/* flowq.c - the flow writer thread (see flowq.h). */
#include <pthread.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/evidence.h"
#include "callerid/flowq.h"
#include "callerid/http.h"

#define WAKE_BATCH 64  /* flows queued before the writer is woken */

struct item {
	int64_t capture_id;
	struct cid_flow *f;
	char *ifaces;
	struct cid_flow_fp fp;  /* made by the producer, which has CPU to spare */
	bool have_fp;
};

struct cid_flowq {
	struct cid_store *store;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full, idle;
	struct item *ring;
	size_t cap, head, count;
	/* Written items go back to the producer, which frees them: its
	 * allocator arena made them, and frees from the writer's thread
	 * contended for that arena's lock (a tenth of the writer's time). */
	struct item *spent, *reap; /* reap: the producer's, outside the lock */
	size_t num_spent;
	struct cid_dns_msg *dns_msg; /* the producer's DNS parsing space */
	struct cid_buf dns_text;
	bool busy;       /* the writer holds an item */
	bool stop;
	bool draining;   /* a sync waits: write whatever is queued */
	uint64_t failed;
	int error;       /* sticky until sync reports it */
	char err[CID_ERRBUF_SIZE];
};

static void ev_free(struct cid_flow_ev *ev)
{
	if (!ev)
		return;
	free(ev->http_recs);
	for (uint32_t i = 0; i < ev->num_dns; i++) {
		free(ev->dns[i].bytes);
		if (ev->dns_rows)
			cid_dns_row_free(&ev->dns_rows[i]);
	}
	free(ev->dns_rows);
	free(ev);
}

/* The evidence records only: parsers (HTTP connection, DNS framers) stay
 * with the engine. DNS messages become their rows here (parsed, answers
 * formatted): the writer thread then only binds them. */
static struct cid_flow_ev *ev_copy(struct cid_flowq *q, const struct cid_flow_ev *src)
{
	struct cid_flow_ev *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return NULL;
	ev->num_http = src->num_http;
	ev->http_written = src->http_written;
	ev->dns_written = src->dns_written;
	ev->dropped = src->dropped;
	if (src->num_http) {
		ev->http_recs = malloc(src->num_http * sizeof(*ev->http_recs));
		if (!ev->http_recs)
			goto fail;
		memcpy(ev->http_recs, src->http_recs, src->num_http * sizeof(*ev->http_recs));
	}
	if (src->num_dns) {
		ev->dns_rows = calloc(src->num_dns, sizeof(*ev->dns_rows));
		if (!ev->dns_rows)
			goto fail;
	}
	for (uint32_t i = 0; i < src->num_dns; i++) {
		ev->dns[i] = src->dns[i];
		ev->dns[i].bytes = NULL;
		ev->dns[i].len = 0;
		if (cid_dns_row_make(&ev->dns_rows[i], q->dns_msg, &q->dns_text, &src->dns[i]))
			goto fail;
		ev->num_dns = i + 1;
	}
	return ev;
fail:
	ev_free(ev);
	return NULL;
}

static void item_free(struct item *it)
{
	/* ifaces may be set without f when copying the flow failed */
	free(it->ifaces);
	it->ifaces = NULL;
	if (it->have_fp)
		cid_flow_fp_free(&it->fp);
	it->have_fp = false;
	if (!it->f)
		return;
	ev_free(it->f->ev);
	free(it->f->tls);
	free(it->f->reqs);
	free(it->f);
	it->f = NULL;
}

/* Writes a batch taken off the ring, without the lock; returns the first
 * failure (with its message in *err) and counts the failed flows. */
static int write_batch(struct cid_flowq *q, struct item *batch, size_t n, uint64_t *failed,
		       char *err, size_t err_len)
{
	int first = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = cid_store_put_flow_fp(q->store, batch[i].capture_id, batch[i].f, batch[i].ifaces,
					       batch[i].have_fp ? &batch[i].fp : NULL);
		if (rc < 0) {
			(*failed)++;
			if (!first) {
				first = rc;
				snprintf(err, err_len, "%s", cid_store_errmsg(q->store));
			}
		}
	}
	return first;
}

static void *writer(void *arg)
{
	struct cid_flowq *q = arg;
	struct item *batch = calloc(q->cap, sizeof(*batch)), one = {0};
	struct item *buf = batch ? batch : &one; /* one at a time without it */
	size_t max = batch ? q->cap : 1;
	char err[CID_ERRBUF_SIZE];
	(void)prctl(PR_SET_NAME, "cid-writer", 0, 0, 0); /* for top -H and perf */
	pthread_mutex_lock(&q->mu);
	for (;;) {
		size_t n = 0;
		uint64_t failed = 0;
		int rc;
		/* Woken per batch, not per flow (a context switch per flow cost
		 * more than writing it), and then everything queued is taken in
		 * one go. */
		while (q->count < WAKE_BATCH && !q->stop && !q->draining)
			pthread_cond_wait(&q->not_empty, &q->mu);
		if (!q->count && q->stop)
			break;
		if (!q->count) {
			q->draining = false;
			pthread_cond_broadcast(&q->idle);
			continue;
		}
		if (q->count == q->cap)
			pthread_cond_signal(&q->not_full);
		do {
			buf[n++] = q->ring[q->head];
			q->head = (q->head + 1) % q->cap;
			q->count--;
		} while (q->count && n < max);
		q->busy = true;
		pthread_mutex_unlock(&q->mu);

		rc = write_batch(q, buf, n, &failed, err, sizeof(err));

		pthread_mutex_lock(&q->mu);
		for (size_t i = 0; i < n; i++) {
			if (q->num_spent < q->cap)
				q->spent[q->num_spent++] = buf[i];
			else
				item_free(&buf[i]);
		}
		q->failed += failed;
		if (rc < 0 && !q->error) {
			q->error = rc;
			snprintf(q->err, sizeof(q->err), "%s", err);
		}
		q->busy = false;
		if (!q->count) {
			q->draining = false;
			pthread_cond_broadcast(&q->idle);
		}
	}
	pthread_mutex_unlock(&q->mu);
	free(batch);
	return NULL;
}

struct cid_flowq *cid_flowq_new(struct cid_store *s, size_t capacity)
{
	struct cid_flowq *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->store = s;
	q->cap = capacity ? capacity : 1024;
	q->ring = calloc(q->cap, sizeof(*q->ring));
	q->spent = calloc(q->cap, sizeof(*q->spent));
	q->reap = calloc(q->cap, sizeof(*q->reap));
	q->dns_msg = malloc(sizeof(*q->dns_msg));
	cid_buf_init(&q->dns_text, CID_DNS_ROW_CAP);
	if (!q->ring || !q->spent || !q->reap || !q->dns_msg) {
		free(q->dns_msg);
		free(q->ring);
		free(q->spent);
		free(q->reap);
		free(q);
		return NULL;
	}
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	pthread_cond_init(&q->idle, NULL);
	cid_store_ckpt_begin(s);
	if (pthread_create(&q->thread, NULL, writer, q) != 0) {
		cid_store_ckpt_end(s);
		free(q->dns_msg);
		free(q->ring);
		free(q->spent);
		free(q->reap);
		free(q);
		return NULL;
	}
	return q;
}

/* What the store reads of an ended flow: the hellos and requests are taken
 * over (copying a 4 KiB hello block per flow was a tenth of the reader's
 * time), the evidence records copied (their parsers stay with the engine). */
static struct cid_flow *take_flow(struct cid_flowq *q, struct cid_flow *f)
{
	struct cid_flow *c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	*c = *f;
	/* no stream state, no table links */
	c->stream[0] = c->stream[1] = NULL;
	c->hbuf[0] = c->hbuf[1] = NULL;
	c->hnext = c->lru_prev = c->lru_next = NULL;
	c->user = NULL;
	c->ev = NULL;
	if (f->ev) {
		c->ev = ev_copy(q, f->ev);
		if (!c->ev) {
			free(c);
			return NULL;
		}
	}
	f->tls = NULL;
	f->reqs = NULL;
	f->num_reqs = f->cap_reqs = 0;
	return c;
}

bool cid_flowq_put(struct cid_flowq *q, int64_t capture_id, struct cid_flow *f, const char *ifaces_text)
{
	struct item it;
	memset(&it, 0, sizeof(it));
	it.capture_id = capture_id;
	/* without them (out of memory) the writer derives them itself */
	it.have_fp = cid_flow_fp_make(f, &it.fp) == 0;
	it.f = take_flow(q, f);
	it.ifaces = ifaces_text ? strdup(ifaces_text) : NULL;
	if (!it.f || (ifaces_text && !it.ifaces)) {
		item_free(&it);
		pthread_mutex_lock(&q->mu);
		q->failed++;
		pthread_mutex_unlock(&q->mu);
		return false;
	}
	pthread_mutex_lock(&q->mu);
	while (q->count == q->cap)
		pthread_cond_wait(&q->not_full, &q->mu);
	q->ring[(q->head + q->count) % q->cap] = it;
	q->count++;
	if (q->count == WAKE_BATCH || q->count == q->cap)
		pthread_cond_signal(&q->not_empty);
	size_t n = q->num_spent;
	memcpy(q->reap, q->spent, n * sizeof(*q->reap));
	q->num_spent = 0;
	pthread_mutex_unlock(&q->mu);
	for (size_t i = 0; i < n; i++)
		item_free(&q->reap[i]);
	return true;
}

int cid_flowq_sync(struct cid_flowq *q, char *err, size_t err_len)
{
	int rc;
	pthread_mutex_lock(&q->mu);
	if (q->count) {
		q->draining = true;
		pthread_cond_signal(&q->not_empty);
	}
	while (q->count || q->busy)
		pthread_cond_wait(&q->idle, &q->mu);
	rc = q->error;
	if (rc && err)
		snprintf(err, err_len, "%s", q->err);
	q->error = 0;
	pthread_mutex_unlock(&q->mu);
	return rc;
}

uint64_t cid_flowq_failed(const struct cid_flowq *q)
{
	return q->failed;
}

void cid_flowq_free(struct cid_flowq *q)
{
	if (!q)
		return;
	cid_flowq_sync(q, NULL, 0);
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	cid_store_ckpt_end(q->store);
	for (size_t i = 0; i < q->count; i++)
		item_free(&q->ring[(q->head + i) % q->cap]);
	for (size_t i = 0; i < q->num_spent; i++)
		item_free(&q->spent[i]);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
	pthread_cond_destroy(&q->idle);
	free(q->ring);
	free(q->spent);
	free(q->reap);
	free(q->dns_msg);
	cid_buf_cleanup(&q->dns_text);
	free(q);
}
