/* SPDX-License-Identifier: MIT */
/*
 * The emulator benchmark. The emulated side runs vmmu_emulate() (fetch,
 * decode or cache lookup, execute) against callbacks over one host page, the
 * cheapest backend there can be, so the figure is the emulator's own cost.
 * The native side executes the same instruction bytes from an executable
 * page: 32 copies back to back (a prologue loads the registers), or for
 * REP STOSQ a page-clearing sequence, timed over many calls.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <capstone/capstone.h>

#include "emu_bench.h"
#include "vmmu/emulate.h"
#include "vmmu/error.h"

#define PAGE 4096u
#define DATA_GVA 0x200000ULL
#define CODE_GVA 0x100000ULL
#define NATIVE_COPIES 32

struct bench_case {
	const char *name, *hex, *unit;
	uint8_t bytes[8];
	unsigned int len;
};

static const struct bench_case cases[EMU_BENCH_NR_CASES] = {
	{ "mov [rdi], rsi", "48 89 37", "instruction",
	  { 0x48, 0x89, 0x37 }, 3 },
	{ "lock cmpxchg [rdi], rsi", "f0 48 0f b1 37", "instruction",
	  { 0xf0, 0x48, 0x0f, 0xb1, 0x37 }, 5 },
	{ "rep stosq", "f3 48 ab", "4 KiB page",
	  { 0xf3, 0x48, 0xab }, 3 },
};

struct flat {
	uint8_t *page;                  /* backs DATA_GVA */
	uint8_t code[PAGE];             /* backs CODE_GVA */
};

static int fl_fetch(void *o, uint64_t la, void *buf, unsigned int len,
		    struct vmmu_emu_exception *exc)
{
	struct flat *f = o;

	if (la < CODE_GVA || la - CODE_GVA + len > PAGE)
		return vmmu_emu_page_fault(exc, la, 0x10);
	memcpy(buf, f->code + (la - CODE_GVA), len);
	return 0;
}

static int fl_read(void *o, uint64_t la, void *buf, unsigned int len,
		   struct vmmu_emu_exception *exc)
{
	struct flat *f = o;

	if (la < DATA_GVA || la - DATA_GVA + len > PAGE)
		return vmmu_emu_page_fault(exc, la, 0);
	memcpy(buf, f->page + (la - DATA_GVA), len);
	return 0;
}

static int fl_write(void *o, uint64_t la, const void *buf, unsigned int len,
		    struct vmmu_emu_exception *exc)
{
	struct flat *f = o;

	if (la < DATA_GVA || la - DATA_GVA + len > PAGE)
		return vmmu_emu_page_fault(exc, la, 2);
	memcpy(f->page + (la - DATA_GVA), buf, len);
	return 0;
}

static int fl_cmpxchg(void *o, uint64_t la, void *old, const void *nv,
		      unsigned int len, struct vmmu_emu_exception *exc)
{
	struct flat *f = o;

	if (la < DATA_GVA || la - DATA_GVA + len > PAGE)
		return vmmu_emu_page_fault(exc, la, 2);
	return vmmu_emu_host_cmpxchg(f->page + (la - DATA_GVA), old, nv, len);
}

static const struct vmmu_emu_ops flat_ops = {
	.fetch = fl_fetch, .read = fl_read, .write = fl_write,
	.cmpxchg = fl_cmpxchg,
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* Capstone alone (detail on, as the emulator uses it), for reference. */
static int time_capstone(const struct bench_case *bc, uint64_t iters,
			 double *ns)
{
	uint8_t buf[15] = { 0 };
	const uint8_t *code;
	uint64_t addr, i;
	size_t size;
	cs_insn *insn;
	csh h;
	double t0;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return VMMU_ENOTSUP;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	insn = cs_malloc(h);
	if (!insn) {
		cs_close(&h);
		return VMMU_ENOMEM;
	}
	memcpy(buf, bc->bytes, bc->len);
	t0 = now_ns();
	for (i = 0; i < iters; i++) {
		code = buf;
		size = sizeof(buf);
		addr = CODE_GVA;
		cs_disasm_iter(h, &code, &size, &addr, insn);
	}
	*ns = (now_ns() - t0) / (double)iters;
	cs_free(insn, 1);
	cs_close(&h);
	return 0;
}

static void init_regs(const struct bench_case *bc, struct vmmu_emu_regs *r)
{
	memset(r, 0, sizeof(*r));
	r->rip = CODE_GVA;
	r->rflags = 2;
	r->gpr[VMMU_RDI] = DATA_GVA;
	r->gpr[VMMU_RSI] = 0x1234;
	r->gpr[VMMU_RAX] = bc == &cases[EMU_BENCH_REP_STOSQ] ? 0 : 0x1234;
	r->gpr[VMMU_RCX] = PAGE / 8;
}

/* ns per emulated instruction (or page), cache on or off. */
static int time_emulated(const struct bench_case *bc, bool cache,
			 uint64_t iters, struct flat *f, double *ns,
			 uint64_t *hits)
{
	struct vmmu_emu *emu;
	struct vmmu_emu_regs r;
	struct vmmu_emu_result res;
	struct vmmu_emu_stats st;
	double t0;
	uint64_t i;
	int rc = vmmu_emu_create(&emu);

	if (rc)
		return rc;
	vmmu_emu_set_cache(emu, cache);
	memset(f->code, 0x90, sizeof(f->code));
	memcpy(f->code, bc->bytes, bc->len);
	memcpy(f->page, &(uint64_t){ 0x1234 }, 8);
	init_regs(bc, &r);
	rc = vmmu_emulate(emu, 64, &r, &flat_ops, f, &res);  /* warm up */
	if (!rc && res.status != VMMU_EMU_DONE)
		rc = VMMU_EIO;
	t0 = now_ns();
	for (i = 0; i < iters && !rc; i++) {
		r.rip = CODE_GVA;
		r.gpr[VMMU_RDI] = DATA_GVA;
		r.gpr[VMMU_RCX] = PAGE / 8;
		rc = vmmu_emulate(emu, 64, &r, &flat_ops, f, &res);
	}
	*ns = (now_ns() - t0) / (double)iters;
	vmmu_emu_get_stats(emu, &st);
	*hits = st.decode_cache_hits;
	vmmu_emu_destroy(emu);
	if (!rc && res.status != VMMU_EMU_DONE)
		rc = VMMU_EIO;
	return rc;
}

static size_t put_mov_imm64(uint8_t *p, uint8_t opcode, uint64_t v)
{
	p[0] = 0x48;
	p[1] = opcode;
	memcpy(p + 2, &v, 8);
	return 10;
}

/* Native code: registers loaded, then the instruction(s), then RET. */
static size_t build_native(const struct bench_case *bc, uint8_t *code,
			   uint8_t *page, unsigned int *per_call)
{
	size_t n = 0;
	unsigned int i;

	n += put_mov_imm64(code + n, 0xbf, (uint64_t)(uintptr_t)page);
	if (bc == &cases[EMU_BENCH_REP_STOSQ]) {
		static const uint8_t body[] = {
			0xb9, 0x00, 0x02, 0x00, 0x00,   /* mov ecx, 512 */
			0x31, 0xc0,                     /* xor eax, eax */
		};
		memcpy(code + n, body, sizeof(body));
		n += sizeof(body);
		memcpy(code + n, bc->bytes, bc->len);
		n += bc->len;
		*per_call = 1;
	} else {
		n += put_mov_imm64(code + n, 0xbe, 0x1234);     /* rsi */
		n += put_mov_imm64(code + n, 0xb8, 0x1234);     /* rax */
		for (i = 0; i < NATIVE_COPIES; i++) {
			memcpy(code + n, bc->bytes, bc->len);
			n += bc->len;
		}
		*per_call = NATIVE_COPIES;
	}
	code[n++] = 0xc3;
	return n;
}

static int time_native(const struct bench_case *bc, uint64_t iters,
		       uint8_t *page, double *ns)
{
	void (*fn)(void);
	uint8_t *code;
	unsigned int per_call;
	uint64_t calls, i;
	double t0;

	code = mmap(NULL, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED)
		return VMMU_ENOMEM;
	build_native(bc, code, page, &per_call);
	memcpy(page, &(uint64_t){ 0x1234 }, 8);
	memcpy(&fn, &code, sizeof(fn));
	calls = iters / per_call ? iters / per_call : 1;
	fn();   /* warm up */
	t0 = now_ns();
	for (i = 0; i < calls; i++)
		fn();
	*ns = (now_ns() - t0) / (double)(calls * per_call);
	munmap(code, PAGE);
	return 0;
}

int emu_bench_run(enum emu_bench_case which, const struct emu_bench_config *cfg,
		  struct emu_bench_result *out)
{
	const struct bench_case *bc;
	double nat[16], emu[16], hit[16], cap[16];
	unsigned int k, rep;
	uint64_t iters;
	struct flat *f;
	int rc = 0;

	if (which >= EMU_BENCH_NR_CASES || !cfg || !out || !cfg->iterations ||
	    !cfg->page_iterations)
		return VMMU_EINVAL;
	bc = &cases[which];
	rep = cfg->repeat < 1 ? 1 : cfg->repeat > 16 ? 16 : cfg->repeat;
	iters = which == EMU_BENCH_REP_STOSQ ? cfg->page_iterations :
		cfg->iterations;
	f = calloc(1, sizeof(*f));
	if (!f || posix_memalign((void **)&f->page, PAGE, PAGE)) {
		free(f);
		return VMMU_ENOMEM;
	}
	memset(out, 0, sizeof(*out));
	out->name = bc->name;
	out->bytes = bc->hex;
	out->unit = bc->unit;
	for (k = 0; k < rep && !rc; k++) {
		rc = time_native(bc, iters, f->page, &nat[k]);
		if (!rc)
			rc = time_emulated(bc, false, iters, f, &emu[k],
					   &out->cache_hits);
		if (!rc)
			rc = time_emulated(bc, true, iters, f, &hit[k],
					   &out->cache_hits);
		if (!rc)
			rc = time_capstone(bc, iters, &cap[k]);
	}
	if (!rc) {
		out->native_ns = median(nat, rep);
		out->emulated_ns = median(emu, rep);
		out->cached_ns = median(hit, rep);
		out->capstone_ns = median(cap, rep);
	}
	free(f->page);
	free(f);
	return rc;
}
