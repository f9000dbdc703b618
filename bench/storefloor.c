/*
 * storefloor.c - what SQLite alone costs to store the rows of a finished run.
 *
 *   storefloor SRC.db DST.db
 *
 * Creates DST.db with SRC.db's schema (tables, then indexes) and the settings
 * callerid's store uses (WAL, synchronous NORMAL, checkpoints every 10,000
 * pages, no memory statistics), and copies every row of every table into it
 * in one transaction with INSERT ... SELECT.
 * No packet is decoded and no value is bound: only SQLite's own work of
 * writing the same records and index entries is left. The copy disables the
 * b-tree transfer shortcut (a WHERE clause), so each row goes through the
 * record encoder and every index insert like a row of callerid's does.
 *
 * `make bench` times it beside `callerid read` to show the floor that the
 * storage contract puts under any reader. Prints "rows=N" on success;
 * exits 1 with a message on failure, 2 on usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

static int fail(sqlite3 *db, const char *what)
{
	fprintf(stderr, "storefloor: %s: %s\n", what, db ? sqlite3_errmsg(db) : "out of memory");
	sqlite3_close(db);
	return 1;
}

static int exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "storefloor: %s: %s\n", sql, err ? err : "error");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

/* Runs, for each text value the query select returns, the statement that
 * fmt makes of it (fmt takes the value twice); adds the rows they changed. */
static int run_each(sqlite3 *db, const char *select, const char *fmt, long long *rows)
{
	sqlite3_stmt *st;
	int rc;
	if (sqlite3_prepare_v2(db, select, -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		char *sql = sqlite3_mprintf(fmt, v, v);
		if (!sql || exec(db, sql)) {
			sqlite3_free(sql);
			sqlite3_finalize(st);
			return -1;
		}
		sqlite3_free(sql);
		*rows += sqlite3_changes(db);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

#define SCHEMA(what) "SELECT " what " FROM src.sqlite_schema WHERE type = "
#define OWN "AND name NOT LIKE 'sqlite_%' AND sql IS NOT NULL ORDER BY rowid"

int main(int argc, char **argv)
{
	sqlite3 *db = NULL;
	long long rows = 0;
	char *attach;
	if (argc != 3) {
		fprintf(stderr, "usage: storefloor SRC.db DST.db\n");
		return 2;
	}
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); /* as callerid's store */
	attach = sqlite3_mprintf("ATTACH 'file:%q?mode=ro' AS src", argv[1]);
	if (!attach)
		return fail(NULL, "attach");
	if (sqlite3_open_v2(argv[2], &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL) !=
		    SQLITE_OK ||
	    exec(db, "PRAGMA journal_mode = WAL") || exec(db, "PRAGMA synchronous = NORMAL") ||
	    exec(db, "PRAGMA wal_autocheckpoint = 10000") || exec(db, attach)) {
		sqlite3_free(attach);
		return fail(db, argv[2]);
	}
	sqlite3_free(attach);
	if (run_each(db, SCHEMA("sql") "'table' " OWN, "%s", &rows) ||
	    run_each(db, SCHEMA("sql") "'index' " OWN, "%s", &rows) || exec(db, "BEGIN"))
		return fail(db, "schema");
	rows = 0;
	if (run_each(db, SCHEMA("name") "'table' " OWN,
		     "INSERT INTO main.\"%w\" SELECT * FROM src.\"%w\" WHERE rowid > -1", &rows) ||
	    exec(db, "COMMIT"))
		return fail(db, "copy");
	if (sqlite3_close(db) != SQLITE_OK)
		return fail(db, "close");
	printf("rows=%lld\n", rows);
	return 0;
}
