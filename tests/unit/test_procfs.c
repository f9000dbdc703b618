/*
 * test_procfs.c - /proc parsing for live attribution: stat (a comm with
 * spaces and parentheses), status, cmdline, "socket:[N]"/"net:[N]" link
 * targets, each with an every-prefix truncation sweep; then the procfs
 * adapter against the fixture tree tests/attrib/fixtures/proc (a
 * CALLERID_PROC_ROOT-style /proc: socket inode -> pid, the cache, and a
 * process's comm, exe, cmdline, container and pod).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "callerid/attrib_int.h"

#define FIXTURE "tests/attrib/fixtures/proc"

/* real /proc/PID/stat lines (Linux 6.x), the second with a hostile comm */
static const char stat1[] =
	"3712 (cat) R 3710 3710 29481 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 325019 3133440 390 "
	"18446744073709551615 94475820695552 94475820715433 140736346038464 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
static const char stat2[] =
	"1500 (node agent (x) ) S) S 1 1500 1500 0 -1 4194560 1200 0 3 0 25 10 0 0 20 0 4 0 5000 734003200 9012 0\n";
static const char status1[] =
	"Name:\thead\nUmask:\t0022\nState:\tR (running)\nTgid:\t3713\nNgid:\t0\nPid:\t3713\nPPid:\t3710\n"
	"TracerPid:\t0\nUid:\t1000\t1001\t1000\t1000\nGid:\t0\t0\t0\t0\nFDSize:\t256\nGroups:\t \nNSpid:\t3713\t7\n";

static uint8_t *dup_n(const char *s, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

static void test_stat(void **state)
{
	struct cid_proc_stat st;
	(void)state;
	assert_int_equal(cid_proc_parse_stat(&st, (const uint8_t *)stat1, strlen(stat1)), CID_OK);
	assert_int_equal(st.pid, 3712);
	assert_string_equal(st.comm, "cat");
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.ppid, 3710);
	assert_int_equal(st.start_ticks, 325019);
	assert_int_equal(cid_proc_parse_stat(&st, (const uint8_t *)stat2, strlen(stat2)), CID_OK);
	assert_string_equal(st.comm, "node agent (x) ) S");
	assert_int_equal(st.ppid, 1);
	assert_int_equal(st.start_ticks, 5000);
	assert_int_equal(cid_proc_parse_stat(&st, (const uint8_t *)"x (a) S 1\n", 10), CID_MALFORMED);
	assert_int_equal(cid_proc_parse_stat(&st, (const uint8_t *)"12 a) S 1 ", 10), CID_MALFORMED);
	assert_int_equal(cid_proc_parse_stat(&st, (const uint8_t *)"12 (a) S x 1 ", 13), CID_MALFORMED);
}

static void sweep_stat(const char *text)
{
	size_t n = strlen(text);
	for (size_t k = 0; k < n; k++) {
		struct cid_proc_stat st;
		uint8_t *p = dup_n(text, k);
		enum cid_status s = cid_proc_parse_stat(&st, p, k);
		/* field 22 ends 19 spaces after the comm: before that, never OK */
		const char *after = strrchr(text, ')');
		size_t need = (size_t)(after - text) + 2;
		for (int sp = 0; sp < 20; sp++)
			need = (size_t)(strchr(text + need, ' ') - text) + 1;
		if (k < need && s == CID_OK)
			fail_msg("stat prefix %zu OK", k);
		if (k >= need)
			assert_int_equal(s, CID_OK);
		free(p);
	}
}

static void test_stat_sweep(void **state)
{
	(void)state;
	sweep_stat(stat1);
	sweep_stat(stat2);
}

static void test_status(void **state)
{
	struct cid_proc_status st;
	size_t n = strlen(status1);
	(void)state;
	assert_int_equal(cid_proc_parse_status(&st, (const uint8_t *)status1, n), CID_OK);
	assert_string_equal(st.name, "head");
	assert_int_equal(st.tgid, 3713);
	assert_int_equal(st.ppid, 3710);
	assert_int_equal(st.uid_real, 1000);
	assert_int_equal(st.uid_eff, 1001);
	assert_int_equal(st.nspid, 7);
	assert_int_equal(cid_proc_parse_status(&st, (const uint8_t *)"Name:\tx\nTgid:\tz\n", 16), CID_MALFORMED);
	assert_int_equal(cid_proc_parse_status(&st, (const uint8_t *)"Name:\tx\n", 8), CID_MALFORMED);
	/* sweep: OK only once the Uid line is complete */
	for (size_t k = 0; k < n; k++) {
		uint8_t *p = dup_n(status1, k);
		enum cid_status s = cid_proc_parse_status(&st, p, k);
		size_t uid_end = (size_t)(strchr(strstr(status1, "Uid:"), '\n') - status1) + 1;
		if (k < uid_end)
			assert_int_not_equal(s, CID_OK);
		else
			assert_int_equal(s, CID_OK);
		free(p);
	}
}

static void test_cmdline(void **state)
{
	static const char cl[] = "/usr/bin/security-agent\0--interval=300\0--x\nevil\0";
	char out[64], small[8];
	bool cut;
	(void)state;
	assert_int_equal(cid_proc_parse_cmdline(out, sizeof(out), &cut, (const uint8_t *)cl, sizeof(cl) - 1), CID_OK);
	assert_string_equal(out, "/usr/bin/security-agent --interval=300 --x?evil");
	assert_false(cut);
	assert_int_equal(cid_proc_parse_cmdline(small, sizeof(small), &cut, (const uint8_t *)cl, sizeof(cl) - 1),
			 CID_OK);
	assert_string_equal(small, "/usr/bi");
	assert_true(cut);
	assert_int_equal(cid_proc_parse_cmdline(out, sizeof(out), &cut, (const uint8_t *)"", 0), CID_UNSUPPORTED);
	assert_int_equal(cid_proc_parse_cmdline(out, sizeof(out), &cut, (const uint8_t *)"\0\0", 2), CID_UNSUPPORTED);
	for (size_t k = 0; k < sizeof(cl); k++) {
		uint8_t *p = dup_n(cl, k);
		(void)cid_proc_parse_cmdline(out, sizeof(out), &cut, p, k);
		assert_true(strlen(out) < sizeof(out));
		free(p);
	}
}

static void test_links(void **state)
{
	static const struct {
		const char *kind, *text;
		enum cid_status st;
		uint64_t inode;
	} v[] = {
		{"socket", "socket:[77001]", CID_OK, 77001},
		{"net", "net:[4026531840]", CID_OK, 4026531840ULL},
		{"socket", "pipe:[51234]", CID_UNSUPPORTED, 0},
		{"socket", "/dev/null", CID_UNSUPPORTED, 0},
		{"socket", "anon_inode:[eventpoll]", CID_UNSUPPORTED, 0},
		{"socket", "socketx:[1]", CID_UNSUPPORTED, 0},
		{"socket", "socket:[12a]", CID_MALFORMED, 0},
		{"socket", "socket:[]", CID_MALFORMED, 0},
		{"socket", "socket:[0]", CID_MALFORMED, 0},
		{"socket", "socket:[1]x", CID_MALFORMED, 0},
		{"socket", "socket:[99999999999999999999999]", CID_MALFORMED, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint64_t ino;
		size_t n = strlen(v[i].text);
		enum cid_status st = cid_proc_parse_inode_link(&ino, v[i].kind, (const uint8_t *)v[i].text, n);
		if (st != v[i].st || ino != v[i].inode)
			fail_msg("%s: %s %llu", v[i].text, cid_status_name(st), (unsigned long long)ino);
		/* sweep: a proper prefix of a valid target is TRUNCATED, never OK */
		for (size_t k = 0; v[i].st == CID_OK && k < n; k++) {
			uint8_t *p = dup_n(v[i].text, k);
			assert_int_equal(cid_proc_parse_inode_link(&ino, v[i].kind, p, k), CID_TRUNCATED);
			free(p);
		}
	}
}

static bool have_fixture(void)
{
	struct stat st;
	return stat(FIXTURE "/4242/stat", &st) == 0;
}

static void test_fixture_socket_pid(void **state)
{
	struct cid_procfs *pf;
	int32_t pid = 0;
	uint64_t walks = 0, hot = 0;
	(void)state;
	if (!have_fixture())
		skip();
	pf = cid_procfs_new(FIXTURE);
	assert_non_null(pf);
	assert_int_equal(cid_procfs_socket_pid(pf, 77002, &pid, &walks, &hot), 1);
	assert_int_equal(pid, 4242);
	assert_int_equal(walks, 1);   /* newest pid first: 4242 ends the walk */
	/* not in the recent owner's fds: a walk that passes 3100 on the way */
	assert_int_equal(cid_procfs_socket_pid(pf, 88001, &pid, &walks, &hot), 1);
	assert_int_equal(pid, 1500);
	assert_int_equal(walks, 2);
	/* 3100's socket was cached on the way: no walk */
	assert_int_equal(cid_procfs_socket_pid(pf, 99001, &pid, &walks, &hot), 1);
	assert_int_equal(pid, 3100);
	assert_int_equal(walks, 2);
	/* the recent owners' fds are rescanned first */
	assert_int_equal(cid_procfs_socket_pid(pf, 77001, &pid, &walks, &hot), 1);
	assert_int_equal(pid, 4242);
	/* a miss rescans the recent owners, then walks everything once */
	assert_int_equal(cid_procfs_socket_pid(pf, 12345, &pid, &walks, &hot), 0);
	assert_int_equal(walks, 3);
	assert_int_equal(cid_procfs_socket_pid(pf, 0, &pid, &walks, &hot), 0);
	cid_procfs_free(pf);
}

static void test_fixture_owner(void **state)
{
	struct cid_procfs *pf;
	struct cid_owner *o = calloc(1, sizeof(*o));
	(void)state;
	assert_non_null(o);
	if (!have_fixture()) {
		free(o);
		skip();
	}
	pf = cid_procfs_new(FIXTURE);
	assert_non_null(pf);
	assert_int_equal(cid_procfs_owner(pf, 4242, o), CID_AF_NONE);
	assert_int_equal(o->pid, 4242);
	assert_int_equal(o->start_ticks, 98765);
	assert_string_equal(o->comm, "security-agent");
	assert_string_equal(o->exe, "/usr/bin/security-agent");
	assert_string_equal(o->cmdline, "/usr/bin/security-agent --interval=300 --region us-east-1");
	assert_string_equal(o->container_id, "3f1c9a7b2e4d6f80a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718");
	assert_string_equal(o->pod_uid, "6b4c5a1e-7d2f-4e8a-9c3b-1f2e3d4c5b6a");
	assert_int_equal(o->netns, 4026532317ULL);

	memset(o, 0, sizeof(*o));
	assert_int_equal(cid_procfs_owner(pf, 1500, o), CID_AF_NONE);
	assert_string_equal(o->comm, "node agent (x)");
	assert_string_equal(o->container_id, "");
	assert_string_equal(o->pod_uid, "");
	assert_int_equal(o->netns, 4026531840ULL);

	memset(o, 0, sizeof(*o));
	assert_int_equal(cid_procfs_owner(pf, 3100, o), CID_AF_NONE);
	assert_string_equal(o->pod_uid, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
	assert_string_equal(o->container_id, "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899");

	memset(o, 0, sizeof(*o));
	assert_int_equal(cid_procfs_owner(pf, 999, o), CID_AF_PROC_GONE);
	cid_procfs_free(pf);
	free(o);
}

static bool count_ns(void *ctx, int32_t pid, uint64_t inode)
{
	size_t *n = ctx;
	(void)pid;
	(void)inode;
	(*n)++;
	return true;
}

static void test_fixture_netns(void **state)
{
	struct cid_procfs *pf;
	size_t n = 0;
	(void)state;
	if (!have_fixture())
		skip();
	pf = cid_procfs_new(FIXTURE);
	assert_non_null(pf);
	assert_int_equal(cid_procfs_each_netns(pf, count_ns, &n), 4);
	assert_int_equal(n, 4);
	cid_procfs_free(pf);
}

/* Rescans on a miss: at most every second, a miss then final (no wait);
 * after the links changed, every 10 ms, a miss told how long to wait.
 * No namespace of the fixture can be entered: every address misses. */
static void test_netns_rescan_pace(void **state)
{
	struct cid_procfs *pf;
	struct cid_netns *ns;
	struct cid_netns_hit hits[4];
	struct cid_addr x;
	uint64_t scans = 0;
	int64_t wait = -1;
	char err[256];
	(void)state;
	if (!have_fixture())
		skip();
	pf = cid_procfs_new(FIXTURE);
	assert_non_null(pf);
	ns = cid_netns_new(pf, err, sizeof(err));
	assert_non_null(ns);
	assert_true(cid_addr_parse(&x, "10.99.0.1"));
	assert_int_equal(cid_netns_find(ns, &x, false, hits, 4, &scans, &wait), 0);
	assert_int_equal(scans, 1);
	assert_int_equal(wait, 0);
	/* within a second: no rescan, and nothing worth waiting for */
	assert_int_equal(cid_netns_find(ns, &x, false, hits, 4, &scans, &wait), 0);
	assert_int_equal(scans, 1);
	assert_int_equal(wait, 0);
	/* a pod's veth: rescans every 10 ms, a miss told when */
	cid_netns_links_changed(ns);
	usleep(12000);
	assert_int_equal(cid_netns_find(ns, &x, false, hits, 4, &scans, &wait), 0);
	assert_int_equal(scans, 2);
	assert_int_equal(wait, 0);
	assert_int_equal(cid_netns_find(ns, &x, false, hits, 4, &scans, &wait), 0);
	assert_int_equal(scans, 2);
	assert_true(wait > 0 && wait <= 10000000);
	usleep((useconds_t)(wait / 1000 + 100));
	assert_int_equal(cid_netns_find(ns, &x, false, hits, 4, &scans, &wait), 0);
	assert_int_equal(scans, 3);
	assert_int_equal(wait, 0);
	cid_netns_free(ns);
	cid_procfs_free(pf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat),
		cmocka_unit_test(test_stat_sweep),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_fixture_socket_pid),
		cmocka_unit_test(test_fixture_owner),
		cmocka_unit_test(test_fixture_netns),
		cmocka_unit_test(test_netns_rescan_pace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
