/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor side of EPT: the VM's EPT tree built by the engine from
 * the memory map and the p2m, the EPTP, invalidation, and lazy type
 * changes. The engine does the table work; this file decides what each
 * guest-physical page should map to.
 *
 * Leaves (SDM Vol. 3C 29.3.2, tables 29-3..29-6): R/W/X from the p2m
 * type, memory type WB for RAM and ROM (UC where the slot is MMIO-like
 * through its override), IPAT clear, the p2m type in software bits 55:52.
 * MMIO is never mapped: any access is an EPT violation.
 */
#include <string.h>

#include "vmmu/access.h"
#include "vmmu/error.h"
#include "core/tlb.h"
#include "ept_internal.h"

/* R/W/X of each p2m type (0: not mapped). */
static const uint8_t type_prot[VMMU_P2M_TYPES_] = {
	[VMMU_P2M_RAM_RW] = VMMU_PROT_RWX,
	[VMMU_P2M_RAM_RO] = VMMU_PROT_R | VMMU_PROT_X,
	[VMMU_P2M_RAM_LOGDIRTY] = VMMU_PROT_R | VMMU_PROT_X,
	[VMMU_P2M_MMIO] = 0,
	[VMMU_P2M_ROM] = VMMU_PROT_R | VMMU_PROT_X,
	[VMMU_P2M_GRANT_RW] = VMMU_PROT_R | VMMU_PROT_W,
	[VMMU_P2M_GRANT_RO] = VMMU_PROT_R,
	[VMMU_P2M_FOREIGN] = VMMU_PROT_R | VMMU_PROT_W,
};

static const struct vmmu_ept_caps default_caps = {
	.walk5 = true, .ad = true, .pml = false, .execute_only = true,
	.page_2m = true, .page_1g = true, .maxphyaddr = 46,
};

/*
 * 4K-layout leaf attributes for gpa of the given type: VMMU_OK, or
 * VMMU_ENOENT when the type is not mapped (MMIO).
 */
int ept_leaf_attrs(const struct vmmu_vm *vm, gpa_t gpa,
		   enum vmmu_p2m_type type, uint64_t *attrs)
{
	const struct ept_vm *e = ept_of(vm);
	const struct vmmu_slot *s = vmmu_vm_find_slot(vm, gpa);
	struct ept_format_ctx c = e->fctx;

	if ((unsigned)type >= VMMU_P2M_TYPES_ || !type_prot[type])
		return VMMU_ENOENT;
	c.memtype = s && s->memtype != VMMU_MEMTYPE_DEFAULT ? s->memtype
							   : EPT_MT_WB;
	*attrs = ept_prot_attrs(&c, type_prot[type]) |
		 ((uint64_t)type << EPT_SW_BIT_TYPE);
	return VMMU_OK;
}

/*
 * INVEPT single-context on every vCPU after a change the engine reported
 * (cached translations or paging-structure entries may be stale), and
 * only then free the tables it unlinked (SDM 29.4.3.1).
 */
static void ept_invept_single(struct vmmu_tlb *t, void *arg)
{
	vmmu_tlb_invept(t, 1, *(const uint8_t *)arg);
}

void ept_flush(struct vmmu_vm *vm, const struct vmmu_pt_change *chg)
{
	struct ept_vm *e = ept_of(vm);

	if (chg && (chg->flush || chg->tables_unlinked)) {
		/*
		 * Every vCPU runs it on entering its next access; the call
		 * waits for the accesses in flight (access.h). In a
		 * dirty_log_* hook the core's vmmu_vm_tlb_flush_sync that
		 * follows is the INVEPT (backend.h), unless tables were
		 * unlinked: they are freed below, after the wait.
		 */
		e->stats.invept_single++;
		if (e->invept)          /* the real CPUs', before any free */
			e->invept(e->invept_ctx, 1, e->eptp);
		if (!e->in_hook || chg->tables_unlinked)
			vmmu_vm_tlb_invalidate(vm, vm->handler_vcpu,
					       ept_invept_single, &e->ctx_id,
					       sizeof(e->ctx_id));
	}
	vmmu_pt_free_deferred(&e->pt);
	if (chg)
		ept_dirty_split_harvest(vm, chg);
}

/* The recalculation of one leaf (vmmu_pt_recalc_fn) from the p2m. */
int ept_recalc_leaf(void *ctx, uint64_t addr, unsigned level, uint64_t old,
		    uint64_t *out)
{
	struct vmmu_vm *vm = ctx;
	const struct ept_vm *e = ept_of(vm);
	enum vmmu_p2m_type type;
	uint64_t attrs, size = vmmu_pt_level_size(level);
	int rc = vmmu_p2m_range_type(vm, mk_gpa(addr), size, &type);

	if (rc == VMMU_P2M_MIXED && level > VMMU_PT_LEVEL_4K)
		return VMMU_PT_RECALC_SPLIT;
	if (rc < 0)
		return rc;
	if (rc == VMMU_P2M_MIXED ||     /* a 4 KiB hole: the slot went */
	    ept_leaf_attrs(vm, mk_gpa(addr), type, &attrs) < 0) {
		*out = 0;           /* no longer mapped (MMIO) */
		return VMMU_OK;
	}
	attrs |= vmmu_pt_leaf_attrs(&e->pt, old, level) & (EPT_A | EPT_D);
	if (level > VMMU_PT_LEVEL_4K)
		attrs = e->pt.fmt->attrs_to_large(attrs);
	*out = vmmu_pt_leaf_addr(&e->pt, old, level) | attrs;
	return VMMU_OK;
}

static int leaf_seen(void *ctx, uint64_t addr, uint64_t size, unsigned level,
		     uint64_t entry)
{
	(void)ctx; (void)addr; (void)size; (void)level; (void)entry;
	return 1;
}

/* Map [base, base + size) of the host block at hpa when it is one type
 * and nothing in it is mapped yet: 1 mapped, 0 not, or an error. */
static int map_if_uniform(struct vmmu_vm *vm, uint64_t base, uint64_t size,
			  hpa_t hpa)
{
	struct ept_vm *e = ept_of(vm);
	struct vmmu_pt_change chg = { 0 };
	enum vmmu_p2m_type type;
	uint64_t attrs;
	int rc;

	if (vmmu_p2m_range_type(vm, mk_gpa(base), size, &type) != VMMU_OK ||
	    ept_leaf_attrs(vm, mk_gpa(base), type, &attrs) < 0)
		return 0;
	if (vmmu_pt_for_each_leaf(&e->pt, base, size, leaf_seen, NULL))
		return 0;
	rc = vmmu_pt_map(&e->pt, base, hpa, size, attrs, &chg);
	ept_flush(vm, &chg);
	return rc < 0 ? rc : 1;
}

/*
 * First touch of gpa: back it (vmmu_vm_ram_lookup), then map the whole
 * host block, or the 2 MiB part of it, or the 4 KiB page: the largest
 * that is of one p2m type and not mapped in part already (so that no A/D
 * state of an existing leaf is lost).
 */
int ept_map_touch(struct vmmu_vm *vm, gpa_t gpa)
{
	struct vmmu_ram_page rp;
	uint64_t sizes[3], off;
	unsigned i, n = 0;
	int rc = vmmu_vm_ram_lookup(vm, gpa, true, &rp);

	if (rc < 0)
		return rc;
	sizes[n++] = VMMU_PAGE_SIZE << rp.order;
	if (rp.order > VMMU_ORDER_2M)
		sizes[n++] = VMMU_PAGE_SIZE << VMMU_ORDER_2M;
	if (rp.order > 0)
		sizes[n++] = VMMU_PAGE_SIZE;
	for (i = 0; i < n; i++) {
		uint64_t base = gpa.v & ~(sizes[i] - 1);

		off = gpa.v - base;
		rc = map_if_uniform(vm, base, sizes[i],
				    mk_hpa(rp.hpa.v - off));
		if (rc)
			break;
	}
	if (rc == 1)
		ept_of(vm)->stats.populated++;
	return rc < 0 ? rc : VMMU_OK;
}

/* A log-dirty page written: RAM_RW in the p2m, and the leaf of its size
 * (4 KiB or 2 MiB) around gpa writable (a larger leaf split down to that
 * size first, children inherit everything). */
int ept_make_writable(struct vmmu_vm *vm, gpa_t gpa, uint64_t size)
{
	struct ept_vm *e = ept_of(vm);
	struct vmmu_pt_change chg = { 0 };
	uint64_t page = gpa.v & ~(size - 1), entry;
	unsigned level;
	int rc = vmmu_p2m_record_type(vm, mk_gpa(page), size, VMMU_P2M_RAM_RW);

	if (rc < 0)
		return rc;
	while ((rc = vmmu_pt_lookup(&e->pt, page, &entry, &level)) == 0 &&
	       vmmu_pt_level_size(level) > size) {
		rc = vmmu_pt_split_large_leaf(&e->pt, page, level, &chg);
		if (rc < 0)
			break;
	}
	if (rc == VMMU_OK)
		rc = vmmu_pt_update(&e->pt, page, size,
				    EPT_SW_TYPE, EPT_W |
				    ((uint64_t)VMMU_P2M_RAM_RW << EPT_SW_BIT_TYPE),
				    &chg);
	ept_flush(vm, &chg);
	return rc == VMMU_ENOENT ? VMMU_OK : rc;
}

/*
 * After a recalculation: the 2 MiB and then the 1 GiB range around gpa
 * become one leaf again when their leaves are uniform and the host memory
 * behind them contiguous (the engine checks both; A/D are ORed).
 */
void ept_merge_around(struct vmmu_vm *vm, gpa_t gpa)
{
	struct ept_vm *e = ept_of(vm);
	struct vmmu_pt_change chg = { 0 };
	unsigned level;

	for (level = VMMU_PT_LEVEL_2M; level <= e->pt.max_leaf_level; level++)
		if (vmmu_pt_merge(&e->pt, gpa.v & ~(vmmu_pt_level_size(level) - 1),
				  level, &chg) < 0)
			break;
	ept_flush(vm, &chg);
}

static int tree_init(struct vmmu_vm *vm, struct ept_vm *e)
{
	unsigned levels = e->caps.walk5 && vm->guest_maxphyaddr > 48 ? 5 : 4;
	unsigned max_leaf = e->caps.page_1g ? VMMU_PT_LEVEL_1G :
			    e->caps.page_2m ? VMMU_PT_LEVEL_2M : VMMU_PT_LEVEL_4K;
	int rc;

	if (vm->guest_maxphyaddr > 48 && levels == 4)
		return VMMU_ENOTSUP;
	e->fctx.memtype = EPT_MT_WB;
	e->fctx.execute_only = e->caps.execute_only;
	rc = vmmu_pt_init(&e->pt, &ept_pt_format, &e->fctx, &vm->platform,
			  levels, max_leaf);
	if (rc < 0)
		return rc;
	e->pt.auto_merge = true;
	e->eptp = ept_make_eptp(e->pt.root, levels, e->caps.ad);
	e->ctx_id++;
	e->dirty_mode = e->caps.ad && e->caps.pml ? VMMU_DIRTY_PML :
			e->caps.ad ? VMMU_DIRTY_AD_BITS : VMMU_DIRTY_WRITE_PROTECT;
	return VMMU_OK;
}

static int ept_vm_init(struct vmmu_vm *vm)
{
	struct ept_vm *e = vm->platform.zalloc(vm->platform.ctx, sizeof(*e));
	int rc;

	if (!e)
		return VMMU_ENOMEM;
	e->caps = default_caps;
	rc = tree_init(vm, e);
	if (rc < 0) {
		vm->platform.free(vm->platform.ctx, e);
		return rc;
	}
	vm->backend_state = e;
	return VMMU_OK;
}

static void ept_vm_destroy(struct vmmu_vm *vm)
{
	struct ept_vm *e = ept_of(vm);

	if (!e)
		return;
	vmmu_pt_destroy(&e->pt);
	vm->platform.free(vm->platform.ctx, e);
	vm->backend_state = NULL;
}

int vmmu_ept_configure(struct vmmu_vm *vm, const struct vmmu_ept_caps *caps)
{
	struct ept_vm *e;
	struct vmmu_ept_caps old;
	int rc;

	if (!vm || !caps || vm->ops != &vmmu_backend_ept || !ept_of(vm))
		return VMMU_EINVAL;
	if (vm->nslots || vm->nvcpus)
		return VMMU_EBUSY;
	e = ept_of(vm);
	old = e->caps;
	vmmu_pt_destroy(&e->pt);
	e->caps = *caps;
	rc = tree_init(vm, e);
	if (rc < 0) {
		e->caps = old;
		if (tree_init(vm, e) < 0)
			return vmmu_vm_kill(vm, "the EPT tree could not be rebuilt");
	}
	return rc;
}

int vmmu_ept_caps_from_vmx(const struct vmmu_vmx_caps *vmx,
			   unsigned maxphyaddr, struct vmmu_ept_caps *out)
{
	if (!vmx || !out)
		return VMMU_EINVAL;
	if (!vmx->ept || !vmx->ept_wl4 || !vmx->ept_wb)
		return VMMU_ENOTSUP;
	memset(out, 0, sizeof(*out));
	out->walk5 = vmx->ept_wl5;
	out->ad = vmx->ept_ad;
	out->pml = vmx->pml && vmx->ept_ad;
	out->execute_only = vmx->ept_xonly;
	out->page_2m = vmx->ept_2m;
	out->page_1g = vmx->ept_1g;
	out->maxphyaddr = (uint8_t)(maxphyaddr ? maxphyaddr : 46);
	return VMMU_OK;
}

uint64_t vmmu_ept_eptp(const struct vmmu_vm *vm)
{
	return vm && vm->ops == &vmmu_backend_ept && ept_of(vm) ?
	       ept_of(vm)->eptp : 0;
}

const struct vmmu_ept_stats *vmmu_ept_stats(const struct vmmu_vm *vm)
{
	return vm && vm->ops == &vmmu_backend_ept ? &ept_of(vm)->stats : NULL;
}

int vmmu_ept_set_invept(struct vmmu_vm *vm, vmmu_ept_invept_fn fn, void *ctx)
{
	if (!vm || vm->ops != &vmmu_backend_ept)
		return VMMU_EINVAL;
	vmmu_vm_lock(vm);
	ept_of(vm)->invept = fn;
	ept_of(vm)->invept_ctx = ctx;
	vmmu_vm_unlock(vm);
	return VMMU_OK;
}

struct vmmu_pt *vmmu_ept_tables(struct vmmu_vm *vm)
{
	return vm && vm->ops == &vmmu_backend_ept ? &ept_of(vm)->pt : NULL;
}

/* A vCPU runs with a VPID of its own and the EPTP's context id. */
static int ept_vcpu_init(struct vmmu_vcpu *vcpu)
{
	struct ept_vm *e = ept_of(vcpu->vm);
	const struct vmmu_platform *p = &vcpu->vm->platform;
	struct ept_vcpu *ev = p->zalloc(p->ctx, sizeof(*ev));

	if (!ev)
		return VMMU_ENOMEM;
	if (e->caps.pml && p->alloc_page(p->ctx, &ev->pml_page) < 0) {
		p->free(p->ctx, ev);
		return VMMU_ENOMEM;
	}
	ev->pml_index = EPT_PML_ENTRIES - 1;
	ev->pml_next = EPT_PML_ENTRIES;
	vcpu->backend_state = ev;
	vcpu->tlb_vpid = (uint16_t)(vcpu->id + 1);
	vcpu->tlb_ctx = e->ctx_id;
	if (vcpu->tlb)
		vmmu_tlb_set_tag(vcpu->tlb, vcpu->tlb_vpid, 0, vcpu->tlb_ctx);
	return VMMU_OK;
}

static void ept_vcpu_destroy(struct vmmu_vcpu *vcpu)
{
	const struct vmmu_platform *p = &vcpu->vm->platform;
	struct ept_vcpu *ev = vcpu->backend_state;

	if (!ev)
		return;
	if (ev->pml_page.v)
		p->free_page(p->ctx, ev->pml_page);
	p->free(p->ctx, ev);
	vcpu->backend_state = NULL;
}

static bool memtype_valid(uint8_t mt)
{
	return mt == VMMU_MEMTYPE_DEFAULT || mt == EPT_MT_UC ||
	       mt == EPT_MT_WC || mt == EPT_MT_WT || mt == EPT_MT_WP ||
	       mt == EPT_MT_WB;
}

/* RAM and ROM are mapped on first touch; only the memory type is checked. */
static int ept_slot_added(struct vmmu_vm *vm, const struct vmmu_slot *slot)
{
	(void)vm;
	return memtype_valid(slot->memtype) ? VMMU_OK : VMMU_EINVAL;
}

static int ept_slot_removed(struct vmmu_vm *vm, const struct vmmu_slot *slot)
{
	struct vmmu_pt_change chg = { 0 };
	int rc = vmmu_pt_unmap(&ept_of(vm)->pt, slot->base.v, slot->size, &chg);

	ept_flush(vm, &chg);
	return rc;
}

/*
 * A type change: recorded in the p2m already; mark the highest entries
 * covering the range so that the next walk through each is an EPT
 * misconfiguration, resolved by ept_handle_exit (lazy: the cost of
 * starting does not depend on how much is mapped).
 */
static int ept_set_type(struct vmmu_vm *vm, gpa_t gpa, uint64_t size,
			enum vmmu_p2m_type type)
{
	struct vmmu_pt_change chg = { 0 };
	int rc;

	(void)type;
	rc = vmmu_pt_mark_recalc(&ept_of(vm)->pt, gpa.v, size, ept_recalc_leaf,
				 vm, &chg);
	ept_flush(vm, &chg);
	if (rc == VMMU_OK) {
		/* leaves at the edges were recalculated now: maybe uniform */
		ept_merge_around(vm, gpa);
		ept_merge_around(vm, mk_gpa(gpa.v + size - 1));
	}
	return rc;
}

static int ept_foreign_map(struct vmmu_vm *vm, gpa_t gpa, hpa_t hpa,
			   enum vmmu_p2m_type type)
{
	struct vmmu_pt_change chg = { 0 };
	uint64_t attrs;
	int rc = ept_leaf_attrs(vm, gpa, type, &attrs);

	if (rc < 0)
		return VMMU_EINVAL;
	rc = vmmu_pt_map(&ept_of(vm)->pt, gpa.v, hpa, VMMU_PAGE_SIZE, attrs,
			 &chg);
	ept_flush(vm, &chg);
	return rc;
}

static int ept_foreign_unmap(struct vmmu_vm *vm, gpa_t gpa)
{
	struct vmmu_pt_change chg = { 0 };
	int rc = vmmu_pt_unmap(&ept_of(vm)->pt, gpa.v, VMMU_PAGE_SIZE, &chg);

	ept_flush(vm, &chg);
	return rc;
}

const struct vmmu_backend_ops vmmu_backend_ept = {
	.name = "ept",
	.vm_init = ept_vm_init,
	.vm_destroy = ept_vm_destroy,
	.vcpu_init = ept_vcpu_init,
	.vcpu_destroy = ept_vcpu_destroy,
	.slot_added = ept_slot_added,
	.slot_removed = ept_slot_removed,
	.hw_walk = ept_hw_walk,
	.handle_exit = ept_handle_exit,
	.set_type = ept_set_type,
	.dirty_log_start = ept_dirty_start,
	.dirty_log_stop = ept_dirty_stop,
	.dirty_log_rearm = ept_dirty_rearm,
	.dirty_log_sync = ept_dirty_sync,
	.dirty_log_mode = ept_dirty_mode,
	.foreign_map = ept_foreign_map,
	.foreign_unmap = ept_foreign_unmap,
};
