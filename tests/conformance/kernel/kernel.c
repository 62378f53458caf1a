/* SPDX-License-Identifier: MIT */
/*
 * Conformance test kernel, C side. Runs in 32-bit protected mode with
 * paging off; reads the batch (multiboot module, format in ../batch.h),
 * and for each case writes the case's memory, runs each access through
 * conf_access() (boot.S) and prints the outcome and every listed word that
 * changed on port 0xe9. Freestanding: no libc, no 64-bit division.
 */
#include <stddef.h>
#include <stdint.h>

#include "../batch.h"

/* Shared with boot.S (offsets are the C_* constants there). */
struct conf_ctl {
	uint32_t cr0, cr3, cr4, efer_lo, efer_hi, pkru, rflags;
	uint32_t gva_lo, gva_hi, kind, cpl, long_mode;
	uint32_t vector, error_code, cr2_lo, cr2_hi, value;
};

struct mb_module {
	uint32_t start, end, string, reserved;
};

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr;
};

extern int conf_access(struct conf_ctl *ctl);
extern uint8_t gdt[];
extern uint8_t idt32[], idt64[], tss32[], tss64[], exc_stack_top[];
extern const uint32_t isr_table32[], isr_table64[];
extern const uint8_t user_stubs[], user_stubs_end[];
void kmain(uint32_t magic, const struct mb_info *mbi);

#define EFER_LME  (1u << 8)
#define NVECTORS  23            /* 0..21 and 0x81, as in isr_table* */

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void put_char(char c)
{
	outb(0xe9, (uint8_t)c);
}

static void put_str(const char *s)
{
	while (*s)
		put_char(*s++);
}

static void put_hex(uint64_t v)
{
	char buf[17];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v);
	while (n)
		put_char(buf[--n]);
}

static void put_field(uint64_t v)
{
	put_char(' ');
	put_hex(v);
}

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/* Leave the emulator: QEMU's isa-debug-exit, Bochs's shutdown port. */
static void power_off(void)
{
	const char *s = "Shutdown";

	outb(0xf4, 0x10);
	while (*s)
		outb(0x8900, (uint8_t)*s++);
	for (;;)
		__asm__ volatile("cli; hlt");
}

static void fail(const char *why)
{
	put_str("X ");
	put_str(why);
	put_char('\n');
	power_off();
}

static void set_gate(unsigned vec, uint32_t handler, int user)
{
	uint8_t type = user ? 0xee : 0x8e;   /* present interrupt gate */
	uint8_t *g32 = idt32 + vec * 8, *g64 = idt64 + vec * 16;
	uint32_t h64 = isr_table64[handler];
	uint32_t h32 = isr_table32[handler];

	g32[0] = (uint8_t)h32; g32[1] = (uint8_t)(h32 >> 8);
	g32[2] = 0x08; g32[3] = 0; g32[4] = 0; g32[5] = type;
	g32[6] = (uint8_t)(h32 >> 16); g32[7] = (uint8_t)(h32 >> 24);
	g64[0] = (uint8_t)h64; g64[1] = (uint8_t)(h64 >> 8);
	g64[2] = 0x28; g64[3] = 0; g64[4] = 0; g64[5] = type;
	g64[6] = (uint8_t)(h64 >> 16); g64[7] = (uint8_t)(h64 >> 24);
}

static void set_tss_desc(uint8_t *d, uint32_t base)
{
	d[0] = 103; d[1] = 0;
	d[2] = (uint8_t)base; d[3] = (uint8_t)(base >> 8);
	d[4] = (uint8_t)(base >> 16); d[5] = 0x89; d[6] = 0;
	d[7] = (uint8_t)(base >> 24);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static void setup_tables(void)
{
	unsigned i;
	uint32_t *pt32 = (uint32_t *)CB_FIXED_PT32;
	uint64_t *pt64 = (uint64_t *)CB_FIXED_PT64_0;  /* both PT64s */
	uint8_t *user = (uint8_t *)CB_USER_PAGE;

	for (i = 0; i < NVECTORS - 1; i++)
		set_gate(i, i, 0);
	set_gate(CB_VEC_DONE, NVECTORS - 1, 1);
	set_tss_desc(gdt + 0x38, (uint32_t)tss32);
	set_tss_desc(gdt + 0x40, (uint32_t)tss64);
	put32(tss32 + 4, (uint32_t)exc_stack_top);  /* ESP0 */
	put32(tss32 + 8, 0x10);                     /* SS0 */
	put32(tss32 + 100, 104u << 16);             /* no I/O bitmap */
	put32(tss64 + 4, (uint32_t)exc_stack_top);  /* RSP0 (low half) */
	put32(tss64 + 100, 104u << 16);
	__asm__ volatile("ltr %w0" : : "r"(0x38));
	for (i = 0; i < 1024; i++) {
		pt32[i] = (uint32_t)cb_fixed_entry(0, i);
		pt64[i] = cb_fixed_entry(1 + i / 512, i % 512);
	}
	for (i = 0; i < 4096; i++)
		user[i] = 0xcc;                     /* int3 past the stubs */
	for (i = 0; i < (unsigned)(user_stubs_end - user_stubs); i++)
		user[i] = user_stubs[i];
}

static void report_cpu(void)
{
	uint32_t r[4], maxphy = 32, c1edx, c7ebx = 0, c7ecx = 0, e1edx = 0;

	cpuid(1, 0, r);
	c1edx = r[3];
	cpuid(0, 0, r);
	if (r[0] >= 7) {
		cpuid(7, 0, r);
		c7ebx = r[1];
		c7ecx = r[2];
	}
	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x80000001) {
		cpuid(0x80000001, 0, r);
		e1edx = r[3];
	}
	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x80000008) {
		cpuid(0x80000008, 0, r);
		maxphy = r[0] & 0xff;
	}
	put_char('K');
	put_field(maxphy);
	put_field(c1edx);
	put_field(c7ebx);
	put_field(c7ecx);
	put_field(e1edx);
	put_char('\n');
}

static void run_access(const struct cb_case *c, const struct cb_access *a)
{
	struct conf_ctl ctl;

	ctl.cr0 = (uint32_t)c->cr0;
	ctl.cr3 = (uint32_t)c->cr3;
	ctl.cr4 = (uint32_t)c->cr4;
	ctl.efer_lo = (uint32_t)c->efer & ~(1u << 10);   /* LMA is read-only */
	ctl.efer_hi = (uint32_t)(c->efer >> 32);
	ctl.pkru = c->pkru;
	ctl.rflags = ((uint32_t)c->rflags & (1u << 18)) | 0x2;  /* only AC */
	ctl.gva_lo = (uint32_t)a->gva;
	ctl.gva_hi = (uint32_t)(a->gva >> 32);
	ctl.kind = a->kind;
	ctl.cpl = a->cpl;
	ctl.long_mode = (ctl.efer_lo & EFER_LME) != 0;
	ctl.vector = 0xffffffffu;
	ctl.error_code = ctl.cr2_lo = ctl.cr2_hi = ctl.value = 0;
	conf_access(&ctl);
	if (ctl.vector == CB_VEC_DONE) {
		put_str("R o");
		put_field(ctl.value);
	} else {
		put_str("R f");
		put_field(ctl.vector);
		put_field(ctl.error_code);
		put_field(((uint64_t)ctl.cr2_hi << 32) | ctl.cr2_lo);
	}
	put_char('\n');
}

static int words_valid(const struct cb_word *w, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (w[i].gpa < CB_CASE_BASE || w[i].gpa >= CB_CASE_LIMIT ||
		    (w[i].gpa & 7))
			return 0;
	return 1;
}

static void run_case(const struct cb_case *c)
{
	const struct cb_word *w = (const struct cb_word *)(c + 1);
	const struct cb_access *a = (const struct cb_access *)(w + c->nwords);
	uint32_t i;

	if (!words_valid(w, c->nwords))
		fail("case word outside the case region");
	put_char('C');
	put_field(c->id);
	put_char('\n');
	for (i = 0; i < c->nwords; i++)
		*(volatile uint64_t *)(uintptr_t)w[i].gpa = w[i].value;
	for (i = 0; i < c->naccesses; i++)
		run_access(c, &a[i]);
	for (i = 0; i < c->nwords; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)w[i].gpa;
		uint64_t now = *p;

		if (now != w[i].value) {
			put_char('W');
			put_field(i);
			put_field(now);
			put_char('\n');
		}
	}
	for (i = 0; i < c->nwords; i++)
		*(volatile uint64_t *)(uintptr_t)w[i].gpa = 0;
	put_str("E\n");
}

void kmain(uint32_t magic, const struct mb_info *mbi)
{
	const struct mb_module *mod;
	const struct cb_header *h;
	const uint8_t *p, *end;
	uint32_t i;

	setup_tables();
	report_cpu();
	if (magic != 0x2badb002 || !(mbi->flags & (1u << 3)) ||
	    mbi->mods_count < 1)
		fail("no batch module");
	mod = (const struct mb_module *)mbi->mods_addr;
	if (mod->end > CB_CASE_BASE || mod->end - mod->start < sizeof(*h))
		fail("batch module too large or too small");
	h = (const struct cb_header *)mod->start;
	if (h->magic != CB_MAGIC || h->version != CB_VERSION ||
	    h->total_len > mod->end - mod->start)
		fail("bad batch header");
	p = (const uint8_t *)(h + 1);
	end = (const uint8_t *)mod->start + (uint32_t)h->total_len;
	for (i = 0; i < h->ncases; i++) {
		const struct cb_case *c = (const struct cb_case *)p;

		if ((uint32_t)(end - p) < sizeof(*c) || c->len > (uint32_t)(end - p) ||
		    c->nwords > (1u << 20) || c->naccesses > (1u << 20) ||
		    c->len != sizeof(*c) + c->nwords * sizeof(struct cb_word) +
			      c->naccesses * sizeof(struct cb_access))
			fail("bad case record");
		run_case(c);
		p += c->len;
	}
	put_char('D');
	put_field(i);
	put_char('\n');
	power_off();
}
