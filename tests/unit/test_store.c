/*
 * test_store.c - the SQLite adapter (open, create, migrate, refuse, write,
 * batch) and the `callerid flows` listing over a store it wrote.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "callerid/ckpt.h"
#include "callerid/cli.h"
#include "callerid/store.h"

struct fx {
	char dir[256];
	char path[300];
	char err[CID_ERRBUF_SIZE];
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	const char *root = getenv("TMPROOT");
	if (!x)
		return -1;
	snprintf(x->dir, sizeof(x->dir), "%s/store.XXXXXX", root && *root ? root : "/tmp");
	if (!mkdtemp(x->dir)) {
		free(x);
		return -1;
	}
	snprintf(x->path, sizeof(x->path), "%s/t.db", x->dir);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	DIR *d = opendir(x->dir);
	struct dirent *e;
	char p[600];
	/* The directory holds only the files this test made (no subdirectories). */
	while (d && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", x->dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(x->dir);
	free(x);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static int64_t query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Copies the first column of the first row as text ("(null)" for NULL). */
static void query_text(sqlite3 *db, const char *sql, char *out, size_t out_len)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		snprintf(out, out_len, "(null)");
	else
		snprintf(out, out_len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

static struct cid_store *open_rw(struct fx *x)
{
	struct cid_store *s = cid_store_open(x->path, false, x->err, sizeof(x->err));
	if (!s)
		fprintf(stderr, "# open: %s\n", x->err);
	assert_non_null(s);
	return s;
}

static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static sqlite3 *raw_open_create(const char *path)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
			 SQLITE_OK);
	return db;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static struct cid_flow *new_flow(const char *cli, uint16_t cport, const char *srv, uint16_t sport,
				 int64_t first_ns)
{
	struct cid_flow *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->proto = 6;
	assert_true(cid_addr_parse(&f->cli, cli));
	assert_true(cid_addr_parse(&f->srv, srv));
	f->cport = cport;
	f->sport = sport;
	f->first_ns = first_ns;
	f->last_ns = first_ns + 2500000000LL;
	f->c2s_pkts = 10;
	f->c2s_bytes = 1500;
	f->s2c_pkts = 8;
	f->s2c_bytes = 6000;
	f->have_syn = true;
	f->syn_seq = 0xfedcba98u;
	return f;
}

static void add_req(struct cid_flow *f, int64_t ts_ns, int64_t answer_ns)
{
	struct cid_request *n = realloc(f->reqs, (f->num_reqs + 1) * sizeof(*n));
	assert_non_null(n);
	f->reqs = n;
	n[f->num_reqs].ts_ns = ts_ns;
	n[f->num_reqs].answer_ns = answer_ns;
	n[f->num_reqs].c2s_bytes = 700;
	n[f->num_reqs].s2c_bytes = 1200;
	f->num_reqs++;
	f->cap_reqs = f->num_reqs;
}

static void add_tls(struct cid_flow *f, const char *sni, size_t sni_len)
{
	static const uint16_t ciphers[] = {0x0a0a, 0x1301, 0x1302, 0xc02f};
	static const uint16_t versions[] = {0x2a2a, 0x0304, 0x0303, 0x1234};
	struct cid_flow_tls *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	t->status = CID_TLSS_OK;
	t->num_client_hellos = 1;
	t->have_ch = t->have_sh = true;
	t->ch_ns = f->first_ns + 1000000;
	t->sh_ns = f->first_ns + 2000000;
	t->ch.hs_type = 1;
	t->ch.legacy_version = 0x0303;
	for (unsigned i = 0; i < 32; i++)
		t->ch.random[i] = (uint8_t)i;
	memcpy(t->ch.ciphers, ciphers, sizeof(ciphers));
	t->ch.num_ciphers = 4;
	memcpy(t->ch.versions, versions, sizeof(versions));
	t->ch.num_versions = 4;
	t->ch.groups[0] = 0x001d;
	t->ch.groups[1] = 0x0017;
	t->ch.num_groups = 2;
	t->ch.key_share[0] = 0x001d;
	t->ch.num_key_share = 1;
	t->ch.exts[0] = 0x0000;
	t->ch.exts[1] = 0x002b;
	t->ch.num_exts = 2;
	if (sni) {
		t->ch.has_sni = true;
		memcpy(t->ch.sni, sni, sni_len);
		t->ch.sni_len = (uint16_t)sni_len;
	}
	t->ch.has_alpn = true;
	t->ch.num_alpn = 2;
	snprintf(t->ch.alpn, sizeof(t->ch.alpn), "h2,http/1.1");
	t->sh.hs_type = 2;
	t->sh.legacy_version = 0x0303;
	t->sh.versions[0] = 0x0304;
	t->sh.num_versions = 1;
	t->sh.ciphers[0] = 0x1301;
	t->sh.num_ciphers = 1;
	t->sh.key_share[0] = 0x001d;
	t->sh.num_key_share = 1;
	t->sh.has_alpn = true;
	t->sh.alpn_first_len = 2;
	memcpy(t->sh.alpn_first, "h2", 2);
	f->tls = t;
}

static void free_flow(struct cid_flow *f)
{
	free(f->tls);
	free(f->reqs);
	free(f);
}

/* ---- open / create / migrate -------------------------------------------- */

static void test_create_migrate(void **state)
{
	struct fx *x = *state;
	static const char *const tables[] = {"capture", "flow", "tls",   "request", "nat_link", "owner",
					     "http",    "dns",  "event", "pod",     "node"};
	static const char *const event_cols[] = {
		"id", "event_id", "time_us", "name", "source", "region", "source_ip", "user_agent",
		"arn", "identity_type", "principal_id", "account_id", "access_key_id",
		"session_issuer_arn", "session_issuer_name", "ec2_role_delivery", "session_tags",
		"error_code", "error_message", "vpce", "tls_version", "cipher", "host_header",
		"key_exchange", "request_params", "read_only", "event_type", "event_category",
		"invoked_by", "raw", "origin"};
	struct cid_store *s = open_rw(x);
	sqlite3 *db = cid_store_db(s);
	sqlite3_stmt *st = NULL;
	char buf[64];
	size_t i = 0;

	assert_true(cid_store_schema_version() >= 1);
	assert_int_equal(query_int(db, "PRAGMA user_version"), cid_store_schema_version());
	query_text(db, "PRAGMA journal_mode", buf, sizeof(buf));
	assert_string_equal(buf, "wal");
	assert_int_equal(query_int(db, "PRAGMA foreign_keys"), 0);
	assert_int_equal(query_int(db, "PRAGMA synchronous"), 1); /* NORMAL */
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		char sql[128];
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'",
			 tables[i]);
		assert_int_equal(query_int(db, sql), 1);
	}
	/* The event columns, in the agreed order. */
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('event') ORDER BY cid",
					    -1, &st, NULL), SQLITE_OK);
	i = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		assert_true(i < sizeof(event_cols) / sizeof(event_cols[0]));
		assert_string_equal((const char *)sqlite3_column_text(st, 0), event_cols[i]);
		i++;
	}
	sqlite3_finalize(st);
	assert_int_equal(i, sizeof(event_cols) / sizeof(event_cols[0]));
	/* Contract columns the other modules rely on. */
	assert_int_equal(sqlite3_prepare_v2(db,
		"SELECT id, capture_id, first_us, last_us, proto, client_ip, client_port, server_ip,"
		" server_port, ifaces, direction_guessed, c2s_pkts, c2s_bytes, s2c_pkts, s2c_bytes,"
		" syn_seq, end_reason, community_id, mid_stream, dup_pkts FROM flow", -1, &st, NULL),
		SQLITE_OK);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db,
		"SELECT flow_id, sni, client_random, offered_versions, version, version_code,"
		" cipher_code, cipher, \"group\", group_code, alpn, alpn_chosen, ja3, ja3_hash, ja3s,"
		" ja3s_hash, ja4, ech, hrr, num_client_hellos, offered_ciphers, offered_groups,"
		" key_share_groups, sig_algs, legacy_version, session_id, status FROM tls",
		-1, &st, NULL), SQLITE_OK);
	sqlite3_finalize(st);
	/* Unique event ids. */
	assert_int_equal(sqlite3_exec(db, "INSERT INTO event(event_id, time_us) VALUES('e1', 1)", NULL,
				      NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO event(event_id, time_us) VALUES('e1', 2)",
					  NULL, NULL, NULL), SQLITE_OK);
	cid_store_free(s);
}

static void test_mode_0600(void **state)
{
	struct fx *x = *state;
	mode_t old = umask(0);
	struct cid_store *s = open_rw(x);
	struct stat st;
	umask(old);
	assert_int_equal(stat(x->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	cid_store_free(s);
}

static void test_reopen_keeps_data(void **state)
{
	struct fx *x = *state;
	struct cid_store *s = open_rw(x);
	struct cid_flow *f = new_flow("10.0.0.10", 40000, "10.0.1.5", 443, 1700000000123456789LL);
	int64_t cap = 0;
	char buf[64];
	assert_int_equal(cid_store_capture_begin(s, "file", "a.pcap", "node-1", "tcp port 443",
						 1700000000000000LL, &cap), 0);
	assert_true(cap > 0);
	assert_int_equal(cid_store_put_flow(s, cap, f, "eth0"), 0);
	assert_int_equal(cid_store_capture_end(s, cap, 0, 1700000009000000LL, 100, 1, 2), 0);
	cid_store_free(s);

	s = cid_store_open(x->path, true, x->err, sizeof(x->err));
	assert_non_null(s);
	assert_int_equal(query_int(cid_store_db(s), "SELECT count(*) FROM flow"), 1);
	assert_int_equal(query_int(cid_store_db(s), "SELECT first_us FROM flow"), 1700000000123456LL);
	assert_int_equal(query_int(cid_store_db(s), "SELECT started_us FROM capture"), 1700000000000000LL);
	assert_int_equal(query_int(cid_store_db(s), "SELECT ended_us FROM capture"), 1700000009000000LL);
	assert_int_equal(query_int(cid_store_db(s), "SELECT pkts_if_dropped FROM capture"), 2);
	query_text(cid_store_db(s), "SELECT ifaces FROM flow", buf, sizeof(buf));
	assert_string_equal(buf, "eth0");
	query_text(cid_store_db(s), "SELECT kind || ' ' || source || ' ' || host || ' ' || filter FROM capture",
		   buf, sizeof(buf));
	assert_string_equal(buf, "file a.pcap node-1 tcp port 443");
	/* A read-only store refuses writes. */
	assert_int_not_equal(cid_store_begin(s), 0);
	cid_store_free(s);

	/* Read-write again: no second migration, data intact. */
	s = open_rw(x);
	assert_int_equal(query_int(cid_store_db(s), "SELECT count(*) FROM flow"), 1);
	cid_store_free(s);
	free_flow(f);
}

static void test_refuse_newer(void **state)
{
	struct fx *x = *state;
	struct cid_store *s = open_rw(x);
	sqlite3 *db;
	char want[600];
	int newer = cid_store_schema_version() + 98;
	char sql[64];
	cid_store_free(s);
	db = raw_open(x->path);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", newer);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	snprintf(want, sizeof(want), "database %s has schema version %d, newer than this callerid (%d)",
		 x->path, newer, cid_store_schema_version());
	for (int ro = 0; ro < 2; ro++) {
		x->err[0] = '\0';
		assert_null(cid_store_open(x->path, ro != 0, x->err, sizeof(x->err)));
		assert_string_equal(x->err, want);
	}
}

static void test_migration_failure_rolls_back(void **state)
{
	struct fx *x = *state;
	sqlite3 *db = raw_open_create(x->path);
	/* Another application's database at user_version 0 that happens to
	 * hold a table of ours: the migration fails as a whole. */
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE flow(x); INSERT INTO flow VALUES(42)", NULL,
				      NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(cid_store_open(x->path, false, x->err, sizeof(x->err)));
	assert_non_null(strstr(x->err, x->path));
	assert_non_null(strstr(x->err, "migration"));
	db = raw_open(x->path);
	assert_int_equal(query_int(db, "PRAGMA user_version"), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'capture'"), 0);
	assert_int_equal(query_int(db, "SELECT x FROM flow"), 42);
	sqlite3_close(db);
}

static void test_refuse_not_sqlite(void **state)
{
	struct fx *x = *state;
	static const char *const bodies[] = {
		"this is a text file, not a database at all\n",
		"SQLite",                                   /* shorter than the header */
		"SQLite format 2\0......................",  /* wrong header */
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		size_t n = i == 2 ? 32 : strlen(bodies[i]);
		char *want;
		write_file(x->path, bodies[i], n);
		for (int ro = 0; ro < 2; ro++) {
			x->err[0] = '\0';
			assert_null(cid_store_open(x->path, ro != 0, x->err, sizeof(x->err)));
			want = strstr(x->err, x->path);
			assert_non_null(want);
			assert_non_null(strstr(x->err, "not a SQLite database"));
		}
	}
	/* Header right, body garbage: SQLite's own check, still named. */
	{
		char junk[4096];
		memset(junk, 0x5a, sizeof(junk));
		memcpy(junk, "SQLite format 3", 16);
		write_file(x->path, junk, sizeof(junk));
		assert_null(cid_store_open(x->path, false, x->err, sizeof(x->err)));
		assert_non_null(strstr(x->err, x->path));
	}
	/* A directory. */
	assert_null(cid_store_open(x->dir, false, x->err, sizeof(x->err)));
	assert_non_null(strstr(x->err, x->dir));
}

static void test_symlink_refused(void **state)
{
	struct fx *x = *state;
	struct cid_store *s = open_rw(x);
	char link[320], dangling[320];
	struct stat st;
	cid_store_free(s);
	snprintf(link, sizeof(link), "%s/link.db", x->dir);
	snprintf(dangling, sizeof(dangling), "%s/dangling.db", x->dir);
	assert_int_equal(symlink(x->path, link), 0);
	assert_null(cid_store_open(link, false, x->err, sizeof(x->err)));
	assert_non_null(strstr(x->err, "symbolic link"));
	assert_null(cid_store_open(link, true, x->err, sizeof(x->err)));
	assert_non_null(strstr(x->err, "symbolic link"));
	/* A dangling link must not create its target. */
	snprintf(link, sizeof(link), "%s/target.db", x->dir);
	assert_int_equal(symlink(link, dangling), 0);
	assert_null(cid_store_open(dangling, false, x->err, sizeof(x->err)));
	assert_int_not_equal(lstat(link, &st), 0);
}

static void test_readonly_missing_or_empty(void **state)
{
	struct fx *x = *state;
	struct stat st;
	assert_null(cid_store_open(x->path, true, x->err, sizeof(x->err)));
	assert_non_null(strstr(x->err, "does not exist"));
	assert_int_not_equal(stat(x->path, &st), 0);
	write_file(x->path, "", 0);
	assert_null(cid_store_open(x->path, true, x->err, sizeof(x->err)));
	assert_non_null(strstr(x->err, x->path));
	/* Read-write turns the empty file into a database. */
	cid_store_free(open_rw(x));
	cid_store_free(cid_store_open(x->path, true, x->err, sizeof(x->err)));
}

/* ---- writers ------------------------------------------------------------ */

static void test_put_flow_insert_update(void **state)
{
	struct fx *x = *state;
	struct cid_store *s = open_rw(x);
	sqlite3 *db = cid_store_db(s);
	struct cid_flow *f = new_flow("2001:db8::10", 40001, "2001:db8::443", 443, 1700000001000000000LL);
	char buf[128];
	f->ifaces[0] = 3;
	f->ifaces[1] = 7;
	f->num_ifaces = 2;
	assert_int_equal(cid_store_put_flow(s, 0, f, NULL), 0);
	assert_true(f->db_id > 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM flow"), 1);
	query_text(db, "SELECT client_ip || ' ' || client_port || ' ' || server_ip || ' ' || server_port"
		       " || ' ' || ifaces FROM flow", buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::10 40001 2001:db8::443 443 3,7");
	query_text(db, "SELECT end_reason FROM flow", buf, sizeof(buf));
	assert_string_equal(buf, "(null)");
	assert_int_equal(query_int(db, "SELECT capture_id IS NULL FROM flow"), 1);
	assert_int_equal(query_int(db, "SELECT syn_seq FROM flow"), 0xfedcba98LL);
	assert_int_equal(query_int(db, "SELECT last_us - first_us FROM flow"), 2500000);
	assert_int_equal(query_int(db, "SELECT count(*) FROM tls"), 0);

	/* Update: same row, new values, and now a TLS row. */
	int64_t id = f->db_id;
	f->c2s_pkts = 99;
	f->end_reason = CID_END_FIN;
	f->last_ns += 1000;
	add_tls(f, "api.example.com", 15);
	assert_int_equal(cid_store_put_flow(s, 0, f, "eth0,veth1"), 0);
	assert_int_equal(f->db_id, id);
	assert_int_equal(query_int(db, "SELECT count(*) FROM flow"), 1);
	assert_int_equal(query_int(db, "SELECT c2s_pkts FROM flow"), 99);
	query_text(db, "SELECT end_reason FROM flow", buf, sizeof(buf));
	assert_string_equal(buf, cid_end_name(CID_END_FIN));
	query_text(db, "SELECT ifaces FROM flow", buf, sizeof(buf));
	assert_string_equal(buf, "eth0,veth1");
	assert_int_equal(query_int(db, "SELECT count(*) FROM tls"), 1);
	assert_int_equal(query_int(db, "SELECT flow_id FROM tls"), id);
	query_text(db, "SELECT sni FROM tls", buf, sizeof(buf));
	assert_string_equal(buf, "api.example.com");
	query_text(db, "SELECT version FROM tls", buf, sizeof(buf));
	assert_string_equal(buf, "TLSv1.3");
	assert_int_equal(query_int(db, "SELECT version_code FROM tls"), 0x0304);
	query_text(db, "SELECT cipher FROM tls", buf, sizeof(buf));
	assert_string_equal(buf, "TLS_AES_128_GCM_SHA256");
	assert_int_equal(query_int(db, "SELECT cipher_code FROM tls"), 0x1301);
	query_text(db, "SELECT \"group\" FROM tls", buf, sizeof(buf));
	assert_string_equal(buf, "x25519");
	query_text(db, "SELECT offered_versions FROM tls", buf, sizeof(buf));
	assert_string_equal(buf, "TLSv1.3,TLSv1.2,0x1234");
	query_text(db, "SELECT offered_ciphers FROM tls", buf, sizeof(buf));
	assert_string_equal(buf, "0a0a,1301,1302,c02f");
	query_text(db, "SELECT offered_groups FROM tls", buf, sizeof(buf));
	assert_string_equal(buf, "x25519,secp256r1");
	query_text(db, "SELECT alpn || ' ' || alpn_chosen FROM tls", buf, sizeof(buf));
	assert_string_equal(buf, "h2,http/1.1 h2");
	query_text(db, "SELECT client_random FROM tls", buf, sizeof(buf));
	assert_string_equal(buf, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	query_text(db, "SELECT status FROM tls", buf, sizeof(buf));
	assert_string_equal(buf, cid_tls_status_name(CID_TLSS_OK));
	assert_int_equal(query_int(db, "SELECT length(ja3_hash) FROM tls"), 32);
	assert_int_equal(query_int(db, "SELECT length(ja3s_hash) FROM tls"), 32);
	assert_int_equal(query_int(db, "SELECT length(ja4) FROM tls"), CID_JA4_LEN - 1);
	assert_int_equal(query_int(db, "SELECT ch_us - (SELECT first_us FROM flow) FROM tls"), 1000);

	/* Server-only (mid-stream) TLS: the ClientHello columns stay NULL. */
	f->tls->have_ch = false;
	f->tls->status = CID_TLSS_SERVER_ONLY;
	assert_int_equal(cid_store_put_flow(s, 0, f, NULL), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM tls"), 1);
	assert_int_equal(query_int(db, "SELECT sni IS NULL AND ja3 IS NULL AND ja4 IS NULL"
				       " AND version = 'TLSv1.3' FROM tls"), 1);
	cid_store_free(s);
	free_flow(f);
}

static void test_requests_once(void **state)
{
	struct fx *x = *state;
	struct cid_store *s = open_rw(x);
	sqlite3 *db = cid_store_db(s);
	struct cid_flow *f = new_flow("10.0.0.10", 40002, "10.0.1.5", 443, 1700000002000000000LL);
	add_req(f, 1700000002100000000LL, 1700000002150000000LL);
	add_req(f, 1700000005100000000LL, 0);
	assert_int_equal(cid_store_put_flow(s, 1, f, NULL), 0);
	assert_int_equal(f->reqs_written, 2);
	assert_int_equal(query_int(db, "SELECT count(*) FROM request"), 2);
	assert_int_equal(cid_store_put_flow(s, 1, f, NULL), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM request"), 2);
	add_req(f, 1700000009100000000LL, 1700000009200000000LL);
	assert_int_equal(cid_store_put_flow(s, 1, f, NULL), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM request"), 3);
	assert_int_equal(query_int(db, "SELECT count(*) FROM request WHERE flow_id = (SELECT id FROM flow)"), 3);
	assert_int_equal(query_int(db, "SELECT count(*) FROM request WHERE answer_us IS NULL"), 1);
	assert_int_equal(query_int(db, "SELECT min(ts_us) FROM request"), 1700000002100000LL);
	assert_int_equal(query_int(db, "SELECT max(answer_us) FROM request"), 1700000009200000LL);
	assert_int_equal(query_int(db, "SELECT sum(c2s_bytes) FROM request"), 2100);
	/* the last burst written was still open: its answer and sizes grow */
	f->reqs[2].s2c_bytes = 5000;
	f->reqs[2].c2s_bytes = 900;
	assert_int_equal(cid_store_put_flow(s, 1, f, NULL), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM request"), 3);
	assert_int_equal(query_int(db, "SELECT s2c_bytes + c2s_bytes FROM request WHERE ts_us = 1700000009100000"),
			 5900);
	f->reqs[1].answer_ns = 1700000005300000000LL; /* no longer the last written: stays */
	add_req(f, 1700000012100000000LL, 0);
	assert_int_equal(cid_store_put_flow(s, 1, f, NULL), 0);
	f->reqs[3].answer_ns = 1700000012400000000LL;
	assert_int_equal(cid_store_put_flow(s, 1, f, NULL), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM request WHERE answer_us IS NULL"), 1);
	assert_int_equal(query_int(db, "SELECT answer_us FROM request WHERE ts_us = 1700000012100000"),
			 1700000012400000LL);
	cid_store_free(s);
	free_flow(f);
}

/* --retain: flows that ended before the limit go with what hangs on them;
 * open flows and later ones stay; a pass takes at most max_flows. */
static void test_expire(void **state)
{
	struct fx *x = *state;
	struct cid_store *s = open_rw(x);
	sqlite3 *db = cid_store_db(s);
	struct cid_flow *f[4];
	const int64_t at[4] = {1000, 1100, 1200, 5000}; /* seconds */
	static const struct {
		const char *sql, *want;
	} left[] = {
		{"SELECT group_concat(id) FROM (SELECT id FROM flow ORDER BY id)", "3,4"},
		{"SELECT group_concat(flow_id) FROM (SELECT flow_id FROM tls ORDER BY 1)", "3,4"},
		{"SELECT group_concat(flow_id) FROM (SELECT flow_id FROM request ORDER BY 1)", "3,4"},
		{"SELECT group_concat(flow_id) FROM owner", "4"},
		{"SELECT group_concat(flow_id) FROM http", "4"},
		{"SELECT group_concat(inner_flow_id || '>' || outer_flow_id) FROM nat_link", "4>3"},
		{"SELECT group_concat(qname) FROM dns", "new"},
		{"PRAGMA integrity_check", "ok"},
	};
	uint64_t gone = 99;
	for (int i = 0; i < 4; i++) {
		f[i] = new_flow("10.0.0.10", (uint16_t)(40000 + i), "10.0.1.5", 443, at[i] * 1000000000LL);
		add_req(f[i], at[i] * 1000000000LL + 100, 0);
		add_tls(f[i], "ec2.us-east-1.amazonaws.com", 27);
		f[i]->end_reason = i == 2 ? CID_END_NONE : CID_END_FIN; /* flow 3 is still open */
		assert_int_equal(cid_store_put_flow(s, 1, f[i], NULL), 0);
	}
	assert_int_equal(cid_store_flush(s), 0);
	assert_int_equal(sqlite3_exec(db,
				      "INSERT INTO owner(flow_id, pid) VALUES(1, 11), (4, 44);"
				      "INSERT INTO http(flow_id, ts_us) VALUES(2, 1100000000), (4, 5000000000);"
				      "INSERT INTO nat_link(inner_flow_id, outer_flow_id, method) VALUES(2, 1, 'x'), (4, 3, 'x');"
				      "INSERT INTO dns(ts_us, qname) VALUES(900000000, 'old'), (6000000000, 'new');",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	/* a limit of 3000 s: flows 1 and 2 ended before it; 3 is open */
	assert_int_equal(cid_store_expire(s, 3000000000LL, 1, &gone), 0);
	assert_int_equal(gone, 1); /* one per pass */
	assert_int_equal(cid_store_expire(s, 3000000000LL, 100, &gone), 0);
	assert_int_equal(gone, 1);
	assert_int_equal(cid_store_expire(s, 3000000000LL, 100, &gone), 0);
	assert_int_equal(gone, 0);
	assert_int_equal(cid_store_flush(s), 0);
	for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
		char got[64];
		query_text(db, left[i].sql, got, sizeof(got));
		if (strcmp(got, left[i].want))
			fail_msg("%s: '%s', want '%s'", left[i].sql, got, left[i].want);
	}
	cid_store_free(s);
	for (int i = 0; i < 4; i++)
		free_flow(f[i]);
}

/* A rewrite that would store the same values runs no UPDATE (a live
 * capture puts open flows every second and each again as it ends); a
 * change to any column the update binds does. */
static void test_unchanged_rewrite_skipped(void **state)
{
	struct fx *x = *state;
	struct cid_store *s = open_rw(x);
	sqlite3 *db = cid_store_db(s);
	struct cid_flow *f = new_flow("10.0.0.10", 40003, "10.0.1.5", 443, 1700000003000000000LL);
	int changes;
	add_req(f, 1700000003100000000LL, 0);
	assert_int_equal(cid_store_put_flow(s, 1, f, "eth0"), 0);
	changes = sqlite3_total_changes(db);
	assert_int_equal(cid_store_put_flow(s, 1, f, "eth0"), 0);
	assert_int_equal(sqlite3_total_changes(db), changes);
	for (int k = 0; k < 12; k++) {
		switch (k) {
		case 0: f->last_ns += 1000; break;
		case 1: f->direction_guessed = !f->direction_guessed; break;
		case 2: f->c2s_pkts++; break;
		case 3: f->c2s_bytes++; break;
		case 4: f->s2c_pkts++; break;
		case 5: f->s2c_bytes++; break;
		case 6: f->syn_seq++; break;
		case 7: f->end_reason = CID_END_RST; break;
		case 8: f->mid_stream = !f->mid_stream; break;
		case 9: f->dup_pkts++; break;
		case 10: f->reqs_dropped++; break;
		default: break; /* the interfaces, below */
		}
		changes = sqlite3_total_changes(db);
		assert_int_equal(cid_store_put_flow(s, 1, f, k == 11 ? "eth0,veth9" : "eth0"), 0);
		print_message("# column %d\n", k);
		assert_int_equal(sqlite3_total_changes(db), changes + 1);
	}
	assert_int_equal(query_int(db, "SELECT c2s_pkts + s2c_pkts + dup_pkts + reqs_dropped FROM flow"),
			 (int64_t)(f->c2s_pkts + f->s2c_pkts + f->dup_pkts + f->reqs_dropped));
	/* the open burst: unchanged, no UPDATE; its answer, one */
	changes = sqlite3_total_changes(db);
	assert_int_equal(cid_store_put_flow(s, 1, f, "eth0,veth9"), 0);
	assert_int_equal(sqlite3_total_changes(db), changes);
	f->reqs[0].answer_ns = 1700000003300000000LL;
	assert_int_equal(cid_store_put_flow(s, 1, f, "eth0,veth9"), 0);
	assert_int_equal(sqlite3_total_changes(db), changes + 1);
	assert_int_equal(query_int(db, "SELECT answer_us FROM request"), 1700000003300000LL);
	cid_store_free(s);
	free_flow(f);
}

/* TLS 1.2: the group comes from the ServerKeyExchange, after the
 * ServerHello. A live flow is put every second; its tls row must be
 * rewritten once the curve is known, and a TLS 1.3 key_share still wins. */
static void test_tls12_group_rewrite(void **state)
{
	struct fx *x = *state;
	struct cid_store *s = open_rw(x);
	sqlite3 *db = cid_store_db(s);
	struct cid_flow *f = new_flow("10.0.0.10", 40003, "10.0.1.5", 443, 1700000003000000000LL);
	char buf[128];
	add_tls(f, "ec2.us-east-1.amazonaws.com", 27);
	f->tls->sh.num_versions = 0;     /* TLS 1.2: legacy_version names it */
	f->tls->sh.ciphers[0] = 0xc02f;
	f->tls->sh.num_key_share = 0;
	assert_int_equal(cid_store_put_flow(s, 0, f, NULL), 0);
	query_text(db, "SELECT version || ' ' || cipher FROM tls", buf, sizeof(buf));
	assert_string_equal(buf, "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256");
	assert_int_equal(query_int(db, "SELECT \"group\" IS NULL AND group_code IS NULL FROM tls"), 1);
	/* the ServerKeyExchange arrives: the next put rewrites the row */
	f->tls->ske_group = 0x0017;
	f->tls->have_ske_group = true;
	assert_int_equal(cid_store_put_flow(s, 0, f, NULL), 0);
	query_text(db, "SELECT \"group\" FROM tls", buf, sizeof(buf));
	assert_string_equal(buf, "secp256r1");
	assert_int_equal(query_int(db, "SELECT group_code FROM tls"), 0x0017);
	assert_int_equal(query_int(db, "SELECT count(*) FROM tls"), 1);
	/* a key_share (TLS 1.3) is the group whatever else is set */
	f->tls->sh.key_share[0] = 0x11ec;
	f->tls->sh.num_key_share = 1;
	f->tls_written = false;
	assert_int_equal(cid_store_put_flow(s, 0, f, NULL), 0);
	query_text(db, "SELECT \"group\" FROM tls", buf, sizeof(buf));
	assert_string_equal(buf, "X25519MLKEM768");
	cid_store_free(s);
	free_flow(f);
}

static void test_sni_bytes_round_trip(void **state)
{
	struct fx *x = *state;
	/* Quotes, SQL, control bytes, invalid UTF-8: every byte but NUL. */
	char sni[CID_TLS_MAX_NAME];
	size_t n = 0;
	const char *lead = "a'b\"c;-- DROP TABLE flow;\\";
	memcpy(sni, lead, strlen(lead));
	n = strlen(lead);
	for (unsigned b = 1; b < 256 && n < sizeof(sni) - 1; b += 3)
		sni[n++] = (char)b;
	sni[n] = '\0';
	struct cid_store *s = open_rw(x);
	struct cid_flow *f = new_flow("10.0.0.10", 40003, "10.0.1.5", 443, 1700000003000000000LL);
	add_tls(f, sni, n);
	assert_int_equal(cid_store_put_flow(s, 0, f, NULL), 0);
	assert_int_equal(cid_store_flush(s), 0);
	cid_store_free(s);

	s = cid_store_open(x->path, true, x->err, sizeof(x->err));
	assert_non_null(s);
	{
		sqlite3_stmt *st = NULL;
		assert_int_equal(sqlite3_prepare_v2(cid_store_db(s), "SELECT sni FROM tls", -1, &st, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_bytes(st, 0), n);
		assert_memory_equal(sqlite3_column_blob(st, 0), sni, n);
		sqlite3_finalize(st);
	}
	assert_int_equal(query_int(cid_store_db(s), "SELECT count(*) FROM flow"), 1);
	cid_store_free(s);
	free_flow(f);
}

static void test_batch_visible_after_flush(void **state)
{
	struct fx *x = *state;
	struct cid_store *s = open_rw(x);
	sqlite3 *other = raw_open(x->path);
	struct cid_flow *f = new_flow("10.0.0.10", 40004, "10.0.1.5", 443, 1700000004000000000LL);
	unsigned i;
	assert_int_equal(cid_store_put_flow(s, 0, f, NULL), 0);
	assert_int_equal(query_int(other, "SELECT count(*) FROM flow"), 0);
	assert_int_equal(cid_store_flush(s), 0);
	assert_int_equal(query_int(other, "SELECT count(*) FROM flow"), 1);
	/* Flush with nothing open is a no-op. */
	assert_int_equal(cid_store_flush(s), 0);

	/* A full batch commits by itself. */
	for (i = 0; i < CID_STORE_BATCH; i++) {
		f->db_id = 0;
		f->cport = (uint16_t)(1024 + i % 60000);
		assert_int_equal(cid_store_put_flow(s, 0, f, NULL), 0);
	}
	assert_int_equal(query_int(other, "SELECT count(*) FROM flow"), 1 + CID_STORE_BATCH);
	/* Rows written by other modules count through row_done. */
	assert_int_equal(cid_store_begin(s), 0);
	assert_int_equal(sqlite3_exec(cid_store_db(s), "INSERT INTO node(snapshot_us, name, internal_ip) VALUES(1, 'n', '10.0.0.1')",
				      NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(cid_store_row_done(s), 0);
	assert_int_equal(query_int(other, "SELECT count(*) FROM node"), 0);
	cid_store_free(s); /* commits */
	assert_int_equal(query_int(other, "SELECT count(*) FROM node"), 1);
	sqlite3_close(other);
	free_flow(f);
}

/* ---- `callerid flows` ----------------------------------------------------- */

/* Runs cid_cmd_flows with stdout captured into out; returns its status. */
static int run_flows(struct fx *x, char *out, size_t out_len, const char *a1, const char *a2,
		     const char *a3, const char *a4)
{
	char outpath[320];
	char *argv[12];
	int argc = 0, saved, fd, rc;
	ssize_t n;
	argv[argc++] = (char *)"flows";
	argv[argc++] = (char *)"--db";
	argv[argc++] = x->path;
	if (a1) argv[argc++] = (char *)a1;
	if (a2) argv[argc++] = (char *)a2;
	if (a3) argv[argc++] = (char *)a3;
	if (a4) argv[argc++] = (char *)a4;
	argv[argc] = NULL;
	snprintf(outpath, sizeof(outpath), "%s/out.txt", x->dir);
	fflush(stdout);
	saved = dup(1);
	fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 1);
	close(fd);
	rc = cid_cmd_flows(argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	fd = open(outpath, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, out, out_len - 1);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	return rc;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Whether a thread of this process is named name (prctl PR_SET_NAME). */
static bool have_thread(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	bool found = false;
	while (d && !found && (e = readdir(d)) != NULL) {
		char p[300], comm[32] = "";
		FILE *fp;
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/self/task/%s/comm", e->d_name);
		fp = fopen(p, "r");
		if (fp && fgets(comm, sizeof(comm), fp))
			found = strncmp(comm, name, strlen(name)) == 0 && comm[strlen(name)] == '\n';
		if (fp)
			fclose(fp);
	}
	if (d)
		closedir(d);
	return found;
}

static off_t file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* Checkpoints on their own thread: it starts at once on a new database,
 * backfills the file while the writer goes on, keeps the log bounded
 * (the writer restarts it past the hard limit), loses nothing, and stops
 * with the store. */
static void test_checkpointer(void **state)
{
	struct fx *x = *state;
	struct cid_store *s = open_rw(x);
	sqlite3 *db = cid_store_db(s);
	char wal[320];
	off_t empty, max_wal = 0;
	struct cid_flow *f = new_flow("10.0.0.10", 40004, "10.0.1.5", 443, 1700000004000000000LL);
	snprintf(wal, sizeof(wal), "%s-wal", x->path);
	assert_int_equal(sqlite3_exec(db, "PRAGMA wal_autocheckpoint = 20", NULL, NULL, NULL), SQLITE_OK);
	assert_false(have_thread("cid-ckpt"));
	cid_store_ckpt_begin(s);
	assert_true(have_thread("cid-ckpt"));
	empty = file_size(x->path);
	assert_true(empty >= 512); /* the schema is in the file, not only the log */
	for (unsigned i = 0; i < 20000; i++) {
		f->db_id = 0;
		f->cport = (uint16_t)(1024 + i % 60000);
		f->first_ns += 1000;
		assert_int_equal(cid_store_put_flow(s, 0, f, NULL), 0);
		if (i % 500 == 499) {
			off_t w = file_size(wal);
			assert_int_equal(cid_store_flush(s), 0);
			if (w > max_wal)
				max_wal = w;
		}
	}
	assert_int_equal(cid_store_flush(s), 0);
	usleep(200000);
	/* the thread has backfilled: the file holds most of the rows */
	assert_true(file_size(x->path) > empty + 1000000);
	/* bounded: 8 x 20 frames of 4 KiB, plus one batch's frames */
	assert_true(max_wal < 8 * 20 * 4200 + 4000000);
	cid_store_ckpt_end(s);
	assert_false(have_thread("cid-ckpt"));
	cid_store_ckpt_end(s); /* twice is harmless */
	cid_store_free(s);
	s = open_rw(x);
	assert_int_equal(query_int(cid_store_db(s), "SELECT count(*) FROM flow"), 20000);
	assert_int_equal(query_int(cid_store_db(s), "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'"), 0);
	cid_store_free(s);
	free_flow(f);
}

static void test_checkpointer_not_wal(void **state)
{
	sqlite3 *db = NULL;
	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_null(cid_ckpt_begin(db));
	cid_ckpt_end(NULL);
	cid_ckpt_committed(NULL);
	sqlite3_close(db);
}

static void test_flows_listing(void **state)
{
	struct fx *x = *state;
	struct cid_store *s = open_rw(x);
	struct cid_flow *a = new_flow("10.0.0.10", 40010, "10.0.1.5", 443, 1700000010000000000LL);
	struct cid_flow *b = new_flow("2001:db8::7", 40011, "2001:db8::443", 443, 1700000011000000000LL);
	struct cid_flow *c = new_flow("10.0.0.11", 5353, "10.0.0.2", 53, 1700000012000000000LL);
	static char out[65536];
	c->proto = 17;
	add_tls(a, "ec2.us-east-1.amazonaws.com", 27);
	add_tls(b, "STS.Amazonaws.com", 17);
	add_req(a, 1700000010100000000LL, 1700000010200000000LL);
	add_req(a, 1700000010900000000LL, 1700000011000000000LL);
	assert_int_equal(cid_store_put_flow(s, 0, a, NULL), 0);
	assert_int_equal(cid_store_put_flow(s, 0, b, NULL), 0);
	assert_int_equal(cid_store_put_flow(s, 0, c, NULL), 0);
	cid_store_free(s);

	assert_int_equal(run_flows(x, out, sizeof(out), "--format", "json", NULL, NULL), 0);
	assert_int_equal(count_lines(out), 3);
	assert_non_null(strstr(out, "\"client\":\"10.0.0.10:40010\""));
	assert_non_null(strstr(out, "\"server\":\"[2001:db8::443]:443\""));
	assert_non_null(strstr(out, "\"requests\":2"));
	assert_non_null(strstr(out, "\"proto\":\"udp\""));
	assert_non_null(strstr(out, "\"version\":\"TLSv1.3\""));
	/* Ordered by first time. */
	assert_true(strstr(out, "40010") < strstr(out, "40011"));
	assert_true(strstr(out, "40011") < strstr(out, "5353"));

	assert_int_equal(run_flows(x, out, sizeof(out), "--format", "json", "--sni", "*AMAZONAWS.com"), 0);
	assert_int_equal(count_lines(out), 2);
	assert_int_equal(run_flows(x, out, sizeof(out), "--format", "json", "--sni", "sts.*"), 0);
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, "STS.Amazonaws.com"));
	assert_int_equal(run_flows(x, out, sizeof(out), "--format", "json", "--tls-only", NULL), 0);
	assert_int_equal(count_lines(out), 2);
	assert_int_equal(run_flows(x, out, sizeof(out), "--format", "json", "--server", "2001:DB8:0::443"), 0);
	assert_int_equal(count_lines(out), 1);
	assert_int_equal(run_flows(x, out, sizeof(out), "--format", "json", "--client", "10.0.0.11"), 0);
	assert_int_equal(count_lines(out), 1);
	assert_int_equal(run_flows(x, out, sizeof(out), "--format", "json", "--limit", "1"), 0);
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, "40010"));
	/* b lasts until ...13.5 s: --since 13 keeps b and c, --until 11 keeps a and b. */
	assert_int_equal(run_flows(x, out, sizeof(out), "--format", "json", "--since", "1700000013"), 0);
	assert_int_equal(count_lines(out), 2);
	assert_int_equal(run_flows(x, out, sizeof(out), "--format", "json", "--until",
				   "2023-11-14T22:13:31Z"), 0);
	assert_int_equal(count_lines(out), 2);
	assert_int_equal(run_flows(x, out, sizeof(out), "--format", "csv", NULL, NULL), 0);
	assert_int_equal(count_lines(out), 4); /* header + 3 */
	assert_true(strncmp(out, "id,first,client,server,proto,sni,version,cipher,group,alpn,ja3_hash,ja4,"
				 "requests,c2s_bytes,s2c_bytes,end", 94) == 0);

	/* Usage errors: 2; runtime errors: 1; --help: 0. */
	assert_int_equal(run_flows(x, out, sizeof(out), "--format", "xml", NULL, NULL), 2);
	assert_int_equal(run_flows(x, out, sizeof(out), "--limit", "-3", NULL, NULL), 2);
	assert_int_equal(run_flows(x, out, sizeof(out), "--server", "not-an-ip", NULL, NULL), 2);
	assert_int_equal(run_flows(x, out, sizeof(out), "--since", "yesterday", NULL, NULL), 2);
	assert_int_equal(run_flows(x, out, sizeof(out), "--bogus", NULL, NULL, NULL), 2);
	assert_int_equal(run_flows(x, out, sizeof(out), "extra", NULL, NULL, NULL), 2);
	assert_int_equal(run_flows(x, out, sizeof(out), "--sni", NULL, NULL, NULL), 2);
	assert_int_equal(run_flows(x, out, sizeof(out), "--help", NULL, NULL, NULL), 0);
	assert_non_null(strstr(out, "usage: callerid flows"));
	unlink(x->path);
	assert_int_equal(run_flows(x, out, sizeof(out), NULL, NULL, NULL, NULL), 1);
	free_flow(a);
	free_flow(b);
	free_flow(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_migrate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_0600, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_newer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_failure_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_not_sqlite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_missing_or_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_flow_insert_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_rewrite_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls12_group_rewrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sni_bytes_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_visible_after_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpointer, setup, teardown),
		cmocka_unit_test(test_checkpointer_not_wal),
		cmocka_unit_test_setup_teardown(test_flows_listing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
