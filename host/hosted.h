/* SPDX-License-Identifier: MIT */
/* The hosted platform is public API: see include/vmmu/hosted.h. */
#ifndef VMMU_HOST_HOSTED_H
#define VMMU_HOST_HOSTED_H

#include "vmmu/hosted.h"

#endif
