/* Placeholder until the read subcommand lands (being written now). */
#include "callerid/cli.h"

int cid_cmd_read(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cid_cli_err("read", "not built yet");
	return 1;
}
