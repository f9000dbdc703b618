/*
 * store.h - the SQLite adapter: schema, migrations, batched writers.
 *
 * The schema follows DESIGN.md's storage contract. Times are integer
 * microseconds since the epoch (UTC); addresses are text. The schema
 * version is PRAGMA user_version; a database written by a newer callerid is
 * refused. Writes are batched: the store opens a transaction on the first
 * write and commits every CID_STORE_BATCH rows or on cid_store_flush().
 */
#ifndef CID_STORE_H
#define CID_STORE_H

#include <sqlite3.h>

#include "callerid/common.h"
#include "callerid/flow.h"

#define CID_STORE_BATCH 5000

struct cid_store;

/* Opens (creating if needed, mode 0600) and migrates the database. readonly:
 * no creation and no migration (a too-old schema is an error). NULL on
 * failure with the reason in err. */
struct cid_store *cid_store_open(const char *path, bool readonly, char *err, size_t err_len);
/* Commits pending writes and closes. NULL-safe. */
void cid_store_free(struct cid_store *s);
/* Last error text. */
const char *cid_store_errmsg(const struct cid_store *s);
/* Fingerprints (JA3, JA3S, JA4, Community ID) stored as NULL since the
 * store was opened because libcrypto could not compute them (out of
 * memory): counted so that the caller can report them. */
uint64_t cid_store_hash_failures(const struct cid_store *s);
/* The connection, for modules (ingest, analyze) that run their own SQL. */
sqlite3 *cid_store_db(struct cid_store *s);
/* While a long writer runs (read, capture), WAL checkpoints on a thread
 * of their own (ckpt.h); end before the writing thread stops using the
 * store, or let cid_store_free end it. Does nothing read-only or when
 * already begun. */
void cid_store_ckpt_begin(struct cid_store *s);
void cid_store_ckpt_end(struct cid_store *s);
/* Current schema version written by this build. */
int cid_store_schema_version(void);

/* Begins a write batch if none is open. 0 or -CID_EDB. */
int cid_store_begin(struct cid_store *s);
/* Commits the open batch, if any. 0 or -CID_EDB. */
int cid_store_flush(struct cid_store *s);
/* Counts one row into the batch; commits when it is full. */
int cid_store_row_done(struct cid_store *s);

/* A capture row (one per input file or live session). */
int cid_store_capture_begin(struct cid_store *s, const char *kind, const char *source,
			    const char *host, const char *filter, int64_t started_us,
			    int64_t *capture_id);
int cid_store_capture_end(struct cid_store *s, int64_t capture_id, int64_t started_us,
			  int64_t ended_us, uint64_t pkts_received, uint64_t pkts_dropped,
			  uint64_t pkts_if_dropped);

/* Writes a flow with its tls row (when f->tls) and its requests, inside the
 * current batch. Inserts when f->db_id == 0 (then sets it), else updates
 * the flow and tls rows and appends requests not yet written
 * (f->reqs[f->reqs_written..num_reqs), then advances reqs_written).
 * ifaces_text: the flow's interface names, comma-joined, stored in
 * flow.ifaces; NULL stores the ifindex numbers instead. 0 or -CID_EDB. */
int cid_store_put_flow(struct cid_store *s, int64_t capture_id, struct cid_flow *f,
		       const char *ifaces_text);

/* The strings of a flow's rows that cost CPU to derive: its Community ID
 * and the JA3/JA3S/JA4 fingerprints. cid_flow_fp_make() computes them so
 * that a thread with spare CPU (read's packet loop) can do it before the
 * flow goes to the store's writer thread; 0, or -1 when out of memory. */
struct cid_flow_fp {
	char community_id[64];
	char *ja3, *ja3s;                 /* NULL without the hello */
	char ja3_md5[33], ja3s_md5[33];   /* "" when the string was cut */
	char ja4[CID_JA4_LEN];
};
int cid_flow_fp_make(const struct cid_flow *f, struct cid_flow_fp *fp);
void cid_flow_fp_free(struct cid_flow_fp *fp);

/* cid_store_put_flow() with those strings already made (fp may be NULL). */
int cid_store_put_flow_fp(struct cid_store *s, int64_t capture_id, struct cid_flow *f,
			  const char *ifaces_text, const struct cid_flow_fp *fp);

/* Deletes up to max_flows flows that ended before before_us (their last
 * packet), with their TLS rows, bursts, owners, HTTP rows and NAT links,
 * and the DNS rows older than before_us; *flows: how many went. Joins the
 * write batch. 0 or -CID_EDB (the store stops, as for any failed write). */
int cid_store_expire(struct cid_store *s, int64_t before_us, unsigned max_flows, uint64_t *flows);

/* What cid_store_merge() copied; *_known: rows the database already had
 * (events by eventID, identical snapshot rows), not copied again. */
struct cid_merge_stats {
	uint64_t captures, flows, tls, requests, nat_links, owners, http, dns;
	uint64_t events, events_known, pods, pods_known, nodes, nodes_known;
};

/* Copies the callerid database at src_path (opened read-only, never
 * written; an older schema is fine, a newer one is refused) into s, whose
 * file is dst_path: ids move past the ones already here, events are kept
 * once by eventID, snapshot rows already here are skipped, and the
 * correlator's attribution rows are left behind (correlate remakes them).
 * All of it or nothing: 0, or a negative CID_E* with cid_store_errmsg()
 * naming src_path, and s as it was. */
int cid_store_merge(struct cid_store *s, const char *dst_path, const char *src_path, struct cid_merge_stats *st);

#endif /* CID_STORE_H */
