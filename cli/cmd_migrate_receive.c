/* SPDX-License-Identifier: MIT */
/* vmmu migrate-receive: the receiving end of vmmu migrate --to. */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli_json.h"
#include "migrate/migrate.h"

const char cmd_migrate_receive_summary[] =
	"receive one live migration (vmmu migrate --to) and answer with page hashes";

static void receive_usage(FILE *out)
{
	fputs(
"NAME\n"
"    vmmu migrate-receive - the receiving side of a live migration\n"
"\n"
"SYNOPSIS\n"
"    vmmu migrate-receive --listen [ADDR:]PORT [--json]\n"
"\n"
"DESCRIPTION\n"
"    Listens on ADDR:PORT (ADDR defaults to 0.0.0.0; PORT 0 picks a free\n"
"    port, printed on stderr), accepts one connection from vmmu migrate\n"
"    --to, and rebuilds the guest in a fresh model VM of the size the\n"
"    stream announces: pages and zero pages of every round, then the vCPU\n"
"    state. Every record is checked (magic, version, sequence number,\n"
"    length, CRC-32, counts and gfns inside guest memory); the first bad\n"
"    one ends the migration with an ERROR record that names it, which\n"
"    the source reports. After the last record it says RESUMED and sends\n"
"    the hash (SHA-256, 8 bytes) of each of its pages, which the source\n"
"    compares with its own. One migration, then it exits.\n"
"\n"
"OPTIONS\n"
"    --listen SPEC  [ADDR:]PORT to listen on (required)\n"
"    --json         machine-readable summary on stdout\n"
"    -h, --help     this text\n"
"\n"
"OUTPUT\n"
"    A line with the guest size, vCPUs, rounds, records, pages and bytes\n"
"    received; with --json {\"ok\", \"error\", \"mem\", \"vcpus\", \"rounds\",\n"
"    \"records\", \"pages\", \"bytes\"}.\n"
"\n"
"EXIT STATUS\n"
"    0 received, 1 the migration failed (the message says why), 2 bad\n"
"    usage.\n"
"\n"
"EXAMPLES\n"
"    vmmu migrate-receive --listen 7000\n"
"    vmmu migrate-receive --listen 127.0.0.1:0 --json\n",
	      out);
}

int cmd_migrate_receive(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mig_recv_report rr;
	const char *spec = NULL;
	char name[64], why[200], opt[32];
	bool json = false;
	int c, lfd, fd, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'l': spec = optarg; break;
		case 'j': json = true; break;
		case 'h': receive_usage(stdout); return 0;
		default:
			fprintf(stderr, "vmmu migrate-receive: unknown or incomplete "
				"option '%s'\n", cli_bad_option(argv, opt, sizeof(opt)));
			return 2;
		}
	}
	if (!spec || optind < argc) {
		fprintf(stderr, "vmmu migrate-receive: --listen [ADDR:]PORT is "
			"required (see --help)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = mig_listen(spec, name, sizeof(name), why, sizeof(why));
	if (lfd < 0) {
		fprintf(stderr, "vmmu migrate-receive: %s\n", why);
		return 1;
	}
	fprintf(stderr, "vmmu migrate-receive: listening on %s\n", name);
	fd = accept(lfd, NULL, NULL);
	close(lfd);
	if (fd < 0) {
		perror("vmmu migrate-receive: accept");
		return 1;
	}
	rc = mig_receive(fd, &rr);
	close(fd);
	if (json) {
		json_t *j = json_pack("{s:b,s:o,s:I,s:i,s:i,s:I,s:I,s:I}",
			"ok", rr.ok, "error", rr.ok ? json_null() : cli_text(rr.why),
			"mem", (json_int_t)rr.mem, "vcpus", rr.vcpus,
			"rounds", rr.rounds, "records", (json_int_t)rr.records,
			"pages", (json_int_t)rr.pages, "bytes", (json_int_t)rr.bytes);

		cli_print_json(j, false);
		json_decref(j);
	} else {
		printf("received %llu MiB guest, %u vCPUs: %u rounds, %llu records, "
		       "%llu pages, %.1f MB\n", (unsigned long long)(rr.mem >> 20),
		       rr.vcpus, rr.rounds, (unsigned long long)rr.records,
		       (unsigned long long)rr.pages, (double)rr.bytes / 1e6);
	}
	if (rc < 0)
		fprintf(stderr, "vmmu migrate-receive: migration failed: %s\n",
			rr.why);
	return rc < 0 ? 1 : 0;
}
