/*
 * test_timeline.c - the timeline loader (lanes, order, windows, caps,
 * schema without the v2 tables) and its three writers (escaping, empty
 * timelines, write errors), over stores built in SQL.
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

#include "callerid/store.h"
#include "callerid/timeline.h"

struct fx {
	char dir[256];
	char path[300];
	struct cid_store *store;
	sqlite3 *db;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	const char *root = getenv("TMPROOT");
	char err[CID_ERRBUF_SIZE];
	if (!x)
		return -1;
	snprintf(x->dir, sizeof(x->dir), "%s/tl.XXXXXX", root && *root ? root : "/tmp");
	if (!mkdtemp(x->dir)) {
		free(x);
		return -1;
	}
	snprintf(x->path, sizeof(x->path), "%s/t.db", x->dir);
	x->store = cid_store_open(x->path, false, err, sizeof(err));
	if (!x->store) {
		rmdir(x->dir);
		free(x);
		return -1;
	}
	x->db = cid_store_db(x->store);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	char p[400];
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	cid_store_free(x->store);
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", x->path, suffix[i]);
		unlink(p);
	}
	rmdir(x->dir);
	free(x);
	return 0;
}

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fail_msg("SQL failed: %s: %s", msg ? msg : "?", sql);
	sqlite3_free(msg);
}

/* Runs a writer into memory; returns the NUL-terminated output. */
static char *render(const struct cid_timeline *t, enum cid_tl_fmt fmt, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	int rc;
	assert_non_null(f);
	rc = fmt == CID_TL_TEXT ? cid_timeline_text(t, f)
	     : fmt == CID_TL_JSON ? cid_timeline_json(t, f)
				  : cid_timeline_html(t, f);
	assert_int_equal(rc, 0);
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

static size_t lane_of(const struct cid_timeline *t, const char *key)
{
	for (size_t i = 0; i < t->num_lanes; i++)
		if (t->lanes[i].key.n == strlen(key) && !memcmp(t->lanes[i].key.p, key, t->lanes[i].key.n))
			return i;
	return SIZE_MAX;
}

static const struct cid_tl_item *find(const struct cid_timeline *t, enum cid_tl_type type,
				      int64_t id)
{
	for (size_t i = 0; i < t->num_items; i++) {
		const struct cid_tl_item *it = &t->items[i];
		if (it->type != type)
			continue;
		if ((type == CID_TL_REQUEST || type == CID_TL_MATCH) ? it->request_id == id
		    : type == CID_TL_EVENT ? (int64_t)it->time_us == id
					   : it->flow_id == id)
			return it;
	}
	return NULL;
}

/*
 * The situation (times in seconds from T = 1700000000):
 * flow 1 10.0.0.5 (node) -> endpoint, SNI hostile; bursts 11 (T+1), 12 (T+5)
 * flow 2 10.1.0.7 (pod) -> node, NAT-linked inner of flow 3
 * flow 3 10.0.0.5 -> endpoint, outer; burst 31 (T+11) claimed by event E2
 * flow 4 10.0.0.5 -> endpoint, live owner pid 99 comm "agent"
 * flow 5 10.1.0.8 (pod by pod_ips) -> endpoint
 * events: E1 T+2 attributed to process:cli[1] on flow 1 burst 11,
 *         E2 T+12 attributed to pod ns/web-0 on flow 3 burst 31, error,
 *         E3 T+20 unmatched, E4 T+21 not correlated, hostile user agent,
 *         E5 T+13 ambiguous with burst 12
 * pods: ns/web-0 (10.1.0.7) at T-10, ns/db-0 (pod_ips 10.1.0.8) at T-10,
 *       hostNetwork kube-system/proxy on 10.0.0.5 at T-10
 */
static const char situation[] =
	"INSERT INTO flow(id, first_us, last_us, client_ip, client_port, server_ip, server_port,"
	" end_reason, c2s_pkts, c2s_bytes, s2c_pkts, s2c_bytes) VALUES"
	" (1, 1700000000000000, 1700000006000000, '10.0.0.5', 40000, '10.9.0.1', 443, 'fin', 5, 500, 4, 400),"
	" (2, 1700000010000000, 1700000012000000, '10.1.0.7', 41000, '10.9.0.1', 443, 'fin', 5, 500, 4, 400),"
	" (3, 1700000010000100, 1700000012000100, '10.0.0.5', 41000, '10.9.0.1', 443, 'fin', 5, 500, 4, 400),"
	" (4, 1700000014000000, NULL, '10.0.0.5', 42000, '10.9.0.1', 443, NULL, 1, 60, 0, 0),"
	" (5, 1700000015000000, 1700000016000000, '10.1.0.8', 43000, 'fd00::1', 443, 'rst', 1, 60, 0, 0);"
	"INSERT INTO tls(flow_id, sni, version, cipher) VALUES"
	" (1, 'x<script>\"' || char(27) || '[2J', 'TLSv1.3', 'TLS_AES_128_GCM_SHA256'),"
	" (3, 'ec2.us-east-1.amazonaws.com', 'TLSv1.2', 'ECDHE-RSA-AES128-GCM-SHA256');"
	"INSERT INTO request(id, flow_id, ts_us, answer_us, c2s_bytes, s2c_bytes) VALUES"
	" (11, 1, 1700000001000000, 1700000001001000, 300, 200),"
	" (12, 1, 1700000005000000, 1700000005001000, 300, 200),"
	" (21, 2, 1700000011000000, 1700000011001000, 300, 200),"
	" (31, 3, 1700000011000100, 1700000011001100, 300, 200);"
	"INSERT INTO nat_link(inner_flow_id, outer_flow_id, method) VALUES (2, 3, 'client_random');"
	"INSERT INTO owner(flow_id, method, pid, comm, seen_us) VALUES (4, 'sock_diag', 99, 'agent', 1);"
	"INSERT INTO event(id, event_id, time_us, name, source, source_ip, user_agent, error_code) VALUES"
	" (1, 'E1', 1700000002000000, 'GetCallerIdentity', 'sts.amazonaws.com', '10.0.0.5', 'cli', NULL),"
	" (2, 'E2', 1700000012000000, 'DescribeTags', 'ec2.amazonaws.com', '10.0.0.5', 'sdk',"
	"  'Client.UnauthorizedOperation'),"
	" (3, 'E3', 1700000020000000, 'DescribeTags', 'ec2.amazonaws.com', '10.7.7.7', 'sdk', NULL),"
	" (4, 'E4', 1700000021000000, 'DescribeTags', 'ec2.amazonaws.com', '10.0.0.5',"
	"  'ua <script>alert(1)</script> ''q\"' || char(27) || '[31m' || CAST(X'FF' AS TEXT), NULL),"
	" (5, 'E5', 1700000013000000, 'DescribeTags', 'ec2.amazonaws.com', '10.0.0.5', 'sdk', NULL);"
	"INSERT INTO attribution(event_id, verdict, confidence, owner_kind, owner_key, flow_id,"
	" request_id, request_us, skew_us, reasons) VALUES"
	" ('E1', 'attributed', 0.9, 'process', 'process:cli[1]', 1, 11, 1700000001000000, -5, '[\"a\"]'),"
	" ('E2', 'attributed', 0.8, 'pod', 'pod:ns/web-0', 3, 31, 1700000011000100, 7, '[\"b\"]'),"
	" ('E3', 'unmatched', 0, NULL, NULL, NULL, NULL, NULL, NULL, 'not json ['),"
	" ('E5', 'ambiguous', 0.4, NULL, NULL, 1, 12, NULL, NULL, '[\"' || CAST(X'FF' AS TEXT) || '\"]');"
	"INSERT INTO pod(snapshot_us, namespace, name, uid, host_network, pod_ip, pod_ips, host_ip) VALUES"
	" (1699999990000000, 'ns', 'web-0', 'u1', 0, '10.1.0.7', '10.1.0.7', '10.0.0.5'),"
	" (1699999990000000, 'ns', 'db-0', 'u2', 0, NULL, 'fd00::9,10.1.0.8', '10.0.0.5'),"
	" (1699999990000000, 'kube-system', 'proxy', 'u3', 1, '10.0.0.5', '10.0.0.5', '10.0.0.5');";

static void test_fmt_parse(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		enum cid_tl_fmt fmt;
	} cases[] = {{"text", true, CID_TL_TEXT}, {"json", true, CID_TL_JSON},
		     {"html", true, CID_TL_HTML}, {"table", false, CID_TL_TEXT},
		     {"", false, CID_TL_TEXT},     {"HTML", false, CID_TL_TEXT}};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum cid_tl_fmt f = CID_TL_TEXT;
		assert_int_equal(cid_tl_fmt_parse(&f, cases[i].s), cases[i].ok);
		if (cases[i].ok)
			assert_int_equal(f, cases[i].fmt);
	}
	assert_string_equal(cid_tl_type_name(CID_TL_FLOW_CLOSE), "flow_close");
	assert_string_equal(cid_tl_type_name(CID_TL_SNAPSHOT), "snapshot");
}

static void test_tick_step(void **state)
{
	static const struct {
		int64_t span;
		int max;
		int64_t step;
	} cases[] = {
		{0, 8, 1},
		{-5, 8, 1},
		{8, 8, 1},
		{9, 8, 2},
		{1000000, 8, 200000},          /* 1 s -> 200 ms */
		{60000000, 8, 10000000},       /* 1 min -> 10 s */
		{120000000, 8, 15000000},      /* 2 min -> 15 s */
		{86400000000LL, 8, 10800000000LL}, /* 1 day -> 3 h */
		{14000000, 0, 15000000},       /* max_ticks below 1 counts as 1 */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(cid_tl_tick_step(cases[i].span, cases[i].max), cases[i].step);
	/* beyond the table: still at most max ticks */
	{
		int64_t span = 31536000000000LL * 1000, st = cid_tl_tick_step(span, 8);
		assert_true(span / st <= 8);
	}
}

static void test_empty(void **state)
{
	struct fx *x = *state;
	char err[CID_ERRBUF_SIZE];
	struct cid_timeline *t = cid_timeline_load(x->db, NULL, err, sizeof(err));
	char *s;
	size_t n;
	assert_non_null(t);
	assert_int_equal(t->num_items, 0);
	assert_int_equal(t->num_lanes, 0);
	s = render(t, CID_TL_TEXT, NULL);
	assert_string_equal(s, "# callerid timeline: no items\n");
	free(s);
	s = render(t, CID_TL_JSON, &n);
	assert_int_equal(n, 0);
	free(s);
	s = render(t, CID_TL_HTML, NULL);
	assert_non_null(strstr(s, "No items in the selected window."));
	assert_non_null(strstr(s, "</html>\n"));
	assert_null(strstr(s, "<svg class"));
	free(s);
	cid_timeline_free(t);
	cid_timeline_free(NULL);
}

static void test_lanes(void **state)
{
	struct fx *x = *state;
	char err[CID_ERRBUF_SIZE];
	struct cid_timeline *t;
	const struct cid_tl_item *it;
	size_t host, pod, db, proc, agent, un;
	exec_sql(x->db, situation);
	t = cid_timeline_load(x->db, NULL, err, sizeof(err));
	assert_non_null(t);
	host = lane_of(t, "host:10.0.0.5");
	pod = lane_of(t, "pod:ns/web-0");
	db = lane_of(t, "pod:ns/db-0");
	proc = lane_of(t, "process:cli[1]");
	agent = lane_of(t, "process:agent[99]");
	un = lane_of(t, "unattributed");
	/* flow 1 has an attributed event: the process lane; no host lane
	 * holds a flow, but the hostNetwork snapshot needs one: none here */
	assert_int_equal(host, SIZE_MAX);
	assert_int_not_equal(pod, SIZE_MAX);
	assert_int_not_equal(db, SIZE_MAX);
	assert_int_not_equal(proc, SIZE_MAX);
	assert_int_not_equal(agent, SIZE_MAX);
	assert_int_equal(un, t->num_lanes - 1); /* unattributed last */
	assert_int_equal(t->num_lanes, 5);
	/* lanes by first item, then key: both pods have a snapshot at T-10 */
	assert_int_equal(db, 0);
	assert_int_equal(pod, 1);
	assert_string_equal(t->lanes[pod].kind, "pod");
	assert_string_equal(t->lanes[agent].kind, "process");
	assert_string_equal(t->lanes[un].kind, "unattributed");
	/* both NAT-linked flows and their bursts sit with the pod */
	assert_int_equal(find(t, CID_TL_FLOW_OPEN, 2)->lane, pod);
	assert_int_equal(find(t, CID_TL_FLOW_OPEN, 3)->lane, pod);
	assert_int_equal(find(t, CID_TL_REQUEST, 21)->lane, pod);
	assert_int_equal(find(t, CID_TL_REQUEST, 31)->lane, pod);
	assert_int_equal(find(t, CID_TL_FLOW_OPEN, 4)->lane, agent);
	assert_null(find(t, CID_TL_FLOW_CLOSE, 4)); /* still open: no close */
	assert_int_equal(find(t, CID_TL_FLOW_OPEN, 5)->lane, db); /* via pod_ips */
	assert_int_equal(find(t, CID_TL_FLOW_OPEN, 1)->lane, proc);
	/* events */
	it = find(t, CID_TL_EVENT, 1700000012000000);
	assert_int_equal(it->lane, pod);
	assert_true(it->has_confidence);
	assert_int_equal(it->skew_us, 7);
	assert_int_equal(find(t, CID_TL_EVENT, 1700000020000000)->lane, un);
	it = find(t, CID_TL_EVENT, 1700000021000000);
	assert_int_equal(it->lane, un);
	assert_null(it->verdict.p);
	assert_int_equal(t->lanes[pod].num_errors, 1);
	/* matches: the burst's lane; the ambiguous one points at the process lane */
	it = find(t, CID_TL_MATCH, 31);
	assert_int_equal(it->lane, pod);
	assert_int_equal(it->lane2, pod);
	assert_int_equal(it->other_us, 1700000012000000);
	it = find(t, CID_TL_MATCH, 12);
	assert_non_null(it);
	assert_int_equal(it->lane, un);
	assert_int_equal(it->lane2, proc);
	assert_int_equal(it->time_us, 1700000005000000); /* request_us from the burst row */
	/* snapshots: pod lanes only (no host lane exists) */
	assert_int_equal(t->lanes[pod].num_items, 1 + 2 * 2 + 2 + 1 + 1);
	it = find(t, CID_TL_REQUEST, 12);
	assert_string_equal(it->verdict.p, "ambiguous");
	/* order: each lane contiguous and time-ordered */
	for (size_t i = 1; i < t->num_items; i++) {
		assert_true(t->items[i].lane >= t->items[i - 1].lane);
		if (t->items[i].lane == t->items[i - 1].lane)
			assert_true(t->items[i].time_us >= t->items[i - 1].time_us);
	}
	assert_int_equal(t->first_us, 1699999990000000);
	assert_int_equal(t->last_us, 1700000021000000);
	cid_timeline_free(t);
}

static void test_window_and_cap(void **state)
{
	struct fx *x = *state;
	char err[CID_ERRBUF_SIZE];
	struct cid_tl_opts o = {0};
	struct cid_timeline *t;
	exec_sql(x->db, situation);
	o.has_since = o.has_until = true;
	o.since_us = 1700000010500000;
	o.until_us = 1700000013000000;
	t = cid_timeline_load(x->db, &o, err, sizeof(err));
	assert_non_null(t);
	for (size_t i = 0; i < t->num_items; i++) {
		assert_true(t->items[i].time_us >= o.since_us);
		assert_true(t->items[i].time_us <= o.until_us);
	}
	/* burst 21 and 31, E2, E5, match of E2, closes of flows 2 and 3 */
	assert_non_null(find(t, CID_TL_REQUEST, 21));
	assert_non_null(find(t, CID_TL_MATCH, 31));
	assert_null(find(t, CID_TL_MATCH, 12)); /* burst at T+5: outside */
	assert_null(find(t, CID_TL_FLOW_OPEN, 2));
	assert_non_null(find(t, CID_TL_FLOW_CLOSE, 2));
	assert_int_equal(lane_of(t, "process:cli[1]"), SIZE_MAX); /* no item left there */
	cid_timeline_free(t);

	memset(&o, 0, sizeof(o));
	o.max_items = 3;
	t = cid_timeline_load(x->db, &o, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(t->num_items, 3);
	assert_true(t->num_dropped > 0);
	cid_timeline_free(t);
}

static void test_escaping(void **state)
{
	struct fx *x = *state;
	char err[CID_ERRBUF_SIZE];
	struct cid_timeline *t;
	char *s;
	size_t n;
	exec_sql(x->db, situation);
	t = cid_timeline_load(x->db, NULL, err, sizeof(err));
	assert_non_null(t);
	for (int f = CID_TL_TEXT; f <= CID_TL_HTML; f++) {
		s = render(t, (enum cid_tl_fmt)f, &n);
		assert_int_equal(strlen(s), n);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			/* no control byte but newline, no stray 0xff */
			assert_true(c == '\n' || (c >= 0x20 && c != 0x7f && c != 0xff));
		}
		if (f == CID_TL_TEXT) {
			assert_non_null(strstr(s, "sni=x<script>\"\\x1b[2J"));
			assert_non_null(strstr(s, "ua=\"ua <script>alert(1)</script> 'q\\\"\\x1b[31m\\xff\""));
		} else if (f == CID_TL_JSON) {
			assert_non_null(strstr(s, "\"sni\":\"x<script>\\\"\\u001b[2J\""));
			assert_non_null(strstr(s, "\\u001b[31m\\u00ff\""));
			assert_non_null(strstr(s, "\"reasons\":[\"b\"]"));
			/* invalid JSON and non-UTF-8 reasons become null */
			assert_null(strstr(s, "not json"));
			{
				const char *e5 = strstr(s, "\"event_id\":\"E5\",\"name\":\"DescribeTags\",\"source\"");
				const char *eol = e5 ? strchr(e5, '\n') : NULL;
				const char *r = e5 ? strstr(e5, "\"reasons\":null}") : NULL;
				assert_non_null(eol);
				assert_true(r && r < eol);
			}
		} else {
			assert_null(strstr(s, "<script"));
			assert_null(strstr(s, "http"));
			assert_non_null(strstr(s, "x&lt;script&gt;&quot;\\x1b[2J"));
			assert_non_null(strstr(s, "ua &lt;script&gt;alert(1)&lt;/script&gt; &#39;q&quot;"));
			assert_non_null(strstr(s, "<svg class=\"tl\""));
			assert_non_null(strstr(s, "</html>\n"));
		}
		free(s);
	}
	cid_timeline_free(t);
}

static void test_write_error(void **state)
{
	struct fx *x = *state;
	char err[CID_ERRBUF_SIZE];
	struct cid_timeline *t;
	FILE *f = fopen("/dev/full", "w");
	if (!f)
		skip();
	exec_sql(x->db, situation);
	t = cid_timeline_load(x->db, NULL, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(cid_timeline_text(t, f), -CID_EIO);
	clearerr(f);
	assert_int_equal(cid_timeline_json(t, f), -CID_EIO);
	clearerr(f);
	assert_int_equal(cid_timeline_html(t, f), -CID_EIO);
	fclose(f);
	cid_timeline_free(t);
}

/* A database without the v2 tables (and without most v1 ones) still loads. */
static void test_old_schema(void **state)
{
	sqlite3 *db = NULL;
	char err[CID_ERRBUF_SIZE];
	struct cid_timeline *t;
	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	t = cid_timeline_load(db, NULL, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(t->num_items, 0);
	cid_timeline_free(t);
	exec_sql(db, "CREATE TABLE event(id INTEGER PRIMARY KEY, event_id TEXT, time_us INTEGER,"
		     " name TEXT, source TEXT, source_ip TEXT, user_agent TEXT, arn TEXT,"
		     " error_code TEXT, error_message TEXT);"
		     "CREATE TABLE flow(id INTEGER PRIMARY KEY, first_us INTEGER, last_us INTEGER,"
		     " client_ip TEXT, client_port INTEGER, server_ip TEXT, server_port INTEGER,"
		     " end_reason TEXT, c2s_pkts INTEGER, c2s_bytes INTEGER, s2c_pkts INTEGER,"
		     " s2c_bytes INTEGER);"
		     "CREATE TABLE pod(snapshot_us INTEGER, namespace TEXT, name TEXT, uid TEXT,"
		     " node TEXT, host_network INTEGER, pod_ip TEXT, host_ip TEXT, owner_kind TEXT,"
		     " owner_name TEXT, service_account TEXT);"
		     "INSERT INTO event VALUES (1, 'A', 5000000, 'X', 's', '1.2.3.4', 'u', NULL, NULL, NULL);"
		     "INSERT INTO flow VALUES (1, 1000000, 2000000, '10.1.0.7', 1, '10.9.0.1', 443,"
		     " 'fin', 1, 1, 1, 1);"
		     "INSERT INTO pod VALUES (0, 'ns', 'p', 'u', 'n', 0, '10.1.0.7', NULL, NULL, NULL, NULL);");
	t = cid_timeline_load(db, NULL, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(t->num_lanes, 2);
	assert_int_not_equal(lane_of(t, "pod:ns/p"), SIZE_MAX);
	assert_int_equal(find(t, CID_TL_EVENT, 5000000)->lane, lane_of(t, "unattributed"));
	cid_timeline_free(t);
	/* a table with the wrong shape is a query error, reported */
	exec_sql(db, "DROP TABLE event; CREATE TABLE event(id INTEGER);");
	t = cid_timeline_load(db, NULL, err, sizeof(err));
	assert_null(t);
	assert_non_null(strstr(err, "timeline:"));
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt_parse),
		cmocka_unit_test(test_tick_step),
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lanes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_and_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
		cmocka_unit_test(test_old_schema),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
