/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM (core/vm.c): lazy population in the largest block the slot's
 * alignment, max_order and the platform allow; sparse bookkeeping for a
 * 1 TiB slot; reads of untouched memory; all-or-nothing writes under
 * allocation failure at every allocation point; ROM and MMIO; slot removal;
 * and the backend's gpa_written hook for every write vmmu makes.
 *
 * The VM runs on a wrapping platform over the hosted arena that counts the
 * bookkeeping bytes it holds, can fail the n-th allocation of any kind, and
 * can hide alloc_pages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu/vmmu.h"
#include "vmmu/hosted.h"
#include "core/backend.h"

#define MB (1ULL << 20)
#define GB (1ULL << 30)
#define TB (1ULL << 40)

struct wrap {
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform inner;
	uint64_t zbytes;        /* bookkeeping bytes currently held */
	long allocs;            /* allocations of any kind so far */
	long fail_at;           /* this allocation (0-based) fails; -1 never */
	struct vmmu_vm *vm;
};

static bool w_fail(struct wrap *w)
{
	return w->allocs++ == w->fail_at;
}

static int w_alloc_page(void *ctx, hpa_t *out)
{
	struct wrap *w = ctx;

	if (w_fail(w))
		return VMMU_ENOMEM;
	return w->inner.alloc_page(w->inner.ctx, out);
}

static int w_alloc_pages(void *ctx, unsigned order, hpa_t *out)
{
	struct wrap *w = ctx;

	if (w_fail(w))
		return VMMU_ENOMEM;
	return w->inner.alloc_pages(w->inner.ctx, order, out);
}

static void w_free_page(void *ctx, hpa_t page)
{
	struct wrap *w = ctx;

	w->inner.free_page(w->inner.ctx, page);
}

static void w_free_pages(void *ctx, hpa_t base, unsigned order)
{
	struct wrap *w = ctx;

	w->inner.free_pages(w->inner.ctx, base, order);
}

static void *w_map(void *ctx, hpa_t hpa)
{
	struct wrap *w = ctx;

	return w->inner.map(w->inner.ctx, hpa);
}

/* Each block carries its size in a 16-byte header, for zbytes. */
static void *w_zalloc(void *ctx, size_t size)
{
	struct wrap *w = ctx;
	uint64_t *p;

	if (w_fail(w))
		return NULL;
	p = w->inner.zalloc(w->inner.ctx, size + 16);
	if (!p)
		return NULL;
	p[0] = size;
	w->zbytes += size;
	return p + 2;
}

static void w_free(void *ctx, void *ptr)
{
	struct wrap *w = ctx;
	uint64_t *p = ptr;

	if (!p)
		return;
	w->zbytes -= p[-2];
	w->inner.free(w->inner.ctx, p - 2);
}

/* A VM over an arena of arena_bytes; big: offer alloc_pages. */
static struct wrap *wrap_open(uint64_t arena_bytes, bool big)
{
	static struct wrap w;
	struct vmmu_platform p = {
		.ctx = &w, .alloc_page = w_alloc_page, .free_page = w_free_page,
		.map = w_map, .zalloc = w_zalloc, .free = w_free,
	};

	memset(&w, 0, sizeof(w));
	w.fail_at = -1;
	assert_int_equal(vmmu_hosted_create(arena_bytes, &w.arena), 0);
	vmmu_hosted_platform(w.arena, &w.inner);
	if (big) {
		p.alloc_pages = w_alloc_pages;
		p.free_pages = w_free_pages;
	}
	assert_int_equal(vmmu_vm_create(&p, &w.vm), 0);
	return &w;
}

static void wrap_close(struct wrap *w)
{
	vmmu_vm_destroy(w->vm);
	assert_int_equal(w->zbytes, 0);
	assert_int_equal(vmmu_hosted_pages_in_use(w->arena), 0);
	vmmu_hosted_destroy(w->arena);
}

static uint64_t in_use(const struct wrap *w)
{
	return vmmu_hosted_pages_in_use(w->arena);
}

static int add(struct wrap *w, uint64_t base, uint64_t size,
	       enum vmmu_mem_type type, unsigned max_order, bool eager)
{
	struct vmmu_slot_desc d = {
		.base = mk_gpa(base), .size = size, .type = type,
		.max_order = (uint8_t)max_order,
		.memtype = VMMU_MEMTYPE_DEFAULT, .eager = eager,
	};

	return vmmu_vm_add_slot_ex(w->vm, &d);
}

/* Touch gpa by writing one byte; return the order of the block backing it. */
static unsigned touch(struct wrap *w, uint64_t gpa)
{
	struct vmmu_ram_page pg;
	uint8_t v = 0x77;

	assert_int_equal(vmmu_vm_write_gpa(w->vm, mk_gpa(gpa), &v, 1), 0);
	assert_int_equal(vmmu_vm_ram_lookup(w->vm, mk_gpa(gpa), false, &pg), 0);
	assert_int_equal(pg.gpa.v, gpa & ~((VMMU_PAGE_SIZE << pg.order) - 1));
	assert_int_equal(pg.hpa.v & ((VMMU_PAGE_SIZE << pg.order) - 1),
			 gpa - pg.gpa.v);
	return pg.order;
}

static void test_population_is_lazy_and_large(void **state)
{
	struct wrap *w = wrap_open(4 * GB, true);
	struct vmmu_ram_page pg;
	uint8_t buf[64];
	hpa_t hpa;

	(void)state;
	assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(GB), GB + 2 * MB + 0x2000,
					  VMMU_MEM_RAM), 0);
	assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(0), 64 * MB,
					  VMMU_MEM_RAM), 0);
	assert_int_equal(in_use(w), 0);
	/* Reads of untouched RAM give zeros and populate nothing. */
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(vmmu_vm_read_gpa(w->vm, mk_gpa(GB + 0x123), buf,
					  sizeof(buf)), 0);
	assert_true(buf[0] == 0 && buf[63] == 0);
	assert_int_equal(vmmu_vm_gpa_to_hpa(w->vm, mk_gpa(GB), &hpa), VMMU_ENOENT);
	assert_int_equal(vmmu_vm_ram_lookup(w->vm, mk_gpa(GB), false, &pg),
			 VMMU_ENOENT);
	assert_int_equal(in_use(w), 0);
	/* 64 MiB at 0: 2 MiB blocks. */
	assert_int_equal(touch(w, 0x1000), 9);
	assert_int_equal(in_use(w), 512);
	assert_int_equal(touch(w, 0x1ff000), 9);        /* same block */
	assert_int_equal(touch(w, 0x3fffff), 9);
	assert_int_equal(in_use(w), 1024);
	/* [1 GiB, 2 GiB + 2 MiB + 8 KiB): one 1 GiB, one 2 MiB, then 4 KiB. */
	assert_int_equal(touch(w, GB + 0x5000), 18);
	assert_int_equal(touch(w, 2 * GB + 0x1000), 9);
	assert_int_equal(touch(w, 2 * GB + 2 * MB + 0x1000), 0);
	assert_int_equal(in_use(w), 1024 + (1 << 18) + 512 + 1);
	assert_int_equal(vmmu_vm_find_slot(w->vm, mk_gpa(GB))->pages_populated,
			 (1 << 18) + 512 + 1);
	assert_int_equal(vmmu_vm_ram_lookup(w->vm, mk_gpa(GB + 0x5abc), false,
					    &pg), 0);
	assert_ptr_equal(pg.slot, vmmu_vm_find_slot(w->vm, mk_gpa(GB)));
	assert_int_equal(vmmu_vm_gpa_to_hpa(w->vm, mk_gpa(GB + 0x5abc), &hpa), 0);
	assert_int_equal(hpa.v, pg.hpa.v);
	/* The byte written is there; its neighbours are zero. */
	assert_int_equal(vmmu_vm_read_gpa(w->vm, mk_gpa(GB + 0x4fff), buf, 3), 0);
	assert_true(buf[0] == 0 && buf[1] == 0x77 && buf[2] == 0);
	wrap_close(w);
}

/* A slot not aligned to 2 MiB uses 4 KiB blocks at its edges. */
static void test_unaligned_slot_edges(void **state)
{
	struct wrap *w = wrap_open(64 * MB, true);

	(void)state;
	assert_int_equal(add(w, 0x1ff000, 0x402000, VMMU_MEM_RAM,
			     VMMU_ORDER_1G, false), 0);
	assert_int_equal(touch(w, 0x1ff000), 0);
	assert_int_equal(touch(w, 0x200000), 9);
	assert_int_equal(touch(w, 0x5ff000), 9);
	assert_int_equal(touch(w, 0x600000), 0);
	assert_int_equal(in_use(w), 1 + 512 + 512 + 1);
	wrap_close(w);
}

/* max_order caps the block; a platform without alloc_pages gives 4 KiB. */
static void test_max_order_and_no_large_platform(void **state)
{
	struct wrap *w = wrap_open(4 * GB, true);

	(void)state;
	assert_int_equal(add(w, 0, GB, VMMU_MEM_RAM, VMMU_ORDER_4K, false), 0);
	assert_int_equal(add(w, GB, GB, VMMU_MEM_RAM, VMMU_ORDER_2M, false), 0);
	assert_int_equal(add(w, 2 * GB, GB, VMMU_MEM_RAM, 17, false), 0);
	assert_int_equal(add(w, 3 * GB, GB, VMMU_MEM_RAM, 19, false), VMMU_EINVAL);
	assert_int_equal(touch(w, 0x200000), 0);
	assert_int_equal(touch(w, GB), 9);
	assert_int_equal(touch(w, 2 * GB + 0x3000), 9);
	assert_int_equal(in_use(w), 1 + 512 + 512);
	wrap_close(w);

	w = wrap_open(64 * MB, false);
	assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(0), GB, VMMU_MEM_RAM), 0);
	assert_int_equal(touch(w, 0), 0);
	assert_int_equal(touch(w, 0x201000), 0);
	assert_int_equal(in_use(w), 2);
	wrap_close(w);
}

/* An arena too small for 1 GiB (then 2 MiB) blocks: clean fallback. */
static void test_small_arena_falls_back(void **state)
{
	struct wrap *w = wrap_open(8 * MB, true);
	unsigned i;

	(void)state;
	assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(0), GB, VMMU_MEM_RAM), 0);
	for (i = 0; i < 3; i++)         /* the arena has three 2 MiB blocks */
		assert_int_equal(touch(w, i * 2 * MB), 9);
	assert_int_equal(touch(w, 6 * MB), 0);
	assert_int_equal(touch(w, 6 * MB + 0x1000), 0);
	assert_int_equal(touch(w, 100 * MB), 0);
	assert_int_equal(in_use(w), 3 * 512 + 3);
	wrap_close(w);
}

/*
 * A 1 TiB slot costs host memory and bookkeeping only where touched:
 * with 4 KiB blocks, five touches hold five pages and an 8 KiB directory
 * plus two 4 KiB tables per touch; with 1 GiB blocks, only the directory.
 */
static void test_1tib_slot_is_sparse(void **state)
{
	static const uint64_t at[] = { 0, 0x1000, 3 * GB + 0x7000,
				       512 * GB + 0x123000, TB - 0x1000 };
	struct wrap *w = wrap_open(64 * MB, true);
	uint64_t base_bytes = w->zbytes;
	uint8_t buf[16];
	size_t i;

	(void)state;
	assert_int_equal(add(w, TB, TB, VMMU_MEM_RAM, VMMU_ORDER_4K, false), 0);
	assert_int_equal(w->zbytes - base_bytes, 8192);
	for (i = 0; i < 5; i++)
		assert_int_equal(touch(w, TB + at[i]), 0);
	assert_int_equal(in_use(w), 5);
	/* 0 and 0x1000 share both tables: 4 distinct 2 MiB granules. */
	assert_int_equal(w->zbytes - base_bytes, 8192 + 4 * 2 * 4096);
	assert_int_equal(vmmu_vm_find_slot(w->vm, mk_gpa(TB))->bookkeeping_bytes,
			 8192 + 4 * 2 * 4096);
	assert_int_equal(vmmu_vm_read_gpa(w->vm, mk_gpa(TB + 700 * GB), buf,
					  sizeof(buf)), 0);
	assert_int_equal(in_use(w), 5);
	assert_int_equal(vmmu_vm_remove_slot(w->vm, mk_gpa(TB)), 0);
	assert_int_equal(w->zbytes, base_bytes);
	assert_int_equal(in_use(w), 0);
	wrap_close(w);

	w = wrap_open(4 * GB, true);
	base_bytes = w->zbytes;
	assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(TB), TB, VMMU_MEM_RAM), 0);
	for (i = 2; i < 5; i++)
		assert_int_equal(touch(w, TB + at[i]), 18);
	assert_int_equal(in_use(w), 3ULL << 18);
	assert_int_equal(w->zbytes - base_bytes, 8192);
	wrap_close(w);
}

/* An expected old value other than zero fails on untouched RAM, unpopulated. */
static void test_gmem_on_untouched_ram(void **state)
{
	struct wrap *w = wrap_open(64 * MB, true);
	struct vmmu_gmem mem;
	uint64_t v = 1;

	(void)state;
	assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(0), 4 * MB, VMMU_MEM_RAM), 0);
	vmmu_vm_gmem(w->vm, &mem);
	assert_int_equal(mem.read(mem.ctx, mk_gpa(0x2000), &v, 8), 0);
	assert_int_equal(v, 0);
	assert_int_equal(mem.cmpxchg(mem.ctx, mk_gpa(0x2000), 0x1003, 0x1023, 8), 1);
	assert_int_equal(mem.cmpxchg(mem.ctx, mk_gpa(0x2004), 0x1, 0x2, 4), 1);
	assert_int_equal(in_use(w), 0);
	assert_int_equal(mem.cmpxchg(mem.ctx, mk_gpa(0x2000), 0, 0x21, 8), 0);
	assert_int_equal(in_use(w), 512);
	assert_int_equal(mem.read(mem.ctx, mk_gpa(0x2000), &v, 8), 0);
	assert_int_equal(v, 0x21);
	assert_int_equal(mem.cmpxchg(mem.ctx, mk_gpa(0x400000), 0, 1, 8),
			 VMMU_ENOENT);
	wrap_close(w);
}

/*
 * Fail the n-th allocation for every n until the write succeeds: each
 * failure is VMMU_ENOMEM with no byte changed (the earlier contents stay);
 * the write spans a 2 MiB block's end and a 4 KiB tail in a second slot.
 */
static void test_write_all_or_nothing_under_enomem(void **state)
{
	static uint8_t in[0x3000], out[0x3000];
	long n;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 13 + 5);
	for (n = 0;; n++) {
		struct wrap *w = wrap_open(64 * MB, true);
		uint8_t old = 0x11;
		int rc;

		assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(0), 2 * MB,
						  VMMU_MEM_RAM), 0);
		assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(2 * MB), 0x3000,
						  VMMU_MEM_RAM), 0);
		assert_int_equal(vmmu_vm_write_gpa(w->vm, mk_gpa(2 * MB - 0x1800),
						   &old, 1), 0);
		w->fail_at = w->allocs + n;
		rc = vmmu_vm_write_gpa(w->vm, mk_gpa(2 * MB - 0x1800), in,
				       sizeof(in));
		w->fail_at = -1;
		assert_int_equal(vmmu_vm_read_gpa(w->vm, mk_gpa(2 * MB - 0x1800),
						  out, sizeof(out)), 0);
		if (rc == VMMU_OK) {
			assert_memory_equal(in, out, sizeof(in));
			wrap_close(w);
			break;
		}
		assert_int_equal(rc, VMMU_ENOMEM);
		assert_int_equal(out[0], 0x11);
		for (i = 1; i < sizeof(out); i++)
			assert_int_equal(out[i], 0);
		wrap_close(w);
		assert_true(n < 50);
	}
	assert_true(n >= 3);    /* the tail's table and both of its pages */
}

/* Eager slots are backed at add; a failure adds nothing. */
static void test_eager_slot(void **state)
{
	struct wrap *w = wrap_open(64 * MB, true);
	long n;

	(void)state;
	assert_int_equal(add(w, 0x1ff000, 0x402000, VMMU_MEM_RAM,
			     VMMU_ORDER_1G, true), 0);
	assert_int_equal(in_use(w), 0x402);
	assert_int_equal(add(w, 16 * MB, 0x3000, VMMU_MEM_MMIO, 0, true), 0);
	assert_int_equal(in_use(w), 0x402);
	for (n = 0; n < 4; n++) {
		uint64_t bytes = w->zbytes;

		w->fail_at = w->allocs + n;
		assert_int_equal(add(w, 32 * MB, 0x3000, VMMU_MEM_RAM, 0, true),
				 VMMU_ENOMEM);
		w->fail_at = -1;
		assert_int_equal(w->vm->nslots, 2);
		assert_int_equal(in_use(w), 0x402);
		assert_int_equal(w->zbytes, bytes);
	}
	wrap_close(w);
}

static void test_rom_and_mmio(void **state)
{
	struct wrap *w = wrap_open(64 * MB, true);
	static const uint8_t fw[4] = { 0xea, 0x5b, 0xe0, 0x00 };
	struct vmmu_ram_page pg;
	struct vmmu_gmem mem;
	uint8_t buf[8];
	uint64_t v = 1;

	(void)state;
	assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(0xfff00000), MB,
					  VMMU_MEM_ROM), 0);
	assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(0xfee00000), 0x1000,
					  VMMU_MEM_MMIO), 0);
	assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(0xfedff000), 0x1000,
					  VMMU_MEM_RAM), 0);
	/* The VMM loads firmware into ROM with write_gpa. */
	assert_int_equal(vmmu_vm_write_gpa(w->vm, mk_gpa(0xffffff00), fw, 4), 0);
	assert_int_equal(vmmu_vm_read_gpa(w->vm, mk_gpa(0xffffff00), buf, 4), 0);
	assert_memory_equal(buf, fw, 4);
	/* The walker's A/D updates into ROM are refused. */
	vmmu_vm_gmem(w->vm, &mem);
	assert_int_equal(mem.cmpxchg(mem.ctx, mk_gpa(0xffffff00), 0x00e05bea,
				     0x00e05bfa, 4), VMMU_EFAULT);
	assert_int_equal(mem.read(mem.ctx, mk_gpa(0xffffff00), buf, 4), 0);
	assert_memory_equal(buf, fw, 4);
	/* MMIO: no host memory, every path refuses it. */
	assert_int_equal(vmmu_vm_ram_lookup(w->vm, mk_gpa(0xfee00000), true, &pg),
			 VMMU_EFAULT);
	assert_int_equal(mem.cmpxchg(mem.ctx, mk_gpa(0xfee00000), 0, 1, 8),
			 VMMU_EFAULT);
	assert_int_equal(vmmu_vm_read_gpa(w->vm, mk_gpa(0xfee00000), buf, 4),
			 VMMU_EFAULT);
	/* A write running from RAM into MMIO changes and populates nothing. */
	assert_int_equal(vmmu_vm_write_gpa(w->vm, mk_gpa(0xfedffffc), &v, 8),
			 VMMU_EFAULT);
	assert_int_equal(vmmu_vm_ram_lookup(w->vm, mk_gpa(0xfedff000), false, &pg),
			 VMMU_ENOENT);
	assert_int_equal(vmmu_vm_ram_lookup(w->vm, mk_gpa(0x1000), true, &pg),
			 VMMU_ENOENT);
	wrap_close(w);
}

/* Removing slots frees every block and table; so does destroying the VM. */
static void test_removal_frees_everything(void **state)
{
	struct wrap *w = wrap_open(4 * GB, true);
	uint64_t bytes = w->zbytes;

	(void)state;
	assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(GB - 0x1000),
					  GB + 4 * MB, VMMU_MEM_RAM), 0);
	assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(3 * GB), 4 * MB,
					  VMMU_MEM_ROM), 0);
	assert_int_equal(touch(w, GB - 0x1000), 0);
	assert_int_equal(touch(w, GB), 18);
	assert_int_equal(touch(w, 2 * GB + 0x2000), 9);
	assert_int_equal(touch(w, 3 * GB + 2 * MB), 9);
	assert_true(in_use(w) > (1 << 18));
	assert_int_equal(vmmu_vm_remove_slot(w->vm, mk_gpa(GB - 0x1000)), 0);
	assert_int_equal(in_use(w), 512);
	assert_int_equal(vmmu_vm_remove_slot(w->vm, mk_gpa(3 * GB)), 0);
	assert_int_equal(in_use(w), 0);
	assert_int_equal(w->zbytes, bytes);
	assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(0), 4 * MB,
					  VMMU_MEM_RAM), 0);
	assert_int_equal(touch(w, 0x3000), 9);
	wrap_close(w);          /* destroy frees the rest */
}

/* A backend that records vmmu_vm_written's calls. */
static struct { unsigned calls; uint64_t gpa; size_t len; } written;

static void rec_gpa_written(struct vmmu_vm *vm, gpa_t gpa, size_t len)
{
	(void)vm;
	written.calls++;
	written.gpa = gpa.v;
	written.len = len;
}

static const struct vmmu_backend_ops rec_ops = {
	.name = "recorder", .gpa_written = rec_gpa_written,
};

static void expect_written(unsigned calls, uint64_t gpa, size_t len)
{
	assert_int_equal(written.calls, calls);
	assert_int_equal(written.gpa, gpa);
	assert_int_equal(written.len, len);
}

static void test_every_write_reaches_the_backend(void **state)
{
	struct wrap *w = wrap_open(64 * MB, true);
	struct vmmu_gmem mem;
	uint8_t buf[0x2100];

	(void)state;
	memset(&written, 0, sizeof(written));
	memset(buf, 0x3c, sizeof(buf));
	assert_int_equal(vmmu_vm_set_backend(w->vm, VMMU_BACKEND_NONE, &rec_ops), 0);
	assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(0), 4 * MB, VMMU_MEM_RAM), 0);
	assert_int_equal(vmmu_vm_add_slot(w->vm, mk_gpa(4 * MB), MB, VMMU_MEM_ROM), 0);
	assert_int_equal(vmmu_vm_write_gpa(w->vm, mk_gpa(0x1f80), buf, 0x2100), 0);
	expect_written(1, 0x1f80, 0x2100);
	assert_int_equal(vmmu_vm_write_gpa(w->vm, mk_gpa(4 * MB - 8), buf, 16), 0);
	expect_written(2, 4 * MB - 8, 16);      /* RAM and ROM in one write */
	assert_int_equal(vmmu_vm_write_gpa(w->vm, mk_gpa(5 * MB - 8), buf, 16),
			 VMMU_ENOENT);
	assert_int_equal(vmmu_vm_read_gpa(w->vm, mk_gpa(0x1f80), buf, 64), 0);
	vmmu_vm_gmem(w->vm, &mem);
	assert_int_equal(mem.read(mem.ctx, mk_gpa(0x2000), buf, 8), 0);
	assert_int_equal(written.calls, 2);     /* failures and reads: none */
	assert_int_equal(mem.cmpxchg(mem.ctx, mk_gpa(0x2000), 0x3c3c3c3c3c3c3c3cULL,
				     0x3c3c3c3c3c3c3c7cULL, 8), 0);
	expect_written(3, 0x2000, 8);
	assert_int_equal(mem.cmpxchg(mem.ctx, mk_gpa(0x2000), 0, 1, 8), 1);
	assert_int_equal(mem.cmpxchg(mem.ctx, mk_gpa(2 * MB), 0, 0x23, 4), 0);
	expect_written(4, 2 * MB, 4);           /* populated on the way */
	assert_int_equal(mem.cmpxchg(mem.ctx, mk_gpa(4 * MB), 0, 1, 8), VMMU_EFAULT);
	assert_int_equal(written.calls, 4);
	wrap_close(w);
}

static void test_bad_descriptors(void **state)
{
	struct wrap *w = wrap_open(64 * MB, true);
	struct vmmu_slot_desc d = {
		.base = mk_gpa(0), .size = MB, .type = VMMU_MEM_RAM,
		.max_order = 9, .memtype = 6,
	};

	(void)state;
	assert_int_equal(vmmu_vm_add_slot_ex(w->vm, NULL), VMMU_EINVAL);
	d.memtype = 2;
	assert_int_equal(vmmu_vm_add_slot_ex(w->vm, &d), VMMU_EINVAL);
	d.memtype = 6;
	d.type = (enum vmmu_mem_type)7;
	assert_int_equal(vmmu_vm_add_slot_ex(w->vm, &d), VMMU_EINVAL);
	d.type = VMMU_MEM_RAM;
	assert_int_equal(vmmu_vm_add_slot_ex(w->vm, &d), 0);
	assert_int_equal(vmmu_vm_find_slot(w->vm, mk_gpa(0))->memtype, 6);
	assert_int_equal(vmmu_vm_find_slot(w->vm, mk_gpa(0))->max_order, 9);
	d.base = mk_gpa((1ULL << 48) - MB);
	assert_int_equal(vmmu_vm_add_slot_ex(w->vm, &d), 0);
	d.base = mk_gpa(1ULL << 48);
	assert_int_equal(vmmu_vm_add_slot_ex(w->vm, &d), VMMU_EINVAL);
	wrap_close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_population_is_lazy_and_large),
		cmocka_unit_test(test_unaligned_slot_edges),
		cmocka_unit_test(test_max_order_and_no_large_platform),
		cmocka_unit_test(test_small_arena_falls_back),
		cmocka_unit_test(test_1tib_slot_is_sparse),
		cmocka_unit_test(test_gmem_on_untouched_ram),
		cmocka_unit_test(test_write_all_or_nothing_under_enomem),
		cmocka_unit_test(test_eager_slot),
		cmocka_unit_test(test_rom_and_mmio),
		cmocka_unit_test(test_removal_frees_everything),
		cmocka_unit_test(test_every_write_reaches_the_backend),
		cmocka_unit_test(test_bad_descriptors),
	};

	return cmocka_run_group_tests_name("guest_mem", tests, NULL, NULL);
}
