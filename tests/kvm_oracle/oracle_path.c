/* SPDX-License-Identifier: MIT */
/*
 * The oracle's cases through vmmu's access path: a VM with the direct
 * backend holds the case's tables, and vmmu_vcpu_access() must give the
 * guest-visible outcome vmmu_walk() gives on the same memory (the gpa, or
 * the fault's vector, error code and CR2) and leave the same A/D bits.
 * The walker is held to KVM by orc_check_access, so this holds the access
 * path, its TLB and its paging-structure caches to KVM as well. The TLB is
 * flushed whenever the tables differ from what the path last left (a case
 * starts: its tables are rewritten) and kept across the accesses of one
 * case, as KVM's vCPU keeps its own.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "host/hosted.h"
#include "vmmu/access.h"
#include "vmmu/error.h"
#include "core/tlb.h"
#include "oracle_path.h"

static struct {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	struct vmmu_vcpu *vcpu;
} op;

static int path_open(void)
{
	int rc;

	if (op.vcpu)
		return 0;
	rc = vmmu_hosted_create(ORC_MEM_SIZE + (8ULL << 20), &op.arena);
	if (rc < 0)
		return rc;
	vmmu_hosted_platform(op.arena, &op.plat);
	rc = vmmu_vm_create(&op.plat, &op.vm);
	if (rc == 0)
		rc = vmmu_vm_set_backend(op.vm, VMMU_BACKEND_NONE,
					 &vmmu_backend_direct);
	if (rc == 0)
		rc = vmmu_vm_add_slot(op.vm, mk_gpa(0), ORC_MEM_SIZE, VMMU_MEM_RAM);
	if (rc == 0)
		rc = vmmu_vcpu_create(op.vm, &op.vcpu);
	return rc;
}

static int path_tables(const struct orc_tables *t, struct orc_tables *out)
{
	int rc = 0;

	for (unsigned i = 0; i < ORC_NTABLES && rc == 0; i++) {
		if (t)
			rc = vmmu_vm_write_gpa(op.vm, mk_gpa(orc_table_gpa[i]),
					       t->page[i], 4096);
		else
			rc = vmmu_vm_read_gpa(op.vm, mk_gpa(orc_table_gpa[i]),
					      out->page[i], 4096);
	}
	return rc;
}

static bool path_same(const struct vmmu_walk_result *w,
		      const struct vmmu_access_result *p, char *why, size_t len)
{
	hpa_t hpa;

	if (w->ok && p->tlb_hit) {
		if (vmmu_vm_gpa_to_hpa(op.vm, w->gpa, &hpa) == 0 &&
		    hpa.v == p->hpa.v)
			return true;
		snprintf(why, len, "access path: TLB hit at hpa 0x%llx, walk gpa "
			 "0x%llx", (unsigned long long)p->hpa.v,
			 (unsigned long long)w->gpa.v);
		return false;
	}
	if (w->ok && p->status != VMMU_ACCESS_FAULT && p->gpa.v == w->gpa.v)
		return true;
	if (!w->ok && p->status == VMMU_ACCESS_FAULT &&
	    p->fault.vector == w->vector &&
	    p->fault.error_code == w->error_code && p->fault.cr2.v == w->cr2.v)
		return true;
	snprintf(why, len, "access path: status %d gpa 0x%llx vector %u pfec "
		 "0x%x, walk %s gpa 0x%llx vector %u pfec 0x%x", p->status,
		 (unsigned long long)p->gpa.v, p->fault.vector,
		 p->fault.error_code, w->ok ? "ok" : "fault",
		 (unsigned long long)w->gpa.v, w->vector, w->error_code);
	return false;
}

/*
 * One access from the tables start: the walker (reference) and then the
 * path, each from the same bytes; *walked and *after get the tables each
 * left behind.
 */
static int path_one(const struct orc_tables *start, struct vmmu_access *acc,
		    struct vmmu_walk_result *w, struct orc_tables *walked,
		    struct vmmu_access_result *p, struct orc_tables *after)
{
	struct vmmu_op o = { .acc = *acc, .size = 1 };
	struct vmmu_gmem mem;
	int rc;

	vmmu_vm_gmem(op.vm, &mem);
	rc = path_tables(start, NULL);
	if (rc == 0)
		rc = vmmu_walk(&op.vcpu->paging, &mem, acc, w);
	if (rc == 0)
		rc = path_tables(NULL, walked);
	if (rc == 0)
		rc = path_tables(start, NULL);
	if (rc == 0)
		rc = vmmu_vcpu_access(op.vcpu, &o, p);
	if (rc == 0)
		rc = path_tables(NULL, after);
	return rc;
}

int orc_path_check(const struct orc_vm *vm, const struct orc_case *c,
		   unsigned idx, const struct orc_tables *pre,
		   const struct vmmu_paging_state *ps, struct orc_verdict *v)
{
	const struct orc_access *a = &c->access[idx];
	struct vmmu_access acc = { mk_gva(a->gva), a->kind, a->cpl, a->implicit };
	static struct orc_tables walked, after;
	struct vmmu_walk_result w;
	struct vmmu_access_result p;
	int rc = path_open();

	(void)vm;
	if (rc < 0)
		return rc;
	/*
	 * Tables that changed since the path last left them (a new case, or
	 * a caller checking accesses out of order) are a guest's change: it
	 * would invalidate, so the model does (SDM 4.10.4.2).
	 */
	if (idx == 0 || memcmp(pre, &after, sizeof(after)))
		vmmu_tlb_flush_all(op.vcpu->tlb);
	op.vcpu->paging = *ps;
	vmmu_paging_update(&op.vcpu->paging);
	for (unsigned pass = 0; pass < 1 + (a->desc_write ? 1u : 0); pass++) {
		rc = path_one(pass ? &after : pre, &acc, &w, &walked, &p, &after);
		if (rc < 0)
			return rc;
		if (!path_same(&w, &p, v->why, sizeof(v->why))) {
			v->agree = false;
			return 0;
		}
		if (memcmp(&walked, &after, sizeof(after))) {
			snprintf(v->why, sizeof(v->why), "access path: A/D bits "
				 "differ from the walker's");
			v->agree = false;
			return 0;
		}
		if (!w.ok)
			break;
		acc.kind = VMMU_ACCESS_WRITE;   /* the descriptor's A-bit write */
	}
	return 0;
}
