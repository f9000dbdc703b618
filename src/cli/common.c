/* Helpers shared by the subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "callerid/cli.h"

const char *cid_cli_db_path(const char *opt)
{
	const char *env;
	if (opt && *opt)
		return opt;
	env = getenv("CALLERID_DB");
	if (env && *env)
		return env;
	return "callerid.db";
}

void cid_cli_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "callerid: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
