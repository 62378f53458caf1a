/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "gen.h"

const char *const gen_addr_form_names[AF_COUNT] = {
	"reg", "[base]", "[base+d8]", "[base+d32]", "[base+index*s]",
	"[base+index*s+d8]", "[base+index*s+d32]", "[index*s+d32]",
	"[d32]", "[rip+d32]", "moffs", "string", "16-bit modrm",
};

uint64_t rng_next(struct rng *r)
{
	/* xorshift64* */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

/* Values that exercise carries, signs and zero as often as random ones. */
static uint64_t interesting(struct rng *r)
{
	static const uint64_t v[] = {
		0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
		0x7fffffff, 0x80000000, 0xffffffff, 0x7fffffffffffffffULL,
		0x8000000000000000ULL, ~0ULL, 0x0f, 0x10, 0xfffffffe,
	};

	switch (rng_below(r, 4)) {
	case 0:
		return v[rng_below(r, sizeof(v) / sizeof(v[0]))];
	case 1:
		return rng_below(r, 64);
	default:
		return rng_next(r);
	}
}

/* Opcode forms (SDM Vol. 2 opcode tables). */
enum kind { K_RM_REG, K_REG_RM, K_RM_IMM, K_RM, K_MOFFS, K_STRING };
#define FB      0x01    /* byte operation */
#define FLOCK   0x02    /* LOCK allowed with a memory destination */
#define FMEM    0x04    /* memory operand only */
#define F32UP   0x08    /* no 16-bit operand size (MOVNTI) */
#define FW      0x10    /* REX.W required (CMPXCHG16B, MOVSXD) */
#define FNOW    0x20    /* no REX.W, fixed size 8 (CMPXCHG8B) */
#define FBTREG  0x40    /* BT family with a register bit offset */
#define FCMPX   0x80    /* compares against the accumulator(s) */

struct form {
	const char *name;
	uint8_t op[2], oplen, kind, digit, flags;
	int8_t imm;             /* 1, or -1 for iz (2 or 4 bytes) */
	uint8_t src;            /* MOVZX/MOVSX source size; 0 = same */
};

#define ALU(n, nm) \
	{ nm " r/m8,r8", { 0x00 + 8 * n }, 1, K_RM_REG, 0, FB | FLOCK, 0, 0 }, \
	{ nm " r/m,r", { 0x01 + 8 * n }, 1, K_RM_REG, 0, FLOCK, 0, 0 }, \
	{ nm " r8,r/m8", { 0x02 + 8 * n }, 1, K_REG_RM, 0, FB, 0, 0 }, \
	{ nm " r,r/m", { 0x03 + 8 * n }, 1, K_REG_RM, 0, 0, 0, 0 }, \
	{ nm " r/m8,imm8", { 0x80 }, 1, K_RM_IMM, n, FB | FLOCK, 1, 0 }, \
	{ nm " r/m,imm", { 0x81 }, 1, K_RM_IMM, n, FLOCK, -1, 0 }, \
	{ nm " r/m,imm8", { 0x83 }, 1, K_RM_IMM, n, FLOCK, 1, 0 }

static const struct form forms[] = {
	{ "mov r/m8,r8", { 0x88 }, 1, K_RM_REG, 0, FB, 0, 0 },
	{ "mov r/m,r", { 0x89 }, 1, K_RM_REG, 0, 0, 0, 0 },
	{ "mov r8,r/m8", { 0x8a }, 1, K_REG_RM, 0, FB, 0, 0 },
	{ "mov r,r/m", { 0x8b }, 1, K_REG_RM, 0, 0, 0, 0 },
	{ "mov r/m8,imm8", { 0xc6 }, 1, K_RM_IMM, 0, FB, 1, 0 },
	{ "mov r/m,imm", { 0xc7 }, 1, K_RM_IMM, 0, 0, -1, 0 },
	{ "mov al,moffs", { 0xa0 }, 1, K_MOFFS, 0, FB, 0, 0 },
	{ "mov rax,moffs", { 0xa1 }, 1, K_MOFFS, 0, 0, 0, 0 },
	{ "mov moffs,al", { 0xa2 }, 1, K_MOFFS, 0, FB, 0, 0 },
	{ "mov moffs,rax", { 0xa3 }, 1, K_MOFFS, 0, 0, 0, 0 },
	{ "movnti m,r", { 0x0f, 0xc3 }, 2, K_RM_REG, 0, FMEM | F32UP, 0, 0 },
	{ "xchg r/m8,r8", { 0x86 }, 1, K_RM_REG, 0, FB | FLOCK, 0, 0 },
	{ "xchg r/m,r", { 0x87 }, 1, K_RM_REG, 0, FLOCK, 0, 0 },
	{ "cmpxchg r/m8,r8", { 0x0f, 0xb0 }, 2, K_RM_REG, 0,
	  FB | FLOCK | FCMPX, 0, 0 },
	{ "cmpxchg r/m,r", { 0x0f, 0xb1 }, 2, K_RM_REG, 0, FLOCK | FCMPX, 0, 0 },
	{ "cmpxchg8b m64", { 0x0f, 0xc7 }, 2, K_RM, 1,
	  FMEM | FLOCK | FNOW | FCMPX, 0, 0 },
	{ "cmpxchg16b m128", { 0x0f, 0xc7 }, 2, K_RM, 1,
	  FMEM | FLOCK | FW | FCMPX, 0, 0 },
	{ "xadd r/m8,r8", { 0x0f, 0xc0 }, 2, K_RM_REG, 0, FB | FLOCK, 0, 0 },
	{ "xadd r/m,r", { 0x0f, 0xc1 }, 2, K_RM_REG, 0, FLOCK, 0, 0 },
	ALU(0, "add"), ALU(1, "or"), ALU(2, "adc"), ALU(3, "sbb"),
	ALU(4, "and"), ALU(5, "sub"), ALU(6, "xor"),
	{ "cmp r/m8,r8", { 0x38 }, 1, K_RM_REG, 0, FB, 0, 0 },
	{ "cmp r/m,r", { 0x39 }, 1, K_RM_REG, 0, 0, 0, 0 },
	{ "cmp r8,r/m8", { 0x3a }, 1, K_REG_RM, 0, FB, 0, 0 },
	{ "cmp r,r/m", { 0x3b }, 1, K_REG_RM, 0, 0, 0, 0 },
	{ "cmp r/m8,imm8", { 0x80 }, 1, K_RM_IMM, 7, FB, 1, 0 },
	{ "cmp r/m,imm", { 0x81 }, 1, K_RM_IMM, 7, 0, -1, 0 },
	{ "cmp r/m,imm8", { 0x83 }, 1, K_RM_IMM, 7, 0, 1, 0 },
	{ "test r/m8,r8", { 0x84 }, 1, K_RM_REG, 0, FB, 0, 0 },
	{ "test r/m,r", { 0x85 }, 1, K_RM_REG, 0, 0, 0, 0 },
	{ "test r/m8,imm8", { 0xf6 }, 1, K_RM_IMM, 0, FB, 1, 0 },
	{ "test r/m,imm", { 0xf7 }, 1, K_RM_IMM, 0, 0, -1, 0 },
	{ "inc r/m8", { 0xfe }, 1, K_RM, 0, FB | FLOCK, 0, 0 },
	{ "dec r/m8", { 0xfe }, 1, K_RM, 1, FB | FLOCK, 0, 0 },
	{ "inc r/m", { 0xff }, 1, K_RM, 0, FLOCK, 0, 0 },
	{ "dec r/m", { 0xff }, 1, K_RM, 1, FLOCK, 0, 0 },
	{ "not r/m8", { 0xf6 }, 1, K_RM, 2, FB | FLOCK, 0, 0 },
	{ "neg r/m8", { 0xf6 }, 1, K_RM, 3, FB | FLOCK, 0, 0 },
	{ "not r/m", { 0xf7 }, 1, K_RM, 2, FLOCK, 0, 0 },
	{ "neg r/m", { 0xf7 }, 1, K_RM, 3, FLOCK, 0, 0 },
	{ "bt r/m,r", { 0x0f, 0xa3 }, 2, K_RM_REG, 0, FBTREG, 0, 0 },
	{ "bts r/m,r", { 0x0f, 0xab }, 2, K_RM_REG, 0, FBTREG | FLOCK, 0, 0 },
	{ "btr r/m,r", { 0x0f, 0xb3 }, 2, K_RM_REG, 0, FBTREG | FLOCK, 0, 0 },
	{ "btc r/m,r", { 0x0f, 0xbb }, 2, K_RM_REG, 0, FBTREG | FLOCK, 0, 0 },
	{ "bt r/m,imm8", { 0x0f, 0xba }, 2, K_RM_IMM, 4, 0, 1, 0 },
	{ "bts r/m,imm8", { 0x0f, 0xba }, 2, K_RM_IMM, 5, FLOCK, 1, 0 },
	{ "btr r/m,imm8", { 0x0f, 0xba }, 2, K_RM_IMM, 6, FLOCK, 1, 0 },
	{ "btc r/m,imm8", { 0x0f, 0xba }, 2, K_RM_IMM, 7, FLOCK, 1, 0 },
	{ "setcc r/m8", { 0x0f, 0x90 }, 2, K_RM, 0, FB, 0, 0 },
	{ "movzx r,r/m8", { 0x0f, 0xb6 }, 2, K_REG_RM, 0, 0, 0, 1 },
	{ "movzx r,r/m16", { 0x0f, 0xb7 }, 2, K_REG_RM, 0, 0, 0, 2 },
	{ "movsx r,r/m8", { 0x0f, 0xbe }, 2, K_REG_RM, 0, 0, 0, 1 },
	{ "movsx r,r/m16", { 0x0f, 0xbf }, 2, K_REG_RM, 0, 0, 0, 2 },
	{ "movsxd r64,r/m32", { 0x63 }, 1, K_REG_RM, 0, FW, 0, 4 },
	{ "movs m8,m8", { 0xa4 }, 1, K_STRING, 0, FB, 0, 0 },
	{ "movs m,m", { 0xa5 }, 1, K_STRING, 0, 0, 0, 0 },
	{ "stos m8", { 0xaa }, 1, K_STRING, 0, FB, 0, 0 },
	{ "stos m", { 0xab }, 1, K_STRING, 0, 0, 0, 0 },
};

#define NFORMS (sizeof(forms) / sizeof(forms[0]))

/* Instruction encoder state. */
struct enc {
	uint8_t pfx[8];
	unsigned int npfx;
	bool w, r, x, b, rex40;
	bool modrm, sib;
	uint8_t mod, reg, rm, ss, idx, base;
	unsigned int disp_size, imm_size, moffs_size;
	uint64_t disp, imm, moffs;
	bool rip_rel;
	uint64_t rip_target;    /* RIP-relative: wanted EA (32-bit wrap ok) */
};

static size_t emit(const struct form *f, struct enc *e, uint8_t *out)
{
	size_t n = 0, disp_at = 0;
	unsigned int i;

	for (i = 0; i < e->npfx; i++)
		out[n++] = e->pfx[i];
	if (e->w || e->r || e->x || e->b || e->rex40)
		out[n++] = (uint8_t)(0x40 | e->w << 3 | e->r << 2 | e->x << 1 |
				     e->b);
	for (i = 0; i < f->oplen; i++)
		out[n++] = f->op[i];
	if (e->modrm)
		out[n++] = (uint8_t)(e->mod << 6 | (e->reg & 7) << 3 |
				     (e->rm & 7));
	if (e->sib)
		out[n++] = (uint8_t)(e->ss << 6 | (e->idx & 7) << 3 |
				     (e->base & 7));
	disp_at = n;
	for (i = 0; i < e->disp_size; i++)
		out[n++] = (uint8_t)(e->disp >> (8 * i));
	for (i = 0; i < e->moffs_size; i++)
		out[n++] = (uint8_t)(e->moffs >> (8 * i));
	for (i = 0; i < e->imm_size; i++)
		out[n++] = (uint8_t)(e->imm >> (8 * i));
	if (e->rip_rel) {
		uint32_t d = (uint32_t)(e->rip_target - (NATIVE_CODE_ADDR + n));

		for (i = 0; i < 4; i++)
			out[disp_at + i] = (uint8_t)(d >> (8 * i));
	}
	return n;
}

/* Target address for an access of size bytes (sometimes page-crossing). */
static uint64_t pick_target(struct rng *r, unsigned int size,
			    unsigned int align)
{
	uint64_t off;

	if (rng_below(r, 10) == 0 && size > 1)
		return NATIVE_DATA_ADDR + 0x1000 - 1 - rng_below(r, size - 1);
	off = 1024 + rng_below(r, NATIVE_DATA_SIZE - 2048 - size);
	if (rng_below(r, 2))
		off &= ~(uint64_t)(align - 1);
	return NATIVE_DATA_ADDR + off;
}

struct gctx {
	struct rng *r;
	const struct native_env *env;
	struct gen_case *c;
	struct enc e;
	uint64_t seg_base;
	bool fs;                /* FS override: large base, 64-bit EA only */
	bool used[16];          /* registers whose values are already fixed */
};

static void pick_segment(struct gctx *g, bool allow_fs)
{
	static const uint8_t nulls[] = { 0x26, 0x3e, 0x36, 0x2e };
	unsigned int k = (unsigned int)rng_below(g->r, 10);

	g->c->seg = -1;
	g->seg_base = 0;
	g->fs = false;
	if (g->c->mode != 64) {
		/*
		 * Compatibility / 16-bit mode: FS/GS hold null selectors (their 64-bit
		 * bases do not apply) and CS is not writable, so only the
		 * flat ES, DS, SS overrides.
		 */
		if (k < 3) {
			g->c->seg = nulls[rng_below(g->r, 3)];
			g->e.pfx[g->e.npfx++] = (uint8_t)g->c->seg;
		}
		return;
	}
	if (k == 0 && allow_fs && !g->c->addr32) {
		g->c->seg = 0x64;
		g->seg_base = g->env->fs_base;
		g->fs = true;
	} else if (k == 1 && g->env->gs_base) {
		g->c->seg = 0x65;
		g->seg_base = g->env->gs_base;
	} else if (k == 2) {
		g->c->seg = nulls[rng_below(g->r, 4)];   /* ignored in 64-bit */
	}
	if (g->c->seg >= 0)
		g->e.pfx[g->e.npfx++] = (uint8_t)g->c->seg;
}

static unsigned int pick_reg(struct gctx *g)
{
	unsigned int v;

	do
		v = (unsigned int)rng_below(g->r, g->c->mode != 64 ? 8 : 16);
	while (v == 4 || g->used[v]);
	return v;
}

static void set_reg(struct gctx *g, unsigned int reg, uint64_t v)
{
	if (g->c->addr16)
		v = (v & 0xffffULL) | (rng_next(g->r) << 16);
	else if (g->c->addr32 || g->c->mode != 64)
		v = (v & 0xffffffffULL) | (rng_next(g->r) << 32);
	g->c->ctx.gpr[reg] = v;
	g->used[reg] = true;
}

static int32_t pick_disp(struct gctx *g, enum gen_addr_form af)
{
	if (af == AF_BASE_D8 || af == AF_SIB_D8)
		return (int8_t)rng_next(g->r);
	if (af == AF_BASE_D32 || af == AF_SIB_D32 || af == AF_INDEX_D32)
		return (int32_t)rng_below(g->r, 1u << 21) - (1 << 20);
	return 0;
}

static void set_base_modrm(struct enc *e, unsigned int base,
			   enum gen_addr_form af)
{
	e->mod = af == AF_BASE ? 0 : af == AF_BASE_D8 ? 1 : 2;
	if (e->mod == 0 && (base & 7) == 5) {
		e->mod = 1;     /* [rbp]/[r13] need a disp8 of 0 */
		e->disp_size = 1;
	}
	if ((base & 7) == 4) {  /* r12 base needs a SIB byte */
		e->sib = true;
		e->rm = 4;
		e->ss = 0;
		e->idx = 4;
		e->base = (uint8_t)base;
	} else {
		e->rm = (uint8_t)base;
	}
	e->b = base >> 3;
}

/*
 * 16-bit ModRM (SDM Vol. 2 Table 2-1): [BX+SI], [BX+DI], [BP+SI], [BP+DI],
 * [SI], [DI], [BP] (disp16 alone with mod 0), [BX]; EA wraps at 64 KiB.
 */
static void gen_modrm_mem16(struct gctx *g, uint64_t target)
{
	static const int8_t first[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };
	static const int8_t second[8] = { 6, 7, 6, 7, -1, -1, -1, -1 };
	struct enc *e = &g->e;
	uint64_t want = (target - g->seg_base) & 0xffff, v1;
	unsigned int rm, mod;
	int64_t disp;

	do {
		rm = (unsigned int)rng_below(g->r, 8);
		mod = (unsigned int)rng_below(g->r, 3);
	} while (g->used[first[rm]] ||
		 (second[rm] >= 0 && g->used[second[rm]]));
	g->c->addr_form = AF_ADDR16;
	e->modrm = true;
	e->mod = (uint8_t)mod;
	e->rm = (uint8_t)rm;
	if (mod == 0 && rm == 6) {              /* [disp16] */
		e->disp_size = 2;
		e->disp = want;
		return;
	}
	disp = mod == 1 ? (int8_t)rng_next(g->r) :
	       mod == 2 ? (int16_t)rng_next(g->r) : 0;
	e->disp_size = mod == 1 ? 1 : mod == 2 ? 2 : 0;
	e->disp = (uint64_t)disp;
	v1 = rng_next(g->r) & 0xffff;
	if (second[rm] < 0) {
		set_reg(g, (unsigned int)first[rm], want - (uint64_t)disp);
		return;
	}
	set_reg(g, (unsigned int)first[rm], v1);
	set_reg(g, (unsigned int)second[rm], want - (uint64_t)disp - v1);
}

/* ModRM (+SIB, disp) for a memory operand at linear address target. */
static void gen_modrm_mem(struct gctx *g, uint64_t target)
{
	struct enc *e = &g->e;
	uint64_t want = target - g->seg_base, iv;
	unsigned int base, idx, scale;
	enum gen_addr_form af;
	int32_t disp;

	if (g->c->addr16) {
		gen_modrm_mem16(g, target);
		return;
	}
	do
		af = (enum gen_addr_form)(AF_BASE + rng_below(g->r, AF_RIP));
	while (g->fs && (af == AF_ABS32 || af == AF_RIP));
	g->c->addr_form = af;
	disp = pick_disp(g, af);
	e->disp = (uint64_t)(int64_t)disp;
	e->disp_size = af == AF_BASE_D8 || af == AF_SIB_D8 ? 1 :
		       af == AF_BASE || af == AF_SIB ? 0 : 4;
	e->modrm = true;
	scale = (unsigned int)rng_below(g->r, 4);
	switch (af) {
	case AF_BASE: case AF_BASE_D8: case AF_BASE_D32:
		base = pick_reg(g);
		set_base_modrm(e, base, af);
		set_reg(g, base, want - (uint64_t)(int64_t)disp);
		break;
	case AF_SIB: case AF_SIB_D8: case AF_SIB_D32:
		base = pick_reg(g);
		g->used[base] = true;
		idx = pick_reg(g);
		e->mod = af == AF_SIB ? 0 : af == AF_SIB_D8 ? 1 : 2;
		if (e->mod == 0 && (base & 7) == 5) {
			e->mod = 1;
			e->disp_size = 1;
		}
		e->rm = 4;
		e->sib = true;
		e->ss = (uint8_t)scale;
		e->idx = (uint8_t)idx;
		e->base = (uint8_t)base;
		e->x = idx >> 3;
		e->b = base >> 3;
		iv = (uint64_t)((int64_t)rng_below(g->r, 129) - 64);
		set_reg(g, idx, iv);
		set_reg(g, base, want - (uint64_t)(int64_t)disp - (iv << scale));
		break;
	case AF_INDEX_D32:
		idx = pick_reg(g);
		e->disp += (want - e->disp) & ((1u << scale) - 1);
		e->mod = 0;
		e->rm = 4;
		e->sib = true;
		e->ss = (uint8_t)scale;
		e->idx = (uint8_t)idx;
		e->base = 5;
		e->x = idx >> 3;
		set_reg(g, idx, (want - e->disp) >> scale);
		break;
	case AF_ABS32:
		e->mod = 0;
		e->rm = 4;
		e->sib = true;
		e->idx = 4;
		e->base = 5;
		e->disp = want & 0xffffffffULL;
		break;
	default: /* AF_RIP; in 32-bit mode the same encoding is [disp32] */
		e->mod = 0;
		e->rm = 5;
		if (g->c->mode != 64) {
			e->disp = want & 0xffffffffULL;
			e->disp_size = 4;
		} else {
			e->rip_rel = true;
			e->rip_target = want;
		}
		break;
	}
}

static void fill_memory(struct rng *r, struct gen_case *c)
{
	size_t i;

	for (i = 0; i < NATIVE_DATA_SIZE; i += 8) {
		uint64_t v = rng_below(r, 4) ? rng_next(r) : interesting(r);

		memcpy(c->mem + i, &v, 8);
	}
}

static unsigned int pick_size(struct rng *r, const struct form *f,
			      unsigned int mode)
{
	unsigned int k;

	if (f->flags & FB)
		return 1;
	if (f->flags & (FW | FNOW))
		return 8;
	k = (unsigned int)rng_below(r, mode != 64 ? 2 : 3);
	if (k == 0 && (f->flags & F32UP))
		k = 1;
	return k == 0 ? 2 : k == 1 ? 4 : 8;
}

static void gen_string(struct gctx *g, const struct form *f, unsigned int size)
{
	struct gen_case *c = g->c;
	bool rep = rng_below(g->r, 10) < 6, df = rng_below(g->r, 2);
	uint64_t count = rep ? rng_below(g->r, 41) : 1;
	uint64_t dst = pick_target(g->r, size, size), src;

	c->addr_form = AF_STRING;
	/* A count of 0 with 32-bit addressing is reported unhandleable. */
	if (c->addr32 && rep && !count)
		count = 1;
	if (rep)
		g->e.pfx[g->e.npfx++] = 0xf3;
	if (dst < NATIVE_DATA_ADDR + 1024 ||
	    dst > NATIVE_DATA_ADDR + NATIVE_DATA_SIZE - 1024)
		dst = NATIVE_DATA_ADDR + 2048;
	src = rng_below(g->r, 8) ? pick_target(g->r, size, size) :
	      dst + rng_below(g->r, 64) - 32;           /* overlapping */
	if (src < NATIVE_DATA_ADDR + 1024 ||
	    src > NATIVE_DATA_ADDR + NATIVE_DATA_SIZE - 1024)
		src = NATIVE_DATA_ADDR + 4096 + 16;
	pick_segment(g, true);
	set_reg(g, 7, dst);                             /* ES:rDI */
	set_reg(g, 6, src - (f->op[0] == 0xa4 || f->op[0] == 0xa5 ?
			     g->seg_base : 0));         /* seg:rSI */
	if (rep)
		set_reg(g, 1, count);
	if (df)
		c->ctx.rflags |= 1ULL << 10;
}

static void gen_moffs(struct gctx *g, unsigned int size)
{
	uint64_t want;

	pick_segment(g, !g->c->addr32);
	want = pick_target(g->r, size, size) - g->seg_base;
	g->c->addr_form = AF_MOFFS;
	g->e.moffs_size = g->c->addr16 ? 2 : g->c->addr32 ||
			  g->c->mode != 64 ? 4 : 8;
	g->e.moffs = g->e.moffs_size == 8 ? want :
		     want & ((1ULL << (8 * g->e.moffs_size)) - 1);
}

/* Accumulators equal to memory half of the time, so CMPXCHG succeeds. */
static void match_accumulator(struct gctx *g, uint64_t target,
			      unsigned int size, bool pair)
{
	uint64_t lo = 0, hi = 0;
	size_t off = target - NATIVE_DATA_ADDR;

	if (rng_below(g->r, 2) || off + size > NATIVE_DATA_SIZE ||
	    g->used[0] || g->used[2])
		return;
	if (size == 16) {
		memcpy(&lo, g->c->mem + off, 8);
		memcpy(&hi, g->c->mem + off + 8, 8);
	} else if (pair) {
		memcpy(&lo, g->c->mem + off, 4);        /* CMPXCHG8B */
		memcpy(&hi, g->c->mem + off + 4, 4);
		hi |= g->c->ctx.gpr[2] & ~0xffffffffULL;
		lo |= g->c->ctx.gpr[0] & ~0xffffffffULL;
	} else {
		memcpy(&lo, g->c->mem + off, size);
		lo |= g->c->ctx.gpr[0] & ~((size == 8) ? ~0ULL :
					   (1ULL << (size * 8)) - 1);
		hi = g->c->ctx.gpr[2];
	}
	g->c->ctx.gpr[0] = lo;
	g->c->ctx.gpr[2] = hi;
}

static void shuffle_prefixes(struct rng *r, struct enc *e)
{
	unsigned int i, j;
	uint8_t t;

	for (i = e->npfx; i > 1; i--) {
		j = (unsigned int)rng_below(r, i);
		t = e->pfx[i - 1];
		e->pfx[i - 1] = e->pfx[j];
		e->pfx[j] = t;
	}
}

/* Byte registers 4-7 mean AH..BH without REX and SPL..DIL with it. */
static bool byte_regs_ok(const struct form *f, const struct enc *e)
{
	bool rex = e->w || e->r || e->x || e->b || e->rex40;

	if (!rex)
		return true;
	if ((f->flags & FB) && (f->kind == K_RM_REG || f->kind == K_REG_RM) &&
	    e->reg == 4)
		return false;   /* SPL */
	if (e->mod == 3 && e->rm == 4 && ((f->flags & FB) || f->src == 1))
		return false;
	return true;
}

static void set_bit_offset(struct gctx *g, unsigned int reg, unsigned int size)
{
	uint64_t mask = size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
	uint64_t v = (uint64_t)((int64_t)rng_below(g->r, 4096) - 2048);

	g->c->ctx.gpr[reg] = (rng_next(g->r) & ~mask) | (v & mask);
}

/* ModRM-based forms: the register operand, then r/m, immediates. */
static void gen_modrm(struct gctx *g, struct form *f, unsigned int size,
		      unsigned int mem_size)
{
	struct enc *e = &g->e;
	unsigned int reg = 0;
	uint64_t target = 0;
	bool byte_reg = f->flags & FB;

	if (f->kind == K_RM_REG || f->kind == K_REG_RM) {
		reg = byte_reg ? (unsigned int)rng_below(g->r, g->c->mode != 64 ?
							 8 : 16) : pick_reg(g);
		e->reg = (uint8_t)reg;
		e->r = reg >> 3;
		if (f->flags & FBTREG)
			g->used[reg] = true;
	} else {
		e->reg = f->digit;
		if (f->op[1] == 0x90)   /* SETcc: the condition is the opcode */
			f->op[1] = (uint8_t)(0x90 + rng_below(g->r, 16));
	}
	/* A failing 32-bit CMPXCHG to a register is reported unhandleable. */
	if (!(f->flags & FMEM) && rng_below(g->r, 10) == 0 &&
	    !((f->flags & FCMPX) && size == 4)) {
		unsigned int rm = byte_reg || f->src == 1 ?
				  (unsigned int)rng_below(g->r, g->c->mode != 64 ?
							  8 : 16) : pick_reg(g);

		e->modrm = true;
		e->mod = 3;
		e->rm = (uint8_t)rm;
		e->b = rm >> 3;
		g->c->addr_form = AF_REG;
		g->c->seg = -1;
	} else {
		pick_segment(g, true);
		target = pick_target(g->r, mem_size, mem_size);
		if (mem_size == 16 && rng_below(g->r, 10))
			target &= ~15ULL;
		gen_modrm_mem(g, target);
		if ((f->flags & FLOCK) && rng_below(g->r, 2))
			e->pfx[e->npfx++] = 0xf0;
		if (f->flags & FCMPX)
			match_accumulator(g, target, mem_size, f->kind == K_RM);
	}
	if (f->flags & FBTREG)
		set_bit_offset(g, reg, size);
	if (f->imm) {
		e->imm_size = f->imm == 1 ? 1 : size == 2 ? 2 : 4;
		e->imm = interesting(g->r);
	}
}

static bool try_gen(struct rng *r, const struct native_env *env,
		    unsigned int mode, struct gen_case *c)
{
	struct gctx g;
	struct form f = forms[rng_below(r, NFORMS)];
	unsigned int size, mem_size, i;
	bool p67;

	memset(&g, 0, sizeof(g));
	g.r = r;
	g.env = env;
	g.c = c;
	memset(c, 0, sizeof(*c));
	c->mode = mode;
	if (mode != 64 && (f.flags & FW))
		return false;   /* needs REX.W */
	c->form = forms[0].name;
	for (i = 0; i < NFORMS; i++)
		if (!strcmp(forms[i].name, f.name))
			c->form = forms[i].name;
	for (i = 0; i < 16; i++)
		c->ctx.gpr[i] = interesting(r);
	c->ctx.rflags = 2 | (rng_next(r) & 0x8d5);
	fill_memory(r, c);
	c->seg = -1;
	/* 67 toggles 64->32, 32->16 and 16->32-bit addressing. */
	p67 = rng_below(r, 5) == 0;
	c->addr32 = mode == 64 && p67;
	c->addr16 = (mode == 32 && p67) || (mode == 16 && !p67);
	if (p67)
		g.e.pfx[g.e.npfx++] = 0x67;
	size = pick_size(r, &f, mode);
	if ((mode == 16) ? size == 4 : size == 2)
		g.e.pfx[g.e.npfx++] = 0x66;
	g.e.w = size == 8 && !(f.flags & FNOW);
	mem_size = f.src ? f.src : (f.flags & FW) && f.kind == K_RM ? 16 : size;
	if (f.kind == K_STRING)
		gen_string(&g, &f, size);
	else if (f.kind == K_MOFFS)
		gen_moffs(&g, size);
	else
		gen_modrm(&g, &f, size, mem_size);
	/*
	 * Now and then F2/F3 on a non-string form (ignored, an HLE hint, or
	 * #UD where the opcode forbids it) and 66 on CMPXCHG8B.
	 */
	if ((f.flags & FNOW) && rng_below(r, 10) == 0 && g.e.npfx < 8)
		g.e.pfx[g.e.npfx++] = 0x66;
	if (f.kind != K_STRING && rng_below(r, 25) == 0 && g.e.npfx < 8 &&
	    !memchr(g.e.pfx, 0x66, g.e.npfx))   /* 66 with F2/F3: reported */
		g.e.pfx[g.e.npfx++] = rng_below(r, 2) ? 0xf2 : 0xf3;
	/* Now and then a LOCK where it is not allowed: #UD expected. */
	if (rng_below(r, 40) == 0 && g.e.npfx < 8 &&
	    !memchr(g.e.pfx, 0xf0, g.e.npfx))
		g.e.pfx[g.e.npfx++] = 0xf0;
	shuffle_prefixes(r, &g.e);
	g.e.rex40 = mode == 64 && rng_below(r, 10) == 0;
	if (!byte_regs_ok(&f, &g.e))
		return false;
	c->len = emit(&f, &g.e, c->code);
	return c->len <= 15;    /* longer: #GP(0), not an emulation case */
}

void gen_case(struct rng *r, const struct native_env *env, unsigned int mode,
	      struct gen_case *c)
{
	while (!try_gen(r, env, mode, c))
		;
}
