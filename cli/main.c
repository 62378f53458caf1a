/* SPDX-License-Identifier: MIT */
/* The vmmu command: dispatch to subcommands. */
#include <stdio.h>
#include <string.h>

#include "vmmu/vmmu.h"
#include "cli_dispatch.h"

#define VMMU_COMMAND(name) \
	int cmd_##name(int argc, char **argv); \
	extern const char cmd_##name##_summary[];
#include "commands.inc"
#undef VMMU_COMMAND

#define VMMU_COMMAND(name) { #name, cmd_##name, cmd_##name##_summary },
static const struct cli_subcommand commands[] = {
#include "commands.inc"
	{ NULL, NULL, NULL },
};
#undef VMMU_COMMAND

static void usage(FILE *out)
{
	fprintf(out,
"NAME\n"
"    vmmu - memory virtualization for hypervisors: EPT, NPT, shadow paging\n"
"\n"
"SYNOPSIS\n"
"    vmmu COMMAND [OPTIONS]\n"
"    vmmu COMMAND --help\n"
"    vmmu help COMMAND [KIND]\n"
"\n"
"COMMANDS\n");
	cli_list_subcommands(out, commands);
	fprintf(out,
"\n"
"EXIT STATUS\n"
"    0 success, 1 a check or run failed, 2 bad usage or malformed input.\n"
"\n"
"vmmu %s\n", VMMU_VERSION);
}

/* `vmmu help COMMAND [KIND]` is `vmmu COMMAND [KIND] --help`. */
static int help_for(int argc, char **argv)
{
	char *args[8];
	int i, n = 0;

	if (argc > 6) {
		fprintf(stderr, "vmmu help: too many words (see vmmu --help)\n");
		return 2;
	}
	for (i = 1; i < argc; i++)
		args[n++] = argv[i];            /* "help", COMMAND, ... */
	args[n++] = "--help";
	args[n] = NULL;
	return cli_run_subcommand(commands, n, args, "vmmu", "command");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "help") && argc > 2)
		return help_for(argc, argv);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("vmmu %s\n", VMMU_VERSION);
		return 0;
	}
	return cli_run_subcommand(commands, argc, argv, "vmmu", "command");
}
