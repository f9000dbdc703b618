/* Placeholder until the ingest subcommand lands (being written now). */
#include "callerid/cli.h"

int cid_cmd_ingest(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cid_cli_err("ingest", "not built yet");
	return 1;
}
