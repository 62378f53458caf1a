/* SPDX-License-Identifier: MIT */
/*
 * What KVM this is, and the exit costs as a table, JSON and plots, with
 * the cross-check against the published figures (docs/bench.md).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "exits.h"

static bool read_param(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	if (!fgets(buf, (int)len, f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return true;
}

static void probe_modules(struct bench_kvm_info *ki)
{
	static const char *const mods[] = { "kvm", "kvm_intel", "kvm_amd",
					    "kvm_pvm" };
	char path[128], v[32];
	size_t n = 0;
	unsigned i;

	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "/sys/module/%s", mods[i]);
		if (access(path, F_OK) == 0)
			n += (size_t)snprintf(ki->modules + n,
					      sizeof(ki->modules) - n, "%s%s",
					      n ? " " : "", mods[i]);
		if (n >= sizeof(ki->modules))
			break;
	}
	n = 0;
	if (read_param("/sys/module/kvm/parameters/tdp_mmu", v, sizeof(v)))
		n += (size_t)snprintf(ki->tdp + n, sizeof(ki->tdp) - n,
				      "kvm.tdp_mmu=%s ", v);
	if (n < sizeof(ki->tdp) &&
	    read_param("/sys/module/kvm_intel/parameters/ept", v, sizeof(v)))
		n += (size_t)snprintf(ki->tdp + n, sizeof(ki->tdp) - n,
				      "kvm_intel.ept=%s ", v);
	if (n < sizeof(ki->tdp) &&
	    read_param("/sys/module/kvm_amd/parameters/npt", v, sizeof(v)))
		snprintf(ki->tdp + n, sizeof(ki->tdp) - n, "kvm_amd.npt=%s", v);
	if (strstr(ki->modules, "kvm_pvm"))
		snprintf(ki->flavour, sizeof(ki->flavour),
			 "kvm_pvm: PVM, shadow paging without VMX/SVM (%s)", ki->tdp);
	else if (strstr(ki->tdp, "ept=Y") || strstr(ki->tdp, "npt=1") ||
		 strstr(ki->tdp, "npt=Y"))
		snprintf(ki->flavour, sizeof(ki->flavour),
			 "%s with two-dimensional paging (%s)", ki->modules, ki->tdp);
	else
		snprintf(ki->flavour, sizeof(ki->flavour),
			 "%s, paging mode unknown (%s)", ki->modules, ki->tdp);
}

/* The hypervisor signature KVM offers its guests (CPUID 0x40000000). */
static void probe_signature(int kvm_fd, struct bench_kvm_info *ki)
{
	const unsigned max = 256;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + max * sizeof(c->entries[0]));
	unsigned i;

	if (!c)
		return;
	c->nent = max;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
		for (i = 0; i < c->nent; i++)
			if (c->entries[i].function == 0x40000000) {
				memcpy(ki->guest_signature, &c->entries[i].ebx, 4);
				memcpy(ki->guest_signature + 4, &c->entries[i].ecx, 4);
				memcpy(ki->guest_signature + 8, &c->entries[i].edx, 4);
			}
	free(c);
}

void bench_kvm_probe(int kvm_fd, struct bench_kvm_info *ki)
{
	static const struct { const char *name; int cap; } caps[] = {
		{ "KVM_CAP_IRQCHIP", KVM_CAP_IRQCHIP },
		{ "KVM_CAP_HLT", KVM_CAP_HLT },
		{ "KVM_CAP_SYNC_MMU", KVM_CAP_SYNC_MMU },
		{ "KVM_CAP_NR_MEMSLOTS", KVM_CAP_NR_MEMSLOTS },
		{ "KVM_CAP_TSC_CONTROL", KVM_CAP_TSC_CONTROL },
		{ "KVM_CAP_GET_TSC_KHZ", KVM_CAP_GET_TSC_KHZ },
		{ "KVM_CAP_MAX_VCPUS", KVM_CAP_MAX_VCPUS },
		{ "KVM_CAP_READONLY_MEM", KVM_CAP_READONLY_MEM },
		{ "KVM_CAP_X86_DISABLE_EXITS", KVM_CAP_X86_DISABLE_EXITS },
		{ "KVM_CAP_NESTED_STATE", KVM_CAP_NESTED_STATE },
		{ "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2", KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 },
		{ "KVM_CAP_X86_USER_SPACE_MSR", KVM_CAP_X86_USER_SPACE_MSR },
		{ "KVM_CAP_DIRTY_LOG_RING", KVM_CAP_DIRTY_LOG_RING },
		{ "KVM_CAP_EXIT_HYPERCALL", KVM_CAP_EXIT_HYPERCALL },
		{ "KVM_CAP_X86_NOTIFY_VMEXIT", KVM_CAP_X86_NOTIFY_VMEXIT },
	};
	unsigned i;

	memset(ki, 0, sizeof(*ki));
	probe_modules(ki);
	probe_signature(kvm_fd, ki);
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]) && i < 24; i++) {
		ki->caps[i].name = caps[i].name;
		ki->caps[i].value = ioctl(kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap);
	}
	ki->n_caps = i;
}

json_t *bench_exits_json(const struct bench_exits_result *r)
{
	json_t *costs = json_object(), *caps = json_object(), *o;
	unsigned i;

	for (i = 0; i < BX_COUNT; i++) {
		const struct bench_exit_cost *c = &r->cost[i];

		o = json_pack("{s:s, s:i, s:b, s:b, s:s, s:s, s:I, s:f}", "what",
			      c->what, "cpl", (int)c->cpl,
			      "offered", c->offered, "measured", c->measured,
			      "status", bench_exit_status(c),
			      "note", c->note, "iterations", (json_int_t)c->iters,
			      "user_exits_per_iteration", c->user_exits_per_iter);
		if (c->measured) {
			json_object_set_new(o, "cycles", bench_stats_json(&c->cycles));
			json_object_set_new(o, "raw_cycles",
					    bench_stats_json(&c->raw_cycles));
			json_object_set_new(o, "ns", bench_stats_json(&c->ns));
			json_object_set_new(o, "host_ns", bench_stats_json(&c->host_ns));
		}
		json_object_set_new(costs, c->name, o);
	}
	for (i = 0; i < r->kvm.n_caps; i++)
		json_object_set_new(caps, r->kvm.caps[i].name,
				    json_integer(r->kvm.caps[i].value));
	o = json_pack("{s:{s:s, s:s, s:s, s:s, s:I, s:o}, s:o}",
		"kvm", "flavour", r->kvm.flavour, "modules", r->kvm.modules,
		"paging_params", r->kvm.tdp,
		"guest_hypervisor_signature", r->kvm.guest_signature,
		"guest_tsc_khz", (json_int_t)r->kvm.guest_tsc_khz,
		"capabilities", caps, "costs", costs);
	if (r->have_chase) {
		json_object_set_new(o, "guest_chase",
				    bench_tlb_curve_json(&r->guest_chase));
		json_object_set_new(o, "native_chase",
				    bench_tlb_curve_json(&r->native_chase));
	}
	return o;
}

static void print_costs(FILE *out, const struct bench_exits_result *r)
{
	unsigned i;

	fprintf(out, "  %-22s %3s %9s %9s %19s %9s %9s %5s  %s\n", "operation",
		"cpl", "cycles", "ns", "ns min-max", "raw cyc", "host ns",
		"user", "what");
	for (i = 0; i < BX_COUNT; i++) {
		const struct bench_exit_cost *c = &r->cost[i];

		if (!c->measured) {
			fprintf(out, "  %-22s %3u %9s %9s %19s %9s %9s %5s  %s -- %s\n",
				c->name, c->cpl, "-", "-", "-", "-", "-", "-",
				c->what, c->note);
			continue;
		}
		fprintf(out, "  %-22s %3u %9.0f %9.1f %9.0f-%-9.0f %9.0f %9.0f %5.2f  %s\n",
			c->name, c->cpl, c->cycles.median, c->ns.median,
			c->ns.min, c->ns.max, c->raw_cycles.median,
			c->host_ns.median, c->user_exits_per_iter, c->what);
	}
	fprintf(out, "  cycles, ns: guest TSC per operation minus the empty loop "
		"at the same CPL (median over repetitions; min-max beside);\n"
		"  raw cyc: before that subtraction; host ns: wall time of the "
		"KVM_RUN calls per operation;\n  user: exits that reached user "
		"space per operation.\n");
}

static double med(const struct bench_exits_result *r, enum bench_exit_kind k)
{
	return r->cost[k].measured ? r->cost[k].cycles.median : 0;
}

static void print_exec_model(FILE *out, const struct bench_exits_result *r)
{
	double e0 = r->cost[BX_EMPTY0].raw_cycles.median;
	double e3 = r->cost[BX_EMPTY3].raw_cycles.median;

	if (!r->cost[BX_EMPTY0].measured || !r->cost[BX_EMPTY3].measured)
		return;
	fprintf(out, "  Guest execution: the empty loop costs %.1f cycles per "
		"iteration at CPL 3 and %.0f at CPL 0 (%.0fx).%s\n", e3, e0,
		e3 > 0 ? e0 / e3 : 0,
		e0 > 50 * (e3 > 1 ? e3 : 1) ?
		" CPL-0 guest code is therefore not running natively here: it "
		"is stepped through by the hypervisor (kvm_pvm runs a guest "
		"that is not PVM-aware this way), so CPL-0 figures are net of "
		"that loop and privileged instructions cost about one emulated "
		"instruction each." : "");
	if (e0 > 50 * (e3 > 1 ? e3 : 1))
		fprintf(out, "  The CPL-0 loop itself varies by %.0f cycles "
			"(min-max over repetitions): net CPL-0 figures smaller "
			"than that are within its noise.\n",
			r->cost[BX_EMPTY0].raw_cycles.max -
			r->cost[BX_EMPTY0].raw_cycles.min);
}

/* Against published anchors (docs/bench.md); the ratios are computed here. */
static void print_crosscheck(FILE *out, const struct bench_exits_result *r,
			     const struct bench_sysinfo *si)
{
	double cpuid = med(r, BX_CPUID3), io0 = med(r, BX_IO0);
	double io3 = med(r, BX_IO3);

	fprintf(out, "\ncross-check with published figures:\n");
	print_exec_model(out, r);
	if (cpuid > 0)
		fprintf(out, "  CPUID from CPL 3 (a real trap into KVM): %.0f "
			"cycles vs about 1,000-1,100 for a KVM CPUID exit on recent "
			"bare-metal Intel (kvm-unit-tests vmexit) and 761-1,009 for a "
			"VM-exit round trip on Westmere/Nehalem (Agesen et al. 2012): "
			"%.0fx.\n", cpuid, cpuid / 1050.0);
	if (io0 > 0 && io3 > 0)
		fprintf(out, "  I/O exit to user space: %.0f cycles (%.1f us) from "
			"CPL 0, %.0f cycles (%.1f us) from CPL 3; earlier "
			"measurement on these machines: about 10 us; published: "
			"several times an in-kernel exit. Exits from CPL 3 cost "
			"%.1fx those from CPL 0 here (a measured ratio; its cause "
			"lies in how kvm_pvm switches a guest that is not PVM-aware "
			"and was not investigated).\n", io0,
			r->cost[BX_IO0].ns.median / 1000, io3,
			r->cost[BX_IO3].ns.median / 1000, io3 / io0);
	if (r->cost[BX_FIRST_TOUCH3].measured)
		fprintf(out, "  First touch of guest memory: %.1f us per 4 KiB page, "
			"second touch %.0f ns (earlier measurement: about 12 us).\n",
			r->cost[BX_FIRST_TOUCH3].ns.median / 1000,
			r->cost[BX_SECOND_TOUCH3].ns.median);
	if (si->host_hypervisor[0])
		fprintf(out, "  Why dearer than bare metal: this host is itself a "
			"guest of another hypervisor (CPUID signature \"%s\"), so "
			"KVM here runs nested: every guest exit is handled by a "
			"kernel whose own privileged work traps to the outer "
			"hypervisor. %s\n", si->host_hypervisor,
			strstr(r->kvm.modules, "kvm_pvm") ? "With kvm_pvm there is "
			"no VMX/SVM: the guest runs deprivileged and each exit is a "
			"software world switch through the host kernel." : "");
	if (strstr(r->kvm.flavour, "shadow") && r->cost[BX_MOVCR3_0].measured)
		fprintf(out, "  Shadow paging: MOV to CR3 (%.0f cycles net) and "
			"INVLPG (%.0f cycles net) are handled by KVM, which switches "
			"or zaps shadow tables; with EPT/NPT they run without an exit "
			"(tens of cycles).\n", med(r, BX_MOVCR3_0), med(r, BX_INVLPG0));
}

static void print_chase(FILE *out, const struct bench_exits_result *r)
{
	unsigned i;
	char sz[32];

	fprintf(out, "\npointer chase in the guest beside native "
		"(ns per access, medians):\n");
	fprintf(out, "  %-10s | %8s %8s %6s | %8s %8s | %8s %8s\n", "working",
		"native4k", "guest4k", "ratio", "native2m", "guest2m",
		"natdense", "gstdense");
	for (i = 0; i < r->guest_chase.n && i < r->native_chase.n; i++) {
		const struct bench_tlb_point *n = &r->native_chase.pt[i];
		const struct bench_tlb_point *g = &r->guest_chase.pt[i];

		bench_fmt_size(g->ws, sz, sizeof(sz));
		fprintf(out, "  %-10s | %8.2f %8.2f %6.2f | %8.2f %8.2f | %8.2f %8.2f\n",
			sz, n->ns[0].median, g->ns[0].median,
			g->ns[0].median / n->ns[0].median, n->ns[1].median,
			g->ns[1].median, n->ns[2].median, g->ns[2].median);
	}
	fprintf(out, "  guest 2 MiB pages: %s\n", r->guest_chase.huge_why);
	fprintf(out, "native:\n");
	bench_print_tlb_summary(out, &r->native_chase, NULL);
	fprintf(out, "in the guest:\n");
	bench_print_tlb_summary(out, &r->guest_chase, NULL);
}

void bench_print_exits(FILE *out, const struct bench_exits_result *r,
		       const struct bench_sysinfo *si)
{
	unsigned i;

	fprintf(out, "vmmu bench exits: VM-exit costs through KVM\n");
	fprintf(out, "CPU: %s (%s, family %d model %d stepping %d)\n",
		si->cpu_brand, si->cpu_vendor, si->family, si->model, si->stepping);
	fprintf(out, "kernel: %s %s\n", si->kernel_release, si->kernel_version);
	fprintf(out, "host runs under: %s\n",
		si->host_hypervisor[0] ? si->host_hypervisor : "no hypervisor");
	fprintf(out, "KVM: %s\n  modules: %s; guest CPUID signature \"%s\"; "
		"guest TSC %llu kHz\n  capabilities:", r->kvm.flavour,
		r->kvm.modules, r->kvm.guest_signature,
		(unsigned long long)r->kvm.guest_tsc_khz);
	for (i = 0; i < r->kvm.n_caps; i++)
		fprintf(out, "%s %s=%d", i % 4 ? "" : "\n   ",
			r->kvm.caps[i].name + 8, r->kvm.caps[i].value);
	fprintf(out, "\n\n");
	print_costs(out, r);
	print_crosscheck(out, r, si);
	if (r->have_chase)
		print_chase(out, r);
}

bool bench_exits_failed(const struct bench_exits_result *r)
{
	unsigned i;

	for (i = 0; i < BX_COUNT; i++)
		if (r->cost[i].failed)
			return true;
	return false;
}

const char *bench_exit_status(const struct bench_exit_cost *c)
{
	return c->measured ? "measured" : c->failed ? "failed" : "unsupported";
}

int bench_plot_exits(const char *dir, const struct bench_exits_result *r,
		     const struct bench_progress *p)
{
	const char *labels[BX_COUNT];
	struct bench_stats s[BX_COUNT];
	const struct bench_tlb_curve *cv[2];
	const char *cl[2] = { "native", "in guest" };
	char title[1024], missing[768] = "";
	unsigned i, n = 0;
	size_t m = 0;
	int rc;

	for (i = 0; i < BX_COUNT; i++) {
		if (i == BX_EMPTY0 || i == BX_EMPTY3)
			continue;
		if (!r->cost[i].measured) {
			/* Not dropped silently: named in the title. */
			m += (size_t)snprintf(missing + m, m < sizeof(missing) ?
					      sizeof(missing) - m : 0, "%s%s %s",
					      m ? ", " : "", r->cost[i].name,
					      bench_exit_status(&r->cost[i]));
			continue;
		}
		labels[n] = r->cost[i].name;
		s[n++] = r->cost[i].ns;
	}
	snprintf(title, sizeof(title), "VM-exit and fault costs through KVM (ns "
		 "per operation net of the loop, median; bars: min-max)%s%s",
		 m ? "; not measured: " : "", missing);
	rc = bench_plot_bars(dir, "exits", title, labels, s, n,
			     "ns per operation", p);
	if (rc || !r->have_chase)
		return rc;
	cv[0] = &r->native_chase;
	cv[1] = &r->guest_chase;
	return bench_plot_curves(dir, "tlb_guest", "Pointer-chase latency, "
				 "native vs inside the KVM guest", cv, cl, 2, p);
}
