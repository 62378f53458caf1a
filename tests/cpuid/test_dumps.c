/* SPDX-License-Identifier: MIT */
/*
 * Every real CPUID dump in tests/data/cpuid is read (both formats) and
 * decided; the backend must match what is known of its microarchitecture.
 * Identification and the VMX/SVM bits are cross-checked against libcpuid's
 * expected decoding that follows the dashes in each file.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu/detect.h"

/*
 * Expectations per folder (vendor_microarchitecture), not per file. The
 * backend is the one the part gets when its CPUID exposes VMX/SVM; a dump
 * taken under a hypervisor that hides them must give shadow instead.
 * dirty: the least dirty-log method an EPT part must get (EPT A/D bits from
 * Haswell, PML from Broadwell).
 * uarch: the folders are libcpuid's grouping, a little coarser than vmmu's
 * table: its p6 folder holds Yonah, haswell holds Broadwell, lion-cove holds
 * an Arrow Lake-U (model 0xB5, a Meteor Lake die: Redwood Cove) and tremont
 * holds Lakefield (model 0x8A, Sunny Cove with Tremont cores; CPUID
 * reports the Sunny Cove model).
 */
struct expect {
	const char *folder;
	enum vmmu_backend_kind backend;
	enum vmmu_dirty_log dirty;
	const char *uarch;      /* vmmu's names accepted ('|'), "" none */
};

#define EPT(f, d, u) { f, VMMU_BACKEND_EPT, VMMU_DIRTY_##d, u }
#define NPT(f, u) { f, VMMU_BACKEND_NPT, VMMU_DIRTY_WRITE_PROTECT, u }
#define SHADOW(f, u) { f, VMMU_BACKEND_SHADOW, VMMU_DIRTY_WRITE_PROTECT, u }

static const struct expect expectations[] = {
	/* AMD: no SVM before K8; K8 SVM has no nested paging; K10 on: NPT. */
	SHADOW("amd_k5", "K5"), SHADOW("amd_k6", "K6"), SHADOW("amd_k7", "K7"),
	SHADOW("amd_k8", "K8"), NPT("amd_k10", "K10"),
	NPT("amd_bobcat", "Bobcat"),
	NPT("amd_bulldozer", "Bulldozer|Piledriver|Steamroller|Excavator"),
	NPT("amd_jaguar", "Jaguar|Puma"), NPT("amd_zen", "Zen"),
	NPT("amd_zen+", "Zen+"), NPT("amd_zen2", "Zen 2"),
	NPT("amd_zen3", "Zen 3"), NPT("amd_zen3+", "Zen 3+"),
	NPT("amd_zen4", "Zen 4"), NPT("amd_zen5", "Zen 5"),
	NPT("hygon_dhyana", "Zen"),
	/* Intel without EPT: P6, NetBurst, Core 2, Bonnell/Saltwell Atoms. */
	SHADOW("intel_ia-32_p6", "P6|Yonah"), SHADOW("intel_ia-32_netburst", "NetBurst"),
	SHADOW("intel_x86-64_netburst", "NetBurst"),
	SHADOW("intel_x86-64_core", "Merom|Penryn"),
	SHADOW("intel_x86-atom_bonnell", "Bonnell"),
	SHADOW("intel_x86-atom_saltwell", "Saltwell"),
	SHADOW("intel_qemu", NULL),     /* QEMU's default CPU model: no VMX */
	/* Intel cores with EPT: Nehalem on. */
	EPT("intel_x86-64_nehalem", WRITE_PROTECT, "Nehalem|Westmere"),
	EPT("intel_x86-64_sandy-bridge", WRITE_PROTECT,
	    "Sandy Bridge|Ivy Bridge"),
	EPT("intel_x86-64_haswell", AD_BITS, "Haswell|Broadwell"),
	EPT("intel_x86-64_skylake", PML, "Skylake"),
	EPT("intel_x86-64_palm-cove", PML, "Palm Cove"),
	EPT("intel_x86-64_sunny-cove", PML, "Sunny Cove"),
	EPT("intel_x86-64_willow-cove", PML, "Willow Cove"),
	EPT("intel_x86-64_cypress-cove", PML, "Cypress Cove"),
	EPT("intel_x86-64_golden-cove", PML, "Golden Cove"),
	EPT("intel_x86-64_raptor-cove", PML, "Raptor Cove"),
	EPT("intel_x86-64_redwood-cove", PML, "Redwood Cove"),
	EPT("intel_x86-64_lion-cove", PML, "Lion Cove|Redwood Cove"),
	/* Atoms from Silvermont on have EPT (extras not inferred). */
	EPT("intel_x86-atom_silvermont", WRITE_PROTECT, "Silvermont"),
	EPT("intel_x86-atom_airmont", WRITE_PROTECT, "Airmont"),
	EPT("intel_x86-atom_goldmont", WRITE_PROTECT, "Goldmont"),
	EPT("intel_x86-atom_goldmont-plus", WRITE_PROTECT, "Goldmont Plus"),
	EPT("intel_x86-atom_tremont", WRITE_PROTECT, "Tremont|Sunny Cove"),
	EPT("intel_x86-atom_gracemont", WRITE_PROTECT, "Gracemont"),
	/*
	 * VIA/Centaur and Zhaoxin: pre-Isaiah parts have no VMX; for the rest
	 * vmmu has no VMX capability table, so a dump alone (no --vmx-msrs)
	 * cannot show EPT and the policy must fall back to shadow. vmmu has
	 * no microarchitecture table for them either.
	 */
	SHADOW("via_samuel", ""), SHADOW("via_samuel2", ""),
	SHADOW("via_ezra", ""), SHADOW("via_esther", ""),
	SHADOW("via_isaiah", ""), SHADOW("zhaoxin_zhangjiang", ""),
	SHADOW("zhaoxin_lujiazui", ""), SHADOW("zhaoxin_yongfeng", ""),
};

/* libcpuid's expected decoding after the dashes (first CPU type). */
struct reference {
	int family, model, stepping, ext_family, ext_model;
	char codenames[4][64];
	int n_codenames;
	bool vmx, svm;
};

static const char *data_dir(void)
{
	const char *env = getenv("VMMU_CPUID_DATA");

	return env && *env ? env : VMMU_CPUID_DATA_DIR;
}

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word))) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

/* Sections of 34 lines: family is line 4, ..., codename 32, flags 34. */
static int read_reference(const char *path, struct reference *ref)
{
	FILE *fp = fopen(path, "r");
	char line[4096];
	int section = 0, idx = -1;

	memset(ref, 0, sizeof(*ref));
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strlen(line) >= 20 && strspn(line, "-") == strlen(line)) {
			section++;
			idx = 0;
			continue;
		}
		if (idx < 0)
			continue;
		idx++;
		if (section == 1 && idx >= 4 && idx <= 8) {
			int *f[] = { &ref->family, &ref->model, &ref->stepping,
				     &ref->ext_family, &ref->ext_model };
			*f[idx - 4] = atoi(line);
		}
		if (idx == 32 && ref->n_codenames < 4)
			snprintf(ref->codenames[ref->n_codenames++], 64, "%.63s",
				 line);
		if (section == 1 && idx == 34) {
			ref->vmx = has_word(line, "vmx");
			ref->svm = has_word(line, "svm");
		}
	}
	fclose(fp);
	return section ? 0 : -1;
}

static const struct expect *expectation_for(const char *name)
{
	const char *us = strrchr(name, '_');
	size_t i, len = us ? (size_t)(us - name) : 0;

	for (i = 0; i < sizeof(expectations) / sizeof(expectations[0]); i++)
		if (strlen(expectations[i].folder) == len &&
		    !strncmp(expectations[i].folder, name, len))
			return &expectations[i];
	return NULL;
}

/* Whole names of parts libcpuid 0.6.2 misnames, and of some it gets right. */
static const struct {
	const char *file, *name;
} spot_names[] = {
	{ "amd_zen5_amd-ryzen-9-9950x-16-core-processor.test", "Zen 5" },
	{ "intel_x86-64_lion-cove_intel-core-ultra-9-285h.test", "Lion Cove" },
	{ "amd_zen4_amd-ryzen-5-7600x-6-core-processor.test",
	  "Zen 4 (libcpuid: Ryzen 5 (Raphael))" },
	{ "intel_x86-64_haswell_intel-core-i7-4770-cpu.test",
	  "Haswell (libcpuid: Haswell (Core i7))" },
	{ "via_isaiah_via-nano-processor.test", "unknown microarchitecture" },
};

struct tally {
	int files, failures, codename_match, by_backend[4];
	int by_check[4];        /* enum vmmu_codename_check */
};

static void failf(struct tally *t, const char *name, const char *fmt, ...)
{
	va_list ap;

	t->failures++;
	fprintf(stderr, "FAIL %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void check_identity(struct tally *t, const char *name,
			   const struct vmmu_host_info *h,
			   const struct reference *ref)
{
	int i;

	if (h->cpu.family != ref->ext_family || h->cpu.model != ref->ext_model ||
	    h->cpu.stepping != ref->stepping)
		failf(t, name, "family/model/stepping %d/0x%x/%d, libcpuid "
		      "expects %d/0x%x/%d", h->cpu.family, h->cpu.model,
		      h->cpu.stepping, ref->ext_family, ref->ext_model,
		      ref->stepping);
	/* libcpuid lists "vmx" only for Intel (its Centaur/Zhaoxin flag
	 * table has no vmx entry although their CPUID.1:ECX[5] is set). */
	if ((h->cpu.vendor == VMMU_VENDOR_INTEL && h->feat.vmx != ref->vmx) ||
	    h->feat.svm != ref->svm)
		failf(t, name, "vmx/svm %d/%d, libcpuid's flags say %d/%d",
		      h->feat.vmx, h->feat.svm, ref->vmx, ref->svm);
	for (i = 0; i < ref->n_codenames; i++)
		if (!strcmp(h->cpu.codename, ref->codenames[i])) {
			t->codename_match++;
			break;
		}
}

/* One name of a '|'-separated list, exactly. */
static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	for (;;) {
		size_t len = strcspn(p, "|");

		if (len == n && !strncmp(p, name, n))
			return true;
		if (!p[len])
			return false;
		p += len + 1;
	}
}

/*
 * vmmu's microarchitecture must be the folder's; libcpuid's codename may
 * only be shown when it is consistent with it (or vmmu has none).
 */
static void check_names(struct tally *t, const char *name,
			const struct vmmu_host_info *h, const struct expect *e)
{
	const struct vmmu_cpu_ident *c = &h->cpu;
	const char *shown = vmmu_cpu_libcpuid_codename(c);
	char full[128];

	t->by_check[c->codename_check]++;
	vmmu_cpu_name(c, full, sizeof(full));
	if (e->uarch && !e->uarch[0] && c->uarch[0])
		failf(t, name, "uarch \"%s\", expected none", c->uarch);
	else if (e->uarch && e->uarch[0] && !in_list(e->uarch, c->uarch))
		failf(t, name, "uarch \"%s\" (family 0x%x model 0x%x), "
		      "expected %s", c->uarch, c->family, c->model, e->uarch);
	if (c->codename_check == VMMU_CODENAME_INCONSISTENT &&
	    (shown[0] || strstr(full, c->codename)))
		failf(t, name, "inconsistent codename \"%s\" is shown",
		      c->codename);
	if (c->uarch[0] && strncmp(full, c->uarch, strlen(c->uarch)))
		failf(t, name, "name \"%s\" does not start with the uarch",
		      full);
	for (size_t i = 0; i < sizeof(spot_names) / sizeof(spot_names[0]); i++)
		if (!strcmp(name, spot_names[i].file) &&
		    strcmp(full, spot_names[i].name))
			failf(t, name, "named \"%s\", expected \"%s\"", full,
			      spot_names[i].name);
	if (getenv("VMMU_DUMP_NAMES"))
		printf("%-60s %-14s %-12s %s\n", name, c->uarch,
		       vmmu_codename_check_name(c->codename_check), c->codename);
}

static void check_decision(struct tally *t, const char *name,
			   const struct vmmu_host_info *h,
			   const struct expect *e)
{
	struct vmmu_vm_request req = { .backend = VMMU_BACKEND_AUTO };
	struct vmmu_decision d;
	enum vmmu_backend_kind want = e->backend;

	if ((want == VMMU_BACKEND_EPT && !h->feat.vmx) ||
	    (want == VMMU_BACKEND_NPT && !h->feat.svm))
		want = VMMU_BACKEND_SHADOW;     /* hidden by a hypervisor */
	if (vmmu_decide(h, &req, &d) != 0) {
		failf(t, name, "vmmu_decide failed");
		return;
	}
	t->by_backend[d.backend]++;
	if (d.backend != want)
		failf(t, name, "backend %s, expected %s (%s)",
		      vmmu_backend_name(d.backend), vmmu_backend_name(want),
		      d.n_reasons ? d.reasons[0].text : "no reason");
	if (d.n_reasons == 0)
		failf(t, name, "a decision without reasons");
	/* Shadow capabilities follow the CPU (no long mode: no 4-level). */
	if (!h->feat.lm && (d.levels > 3 ||
	    (d.guest_modes & VMMU_GUEST_MODE_4LEVEL) || d.leaf_1g))
		failf(t, name, "no long mode, yet %u-level %s", d.levels,
		      d.guest_modes & VMMU_GUEST_MODE_4LEVEL ?
		      "with 4-level guests" : "tables");
	if (!h->feat.lm && !h->feat.pae && d.leaf_2m)
		failf(t, name, "no PAE, yet 2 MiB shadow leaves");
	if (d.nx && !h->feat.nx)
		failf(t, name, "NX offered without CPUID NX");
	if (d.backend == VMMU_BACKEND_EPT && d.dirty_log < e->dirty)
		failf(t, name, "dirty log %d, expected at least %d",
		      d.dirty_log, e->dirty);
	if (d.backend == VMMU_BACKEND_EPT && !h->cpu.uarch[0])
		failf(t, name, "EPT without a known microarchitecture");
}

static void check_file(struct tally *t, const char *dir, const char *name)
{
	static struct vmmu_host_info h;
	const struct expect *e = expectation_for(name);
	struct reference ref;
	char path[1024], err[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	t->files++;
	if (!e) {
		failf(t, name, "no expectation for its folder");
		return;
	}
	if (vmmu_detect_dump(&h, path, err, sizeof(err)) != 0) {
		failf(t, name, "not read: %s", err);
		return;
	}
	if (read_reference(path, &ref) != 0) {
		failf(t, name, "no libcpuid reference after the dashes");
		return;
	}
	check_identity(t, name, &h, &ref);
	check_names(t, name, &h, e);
	check_decision(t, name, &h, e);
}

static void test_all_dumps(void **state)
{
	const char *dir = data_dir();
	struct tally t = { 0 };
	struct dirent **names;
	int n, i;

	(void)state;
	n = scandir(dir, &names, NULL, alphasort);
	/* The dumps ship with the project: a missing directory is a failure. */
	if (n < 0)
		fail_msg("no CPUID dump directory at %s (tests/data/cpuid ships "
			 "with vmmu; VMMU_CPUID_DATA overrides it)", dir);
	for (i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		size_t len = strlen(nm);

		if (len > 5 && !strcmp(nm + len - 5, ".test"))
			check_file(&t, dir, nm);
		free(names[i]);
	}
	free(names);
	printf("%d dumps: %d ept, %d npt, %d shadow; libcpuid codename "
	       "agrees with its own test expectation on %d; against vmmu's "
	       "microarchitecture it is consistent on %d, unchecked on %d, "
	       "inconsistent (not shown) on %d, absent on %d; %d failures\n",
	       t.files, t.by_backend[VMMU_BACKEND_EPT],
	       t.by_backend[VMMU_BACKEND_NPT],
	       t.by_backend[VMMU_BACKEND_SHADOW], t.codename_match,
	       t.by_check[VMMU_CODENAME_CONSISTENT],
	       t.by_check[VMMU_CODENAME_UNCHECKED],
	       t.by_check[VMMU_CODENAME_INCONSISTENT],
	       t.by_check[VMMU_CODENAME_NONE], t.failures);
	assert_true(t.files >= 300);
	assert_int_equal(t.failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_dumps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
