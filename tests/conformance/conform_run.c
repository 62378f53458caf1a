/* SPDX-License-Identifier: MIT */
/*
 * Running a batch: pack the cases (batch.h), boot the test kernel in QEMU
 * TCG with the batch as multiboot module, collect the port-0xe9 lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conform.h"

void conf_cpu_decode(struct conf_cpu *cpu)
{
	cpu->pse36 = (cpu->c1edx >> 17) & 1;
	cpu->nx = (cpu->e1edx >> 20) & 1;
	cpu->gbpages = (cpu->e1edx >> 26) & 1;
	cpu->smep = (cpu->c7ebx >> 7) & 1;
	cpu->smap = (cpu->c7ebx >> 20) & 1;
	cpu->pku = (cpu->c7ecx >> 3) & 1;
	cpu->la57 = (cpu->c7ecx >> 16) & 1;
}

static int write_all(FILE *f, const void *p, size_t n)
{
	return fwrite(p, 1, n, f) == n ? 0 : -1;
}

static int pack_batch(const char *path, const struct conf_case *cases, uint32_t n)
{
	struct cb_header h = { CB_MAGIC, CB_VERSION, n, sizeof(h) };
	FILE *f = fopen(path, "wb");
	uint32_t i;
	int rc = 0;

	if (!f)
		return -1;
	for (i = 0; i < n; i++)
		h.total_len += sizeof(struct cb_case) +
			       cases[i].nwords * sizeof(struct cb_word) +
			       cases[i].naccesses * sizeof(struct cb_access);
	rc |= write_all(f, &h, sizeof(h));
	for (i = 0; i < n && !rc; i++) {
		const struct conf_case *c = &cases[i];
		struct cb_case r;

		memset(&r, 0, sizeof(r));
		r.len = (uint32_t)(sizeof(r) + c->nwords * sizeof(struct cb_word) +
				   c->naccesses * sizeof(struct cb_access));
		r.id = c->id;
		r.nwords = c->nwords;
		r.naccesses = c->naccesses;
		r.cr0 = c->cr0;
		r.cr3 = c->cr3;
		r.cr4 = c->cr4;
		r.efer = c->efer;
		r.rflags = c->rflags;
		r.pkru = c->pkru;
		rc |= write_all(f, &r, sizeof(r));
		rc |= write_all(f, c->words, c->nwords * sizeof(struct cb_word));
		rc |= write_all(f, c->acc, c->naccesses * sizeof(struct cb_access));
	}
	if (fclose(f))
		rc = -1;
	return rc;
}

/* Run QEMU on batch -> out; kill it after the timeout. 0 or -1. */
static int run_qemu(const struct conf_emulator *em, const char *batch,
		    const char *out)
{
	char debugcon[4200];
	const char *argv[32];
	int n = 0, status;
	pid_t pid;
	time_t deadline;

	snprintf(debugcon, sizeof(debugcon), "file:%s", out);
	argv[n++] = em->qemu;
	argv[n++] = "-accel";
	argv[n++] = "tcg";
	argv[n++] = "-cpu";
	argv[n++] = em->cpu_model;
	argv[n++] = "-m";
	argv[n++] = "2G";
	argv[n++] = "-display";
	argv[n++] = "none";
	argv[n++] = "-nodefaults";
	argv[n++] = "-no-reboot";
	argv[n++] = "-kernel";
	argv[n++] = em->kernel;
	argv[n++] = "-initrd";
	argv[n++] = batch;
	argv[n++] = "-debugcon";
	argv[n++] = debugcon;
	argv[n++] = "-device";
	argv[n++] = "isa-debug-exit,iobase=0xf4,iosize=4";
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0) {
			dup2(devnull, 1);
			close(devnull);
		}
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "conform: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	deadline = time(NULL) + (time_t)em->timeout_s;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -1;
		if (time(NULL) > deadline) {
			fprintf(stderr, "conform: emulator timed out after %u s\n",
				em->timeout_s);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return 0;       /* what it printed still counts */
		}
		usleep(2000);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -1;
	return 0;
}

static int parse_k_line(const char *line, struct conf_cpu *cpu)
{
	unsigned mp;

	if (sscanf(line, "K %x %x %x %x %x", &mp, &cpu->c1edx, &cpu->c7ebx,
		   &cpu->c7ecx, &cpu->e1edx) != 5)
		return -1;
	cpu->maxphyaddr = mp;
	conf_cpu_decode(cpu);
	return 0;
}

/* Parse the kernel's lines for cases; returns how many completed. */
static int parse_output(FILE *f, const struct conf_case *cases, uint32_t n,
			struct conf_outcome *out, struct conf_cpu *cpu)
{
	char line[256];
	int cur = -1, done = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		memset(&out[i], 0, sizeof(out[i]));
	while (fgets(line, sizeof(line), f)) {
		unsigned a, b, c2, id;
		unsigned long long v, cr2;
		struct conf_outcome *o = cur >= 0 ? &out[cur] : NULL;

		if (cpu && strstr(line, "K ")) {
			/* Bochs prints terminal escapes before it */
			parse_k_line(strstr(line, "K "), cpu);
		} else if (sscanf(line, "C %x", &id) == 1) {
			cur = done;
			if ((uint32_t)cur >= n || cases[cur].id != id)
				return done;
			for (i = 0; i < cases[cur].nwords; i++)
				out[cur].final[i] = cases[cur].words[i].value;
		} else if (o && sscanf(line, "R o %x", &a) == 1) {
			if (o->nresults < CONF_MAX_ACCESSES) {
				o->res[o->nresults].ok = true;
				o->res[o->nresults++].value = a;
			}
		} else if (o && sscanf(line, "R f %x %x %llx", &b, &c2, &cr2) == 3) {
			if (o->nresults < CONF_MAX_ACCESSES) {
				struct conf_result *r = &o->res[o->nresults++];

				r->vector = b;
				r->error_code = c2;
				r->cr2 = cr2;
			}
		} else if (o && sscanf(line, "W %x %llx", &a, &v) == 2) {
			if (a < cases[cur].nwords)
				o->final[a] = v;
		} else if (o && line[0] == 'E') {
			o->complete = o->nresults == cases[cur].naccesses;
			done++;
			cur = -1;
		} else if (line[0] == 'X') {
			fprintf(stderr, "conform: kernel: %s", line);
		}
	}
	return done;
}

static int run_and_parse(const struct conf_emulator *em,
			 const struct conf_case *cases, uint32_t n,
			 struct conf_outcome *out, struct conf_cpu *cpu)
{
	char batch[4096], result[4096];
	FILE *f;
	int done;

	snprintf(batch, sizeof(batch), "%s/batch-%d.bin", em->workdir, (int)getpid());
	snprintf(result, sizeof(result), "%s/out-%d.txt", em->workdir, (int)getpid());
	unlink(result);
	if (pack_batch(batch, cases, n)) {
		fprintf(stderr, "conform: cannot write %s: %s\n", batch, strerror(errno));
		return -1;
	}
	if ((em->kind == CONF_EMU_BOCHS ? conf_run_bochs(em, batch, result)
					 : run_qemu(em, batch, result)))
		return -1;
	f = fopen(result, "r");
	if (!f) {
		fprintf(stderr, "conform: emulator left no output in %s\n", result);
		return -1;
	}
	done = parse_output(f, cases, n, out, cpu);
	fclose(f);
	unlink(batch);
	unlink(result);
	return done;
}

int conf_probe(const struct conf_emulator *em, struct conf_cpu *cpu)
{
	memset(cpu, 0, sizeof(*cpu));
	if (run_and_parse(em, NULL, 0, NULL, cpu) < 0 || !cpu->maxphyaddr) {
		fprintf(stderr, "conform: the test kernel did not report its CPU\n");
		return -1;
	}
	return 0;
}

int conf_run_batch(const struct conf_emulator *em, const struct conf_case *cases,
		   uint32_t n, struct conf_outcome *out)
{
	return run_and_parse(em, cases, n, out, NULL);
}
