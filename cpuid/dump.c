/* SPDX-License-Identifier: MIT */
/*
 * CPUID dump files, in the two forms found in the wild:
 *   libcpuid's serialization: "basic_cpuid[N]=eax ebx ecx edx" lines (also
 *     ext_cpuid, intel_fn4/11/12h/14h, amd_fn8000001dh), optionally under
 *     "____ Logical CPU #N ____" headers;
 *   AIDA64's: "CPUID 0000000A: EAX-EBX-ECX-EDX [SL NN] [comment]" under
 *     "------[ ... Logical CPU #N ]------", "CPU#NNN AffMask: ..." or
 *     "CPUID Registers (CPU #N):" headers; older dumps put blanks or a tab
 *     instead of the colon, and omit [SL NN] (repeats are sub-leaves).
 * Only the first logical CPU is read. A line of 20+ dashes ends the dump
 * (libcpuid's test files put their expected decoding after it).
 * Every line before it must be understood: a malformed dump is refused
 * with the line that is wrong, never half-read.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmmu/error.h"
#include "cpuid_internal.h"

enum dump_format { FMT_UNKNOWN, FMT_LIBCPUID, FMT_AIDA };

struct dump_parser {
	const char *path;
	struct cpu_raw_data_t *raw;
	unsigned line;
	unsigned headers;       /* CPU headers seen */
	unsigned words;         /* CPUID lines stored for CPU #0 */
	bool done;              /* reached the second CPU */
	bool seen_basic[MAX_CPUID_LEVEL];       /* sub-leaf 0 of leaf N */
	bool seen_ext[MAX_EXT_CPUID_LEVEL];     /* of leaf 0x80000000 + N */
	unsigned char repeats[MAX_CPUID_LEVEL + MAX_EXT_CPUID_LEVEL];
	char *err;
	size_t errlen;
	char *note;             /* leaves absent but not read by the decision */
	size_t notelen;
};

static int fail(struct dump_parser *p, const char *what)
{
	if (p->line)
		snprintf(p->err, p->errlen, "%s:%u: %s", p->path, p->line,
			 what);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->path, what);
	return VMMU_EPARSE;
}

/* Exactly n hex digits at s; returns the value, -1 otherwise. */
static long long hexn(const char *s, int n)
{
	long long v = 0;
	int i;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (!isxdigit(c))
			return -1;
		v = v * 16 + (isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
	}
	return v;
}

static bool is_end_marker(const char *l)
{
	size_t n = strspn(l, "-");

	return n >= 20 && l[n] == '\0';
}

static bool is_cpu_header(const char *l)
{
	return strstr(l, "Logical CPU #") ||
	       (!strncmp(l, "CPU#", 4) && strstr(l, "AffMask")) ||
	       !strncmp(l, "CPUID Registers", 15);
}

/* Store one (leaf, sub-leaf) result where libcpuid's raw layout has room. */
static void store(struct dump_parser *p, uint32_t leaf, uint32_t sub,
		  const uint32_t r[4])
{
	struct cpu_raw_data_t *raw = p->raw;
	uint32_t (*slot)[NUM_REGS] = NULL;

	if (leaf == 4 && sub < MAX_INTELFN4_LEVEL)
		slot = &raw->intel_fn4[sub];
	else if (leaf == 0xb && sub < MAX_INTELFN11_LEVEL)
		slot = &raw->intel_fn11[sub];
	else if (leaf == 0x12 && sub < MAX_INTELFN12H_LEVEL)
		slot = &raw->intel_fn12h[sub];
	else if (leaf == 0x14 && sub < MAX_INTELFN14H_LEVEL)
		slot = &raw->intel_fn14h[sub];
	else if (leaf == 0x8000001d && sub < MAX_AMDFN8000001DH_LEVEL)
		slot = &raw->amd_fn8000001dh[sub];
	if (slot)
		memcpy(*slot, r, sizeof(*slot));
	if (sub != 0)
		return;
	/* libcpuid's basic/extended arrays hold sub-leaf 0 of each leaf. */
	if (leaf < MAX_CPUID_LEVEL) {
		memcpy(raw->basic_cpuid[leaf], r, 4 * sizeof(uint32_t));
		p->seen_basic[leaf] = true;
	} else if (leaf >= 0x80000000u &&
		   leaf - 0x80000000u < MAX_EXT_CPUID_LEVEL) {
		memcpy(raw->ext_cpuid[leaf - 0x80000000u], r,
		       4 * sizeof(uint32_t));
		p->seen_ext[leaf - 0x80000000u] = true;
	}
}

/* Repeats of a leaf without [SL NN] are its successive sub-leaves. */
static uint32_t implicit_subleaf(struct dump_parser *p, uint32_t leaf)
{
	size_t i;

	if (leaf < MAX_CPUID_LEVEL)
		i = leaf;
	else if (leaf >= 0x80000000u && leaf - 0x80000000u < MAX_EXT_CPUID_LEVEL)
		i = MAX_CPUID_LEVEL + (leaf - 0x80000000u);
	else
		return 0;
	return p->repeats[i] < 255 ? p->repeats[i]++ : 255;
}

/* "CPUID LLLLLLLL: AAAAAAAA-BBBBBBBB-CCCCCCCC-DDDDDDDD [SL NN] ..." */
static int parse_aida_line(struct dump_parser *p, const char *l)
{
	long long leaf, v;
	uint32_t r[4], sub;
	int i;

	l += 5;
	if (!isspace((unsigned char)*l))
		return fail(p, "malformed CPUID line");
	l += strspn(l, " \t");
	leaf = hexn(l, 8);
	if (leaf < 0)
		return fail(p, "malformed CPUID line: leaf is not 8 hex digits");
	l += 8;
	if (*l == ':')
		l++;
	else if (!isspace((unsigned char)*l))
		return fail(p, "malformed CPUID line after the leaf number");
	l += strspn(l, " \t");
	for (i = 0; i < 4; i++) {
		v = hexn(l, 8);
		if (v < 0 || (i < 3 && l[8] != '-'))
			return fail(p, "malformed CPUID line: expected "
				    "EAX-EBX-ECX-EDX as 8 hex digits each");
		r[i] = (uint32_t)v;
		l += i < 3 ? 9 : 8;
	}
	if (*l && !isspace((unsigned char)*l))
		return fail(p, "malformed CPUID line: trailing characters");
	l += strspn(l, " \t");
	if (!strncmp(l, "[SL ", 4)) {
		v = hexn(l + 4, 2);
		if (v < 0 || l[6] != ']')
			return fail(p, "malformed [SL NN] sub-leaf tag");
		sub = (uint32_t)v;
	} else {
		sub = implicit_subleaf(p, (uint32_t)leaf);
	}
	store(p, (uint32_t)leaf, sub, r);
	p->words++;
	return 0;
}

static const struct {
	const char *key;
	size_t max;
} libcpuid_keys[] = {
	{ "basic_cpuid", MAX_CPUID_LEVEL },
	{ "ext_cpuid", MAX_EXT_CPUID_LEVEL },
	{ "intel_fn4", MAX_INTELFN4_LEVEL },
	{ "intel_fn11", MAX_INTELFN11_LEVEL },
	{ "intel_fn12h", MAX_INTELFN12H_LEVEL },
	{ "intel_fn14h", MAX_INTELFN14H_LEVEL },
	{ "amd_fn8000001dh", MAX_AMDFN8000001DH_LEVEL },
};

static uint32_t *libcpuid_slot(struct cpu_raw_data_t *raw, size_t key,
			       size_t idx)
{
	switch (key) {
	case 0: return raw->basic_cpuid[idx];
	case 1: return raw->ext_cpuid[idx];
	case 2: return raw->intel_fn4[idx];
	case 3: return raw->intel_fn11[idx];
	case 4: return raw->intel_fn12h[idx];
	case 5: return raw->intel_fn14h[idx];
	default: return raw->amd_fn8000001dh[idx];
	}
}

/* "key[N]=eax ebx ecx edx" with 8-digit hex words. */
static int parse_libcpuid_line(struct dump_parser *p, const char *l)
{
	size_t k, len, idx;
	char *end;
	uint32_t r[4], *slot;
	int i;

	for (k = 0; k < sizeof(libcpuid_keys) / sizeof(libcpuid_keys[0]); k++) {
		len = strlen(libcpuid_keys[k].key);
		if (!strncmp(l, libcpuid_keys[k].key, len) && l[len] == '[')
			break;
	}
	if (k == sizeof(libcpuid_keys) / sizeof(libcpuid_keys[0]))
		return fail(p, "not a libcpuid raw-data line");
	l += len + 1;
	if (!isdigit((unsigned char)*l))
		return fail(p, "malformed index");
	errno = 0;
	idx = strtoul(l, &end, 10);
	if (errno || *end != ']' || end[1] != '=')
		return fail(p, "malformed index");
	if (idx >= libcpuid_keys[k].max)
		return fail(p, "index beyond libcpuid's table");
	l = end + 2;
	for (i = 0; i < 4; i++) {
		long long v = hexn(l, 8);

		if (v < 0 || (i < 3 && l[8] != ' '))
			return fail(p, "expected four 8-digit hex words");
		r[i] = (uint32_t)v;
		l += i < 3 ? 9 : 8;
	}
	if (*l)
		return fail(p, "trailing characters after the fourth word");
	slot = libcpuid_slot(p->raw, k, idx);
	memcpy(slot, r, sizeof(r));
	if (k == 0)
		p->seen_basic[idx] = true;
	else if (k == 1)
		p->seen_ext[idx] = true;
	p->words++;
	return 0;
}

static int parse_line(struct dump_parser *p, enum dump_format fmt, char *l)
{
	size_t n = strlen(l);

	while (n && (l[n - 1] == '\r' || isspace((unsigned char)l[n - 1])))
		l[--n] = '\0';
	if (!n)
		return 0;
	if (is_end_marker(l)) {
		p->done = true;
		return 0;
	}
	if (is_cpu_header(l) || !strncmp(l, "------[", 7)) {
		p->headers++;
		if (p->words)
			p->done = true;     /* the next CPU: CPU #0 is complete */
		return 0;
	}
	if (fmt == FMT_AIDA) {
		if (strncmp(l, "CPUID", 5))
			return fail(p, "not a CPUID line (AIDA64 format)");
		return parse_aida_line(p, l);
	}
	return parse_libcpuid_line(p, l);
}

static enum dump_format sniff(const char *buf)
{
	const char *l = buf;

	/* The first line that is neither blank nor a header decides. */
	while (*l) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);

		if (!strncmp(l, "CPUID ", 6) || !strncmp(l, "CPUID\t", 6))
			if (strncmp(l, "CPUID Registers", 15))
				return FMT_AIDA;
		if (*l && strchr("beia", *l) && memchr(l, '[', len) &&
		    memchr(l, '=', len))
			return FMT_LIBCPUID;
		if (!nl)
			break;
		l = nl + 1;
	}
	return FMT_UNKNOWN;
}

/*
 * Read up to max + 1 bytes into a growing buffer (sized from hint first),
 * leaving room for a NUL. *out is NULL when memory runs out.
 */
static size_t fread_limited(FILE *fp, size_t max, size_t hint, char **out)
{
	size_t cap = hint && hint <= max ? hint + 1 : 4096, n = 0;
	char *buf = NULL, *grown;

	for (;;) {
		if (cap > max + 1)
			cap = max + 1;
		grown = realloc(buf, cap + 1);
		if (!grown) {
			free(buf);
			*out = NULL;
			return 0;
		}
		buf = grown;
		n += fread(buf + n, 1, cap - n, fp);
		if (n < cap || cap == max + 1)
			break;
		cap *= 2;
	}
	*out = buf;
	return n;
}

/*
 * The whole file, NUL-terminated, if it is at most max bytes (the size is
 * checked before reading when the file is a regular one).
 */
int vmmu_read_small_file(const char *path, size_t max, char **out,
			 size_t *len, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;
	char *buf;
	size_t n;
	int rc = 0;

	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return VMMU_EIO;
	}
	if (fstat(fileno(fp), &st) != 0)
		memset(&st, 0, sizeof(st));
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: is a directory", path);
		rc = VMMU_EIO;
	} else if (S_ISREG(st.st_mode) &&
		   (unsigned long long)st.st_size > max) {
		snprintf(err, errlen, "%s: %llu bytes, larger than the %zu "
			 "bytes accepted", path,
			 (unsigned long long)st.st_size, max);
		rc = VMMU_EPARSE;
	}
	if (rc) {
		fclose(fp);
		return rc;
	}
	n = fread_limited(fp, max, S_ISREG(st.st_mode) ? (size_t)st.st_size : 0,
			  &buf);
	if (!buf)
		rc = VMMU_ENOMEM;
	else if (ferror(fp))
		rc = VMMU_EIO;
	else if (n > max)
		rc = VMMU_EPARSE;
	fclose(fp);
	if (rc) {
		free(buf);
		snprintf(err, errlen, "%s: %s", path, rc == VMMU_ENOMEM ?
			 "out of memory" : rc == VMMU_EIO ? "read error" :
			 "larger than the size accepted");
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int check_text(const char *path, const char *buf, size_t len,
		      char *err, size_t errlen)
{
	const char *nul = memchr(buf, '\0', len);

	if (len == 0 || strspn(buf, " \t\r\n") == len) {
		snprintf(err, errlen, "%s: empty file, not a CPUID dump", path);
		return VMMU_EPARSE;
	}
	if (nul) {
		snprintf(err, errlen, "%s: binary data (NUL byte at offset "
			 "%zu), not a text CPUID dump", path,
			 (size_t)(nul - buf));
		return VMMU_EPARSE;
	}
	return 0;
}

/*
 * The leaves the decision reads (1, 7, 0x80000001, 0x80000008, and
 * 0x8000000A when SVM is reported) must be in the dump whenever its own
 * maximum-leaf values (leaf 0 EAX, leaf 0x80000000 EAX) promise them: a
 * missing one would read as zero and turn "unknown" into "the bit is
 * clear". Other leaves may be absent (AIDA64 omits reserved ones, e.g.
 * AMD's leaf 4); what vmmu derives from them stays unknown. A dump without
 * leaf 0x80000000 is accepted only for a CPU that predates extended leaves
 * on every vendor's SSE2 parts (long mode, NX and SVM live in 0x80000001).
 */
static int missing_leaf(struct dump_parser *p, uint32_t leaf, const char *why)
{
	char what[200];

	snprintf(what, sizeof(what), "leaf 0x%x missing, although %s: "
		 "truncated dump?", leaf, why);
	return fail(p, what);
}

/* Append " 0xN" to the note; "..." once it is full. */
static void note_leaf(struct dump_parser *p, size_t *n, unsigned *count,
		      uint32_t leaf)
{
	if (*n + 16 < p->notelen)
		*n += (size_t)snprintf(p->note + *n, p->notelen - *n, "%s0x%x",
				       (*count)++ ? ", " : "", leaf);
	else if (*n + 4 < p->notelen && !strstr(p->note, "..."))
		*n += (size_t)snprintf(p->note + *n, p->notelen - *n, ", ...");
}

/*
 * The leaves the maximum-leaf values promise that the dump lacks and the
 * decision does not read: stated as unknown, not read as zeros.
 */
static void note_absent(struct dump_parser *p, uint32_t emax)
{
	uint32_t max = p->raw->basic_cpuid[0][0], i;
	unsigned count = 0;
	size_t n;

	if (!p->note || !p->notelen)
		return;
	n = (size_t)snprintf(p->note, p->notelen, "leaves promised by the "
			     "dump's maximum-leaf values but absent (the "
			     "decision reads none of them; what they describe "
			     "is unknown): ");
	for (i = 2; i <= max && i < MAX_CPUID_LEVEL; i++)
		if (!p->seen_basic[i])
			note_leaf(p, &n, &count, i);
	for (i = 1; (emax & 0xffff0000u) == 0x80000000u &&
	     i <= emax - 0x80000000u && i < MAX_EXT_CPUID_LEVEL; i++)
		if (!p->seen_ext[i])
			note_leaf(p, &n, &count, 0x80000000u + i);
	if (!count)
		p->note[0] = '\0';
}

static int check_complete(struct dump_parser *p)
{
	static const uint32_t ext_needed[] = { 1, 8, 0xa };
	const struct cpu_raw_data_t *raw = p->raw;
	uint32_t max = raw->basic_cpuid[0][0], emax;
	size_t i;

	if (max >= 7 && !p->seen_basic[7])
		return missing_leaf(p, 7, "leaf 0 promises leaves up to its "
				    "EAX");
	if (!p->seen_ext[0]) {
		if (raw->basic_cpuid[1][3] & (1u << 26))
			return missing_leaf(p, 0x80000000u, "leaf 1 reports "
					    "SSE2, and every such CPU has "
					    "extended leaves");
		return 0;
	}
	emax = raw->ext_cpuid[0][0];
	if ((emax & 0xffff0000u) != 0x80000000u)
		return 0;       /* no extended leaves: older parts echo junk */
	for (i = 0; i < sizeof(ext_needed) / sizeof(ext_needed[0]); i++) {
		uint32_t leaf = 0x80000000u + ext_needed[i];

		if (leaf > emax || p->seen_ext[ext_needed[i]])
			continue;
		/* 0x8000000A is only defined when SVM is reported. */
		if (ext_needed[i] == 0xa && !(raw->ext_cpuid[1][2] & (1u << 2)))
			continue;
		return missing_leaf(p, leaf, "leaf 0x80000000 promises "
				    "leaves up to its EAX");
	}
	note_absent(p, emax);
	return 0;
}

static int parse_all(struct dump_parser *p, enum dump_format fmt, char *buf)
{
	char *l = buf;
	int rc;

	while (l && *l && !p->done) {
		char *nl = strchr(l, '\n');

		if (nl)
			*nl = '\0';
		p->line++;
		if (p->line == 1 && !strncmp(l, "\xef\xbb\xbf", 3))
			l += 3;         /* UTF-8 byte-order mark */
		rc = parse_line(p, fmt, l);
		if (rc)
			return rc;
		l = nl ? nl + 1 : NULL;
	}
	p->line = 0;
	if (!p->words)
		return fail(p, "no CPUID data before the end marker");
	if (!p->seen_basic[0])
		return fail(p, "leaf 0 (vendor, max leaf) missing");
	if (!p->seen_basic[1] || p->raw->basic_cpuid[0][0] < 1)
		return fail(p, "leaf 1 (family/model/features) missing: "
			    "truncated dump?");
	if (p->raw->basic_cpuid[0][0] > 0xffff)
		return fail(p, "implausible maximum basic leaf in leaf 0");
	return check_complete(p);
}

/*
 * libcpuid's own reader for its own format: it must agree with the strict
 * parse above on CPU #0 (it silently skips what it does not understand,
 * which is why it is not the gatekeeper).
 */
/* file is what libcpuid opens; path names the dump in messages. */
static int libcpuid_reread(const char *file, const char *path,
			   struct cpu_raw_data_t *mine, char *err, size_t errlen)
{
	struct cpu_raw_data_array_t arr;
	int same;

	memset(&arr, 0, sizeof(arr));
	if (cpuid_deserialize_all_raw_data(&arr, file) != 0 ||
	    arr.num_raw < 1) {
		snprintf(err, errlen, "%s: libcpuid cannot read it: %s", path,
			 cpuid_error());
		cpuid_free_raw_data_array(&arr);
		return VMMU_EPARSE;
	}
	same = !memcmp(arr.raw[0].basic_cpuid, mine->basic_cpuid,
		       sizeof(mine->basic_cpuid)) &&
	       !memcmp(arr.raw[0].ext_cpuid, mine->ext_cpuid,
		       sizeof(mine->ext_cpuid));
	if (same)
		*mine = arr.raw[0];
	cpuid_free_raw_data_array(&arr);
	if (!same) {
		snprintf(err, errlen, "%s: libcpuid reads different CPUID "
			 "words than vmmu's parser", path);
		return VMMU_EPARSE;
	}
	return 0;
}

/*
 * libcpuid reads by file name, so a dump that arrived through a pipe or a
 * FIFO (--cpuid-dump /dev/stdin) cannot be read a second time: hand it a
 * private copy of the text instead. Regular files are reread in place.
 */
static int libcpuid_reread_text(const char *path, const char *text,
				size_t len, struct cpu_raw_data_t *mine,
				char *err, size_t errlen)
{
	char tmp[] = "/tmp/vmmu-cpuid-XXXXXX";
	struct stat st;
	size_t done = 0;
	ssize_t n;
	int fd, rc;

	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		return libcpuid_reread(path, path, mine, err, errlen);
	fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot make a copy for libcpuid: %s",
			 path, strerror(errno));
		return VMMU_EIO;
	}
	while (done < len && (n = write(fd, text + done, len - done)) > 0)
		done += (size_t)n;
	close(fd);
	rc = done == len ? libcpuid_reread(tmp, path, mine, err, errlen)
			 : VMMU_EIO;
	if (done != len)
		snprintf(err, errlen, "%s: cannot make a copy for libcpuid", path);
	unlink(tmp);
	return rc;
}

static void silent_warning(const char *msg)
{
	(void)msg;
}

int vmmu_dump_read(const char *path, struct cpu_raw_data_t *raw, char *err,
		   size_t errlen, char *note, size_t notelen)
{
	struct dump_parser p;
	enum dump_format fmt;
	char *buf, *copy = NULL;
	size_t len;
	int rc;

	rc = vmmu_read_small_file(path, VMMU_DUMP_MAX_BYTES, &buf, &len, err,
				  errlen);
	if (rc)
		return rc;
	rc = check_text(path, buf, len, err, errlen);
	if (rc)
		goto out;
	fmt = sniff(buf);
	if (fmt == FMT_UNKNOWN) {
		snprintf(err, errlen, "%s: not a CPUID dump: no "
			 "\"basic_cpuid[N]=...\" (libcpuid) or \"CPUID "
			 "0000000N: ...\" (AIDA64) lines", path);
		rc = VMMU_EPARSE;
		goto out;
	}
	/* parse_all() cuts buf into lines; libcpuid may need the text. */
	if (fmt == FMT_LIBCPUID) {
		copy = malloc(len);
		if (!copy) {
			snprintf(err, errlen, "%s: out of memory", path);
			rc = VMMU_ENOMEM;
			goto out;
		}
		memcpy(copy, buf, len);
	}
	memset(raw, 0, sizeof(*raw));
	memset(&p, 0, sizeof(p));
	p.path = path;
	p.raw = raw;
	p.err = err;
	p.errlen = errlen;
	p.note = note;
	p.notelen = notelen;
	if (note && notelen)
		note[0] = '\0';
	rc = parse_all(&p, fmt, buf);
	if (!rc && fmt == FMT_LIBCPUID) {
		cpuid_set_warn_function(silent_warning);
		rc = libcpuid_reread_text(path, copy, len, raw, err, errlen);
	}
out:
	free(copy);
	free(buf);
	return rc;
}
