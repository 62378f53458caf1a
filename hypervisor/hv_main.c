/* SPDX-License-Identifier: MIT */
/*
 * vmmu-hv's 64-bit entry: console, host CPU state, detection, the choice
 * of nested paging, one guest run, and the verdict on the console.
 */
#include "hv.h"

#define MULTIBOOT_LOADER_MAGIC 0x2badb002

void hv_main(uint32_t magic, uint32_t info);

/*
 * EPT needs a 4-level walk and write-back paging structures (SDM Vol. 3C
 * 25.6.11 with Appendix A.10); NPT needs CPUID 8000_000Ah:EDX[0].
 */
static const char *decide(const struct hv_features *f, const struct hv_arch **arch)
{
	*arch = NULL;
	if (f->vmx && f->ept && f->ept_4level && f->ept_wb) {
		*arch = &hv_vmx_arch;
		return "ept";
	}
	if (f->svm && f->np) {
		*arch = &hv_svm_arch;
		return "npt";
	}
	return "shadow";
}

static const char *reason(const struct hv_features *f)
{
	if (f->vmx && f->ept)
		return f->ept_4level && f->ept_wb ? "vmx with ept" :
		       "ept without 4-level walk or wb";
	if (f->vmx)
		return "vmx without ept";
	if (f->svm)
		return f->np ? "svm with nested paging" : "svm without nested paging";
	return "neither vmx nor svm";
}

void hv_main(uint32_t magic, uint32_t info)
{
	struct hv_features f;
	const struct hv_arch *arch;
	const char *mode;
	int rc;

	hv_serial_init();
	hv_cpu_init();
	hv_printf("hv: vmmu-hv 64-bit host, multiboot magic 0x%x %s, info 0x%x\n",
		  magic, magic == MULTIBOOT_LOADER_MAGIC ? "ok" : "unexpected", info);
	hv_detect(&f);
	hv_print_features(&f);
	hv_dump_features(&f);
	mode = decide(&f, &arch);
	hv_printf("hv: decision %s (%s)\n", mode, reason(&f));
	if (!arch) {
		hv_printf("hv: no guest: shadow paging is not in this kernel yet\n");
		hv_exit_emulator(true);
	}
	rc = hv_guest_run(arch, &f, arch == &hv_vmx_arch);
	hv_printf("hv: guest on %s %s\n", mode, rc ? "FAILED" : "passed");
	hv_exit_emulator(rc == 0);
}
