/*
 * callerid events [--db FILE] [filters] [--limit N] [--summary [--top N]]
 *                 [--format table|json|csv]
 * Lists CloudTrail events, or with --summary prints the patterns an
 * investigator looks for first (docs/events-summary.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "callerid/cli.h"
#include "callerid/ingest.h"
#include "callerid/output.h"
#include "callerid/store.h"

static const char usage_text[] =
	"usage: callerid events [--db FILE] [filters] [--limit N] [--summary [--top N]]\n"
	"                       [--format table|json|csv]\n"
	"  filters: --event-name N --event-source S --error-code C --arn-like PAT\n"
	"           --source-ip IP --event-id ID --since T --until T\n"
	"  --arn-like: SQL LIKE pattern on the identity ARN or its role; a plain string\n"
	"              matches as a substring\n"
	"  --summary:  counts by error code, error pattern, source IP (with median\n"
	"              interval), identity, session, call, user agent, VPC endpoint,\n"
	"              TLS, and requestParameters shapes; --top N rows per section\n";

static bool parse_count(const char *s, int64_t *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || v < 0)
		return false;
	*out = v;
	return true;
}

int cid_cmd_events(int argc, char **argv)
{
	static const struct option longopts[] = {
		CID_CLI_EVENT_FILTER_OPTIONS,
		{"db", required_argument, NULL, 'd'},
		{"limit", required_argument, NULL, 'l'},
		{"top", required_argument, NULL, 't'},
		{"summary", no_argument, NULL, 'Y'},
		{"format", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cid_event_filter f = {0};
	const char *db = NULL;
	enum cid_fmt fmt = cid_fmt_default();
	bool summary = false;
	int64_t limit = 0, top = 0;
	struct cid_store *store;
	char err[CID_ERRBUF_SIZE];
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int taken = cid_cli_event_filter_opt("events", &f, c, optarg);
		if (taken < 0)
			return 2;
		if (taken)
			continue;
		switch (c) {
		case 'Y': summary = true; break;
		case 'l':
		case 't':
			if (!parse_count(optarg, c == 'l' ? &limit : &top)) {
				cid_cli_err("events", "--%s: expected a number", c == 'l' ? "limit" : "top");
				return 2;
			}
			break;
		default: {
			int r = cid_cli_opt_common("events", c, argv, usage_text, &fmt, &db);
			if (r >= 0)
				return r;
			break;
		}
		}
	}
	if (optind < argc) {
		cid_cli_err("events", "unexpected argument '%s'", argv[optind]);
		return 2;
	}
	store = cid_cli_open_store("events", db, true);
	if (!store)
		return 1;
	if (summary)
		rc = cid_events_summary(cid_store_db(store), &f, (size_t)top, stdout, fmt, err,
					sizeof(err));
	else
		rc = cid_events_list(cid_store_db(store), &f, limit, stdout, fmt, err, sizeof(err));
	if (rc != 0)
		cid_cli_err("events", "%s", err);
	cid_store_free(store);
	return rc == 0 ? 0 : 1;
}
