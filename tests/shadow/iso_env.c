/* SPDX-License-Identifier: MIT */
/*
 * The isolation harness (iso_env.h): setup, hostile entries, paging
 * modes, the checked access and the invariant check, shared by the
 * random isolation test and the libFuzzer target.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmu/error.h"
#include "shadow-fallback/shadow.h"
#include "iso_env.h"

__attribute__((format(printf, 2, 3)))
static int fail(struct iso_env *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int iso_env_create(struct iso_env *s, uint64_t ram, uint64_t pool_pages)
{
	struct vmmu_vcpu *ov;
	int rc;

	memset(s, 0, sizeof(*s));
	s->ram = ram;
	s->own = calloc(ram >> 12, sizeof(*s->own));
	if (!s->own)
		return VMMU_ENOMEM;
	rc = vmmu_hosted_create(4 * ram + (48ULL << 20), &s->arena);
	if (rc < 0)
		return rc;
	vmmu_hosted_platform(s->arena, &s->plat);
	if ((rc = vmmu_vm_create(&s->plat, &s->vm)) < 0 ||
	    (rc = vmmu_vm_create(&s->plat, &s->other)) < 0 ||
	    (rc = vmmu_vm_add_slot(s->vm, mk_gpa(0), ram, VMMU_MEM_RAM)) < 0 ||
	    (rc = vmmu_vm_add_slot(s->vm, mk_gpa(ISO_MMIO), 4096, VMMU_MEM_MMIO)) < 0 ||
	    (rc = vmmu_vm_add_slot(s->other, mk_gpa(0), ram, VMMU_MEM_RAM)) < 0 ||
	    (rc = vmmu_vm_set_backend(s->vm, VMMU_BACKEND_SHADOW,
				      &vmmu_backend_shadow)) < 0 ||
	    (rc = vmmu_vm_set_backend(s->other, VMMU_BACKEND_SHADOW,
				      &vmmu_backend_shadow)) < 0 ||
	    (rc = vmmu_shadow_set_pool_pages(s->vm, pool_pages)) < 0 ||
	    (rc = vmmu_vcpu_create(s->vm, &s->vcpu)) < 0 ||
	    (rc = vmmu_vcpu_create(s->other, &ov)) < 0)
		return rc;
	s->vcpu->paging.maxphyaddr = 40;
	/* The neighbour's memory is populated: its host pages exist. */
	for (uint64_t g = 0; rc == 0 && g < ram; g += 4096)
		rc = vmmu_vm_write_gpa(s->other, mk_gpa(g), &g, 8);
	return rc;
}

void iso_env_destroy(struct iso_env *s)
{
	if (s->vm)
		vmmu_vm_destroy(s->vm);
	if (s->other)
		vmmu_vm_destroy(s->other);
	if (s->arena)
		vmmu_hosted_destroy(s->arena);
	free(s->own);
	memset(s, 0, sizeof(*s));
}

uint64_t iso_hostile_entry(const struct iso_env *s,
			   uint64_t (*next)(void *rng), void *rng)
{
	uint64_t e, pick = next(rng) % 10;

	if (pick < 5)
		e = ISO_TABLES + (next(rng) % ISO_NTAB) * 4096;  /* loops, self-maps */
	else if (pick < 7)
		e = (next(rng) % (s->ram >> 12)) << 12;
	else if (pick < 8)
		e = ISO_MMIO;
	else if (pick < 9)
		e = (next(rng) & 0x000ffffffffff000ULL);         /* anywhere */
	else
		e = next(rng);                                   /* any bits */
	e |= next(rng) & (X86_PTE_RW | X86_PTE_US | X86_PTE_A | X86_PTE_D |
			  X86_PTE_PS | X86_PTE_G | X86_PTE_PWT | X86_PTE_PCD);
	if (next(rng) % 100 < 90)
		e |= X86_PTE_P;
	if (next(rng) % 100 < 5)
		e |= X86_PTE_NX;
	return e;
}

int iso_set_mode(struct iso_env *s, uint64_t r)
{
	static const uint64_t cr4s[] = {
		0, X86_CR4_PSE, X86_CR4_PAE, X86_CR4_PAE, X86_CR4_PAE | X86_CR4_LA57,
	};
	unsigned m = (unsigned)(r % 5);
	uint64_t efer = (r & 8 ? X86_EFER_NXE : 0) |
			(m >= 3 ? X86_EFER_LME | X86_EFER_LMA : 0);
	uint64_t cr4 = cr4s[m] | (r & 16 ? X86_CR4_PGE : 0) |
		       ((r >> 5) % 4 == 0 ? X86_CR4_SMEP | X86_CR4_SMAP : 0);
	uint64_t cr3 = ISO_TABLES + ((r >> 8) % ISO_NTAB) * 4096;

	(void)vmmu_vcpu_set_cr(s->vcpu, VMMU_CR0, X86_CR0_PE);
	if (vmmu_vcpu_set_cr(s->vcpu, VMMU_EFER, efer) < 0 ||
	    vmmu_vcpu_set_cr(s->vcpu, VMMU_CR4, cr4) < 0)
		return fail(s, "EFER 0x%llx or CR4 0x%llx refused",
			    (unsigned long long)efer, (unsigned long long)cr4);
	(void)vmmu_vcpu_set_cr(s->vcpu, VMMU_CR3, cr3);
	/* PAE with bad PDPTEs is #GP: the register keeps its old value. */
	(void)vmmu_vcpu_set_cr(s->vcpu, VMMU_CR0, X86_CR0_PG | X86_CR0_PE |
			       (r & 4096 ? X86_CR0_WP : 0));
	return 0;
}

static int ro_read(void *ctx, gpa_t gpa, void *buf, size_t len)
{
	const struct vmmu_gmem *m = ctx;

	return m->read(m->ctx, gpa, buf, len);
}

static int ro_cmpxchg(void *ctx, gpa_t gpa, uint64_t old, uint64_t nv,
		      size_t len)
{
	(void)ctx, (void)gpa, (void)old, (void)nv, (void)len;
	return 0;
}

/* The access's outcome against the reference walk ref (walk rc wrc). */
static int iso_compare(struct iso_env *s, int wrc,
		       const struct vmmu_walk_result *ref,
		       const struct vmmu_access_result *r)
{
	hpa_t h;

	if (wrc < 0) {
		s->vmm++;
		return r->status == VMMU_ACCESS_VMM ? 0 :
		       fail(s, "walker error %d, access status %d", wrc,
			    (int)r->status);
	}
	if (!ref->ok) {
		s->faults++;
		if (r->status != VMMU_ACCESS_FAULT ||
		    r->fault.vector != ref->vector ||
		    r->fault.error_code != ref->error_code)
			return fail(s, "fault %u/0x%x expected, status %d "
				    "fault %u/0x%x", ref->vector,
				    ref->error_code, (int)r->status,
				    r->fault.vector, r->fault.error_code);
		return 0;
	}
	if (r->status == VMMU_ACCESS_DONE && !r->emulated) {
		s->done++;
		if (vmmu_vm_gpa_to_hpa(s->vm, ref->gpa, &h) < 0 ||
		    h.v != (r->hpa.v & ~0xfffULL) + (ref->gpa.v & 0xfff))
			return fail(s, "hpa 0x%llx for gpa 0x%llx",
				    (unsigned long long)r->hpa.v,
				    (unsigned long long)ref->gpa.v);
		return 0;
	}
	if (r->status == VMMU_ACCESS_DONE)
		s->done++;
	else
		s->vmm++;
	if (r->status == VMMU_ACCESS_FAULT || r->gpa.v != ref->gpa.v)
		return fail(s, "emulated or VMM access at gpa 0x%llx, walk gpa "
			    "0x%llx", (unsigned long long)r->gpa.v,
			    (unsigned long long)ref->gpa.v);
	return 0;
}

int iso_access(struct iso_env *s, const struct vmmu_access *acc, uint64_t data)
{
	struct vmmu_op op = { .acc = *acc, .size = 8, .data = &data };
	struct vmmu_gmem mem = { &s->vm_mem, ro_read, ro_cmpxchg };
	struct vmmu_walk_result ref;
	struct vmmu_access_result r;
	int wrc, rc;

	/* The reference walks the same memory; its A/D updates are dropped. */
	vmmu_vm_gmem(s->vm, &s->vm_mem);
	wrc = vmmu_walk(&s->vcpu->paging, &mem, acc, &ref);
	if (vmmu_vcpu_invpcid(s->vcpu, 2, 0, mk_gva(0)) < 0)
		return fail(s, "INVPCID type 2 refused");
	rc = vmmu_vcpu_access(s->vcpu, &op, &r);
	if (s->vm->dead)
		return fail(s, "the VM was killed (access rc %d)", rc);
	if (wrc == VMMU_EINVAL)         /* no valid paging mode */
		return rc == VMMU_EINVAL ? 0 :
		       fail(s, "no paging mode, yet access rc %d", rc);
	if (rc < 0)
		return fail(s, "access failed: %d", rc);
	s->checked++;
	return iso_compare(s, wrc, &ref, &r);
}

static int cmp_owned(const void *a, const void *b)
{
	uint64_t x = ((const struct iso_owned *)a)->hpa;
	uint64_t y = ((const struct iso_owned *)b)->hpa;

	return x < y ? -1 : x > y;
}

/* The host pages of the VM's RAM now (populated ones only). */
static void collect_own(struct iso_env *s)
{
	hpa_t h;

	s->nown = 0;
	for (uint64_t g = 0; g < s->ram; g += 4096)
		if (vmmu_vm_gpa_to_hpa(s->vm, mk_gpa(g), &h) == 0)
			s->own[s->nown++] = (struct iso_owned){ h.v, g >> 12 };
	qsort(s->own, s->nown, sizeof(s->own[0]), cmp_owned);
}

static int leaf_owned(void *ctx, hpa_t hpa, bool writable)
{
	struct iso_env *s = ctx;
	struct iso_owned key = { hpa.v, 0 };
	const struct iso_owned *o;
	struct vmmu_pv_frame_info in;

	s->leaves++;
	o = bsearch(&key, s->own, s->nown, sizeof(s->own[0]), cmp_owned);
	if (!o)
		return fail(s, "a shadow leaf maps host page 0x%llx, not the "
			    "VM's RAM", (unsigned long long)hpa.v);
	if (writable && vmmu_shadow_pv_frame(s->vm, mk_gpa(o->gfn << 12), &in) == 0 &&
	    in.type >= VMMU_PV_L1 && in.type <= VMMU_PV_L4)
		return fail(s, "a writable shadow leaf maps gfn 0x%llx, a PV "
			    "table of level %u", (unsigned long long)o->gfn,
			    (unsigned)in.type);
	return 0;
}

int iso_check(struct iso_env *s)
{
	const char *why = NULL;

	if (s->vm->dead)
		return fail(s, "the VM was killed");
	collect_own(s);
	if (vmmu_shadow_for_each_leaf(s->vm, leaf_owned, s) != 0)
		return -1;
	if (vmmu_shadow_check(s->vm, &why) < 0) {
		snprintf(s->msg, sizeof(s->msg), "vmmu_shadow_check: %s", why);
		return -1;
	}
	return 0;
}
