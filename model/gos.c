/* SPDX-License-Identifier: MIT */
/*
 * The guest OS model: boot (direct map, kernel code, vCPUs), the frame
 * allocator, the kernel's own loads and stores through the access path,
 * context switches, TLB flushes and shootdown IPIs (docs/run.md).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tlb.h"
#include "model/gos.h"
#include "vmmu/error.h"

#define CR3_NOFLUSH   (1ULL << 63)
#define BOOT_ROOT     0x1000ULL
#define BOOT_TABLES   0x2000ULL
#define KCODE_GPA     0x100000ULL   /* one code page per vCPU */
#define KERNEL_END    (4ULL << 20)  /* frames below are the kernel's */
#define FLUSH_CEILING 33            /* pages: Linux's single-page ceiling */

/* Store instructions, 8 bytes apart: widths 8, 4, 2, 1 (rdi/edi, rax/eax). */
static const uint8_t store_code[32] = {
	0x48, 0x89, 0x07, 0x90, 0x90, 0x90, 0x90, 0x90,  /* mov [rdi], rax */
	0x89, 0x07, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,  /* mov [rdi], eax */
	0x66, 0x89, 0x07, 0x90, 0x90, 0x90, 0x90, 0x90,  /* mov [rdi], ax */
	0x88, 0x07, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,  /* mov [rdi], al */
};

unsigned gos_shift(const struct gos *g, unsigned level)
{
	return g->cfg.mode == VMMU_PAGING_2LEVEL ? 12 + 10 * (level - 1)
						 : 12 + 9 * (level - 1);
}

unsigned gos_index(const struct gos *g, unsigned level, uint64_t gva)
{
	uint64_t mask = g->cfg.mode == VMMU_PAGING_2LEVEL ? 1023 :
			(g->cfg.mode == VMMU_PAGING_PAE && level == 3) ? 3 : 511;

	return (unsigned)((gva >> gos_shift(g, level)) & mask);
}

static int set_err(char *err, size_t len, int rc, const char *msg)
{
	snprintf(err, len, "%s", msg);
	return rc;
}

int gos_check_config(const struct gos_config *c, char *err, size_t len)
{
	bool wide = c->mode == VMMU_PAGING_4LEVEL || c->mode == VMMU_PAGING_5LEVEL;

	if (!wide && c->mode != VMMU_PAGING_PAE && c->mode != VMMU_PAGING_2LEVEL)
		return set_err(err, len, VMMU_EINVAL, "unsupported guest paging mode");
	if (c->mem < (16ULL << 20) || c->mem % (2ULL << 20))
		return set_err(err, len, VMMU_EINVAL,
			       "guest memory must be a multiple of 2 MiB, at least 16 MiB");
	if (!wide && c->mem > (1ULL << 30))
		return set_err(err, len, VMMU_EINVAL, "a 32-bit guest kernel maps "
			       "at most 1 GiB of RAM (use --mem 1G or less)");
	if (c->mem > (64ULL << 30))
		return set_err(err, len, VMMU_EINVAL, "guest memory above 64 GiB");
	if (c->page_order != VMMU_ORDER_4K && c->page_order != VMMU_ORDER_2M &&
	    c->page_order != VMMU_ORDER_1G)
		return set_err(err, len, VMMU_EINVAL, "page size must be 4k, 2m or 1g");
	if (c->page_order == VMMU_ORDER_1G && (!wide || c->mem < (2ULL << 30)))
		return set_err(err, len, VMMU_EINVAL, "1 GiB pages need 4- or "
			       "5-level paging and --mem 2G or more");
	if (c->pcid && !wide)
		return set_err(err, len, VMMU_EINVAL, "PCIDs need 4- or 5-level paging");
	if (c->vcpus < 1 || c->vcpus > GOS_MAX_VCPUS)
		return set_err(err, len, VMMU_EINVAL, "1 to 16 vCPUs");
	if (!c->ops)
		return set_err(err, len, VMMU_EINVAL, "no backend");
	return VMMU_OK;
}

static void set_mode(struct gos *g)
{
	switch (g->cfg.mode) {
	case VMMU_PAGING_2LEVEL:
		g->levels = 2; g->esize = 4; g->emu_mode = 32;
		g->physmap = 0xc0000000ULL; g->user_top = 0xc0000000ULL;
		g->addr_mask = 0xfffff000ULL;
		break;
	case VMMU_PAGING_PAE:
		g->levels = 3; g->esize = 8; g->emu_mode = 32; g->nx = true;
		g->physmap = 0xc0000000ULL; g->user_top = 0xc0000000ULL;
		g->addr_mask = 0x000ffffffffff000ULL;
		break;
	case VMMU_PAGING_5LEVEL:
		g->levels = 5; g->esize = 8; g->emu_mode = 64; g->nx = true;
		g->physmap = 0xff11000000000000ULL; g->user_top = 1ULL << 56;
		g->addr_mask = 0x000ffffffffff000ULL;
		break;
	default:
		g->levels = 4; g->esize = 8; g->emu_mode = 64; g->nx = true;
		g->physmap = 0xffff888000000000ULL; g->user_top = 1ULL << 47;
		g->addr_mask = 0x000ffffffffff000ULL;
		break;
	}
}

/* Boot-time table building: the loader writes guest memory directly. */
static int boot_map(struct gos *g, uint64_t *next, uint64_t gva, uint64_t pa,
		    unsigned leaf_level, uint64_t leaf_flags)
{
	uint64_t table = BOOT_ROOT, e = 0, egpa;
	unsigned level;
	int rc;

	for (level = g->levels; level > leaf_level; level--) {
		egpa = table + gos_index(g, level, gva) * g->esize;
		e = 0;
		rc = vmmu_vm_read_gpa(g->vm, mk_gpa(egpa), &e, g->esize);
		if (rc < 0)
			return rc;
		if (!(e & X86_PTE_P)) {
			bool pdpte = g->cfg.mode == VMMU_PAGING_PAE && level == 3;

			e = *next | X86_PTE_P |
			    (pdpte ? 0 : X86_PTE_RW | X86_PTE_A | X86_PTE_D);
			*next += VMMU_PAGE_SIZE;
			if (*next >= KCODE_GPA)
				return VMMU_ENOSPC;
			rc = vmmu_vm_write_gpa(g->vm, mk_gpa(egpa), &e, g->esize);
			if (rc < 0)
				return rc;
			if (pdpte)
				g->kern_pd = e & g->addr_mask;
		}
		table = e & g->addr_mask;
	}
	e = pa | leaf_flags;
	egpa = table + gos_index(g, leaf_level, gva) * g->esize;
	return vmmu_vm_write_gpa(g->vm, mk_gpa(egpa), &e, g->esize);
}

/* The direct map of all RAM (large global pages) and the kernel's code. */
static int boot_kernel(struct gos *g)
{
	uint64_t next = BOOT_TABLES, step = g->esize == 4 ? 4ULL << 20 : 2ULL << 20;
	uint64_t flags = X86_PTE_P | X86_PTE_RW | X86_PTE_A | X86_PTE_D |
			 X86_PTE_G | X86_PTE_PS, pa, e;
	unsigned i, top = g->cfg.mode == VMMU_PAGING_PAE ? 4 :
			  g->esize == 4 ? 1024 : 512;
	int rc = VMMU_OK;

	for (pa = 0; rc == 0 && pa < g->cfg.mem; pa += step)
		rc = boot_map(g, &next, g->physmap + pa, pa, 2, flags);
	for (i = 0; rc == 0 && i < g->cfg.vcpus; i++)
		rc = vmmu_vm_write_gpa(g->vm, mk_gpa(KCODE_GPA + i * VMMU_PAGE_SIZE),
				       store_code, sizeof(store_code));
	for (i = 0; rc == 0 && i < top; i++) {
		e = 0;
		rc = vmmu_vm_read_gpa(g->vm, mk_gpa(BOOT_ROOT + i * g->esize),
				      &e, g->esize);
		if (rc == 0 && (e & X86_PTE_P) && g->nkern < 256) {
			g->kern_idx[g->nkern] = (uint16_t)i;
			g->kern_val[g->nkern++] = e;
		}
	}
	return rc;
}

static int frames_init(struct gos *g)
{
	uint64_t c, n2m, n1g = 0, lo1g = g->cfg.mem;

	g->nframes = g->cfg.mem >> VMMU_PAGE_SHIFT;
	g->first_frame = KERNEL_END >> VMMU_PAGE_SHIFT;
	g->refs = calloc(g->nframes, sizeof(*g->refs));
	g->free4k = malloc(g->nframes * sizeof(*g->free4k));
	n2m = g->cfg.mem >> 21;
	g->free2m = malloc((n2m + 1) * sizeof(*g->free2m));
	g->free1g = malloc(((g->cfg.mem >> 30) + 1) * sizeof(*g->free1g));
	if (!g->refs || !g->free4k || !g->free2m || !g->free1g)
		return VMMU_ENOMEM;
	if (g->cfg.page_order == VMMU_ORDER_1G) {   /* a gigantic-page pool */
		lo1g = 1ULL << 30;
		for (c = (g->cfg.mem >> 30); c-- > 1;)
			g->free1g[n1g++] = (uint32_t)c;
	}
	g->nfree1g = n1g;
	for (c = lo1g >> 21; c-- > (KERNEL_END >> 21);)
		g->free2m[g->nfree2m++] = (uint32_t)c;
	return VMMU_OK;
}

int gos_frame_alloc(struct gos *g, unsigned order, uint64_t *gpa)
{
	uint64_t f, i;

	if (order == VMMU_ORDER_1G) {
		if (!g->nfree1g)
			return VMMU_ENOMEM;
		f = (uint64_t)g->free1g[--g->nfree1g] << 18;
	} else if (order == VMMU_ORDER_2M) {
		if (!g->nfree2m)
			return VMMU_ENOMEM;
		f = (uint64_t)g->free2m[--g->nfree2m] << 9;
	} else {
		if (!g->nfree4k) {      /* carve a 2 MiB chunk into frames */
			if (!g->nfree2m)
				return VMMU_ENOMEM;
			f = (uint64_t)g->free2m[--g->nfree2m] << 9;
			for (i = 512; i-- > 0;)
				g->free4k[g->nfree4k++] = (uint32_t)(f + i);
		}
		f = g->free4k[--g->nfree4k];
	}
	g->refs[f] = 1;
	g->frames_used += 1ULL << order;
	if (g->frames_used > g->st.frames_peak)
		g->st.frames_peak = g->frames_used;
	*gpa = f << VMMU_PAGE_SHIFT;
	return VMMU_OK;
}

void gos_frame_put(struct gos *g, uint64_t gpa, unsigned order)
{
	uint64_t f = gpa >> VMMU_PAGE_SHIFT;

	if (f >= g->nframes || f < g->first_frame || !g->refs[f] || --g->refs[f])
		return;
	g->frames_used -= 1ULL << order;
	if (order == VMMU_ORDER_1G)
		g->free1g[g->nfree1g++] = (uint32_t)(f >> 18);
	else if (order == VMMU_ORDER_2M)
		g->free2m[g->nfree2m++] = (uint32_t)(f >> 9);
	else
		g->free4k[g->nfree4k++] = (uint32_t)f;
}

static int cpu_boot(struct gos *g, unsigned i)
{
	struct gos_cpu *c = &g->cpu[i];
	struct vmmu_paging_state *ps;
	uint64_t cr4;
	int rc;

	c->g = g;
	c->id = i;
	c->code_gva = g->physmap + KCODE_GPA + i * VMMU_PAGE_SIZE;
	rc = vmmu_vcpu_create(g->vm, &c->vcpu);
	if (rc == 0)
		rc = vmmu_emu_create(&c->ev.emu);
	if (rc < 0)
		return rc;
	vmmu_emu_set_la57(c->ev.emu, g->cfg.mode == VMMU_PAGING_5LEVEL);
	c->ev.mode = g->emu_mode;
	c->ev.regs.rflags = 2;
	vmmu_emu_vcpu_install(c->vcpu, &c->ev);
	ps = &c->vcpu->paging;
	cr4 = X86_CR4_PGE | (g->esize == 4 ? X86_CR4_PSE : X86_CR4_PAE) |
	      (g->cfg.mode == VMMU_PAGING_5LEVEL ? X86_CR4_LA57 : 0) |
	      (g->cfg.pcid ? X86_CR4_PCIDE : 0);
	ps->cr0 = X86_CR0_PG | X86_CR0_PE | X86_CR0_WP;
	ps->cr4 = cr4;
	ps->efer = g->levels >= 4 ? X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE :
		   g->nx ? X86_EFER_NXE : 0;
	ps->maxphyaddr = 40;
	ps->rflags = 2;
	rc = vmmu_vcpu_set_cr(c->vcpu, VMMU_CR0, ps->cr0);
	if (rc == 0)
		rc = vmmu_vcpu_set_cr(c->vcpu, VMMU_CR3, BOOT_ROOT);
	return rc;
}

static int vm_boot(struct gos *g, char *err, size_t errlen)
{
	struct vmmu_slot_desc sd = { .base = mk_gpa(0), .size = g->cfg.mem,
				     .type = VMMU_MEM_RAM,
				     .max_order = (uint8_t)g->cfg.page_order,
				     .memtype = VMMU_MEMTYPE_DEFAULT };
	uint64_t extra = g->cfg.mem / 4 + (64ULL << 20);
	int rc = vmmu_hosted_create(g->cfg.mem + extra, &g->arena);

	if (rc < 0)
		return set_err(err, errlen, rc, "cannot reserve host memory for the guest");
	vmmu_hosted_platform(g->arena, &g->plat);
	rc = vmmu_vm_create(&g->plat, &g->vm);
	if (rc == 0)
		rc = vmmu_vm_set_backend(g->vm, g->cfg.kind, g->cfg.ops);
	if (rc == 0)
		rc = vmmu_vm_add_slot_ex(g->vm, &sd);
	if (rc < 0)
		snprintf(err, errlen, "cannot create the VM on backend %s: %s",
			 g->cfg.ops->name, vmmu_strerror(rc));
	return rc;
}

int gos_create(const struct gos_config *cfg, struct gos **out, char *err,
	       size_t errlen)
{
	struct gos *g;
	unsigned i;
	int rc = gos_check_config(cfg, err, errlen);

	if (rc < 0)
		return rc;
	g = calloc(1, sizeof(*g));
	if (!g)
		return set_err(err, errlen, VMMU_ENOMEM, "out of memory");
	g->cfg = *cfg;
	pthread_mutex_init(&g->lock, NULL);
	for (i = 0; i < GOS_MAX_PROCS; i++)
		g->proc[i].pid = -1;
	g->next_pid = 1;
	set_mode(g);
	rc = vm_boot(g, err, errlen);
	if (rc == 0 && (rc = frames_init(g)) < 0)
		set_err(err, errlen, rc, "out of memory for the frame tables");
	if (rc == 0 && (rc = boot_kernel(g)) < 0)
		snprintf(err, errlen, "cannot build the kernel's tables: %s",
			 vmmu_strerror(rc));
	for (i = 0; rc == 0 && i < cfg->vcpus; i++)
		if ((rc = cpu_boot(g, i)) < 0)
			snprintf(err, errlen, "cannot start vCPU %u: %s", i,
				 vmmu_strerror(rc));
	if (rc < 0) {
		gos_destroy(g);
		return rc;
	}
	*out = g;
	return VMMU_OK;
}

void gos_destroy(struct gos *g)
{
	unsigned i;

	if (!g)
		return;
	for (i = 0; i < GOS_MAX_VCPUS; i++)
		if (g->cpu[i].ev.emu)
			vmmu_emu_destroy(g->cpu[i].ev.emu);
	for (i = 0; i < GOS_MAX_PROCS; i++)
		free(g->proc[i].rec);
	for (i = 0; i < GOS_MAX_TEXTS; i++)
		free(g->text[i]);
	vmmu_vm_destroy(g->vm);
	if (g->arena)
		vmmu_hosted_destroy(g->arena);
	free(g->refs);
	free(g->free4k);
	free(g->free2m);
	free(g->free1g);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* ---- the kernel's memory accesses --------------------------------------- */

int gos_kload(struct gos_cpu *c, uint64_t gpa, uint64_t *val)
{
	struct vmmu_access_result r;
	int rc;

	*val = 0;
	rc = vmmu_vcpu_read(c->vcpu, mk_gva(c->g->physmap + gpa), val,
			    c->g->esize, 0, &r);
	c->g->st.pt_loads++;
	if (rc < 0)
		return rc;
	return r.status == VMMU_ACCESS_DONE ? VMMU_OK : VMMU_EFAULT;
}

/* One store instruction of size bytes at gva, executed at cpl. */
static int store_insn(struct gos_cpu *c, uint64_t code, uint64_t gva,
		      uint64_t val, unsigned size, unsigned cpl, bool *emulated)
{
	struct vmmu_op op = { .acc = { mk_gva(gva), VMMU_ACCESS_WRITE,
				       (uint8_t)cpl, false },
			      .size = size, .data = &val };
	struct vmmu_access_result r;
	unsigned slot = size == 8 ? 0 : size == 4 ? 1 : size == 2 ? 2 : 3;
	int rc;

	c->ev.regs.rip = code + slot * 8;
	c->ev.regs.gpr[VMMU_RDI] = gva;
	c->ev.regs.gpr[VMMU_RAX] = val;
	rc = vmmu_vcpu_access(c->vcpu, &op, &r);
	if (rc < 0)
		return rc;
	if (emulated)
		*emulated = r.emulated;
	if (r.status == VMMU_ACCESS_FAULT)
		return VMMU_EFAULT;
	return r.status == VMMU_ACCESS_DONE ? VMMU_OK : VMMU_EIO;
}

static int kstore_raw(struct gos_cpu *c, uint64_t gpa, uint64_t val,
		      unsigned size)
{
	bool em = false;
	int rc = store_insn(c, c->code_gva, c->g->physmap + gpa, val, size, 0,
			    &em);

	c->g->st.pt_stores++;
	if (em)
		c->g->st.pt_stores_emulated++;
	return rc;
}

/*
 * A page-table entry store. A 32-bit PAE kernel writes an 8-byte entry
 * with two 4-byte stores: high half first when the entry becomes present,
 * low half (with P) first when it is cleared (Linux's native_set_pte and
 * native_pte_clear for PAE).
 */
int gos_kstore(struct gos_cpu *c, uint64_t gpa, uint64_t val)
{
	struct gos *g = c->g;
	int rc;

	if (g->esize == 4 || g->emu_mode == 64)
		return kstore_raw(c, gpa, val, g->esize);
	if (val & X86_PTE_P) {
		rc = kstore_raw(c, gpa + 4, val >> 32, 4);
		return rc < 0 ? rc : kstore_raw(c, gpa, (uint32_t)val, 4);
	}
	rc = kstore_raw(c, gpa, (uint32_t)val, 4);
	return rc < 0 ? rc : kstore_raw(c, gpa + 4, val >> 32, 4);
}

/*
 * clear_page through the direct map: every word of a page-table page
 * (full), one store per 64-byte line of a data page (the stores a CPU's
 * line-sized writes amount to for the TLB and the backend).
 */
int gos_clear(struct gos_cpu *c, uint64_t gpa, uint64_t len, bool full)
{
	struct gos *g = c->g;
	unsigned w = g->emu_mode == 64 ? 8 : 4, step = full ? w : 64;
	uint64_t off;
	int rc = VMMU_OK;
	bool em;

	g->st.page_clears += len >> VMMU_PAGE_SHIFT;
	for (off = 0; rc == 0 && off < len; off += step)
		rc = store_insn(c, c->code_gva, g->physmap + gpa + off, 0, w, 0,
				&em);
	return rc;
}

/* copy_page: one load and one store per 64-byte line. */
int gos_copy(struct gos_cpu *c, uint64_t dst, uint64_t src, uint64_t len)
{
	struct gos *g = c->g;
	struct vmmu_access_result r;
	uint64_t off, v;
	unsigned w = g->emu_mode == 64 ? 8 : 4;
	int rc = VMMU_OK;
	bool em;

	for (off = 0; rc == 0 && off < len; off += 64) {
		v = 0;
		rc = vmmu_vcpu_read(c->vcpu, mk_gva(g->physmap + src + off), &v,
				    w, 0, &r);
		if (rc == 0 && r.status != VMMU_ACCESS_DONE)
			rc = VMMU_EFAULT;
		if (rc == 0)
			rc = store_insn(c, c->code_gva, g->physmap + dst + off,
					v, w, 0, &em);
	}
	return rc;
}

void gos_reset_counts(struct gos *g)
{
	unsigned i;

	for (i = 0; i < g->cfg.vcpus; i++) {
		memset(&g->cpu[i].vcpu->stats, 0, sizeof(g->cpu[i].vcpu->stats));
		if (g->cpu[i].vcpu->tlb)
			vmmu_tlb_stats_reset(g->cpu[i].vcpu->tlb);
	}
	memset(&g->st, 0, sizeof(g->st));
}

/* ---- the kernel lock, switches, flushes, IPIs ----------------------------- */

void gos_lock(struct gos_cpu *c)
{
	while (pthread_mutex_trylock(&c->g->lock)) {
		gos_poll(c);
		sched_yield();
	}
}

void gos_unlock(struct gos_cpu *c)
{
	pthread_mutex_unlock(&c->g->lock);
}

static int flush_local(struct gos_cpu *c, struct gos_proc *p, uint64_t start,
		       uint64_t end)
{
	struct gos *g = c->g;
	uint64_t va;
	int rc = VMMU_OK;

	if (end && ((end - start) >> VMMU_PAGE_SHIFT) <= FLUSH_CEILING) {
		for (va = start; rc == 0 && va < end; va += VMMU_PAGE_SIZE) {
			rc = vmmu_vcpu_invlpg(c->vcpu, mk_gva(va));
			g->st.invlpgs++;
		}
		return rc;
	}
	g->st.full_flushes++;
	if (g->cfg.pcid)
		return vmmu_vcpu_invpcid(c->vcpu, 1, p->pcid, mk_gva(0));
	return vmmu_vcpu_set_cr(c->vcpu, VMMU_CR3, c->vcpu->paging.cr3);
}

/* Answer the IPI of cpu t (t's own thread, or the sender once t is done). */
static void ipi_serve(struct gos_cpu *t)
{
	unsigned one = 1;

	if (!atomic_compare_exchange_strong(&t->ipi, &one, 2))
		return;
	vmmu_tlb_shootdown(t->vcpu->tlb);
	t->ipis_received++;
	if (t->cur)
		flush_local(t, t->cur, t->ipi_start, t->ipi_end);
	if (t->cur)
		t->pcid_gen[t->cur->pcid] = t->cur->tlb_gen;
	atomic_store(&t->ipi, 0);
}

void gos_poll(struct gos_cpu *c)
{
	if (atomic_load_explicit(&c->ipi, memory_order_acquire) == 1)
		ipi_serve(c);
}

void gos_cpu_done(struct gos_cpu *c)
{
	atomic_store(&c->done, 1);
	gos_poll(c);
}

/*
 * The TLB flush after a change to p's tables in [start, end) (end 0:
 * everything): locally when p runs here, an IPI to every other vCPU
 * running p (waiting for it, as flush_tlb_mm_range does), and a new TLB
 * generation so that a vCPU holding p's PCID flushes it on its next switch.
 * Called with the kernel lock held.
 */
void gos_flush(struct gos_cpu *c, struct gos_proc *p, uint64_t start,
	       uint64_t end)
{
	struct gos *g = c->g;
	unsigned i;

	p->tlb_gen++;
	if (c->cur == p) {
		flush_local(c, p, start, end);
		c->pcid_gen[p->pcid] = p->tlb_gen;
	}
	for (i = 0; i < g->cfg.vcpus; i++) {
		struct gos_cpu *t = &g->cpu[i];

		if (t == c || t->cur != p)
			continue;
		t->ipi_start = start;
		t->ipi_end = end;
		g->st.shootdowns_sent++;
		atomic_store_explicit(&t->ipi, 1, memory_order_release);
		while (atomic_load(&t->ipi)) {
			if (atomic_load(&t->done))
				ipi_serve(t);
			sched_yield();
		}
	}
}

static int switch_locked(struct gos_cpu *c, struct gos_proc *p)
{
	struct gos *g = c->g;
	uint64_t cr3 = p->root, bit = 1ULL << c->id;

	if (c->cur == p)
		return VMMU_OK;
	if (c->cur)
		atomic_fetch_and(&c->cur->cpumask, ~bit);
	atomic_fetch_or(&p->cpumask, bit);
	if (g->cfg.pcid) {
		cr3 |= p->pcid;
		if (c->pcid_uid[p->pcid] == p->uid &&
		    c->pcid_gen[p->pcid] == p->tlb_gen) {
			cr3 |= CR3_NOFLUSH;
			g->st.cr3_noflush++;
		}
		c->pcid_uid[p->pcid] = p->uid;
		c->pcid_gen[p->pcid] = p->tlb_gen;
	}
	c->cur = p;
	g->st.ctx_switches++;
	return vmmu_vcpu_set_cr(c->vcpu, VMMU_CR3, cr3);
}

int gos_switch(struct gos_cpu *c, struct gos_proc *p)
{
	int rc;

	gos_lock(c);
	rc = switch_locked(c, p);
	gos_unlock(c);
	return rc;
}

int gos_switch_locked(struct gos_cpu *c, struct gos_proc *p)
{
	return switch_locked(c, p);
}

/* A user store: the instruction sits at the start of the program's text. */
int gos_user_store(struct gos_cpu *c, uint64_t code, uint64_t gva,
		   unsigned size, struct vmmu_access_result *r)
{
	uint64_t val = gva;
	struct vmmu_op op = { .acc = { mk_gva(gva), VMMU_ACCESS_WRITE, 3, false },
			      .size = size, .data = &val };
	unsigned slot = size == 8 ? 0 : size == 4 ? 1 : size == 2 ? 2 : 3;

	c->ev.regs.rip = code + slot * 8;
	c->ev.regs.gpr[VMMU_RDI] = gva;
	c->ev.regs.gpr[VMMU_RAX] = val;
	return vmmu_vcpu_access(c->vcpu, &op, r);
}

/* The text page that holds the user store instructions. */
int gos_text_code(struct gos *g, uint64_t gpa)
{
	return vmmu_vm_write_gpa(g->vm, mk_gpa(gpa), store_code,
				 sizeof(store_code));
}

/* ---- the kernel's record of its mappings (tests) ------------------------ */

struct gos_map_rec {
	uint64_t gva, gpa, size;
	bool writable;
};

void gos_track(struct gos_proc *p, uint64_t gva, uint64_t gpa, uint64_t size,
	       bool writable, bool add)
{
	size_t i;

	for (i = 0; i < p->rec_len && p->rec[i].gva != gva; i++)
		;
	if (!add) {
		if (i < p->rec_len)
			p->rec[i] = p->rec[--p->rec_len];
		return;
	}
	if (i == p->rec_len) {
		if (p->rec_len == p->rec_cap) {
			size_t cap = p->rec_cap ? p->rec_cap * 2 : 64;
			struct gos_map_rec *n = realloc(p->rec, cap * sizeof(*n));

			if (!n)
				return;
			p->rec = n;
			p->rec_cap = cap;
		}
		p->rec_len++;
	}
	p->rec[i] = (struct gos_map_rec){ gva, gpa, size, writable };
}

int gos_each_mapping(const struct gos *g, const struct gos_proc *p,
		     int (*fn)(void *ctx, uint64_t gva, uint64_t gpa,
			       uint64_t size, bool writable),
		     void *ctx)
{
	size_t i;
	int rc;

	(void)g;
	for (i = 0; i < p->rec_len; i++) {
		rc = fn(ctx, p->rec[i].gva, p->rec[i].gpa, p->rec[i].size,
			p->rec[i].writable);
		if (rc)
			return rc;
	}
	return 0;
}
