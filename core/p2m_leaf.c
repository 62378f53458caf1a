/* SPDX-License-Identifier: MIT */
/* Second-level leaves from the p2m (core/p2m_leaf.h). */
#include "vmmu/error.h"
#include "p2m_leaf.h"

uint8_t vmmu_p2m_type_prot(enum vmmu_p2m_type type)
{
	switch (type) {
	case VMMU_P2M_RAM_RW:
		return VMMU_PROT_RWX;
	case VMMU_P2M_RAM_RO:
	case VMMU_P2M_RAM_LOGDIRTY:
	case VMMU_P2M_ROM:
		return VMMU_PROT_R | VMMU_PROT_X;
	case VMMU_P2M_GRANT_RW:
	case VMMU_P2M_FOREIGN:
		return VMMU_PROT_R | VMMU_PROT_W;
	case VMMU_P2M_GRANT_RO:
		return VMMU_PROT_R;
	default:
		return 0;
	}
}

static int any_leaf(void *ctx, uint64_t addr, uint64_t size, unsigned level,
		    uint64_t entry)
{
	(void)ctx, (void)addr, (void)size, (void)level, (void)entry;
	return 1;
}

/* Map [base, base + size) at hpa if it is one mapped type and unmapped:
 * 1 mapped, 0 not, or an error. */
static int map_uniform(const struct vmmu_p2m_leaves *l, uint64_t base,
		       uint64_t size, hpa_t hpa, struct vmmu_pt_change *chg)
{
	enum vmmu_p2m_type type;
	uint64_t attrs;
	int rc;

	if (vmmu_p2m_range_type(l->vm, mk_gpa(base), size, &type) != VMMU_OK ||
	    l->attrs(l->vm, mk_gpa(base), type, &attrs) < 0 ||
	    vmmu_pt_for_each_leaf(l->pt, base, size, any_leaf, NULL))
		return 0;
	rc = vmmu_pt_map(l->pt, base, hpa, size, attrs, chg);
	return rc < 0 ? rc : 1;
}

int vmmu_p2m_map_touch(const struct vmmu_p2m_leaves *l, gpa_t gpa,
		       struct vmmu_pt_change *chg, unsigned *level)
{
	struct vmmu_ram_page rp;
	unsigned lv;
	int rc = vmmu_vm_ram_lookup(l->vm, gpa, true, &rp);

	*level = 0;
	if (rc < 0)
		return rc;
	for (lv = l->pt->max_leaf_level; lv >= VMMU_PT_LEVEL_4K; lv--) {
		uint64_t size = vmmu_pt_level_size(lv);
		uint64_t base = gpa.v & ~(size - 1);

		if (size > (VMMU_PAGE_SIZE << rp.order))
			continue;
		rc = map_uniform(l, base, size,
				 mk_hpa(rp.hpa.v - (gpa.v - base)), chg);
		if (rc) {
			*level = rc > 0 ? lv : 0;
			return rc < 0 ? rc : VMMU_OK;
		}
	}
	return VMMU_OK;
}

int vmmu_p2m_recalc_leaf(void *ctx, uint64_t addr, unsigned level,
			 uint64_t old, uint64_t *out)
{
	const struct vmmu_p2m_leaves *l = ctx;
	const struct vmmu_pt *pt = l->pt;
	enum vmmu_p2m_type type;
	uint64_t attrs;
	int rc = vmmu_p2m_range_type(l->vm, mk_gpa(addr),
				     vmmu_pt_level_size(level), &type);

	if (rc == VMMU_P2M_MIXED && level > VMMU_PT_LEVEL_4K)
		return VMMU_PT_RECALC_SPLIT;
	if (rc < 0)
		return rc;
	if (rc == VMMU_P2M_MIXED ||
	    l->attrs(l->vm, mk_gpa(addr), type, &attrs) < 0) {
		*out = 0;       /* not mapped any more */
		return VMMU_OK;
	}
	attrs |= vmmu_pt_leaf_attrs(pt, old, level) & l->keep;
	if (level > VMMU_PT_LEVEL_4K)
		attrs = pt->fmt->attrs_to_large(attrs);
	*out = vmmu_pt_leaf_addr(pt, old, level) | attrs;
	return VMMU_OK;
}

int vmmu_p2m_retype(struct vmmu_vm *vm, gpa_t gpa, uint64_t size,
		    enum vmmu_p2m_type from, enum vmmu_p2m_type to)
{
	uint64_t a = gpa.v, end = gpa.v + size, step;
	enum vmmu_p2m_type t;
	int rc = vmmu_p2m_range_type(vm, gpa, size, &t);

	if (rc == VMMU_OK)
		return t == from ? vmmu_p2m_record_type(vm, gpa, size, to)
				 : VMMU_OK;
	if (rc < 0 || size <= VMMU_PAGE_SIZE)
		return rc < 0 ? rc : VMMU_OK;
	step = size > (1ULL << 30) ? 1ULL << 30 :
	       size > (2ULL << 20) ? 2ULL << 20 : VMMU_PAGE_SIZE;
	for (; a < end; a = (a & ~(step - 1)) + step) {
		uint64_t next = (a & ~(step - 1)) + step;

		rc = vmmu_p2m_retype(vm, mk_gpa(a),
				     (next < end ? next : end) - a, from, to);
		if (rc < 0)
			return rc;
	}
	return VMMU_OK;
}
