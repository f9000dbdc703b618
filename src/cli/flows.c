/*
 * flows.c - `callerid flows`: the recorded flows with their TLS columns,
 * ordered by first packet time.
 *
 * Read-only: opens the store without creating or migrating it. Filters are
 * bound parameters of one SELECT; output goes through output.h only.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callerid/cli.h"
#include "callerid/output.h"
#include "callerid/store.h"
#include "callerid/tls.h"

static const char usage_text[] =
	"usage: callerid flows [options]\n"
	"\n"
	"Lists recorded flows with their TLS metadata, oldest first.\n"
	"\n"
	"  --db FILE       database (default $CALLERID_DB, else ./callerid.db)\n"
	"  --sni PAT       SNI matches the glob PAT (* ? [..]), case-insensitive\n"
	"  --server IP     server address is IP\n"
	"  --client IP     client address is IP\n"
	"  --since T       flows still active at or after T\n"
	"  --until T       flows that started at or before T\n"
	"                  (T: ISO-8601 UTC like 2024-01-02T03:04:05Z, or epoch seconds)\n"
	"  --community-id ID  the flow with this Community ID v1 (Zeek's, Suricata's)\n"
	"  --tls-only      only flows where TLS was seen\n"
	"  --limit N       at most N rows\n"
	"  --format F      table (default), json (one object per line) or csv\n"
	"  -h, --help      this text\n";

static const char *const cols[] = {
	"id",    "first", "client", "server",   "proto", "sni",      "version",   "cipher",
	"group", "alpn",  "ja3_hash", "ja4",    "requests", "c2s_bytes", "s2c_bytes", "end",
	"ja4_r", "ja4_o", "ja4_ro", "community_id", "capture", "host",
};
#define NUM_COLS (sizeof(cols) / sizeof(cols[0]))
/* JA4's other forms, Community ID, the capture and its host (a node's name,
 * in databases merged from several): json and csv only */
#define NUM_TABLE_COLS (NUM_COLS - 6)

/* Filters are ?1..?8; a NULL parameter disables its test. */
static const char query[] =
	"SELECT f.id, f.first_us, f.client_ip, f.client_port, f.server_ip, f.server_port,"
	" f.proto, t.sni, t.version, t.cipher, t.\"group\", t.alpn, t.ja3_hash, t.ja4,"
	" (SELECT count(*) FROM request r WHERE r.flow_id = f.id),"
	" f.c2s_bytes, f.s2c_bytes, f.end_reason, t.offered_ciphers, t.extensions, t.sig_algs, f.community_id,"
	" f.capture_id, (SELECT host FROM capture c WHERE c.id = f.capture_id)"
	" FROM flow f LEFT JOIN tls t ON t.flow_id = f.id"
	" WHERE (?1 IS NULL OR lower(t.sni) GLOB lower(?1))"
	" AND (?2 IS NULL OR f.server_ip = ?2)"
	" AND (?3 IS NULL OR f.client_ip = ?3)"
	" AND (?4 IS NULL OR coalesce(f.last_us, f.first_us) >= ?4)"
	" AND (?5 IS NULL OR f.first_us <= ?5)"
	" AND (?6 = 0 OR t.flow_id IS NOT NULL)"
	" AND (?8 IS NULL OR f.community_id = ?8)"
	" ORDER BY f.first_us, f.id"
	" LIMIT ?7";

struct opts {
	const char *db;
	const char *sni;
	const char *community_id;
	char server[CID_ADDRSTRLEN], client[CID_ADDRSTRLEN];
	bool have_server, have_client;
	int64_t since, until;
	bool have_since, have_until;
	bool tls_only;
	int64_t limit; /* -1: no limit */
	enum cid_fmt fmt;
};

enum { OPT_DB = 256, OPT_SNI, OPT_SERVER, OPT_CLIENT, OPT_SINCE, OPT_UNTIL, OPT_TLS_ONLY,
       OPT_LIMIT, OPT_FORMAT, OPT_COMMUNITY_ID };

static const struct option long_opts[] = {
	{"db", required_argument, NULL, OPT_DB},
	{"sni", required_argument, NULL, OPT_SNI},
	{"server", required_argument, NULL, OPT_SERVER},
	{"client", required_argument, NULL, OPT_CLIENT},
	{"since", required_argument, NULL, OPT_SINCE},
	{"until", required_argument, NULL, OPT_UNTIL},
	{"tls-only", no_argument, NULL, OPT_TLS_ONLY},
	{"community-id", required_argument, NULL, OPT_COMMUNITY_ID},
	{"limit", required_argument, NULL, OPT_LIMIT},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Normalises an address to the text the store writes (inet_ntop form), so
 * "::FFFF:a.b.c.d" or "0:0::1" find their flows. */
static bool parse_ip(const char *opt, const char *arg, char out[CID_ADDRSTRLEN])
{
	struct cid_addr a;
	if (!cid_addr_parse(&a, arg)) {
		cid_cli_err("flows", "%s: not an IP address: %s", opt, arg);
		return false;
	}
	cid_addr_str(&a, out, CID_ADDRSTRLEN);
	return true;
}

static bool parse_time(const char *opt, const char *arg, int64_t *us)
{
	if (!cid_time_parse(arg, us)) {
		cid_cli_err("flows", "%s: not a time: %s", opt, arg);
		return false;
	}
	return true;
}

static bool parse_limit(const char *arg, int64_t *n)
{
	char *end = NULL;
	long long v;
	if (!*arg || *arg == '-' || *arg == '+')
		goto bad;
	v = strtoll(arg, &end, 10);
	if (*end || v < 0)
		goto bad;
	*n = (int64_t)v;
	return true;
bad:
	cid_cli_err("flows", "--limit: not a count: %s", arg);
	return false;
}

/* 0 ok, 1 --help given, 2 usage error. */
static int parse_opts(struct opts *o, int argc, char **argv)
{
	int c;
	memset(o, 0, sizeof(*o));
	o->limit = -1;
	o->fmt = cid_fmt_default();
	opterr = 0;
#ifdef __GLIBC__
	optind = 0; /* full re-initialisation (tests parse several times) */
#else
	optind = 1;
#endif
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_DB:
			o->db = optarg;
			break;
		case OPT_SNI:
			o->sni = optarg;
			break;
		case OPT_SERVER:
			if (!parse_ip("--server", optarg, o->server))
				return 2;
			o->have_server = true;
			break;
		case OPT_CLIENT:
			if (!parse_ip("--client", optarg, o->client))
				return 2;
			o->have_client = true;
			break;
		case OPT_SINCE:
			if (!parse_time("--since", optarg, &o->since))
				return 2;
			o->have_since = true;
			break;
		case OPT_UNTIL:
			if (!parse_time("--until", optarg, &o->until))
				return 2;
			o->have_until = true;
			break;
		case OPT_TLS_ONLY:
			o->tls_only = true;
			break;
		case OPT_COMMUNITY_ID:
			o->community_id = optarg;
			break;
		case OPT_LIMIT:
			if (!parse_limit(optarg, &o->limit))
				return 2;
			break;
		case OPT_FORMAT:
			if (!cid_fmt_parse(&o->fmt, optarg)) {
				cid_cli_err("flows", "--format: expected table, json or csv, not %s", optarg);
				return 2;
			}
			break;
		case 'h':
			return 1;
		case ':':
			cid_cli_err("flows", "option %s needs a value", argv[optind - 1]);
			return 2;
		default:
			cid_cli_err("flows", "unknown option %s", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		cid_cli_err("flows", "unexpected argument %s", argv[optind]);
		return 2;
	}
	return 0;
}

/* "ip:port", "[ip]:port" for IPv6 (RFC 5952 section 6). */
static void endpoint_cell(struct cid_table *t, sqlite3_stmt *st, int ip_col, int port_col)
{
	const char *ip = (const char *)sqlite3_column_text(st, ip_col);
	char buf[CID_ADDRSTRLEN + 16];
	if (!ip) {
		cid_table_null(t);
		return;
	}
	snprintf(buf, sizeof(buf), strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip,
		 sqlite3_column_int(st, port_col));
	cid_table_str(t, buf);
}

/* Text cell with its stored length (wire strings may hold any byte but NUL;
 * the output module escapes them). */
static void text_cell(struct cid_table *t, sqlite3_stmt *st, int col)
{
	const char *p = (const char *)sqlite3_column_text(st, col);
	if (!p)
		cid_table_null(t);
	else
		cid_table_strn(t, p, (size_t)sqlite3_column_bytes(st, col));
}

/* One of the stored hex lists of the hello (col), parsed; NULL is the
 * empty list. False when it is not such a list (a database edited by hand). */
static bool hex_list_col(sqlite3_stmt *st, int col, uint16_t *out, size_t cap, size_t *n)
{
	const unsigned char *p = sqlite3_column_text(st, col);
	*n = 0;
	return !p || cid_ja4_hex_list(p, (size_t)sqlite3_column_bytes(st, col), out, cap, n);
}

/* A hello's lists as the database has them. */
struct hello_lists {
	uint16_t ciphers[CID_TLS_MAX_CIPHERS], exts[CID_TLS_MAX_EXTS], sigs[CID_TLS_MAX_GROUPS];
	size_t nc, ne, ng;
};

/* A JA4 form from JA4_a and the lists; NULL when there is none. */
static void form_cell(struct cid_table *t, const char *ja4, const struct hello_lists *l, unsigned form)
{
	char out[CID_JA4_RAW_MAX] = "";
	if (ja4)
		cid_ja4_lists(ja4, l->ciphers, l->nc, l->exts, l->ne, l->sigs, l->ng, form, out, sizeof(out));
	cid_table_str(t, out[0] ? out : NULL);
}

/* ja4_r, ja4_o, ja4_ro, made from JA4_a (the ja4 column, 13) and the
 * hello's lists as stored (cols 18-20; an empty list is stored as NULL):
 * storing them too would cost every read and capture, for a column that
 * only this listing shows. */
static void ja4_cells(struct cid_table *t, sqlite3_stmt *st)
{
	struct hello_lists l = {.nc = 0, .ne = 0, .ng = 0};
	const char *ja4 = (const char *)sqlite3_column_text(st, 13);
	if (!hex_list_col(st, 18, l.ciphers, CID_TLS_MAX_CIPHERS, &l.nc) ||
	    !hex_list_col(st, 19, l.exts, CID_TLS_MAX_EXTS, &l.ne) ||
	    !hex_list_col(st, 20, l.sigs, CID_TLS_MAX_GROUPS, &l.ng))
		ja4 = NULL;
	form_cell(t, ja4, &l, CID_JA4_RAW);
	form_cell(t, ja4, &l, CID_JA4_ORIGINAL);
	form_cell(t, ja4, &l, CID_JA4_RAW | CID_JA4_ORIGINAL);
}

static void int_cell(struct cid_table *t, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		cid_table_null(t);
	else
		cid_table_int(t, (int64_t)sqlite3_column_int64(st, col));
}

static void proto_cell(struct cid_table *t, sqlite3_stmt *st, int col)
{
	int p = sqlite3_column_int(st, col);
	if (p == 6)
		cid_table_str(t, "tcp");
	else if (p == 17)
		cid_table_str(t, "udp");
	else
		int_cell(t, st, col);
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s, bool have)
{
	if (have && s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_opt_int(sqlite3_stmt *st, int i, int64_t v, bool have)
{
	if (have)
		sqlite3_bind_int64(st, i, (sqlite3_int64)v);
	else
		sqlite3_bind_null(st, i);
}

static int list_flows(struct cid_store *s, const struct opts *o)
{
	sqlite3 *db = cid_store_db(s);
	sqlite3_stmt *st = NULL;
	struct cid_table *t = NULL;
	int rc, ret = 1;
	if (sqlite3_prepare_v2(db, query, -1, &st, NULL) != SQLITE_OK) {
		cid_cli_err("flows", "query: %s", sqlite3_errmsg(db));
		goto out;
	}
	bind_opt_text(st, 1, o->sni, o->sni != NULL);
	bind_opt_text(st, 2, o->server, o->have_server);
	bind_opt_text(st, 3, o->client, o->have_client);
	bind_opt_int(st, 4, o->since, o->have_since);
	bind_opt_int(st, 5, o->until, o->have_until);
	sqlite3_bind_int(st, 6, o->tls_only);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)o->limit);
	bind_opt_text(st, 8, o->community_id, o->community_id != NULL);
	t = cid_table_new(stdout, o->fmt, cols, o->fmt == CID_FMT_TABLE ? NUM_TABLE_COLS : NUM_COLS);
	if (!t) {
		cid_cli_err("flows", "out of memory");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int_cell(t, st, 0);
		cid_table_time(t, (int64_t)sqlite3_column_int64(st, 1));
		endpoint_cell(t, st, 2, 3);
		endpoint_cell(t, st, 4, 5);
		proto_cell(t, st, 6);
		for (int c = 7; c <= 13; c++) /* sni .. ja4 */
			text_cell(t, st, c);
		int_cell(t, st, 14);
		int_cell(t, st, 15);
		int_cell(t, st, 16);
		text_cell(t, st, 17);
		if (o->fmt != CID_FMT_TABLE) {
			ja4_cells(t, st);
			text_cell(t, st, 21);
			int_cell(t, st, 22);
			text_cell(t, st, 23);
		}
		cid_table_end_row(t);
	}
	if (rc != SQLITE_DONE) {
		cid_cli_err("flows", "query: %s", sqlite3_errmsg(db));
		goto out;
	}
	ret = 0;
out:
	cid_table_free(t);
	sqlite3_finalize(st);
	return ret;
}

int cid_cmd_flows(int argc, char **argv)
{
	struct opts o;
	struct cid_store *s;
	int r = parse_opts(&o, argc, argv);
	if (r == 1) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (r) {
		fputs(usage_text, stderr);
		return 2;
	}
	s = cid_cli_open_store("flows", o.db, true);
	if (!s)
		return 1;
	r = list_flows(s, &o);
	cid_store_free(s);
	return r;
}
