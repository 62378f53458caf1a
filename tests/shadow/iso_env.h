/* SPDX-License-Identifier: MIT */
/*
 * The isolation harness shared by the random test (test_shadow_isolation.c)
 * and the libFuzzer target (fuzz_shadow_isolation.c): a shadow VM whose
 * page tables a hostile guest writes, a second VM on the same host arena
 * whose pages must never show up in the first one's shadows, and the
 * checks both run after their steps. Nothing here aborts: a violation is
 * returned with a message, so that each caller reports it its own way
 * (a cmocka failure, a libFuzzer crash).
 */
#ifndef VMMU_TESTS_SHADOW_ISO_ENV_H
#define VMMU_TESTS_SHADOW_ISO_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/hosted.h"
#include "vmmu/access.h"

#define ISO_TABLES 0x10000ULL           /* the guest's table frames */
#define ISO_NTAB   16
#define ISO_MMIO   0x40000000ULL        /* one 4 KiB MMIO page */

/* A host page of the VM's RAM and the guest frame it backs. */
struct iso_owned {
	uint64_t hpa, gfn;
};

struct iso_env {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm, *other;     /* the guest; a neighbour VM */
	struct vmmu_vcpu *vcpu;
	uint64_t ram;                   /* bytes of RAM at gpa 0 */
	struct iso_owned *own;          /* sorted by hpa */
	size_t nown;
	uint64_t leaves, checked, faults, done, vmm;
	struct vmmu_gmem vm_mem;
	char msg[192];                  /* the last violation */
};

/*
 * Two shadow VMs on one arena, each with ram bytes of RAM at gpa 0 (the
 * neighbour's populated), the guest also with the MMIO page, a pool fixed
 * at pool_pages and one vCPU of MAXPHYADDR 40. 0 or a vmmu_err.
 */
int iso_env_create(struct iso_env *s, uint64_t ram, uint64_t pool_pages);
void iso_env_destroy(struct iso_env *s);

/*
 * An entry an attacker might write, from random words next(rng) gives:
 * mostly plausible (another table: loops and self-maps; a RAM frame; the
 * MMIO page), often hostile (any frame, any bits).
 */
uint64_t iso_hostile_entry(const struct iso_env *s,
			   uint64_t (*next)(void *rng), void *rng);

/*
 * Switch to a paging mode chosen by the bits of r (paging off to 5-level,
 * NXE, PGE, SMEP/SMAP, CR0.WP) with the root at table frame r's choice.
 * Refused register values (a #GP: bad PAE PDPTEs) leave the old ones.
 * 0, or -1 with s->msg when a valid EFER or CR4 was refused.
 */
int iso_set_mode(struct iso_env *s, uint64_t r);

/*
 * Run acc (an 8-byte op with data) through vmmu_vcpu_access after
 * flushing the TLB model (INVPCID type 2), and compare it with the
 * reference walker on the same memory (its A/D updates dropped): the same
 * fault, the same host page (gpa for emulated and VMM accesses), and the
 * VM alive. 0, or -1 with s->msg.
 */
int iso_access(struct iso_env *s, const struct vmmu_access *acc, uint64_t data);

/*
 * The isolation invariants, from scratch: every present shadow leaf maps
 * a host page of the VM's own RAM (never MMIO, a hole, the neighbour's
 * page or vmmu's), no writable leaf maps a frame that holds a PV table
 * type, the backend's own invariants (vmmu_shadow_check: no writable leaf
 * for a shadowed guest table, every shadow entry the propagation of its
 * guest entry, PV type counts) hold, and the VM is alive. 0, or -1 with
 * s->msg.
 */
int iso_check(struct iso_env *s);

#endif
