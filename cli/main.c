/* SPDX-License-Identifier: MIT */
/* The vmmu command: dispatch to subcommands. */
#include <stdio.h>
#include <string.h>

#include "vmmu/vmmu.h"

#define VMMU_COMMAND(name) \
	int cmd_##name(int argc, char **argv); \
	extern const char cmd_##name##_summary[];
#include "commands.inc"
#undef VMMU_COMMAND

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

#define VMMU_COMMAND(name) { #name, cmd_##name, cmd_##name##_summary },
static const struct command commands[] = {
#include "commands.inc"
	{ NULL, NULL, NULL },
};
#undef VMMU_COMMAND

static void usage(FILE *out)
{
	const struct command *c;

	fprintf(out,
"NAME\n"
"    vmmu - memory virtualization for hypervisors: EPT, NPT, shadow paging\n"
"\n"
"SYNOPSIS\n"
"    vmmu COMMAND [OPTIONS]\n"
"    vmmu COMMAND --help\n"
"\n"
"COMMANDS\n");
	for (c = commands; c->name; c++)
		fprintf(out, "    %-10s %s\n", c->name, c->summary);
	fprintf(out,
"\n"
"EXIT STATUS\n"
"    0 success, 1 a check or run failed, 2 bad usage or malformed input.\n"
"\n"
"vmmu %s\n", VMMU_VERSION);
}

int main(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("vmmu %s\n", VMMU_VERSION);
		return 0;
	}
	for (c = commands; c->name; c++)
		if (!strcmp(argv[1], c->name))
			return c->fn(argc - 1, argv + 1);
	fprintf(stderr, "vmmu: unknown command '%s' (see vmmu --help)\n",
		argv[1]);
	return 2;
}
