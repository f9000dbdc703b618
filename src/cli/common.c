/* Helpers shared by the subcommands. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "callerid/cli.h"
#include "callerid/ingest.h"
#include "callerid/output.h"
#include "callerid/store.h"

int cid_cli_event_filter_opt(const char *cmd, struct cid_event_filter *f, int opt, const char *arg)
{
	switch (opt) {
	case 'n': f->event_name = arg; return 1;
	case 'S': f->event_source = arg; return 1;
	case 'e': f->error_code = arg; return 1;
	case 'a': f->arn_like = arg; return 1;
	case 'i': f->source_ip = arg; return 1;
	case 'I': f->event_id = arg; return 1;
	case 's':
	case 'u':
		if (!cid_time_parse(arg, opt == 's' ? &f->since_us : &f->until_us)) {
			cid_cli_err(cmd, "--%s: bad time '%s' (ISO-8601 or epoch seconds)",
				    opt == 's' ? "since" : "until", arg);
			return -1;
		}
		if (opt == 's')
			f->has_since = true;
		else
			f->has_until = true;
		return 1;
	default:
		return 0;
	}
}

const char *cid_cli_db_path(const char *opt)
{
	const char *env;
	if (opt && *opt)
		return opt;
	env = getenv("CALLERID_DB");
	if (env && *env)
		return env;
	return "callerid.db";
}

bool cid_cli_bytes(const char *s, size_t *out)
{
	char *end;
	unsigned long long v, mul = 1;
	if (!s || *s < '0' || *s > '9')
		return false;
	v = strtoull(s, &end, 10);
	switch (*end) {
	case 'K': case 'k': mul = 1ULL << 10; end++; break;
	case 'M': case 'm': mul = 1ULL << 20; end++; break;
	case 'G': case 'g': mul = 1ULL << 30; end++; break;
	default: break;
	}
	if (*end || v > (1ULL << 40) / mul || v * mul < (1ULL << 20) || v * mul > (1ULL << 40))
		return false;
	*out = (size_t)(v * mul);
	return true;
}

void cid_cli_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "callerid: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cid_cli_opt_common(const char *cmd, int c, char **argv, const char *usage, enum cid_fmt *fmt, const char **db)
{
	if (c == 'd' && db) {
		*db = optarg;
		return -1;
	}
	if (c == 'F' && fmt) {
		if (cid_fmt_parse(fmt, optarg))
			return -1;
		cid_cli_err(cmd, "--format: table, json or csv");
		return 2;
	}
	if (c == 'h') {
		fputs(usage, stdout);
		return 0;
	}
	cid_cli_err(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
	fputs(usage, stderr);
	return 2;
}

struct cid_store *cid_cli_open_store(const char *cmd, const char *db_opt, bool readonly)
{
	char err[CID_ERRBUF_SIZE];
	struct cid_store *s = cid_store_open(cid_cli_db_path(db_opt), readonly, err, sizeof(err));
	if (!s)
		cid_cli_err(cmd, "%s", err);
	return s;
}

void cid_cli_flow_counts(FILE *out, const struct cid_engine_stats *st, bool idle)
{
	if (st->dup_pkts)
		fprintf(out, "  duplicates (same packet on two interfaces): %llu\n", (unsigned long long)st->dup_pkts);
	if (st->flows_evicted > st->flows_evicted_mem)
		fprintf(out, "  flows evicted by the table cap: %llu\n",
			(unsigned long long)(st->flows_evicted - st->flows_evicted_mem));
	if (st->flows_evicted_mem)
		fprintf(out, "  flows evicted by the memory cap: %llu (flow memory peak %llu bytes)\n",
			(unsigned long long)st->flows_evicted_mem, (unsigned long long)st->held_peak);
	if (idle && st->flows_idle)
		fprintf(out, "  flows ended idle: %llu\n", (unsigned long long)st->flows_idle);
	if (st->stream_gaps)
		fprintf(out, "  stream gaps: %llu\n", (unsigned long long)st->stream_gaps);
	if (st->stream_ooo_capped)
		fprintf(out, "  out-of-order hold full: %llu\n", (unsigned long long)st->stream_ooo_capped);
	if (st->tls_malformed)
		fprintf(out, "  malformed TLS hellos: %llu\n", (unsigned long long)st->tls_malformed);
	if (st->quic_initials || st->quic_undecrypted)
		fprintf(out, "  QUIC Initial packets: %llu decrypted, %llu not (keys unknown)\n",
			(unsigned long long)st->quic_initials, (unsigned long long)st->quic_undecrypted);
	if (st->reqs_dropped)
		fprintf(out, "  request bursts over the per-flow cap: %llu\n", (unsigned long long)st->reqs_dropped);
}

int cid_cli_counts(const char *cmd, enum cid_fmt fmt, const char *const *cols, const int64_t *vals, size_t n)
{
	struct cid_table *t = cid_table_new(stdout, fmt, cols, n);
	bool lost;
	if (!t) {
		cid_cli_err(cmd, "out of memory printing the counts");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		cid_table_int(t, vals[i]);
	cid_table_end_row(t);
	lost = cid_table_dropped(t) != 0;
	if (lost)
		cid_cli_err(cmd, "out of memory printing the counts");
	cid_table_free(t);
	return lost ? -1 : 0;
}
