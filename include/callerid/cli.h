/*
 * cli.h - one entry point per subcommand. Each returns the process exit
 * status: 0 ok, 1 runtime error, 2 usage error. Only main() exits.
 */
#ifndef CID_CLI_H
#define CID_CLI_H

int cid_cmd_read(int argc, char **argv);
int cid_cmd_flows(int argc, char **argv);
int cid_cmd_ingest(int argc, char **argv);
int cid_cmd_events(int argc, char **argv);
int cid_cmd_timeline(int argc, char **argv);
int cid_cmd_correlate(int argc, char **argv);
int cid_cmd_capture(int argc, char **argv);
int cid_cmd_k8s(int argc, char **argv);

/* Shared option helpers (src/cli/common.c). */
/* The database path: --db value, else $CALLERID_DB, else ./callerid.db. */
const char *cid_cli_db_path(const char *opt);
/* Prints "callerid: <cmd>: <msg>" to stderr. */
void cid_cli_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* CID_CLI_H */
