/*
 * callerid ingest [--db FILE] [--since T] [--until T] [--event-name N]...
 *                 [--format table|json|csv] PATH...
 * Loads CloudTrail files (S3 delivery, lookup-events output, JSON lines;
 * plain or gzip; files or directory trees) into the event table, then
 * prints one row of totals.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "callerid/cli.h"
#include "callerid/ingest.h"
#include "callerid/output.h"
#include "callerid/store.h"

static const char usage_text[] =
	"usage: callerid ingest [--db FILE] [--since T] [--until T] [--event-name N]...\n"
	"                       [--format table|json|csv] PATH...\n"
	"  PATH      a CloudTrail file (.json, .json.gz, lookup-events output, JSON lines)\n"
	"            or a directory walked recursively (e.g. an AWSLogs/ tree)\n"
	"  --since T, --until T   keep events with eventTime in [T, T] (ISO-8601 or epoch s)\n"
	"  --event-name N         keep only this eventName (repeatable)\n"
	"Problems are reported on stderr as PATH: record N: reason; exit 1 if any.\n";

int cid_cmd_ingest(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"db", required_argument, NULL, 'd'},   {"since", required_argument, NULL, 's'},
		{"until", required_argument, NULL, 'u'}, {"event-name", required_argument, NULL, 'n'},
		{"format", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
	};
	static const char *const cols[] = {"files",    "failed",     "digests", "records",
					   "inserted", "duplicates", "filtered", "bad"};
	const char *names[CID_CT_MAX_NAMES];
	struct cid_ingest_opts o = {0};
	const char *db = NULL;
	enum cid_fmt fmt = cid_fmt_default();
	struct cid_store *store = NULL;
	struct cid_ingest *ig = NULL;
	char err[CID_ERRBUF_SIZE];
	int c, rc = 0;

	/* Before SQLite initialises (it has not in this process yet; if it
	 * has, these calls fail harmlessly): no memory statistics (a global
	 * mutex around every allocation) and no per-connection mutexes. Each
	 * connection here stays in one thread at a time: the store's in this
	 * one, the ingest decoder's and checkpointer's in their own (see
	 * cloudtrail.c). */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	(void)sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
		case 'u':
			if (!cid_time_parse(optarg, c == 's' ? &o.since_us : &o.until_us)) {
				cid_cli_err("ingest", "--%s: bad time '%s' (ISO-8601 or epoch seconds)",
					    c == 's' ? "since" : "until", optarg);
				return 2;
			}
			if (c == 's')
				o.has_since = true;
			else
				o.has_until = true;
			break;
		case 'n':
			if (o.num_names == CID_CT_MAX_NAMES) {
				cid_cli_err("ingest", "at most %u --event-name values", CID_CT_MAX_NAMES);
				return 2;
			}
			names[o.num_names++] = optarg;
			break;
		default: {
			int r = cid_cli_opt_common("ingest", c, argv, usage_text, &fmt, &db);
			if (r >= 0)
				return r;
			break;
		}
		}
	}
	if (optind >= argc) {
		cid_cli_err("ingest", "no PATH given");
		fputs(usage_text, stderr);
		return 2;
	}
	if (o.has_since && o.has_until && o.since_us > o.until_us) {
		cid_cli_err("ingest", "--since is after --until");
		return 2;
	}
	o.names = names;
	o.diag = stderr;
	o.diag_prefix = "callerid: ingest: ";

	store = cid_cli_open_store("ingest", db, false);
	if (!store)
		return 1;
	if (cid_store_flush(store) != 0) {
		cid_cli_err("ingest", "%s", cid_store_errmsg(store));
		rc = 1;
		goto out;
	}
	ig = cid_ingest_new(cid_store_db(store), &o, err, sizeof(err));
	if (!ig) {
		cid_cli_err("ingest", "%s", err);
		rc = 1;
		goto out;
	}
	for (int i = optind; i < argc; i++) {
		int r = cid_ingest_path(ig, argv[i]);
		if (r != 0)
			rc = 1;
		if (r < 0) {
			cid_cli_err("ingest", "database failure, stopping; files already done are kept");
			break;
		}
	}
	const struct cid_ingest_stats *st = cid_ingest_stats(ig);
	const int64_t counts[] = {(int64_t)st->files,    (int64_t)st->files_failed, (int64_t)st->digests,
				  (int64_t)st->records,  (int64_t)st->inserted,     (int64_t)st->duplicates,
				  (int64_t)st->filtered, (int64_t)st->bad};
	if (cid_cli_counts("ingest", fmt, cols, counts, sizeof(counts) / sizeof(counts[0])) < 0)
		rc = 1;
out:
	cid_ingest_free(ig);
	cid_store_free(store);
	return rc;
}
