/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <string.h>

#include "cli_dispatch.h"

/* Names are typed with '-' where the file name (a C identifier) has '_'. */
static bool name_is(const char *table_name, const char *typed)
{
	for (; *table_name && *typed; table_name++, typed++)
		if (*table_name != *typed &&
		    !(*table_name == '_' && *typed == '-'))
			return false;
	return !*table_name && !*typed;
}

void cli_list_subcommands(FILE *out, const struct cli_subcommand *table)
{
	const struct cli_subcommand *c;
	char name[32];
	size_t i;

	for (c = table; c->name; c++) {
		for (i = 0; c->name[i] && i + 1 < sizeof(name); i++)
			name[i] = c->name[i] == '_' ? '-' : c->name[i];
		name[i] = 0;
		fprintf(out, "    %-10s %s\n", name, c->summary);
	}
}

int cli_run_subcommand(const struct cli_subcommand *table, int argc,
		       char **argv, const char *who, const char *what)
{
	const struct cli_subcommand *c;

	for (c = table; c->name; c++)
		if (name_is(c->name, argv[1]))
			return c->fn(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown %s '%s' (see %s --help)\n", who, what,
		argv[1], who);
	return 2;
}
