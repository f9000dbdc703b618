/*
 * store_int.h - internals shared by the files of src/store/ (not a public
 * interface: other modules use include/callerid/store.h).
 */
#ifndef CID_STORE_INT_H
#define CID_STORE_INT_H

#include <stddef.h>

/* The migration that takes a database from schema version `from` to
 * `from + 1`: one SQL text of ';'-separated statements, run inside the
 * migration transaction. NULL when `from` is out of range
 * (0 <= from < cid_store_schema_version()). */
const char *cid_store_migration_sql(int from);

#endif /* CID_STORE_INT_H */
