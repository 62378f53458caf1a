/* SPDX-License-Identifier: MIT */
/*
 * Sources of a host description: this machine (libcpuid's CPUID reader and
 * MSR driver, /dev/kvm, the kvm modules' parameters, hwloc), or a dump.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <hwloc.h>

#include "vmmu/error.h"
#include "cpuid_internal.h"

/* APM Vol 2 15.30.1: VM_CR bit 4 SVMDIS. */
#define MSR_AMD_VM_CR                   0xc0010114
#define VM_CR_SVMDIS                    (1ull << 4)

void vmmu_read_svm_msrs(struct vmmu_host_info *h, vmmu_rdmsr_fn rdmsr,
			void *ctx)
{
	uint64_t vm_cr;

	if (h->feat.svm && rdmsr && !rdmsr(ctx, MSR_AMD_VM_CR, &vm_cr))
		h->feat.svm_firmware_disabled = vm_cr & VM_CR_SVMDIS;
}

static int libcpuid_rdmsr(void *ctx, uint32_t idx, uint64_t *val)
{
	return cpu_rdmsr(ctx, idx, val) ? -1 : 0;
}

/* libcpuid's MSR driver (/dev/cpu/0/msr on Linux). */
static void read_live_msrs(struct vmmu_host_info *h)
{
	struct msr_driver_t *drv;
	char why[64];

	if (!h->feat.vmx && !h->feat.svm)
		return;
	drv = cpu_msr_driver_open();
	if (!drv) {
		snprintf(why, sizeof(why), "%s", cpuid_error());
		vmmu_read_vmx_msrs(h, NULL, NULL, why);
		return;
	}
	vmmu_read_vmx_msrs(h, libcpuid_rdmsr, drv, NULL);
	vmmu_read_svm_msrs(h, libcpuid_rdmsr, drv);
	cpu_msr_driver_close(drv);
}

/* Y/N/1/0 module parameter; -1 when the file does not exist. */
static int read_param(const char *module, const char *param)
{
	char path[128], buf[8] = "";
	FILE *fp;

	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", module,
		 param);
	fp = fopen(path, "r");
	if (!fp)
		return -1;
	if (!fgets(buf, sizeof(buf), fp))
		buf[0] = '\0';
	fclose(fp);
	return buf[0] == 'Y' || buf[0] == 'y' || buf[0] == '1';
}

static bool module_loaded(const char *module)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/module/%s", module);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void probe_kvm_caps(struct vmmu_kvm_info *k, int fd)
{
	k->api_version = ioctl(fd, KVM_GET_API_VERSION, 0);
#define CAP(field, cap) k->field = ioctl(fd, KVM_CHECK_EXTENSION, cap)
	CAP(cap_nr_vcpus, KVM_CAP_NR_VCPUS);
	CAP(cap_max_vcpus, KVM_CAP_MAX_VCPUS);
	CAP(cap_nr_memslots, KVM_CAP_NR_MEMSLOTS);
	CAP(cap_dirty_log_ring, KVM_CAP_DIRTY_LOG_RING);
	CAP(cap_dirty_log_ring_acq_rel, KVM_CAP_DIRTY_LOG_RING_ACQ_REL);
	CAP(cap_manual_dirty_log_protect2, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	CAP(cap_sync_mmu, KVM_CAP_SYNC_MMU);
	CAP(cap_readonly_mem, KVM_CAP_READONLY_MEM);
	CAP(cap_x86_smm, KVM_CAP_X86_SMM);
	CAP(cap_x86_disable_exits, KVM_CAP_X86_DISABLE_EXITS);
	CAP(cap_set_identity_map_addr, KVM_CAP_SET_IDENTITY_MAP_ADDR);
#undef CAP
}

static void probe_kvm(struct vmmu_kvm_info *k)
{
	static const char *const modules[] = { "kvm_intel", "kvm_amd",
					       "kvm_pvm" };
	size_t i;
	int fd;

	memset(k, 0, sizeof(*k));
	k->probed = true;
	for (i = 0; i < sizeof(modules) / sizeof(modules[0]); i++)
		if (module_loaded(modules[i])) {
			snprintf(k->module, sizeof(k->module), "%s",
				 modules[i]);
			break;
		}
	k->param_ept = read_param("kvm_intel", "ept");
	k->param_eptad = read_param("kvm_intel", "eptad");
	k->param_pml = read_param("kvm_intel", "pml");
	k->param_unrestricted_guest = read_param("kvm_intel",
						 "unrestricted_guest");
	k->param_npt = read_param("kvm_amd", "npt");
	k->param_tdp_mmu = read_param("kvm", "tdp_mmu");
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		k->open_errno = errno;
		snprintf(k->open_error, sizeof(k->open_error), "%s",
			 strerror(errno));
		return;
	}
	k->present = true;
	probe_kvm_caps(k, fd);
	close(fd);
}

static void read_cpukinds(struct vmmu_topology *t, hwloc_topology_t topo)
{
	int i, nr = hwloc_cpukinds_get_nr(topo, 0);

	for (i = 0; i < nr && t->nr_cpukinds < VMMU_MAX_CPUKINDS; i++) {
		hwloc_bitmap_t set = hwloc_bitmap_alloc();
		struct hwloc_info_s *infos = NULL;
		unsigned n_infos = 0, j;
		int eff = -1, k = t->nr_cpukinds;

		if (!set)
			return;
		if (hwloc_cpukinds_get_info(topo, (unsigned)i, set, &eff,
					    &n_infos, &infos, 0) == 0) {
			t->kinds[k].efficiency = eff;
			t->kinds[k].pus = hwloc_bitmap_weight(set);
			for (j = 0; j < n_infos; j++)
				if (!strcmp(infos[j].name, "CoreType"))
					snprintf(t->kinds[k].core_type,
						 sizeof(t->kinds[k].core_type),
						 "%s", infos[j].value);
			t->nr_cpukinds++;
		}
		hwloc_bitmap_free(set);
	}
}

static void probe_topology(struct vmmu_topology *t)
{
	hwloc_topology_t topo;

	memset(t, 0, sizeof(*t));
	if (hwloc_topology_init(&topo))
		return;
	if (hwloc_topology_load(topo) == 0) {
		t->valid = true;
		t->packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
		t->cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
		t->pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
		t->numa_nodes = hwloc_get_nbobjs_by_type(topo,
							 HWLOC_OBJ_NUMANODE);
		read_cpukinds(t, topo);
	}
	hwloc_topology_destroy(topo);
}

/* The hypervisor's signature, CPUID 0x40000000 EBX:ECX:EDX ("KVMKVMKVM"). */
static void read_hypervisor_vendor(struct vmmu_cpu_features *f)
{
	uint32_t regs[4] = { 0 };
	size_t i;

	if (!f->hypervisor)
		return;
	cpu_exec_cpuid(0x40000000u, regs);
	memcpy(f->hypervisor_vendor + 0, &regs[1], 4);
	memcpy(f->hypervisor_vendor + 4, &regs[2], 4);
	memcpy(f->hypervisor_vendor + 8, &regs[3], 4);
	f->hypervisor_vendor[12] = '\0';
	for (i = 0; i < 12 && f->hypervisor_vendor[i]; i++)
		if (f->hypervisor_vendor[i] < 0x20 ||
		    f->hypervisor_vendor[i] > 0x7e)
			f->hypervisor_vendor[i] = '?';
}

int vmmu_detect_live(struct vmmu_host_info *h, char *err, size_t errlen)
{
	struct cpu_raw_data_t raw;

	if (!h || !err || !errlen)
		return VMMU_EINVAL;
	memset(h, 0, sizeof(*h));
	h->live = true;
	snprintf(h->source, sizeof(h->source), "live host");
	memset(&raw, 0, sizeof(raw));
	if (!cpuid_present() || cpuid_get_raw_data(&raw) != 0) {
		snprintf(err, errlen, "cannot read CPUID on this host: %s",
			 cpuid_error());
		return VMMU_EIO;
	}
	vmmu_host_from_raw(h, &raw);
	read_hypervisor_vendor(&h->feat);
	read_live_msrs(h);
	probe_kvm(&h->kvm);
	probe_topology(&h->topo);
	return 0;
}

int vmmu_identify_live(struct vmmu_cpu_ident *cpu, char *err, size_t errlen)
{
	static struct vmmu_host_info h;         /* large: not on the stack */
	struct cpu_raw_data_t raw;

	if (!cpu || !err || !errlen)
		return VMMU_EINVAL;
	memset(&raw, 0, sizeof(raw));
	if (!cpuid_present() || cpuid_get_raw_data(&raw) != 0) {
		snprintf(err, errlen, "cannot read CPUID on this host: %s",
			 cpuid_error());
		return VMMU_EIO;
	}
	memset(&h, 0, sizeof(h));
	vmmu_host_from_raw(&h, &raw);
	*cpu = h.cpu;
	return 0;
}

int vmmu_detect_dump(struct vmmu_host_info *h, const char *path, char *err,
		     size_t errlen)
{
	struct cpu_raw_data_t raw;
	int rc;

	if (!h || !path || !err || !errlen)
		return VMMU_EINVAL;
	memset(h, 0, sizeof(*h));
	snprintf(h->source, sizeof(h->source), "%s", path);
	rc = vmmu_dump_read(path, &raw, err, errlen, h->dump_note,
			    sizeof(h->dump_note));
	if (rc)
		return rc;
	vmmu_host_from_raw(h, &raw);
	/*
	 * SDM Vol. 3A 4.1.4: MAXPHYADDR is at most 52, and no CPU with leaf
	 * 80000008H has fewer than 32 bits. Anything else is a damaged dump,
	 * and a policy fed with it would pick a guest width no walk has.
	 */
	if (h->feat.maxphyaddr_reported &&
	    (h->feat.maxphyaddr < 32 || h->feat.maxphyaddr > 52)) {
		snprintf(err, errlen, "%s: CPUID 80000008H reports MAXPHYADDR "
			 "%u, outside 32..52", path, h->feat.maxphyaddr);
		return VMMU_EPARSE;
	}
	return 0;
}
