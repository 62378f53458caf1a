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
#define FILL_HEAD 256u  /* bytes of a STOS pattern stored word by word */

/*
 * Elements of 1 << shift bytes at la (moving down or up) that stay within
 * one page. Element sizes are powers of two: shifts, not divisions, on a
 * path every REP batch takes.
 */
static uint64_t fit_in_page(uint64_t la, unsigned int shift, bool down)
{
	uint64_t off = la & (PAGE - 1);

	if (off + (1u << shift) > PAGE)
		return 0;
	return down ? (off >> shift) + 1 : (PAGE - off) >> shift;
}

/* Elements that stay inside the address-size range (16/32-bit wrap). */
static uint64_t fit_in_range(uint64_t ea, uint64_t amask, unsigned int shift,
			     bool down)
{
	if (amask == ~0ULL)
		return ~0ULL;
	if (ea + (1u << shift) - 1 > amask)
		return 0;
	return down ? (ea >> shift) + 1 : (amask - ea + 1) >> shift;
}

struct strop {
	bool down, movs;
	unsigned int size, shift, src_seg;     /* size == 1 << shift */
	uint64_t amask;
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The source of a STOS of zeros (clearing a page): nothing to fill. */
static const uint8_t zero_page[PAGE];

/*
 * len bytes of the STOS element (the low size bytes of val): the zero page
 * for 0 (a guest clearing a page: nothing to fill); a memset for an element
 * of one repeated byte (any STOSB); else buf with the element replicated.
 */
static const uint8_t *fill(uint8_t *buf, uint64_t val, unsigned int size,
			   uint64_t len)
{
	static const uint64_t spread[9] = {
		[1] = 0x0101010101010101ULL, [2] = 0x0001000100010001ULL,
		[4] = 0x0000000100000001ULL, [8] = 1,
	};
	uint64_t mask = emu_mask(size), word, k, head;

	val &= mask;
	if (!val)
		return zero_page;
	if (val == ((val & 0xff) * spread[1] & mask)) {
		memset(buf, (int)(val & 0xff), len);
		return buf;
	}
	/*
	 * The element repeated over a 64-bit word (size divides 8), stored
	 * up to FILL_HEAD bytes (len rounded up to 8 stays within the page),
	 * then doubled with memcpy.
	 */
	word = val * spread[size];
	head = len < FILL_HEAD ? len : FILL_HEAD;
	for (k = 0; k < head; k += 8)
		memcpy(buf + k, &word, 8);
	for (k = head; k < len; k *= 2)
		memcpy(buf + k, buf, k < len - k ? k : len - k);
	return buf;
}

/*
 * One batch of at most max elements at the current rSI/rDI. *n receives the
 * number done.
 */
static int batch(struct emu_exec *x, const struct strop *s, uint64_t max,
		 uint64_t *n)
{
	uint8_t buf[PAGE];
	const uint8_t *src;
	uint64_t di = x->r->gpr[VMMU_RDI] & s->amask;
	uint64_t si = x->r->gpr[VMMU_RSI] & s->amask;
	uint64_t back, dla, sla = 0, dist, cnt;  /* sla: set when s->movs */
	int rc;

	cnt = min_u64(max, fit_in_range(di, s->amask, s->shift, s->down));
	if (s->movs)
		cnt = min_u64(cnt, fit_in_range(si, s->amask, s->shift,
						s->down));
	if (!cnt)
		return EMU_UNH;
	rc = emu_check_la(x, VMMU_SEG_ES, di, s->size, &dla);
	if (!rc && s->movs)
		rc = emu_check_la(x, s->src_seg, si, s->size, &sla);
	if (rc)
		return rc;
	cnt = min_u64(cnt, fit_in_page(dla, s->shift, s->down));
	if (s->movs) {
		cnt = min_u64(cnt, fit_in_page(sla, s->shift, s->down));
		dist = dla > sla ? dla - sla : sla - dla;
		if (dist && dist < cnt * s->size)
			cnt = dist >> s->shift;
	}
	if (!cnt)
		cnt = 1;
	back = s->down ? (cnt - 1) * s->size : 0;
	if (s->movs) {
		rc = emu_read(x, sla - back, buf, (unsigned int)(cnt * s->size));
		src = buf;
	} else {
		src = fill(buf, x->r->gpr[VMMU_RAX], s->size, cnt * s->size);
	}
	if (!rc)
		rc = emu_write(x, dla - back, src, (unsigned int)(cnt * s->size));
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
	s.shift = s.size == 8 ? 3 : s.size == 4 ? 2 : s.size == 2 ? 1 : 0;
	if (s.size != 1u << s.shift)
		return EMU_UNH;
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
