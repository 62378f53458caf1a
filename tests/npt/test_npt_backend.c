/* SPDX-License-Identifier: MIT */
/*
 * The NPT backend as a VMM uses it: the exits a guest causes on tables
 * vmmu builds lazily, with the EXITINFO1/2 QEMU and Bochs gave for the
 * same situations (docs/hypervisor.md) and kvm-unit-tests expects; every
 * #NPF outcome; 24 and 35 references for cold 2-D walks; large leaves;
 * lazy type changes whose start cost does not depend on guest size;
 * log-dirty by write protection with splits; D-bit harvesting; ASID
 * tagging, TLB_CONTROL, INVLPGA and tables freed only after the flush.
 */
#include "vmmu/dirty.h"
#include "npt/npt_fixture.h"

static struct fx fx;

static int setup(void **state)
{
	*state = &fx;
	return nf_create(&fx, 64ULL << 20, NULL);
}

static int teardown(void **state)
{
	nf_destroy(*state);
	return 0;
}

#define GPT_NP   0x200000006ULL     /* QEMU/Bochs: unmapped guest table */
#define FIN_NP   0x100000004ULL     /* unmapped final gpa */
#define FIN_NP_W 0x100000006ULL
#define FIN_RO_W 0x100000007ULL     /* write to a read-only page */

/* The first accesses of a guest: its table page, then the data. */
static void test_first_touch_exits(void **state)
{
	struct fx *f = *state;
	struct nf_exit log[8];
	struct vmmu_hw_walk hw;
	struct vmmu_vcpu *v;
	uint64_t e;
	unsigned level;

	fx_long(f, false, 48);
	fx_map4k(f, 0x40000000, PRWU, 0x600000);
	fx_map4k(f, 0x40001000, PRWU, 0x8000000);      /* no slot */
	v = nf_vcpu(f, true);
	assert_int_equal(nf_run(v, 0x40000010, R, log, 8, &hw, NULL), 2);
	/* The guest PML4 at 0x1000: a guest-table access, reported W. */
	assert_int_equal(log[0].info1, GPT_NP);
	assert_int_equal(log[0].info2, FX_CR3);
	assert_int_equal(log[0].outcome, VMMU_NPF_FIRST_TOUCH);
	/* Its 2 MiB host block mapped whole: the other tables are in it. */
	assert_int_equal(vmmu_pt_lookup(&nf_npt(f)->pt, 0x10000, &e, &level), 0);
	assert_int_equal(level, 2);
	assert_int_equal(log[1].info1, FIN_NP);
	assert_int_equal(log[1].info2, 0x600010);   /* the byte accessed */
	assert_int_equal(hw.status, VMMU_HW_OK);
	assert_int_equal(hw.gpa.v, 0x600010);
	/* Nested D still clear: cached without W, so a write walks again. */
	assert_int_equal(hw.nested, VMMU_PROT_R | VMMU_PROT_X);
	/* Now mapped: no exit. */
	assert_int_equal(nf_run(v, 0x40000018, W, log, 8, &hw, NULL), 0);
	assert_int_equal(hw.status, VMMU_HW_OK);
	/* A gpa no slot covers goes to the VMM. */
	struct vmmu_exit_result res;
	assert_int_equal(nf_run(v, 0x40001000, R, log, 8, NULL, &res), 1);
	assert_int_equal(log[0].info1, FIN_NP);
	assert_int_equal(log[0].info2, 0x8000000);
	assert_int_equal(log[0].outcome, VMMU_NPF_UNMAPPED);
	assert_int_equal(res.action, VMMU_ACT_TO_VMM);
	assert_int_equal(res.reason, VMMU_REASON_UNMAPPED);
	assert_int_equal(nf_npt(f)->stats.npf[VMMU_NPF_FIRST_TOUCH], 2);
}

/* ROM: read maps it read-only; a write is 0x100000007 and the VMM's. */
static void test_rom(void **state)
{
	struct fx *f = *state;
	struct nf_exit log[8];
	struct vmmu_exit_result res;
	struct vmmu_vcpu *v;

	fx_long(f, false, 48);
	fx_map4k(f, 0x40000000, PRWU, NF_ROM + 0x3000);
	fx_map4k(f, 0x40001000, PRWU, NF_ROM + 0x100000);
	v = nf_vcpu(f, true);
	/* A write before any read: not present, then ROM -> VMM. */
	assert_int_equal(nf_run(v, 0x40001000, W, log, 8, NULL, &res), 2);
	assert_int_equal(log[1].info1, FIN_NP_W);
	assert_int_equal(log[1].outcome, VMMU_NPF_ROM_WRITE);
	assert_int_equal(res.reason, VMMU_REASON_ROM_WRITE);
	assert_int_equal(nf_run(v, 0x40000000, R, log, 8, NULL, &res), 1);
	assert_int_equal(log[0].outcome, VMMU_NPF_FIRST_TOUCH);
	/* Mapped read-only and executable now: the QEMU/Bochs value. */
	assert_int_equal(nf_run(v, 0x40000008, W, log, 8, NULL, &res), 1);
	assert_int_equal(log[0].info1, FIN_RO_W);
	assert_int_equal(log[0].info2, NF_ROM + 0x3008);
	assert_int_equal(log[0].outcome, VMMU_NPF_ROM_WRITE);
	assert_int_equal(res.action, VMMU_ACT_TO_VMM);
}

static uint64_t mmio_seen;

static int mmio_dev(void *ctx, gpa_t gpa, bool write, void *data,
		    unsigned size)
{
	(void)ctx;
	mmio_seen = gpa.v | (write ? 1ULL << 63 : 0);
	if (!write)
		memset(data, 0xab, size);
	return 0;
}

/* MMIO through the access path: the device callback, else the VMM. */
static void test_mmio(void **state)
{
	struct fx *f = *state;
	struct vmmu_access_result r;
	struct vmmu_vcpu *v;
	uint32_t val = 0;

	fx_long(f, false, 48);
	fx_map4k(f, 0x40000000, PRWU, NF_MMIO);
	fx_map4k(f, 0x50000000, PRWU, 0x20000);
	v = nf_vcpu(f, true);
	assert_int_equal(vmmu_vcpu_read(v, mk_gva(0x40000010), &val, 4, 0, &r), 0);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_MMIO);
	assert_int_equal(r.exit.exitinfo1, FIN_NP);
	vmmu_vm_set_mmio_handler(f->vm, mmio_dev, NULL);
	assert_int_equal(vmmu_vcpu_read(v, mk_gva(0x40000010), &val, 4, 0, &r), 0);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_true(r.emulated);
	assert_int_equal(val, 0xabababab);
	assert_int_equal(mmio_seen, NF_MMIO + 0x10);
	assert_int_equal(vmmu_vcpu_write(v, mk_gva(0x40000020), &val, 4, 0, &r), 0);
	assert_int_equal(mmio_seen, (NF_MMIO + 0x20) | 1ULL << 63);
	/* A guest page table in MMIO is nothing a device can serve. */
	fx_map4k(f, 0x50000000, PRWU, 0x20000);
	wr(f, 0x10000 + 8 * 1, NF_MMIO | PRWU, 8);   /* PDPT slot of 1 GiB */
	assert_int_equal(vmmu_vcpu_invlpg(v, mk_gva(0x40000000)), 0);
	assert_int_equal(vmmu_vcpu_read(v, mk_gva(0x40000000), &val, 4, 0, &r), 0);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_UNHANDLED);
	assert_int_equal(r.exit.exitinfo1, 0x200000006ULL);
	assert_int_equal(r.exit.exitinfo2, NF_MMIO);
}

/* kvm-unit-tests npt_rw_pfwalk: the guest's tables in a read-only page. */
static void test_guest_table_read_only(void **state)
{
	struct fx *f = *state;
	struct nf_exit log[8];
	struct npt_chg ch;
	struct vmmu_hw_walk hw;
	struct vmmu_vcpu *v;

	fx_long(f, false, 48);
	fx_map4k(f, 0x40000000, PRWU | A | D, 0x600000);
	v = nf_vcpu(f, false);
	assert_int_equal(nf_run(v, 0x40000000, R, log, 8, &hw, NULL), 2);
	npt_chg_init(&ch, NULL);
	assert_int_equal(vmmu_pt_update(&nf_npt(f)->pt, 0, 2ULL << 20,
					X86_PTE_RW, 0, &ch.c), 0);
	npt_flush(f->vm, nf_npt(f), NULL);
	memset(&hw, 0, sizeof(hw));
	{
		struct vmmu_access acc = { mk_gva(0x40000000), R, 0, false };

		assert_int_equal(vmmu_backend_npt.hw_walk(v, &acc, &hw), 0);
	}
	assert_int_equal(hw.status, VMMU_HW_EXIT);
	/* A set in every guest entry, and still W: 0x200000007, CR3. */
	assert_int_equal(hw.exit.exitinfo1, 0x200000007ULL);
	assert_int_equal(hw.exit.exitinfo2, FX_CR3);
	assert_true(hw.exit.guest_pt);
}

/*
 * 4 + 4 x 5 = 24 references cold; 5 + 5 x 6 = 35 for 5 over 5 (4 KiB
 * nested leaves, guest A bits already set, no cache of either dimension).
 */
static void cold_refs(struct fx *f, unsigned levels, unsigned want)
{
	struct vmmu_npt_config cfg;
	struct vmmu_access_result r;
	struct vmmu_vcpu *v;
	uint64_t g, n, val;

	nf_destroy(f);
	vmmu_npt_config_default(&cfg);
	cfg.levels = levels;
	assert_int_equal(nf_create_order(f, 64ULL << 20, &cfg, VMMU_ORDER_4K), 0);
	fx_long(f, levels == 5, 48);
	fx_map4k(f, 0x40000000, PRWU, 0x600000);
	v = nf_vcpu(f, false);
	assert_int_equal(vmmu_vcpu_read(v, mk_gva(0x40000000), &val, 8, 0, &r), 0);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_int_equal(r.exits, levels + 1);
	assert_int_equal(vmmu_vcpu_invlpg(v, mk_gva(0x40000000)), 0);
	g = v->stats.guest_walk_refs;
	n = v->stats.nested_walk_refs;
	assert_int_equal(vmmu_vcpu_read(v, mk_gva(0x40000008), &val, 8, 0, &r), 0);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_false(r.tlb_hit);
	assert_int_equal(r.exits, 0);
	assert_int_equal(v->stats.guest_walk_refs - g +
			 v->stats.nested_walk_refs - n, want);
}

static void test_cold_refs_4x4(void **state)
{
	cold_refs(*state, 4, 24);
}

static void test_cold_refs_5x5(void **state)
{
	cold_refs(*state, 5, 35);
	assert_int_equal(nf_npt((struct fx *)*state)->pt.levels, 5);
}

/* Leaves as large as the host block and the profile allow. */
static void test_large_leaves(void **state)
{
	struct fx *f = *state;
	struct vmmu_npt_config cfg;
	struct vmmu_slot_desc d = { .base = { 8ULL << 30 }, .size = 2ULL << 30,
				    .type = VMMU_MEM_RAM,
				    .max_order = VMMU_ORDER_1G,
				    .memtype = VMMU_MEMTYPE_DEFAULT };
	struct vmmu_slot_desc small = d;
	struct vmmu_exit_result res;
	enum vmmu_npf_outcome o;
	struct vmmu_vcpu *v;
	uint64_t e;
	unsigned level;

	nf_destroy(f);
	vmmu_npt_config_default(&cfg);
	cfg.gbpages = true;
	assert_int_equal(nf_create(f, 4ULL << 30, &cfg), 0);
	assert_int_equal(vmmu_vm_add_slot_ex(f->vm, &d), 0);
	small.base.v = 12ULL << 30;
	small.size = 4ULL << 20;
	small.max_order = VMMU_ORDER_4K;
	assert_int_equal(vmmu_vm_add_slot_ex(f->vm, &small), 0);
	fx_long(f, false, 48);
	v = nf_vcpu(f, true);
	assert_int_equal(vmmu_npt_handle_npf(v, FIN_NP, (8ULL << 30) + 0x1234,
					     NULL, &res, &o), 0);
	assert_int_equal(o, VMMU_NPF_FIRST_TOUCH);
	assert_int_equal(vmmu_pt_lookup(&nf_npt(f)->pt, 9ULL << 30 >> 1 << 1,
					&e, &level), VMMU_ENOENT);
	assert_int_equal(vmmu_pt_lookup(&nf_npt(f)->pt, (8ULL << 30) + 0x3fffffff,
					&e, &level), 0);
	assert_int_equal(level, 3);
	assert_int_equal(nf_npt(f)->stats.leaves_1g, 1);
	assert_int_equal(vmmu_npt_handle_npf(v, FIN_NP, (12ULL << 30) + 0x5000,
					     NULL, &res, &o), 0);
	assert_int_equal(vmmu_pt_lookup(&nf_npt(f)->pt, (12ULL << 30) + 0x5000,
					&e, &level), 0);
	assert_int_equal(level, 1);
	assert_int_equal(vmmu_npt_handle_npf(v, FIN_NP, 0x345000, NULL, &res,
					     &o), 0);
	assert_int_equal(vmmu_pt_lookup(&nf_npt(f)->pt, 0x345000, &e, &level), 0);
	assert_int_equal(level, 2);
	/* Without Page1GB the same block is mapped by 2 MiB leaves. */
	nf_destroy(f);
	cfg.gbpages = false;
	assert_int_equal(nf_create(f, 4ULL << 30, &cfg), 0);
	assert_int_equal(vmmu_vm_add_slot_ex(f->vm, &d), 0);
	v = nf_vcpu(f, true);
	assert_int_equal(vmmu_npt_handle_npf(v, FIN_NP, (8ULL << 30) + 0x1234,
					     NULL, &res, &o), 0);
	assert_int_equal(vmmu_pt_lookup(&nf_npt(f)->pt, 8ULL << 30, &e, &level), 0);
	assert_int_equal(level, 2);
}

static void logdirty_vm(struct fx *f, bool ad)
{
	struct vmmu_npt_config cfg;

	nf_destroy(f);
	vmmu_npt_config_default(&cfg);
	cfg.ad_harvest = ad;
	assert_int_equal(nf_create(f, 64ULL << 20, &cfg), 0);
}

/* Pages the VM's dirty log holds in [gfn, gfn + n) (a peek). */
static uint64_t ndirty_in(struct fx *f, uint64_t gfn, uint64_t n)
{
	static uint64_t bm[(64ULL << 20 >> 12) / 64];
	uint64_t nd;

	assert_int_equal(vmmu_dirty_peek(f->vm, gfn, n, bm, &nd), 0);
	return nd;
}

static uint64_t ndirty(struct fx *f)
{
	uint64_t g, n;

	assert_int_equal(vmmu_dirty_range(f->vm, &g, &n), 0);
	assert_true(n <= (64ULL << 20) >> 12);
	return ndirty_in(f, g, n);
}

static bool is_dirty(struct fx *f, uint64_t gpa)
{
	return ndirty_in(f, gpa >> 12, 1) == 1;
}

static struct vmmu_access_result acc_rw(struct vmmu_vcpu *v, uint64_t gva,
					bool write)
{
	struct vmmu_access_result r;
	uint64_t val = 0x1122334455667788ULL;

	if (write)
		assert_int_equal(vmmu_vcpu_write(v, mk_gva(gva), &val, 8, 0, &r), 0);
	else
		assert_int_equal(vmmu_vcpu_read(v, mk_gva(gva), &val, 8, 0, &r), 0);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	return r;
}

/*
 * Log-dirty by write protection: started lazily through the root's
 * entries, the first walk through each resolves it (#NPF, P = 1), a write
 * splits the 2 MiB leaf down to its 4 KiB page, re-arm protects again.
 */
static void test_log_dirty(void **state)
{
	struct fx *f = *state;
	struct vmmu_access_result r;
	struct npt_vm *n;
	struct vmmu_vcpu *v;
	uint64_t e, m0;
	unsigned level;

	logdirty_vm(f, false);
	n = nf_npt(f);
	fx_long(f, false, 48);
	fx_map4k(f, 0x40000000, PRWU | A | D, 0x600000);
	fx_map4k(f, 0x40001000, PRWU | A | D, 0x601000);
	v = nf_vcpu(f, true);
	acc_rw(v, 0x40000000, true);
	acc_rw(v, 0x40001000, true);
	m0 = n->stats.flush_asid;
	assert_int_equal(vmmu_dirty_mode(f->vm), VMMU_DIRTY_WRITE_PROTECT);
	assert_int_equal(vmmu_dirty_enable_ram(f->vm), 0);
	assert_int_equal(ndirty(f), 0);
	/* One root entry is present: one marked, one flush. */
	assert_int_equal(n->stats.marks, 1);
	assert_int_equal(n->stats.flush_asid, m0 + 1);
	assert_int_equal(vmmu_pt_lookup(&n->pt, 0x600000, &e, &level), 0);
	assert_int_equal(level, 2);
	assert_true(e & X86_PTE_RW);        /* not recalculated yet */
	/*
	 * A read: the first guest-table access meets the marked root (U = 0:
	 * #NPF with P = 1) and resolves the path. Guest-table accesses are
	 * writes on AMD, so each of the four guest table pages is logged
	 * (and split out of its 2 MiB leaf) on the way; the data read is not.
	 */
	r = acc_rw(v, 0x40000000, false);
	assert_int_equal(r.exits, 4);
	assert_int_equal(n->stats.recalcs, 1);
	assert_int_equal(n->stats.npf[VMMU_NPF_LOG_DIRTY], 4);
	assert_int_equal(ndirty(f), 4);
	assert_true(is_dirty(f, FX_CR3));
	assert_true(is_dirty(f, 0x12000));
	assert_int_equal(vmmu_pt_lookup(&n->pt, 0x600000, &e, &level), 0);
	assert_int_equal(level, 2);
	assert_false(e & X86_PTE_RW);
	assert_int_equal(npt_leaf_type(e), VMMU_P2M_RAM_LOGDIRTY);
	/* A write: logged, split to 4 KiB, that page writable. */
	r = acc_rw(v, 0x40000008, true);
	assert_int_equal(r.exits, 1);
	assert_int_equal(ndirty(f), 5);
	assert_true(is_dirty(f, 0x600000));
	assert_int_equal(vmmu_pt_lookup(&n->pt, 0x600000, &e, &level), 0);
	assert_int_equal(level, 1);
	assert_true(e & X86_PTE_RW);
	assert_int_equal(vmmu_pt_lookup(&n->pt, 0x601000, &e, &level), 0);
	assert_int_equal(level, 1);
	assert_false(e & X86_PTE_RW);
	assert_int_equal(rd(f, 0x600008, 8), 0x1122334455667788ULL);
	/* Written again: no exit, nothing logged. */
	assert_int_equal(acc_rw(v, 0x40000010, true).exits, 0);
	assert_int_equal(ndirty(f), 5);
	/* Clean the page (re-armed): the next write is logged again. */
	assert_int_equal(vmmu_dirty_clean(f->vm, 0x600, 1, NULL, &e), 0);
	assert_int_equal(e, 1);
	assert_int_equal(ndirty(f), 4);
	assert_int_equal(acc_rw(v, 0x40000010, true).exits, 1);
	assert_true(is_dirty(f, 0x600000));
	/* vmmu's own writes are logged too. */
	wr(f, 0x603000, 1, 8);
	assert_int_equal(ndirty(f), 6);
	/* Stop: writable again after the lazy pass. */
	assert_int_equal(vmmu_dirty_disable(f->vm), 0);
	assert_true(acc_rw(v, 0x40001000, true).exits >= 1);
	assert_int_equal(acc_rw(v, 0x40001008, true).exits, 0);
	assert_int_equal(vmmu_dirty_enable_ram(f->vm), 0);
	assert_int_equal(f->vm->ops->dirty_log_start(f->vm), VMMU_EBUSY);
	assert_int_equal(vmmu_dirty_disable(f->vm), 0);
	assert_int_equal(f->vm->ops->dirty_log_rearm(f->vm, mk_gpa(0), 4096),
			 VMMU_EINVAL);
}

/* Dirty pages from the nested D bits, with the flush that re-arms them. */
static void test_d_bit_harvest(void **state)
{
	struct fx *f = *state;
	struct vmmu_vcpu *v;
	uint64_t fl, nd;

	logdirty_vm(f, true);
	fx_long(f, false, 48);
	fx_map4k(f, 0x40000000, PRWU | A | D, 0x600000);
	v = nf_vcpu(f, true);
	assert_int_equal(vmmu_dirty_mode(f->vm), VMMU_DIRTY_AD_BITS);
	assert_int_equal(vmmu_dirty_enable_ram(f->vm), 0);
	acc_rw(v, 0x40000000, false);
	assert_int_equal(ndirty_in(f, 0x400, 1024), 0);    /* a read sets no D */
	acc_rw(v, 0x40000000, true);
	fl = nf_npt(f)->stats.flush_asid;
	assert_int_equal(vmmu_dirty_clean(f->vm, 0x400, 1024, NULL, &nd), 0);
	assert_int_equal(nd, 512);          /* the whole 2 MiB leaf */
	assert_int_equal(nf_npt(f)->stats.flush_asid, fl + 1);
	assert_int_equal(vmmu_dirty_clean(f->vm, 0x400, 1024, NULL, &nd), 0);
	assert_int_equal(nd, 0);
	/* After the flush a write walks again and sets D again. */
	acc_rw(v, 0x40000000, true);
	assert_int_equal(vmmu_dirty_clean(f->vm, 0x400, 1024, NULL, &nd), 0);
	assert_int_equal(nd, 512);
	assert_int_equal(vmmu_dirty_disable(f->vm), 0);
	logdirty_vm(f, false);
	assert_int_equal(vmmu_dirty_set_mode(f->vm, VMMU_DIRTY_AD_BITS),
			 VMMU_ENOTSUP);
	assert_int_equal(vmmu_dirty_mode(f->vm), VMMU_DIRTY_WRITE_PROTECT);
}

/* Lazy change start cost: the same for 1 GiB and 1 TiB of guest. */
static uint64_t start_cost(struct fx *f, uint64_t guest)
{
	struct vmmu_npt_config cfg;
	struct vmmu_exit_result res;
	struct vmmu_vcpu *v;
	struct npt_vm *n;
	uint64_t touched, gpa;

	nf_destroy(f);
	vmmu_npt_config_default(&cfg);
	cfg.gbpages = true;
	memset(f, 0, sizeof(*f));
	assert_int_equal(vmmu_hosted_create(guest + (64ULL << 30), &f->arena), 0);
	vmmu_hosted_platform(f->arena, &f->plat);
	assert_int_equal(vmmu_vm_create(&f->plat, &f->vm), 0);
	assert_int_equal(vmmu_vm_set_backend(f->vm, VMMU_BACKEND_NPT,
					     &vmmu_backend_npt), 0);
	assert_int_equal(vmmu_npt_configure(f->vm, &cfg), 0);
	assert_int_equal(vmmu_vm_add_slot(f->vm, mk_gpa(0), guest,
					  VMMU_MEM_RAM), 0);
	v = nf_vcpu(f, true);
	n = nf_npt(f);
	/* Touch a page in each of 8 spread GiB: 1 GiB leaves. */
	for (gpa = 0; gpa < guest; gpa += guest / 8)
		assert_int_equal(vmmu_npt_handle_npf(v, FIN_NP, gpa + 0x5000,
						     NULL, &res, NULL), 0);
	touched = n->pt.stats.marks + n->pt.stats.recalc_leaves;
	assert_int_equal(f->vm->ops->dirty_log_start(f->vm), 0);
	touched = n->pt.stats.marks + n->pt.stats.recalc_leaves - touched;
	/* And the lazy pass works: the next touch resolves its path. */
	assert_int_equal(vmmu_npt_handle_npf(v, 0x100000005ULL, 0x5000, NULL,
					     &res, NULL), 0);
	assert_int_equal(n->stats.npf[VMMU_NPF_RECALC], 1);
	return touched;
}

static void test_start_cost_independent_of_size(void **state)
{
	struct fx *f = *state;
	uint64_t small = start_cost(f, 1ULL << 30);
	uint64_t big = start_cost(f, 1ULL << 40);

	/* One root entry per 512 GiB: 1 and 2 entries touched. */
	assert_int_equal(small, 1);
	assert_int_equal(big, 2);
	assert_int_equal(nf_npt(f)->stats.leaves_1g, 8);
}

/* ASID and nCR3 context tag the TLB; flushes are counted; tables freed
 * only after the flush; INVLPGA. */
static void test_asid_flush(void **state)
{
	struct fx *f = *state;
	struct vmmu_npt_config cfg;
	struct vmmu_exit_result res;
	struct vmmu_vcpu *v, *w;
	struct npt_vm *n;
	uint64_t pages;

	nf_destroy(f);
	vmmu_npt_config_default(&cfg);
	cfg.asid = 7;
	assert_int_equal(nf_create(f, 64ULL << 20, &cfg), 0);
	n = nf_npt(f);
	fx_long(f, false, 48);
	v = nf_vcpu(f, true);
	w = nf_vcpu(f, true);
	assert_int_equal(v->tlb_vpid, 7);
	assert_int_equal(v->tlb_ctx, NPT_TLB_CTX);
	assert_int_equal(vmmu_npt_ncr3(f->vm), n->pt.root.v);
	assert_int_equal(vmmu_npt_vmrun_tlb_control(v), VMMU_TLB_CTL_ASID);
	assert_int_equal(vmmu_npt_vmrun_tlb_control(v), VMMU_TLB_CTL_NOTHING);
	/* A 4 KiB-backed slot has a page table; removing it frees that. */
	{
		struct vmmu_slot_desc d = { .base = { 1ULL << 30 },
			.size = 4ULL << 20, .type = VMMU_MEM_RAM,
			.max_order = VMMU_ORDER_4K,
			.memtype = VMMU_MEMTYPE_DEFAULT };

		assert_int_equal(vmmu_vm_add_slot_ex(f->vm, &d), 0);
	}
	assert_int_equal(vmmu_npt_handle_npf(v, FIN_NP, (1ULL << 30) + 0x1000,
					     NULL, &res, NULL), 0);
	pages = n->pt.table_pages;
	assert_int_equal(vmmu_vm_remove_slot(f->vm, mk_gpa(1ULL << 30)), 0);
	assert_int_equal(n->stats.flush_asid, 1);
	assert_int_equal(n->pt.table_pages, pages - 1);
	assert_int_equal(n->pt.ndeferred, 0);
	assert_int_equal(n->stats.tables_freed, 1);
	/* posted to both vCPUs (the VMM's thread flushed): applied on their
	 * next entry, or now */
	assert_int_equal(vmmu_tlb_stats(v->tlb)->inv[VMMU_TLB_INV_SVM_ASID], 0);
	vmmu_vcpu_tlb_sync(v);
	vmmu_vcpu_tlb_sync(w);
	assert_int_equal(vmmu_tlb_stats(v->tlb)->inv[VMMU_TLB_INV_SVM_ASID], 1);
	assert_int_equal(vmmu_tlb_stats(w->tlb)->inv[VMMU_TLB_INV_SVM_ASID], 1);
	/* The VMM's thread removed the slot: a shootdown on each vCPU. */
	assert_int_equal(vmmu_tlb_stats(v->tlb)->inv[VMMU_TLB_INV_SHOOTDOWN], 1);
	assert_int_equal(vmmu_tlb_stats(w->tlb)->inv[VMMU_TLB_INV_SHOOTDOWN], 1);
	assert_int_equal(vmmu_npt_vmrun_tlb_control(w), VMMU_TLB_CTL_ASID);
	assert_int_equal(vmmu_npt_invlpga(v, mk_gva(0x1000)), 0);
	assert_int_equal(vmmu_tlb_stats(v->tlb)->inv[VMMU_TLB_INV_INVLPGA], 1);
	assert_int_equal(n->stats.invlpga, 1);
	/* Without flush-by-ASID: TLB_CONTROL 1. */
	nf_destroy(f);
	cfg.flush_by_asid = false;
	assert_int_equal(nf_create(f, 64ULL << 20, &cfg), 0);
	v = nf_vcpu(f, true);
	assert_int_equal(vmmu_npt_handle_npf(v, FIN_NP, NF_ROM, NULL, &res,
					     NULL), 0);
	assert_int_equal(vmmu_vm_remove_slot(f->vm, mk_gpa(NF_ROM)), 0);
	assert_int_equal(nf_npt(f)->stats.flush_all, 1);
	vmmu_vcpu_tlb_sync(v);
	assert_int_equal(vmmu_tlb_stats(v->tlb)->inv[VMMU_TLB_INV_SVM_ALL], 1);
	assert_int_equal(vmmu_npt_vmrun_tlb_control(v), VMMU_TLB_CTL_ALL);
}

/* What a VMM may pass that no CPU would: answered, never a crash. */
static void test_bad_exit_info(void **state)
{
	static const uint64_t bad[][2] = {
		{ 0x4, 0x1000 },                        /* neither 32 nor 33 */
		{ 0x300000004ULL, 0x1000 },             /* both */
		{ FIN_NP, 1ULL << 48 },                 /* beyond MAXPHYADDR */
		{ FIN_NP, ~0ULL },
		{ ~0ULL, ~0ULL },
	};
	struct fx *f = *state;
	struct vmmu_exit_result res;
	enum vmmu_npf_outcome o;
	struct vmmu_vcpu *v;
	unsigned i;

	fx_long(f, false, 48);
	v = nf_vcpu(f, true);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(vmmu_npt_handle_npf(v, bad[i][0], bad[i][1],
						     NULL, &res, &o), 0);
		assert_int_equal(o, VMMU_NPF_BAD_INFO);
		assert_int_equal(res.action, VMMU_ACT_TO_VMM);
		assert_int_equal(res.reason, VMMU_REASON_UNHANDLED);
	}
	assert_int_equal(vmmu_npt_handle_npf(v, 0x10000000dULL, 0x1000, NULL,
					     &res, &o), 0);
	assert_int_equal(o, VMMU_NPF_RSVD);
	/* Already resolved: spurious, retried. */
	assert_int_equal(vmmu_npt_handle_npf(v, FIN_NP, 0x1000, NULL, &res, &o), 0);
	assert_int_equal(vmmu_npt_handle_npf(v, FIN_NP, 0x1000, NULL, &res, &o), 0);
	assert_int_equal(o, VMMU_NPF_SPURIOUS);
	assert_int_equal(res.action, VMMU_ACT_RETRY);
	assert_int_equal(vmmu_npt_handle_npf(NULL, FIN_NP, 0, NULL, &res, &o),
			 VMMU_EINVAL);
	/* Configuration refused once the VM is in use. */
	{
		struct vmmu_npt_config cfg;

		vmmu_npt_config_default(&cfg);
		assert_int_equal(vmmu_npt_configure(f->vm, &cfg), VMMU_EINVAL);
	}
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_first_touch_exits),
		T(test_rom),
		T(test_mmio),
		T(test_guest_table_read_only),
		T(test_cold_refs_4x4),
		T(test_cold_refs_5x5),
		T(test_large_leaves),
		T(test_log_dirty),
		T(test_d_bit_harvest),
		T(test_start_cost_independent_of_size),
		T(test_asid_flush),
		T(test_bad_exit_info),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
