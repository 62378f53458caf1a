/* SPDX-License-Identifier: MIT */
/*
 * vmmu-hv's small libc: memcpy/memmove/memset (all that core/, ept/ and
 * npt/ need from outside), a polled 16550 console on COM1, a printf subset
 * and the emulators' exit ports.
 */
#include <stdarg.h>

#include "hv.h"

#define COM1 0x3f8
#define LSR_THRE 0x20           /* line status: transmit holding empty */
#define LSR_TEMT 0x40           /* line status: transmitter empty */

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

/* memmove: the table engine moves entries within a page. */
void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

/* rep stosb: the pool zeroes 2 MiB blocks, a byte loop is slow in Bochs. */
void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n--; p++, q++)
		if (*p != *q)
			return *p < *q ? -1 : 1;
	return 0;
}

void hv_serial_init(void)
{
	hv_outb(COM1 + 1, 0x00);        /* no interrupts */
	hv_outb(COM1 + 3, 0x80);        /* DLAB */
	hv_outb(COM1 + 0, 0x01);        /* 115200 baud */
	hv_outb(COM1 + 1, 0x00);
	hv_outb(COM1 + 3, 0x03);        /* 8N1 */
	hv_outb(COM1 + 2, 0xc7);        /* FIFO on, cleared */
	hv_outb(COM1 + 4, 0x03);        /* DTR, RTS */
}

static void hv_putc(char c)
{
	unsigned spin = 1u << 20;

	while (!(hv_inb(COM1 + 5) & LSR_THRE) && --spin)
		;
	hv_outb(COM1, (uint8_t)c);
}

static void put_str(const char *s)
{
	while (*s)
		hv_putc(*s++);
}

/* v in base, upper-case digits if upper, zero-padded to width digits. */
static void put_num(uint64_t v, unsigned base, int width, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[24];
	int n = 0;

	do {
		buf[n++] = digits[v % base];
		v /= base;
	} while (v);
	while (n < width && n < (int)sizeof(buf))
		buf[n++] = '0';
	while (n)
		hv_putc(buf[--n]);
}

/* %s %c %d %u %x %X with a zero-padding width ("%08X") and l / ll;
 * "0x" prefixes are written literally. */
void hv_printf(const char *fmt, ...)
{
	va_list ap;
	int longs, width;

	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			hv_putc(*fmt);
			continue;
		}
		for (width = 0; fmt[1] >= '0' && fmt[1] <= '9'; fmt++)
			width = width * 10 + (fmt[1] - '0');
		for (longs = 0; fmt[1] == 'l'; fmt++)
			longs++;
		switch (*++fmt) {
		case 's':
			put_str(va_arg(ap, const char *));
			break;
		case 'c':
			hv_putc((char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = longs ? va_arg(ap, long) : va_arg(ap, int);

			if (v < 0) {
				hv_putc('-');
				v = -v;
			}
			put_num((uint64_t)v, 10, width, false);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
			put_num(longs ? va_arg(ap, unsigned long) :
				va_arg(ap, unsigned), *fmt == 'u' ? 10 : 16,
				width, *fmt == 'X');
			break;
		case '%':
			hv_putc('%');
			break;
		default:
			hv_putc('?');
			break;
		}
	}
	va_end(ap);
}

/*
 * QEMU: isa-debug-exit at 0xf4 ends the run with status (v << 1) | 1.
 * Bochs: the string "Shutdown" written to port 0x8900 ends the simulation.
 */
void hv_exit_emulator(bool pass)
{
	const char *s = "Shutdown";
	unsigned spin = 1u << 24;

	hv_printf("hv: end %s\n", pass ? "pass" : "FAIL");
	/* Let the UART send its last byte before the emulator stops. */
	while (!(hv_inb(COM1 + 5) & LSR_TEMT) && --spin)
		;
	__asm__ volatile("outl %0, %1" :: "a"((uint32_t)(pass ? 0 : 1)),
			 "Nd"((uint16_t)0xf4));
	while (*s)
		hv_outb(0x8900, (uint8_t)*s++);
	for (;;)
		__asm__ volatile("cli; hlt");
}
