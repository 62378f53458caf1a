/* SPDX-License-Identifier: MIT */
/* The backend interface moved to the public header vmmu/backend.h. */
#ifndef VMMU_CORE_BACKEND_H
#define VMMU_CORE_BACKEND_H
#include "vmmu/backend.h"
#endif
