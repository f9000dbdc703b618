/*
 * correlate_db.h - `callerid correlate` over the database.
 */
#ifndef CID_CORRELATE_DB_H
#define CID_CORRELATE_DB_H

#include <stdio.h>

#include "callerid/correlate.h"
#include "callerid/ingest.h"
#include "callerid/output.h"
#include "callerid/store.h"

struct cid_cor_opts {
	struct cid_event_filter filter;  /* which events */
	struct cid_cor_params params;
	const char *explain;             /* an eventID: print every candidate considered */
	bool no_store;                   /* do not write the attribution table */
};

struct cid_cor_totals {
	uint64_t events, attributed, ambiguous, unmatched, bursts;
	int64_t offset_us;
};

/*
 * Correlates the events the filter selects with the recorded request
 * bursts, writes one attribution row per event (replacing earlier ones),
 * and prints per event and then the per-owner summary in fmt (json: one
 * object per event then one "summary" object, DESIGN's contract). 0, or a
 * negative -CID_E* with the reason in err.
 */
int cid_correlate_run(struct cid_store *s, const struct cid_cor_opts *o, FILE *out, enum cid_fmt fmt,
		      struct cid_cor_totals *tot, char *err, size_t err_len);

#endif
