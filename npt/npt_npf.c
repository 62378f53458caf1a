/* SPDX-License-Identifier: MIT */
/*
 * The #NPF handler (include/vmmu/npt.h): what vmmu, as the hypervisor,
 * does with a nested page fault given EXITINFO1 and EXITINFO2 as the VMCB
 * holds them (APM Vol. 2 15.25.6). It decides from the tables and the
 * VM's memory map as they are now, not from the error code alone: another
 * vCPU may have resolved the fault, and a lazy change may be pending.
 *
 *   1. markers on the path (U cleared by a lazy change) are resolved,
 *      children first (vmmu_pt_recalc): the walk that faulted with P = 1
 *      on them goes through on retry;
 *   2. a leaf that now allows the access: retry (spurious or resolved);
 *   3. no slot: to the VMM; MMIO: the device callback, else the VMM;
 *      a write to ROM: the VMM;
 *   4. a write to a log-dirty leaf: log the 4 KiB page, split the leaf
 *      down to it, make that page writable;
 *   5. no leaf: first touch, back the page and map the largest leaf the
 *      host block allows;
 *   6. anything else: the VMM, with VMMU_REASON_UNHANDLED.
 */
#include "npt_backend.h"
#include "vmmu/access.h"
#include "vmmu/error.h"

static int npf_done(struct vmmu_exit_result *res, enum vmmu_npf_outcome *out,
		    struct npt_vm *n, enum vmmu_npf_outcome o)
{
	static const enum vmmu_vmm_reason reason[VMMU_NPF_OUTCOMES_] = {
		[VMMU_NPF_MMIO_VMM] = VMMU_REASON_MMIO,
		[VMMU_NPF_ROM_WRITE] = VMMU_REASON_ROM_WRITE,
		[VMMU_NPF_UNMAPPED] = VMMU_REASON_UNMAPPED,
		[VMMU_NPF_BAD_INFO] = VMMU_REASON_UNHANDLED,
		[VMMU_NPF_RSVD] = VMMU_REASON_UNHANDLED,
		[VMMU_NPF_UNHANDLED] = VMMU_REASON_UNHANDLED,
	};

	n->stats.npf[o]++;
	if (out)
		*out = o;
	switch (o) {
	case VMMU_NPF_FIRST_TOUCH:
	case VMMU_NPF_RECALC:
	case VMMU_NPF_LOG_DIRTY:
	case VMMU_NPF_SPURIOUS:
		res->action = VMMU_ACT_RETRY;
		break;
	case VMMU_NPF_MMIO_DEVICE:
		res->action = VMMU_ACT_DONE;
		break;
	default:
		res->action = VMMU_ACT_TO_VMM;
		res->reason = reason[o];
		break;
	}
	return VMMU_OK;
}

/* Whether leaf e allows an access with error code info. */
static bool leaf_allows(const struct npt_vm *n, uint64_t e, uint64_t info)
{
	if (!(e & X86_PTE_P) || !(e & X86_PTE_US))
		return false;
	if ((info & NPF_W) && !(e & X86_PTE_RW))
		return false;
	return !((info & NPF_ID) && n->hw.nxe && (e & X86_PTE_NX));
}

/* MMIO: the shared step (the device callback, else the VMM). */
static int npf_mmio(struct vmmu_vcpu *vcpu, struct npt_vm *n, gpa_t gpa,
		    uint64_t info, const struct vmmu_op *op,
		    struct vmmu_exit_result *res, enum vmmu_npf_outcome *out)
{
	struct vmmu_exit ex = {
		.kind = VMMU_EXIT_NPF, .gpa = gpa,
		.access = info & NPF_W ? VMMU_ACCESS_WRITE :
			  info & NPF_ID ? VMMU_ACCESS_FETCH : VMMU_ACCESS_READ,
		.guest_pt = info & NPF_INFO_GUEST_PT,
		.exitinfo1 = info, .exitinfo2 = gpa.v,
	};
	int rc = vmmu_exit_mmio(vcpu, &ex, op, res);

	if (rc < 0)
		return rc;
	return npf_done(res, out, n, res->action == VMMU_ACT_DONE ?
			VMMU_NPF_MMIO_DEVICE : res->reason == VMMU_REASON_MMIO ?
			VMMU_NPF_MMIO_VMM : VMMU_NPF_UNHANDLED);
}

/* First touch of the VM's own memory: back it, map the largest leaf. */
static int npf_first_touch(struct vmmu_vcpu *vcpu, struct npt_vm *n,
			   gpa_t gpa, struct vmmu_exit_result *res,
			   enum vmmu_npf_outcome *out)
{
	struct npt_chg ch;
	unsigned level;
	int rc;

	npt_chg_init(&ch, vcpu);
	rc = vmmu_p2m_map_touch(&n->leaves, gpa, &ch.c, &level);
	npt_settle(vcpu->vm, n, &ch);
	if (rc < 0)
		return rc;
	if (level == VMMU_PT_LEVEL_1G)
		n->stats.leaves_1g++;
	else if (level == VMMU_PT_LEVEL_2M)
		n->stats.leaves_2m++;
	else if (level == VMMU_PT_LEVEL_4K)
		n->stats.leaves_4k++;
	return npf_done(res, out, n, level ? VMMU_NPF_FIRST_TOUCH
					   : VMMU_NPF_UNHANDLED);
}

/* EXITINFO1/2 a CPU can give: one of bits 32/33, a gpa in the tables. */
static bool npf_info_ok(const struct npt_vm *n, uint64_t info, uint64_t gpa)
{
	uint64_t where = info & (NPF_INFO_FINAL_GPA | NPF_INFO_GUEST_PT);

	if (where != NPF_INFO_FINAL_GPA && where != NPF_INFO_GUEST_PT)
		return false;
	return gpa < (1ULL << n->hw.maxphyaddr) &&
	       (n->cfg.levels == 5 ||
		!(gpa >> (VMMU_PAGE_SHIFT + 9 * n->cfg.levels)));
}

int npt_npf(struct vmmu_vcpu *vcpu, uint64_t info, uint64_t addr,
	    const struct vmmu_op *op, struct vmmu_exit_result *res,
	    enum vmmu_npf_outcome *out)
{
	struct vmmu_vm *vm = vcpu->vm;
	struct npt_vm *n = npt_of(vm);
	struct vmmu_p2m_info pi;
	gpa_t gpa = mk_gpa(addr);
	uint64_t r0 = n->pt.stats.recalc_tables, e = 0;
	struct npt_chg ch;
	unsigned level = 0;
	int rc, found;

	if (!npf_info_ok(n, info, addr))
		return npf_done(res, out, n, VMMU_NPF_BAD_INFO);
	/* vmmu never writes a reserved bit: the VMM's tables are not ours. */
	if (info & NPF_RSVD)
		return npf_done(res, out, n, VMMU_NPF_RSVD);
	npt_chg_init(&ch, vcpu);
	rc = vmmu_pt_recalc(&n->pt, addr, vmmu_p2m_recalc_leaf, &n->leaves,
			    &ch.c);
	npt_settle(vm, n, &ch);
	if (rc < 0)
		return rc;
	if (n->pt.stats.recalc_tables != r0)
		n->stats.recalcs++;
	found = vmmu_pt_lookup(&n->pt, addr, &e, &level);
	if (found == 0 && leaf_allows(n, e, info))
		return npf_done(res, out, n, n->pt.stats.recalc_tables != r0 ?
				VMMU_NPF_RECALC : VMMU_NPF_SPURIOUS);
	rc = vmmu_p2m_lookup(vm, gpa, &pi);
	if (rc == VMMU_ENOENT)
		return npf_done(res, out, n, VMMU_NPF_UNMAPPED);
	if (rc < 0)
		return rc;
	if (pi.type == VMMU_P2M_MMIO)
		return npf_mmio(vcpu, n, gpa, info, op, res, out);
	if (pi.type == VMMU_P2M_ROM && (info & NPF_W))
		return npf_done(res, out, n, VMMU_NPF_ROM_WRITE);
	if (found == 0 && (info & NPF_W) && pi.type == VMMU_P2M_RAM_LOGDIRTY) {
		rc = npt_log_write(vcpu, n, gpa, level);
		return rc < 0 ? rc : npf_done(res, out, n, VMMU_NPF_LOG_DIRTY);
	}
	if (found != 0 && pi.slot)
		return npf_first_touch(vcpu, n, gpa, res, out);
	/* RAM_RO written, a grant used beyond its rights, and the like. */
	return npf_done(res, out, n, VMMU_NPF_UNHANDLED);
}
