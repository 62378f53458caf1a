/* SPDX-License-Identifier: MIT */
/*
 * RFLAGS arithmetic (SDM Vol. 1 3.4.3.1 and Appendix A "EFLAGS Cross-
 * Reference"): CF, PF, AF, ZF, SF, OF of additions, subtractions and
 * logical results, and the condition codes of Jcc/SETcc (SDM Vol. 1
 * Appendix B).
 */
#include "emu_internal.h"

/* PF: set when the low byte of the result has an even number of 1 bits. */
static uint64_t parity_flag(uint64_t res)
{
	uint8_t b = (uint8_t)res;

	b ^= b >> 4;
	b ^= b >> 2;
	b ^= b >> 1;
	return (b & 1) ? 0 : VMMU_RFLAGS_PF;
}

static uint64_t flags_szp(uint64_t res, unsigned int size)
{
	uint64_t f = parity_flag(res);

	res &= emu_mask(size);
	if (!res)
		f |= VMMU_RFLAGS_ZF;
	if (res >> (size * 8 - 1))
		f |= VMMU_RFLAGS_SF;
	return f;
}

/* res = a + b (+ carry in); carries derived from the operand bits. */
uint64_t emu_flags_add(uint64_t a, uint64_t b, uint64_t res,
		       unsigned int size)
{
	unsigned int top = size * 8 - 1;
	uint64_t carries = (a & b) | ((a | b) & ~res);
	uint64_t f = flags_szp(res, size);

	if ((carries >> top) & 1)
		f |= VMMU_RFLAGS_CF;
	if ((((a ^ res) & (b ^ res)) >> top) & 1)
		f |= VMMU_RFLAGS_OF;
	if ((a ^ b ^ res) & 0x10)
		f |= VMMU_RFLAGS_AF;
	return f;
}

/* res = a - b (- borrow in). */
uint64_t emu_flags_sub(uint64_t a, uint64_t b, uint64_t res,
		       unsigned int size)
{
	unsigned int top = size * 8 - 1;
	uint64_t borrows = (~a & b) | ((~a | b) & res);
	uint64_t f = flags_szp(res, size);

	if ((borrows >> top) & 1)
		f |= VMMU_RFLAGS_CF;
	if ((((a ^ b) & (a ^ res)) >> top) & 1)
		f |= VMMU_RFLAGS_OF;
	if ((a ^ b ^ res) & 0x10)
		f |= VMMU_RFLAGS_AF;
	return f;
}

/* AND, OR, XOR, TEST: CF = OF = 0; AF undefined (reported as 0). */
uint64_t emu_flags_logic(uint64_t res, unsigned int size)
{
	return flags_szp(res, size);
}

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
