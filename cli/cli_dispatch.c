/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "cli_dispatch.h"

void cli_list_subcommands(FILE *out, const struct cli_subcommand *table)
{
	const struct cli_subcommand *c;

	for (c = table; c->name; c++)
		fprintf(out, "    %-10s %s\n", c->name, c->summary);
}

int cli_run_subcommand(const struct cli_subcommand *table, int argc,
		       char **argv, const char *who, const char *what)
{
	const struct cli_subcommand *c;

	for (c = table; c->name; c++)
		if (!strcmp(argv[1], c->name))
			return c->fn(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown %s '%s' (see %s --help)\n", who, what,
		argv[1], who);
	return 2;
}
