/*
 * ckpt.h - WAL checkpoints on a thread of their own, for long writers
 * (read, capture, ingest).
 *
 * In WAL mode every page is written twice: to the log at commit and, at a
 * checkpoint, back into the database file, with an fsync of each. SQLite
 * runs the checkpoint inside the commit that crosses wal_autocheckpoint,
 * so the writer would sit through that I/O (tens of milliseconds per
 * 40 MB here) while its producer's queue fills. With a checkpointer,
 * commits only signal a thread that runs PASSIVE checkpoints (they never
 * block the writer) on its own connection. A PASSIVE checkpoint cannot
 * restart the log while the writer keeps appending, so past
 * CID_CKPT_HARD_MULT times the threshold the writer checkpoints itself,
 * as SQLite would have, and the log restarts: it stays bounded (80,000
 * frames, ~320 MB, with the store's 10,000).
 *
 * Usage, all on the writer's thread (the one that owns db):
 *   ck = cid_ckpt_begin(db);      NULL: not WAL, no threads; SQLite's way
 *   ... after each COMMIT: cid_ckpt_committed(ck);
 *   cid_ckpt_end(ck);             joins the thread; SQLite's setting back
 * The connection's close then checkpoints what is left, as it always did.
 */
#ifndef CID_CKPT_H
#define CID_CKPT_H

#include <sqlite3.h>

#define CID_CKPT_HARD_MULT 8

struct cid_ckpt;

/* Hooks db's commits when it is a WAL file with automatic checkpoints and
 * SQLite is thread-safe; NULL otherwise (or without memory), and then
 * nothing changes. */
struct cid_ckpt *cid_ckpt_begin(sqlite3 *db);

/* After a commit on db: starts the thread if it could not start at
 * cid_ckpt_begin (see ckpt.c). NULL does nothing. */
void cid_ckpt_committed(struct cid_ckpt *ck);

/* An integer PRAGMA's value (sql: "PRAGMA name"), or 0 when it cannot be
 * read. Here because the checkpointer reads wal_autocheckpoint; ingest
 * reads cache_size with it too. */
int cid_ckpt_pragma_int(sqlite3 *db, const char *sql);

/* Stops and joins the thread, restores wal_autocheckpoint, frees ck.
 * NULL does nothing. */
void cid_ckpt_end(struct cid_ckpt *ck);

#endif /* CID_CKPT_H */
