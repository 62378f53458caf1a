/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "vmmu/error.h"

#define COMPARED_FLAGS (VMMU_RFLAGS_ARITH | VMMU_RFLAGS_DF)

static bool in_data(uint64_t la, unsigned int len)
{
	return la >= NATIVE_DATA_ADDR && len <= NATIVE_DATA_SIZE &&
	       la - NATIVE_DATA_ADDR <= NATIVE_DATA_SIZE - len;
}

/* Unmapped bytes fault; the first such byte is CR2 (as the CPU reports). */
static int access_check(struct differ *d, uint64_t la, unsigned int len,
			uint32_t ec, struct vmmu_emu_exception *exc)
{
	if (in_data(la, len))
		return 0;
	d->access_violations++;
	if (la >= NATIVE_DATA_ADDR && la < NATIVE_DATA_ADDR + NATIVE_DATA_SIZE)
		return vmmu_emu_page_fault(exc, NATIVE_DATA_ADDR + NATIVE_DATA_SIZE,
					   ec);
	return vmmu_emu_page_fault(exc, la, ec);
}

static int cb_fetch(void *opaque, uint64_t la, void *buf, unsigned int len,
		    struct vmmu_emu_exception *exc)
{
	struct differ *d = opaque;

	if (la < NATIVE_CODE_ADDR || la - NATIVE_CODE_ADDR + len > 4096)
		return vmmu_emu_page_fault(exc, la, 0x10);
	memcpy(buf, d->code + (la - NATIVE_CODE_ADDR), len);
	return 0;
}

static int cb_read(void *opaque, uint64_t la, void *buf, unsigned int len,
		   struct vmmu_emu_exception *exc)
{
	struct differ *d = opaque;
	int rc = access_check(d, la, len, 0, exc);

	if (!rc)
		memcpy(buf, d->mem + (la - NATIVE_DATA_ADDR), len);
	return rc;
}

static int cb_write(void *opaque, uint64_t la, const void *buf,
		    unsigned int len, struct vmmu_emu_exception *exc)
{
	struct differ *d = opaque;
	int rc = access_check(d, la, len, 2, exc);

	if (!rc)
		memcpy(d->mem + (la - NATIVE_DATA_ADDR), buf, len);
	return rc;
}

static int cb_cmpxchg(void *opaque, uint64_t la, void *old,
		      const void *new_val, unsigned int len,
		      struct vmmu_emu_exception *exc)
{
	struct differ *d = opaque;
	int rc = access_check(d, la, len, 2, exc);

	if (rc)
		return rc;
	return vmmu_emu_host_cmpxchg(d->mem + (la - NATIVE_DATA_ADDR), old,
				     new_val, len);
}

static const struct vmmu_emu_ops diff_ops = {
	.fetch = cb_fetch, .read = cb_read, .write = cb_write,
	.cmpxchg = cb_cmpxchg,
};

int differ_init(struct differ *d)
{
	memset(d, 0, sizeof(*d));
	d->report_limit = 20;
	if (native_init(&d->env) < 0)
		return -1;
	if (vmmu_emu_create(&d->emu) < 0) {
		native_fini(&d->env);
		fprintf(stderr, "diff: cannot create the emulator\n");
		return -1;
	}
	return 0;
}

void differ_fini(struct differ *d)
{
	vmmu_emu_destroy(d->emu);
	native_fini(&d->env);
}

unsigned int differ_mode_for(const struct differ *d, uint64_t i)
{
	switch (i % 8) {
	case 5: case 6:
		return 32;
	case 7:
		return d->env.sel16 ? 16 : 32;
	default:
		return 64;
	}
}

static struct diff_count *count_for(struct differ *d, const char *key)
{
	unsigned int i;

	for (i = 0; i < d->nkeys; i++)
		if (!strcmp(d->by_insn[i].key, key))
			return &d->by_insn[i];
	if (d->nkeys < DIFF_MAX_KEYS - 1) {
		snprintf(d->by_insn[d->nkeys].key, sizeof(d->by_insn[0].key),
			 "%s", key);
		return &d->by_insn[d->nkeys++];
	}
	/* Table full: the last slot counts everything else. */
	if (d->nkeys == DIFF_MAX_KEYS - 1)
		snprintf(d->by_insn[d->nkeys++].key, sizeof(d->by_insn[0].key),
			 "(other)");
	return &d->by_insn[DIFF_MAX_KEYS - 1];
}

static void dump_case(FILE *out, const struct gen_case *c, const char *why)
{
	size_t i;

	fprintf(out, "CASE (%s): mode %u form '%s' addr %s seg %d addr32 %d "
		"addr16 %d bytes ", why, c->mode, c->form,
		gen_addr_form_names[c->addr_form], c->seg, c->addr32,
		c->addr16);
	for (i = 0; i < c->len; i++)
		fprintf(out, "%02x", c->code[i]);
	fprintf(out, "\n  in:");
	for (i = 0; i < 16; i++)
		fprintf(out, " r%zu=%llx", i, (unsigned long long)c->ctx.gpr[i]);
	fprintf(out, " fl=%llx\n", (unsigned long long)c->ctx.rflags);
}

/* Compare a completed native run with a completed emulation. */
static const char *compare_done(struct differ *d, const struct gen_case *c,
				const struct native_ctx *n,
				const struct vmmu_emu_regs *e,
				const struct vmmu_emu_result *res,
				FILE *report)
{
	uint64_t fmask = COMPARED_FLAGS & ~res->undefined_flags;
	/* Compatibility mode: EAX..EDI only, low halves only. */
	uint64_t gmask = c->mode != 64 ? 0xffffffffULL : ~0ULL;
	unsigned int i, ngprs = c->mode != 64 ? 8 : 16;
	uint64_t rip = c->mode == 16 ? NATIVE_CODE16_OFF + c->len :
		       NATIVE_CODE_ADDR + c->len +
		       (c->mode == 32 ? NATIVE_CODE32_OFF : 0);

	if (res->length != c->len)
		return "length";
	if (!res->complete || e->rip != rip)
		return "rip";
	for (i = 0; i < ngprs; i++) {
		if (i == VMMU_RSP || !((n->gpr[i] ^ e->gpr[i]) & gmask))
			continue;
		if (report && d->reported < d->report_limit)
			fprintf(report, "  r%u native %llx emulated %llx\n", i,
				(unsigned long long)n->gpr[i],
				(unsigned long long)e->gpr[i]);
		return "register";
	}
	if ((n->rflags ^ e->rflags) & fmask) {
		if (report && d->reported < d->report_limit)
			fprintf(report, "  rflags native %llx emulated %llx\n",
				(unsigned long long)n->rflags,
				(unsigned long long)e->rflags);
		return "rflags";
	}
	if (memcmp(d->env.data, d->mem, NATIVE_DATA_SIZE))
		return "memory";
	return NULL;
}

static const char *compare_fault(int sig, uint64_t fault_addr,
				 const struct vmmu_emu_result *res)
{
	if (res->status != VMMU_EMU_EXCEPTION)
		return "native faulted, emulator did not";
	if (sig == SIGILL)
		return res->exc.vector == VMMU_EXC_UD ? NULL : "expected #UD";
	if (sig == SIGSEGV || sig == SIGBUS) {
		if (res->exc.vector == VMMU_EXC_GP && !fault_addr)
			return NULL;
		if (res->exc.vector == VMMU_EXC_PF &&
		    res->exc.cr2 == fault_addr)
			return NULL;
		return "expected #GP/#PF";
	}
	return "unexpected signal";
}

bool differ_run(struct differ *d, const struct gen_case *c, FILE *report)
{
	struct native_ctx n = c->ctx;
	struct vmmu_emu_regs regs;
	struct vmmu_emu_result res;
	struct diff_count *cnt;
	uint64_t fault_addr = 0;
	const char *why;
	char key[48];
	int sig, rc;

	memcpy(d->env.data, c->mem, NATIVE_DATA_SIZE);
	memset(&regs, 0, sizeof(regs));
	memcpy(regs.gpr, c->ctx.gpr, sizeof(regs.gpr));
	regs.rflags = c->ctx.rflags;
	memcpy(d->mem, c->mem, NATIVE_DATA_SIZE);
	memset(d->code, 0, sizeof(d->code));
	if (c->mode == 16) {
		sig = native_run16(&d->env, c->code, c->len, &n, &fault_addr);
		native_build16(d->code, c->code, c->len, d->env.sel16);
		regs.rip = NATIVE_CODE16_OFF;
		regs.seg_base[VMMU_SEG_CS] = NATIVE_CODE_ADDR;
	} else if (c->mode == 32) {
		sig = native_run32(&d->env, c->code, c->len, &n, &fault_addr);
		native_build32(d->code, c->code, c->len);
		regs.rip = NATIVE_CODE_ADDR + NATIVE_CODE32_OFF;
	} else {
		sig = native_run(&d->env, c->code, c->len, &n, &fault_addr);
		memcpy(d->code, c->code, c->len);
		d->code[c->len] = 0xc3;
		regs.rip = NATIVE_CODE_ADDR;
		regs.seg_base[VMMU_SEG_FS] = d->env.fs_base;
		regs.seg_base[VMMU_SEG_GS] = d->env.gs_base;
	}
	rc = vmmu_emulate(d->emu, c->mode, &regs, &diff_ops, d, &res);

	if (rc < 0)
		why = "emulator error";
	else if (res.status == VMMU_EMU_UNHANDLEABLE)
		why = "unhandleable";
	else if (sig)
		why = compare_fault(sig, fault_addr, &res);
	else if (res.status != VMMU_EMU_DONE)
		why = "emulator faulted, native did not";
	else
		why = compare_done(d, c, &n, &regs, &res, report);

	d->cases++;
	d->by_form[c->addr_form]++;
	snprintf(key, sizeof(key), "%s%s", res.mnemonic[0] ? res.mnemonic :
		 c->form, c->mode == 32 ? " (32-bit)" : c->mode == 16 ?
		 " (16-bit)" : "");
	cnt = count_for(d, key);
	cnt->cases++;
	if (sig)
		cnt->faults++;
	if (sig && report && d->show_faults) {
		dump_case(report, c, why ? why : "native fault, agreed");
		fprintf(report, "  signal %d addr %llx; vector %u cr2 %llx\n",
			sig, (unsigned long long)fault_addr, res.exc.vector,
			(unsigned long long)res.exc.cr2);
	}
	if (!why)
		return true;
	d->mismatches++;
	cnt->mismatches++;
	if (report && d->reported++ < d->report_limit) {
		dump_case(report, c, why);
		fprintf(report, "  emulator: status %d mnemonic '%s' len %u "
			"vector %u; native signal %d addr %llx\n", res.status,
			res.mnemonic, res.length, res.exc.vector, sig,
			(unsigned long long)fault_addr);
	}
	return false;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct diff_count *)a)->key,
		      ((const struct diff_count *)b)->key);
}

void differ_print(const struct differ *d, FILE *out)
{
	struct diff_count sorted[DIFF_MAX_KEYS];
	unsigned int i;

	memcpy(sorted, d->by_insn, d->nkeys * sizeof(sorted[0]));
	qsort(sorted, d->nkeys, sizeof(sorted[0]), by_name);
	fprintf(out, "%-24s %10s %8s %10s\n", "instruction", "cases",
		"faults", "mismatches");
	for (i = 0; i < d->nkeys; i++)
		fprintf(out, "%-24s %10llu %8llu %10llu\n", sorted[i].key,
			(unsigned long long)sorted[i].cases,
			(unsigned long long)sorted[i].faults,
			(unsigned long long)sorted[i].mismatches);
	fprintf(out, "\n%-24s %10s\n", "addressing form", "cases");
	for (i = 0; i < AF_COUNT; i++)
		fprintf(out, "%-24s %10llu\n", gen_addr_form_names[i],
			(unsigned long long)d->by_form[i]);
	fprintf(out, "\ntotal %llu cases, %llu mismatches\n",
		(unsigned long long)d->cases,
		(unsigned long long)d->mismatches);
}
