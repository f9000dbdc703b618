/*
 * cli.h - one entry point per subcommand. Each returns the process exit
 * status: 0 ok, 1 runtime error, 2 usage error. Only main() exits.
 */
#ifndef CID_CLI_H
#define CID_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "callerid/output.h"
#include <stdio.h>

#include "callerid/output.h"

int cid_cmd_read(int argc, char **argv);
int cid_cmd_flows(int argc, char **argv);
int cid_cmd_ingest(int argc, char **argv);
int cid_cmd_events(int argc, char **argv);
int cid_cmd_timeline(int argc, char **argv);
int cid_cmd_correlate(int argc, char **argv);
int cid_cmd_capture(int argc, char **argv);
int cid_cmd_k8s(int argc, char **argv);
int cid_cmd_merge(int argc, char **argv);

/* Shared option helpers (src/cli/common.c). */
/* The database path: --db value, else $CALLERID_DB, else ./callerid.db. */
const char *cid_cli_db_path(const char *opt);
struct cid_event_filter;
/* The event filters of DESIGN's CLI contract, shared by events and
 * correlate: their getopt_long entries (values 'n','S','e','a','i','I','s',
 * 'u') to put first in a command's option table, and their handling.
 * cid_cli_event_filter_opt returns 1 when opt was one of them and taken, 0
 * when it is not a filter option, -1 on a bad value (message printed: a
 * usage error). */
#define CID_CLI_EVENT_FILTER_OPTIONS                                                                   \
	{"event-name", required_argument, NULL, 'n'}, {"event-source", required_argument, NULL, 'S'},  \
	{"error-code", required_argument, NULL, 'e'}, {"arn-like", required_argument, NULL, 'a'},      \
	{"source-ip", required_argument, NULL, 'i'},  {"event-id", required_argument, NULL, 'I'},      \
	{"since", required_argument, NULL, 's'},      {"until", required_argument, NULL, 'u'}
int cid_cli_event_filter_opt(const char *cmd, struct cid_event_filter *f, int opt, const char *arg);

struct cid_store;
/* Opens the database named by --db (db_opt), $CALLERID_DB or ./callerid.db;
 * on failure prints "callerid: <cmd>: <reason>" and returns NULL (the
 * command then exits 1). */
struct cid_store *cid_cli_open_store(const char *cmd, const char *db_opt, bool readonly);

/* A byte count for --flow-mem: digits with an optional K, M or G suffix
 * (powers of 1024), 1 MiB..1 TiB. false when malformed or out of range. */
bool cid_cli_bytes(const char *s, size_t *out);

struct cid_engine_stats;
/* The engine's flow-level counts in read's and capture's end summaries
 * (duplicates, evictions, stream gaps, ...), one line each when not 0;
 * idle: also the flows ended by the idle timeout (live). */
void cid_cli_flow_counts(FILE *out, const struct cid_engine_stats *st, bool idle);

/* One row of counts under the column names cols (ingest's and k8s's
 * closing table) on stdout; -1 (after saying so) when out of memory. */
int cid_cli_counts(const char *cmd, enum cid_fmt fmt, const char *const *cols, const int64_t *vals, size_t n);

/* Prints "callerid: <cmd>: <msg>" to stderr. */
void cid_cli_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The getopt cases every command shares, for option character c: 'd'
 * (--db into *db; only when db is given), 'F' (--format table|json|csv
 * into *fmt; only when fmt is given), 'h' (the usage on stdout) and
 * anything else (unknown or incomplete: a message and the usage on
 * stderr). Returns the exit status to return (0 after -h, 2 for a usage
 * error) or -1 to go on parsing. */
int cid_cli_opt_common(const char *cmd, int c, char **argv, const char *usage, enum cid_fmt *fmt, const char **db);

#endif /* CID_CLI_H */
