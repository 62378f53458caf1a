/* SPDX-License-Identifier: MIT */
/*
 * A small guest operating system for the shadow backend's tests: address
 * spaces with a shared kernel direct map, mapping, unmapping, mprotect,
 * A/D scanning, fork with copy-on-write, exit, address-space switches
 * (with PCIDs), INVLPG, superpages, MMIO and holes, in every paging mode.
 * The OS edits its page tables as a guest kernel does: through its direct
 * map, with the vCPU (so every write to a shadowed table traps and is
 * emulated), and now and then through vmmu_vm_write_gpa (a device's DMA).
 *
 * Every access is checked against the reference: vmmu_walk() over the
 * same guest memory just before (its A/D updates logged, not applied),
 * composed with the p2m: the same host page, or the same fault vector,
 * error code and CR2, and the same A/D bits left in the guest's entries.
 */
#ifndef VMMU_TESTS_OS_SIM_H
#define VMMU_TESTS_OS_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "vmmu/access.h"

struct osm_cfg {
	enum vmmu_paging_mode mode;
	bool pse;               /* 2-level: CR4.PSE (4 MiB pages) */
	bool pcid;              /* 4/5-level: CR4.PCIDE */
	bool nxe;
	bool smep_smap;
	bool wp0;               /* CR0.WP = 0 */
	bool kernel_1g;         /* 4-level: direct map by a 1 GiB page */
	unsigned max_as;        /* live address spaces at most (<= 1024) */
	uint64_t ram;           /* guest RAM in bytes (multiple of 4 MiB) */
	uint64_t pool_pages;    /* 0: the default pool */
	uint64_t seed;
	unsigned check_every;   /* vmmu_shadow_check every n steps (0: never) */
	bool oos;               /* out-of-sync L1 shadows allowed */
	unsigned prefetch;      /* vmmu_shadow_set_prefetch group (0: off) */
};

struct osm_stats {
	uint64_t steps, accesses, faults, done, vmm, emulated, cow, forks,
		 exits, switches, maps, checks;
};

struct osm;

/* 0, or -1 with a message on stderr. */
int osm_create(const struct osm_cfg *cfg, struct osm **out);
void osm_destroy(struct osm *os);
/* n random steps; false (with a message on stderr) on the first mismatch. */
bool osm_run(struct osm *os, uint64_t n);
/* Create address spaces until there are n live ones, each with pages. */
bool osm_populate(struct osm *os, unsigned n, unsigned pages);
/* Visit every live address space once, checking pages accesses in each. */
bool osm_round_robin(struct osm *os, unsigned pages);
const struct osm_stats *osm_stats(const struct osm *os);
struct vmmu_vm *osm_vm(const struct osm *os);

#endif
