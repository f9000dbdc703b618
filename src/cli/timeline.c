/*
 * callerid timeline [--db FILE] [--since T] [--until T]
 *                   [--format text|json|html] [-o FILE]
 * One time-ordered story per owner: CloudTrail events, flows, request
 * bursts, matches and pod snapshots (docs/timeline.md). Read-only on the
 * database. -o writes a new or existing regular file (created 0600) and
 * refuses a symbolic link or anything that is not a regular file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "callerid/cli.h"
#include "callerid/output.h"
#include "callerid/store.h"
#include "callerid/timeline.h"

static const char usage_text[] =
	"usage: callerid timeline [--db FILE] [--since T] [--until T]\n"
	"                         [--format text|json|html] [-o FILE]\n"
	"  T: ISO-8601 (2024-05-01T12:00:00Z) or epoch seconds\n"
	"  --format: text (default), json (one object per line) or html (one\n"
	"            self-contained page with a swimlane chart)\n"
	"  -o FILE:  write to FILE (created 0600; a symbolic link is refused)\n";

/* Opens path for writing without following a symbolic link. NULL with a
 * message on failure. */
static FILE *open_out(const char *path)
{
	struct stat st;
	int fd;
	FILE *f;
	if (lstat(path, &st) == 0) {
		if (S_ISLNK(st.st_mode)) {
			cid_cli_err("timeline", "refusing to write %s: it is a symbolic link", path);
			return NULL;
		}
		if (!S_ISREG(st.st_mode)) {
			cid_cli_err("timeline", "refusing to write %s: not a regular file", path);
			return NULL;
		}
	}
	/* O_NOFOLLOW closes the race between lstat and open */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == ELOOP)
			cid_cli_err("timeline", "refusing to write %s: it is a symbolic link", path);
		else
			cid_cli_err("timeline", "cannot write %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		cid_cli_err("timeline", "refusing to write %s: not a regular file", path);
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f) {
		cid_cli_err("timeline", "cannot write %s: %s", path, strerror(errno));
		close(fd);
	}
	return f;
}

int cid_cmd_timeline(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"db", required_argument, NULL, 'd'},
		{"since", required_argument, NULL, 's'},
		{"until", required_argument, NULL, 'u'},
		{"format", required_argument, NULL, 'F'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cid_tl_opts o = {0};
	enum cid_tl_fmt fmt = CID_TL_TEXT;
	const char *db = NULL, *out_path = NULL;
	struct cid_store *store = NULL;
	struct cid_timeline *t = NULL;
	FILE *out = stdout;
	char err[CID_ERRBUF_SIZE];
	int c, rc = 1;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': out_path = optarg; break;
		case 's':
		case 'u':
			if (!cid_time_parse(optarg, c == 's' ? &o.since_us : &o.until_us)) {
				cid_cli_err("timeline", "--%s: bad time '%s' (ISO-8601 or epoch seconds)",
					    c == 's' ? "since" : "until", optarg);
				return 2;
			}
			if (c == 's')
				o.has_since = true;
			else
				o.has_until = true;
			break;
		case 'F':
			if (!cid_tl_fmt_parse(&fmt, optarg)) {
				cid_cli_err("timeline", "--format: text, json or html");
				return 2;
			}
			break;
		default: {
			int r = cid_cli_opt_common("timeline", c, argv, usage_text, NULL, &db);
			if (r >= 0)
				return r;
			break;
		}
		}
	}
	if (optind < argc) {
		cid_cli_err("timeline", "unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (o.has_since && o.has_until && o.since_us > o.until_us) {
		cid_cli_err("timeline", "--since is after --until");
		return 2;
	}
	if (out_path && !*out_path) {
		cid_cli_err("timeline", "-o: empty file name");
		return 2;
	}
	store = cid_cli_open_store("timeline", db, true);
	if (!store)
		return 1;
	t = cid_timeline_load(cid_store_db(store), &o, err, sizeof(err));
	if (!t) {
		cid_cli_err("timeline", "%s", err);
		goto out;
	}
	/* the output file is opened only once there is something to write */
	if (out_path && !(out = open_out(out_path)))
		goto out;
	if (fmt == CID_TL_JSON)
		rc = cid_timeline_json(t, out);
	else if (fmt == CID_TL_HTML)
		rc = cid_timeline_html(t, out);
	else
		rc = cid_timeline_text(t, out);
	if (out != stdout && fclose(out) != 0 && rc == 0)
		rc = -CID_EIO;
	if (rc != 0) {
		cid_cli_err("timeline", "cannot write %s", out_path ? out_path : "the output");
		rc = 1;
		goto out;
	}
	if (t->num_dropped)
		cid_cli_err("timeline", "%zu items dropped at the cap of %u; narrow the window with"
					" --since/--until", t->num_dropped, CID_TL_MAX_ITEMS_DEFAULT);
	rc = 0;
out:
	cid_timeline_free(t);
	cid_store_free(store);
	return rc;
}
