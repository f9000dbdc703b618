/*
 * Unit tests for CloudTrail ingestion: the splitter (all formats, every
 * prefix), eventTime parsing, requestParameters shapes, and the loader
 * over a real store (dedupe, per-record errors, filters).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "callerid/ingest.h"
#include "callerid/store.h"

struct got {
	size_t n, bad;
	enum cid_ct_src src[16];
	char text[16][128];
};

static void on_rec(void *ctx, enum cid_ct_src src, size_t index, const uint8_t *p, size_t n)
{
	struct got *g = ctx;
	(void)index;
	if (g->n < 16) {
		g->src[g->n] = src;
		snprintf(g->text[g->n], sizeof(g->text[0]), "%.*s", (int)n, (const char *)p);
	}
	g->n++;
}

static void on_bad(void *ctx, size_t index, size_t off, const char *reason)
{
	struct got *g = ctx;
	(void)index;
	(void)off;
	(void)reason;
	g->bad++;
}

static enum cid_status split(const char *s, struct got *g, struct cid_ct_split_info *info)
{
	struct cid_ct_sink sink = {g, on_rec, on_bad};
	memset(g, 0, sizeof(*g));
	return cid_ct_split((const uint8_t *)s, strlen(s), &sink, info);
}

static const struct {
	const char *in;
	enum cid_status st;
	size_t n;
	enum cid_ct_src src;
	const char *first;
} split_cases[] = {
	{"{\"Records\":[{\"eventID\":\"a\"},{\"eventID\":\"b\\\"]}\"}]}", CID_OK, 2, CID_CT_SRC_RECORDS, "{\"eventID\":\"a\"}"},
	{" {\"Records\" : [ ] } ", CID_OK, 0, CID_CT_SRC_RECORDS, NULL},
	{"{\"Events\":[{\"CloudTrailEvent\":\"{}\"}],\"NextToken\":\"t\"}{\"Events\":[{\"x\":1}]}", CID_OK, 2, CID_CT_SRC_EVENTS, "{\"CloudTrailEvent\":\"{}\"}"},
	{"{\"eventID\":\"1\",\"eventTime\":\"t\"}\n{\"eventID\":\"2\"}\n", CID_OK, 2, CID_CT_SRC_LINE, "{\"eventID\":\"1\",\"eventTime\":\"t\"}"},
	{"[{\"eventID\":\"1\"},{\"eventID\":\"2\"}]", CID_OK, 2, CID_CT_SRC_ARRAY, "{\"eventID\":\"1\"}"},
	{"{\"digestStartTime\":\"x\",\"logFiles\":[]}", CID_OK, 0, CID_CT_SRC_RECORDS, NULL},
	{"{\"kind\":\"List\",\"items\":[]}", CID_UNSUPPORTED, 0, CID_CT_SRC_RECORDS, NULL},
	{"hello", CID_UNSUPPORTED, 0, CID_CT_SRC_RECORDS, NULL},
	{"{\"Records\":[{\"a\":[}]}", CID_MALFORMED, 0, CID_CT_SRC_RECORDS, NULL},
	{"{\"Records\":[{\"a\":1},{\"b\":", CID_TRUNCATED, 1, CID_CT_SRC_RECORDS, "{\"a\":1}"},
	{"{\"Records\":[{\"a\":1} {\"b\":2}]}", CID_MALFORMED, 1, CID_CT_SRC_RECORDS, "{\"a\":1}"},
	{"", CID_OK, 0, CID_CT_SRC_RECORDS, NULL},
};

static void test_split_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		struct got g;
		struct cid_ct_split_info info;
		enum cid_status st = split(split_cases[i].in, &g, &info);
		print_message("# case %zu\n", i);
		assert_int_equal(st, split_cases[i].st);
		assert_int_equal(g.n, split_cases[i].n);
		if (split_cases[i].first) {
			assert_int_equal(g.src[0], split_cases[i].src);
			assert_string_equal(g.text[0], split_cases[i].first);
		}
	}
}

static void test_split_lines_resync(void **state)
{
	struct got g;
	struct cid_ct_split_info info;
	(void)state;
	assert_int_equal(split("{\"eventID\":\"1\"}\n{\"eventID\": [\n{\"eventID\":\"3\"}\nxx\n", &g, &info), CID_OK);
	assert_true(info.lines);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.bad, 2);
	assert_string_equal(g.text[1], "{\"eventID\":\"3\"}");
}

/* Every prefix of a valid S3 file: no crash; never OK with fewer records
 * unless the prefix ends exactly after a complete top-level value. */
static void test_split_prefixes(void **state)
{
	const char *full = "{\"Records\":[{\"eventID\":\"a\",\"x\":[1,2,{\"y\":\"}\"}]},{\"eventID\":\"b\"}]}";
	size_t n = strlen(full);
	(void)state;
	for (size_t k = 0; k < n; k++) {
		struct got g;
		struct cid_ct_split_info info;
		struct cid_ct_sink sink = {&g, on_rec, on_bad};
		memset(&g, 0, sizeof(g));
		enum cid_status st = cid_ct_split((const uint8_t *)full, k, &sink, &info);
		if (k > 0)
			assert_int_not_equal(st, CID_OK);
		assert_true(g.n <= 2);
	}
}

static const struct {
	const char *in;
	enum cid_status st;
	int64_t us;
} time_cases[] = {
	{"2024-05-01T12:34:56Z", CID_OK, 1714566896000000},
	{"1970-01-01T00:00:00Z", CID_OK, 0},
	{"2024-02-29T00:00:00Z", CID_OK, 1709164800000000},
	{"2024-05-01T12:34:56.123456789Z", CID_OK, 1714566896123456},
	{"2024-05-01T12:34:56.5Z", CID_OK, 1714566896500000},
	{"2024-05-01T14:34:56+02:00", CID_OK, 1714566896000000},
	{"2024-05-01 12:34:56", CID_OK, 1714566896000000},
	{"2023-02-29T00:00:00Z", CID_MALFORMED, 0},
	{"2024-13-01T00:00:00Z", CID_MALFORMED, 0},
	{"2024-05-01T12:34:56ZZ", CID_MALFORMED, 0},
	{"2024-05-01T12:34:56.Z", CID_MALFORMED, 0},
	{"2024-5-01T12:34:56Z", CID_MALFORMED, 0},
	{"", CID_MALFORMED, 0},
};

static void test_time(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(time_cases) / sizeof(time_cases[0]); i++) {
		int64_t us = -1;
		const char *s = time_cases[i].in;
		print_message("# %s\n", s);
		assert_int_equal(cid_ct_parse_time(s, strlen(s), &us), time_cases[i].st);
		if (time_cases[i].st == CID_OK)
			assert_int_equal(us, time_cases[i].us);
	}
	/* every prefix of a valid time: no crash, and OK only where the
	 * prefix itself is a complete time (no zone = UTC) */
	const char *full = "2024-05-01T12:34:56.123Z";
	for (size_t k = 0; k < strlen(full); k++) {
		int64_t us;
		enum cid_status st = cid_ct_parse_time(full, k, &us);
		assert_true(st == CID_MALFORMED || k == 19 || k >= 21);
	}
}

static void test_shape(void **state)
{
	static const struct {
		const char *in, *out;
	} c[] = {
		{"{\"filterSet\":{\"items\":[{\"name\":\"resource-id\",\"valueSet\":{\"items\":[{\"value\":\"i-1\"}]}}]}}",
		 "{\"filterSet\":{\"items\":[{\"name\":\"string\",\"valueSet\":{\"items\":[{\"value\":\"string\"}]}}]}}"},
		{"{\"a\":[1,2,3],\"b\":true,\"c\":null,\"d\":-1.5e3}", "{\"a\":[\"number\"],\"b\":\"boolean\",\"c\":\"null\",\"d\":\"number\"}"},
		{"[\"x\",1,\"y\"]", "[\"string\",\"number\",\"string\"]"},
		{"\"s\"", "\"string\""},
		{"42", "\"number\""},
		{"{}", "{}"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct cid_buf b;
		cid_buf_init(&b, CID_CT_SHAPE_CAP);
		assert_int_equal(cid_ct_shape(&b, (const uint8_t *)c[i].in, strlen(c[i].in)), CID_OK);
		assert_string_equal(cid_buf_str(&b), c[i].out);
		cid_buf_cleanup(&b);
	}
	/* truncation sweep: no prefix of an object is OK */
	const char *full = c[0].in;
	for (size_t k = 0; k < strlen(full); k++) {
		struct cid_buf b;
		cid_buf_init(&b, CID_CT_SHAPE_CAP);
		assert_int_not_equal(cid_ct_shape(&b, (const uint8_t *)full, k), CID_OK);
		cid_buf_cleanup(&b);
	}
}

static const char rec_fmt[] =
	"{\"eventVersion\":\"1.09\",\"eventID\":\"%s\",\"eventTime\":\"%s\",\"eventName\":\"%s\","
	"\"eventSource\":\"ec2.amazonaws.com\",\"sourceIPAddress\":\"10.0.0.1\",\"readOnly\":true,"
	"\"userIdentity\":{\"type\":\"AssumedRole\",\"arn\":\"arn:aws:sts::1:assumed-role/r/i-1\"}}";

static void test_loader(void **state)
{
	char path[] = "/tmp/test_ingest.XXXXXX", db[64], err[256], buf[4096];
	const char *names[] = {"DescribeTags"};
	struct cid_ingest_opts o = {0};
	struct cid_store *s;
	struct cid_ingest *ig;
	int fd;
	(void)state;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	snprintf(db, sizeof(db), "%s", path);
	s = cid_store_open(db, false, err, sizeof(err));
	assert_non_null(s);
	o.names = names;
	o.num_names = 1;
	ig = cid_ingest_new(cid_store_db(s), &o, err, sizeof(err));
	assert_non_null(ig);

	int n = snprintf(buf, sizeof(buf), "{\"Records\":[");
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, rec_fmt, "e1", "2024-05-01T00:00:00Z", "DescribeTags");
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",");
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, rec_fmt, "e1", "2024-05-01T00:00:00Z", "DescribeTags");
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",");
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, rec_fmt, "e2", "2024-05-01T00:05:00Z", "GetObject");
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",{\"eventID\":7,\"eventTime\":\"2024-05-01T00:00:00Z\"},[1],{\"eventID\":\"x\",\"eventTime\":\"2024-05-01T00:00:00Z\",\"userAgent\":5},{bad}]}");
	assert_int_equal(cid_ingest_buffer(ig, "mem", (const uint8_t *)buf, (size_t)n), 1);
	const struct cid_ingest_stats *st = cid_ingest_stats(ig);
	assert_int_equal(st->records, 3);
	assert_int_equal(st->inserted, 1);
	assert_int_equal(st->duplicates, 1);
	assert_int_equal(st->filtered, 1);
	assert_int_equal(st->bad, 4);
	assert_int_equal(st->files_failed, 1);

	sqlite3_stmt *q;
	assert_int_equal(sqlite3_prepare_v2(cid_store_db(s), "SELECT time_us, origin, read_only, name FROM event", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(q, 0), 1714521600000000);
	assert_string_equal((const char *)sqlite3_column_text(q, 1), "mem#1");
	assert_int_equal(sqlite3_column_int(q, 2), 1);
	assert_int_equal(sqlite3_step(q), SQLITE_DONE);
	sqlite3_finalize(q);

	cid_ingest_free(ig);
	cid_store_free(s);
	unlink(db);
	snprintf(buf, sizeof(buf), "%s-wal", db);
	unlink(buf);
	snprintf(buf, sizeof(buf), "%s-shm", db);
	unlink(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_table),   cmocka_unit_test(test_split_lines_resync),
		cmocka_unit_test(test_split_prefixes), cmocka_unit_test(test_time),
		cmocka_unit_test(test_shape),          cmocka_unit_test(test_loader),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
