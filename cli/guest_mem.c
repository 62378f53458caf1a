/* SPDX-License-Identifier: MIT */
/*
 * Sparse guest memory: open-addressing hash tables of 8-byte words (with a
 * mask of the bytes listed) and of the pages those words are in (for the
 * bound on pages a case may touch).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"
#include "guest_mem.h"
#include "vmmu/error.h"

#define PAGE_SHIFT 12

static size_t hash64(uint64_t k, size_t cap)
{
	return (size_t)((k * 0x9e3779b97f4a7c15ULL) >> 20) & (cap - 1);
}

static struct guest_mem_word *word_slot(const struct guest_mem *m,
					uint64_t wgpa)
{
	size_t i = hash64(wgpa >> 3, m->wcap);

	while (m->w[i].used && m->w[i].wgpa != wgpa)
		i = (i + 1) & (m->wcap - 1);
	return &m->w[i];
}

static uint64_t *page_slot(const struct guest_mem *m, uint64_t pfn)
{
	size_t i = hash64(pfn, m->pcap);

	while (m->pages[i] && m->pages[i] != pfn + 1)
		i = (i + 1) & (m->pcap - 1);
	return &m->pages[i];
}

static int grow_words(struct guest_mem *m)
{
	struct guest_mem n = *m;
	size_t i;

	n.wcap = m->wcap * 2;
	n.w = calloc(n.wcap, sizeof(*n.w));
	if (!n.w)
		return VMMU_ENOMEM;
	for (i = 0; i < m->wcap; i++)
		if (m->w[i].used)
			*word_slot(&n, m->w[i].wgpa) = m->w[i];
	free(m->w);
	m->w = n.w;
	m->wcap = n.wcap;
	return 0;
}

static int grow_pages(struct guest_mem *m)
{
	struct guest_mem n = *m;
	size_t i;

	n.pcap = m->pcap * 2;
	n.pages = calloc(n.pcap, sizeof(*n.pages));
	if (!n.pages)
		return VMMU_ENOMEM;
	for (i = 0; i < m->pcap; i++)
		if (m->pages[i])
			*page_slot(&n, m->pages[i] - 1) = m->pages[i];
	free(m->pages);
	m->pages = n.pages;
	m->pcap = n.pcap;
	return 0;
}

static int note_page(struct guest_mem *m, uint64_t pfn)
{
	uint64_t *p = page_slot(m, pfn);

	if (*p)
		return 0;
	if (m->max_pages && m->npages >= m->max_pages)
		return VMMU_ENOSPC;
	if ((m->npages + 1) * 2 > m->pcap) {
		if (grow_pages(m) < 0)
			return VMMU_ENOMEM;
		p = page_slot(m, pfn);
	}
	*p = pfn + 1;
	m->npages++;
	return 0;
}

/* The word at wgpa, created (nothing listed) when absent. */
static struct guest_mem_word *word_get(struct guest_mem *m, uint64_t wgpa,
				       int *rc)
{
	struct guest_mem_word *w = word_slot(m, wgpa);

	*rc = 0;
	if (w->used)
		return w;
	*rc = note_page(m, wgpa >> PAGE_SHIFT);
	if (*rc)
		return NULL;
	if ((m->nwords + 1) * 2 > m->wcap) {
		*rc = grow_words(m);
		if (*rc)
			return NULL;
		w = word_slot(m, wgpa);
	}
	memset(w, 0, sizeof(*w));
	w->wgpa = wgpa;
	w->used = true;
	m->nwords++;
	return w;
}

int guest_mem_init(struct guest_mem *m, size_t max_pages)
{
	memset(m, 0, sizeof(*m));
	m->wcap = 64;
	m->pcap = 16;
	m->max_pages = max_pages;
	m->w = calloc(m->wcap, sizeof(*m->w));
	m->pages = calloc(m->pcap, sizeof(*m->pages));
	if (!m->w || !m->pages) {
		guest_mem_fini(m);
		return VMMU_ENOMEM;
	}
	return 0;
}

void guest_mem_fini(struct guest_mem *m)
{
	free(m->w);
	free(m->pages);
	memset(m, 0, sizeof(*m));
}

int guest_mem_clone(struct guest_mem *dst, const struct guest_mem *src)
{
	*dst = *src;
	dst->w = malloc(src->wcap * sizeof(*src->w));
	dst->pages = malloc(src->pcap * sizeof(*src->pages));
	if (!dst->w || !dst->pages) {
		guest_mem_fini(dst);
		return VMMU_ENOMEM;
	}
	memcpy(dst->w, src->w, src->wcap * sizeof(*src->w));
	memcpy(dst->pages, src->pages, src->pcap * sizeof(*src->pages));
	return 0;
}

/* Store len bytes; strict: only where every byte is already listed. */
static int store(struct guest_mem *m, uint64_t gpa, const uint8_t *b,
		 size_t len, bool check)
{
	int rc;

	if (len && gpa + len - 1 < gpa)
		return VMMU_EINVAL;
	if (check && m->strict && !guest_mem_listed(m, gpa, len, NULL)) {
		m->foreign_write = true;
		return VMMU_EFAULT;
	}
	while (len) {
		uint64_t wgpa = gpa & ~7ULL;
		unsigned off = (unsigned)(gpa & 7), n = 8 - off, i;
		struct guest_mem_word *w = word_get(m, wgpa, &rc);

		if (!w)
			return rc;
		if (n > len)
			n = (unsigned)len;
		for (i = 0; i < n; i++) {
			unsigned sh = (off + i) * 8;

			w->val = (w->val & ~(0xffULL << sh)) |
				 ((uint64_t)b[i] << sh);
			w->given |= (uint8_t)(1u << (off + i));
		}
		gpa += n;
		b += n;
		len -= n;
	}
	return 0;
}

int guest_mem_put(struct guest_mem *m, uint64_t gpa, const void *buf,
		  size_t len)
{
	return store(m, gpa, buf, len, false);
}

int guest_mem_write(struct guest_mem *m, uint64_t gpa, const void *buf,
		    size_t len)
{
	return store(m, gpa, buf, len, true);
}

/* The word as memory holds it: listed bytes over the fill's. */
static int word_value(const struct guest_mem *m, uint64_t wgpa, uint64_t *v)
{
	struct guest_mem_word *w = word_slot(m, wgpa);
	uint8_t given = w->used ? w->given : 0;
	uint64_t mask = 0, fill = 0;
	unsigned i;
	int rc;

	if (given != 0xff && m->fill) {
		rc = m->fill(m->fill_ctx, wgpa, &fill);
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < 8; i++)
		if (given & (1u << i))
			mask |= 0xffULL << (i * 8);
	*v = (w->used ? w->val & mask : 0) | (fill & ~mask);
	return 0;
}

int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *buf,
		   size_t len)
{
	uint8_t *b = buf;
	uint64_t v;
	int rc;

	while (len) {
		unsigned off = (unsigned)(gpa & 7), n = 8 - off, i;

		rc = word_value(m, gpa & ~7ULL, &v);
		if (rc < 0)
			return rc;
		if (n > len)
			n = (unsigned)len;
		for (i = 0; i < n; i++)
			b[i] = (uint8_t)(v >> ((off + i) * 8));
		gpa += n;
		b += n;
		len -= n;
	}
	return 0;
}

bool guest_mem_listed(const struct guest_mem *m, uint64_t gpa, size_t len,
		      uint64_t *missing)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint64_t a = gpa + i;
		const struct guest_mem_word *w = word_slot(m, a & ~7ULL);

		if (!w->used || !(w->given & (1u << (a & 7)))) {
			if (missing)
				*missing = a;
			return false;
		}
	}
	return true;
}

bool guest_mem_page_listed(const struct guest_mem *m, uint64_t pfn)
{
	return *page_slot(m, pfn) != 0;
}

const struct guest_mem_word *guest_mem_next(const struct guest_mem *m,
					    size_t *it)
{
	while (*it < m->wcap) {
		const struct guest_mem_word *w = &m->w[(*it)++];

		if (w->used && w->given)
			return w;
	}
	return NULL;
}

static int gm_read(void *ctx, gpa_t gpa, void *buf, size_t len)
{
	return guest_mem_read(ctx, gpa.v, buf, len);
}

static int gm_cmpxchg(void *ctx, gpa_t gpa, uint64_t old, uint64_t new_val,
		      size_t len)
{
	struct guest_mem *m = ctx;
	uint64_t cur = 0;
	int rc;

	if (len != 4 && len != 8)
		return VMMU_EINVAL;
	rc = guest_mem_read(m, gpa.v, &cur, len);
	if (rc < 0)
		return rc;
	if (cur != old)
		return 1;
	rc = guest_mem_write(m, gpa.v, &new_val, len);
	if (rc < 0)
		return rc;
	if (m->on_write)
		m->on_write(m->write_ctx, gpa.v, len, new_val);
	return 0;
}

struct vmmu_gmem guest_mem_gmem(struct guest_mem *m)
{
	struct vmmu_gmem gm = { m, gm_read, gm_cmpxchg };

	return gm;
}

/* ---- the JSON memory items ---- */

/* qwords/dwords: an array of values stored little-endian, size bytes each. */
static int words_bytes(const json_t *arr, unsigned size, uint8_t **out,
		       size_t *len, const char *ctx, char *err, size_t errlen)
{
	size_t i, n = json_array_size(arr);
	char why[160];
	uint64_t v;

	if (!json_is_array(arr)) {
		snprintf(err, errlen, "%s: expected an array of values", ctx);
		return -1;
	}
	*out = calloc(n ? n : 1, size);
	if (!*out) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (cli_json_u64(json_array_get(arr, i), &v, why, sizeof(why)) < 0 ||
		    (size == 4 && v > 0xffffffffULL)) {
			snprintf(err, errlen, "%s[%zu]: %s", ctx, i,
				 size == 4 && v > 0xffffffffULL ?
				 "does not fit in 32 bits" : why);
			free(*out);
			return -1;
		}
		memcpy(*out + i * size, &v, size); /* x86 hosts: little-endian */
	}
	*len = n * size;
	return 0;
}

/* The bytes of one item, in a new buffer. */
static int item_bytes(const json_t *it, uint8_t **bytes, size_t *len,
		      const char *ctx, char *err, size_t errlen)
{
	const json_t *hex = json_object_get(it, "hex");
	const json_t *q = json_object_get(it, "qwords");
	const json_t *d = json_object_get(it, "dwords");
	char why[160], sub[96];

	if (!!hex + !!q + !!d != 1) {
		snprintf(err, errlen, "%s: needs exactly one of \"hex\", "
			 "\"qwords\", \"dwords\"", ctx);
		return -1;
	}
	if (hex) {
		if (!json_is_string(hex) ||
		    cli_hex_bytes(json_string_value(hex), bytes, len, why,
				  sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: \"hex\": %s", ctx,
				 json_is_string(hex) ? why : "expected a string");
			return -1;
		}
		return 0;
	}
	snprintf(sub, sizeof(sub), "%s: \"%s\"", ctx, q ? "qwords" : "dwords");
	return words_bytes(q ? q : d, q ? 8 : 4, bytes, len, sub, err, errlen);
}

static int parse_item(const json_t *it, const char *addr_key,
		      struct guest_mem *m, const char *ctx, char *err,
		      size_t errlen)
{
	const char *keys[] = { addr_key, "hex", "qwords", "dwords", NULL };
	uint8_t *bytes = NULL;
	uint64_t addr;
	size_t len = 0;
	int rc;

	if (cli_check_keys(it, keys, ctx, err, errlen) < 0 ||
	    cli_get_u64(it, addr_key, true, 0, &addr, ctx, err, errlen) < 0 ||
	    item_bytes(it, &bytes, &len, ctx, err, errlen) < 0)
		return -1;
	rc = guest_mem_put(m, addr, bytes, len);
	free(bytes);
	if (rc == VMMU_EINVAL)
		snprintf(err, errlen, "%s: contents run past the end of the "
			 "address space", ctx);
	else if (rc == VMMU_ENOSPC)
		snprintf(err, errlen, "%s: the memory items touch more than "
			 "%zu pages of 4 KiB, the most a case may", ctx,
			 m->max_pages);
	else if (rc)
		snprintf(err, errlen, "out of memory");
	return rc ? -1 : 0;
}

int guest_mem_parse(const json_t *arr, const char *addr_key,
		    struct guest_mem *m, char *err, size_t errlen)
{
	char ctx[48];
	size_t i;

	if (!arr)
		return 0;
	if (!json_is_array(arr)) {
		snprintf(err, errlen, "\"memory\" must be an array");
		return -1;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		snprintf(ctx, sizeof(ctx), "memory[%zu]", i);
		if (parse_item(json_array_get(arr, i), addr_key, m, ctx, err,
			       errlen) < 0)
			return -1;
	}
	return 0;
}
