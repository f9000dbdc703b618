/*
 * Fuzz harness for CloudTrail record extraction: the splitter, then the
 * whole loader (SQLite JSON1 + checks + INSERT) into an in-memory event
 * table, then the requestParameters shape of the input.
 */
#include <stdint.h>
#include <stdlib.h>

#include "callerid/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The event table's columns (schema 1); in memory so each input is fast. */
static const char ddl[] =
	"CREATE TABLE event(id INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE,"
	" time_us INTEGER NOT NULL, name TEXT, source TEXT, region TEXT, source_ip TEXT,"
	" user_agent TEXT, arn TEXT, identity_type TEXT, principal_id TEXT, account_id TEXT,"
	" access_key_id TEXT, session_issuer_arn TEXT, session_issuer_name TEXT,"
	" ec2_role_delivery TEXT, session_tags TEXT, error_code TEXT, error_message TEXT,"
	" vpce TEXT, tls_version TEXT, cipher TEXT, host_header TEXT, key_exchange TEXT,"
	" request_params TEXT, read_only INTEGER, event_type TEXT, event_category TEXT,"
	" invoked_by TEXT, raw TEXT, origin TEXT)";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static sqlite3 *db;
	static struct cid_ingest *ig;
	struct cid_ct_split_info info;
	struct cid_buf shape;
	char err[256];
	int64_t us;

	if (!db) {
		if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
		    sqlite3_exec(db, ddl, NULL, NULL, NULL) != SQLITE_OK)
			abort();
		ig = cid_ingest_new(db, NULL, err, sizeof(err));
		if (!ig)
			abort();
	}
	(void)cid_ct_split(data, size, NULL, &info);
	(void)cid_ingest_buffer(ig, "fuzz", data, size);
	sqlite3_exec(db, "DELETE FROM event", NULL, NULL, NULL);
	cid_buf_init(&shape, CID_CT_SHAPE_CAP);
	(void)cid_ct_shape(&shape, data, size);
	cid_buf_cleanup(&shape);
	(void)cid_ct_parse_time((const char *)data, size < 64 ? size : 64, &us);
	return 0;
}
