/* SPDX-License-Identifier: MIT */
/*
 * The condition codes of Jcc/SETcc (SDM Vol. 1 Appendix B). The RFLAGS
 * arithmetic is inline in emu_flags.h.
 */
#include "emu_internal.h"

/* cc is the low nibble of the Jcc/SETcc opcode (SDM Vol. 1 Table B-1). */
bool emu_condition(uint64_t fl, unsigned int cc)
{
	bool cf = fl & VMMU_RFLAGS_CF, zf = fl & VMMU_RFLAGS_ZF;
	bool sf = fl & VMMU_RFLAGS_SF, of = fl & VMMU_RFLAGS_OF;
	bool pf = fl & VMMU_RFLAGS_PF;
	bool r;

	switch (cc >> 1) {
	case 0: r = of; break;                  /* O */
	case 1: r = cf; break;                  /* B */
	case 2: r = zf; break;                  /* E */
	case 3: r = cf || zf; break;            /* BE */
	case 4: r = sf; break;                  /* S */
	case 5: r = pf; break;                  /* P */
	case 6: r = sf != of; break;            /* L */
	default: r = zf || sf != of; break;     /* LE */
	}
	return (cc & 1) ? !r : r;
}
