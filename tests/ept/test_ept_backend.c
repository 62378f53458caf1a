/* SPDX-License-Identifier: MIT */
/*
 * The EPT backend end to end through the core's access path (the guest
 * runs without paging, so gva = gpa below 4 GiB and only EPT matters): first touch
 * maps the whole host block, ROM, MMIO and holes, lazy type changes that
 * split and merge large leaves, the start cost of a type change on 1 GiB
 * and 1 TiB, dirty tracking by write protection and by A/D, grants and
 * foreign mappings through EPT, the VMM's INVEPT callback, and the raw
 * VMCS entry point.
 */
#include <stdlib.h>

#include "ept_fixture.h"
#include "vmmu/p2m.h"
#include "vmmu/dirty.h"

struct eb {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
};

static struct eb eb;

static int eb_setup(void **state)
{
	(void)state;
	if (vmmu_hosted_create(64ULL << 30, &eb.arena) < 0)
		return -1;
	vmmu_hosted_platform(eb.arena, &eb.plat);
	return 0;
}

static int eb_teardown(void **state)
{
	(void)state;
	vmmu_hosted_destroy(eb.arena);
	return 0;
}

static struct vmmu_vm *eb_vm(const struct vmmu_ept_caps *caps)
{
	struct vmmu_vm *vm;

	assert_int_equal(vmmu_vm_create(&eb.plat, &vm), 0);
	assert_int_equal(vmmu_vm_set_backend(vm, VMMU_BACKEND_EPT, &vmmu_backend_ept), 0);
	if (caps)
		assert_int_equal(vmmu_ept_configure(vm, caps), 0);
	return vm;
}

static void eb_slot(struct vmmu_vm *vm, uint64_t base, uint64_t size,
		    enum vmmu_mem_type type, uint8_t order, uint8_t memtype)
{
	struct vmmu_slot_desc d = { .base = mk_gpa(base), .size = size,
				    .type = type, .max_order = order,
				    .memtype = memtype };

	assert_int_equal(vmmu_vm_add_slot_ex(vm, &d), 0);
}

static struct vmmu_vcpu *eb_vcpu(struct vmmu_vm *vm)
{
	struct vmmu_vcpu *v;

	assert_int_equal(vmmu_vcpu_create(vm, &v), 0);
	return v;
}

static struct vmmu_access_result eb_acc(struct vmmu_vcpu *v, uint64_t gpa,
					enum vmmu_access_kind kind,
					uint64_t *data)
{
	struct vmmu_op op = { .acc = { mk_gva(gpa), kind, 0, false },
			      .size = 8, .data = data };
	struct vmmu_access_result r;

	assert_int_equal(vmmu_vcpu_access(v, &op, &r), 0);
	return r;
}

static unsigned leaf_level(struct vmmu_vm *vm, uint64_t gpa)
{
	uint64_t e;
	unsigned level;

	if (vmmu_pt_lookup(vmmu_ept_tables(vm), gpa, &e, &level) < 0)
		return 0;
	return level;
}

static uint64_t leaf(struct vmmu_vm *vm, uint64_t gpa)
{
	uint64_t e = 0;
	unsigned level;

	(void)vmmu_pt_lookup(vmmu_ept_tables(vm), gpa, &e, &level);
	return e;
}

/* Whether a recalculation marker (memory type 7) is on gpa's path. */
static bool path_marked(struct vmmu_vm *vm, uint64_t gpa)
{
	struct vmmu_pt *pt = vmmu_ept_tables(vm);
	uint64_t table = pt->root.v;
	unsigned l;

	for (l = pt->levels; l > 1; l--) {
		const uint64_t *t = eb.plat.map(eb.plat.ctx, mk_hpa(table));
		uint64_t e = t[vmmu_pt_index(gpa, l)];

		if (!(e & EPT_RWX) || (e & EPT_PS))
			return false;
		if (((e >> 3) & 7) == EPT_MT_INVALID)
			return true;
		table = e & EPT_ADDR_MASK;
	}
	return false;
}

/* The leaf entry mapping gpa, in the table page (to corrupt it). */
static uint64_t *leaf_slot(struct vmmu_vm *vm, uint64_t gpa)
{
	struct vmmu_pt *pt = vmmu_ept_tables(vm);
	uint64_t table = pt->root.v;
	unsigned l;

	for (l = pt->levels; l >= 1; l--) {
		uint64_t *t = eb.plat.map(eb.plat.ctx, mk_hpa(table));
		uint64_t *e = &t[vmmu_pt_index(gpa, l)];

		if (l == 1 || (*e & EPT_PS))
			return e;
		table = *e & EPT_ADDR_MASK;
	}
	return NULL;
}

static void test_first_touch_maps_host_block(void **state)
{
	struct vmmu_vm *vm = eb_vm(NULL);
	struct vmmu_vcpu *v;
	uint64_t d = 0x1122334455667788ULL, back = 0;

	(void)state;
	eb_slot(vm, 0, 2ULL << 30, VMMU_MEM_RAM, VMMU_ORDER_1G, VMMU_MEMTYPE_DEFAULT);
	eb_slot(vm, 2ULL << 30, 64ULL << 20, VMMU_MEM_RAM, VMMU_ORDER_2M, VMMU_MEMTYPE_DEFAULT);
	eb_slot(vm, 3ULL << 30, 64ULL << 20, VMMU_MEM_RAM, VMMU_ORDER_4K, EPT_MT_UC);
	v = eb_vcpu(vm);
	assert_int_equal(eb_acc(v, 0x40001000, W, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(eb_acc(v, 0x40001000, R, &back).status, VMMU_ACCESS_DONE);
	assert_int_equal(back, d);
	assert_int_equal(leaf_level(vm, 0x40001000), 3);
	assert_int_equal(leaf_level(vm, 0x7ffff000), 3);   /* the same block */
	assert_int_equal((leaf(vm, 0x40001000) >> 3) & 7, EPT_MT_WB);
	assert_int_equal(eb_acc(v, (2ULL << 30) + 0x201000, R, &back).status, VMMU_ACCESS_DONE);
	assert_int_equal(leaf_level(vm, (2ULL << 30) + 0x201000), 2);
	assert_int_equal(eb_acc(v, (3ULL << 30) + 0x3000, X, &back).status, VMMU_ACCESS_DONE);
	assert_int_equal(leaf_level(vm, (3ULL << 30) + 0x3000), 1);
	assert_int_equal((leaf(vm, (3ULL << 30) + 0x3000) >> 3) & 7, EPT_MT_UC);
	/* the p2m type sits in the software bits */
	assert_int_equal((leaf(vm, 0x40001000) >> EPT_SW_BIT_TYPE) & 0xf, VMMU_P2M_RAM_RW);
	assert_int_equal(vmmu_ept_stats(vm)->populated, 3);
	/* a bad memory type override is refused */
	{
		struct vmmu_slot_desc bad = { .base = mk_gpa(16ULL << 30),
			.size = 4096, .type = VMMU_MEM_RAM, .memtype = 2 };

		assert_int_equal(vmmu_vm_add_slot_ex(vm, &bad), VMMU_EINVAL);
	}
	vmmu_vm_destroy(vm);
}

static uint64_t mmio_last;

static int mmio_cb(void *ctx, gpa_t gpa, bool write, void *data, unsigned size)
{
	(void)ctx; (void)size;
	if (write)
		memcpy(&mmio_last, data, 8);
	else
		memcpy(data, &gpa.v, 8);
	return 0;
}

static void test_rom_mmio_holes(void **state)
{
	struct vmmu_vm *vm = eb_vm(NULL);
	struct vmmu_vcpu *v;
	struct vmmu_access_result r;
	uint64_t d = 0xabcd, back = 0;

	(void)state;
	eb_slot(vm, 0xfff00000, 1ULL << 20, VMMU_MEM_ROM, VMMU_ORDER_2M, VMMU_MEMTYPE_DEFAULT);
	eb_slot(vm, 0xfee00000, 4096, VMMU_MEM_MMIO, 0, VMMU_MEMTYPE_DEFAULT);
	assert_int_equal(vmmu_vm_write_gpa(vm, mk_gpa(0xffff0000), &d, 8), 0);
	v = eb_vcpu(vm);
	assert_int_equal(eb_acc(v, 0xffff0000, R, &back).status, VMMU_ACCESS_DONE);
	assert_int_equal(back, d);
	assert_int_equal(eb_acc(v, 0xffff0000, X, &back).status, VMMU_ACCESS_DONE);
	r = eb_acc(v, 0xffff0000, W, &d);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_ROM_WRITE);
	assert_int_equal(r.exit.qualification, 0x2 | 0x5 << 3 | 0x180);
	r = eb_acc(v, 0xfee00000, R, &back);
	assert_int_equal(r.reason, VMMU_REASON_MMIO);
	vmmu_vm_set_mmio_handler(vm, mmio_cb, NULL);
	r = eb_acc(v, 0xfee00008, R, &back);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_true(r.emulated);
	assert_int_equal(back, 0xfee00008);
	assert_int_equal(eb_acc(v, 0xfee00000, W, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(mmio_last, d);
	assert_int_equal(leaf_level(vm, 0xfee00000), 0);    /* never mapped */
	r = eb_acc(v, 0x80000000, R, &back);
	assert_int_equal(r.reason, VMMU_REASON_UNMAPPED);
	vmmu_vm_destroy(vm);
}

/* A partial type change splits, the misconfiguration exits push it down. */
static void test_lazy_type_change_split_merge(void **state)
{
	struct vmmu_vm *vm = eb_vm(NULL);
	struct vmmu_vcpu *v;
	struct vmmu_access_result r;
	uint64_t d = 1, i;
	const uint64_t page = 0x40123000;

	(void)state;
	eb_slot(vm, 0, 2ULL << 30, VMMU_MEM_RAM, VMMU_ORDER_1G, VMMU_MEMTYPE_DEFAULT);
	v = eb_vcpu(vm);
	assert_int_equal(eb_acc(v, page, W, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(leaf_level(vm, page), 3);
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(page), 4096, VMMU_P2M_RAM_RO), 0);
	r = eb_acc(v, page, W, &d);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_UNHANDLED);
	assert_int_equal(leaf_level(vm, page), 1);
	assert_int_equal(leaf_level(vm, page + 0x200000), 2);  /* only the mixed part split */
	assert_int_equal(eb_acc(v, page, R, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(eb_acc(v, page + 4096, W, &d).status, VMMU_ACCESS_DONE);
	assert_true(vmmu_ept_stats(vm)->invept_single > 0);
	/* uniform again: the recalculation merges the tables back into the
	 * 1 GiB leaf (one host block, so the addresses are contiguous) */
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(page), 4096, VMMU_P2M_RAM_RW), 0);
	assert_int_equal(eb_acc(v, page, W, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(leaf_level(vm, page), 3);
	assert_true(vmmu_ept_tables(vm)->stats.merges >= 2);
	for (i = 0; i < 4; i++)
		assert_int_equal(eb_acc(v, 0x40000000 + i * 0x200000, W, &d).status,
				 VMMU_ACCESS_DONE);
	vmmu_vm_destroy(vm);
}

/*
 * Starting a type change marks root entries only: the same for 1 TiB as
 * for 1 GiB. Pages are touched through the raw exit entry (a paging-off
 * guest only reaches 4 GiB); the change then reaches a leaf through one
 * misconfiguration exit per level.
 */
static uint64_t start_cost(uint64_t size)
{
	struct vmmu_vm *vm = eb_vm(NULL);
	struct vmmu_vcpu *v;
	struct vmmu_pt *pt;
	struct vmmu_exit_result res;
	uint64_t touched, g, e;
	unsigned exits = 0;

	eb_slot(vm, 0, size, VMMU_MEM_RAM, VMMU_ORDER_4K, VMMU_MEMTYPE_DEFAULT);
	v = eb_vcpu(vm);
	for (g = 0; g < size; g += size / 64)
		assert_int_equal(vmmu_ept_handle_vmexit(v, 48, 0x182, g, g, &res), 0);
	pt = vmmu_ept_tables(vm);
	touched = pt->stats.marks + pt->stats.recalc_leaves;
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(0), size, VMMU_P2M_RAM_LOGDIRTY), 0);
	touched = pt->stats.marks + pt->stats.recalc_leaves - touched;
	assert_true(path_marked(vm, size / 2));
	assert_true(leaf(vm, size / 2) & EPT_W);    /* not yet recalculated */
	do {
		assert_int_equal(vmmu_ept_handle_vmexit(v, 49, 0, size / 2, 0, &res), 0);
		assert_int_equal(res.action, VMMU_ACT_RETRY);
		exits++;
	} while (path_marked(vm, size / 2));
	assert_true(exits >= 1 && exits <= 4);  /* one per level */
	/* resolved: another exit for it is stale (another vCPU's) */
	assert_int_equal(vmmu_ept_handle_vmexit(v, 49, 0, size / 2, 0, &res), 0);
	assert_int_equal(res.action, VMMU_ACT_RETRY);
	assert_int_equal(vmmu_ept_stats(vm)->real_misconfigs, 0);
	e = leaf(vm, size / 2);
	assert_false(e & EPT_W);
	assert_int_equal((e >> EPT_SW_BIT_TYPE) & 0xf, VMMU_P2M_RAM_LOGDIRTY);
	vmmu_vm_destroy(vm);
	return touched;
}

static void test_lazy_start_cost(void **state)
{
	(void)state;
	assert_int_equal(start_cost(1ULL << 30), 1);    /* one PML4E */
	assert_int_equal(start_cost(1ULL << 40), 2);    /* two PML4Es: 512 GiB each */
}

struct seen {
	uint64_t n, bytes, first;
};

static int seen_fn(void *ctx, gpa_t gpa, uint64_t size)
{
	struct seen *s = ctx;

	if (!s->n)
		s->first = gpa.v;
	s->n++;
	s->bytes += size;
	return 0;
}

/* A clean of the whole log, seen_fn for each page it reports. */
static int harvest(struct vmmu_vm *vm, struct seen *s)
{
	uint64_t gfn, np, i, *bm;
	int rc = vmmu_dirty_range(vm, &gfn, &np);

	if (rc < 0)
		return rc;
	bm = calloc((np + 63) / 64, sizeof(*bm));
	assert_non_null(bm);
	rc = vmmu_dirty_clean(vm, gfn, np, bm, NULL);
	for (i = 0; rc == 0 && i < np; i++)
		if ((bm[i / 64] >> (i % 64)) & 1)
			seen_fn(s, mk_gpa((gfn + i) << VMMU_PAGE_SHIFT),
				VMMU_PAGE_SIZE);
	free(bm);
	return rc;
}

static void dirty_round(struct vmmu_vm *vm, struct vmmu_vcpu *v)
{
	struct seen s = { 0 };
	uint64_t d = 7;

	assert_int_equal(eb_acc(v, 0x5000, R, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(eb_acc(v, 0x3000, W, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(eb_acc(v, 0x3008, W, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(harvest(vm, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.first, 0x3000);
	assert_int_equal(s.bytes, 4096);
	memset(&s, 0, sizeof(s));
	assert_int_equal(harvest(vm, &s), 0);
	assert_int_equal(s.n, 0);
}

static void test_dirty_write_protect(void **state)
{
	struct vmmu_vm *vm = eb_vm(NULL);
	struct vmmu_vcpu *v;
	uint64_t d = 1, f0;

	(void)state;
	eb_slot(vm, 0, 64ULL << 20, VMMU_MEM_RAM, VMMU_ORDER_2M, VMMU_MEMTYPE_DEFAULT);
	v = eb_vcpu(vm);
	assert_int_equal(eb_acc(v, 0x3000, W, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(vmmu_dirty_set_mode(vm, VMMU_DIRTY_WRITE_PROTECT), 0);
	assert_int_equal(vmmu_dirty_enable_ram(vm), 0);
	dirty_round(vm, v);
	f0 = vmmu_ept_stats(vm)->logdirty_faults;
	assert_int_equal(f0, 1);
	dirty_round(vm, v);         /* re-armed by the harvest: faults again */
	assert_int_equal(vmmu_ept_stats(vm)->logdirty_faults, 2);
	assert_int_equal(vmmu_dirty_disable(vm), 0);
	assert_int_equal(eb_acc(v, 0x7000, W, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(vmmu_ept_stats(vm)->logdirty_faults, 2);
	vmmu_vm_destroy(vm);
}

static void test_dirty_ad_bits(void **state)
{
	struct vmmu_vm *vm = eb_vm(NULL);
	struct vmmu_vcpu *v;
	uint64_t d = 1, inv;

	(void)state;
	eb_slot(vm, 0, 64ULL << 20, VMMU_MEM_RAM, VMMU_ORDER_4K, VMMU_MEMTYPE_DEFAULT);
	v = eb_vcpu(vm);
	assert_int_equal(eb_acc(v, 0x3000, W, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(vmmu_dirty_mode(vm), VMMU_DIRTY_AD_BITS);
	assert_int_equal(vmmu_dirty_enable_ram(vm), 0);
	assert_false(leaf(vm, 0x3000) & EPT_D);
	inv = vmmu_ept_stats(vm)->invept_single;
	dirty_round(vm, v);
	assert_true(vmmu_ept_stats(vm)->invept_single > inv);
	assert_int_equal(vmmu_ept_stats(vm)->logdirty_faults, 0);
	dirty_round(vm, v);
	vmmu_vm_destroy(vm);
}

/* PML: D flags cleared at start, the log drained on harvest. */
static void test_dirty_pml(void **state)
{
	struct vmmu_ept_caps caps = { .ad = true, .pml = true, .execute_only = true,
				      .page_2m = true, .page_1g = true,
				      .maxphyaddr = 46 };
	struct vmmu_vm *vm = eb_vm(&caps);
	struct vmmu_vcpu *v;
	struct seen s = { 0 };
	uint64_t d = 1, i;

	(void)state;
	eb_slot(vm, 0, 64ULL << 20, VMMU_MEM_RAM, VMMU_ORDER_4K, VMMU_MEMTYPE_DEFAULT);
	v = eb_vcpu(vm);
	for (i = 0; i < 8; i++)
		assert_int_equal(eb_acc(v, i * 4096, W, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(vmmu_dirty_mode(vm), VMMU_DIRTY_PML);
	assert_int_equal(vmmu_dirty_enable_ram(vm), 0);
	dirty_round(vm, v);
	/* 600 pages: the log fills once (PML-full exit), nothing is lost */
	for (i = 0; i < 600; i++)
		assert_int_equal(eb_acc(v, 0x100000 + i * 4096, W, &d).status,
				 VMMU_ACCESS_DONE);
	assert_int_equal(vmmu_ept_stats(vm)->pml_full, 1);
	assert_int_equal(harvest(vm, &s), 0);
	assert_int_equal(s.n, 600);
	assert_int_equal(s.first, 0x100000);
	assert_int_equal(vmmu_dirty_disable(vm), 0);
	vmmu_vm_destroy(vm);
}

/* A change made by one vCPU's exit invalidates every vCPU's TLB. */
static void test_invept_reaches_every_vcpu(void **state)
{
	struct vmmu_vm *vm = eb_vm(NULL);
	struct vmmu_vcpu *v0, *v1;
	struct vmmu_access_result r;
	uint64_t d = 1;

	(void)state;
	eb_slot(vm, 0, 64ULL << 20, VMMU_MEM_RAM, VMMU_ORDER_2M, VMMU_MEMTYPE_DEFAULT);
	v0 = eb_vcpu(vm);
	v1 = eb_vcpu(vm);
	assert_int_equal(v0->tlb_ctx, v1->tlb_ctx);
	assert_int_not_equal(v0->tlb_vpid, v1->tlb_vpid);
	assert_int_equal(eb_acc(v1, 0x5000, W, &d).status, VMMU_ACCESS_DONE);
	assert_true(eb_acc(v1, 0x5000, W, &d).tlb_hit);
	assert_int_equal(vmmu_dirty_set_mode(vm, VMMU_DIRTY_WRITE_PROTECT), 0);
	assert_int_equal(vmmu_dirty_enable_ram(vm), 0);
	/* the start invalidated every vCPU: v1 walks, and its write now exits */
	assert_int_equal(eb_acc(v0, 0x6000, R, &d).status, VMMU_ACCESS_DONE);
	r = eb_acc(v1, 0x5000, W, &d);
	assert_false(r.tlb_hit);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(vmmu_ept_stats(vm)->logdirty_faults, 1);
	vmmu_vm_destroy(vm);
}

/* What the VMM's INVEPT callback saw (vmmu_ept_set_invept). */
struct invept_log {
	struct vmmu_vm *vm;
	unsigned calls, bad;
	size_t deferred_max;    /* unlinked tables still waiting at a call */
};

static void on_invept(void *ctx, unsigned type, uint64_t eptp)
{
	struct invept_log *l = ctx;
	size_t waiting = vmmu_ept_tables(l->vm)->ndeferred;

	l->calls++;
	if (type != 1 || eptp != vmmu_ept_eptp(l->vm))
		l->bad++;
	if (waiting > l->deferred_max)
		l->deferred_max = waiting;
}

/*
 * Every INVEPT the backend counts reaches the VMM's callback, single-
 * context with the VM's EPTP, and one that covers unlinked tables comes
 * while they still wait to be freed: a 4 KiB type change splits a 2 MiB
 * leaf, lifting it merges the 512 leaves back (the table unlinked).
 */
static void test_vmm_invept_callback(void **state)
{
	struct vmmu_vm *vm = eb_vm(NULL), *direct;
	struct invept_log l = { .vm = vm };
	struct vmmu_vcpu *v;
	uint64_t d = 1, inv0;

	(void)state;
	assert_int_equal(vmmu_vm_create(&eb.plat, &direct), 0);
	assert_int_equal(vmmu_vm_set_backend(direct, VMMU_BACKEND_NONE,
					     &vmmu_backend_direct), 0);
	assert_int_equal(vmmu_ept_set_invept(direct, on_invept, &l), VMMU_EINVAL);
	assert_int_equal(vmmu_ept_set_invept(NULL, on_invept, &l), VMMU_EINVAL);
	vmmu_vm_destroy(direct);
	eb_slot(vm, 0, 64ULL << 20, VMMU_MEM_RAM, VMMU_ORDER_2M, VMMU_MEMTYPE_DEFAULT);
	v = eb_vcpu(vm);
	assert_int_equal(vmmu_ept_set_invept(vm, on_invept, &l), 0);
	assert_int_equal(eb_acc(v, 0x5000, W, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(leaf_level(vm, 0x5000), VMMU_PT_LEVEL_2M);
	inv0 = vmmu_ept_stats(vm)->invept_single;
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(0x5000), 4096,
					      VMMU_P2M_RAM_RO), 0);
	assert_int_equal(eb_acc(v, 0x6000, R, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(leaf_level(vm, 0x6000), VMMU_PT_LEVEL_4K);
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(0x5000), 4096,
					      VMMU_P2M_RAM_RW), 0);
	assert_int_equal(eb_acc(v, 0x5000, W, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(leaf_level(vm, 0x5000), VMMU_PT_LEVEL_2M);
	assert_true(l.calls > 0);
	assert_int_equal(l.calls, vmmu_ept_stats(vm)->invept_single - inv0);
	assert_int_equal(l.bad, 0);
	assert_true(l.deferred_max > 0);
	assert_int_equal(vmmu_ept_tables(vm)->ndeferred, 0);
	/* unregistered: the model's INVEPTs go on, the VMM hears none */
	assert_int_equal(vmmu_ept_set_invept(vm, NULL, NULL), 0);
	inv0 = l.calls;
	assert_int_equal(vmmu_vm_set_p2m_type(vm, mk_gpa(0x5000), 4096,
					      VMMU_P2M_RAM_RO), 0);
	assert_int_equal(l.calls, inv0);
	vmmu_vm_destroy(vm);
}

/* Every leaf of a tree, folded into one value: "tables unchanged". */
static int fold_fn(void *ctx, uint64_t addr, uint64_t size, unsigned level,
		   uint64_t entry)
{
	uint64_t *h = ctx;

	*h = (*h ^ addr ^ size ^ level ^ entry) * 0x100000001b3ULL;
	return 0;
}

static uint64_t fold(struct vmmu_vm *vm)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	assert_int_equal(vmmu_pt_for_each_leaf(vmmu_ept_tables(vm), 0,
					       1ULL << 48, fold_fn, &h), 0);
	return h;
}

static void test_grants_through_ept(void **state)
{
	struct vmmu_vm *a = eb_vm(NULL), *b = eb_vm(NULL), *c = eb_vm(NULL);
	struct vmmu_vcpu *vb, *vc;
	struct vmmu_access_result r;
	uint64_t d = 0x600dda7a, back = 0, h;
	uint32_t ro;
	const uint64_t at = 0xa0000000ULL;

	(void)state;
	eb_slot(a, 0, 64ULL << 20, VMMU_MEM_RAM, VMMU_ORDER_2M, VMMU_MEMTYPE_DEFAULT);
	eb_slot(b, 0, 64ULL << 20, VMMU_MEM_RAM, VMMU_ORDER_2M, VMMU_MEMTYPE_DEFAULT);
	eb_slot(c, 0, 64ULL << 20, VMMU_MEM_RAM, VMMU_ORDER_2M, VMMU_MEMTYPE_DEFAULT);
	vb = eb_vcpu(b);
	vc = eb_vcpu(c);
	assert_int_equal(vmmu_vm_write_gpa(a, mk_gpa(0x9000), &d, 8), 0);
	assert_int_equal(eb_acc(vb, 0x1000, W, &d).status, VMMU_ACCESS_DONE);
	assert_int_equal(vmmu_grant_issue(a, mk_gpa(0x9000), b, false, &ro), 0);
	/* refused: nothing in B's or C's tables changes */
	h = fold(b);
	assert_int_equal(vmmu_grant_map(b, mk_gpa(at), a, ro, true), VMMU_EINVAL);
	assert_int_equal(vmmu_grant_map(b, mk_gpa(0x2000), a, ro, false), VMMU_EINVAL);
	assert_int_equal(vmmu_grant_map(b, mk_gpa(at), a, ro + 1, false), VMMU_ENOENT);
	assert_int_equal(fold(b), h);
	h = fold(c);
	assert_int_equal(vmmu_grant_map(c, mk_gpa(at), a, ro, false), VMMU_EINVAL);
	assert_int_equal(vmmu_foreign_map(c, mk_gpa(at), a, mk_gpa(0x9000)), VMMU_EINVAL);
	assert_int_equal(fold(c), h);
	/* allowed: B reads A's frame, cannot write it */
	assert_int_equal(vmmu_grant_map(b, mk_gpa(at), a, ro, false), 0);
	r = eb_acc(vb, at, R, &back);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(back, d);
	r = eb_acc(vb, at, W, &d);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_UNHANDLED);
	assert_int_equal((leaf(b, at) >> EPT_SW_BIT_TYPE) & 0xf, VMMU_P2M_GRANT_RO);
	/* privileged C maps it foreign, read-write */
	assert_int_equal(vmmu_vm_set_privileged(c, true), 0);
	assert_int_equal(vmmu_foreign_map(c, mk_gpa(at), a, mk_gpa(0x9000)), 0);
	back = 0x5eed;
	assert_int_equal(eb_acc(vc, at, W, &back).status, VMMU_ACCESS_DONE);
	assert_int_equal(vmmu_vm_read_gpa(a, mk_gpa(0x9000), &d, 8), 0);
	assert_int_equal(d, 0x5eed);
	/* write-protection logging marks the root's entries, over the grant
	 * and the foreign mapping too: recalculated, they stay as they were */
	assert_int_equal(vmmu_dirty_set_mode(b, VMMU_DIRTY_WRITE_PROTECT), 0);
	assert_int_equal(vmmu_dirty_set_mode(c, VMMU_DIRTY_WRITE_PROTECT), 0);
	assert_int_equal(vmmu_dirty_enable_ram(b), 0);
	assert_int_equal(vmmu_dirty_enable_ram(c), 0);
	assert_true(path_marked(b, at));
	back = 0;
	assert_int_equal(eb_acc(vb, at, R, &back).status, VMMU_ACCESS_DONE);
	assert_int_equal(back, 0x5eed);
	assert_int_equal((leaf(b, at) >> EPT_SW_BIT_TYPE) & 0xf, VMMU_P2M_GRANT_RO);
	back = 0x5eee;
	assert_int_equal(eb_acc(vc, at, W, &back).status, VMMU_ACCESS_DONE);
	assert_int_equal((leaf(c, at) >> EPT_SW_BIT_TYPE) & 0xf, VMMU_P2M_FOREIGN);
	assert_int_equal(vmmu_dirty_disable(b), 0);
	assert_int_equal(vmmu_dirty_disable(c), 0);
	assert_int_equal(eb_acc(vb, at, R, &back).status, VMMU_ACCESS_DONE);
	assert_int_equal(back, 0x5eee);
	/* revoke: B loses it at once, its TLB entry included */
	(void)eb_acc(vb, at, R, &back);     /* the refused write dropped it */
	r = eb_acc(vb, at, R, &back);
	assert_true(r.tlb_hit);
	assert_int_equal(vmmu_grant_revoke(a, ro), 0);
	r = eb_acc(vb, at, R, &back);
	assert_false(r.tlb_hit);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_UNMAPPED);
	assert_int_equal(leaf_level(b, at), 0);
	/* destroying A unmaps the foreign frame from C */
	vmmu_vm_destroy(a);
	assert_int_equal(leaf_level(c, at), 0);
	r = eb_acc(vc, at, R, &back);
	assert_int_equal(r.reason, VMMU_REASON_UNMAPPED);
	vmmu_vm_destroy(b);
	vmmu_vm_destroy(c);
}

/* What a real VMM does with the VMCS fields (values Bochs produced). */
static void test_raw_vmexit_entry(void **state)
{
	struct vmmu_vm *vm = eb_vm(NULL);
	struct vmmu_vcpu *v;
	struct vmmu_exit_result res;

	(void)state;
	eb_slot(vm, 0, 8ULL << 20, VMMU_MEM_RAM, VMMU_ORDER_2M, VMMU_MEMTYPE_DEFAULT);
	v = eb_vcpu(vm);
	assert_int_equal(vmmu_ept_handle_vmexit(v, 48, 0x181, 0x400000, 0x400000, &res), 0);
	assert_int_equal(res.action, VMMU_ACT_RETRY);
	assert_int_equal(leaf_level(vm, 0x400000), 2);
	assert_int_equal(vmmu_ept_handle_vmexit(v, 48, 0x81, 0x600000, 0x40005000, &res), 0);
	assert_int_equal(res.action, VMMU_ACT_RETRY);
	/* a misconfiguration on a well-formed path: resolved meanwhile */
	assert_int_equal(vmmu_ept_handle_vmexit(v, 49, 0, 0x400000, 0, &res), 0);
	assert_int_equal(res.action, VMMU_ACT_RETRY);
	assert_int_equal(vmmu_ept_stats(vm)->real_misconfigs, 0);
	/* bad bytes (leaf memory type 2, SDM 29.3.3.1): the VMM's */
	*leaf_slot(vm, 0x400000) = (*leaf_slot(vm, 0x400000) & ~(7ULL << 3)) |
				   (2ULL << 3);
	assert_int_equal(vmmu_ept_handle_vmexit(v, 49, 0, 0x400000, 0, &res), 0);
	assert_int_equal(res.action, VMMU_ACT_TO_VMM);
	assert_int_equal(res.reason, VMMU_REASON_UNHANDLED);
	assert_int_equal(vmmu_ept_stats(vm)->real_misconfigs, 1);
	assert_int_equal(vmmu_ept_handle_vmexit(v, 48, 0x181, 0x10000000, 0, &res), 0);
	assert_int_equal(res.reason, VMMU_REASON_UNMAPPED);
	assert_int_equal(vmmu_ept_handle_vmexit(v, 30, 0, 0, 0, &res), VMMU_EINVAL);
	vmmu_vm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_touch_maps_host_block),
		cmocka_unit_test(test_rom_mmio_holes),
		cmocka_unit_test(test_lazy_type_change_split_merge),
		cmocka_unit_test(test_lazy_start_cost),
		cmocka_unit_test(test_dirty_write_protect),
		cmocka_unit_test(test_dirty_ad_bits),
		cmocka_unit_test(test_dirty_pml),
		cmocka_unit_test(test_invept_reaches_every_vcpu),
		cmocka_unit_test(test_vmm_invept_callback),
		cmocka_unit_test(test_grants_through_ept),
		cmocka_unit_test(test_raw_vmexit_entry),
	};

	return cmocka_run_group_tests(tests, eb_setup, eb_teardown);
}
