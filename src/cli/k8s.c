/*
 * callerid k8s [--db FILE] [--at T] [--format table|json|csv] FILE...
 * Loads `kubectl get pods -A -o json` / `kubectl get nodes -o json`
 * snapshots into the pod and node tables, then prints one row of totals.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "callerid/cli.h"
#include "callerid/k8s.h"
#include "callerid/output.h"
#include "callerid/store.h"

static const char usage_text[] =
	"usage: callerid k8s [--db FILE] [--at T] [--format table|json|csv] FILE...\n"
	"  FILE     output of `kubectl get pods -A -o json` or `kubectl get nodes -o json`\n"
	"           (a List, or one Pod/Node object; plain or gzip; \"-\" = standard input)\n"
	"  --at T   snapshot time for every FILE (ISO-8601 or epoch seconds);\n"
	"           default: each file's modification time (standard input: now)\n"
	"A file with a problem is reported as FILE: item N: reason and nothing of it is\n"
	"stored; the other files still are, and the exit status is 1.\n";

int cid_cmd_k8s(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"db", required_argument, NULL, 'd'},
		{"at", required_argument, NULL, 'a'},
		{"format", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const char *const cols[] = {"files", "failed", "pods", "nodes", "replaced"};
	struct cid_k8s_opts o = {0};
	const char *db = NULL;
	enum cid_fmt fmt = cid_fmt_default();
	struct cid_store *store = NULL;
	struct cid_k8s *k = NULL;
	char err[CID_ERRBUF_SIZE];
	int c, rc = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (!cid_time_parse(optarg, &o.at_us)) {
				cid_cli_err("k8s", "--at: bad time '%s' (ISO-8601 or epoch seconds)", optarg);
				return 2;
			}
			o.has_at = true;
			break;
		default: {
			int r = cid_cli_opt_common("k8s", c, argv, usage_text, &fmt, &db);
			if (r >= 0)
				return r;
			break;
		}
		}
	}
	if (optind >= argc) {
		cid_cli_err("k8s", "no FILE given");
		fputs(usage_text, stderr);
		return 2;
	}
	o.diag = stderr;
	o.diag_prefix = "callerid: k8s: ";

	store = cid_cli_open_store("k8s", db, false);
	if (!store)
		return 1;
	if (cid_store_flush(store) != 0) {
		cid_cli_err("k8s", "%s", cid_store_errmsg(store));
		rc = 1;
		goto out;
	}
	k = cid_k8s_new(cid_store_db(store), &o, err, sizeof(err));
	if (!k) {
		cid_cli_err("k8s", "%s", err);
		rc = 1;
		goto out;
	}
	for (int i = optind; i < argc; i++) {
		int r = cid_k8s_load_file(k, argv[i]);
		if (r != 0)
			rc = 1;
		if (r < 0) {
			cid_cli_err("k8s", "database failure, stopping; files already done are kept");
			break;
		}
	}
	const struct cid_k8s_stats *st = cid_k8s_stats(k);
	const int64_t counts[] = {(int64_t)st->files, (int64_t)st->files_failed, (int64_t)st->pods,
				  (int64_t)st->nodes, (int64_t)st->replaced};
	if (cid_cli_counts("k8s", fmt, cols, counts, sizeof(counts) / sizeof(counts[0])) < 0)
		rc = 1;
out:
	cid_k8s_free(k);
	cid_store_free(store);
	return rc;
}
