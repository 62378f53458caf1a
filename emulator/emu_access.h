/* SPDX-License-Identifier: MIT */
/*
 * Memory access for the emulator: effective and linear address computation
 * (SDM Vol. 1 3.7.5, 3.3.7) and the calls into the backend's memory
 * callbacks. Every emulated memory operand goes through these, several
 * calls deep, so they are inline (included by emu_internal.h).
 */
#ifndef VMMU_EMU_ACCESS_H
#define VMMU_EMU_ACCESS_H

#include <string.h>

static inline int emu_raise(struct emu_exec *x, uint8_t vector, bool has_ec,
			    uint32_t ec)
{
	memset(&x->res->exc, 0, sizeof(x->res->exc));
	x->res->exc.vector = vector;
	x->res->exc.has_error_code = has_ec;
	x->res->exc.error_code = ec;
	return EMU_EXC;
}

static inline bool emu_canonical(uint64_t la, bool la57)
{
	unsigned int shift = la57 ? 7 : 16;

	return (uint64_t)((int64_t)(la << shift) >> shift) == la;
}

/*
 * Segment base and, in 64-bit mode, the canonical check of the first and
 * last byte: #SS(0) for stack references, #GP(0) otherwise (SDM Vol. 3
 * 6.15, "Interrupt 12" and "Interrupt 13").
 */
static inline int emu_check_la(struct emu_exec *x, unsigned int seg,
			       uint64_t ea, unsigned int size, uint64_t *out)
{
	unsigned int mode = x->in->mode;
	uint64_t la;

	if (mode == 64) {
		la = ea;
		if (seg == VMMU_SEG_FS || seg == VMMU_SEG_GS)
			la += x->r->seg_base[seg];
		if (!emu_canonical(la, x->emu->la57) ||
		    !emu_canonical(la + size - 1, x->emu->la57))
			return emu_raise(x, seg == VMMU_SEG_SS ? VMMU_EXC_SS :
					 VMMU_EXC_GP, true, 0);
	} else {
		la = (x->r->seg_base[seg] + ea) & 0xffffffffULL;
	}
	*out = la;
	return EMU_OK;
}

/*
 * Effective address (base + index * scale + disp, RIP-relative from the end
 * of the instruction), truncated to the address size, plus offset (the bit
 * string displacement of BT with a register offset), then the linear
 * address.
 */
static inline int emu_linear(struct emu_exec *x,
			     const struct emu_operand *op, int64_t offset,
			     unsigned int size, uint64_t *la)
{
	uint64_t ea = (uint64_t)op->val;
	unsigned int seg = op->seg;

	if (op->base == EMU_REG_RIP)
		ea += x->next_rip;
	else if (op->base != EMU_REG_NONE)
		ea += x->r->gpr[op->base];
	if (op->index != EMU_REG_NONE)
		ea += x->r->gpr[op->index] * op->scale;
	ea &= emu_mask(x->in->addr_size);
	ea = (ea + (uint64_t)offset) & emu_mask(x->in->addr_size);
	return emu_check_la(x, seg, ea, size, la);
}

static inline int emu_callback_rc(int rc)
{
	if (rc == 0)
		return EMU_OK;
	if (rc == VMMU_EFAULT)
		return EMU_EXC;
	return rc < 0 ? rc : VMMU_EINVAL;
}

static inline int emu_read(struct emu_exec *x, uint64_t la, void *buf,
			   unsigned int size)
{
	if (!x->ops->read)
		return VMMU_EINVAL;
	return emu_callback_rc(x->ops->read(x->opaque, la, buf, size,
					    &x->res->exc));
}

static inline int emu_write(struct emu_exec *x, uint64_t la,
			    const void *buf, unsigned int size)
{
	if (!x->ops->write)
		return VMMU_EINVAL;
	return emu_callback_rc(x->ops->write(x->opaque, la, buf, size,
					     &x->res->exc));
}

/*
 * Atomic compare-exchange through the backend. Without a cmpxchg callback
 * it degrades to read, compare, write (documented in emulate.h).
 */
static inline int emu_cmpxchg(struct emu_exec *x, uint64_t la, void *old,
			      const void *new_val, unsigned int size)
{
	uint8_t cur[16];
	int rc;

	if (x->ops->cmpxchg)
		return emu_callback_rc(x->ops->cmpxchg(x->opaque, la, old,
						       new_val, size,
						       &x->res->exc));
	rc = emu_read(x, la, cur, size);
	if (rc)
		return rc;
	if (!memcmp(cur, old, size)) {
		rc = emu_write(x, la, new_val, size);
		if (rc)
			return rc;
	}
	memcpy(old, cur, size);
	return EMU_OK;
}

static inline int emu_read_op(struct emu_exec *x,
			      const struct emu_operand *op, uint64_t *val)
{
	uint64_t la;
	int rc;

	switch (op->kind) {
	case OPK_REG:
		*val = emu_get_reg(x, op);
		return EMU_OK;
	case OPK_IMM:
		*val = (uint64_t)op->val & emu_mask(op->size);
		return EMU_OK;
	case OPK_MEM:
		rc = emu_linear(x, op, 0, op->size, &la);
		if (rc)
			return rc;
		*val = 0;
		return emu_read(x, la, val, op->size);
	default:
		return EMU_UNH;
	}
}

static inline int emu_write_op(struct emu_exec *x,
			       const struct emu_operand *op, uint64_t val)
{
	uint64_t la;
	int rc;

	switch (op->kind) {
	case OPK_REG:
		emu_set_gpr(x, op->reg, op->high8, op->size, val);
		return EMU_OK;
	case OPK_MEM:
		rc = emu_linear(x, op, 0, op->size, &la);
		if (rc)
			return rc;
		return emu_write(x, la, &val, op->size);
	default:
		return EMU_UNH;
	}
}

#endif
