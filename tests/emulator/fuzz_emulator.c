/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the emulator: random instruction bytes, mode and
 * register state against a two-page memory window. Checks, beyond "no
 * crash" (ASan/UBSan), that the emulator
 *   - only touches memory through the callbacks, with sane lengths,
 *   - reports unsupported forms instead of changing state,
 *   - writes nothing and changes no register when it reports an exception
 *     for a non-string instruction,
 *   - gives the same answer with and without its decoded-instruction cache.
 *
 * Input layout: [mode][reg mask][window-relative flags][15 code bytes]
 * [16 x 8 register bytes][rflags 8][window contents...].
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmmu/emulate.h"
#include "vmmu/error.h"

#define WIN_BASE 0x7ffff000ULL          /* straddles the 2 GiB line */
#define WIN_SIZE 0x2000ULL
#define CODE_LA  0x1000ULL                /* reachable in every mode */

struct fmem {
	uint8_t win[WIN_SIZE];
	uint8_t code[16];
	unsigned int writes;
};

static void check_len(unsigned int len)
{
	if (len == 0 || len > 4096)
		abort();
}

static int in_win(uint64_t la, unsigned int len)
{
	return la >= WIN_BASE && la - WIN_BASE + len <= WIN_SIZE;
}

static int f_fetch(void *o, uint64_t la, void *buf, unsigned int len,
		   struct vmmu_emu_exception *exc)
{
	struct fmem *m = o;

	if (len == 0 || len > 15)
		abort();
	if (la < CODE_LA || la + len > CODE_LA + 15)
		return vmmu_emu_page_fault(exc, la, 0x10);
	memcpy(buf, m->code + (la - CODE_LA), len);
	return 0;
}

static int f_read(void *o, uint64_t la, void *buf, unsigned int len,
		  struct vmmu_emu_exception *exc)
{
	struct fmem *m = o;

	check_len(len);
	if (!in_win(la, len))
		return vmmu_emu_page_fault(exc, la, 0);
	memcpy(buf, m->win + (la - WIN_BASE), len);
	return 0;
}

static int f_write(void *o, uint64_t la, const void *buf, unsigned int len,
		   struct vmmu_emu_exception *exc)
{
	struct fmem *m = o;

	check_len(len);
	if (!in_win(la, len))
		return vmmu_emu_page_fault(exc, la, 2);
	memcpy(m->win + (la - WIN_BASE), buf, len);
	m->writes++;
	return 0;
}

static int f_cmpxchg(void *o, uint64_t la, void *old, const void *nv,
		     unsigned int len, struct vmmu_emu_exception *exc)
{
	struct fmem *m = o;
	uint8_t expected[16];

	if (len != 1 && len != 2 && len != 4 && len != 8 && len != 16)
		abort();
	if (!in_win(la, len))
		return vmmu_emu_page_fault(exc, la, 2);
	memcpy(expected, old, len);
	if (vmmu_emu_host_cmpxchg(m->win + (la - WIN_BASE), old, nv, len))
		abort();
	if (!memcmp(expected, old, len))
		m->writes++;
	return 0;
}

static const struct vmmu_emu_ops fops = {
	.fetch = f_fetch, .read = f_read, .write = f_write,
	.cmpxchg = f_cmpxchg,
};

static struct vmmu_emu *cached, *uncached;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned int modes[4] = { 64, 64, 32, 16 };
	static struct fmem m1, m2;
	struct vmmu_emu_regs r1, r2, in;
	struct vmmu_emu_result res1, res2;
	unsigned int mode, i;
	uint16_t mask;
	size_t hdr = 3 + 15 + 17 * 8;

	if (size < hdr)
		return 0;
	if (!cached) {
		if (vmmu_emu_create(&cached) < 0 ||
		    vmmu_emu_create(&uncached) < 0)
			abort();
		vmmu_emu_set_cache(uncached, false);
		vmmu_emu_set_rep_limit(cached, 1024);
		vmmu_emu_set_rep_limit(uncached, 1024);
	}
	mode = modes[data[0] & 3];
	mask = (uint16_t)(data[1] | data[2] << 8);
	memset(&in, 0, sizeof(in));
	memset(&m1, 0, sizeof(m1));
	memcpy(m1.code, data + 3, 15);
	memcpy(in.gpr, data + 18, 16 * 8);
	memcpy(&in.rflags, data + 18 + 128, 8);
	in.rflags = (in.rflags & 0xcd5) | 2;    /* arithmetic flags and DF */
	/*
	 * Registers in mask point into the window, so accesses succeed; in
	 * 16-bit mode through data segment bases at the window.
	 */
	for (i = 0; i < 16; i++)
		if (mask & (1u << i))
			in.gpr[i] = (mode == 16 ? 0 : WIN_BASE) +
				    (in.gpr[i] & (WIN_SIZE - 1));
	if (mode == 16) {
		in.seg_base[VMMU_SEG_DS] = WIN_BASE;
		in.seg_base[VMMU_SEG_ES] = WIN_BASE;
		in.seg_base[VMMU_SEG_SS] = WIN_BASE;
	}
	in.rip = CODE_LA;
	in.seg_base[VMMU_SEG_GS] = (data[0] & 4) ? WIN_BASE : 0;
	memcpy(m1.win, data + hdr,
	       size - hdr < WIN_SIZE ? size - hdr : WIN_SIZE);
	m2 = m1;
	r1 = in;
	r2 = in;
	if (vmmu_emulate(cached, mode, &r1, &fops, &m1, &res1) < 0 ||
	    vmmu_emulate(uncached, mode, &r2, &fops, &m2, &res2) < 0)
		abort();
	/* Same answer with and without the cache. */
	if (res1.status != res2.status || res1.length != res2.length ||
	    memcmp(&r1, &r2, sizeof(r1)) || memcmp(m1.win, m2.win, WIN_SIZE))
		abort();
	if (res1.length > 15)
		abort();
	if (res1.status == VMMU_EMU_UNHANDLEABLE || res1.status ==
	    VMMU_EMU_RETRY) {
		if (memcmp(&r1, &in, sizeof(in)) || m1.writes)
			abort();
	}
	if (res1.status == VMMU_EMU_EXCEPTION &&
	    !strstr(res1.mnemonic, "movs") && !strstr(res1.mnemonic, "stos")) {
		if (memcmp(&r1, &in, sizeof(in)) || m1.writes)
			abort();
	}
	if (res1.status == VMMU_EMU_DONE && res1.complete &&
	    r1.rip != ((CODE_LA + res1.length) &
		       (mode == 16 ? 0xffffULL : ~0ULL)))
		abort();
	return 0;
}
