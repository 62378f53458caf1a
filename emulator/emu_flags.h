/* SPDX-License-Identifier: MIT */
/*
 * RFLAGS arithmetic (SDM Vol. 1 3.4.3.1 and Appendix A "EFLAGS Cross-
 * Reference"): CF, PF, AF, ZF, SF, OF of additions, subtractions and
 * logical results. Inline (included by emu_internal.h): every arithmetic
 * instruction computes them.
 */
#ifndef VMMU_EMU_FLAGS_H
#define VMMU_EMU_FLAGS_H

/* PF: set when the low byte of the result has an even number of 1 bits. */
static inline uint64_t emu_parity_flag(uint64_t res)
{
	uint8_t b = (uint8_t)res;

	b ^= b >> 4;
	b ^= b >> 2;
	b ^= b >> 1;
	return (b & 1) ? 0 : VMMU_RFLAGS_PF;
}

static inline uint64_t emu_flags_szp(uint64_t res, unsigned int size)
{
	uint64_t f = emu_parity_flag(res);

	res &= emu_mask(size);
	if (!res)
		f |= VMMU_RFLAGS_ZF;
	if (res >> (size * 8 - 1))
		f |= VMMU_RFLAGS_SF;
	return f;
}

/* res = a + b (+ carry in); carries derived from the operand bits. */
static inline uint64_t emu_flags_add(uint64_t a, uint64_t b, uint64_t res,
				     unsigned int size)
{
	unsigned int top = size * 8 - 1;
	uint64_t carries = (a & b) | ((a | b) & ~res);
	uint64_t f = emu_flags_szp(res, size);

	if ((carries >> top) & 1)
		f |= VMMU_RFLAGS_CF;
	if ((((a ^ res) & (b ^ res)) >> top) & 1)
		f |= VMMU_RFLAGS_OF;
	if ((a ^ b ^ res) & 0x10)
		f |= VMMU_RFLAGS_AF;
	return f;
}

/* res = a - b (- borrow in). */
static inline uint64_t emu_flags_sub(uint64_t a, uint64_t b, uint64_t res,
				     unsigned int size)
{
	unsigned int top = size * 8 - 1;
	uint64_t borrows = (~a & b) | ((~a | b) & res);
	uint64_t f = emu_flags_szp(res, size);

	if ((borrows >> top) & 1)
		f |= VMMU_RFLAGS_CF;
	if ((((a ^ b) & (a ^ res)) >> top) & 1)
		f |= VMMU_RFLAGS_OF;
	if ((a ^ b ^ res) & 0x10)
		f |= VMMU_RFLAGS_AF;
	return f;
}

/* AND, OR, XOR, TEST: CF = OF = 0; AF undefined (reported as 0). */
static inline uint64_t emu_flags_logic(uint64_t res, unsigned int size)
{
	return emu_flags_szp(res, size);
}

#endif
