/* Placeholder until the flows subcommand lands (being written now). */
#include "callerid/cli.h"

int cid_cmd_flows(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cid_cli_err("flows", "not built yet");
	return 1;
}
