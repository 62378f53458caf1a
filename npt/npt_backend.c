/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor side of NPT (include/vmmu/npt.h): the VM's nested tables
 * through the page-table engine, its ASID and TLB context, invalidation,
 * lazy type changes and dirty logging. The #NPF handler is npt_npf.c; how
 * a CPU walks the tables is npt_hw.c.
 */
#include <string.h>

#include "npt_backend.h"
#include "vmmu/access.h"
#include "vmmu/error.h"

/* ---- configuration ---------------------------------------------------- */

void vmmu_npt_config_default(struct vmmu_npt_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->levels = 4;
	cfg->host_maxphyaddr = 48;
	cfg->host_nxe = true;
	cfg->asid = 1;
	cfg->flush_by_asid = true;
}

void vmmu_npt_config_from_decision(struct vmmu_npt_config *cfg,
				   const struct vmmu_host_info *host,
				   const struct vmmu_decision *d)
{
	vmmu_npt_config_default(cfg);
	cfg->levels = d->levels == 5 ? 5 : 4;
	cfg->gbpages = d->leaf_1g;
	if (host->feat.maxphyaddr >= 32 && host->feat.maxphyaddr <= 52)
		cfg->host_maxphyaddr = (uint8_t)host->feat.maxphyaddr;
	cfg->host_nxe = host->feat.nx;
	cfg->flush_by_asid = host->feat.flush_by_asid;
	cfg->ad_harvest = d->dirty_log == VMMU_DIRTY_AD_BITS;
}

static int npt_tables_init(struct npt_vm *n, const struct vmmu_platform *plat)
{
	n->ctx.user = true;     /* nested walks are user accesses (15.25.5) */
	n->ctx.nx = n->cfg.host_nxe;
	n->ctx.recalc_clears_p = false;  /* the marker clears U: #NPF, P=1 */
	n->hw.levels = (uint8_t)n->cfg.levels;
	n->hw.maxphyaddr = n->cfg.host_maxphyaddr;
	n->hw.nxe = n->cfg.host_nxe;
	n->hw.smep = n->cfg.host_smep;
	n->hw.gbpages = n->cfg.gbpages;
	return vmmu_pt_init(&n->pt, &vmmu_pt_format_x86, &n->ctx, plat,
			    n->cfg.levels, n->cfg.gbpages ? VMMU_PT_LEVEL_1G
							  : VMMU_PT_LEVEL_2M);
}

int vmmu_npt_configure(struct vmmu_vm *vm, const struct vmmu_npt_config *cfg)
{
	struct npt_vm *n = npt_of(vm);
	struct vmmu_pt old;
	int rc;

	if (!n || !cfg || vm->nvcpus || n->pt.table_pages != 1 ||
	    (cfg->levels != 4 && cfg->levels != 5) || !cfg->asid ||
	    cfg->host_maxphyaddr < 32 || cfg->host_maxphyaddr > 52)
		return VMMU_EINVAL;
	old = n->pt;
	n->cfg = *cfg;
	rc = npt_tables_init(n, &vm->platform);
	if (rc < 0) {
		n->pt = old;
		return rc;
	}
	vmmu_pt_destroy(&old);
	n->hw.ncr3 = npt_make_ncr3(&n->pt);
	return VMMU_OK;
}

uint64_t vmmu_npt_ncr3(const struct vmmu_vm *vm)
{
	const struct npt_vm *n = npt_of(vm);

	return n ? n->hw.ncr3 : 0;
}

const struct vmmu_npt_stats *vmmu_npt_stats(const struct vmmu_vm *vm)
{
	const struct npt_vm *n = npt_of(vm);

	return n ? &n->stats : NULL;
}

/* ---- invalidation ----------------------------------------------------- */

static void npt_on_leaf(void *ctx, uint64_t addr, unsigned level, uint64_t old,
			uint64_t ne)
{
	struct npt_chg *ch = ctx;
	uint64_t mask = X86_PTE_ADDR_MASK & ~(vmmu_pt_level_size(level) - 1);

	(void)addr;
	if (!(old & X86_PTE_P))
		return;
	if (!(ne & X86_PTE_P) || ((old ^ ne) & mask) ||
	    ((old & X86_PTE_RW) && !(ne & X86_PTE_RW)) ||
	    (!(old & X86_PTE_NX) && (ne & X86_PTE_NX)))
		ch->flush = true;
}

void npt_chg_init(struct npt_chg *ch, const struct vmmu_vcpu *by)
{
	memset(ch, 0, sizeof(*ch));
	ch->c.on_leaf = npt_on_leaf;
	ch->c.ctx = ch;
	ch->by = by;
}

struct npt_flush_arg {
	unsigned ctl;
	uint16_t asid;
};

static void npt_flush_tlb(struct vmmu_tlb *t, void *arg)
{
	const struct npt_flush_arg *a = arg;

	vmmu_tlb_svm_tlb_control(t, a->ctl, a->asid, NPT_TLB_CTX);
}

void npt_flush(struct vmmu_vm *vm, struct npt_vm *n,
	       const struct vmmu_vcpu *by)
{
	struct npt_flush_arg a = {
		n->cfg.flush_by_asid ? VMMU_TLB_CTL_ASID : VMMU_TLB_CTL_ALL,
		n->cfg.asid,
	};
	unsigned ctl = a.ctl, i;

	/*
	 * Every vCPU's next VMRUN flushes (APM 15.16.1): the model runs the
	 * flush on this vCPU's TLB now and on each other's when it next
	 * enters an access, and waits for the accesses in flight. In a
	 * dirty_log_* hook the core's vmmu_vm_tlb_flush_sync that follows is
	 * the model's flush (backend.h), unless tables wait to be freed.
	 */
	if (!n->in_hook || n->pt.ndeferred)
		vmmu_vm_tlb_invalidate(vm, by, npt_flush_tlb, &a, sizeof(a));
	for (i = 0; i < vm->nvcpus; i++)
		if (n->pending_ctl[i] != VMMU_TLB_CTL_ALL)
			n->pending_ctl[i] = (uint8_t)ctl;
	if (ctl == VMMU_TLB_CTL_ASID)
		n->stats.flush_asid++;
	else
		n->stats.flush_all++;
	/* Unlinked tables are reused only now (pgtable.h). */
	n->stats.tables_freed += vmmu_pt_free_deferred(&n->pt);
}

void npt_settle(struct vmmu_vm *vm, struct npt_vm *n, struct npt_chg *ch)
{
	if (ch->flush || ch->c.tables_unlinked)
		npt_flush(vm, n, ch->by);
}

unsigned vmmu_npt_vmrun_tlb_control(struct vmmu_vcpu *vcpu)
{
	struct npt_vm *n = vcpu ? npt_of(vcpu->vm) : NULL;
	unsigned ctl;

	if (!n || vcpu->id >= VMMU_MAX_VCPUS)
		return VMMU_TLB_CTL_NOTHING;
	ctl = n->pending_ctl[vcpu->id];
	n->pending_ctl[vcpu->id] = VMMU_TLB_CTL_NOTHING;
	return ctl;
}

int vmmu_npt_invlpga(struct vmmu_vcpu *vcpu, gva_t gva)
{
	struct npt_vm *n = vcpu ? npt_of(vcpu->vm) : NULL;

	if (!n)
		return VMMU_EINVAL;
	if (vcpu->tlb)
		vmmu_tlb_invlpga(vcpu->tlb, gva, vcpu->tlb_vpid);
	n->stats.invlpga++;
	return VMMU_OK;
}

/* ---- types and lazy recalculation ------------------------------------- */

int npt_leaf_attrs(const struct vmmu_vm *vm, gpa_t gpa,
		   enum vmmu_p2m_type type, uint64_t *attrs)
{
	const struct npt_vm *n = npt_of(vm);
	uint8_t prot = vmmu_p2m_type_prot(type);

	(void)gpa;
	if (!prot)
		return VMMU_ENOENT;
	/* R is implied by P; X is the absence of NX (APM 5.6). */
	*attrs = vmmu_pt_x86_prot_attrs(&n->ctx, prot) |
		 ((uint64_t)type << X86_SW_BIT_TYPE);
	return VMMU_OK;
}

int npt_mark(struct vmmu_vm *vm, struct npt_vm *n, uint64_t gpa, uint64_t size)
{
	struct npt_chg ch;
	uint64_t m0 = n->pt.stats.marks;
	int rc;

	npt_chg_init(&ch, NULL);
	rc = vmmu_pt_mark_recalc(&n->pt, gpa, size, vmmu_p2m_recalc_leaf,
				 &n->leaves, &ch.c);
	n->stats.marks += n->pt.stats.marks - m0;
	/* A marker must reach every vCPU before it counts (a cached
	 * translation would bypass it): any changed entry flushes. */
	if (ch.c.flush)
		ch.flush = true;
	npt_settle(vm, n, &ch);
	return rc;
}

/* A type change the p2m recorded: lazily, through the markers. */
static int npt_set_type(struct vmmu_vm *vm, gpa_t gpa, uint64_t size,
			enum vmmu_p2m_type type)
{
	struct npt_vm *n = npt_of(vm);

	(void)type;
	return n ? npt_mark(vm, n, gpa.v, size) : VMMU_EINVAL;
}

/* A grant or foreign frame at the hole gpa: one 4 KiB leaf, now. */
static int npt_foreign_map(struct vmmu_vm *vm, gpa_t gpa, hpa_t hpa,
			   enum vmmu_p2m_type type)
{
	struct npt_vm *n = npt_of(vm);
	struct npt_chg ch;
	uint64_t attrs;
	int rc;

	if (!n || npt_leaf_attrs(vm, gpa, type, &attrs) < 0 ||
	    (type != VMMU_P2M_GRANT_RW && type != VMMU_P2M_GRANT_RO &&
	     type != VMMU_P2M_FOREIGN))
		return VMMU_EINVAL;
	npt_chg_init(&ch, NULL);
	rc = vmmu_pt_map(&n->pt, gpa.v, hpa, VMMU_PAGE_SIZE, attrs, &ch.c);
	npt_settle(vm, n, &ch);
	return rc;
}

/* Gone from the tables and from every TLB before the owner reuses it. */
static int npt_foreign_unmap(struct vmmu_vm *vm, gpa_t gpa)
{
	struct npt_vm *n = npt_of(vm);
	struct npt_chg ch;
	int rc;

	if (!n)
		return VMMU_EINVAL;
	npt_chg_init(&ch, NULL);
	rc = vmmu_pt_unmap(&n->pt, gpa.v, VMMU_PAGE_SIZE, &ch.c);
	ch.flush = ch.c.flush;
	npt_settle(vm, n, &ch);
	return rc;
}

/* ---- backend operations ----------------------------------------------- */

static int npt_vm_init(struct vmmu_vm *vm)
{
	struct npt_vm *n = vm->platform.zalloc(vm->platform.ctx, sizeof(*n));
	int rc;

	if (!n)
		return VMMU_ENOMEM;
	vmmu_npt_config_default(&n->cfg);
	rc = npt_tables_init(n, &vm->platform);
	if (rc < 0) {
		vm->platform.free(vm->platform.ctx, n);
		return rc;
	}
	n->hw.ncr3 = npt_make_ncr3(&n->pt);
	n->leaves.vm = vm;
	n->leaves.pt = &n->pt;
	n->leaves.attrs = npt_leaf_attrs;
	n->leaves.keep = X86_PTE_A | X86_PTE_D;
	vm->backend_state = n;
	return VMMU_OK;
}

static void npt_vm_destroy(struct vmmu_vm *vm)
{
	struct npt_vm *n = vm->backend_state;

	if (!n)
		return;
	vmmu_pt_destroy(&n->pt);
	vm->platform.free(vm->platform.ctx, n);
	vm->backend_state = NULL;
}

/* The VM's ASID and the context id of its nCR3 tag the vCPU's TLB. */
static int npt_vcpu_init(struct vmmu_vcpu *vcpu)
{
	struct npt_vm *n = npt_of(vcpu->vm);

	vcpu->tlb_vpid = n->cfg.asid;
	vcpu->tlb_ctx = NPT_TLB_CTX;
	if (vcpu->tlb)
		vmmu_tlb_set_tag(vcpu->tlb, vcpu->tlb_vpid, 0, vcpu->tlb_ctx);
	/* A new ASID user starts clean (APM 15.16.1). */
	n->pending_ctl[vcpu->id] = n->cfg.flush_by_asid ? VMMU_TLB_CTL_ASID
							: VMMU_TLB_CTL_ALL;
	return VMMU_OK;
}

static int npt_slot_removed(struct vmmu_vm *vm, const struct vmmu_slot *slot)
{
	struct npt_vm *n = npt_of(vm);
	struct npt_chg ch;
	int rc;

	npt_chg_init(&ch, NULL);
	rc = vmmu_pt_unmap(&n->pt, slot->base.v, slot->size, &ch.c);
	/* The host pages go right after: flush before they are reused. */
	ch.flush = ch.c.flush;
	npt_settle(vm, n, &ch);
	return rc;
}

static unsigned npt_levels(const struct vmmu_vcpu *vcpu)
{
	return npt_of(vcpu->vm)->cfg.levels;
}

static int npt_nested_walk(struct vmmu_vcpu *vcpu, gpa_t gpa,
			   enum vmmu_access_kind kind, bool guest_pt,
			   const struct vmmu_access *acc,
			   const struct vmmu_tlb_pwc_hit *start,
			   struct vmmu_nested_walk *out)
{
	struct npt_vm *n = npt_of(vcpu->vm);
	int rc;

	/*
	 * APM 15.25.5: guest page-table accesses are user writes to the
	 * nested tables (W on their #NPF, as QEMU and Bochs report even with
	 * A already set, and kvm-unit-tests' npt_rw_pfwalk expects).
	 */
	if (guest_pt)
		kind = VMMU_ACCESS_WRITE;
	rc = npt_hw_walk(&n->hw, &vcpu->vm->platform, gpa, kind, guest_pt,
			 start, out);

	if (rc == VMMU_EFAULT)
		return vmmu_vm_kill(vcpu->vm, "an NPT entry points outside host memory");
	/* The VMCB has no linear address for #NPF; keep it for the model. */
	out->exit.gva = acc->gva;
	return rc;
}

static bool npt_pt_as_write(const struct vmmu_vcpu *vcpu)
{
	(void)vcpu;
	return true;
}

static const struct vmmu_nested_ops npt_nested_ops = {
	.walk = npt_nested_walk,
	.levels = npt_levels,
	.pt_as_write = npt_pt_as_write,
};

static int npt_hw_walk_op(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
			  struct vmmu_hw_walk *out)
{
	return vmmu_nested_hw_walk(vcpu, &npt_nested_ops, acc, out);
}

static int npt_handle_exit(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
			   const struct vmmu_op *op, struct vmmu_exit_result *res)
{
	if (exit->kind != VMMU_EXIT_NPF)
		return VMMU_EINVAL;
	return npt_npf(vcpu, exit->exitinfo1, exit->exitinfo2, op, res, NULL);
}

int vmmu_npt_handle_npf(struct vmmu_vcpu *vcpu, uint64_t exitinfo1,
			uint64_t exitinfo2, const struct vmmu_op *op,
			struct vmmu_exit_result *res,
			enum vmmu_npf_outcome *outcome)
{
	int rc;

	if (!vcpu || !res || !npt_of(vcpu->vm))
		return VMMU_EINVAL;
	if (vcpu->vm->dead)
		return VMMU_EDEAD;
	memset(res, 0, sizeof(*res));
	vmmu_vm_lock(vcpu->vm);
	rc = npt_npf(vcpu, exitinfo1, exitinfo2, op, res, outcome);
	vmmu_vm_unlock(vcpu->vm);
	return rc;
}

const struct vmmu_backend_ops vmmu_backend_npt = {
	.name = "npt",
	.vm_init = npt_vm_init,
	.vm_destroy = npt_vm_destroy,
	.vcpu_init = npt_vcpu_init,
	.slot_removed = npt_slot_removed,
	.hw_walk = npt_hw_walk_op,
	.handle_exit = npt_handle_exit,
	.dirty_log_start = npt_dirty_start,
	.dirty_log_stop = npt_dirty_stop,
	.dirty_log_rearm = npt_dirty_rearm,
	.dirty_log_sync = npt_dirty_sync,
	.dirty_log_mode = npt_dirty_mode,
	.set_type = npt_set_type,
	.foreign_map = npt_foreign_map,
	.foreign_unmap = npt_foreign_unmap,
};
