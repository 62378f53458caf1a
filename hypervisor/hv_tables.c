/* SPDX-License-Identifier: MIT */
/*
 * Nested tables for the guest, built by vmmu's page-table engine
 * (core/pgtable.h) with the EPT entry format (ept/ept_format.h, SDM
 * Vol. 3C 29.3.2, EPTP 25.6.11) or the NPT one (npt/npt_format.h, APM
 * Vol. 2 15.25). Every use of that API in the kernel is in this file.
 */
#include "hv_tables.h"

#include "core/backend.h"
#include "core/pgtable.h"
#include "ept/ept_format.h"
#include "npt/npt_format.h"
#include "vmmu/error.h"

struct hv_tables {
	enum hv_nested kind;
	struct vmmu_pt pt;
	struct ept_format_ctx ept;
	bool used;
};

/* One tree per kind is all this kernel runs. */
static struct hv_tables tables[2];

struct hv_tables *hv_tables_create(enum hv_nested kind,
				   const struct vmmu_platform *plat)
{
	struct hv_tables *t = &tables[kind == HV_NESTED_NPT];
	int rc;

	if (t->used)
		return NULL;
	t->kind = kind;
	if (kind == HV_NESTED_EPT) {
		t->ept.memtype = EPT_MT_WB;
		t->ept.ignore_pat = false;
		t->ept.execute_only = false;
		rc = vmmu_pt_init(&t->pt, &ept_pt_format, &t->ept, plat, 4,
				  VMMU_PT_LEVEL_2M);
	} else {
		rc = npt_pt_init(&t->pt, plat, 4, false);
	}
	if (rc)
		return NULL;
	t->used = true;
	return t;
}

/*
 * A remap replaces leaves; tables it unlinks wait on the engine's
 * deferred list until hv_tables_flushed(), after the caller's INVEPT or
 * TLB_CONTROL flush.
 */
int hv_tables_map(struct hv_tables *t, uint64_t gpa, uint64_t hpa,
		  uint64_t size, bool writable)
{
	unsigned prot = VMMU_PROT_R | (writable ? VMMU_PROT_W : 0) | VMMU_PROT_X;
	uint64_t attrs = t->kind == HV_NESTED_EPT ?
			 ept_prot_attrs(&t->ept, prot) :
			 vmmu_pt_x86_prot_attrs(&npt_pt_ctx, prot);
	return vmmu_pt_map(&t->pt, gpa, mk_hpa(hpa), size, attrs, NULL);
}

void hv_tables_flushed(struct hv_tables *t)
{
	vmmu_pt_free_deferred(&t->pt);
}

uint64_t hv_tables_pointer(const struct hv_tables *t)
{
	if (t->kind == HV_NESTED_EPT)
		return ept_make_eptp(t->pt.root, 4, false);
	return npt_make_ncr3(&t->pt);
}

uint64_t hv_tables_pages(const struct hv_tables *t)
{
	return t->pt.table_pages;
}
