/*
 * Unit tests for kubectl snapshots: format detection and rejection (table),
 * field extraction (owner, IRSA, Pod Identity, container ids, addresses),
 * the nearest-snapshot lookups, and an every-prefix truncation sweep.
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

#include "callerid/k8s.h"
#include "callerid/store.h"

struct fx {
	char path[64];
	struct cid_store *s;
	struct cid_k8s *k;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	char err[256];
	int fd;
	if (!x)
		return -1;
	snprintf(x->path, sizeof(x->path), "/tmp/test_k8s.XXXXXX");
	fd = mkstemp(x->path);
	if (fd < 0)
		return -1;
	close(fd);
	unlink(x->path);
	x->s = cid_store_open(x->path, false, err, sizeof(err));
	if (!x->s)
		return -1;
	x->k = cid_k8s_new(cid_store_db(x->s), NULL, err, sizeof(err));
	if (!x->k)
		return -1;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	char p[96];
	cid_k8s_free(x->k);
	cid_store_free(x->s);
	unlink(x->path);
	snprintf(p, sizeof(p), "%s-wal", x->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", x->path);
	unlink(p);
	free(x);
	return 0;
}

static sqlite3 *db_of(struct fx *x)
{
	return cid_store_db(x->s);
}

static void wipe(struct fx *x)
{
	assert_int_equal(sqlite3_exec(db_of(x), "DELETE FROM pod; DELETE FROM node", NULL, NULL, NULL), SQLITE_OK);
}

static int64_t count(struct fx *x, const char *table)
{
	char sql[64];
	sqlite3_stmt *q;
	int64_t n;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	assert_int_equal(sqlite3_prepare_v2(db_of(x), sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

static int load(struct fx *x, const char *doc, int64_t at)
{
	return cid_k8s_load_buffer(x->k, "mem", at, (const uint8_t *)doc, strlen(doc));
}

#define POD(extra) "{\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"ns\",\"name\":\"p\"" extra "}}"
#define POD1 "{\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"ns\",\"name\":\"p1\",\"uid\":\"u1\"},\"status\":{\"podIP\":\"10.0.0.5\"}}"
#define NODE1 "{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"},\"spec\":{\"providerID\":\"aws:///us-east-1a/i-0123\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.0.1\"}]}}"

static const struct {
	const char *doc;
	int rc;
	int64_t pods, nodes;
} detect_cases[] = {
	{"{\"kind\":\"List\",\"items\":[" POD1 "]}", 0, 1, 0},
	{"{\"kind\":\"List\",\"items\":[" POD1 "," NODE1 "]}", 0, 1, 1},
	{"{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"namespace\":\"a\",\"name\":\"b\"}}]}", 0, 1, 0},
	{"{\"kind\":\"NodeList\",\"items\":[{\"metadata\":{\"name\":\"n\"}}]}", 0, 0, 1},
	{POD1, 0, 1, 0},
	{NODE1, 0, 0, 1},
	{"\xef\xbb\xbf" POD1, 0, 1, 0},
	{"{\"kind\":\"List\",\"items\":[]}", 0, 0, 0},
	{"{\"kind\":\"List\",\"items\":[{\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"}}]}", 1, 0, 0},
	{"{\"kind\":\"List\",\"items\":[" POD1 ",{\"kind\":\"Service\"}]}", 1, 0, 0},
	{"{\"kind\":\"List\",\"items\":[" POD1 ",{\"metadata\":{}}]}", 1, 0, 0},
	{"{\"kind\":\"List\",\"items\":[" POD1 ",{\"kind\":7}]}", 1, 0, 0},
	{"{\"kind\":\"List\",\"items\":[1]}", 1, 0, 0},
	{"{\"kind\":\"List\",\"items\":{}}", 1, 0, 0},
	{"{\"kind\":\"List\"}", 1, 0, 0},
	{"{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"}}", 1, 0, 0},
	{"{\"Records\":[]}", 1, 0, 0},
	{"{\"metadata\":{}}", 1, 0, 0},
	{"[" POD1 "]", 1, 0, 0},
	{"\"Pod\"", 1, 0, 0},
	{"", 1, 0, 0},
	{"{\"kind\":\"List\",\"items\":[" POD1, 1, 0, 0},
	{"{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}}", 1, 0, 0},
	{POD(",\"x\":1},\"spec\":{\"hostNetwork\":\"yes\""), 1, 0, 0},
	{POD("},\"spec\":{\"nodeName\":42"), 1, 0, 0},
	{POD("},\"status\":{\"startTime\":\"yesterday\""), 1, 0, 0},
	{POD("},\"status\":{\"podIP\":[\"10.0.0.1\"]"), 1, 0, 0},
	{"{\"kind\":\"Node\",\"metadata\":{\"name\":5}}", 1, 0, 0},
	{"{\"kind\":\"Node\",\"metadata\":{\"name\":\"n\"},\"spec\":{\"providerID\":1}}", 1, 0, 0},
	/* odd but harmless shapes are tolerated, not fatal */
	{POD("},\"spec\":{\"containers\":\"x\",\"volumes\":[1,{\"projected\":3}]},\"status\":{\"podIPs\":[\"x\",{\"ip\":1}],\"containerStatuses\":{}"), 0, 1, 0},
	{POD(",\"ownerReferences\":[\"x\",{\"kind\":1}]"), 0, 1, 0},
};

static void test_detect(void **state)
{
	struct fx *x = *state;
	for (size_t i = 0; i < sizeof(detect_cases) / sizeof(detect_cases[0]); i++) {
		wipe(x);
		int rc = load(x, detect_cases[i].doc, 1000);
		if (rc != detect_cases[i].rc)
			fail_msg("case %zu: rc %d, want %d", i, rc, detect_cases[i].rc);
		if (count(x, "pod") != detect_cases[i].pods || count(x, "node") != detect_cases[i].nodes)
			fail_msg("case %zu: %lld pods %lld node rows", i, (long long)count(x, "pod"),
				 (long long)count(x, "node"));
	}
	/* NUL bytes and UTF-16 are refused before SQLite sees them */
	wipe(x);
	assert_int_equal(cid_k8s_load_buffer(x->k, "mem", 1, (const uint8_t *)POD1 "\0x", sizeof(POD1) + 1), 1);
	assert_int_equal(cid_k8s_load_buffer(x->k, "mem", 1, (const uint8_t *)"\xff\xfe{\0}\0", 6), 1);
	assert_int_equal(count(x, "pod"), 0);
}

static const char full_pod[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-6d4cf56db6-x7k2p\","
	"\"namespace\":\"default\",\"uid\":\"9f1c\",\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"6d4cf56db6\"},"
	"\"ownerReferences\":[{\"kind\":\"Thing\",\"name\":\"t\"},{\"apiVersion\":\"apps/v1\",\"controller\":true,"
	"\"kind\":\"ReplicaSet\",\"name\":\"web-6d4cf56db6\",\"uid\":\"r\"}]},"
	"\"spec\":{\"nodeName\":\"ip-10-0-1-11.ec2.internal\",\"serviceAccountName\":\"web\","
	"\"initContainers\":[{\"name\":\"init\",\"env\":[{\"name\":\"AWS_ROLE_ARN\",\"value\":\"arn:aws:iam::1:role/r\"}]}],"
	"\"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"X\",\"valueFrom\":{\"fieldRef\":{}}},"
	"{\"name\":\"AWS_CONTAINER_CREDENTIALS_FULL_URI\",\"value\":\"http://169.254.170.23/v1/credentials\"}]},{\"name\":\"b\"}],"
	"\"volumes\":[{\"name\":\"aws-iam-token\",\"projected\":{\"sources\":[{\"serviceAccountToken\":"
	"{\"audience\":\"sts.amazonaws.com\",\"path\":\"token\"}}]}}]},"
	"\"status\":{\"phase\":\"Running\",\"hostIP\":\"10.0.1.11\",\"podIP\":\"10.0.1.45\","
	"\"podIPs\":[{\"ip\":\"10.0.1.45\"},{\"ip\":\"2600:1f18:abcd:0002:0:0:0:000a\"}],\"startTime\":\"2024-05-01T09:00:00Z\","
	"\"initContainerStatuses\":[{\"name\":\"init\",\"containerID\":\"containerd://ccc\"}],"
	"\"containerStatuses\":[{\"name\":\"a\",\"containerID\":\"containerd://aaa\"},{\"name\":\"b\",\"containerID\":\"\"},"
	"{\"name\":\"c\",\"containerID\":\"cri-o://bbb\"}]}}";

static void test_pod_fields(void **state)
{
	struct fx *x = *state;
	struct cid_pod p;
	wipe(x);
	assert_int_equal(load(x, full_pod, 5000000), 0);
	assert_int_equal(cid_k8s_pod_by_ip(db_of(x), "10.0.1.45", 0, &p), 1);
	assert_string_equal(p.ns, "default");
	assert_string_equal(p.name, "web-6d4cf56db6-x7k2p");
	assert_string_equal(p.uid, "9f1c");
	assert_string_equal(p.node, "ip-10-0-1-11.ec2.internal");
	assert_string_equal(p.owner_kind, "Deployment");
	assert_string_equal(p.owner_name, "web");
	assert_string_equal(p.service_account, "web");
	assert_string_equal(p.role_arn, "arn:aws:iam::1:role/r");
	assert_string_equal(p.container_ids, "containerd://aaa,cri-o://bbb,containerd://ccc");
	assert_string_equal(p.pod_ips, "10.0.1.45,2600:1f18:abcd:2::a");
	assert_string_equal(p.host_ip, "10.0.1.11");
	assert_string_equal(p.phase, "Running");
	assert_int_equal(p.start_us, 1714554000000000LL);
	assert_int_equal(p.snapshot_us, 5000000);
	assert_true(p.irsa_token);
	assert_true(p.pod_identity);
	assert_false(p.host_network);
	/* the second address, in any spelling */
	assert_int_equal(cid_k8s_pod_by_ip(db_of(x), "2600:1f18:abcd:2:0::a", 0, &p), 1);
	assert_string_equal(p.name, "web-6d4cf56db6-x7k2p");
	assert_int_equal(cid_k8s_pod_by_ip(db_of(x), "10.0.1.4", 0, &p), 0);
	assert_string_equal(p.name, "");
	assert_int_equal(cid_k8s_pod_by_uid(db_of(x), "9f1c", 0, &p), 1);
	assert_string_equal(p.name, "web-6d4cf56db6-x7k2p");
	assert_int_equal(cid_k8s_pod_by_uid(db_of(x), "nope", 0, &p), 0);
}

static const struct {
	const char *owner_refs, *hash, *kind, *name;
} owner_cases[] = {
	{"[{\"kind\":\"ReplicaSet\",\"name\":\"web-abc12\"}]", "abc12", "Deployment", "web"},
	{"[{\"kind\":\"ReplicaSet\",\"name\":\"web-abc12\"}]", NULL, "ReplicaSet", "web-abc12"},
	{"[{\"kind\":\"ReplicaSet\",\"name\":\"web-abc12\"}]", "zzz", "ReplicaSet", "web-abc12"},
	{"[{\"kind\":\"ReplicaSet\",\"name\":\"abc12\"}]", "abc12", "ReplicaSet", "abc12"},
	{"[{\"kind\":\"ReplicaSet\",\"name\":\"-abc12\"}]", "abc12", "ReplicaSet", "-abc12"},
	{"[{\"kind\":\"Job\",\"name\":\"report-28570140\"}]", NULL, "Job", "report-28570140"},
	{"[{\"kind\":\"DaemonSet\",\"name\":\"aws-node\"}]", NULL, "DaemonSet", "aws-node"},
	{"[{\"kind\":\"Node\",\"name\":\"ip-1\"}]", NULL, "Node", "ip-1"},
	{"[{\"kind\":\"A\",\"name\":\"a\"},{\"kind\":\"B\",\"name\":\"b\",\"controller\":true}]", NULL, "B", "b"},
	{"[{\"kind\":\"A\",\"name\":\"a\"},{\"kind\":\"B\",\"name\":\"b\"}]", NULL, "A", "a"},
	{"[]", NULL, "", ""},
};

static void test_owner(void **state)
{
	struct fx *x = *state;
	char doc[1024];
	struct cid_pod p;
	for (size_t i = 0; i < sizeof(owner_cases) / sizeof(owner_cases[0]); i++) {
		wipe(x);
		snprintf(doc, sizeof(doc),
			 "{\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"n\",\"name\":\"p\",\"uid\":\"u\",%s%s%s"
			 "\"ownerReferences\":%s},\"status\":{\"podIP\":\"10.1.1.1\"}}",
			 owner_cases[i].hash ? "\"labels\":{\"pod-template-hash\":\"" : "",
			 owner_cases[i].hash ? owner_cases[i].hash : "", owner_cases[i].hash ? "\"}," : "",
			 owner_cases[i].owner_refs);
		assert_int_equal(load(x, doc, 1), 0);
		assert_int_equal(cid_k8s_pod_by_uid(db_of(x), "u", 1, &p), 1);
		if (strcmp(p.owner_kind, owner_cases[i].kind) || strcmp(p.owner_name, owner_cases[i].name))
			fail_msg("case %zu: %s/%s", i, p.owner_kind, p.owner_name);
	}
}

/* A pod doc: name, ip, phase, hostNetwork, node, hostIP. */
static void pod_doc(char *buf, size_t n, const char *name, const char *ip, const char *phase, bool host,
		    const char *node, const char *start)
{
	snprintf(buf, n,
		 "{\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"ns\",\"name\":\"%s\",\"uid\":\"uid-%s\"},"
		 "\"spec\":{\"hostNetwork\":%s,\"nodeName\":\"%s\"},\"status\":{\"phase\":\"%s\","
		 "\"podIP\":\"%s\",\"hostIP\":\"%s\",\"startTime\":\"%s\"}}",
		 name, name, host ? "true" : "false", node, phase, ip, host ? ip : "10.0.0.1", start);
}

static void test_nearest(void **state)
{
	struct fx *x = *state;
	char d[1024];
	struct cid_pod p;
	const int64_t t1 = 1000000000, t2 = 2000000000;
	static const struct {
		int64_t at;
		const char *want;
	} at_cases[] = {
		{0, "web"}, {t1, "web"}, {1400000000, "web"}, {1500000000, "web"}, /* tie: the earlier */
		{1500000001, "worker"}, {t2, "worker"}, {9000000000, "worker"},
	};
	wipe(x);
	pod_doc(d, sizeof(d), "web", "10.0.1.45", "Running", false, "n1", "2024-05-01T09:00:00Z");
	assert_int_equal(load(x, d, t1), 0);
	pod_doc(d, sizeof(d), "worker", "10.0.1.45", "Running", false, "n1", "2024-05-01T10:00:00Z");
	assert_int_equal(load(x, d, t2), 0);
	for (size_t i = 0; i < sizeof(at_cases) / sizeof(at_cases[0]); i++) {
		assert_int_equal(cid_k8s_pod_by_ip(db_of(x), "10.0.1.45", at_cases[i].at, &p), 1);
		if (strcmp(p.name, at_cases[i].want))
			fail_msg("at %lld: %s, want %s", (long long)at_cases[i].at, p.name, at_cases[i].want);
	}
	/* one snapshot: a finished Job pod keeps its IP; the Running one wins */
	pod_doc(d, sizeof(d), "job-old", "10.0.2.77", "Succeeded", false, "n2", "2024-05-01T11:00:00Z");
	assert_int_equal(load(x, d, t2), 0);
	pod_doc(d, sizeof(d), "job-new", "10.0.2.77", "Running", false, "n2", "2024-05-01T11:59:00Z");
	assert_int_equal(load(x, d, t2), 0);
	assert_int_equal(cid_k8s_pod_by_ip(db_of(x), "10.0.2.77", t2, &p), 1);
	assert_string_equal(p.name, "job-new");
	/* hostNetwork pods do not own the node's address */
	pod_doc(d, sizeof(d), "agent", "10.0.0.9", "Running", true, "n9", "2024-05-01T11:00:00Z");
	assert_int_equal(load(x, d, t2), 0);
	assert_int_equal(cid_k8s_pod_by_ip(db_of(x), "10.0.0.9", t2, &p), 0);
	/* the same object at the same time replaces its row */
	assert_int_equal(load(x, d, t2), 0);
	assert_int_equal(count(x, "pod"), 5);
	assert_true(cid_k8s_stats(x->k)->replaced >= 1);
}

static const char nodes_doc[] =
	"{\"kind\":\"List\",\"items\":["
	"{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"},\"spec\":{\"providerID\":\"aws:///us-east-1a/i-0aaa\"},"
	"\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.1.11\"},"
	"{\"type\":\"InternalIP\",\"address\":\"fd00:0::11\"},{\"type\":\"Hostname\",\"address\":\"n1\"}]}},"
	"{\"kind\":\"Node\",\"metadata\":{\"name\":\"n2\"},\"spec\":{\"providerID\":\"gce://p/z/n2\"},"
	"\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.2.22\"}]}},"
	"{\"kind\":\"Node\",\"metadata\":{\"name\":\"n3\"},\"spec\":{}}]}";

static void test_nodes(void **state)
{
	struct fx *x = *state;
	struct cid_node n;
	struct cid_pod_list l;
	char d[1024];
	wipe(x);
	assert_int_equal(load(x, nodes_doc, 100), 0);
	assert_int_equal(count(x, "node"), 4);
	assert_int_equal(cid_k8s_node_by_ip(db_of(x), "10.0.1.11", 0, &n), 1);
	assert_string_equal(n.name, "n1");
	assert_string_equal(n.instance_id, "i-0aaa");
	assert_int_equal(cid_k8s_node_by_ip(db_of(x), "fd00::11", 0, &n), 1);
	assert_string_equal(n.name, "n1");
	assert_int_equal(cid_k8s_node_by_ip(db_of(x), "10.0.2.22", 0, &n), 1);
	assert_string_equal(n.instance_id, "");
	assert_int_equal(cid_k8s_node_by_instance(db_of(x), "i-0aaa", 0, &n), 1);
	assert_string_equal(n.internal_ip, "10.0.1.11");
	assert_int_equal(cid_k8s_node_by_ip(db_of(x), "10.9.9.9", 0, &n), 0);
	assert_int_equal(cid_k8s_node_by_instance(db_of(x), NULL, 0, &n), 0);

	/* hostNetwork pods of n1 at two snapshots */
	pod_doc(d, sizeof(d), "zeta", "10.0.1.11", "Running", true, "n1", "2024-05-01T09:00:00Z");
	assert_int_equal(load(x, d, 100), 0);
	pod_doc(d, sizeof(d), "alpha", "10.0.1.11", "Running", true, "n1", "2024-05-01T09:00:00Z");
	assert_int_equal(load(x, d, 100), 0);
	pod_doc(d, sizeof(d), "web", "10.0.1.50", "Running", false, "n1", "2024-05-01T09:00:00Z");
	assert_int_equal(load(x, d, 100), 0);
	pod_doc(d, sizeof(d), "late", "10.0.1.11", "Running", true, "n1", "2024-05-01T09:00:00Z");
	assert_int_equal(load(x, d, 900), 0);
	assert_int_equal(cid_k8s_host_pods(db_of(x), "10.0.1.11", 150, &l), 2);
	assert_string_equal(l.pods[0].name, "alpha");
	assert_string_equal(l.pods[1].name, "zeta");
	assert_true(l.pods[0].host_network);
	cid_pod_list_cleanup(&l);
	assert_int_equal(cid_k8s_host_pods(db_of(x), "n1", 800, &l), 1);
	assert_string_equal(l.pods[0].name, "late");
	cid_pod_list_cleanup(&l);
	/* by the node's other InternalIP, through the node table */
	assert_int_equal(cid_k8s_host_pods(db_of(x), "fd00::11", 0, &l), 2);
	cid_pod_list_cleanup(&l);
	assert_int_equal(cid_k8s_host_pods(db_of(x), "n2", 0, &l), 0);
	assert_null(l.pods);
	cid_pod_list_cleanup(&l);
	cid_pod_list_cleanup(NULL);
}

/* Every proper prefix of a document is rejected whole and stores nothing;
 * the full document loads. */
static void test_prefixes(void **state)
{
	struct fx *x = *state;
	static const char doc[] = "{\"kind\":\"List\",\"items\":[" POD1 "," NODE1 "]}";
	size_t n = strlen(doc);
	wipe(x);
	for (size_t i = 0; i < n; i++) {
		if (cid_k8s_load_buffer(x->k, "mem", 1, (const uint8_t *)doc, i) != 1)
			fail_msg("prefix %zu accepted", i);
		assert_int_equal(count(x, "pod") + count(x, "node"), 0);
	}
	assert_int_equal(cid_k8s_load_buffer(x->k, "mem", 1, (const uint8_t *)doc, n), 0);
	assert_int_equal(count(x, "pod"), 1);
	assert_int_equal(count(x, "node"), 1);
	/* and every prefix of the full pod */
	for (size_t i = 0; i < sizeof(full_pod) - 1; i++)
		assert_int_equal(cid_k8s_load_buffer(x->k, "mem", 2, (const uint8_t *)full_pod, i), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),  cmocka_unit_test(test_pod_fields), cmocka_unit_test(test_owner),
		cmocka_unit_test(test_nearest), cmocka_unit_test(test_nodes),      cmocka_unit_test(test_prefixes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
