/* SPDX-License-Identifier: MIT */
/*
 * What every result is recorded with: the CPU (libcpuid), the kernel
 * (uname), the hypervisor this process itself runs under (CPUID
 * 0x40000000), and the TLB geometry the CPU declares, to cross-check the
 * reach read off the latency curve.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <libcpuid.h>

#include "vmmu/detect.h"
#include "bench.h"

static void cpuid_raw(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static void add_tlb(struct bench_sysinfo *s, const char *level,
		    const char *pages, unsigned entries, unsigned ways)
{
	struct bench_tlb_desc *d;

	if (s->n_tlbs >= BENCH_MAX_TLBS || entries == 0)
		return;
	d = &s->tlbs[s->n_tlbs++];
	snprintf(d->level, sizeof(d->level), "%s", level);
	snprintf(d->pages, sizeof(d->pages), "%s", pages);
	d->entries = entries;
	d->ways = ways;
}

/*
 * Leaf 0x18, deterministic address translation parameters (SDM Vol. 2A,
 * CPUID leaf 18H): EDX[4:0] type (1 data, 2 instruction, 3 unified, 4 load,
 * 5 store), EDX[7:5] level; EBX[3:0] page sizes 4K/2M/4M/1G, EBX[31:16]
 * ways; ECX sets; EDX[8] fully associative.
 */
static void tlbs_leaf18(struct bench_sysinfo *s, uint32_t max_leaf)
{
	static const char *const type_name[] = { "?", "D", "I", "U", "LD", "ST" };
	uint32_t r[4], sub, nsub;

	if (max_leaf < 0x18)
		return;
	cpuid_raw(0x18, 0, r);
	nsub = r[0];
	for (sub = 0; sub <= nsub && sub < 32; sub++) {
		char level[8], pages[24] = "";
		unsigned type, ways, sets;

		cpuid_raw(0x18, sub, r);
		type = r[3] & 0x1f;
		if (type == 0 || type > 5)
			continue;
		snprintf(level, sizeof(level), "L%u%s", (r[3] >> 5) & 7,
			 type_name[type]);
		snprintf(pages, sizeof(pages), "%s%s%s%s",
			 r[1] & 1 ? "4K " : "", r[1] & 2 ? "2M " : "",
			 r[1] & 4 ? "4M " : "", r[1] & 8 ? "1G" : "");
		ways = r[1] >> 16;
		sets = r[2];
		add_tlb(s, level, pages, ways * sets, r[3] & 0x100 ? 0 : ways);
	}
	if (s->n_tlbs)
		snprintf(s->tlb_source, sizeof(s->tlb_source), "CPUID leaf 0x18");
}

/* A few leaf-2 data/shared TLB descriptors (SDM Vol. 2A Table 3-12). */
static const struct {
	uint8_t code;
	const char *level, *pages;
	unsigned entries, ways;
} leaf2_tlbs[] = {
	{ 0x03, "L1D", "4K", 64, 4 },   { 0x5a, "L1D", "2M/4M", 32, 4 },
	{ 0x5b, "L1D", "4K/4M", 64, 0 }, { 0x5c, "L1D", "4K/4M", 128, 0 },
	{ 0x5d, "L1D", "4K/4M", 256, 0 }, { 0x63, "L1D", "2M/4M", 32, 4 },
	{ 0x64, "L1D", "4K", 512, 4 },  { 0xba, "L1D", "4K", 64, 4 },
	{ 0xc0, "L1D", "4K/4M", 8, 4 }, { 0xc1, "L2", "4K/2M", 1024, 8 },
	{ 0xc2, "L1D", "4K/2M", 16, 4 }, { 0xc3, "L2", "4K/2M", 1536, 6 },
	{ 0xc4, "L1D", "2M/4M", 32, 4 }, { 0xca, "L2", "4K", 512, 4 },
};

static void tlbs_leaf2(struct bench_sysinfo *s, bool *defer18)
{
	uint32_t r[4];
	unsigned i, b, j;

	cpuid_raw(2, 0, r);
	for (i = 0; i < 4; i++) {
		if (r[i] & 0x80000000u)
			continue;       /* register holds no descriptors */
		for (b = i == 0 ? 1 : 0; b < 4; b++) {
			uint8_t code = (uint8_t)(r[i] >> (8 * b));

			if (code == 0xfe || code == 0xff)
				*defer18 = true;
			for (j = 0; j < sizeof(leaf2_tlbs) / sizeof(leaf2_tlbs[0]); j++)
				if (leaf2_tlbs[j].code == code)
					add_tlb(s, leaf2_tlbs[j].level,
						leaf2_tlbs[j].pages,
						leaf2_tlbs[j].entries,
						leaf2_tlbs[j].ways);
		}
	}
	if (s->n_tlbs)
		snprintf(s->tlb_source, sizeof(s->tlb_source), "CPUID leaf 2");
}

/* AMD leaves 0x80000005 (L1) and 0x80000006 (L2) TLB fields (APM Vol. 3). */
static void tlbs_amd(struct bench_sysinfo *s)
{
	uint32_t r[4];

	cpuid_raw(0x80000000, 0, r);
	if (r[0] < 0x80000006)
		return;
	cpuid_raw(0x80000005, 0, r);
	add_tlb(s, "L1D", "4K", (r[1] >> 16) & 0xff, r[1] >> 24);
	add_tlb(s, "L1D", "2M/4M", (r[0] >> 16) & 0xff, r[0] >> 24);
	cpuid_raw(0x80000006, 0, r);
	add_tlb(s, "L2D", "4K", (r[1] >> 16) & 0xfff, 0);
	add_tlb(s, "L2D", "2M/4M", (r[0] >> 16) & 0xfff, 0);
	if (s->n_tlbs)
		snprintf(s->tlb_source, sizeof(s->tlb_source),
			 "CPUID leaves 0x80000005/6");
}

static void describe_tlbs(struct bench_sysinfo *s)
{
	uint32_t r[4], max_leaf;
	bool defer18 = false;

	cpuid_raw(0, 0, r);
	max_leaf = r[0];
	if (!strcmp(s->cpu_vendor, "GenuineIntel")) {
		if (max_leaf >= 2)
			tlbs_leaf2(s, &defer18);
		if (!s->n_tlbs)
			tlbs_leaf18(s, max_leaf);
		if (!s->n_tlbs)
			snprintf(s->tlb_source, sizeof(s->tlb_source),
				 "none: leaf 2 %s, leaf 0x18 reports no TLB "
				 "(masked by the hypervisor?)",
				 defer18 ? "defers to leaf 0x18" :
				 "has no TLB descriptor");
		return;
	}
	tlbs_amd(s);
	if (!s->n_tlbs)
		snprintf(s->tlb_source, sizeof(s->tlb_source),
			 "none: leaves 0x80000005/6 report no TLB");
}

void bench_sysinfo_get(struct bench_sysinfo *s)
{
	struct vmmu_cpu_ident id;
	struct utsname u;
	char err[160];
	uint32_t r[4];

	memset(s, 0, sizeof(*s));
	if (vmmu_identify_live(&id, err, sizeof(err)) == 0) {
		snprintf(s->cpu_vendor, sizeof(s->cpu_vendor), "%s", id.vendor_str);
		snprintf(s->cpu_brand, sizeof(s->cpu_brand), "%s", id.brand);
		snprintf(s->cpu_uarch, sizeof(s->cpu_uarch), "%s", id.uarch);
		snprintf(s->cpu_codename, sizeof(s->cpu_codename), "%s",
			 vmmu_cpu_libcpuid_codename(&id));
		vmmu_cpu_name(&id, s->cpu_name, sizeof(s->cpu_name));
		s->family = id.family;
		s->model = id.model;
		s->stepping = id.stepping;
	} else {
		snprintf(s->cpu_brand, sizeof(s->cpu_brand), "unknown (%.50s)", err);
		snprintf(s->cpu_name, sizeof(s->cpu_name), "unknown");
	}
	if (uname(&u) == 0) {
		snprintf(s->kernel_release, sizeof(s->kernel_release), "%s", u.release);
		snprintf(s->kernel_version, sizeof(s->kernel_version), "%s", u.version);
		snprintf(s->machine, sizeof(s->machine), "%s", u.machine);
	}
	/* CPUID.1:ECX[31] says a hypervisor is present (SDM Table 3-10). */
	cpuid_raw(1, 0, r);
	if (r[2] & 0x80000000u) {
		cpuid_raw(0x40000000, 0, r);
		memcpy(s->host_hypervisor, &r[1], 4);
		memcpy(s->host_hypervisor + 4, &r[2], 4);
		memcpy(s->host_hypervisor + 8, &r[3], 4);
	}
	describe_tlbs(s);
}

json_t *bench_sysinfo_json(const struct bench_sysinfo *s)
{
	json_t *tlbs = json_array();
	unsigned i;

	for (i = 0; i < s->n_tlbs; i++)
		json_array_append_new(tlbs, json_pack("{s:s, s:s, s:i, s:i}",
			"level", s->tlbs[i].level, "pages", s->tlbs[i].pages,
			"entries", (int)s->tlbs[i].entries,
			"ways", (int)s->tlbs[i].ways));
	return json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i}, "
			 "s:{s:s, s:s, s:s}, s:s, s:{s:s, s:o}}",
		"cpu", "vendor", s->cpu_vendor, "brand", s->cpu_brand,
		"name", s->cpu_name, "uarch", s->cpu_uarch,
		"libcpuid_codename", s->cpu_codename, "family", s->family,
		"model", s->model, "stepping", s->stepping,
		"kernel", "release", s->kernel_release,
		"version", s->kernel_version, "machine", s->machine,
		"host_hypervisor", s->host_hypervisor,
		"cpuid_tlbs", "source", s->tlb_source, "tlbs", tlbs);
}
