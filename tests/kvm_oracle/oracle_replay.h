/* SPDX-License-Identifier: MIT */
/* Running a `vmmu walk` case on KVM (kvm_oracle --case). */
#ifndef VMMU_TESTS_KVM_ORACLE_REPLAY_H
#define VMMU_TESTS_KVM_ORACLE_REPLAY_H

#include <stdbool.h>
#include <jansson.h>

/*
 * Run one `vmmu walk` case object on a fresh KVM VM. Returns the output
 * object ({"results", "memory_writes"}) or NULL; *status as below, err
 * (256 bytes) says why when it is not 0.
 */
json_t *orc_replay_case(const json_t *c, int *status, char *err);

/*
 * Load the case at path ("-": stdin), run it on KVM and print KVM's results
 * in `vmmu walk` output form. Returns the process exit status (0, 1 KVM
 * failed, 2 malformed or unsupported case, 77 no /dev/kvm).
 */
int orc_replay_file(const char *path, bool pretty);

#endif
