/* SPDX-License-Identifier: MIT */
/*
 * Decode: capstone finds the instruction, its length and its operands; this
 * file translates them into struct emu_insn, vmmu's own description. Any
 * operand vmmu cannot describe exactly (segment, control, vector registers)
 * makes the instruction unhandleable rather than approximated.
 *
 * Legacy prefixes are re-read from the raw bytes (SDM Vol. 2 2.1.1) because
 * capstone does not report every one (e.g. F2 before MOVS) and because the
 * LOCK-validity rule (SDM Vol. 2, LOCK: #UD unless the destination is memory
 * and the instruction is in the lockable list) is vmmu's to apply.
 */
#include <string.h>

#include "emu_internal.h"

struct prefixes {
	bool lock, rep, repne, seg_conflict, opsize;
	uint8_t seg;
	unsigned int count;     /* legacy prefix bytes before REX/opcode */
	int lock_pos;           /* offset of the first F0, -1 if none */
};

static uint8_t seg_of_prefix(uint8_t b)
{
	switch (b) {
	case 0x26: return VMMU_SEG_ES;
	case 0x2e: return VMMU_SEG_CS;
	case 0x36: return VMMU_SEG_SS;
	case 0x3e: return VMMU_SEG_DS;
	case 0x64: return VMMU_SEG_FS;
	case 0x65: return VMMU_SEG_GS;
	default: return EMU_SEG_DEFAULT;
	}
}

static void scan_prefixes(const uint8_t *b, size_t len, unsigned int mode,
			  struct prefixes *p)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	p->seg = EMU_SEG_DEFAULT;
	p->lock_pos = -1;
	for (i = 0; i < len && i < EMU_MAX_INSN_LEN; i++) {
		uint8_t s = seg_of_prefix(b[i]);

		if (s != EMU_SEG_DEFAULT) {
			if (p->seg != EMU_SEG_DEFAULT && p->seg != s)
				p->seg_conflict = true;
			p->seg = s;
		} else if (b[i] == 0xf0) {
			if (p->lock_pos < 0)
				p->lock_pos = (int)i;
			p->lock = true;
		} else if (b[i] == 0xf3) {
			p->rep = true;
		} else if (b[i] == 0xf2) {
			p->repne = true;
		} else if (b[i] == 0x66) {
			p->opsize = true;
		} else if (b[i] != 0x67 &&
			   !(mode == 64 && (b[i] & 0xf0) == 0x40)) {
			/* A REX byte followed by legacy prefixes is ignored. */
			break;
		}
	}
	p->count = (unsigned int)i;
}

/* Capstone register -> GPR index, width, high-byte flag. */
#define GPR_CASES(n, r8, r16, r32, r64) \
	case X86_REG_##r8: o->reg = n; o->size = 1; return true; \
	case X86_REG_##r16: o->reg = n; o->size = 2; return true; \
	case X86_REG_##r32: o->reg = n; o->size = 4; return true; \
	case X86_REG_##r64: o->reg = n; o->size = 8; return true;

static bool map_gpr(x86_reg r, struct emu_operand *o)
{
	o->high8 = false;
	switch (r) {
	GPR_CASES(VMMU_RAX, AL, AX, EAX, RAX)
	GPR_CASES(VMMU_RCX, CL, CX, ECX, RCX)
	GPR_CASES(VMMU_RDX, DL, DX, EDX, RDX)
	GPR_CASES(VMMU_RBX, BL, BX, EBX, RBX)
	GPR_CASES(VMMU_RSP, SPL, SP, ESP, RSP)
	GPR_CASES(VMMU_RBP, BPL, BP, EBP, RBP)
	GPR_CASES(VMMU_RSI, SIL, SI, ESI, RSI)
	GPR_CASES(VMMU_RDI, DIL, DI, EDI, RDI)
	GPR_CASES(VMMU_R8, R8B, R8W, R8D, R8)
	GPR_CASES(VMMU_R9, R9B, R9W, R9D, R9)
	GPR_CASES(VMMU_R10, R10B, R10W, R10D, R10)
	GPR_CASES(VMMU_R11, R11B, R11W, R11D, R11)
	GPR_CASES(VMMU_R12, R12B, R12W, R12D, R12)
	GPR_CASES(VMMU_R13, R13B, R13W, R13D, R13)
	GPR_CASES(VMMU_R14, R14B, R14W, R14D, R14)
	GPR_CASES(VMMU_R15, R15B, R15W, R15D, R15)
	case X86_REG_AH: o->reg = VMMU_RAX; break;
	case X86_REG_CH: o->reg = VMMU_RCX; break;
	case X86_REG_DH: o->reg = VMMU_RDX; break;
	case X86_REG_BH: o->reg = VMMU_RBX; break;
	default:
		return false;
	}
	o->size = 1;
	o->high8 = true;
	return true;
}

/* Address register (any width; the address size masks the sum). */
static bool map_addr_reg(x86_reg r, uint8_t *out)
{
	struct emu_operand o;

	if (r == X86_REG_INVALID) {
		*out = EMU_REG_NONE;
		return true;
	}
	if (r == X86_REG_RIP || r == X86_REG_EIP) {
		*out = EMU_REG_RIP;
		return true;
	}
	if (!map_gpr(r, &o) || o.high8 || o.size == 1)
		return false;
	*out = o.reg;
	return true;
}

/* Immediate from the instruction bytes, sign-extended from its width. */
static int64_t raw_imm(const cs_insn *ci, const cs_x86_op *op)
{
	const cs_x86_encoding *enc = &ci->detail->x86.encoding;
	uint64_t v = 0;
	unsigned int i, n = enc->imm_size;

	if (!n || n > 8 || enc->imm_offset + n > ci->size)
		return op->imm;
	for (i = 0; i < n; i++)
		v |= (uint64_t)ci->bytes[enc->imm_offset + i] << (8 * i);
	if (n < 8 && (v >> (8 * n - 1)) & 1)
		v |= ~0ULL << (8 * n);
	return (int64_t)v;
}

static bool convert_mem(const cs_x86_op *op, const struct prefixes *p,
			struct emu_operand *o)
{
	o->kind = OPK_MEM;
	if (!map_addr_reg(op->mem.base, &o->base) ||
	    !map_addr_reg(op->mem.index, &o->index) ||
	    o->index == EMU_REG_RIP)
		return false;
	o->scale = (uint8_t)(o->index == EMU_REG_NONE ? 1 : op->mem.scale);
	if (o->scale != 1 && o->scale != 2 && o->scale != 4 && o->scale != 8)
		return false;
	o->val = op->mem.disp;
	/* SDM Vol. 1 3.7.5: SS is the default segment for rBP/rSP bases. */
	if (p->seg != EMU_SEG_DEFAULT)
		o->seg = p->seg;
	else if (o->base == VMMU_RSP || o->base == VMMU_RBP)
		o->seg = VMMU_SEG_SS;
	else
		o->seg = VMMU_SEG_DS;
	return true;
}

static bool convert_operands(const cs_insn *ci, const struct prefixes *p,
			     struct emu_insn *out)
{
	const cs_x86 *d = &ci->detail->x86;
	unsigned int i;

	if (d->op_count > EMU_MAX_OPS)
		return false;
	out->nops = d->op_count;
	for (i = 0; i < d->op_count; i++) {
		const cs_x86_op *op = &d->operands[i];
		struct emu_operand *o = &out->op[i];

		memset(o, 0, sizeof(*o));
		switch (op->type) {
		case X86_OP_REG:
			o->kind = OPK_REG;
			if (!map_gpr(op->reg, o))
				return false;
			break;
		case X86_OP_IMM:
			o->kind = OPK_IMM;
			o->val = raw_imm(ci, op);
			break;
		case X86_OP_MEM:
			if (!convert_mem(op, p, o))
				return false;
			break;
		default:
			return false;
		}
		if (op->type != X86_OP_REG)
			o->size = op->size;
		if (o->size != op->size)
			return false;
		/* Only CMPXCHG16B has a 16-byte operand; nothing else is wider. */
		if (o->size != 1 && o->size != 2 && o->size != 4 &&
		    o->size != 8 && !(o->size == 16 && o->kind == OPK_MEM &&
				      ci->id == X86_INS_CMPXCHG16B))
			return false;
	}
	return true;
}

static bool is_string(unsigned int id)
{
	return id == X86_INS_MOVSB || id == X86_INS_MOVSW ||
	       id == X86_INS_MOVSD || id == X86_INS_MOVSQ ||
	       id == X86_INS_STOSB || id == X86_INS_STOSW ||
	       id == X86_INS_STOSD || id == X86_INS_STOSQ;
}

/*
 * Element size of MOVS/STOS from the encoding (SDM Vol. 2 2.2.1.2 and
 * 3.6): A4/AA bytes; A5/AB operand size from the mode, 66 and REX.W. Done
 * here because capstone 4 reports "66 F3 A5" as REP MOVSD.
 */
static bool string_size(const struct emu_insn *out, const struct prefixes *p,
			uint8_t *size)
{
	uint8_t op = out->bytes[out->len - 1];
	uint8_t rex = out->len >= 2 ? out->bytes[out->len - 2] : 0;

	if (op == 0xa4 || op == 0xaa) {
		*size = 1;
		return true;
	}
	if (op != 0xa5 && op != 0xab)
		return false;
	if (out->mode == 64 && (rex & 0xf8) == 0x48)
		*size = 8;
	else if (out->mode == 16)
		*size = p->opsize ? 4 : 2;
	else
		*size = p->opsize ? 2 : 4;
	return true;
}

static unsigned int mode_index(unsigned int mode)
{
	return mode == 16 ? 0 : mode == 32 ? 1 : 2;
}

static bool disasm(struct vmmu_emu *emu, unsigned int mode,
		   const uint8_t *buf, size_t avail)
{
	const uint8_t *code = buf;
	size_t size = avail;
	uint64_t addr = 0;
	unsigned int m = mode_index(mode);

	return cs_disasm_iter(emu->cs[m], &code, &size, &addr, emu->csi[m]);
}

static bool lock_allowed(const struct emu_insn *out, unsigned int id)
{
	if (!emu_semantics[out->sem].lockable || out->nops < 1)
		return false;
	if (out->op[0].kind == OPK_MEM)
		return true;
	/* XCHG's memory operand may come second in capstone's order. */
	return id == X86_INS_XCHG && out->nops == 2 &&
	       out->op[1].kind == OPK_MEM;
}

/*
 * Capstone refuses LOCK on forms that do not allow it (lock mov, lock add
 * with a register destination). The CPU raises #UD for those (SDM Vol. 2,
 * LOCK), so decode again without the F0 byte: if the rest is an instruction
 * vmmu knows, the answer is #UD with the full length.
 */
static bool decode_without_lock(struct vmmu_emu *emu, unsigned int mode,
				const uint8_t *buf, size_t avail,
				const struct prefixes *p)
{
	uint8_t tmp[EMU_MAX_INSN_LEN];
	size_t n = avail > EMU_MAX_INSN_LEN ? EMU_MAX_INSN_LEN : avail;

	if (p->lock_pos < 0 || n < 2)
		return false;
	memcpy(tmp, buf, (size_t)p->lock_pos);
	memcpy(tmp + p->lock_pos, buf + p->lock_pos + 1,
	       n - (size_t)p->lock_pos - 1);
	return disasm(emu, mode, tmp, n - 1);
}

static void set_mnemonic(struct emu_insn *out, const char *pre,
			 const char *mn)
{
	size_t a = strlen(pre), b = strlen(mn);

	if (a >= VMMU_EMU_MNEMONIC_MAX)
		a = VMMU_EMU_MNEMONIC_MAX - 1;
	if (a + b >= VMMU_EMU_MNEMONIC_MAX)
		b = VMMU_EMU_MNEMONIC_MAX - 1 - a;
	memcpy(out->mnemonic, pre, a);
	memcpy(out->mnemonic + a, mn, b);
	out->mnemonic[a + b] = 0;
}

/*
 * Decode the instruction at buf (avail bytes valid). Returns 0 with
 * out->len == 0 if nothing decodes; out->sem == 0 if vmmu has no
 * semantics for it.
 */
int emu_decode(struct vmmu_emu *emu, unsigned int mode, const uint8_t *buf,
	       size_t avail, struct emu_insn *out)
{
	cs_insn *ci = emu->csi[mode_index(mode)];
	struct prefixes p;
	bool stripped = false;

	memset(out, 0, sizeof(*out));
	out->mode = (uint8_t)mode;
	scan_prefixes(buf, avail, mode, &p);
	if (!disasm(emu, mode, buf, avail)) {
		if (!decode_without_lock(emu, mode, buf, avail, &p))
			return 0;
		stripped = true;
	}
	out->len = (uint8_t)(ci->size + (stripped ? 1 : 0));
	memcpy(out->bytes, buf, out->len);
	set_mnemonic(out, stripped ? "lock " : "", ci->mnemonic);
	out->lock = p.lock;
	out->rep = p.rep;
	out->seg_override = p.seg;
	out->addr_size = ci->detail->x86.addr_size;
	out->opcode = ci->detail->x86.opcode[0] == 0x0f ?
		      ci->detail->x86.opcode[1] : ci->detail->x86.opcode[0];
	if (ci->id >= X86_INS_ENDING || !emu->sem_of_id[ci->id])
		return 0;
	/* Conflicting prefixes: what the CPU does is not architectural. */
	if (p.seg_conflict || (p.rep && p.repne) ||
	    (out->addr_size != 2 && out->addr_size != 4 &&
	     out->addr_size != 8))
		return 0;
	if (p.repne && is_string(ci->id))
		return 0;
	/*
	 * Capstone 4 reports the wrong operand size when 66 comes with F2/F3
	 * (the differential test found "66 F2 81 /7 iw" decoded as a 32-bit
	 * CMP). String instructions get their size from the bytes below;
	 * anything else with both prefixes is reported, not guessed.
	 */
	if (p.opsize && (p.rep || p.repne) && !is_string(ci->id))
		return 0;
	if (!convert_operands(ci, &p, out))
		return 0;
	if (is_string(ci->id) && !stripped &&
	    !string_size(out, &p, &out->op[0].size))
		return 0;
	out->sem = emu->sem_of_id[ci->id];
	/* Capstone refused a form vmmu would allow: do not guess. */
	if (stripped && lock_allowed(out, ci->id)) {
		out->sem = 0;
		return 0;
	}
	out->ud = out->lock && !lock_allowed(out, ci->id);
	/*
	 * MOVNTI is "NP 0F C3": a 66, F2 or F3 prefix makes it #UD (SDM Vol. 2
	 * 3.1.1.1; this CPU agrees).
	 */
	if (ci->id == X86_INS_MOVNTI && (p.opsize || p.rep || p.repne))
		out->ud = true;
	return 0;
}
