/* SPDX-License-Identifier: MIT */
/*
 * Helpers for backends' emulator callbacks: filling in a #PF, and the
 * compare-exchange a cmpxchg callback performs once it has a host pointer.
 */
#include <string.h>

#include "emu_internal.h"

int vmmu_emu_page_fault(struct vmmu_emu_exception *exc, uint64_t la,
			uint32_t error_code)
{
	memset(exc, 0, sizeof(*exc));
	exc->vector = VMMU_EXC_PF;
	exc->has_error_code = true;
	exc->error_code = error_code;
	exc->cr2 = la;
	return VMMU_EFAULT;
}

struct pair64 {
	uint64_t lo, hi;
};

/* LOCK CMPXCHG16B on a 16-byte aligned pair (SDM Vol. 2 CMPXCHG16B). */
static void cmpxchg16(void *ptr, uint64_t *old, const uint64_t *nv)
{
	uint64_t lo = old[0], hi = old[1];

	__asm__ volatile("lock cmpxchg16b %2"
			 : "+a"(lo), "+d"(hi), "+m"(*(struct pair64 *)ptr)
			 : "b"(nv[0]), "c"(nv[1])
			 : "memory", "cc");
	old[0] = lo;
	old[1] = hi;
}

/*
 * LOCK CMPXCHG of one naturally aligned 1-, 2-, 4- or 8-byte unit. The
 * operands are copied at their fixed width: a copy of a variable length
 * becomes a byte loop, and the word loads after byte stores cannot be
 * forwarded from the store buffer.
 */
#define ATOMIC_CAS(type, ptr, old, nv)                                      \
	do {                                                                \
		type o_, n_;                                                \
		memcpy(&o_, old, sizeof(type));                             \
		memcpy(&n_, nv, sizeof(type));                              \
		__atomic_compare_exchange_n((type *)(ptr), &o_, n_, false,  \
					    __ATOMIC_SEQ_CST,               \
					    __ATOMIC_SEQ_CST);              \
		memcpy(old, &o_, sizeof(type));                             \
	} while (0)

static void atomic_cas(void *ptr, void *old, const void *nv, unsigned int len)
{
	switch (len) {
	case 1:
		ATOMIC_CAS(uint8_t, ptr, old, nv);
		break;
	case 2:
		ATOMIC_CAS(uint16_t, ptr, old, nv);
		break;
	case 4:
		ATOMIC_CAS(uint32_t, ptr, old, nv);
		break;
	default:
		ATOMIC_CAS(uint64_t, ptr, old, nv);
		break;
	}
}

int vmmu_emu_host_cmpxchg(void *ptr, void *old, const void *new_val,
			  unsigned int len)
{
	uint8_t cur[16];
	uint64_t o[2], n[2];

	if (!ptr || !old || !new_val ||
	    (len != 1 && len != 2 && len != 4 && len != 8 && len != 16))
		return VMMU_EINVAL;
	if (!((uintptr_t)ptr & (len - 1))) {
		if (len < 16) {
			atomic_cas(ptr, old, new_val, len);
			return 0;
		}
		memcpy(o, old, 16);
		memcpy(n, new_val, 16);
		cmpxchg16(ptr, o, n);
		memcpy(old, o, 16);
		return 0;
	}
	/* Misaligned: a plain compare and copy (see emulate.h). */
	memcpy(cur, ptr, len);
	if (!memcmp(cur, old, len))
		memcpy(ptr, new_val, len);
	memcpy(old, cur, len);
	return 0;
}
