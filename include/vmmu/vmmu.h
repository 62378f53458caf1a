/* SPDX-License-Identifier: MIT */
/* Umbrella header for libvmmu. */
#ifndef VMMU_VMMU_H
#define VMMU_VMMU_H

#include "vmmu/types.h"
#include "vmmu/error.h"
#include "vmmu/platform.h"
#include "vmmu/walk.h"
#include "vmmu/vm.h"
#include "vmmu/dirty.h"
#include "vmmu/emulate.h"

#define VMMU_VERSION "0.1.0"

#endif
