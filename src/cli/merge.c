/*
 * callerid merge [--db FILE] [--format table|json|csv] SOURCE.db...
 * Copies other callerid databases (one per node, say) into one, so that
 * correlate sees every node's flows; one row per source with what it gave.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "callerid/cli.h"
#include "callerid/output.h"
#include "callerid/store.h"

static const char usage_text[] =
	"usage: callerid merge [--db FILE] [--format table|json|csv] SOURCE.db...\n"
	"  Copies each SOURCE (a callerid database, say one per node: `callerid capture`\n"
	"  on each node of a DaemonSet) into the database, for correlate to see them all.\n"
	"  Flow, capture and burst ids move past the ones already there; CloudTrail events\n"
	"  are kept once by eventID; snapshot rows already there are not copied again;\n"
	"  correlate's verdicts are not copied (run correlate again). A SOURCE is read,\n"
	"  never written, and goes in whole or not at all; one that cannot be merged is\n"
	"  reported, the others still are, and the exit status is 1.\n";

static const char *const cols[] = {"source", "captures", "flows", "tls", "requests", "owners", "http",
				   "dns", "events", "events_known", "pods", "nodes", "error"};
#define NUM_COLS (sizeof(cols) / sizeof(cols[0]))

int cid_cmd_merge(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"db", required_argument, NULL, 'd'},
		{"format", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *db = NULL;
	enum cid_fmt fmt = cid_fmt_default();
	struct cid_store *store;
	struct cid_table *t;
	int c, rc = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int r = cid_cli_opt_common("merge", c, argv, usage_text, &fmt, &db);
		if (r >= 0)
			return r;
	}
	if (optind >= argc) {
		cid_cli_err("merge", "no SOURCE database given");
		fputs(usage_text, stderr);
		return 2;
	}
	store = cid_cli_open_store("merge", db, false);
	if (!store)
		return 1;
	t = cid_table_new(stdout, fmt, cols, NUM_COLS);
	if (!t) {
		cid_cli_err("merge", "out of memory");
		cid_store_free(store);
		return 1;
	}
	for (int i = optind; i < argc; i++) {
		struct cid_merge_stats st = {0};
		const uint64_t *v[] = {&st.captures, &st.flows,  &st.tls,    &st.requests,     &st.owners,
				       &st.http,     &st.dns,    &st.events, &st.events_known, &st.pods,
				       &st.nodes};
		int r = cid_store_merge(store, cid_cli_db_path(db), argv[i], &st);
		cid_table_str(t, argv[i]);
		for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
			cid_table_int(t, (int64_t)*v[k]);
		cid_table_str(t, r ? cid_store_errmsg(store) : NULL);
		cid_table_end_row(t);
		if (r) {
			cid_cli_err("merge", "%s; nothing of it was merged", cid_store_errmsg(store));
			rc = 1;
		}
	}
	cid_table_free(t);
	cid_store_free(store);
	return rc;
}
