/* SPDX-License-Identifier: MIT */
/* Tables of subcommands (`vmmu COMMAND`, `vmmu bench KIND`). */
#ifndef VMMU_CLI_DISPATCH_H
#define VMMU_CLI_DISPATCH_H

#include <stdio.h>

struct cli_subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/* One "    name       summary" line per entry of a NULL-terminated table. */
void cli_list_subcommands(FILE *out, const struct cli_subcommand *table);

/*
 * Run the entry argv[1] names with argv shifted by one, or print
 * "WHO: unknown WHAT 'x' (see WHO --help)" and return 2.
 */
int cli_run_subcommand(const struct cli_subcommand *table, int argc,
		       char **argv, const char *who, const char *what);

#endif
