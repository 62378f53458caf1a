/* SPDX-License-Identifier: MIT */
/*
 * conform: hold vmmu's guest page-table walker against an x86 emulator.
 * See usage() and docs/conformance.md.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conform_drive.h"

#ifndef CONFORM_KERNEL
#define CONFORM_KERNEL "conform-kernel.elf"
#endif

static void usage(FILE *f)
{
	fprintf(f,
"NAME\n"
"    conform - check vmmu's guest page-table walker against an x86 emulator\n"
"\n"
"SYNOPSIS\n"
"    conform [--mode MODE|all] [--cases N] [--seed S] [--emulator qemu|bochs]\n"
"            [--first-id N] [--batch N] [--cpu MODEL] [--qemu PATH]\n"
"            [--bochs PATH] [--bochs-cpu MODEL]\n"
"            [--kernel PATH] [--timeout S] [--explain FILE] [--explain-known]\n"
"            [--dump-case ID] [--json] [--quiet]\n"
"\n"
"DESCRIPTION\n"
"    Generates random paging cases (page tables, control registers, PKRU,\n"
"    RFLAGS.AC, accesses at CPL 0 and 3), runs them on a bare-metal test\n"
"    kernel under QEMU TCG or Bochs (thousands per boot) and compares every\n"
"    access\n"
"    (translation or #PF error code and CR2, #GP for bad PAE PDPTEs) and\n"
"    the final A/D state of every entry with vmmu_walk(). Differences that\n"
"    match a documented known difference are counted under it; all others\n"
"    are disagreements. The case with id N of a mode and seed is always\n"
"    the same case.\n"
"\n"
"OPTIONS\n"
"    --mode MODE     2level, pae, 4level, 5level or all (default all)\n"
"    --cases N       cases per mode (default 1000)\n"
"    --seed S        generator seed (default 1)\n"
"    --first-id N    id of the first case (default 0)\n"
"    --emulator E    qemu (default) or bochs (boots a GRUB rescue CD; needs\n"
"                    grub-pc-bin, xorriso, mtools and script(1))\n"
"    --batch N       cases per emulator boot (default 2000)\n"
"    --cpu MODEL     QEMU -cpu model (default max)\n"
"    --qemu PATH     QEMU binary (default qemu-system-x86_64)\n"
"    --bochs PATH    Bochs binary (default bochs)\n"
"    --bochs-cpu M   Bochs cpu model (default tigerlake: PKU, 1 GiB pages;\n"
"                    Bochs 2.7 offers no LA57 model, so 5level is skipped)\n"
"    --kernel PATH   test kernel (default: the one built with conform)\n"
"    --timeout S     seconds per boot before it is killed (default 300)\n"
"    --explain FILE  describe each disagreement (and its case as a\n"
"                    `vmmu walk --case` document) in FILE ('-': stdout)\n"
"    --explain-known also describe cases with a known difference\n"
"    --dump-case ID  print case ID of --mode as a `vmmu walk --case`\n"
"                    document and exit (needs the emulator for its CPUID)\n"
"    --json          print the summary as JSON\n"
"    --quiet         no progress on stderr\n"
"\n"
"OUTPUT\n"
"    Per mode: cases, accesses, translations, #PF and #GP outcomes, tag\n"
"    values checked, entries whose A/D bits changed, and the count of each\n"
"    class (agree, each known difference, DISAGREE) with its meaning.\n"
"\n"
"EXIT STATUS\n"
"    0 no unexplained disagreement; 1 disagreements; 2 bad usage;\n"
"    77 the emulator is not installed or did not boot the kernel.\n"
"\n"
"EXAMPLES\n"
"    conform --mode pae --cases 100000 --seed 1 --emulator qemu\n"
"    conform --mode 4level --cases 200 --explain - --explain-known\n"
"    conform --mode pae --cases 20000 --emulator bochs\n"
"    conform --mode 2level --dump-case 17 | vmmu walk --case -\n");
}

static void print_stats(FILE *f, enum conf_mode m, const struct conf_stats *st,
			double secs, bool json, bool first)
{
	unsigned c;

	if (json) {
		fprintf(f, "%s    \"%s\": {\"cases\": %llu, \"accesses\": %llu, "
			"\"translations\": %llu, \"page_faults\": %llu, "
			"\"general_protection\": %llu, \"values_checked\": %llu, "
			"\"values_unchecked\": %llu, \"ad_words_changed\": %llu, "
			"\"crashed\": %llu, \"seconds\": %.1f, "
			"\"pages\": {\"4k\": %llu, \"2m\": %llu, \"4m\": %llu, \"1g\": %llu}, "
			"\"pfec_bits\": {\"p\": %llu, \"w\": %llu, \"u\": %llu, \"rsvd\": %llu, "
			"\"i\": %llu, \"pk\": %llu}, \"classes\": {",
			first ? "" : ",\n", conf_mode_name(m),
			(unsigned long long)st->cases, (unsigned long long)st->accesses,
			(unsigned long long)st->ok, (unsigned long long)st->faults_pf,
			(unsigned long long)st->faults_gp,
			(unsigned long long)st->value_checked,
			(unsigned long long)st->value_unchecked,
			(unsigned long long)st->ad_words_changed,
			(unsigned long long)st->crashed, secs,
			(unsigned long long)st->size_4k, (unsigned long long)st->size_2m,
			(unsigned long long)st->size_4m, (unsigned long long)st->size_1g,
			(unsigned long long)st->pfec_bit[0], (unsigned long long)st->pfec_bit[1],
			(unsigned long long)st->pfec_bit[2], (unsigned long long)st->pfec_bit[3],
			(unsigned long long)st->pfec_bit[4], (unsigned long long)st->pfec_bit[5]);
		for (c = 0; c < CONF_NCLASSES; c++)
			fprintf(f, "%s\"%s\": {\"cases\": %llu, \"events\": %llu}",
				c ? ", " : "", conf_class_name(c),
				(unsigned long long)st->by_class[c],
				(unsigned long long)st->known_events[c]);
		fprintf(f, "}}");
		return;
	}
	fprintf(f, "%s: %llu cases, %llu accesses (%llu translated, %llu #PF, %llu #GP), "
		"%llu values checked (%llu unchecked: no RAM), %llu entries changed A/D, "
		"%.1f s\n", conf_mode_name(m), (unsigned long long)st->cases,
		(unsigned long long)st->accesses, (unsigned long long)st->ok,
		(unsigned long long)st->faults_pf, (unsigned long long)st->faults_gp,
		(unsigned long long)st->value_checked,
		(unsigned long long)st->value_unchecked,
		(unsigned long long)st->ad_words_changed, secs);
	fprintf(f, "  pages: %llu 4K, %llu 2M, %llu 4M, %llu 1G; #PF bits: %llu P, %llu W, "
		"%llu U, %llu RSVD, %llu I, %llu PK\n",
		(unsigned long long)st->size_4k, (unsigned long long)st->size_2m,
		(unsigned long long)st->size_4m, (unsigned long long)st->size_1g,
		(unsigned long long)st->pfec_bit[0], (unsigned long long)st->pfec_bit[1],
		(unsigned long long)st->pfec_bit[2], (unsigned long long)st->pfec_bit[3],
		(unsigned long long)st->pfec_bit[4], (unsigned long long)st->pfec_bit[5]);
	fprintf(f, "  accesses with: %llu CPL3, %llu SMEP, %llu SMAP, %llu AC, %llu PKE, "
		"%llu NXE, %llu WP\n",
		(unsigned long long)st->cpl3, (unsigned long long)st->smep_on,
		(unsigned long long)st->smap_on, (unsigned long long)st->ac_on,
		(unsigned long long)st->pke_on, (unsigned long long)st->nxe_on,
		(unsigned long long)st->wp_on);
	fprintf(f, "  %-24s %8s %8s\n", "class", "cases", "events");
	for (c = 0; c < CONF_NCLASSES; c++)
		if (st->by_class[c] || st->known_events[c] || c == CONF_DISAGREE)
			fprintf(f, "  %-24s %8llu %8llu  %s\n", conf_class_name(c),
				(unsigned long long)st->by_class[c],
				(unsigned long long)st->known_events[c],
				conf_class_doc(c));
	if (st->crashed)
		fprintf(f, "  (%llu of the disagreements: the emulator stopped)\n",
			(unsigned long long)st->crashed);
}

struct opts {
	int mode;               /* -1: all */
	uint32_t ncases;
	long dump_id;
	bool json;
};

static int parse_args(int argc, char **argv, struct conf_drive *d, struct opts *o)
{
	static const struct option longopts[] = {
		{ "mode", 1, 0, 'm' }, { "cases", 1, 0, 'n' }, { "seed", 1, 0, 's' },
		{ "emulator", 1, 0, 'e' }, { "batch", 1, 0, 'b' }, { "cpu", 1, 0, 'c' },
		{ "qemu", 1, 0, 'q' }, { "kernel", 1, 0, 'k' }, { "timeout", 1, 0, 't' },
		{ "explain", 1, 0, 'x' }, { "explain-known", 0, 0, 'X' },
		{ "dump-case", 1, 0, 'd' }, { "json", 0, 0, 'j' }, { "quiet", 0, 0, 'Q' },
		{ "first-id", 1, 0, 'f' }, { "bochs", 1, 0, 'B' },
		{ "bochs-cpu", 1, 0, 'M' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		enum conf_mode m;

		switch (ch) {
		case 'm':
			if (!strcmp(optarg, "all")) {
				o->mode = -1;
			} else if (conf_mode_parse(optarg, &m)) {
				fprintf(stderr, "conform: unknown mode '%s'\n", optarg);
				return 2;
			} else {
				o->mode = (int)m;
			}
			break;
		case 'n': o->ncases = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 's': d->seed = strtoull(optarg, NULL, 0); break;
		case 'f': d->first_id = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'b': d->batch = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'c': d->em.cpu_model = optarg; break;
		case 'q': d->em.qemu = optarg; break;
		case 'k': d->em.kernel = optarg; break;
		case 't': d->em.timeout_s = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'x':
			d->explain = strcmp(optarg, "-") ? fopen(optarg, "w") : stdout;
			if (!d->explain) {
				perror(optarg);
				return 2;
			}
			break;
		case 'X': d->explain_known = true; break;
		case 'd': o->dump_id = strtol(optarg, NULL, 0); break;
		case 'j': o->json = true; break;
		case 'Q': d->progress = false; break;
		case 'e':
			if (!strcmp(optarg, "qemu")) {
				d->em.kind = CONF_EMU_QEMU;
			} else if (!strcmp(optarg, "bochs")) {
				d->em.kind = CONF_EMU_BOCHS;
			} else {
				fprintf(stderr, "conform: unknown emulator '%s' "
					"(qemu or bochs)\n", optarg);
				return 2;
			}
			break;
		case 'B': d->em.bochs = optarg; break;
		case 'M': d->em.bochs_cpu = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || !o->ncases || d->batch > 20000) {
		fprintf(stderr, "conform: bad arguments (see --help)\n");
		return 2;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct conf_drive d = {
		.em = { .kind = CONF_EMU_QEMU, .qemu = "qemu-system-x86_64",
			.bochs = "bochs", .bochs_cpu = "tigerlake",
			.kernel = CONFORM_KERNEL, .cpu_model = "max",
			.workdir = "/tmp", .timeout_s = 300 },
		.seed = 1, .progress = true,
	};
	struct opts o = { -1, 1000, -1, false };
	unsigned m;
	int rc = parse_args(argc, argv, &d, &o), bad = 0, first = 1;
	const char *tmp = getenv("TMPDIR");

	if (rc >= 0)
		return rc;
	if (tmp && *tmp)
		d.em.workdir = tmp;
	if (access(d.em.kernel, R_OK)) {
		fprintf(stderr, "conform: test kernel %s not found\n", d.em.kernel);
		return 2;
	}
	if (conf_probe(&d.em, &d.cpu)) {
		fprintf(stderr, "SKIP: %s could not boot the test kernel\n",
			d.em.kind == CONF_EMU_BOCHS ? d.em.bochs : d.em.qemu);
		return 77;
	}
	conf_drive_emulator_traits(&d);
	if (o.dump_id >= 0) {
		struct conf_case *c = malloc(sizeof(*c));

		if (!c)
			return 1;
		conf_gen_case(c, o.mode < 0 ? CONF_4LEVEL : (enum conf_mode)o.mode,
			      &d.cpu, d.seed, (uint32_t)o.dump_id);
		conf_case_json(stdout, c, &d.cpu);
		free(c);
		return 0;
	}
	if (o.json)
		printf("{\"seed\": %llu, \"maxphyaddr\": %u, \"modes\": {\n",
		       (unsigned long long)d.seed, d.cpu.maxphyaddr);
	for (m = 0; m < CONF_NMODES; m++) {
		struct conf_stats st;
		struct timespec t0, t1;

		if (o.mode >= 0 && (unsigned)o.mode != m)
			continue;
		if (!conf_mode_supported((enum conf_mode)m, &d.cpu)) {
			fprintf(stderr, "conform: %s: the emulated CPU lacks it, skipped\n",
				conf_mode_name((enum conf_mode)m));
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (conf_drive_mode(&d, (enum conf_mode)m, o.ncases, &st)) {
			fprintf(stderr, "conform: the emulator could not be run\n");
			return 77;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		print_stats(stdout, (enum conf_mode)m, &st,
			    (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
			    o.json, first);
		first = 0;
		bad |= st.by_class[CONF_DISAGREE] != 0;
	}
	if (o.json)
		printf("\n}}\n");
	if (d.explain && d.explain != stdout)
		fclose(d.explain);
	return bad;
}
