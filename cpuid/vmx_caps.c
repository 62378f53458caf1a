/* SPDX-License-Identifier: MIT */
/*
 * VMX capability MSR values from a file (--vmx-msrs); decoding them is
 * vmx_decode.c.
 *
 * IA32_VMX_PROCBASED_CTLS2 (0x48B), SDM Vol 3D A.3.3: bits 31:0 are the
 * allowed-0 settings, bits 63:32 the allowed-1 settings of the secondary
 * processor-based VM-execution controls (SDM Vol 3C Table 25-7). A control
 * can be used when its allowed-1 bit is set.
 * IA32_VMX_EPT_VPID_CAP (0x48C), SDM Vol 3D A.10.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmu/error.h"
#include "cpuid_internal.h"

/* Allowed-1 bits of 0x48B for "enable EPT" and "enable VPID" (A.3.3). */
#define CTLS2_EPT               (1ull << (32 + 1))
#define CTLS2_VPID              (1ull << (32 + 5))

/* Parse "0x..." or decimal, the whole token. */
static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int base = 10;

	while (isspace((unsigned char)*s) || *s == '"')
		s++;
	/* Not strtoull's base 0: "010" is ten here, not C's octal eight. */
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		base = 16;
	}
	if (!isxdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || end == s)
		return -1;
	while (isspace((unsigned char)*end) || *end == '"' || *end == ',')
		end++;
	if (*end && *end != '}')
		return -1;
	*out = v;
	return 0;
}

/*
 * One "key=value" or "\"key\": \"value\"" item. Returns 0 and the MSR
 * index/value, 1 for an item with nothing in it, -1 malformed.
 */
static int parse_item(char *p, uint64_t *idx, uint64_t *val)
{
	char *sep;

	while (isspace((unsigned char)*p))
		p++;
	if (!*p)
		return 1;
	sep = strpbrk(p, "=:");
	if (!sep)
		return -1;
	*sep = '\0';
	if (parse_u64(p, idx) || parse_u64(sep + 1, val))
		return -1;
	return 0;
}

/*
 * The file is a flat list of items separated by newlines, commas or
 * braces, so that both "0x48b=0x..." lines and a one-line JSON object
 * read the same way. '#' starts a comment that runs to the end of line.
 */
static int read_msr_text(char *text, const char *path, uint64_t *ctls2,
			 uint64_t *cap, bool *have2, bool *havec, char *err,
			 size_t errlen)
{
	char *p, *item, *save = NULL;
	unsigned n = 0;

	for (p = text; *p; p++) {
		if (*p == '#')
			while (*p && *p != '\n')
				*p++ = ' ';
		if (!*p)
			break;
		if (*p == '{' || *p == '}' || *p == ',' || *p == '\r')
			*p = '\n';
	}
	for (item = strtok_r(text, "\n", &save); item;
	     item = strtok_r(NULL, "\n", &save)) {
		uint64_t idx, val;
		int rc = parse_item(item, &idx, &val);

		n++;
		if (rc == 1)
			continue;
		if (rc < 0) {
			snprintf(err, errlen, "%s: item %u: expected 0x48b=0x... "
				 "or \"0x48c\": \"0x...\"", path, n);
			return VMMU_EPARSE;
		}
		if ((idx == 0x48b && *have2) || (idx == 0x48c && *havec)) {
			/* Two values for one MSR: which one is the CPU's? */
			snprintf(err, errlen, "%s: item %u: MSR 0x%llx given "
				 "twice", path, n, (unsigned long long)idx);
			return VMMU_EPARSE;
		}
		if (idx == 0x48b) {
			*ctls2 = val;
			*have2 = true;
		} else if (idx == 0x48c) {
			*cap = val;
			*havec = true;
		} else {
			snprintf(err, errlen, "%s: item %u: MSR 0x%llx is not "
				 "one of 0x48b, 0x48c", path, n,
				 (unsigned long long)idx);
			return VMMU_EPARSE;
		}
	}
	return 0;
}

#define MSR_FILE_MAX 65536

int vmmu_load_vmx_msrs(struct vmmu_host_info *host, const char *path,
		       char *err, size_t errlen)
{
	uint64_t ctls2 = 0, cap = 0;
	bool have2 = false, havec = false;
	char *text;
	size_t len;
	int rc;

	if (!host || !path || !err || !errlen)
		return VMMU_EINVAL;
	rc = vmmu_read_small_file(path, MSR_FILE_MAX, &text, &len, err,
				  errlen);
	if (rc)
		return rc;
	if (memchr(text, '\0', len)) {
		free(text);
		snprintf(err, errlen, "%s: binary data, not a text file of MSR "
			 "values", path);
		return VMMU_EPARSE;
	}
	rc = read_msr_text(text, path, &ctls2, &cap, &have2, &havec, err,
			   errlen);
	free(text);
	if (rc)
		return rc;
	if (!have2) {
		snprintf(err, errlen, "%s: IA32_VMX_PROCBASED_CTLS2 (0x48b) "
			 "missing", path);
		return VMMU_EPARSE;
	}
	if ((ctls2 & (CTLS2_EPT | CTLS2_VPID)) && !havec) {
		snprintf(err, errlen, "%s: 0x48b allows EPT or VPID, so "
			 "IA32_VMX_EPT_VPID_CAP (0x48c) is needed", path);
		return VMMU_EPARSE;
	}
	vmmu_decode_vmx_msrs(&host->vmx, ctls2, cap, VMMU_VMX_SRC_FILE);
	snprintf(host->vmx.note, sizeof(host->vmx.note),
		 "VMX capability MSRs given in %.120s", path);
	return 0;
}
