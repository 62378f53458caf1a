/* SPDX-License-Identifier: MIT */
/* vmmu trace files: writer, reader and checks (layout in model/trace.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "model/trace.h"
#include "vmmu/error.h"

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	while (n--) {
		*p++ = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static int fail(char *err, size_t len, int rc, const char *path,
		const char *why)
{
	snprintf(err, len, "%s: %s", path, why);
	return rc;
}

/* ---- reading ------------------------------------------------------------- */

static int read_file(const char *path, uint8_t **data, size_t *len, char *err,
		     size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	size_t n;

	if (!f)
		return fail(err, errlen, VMMU_EIO, path, strerror(errno));
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > TRACE_MAX_STREAM) {
		fclose(f);
		return fail(err, errlen, VMMU_EIO, path,
			    "not a regular file of at most 1 GiB");
	}
	*data = malloc((size_t)st.st_size + 1);
	n = *data ? fread(*data, 1, (size_t)st.st_size, f) : 0;
	fclose(f);
	if (!*data || n != (size_t)st.st_size) {
		free(*data);
		return fail(err, errlen, VMMU_EIO, path, "cannot read it");
	}
	*len = n;
	return VMMU_OK;
}

/* What a file that is not ours looks like, for the message. */
static const char *what_else(const uint8_t *d, size_t n)
{
	if (n >= 2 && d[0] == 0x1f && d[1] == 0x8b)
		return "not a vmmu trace: a gzip file (vmmu traces are not "
		       "gzipped; record one with `vmmu trace`)";
	if (n >= 2 && ((d[0] == '=' && d[1] == '=') || (d[0] == 'I' && d[1] == ' ')))
		return "not a vmmu trace: this looks like valgrind lackey's own "
		       "output; record with `vmmu trace -o FILE -- CMD`";
	return "not a vmmu trace (no VMMUTRC magic): garbage or another "
	       "tool's file";
}

static int check_header(const uint8_t *d, size_t n, struct trace *t,
			uint64_t *stored, uint64_t *sum, const char *path,
			char *err, size_t errlen)
{
	if (n < 8 || memcmp(d, TRACE_MAGIC, 8))
		return fail(err, errlen, VMMU_EPARSE, path, what_else(d, n));
	if (n < TRACE_HDR)
		return fail(err, errlen, VMMU_EPARSE, path,
			    "truncated: shorter than its 256-byte header");
	if (get_le(d + 8, 2) != TRACE_VERSION || get_le(d + 10, 2) != TRACE_HDR)
		return fail(err, errlen, VMMU_EPARSE, path,
			    "a vmmu trace of another version (this vmmu reads "
			    "version 1)");
	if (get_le(d + 12, 4) != 1 || get_le(d + 52, 4))
		return fail(err, errlen, VMMU_EPARSE, path, "unknown header flags");
	t->records = get_le(d + 16, 8);
	t->max_addr = get_le(d + 24, 8);
	*stored = get_le(d + 32, 8);
	t->len = get_le(d + 40, 8);
	*sum = get_le(d + 48, 4);
	memcpy(t->tool, d + 56, 40);
	memcpy(t->command, d + 96, 160);
	if (*stored != n - TRACE_HDR)
		return fail(err, errlen, VMMU_EPARSE, path, *stored > n - TRACE_HDR ?
			    "truncated: the record stream is shorter than its "
			    "header says" : "trailing bytes after the record stream");
	if (t->len == 0 || t->len > TRACE_MAX_STREAM)
		return fail(err, errlen, VMMU_EPARSE, path, "bad stream length");
	return VMMU_OK;
}

/* Decode every record once: counts, the end tag, nothing after it. */
static int check_records(struct trace *t, const char *path, char *err,
			 size_t errlen)
{
	struct trace_cursor c;
	struct trace_rec r;
	uint64_t n = 0;
	int rc;

	trace_cursor_init(&c, t);
	while ((rc = trace_next(&c, &r)) == 1) {
		n++;
		if (r.kind >= TR_MMAP)
			t->events++;
		else
			t->accesses++;
	}
	if (rc < 0)
		return fail(err, errlen, VMMU_EPARSE, path, "corrupt record stream");
	if (c.pos != t->len || n != t->records)
		return fail(err, errlen, VMMU_EPARSE, path,
			    "record count or stream end does not match the header");
	return VMMU_OK;
}

int trace_load(const char *path, struct trace **out, char *err, size_t errlen)
{
	struct trace *t = calloc(1, sizeof(*t));
	uint8_t *d = NULL;
	uint64_t stored = 0, sum = 0;
	uLongf dlen;
	size_t n = 0;
	int rc = t ? read_file(path, &d, &n, err, errlen) : VMMU_ENOMEM;

	if (rc == 0)
		rc = check_header(d, n, t, &stored, &sum, path, err, errlen);
	if (rc == 0 && !(t->stream = malloc(t->len)))
		rc = fail(err, errlen, VMMU_ENOMEM, path, "out of memory");
	if (rc == 0) {
		dlen = t->len;
		if (uncompress(t->stream, &dlen, d + TRACE_HDR, stored) != Z_OK ||
		    dlen != t->len)
			rc = fail(err, errlen, VMMU_EPARSE, path,
				  "corrupt or truncated compressed stream");
	}
	if (rc == 0 && fnv1a(t->stream, t->len) != sum)
		rc = fail(err, errlen, VMMU_EPARSE, path, "checksum mismatch");
	if (rc == 0)
		rc = check_records(t, path, err, errlen);
	free(d);
	if (rc < 0) {
		trace_free(t);
		return rc;
	}
	*out = t;
	return VMMU_OK;
}

void trace_free(struct trace *t)
{
	if (t)
		free(t->stream);
	free(t);
}

void trace_cursor_init(struct trace_cursor *c, const struct trace *t)
{
	memset(c, 0, sizeof(*c));
	c->t = t;
}

static int get_uleb(struct trace_cursor *c, uint64_t *v)
{
	unsigned shift = 0;
	uint8_t b;

	*v = 0;
	do {
		if (c->pos >= c->t->len || shift > 63)
			return VMMU_EPARSE;
		b = c->t->stream[c->pos++];
		*v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	return VMMU_OK;
}

int trace_next(struct trace_cursor *c, struct trace_rec *r)
{
	uint64_t v;
	uint8_t tag;
	unsigned s;

	if (c->pos >= c->t->len)
		return VMMU_EPARSE;         /* no end tag */
	tag = c->t->stream[c->pos++];
	if (tag == 0xff)
		return 0;
	memset(r, 0, sizeof(*r));
	if (tag >= 0x80) {
		if (tag > 0x82 || get_uleb(c, &r->addr) < 0 ||
		    get_uleb(c, &r->len) < 0)
			return VMMU_EPARSE;
		r->kind = (uint8_t)(TR_MMAP + (tag - 0x80));
		return 1;
	}
	r->kind = tag >> 5;
	r->size = tag & 31;
	if (!r->size || get_uleb(c, &v) < 0)
		return VMMU_EPARSE;
	s = r->kind == TR_FETCH;
	c->last[s] += (v >> 1) ^ (0 - (v & 1));
	r->addr = c->last[s];
	return 1;
}

/* ---- writing ------------------------------------------------------------- */

bool trace_path_replaceable(const char *path)
{
	uint8_t magic[8];
	struct stat st;
	FILE *f;
	bool ok;

	if (stat(path, &st) < 0)
		return errno == ENOENT;
	if (!S_ISREG(st.st_mode) || !(f = fopen(path, "rb")))
		return false;
	ok = fread(magic, 1, 8, f) == 8 && !memcmp(magic, TRACE_MAGIC, 8);
	fclose(f);
	return ok;
}

int trace_writer_open(struct trace_writer *w, const char *path,
		      const char *tool, const char *command, char *err,
		      size_t errlen)
{
	memset(w, 0, sizeof(*w));
	if (!trace_path_replaceable(path))
		return fail(err, errlen, VMMU_EINVAL, path, "exists and is not a "
			    "vmmu trace: not overwritten");
	snprintf(w->tool, sizeof(w->tool), "%s", tool);
	snprintf(w->command, sizeof(w->command), "%s", command);
	w->path = strdup(path);
	w->f = w->path ? fopen(path, "wb") : NULL;
	if (!w->f) {
		free(w->path);
		return fail(err, errlen, VMMU_EIO, path, strerror(errno));
	}
	return VMMU_OK;
}

static int put_byte(struct trace_writer *w, uint8_t b)
{
	if (w->len == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 1 << 20;
		uint8_t *n = cap <= TRACE_MAX_STREAM ? realloc(w->buf, cap) : NULL;

		if (!n)
			return VMMU_ENOMEM;
		w->buf = n;
		w->cap = cap;
	}
	w->buf[w->len++] = b;
	return VMMU_OK;
}

static int put_uleb(struct trace_writer *w, uint64_t v)
{
	int rc;

	do {
		rc = put_byte(w, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
		v >>= 7;
	} while (rc == 0 && v);
	return rc;
}

int trace_write(struct trace_writer *w, const struct trace_rec *r)
{
	uint64_t d, end = r->addr + (r->len ? r->len : r->size);
	unsigned s;
	int rc;

	if (end > w->max_addr)
		w->max_addr = end;
	w->records++;
	if (r->kind >= TR_MMAP) {
		rc = put_byte(w, (uint8_t)(0x80 + r->kind - TR_MMAP));
		if (rc == 0)
			rc = put_uleb(w, r->addr);
		return rc < 0 ? rc : put_uleb(w, r->len);
	}
	s = r->kind == TR_FETCH;
	d = r->addr - w->last[s];
	w->last[s] = r->addr;
	rc = put_byte(w, (uint8_t)(r->kind << 5 |
				   (r->size > 31 ? 31 : r->size ? r->size : 1)));
	/* zigzag: small steps either way stay small */
	return rc < 0 ? rc : put_uleb(w, (d << 1) ^ (0 - (d >> 63)));
}

int trace_writer_close(struct trace_writer *w, char *err, size_t errlen)
{
	uint8_t hdr[TRACE_HDR] = { 0 }, *z = NULL;
	uLongf zlen;
	int rc = put_byte(w, 0xff);

	zlen = compressBound(w->len);
	if (rc == 0 && !(z = malloc(zlen)))
		rc = VMMU_ENOMEM;
	if (rc == 0 && compress2(z, &zlen, w->buf, w->len, 9) != Z_OK)
		rc = VMMU_EIO;
	memcpy(hdr, TRACE_MAGIC, 8);
	put_le(hdr + 8, TRACE_VERSION, 2);
	put_le(hdr + 10, TRACE_HDR, 2);
	put_le(hdr + 12, 1, 4);
	put_le(hdr + 16, w->records, 8);
	put_le(hdr + 24, w->max_addr, 8);
	put_le(hdr + 32, zlen, 8);
	put_le(hdr + 40, w->len, 8);
	put_le(hdr + 48, fnv1a(w->buf, w->len), 4);
	memcpy(hdr + 56, w->tool, strlen(w->tool));
	memcpy(hdr + 96, w->command, strlen(w->command));
	if (rc == 0 && (fwrite(hdr, 1, sizeof(hdr), w->f) != sizeof(hdr) ||
			fwrite(z, 1, zlen, w->f) != zlen))
		rc = VMMU_EIO;
	if (fclose(w->f) != 0 && rc == 0)
		rc = VMMU_EIO;
	if (rc < 0) {
		fail(err, errlen, rc, w->path, "cannot write the trace");
		remove(w->path);
	}
	free(z);
	free(w->buf);
	free(w->path);
	return rc;
}

void trace_writer_abort(struct trace_writer *w)
{
	if (w->f) {
		fclose(w->f);
		remove(w->path);
	}
	free(w->buf);
	free(w->path);
	memset(w, 0, sizeof(*w));
}
