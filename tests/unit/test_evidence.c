/*
 * test_evidence.c - the http and dns writers: rows as documented, answers
 * as valid JSON, and no credential byte anywhere in the database file.
 *
 * The HTTP vectors are the botocore-like keep-alive connection of
 * test_http.c (token PUT, role list, the role's credentials) against a
 * python IMDS stand-in whose answers carry "SECRET" / "ASIAFAKE" marks.
 * The DNS vector is foxio-ja4/pcap/latest.pcapng frame 71.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "callerid/evidence.h"

static const char v_c2s_3[] =
	"505554202f6c61746573742f6170692f746f6b656e20485454502f312e310d0a486f73743a203132372e302e302e313a"
	"31383038300d0a4163636570742d456e636f64696e673a206964656e746974790d0a436f6e74656e742d4c656e677468"
	"3a20300d0a782d6177732d6563322d6d657461646174612d746f6b656e2d74746c2d7365636f6e64733a203231363030"
	"0d0a557365722d4167656e743a20426f746f636f72652f312e33342e3020507974686f6e2f332e31312e32204c696e75"
	"782f362e312e300d0a0d0a474554202f6c61746573742f6d6574612d646174612f69616d2f73656375726974792d6372"
	"6564656e7469616c732f20485454502f312e310d0a486f73743a203132372e302e302e313a31383038300d0a41636365"
	"70742d456e636f64696e673a206964656e746974790d0a782d6177732d6563322d6d657461646174612d746f6b656e3a"
	"20415141454146616b65546f6b656e534543524554544f4b454e3d3d0d0a557365722d4167656e743a20426f746f636f"
	"72652f312e33342e3020507974686f6e2f332e31312e32204c696e75782f362e312e300d0a0d0a474554202f6c617465"
	"73742f6d6574612d646174612f69616d2f73656375726974792d63726564656e7469616c732f656b732d6e6f64652d72"
	"6f6c6520485454502f312e310d0a486f73743a203132372e302e302e313a31383038300d0a4163636570742d456e636f"
	"64696e673a206964656e746974790d0a782d6177732d6563322d6d657461646174612d746f6b656e3a20415141454146"
	"616b65546f6b656e534543524554544f4b454e3d3d0d0a557365722d4167656e743a20426f746f636f72652f312e3334"
	"2e3020507974686f6e2f332e31312e32204c696e75782f362e312e300d0a0d0a";
static const char v_s2c_3[] =
	"485454502f312e3120323030204f4b0d0a5365727665723a2042617365485454502f302e3620507974686f6e2f332e31"
	"312e370d0a446174653a205468752c203236204e6f7620323032362032333a30333a343420474d540d0a436f6e74656e"
	"742d547970653a20746578742f706c61696e0d0a436f6e74656e742d4c656e6774683a2032370d0a0d0a415141454146"
	"616b65546f6b656e534543524554544f4b454e3d3d485454502f312e3120323030204f4b0d0a5365727665723a204261"
	"7365485454502f302e3620507974686f6e2f332e31312e370d0a446174653a205468752c203236204e6f762032303236"
	"2032333a30333a343420474d540d0a436f6e74656e742d547970653a20746578742f706c61696e0d0a436f6e74656e74"
	"2d4c656e6774683a2031330d0a0d0a656b732d6e6f64652d726f6c65485454502f312e3120323030204f4b0d0a536572"
	"7665723a2042617365485454502f302e3620507974686f6e2f332e31312e370d0a446174653a205468752c203236204e"
	"6f7620323032362032333a30333a343420474d540d0a436f6e74656e742d547970653a206170706c69636174696f6e2f"
	"6a736f6e0d0a436f6e74656e742d4c656e6774683a203137320d0a0d0a7b22436f6465223a202253756363657373222c"
	"20224163636573734b65794964223a20224153494146414b454b455949443132333435222c2022536563726574416363"
	"6573734b6579223a2022534543524554534543524554534543524554534543524554222c2022546f6b656e223a202253"
	"455353494f4e544f4b454e534543524554222c202245787069726174696f6e223a2022323032362d31312d3237543035"
	"3a30303a30305a227d";
static const char v_latest_71[] =
	"d6d98180000100050000000009646973636f766572790363656d05636c6f75640275730000010001c00c000500010000"
	"000a001f0e643268356f6b6a7a39383735696e0a636c6f756466726f6e74036e657400c034000100010000003c00040d"
	"21a565c034000100010000003c00040d21a527c034000100010000003c00040d21a529c034000100010000003c00040d"
	"21a548";

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
	snprintf(x->dir, sizeof(x->dir), "%s/evidence.XXXXXX", root && *root ? root : "/tmp");
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

static size_t unhex(uint8_t **out, const char *hex)
{
	size_t n = strlen(hex) / 2;
	uint8_t *p = malloc(n ? n : 1);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		char two[3] = {hex[2 * i], hex[2 * i + 1], 0};
		p[i] = (uint8_t)strtoul(two, NULL, 16);
	}
	*out = p;
	return n;
}

/* true when the file holds needle anywhere */
static bool file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	static char buf[1 << 20];
	size_t n, k = strlen(needle);
	bool found = false;
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	for (size_t i = 0; i + k <= n && !found; i++)
		found = memcmp(buf + i, needle, k) == 0;
	return found;
}

static int64_t q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -2 : sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static char *q_text(sqlite3 *db, const char *sql)
{
	static char out[4096];
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	snprintf(out, sizeof(out), "(none)");
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(out, sizeof(out), "%s", t ? (const char *)t : "(null)");
	}
	sqlite3_finalize(st);
	return out;
}

static void test_http_rows(void **state)
{
	struct fx *x = *state;
	struct cid_store *s = cid_store_open(x->path, false, x->err, sizeof(x->err));
	struct cid_evidence *e;
	struct cid_http_conn *c = cid_http_conn_new();
	struct cid_http_rec r;
	uint8_t *c2s, *s2c;
	size_t c2s_len = unhex(&c2s, v_c2s_3), s2c_len = unhex(&s2c, v_s2c_3);
	char wal[400];
	sqlite3 *db;
	int rows = 0;

	assert_non_null(s);
	e = cid_evidence_new(s, x->err, sizeof(x->err));
	assert_non_null(e);
	/* the stream as the flow engine would hand it over, in segments */
	for (size_t off = 0; off < c2s_len || off < s2c_len; off += 100) {
		if (off < c2s_len)
			cid_http_conn_feed(c, 0, 1700000000000000000LL + (int64_t)off * 1000, c2s + off,
					   c2s_len - off < 100 ? c2s_len - off : 100);
		while (cid_http_conn_next(c, &r)) {
			assert_int_equal(cid_evidence_put_http(e, 7, &r), 0);
			rows++;
		}
		if (off < s2c_len)
			cid_http_conn_feed(c, 1, 1700000000000000000LL + (int64_t)off * 1000 + 500, s2c + off,
					   s2c_len - off < 100 ? s2c_len - off : 100);
		while (cid_http_conn_next(c, &r)) {
			assert_int_equal(cid_evidence_put_http(e, 7, &r), 0);
			rows++;
		}
	}
	cid_http_conn_finish(c);
	while (cid_http_conn_next(c, &r)) {
		assert_int_equal(cid_evidence_put_http(e, 7, &r), 0);
		rows++;
	}
	assert_int_equal(rows, 3);
	/* a broken stream is a row too */
	cid_http_conn_free(c);
	c = cid_http_conn_new();
	assert_int_equal(cid_http_conn_feed(c, 0, 5000, (const uint8_t *)"\x16\x03\x01", 3), CID_MALFORMED);
	assert_true(cid_http_conn_next(c, &r));
	assert_int_equal(cid_evidence_put_http(e, 8, &r), 0);
	cid_http_conn_free(c);

	db = cid_store_db(s);
	assert_int_equal(cid_store_flush(s), 0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM http"), 4);
	assert_string_equal(q_text(db, "SELECT group_concat(method || ' ' || imds_kind || ' ' || status || ' ' ||"
				       " imdsv, ';') FROM http WHERE flow_id = 7 ORDER BY rowid"),
			    "PUT token 200 2;GET role-list 200 2;GET credentials 200 2");
	assert_string_equal(q_text(db, "SELECT role_name FROM http WHERE imds_kind = 'credentials'"), "eks-node-role");
	assert_int_equal(q_int(db, "SELECT token_ttl FROM http WHERE method = 'PUT'"), 21600);
	assert_int_equal(q_int(db, "SELECT token_ttl FROM http WHERE imds_kind = 'credentials'"), -2);
	assert_int_equal(q_int(db, "SELECT sum(imds_token) FROM http WHERE flow_id = 7"), 2);
	assert_string_equal(q_text(db, "SELECT DISTINCT user_agent FROM http WHERE flow_id = 7"),
			    "Botocore/1.34.0 Python/3.11.2 Linux/6.1.0");
	assert_string_equal(q_text(db, "SELECT host FROM http LIMIT 1"), "127.0.0.1:18080");
	assert_int_equal(q_int(db, "SELECT ts_us FROM http WHERE method = 'PUT'"), 1700000000000000LL);
	assert_true(q_int(db, "SELECT count(*) FROM http WHERE answer_us IS NOT NULL") == 3);
	assert_string_equal(q_text(db, "SELECT parse_error FROM http WHERE flow_id = 8"),
			    "request: not an HTTP request (invalid byte in the method)");
	assert_int_equal(q_int(db, "SELECT method IS NULL FROM http WHERE flow_id = 8"), 1);
	cid_evidence_free(e);
	cid_store_free(s);

	/* no body byte anywhere: not in the database, not in a WAL left behind */
	assert_false(file_contains(x->path, "SECRET"));
	assert_false(file_contains(x->path, "ASIAFAKE"));
	assert_false(file_contains(x->path, "AQAEAFakeToken")); /* the token PUT's answer */
	snprintf(wal, sizeof(wal), "%s-wal", x->path);
	assert_false(file_contains(wal, "SECRET"));
	/* ...while what should be there is */
	assert_true(file_contains(x->path, "eks-node-role"));
	free(c2s);
	free(s2c);
}

static void test_dns_rows(void **state)
{
	struct fx *x = *state;
	struct cid_store *s = cid_store_open(x->path, false, x->err, sizeof(x->err));
	struct cid_evidence *e;
	static struct cid_dns_msg m;
	struct cid_dns_seen w;
	uint8_t *p;
	size_t n = unhex(&p, v_latest_71);
	const char *why;
	sqlite3 *db;

	assert_non_null(s);
	e = cid_evidence_new(s, x->err, sizeof(x->err));
	assert_non_null(e);
	memset(&w, 0, sizeof(w));
	w.ts_ns = 1700000000123456789LL;
	w.proto = 17;
	assert_true(cid_addr_parse(&w.client, "10.0.0.5"));
	assert_true(cid_addr_parse(&w.server, "10.0.0.2"));
	w.client_port = 40000;
	w.server_port = 53;
	assert_int_equal(cid_dns_parse(&m, &why, p, n), CID_OK);
	assert_int_equal(cid_evidence_put_dns(e, &w, &m, CID_OK, why), 0);
	/* the query alone (header bits: QR clear) */
	{
		uint8_t q[64];
		size_t qn = 12 + 24 + 4;
		memcpy(q, p, qn);
		q[2] = 0x01;
		q[3] = 0x00;
		q[6] = q[7] = 0;
		assert_int_equal(cid_dns_parse(&m, &why, q, qn), CID_OK);
		w.ts_ns -= 1000;
		assert_int_equal(cid_evidence_put_dns(e, &w, &m, CID_OK, why), 0);
	}
	/* a malformed one */
	p[12] = 0x41;
	assert_int_equal(cid_dns_parse(&m, &why, p, n), CID_MALFORMED);
	w.flow_id = 3;
	w.proto = 6;
	assert_int_equal(cid_evidence_put_dns(e, &w, &m, CID_MALFORMED, why), 0);
	assert_int_equal(cid_store_flush(s), 0);

	db = cid_store_db(s);
	assert_int_equal(q_int(db, "SELECT count(*) FROM dns"), 3);
	assert_string_equal(q_text(db, "SELECT qname FROM dns WHERE response = 1"), "discovery.cem.cloud.us");
	assert_int_equal(q_int(db, "SELECT ts_us FROM dns WHERE response = 1"), 1700000000123456LL);
	assert_int_equal(q_int(db, "SELECT json_valid(answers) FROM dns WHERE response = 1"), 1);
	assert_int_equal(q_int(db, "SELECT json_array_length(answers) FROM dns WHERE response = 1"), 5);
	assert_string_equal(q_text(db, "SELECT json_extract(answers, '$[0].data') FROM dns WHERE response = 1"),
			    "d2h5okjz9875in.cloudfront.net");
	assert_string_equal(q_text(db, "SELECT json_extract(answers, '$[0].type') || json_extract(answers, '$[4].ttl')"
				       " FROM dns WHERE response = 1"),
			    "CNAME60");
	/* the join the correlator makes: server address -> the name asked for */
	assert_string_equal(q_text(db, "SELECT d.qname FROM dns d, json_each(d.answers) j"
				       " WHERE json_extract(j.value, '$.data') = '13.33.165.41'"
				       " AND json_extract(j.value, '$.chain')"),
			    "discovery.cem.cloud.us");
	assert_string_equal(q_text(db, "SELECT client_ip || ':' || client_port || ' ' || server_ip || ':' ||"
				       " server_port || ' ' || proto || ' ' || txid || ' ' || flags FROM dns"
				       " WHERE response = 1"),
			    "10.0.0.5:40000 10.0.0.2:53 17 55001 33152");
	assert_int_equal(q_int(db, "SELECT answers FROM dns WHERE response = 0"), -2);
	assert_int_equal(q_int(db, "SELECT qtype FROM dns WHERE response = 0"), 1);
	assert_string_equal(q_text(db, "SELECT parse_error FROM dns WHERE flow_id = 3"),
			    "malformed: label longer than 63 octets (reserved label type)");
	assert_int_equal(q_int(db, "SELECT qname IS NULL AND response IS NULL FROM dns WHERE flow_id = 3"), 1);
	cid_evidence_free(e);
	cid_store_free(s);
	free(p);
}

/* Rows made ahead (the flow queue's way, cid_dns_row_make) store exactly
 * what the direct writer stores: an answer, a query, a malformed one. */
static void test_dns_rows_made(void **state)
{
	struct fx *x = *state;
	struct cid_store *s = cid_store_open(x->path, false, x->err, sizeof(x->err));
	struct cid_evidence *e;
	static struct cid_dns_msg m;
	struct cid_buf b;
	struct cid_dns_seen w;
	struct cid_dns_raw raw[3];
	uint8_t *p, q[64], *bad;
	size_t n = unhex(&p, v_latest_71);
	const char *cols = "ts_us, qname, qtype, rcode, answers, txid, response, flags, parse_error";
	char sql[512];
	sqlite3 *db;

	assert_non_null(s);
	e = cid_evidence_new(s, x->err, sizeof(x->err));
	assert_non_null(e);
	memcpy(q, p, 40);
	q[2] = 0x01;
	q[3] = 0x00;
	q[6] = q[7] = 0;
	bad = malloc(n);
	assert_non_null(bad);
	memcpy(bad, p, n);
	bad[12] = 0x41;
	raw[0] = (struct cid_dns_raw){.ts_ns = 1000000000, .dir = 1, .len = (uint16_t)n, .bytes = p};
	raw[1] = (struct cid_dns_raw){.ts_ns = 2000000000, .dir = 0, .len = 40, .bytes = q};
	raw[2] = (struct cid_dns_raw){.ts_ns = 3000000000, .dir = 1, .len = (uint16_t)n, .bytes = bad};
	memset(&w, 0, sizeof(w));
	w.proto = 17;
	assert_true(cid_addr_parse(&w.client, "10.0.0.5"));
	assert_true(cid_addr_parse(&w.server, "10.0.0.2"));
	cid_buf_init(&b, CID_DNS_ROW_CAP);
	for (int i = 0; i < 3; i++) {
		struct cid_dns_row r;
		w.ts_ns = raw[i].ts_ns;
		w.flow_id = 1;
		assert_int_equal(cid_evidence_put_dns_raw(e, &w, &m, &raw[i]), 0);
		assert_int_equal(cid_dns_row_make(&r, &m, &b, &raw[i]), 0);
		memset(m.qname.text, 'x', m.qname.len); /* the row owns its text */
		w.flow_id = 2;
		assert_int_equal(cid_evidence_put_dns_row(e, &w, &r), 0);
		cid_dns_row_free(&r);
	}
	cid_buf_cleanup(&b);
	assert_int_equal(cid_store_flush(s), 0);
	db = cid_store_db(s);
	assert_int_equal(q_int(db, "SELECT count(*) FROM dns WHERE flow_id = 2"), 3);
	assert_int_equal(q_int(db, "SELECT count(*) FROM dns WHERE flow_id = 2 AND parse_error IS NOT NULL"), 1);
	assert_int_equal(q_int(db, "SELECT count(*) FROM dns WHERE flow_id = 2 AND json_array_length(answers) = 5"), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM (SELECT %s FROM dns WHERE flow_id = 1 EXCEPT SELECT %s FROM dns WHERE flow_id = 2)", cols, cols);
	assert_int_equal(q_int(db, sql), 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM (SELECT %s FROM dns WHERE flow_id = 2 EXCEPT SELECT %s FROM dns WHERE flow_id = 1)", cols, cols);
	assert_int_equal(q_int(db, sql), 0);
	cid_evidence_free(e);
	cid_store_free(s);
	free(bad);
	free(p);
}

/* Names with quotes, control and non-UTF-8 bytes still make valid JSON. */
static void test_answers_json(void **state)
{
	static struct cid_dns_msg m;
	struct cid_buf b;
	(void)state;
	memset(&m, 0, sizeof(m));
	m.num_answers = 2;
	m.answers[0].type = CID_DNS_TYPE_CNAME;
	memcpy(m.answers[0].name.text, "a\"b\\c", 6);
	m.answers[0].name.len = 5;
	memcpy(m.answers[0].target.text, "\xff\x01z", 4);
	m.answers[0].target.len = 3;
	m.answers[0].on_chain = true;
	m.answers[1].type = CID_DNS_TYPE_AAAA;
	assert_true(cid_addr_parse(&m.answers[1].addr, "2001:db8::1"));
	m.answers[1].ttl = 4294967295u;
	cid_buf_init(&b, 65536);
	cid_evidence_dns_answers_json(&b, &m);
	assert_string_equal(cid_buf_str(&b),
			    "[{\"name\":\"a\\\"b\\\\c\",\"type\":\"CNAME\",\"ttl\":0,\"data\":\"\\u00ff\\u0001z\","
			    "\"chain\":true},{\"name\":\"\",\"type\":\"AAAA\",\"ttl\":4294967295,"
			    "\"data\":\"2001:db8::1\",\"chain\":false}]");
	cid_buf_reset(&b);
	m.num_answers = 0;
	cid_evidence_dns_answers_json(&b, &m);
	assert_string_equal(cid_buf_str(&b), "[]");
	cid_buf_cleanup(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_http_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dns_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dns_rows_made, setup, teardown),
		cmocka_unit_test(test_answers_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
