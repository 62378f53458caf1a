/* SPDX-License-Identifier: MIT */
/*
 * vmmu trace: record a program's memory accesses and mapping calls under
 * valgrind's lackey into a vmmu trace file (model/trace.h, docs/run.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cli_json.h"
#include "model/trace.h"
#include "vmmu/error.h"

const char cmd_trace_summary[] =
	"record a program's memory trace under valgrind's lackey";

static void trace_usage(FILE *out)
{
	fputs(
"NAME\n"
"    vmmu trace - record a program's memory accesses for vmmu run\n"
"\n"
"SYNOPSIS\n"
"    vmmu trace [-o FILE] [--limit N] [--valgrind PATH] -- CMD [ARGS...]\n"
"\n"
"DESCRIPTION\n"
"    Runs CMD under valgrind's lackey tool (valgrind --tool=lackey\n"
"    --trace-mem=yes --trace-syscalls=yes, its log on a pipe) and keeps,\n"
"    in program order, every load, store, modify (load and store) and\n"
"    instruction fetch lackey reports, and the program's successful mmap,\n"
"    munmap, mremap and brk calls from valgrind's syscall trace. The\n"
"    result is a compact, versioned vmmu trace file (a 256-byte header:\n"
"    magic, version, record count, highest address, checksum, tool and\n"
"    command; then delta-encoded records, zlib-compressed), which\n"
"    `vmmu run --workload trace:FILE` replays. CMD's own output is passed\n"
"    through. Addresses are the program's as valgrind lays it out.\n"
"\n"
"OPTIONS\n"
"    -o FILE         the trace to write (default trace.vtr); an existing\n"
"                    file is replaced only if it is a vmmu trace\n"
"    --limit N       keep the first N accesses (default: all, at most\n"
"                    200000000)\n"
"    --valgrind P    the valgrind to run (default: valgrind on PATH)\n"
"    -h, --help      this text\n"
"\n"
"OUTPUT\n"
"    FILE, and on stderr one line: records, accesses by kind, mapping\n"
"    calls, file size.\n"
"\n"
"EXIT STATUS\n"
"    0 recorded, 1 valgrind or CMD failed (no trace kept), 2 bad usage or\n"
"    an output file that is not a vmmu trace.\n"
"\n"
"EXAMPLES\n"
"    vmmu trace -o ls.vtr -- ls /\n"
"    vmmu trace -o sort.vtr -- sort /etc/passwd\n"
"    vmmu run --workload trace:ls.vtr\n",
	      out);
}

struct trace_opts {
	const char *out, *valgrind;
	uint64_t limit;
	char **cmd;
};

static int parse_opts(int argc, char **argv, struct trace_opts *o)
{
	static const struct option lo[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "limit", required_argument, NULL, 'l' },
		{ "valgrind", required_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char opt[64];
	unsigned v;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+o:h", lo, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case 'V': o->valgrind = optarg; break;
		case 'l':
			if (bench_parse_count(optarg, 1, 200000000, &v) < 0) {
				fprintf(stderr, "vmmu trace: --limit must be "
					"1..200000000\n");
				return 2;
			}
			o->limit = v;
			break;
		case 'h': trace_usage(stdout); return 0;
		default:
			fprintf(stderr, "vmmu trace: unknown or incomplete option "
				"'%s' (see vmmu trace --help)\n",
				cli_bad_option(argv, opt, sizeof(opt)));
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "vmmu trace: no command (vmmu trace -o FILE -- "
			"CMD ARGS)\n");
		return 2;
	}
	o->cmd = argv + optind;
	return -1;
}

/* ---- lackey's log --------------------------------------------------------- */

struct lackey {
	struct trace_writer w;
	uint64_t accesses, by_kind[4], calls, limit;
	bool full;
	/* a syscall valgrind reports as [async]: its number and arguments */
	long pending_nr;
	uint64_t pending_arg[5];
};

static int emit(struct lackey *l, unsigned kind, uint64_t addr, uint64_t len,
		unsigned size)
{
	struct trace_rec r = { (uint8_t)kind, (uint8_t)size, addr, len };

	if (kind < TR_MMAP) {
		if (l->limit && l->accesses >= l->limit) {
			l->full = true;
			return VMMU_OK;
		}
		l->accesses++;
		l->by_kind[kind]++;
	} else {
		l->calls++;
	}
	return trace_write(&l->w, &r);
}

/* "I  0401ab70,3", " S 1fff000708,8", " L ..", " M .." */
static int mem_line(struct lackey *l, const char *s)
{
	static const char kinds[] = "LSMI";
	const char *k = strchr(kinds, s[0] == 'I' ? 'I' : s[1]);
	unsigned long long a;
	unsigned size;

	if (!k || sscanf(s + 2, " %llx,%u", &a, &size) != 2 || !size)
		return VMMU_OK;             /* not an access line */
	return emit(l, (unsigned)(k - kinds), a, 0, size);
}

/* The result of a syscall line: "Success(0x...)"; false on Failure. */
static bool sys_result(const char *s, uint64_t *res)
{
	const char *p = strstr(s, "--> ");

	if (!p)
		return false;
	p = strstr(p, "Success(");
	if (!p)
		return false;
	*res = strtoull(p + 8, NULL, 0);
	return true;
}

static int sys_done(struct lackey *l, long nr, const uint64_t *a, uint64_t res)
{
	switch (nr) {
	case 9:         /* mmap(addr, len, ...) */
		return emit(l, TR_MMAP, res, a[1], 0);
	case 11:        /* munmap(addr, len) */
		return emit(l, TR_MUNMAP, a[0], a[1], 0);
	case 12:        /* brk(addr): the new break */
		return emit(l, TR_BRK, res, 0, 0);
	case 25: {      /* mremap(old, old_len, new_len, ...) */
		int rc = emit(l, TR_MUNMAP, a[0], a[1], 0);

		return rc < 0 ? rc : emit(l, TR_MMAP, res, a[2], 0);
	}
	}
	return VMMU_OK;
}

/* "SYSCALL[pid,tid](nr) sys_name ( a0, a1, ... ) --> ... Success(0x..)" */
static int syscall_line(struct lackey *l, const char *s)
{
	const char *p = strchr(s, '('), *args;
	uint64_t a[5] = { 0 }, res;
	long nr;
	unsigned i;

	if (!p)
		return VMMU_OK;
	nr = strtol(p + 1, NULL, 10);
	if (nr != 9 && nr != 11 && nr != 12 && nr != 25)
		return VMMU_OK;
	if (strstr(s, "... [async] -->")) {     /* the second half */
		if (nr == l->pending_nr && sys_result(s, &res))
			return sys_done(l, nr, l->pending_arg, res);
		return VMMU_OK;
	}
	args = strstr(s, " ( ");
	for (i = 0, p = args ? args + 3 : NULL; p && i < 5; i++) {
		a[i] = strtoull(p, NULL, 0);
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	if (strstr(s, "[async] ...")) {
		l->pending_nr = nr;
		memcpy(l->pending_arg, a, sizeof(a));
		return VMMU_OK;
	}
	return sys_result(s, &res) ? sys_done(l, nr, a, res) : VMMU_OK;
}

static int read_log(struct lackey *l, FILE *log)
{
	char *line = NULL;
	size_t cap = 0;
	int rc = VMMU_OK;

	while (rc == 0 && getline(&line, &cap, log) > 0) {
		if (line[0] == 'I' || (line[0] == ' ' && line[1] && line[2] == ' '))
			rc = mem_line(l, line);
		else if (!strncmp(line, "SYSCALL[", 8))
			rc = syscall_line(l, line);
	}
	free(line);
	return rc;
}

/* ---- running valgrind ----------------------------------------------------- */

static pid_t start_valgrind(const struct trace_opts *o, int logfd, int rfd)
{
	pid_t pid = fork();
	char fdopt[32];
	int n = 0;
	char **argv;

	if (pid != 0)
		return pid;
	close(rfd);
	for (n = 0; o->cmd[n]; n++)
		;
	argv = calloc((size_t)n + 8, sizeof(*argv));
	if (!argv)
		_exit(127);
	snprintf(fdopt, sizeof(fdopt), "--log-fd=%d", logfd);
	argv[0] = (char *)o->valgrind;
	argv[1] = "--tool=lackey";
	argv[2] = "--trace-mem=yes";
	argv[3] = "--trace-syscalls=yes";
	argv[4] = fdopt;
	argv[5] = "--";
	memcpy(argv + 6, o->cmd, (size_t)n * sizeof(*argv));
	execvp(o->valgrind, argv);
	fprintf(stderr, "vmmu trace: cannot run %s: %s (apt-get install "
		"valgrind)\n", o->valgrind, strerror(errno));
	_exit(127);
}

static void join_cmd(char **cmd, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (; *cmd && off + 1 < len; cmd++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					off ? " " : "", *cmd);
}

static int record(const struct trace_opts *o, struct lackey *l)
{
	int fds[2], status = 0, rc;
	FILE *log;
	pid_t pid;

	if (pipe(fds) < 0)
		return VMMU_EIO;
	pid = start_valgrind(o, fds[1], fds[0]);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return VMMU_EIO;
	}
	log = fdopen(fds[0], "r");
	rc = log ? read_log(l, log) : VMMU_EIO;
	if (log)
		fclose(log);
	else
		close(fds[0]);
	if (rc < 0)
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) == 127))
		rc = VMMU_EIO;
	if (rc == 0 && !l->accesses)
		rc = VMMU_EPARSE;
	return rc;
}

int cmd_trace(int argc, char **argv)
{
	struct trace_opts o = { .out = "trace.vtr", .valgrind = "valgrind" };
	struct lackey l;
	char err[512], cmd[161];
	int rc = parse_opts(argc, argv, &o);

	if (rc >= 0)
		return rc;
	memset(&l, 0, sizeof(l));
	l.limit = o.limit;
	l.pending_nr = -1;
	join_cmd(o.cmd, cmd, sizeof(cmd));
	if (trace_writer_open(&l.w, o.out, "valgrind-lackey", cmd, err,
			      sizeof(err)) < 0) {
		fprintf(stderr, "vmmu trace: %s\n", err);
		return 2;
	}
	rc = record(&o, &l);
	if (rc < 0) {
		trace_writer_abort(&l.w);
		fprintf(stderr, "vmmu trace: %s\n", rc == VMMU_EPARSE ?
			"lackey reported no memory access (is valgrind's lackey "
			"tool installed?)" : "valgrind or the command failed; no "
			"trace written");
		return 1;
	}
	if (trace_writer_close(&l.w, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmmu trace: %s\n", err);
		return 1;
	}
	fprintf(stderr, "vmmu trace: %s: %" PRIu64 " accesses (%" PRIu64
		" loads, %" PRIu64 " stores, %" PRIu64 " modifies, %" PRIu64
		" fetches), %" PRIu64 " mapping calls%s\n", o.out, l.accesses,
		l.by_kind[0], l.by_kind[1], l.by_kind[2], l.by_kind[3], l.calls,
		l.full ? " (stopped at --limit)" : "");
	return 0;
}
