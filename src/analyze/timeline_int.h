/*
 * timeline_int.h - what timeline.c (strings, lanes, ordering, the entry
 * points) and timeline_load.c (one loader per store table) share: the
 * loader's state and the helpers both use. Not installed, not for callers
 * of timeline.h.
 */
#ifndef CID_TIMELINE_INT_H
#define CID_TIMELINE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "callerid/timeline.h"

/* The lane of events that no owner explains, and its kind. */
#define UNATTRIBUTED "unattributed"

/* ---- loader state --------------------------------------------------------- */

/* One pod row of a kubectl snapshot. */
struct pod {
	int64_t snapshot_us;
	bool host_network;
	struct cid_tl_str ns, name, uid, ip, ips, host_ip, node, phase, controller, sa;
};

/* An address a (non-hostNetwork) pod had in a snapshot. */
struct pod_addr {
	const char *ip; /* borrowed from the pod */
	size_t ip_len;
	size_t pod;
};

/* A burst that an attribution row names. */
struct claim {
	int64_t request_id;
	struct cid_tl_str event_id, verdict, lane_key;
};

/* A flow's lane, kept for its bursts. */
struct flow_lane {
	int64_t id;
	struct cid_tl_str key;
};

struct loader {
	struct cid_timeline *t;
	sqlite3 *db;
	char *err;
	size_t err_len;
	bool oom, failed;
	size_t max_items;
	bool have_attr, have_nat, have_owner, have_pod, have_tls;
	struct pod *pods;
	size_t num_pods;
	struct pod_addr *addrs;
	size_t num_addrs;
	struct claim *claims;
	size_t num_claims, cap_claims;
	struct flow_lane *flows;
	size_t num_flows, cap_flows;
	sqlite3_stmt *q_attr_flow, *q_owner, *q_nat_inner;
	/* the flows q_attr_flow can name an owner for (an attributed event on
	 * them or on a flow NAT-linked to them), ascending: the query runs
	 * for those only (per flow it cost two thirds of a 24k-flow load) */
	int64_t *attr_ids;
	size_t num_attr_ids, cap_attr_ids;
};

/* ---- strings (timeline.c) -------------------------------------------------- */

/* Frees s->p and leaves s empty. */
void cid_tl_str_free(struct cid_tl_str *s);
/* Copies p[0..n) into d, NUL-terminated. false out of memory (d empty). */
bool cid_tl_str_dup(struct cid_tl_str *d, const char *p, size_t n);
/* s holds exactly the string z (a NULL s->p never does). */
bool cid_tl_str_eq(const struct cid_tl_str *s, const char *z);
/* Frees every string of it. */
void cid_tl_item_free(struct cid_tl_item *it);

/* ---- loader helpers (timeline.c) -------------------------------------------- */

/* Grows *p (elements of elem bytes, *cap of them) to hold need, doubling
 * from 64. false out of memory (*p and *cap unchanged). */
bool cid_tl_grow(void **p, size_t *cap, size_t need, size_t elem);
/* Records the first database failure in L->err ("timeline: what: ...") and
 * sets L->failed. */
void cid_tl_db_err(struct loader *L, const char *what);
/* Prepares sql on L->db; NULL (and cid_tl_db_err) on failure. */
sqlite3_stmt *cid_tl_prep(struct loader *L, const char *sql);
/* Binds the window to ?1 (since) and ?2 (until); unbound means NULL. */
void cid_tl_bind_window(struct loader *L, sqlite3_stmt *st);
/* us is inside t's window (an unset bound is open). */
bool cid_tl_in_window(const struct cid_timeline *t, int64_t us);
/* The store has this table / this column of table. */
bool cid_tl_has_table(struct loader *L, const char *name);
bool cid_tl_has_column(struct loader *L, const char *table, const char *col);
/* Copies column i into *s (NULL stays NULL; bytes are kept as stored);
 * out of memory sets L->oom. */
void cid_tl_col(struct loader *L, struct cid_tl_str *s, sqlite3_stmt *st, int i);
/* Column i as an integer, 0 for NULL. */
int64_t cid_tl_col_i64(sqlite3_stmt *st, int i);
/* The lane with this key; SIZE_MAX when there is none. */
size_t cid_tl_lane_find(const struct cid_timeline *t, const char *p, size_t n);
/* Adds a copy of *it (taking its strings) to the lane named key, creating
 * the lane. The item is dropped (strings freed, counted in num_dropped)
 * outside the window or past a cap. */
void cid_tl_add_item(struct loader *L, struct cid_tl_item *it, const char *key, size_t key_len);

/* ---- the per-table loaders (timeline_load.c) ------------------------------------ */

/* Run in this order by cid_timeline_load, each only while neither L->failed
 * nor L->oom is set; each sets one of them on failure. */

/* Pod rows of every snapshot, and their address index (in L only). */
void cid_tl_load_pods(struct loader *L);
/* L->attr_ids, when L->q_attr_flow is there (run before the others). */
void cid_tl_load_attr_ids(struct loader *L);
/* Event and match items; the bursts that attribution rows claim. */
void cid_tl_load_events(struct loader *L);
/* Flow open/close items; each flow's lane, kept for its bursts. */
void cid_tl_load_flows(struct loader *L);
/* Request burst items, in their flow's lane or their attributed owner's. */
void cid_tl_load_requests(struct loader *L);
/* IMDS request items (http rows on an IMDS path, or that broke). */
void cid_tl_load_imds(struct loader *L);
/* DNS items: each answer, and each query that got none. */
void cid_tl_load_dns(struct loader *L);
/* Snapshot items for the pods of lanes that already hold items. */
void cid_tl_add_snapshots(struct loader *L);

#endif
