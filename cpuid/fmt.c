/* SPDX-License-Identifier: MIT */
/*
 * A small snprintf for cpuid's freestanding part (policy reasons, the
 * decision text): the same text as the C library's for the conversions it
 * accepts, so that the hosted `vmmu detect` and the bare-metal kernel print
 * identical lines.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cpuid_fs.h"

struct out {
	char *buf;
	size_t len, n;
};

static void put(struct out *o, char c)
{
	if (o->n + 1 < o->len)
		o->buf[o->n] = c;
	o->n++;
}

static void put_str(struct out *o, const char *s, int prec)
{
	int i;

	if (!s)
		s = "(null)";
	for (i = 0; s[i] && (prec < 0 || i < prec); i++)
		put(o, s[i]);
}

/*
 * v / base, remainder in *rem, bit by bit: no 64-bit division helper
 * (__udivmoddi4) in the 32-bit freestanding build.
 */
static uint64_t div_small(uint64_t v, unsigned base, unsigned *rem)
{
	uint64_t q = 0;
	unsigned r = 0;
	int i;

	for (i = 63; i >= 0; i--) {
		r = r << 1 | (unsigned)(v >> i & 1);
		q <<= 1;
		if (r >= base) {
			r -= base;
			q |= 1;
		}
	}
	*rem = r;
	return q;
}

/* C11 7.21.6.1: a precision is the minimum digit count; 0 with 0 is "". */
static void put_num(struct out *o, uint64_t v, bool neg, unsigned base,
		    bool upper, int prec)
{
	const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;

	while (v) {
		unsigned r;

		v = div_small(v, base, &r);
		tmp[n++] = dig[r];
	}
	if (prec < 0)
		prec = 1;
	while (n < prec && n < (int)sizeof(tmp))
		tmp[n++] = '0';
	if (neg)
		put(o, '-');
	while (n)
		put(o, tmp[--n]);
}

/* Length modifier: 0 int, 1 long, 2 long long, 3 size_t. */
static uint64_t get_unsigned(va_list *ap, int lm)
{
	switch (lm) {
	case 1: return va_arg(*ap, unsigned long);
	case 2: return va_arg(*ap, unsigned long long);
	case 3: return va_arg(*ap, size_t);
	}
	return va_arg(*ap, unsigned);
}

static int64_t get_signed(va_list *ap, int lm)
{
	switch (lm) {
	case 1: return va_arg(*ap, long);
	case 2: return va_arg(*ap, long long);
	case 3: return (int64_t)va_arg(*ap, size_t);
	}
	return va_arg(*ap, int);
}

static const char *conv(struct out *o, const char *f, va_list *ap)
{
	int prec = -1, lm = 0;

	if (*f == '.') {
		prec = 0;
		for (f++; *f >= '0' && *f <= '9'; f++)
			prec = prec * 10 + (*f - '0');
	}
	for (; *f == 'l' || *f == 'z'; f++)
		lm = *f == 'z' ? 3 : lm + 1;
	switch (*f) {
	case 's': put_str(o, va_arg(*ap, const char *), prec); break;
	case 'c': put(o, (char)va_arg(*ap, int)); break;
	case 'd':
	case 'i': {
		int64_t v = get_signed(ap, lm);

		put_num(o, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0, 10,
			false, prec);
		break;
	}
	case 'u': put_num(o, get_unsigned(ap, lm), false, 10, false, prec); break;
	case 'x': put_num(o, get_unsigned(ap, lm), false, 16, false, prec); break;
	case 'X': put_num(o, get_unsigned(ap, lm), false, 16, true, prec); break;
	case '%': put(o, '%'); break;
	default: return f;      /* not a conversion of this subset: dropped */
	}
	return f + 1;
}

size_t vmmu_vfmt(char *buf, size_t len, const char *fmt, va_list ap)
{
	struct out o = { buf, len, 0 };
	va_list aq;

	va_copy(aq, ap);
	while (*fmt) {
		if (*fmt != '%') {
			put(&o, *fmt++);
			continue;
		}
		fmt = conv(&o, fmt + 1, &aq);
		if (!*fmt)
			break;
	}
	va_end(aq);
	if (len)
		buf[o.n < len ? o.n : len - 1] = '\0';
	return o.n;
}

size_t vmmu_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = vmmu_vfmt(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

bool vmmu_streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}
