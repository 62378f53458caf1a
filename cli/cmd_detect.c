/* SPDX-License-Identifier: MIT */
/*
 * `vmmu detect`: which paging mode (EPT, NPT, shadow) a VM gets on this host
 * or on the CPU described by a CPUID dump, and why.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmu/detect.h"
#include "vmmu/error.h"
#include "cli_json.h"

const char cmd_detect_summary[] =
	"pick EPT, NPT or shadow paging for a VM from the host's features";

static void usage(FILE *out)
{
	fputs(
"NAME\n"
"    vmmu detect - choose the paging mode of a VM from the CPU's features\n"
"\n"
"SYNOPSIS\n"
"    vmmu detect [--json] [--cpuid-dump FILE] [--vmx-msrs FILE]\n"
"                [--guest-la57] [--guest-phys-bits N]\n"
"                [--backend auto|ept|npt|shadow] [--model-only]\n"
"\n"
"DESCRIPTION\n"
"    Detects the features that matter for memory virtualization and applies\n"
"    vmmu's per-VM policy: EPT when the CPU can run it for this VM (the\n"
"    \"enable EPT\" control, a 4-level walk, write-back paging structures,\n"
"    INVEPT, and a 5-level walk when the guest uses LA57 or more than 48\n"
"    guest-physical bits); otherwise NPT when SVM reports nested paging;\n"
"    otherwise shadow paging. Missing optional capabilities (1 GiB leaves,\n"
"    EPT A/D bits, PML, execute-only, VPID ...) degrade the VM, they never\n"
"    refuse it. Every decision lists its reasons and degradations.\n"
"\n"
"    Live (default): CPUID through libcpuid, the VMX capability MSRs\n"
"    0x482/0x48B/0x48C through libcpuid's MSR driver (/dev/cpu/0/msr, needs\n"
"    root and the msr module; otherwise the microarchitecture table is\n"
"    used), /dev/kvm and its capabilities, the kvm_intel/kvm_amd/kvm module\n"
"    parameters, and the hwloc topology with its core kinds.\n"
"\n"
"    Offline (--cpuid-dump): a dump in libcpuid's serialization\n"
"    (basic_cpuid[N]=...) or AIDA64's text form (CPUID 0000000N: A-B-C-D).\n"
"    Intel EPT is not in CPUID: it is inferred from the microarchitecture\n"
"    (see docs/detect.md) unless --vmx-msrs gives the MSR values.\n"
"\n"
"OPTIONS\n"
"    --json              Print one JSON object instead of the summary.\n"
"    --cpuid-dump FILE   Decide for the CPU in FILE instead of this host.\n"
"    --vmx-msrs FILE     Exact VMX capabilities: items \"0x48b=0x...\" and\n"
"                        \"0x48c=0x...\" (one per line, '#' comments) or a\n"
"                        JSON object {\"0x48b\": \"0x...\", \"0x48c\": \"0x...\"}.\n"
"                        0x48c may be left out when 0x48b allows neither EPT\n"
"                        nor VPID.\n"
"    --guest-la57        The guest uses 5-level paging.\n"
"    --guest-phys-bits N Guest-physical address width, 32..52 (default: the\n"
"                        host's MAXPHYADDR, at most 48). Above 48 needs a\n"
"                        5-level walk.\n"
"    --backend KIND      auto (default), or force ept, npt or shadow; a\n"
"                        forced backend the host cannot run is refused.\n"
"    --model-only        Run in vmmu's software MMU model only: any backend\n"
"                        is accepted whatever the host supports.\n"
"    -h, --help          This page.\n"
"\n"
"OUTPUT\n"
"    The summary names the CPU, the features that matter, the chosen\n"
"    backend with its walk depth, leaves and dirty-log method, the reasons\n"
"    and the degradations. The CPU's name is vmmu's microarchitecture;\n"
"    libcpuid's codename is added, labelled, only where it agrees with it\n"
"    (or vmmu has none). --json prints {\"source\", \"cpu\": {vendor,\n"
"    family, model, stepping, name, uarch, libcpuid_codename, ...},\n"
"    \"features\": {...}, \"vmx\", \"kvm\", \"topology\", \"request\", \"backend\": \"ept|npt|shadow\",\n"
"    \"refused\", \"model_only\", \"levels\", \"enabled\": {...}, \"reasons\":\n"
"    [{code, text}], \"degraded\": [{code, text}]} (docs/detect.md).\n"
"\n"
"EXIT STATUS\n"
"    0   a decision was made (printed).\n"
"    1   the live host could not be read.\n"
"    2   bad usage, an unreadable or malformed dump or MSR file, or a\n"
"        forced backend the host cannot run (the refusal is printed).\n"
"\n"
"EXAMPLES\n"
"    vmmu detect\n"
"    vmmu detect --json --guest-phys-bits 52\n"
"    vmmu detect --cpuid-dump skylake.txt --vmx-msrs skx-msrs.txt\n"
"    vmmu detect --backend ept --model-only\n", out);
}

static const char *yn(bool b)
{
	return b ? "yes" : "no";
}

/* ---- JSON ---- */

static json_t *json_cpu(const struct vmmu_cpu_ident *c)
{
	char name[128];

	vmmu_cpu_name(c, name, sizeof(name));
	return json_pack("{s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:s, s:s, s:o, "
			 "s:b}",
			 "vendor", vmmu_vendor_name(c->vendor),
			 "vendor_string", c->vendor_str, "family", c->family,
			 "model", c->model, "stepping", c->stepping,
			 "name", name, "uarch", c->uarch,
			 "libcpuid_codename", vmmu_cpu_libcpuid_codename(c),
			 "libcpuid_codename_check",
			 vmmu_codename_check_name(c->codename_check),
			 "brand", cli_text(c->brand),
			 "identified", c->identified);
}

static json_t *json_svm(const struct vmmu_cpu_features *f)
{
	if (!f->svm_leaf)
		return json_null();
	return json_pack("{s:i, s:i, s:o, s:b, s:b, s:b, s:b, s:b}",
			 "revision", (int)f->svm_revision,
			 "nasid", (int)f->svm_nasid, "edx", cli_hex(f->svm_edx),
			 "npt", f->npt, "nrip_save", f->nrips,
			 "flush_by_asid", f->flush_by_asid,
			 "decode_assists", f->decode_assists, "gmet", f->gmet);
}

static json_t *json_features(const struct vmmu_cpu_features *f)
{
	json_t *o = json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b,"
			      " s:b, s:b, s:b, s:i, s:i, s:b, s:o, s:o}",
			      "vmx", f->vmx, "svm", f->svm,
			      "hypervisor", f->hypervisor, "long_mode", f->lm,
			      "nx", f->nx, "pages_1g", f->pdpe1gb,
			      "la57", f->la57, "pcid", f->pcid,
			      "invpcid", f->invpcid, "smep", f->smep,
			      "smap", f->smap, "pku", f->pku,
			      "maxphyaddr", (int)f->maxphyaddr,
			      "maxlinaddr", (int)f->maxlinaddr,
			      "maxphyaddr_reported", f->maxphyaddr_reported,
			      "max_basic_leaf", cli_hex(f->max_basic_leaf),
			      "max_ext_leaf", cli_hex(f->max_ext_leaf));

	if (o) {
		json_object_set_new(o, "hypervisor_vendor",
				    json_string(f->hypervisor_vendor));
		json_object_set_new(o, "svm_firmware_disabled",
				    json_boolean(f->svm_firmware_disabled));
		json_object_set_new(o, "svm_features", json_svm(f));
	}
	return o;
}

static json_t *json_vmx(const struct vmmu_vmx_caps *c)
{
	json_t *o = json_pack("{s:s, s:o, s:b, s:b, s:b, s:b, s:b, s:b, s:b,"
			      " s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b}",
			      "source", vmmu_vmx_source_name(c->src),
			      "note", cli_text(c->note), "ept", c->ept, "vpid", c->vpid,
			      "unrestricted_guest", c->unrestricted_guest,
			      "pml", c->pml, "mode_based_execute", c->mbec,
			      "ept_execute_only", c->ept_xonly,
			      "ept_walk_4", c->ept_wl4, "ept_walk_5", c->ept_wl5,
			      "ept_uc", c->ept_uc, "ept_wb", c->ept_wb,
			      "ept_2m", c->ept_2m, "ept_1g", c->ept_1g,
			      "ept_ad", c->ept_ad, "invept_single",
			      c->invept_single, "invept_all", c->invept_all);

	if (o)
		json_object_set_new(o, "firmware_disabled",
				    json_boolean(c->firmware_disabled));
	if (o && c->have_ctls2)
		json_object_set_new(o, "procbased_ctls2",
				    cli_hex(c->procbased_ctls2));
	if (o && c->have_ept_vpid_cap)
		json_object_set_new(o, "ept_vpid_cap", cli_hex(c->ept_vpid_cap));
	return o;
}

static json_t *json_param(int v)
{
	return v < 0 ? json_null() : json_boolean(v);
}

static json_t *json_kvm(const struct vmmu_kvm_info *k)
{
	json_t *caps, *params;

	if (!k->probed)
		return json_null();
	if (!k->present)
		return json_pack("{s:b, s:s}", "present", 0, "error",
				 strerror(k->open_errno));
	caps = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i,"
			 " s:i}", "nr_vcpus", k->cap_nr_vcpus,
			 "max_vcpus", k->cap_max_vcpus,
			 "nr_memslots", k->cap_nr_memslots,
			 "dirty_log_ring", k->cap_dirty_log_ring,
			 "dirty_log_ring_acq_rel", k->cap_dirty_log_ring_acq_rel,
			 "manual_dirty_log_protect2",
			 k->cap_manual_dirty_log_protect2,
			 "sync_mmu", k->cap_sync_mmu,
			 "readonly_mem", k->cap_readonly_mem,
			 "x86_smm", k->cap_x86_smm,
			 "x86_disable_exits", k->cap_x86_disable_exits,
			 "set_identity_map_addr", k->cap_set_identity_map_addr);
	params = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
			   "kvm_intel.ept", json_param(k->param_ept),
			   "kvm_intel.eptad", json_param(k->param_eptad),
			   "kvm_intel.pml", json_param(k->param_pml),
			   "kvm_intel.unrestricted_guest",
			   json_param(k->param_unrestricted_guest),
			   "kvm_amd.npt", json_param(k->param_npt),
			   "kvm.tdp_mmu", json_param(k->param_tdp_mmu));
	return json_pack("{s:b, s:i, s:s, s:o, s:o}", "present", 1,
			 "api_version", k->api_version, "module", k->module,
			 "capabilities", caps, "parameters", params);
}

static json_t *json_topology(const struct vmmu_topology *t)
{
	json_t *kinds;
	int i;

	if (!t->valid)
		return json_null();
	kinds = json_array();
	for (i = 0; i < t->nr_cpukinds; i++)
		json_array_append_new(kinds, json_pack("{s:s, s:i, s:i}",
				      "core_type", t->kinds[i].core_type,
				      "efficiency", t->kinds[i].efficiency,
				      "pus", t->kinds[i].pus));
	return json_pack("{s:i, s:i, s:i, s:i, s:o}", "packages", t->packages,
			 "cores", t->cores, "pus", t->pus,
			 "numa_nodes", t->numa_nodes, "cpukinds", kinds);
}

static json_t *json_items(const struct vmmu_detect_item *it, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:o}", "code",
				      it[i].code, "text", cli_text(it[i].text)));
	return a;
}

static const struct {
	unsigned bit;
	const char *name;
} guest_mode_names[] = {
	{ VMMU_GUEST_MODE_UNPAGED, "unpaged" },
	{ VMMU_GUEST_MODE_2LEVEL, "32-bit" },
	{ VMMU_GUEST_MODE_PAE, "pae" },
	{ VMMU_GUEST_MODE_4LEVEL, "4-level" },
	{ VMMU_GUEST_MODE_5LEVEL, "5-level" },
};

static json_t *json_guest_modes(unsigned modes)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < sizeof(guest_mode_names) / sizeof(guest_mode_names[0]);
	     i++)
		if (modes & guest_mode_names[i].bit)
			json_array_append_new(a,
				json_string(guest_mode_names[i].name));
	return a;
}

static json_t *json_decision(json_t *o, const struct vmmu_decision *d)
{
	json_object_set_new(o, "backend",
			    json_string(vmmu_backend_name(d->backend)));
	json_object_set_new(o, "refused", json_boolean(d->refused));
	json_object_set_new(o, "model_only", json_boolean(d->model_only));
	json_object_set_new(o, "levels", json_integer(d->levels));
	json_object_set_new(o, "guest_phys_bits", json_integer(d->phys_bits));
	json_object_set_new(o, "guest_modes", json_guest_modes(d->guest_modes));
	json_object_set_new(o, "enabled", json_pack("{s:b, s:b, s:b, s:b, s:b, "
			    "s:b, s:s}",
			    "leaf_2m", d->leaf_2m, "leaf_1g", d->leaf_1g,
			    "leaf_4m", d->leaf_4m, "nx", d->nx,
			    "execute_only", d->exec_only,
			    "tagged_tlb", d->tagged_tlb,
			    "dirty_log", vmmu_dirty_log_name(d->dirty_log)));
	json_object_set_new(o, "reasons", json_items(d->reasons, d->n_reasons));
	json_object_set_new(o, "degraded",
			    json_items(d->degraded, d->n_degraded));
	return o;
}

static int detect_print_json(const struct vmmu_host_info *h,
			     const struct vmmu_vm_request *r,
			     const struct vmmu_decision *d)
{
	json_t *o = json_object();
	int rc;

	json_object_set_new(o, "source", json_pack("{s:s, s:o, s:s}", "kind",
			    h->live ? "live" : "dump", "path",
			    cli_text(h->source), "absent_leaves", h->dump_note));
	json_object_set_new(o, "cpu", json_cpu(&h->cpu));
	json_object_set_new(o, "features", json_features(&h->feat));
	json_object_set_new(o, "vmx", json_vmx(&h->vmx));
	json_object_set_new(o, "kvm", json_kvm(&h->kvm));
	json_object_set_new(o, "topology", json_topology(&h->topo));
	json_object_set_new(o, "request", json_pack("{s:s, s:b, s:i, s:b}",
			    "backend", vmmu_backend_name(r->backend),
			    "guest_la57", r->guest_la57, "guest_phys_bits",
			    (int)r->guest_phys_bits, "model_only",
			    r->model_only));
	json_decision(o, d);
	rc = cli_print_json(o, true);
	json_decref(o);
	return rc;
}

/* ---- human summary ---- */

static void print_cpu(const struct vmmu_host_info *h)
{
	const struct vmmu_cpu_ident *c = &h->cpu;
	const struct vmmu_cpu_features *f = &h->feat;
	char name[128];

	printf("source     %s\n", h->source);
	if (h->dump_note[0])
		printf("note       %s\n", h->dump_note);
	printf("cpu        %s (%s) family %d model 0x%x stepping %d\n",
	       vmmu_vendor_name(c->vendor), c->vendor_str, c->family, c->model,
	       c->stepping);
	vmmu_cpu_name(c, name, sizeof(name));
	printf("           \"%s\"; %s%s\n", c->brand, name,
	       c->codename_check == VMMU_CODENAME_INCONSISTENT ?
	       "; libcpuid's codename names another die: not shown" : "");
	printf("features   vmx %s, svm %s, hypervisor %s%s%s%s, nx %s, "
	       "1g-pages %s, la57 %s\n", yn(f->vmx), yn(f->svm),
	       yn(f->hypervisor), f->hypervisor_vendor[0] ? " (" : "",
	       f->hypervisor_vendor, f->hypervisor_vendor[0] ? ")" : "",
	       yn(f->nx), yn(f->pdpe1gb), yn(f->la57));
	printf("           maxphyaddr %u%s, linear %u, pcid %s, invpcid %s, "
	       "smep %s, smap %s, pku %s\n", f->maxphyaddr,
	       f->maxphyaddr_reported ? "" : " (default)", f->maxlinaddr,
	       yn(f->pcid), yn(f->invpcid), yn(f->smep), yn(f->smap),
	       yn(f->pku));
	if (f->svm_leaf)
		printf("svm        npt %s, nrip-save %s, flush-by-asid %s, "
		       "decode-assists %s, gmet %s, %u ASIDs\n", yn(f->npt),
		       yn(f->nrips), yn(f->flush_by_asid),
		       yn(f->decode_assists), yn(f->gmet), f->svm_nasid);
}

static void print_vmx(const struct vmmu_vmx_caps *c)
{
	printf("vmx caps   [%s] %s%s\n", vmmu_vmx_source_name(c->src), c->note,
	       c->firmware_disabled ? "; DISABLED by firmware" : "");
	if (c->src == VMMU_VMX_SRC_NONE)
		return;
	printf("           ept %s (walk4 %s, walk5 %s, wb %s, 2m %s, 1g %s, "
	       "a/d %s, invept %s, x-only %s)\n", yn(c->ept), yn(c->ept_wl4),
	       yn(c->ept_wl5), yn(c->ept_wb), yn(c->ept_2m), yn(c->ept_1g),
	       yn(c->ept_ad), yn(c->invept), yn(c->ept_xonly));
	printf("           vpid %s, unrestricted-guest %s, pml %s, mbec %s\n",
	       yn(c->vpid), yn(c->unrestricted_guest), yn(c->pml),
	       yn(c->mbec));
}

static void print_host_extras(const struct vmmu_host_info *h)
{
	const struct vmmu_kvm_info *k = &h->kvm;
	const struct vmmu_topology *t = &h->topo;
	int i;

	if (k->probed && k->present)
		printf("kvm        /dev/kvm API %d, module %s, nr_vcpus %d, "
		       "max_vcpus %d, dirty-ring %d, manual-protect2 %d, "
		       "tdp_mmu %s\n", k->api_version,
		       k->module[0] ? k->module : "?", k->cap_nr_vcpus,
		       k->cap_max_vcpus, k->cap_dirty_log_ring,
		       k->cap_manual_dirty_log_protect2,
		       k->param_tdp_mmu < 0 ? "n/a" : yn(k->param_tdp_mmu));
	else if (k->probed)
		printf("kvm        /dev/kvm unavailable: %s\n",
		       strerror(k->open_errno));
	if (!t->valid)
		return;
	printf("topology   %d package(s), %d core(s), %d PU(s), %d NUMA "
	       "node(s)", t->packages, t->cores, t->pus, t->numa_nodes);
	for (i = 0; i < t->nr_cpukinds; i++)
		printf("%s kind %d: %s %d PUs eff %d", i ? "," : ";", i,
		       t->kinds[i].core_type[0] ? t->kinds[i].core_type :
		       "untyped",
		       t->kinds[i].pus, t->kinds[i].efficiency);
	printf("%s\n", t->nr_cpukinds ? "" : "; 1 core kind");
}

/* The decision's lines are vmmu_decision_format's, as the bare-metal
 * kernel prints them (docs/hypervisor.md). */
static void detect_print_human(const struct vmmu_host_info *h,
			       const struct vmmu_vm_request *r,
			       const struct vmmu_decision *d)
{
	static char text[2 * VMMU_DETECT_MAX_ITEMS * 256 + 1024];

	print_cpu(h);
	print_vmx(&h->vmx);
	print_host_extras(h);
	vmmu_decision_format(r, d, text, sizeof(text));
	fputs(text, stdout);
}

struct detect_opts {
	bool json;
	const char *dump, *msrs;
	struct vmmu_vm_request req;
};

static int parse_bits(const char *s, unsigned *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 32 || v > 52)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct detect_opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "cpuid-dump", required_argument, NULL, 'd' },
		{ "vmx-msrs", required_argument, NULL, 'm' },
		{ "guest-la57", no_argument, NULL, 'l' },
		{ "guest-phys-bits", required_argument, NULL, 'p' },
		{ "backend", required_argument, NULL, 'b' },
		{ "model-only", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char opt[8];
	int c;

	memset(o, 0, sizeof(*o));
	o->req.backend = VMMU_BACKEND_AUTO;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': o->json = true; break;
		case 'd': o->dump = optarg; break;
		case 'm': o->msrs = optarg; break;
		case 'l': o->req.guest_la57 = true; break;
		case 'o': o->req.model_only = true; break;
		case 'h': usage(stdout); return 1;
		case 'p':
			if (parse_bits(optarg, &o->req.guest_phys_bits)) {
				fprintf(stderr, "vmmu detect: --guest-phys-bits "
					"'%s': expected 32..52\n", optarg);
				return -1;
			}
			break;
		case 'b':
			if (vmmu_backend_parse(optarg, &o->req.backend)) {
				fprintf(stderr, "vmmu detect: --backend '%s': "
					"expected auto, ept, npt or shadow\n",
					optarg);
				return -1;
			}
			break;
		default:
			fprintf(stderr, "vmmu detect: unknown or incomplete "
				"option '%s' (see vmmu detect --help)\n",
				cli_bad_option(argv, opt, sizeof(opt)));
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmmu detect: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

static int gather(const struct detect_opts *o, struct vmmu_host_info *h)
{
	char err[512] = "";
	int rc;

	if (o->dump)
		rc = vmmu_detect_dump(h, o->dump, err, sizeof(err));
	else
		rc = vmmu_detect_live(h, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "vmmu detect: %s\n", err);
		return o->dump ? 2 : 1;
	}
	if (o->msrs) {
		rc = vmmu_load_vmx_msrs(h, o->msrs, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "vmmu detect: %s\n", err);
			return 2;
		}
		if (!h->feat.vmx)
			fprintf(stderr, "vmmu detect: note: --vmx-msrs given "
				"but the CPU does not report VMX\n");
	}
	return 0;
}

int cmd_detect(int argc, char **argv)
{
	struct detect_opts o;
	struct vmmu_host_info *h;
	struct vmmu_decision *d;
	int rc;

	rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : 2;
	h = calloc(1, sizeof(*h));
	d = calloc(1, sizeof(*d));
	if (!h || !d) {
		fprintf(stderr, "vmmu detect: out of memory\n");
		free(h);
		free(d);
		return 1;
	}
	rc = gather(&o, h);
	if (!rc) {
		int drc = vmmu_decide(h, &o.req, d);

		if (o.json)
			rc = detect_print_json(h, &o.req, d) ? 1 : 0;
		else
			detect_print_human(h, &o.req, d);
		if (drc) {
			fprintf(stderr, "vmmu detect: %s\n", d->n_reasons ?
				d->reasons[d->n_reasons - 1].text :
				vmmu_strerror(drc));
			rc = 2;
		}
	}
	free(h);
	free(d);
	return rc;
}
