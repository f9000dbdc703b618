/*
 * Fuzz harness for kubectl snapshot extraction: the bytes are one JSON
 * document, loaded (detection, SQLite JSON1, type checks, owner and
 * instance-id derivation, inserts) into in-memory pod and node tables, then
 * looked up by the addresses and names it may have stored.
 */
#include <stdint.h>
#include <stdlib.h>

#include "callerid/k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The pod and node tables of schema version 2. */
static const char ddl[] =
	"CREATE TABLE pod(snapshot_us INTEGER, namespace TEXT, name TEXT, uid TEXT, node TEXT,"
	" host_network INTEGER, pod_ip TEXT, host_ip TEXT, owner_kind TEXT, owner_name TEXT,"
	" service_account TEXT, container_ids TEXT, pod_ips TEXT, phase TEXT, role_arn TEXT,"
	" irsa_token INTEGER, pod_identity INTEGER, start_us INTEGER, origin TEXT);"
	"CREATE TABLE node(snapshot_us INTEGER, name TEXT, internal_ip TEXT, instance_id TEXT,"
	" origin TEXT)";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static sqlite3 *db;
	static struct cid_k8s *k;
	static const char *const keys[] = {"10.0.1.45", "10.0.1.11", "fd00::11", "n1", "u1", "i-0123"};
	struct cid_pod p;
	struct cid_node n;
	struct cid_pod_list l;
	char err[256];

	if (!db) {
		if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
		    sqlite3_exec(db, ddl, NULL, NULL, NULL) != SQLITE_OK)
			abort();
		k = cid_k8s_new(db, NULL, err, sizeof(err));
		if (!k)
			abort();
	}
	(void)cid_k8s_load_buffer(k, "fuzz", 1000, data, size);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		(void)cid_k8s_pod_by_ip(db, keys[i], 0, &p);
		(void)cid_k8s_pod_by_uid(db, keys[i], 0, &p);
		(void)cid_k8s_node_by_ip(db, keys[i], 0, &n);
		(void)cid_k8s_node_by_instance(db, keys[i], 0, &n);
		if (cid_k8s_host_pods(db, keys[i], 0, &l) >= 0)
			cid_pod_list_cleanup(&l);
	}
	sqlite3_exec(db, "DELETE FROM pod; DELETE FROM node", NULL, NULL, NULL);
	return 0;
}
