/* SPDX-License-Identifier: MIT */
/*
 * MOVS and STOS, with and without REP (SDM Vol. 2 MOVS/STOS, REP): the
 * destination is ES:rDI (ES cannot be overridden; its base is 0 in 64-bit
 * mode), the source DS:rSI (overridable); rSI/rDI move by the element size
 * forwards or backwards as RFLAGS.DF says; with REP, rCX counts down and a
 * count of 0 does nothing. The address size picks SI/ESI/RSI, DI/EDI/RDI
 * and CX/ECX/RCX.
 *
 * Consecutive elements that lie in one page (of both source and
 * destination) are handed to the callbacks as one access, so that clearing a
 * page with REP STOSQ costs one callback, not 512. A fault there means the
 * first element of the batch faults (same page, same permissions), so
 * registers reflect exactly the iterations completed, as the SDM requires
 * for a fault in the middle of a REP string operation. Overlapping MOVS
 * batches are cut to the distance between source and destination, which
 * gives the element-by-element result.
 */
#include <string.h>

#include "emu_internal.h"

#define PAGE 4096u

/* Elements of size at ea (moving by dir) that stay within one page. */
static uint64_t fit_in_page(uint64_t la, unsigned int size, bool down)
{
	uint64_t off = la & (PAGE - 1);

	if (off + size > PAGE)
		return 0;
	return down ? off / size + 1 : (PAGE - off) / size;
}

/* Elements that stay inside the address-size range (16/32-bit wrap). */
static uint64_t fit_in_range(uint64_t ea, uint64_t amask, unsigned int size,
			     bool down)
{
	if (amask == ~0ULL)
		return ~0ULL;
	if (ea + size - 1 > amask)
		return 0;
	return down ? ea / size + 1 : (amask - ea + 1) / size;
}

struct strop {
	bool down, movs;
	unsigned int size, src_seg;
	uint64_t amask;
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * One batch of at most max elements at the current rSI/rDI. *n receives the
 * number done.
 */
static int batch(struct emu_exec *x, const struct strop *s, uint64_t max,
		 uint64_t *n)
{
	uint8_t buf[PAGE];
	uint64_t di = x->r->gpr[VMMU_RDI] & s->amask;
	uint64_t si = x->r->gpr[VMMU_RSI] & s->amask;
	uint64_t k, back, dla, sla, dist, cnt;
	int rc;

	cnt = min_u64(max, fit_in_range(di, s->amask, s->size, s->down));
	if (s->movs)
		cnt = min_u64(cnt, fit_in_range(si, s->amask, s->size, s->down));
	if (!cnt)
		return EMU_UNH;
	rc = emu_check_la(x, VMMU_SEG_ES, di, s->size, &dla);
	if (!rc && s->movs)
		rc = emu_check_la(x, s->src_seg, si, s->size, &sla);
	if (rc)
		return rc;
	cnt = min_u64(cnt, fit_in_page(dla, s->size, s->down));
	if (s->movs) {
		cnt = min_u64(cnt, fit_in_page(sla, s->size, s->down));
		dist = dla > sla ? dla - sla : sla - dla;
		if (dist && dist < cnt * s->size)
			cnt = dist / s->size;
	}
	if (!cnt)
		cnt = 1;
	back = s->down ? (cnt - 1) * s->size : 0;
	if (s->movs) {
		rc = emu_read(x, sla - back, buf, (unsigned int)(cnt * s->size));
	} else {
		/* Replicate the element by doubling: log2(cnt) copies. */
		memcpy(buf, &x->r->gpr[VMMU_RAX], s->size);
		for (k = s->size; k < cnt * s->size; k *= 2)
			memcpy(buf + k, buf, k < cnt * s->size - k ? k :
			       cnt * s->size - k);
	}
	if (!rc)
		rc = emu_write(x, dla - back, buf, (unsigned int)(cnt * s->size));
	if (rc)
		return rc;
	*n = cnt;
	return EMU_OK;
}

static void advance(struct emu_exec *x, unsigned int reg,
		    const struct strop *s, uint64_t n)
{
	uint64_t delta = n * s->size;
	uint64_t v = x->r->gpr[reg];

	v = s->down ? v - delta : v + delta;
	emu_set_gpr(x, reg, false, x->in->addr_size, v);
}

int emu_string(struct emu_exec *x)
{
	const struct emu_insn *in = x->in;
	struct strop s;
	uint64_t count, done = 0, n = 0;
	uint64_t saved[VMMU_RDI - VMMU_RCX + 1];   /* RCX .. RDI */
	int rc;

	s.movs = !emu_semantics[in->sem].param;
	if (in->opcode != (s.movs ? 0xa4 : 0xaa) &&
	    in->opcode != (s.movs ? 0xa5 : 0xab))
		return EMU_UNH;     /* e.g. SSE MOVSD shares the capstone id */
	s.size = in->op[0].size;
	s.down = x->r->rflags & VMMU_RFLAGS_DF;
	s.amask = emu_mask(in->addr_size);
	s.src_seg = in->seg_override != EMU_SEG_DEFAULT ? in->seg_override :
		    VMMU_SEG_DS;
	count = in->rep ? x->r->gpr[VMMU_RCX] & s.amask : 1;
	/*
	 * REP with a 32-bit address size and a count of 0 in 64-bit mode:
	 * this AMD CPU still zero-extends RCX, RDI (and RSI for MOVS); the
	 * SDM does not say so, so with any of their upper halves set the
	 * result is vendor-specific: report it, do not guess.
	 */
	if (in->rep && !count && in->mode == 64 && in->addr_size == 4 &&
	    ((x->r->gpr[VMMU_RCX] | x->r->gpr[VMMU_RDI] |
	      (s.movs ? x->r->gpr[VMMU_RSI] : 0)) >> 32))
		return EMU_UNH;
	/*
	 * Registers advance batch by batch and stay so on an exception (the
	 * iterations done are done); a callback error aborts emulation and
	 * leaves them as they were.
	 */
	memcpy(saved, &x->r->gpr[VMMU_RCX], sizeof(saved));
	while (count) {
		if (done >= x->emu->rep_limit) {
			x->incomplete = true;
			break;
		}
		rc = batch(x, &s, min_u64(count, x->emu->rep_limit - done), &n);
		if (rc == EMU_UNH && done) {
			x->incomplete = true;
			break;
		}
		if (rc < 0)
			memcpy(&x->r->gpr[VMMU_RCX], saved, sizeof(saved));
		if (rc)
			return rc;
		advance(x, VMMU_RDI, &s, n);
		if (s.movs)
			advance(x, VMMU_RSI, &s, n);
		if (in->rep)
			emu_set_gpr(x, VMMU_RCX, false, in->addr_size,
				    x->r->gpr[VMMU_RCX] - n);
		count -= n;
		done += n;
	}
	return EMU_OK;
}
