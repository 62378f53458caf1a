/* SPDX-License-Identifier: MIT */
/*
 * The emulator context and the top level: fetch (page by page), look the
 * bytes up in the decoded-instruction cache or decode them, run the
 * semantics, and commit the register file only on success.
 *
 * The cache is per context: 128 sets of 4 ways, the set chosen by the first
 * two bytes and the mode. An entry is valid for any byte string that starts
 * with its own bytes (x86 decoding depends on nothing past the instruction's
 * last byte), so it needs no invalidation when guest code changes.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"

#define DEFAULT_REP_LIMIT 65536u

/* lookup() picks the next victim way with a mask. */
_Static_assert((EMU_CACHE_WAYS & (EMU_CACHE_WAYS - 1)) == 0,
	       "EMU_CACHE_WAYS must be a power of two");

static const cs_mode cs_modes[3] = { CS_MODE_16, CS_MODE_32, CS_MODE_64 };

void vmmu_emu_destroy(struct vmmu_emu *emu)
{
	unsigned int m;

	if (!emu)
		return;
	for (m = 0; m < 3; m++) {
		if (emu->csi[m])
			cs_free(emu->csi[m], 1);
		if (emu->cs[m])
			cs_close(&emu->cs[m]);
	}
	free(emu);
}

int vmmu_emu_create(struct vmmu_emu **out)
{
	struct vmmu_emu *emu;
	unsigned int m, i;

	if (!out)
		return VMMU_EINVAL;
	*out = NULL;
	emu = calloc(1, sizeof(*emu));
	if (!emu)
		return VMMU_ENOMEM;
	for (m = 0; m < 3; m++) {
		if (cs_open(CS_ARCH_X86, cs_modes[m], &emu->cs[m]) != CS_ERR_OK ||
		    cs_option(emu->cs[m], CS_OPT_DETAIL, CS_OPT_ON) !=
		    CS_ERR_OK) {
			vmmu_emu_destroy(emu);
			return VMMU_ENOTSUP;
		}
		emu->csi[m] = cs_malloc(emu->cs[m]);
		if (!emu->csi[m]) {
			vmmu_emu_destroy(emu);
			return VMMU_ENOMEM;
		}
	}
	for (i = 1; i < emu_nr_semantics; i++)
		if (emu_semantics[i].id < X86_INS_ENDING)
			emu->sem_of_id[emu_semantics[i].id] = (uint8_t)i;
	emu->cache_on = true;
	emu->rep_limit = DEFAULT_REP_LIMIT;
	*out = emu;
	return VMMU_OK;
}

void vmmu_emu_set_rep_limit(struct vmmu_emu *emu, uint32_t limit)
{
	if (emu)
		emu->rep_limit = limit ? limit : 1;
}

void vmmu_emu_set_la57(struct vmmu_emu *emu, bool la57)
{
	if (emu)
		emu->la57 = la57;
}

void vmmu_emu_set_cache(struct vmmu_emu *emu, bool enabled)
{
	if (!emu)
		return;
	emu->cache_on = enabled;
	memset(emu->cache, 0, sizeof(emu->cache));
}

void vmmu_emu_get_stats(const struct vmmu_emu *emu, struct vmmu_emu_stats *st)
{
	if (emu && st)
		*st = emu->stats;
}

static unsigned int cache_set(unsigned int mode, const uint8_t *buf,
			      size_t avail)
{
	unsigned int h = buf[0] * 31u + (avail > 1 ? buf[1] : 0) * 7u + mode;

	return (h ^ (h >> 7)) & (EMU_CACHE_SETS - 1);
}

/*
 * An entry's key: its bytes as two overlapping words, bytes 0-7 and 7-14,
 * with masks for the bytes below its length (word 1 only for bytes 8 and
 * up, so instructions of up to 8 bytes have key_mask[1] == 0).
 */
static void set_key(struct emu_insn *e)
{
	unsigned int hi = e->len > 8 ? e->len - 8 : 0;

	memcpy(&e->key[0], e->bytes, 8);
	memcpy(&e->key[1], e->bytes + 7, 8);
	e->key_mask[0] = e->len >= 8 ? ~0ULL : (1ULL << (e->len * 8)) - 1;
	e->key_mask[1] = ((1ULL << (hi * 8)) - 1) << 8;
	e->key[0] &= e->key_mask[0];
	e->key[1] &= e->key_mask[1];
}

/*
 * Does e match buf, whose bytes 0-7 are w0? Bytes 7-14 are loaded only
 * for an entry longer than 8 bytes: the fetch callback has just stored
 * buf, and a load overlapping two of its stores (a 15-byte memcpy is two
 * overlapping 8-byte moves) cannot be forwarded from the store buffer and
 * stalls until the stores retire.
 */
static bool key_match(const struct emu_insn *e, const uint8_t *buf,
		      uint64_t w0)
{
	uint64_t w1;

	if ((w0 & e->key_mask[0]) != e->key[0])
		return false;
	if (!e->key_mask[1])
		return true;
	memcpy(&w1, buf + 7, 8);
	return (w1 & e->key_mask[1]) == e->key[1];
}

/*
 * The decoded form of buf (EMU_MAX_INSN_LEN bytes, those past avail zero):
 * from the cache, or decoded into a victim way.
 */
static const struct emu_insn *lookup(struct vmmu_emu *emu, unsigned int mode,
				     const uint8_t *buf, size_t avail)
{
	unsigned int set, w;
	struct emu_insn *e;
	uint64_t w0;

	if (!emu->cache_on) {
		emu_decode(emu, mode, buf, avail, &emu->uncached);
		return &emu->uncached;
	}
	set = cache_set(mode, buf, avail);
	memcpy(&w0, buf, 8);
	for (w = 0; w < EMU_CACHE_WAYS; w++) {
		e = &emu->cache[set][w];
		if (e->len && e->mode == mode && e->len <= avail &&
		    key_match(e, buf, w0)) {
			emu->stats.decode_cache_hits++;
			return e;
		}
	}
	emu->stats.decode_cache_misses++;
	e = &emu->cache[set][emu->victim[set]];
	emu->victim[set] = (uint8_t)((emu->victim[set] + 1) &
				     (EMU_CACHE_WAYS - 1));
	emu_decode(emu, mode, buf, avail, e);
	set_key(e);
	return e;
}

static uint64_t rip_mask(unsigned int mode)
{
	return mode == 64 ? ~0ULL : mode == 32 ? 0xffffffffULL : 0xffffULL;
}

static int finish(struct emu_exec *x, int rc)
{
	struct vmmu_emu_result *res = x->res;

	switch (rc) {
	case EMU_OK:
		if (!x->incomplete)
			x->r->rip = x->next_rip;
		res->status = VMMU_EMU_DONE;
		res->complete = !x->incomplete;
		return VMMU_OK;
	case EMU_EXC:
		res->status = VMMU_EMU_EXCEPTION;
		return VMMU_OK;
	case EMU_UNH:
		res->status = VMMU_EMU_UNHANDLEABLE;
		return VMMU_OK;
	case EMU_RACE:
		res->status = VMMU_EMU_RETRY;
		return VMMU_OK;
	default:
		return rc < 0 ? rc : VMMU_EINVAL;
	}
}

/*
 * Run the semantics of in on regs in place. Debug builds check the
 * invariant of struct emu_exec: a failed instruction (other than a string
 * instruction's exception) changed no register.
 */
static int execute(struct emu_exec *x)
{
	const struct emu_insn *in = x->in;
	int rc;
#ifndef NDEBUG
	struct vmmu_emu_regs before = *x->r;
#endif

	if (in->ud)
		rc = emu_raise(x, VMMU_EXC_UD, false, 0);
	else
		rc = emu_semantics[in->sem].fn(x);
#ifndef NDEBUG
	assert(rc == EMU_OK ||
	       (rc == EMU_EXC && emu_semantics[in->sem].fn == emu_string) ||
	       !memcmp(&before, x->r, sizeof(before)));
#endif
	return finish(x, rc);
}

/*
 * Decode and execute the instruction in buf. fetch_exc, when set, is the
 * fault the fetch of the bytes past avail raised: it is delivered if the
 * instruction turns out to need them.
 */
static int run(struct vmmu_emu *emu, unsigned int mode,
	       struct vmmu_emu_regs *regs, const uint8_t *buf, size_t avail,
	       const struct vmmu_emu_exception *fetch_exc,
	       const struct vmmu_emu_ops *ops, void *opaque,
	       struct vmmu_emu_result *res)
{
	const struct emu_insn *in;
	struct emu_exec x;

	in = lookup(emu, mode, buf, avail);
	if (!in->len) {
		if (fetch_exc) {
			res->exc = *fetch_exc;
			res->status = VMMU_EMU_EXCEPTION;
		} else {
			res->status = VMMU_EMU_UNHANDLEABLE;
			res->mnemonic = "(bad)";
		}
		return VMMU_OK;
	}
	res->length = in->len;
	res->mnemonic = in->mnemonic;
	res->undefined_flags = emu_semantics[in->sem].undefined;
	if (!in->sem) {
		res->status = VMMU_EMU_UNHANDLEABLE;
		return VMMU_OK;
	}
	x.emu = emu;
	x.in = in;
	x.r = regs;
	x.ops = ops;
	x.opaque = opaque;
	x.res = res;
	x.next_rip = (regs->rip + in->len) & rip_mask(mode);
	x.incomplete = false;
	return execute(&x);
}

static int check_args(struct vmmu_emu *emu, unsigned int mode,
		      struct vmmu_emu_regs *regs,
		      const struct vmmu_emu_ops *ops,
		      struct vmmu_emu_result *res)
{
	if (!emu || !regs || !ops || !res ||
	    (mode != 16 && mode != 32 && mode != 64))
		return VMMU_EINVAL;
	/* exc is meaningful only with VMMU_EMU_EXCEPTION, which fills it. */
	res->status = VMMU_EMU_UNHANDLEABLE;
	res->length = 0;
	res->complete = false;
	res->undefined_flags = 0;
	res->mnemonic = "";
	memset(&res->exc, 0, sizeof(res->exc));
	return VMMU_OK;
}

int vmmu_emulate_bytes(struct vmmu_emu *emu, unsigned int mode,
		       struct vmmu_emu_regs *regs, const uint8_t *bytes,
		       size_t len, const struct vmmu_emu_ops *ops,
		       void *opaque, struct vmmu_emu_result *result)
{
	uint8_t buf[EMU_MAX_INSN_LEN] = { 0 };
	int rc = check_args(emu, mode, regs, ops, result);

	if (rc)
		return rc;
	if (!bytes || !len)
		return VMMU_EINVAL;
	if (len > EMU_MAX_INSN_LEN)
		len = EMU_MAX_INSN_LEN;
	memcpy(buf, bytes, len);
	return run(emu, mode, regs, buf, len, NULL, ops, opaque, result);
}

/*
 * Fetch up to len bytes at la into buf. On a fault, fetch byte by byte to
 * find how many bytes before the fault are available (*got); the fault is
 * kept in *exc and matters only if the instruction needs those bytes. This
 * also serves callbacks that map code at a finer grain than pages.
 */
static int fetch(const struct vmmu_emu_ops *ops, void *opaque, uint64_t la,
		 uint8_t *buf, unsigned int len, unsigned int *got,
		 struct vmmu_emu_exception *exc)
{
	int rc = ops->fetch(opaque, la, buf, len, exc);
	unsigned int i;

	*got = len;
	if (rc != VMMU_EFAULT)
		return rc > 0 ? VMMU_EINVAL : rc;
	for (i = 0; i < len; i++) {
		rc = ops->fetch(opaque, la + i, buf + i, 1, exc);
		if (rc)
			break;
	}
	*got = i;
	if (rc != VMMU_EFAULT)
		return rc > 0 ? VMMU_EINVAL : rc;
	return VMMU_EFAULT;
}

int vmmu_emulate(struct vmmu_emu *emu, unsigned int mode,
		 struct vmmu_emu_regs *regs, const struct vmmu_emu_ops *ops,
		 void *opaque, struct vmmu_emu_result *result)
{
	uint8_t buf[EMU_MAX_INSN_LEN];
	struct vmmu_emu_exception exc;
	uint64_t la, wrap;
	unsigned int first, got, got2 = 0;
	int rc = check_args(emu, mode, regs, ops, result);

	if (rc)
		return rc;
	if (!ops->fetch)
		return VMMU_EINVAL;
	wrap = mode == 64 ? ~0ULL : 0xffffffffULL;
	la = regs->rip & rip_mask(mode);
	if (mode != 64)
		la = (la + regs->seg_base[VMMU_SEG_CS]) & wrap;
	first = (unsigned int)(VMMU_PAGE_SIZE - (la & (VMMU_PAGE_SIZE - 1)));
	if (first > EMU_MAX_INSN_LEN)
		first = EMU_MAX_INSN_LEN;
	memset(&exc, 0, sizeof(exc));
	rc = fetch(ops, opaque, la, buf, first, &got, &exc);
	if (rc == VMMU_OK && first < EMU_MAX_INSN_LEN)
		rc = fetch(ops, opaque, (la + first) & wrap, buf + first,
			   EMU_MAX_INSN_LEN - first, &got2, &exc);
	if (rc && rc != VMMU_EFAULT)
		return rc;
	if (rc == VMMU_EFAULT && got + got2 == 0) {
		result->exc = exc;
		result->status = VMMU_EMU_EXCEPTION;
		return VMMU_OK;
	}
	if (got + got2 < EMU_MAX_INSN_LEN)
		memset(buf + got + got2, 0, EMU_MAX_INSN_LEN - got - got2);
	return run(emu, mode, regs, buf, got + got2,
		   rc == VMMU_EFAULT ? &exc : NULL, ops, opaque, result);
}
