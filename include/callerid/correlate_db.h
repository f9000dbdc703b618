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

/*
 * An owner that fetched node-role credentials from IMDS although it runs
 * under an IRSA or Pod Identity service account (its pod has one or, for
 * the node's own address, a hostNetwork pod sharing it does): the situation
 * of ORIGIN.md, which correlate's summary and `events --summary` flag.
 * Owners are resolved as correlate resolves them (live attribution, NAT
 * link, pod IP, the node's hostNetwork pods), so owner_key is the
 * attribution table's owner_key for the same owner.
 */
#define CID_IMDS_FLAG_ROLES 4  /* distinct roles (and User-Agents) kept per owner */

struct cid_imds_flag {
	char *owner_key;  /* "process:comm[pid]", "pod:ns/name", "host:ip" */
	char *label;      /* as correlate prints the owner */
	char *kind;       /* process | pod | host */
	char *pods;       /* the pods with their own credentials: "ns/name (IRSA), …" */
	char *roles[CID_IMDS_FLAG_ROLES]; /* distinct roles fetched, first fetch first */
	size_t num_roles;
	char *user_agents[CID_IMDS_FLAG_ROLES]; /* distinct User-Agents sent, first fetch first */
	size_t num_user_agents;
	size_t fetches;   /* IMDS credential fetches by this owner */
	int64_t first_us, last_us;
	bool imdsv1, imdsv2;
};

struct cid_imds_flags {
	struct cid_imds_flag *flag;  /* flagged owners, in first-fetch order */
	size_t num_flags;
	size_t num_fetches;          /* IMDS credential fetches in the database */
	size_t num_owners;           /* owners that made them */
};

/*
 * Loads every IMDS credential fetch in the database (the http rows of
 * `read` and `capture`), resolves their owners and keeps the flagged ones.
 * 0 (out filled; cid_imds_flags_cleanup frees it), or a negative -CID_E*
 * with the reason in err. A database without IMDS rows gives an empty out.
 */
int cid_imds_flags_load(sqlite3 *db, struct cid_imds_flags *out, char *err, size_t err_len);
void cid_imds_flags_cleanup(struct cid_imds_flags *f);

#endif
