/* SPDX-License-Identifier: MIT */
/* The test functions of tests/pgtable (state: a const struct pgt_cfg *). */
#ifndef TESTS_PGTABLE_TEST_PGT_H
#define TESTS_PGTABLE_TEST_PGT_H

#include "pgt.h"

void pgt_window(const struct pgt_cfg *c, bool big, uint64_t *base,
		uint64_t *pages);

void test_exact_bits(void **state);
void test_update_refused(void **state);
void test_update_noop(void **state);
void test_on_leaf_split(void **state);
void test_bad_args(void **state);
void test_deferred_free(void **state);
void test_merge(void **state);
void test_auto_merge(void **state);
void test_tac_straddle(void **state);
void test_recalc_whole_space(void **state);
void test_recalc_split(void **state);
void test_oom(void **state);

#endif
