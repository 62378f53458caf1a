/* SPDX-License-Identifier: MIT */
/*
 * vmmu bench logdirty: the VM's dirty log on this machine, and real KVM's
 * dirty logging beside it: enable cost for 1 GiB, 64 GiB and 1 TiB guests
 * (lazy against an eager per-page walk), peek/clean throughput, the cost
 * of one logged write through the access path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cli_json.h"
#include "logdirty_backends.h"
#include "logdirty_kvm.h"
#include "migrate/model.h"
#include "vmmu/dirty.h"
#include "vmmu/error.h"

const char bench_logdirty_summary[] =
	"dirty log: enable cost 1 GiB..1 TiB, peek/clean rate, logged write; KVM beside";

static const uint64_t sizes[3] = { 1ULL << 30, 64ULL << 30, 1ULL << 40 };

static void usage(FILE *out)
{
	fputs(
"NAME\n"
"    vmmu bench logdirty - cost of vmmu's dirty log, and of KVM's\n"
"\n"
"SYNOPSIS\n"
"    vmmu bench logdirty [--json]\n"
"\n"
"DESCRIPTION\n"
"    For guests of 1 GiB, 64 GiB and 1 TiB (RAM slots populated lazily,\n"
"    so nothing is backed): the time of vmmu_dirty_enable on the direct\n"
"    backend (lazy: a directory of 8 bytes per GiB, the pages trap on\n"
"    their first write) against an eager start that visits every 4 KiB\n"
"    page (one atomic bit operation each, as write-protecting every leaf\n"
"    would); the time of a clean of the whole range with 1000 pages\n"
"    dirty; the clean rate with every page of 1 GiB dirty (GiB of guest\n"
"    memory per second). Then per backend and dirty-tracking variant\n"
"    (direct, EPT and NPT write protection at 4 KiB and at 2 MiB, EPT A/D,\n"
"    EPT PML, NPT D bits, shadow; the model VM of vmmu migrate, 64 MiB on\n"
"    2 MiB host leaves, one vCPU): the enable on a guest with an extra\n"
"    1 GiB, 64 GiB or 1 TiB slot populated only at 64 pages; the first\n"
"    store to each of 4096 pages with the log on (write protection: an\n"
"    exit, the handler marks and unprotects, the retry; A/D and PML: no\n"
"    exit) against the same stores with the log off, each pass after a\n"
"    TLB flush; the clean that reports them (A/D and PML harvest first);\n"
"    the exits per store. Every clean must report every stored page.\n"
"    Then the eager baseline for each EPT and NPT variant: a VM whose\n"
"    second-level tables map every 2 MiB of a 1 GiB, 64 GiB or 1 TiB slot\n"
"    (2 MiB leaves aliasing one host block: a guest that touched all its\n"
"    memory, the worst case for a start that visits leaves); the time of\n"
"    vmmu_dirty_enable_ram in the variant (write protection: lazy marks;\n"
"    A/D and PML: every D cleared) against write-protecting every leaf\n"
"    at once (one engine update clearing W and retyping to log-dirty,\n"
"    then the TLB flush it needs), and their ratio.\n"
"    Beside it, real KVM on this machine where /dev/kvm works: a memslot\n"
"    of the same size (anonymous, not populated) gets\n"
"    KVM_MEM_LOG_DIRTY_PAGES (the time of that KVM_SET_USER_MEMORY_REGION),\n"
"    with and without KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 initially-set when\n"
"    KVM offers it (probed at run time), and one KVM_GET_DIRTY_LOG.\n"
"    Then a real KVM guest (68 MiB, one vCPU at CPL 3) writes once to each\n"
"    of 1000 pages it touched before logging started, and one harvest is\n"
"    timed each way KVM offers: bitmap (KVM_GET_DIRTY_LOG), manual\n"
"    (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: get, then KVM_CLEAR_DIRTY_LOG)\n"
"    and ring (KVM_CAP_DIRTY_LOG_RING: read the vCPU's ring, hand the\n"
"    entries back, KVM_RESET_DIRTY_RINGS); every round must report all\n"
"    1000 pages (the guest's own stack and code pages come on top), the\n"
"    fastest of 3 is given. vmmu's counterpart is the clean of 1000 dirty\n"
"    pages above (over a larger guest).\n"
"    Each figure is the fastest of 3 runs, wall clock.\n"
"\n"
"OPTIONS\n"
"    --json      machine-readable output\n"
"    -h, --help  this text\n"
"\n"
"EXIT STATUS\n"
"    0 measured, 1 a measurement failed, 2 bad usage.\n",
	      out);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

struct row {
	uint64_t size;
	double lazy_ms, eager_ms, clean_sparse_ms;
	double kvm_ms, kvm_init_set_ms, kvm_get_ms;
	const char *kvm_note;
};

static int vm_of(uint64_t size, struct vmmu_hosted_arena **a,
		 struct vmmu_platform *p, struct vmmu_vm **vm)
{
	int rc = vmmu_hosted_create(64ULL << 20, a);

	if (rc < 0)
		return rc;
	vmmu_hosted_platform(*a, p);
	rc = vmmu_vm_create(p, vm);
	if (rc == 0)
		rc = vmmu_vm_set_backend(*vm, VMMU_BACKEND_NONE, &vmmu_backend_direct);
	if (rc == 0)
		rc = vmmu_vm_add_slot(*vm, mk_gpa(0), size, VMMU_MEM_RAM);
	return rc;
}

/* Eager: one atomic operation per 4 KiB page of the guest. */
static double eager(uint64_t npages)
{
	atomic_ulong *bm = calloc(npages / 64, sizeof(*bm));
	double t0 = now();
	uint64_t i;

	if (!bm)
		return -1;
	for (i = 0; i < npages; i++)
		atomic_fetch_and_explicit(&bm[i / 64], ~(1UL << (i % 64)),
					  memory_order_relaxed);
	t0 = now() - t0;
	free(bm);
	return t0 * 1e3;
}

static int measure_vmmu(struct row *r)
{
	struct vmmu_hosted_arena *a = NULL;
	struct vmmu_platform p;
	struct vmmu_vm *vm = NULL;
	uint64_t n = r->size >> 12, i, cnt;
	double t;
	int rc = vm_of(r->size, &a, &p, &vm), k;

	r->lazy_ms = r->clean_sparse_ms = 1e30;
	for (k = 0; k < 3 && rc == 0; k++) {
		t = now();
		rc = vmmu_dirty_enable_ram(vm);
		t = (now() - t) * 1e3;
		if (t < r->lazy_ms)
			r->lazy_ms = t;
		for (i = 0; i < 1000 && rc == 0; i++)
			vmmu_dirty_mark(vm, (i * 7919 * 4099) % n, 1);
		t = now();
		if (rc == 0)
			rc = vmmu_dirty_clean(vm, 0, n, NULL, &cnt);
		t = (now() - t) * 1e3;
		if (t < r->clean_sparse_ms)
			r->clean_sparse_ms = t;
		if (rc == 0)
			rc = vmmu_dirty_disable(vm);
	}
	r->eager_ms = 1e30;
	for (k = 0; k < 3 && rc == 0; k++) {
		t = eager(n);
		if (t < r->eager_ms)
			r->eager_ms = t;
	}
	vmmu_vm_destroy(vm);
	vmmu_hosted_destroy(a);
	return rc;
}

/* Clean rate with all of 1 GiB dirty, GiB/s. */
static double clean_rate(void)
{
	struct vmmu_hosted_arena *a = NULL;
	struct vmmu_platform p;
	struct vmmu_vm *vm = NULL;
	uint64_t n = (1ULL << 30) >> 12, cnt, *bm = calloc(n / 64, 8);
	double best = 1e30, t;
	int k, rc = vm_of(1ULL << 30, &a, &p, &vm);

	if (rc == 0)
		rc = vmmu_dirty_enable_ram(vm);
	for (k = 0; k < 3 && rc == 0 && bm; k++) {
		vmmu_dirty_mark(vm, 0, n);
		t = now();
		rc = vmmu_dirty_clean(vm, 0, n, bm, &cnt);
		t = now() - t;
		if (t < best)
			best = t;
	}
	free(bm);
	vmmu_vm_destroy(vm);
	vmmu_hosted_destroy(a);
	return rc == 0 ? 1.0 / best : -1;
}

/* KVM: memslot of size with dirty logging; initially-set if asked. */
static int kvm_slot(uint64_t size, bool init_set, double *enable_ms,
		    double *get_ms, const char **note)
{
	struct kvm_userspace_memory_region reg = { .slot = 0 };
	struct kvm_dirty_log log = { .slot = 0 };
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm = -1, rc = -1;
	void *mem = MAP_FAILED, *bm = NULL;
	double t;

	*note = NULL;
	if (kvm < 0) {
		*note = "no /dev/kvm";
		return -1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm < 0 || mem == MAP_FAILED) {
		*note = "cannot create the VM or map its memory";
		goto out;
	}
	if (init_set) {
		struct kvm_enable_cap cap = { .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 };
		int have = ioctl(kvm, KVM_CHECK_EXTENSION,
				 KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);

		if (have <= 0 || !(have & KVM_DIRTY_LOG_INITIALLY_SET)) {
			*note = "MANUAL_DIRTY_LOG_PROTECT2 initially-set not offered";
			goto out;
		}
		cap.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
			      KVM_DIRTY_LOG_INITIALLY_SET;
		if (ioctl(vm, KVM_ENABLE_CAP, &cap) < 0) {
			*note = "KVM_ENABLE_CAP refused";
			goto out;
		}
	}
	reg.memory_size = size;
	reg.userspace_addr = (uint64_t)(uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg) < 0) {
		*note = "memslot of this size refused";
		goto out;
	}
	reg.flags = KVM_MEM_LOG_DIRTY_PAGES;
	t = now();
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg) < 0) {
		*note = "KVM_MEM_LOG_DIRTY_PAGES refused";
		goto out;
	}
	*enable_ms = (now() - t) * 1e3;
	bm = calloc(size >> 15, 1);
	log.dirty_bitmap = bm;
	t = now();
	if (bm && ioctl(vm, KVM_GET_DIRTY_LOG, &log) == 0)
		*get_ms = (now() - t) * 1e3;
	rc = 0;
out:
	free(bm);
	if (mem != MAP_FAILED)
		munmap(mem, size);
	if (vm >= 0)
		close(vm);
	close(kvm);
	return rc;
}

static void measure_kvm(struct row *r)
{
	double e, g;
	const char *note;
	int k;

	r->kvm_ms = r->kvm_init_set_ms = r->kvm_get_ms = -1;
	for (k = 0; k < 3; k++) {
		g = -1;
		if (kvm_slot(r->size, false, &e, &g, &note) == 0) {
			if (r->kvm_ms < 0 || e < r->kvm_ms)
				r->kvm_ms = e;
			if (g >= 0 && (r->kvm_get_ms < 0 || g < r->kvm_get_ms))
				r->kvm_get_ms = g;
		} else {
			r->kvm_note = note;
		}
		if (kvm_slot(r->size, true, &e, &g, &note) == 0) {
			if (r->kvm_init_set_ms < 0 || e < r->kvm_init_set_ms)
				r->kvm_init_set_ms = e;
		} else if (!r->kvm_note) {
			r->kvm_note = note;
		}
	}
}

static json_t *eager_json(const struct ld_eager_row *er, unsigned ner)
{
	json_t *a = json_array();
	unsigned i;

	for (i = 0; i < ner; i++)
		json_array_append_new(a, json_pack(
			"{s:s,s:[f,f,f],s:[f,f,f]}", "variant", er[i].name,
			"enable_ms", er[i].enable_ms[0], er[i].enable_ms[1],
			er[i].enable_ms[2],
			"eager_write_protect_ms", er[i].eager_ms[0],
			er[i].eager_ms[1], er[i].eager_ms[2]));
	return a;
}

static void eager_print(const struct ld_eager_row *er, unsigned ner)
{
	unsigned i;

	printf("eager baseline, every 2 MiB mapped (ms; 1 GiB / 64 GiB / 1 TiB):\n");
	printf("  %-10s %10s %10s %10s %10s %10s %10s %12s\n", "variant",
	       "enable 1G", "enable 64G", "enable 1T", "eager 1G", "eager 64G",
	       "eager 1T", "eager/enable");
	for (i = 0; i < ner; i++)
		printf("  %-10s %10.4f %10.4f %10.4f %10.3f %10.3f %10.3f %12.0f\n",
		       er[i].name, er[i].enable_ms[0], er[i].enable_ms[1],
		       er[i].enable_ms[2], er[i].eager_ms[0], er[i].eager_ms[1],
		       er[i].eager_ms[2], er[i].eager_ms[2] / er[i].enable_ms[2]);
}

static void print(const struct bench_sysinfo *si, const struct row *rows,
		  const struct ld_kvm_row *kr, const struct ld_variant_row *vr,
		  const struct ld_eager_row *er, unsigned ner,
		  double rate, bool json)
{
	unsigned i;

	if (json) {
		json_t *arr = json_array(), *o;

		for (i = 0; i < 3; i++)
			json_array_append_new(arr, json_pack(
				"{s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:o}",
				"guest_bytes", (json_int_t)rows[i].size,
				"vmmu_enable_lazy_ms", rows[i].lazy_ms,
				"vmmu_enable_eager_ms", rows[i].eager_ms,
				"vmmu_clean_1000_dirty_ms", rows[i].clean_sparse_ms,
				"kvm_enable_ms", rows[i].kvm_ms,
				"kvm_enable_initially_set_ms", rows[i].kvm_init_set_ms,
				"kvm_get_dirty_log_ms", rows[i].kvm_get_ms,
				"kvm_note", rows[i].kvm_note ? cli_text(rows[i].kvm_note)
							     : json_null()));
		json_t *ka = json_array();

		for (i = 0; i < LD_KVM_MODES; i++)
			json_array_append_new(ka, json_pack("{s:s,s:f,s:I,s:o}",
				"mode", kr[i].name, "harvest_ms", kr[i].ms,
				"pages_reported", (json_int_t)kr[i].pages,
				"note", kr[i].note[0] ? cli_text(kr[i].note)
						      : json_null()));
		json_t *va = json_array();

		for (i = 0; i < LD_VARIANTS; i++)
			json_array_append_new(va, json_pack(
				"{s:s,s:f,s:f,s:f,s:f,s:f,s:f,s:i}", "variant", vr[i].name,
				"enable_1g_ms", vr[i].enable_1g_ms,
				"enable_64g_ms", vr[i].enable_64g_ms,
				"enable_1t_ms", vr[i].enable_1t_ms,
				"store_log_on_ns", vr[i].store_on_ns,
				"store_log_off_ns", vr[i].store_off_ns,
				"clean_ms", vr[i].clean_ms,
				"exits_per_store", (int)vr[i].exits_per_store));
		o = json_pack("{s:o,s:o,s:f,s:{s:i,s:o},s:o,s:{s:i,s:o}}",
			      "cpu", bench_sysinfo_json(si),
			      "sizes", arr, "clean_gib_per_s_all_dirty", rate,
			      "variants", "pages_stored", LD_STORE_PAGES,
			      "rows", va, "eager_fully_mapped",
			      eager_json(er, ner),
			      "kvm_rounds", "pages_dirtied", LD_KVM_PAGES,
			      "modes", ka);
		cli_print_json(o, false);
		json_decref(o);
		return;
	}
	printf("cpu: %s (family %d model %#x)\n", si->cpu_brand, si->family,
	       si->model);
	printf("%-8s %12s %12s %10s %14s %12s %16s %12s\n", "guest", "lazy ms",
	       "eager ms", "eager/lazy", "clean 1k ms", "KVM ms",
	       "KVM init-set ms", "KVM get ms");
	for (i = 0; i < 3; i++)
		printf("%-8s %12.4f %12.2f %10.0f %14.4f %12.3f %16.3f %12.3f%s%s\n",
		       i == 0 ? "1 GiB" : i == 1 ? "64 GiB" : "1 TiB",
		       rows[i].lazy_ms, rows[i].eager_ms,
		       rows[i].eager_ms / rows[i].lazy_ms, rows[i].clean_sparse_ms,
		       rows[i].kvm_ms, rows[i].kvm_init_set_ms, rows[i].kvm_get_ms,
		       rows[i].kvm_note ? "  KVM: " : "",
		       rows[i].kvm_note ? rows[i].kvm_note : "");
	printf("clean, 1 GiB all dirty: %.1f GiB of guest memory per second\n", rate);
	printf("per backend and variant (model VM, %d pages stored once):\n",
	       LD_STORE_PAGES);
	printf("  %-10s %13s %13s %13s %12s %12s %9s %6s\n", "variant",
	       "enable 1G ms", "enable 64G ms", "enable 1T ms", "store on ns",
	       "store off ns", "clean ms", "exits");
	for (i = 0; i < LD_VARIANTS; i++)
		printf("  %-10s %13.4f %13.4f %13.4f %12.0f %12.0f %9.3f %6lu\n",
		       vr[i].name, vr[i].enable_1g_ms, vr[i].enable_64g_ms,
		       vr[i].enable_1t_ms,
		       vr[i].store_on_ns, vr[i].store_off_ns, vr[i].clean_ms,
		       vr[i].exits_per_store);
	eager_print(er, ner);
	printf("KVM guest dirtied %d pages; one harvest (all reported):\n",
	       LD_KVM_PAGES);
	for (i = 0; i < LD_KVM_MODES; i++)
		if (kr[i].ms >= 0)
			printf("  %-7s %10.4f ms  %ld pages reported\n", kr[i].name,
			       kr[i].ms, kr[i].pages);
		else
			printf("  %-7s not measured: %s\n", kr[i].name, kr[i].note);
}

int bench_logdirty(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_sysinfo si;
	struct ld_kvm_row kr[LD_KVM_MODES];
	struct ld_variant_row vr[LD_VARIANTS];
	struct ld_eager_row er[LD_VARIANTS];
	unsigned ner;
	char why[200];
	struct row rows[3];
	double rate;
	bool json = false;
	char opt[32];
	unsigned i;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'j') {
			json = true;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "vmmu bench logdirty: unknown option '%s'\n",
				cli_bad_option(argv, opt, sizeof(opt)));
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmmu bench logdirty: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	bench_sysinfo_get(&si);
	memset(rows, 0, sizeof(rows));
	for (i = 0; i < 3; i++) {
		rows[i].size = sizes[i];
		fprintf(stderr, "vmmu bench logdirty: %llu GiB...\n",
			(unsigned long long)(sizes[i] >> 30));
		if (measure_vmmu(&rows[i]) < 0) {
			fprintf(stderr, "vmmu bench logdirty: vmmu measurement failed\n");
			return 1;
		}
		measure_kvm(&rows[i]);
	}
	rate = clean_rate();
	if (rate < 0) {
		fprintf(stderr, "vmmu bench logdirty: clean rate failed\n");
		return 1;
	}
	if (ld_variants_measure(vr, why, sizeof(why)) < 0) {
		fprintf(stderr, "vmmu bench logdirty: %s\n", why);
		return 1;
	}
	if (ld_eager_measure(er, &ner, why, sizeof(why)) < 0) {
		fprintf(stderr, "vmmu bench logdirty: %s\n", why);
		return 1;
	}
	fprintf(stderr, "vmmu bench logdirty: KVM guest rounds...\n");
	ld_kvm_measure(kr);
	print(&si, rows, kr, vr, er, ner, rate, json);
	return 0;
}
