/* SPDX-License-Identifier: MIT */
/*
 * The semantics table: what each instruction vmmu emulates does to
 * registers, memory and RFLAGS, keyed by capstone instruction id through the
 * X86_INS_* names. Each handler implements the "Operation" and "Flags
 * Affected" sections of the instruction's page in SDM Vol. 2; flags the SDM
 * leaves undefined are listed in the row's undefined mask (and documented in
 * docs/emulator.md), and are left unchanged unless noted.
 *
 * Read-modify-write on memory goes through rmw(): with LOCK (or for XCHG,
 * which is always locked) the store is a cmpxchg of the value read, retried
 * when another agent changed memory in between, so a backend can make the
 * update atomic.
 */
#include <string.h>

#include "emu_internal.h"

#define RMW_TRIES 16

struct rmw {
	uint64_t src;           /* second operand */
	uint64_t res;           /* value to store */
	uint64_t flags;         /* new values of the flags in 'written' */
	uint64_t written;       /* RFLAGS bits the operation sets */
	bool store;             /* false: read only (CMP, TEST, BT) */
	unsigned int size;
	unsigned int op;        /* semantics row parameter */
};

typedef void (*rmw_op)(const struct emu_exec *x, struct rmw *m, uint64_t old);

static const struct emu_sem *row(const struct emu_exec *x)
{
	return &emu_semantics[x->in->sem];
}

static void commit_flags(struct emu_exec *x, const struct rmw *m)
{
	x->r->rflags = (x->r->rflags & ~m->written) | (m->flags & m->written);
}

/*
 * Apply op to the destination dst (register or memory at offset bytes from
 * its effective address). Memory is read once; a plain store follows, or
 * with LOCK a cmpxchg that must find the value read (else recompute).
 * *old_out receives the value the operation was applied to.
 */
static int rmw(struct emu_exec *x, const struct emu_operand *dst,
	       int64_t offset, struct rmw *m, rmw_op op, uint64_t *old_out)
{
	uint64_t la, old = 0, seen;
	bool locked = x->in->lock || x->in->sem == x->emu->sem_of_id[X86_INS_XCHG];
	int rc, i;

	if (dst->kind == OPK_REG) {
		old = emu_get_reg(x, dst);
		op(x, m, old);
		if (m->store)
			emu_set_gpr(x, dst->reg, dst->high8, m->size, m->res);
		*old_out = old;
		return EMU_OK;
	}
	if (dst->kind != OPK_MEM)
		return EMU_UNH;
	rc = emu_linear(x, dst, offset, m->size, &la);
	if (!rc)
		rc = emu_read(x, la, &old, m->size);
	for (i = 0; !rc && i < RMW_TRIES; i++) {
		op(x, m, old);
		*old_out = old;
		if (!m->store)
			return EMU_OK;
		if (!locked)
			return emu_write(x, la, &m->res, m->size);
		seen = old;
		rc = emu_cmpxchg(x, la, &seen, &m->res, m->size);
		if (!rc && seen == old)
			return EMU_OK;
		old = seen;
	}
	return rc ? rc : EMU_RACE;
}

/* ---- MOV, MOVNTI, MOVZX, MOVSX, MOVSXD ---------------------------------- */

static int h_mov(struct emu_exec *x)
{
	const struct emu_insn *in = x->in;
	uint64_t v;
	int rc;

	if (in->nops != 2 || in->op[0].kind == OPK_IMM ||
	    (in->op[0].kind == OPK_MEM && in->op[1].kind == OPK_MEM))
		return EMU_UNH;
	rc = emu_read_op(x, &in->op[1], &v);
	if (rc)
		return rc;
	return emu_write_op(x, &in->op[0], v);
}

/* param 1: sign-extend (MOVSX, MOVSXD), 0: zero-extend (MOVZX). */
static int h_movx(struct emu_exec *x)
{
	const struct emu_insn *in = x->in;
	unsigned int ss = in->op[1].size;
	uint64_t v;
	int rc;

	if (in->nops != 2 || in->op[0].kind != OPK_REG ||
	    in->op[1].kind == OPK_IMM)
		return EMU_UNH;
	rc = emu_read_op(x, &in->op[1], &v);
	if (rc)
		return rc;
	if (row(x)->param && ss < 8 && ((v >> (ss * 8 - 1)) & 1))
		v |= ~emu_mask(ss);
	emu_set_gpr(x, in->op[0].reg, false, in->op[0].size, v);
	return EMU_OK;
}

/* ---- XCHG ---------------------------------------------------------------- */

static void op_xchg(const struct emu_exec *x, struct rmw *m, uint64_t old)
{
	(void)x;
	(void)old;
	m->res = m->src;
}

/* SDM Vol. 2 XCHG: with a memory operand the processor locks the bus. */
static int h_xchg(struct emu_exec *x)
{
	const struct emu_insn *in = x->in;
	const struct emu_operand *mem, *reg;
	struct rmw m = { .store = true };
	uint64_t a, b;
	int rc;

	if (in->nops != 2)
		return EMU_UNH;
	if (in->op[0].kind == OPK_REG && in->op[1].kind == OPK_REG) {
		a = emu_get_reg(x, &in->op[0]);
		b = emu_get_reg(x, &in->op[1]);
		emu_set_gpr(x, in->op[0].reg, in->op[0].high8, in->op[0].size, b);
		emu_set_gpr(x, in->op[1].reg, in->op[1].high8, in->op[1].size, a);
		return EMU_OK;
	}
	mem = in->op[0].kind == OPK_MEM ? &in->op[0] : &in->op[1];
	reg = in->op[0].kind == OPK_MEM ? &in->op[1] : &in->op[0];
	if (mem->kind != OPK_MEM || reg->kind != OPK_REG)
		return EMU_UNH;
	m.size = mem->size;
	m.src = emu_get_reg(x, reg);
	rc = rmw(x, mem, 0, &m, op_xchg, &a);
	if (rc)
		return rc;
	emu_set_gpr(x, reg->reg, reg->high8, reg->size, a);
	return EMU_OK;
}

/* ---- ADD OR ADC SBB AND SUB XOR CMP TEST --------------------------------- */

enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR,
       ALU_CMP, ALU_TEST };

static void op_alu(const struct emu_exec *x, struct rmw *m, uint64_t old)
{
	uint64_t cf = x->r->rflags & VMMU_RFLAGS_CF ? 1 : 0;
	uint64_t s = m->src, r;

	switch (m->op) {
	case ALU_ADD: case ALU_ADC:
		r = old + s + (m->op == ALU_ADC ? cf : 0);
		m->flags = emu_flags_add(old, s, r, m->size);
		break;
	case ALU_SUB: case ALU_SBB: case ALU_CMP:
		r = old - s - (m->op == ALU_SBB ? cf : 0);
		m->flags = emu_flags_sub(old, s, r, m->size);
		break;
	case ALU_OR:
		r = old | s;
		m->flags = emu_flags_logic(r, m->size);
		break;
	case ALU_XOR:
		r = old ^ s;
		m->flags = emu_flags_logic(r, m->size);
		break;
	default: /* AND, TEST */
		r = old & s;
		m->flags = emu_flags_logic(r, m->size);
		break;
	}
	m->res = r & emu_mask(m->size);
}

static int h_alu(struct emu_exec *x)
{
	const struct emu_insn *in = x->in;
	struct rmw m = { .written = VMMU_RFLAGS_ARITH };
	uint64_t old;
	int rc;

	if (in->nops != 2 || in->op[0].kind == OPK_IMM ||
	    (in->op[0].kind == OPK_MEM && in->op[1].kind == OPK_MEM))
		return EMU_UNH;
	m.op = row(x)->param;
	m.size = in->op[0].size;
	m.store = m.op != ALU_CMP && m.op != ALU_TEST;
	rc = emu_read_op(x, &in->op[1], &m.src);
	if (rc)
		return rc;
	/* Immediates narrower than the destination are sign-extended. */
	if (in->op[1].kind == OPK_IMM)
		m.src = (uint64_t)in->op[1].val & emu_mask(m.size);
	rc = rmw(x, &in->op[0], 0, &m, op_alu, &old);
	if (rc)
		return rc;
	commit_flags(x, &m);
	return EMU_OK;
}

/* ---- INC DEC NEG NOT ----------------------------------------------------- */

enum { UN_INC, UN_DEC, UN_NEG, UN_NOT };

static void op_unary(const struct emu_exec *x, struct rmw *m, uint64_t old)
{
	(void)x;
	switch (m->op) {
	case UN_INC:
		m->res = old + 1;
		m->flags = emu_flags_add(old, 1, m->res, m->size);
		break;
	case UN_DEC:
		m->res = old - 1;
		m->flags = emu_flags_sub(old, 1, m->res, m->size);
		break;
	case UN_NEG:
		m->res = 0 - old;
		m->flags = emu_flags_sub(0, old, m->res, m->size);
		break;
	default:
		m->res = ~old;
		break;
	}
	m->res &= emu_mask(m->size);
}

static int h_unary(struct emu_exec *x)
{
	const struct emu_insn *in = x->in;
	struct rmw m = { .store = true };
	uint64_t old;
	int rc;

	if (in->nops != 1 || in->op[0].kind == OPK_IMM)
		return EMU_UNH;
	m.op = row(x)->param;
	m.size = in->op[0].size;
	/* INC/DEC leave CF alone; NOT changes no flag (SDM Vol. 2). */
	if (m.op == UN_INC || m.op == UN_DEC)
		m.written = VMMU_RFLAGS_ARITH & ~VMMU_RFLAGS_CF;
	else if (m.op == UN_NEG)
		m.written = VMMU_RFLAGS_ARITH;
	rc = rmw(x, &in->op[0], 0, &m, op_unary, &old);
	if (rc)
		return rc;
	commit_flags(x, &m);
	return EMU_OK;
}

/* ---- BT BTS BTR BTC ------------------------------------------------------ */

enum { BIT_TEST, BIT_SET, BIT_RESET, BIT_COMPLEMENT };

static void op_bit(const struct emu_exec *x, struct rmw *m, uint64_t old)
{
	uint64_t bit = 1ULL << m->src;

	(void)x;
	m->flags = (old & bit) ? VMMU_RFLAGS_CF : 0;
	if (m->op == BIT_SET)
		m->res = old | bit;
	else if (m->op == BIT_RESET)
		m->res = old & ~bit;
	else
		m->res = old ^ bit;
}

/*
 * SDM Vol. 2 BT: an immediate offset is taken modulo the operand width; a
 * register offset with a memory base is a signed bit index into the bit
 * string, addressing the operand-sized unit at EA + (offset DIV width) *
 * (width / 8).
 */
static int h_bit(struct emu_exec *x)
{
	const struct emu_insn *in = x->in;
	struct rmw m = { .written = VMMU_RFLAGS_CF };
	unsigned int bits;
	int64_t offset = 0, idx;
	uint64_t v, old;
	int rc;

	if (in->nops != 2 || in->op[0].kind == OPK_IMM ||
	    in->op[1].kind == OPK_MEM)
		return EMU_UNH;
	m.op = row(x)->param;
	m.size = in->op[0].size;
	m.store = m.op != BIT_TEST;
	bits = m.size * 8;
	v = in->op[1].kind == OPK_IMM ? (uint64_t)in->op[1].val & 0xff :
	      emu_get_reg(x, &in->op[1]);
	if (in->op[1].kind == OPK_REG && in->op[0].kind == OPK_MEM) {
		unsigned int sh = 64 - in->op[1].size * 8;

		idx = (int64_t)(v << sh) >> sh;
		/* Arithmetic shift: floor division for negative offsets. */
		offset = (idx >> (bits == 16 ? 4 : bits == 32 ? 5 : 6)) *
			 (int64_t)m.size;
	}
	m.src = v & (bits - 1);
	rc = rmw(x, &in->op[0], offset, &m, op_bit, &old);
	if (rc)
		return rc;
	commit_flags(x, &m);
	return EMU_OK;
}

/* ---- XADD, CMPXCHG ------------------------------------------------------- */

static void op_add(const struct emu_exec *x, struct rmw *m, uint64_t old)
{
	(void)x;
	m->res = (old + m->src) & emu_mask(m->size);
	m->flags = emu_flags_add(old, m->src, m->res, m->size);
}

/* SDM Vol. 2 XADD: TEMP = SRC + DEST; SRC = DEST; DEST = TEMP. */
static int h_xadd(struct emu_exec *x)
{
	const struct emu_insn *in = x->in;
	const struct emu_operand *d = &in->op[0], *s = &in->op[1];
	struct rmw m = { .store = true, .written = VMMU_RFLAGS_ARITH };
	uint64_t old;
	int rc;

	if (in->nops != 2 || s->kind != OPK_REG || d->kind == OPK_IMM)
		return EMU_UNH;
	m.size = d->size;
	m.src = emu_get_reg(x, s);
	if (d->kind == OPK_REG) {
		old = emu_get_reg(x, d);
		op_add(x, &m, old);
		emu_set_gpr(x, s->reg, s->high8, m.size, old);
		emu_set_gpr(x, d->reg, d->high8, m.size, m.res);
	} else {
		rc = rmw(x, d, 0, &m, op_add, &old);
		if (rc)
			return rc;
		emu_set_gpr(x, s->reg, s->high8, m.size, old);
	}
	commit_flags(x, &m);
	return EMU_OK;
}

/*
 * SDM Vol. 2 CMPXCHG: compare the accumulator with DEST (flags as CMP);
 * equal: DEST = SRC; else the accumulator = DEST, and DEST is written back
 * with its own value (a locked cmpxchg that fails stores nothing new).
 */
static int h_cmpxchg(struct emu_exec *x)
{
	const struct emu_insn *in = x->in;
	const struct emu_operand *d = &in->op[0], *s = &in->op[1];
	unsigned int size = d->size;
	uint64_t acc = x->r->gpr[VMMU_RAX] & emu_mask(size);
	uint64_t src, old = 0, la, res;
	int rc;

	if (in->nops != 2 || s->kind != OPK_REG || d->kind == OPK_IMM)
		return EMU_UNH;
	src = emu_get_reg(x, s);
	if (d->kind == OPK_REG) {
		old = emu_get_reg(x, d);
		/*
		 * A failing 32-bit CMPXCHG to a register: whether the write-
		 * back zero-extends the destination is not architectural
		 * (this AMD CPU leaves bits 63:32 alone). Report, not guess.
		 */
		if (size == 4 && old != acc)
			return EMU_UNH;
		emu_set_gpr(x, d->reg, d->high8, size, old == acc ? src : old);
	} else {
		rc = emu_linear(x, d, 0, size, &la);
		if (rc)
			return rc;
		if (in->lock) {
			old = acc;
			rc = emu_cmpxchg(x, la, &old, &src, size);
		} else {
			rc = emu_read(x, la, &old, size);
			if (!rc)
				rc = emu_write(x, la, old == acc ? &src : &old,
					       size);
		}
		if (rc)
			return rc;
	}
	res = acc - old;
	x->r->rflags = (x->r->rflags & ~VMMU_RFLAGS_ARITH) |
		      emu_flags_sub(acc, old, res, size);
	if (old != acc)
		emu_set_gpr(x, VMMU_RAX, false, size, old);
	return EMU_OK;
}

/*
 * SDM Vol. 2 CMPXCHG8B/CMPXCHG16B: EDX:EAX (RDX:RAX) against m64 (m128);
 * equal: store ECX:EBX (RCX:RBX), ZF = 1; else load the accumulator pair,
 * ZF = 0. Only ZF changes. m128 must be 16-byte aligned (#GP(0)).
 */
static int h_cmpxchg_wide(struct emu_exec *x)
{
	const struct emu_insn *in = x->in;
	unsigned int size = in->op[0].size, half = size / 2;
	uint64_t mask = emu_mask(half), la;
	uint64_t expect[2], seen[2], repl[2];
	bool equal;
	int rc;

	if (in->nops != 1 || in->op[0].kind != OPK_MEM ||
	    (size != 8 && size != 16))
		return EMU_UNH;
	rc = emu_linear(x, &in->op[0], 0, size, &la);
	if (rc)
		return rc;
	if (size == 16 && (la & 15))
		return emu_raise(x, VMMU_EXC_GP, true, 0);
	expect[0] = x->r->gpr[VMMU_RAX] & mask;
	expect[1] = x->r->gpr[VMMU_RDX] & mask;
	repl[0] = x->r->gpr[VMMU_RBX] & mask;
	repl[1] = x->r->gpr[VMMU_RCX] & mask;
	if (size == 8) {
		expect[0] |= expect[1] << 32;
		repl[0] |= repl[1] << 32;
	}
	memcpy(seen, expect, sizeof(seen));
	rc = emu_cmpxchg(x, la, seen, repl, size);
	if (rc)
		return rc;
	equal = !memcmp(seen, expect, size);
	if (size == 8)
		seen[1] = seen[0] >> 32;
	if (equal) {
		x->r->rflags |= VMMU_RFLAGS_ZF;
	} else {
		x->r->rflags &= ~VMMU_RFLAGS_ZF;
		emu_set_gpr(x, VMMU_RAX, false, half, seen[0] & mask);
		emu_set_gpr(x, VMMU_RDX, false, half, seen[1] & mask);
	}
	return EMU_OK;
}

/* ---- SETcc --------------------------------------------------------------- */

static int h_setcc(struct emu_exec *x)
{
	const struct emu_insn *in = x->in;

	if (in->nops != 1 || in->op[0].kind == OPK_IMM || in->op[0].size != 1)
		return EMU_UNH;
	return emu_write_op(x, &in->op[0],
			    emu_condition(x->r->rflags, row(x)->param));
}

/* ---- the table ----------------------------------------------------------- */

#define UNDEF_BT (VMMU_RFLAGS_OF | VMMU_RFLAGS_SF | VMMU_RFLAGS_AF | \
		  VMMU_RFLAGS_PF)

#define ROW(ins, fn, param, lockable, undef) \
	{ X86_INS_##ins, fn, param, lockable, undef }
#define SET(ins, cc) ROW(ins, h_setcc, cc, false, 0)

const struct emu_sem emu_semantics[] = {
	{ 0, NULL, 0, false, 0 },       /* row 0: no semantics */
	ROW(MOV, h_mov, 0, false, 0),
	ROW(MOVABS, h_mov, 0, false, 0),
	ROW(MOVNTI, h_mov, 0, false, 0),
	ROW(MOVZX, h_movx, 0, false, 0),
	ROW(MOVSX, h_movx, 1, false, 0),
	ROW(MOVSXD, h_movx, 1, false, 0),
	ROW(XCHG, h_xchg, 0, true, 0),
	ROW(ADD, h_alu, ALU_ADD, true, 0),
	ROW(OR, h_alu, ALU_OR, true, VMMU_RFLAGS_AF),
	ROW(ADC, h_alu, ALU_ADC, true, 0),
	ROW(SBB, h_alu, ALU_SBB, true, 0),
	ROW(AND, h_alu, ALU_AND, true, VMMU_RFLAGS_AF),
	ROW(SUB, h_alu, ALU_SUB, true, 0),
	ROW(XOR, h_alu, ALU_XOR, true, VMMU_RFLAGS_AF),
	ROW(CMP, h_alu, ALU_CMP, false, 0),
	ROW(TEST, h_alu, ALU_TEST, false, VMMU_RFLAGS_AF),
	ROW(INC, h_unary, UN_INC, true, 0),
	ROW(DEC, h_unary, UN_DEC, true, 0),
	ROW(NEG, h_unary, UN_NEG, true, 0),
	ROW(NOT, h_unary, UN_NOT, true, 0),
	ROW(BT, h_bit, BIT_TEST, false, UNDEF_BT),
	ROW(BTS, h_bit, BIT_SET, true, UNDEF_BT),
	ROW(BTR, h_bit, BIT_RESET, true, UNDEF_BT),
	ROW(BTC, h_bit, BIT_COMPLEMENT, true, UNDEF_BT),
	ROW(XADD, h_xadd, 0, true, 0),
	ROW(CMPXCHG, h_cmpxchg, 0, true, 0),
	ROW(CMPXCHG8B, h_cmpxchg_wide, 0, true, 0),
	ROW(CMPXCHG16B, h_cmpxchg_wide, 0, true, 0),
	SET(SETO, 0), SET(SETNO, 1), SET(SETB, 2), SET(SETAE, 3),
	SET(SETE, 4), SET(SETNE, 5), SET(SETBE, 6), SET(SETA, 7),
	SET(SETS, 8), SET(SETNS, 9), SET(SETP, 10), SET(SETNP, 11),
	SET(SETL, 12), SET(SETGE, 13), SET(SETLE, 14), SET(SETG, 15),
	ROW(MOVSB, emu_string, 0, false, 0),
	ROW(MOVSW, emu_string, 0, false, 0),
	ROW(MOVSD, emu_string, 0, false, 0),
	ROW(MOVSQ, emu_string, 0, false, 0),
	ROW(STOSB, emu_string, 1, false, 0),
	ROW(STOSW, emu_string, 1, false, 0),
	ROW(STOSD, emu_string, 1, false, 0),
	ROW(STOSQ, emu_string, 1, false, 0),
};

const unsigned int emu_nr_semantics =
	sizeof(emu_semantics) / sizeof(emu_semantics[0]);
