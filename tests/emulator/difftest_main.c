/* SPDX-License-Identifier: MIT */
/*
 * emu_difftest: the long differential run of vmmu's emulator against this
 * CPU. Generates random cases (see gen.h), runs each natively and through
 * the emulator, and prints counts per instruction and addressing form.
 * Of every eight cases five run in 64-bit mode, two in 32-bit compatibility
 * mode and one in 16-bit protected mode (an LDT code segment).
 *
 *   emu_difftest [--cases N] [--seed S] [--report N] [--show-faults]
 *
 * --report N prints the first N mismatches in detail (default 20);
 * --show-faults also prints every case that faulted natively (and agreed).
 *
 * Exit status: 0 no mismatch, 1 mismatches, 2 bad usage or setup failure.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"

int main(int argc, char **argv)
{
	static struct differ d;
	static struct gen_case c;
	unsigned long long cases = 1000000, seed = 1, i;
	struct rng r;
	unsigned int report = 20;
	bool show_faults = false;
	int a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--cases") && a + 1 < argc) {
			cases = strtoull(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "--seed") && a + 1 < argc) {
			seed = strtoull(argv[++a], NULL, 0);
		} else if (!strcmp(argv[a], "--show-faults")) {
			show_faults = true;
		} else if (!strcmp(argv[a], "--report") && a + 1 < argc) {
			report = (unsigned int)strtoul(argv[++a], NULL, 0);
		} else {
			fprintf(stderr, "usage: emu_difftest [--cases N] "
				"[--seed S] [--report N] [--show-faults]\n");
			return 2;
		}
	}
	if (differ_init(&d) < 0)
		return 2;
	d.report_limit = report;
	d.show_faults = show_faults;
	r.s = seed ? seed : 1;
	for (i = 0; i < cases; i++) {
		gen_case(&r, &d.env, differ_mode_for(&d, i), &c);
		differ_run(&d, &c, stderr);
		if ((i + 1) % 100000 == 0)
			fprintf(stderr, "emu_difftest: %llu / %llu cases, "
				"%llu mismatches\n", i + 1, cases,
				(unsigned long long)d.mismatches);
	}
	printf("seed %llu%s\n", seed, d.env.sel16 ? "" :
	       " (no 16-bit code segment: 16-bit cases ran in 32-bit mode)");
	differ_print(&d, stdout);
	a = d.mismatches ? 1 : 0;
	differ_fini(&d);
	return a;
}
