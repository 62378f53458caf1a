/* SPDX-License-Identifier: MIT */
/*
 * The guest OS model's mapping calls: mmap, munmap, mprotect, brk (each
 * takes the kernel lock; page-table changes through gos_kstore, flushes
 * through gos_flush).
 */
#include "model/gos_int.h"
#include "vmmu/error.h"

/* ---- mapping calls ----------------------------------------------------- */

int gos_mmap(struct gos_cpu *c, uint64_t len, unsigned prot, bool huge,
	     uint64_t *addr)
{
	struct gos_proc *p = c->cur;
	uint64_t align = huge ? gos_lsize(c->g, c->g->cfg.page_order == VMMU_ORDER_1G
				      ? 3 : 2) : VMMU_PAGE_SIZE;
	int rc;

	len = (len + VMMU_PAGE_SIZE - 1) & VMMU_PAGE_MASK;
	gos_lock(c);
	*addr = (p->mmap_next + align - 1) & ~(align - 1);
	rc = *addr + len > p->stack_top - (1ULL << 30) ? VMMU_ENOMEM :
	     gos_vma_add(p, (struct gos_vma){ *addr, *addr + len, (uint8_t)prot,
					 GOS_VMA_ANON, huge, 0 });
	if (rc == 0)
		p->mmap_next = *addr + len;
	c->g->st.mmaps++;
	gos_unlock(c);
	return rc;
}

int gos_mmap_fixed(struct gos_cpu *c, uint64_t addr, uint64_t len,
		   unsigned prot)
{
	struct gos_proc *p = c->cur;
	uint64_t end = (addr + len + VMMU_PAGE_SIZE - 1) & VMMU_PAGE_MASK;
	struct gos_vma *v;
	int rc;

	addr &= VMMU_PAGE_MASK;
	if (end > c->g->user_top || end <= addr)
		return VMMU_EINVAL;
	gos_lock(c);
	v = gos_vma_find(p, addr);
	if (v && v->end >= end && v->prot == prot) {
		gos_unlock(c);
		return VMMU_OK;
	}
	rc = gos_vma_cut(p, addr, end);
	if (rc == 0)
		rc = gos_vma_add(p, (struct gos_vma){ addr, end, (uint8_t)prot,
					     GOS_VMA_ANON, false, 0 });
	c->g->st.mmaps++;
	gos_unlock(c);
	return rc;
}

static int unmap_locked(struct gos_cpu *c, uint64_t addr, uint64_t end)
{
	struct pt_op op = { gos_zap_leaf, NULL, 0, 0 };
	int rc = gos_vma_cut(c->cur, addr, end);

	gos_free_window(c->cur, addr, end, c->g->user_top, &op);
	if (rc == 0)
		rc = gos_each_range(c, c->cur, addr, end, &op);
	if (rc == 0)
		gos_flush(c, c->cur, addr, end);
	return rc;
}

int gos_munmap(struct gos_cpu *c, uint64_t addr, uint64_t len)
{
	uint64_t end = (addr + len + VMMU_PAGE_SIZE - 1) & VMMU_PAGE_MASK;
	int rc;

	if ((addr & ~VMMU_PAGE_MASK) || end > c->g->user_top || end <= addr)
		return VMMU_EINVAL;
	gos_lock(c);
	rc = unmap_locked(c, addr, end);
	c->g->st.munmaps++;
	gos_unlock(c);
	return rc;
}

struct prot_arg {
	unsigned prot;
};

static int prot_leaf(struct gos_cpu *c, struct gos_proc *p, uint64_t egpa,
		     uint64_t e, unsigned level, uint64_t va, void *arg)
{
	const struct prot_arg *pa = arg;
	uint64_t n = e;

	if (!(pa->prot & GOS_W))
		n &= ~X86_PTE_RW;       /* adding W waits for the write fault */
	if (c->g->nx)
		n = (pa->prot & GOS_X) ? n & ~X86_PTE_NX : n | X86_PTE_NX;
	return n == e ? VMMU_OK : gos_set_leaf(c, p, egpa, va, n, level);
}

int gos_mprotect(struct gos_cpu *c, uint64_t addr, uint64_t len,
		 unsigned prot)
{
	struct gos_proc *p = c->cur;
	uint64_t end = (addr + len + VMMU_PAGE_SIZE - 1) & VMMU_PAGE_MASK;
	struct prot_arg pa = { prot };
	struct pt_op op = { prot_leaf, &pa, 0, 0 };
	struct gos_vma *v;
	int rc;

	gos_lock(c);
	v = gos_vma_find(p, addr);
	if (!v || v->end < end || (addr & ~VMMU_PAGE_MASK)) {
		gos_unlock(c);
		return VMMU_EINVAL;
	}
	rc = gos_each_range(c, p, addr, end, &op);
	if (rc == 0 && v->start == addr && v->end == end) {
		v->prot = (uint8_t)prot;
	} else if (rc == 0) {
		struct gos_vma n = *v;

		rc = gos_vma_cut(p, addr, end);
		n.start = addr;
		n.end = end;
		n.prot = (uint8_t)prot;
		if (rc == 0)
			rc = gos_vma_add(p, n);
	}
	if (rc == 0)
		gos_flush(c, p, addr, end);
	c->g->st.mprotects++;
	gos_unlock(c);
	return rc;
}

int gos_brk(struct gos_cpu *c, uint64_t new_end)
{
	struct gos_proc *p = c->cur;
	uint64_t end = (new_end + VMMU_PAGE_SIZE - 1) & VMMU_PAGE_MASK;
	struct gos_vma *v;
	int rc = VMMU_OK;

	if (end < p->brk_base || end > p->mmap_next)
		return VMMU_EINVAL;
	gos_lock(c);
	v = gos_vma_find(p, p->brk_base);
	if (end > p->brk) {
		if (v)
			v->end = end;
		else
			rc = gos_vma_add(p, (struct gos_vma){ p->brk_base, end,
					 GOS_R | GOS_W, GOS_VMA_ANON, false, 0 });
	} else if (end < p->brk) {
		rc = unmap_locked(c, end, p->brk);
	}
	if (rc == 0)
		p->brk = end;
	c->g->st.brks++;
	gos_unlock(c);
	return rc;
}
