/* SPDX-License-Identifier: MIT */
/*
 * Deterministic conformance sample: a fixed seed's first cases of every
 * paging mode, run on the test kernel under QEMU TCG (or, built with
 * CONFORM_BOCHS, under Bochs) and compared with vmmu_walk(). Fails on any
 * unexplained disagreement; known differences are printed with their
 * counts. Skips (77) where the emulator is not installed.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conform_drive.h"

#ifdef CONFORM_BOCHS
#define SAMPLE_CASES 400        /* Bochs boots GRUB from a CD for each mode */
#define EMULATOR "bochs"
#define EMULATOR_CHECK "bochs --help >/dev/null 2>&1 && grub-mkrescue --version " \
	">/dev/null 2>&1 && xorriso -version >/dev/null 2>&1 && script -V >/dev/null 2>&1"
#else
#define SAMPLE_CASES 1500
#define EMULATOR "qemu-system-x86_64"
#define EMULATOR_CHECK "qemu-system-x86_64 --version >/dev/null 2>&1"
#endif

static struct conf_drive drive;

static void run_sample(enum conf_mode mode)
{
	struct conf_stats st;
	unsigned c;

	if (!conf_mode_supported(mode, &drive.cpu)) {
		printf("conformance: %s not offered by the emulated CPU\n",
		       conf_mode_name(mode));
		return;
	}
	assert_int_equal(conf_drive_mode(&drive, mode, SAMPLE_CASES, &st), 0);
	printf("conformance %s: %llu cases, %llu accesses, %llu translated, "
	       "%llu #PF, %llu #GP, %llu values checked\n", conf_mode_name(mode),
	       (unsigned long long)st.cases, (unsigned long long)st.accesses,
	       (unsigned long long)st.ok, (unsigned long long)st.faults_pf,
	       (unsigned long long)st.faults_gp,
	       (unsigned long long)st.value_checked);
	for (c = 0; c < CONF_NCLASSES; c++)
		printf("  %-28s %6llu cases %6llu events\n", conf_class_name(c),
		       (unsigned long long)st.by_class[c],
		       (unsigned long long)st.known_events[c]);
	assert_int_equal(st.cases, SAMPLE_CASES);
	assert_int_equal(st.by_class[CONF_DISAGREE], 0);
	/* the sample must exercise both outcomes and the A/D path */
	assert_true(st.ok > SAMPLE_CASES / 4);
	assert_true(st.faults_pf > SAMPLE_CASES / 10);
	assert_true(st.value_checked > SAMPLE_CASES / 4);
	assert_true(st.ad_words_changed > 0);
}

static void test_2level(void **state) { (void)state; run_sample(CONF_2LEVEL); }
static void test_pae(void **state) { (void)state; run_sample(CONF_PAE); }
static void test_4level(void **state) { (void)state; run_sample(CONF_4LEVEL); }
static void test_5level(void **state) { (void)state; run_sample(CONF_5LEVEL); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_2level),
		cmocka_unit_test(test_pae),
		cmocka_unit_test(test_4level),
		cmocka_unit_test(test_5level),
	};
	const char *tmp = getenv("TMPDIR");

#ifdef CONFORM_BOCHS
	drive.em.kind = CONF_EMU_BOCHS;
#else
	drive.em.kind = CONF_EMU_QEMU;
#endif
	drive.em.qemu = "qemu-system-x86_64";
	drive.em.bochs = "bochs";
	drive.em.bochs_cpu = "tigerlake";
	drive.em.kernel = CONFORM_KERNEL;
	drive.em.cpu_model = "max";
	drive.em.workdir = tmp && *tmp ? tmp : "/tmp";
	drive.em.timeout_s = 120;
	drive.seed = 1;
	drive.explain = stderr;
	if (access(CONFORM_KERNEL, R_OK)) {
		printf("SKIP: test kernel %s was not built\n", CONFORM_KERNEL);
		return 77;
	}
	if (system(EMULATOR_CHECK) != 0) {
		printf("SKIP: %s (or a tool it needs) is not installed "
		       "(scripts/deps/conformance.txt)\n", EMULATOR);
		return 77;
	}
	if (conf_probe(&drive.em, &drive.cpu)) {
		printf("SKIP: %s could not boot the test kernel\n", EMULATOR);
		return 77;
	}
	conf_drive_emulator_traits(&drive);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
