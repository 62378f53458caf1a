/* SPDX-License-Identifier: MIT */
/* The dirty log's life with the VM (core/dirty.c). */
#ifndef VMMU_CORE_DIRTY_INTERNAL_H
#define VMMU_CORE_DIRTY_INTERNAL_H

#include "vmmu/dirty.h"

/* Free the log at VM destruction (no thread uses the VM any more). */
void vmmu_dirty_destroy(struct vmmu_vm *vm);
/* The variant chosen for the VM's backend, told to it again (chosen now,
 * AUTO, if it was not); VM lock held (core/dirty_mode.c). */
int vmmu_dirty_mode_current(struct vmmu_vm *vm);

#endif
