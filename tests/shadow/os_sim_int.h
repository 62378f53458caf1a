/* SPDX-License-Identifier: MIT */
/* Internals of the test guest OS shared by os_sim.c and os_sim_ref.c. */
#ifndef VMMU_TESTS_OS_SIM_INT_H
#define VMMU_TESTS_OS_SIM_INT_H

#include "host/hosted.h"
#include "os_sim.h"

#define OSM_MAX_AS 1024U

struct osm_as {
	bool live;
	uint64_t root;
	uint16_t pcid;
};

struct osm {
	struct osm_cfg cfg;
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	struct vmmu_vcpu *vcpu;
	unsigned top, bits, esize;
	uint64_t kbase, tend, dbase;
	uint8_t *tused;             /* table frames in use */
	uint16_t *dref;             /* data frame reference counts */
	uint64_t ntab, ndata, tcur, dcur;
	uint64_t kroot_entry[32];   /* the kernel's top-level entries */
	unsigned nkroot, kidx;
	struct osm_as as[OSM_MAX_AS];
	unsigned cur, nlive;
	bool booting;               /* no paging yet: the loader writes */
	uint64_t rng;
	struct osm_stats st;
};

uint64_t osm_rnd(struct osm *os);
bool osm_fail(const char *msg, uint64_t a, uint64_t b);
/* One access through the vCPU against the reference (os_sim_ref.c). */
bool osm_check_access(struct osm *os, const struct vmmu_access *acc,
		      struct vmmu_walk_result *ref);

#endif
