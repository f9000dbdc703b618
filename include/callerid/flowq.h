/*
 * flowq.h - writes finished flows to the store on a second thread.
 *
 * Reading a capture is two jobs of similar cost: the engine's per-packet
 * work and SQLite's per-row work. On two cores they overlap: the engine
 * hands each finished flow to a bounded queue and goes on; a
 * writer thread owns the store connection until cid_flowq_sync(). The
 * queue holds at most `capacity` flows, so memory stays bounded: when the
 * writer falls behind, the reader waits.
 *
 * For offline reading, where each flow is written once. Live capture,
 * which updates flows in place, writes synchronously.
 */
#ifndef CID_FLOWQ_H
#define CID_FLOWQ_H

#include "callerid/flow.h"
#include "callerid/store.h"

struct cid_flowq;

/* Starts the writer thread. NULL on failure (the caller writes
 * synchronously instead). */
struct cid_flowq *cid_flowq_new(struct cid_store *s, size_t capacity);
/* Queues f, which has ended (the engine's on_end: it frees the flow next),
 * for capture capture_id: its hellos and requests are taken over (f->tls
 * and f->reqs are NULL afterwards), the rest copied; not its stream state.
 * Blocks while the queue is full. false: out of memory (the flow is not
 * written; counted in cid_flowq_failed). */
bool cid_flowq_put(struct cid_flowq *q, int64_t capture_id, struct cid_flow *f, const char *ifaces_text);
/* Waits until every queued flow is written. Returns 0, or -CID_EDB when a
 * write failed since the last sync (the message is in *err). The caller may
 * use the store between cid_flowq_sync() and the next cid_flowq_put(). */
int cid_flowq_sync(struct cid_flowq *q, char *err, size_t err_len);
/* Flows not written because of an error (allocation or database). */
uint64_t cid_flowq_failed(const struct cid_flowq *q);
/* Syncs, stops the thread, frees. NULL-safe. */
void cid_flowq_free(struct cid_flowq *q);

#endif
