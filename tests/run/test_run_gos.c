/* SPDX-License-Identifier: MIT */
/*
 * The guest OS model against the walker: after demand paging, fork with
 * copy-on-write, exec, mprotect, munmap, brk, large pages and exit, every
 * mapping the guest kernel believes it made is what vmmu_walk finds in
 * its page tables (address, page size, writability), in every paging
 * mode; and the page-table stores went through the access path as store
 * instructions (the emulator runs them when a backend traps: a
 * write-protecting backend below checks that too).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "model/gos.h"
#include "vmmu/error.h"

#define R VMMU_ACCESS_READ
#define W VMMU_ACCESS_WRITE
#define F VMMU_ACCESS_FETCH

struct check {
	struct gos *g;
	struct vmmu_paging_state ps;
	struct vmmu_gmem mem;
	unsigned n;
};

static int check_one(void *ctx, uint64_t gva, uint64_t gpa, uint64_t size,
		     bool writable)
{
	struct check *k = ctx;
	struct vmmu_access acc = { mk_gva(gva + size - 8), R, 3, false };
	struct vmmu_walk_result res;

	assert_int_equal(vmmu_walk(&k->ps, &k->mem, &acc, &res), 0);
	if (!res.ok)
		fail_msg("gva %#llx: the kernel mapped it, the walker faults "
			 "(error %#x)", (unsigned long long)gva, res.error_code);
	assert_int_equal(res.gpa.v, gpa + size - 8);
	assert_int_equal(res.page_size, size);
	assert_int_equal(!!(res.rights & 2), writable);
	k->n++;
	return 0;
}

/* Every mapping of every live process of g, walked with its own root. */
static unsigned check_all(struct gos *g)
{
	struct check k = { .g = g };
	unsigned i;

	k.ps = g->cpu[0].vcpu->paging;
	k.ps.pdptes_loaded = false;
	vmmu_vm_gmem(g->vm, &k.mem);
	for (i = 0; i < GOS_MAX_PROCS; i++) {
		if (g->proc[i].pid < 0 || g->proc[i].zombie)
			continue;
		k.ps.cr3 = g->proc[i].root;
		assert_int_equal(gos_each_mapping(g, &g->proc[i], check_one, &k), 0);
	}
	return k.n;
}

static struct gos *boot(enum vmmu_paging_mode mode, unsigned order,
			const struct vmmu_backend_ops *ops)
{
	struct gos_config cfg = { .mode = mode, .mem = 64ULL << 20,
				  .page_order = order, .vcpus = 1,
				  .kind = VMMU_BACKEND_NONE, .ops = ops,
				  .track = true,
				  .pcid = mode >= VMMU_PAGING_4LEVEL };
	char err[200];
	struct gos *g = NULL;

	if (gos_create(&cfg, &g, err, sizeof(err)) < 0)
		fail_msg("boot: %s", err);
	return g;
}

static const struct gos_image sh = { 0, 8, 8, 4 }, cc = { 1, 16, 4, 4 };

static void touch(struct gos_cpu *c, uint64_t a, uint64_t pages,
		  enum vmmu_access_kind k)
{
	uint64_t i;

	for (i = 0; i < pages; i++)
		assert_int_equal(gos_access(c, a + i * 4096, k, 4), 0);
}

/* The whole life of a few processes, checked after every step. */
static void life(enum vmmu_paging_mode mode, unsigned order,
		 const struct vmmu_backend_ops *ops)
{
	struct gos *g = boot(mode, order, ops);
	struct gos_cpu *c = &g->cpu[0];
	struct gos_proc *p, *child;
	uint64_t heap, big, top;

	assert_int_equal(gos_spawn(c, &sh, &p), 0);
	top = p->stack_top;
	touch(c, 0x400000, 8, F);
	touch(c, 0x400000 + 8 * 4096, 8, W);
	touch(c, top - 4 * 4096, 4, W);
	assert_int_equal(check_all(g), 20);
	assert_int_equal(gos_mmap(c, 16 * 4096, GOS_R | GOS_W, false, &heap), 0);
	touch(c, heap, 16, W);
	assert_int_equal(gos_mmap(c, 8ULL << 20, GOS_R | GOS_W, order != 0, &big), 0);
	touch(c, big, 2048, W);
	check_all(g);
	assert_int_equal(gos_fork(c, &child), 0);
	check_all(g);                   /* both read-only now */
	assert_int_equal(gos_switch(c, child), 0);
	touch(c, heap, 4, W);           /* COW copies */
	touch(c, big + (4ULL << 20), 1, W);
	check_all(g);
	assert_int_equal(gos_exec(c, &cc), 0);
	touch(c, 0x400000, 16, F);
	assert_int_equal(gos_brk(c, child->brk_base + 64 * 4096), 0);
	touch(c, child->brk_base, 64, W);
	assert_int_equal(gos_brk(c, child->brk_base + 16 * 4096), 0);
	check_all(g);
	assert_int_equal(gos_exit(c), 0);
	assert_int_equal(gos_switch(c, p), 0);
	assert_int_equal(gos_wait(c, child), 0);
	touch(c, heap, 16, W);          /* the parent's COW: last user */
	assert_int_equal(gos_mprotect(c, heap, 8 * 4096, GOS_R), 0);
	check_all(g);
	assert_int_equal(gos_access(c, heap, W, 4), VMMU_EFAULT);
	assert_int_equal(gos_munmap(c, heap + 4 * 4096, 8 * 4096), 0);
	assert_int_equal(gos_munmap(c, big, 8ULL << 20), 0);
	check_all(g);
	assert_int_equal(gos_access(c, heap + 5 * 4096, R, 4), VMMU_EFAULT);
	if (order)
		assert_true(g->st.huge_maps > 0);
	assert_true(g->st.cow_copies > 0);
	gos_destroy(g);
}

static void test_4level(void **s) { (void)s; life(VMMU_PAGING_4LEVEL, 0, &vmmu_backend_direct); }
static void test_4level_2m(void **s) { (void)s; life(VMMU_PAGING_4LEVEL, 9, &vmmu_backend_direct); }
static void test_5level(void **s) { (void)s; life(VMMU_PAGING_5LEVEL, 0, &vmmu_backend_direct); }
static void test_pae(void **s) { (void)s; life(VMMU_PAGING_PAE, 0, &vmmu_backend_direct); }
static void test_pae_2m(void **s) { (void)s; life(VMMU_PAGING_PAE, 9, &vmmu_backend_direct); }
static void test_2level(void **s) { (void)s; life(VMMU_PAGING_2LEVEL, 0, &vmmu_backend_direct); }
static void test_2level_4m(void **s) { (void)s; life(VMMU_PAGING_2LEVEL, 9, &vmmu_backend_direct); }

/* ---- a backend that write-protects the guest's page tables ------------ */

static struct gos *wp_guest;

/* The direct backend, except that kernel stores to page-table pages (any
 * frame the walker read an entry from) exit and are emulated. */
static int wp_hw_walk(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
		      struct vmmu_hw_walk *out)
{
	int rc = vmmu_backend_direct.hw_walk(vcpu, acc, out);
	unsigned i;

	if (rc < 0 || out->status != VMMU_HW_OK || acc->kind != W || acc->cpl)
		return rc;
	/* a store through the direct map to a page the user tables use */
	for (i = 0; wp_guest && i < GOS_MAX_PROCS; i++) {
		const struct gos_proc *p = &wp_guest->proc[i];

		if (p->pid >= 0 && (out->gpa.v & VMMU_PAGE_MASK) == p->root) {
			out->status = VMMU_HW_EXIT;
			out->exit.kind = VMMU_EXIT_EPT_VIOLATION;
			out->exit.access = acc->kind;
			out->exit.gpa = out->gpa;
			out->exit.gva = acc->gva;
			out->exit.gva_valid = true;
		}
	}
	return rc;
}

static int wp_handle_exit(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
			  const struct vmmu_op *op, struct vmmu_exit_result *res)
{
	if (exit->kind != VMMU_EXIT_EPT_VIOLATION)
		return vmmu_backend_direct.handle_exit(vcpu, exit, op, res);
	return vmmu_vcpu_emulate(vcpu, exit, op, res);
}

static const struct vmmu_backend_ops wp_backend = {
	.name = "wp-roots",
	.hw_walk = wp_hw_walk,
	.handle_exit = wp_handle_exit,
};

/* Root-table stores trap and the emulator performs them from the bytes. */
static void test_emulated_stores(void **s)
{
	struct gos *g;
	struct gos_cpu *c;
	struct gos_proc *p, *child;

	(void)s;
	g = boot(VMMU_PAGING_4LEVEL, 0, &wp_backend);
	wp_guest = g;
	c = &g->cpu[0];
	assert_int_equal(gos_spawn(c, &sh, &p), 0);
	touch(c, 0x400000, 2, F);
	touch(c, p->stack_top - 4096, 1, W);
	assert_int_equal(gos_fork(c, &child), 0);
	assert_int_equal(gos_switch(c, child), 0);
	touch(c, child->stack_top - 4096, 1, W);
	check_all(g);
	assert_true(g->st.pt_stores_emulated > 0);
	assert_true(c->ev.instructions >= g->st.pt_stores_emulated);
	assert_true(c->vcpu->stats.emulated_insns >= g->st.pt_stores_emulated);
	wp_guest = NULL;
	gos_destroy(g);
}

/* Bad configurations are refused with a sentence. */
static void test_bad_config(void **s)
{
	struct gos_config cfg = { .mode = VMMU_PAGING_PAE, .mem = 2ULL << 30,
				  .vcpus = 1, .ops = &vmmu_backend_direct };
	char err[200] = "";

	(void)s;
	assert_int_equal(gos_check_config(&cfg, err, sizeof(err)), VMMU_EINVAL);
	assert_non_null(strstr(err, "1 GiB"));
	cfg.mode = VMMU_PAGING_4LEVEL;
	cfg.page_order = 18;
	cfg.mem = 1ULL << 30;
	assert_int_equal(gos_check_config(&cfg, err, sizeof(err)), VMMU_EINVAL);
	cfg.page_order = 0;
	cfg.vcpus = 17;
	assert_int_equal(gos_check_config(&cfg, err, sizeof(err)), VMMU_EINVAL);
	cfg.vcpus = 1;
	cfg.mem = 3ULL << 20;
	assert_int_equal(gos_check_config(&cfg, err, sizeof(err)), VMMU_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_4level),
		cmocka_unit_test(test_4level_2m),
		cmocka_unit_test(test_5level),
		cmocka_unit_test(test_pae),
		cmocka_unit_test(test_pae_2m),
		cmocka_unit_test(test_2level),
		cmocka_unit_test(test_2level_4m),
		cmocka_unit_test(test_emulated_stores),
		cmocka_unit_test(test_bad_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
