/* correlate.c - `callerid correlate`: name the caller of each event. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/cli.h"
#include "callerid/correlate_db.h"

static const char usage_text[] =
	"usage: callerid correlate [--db FILE] [filters] [--skew SEC|auto] [--explain EVENT_ID]\n"
	"                          [--no-store] [--format table|json|csv]\n"
	"  Matches each selected CloudTrail event with the request burst that made it\n"
	"  and names its owner (process, pod, or the node's hostNetwork pods).\n"
	"  filters: --event-name N --event-source S --error-code C --arn-like PAT\n"
	"           --source-ip IP --event-id ID --since T --until T\n"
	"  --skew SEC   clock tolerance around each event's second (default 1);\n"
	"  --skew auto  first estimate the capture-vs-CloudTrail clock offset\n"
	"  --explain ID every candidate considered for that event, and why\n"
	"  --no-store   do not record the verdicts in the attribution table\n";

int cid_cmd_correlate(int argc, char **argv)
{
	static const struct option longopts[] = {
		CID_CLI_EVENT_FILTER_OPTIONS,
		{"db", required_argument, NULL, 'd'},         {"skew", required_argument, NULL, 'k'},
		{"explain", required_argument, NULL, 'x'},    {"no-store", no_argument, NULL, 'N'},
		{"format", required_argument, NULL, 'F'},     {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cid_cor_opts o;
	struct cid_cor_totals tot;
	const char *db = NULL;
	enum cid_fmt fmt = cid_fmt_default();
	struct cid_store *store;
	char err[CID_ERRBUF_SIZE];
	int c, rc;

	memset(&o, 0, sizeof(o));
	cid_cor_params_default(&o.params);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int taken = cid_cli_event_filter_opt("correlate", &o.filter, c, optarg);
		if (taken < 0)
			return 2;
		if (taken)
			continue;
		switch (c) {
		case 'x': o.explain = optarg; break;
		case 'N': o.no_store = true; break;
		case 'k':
			if (!strcmp(optarg, "auto")) {
				o.params.auto_offset = true;
			} else {
				char *end;
				double v = strtod(optarg, &end);
				if (*end || v < 0 || v > 3600) {
					cid_cli_err("correlate", "--skew: seconds (0..3600) or auto, not '%s'", optarg);
					return 2;
				}
				o.params.skew_us = (int64_t)(v * 1e6);
			}
			break;
		case 'F':
			if (!cid_fmt_parse(&fmt, optarg)) {
				cid_cli_err("correlate", "--format: expected table, json or csv, not '%s'", optarg);
				return 2;
			}
			break;
		default: {
			int r = cid_cli_opt_common("correlate", c, argv, usage_text, NULL, &db);
			if (r >= 0)
				return r;
			break;
		}
		}
	}
	if (optind < argc) {
		cid_cli_err("correlate", "unexpected argument '%s'", argv[optind]);
		return 2;
	}
	store = cid_cli_open_store("correlate", db, false);
	if (!store)
		return 1;
	rc = cid_correlate_run(store, &o, stdout, fmt, &tot, err, sizeof(err));
	cid_store_free(store);
	if (rc < 0) {
		cid_cli_err("correlate", "%s", err);
		return rc == -CID_EINVAL ? 2 : 1;
	}
	return 0;
}
