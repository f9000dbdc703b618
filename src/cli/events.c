/* Placeholder until the events subcommand lands (being written now). */
#include "callerid/cli.h"

int cid_cmd_events(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cid_cli_err("events", "not built yet");
	return 1;
}
