/*
 * Unit tests for NAT links over hand-built flow and tls rows: the client
 * random and TCP ISN methods, which side is inner, what must not link
 * (other server, same client, far apart ISNs, different hellos, zero
 * randoms, other captures, oversized groups), and idempotence.
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

#include "callerid/natlink.h"
#include "callerid/store.h"

struct fx {
	char path[64];
	struct cid_store *s;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	char err[256];
	int fd;
	if (!x)
		return -1;
	snprintf(x->path, sizeof(x->path), "/tmp/test_natlink.XXXXXX");
	fd = mkstemp(x->path);
	if (fd < 0)
		return -1;
	close(fd);
	unlink(x->path);
	x->s = cid_store_open(x->path, false, err, sizeof(err));
	if (!x->s)
		return -1;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	char p[96];
	cid_store_free(x->s);
	unlink(x->path);
	snprintf(p, sizeof(p), "%s-wal", x->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", x->path);
	unlink(p);
	free(x);
	return 0;
}

static void sql(struct fx *x, const char *q)
{
	char *msg = NULL;
	if (sqlite3_exec(cid_store_db(x->s), q, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", q, msg);
}

static void wipe(struct fx *x)
{
	sql(x, "DELETE FROM nat_link; DELETE FROM tls; DELETE FROM flow; DELETE FROM capture;"
	       " INSERT INTO capture(id, kind) VALUES(1, 'file'), (2, 'file')");
}

/* A flow row (TCP) and, when random is given, its tls row. syn < 0: no SYN. */
static void flow(struct fx *x, int id, int cap, int64_t first, const char *client, const char *server,
		 int port, int64_t syn, const char *random)
{
	char q[512];
	char synv[32];
	if (syn < 0)
		snprintf(synv, sizeof(synv), "NULL");
	else
		snprintf(synv, sizeof(synv), "%lld", (long long)syn);
	snprintf(q, sizeof(q),
		 "INSERT INTO flow(id, capture_id, first_us, proto, client_ip, client_port, server_ip,"
		 " server_port, syn_seq) VALUES(%d, %d, %lld, 6, '%s', 40000, '%s', %d, %s)",
		 id, cap, (long long)first, client, server, port, synv);
	sql(x, q);
	if (random) {
		snprintf(q, sizeof(q), "INSERT INTO tls(flow_id, client_random) VALUES(%d, '%s')", id, random);
		sql(x, q);
	}
}

/* The links as "inner>outer:method;..." in inner order. */
static const char *links(struct fx *x, char *buf, size_t n)
{
	sqlite3_stmt *q;
	size_t len = 0;
	buf[0] = '\0';
	assert_int_equal(sqlite3_prepare_v2(cid_store_db(x->s),
					    "SELECT inner_flow_id, outer_flow_id, method FROM nat_link"
					    " ORDER BY inner_flow_id, outer_flow_id",
					    -1, &q, NULL),
			 SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW && len < n) {
		int w = snprintf(buf + len, n - len, "%s%lld>%lld:%s", len ? ";" : "",
				 (long long)sqlite3_column_int64(q, 0), (long long)sqlite3_column_int64(q, 1),
				 (const char *)sqlite3_column_text(q, 2));
		if (w < 0)
			break;
		len += (size_t)w;
	}
	sqlite3_finalize(q);
	return buf;
}

#define R1 "bd5ee8ebcb9fc9a19725265c586db6d1121eec0cf8a93f23973bf1d9eee238e2"
#define R2 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define R3 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define Z0 "0000000000000000000000000000000000000000000000000000000000000000"
#define POD "10.204.1.2"
#define NODE "10.203.0.1"
#define EP "10.203.0.11"

static void test_client_random(void **state)
{
	struct fx *x = *state;
	char b[512];
	wipe(x);
	/* the outer flow was stored first (lower id) but seen later */
	flow(x, 1, 1, 1000100, NODE, EP, 443, 70634068, R1);
	flow(x, 2, 1, 1000000, POD, EP, 443, 70634068, R1);
	assert_int_equal(cid_natlink_build(x->s, 1), 1);
	assert_string_equal(links(x, b, sizeof(b)), "2>1:client_random");
	/* idempotent */
	assert_int_equal(cid_natlink_build(x->s, 1), 0);
	assert_int_equal(cid_natlink_build(x->s, 0), 0);
	assert_string_equal(links(x, b, sizeof(b)), "2>1:client_random");
}

static void test_isn(void **state)
{
	struct fx *x = *state;
	char b[512];
	wipe(x);
	/* no hello (plain TCP, or a hello not captured): ISN within 1 s */
	flow(x, 1, 1, 5000000, POD, EP, 443, 12345, NULL);
	flow(x, 2, 1, 5000400, NODE, EP, 443, 12345, NULL);
	/* the same ISN 3 s later is another connection */
	flow(x, 3, 1, 8000400, NODE, EP, 443, 12345, NULL);
	/* one side with a hello, the other without: still the same ISN */
	flow(x, 4, 1, 9000000, POD, EP, 443, 777, R2);
	flow(x, 5, 1, 9000001, NODE, EP, 443, 777, NULL);
	/* two different hellos with the same ISN: two connections */
	flow(x, 6, 1, 9500000, POD, EP, 443, 888, R1);
	flow(x, 7, 1, 9500001, NODE, EP, 443, 888, R3);
	/* no SYN on one side */
	flow(x, 8, 1, 9600000, POD, EP, 443, -1, NULL);
	flow(x, 9, 1, 9600001, NODE, EP, 443, -1, NULL);
	assert_int_equal(cid_natlink_build(x->s, 1), 2);
	assert_string_equal(links(x, b, sizeof(b)), "1>2:tcp_isn;4>5:tcp_isn");
}

static void test_no_false_links(void **state)
{
	struct fx *x = *state;
	char b[512];
	wipe(x);
	/* a client random collision across different servers or ports */
	flow(x, 1, 1, 100, POD, EP, 443, 1, R1);
	flow(x, 2, 1, 200, NODE, "10.203.0.12", 443, 2, R1);
	flow(x, 3, 1, 300, NODE, EP, 8443, 3, R1);
	/* the same ISN to different servers */
	flow(x, 4, 1, 400, POD, EP, 443, 99, NULL);
	flow(x, 5, 1, 500, NODE, "10.203.0.10", 443, 99, NULL);
	/* the same client twice (a retransmitted hello recorded twice) */
	flow(x, 6, 1, 600, POD, EP, 443, 55, R2);
	flow(x, 7, 1, 700, POD, EP, 443, 55, R2);
	/* all-zero randoms are not hellos' randoms */
	flow(x, 8, 1, 800, POD, EP, 443, 61, Z0);
	flow(x, 9, 1, 900, NODE, EP, 443, 62, Z0);
	/* other capture: not linked to capture 1 */
	flow(x, 10, 2, 1000, NODE, EP, 443, 63, R1);
	assert_int_equal(cid_natlink_build(x->s, 0), 0);
	assert_string_equal(links(x, b, sizeof(b)), "");
}

static void test_inner_tie(void **state)
{
	struct fx *x = *state;
	char b[512];
	wipe(x);
	/* same first time: the node address is the client of more flows */
	flow(x, 1, 1, 100, NODE, EP, 443, 10, R1);
	flow(x, 2, 1, 100, POD, EP, 443, 10, R1);
	flow(x, 3, 1, 50, NODE, EP, 443, 11, R2);
	/* capture 2 is linked only when asked for */
	flow(x, 4, 2, 100, NODE, EP, 443, 20, NULL);
	flow(x, 5, 2, 100, "10.204.1.3", EP, 443, 20, NULL);
	assert_int_equal(cid_natlink_build(x->s, 1), 1);
	assert_string_equal(links(x, b, sizeof(b)), "2>1:client_random");
	/* an existing conntrack link is not doubled */
	sql(x, "INSERT INTO nat_link VALUES(5, 4, 'conntrack')");
	assert_int_equal(cid_natlink_build(x->s, 0), 0);
	/* equal first times and counts: the lower id is inner */
	sql(x, "DELETE FROM nat_link WHERE method = 'conntrack'");
	assert_int_equal(cid_natlink_build(x->s, 2), 1);
	assert_string_equal(links(x, b, sizeof(b)), "2>1:client_random;4>5:tcp_isn");
}

static void test_group_cap(void **state)
{
	struct fx *x = *state;
	char b[64];
	wipe(x);
	for (int i = 0; i < (int)CID_NATLINK_MAX_GROUP + 6; i++) {
		char c[32];
		snprintf(c, sizeof(c), "10.9.%d.%d", i / 200, i % 200 + 1);
		flow(x, i + 1, 1, 100 + i, c, EP, 443, 4242, NULL);
	}
	/* a pair after the oversized group is still linked */
	flow(x, 500, 1, 100, POD, EP, 443, 4243, NULL);
	flow(x, 501, 1, 200, NODE, EP, 443, 4243, NULL);
	assert_int_equal(cid_natlink_build(x->s, 1), 1);
	assert_string_equal(links(x, b, sizeof(b)), "500>501:tcp_isn");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_random), cmocka_unit_test(test_isn),
		cmocka_unit_test(test_no_false_links), cmocka_unit_test(test_inner_tie),
		cmocka_unit_test(test_group_cap),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
