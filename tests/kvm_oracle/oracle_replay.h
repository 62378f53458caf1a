/* SPDX-License-Identifier: MIT */
/* Running a `vmmu walk` case on KVM (kvm_oracle --case). */
#ifndef VMMU_TESTS_KVM_ORACLE_REPLAY_H
#define VMMU_TESTS_KVM_ORACLE_REPLAY_H

#include <stdbool.h>

/*
 * Load the case at path ("-": stdin), run it on KVM and print KVM's results
 * in `vmmu walk` output form. Returns the process exit status (0, 1 KVM
 * failed, 2 malformed or unsupported case, 77 no /dev/kvm).
 */
int orc_replay_file(const char *path, bool pretty);

#endif
