/*
 * expire.c - a time limit on what a long capture keeps (store.h).
 *
 * A capture that runs for days on a busy node would grow its database
 * without end; `capture --retain` deletes, every so often, the flows that
 * ended before the limit with everything that hangs on them: TLS rows,
 * request bursts, owners, HTTP rows, NAT links, and the DNS rows of that
 * time. The pages freed are reused by the rows that follow, so the file
 * stops growing once it holds one retention period. A pass takes at most
 * a given number of flows, so that a tick stays short; the next pass goes
 * on. The deletes join the open write batch and are committed with it.
 */
#include "store_int.h"

static const struct {
	const char *sql;
} steps[] = {
	{"CREATE TEMP TABLE IF NOT EXISTS expire_ids(id INTEGER PRIMARY KEY)"},
	{"DELETE FROM temp.expire_ids"},
	/* flow_first narrows the scan; coalesce: a flow's last packet */
	{"INSERT INTO temp.expire_ids SELECT id FROM flow WHERE first_us < ?1 AND end_reason IS NOT NULL"
	 " AND coalesce(last_us, first_us) < ?1 ORDER BY first_us LIMIT ?2"},
	{"DELETE FROM request WHERE flow_id IN (SELECT id FROM temp.expire_ids)"},
	{"DELETE FROM tls WHERE flow_id IN (SELECT id FROM temp.expire_ids)"},
	{"DELETE FROM owner WHERE flow_id IN (SELECT id FROM temp.expire_ids)"},
	{"DELETE FROM http WHERE flow_id IN (SELECT id FROM temp.expire_ids)"},
	{"DELETE FROM nat_link WHERE inner_flow_id IN (SELECT id FROM temp.expire_ids)"
	 " OR outer_flow_id IN (SELECT id FROM temp.expire_ids)"},
	{"DELETE FROM dns WHERE ts_us < ?1"},
	{"DELETE FROM flow WHERE id IN (SELECT id FROM temp.expire_ids)"},
};
#define NUM_STEPS (sizeof(steps) / sizeof(steps[0]))
#define STEP_FLOWS 9 /* the step whose changes are the flows removed */

int cid_store_expire(struct cid_store *s, int64_t before_us, unsigned max_flows, uint64_t *flows)
{
	int r = cid_store_begin(s);
	*flows = 0;
	if (r < 0)
		return r;
	for (size_t i = 0; i < NUM_STEPS; i++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(s->db, steps[i].sql, -1, &st, NULL) != SQLITE_OK)
			return cid_store_write_fail(s, "cannot expire old flows");
		if (sqlite3_bind_parameter_count(st) >= 1)
			sqlite3_bind_int64(st, 1, (sqlite3_int64)before_us);
		if (sqlite3_bind_parameter_count(st) >= 2)
			sqlite3_bind_int64(st, 2, (sqlite3_int64)max_flows);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_finalize(st);
			return cid_store_write_fail(s, "cannot expire old flows");
		}
		sqlite3_finalize(st);
		if (i == STEP_FLOWS)
			*flows = (uint64_t)sqlite3_changes(s->db);
	}
	return 0;
}
