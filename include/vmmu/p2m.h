/* SPDX-License-Identifier: MIT */
/*
 * The VM's p2m: the type of every guest-physical page, and the frames of
 * other VMs it maps (grants and foreign mappings). It belongs to the VM,
 * not to a backend (DESIGN decision 10): EPT and NPT derive their entries
 * from it, and a VM that changes backend keeps it.
 *
 * Types. A page in a slot has its slot's default type (RAM -> RAM_RW,
 * ROM -> ROM, MMIO -> MMIO) unless a sparse override says otherwise
 * (vmmu_vm_set_p2m_type); a page outside every slot is a hole, or a grant
 * or foreign mapping (GRANT_RW, GRANT_RO, FOREIGN) that records its owner.
 *
 * Grants (Xen's shape). VM A issues a grant of one of its RAM frames to
 * VM B, read-only or read-write (vmmu_grant_issue). B maps it at a hole of
 * its guest-physical space only through that grant, never with more
 * rights than the grant gives (vmmu_grant_map); a privileged B maps any RAM
 * frame of A as a foreign mapping (vmmu_foreign_map). Anything else is
 * refused with an error and changes nothing: no record, no table entry.
 * Revoking a grant (or removing the slot holding it, or destroying A)
 * unmaps it from B, whose backend invalidates.
 *
 * Backends: the p2m records, then tells the backend through its ops:
 * set_type for a type change of the VM's own pages, foreign_map /
 * foreign_unmap for grant and foreign frames. A backend failure undoes
 * the record, so p2m and tables stay in step.
 *
 * Locking: the public vmmu_vm_* / vmmu_grant_* / vmmu_foreign_* calls take
 * the VM lock (both VMs' locks, in address order, for grants); the
 * vmmu_p2m_* calls are for backends, which hold the lock already.
 */
#ifndef VMMU_P2M_H
#define VMMU_P2M_H

#include "vmmu/backend.h"

/* What vmmu_p2m_lookup says about one guest-physical page. */
struct vmmu_p2m_info {
	enum vmmu_p2m_type type;
	const struct vmmu_slot *slot;   /* own memory: its slot, else NULL */
	struct vmmu_vm *owner;          /* whose frame: the VM itself, or A */
	gpa_t owner_gpa;                /* the frame in the owner's space */
	hpa_t hpa;                      /* the host page, when backed */
	bool backed;                    /* hpa valid (grant/foreign: always) */
	uint32_t grant_ref;             /* GRANT_*: the grant mapped */
};

/*
 * The page of gpa: 0 and *out, or VMMU_ENOENT for a hole. Own RAM/ROM is
 * reported backed only when already populated (nothing is populated
 * here).
 */
int vmmu_p2m_lookup(const struct vmmu_vm *vm, gpa_t gpa,
		    struct vmmu_p2m_info *out);

/*
 * Whether [gpa, gpa + size) has one type: 0 with *type when every page is
 * the VM's own memory of the same type, VMMU_P2M_MIXED when not (a hole,
 * a grant or another type inside). A backend asks it before mapping a
 * large leaf or when recalculating one.
 */
#define VMMU_P2M_MIXED 1
int vmmu_p2m_range_type(const struct vmmu_vm *vm, gpa_t gpa, uint64_t size,
			enum vmmu_p2m_type *type);

/*
 * Change the type of [gpa, gpa + size) (4 KiB aligned, inside slots with
 * host memory, i.e. RAM or ROM): RAM_RW, RAM_RO, RAM_LOGDIRTY, ROM or
 * MMIO. RAM_RW becomes RAM_LOGDIRTY while the dirty log is on with
 * write protection on EPT or NPT (vmmu/dirty.h), so the next write is
 * still logged. Records the type, then calls ops->set_type; VMMU_EINVAL for a
 * grant/foreign type or a range outside RAM/ROM slots, VMMU_ENOMEM, or
 * the backend's error (the record is undone).
 */
int vmmu_vm_set_p2m_type(struct vmmu_vm *vm, gpa_t gpa, uint64_t size,
			 enum vmmu_p2m_type type);
/* The same without the backend call, for a backend's own change (a
 * log-dirty page made writable): the caller changes its tables. */
int vmmu_p2m_record_type(struct vmmu_vm *vm, gpa_t gpa, uint64_t size,
			 enum vmmu_p2m_type type);

/* A privileged VM may map any RAM frame of another VM (foreign). */
int vmmu_vm_set_privileged(struct vmmu_vm *vm, bool privileged);

/*
 * owner grants its RAM frame at gpa (4 KiB aligned, in a RAM slot; backed
 * now if untouched) to grantee, read-only or read-write: *ref names it.
 * VMMU_EINVAL, VMMU_ENOSPC (grant table full), VMMU_ENOMEM.
 */
int vmmu_grant_issue(struct vmmu_vm *owner, gpa_t gpa, struct vmmu_vm *grantee,
		     bool writable, uint32_t *ref);
/*
 * vm maps grant ref of owner at gpa (a 4 KiB hole of vm's space):
 * VMMU_ENOENT (no such grant), VMMU_EINVAL (the grant is for another VM,
 * asks for write on a read-only grant, gpa not a hole), VMMU_ENOSPC, or
 * the backend's error. Nothing changes on error.
 */
int vmmu_grant_map(struct vmmu_vm *vm, gpa_t gpa, struct vmmu_vm *owner,
		   uint32_t ref, bool writable);
/* A privileged vm maps owner's RAM frame frame at its hole gpa, read-write.
 * VMMU_EINVAL when vm is not privileged or the frame is not RAM. */
int vmmu_foreign_map(struct vmmu_vm *vm, gpa_t gpa, struct vmmu_vm *owner,
		     gpa_t frame);
/* vm removes its grant or foreign mapping at gpa (VMMU_ENOENT: none). */
int vmmu_foreign_unmap(struct vmmu_vm *vm, gpa_t gpa);
/* owner revokes grant ref: unmapped everywhere it is mapped, then freed. */
int vmmu_grant_revoke(struct vmmu_vm *owner, uint32_t ref);

/* Core hooks (core/vm.c): a slot goes (revoke its grants, drop its
 * overrides), whether a range holds grant/foreign mappings, the VM goes. */
void vmmu_p2m_slot_removed(struct vmmu_vm *vm, const struct vmmu_slot *slot);
bool vmmu_p2m_has_foreign(const struct vmmu_vm *vm, gpa_t gpa, uint64_t size);
void vmmu_p2m_release(struct vmmu_vm *vm);

#endif
