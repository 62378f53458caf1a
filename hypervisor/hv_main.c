/* SPDX-License-Identifier: MIT */
/*
 * vmmu-hv's 64-bit entry: console, host CPU state, detection, vmmu's
 * choice of nested paging, one guest run, and the verdict on the console.
 */
#include "hv.h"
#include "hv_vm.h"
#include "vmmu/detect.h"

#define MULTIBOOT_LOADER_MAGIC 0x2badb002

void hv_main(uint32_t magic, uint32_t info);

/* CPUID sub-leaf 0 of every basic and extended leaf vmmu's policy reads. */
static void read_leaves(struct vmmu_cpuid_leaves *l)
{
	uint32_t i, max;

	memset(l, 0, sizeof(*l));
	hv_cpuid(0, 0, l->basic[0]);
	max = l->basic[0][0] < VMMU_CPUID_MAX_LEAVES ? l->basic[0][0] :
	      VMMU_CPUID_MAX_LEAVES - 1;
	for (i = 1; i <= max; i++)
		hv_cpuid(i, 0, l->basic[i]);
	hv_cpuid(0x80000000, 0, l->ext[0]);
	if ((l->ext[0][0] & 0xffff0000) != 0x80000000)
		return;
	max = l->ext[0][0] - 0x80000000;
	if (max >= VMMU_CPUID_MAX_LEAVES)
		max = VMMU_CPUID_MAX_LEAVES - 1;
	for (i = 1; i <= max; i++)
		hv_cpuid(0x80000000 + i, 0, l->ext[i]);
}

/* vmmu's MSR reader: only called for MSRs that CPUID's VMX bit implies
 * (IA32_FEATURE_CONTROL, IA32_VMX_*; SDM Vol. 3C Appendix A). */
static int read_msr(void *ctx, uint32_t index, uint64_t *value)
{
	(void)ctx;
	*value = hv_rdmsr(index);
	return 0;
}

/* Print text line by line behind a prefix (hv_printf has no width). */
static void print_lines(const char *prefix, char *text)
{
	char *line = text, *nl;

	while (*line) {
		nl = line;
		while (*nl && *nl != '\n')
			nl++;
		if (*nl)
			*nl++ = '\0';
		hv_printf("%s%s\n", prefix, line);
		line = nl;
	}
}

/*
 * vmmu's own policy (cpuid/policy.c, compiled in) on this CPU's CPUID
 * words and VMX capability MSRs, printed as `vmmu detect` prints it.
 */
static struct vmmu_host_info host;
static struct vmmu_decision decision;

/*
 * The backend the boot command line forces: "vmmu.backend=ept|npt|shadow"
 * (QEMU -append, GRUB's multiboot line; multiboot v1 info flags bit 2,
 * cmdline at offset 16), else automatic. vmmu_decide refuses a backend the
 * CPU cannot run, as `vmmu detect --backend` does.
 */
static size_t slen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

/* The index in names[0..n) of the value of key= on the boot line, or -1. */
static int boot_option(uint32_t magic, uint32_t info, const char *key,
		       const char *const *names, unsigned n)
{
	const uint32_t *mbi = (const uint32_t *)(uintptr_t)info;
	size_t klen = slen(key);
	const char *c, *v;
	unsigned i;

	if (magic != MULTIBOOT_LOADER_MAGIC || !(mbi[0] & 4) || !mbi[4])
		return -1;
	for (c = (const char *)(uintptr_t)mbi[4]; *c; c++) {
		if (memcmp(c, key, klen))
			continue;
		v = c + klen;
		for (i = 0; i < n; i++) {
			size_t len = slen(names[i]);

			if (!memcmp(v, names[i], len) && (v[len] == ' ' || !v[len]))
				return (int)i;
		}
	}
	return -1;
}

static enum vmmu_backend_kind boot_backend(uint32_t magic, uint32_t info)
{
	static const char *const names[] = { "ept", "npt", "shadow" };
	static const enum vmmu_backend_kind kinds[] = {
		VMMU_BACKEND_EPT, VMMU_BACKEND_NPT, VMMU_BACKEND_SHADOW,
	};
	int i = boot_option(magic, info, "vmmu.backend=", names, 3);

	return i < 0 ? VMMU_BACKEND_AUTO : kinds[i];
}

/* The dirty tracking the boot line forces: "vmmu.dirty=wp|ad|pml". */
static enum vmmu_dirty_log boot_dirty(uint32_t magic, uint32_t info)
{
	static const char *const names[] = { "wp", "ad", "pml" };
	static const enum vmmu_dirty_log modes[] = {
		VMMU_DIRTY_WRITE_PROTECT, VMMU_DIRTY_AD_BITS, VMMU_DIRTY_PML,
	};
	int i = boot_option(magic, info, "vmmu.dirty=", names, 3);

	return i < 0 ? VMMU_DIRTY_AUTO : modes[i];
}

static enum vmmu_backend_kind decide(enum vmmu_backend_kind want)
{
	static struct vmmu_cpuid_leaves leaves;
	struct vmmu_decision *d = &decision;
	static char text[2 * VMMU_DETECT_MAX_ITEMS * 256 + 1024];
	struct vmmu_vm_request req = { .backend = want };
	int rc;

	read_leaves(&leaves);
	vmmu_host_from_leaves(&host, &leaves, read_msr, NULL, "vmmu-hv");
	rc = vmmu_decide(&host, &req, d);
	vmmu_decision_format(&req, d, text, sizeof(text));
	print_lines("hv-decide: ", text);
	hv_printf("hv: decision %s (vmmu_decide %d, %lu reasons, %lu degradations)\n",
		  vmmu_backend_name(d->backend), rc, (unsigned long)d->n_reasons,
		  (unsigned long)d->n_degraded);
	return rc ? VMMU_BACKEND_NONE : d->backend;
}


void hv_main(uint32_t magic, uint32_t info)
{
	struct hv_features f;
	const struct hv_arch *arch = NULL;
	enum vmmu_backend_kind mode;
	int rc;

	hv_serial_init();
	hv_cpu_init();
	hv_printf("hv: vmmu-hv 64-bit host, multiboot magic 0x%x %s, info 0x%x\n",
		  magic, magic == MULTIBOOT_LOADER_MAGIC ? "ok" : "unexpected", info);
	hv_pool_init(magic, info);
	hv_detect(&f);
	hv_print_features(&f);
	hv_dump_features(&f);
	hv_boot_dirty = boot_dirty(magic, info);
	mode = decide(boot_backend(magic, info));
	/* Shadow paging runs on whichever of VMX and SVM the CPU has,
	 * without its second level. */
	if (mode == VMMU_BACKEND_EPT || (mode == VMMU_BACKEND_SHADOW && f.vmx))
		arch = &hv_vmx_arch;
	else if (mode == VMMU_BACKEND_NPT || (mode == VMMU_BACKEND_SHADOW && f.svm))
		arch = &hv_svm_arch;
	if (!arch) {
		hv_printf("hv: no guest: %s\n", mode == VMMU_BACKEND_NONE ?
			  "vmmu_decide refused the backend" :
			  "the CPU has neither VMX nor SVM");
		hv_exit_emulator(true);
	}
	rc = hv_guest_run(arch, &f, &host, &decision, mode);
	hv_printf("hv: guest on %s %s\n", vmmu_backend_name(mode),
		  rc ? "FAILED" : "passed");
	hv_exit_emulator(rc == 0);
}
