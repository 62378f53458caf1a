/* SPDX-License-Identifier: MIT */
/*
 * The shared emulator: a deterministic sample of the differential test
 * against this CPU, and unit tests for what native execution in a 64-bit
 * process cannot show (faults and partial REP progress, page-crossing
 * fetches, LOCK through cmpxchg and lost races, 16/32-bit modes and
 * segment bases, the decode cache).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "diff.h"
#include "vmmu/emulate.h"
#include "vmmu/error.h"

/* ---- a small flat memory: [MEM_BASE, MEM_BASE + MEM_SIZE) ---------------- */

#define MEM_BASE 0x1000ULL
#define MEM_SIZE 0x1000ULL      /* one page; 0x2000 and above fault */

struct mem {
	uint8_t b[MEM_SIZE];
	unsigned int reads, writes, cmpxchgs, fetches;
	int race;               /* cmpxchg: bump memory this many times first */
	unsigned int eio_write; /* this write (1-based) returns VMMU_EIO */
};

static int check(uint64_t la, unsigned int len, uint32_t ec,
		 struct vmmu_emu_exception *exc)
{
	if (la < MEM_BASE)
		return vmmu_emu_page_fault(exc, la, ec);
	if (la + len > MEM_BASE + MEM_SIZE)
		return vmmu_emu_page_fault(exc, la < MEM_BASE + MEM_SIZE ?
					   MEM_BASE + MEM_SIZE : la, ec);
	return 0;
}

static int m_fetch(void *o, uint64_t la, void *buf, unsigned int len,
		   struct vmmu_emu_exception *exc)
{
	struct mem *m = o;
	int rc = check(la, len, 0x10, exc);

	m->fetches++;
	if (!rc)
		memcpy(buf, m->b + (la - MEM_BASE), len);
	return rc;
}

static int m_read(void *o, uint64_t la, void *buf, unsigned int len,
		  struct vmmu_emu_exception *exc)
{
	struct mem *m = o;
	int rc = check(la, len, 0, exc);

	m->reads++;
	if (!rc)
		memcpy(buf, m->b + (la - MEM_BASE), len);
	return rc;
}

static int m_write(void *o, uint64_t la, const void *buf, unsigned int len,
		   struct vmmu_emu_exception *exc)
{
	struct mem *m = o;
	int rc = check(la, len, 2, exc);

	m->writes++;
	if (m->writes == m->eio_write)
		return VMMU_EIO;
	if (!rc)
		memcpy(m->b + (la - MEM_BASE), buf, len);
	return rc;
}

static int m_cmpxchg(void *o, uint64_t la, void *old, const void *nv,
		     unsigned int len, struct vmmu_emu_exception *exc)
{
	struct mem *m = o;
	uint8_t *p = m->b + (la - MEM_BASE);
	int rc = check(la, len, 2, exc);

	m->cmpxchgs++;
	if (rc)
		return rc;
	if (m->race) {          /* another vCPU got there first */
		m->race--;
		p[0]++;
	}
	return vmmu_emu_host_cmpxchg(p, old, nv, len);
}

static const struct vmmu_emu_ops mops = {
	.fetch = m_fetch, .read = m_read, .write = m_write,
	.cmpxchg = m_cmpxchg,
};

struct fx {
	struct vmmu_emu *emu;
	struct mem m;
	struct vmmu_emu_regs r;
	struct vmmu_emu_result res;
};

static int setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	if (vmmu_emu_create(&f.emu) < 0)
		return -1;
	f.r.rflags = 2;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vmmu_emu_destroy(f->emu);
	return 0;
}

/* Emulate bytes given directly. */
static void run(struct fx *f, unsigned int mode, const char *hex)
{
	uint8_t b[16];
	size_t n = 0;

	while (hex[0] && hex[1] && n < sizeof(b)) {
		unsigned int v;

		sscanf(hex, "%2x", &v);
		b[n++] = (uint8_t)v;
		hex += 2;
	}
	assert_int_equal(vmmu_emulate_bytes(f->emu, mode, &f->r, b, n, &mops,
					    &f->m, &f->res), 0);
}

static uint64_t q(const struct fx *f, uint64_t la)
{
	uint64_t v;

	memcpy(&v, f->m.b + (la - MEM_BASE), 8);
	return v;
}

/* ---- the differential sample ------------------------------------------- */

static void test_native_sample(void **state)
{
	static struct differ d;
	static struct gen_case c;
	struct rng r = { 0x5eed5eedULL };
	unsigned int i;

	(void)state;
	if (differ_init(&d) < 0) {
		print_message("SKIP: cannot map the native test regions\n");
		skip();
	}
	for (i = 0; i < 150000; i++) {
		gen_case(&r, &d.env, differ_mode_for(&d, (uint64_t)i), &c);
		differ_run(&d, &c, stderr);
	}
	if (d.mismatches)
		differ_print(&d, stderr);
	assert_int_equal(d.mismatches, 0);
	assert_int_equal(d.access_violations, 0);
	assert_true(d.nkeys > 60);      /* the sample spans the table */
	differ_fini(&d);
}

/* ---- faults ------------------------------------------------------------ */

static void test_write_fault(void **state)
{
	struct fx *f = *state;
	struct vmmu_emu_regs before;

	f->r.rip = 0x5000;
	f->r.gpr[VMMU_RDI] = 0x2008;
	before = f->r;
	run(f, 64, "48893f");           /* mov [rdi], rdi */
	assert_int_equal(f->res.status, VMMU_EMU_EXCEPTION);
	assert_int_equal(f->res.exc.vector, VMMU_EXC_PF);
	assert_int_equal(f->res.exc.cr2, 0x2008);
	assert_int_equal(f->res.exc.error_code, 2);
	assert_memory_equal(&before, &f->r, sizeof(before));
}

static void test_fetch_across_page(void **state)
{
	struct fx *f = *state;

	/* mov [rdi], esi at 0x1ffe..0x1fff fits: the next page is unmapped. */
	f->m.b[0xffe] = 0x89;
	f->m.b[0xfff] = 0x37;
	f->r.rip = 0x1ffe;
	f->r.gpr[VMMU_RDI] = 0x1100;
	f->r.gpr[VMMU_RSI] = 0xabcd;
	assert_int_equal(vmmu_emulate(f->emu, 64, &f->r, &mops, &f->m,
				      &f->res), 0);
	assert_int_equal(f->res.status, VMMU_EMU_DONE);
	assert_int_equal(f->r.rip, 0x2000);
	assert_int_equal(q(f, 0x1100) & 0xffffffff, 0xabcd);
	/* mov [rdi], rsi needs a third byte from the unmapped page: #PF. */
	f->m.b[0xffe] = 0x48;
	f->m.b[0xfff] = 0x89;
	f->r.rip = 0x1ffe;
	assert_int_equal(vmmu_emulate(f->emu, 64, &f->r, &mops, &f->m,
				      &f->res), 0);
	assert_int_equal(f->res.status, VMMU_EMU_EXCEPTION);
	assert_int_equal(f->res.exc.cr2, 0x2000);
	assert_int_equal(f->res.exc.error_code, 0x10);
	assert_int_equal(f->r.rip, 0x1ffe);
}

/* A fault in the middle of REP STOSQ keeps the iterations completed. */
static void test_rep_partial_fault(void **state)
{
	struct fx *f = *state;

	f->r.rip = 0x5000;
	f->r.gpr[VMMU_RDI] = 0x1ff0;
	f->r.gpr[VMMU_RCX] = 4;
	f->r.gpr[VMMU_RAX] = 0x1122334455667788ULL;
	run(f, 64, "f348ab");
	assert_int_equal(f->res.status, VMMU_EMU_EXCEPTION);
	assert_int_equal(f->res.exc.cr2, 0x2000);
	assert_int_equal(f->r.gpr[VMMU_RCX], 2);
	assert_int_equal(f->r.gpr[VMMU_RDI], 0x2000);
	assert_int_equal(f->r.rip, 0x5000);
	assert_int_equal(q(f, 0x1ff0), 0x1122334455667788ULL);
	assert_int_equal(q(f, 0x1ff8), 0x1122334455667788ULL);
}

/*
 * A callback error (not a fault) aborts emulation: vmmu_emulate() returns
 * it and the registers stay as they were, even after a completed batch.
 * The second write callback (the batch after the first) fails.
 */
static void expect_eio_on_second_batch(struct fx *f, const char *bytes,
				       size_t len, uint64_t count)
{
	struct vmmu_emu_regs before;

	f->m.writes = 0;
	f->m.eio_write = 2;
	f->r.rip = 0x5000;
	f->r.gpr[VMMU_RDI] = 0x1ff0;
	f->r.gpr[VMMU_RSI] = 0x1100;
	f->r.gpr[VMMU_RCX] = count;
	before = f->r;
	assert_int_equal(vmmu_emulate_bytes(f->emu, 64, &f->r,
					    (const uint8_t *)bytes, len,
					    &mops, &f->m, &f->res), VMMU_EIO);
	assert_int_equal(f->m.writes, 2);
	assert_memory_equal(&before, &f->r, sizeof(before));
}

static void test_rep_callback_error(void **state)
{
	/* REP STOSQ: 2 quadwords to the end of the page, then 2. */
	expect_eio_on_second_batch(*state, "\xf3\x48\xab", 3, 4);
	/* REP MOVSB: 16 bytes to the end of the page, then 16. */
	expect_eio_on_second_batch(*state, "\xf3\xa4", 2, 32);
}

static void test_rep_limit(void **state)
{
	struct fx *f = *state;

	vmmu_emu_set_rep_limit(f->emu, 3);
	f->r.rip = 0x5000;
	f->r.gpr[VMMU_RDI] = 0x1100;
	f->r.gpr[VMMU_RCX] = 10;
	run(f, 64, "f3aa");
	vmmu_emu_set_rep_limit(f->emu, 65536);
	assert_int_equal(f->res.status, VMMU_EMU_DONE);
	assert_false(f->res.complete);
	assert_int_equal(f->r.gpr[VMMU_RCX], 7);
	assert_int_equal(f->r.gpr[VMMU_RDI], 0x1103);
	assert_int_equal(f->r.rip, 0x5000);
}

/* One page cleared by REP STOSQ is one write callback. */
static void test_rep_stos_batches(void **state)
{
	struct fx *f = *state;

	f->r.rip = 0x5000;
	f->r.gpr[VMMU_RDI] = 0x1000;
	f->r.gpr[VMMU_RCX] = 512;
	f->r.gpr[VMMU_RAX] = 0;
	memset(f->m.b, 0xff, sizeof(f->m.b));
	run(f, 64, "f348ab");
	assert_int_equal(f->res.status, VMMU_EMU_DONE);
	assert_int_equal(f->m.writes, 1);
	assert_int_equal(f->r.gpr[VMMU_RDI], 0x2000);
	assert_int_equal(f->r.gpr[VMMU_RCX], 0);
	assert_int_equal(q(f, 0x1000), 0);
	assert_int_equal(q(f, 0x1ff8), 0);
}

/*
 * REP STOS of every element size with a zero, a one-byte-repeated and a
 * mixed element, over a count that is not a power of two: memory holds
 * the element repeated exactly count times, nothing after it.
 */
static void test_rep_stos_patterns(void **state)
{
	static const char *const ops[] = { "f3aa", "f366ab", "f3ab", "f348ab" };
	static const uint64_t vals[] = {
		0, 0xa5a5a5a5a5a5a5a5ULL, 0x8877665544332211ULL,
	};
	struct fx *f = *state;
	unsigned int s, v, i, size, count = 300;

	for (s = 0; s < 4; s++) {
		size = 1u << s;
		for (v = 0; v < 3; v++) {
			memset(f->m.b, 0x5a, sizeof(f->m.b));
			f->r.rip = 0x5000;
			f->r.gpr[VMMU_RDI] = 0x1004;
			f->r.gpr[VMMU_RCX] = count;
			f->r.gpr[VMMU_RAX] = vals[v];
			run(f, 64, ops[s]);
			assert_int_equal(f->res.status, VMMU_EMU_DONE);
			for (i = 0; i < count * size; i++)
				assert_int_equal(f->m.b[4 + i],
						 (uint8_t)(vals[v] >>
							   (8 * (i % size))));
			assert_int_equal(f->m.b[4 + count * size], 0x5a);
			assert_int_equal(f->m.b[3], 0x5a);
		}
	}
}

/* ---- LOCK and cmpxchg ---------------------------------------------------- */

static void test_lock_uses_cmpxchg(void **state)
{
	struct fx *f = *state;

	f->r.rip = 0x5000;
	f->r.gpr[VMMU_RDI] = 0x1100;
	f->r.gpr[VMMU_RAX] = 5;
	run(f, 64, "0107");             /* add [rdi], eax */
	assert_int_equal(f->m.cmpxchgs, 0);
	run(f, 64, "f00107");           /* lock add [rdi], eax */
	assert_int_equal(f->m.cmpxchgs, 1);
	run(f, 64, "8707");             /* xchg [rdi], eax: implicitly locked */
	assert_int_equal(f->m.cmpxchgs, 2);
	assert_int_equal(f->r.gpr[VMMU_RAX], 10);
	assert_int_equal(q(f, 0x1100), 5);
	run(f, 64, "f00fba3700");       /* lock btr dword [rdi], 0 */
	assert_int_equal(f->m.cmpxchgs, 3);
	assert_int_equal(q(f, 0x1100), 4);
	assert_true(f->r.rflags & VMMU_RFLAGS_CF);
}

/* A lost race is retried against the value the other agent stored. */
static void test_lock_race(void **state)
{
	struct fx *f = *state;

	f->r.rip = 0x5000;
	f->r.gpr[VMMU_RDI] = 0x1100;
	f->r.gpr[VMMU_RAX] = 1;
	f->m.b[0x100] = 10;
	f->m.race = 1;
	run(f, 64, "f00007");           /* lock add [rdi], al */
	assert_int_equal(f->res.status, VMMU_EMU_DONE);
	assert_int_equal(f->m.b[0x100], 12);
	f->m.race = 1000;
	run(f, 64, "f00007");
	f->m.race = 0;
	assert_int_equal(f->res.status, VMMU_EMU_RETRY);
	assert_int_equal(f->r.rip, 0x5003);     /* from the first run only */
}

static void test_lock_ud_and_unhandleable(void **state)
{
	struct fx *f = *state;

	f->r.rip = 0x5000;
	f->r.gpr[VMMU_RDI] = 0x1100;
	run(f, 64, "f08907");           /* lock mov [rdi], eax */
	assert_int_equal(f->res.status, VMMU_EMU_EXCEPTION);
	assert_int_equal(f->res.exc.vector, VMMU_EXC_UD);
	assert_int_equal(f->res.length, 3);
	run(f, 64, "f001c0");           /* lock add eax, eax */
	assert_int_equal(f->res.exc.vector, VMMU_EXC_UD);
	run(f, 64, "0fa2");             /* cpuid */
	assert_int_equal(f->res.status, VMMU_EMU_UNHANDLEABLE);
	assert_string_equal(f->res.mnemonic, "cpuid");
	run(f, 64, "0f0b");             /* ud2: reported, not executed */
	assert_int_equal(f->res.status, VMMU_EMU_UNHANDLEABLE);
	run(f, 64, "8e07");             /* mov es, [rdi]: segment register */
	assert_int_equal(f->res.status, VMMU_EMU_UNHANDLEABLE);
	assert_string_equal(f->res.mnemonic, "mov");
	run(f, 64, "0f04");             /* no instruction */
	assert_int_equal(f->res.status, VMMU_EMU_UNHANDLEABLE);
	assert_string_equal(f->res.mnemonic, "(bad)");
	/* The mnemonic of a decode with the cache off. */
	vmmu_emu_set_cache(f->emu, false);
	run(f, 64, "0fa2");
	assert_string_equal(f->res.mnemonic, "cpuid");
	vmmu_emu_set_cache(f->emu, true);
	assert_int_equal(f->r.rip, 0x5000);
}

static void test_cmpxchg16b_alignment(void **state)
{
	struct fx *f = *state;

	f->r.rip = 0x5000;
	f->r.gpr[VMMU_RDI] = 0x1108;
	run(f, 64, "f0480fc70f");
	assert_int_equal(f->res.status, VMMU_EMU_EXCEPTION);
	assert_int_equal(f->res.exc.vector, VMMU_EXC_GP);
	assert_int_equal(f->res.exc.error_code, 0);
}

/* ---- addresses and modes ------------------------------------------------- */

static void test_non_canonical(void **state)
{
	struct fx *f = *state;

	f->r.rip = 0x5000;
	f->r.gpr[VMMU_RDI] = 0x0000800000000000ULL;
	f->r.gpr[VMMU_RBP] = 0x0000800000000000ULL;
	run(f, 64, "8907");             /* mov [rdi], eax */
	assert_int_equal(f->res.exc.vector, VMMU_EXC_GP);
	run(f, 64, "894500");           /* mov [rbp+0], eax: stack segment */
	assert_int_equal(f->res.exc.vector, VMMU_EXC_SS);
	vmmu_emu_set_la57(f->emu, true);
	f->r.gpr[VMMU_RDI] = 0x1100;
	run(f, 64, "8907");
	vmmu_emu_set_la57(f->emu, false);
	assert_int_equal(f->res.status, VMMU_EMU_DONE);
}

/* 32-bit PAE guest: lock cmpxchg8b [esi] with a DS base. */
static void test_mode32_cmpxchg8b(void **state)
{
	struct fx *f = *state;
	uint64_t pte = 0x00000000fee00063ULL;

	memcpy(f->m.b + 0x208, &pte, 8);
	f->r.rip = 0x5000;
	f->r.seg_base[VMMU_SEG_DS] = 0x1000;
	f->r.gpr[VMMU_RSI] = 0x208;
	f->r.gpr[VMMU_RAX] = 0xfee00063;
	f->r.gpr[VMMU_RDX] = 0;
	f->r.gpr[VMMU_RBX] = 0x12345067;
	f->r.gpr[VMMU_RCX] = 0x80000000;
	run(f, 32, "f00fc70e");
	assert_int_equal(f->res.status, VMMU_EMU_DONE);
	assert_int_equal(f->res.length, 4);
	assert_true(f->r.rflags & VMMU_RFLAGS_ZF);
	assert_int_equal(q(f, 0x1208), 0x8000000012345067ULL);
	/* Again: now the compare fails and EDX:EAX load the entry. */
	run(f, 32, "f00fc70e");
	assert_false(f->r.rflags & VMMU_RFLAGS_ZF);
	assert_int_equal(f->r.gpr[VMMU_RAX], 0x12345067);
	assert_int_equal(f->r.gpr[VMMU_RDX], 0x80000000);
	assert_int_equal(f->r.rip, 0x5008);
	/* [ebp] defaults to SS. */
	f->r.seg_base[VMMU_SEG_SS] = 0x1000;
	f->r.gpr[VMMU_RBP] = 0x300;
	f->r.gpr[VMMU_RAX] = 0xcafe;
	run(f, 32, "894500");
	assert_int_equal(q(f, 0x1300) & 0xffffffff, 0xcafe);
}

/* 16-bit addressing: mov [bx+si+2], ax wraps at 64 KiB, plus DS base. */
static void test_mode16_addressing(void **state)
{
	struct fx *f = *state;

	f->r.rip = 0x100;
	f->r.seg_base[VMMU_SEG_DS] = 0x1000;
	f->r.gpr[VMMU_RBX] = 0xfff0;
	f->r.gpr[VMMU_RSI] = 0x0110;
	f->r.gpr[VMMU_RAX] = 0xbeef;
	run(f, 16, "894002");
	assert_int_equal(f->res.status, VMMU_EMU_DONE);
	assert_int_equal(f->res.length, 3);
	assert_int_equal(q(f, 0x1102) & 0xffff, 0xbeef);
	assert_int_equal(f->r.rip, 0x103);
}

static void test_decode_cache(void **state)
{
	struct fx *f = *state;
	struct vmmu_emu_stats st0, st1;

	f->r.rip = 0x5000;
	f->r.gpr[VMMU_RDI] = 0x1100;
	vmmu_emu_get_stats(f->emu, &st0);
	run(f, 64, "48893790");         /* mov [rdi], rsi; nop */
	assert_string_equal(f->res.mnemonic, "mov");
	run(f, 64, "488937cc");         /* same instruction, other bytes after */
	assert_string_equal(f->res.mnemonic, "mov");
	run(f, 32, "488937cc");         /* other mode: dec eax first */
	assert_string_equal(f->res.mnemonic, "dec");
	vmmu_emu_get_stats(f->emu, &st1);
	assert_int_equal(st1.decode_cache_hits - st0.decode_cache_hits, 1);
	assert_int_equal(st1.decode_cache_misses - st0.decode_cache_misses, 2);
	assert_int_equal(f->res.length, 1);
}

/*
 * Instructions longer than 8 bytes are keyed by their later bytes too: one
 * that differs only in its last byte (or in byte 8) is another entry.
 */
static void test_decode_cache_long(void **state)
{
	/* mov qword [rdi+0x100], imm32: 48 c7 87 disp32 imm32, 11 bytes */
	static const char *const forms[] = {
		"48c78700010000443322119090",
		"48c78700010000443322129090",   /* last byte differs */
		"48c78700010000443422119090",   /* byte 8 differs */
		"48c78700010000443322119090",   /* the first again: a hit */
	};
	static const uint64_t want[] = {
		0x11223344, 0x12223344, 0x11223444, 0x11223344,
	};
	struct fx *f = *state;
	struct vmmu_emu_stats st0, st1;
	unsigned int i;

	f->r.gpr[VMMU_RDI] = 0x1000;
	vmmu_emu_get_stats(f->emu, &st0);
	for (i = 0; i < 4; i++) {
		f->r.rip = 0x5000;
		run(f, 64, forms[i]);
		assert_int_equal(f->res.status, VMMU_EMU_DONE);
		assert_int_equal(f->res.length, 11);
		assert_int_equal(q(f, 0x1100), want[i]);
	}
	vmmu_emu_get_stats(f->emu, &st1);
	assert_int_equal(st1.decode_cache_hits - st0.decode_cache_hits, 1);
	assert_int_equal(st1.decode_cache_misses - st0.decode_cache_misses, 3);
}

static void test_host_cmpxchg(void **state)
{
	_Alignas(16) uint8_t mem[32] = { 0 };
	uint64_t old[2] = { 0, 0 }, nv[2] = { 0x1111, 0x2222 };
	uint32_t o32 = 5, n32 = 6;

	(void)state;
	assert_int_equal(vmmu_emu_host_cmpxchg(mem, old, nv, 16), 0);
	assert_memory_equal(mem, nv, 16);               /* stored */
	assert_int_equal(old[0], 0);
	assert_int_equal(vmmu_emu_host_cmpxchg(mem, old, nv, 16), 0);
	assert_int_equal(old[0], 0x1111);               /* failed: value seen */
	assert_int_equal(old[1], 0x2222);
	assert_int_equal(vmmu_emu_host_cmpxchg(mem + 17, &o32, &n32, 4), 0);
	assert_int_equal(o32, 0);                       /* misaligned path */
	o32 = 0;
	assert_int_equal(vmmu_emu_host_cmpxchg(mem + 17, &o32, &n32, 4), 0);
	assert_int_equal(mem[17], 6);
	assert_int_equal(vmmu_emu_host_cmpxchg(mem, &o32, &n32, 3),
			 VMMU_EINVAL);
}

static void test_bad_args(void **state)
{
	struct fx *f = *state;
	uint8_t b[1] = { 0x90 };

	assert_int_equal(vmmu_emulate_bytes(f->emu, 48, &f->r, b, 1, &mops,
					    &f->m, &f->res), VMMU_EINVAL);
	assert_int_equal(vmmu_emulate_bytes(NULL, 64, &f->r, b, 1, &mops,
					    &f->m, &f->res), VMMU_EINVAL);
	assert_int_equal(vmmu_emulate_bytes(f->emu, 64, &f->r, b, 0, &mops,
					    &f->m, &f->res), VMMU_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_native_sample),
		cmocka_unit_test_setup_teardown(test_write_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_across_page, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rep_partial_fault, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rep_callback_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rep_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rep_stos_batches, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rep_stos_patterns, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lock_uses_cmpxchg, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lock_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_ud_and_unhandleable,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmpxchg16b_alignment, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_non_canonical, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mode32_cmpxchg8b, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mode16_addressing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_decode_cache_long, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_decode_cache, setup,
						teardown),
		cmocka_unit_test(test_host_cmpxchg),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
