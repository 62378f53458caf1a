/* SPDX-License-Identifier: MIT */
/*
 * kvm_oracle --case: run a `vmmu walk` case (4-level paging) on KVM and
 * print what KVM did in `vmmu walk` output form.
 *
 * The case's memory becomes guest RAM, one 4 KiB memory slot per page; any
 * other guest-physical address has no memory, so an access that reaches it
 * exits to user space with its exact gpa (KVM_EXIT_MMIO). The harness moves
 * out of the way: its 16 MiB go to a guest-physical range the case does not
 * use, and its mapping to a PML4 slot that is empty in the case's root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli_json.h"
#include "walk_case.h"
#include "vmmu/error.h"
#include "oracle_replay.h"
#include "oracle_cmp.h"

#define RP_MAX_PAGES 256
#define RP_MAX_ACCESSES 64
#define RP_ERRLEN 256
#define RP_DEADLINE_S 2

struct rp_page {
	uint64_t gpa;
	uint8_t *data;          /* page-aligned, mapped into the guest */
};

struct rp_case {
	uint64_t cr0, cr3, cr4, efer, rflags, pkru, maxphyaddr;
	bool amd, gbpages;
	struct rp_page page[RP_MAX_PAGES];
	unsigned npages;
	struct orc_access acc[RP_MAX_ACCESSES];
	unsigned nacc;
};

static void rp_free(struct rp_case *c)
{
	for (unsigned i = 0; i < c->npages; i++)
		munmap(c->page[i].data, 4096);
	c->npages = 0;
}

static uint8_t *rp_page(struct rp_case *c, uint64_t gpa, bool create)
{
	uint64_t base = gpa & ~0xfffULL;
	void *p;

	for (unsigned i = 0; i < c->npages; i++)
		if (c->page[i].gpa == base)
			return c->page[i].data;
	if (!create || c->npages == RP_MAX_PAGES)
		return NULL;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	c->page[c->npages].gpa = base;
	c->page[c->npages++].data = p;
	return p;
}

static int rp_word_cmp(const void *a, const void *b)
{
	const struct guest_mem_word *x = a, *y = b;

	return x->wgpa < y->wgpa ? -1 : x->wgpa > y->wgpa;
}

/*
 * The case as `vmmu walk` reads it (cli/walk_case.c), then what this KVM
 * can run: 4-level paging without LA57 (PKE where the KVM keeps it,
 * checked once the VM is open), at most RP_MAX_ACCESSES
 * accesses, implicit accesses only as reads, at most RP_MAX_PAGES pages.
 */
static int rp_parse(const json_t *jc, struct rp_case *c, char *err)
{
	char why[WALK_CASE_ERRLEN];
	struct guest_mem_word *words = NULL;
	const struct guest_mem_word *w;
	struct walk_case wc;
	size_t i, n, it, nw;
	int rc = -1;

	if (walk_case_parse(jc, &wc, why) < 0) {
		snprintf(err, RP_ERRLEN, "%.250s", why);
		return -1;
	}
	c->cr0 = wc.ps.cr0;
	c->cr3 = wc.ps.cr3;
	c->cr4 = wc.ps.cr4;
	c->efer = wc.ps.efer;
	c->rflags = wc.ps.rflags;
	c->pkru = wc.ps.pkru;
	c->maxphyaddr = wc.ps.maxphyaddr;
	c->amd = wc.ps.quirks & VMMU_PAGING_AMD;
	c->gbpages = !(wc.ps.quirks & VMMU_PAGING_NO_1G);
	if (wc.ps.quirks & VMMU_PAGING_A_ON_FAULT) {
		/* KVM's walker sets A/D only when the walk succeeds. */
		snprintf(err, RP_ERRLEN, "paging: \"a_bits_on_fault\": true is "
			 "not what KVM does; the oracle compares the default");
		goto out;
	}
	if (!(c->cr0 & X86_CR0_PG) || !(c->cr4 & X86_CR4_PAE) ||
	    !(c->efer & X86_EFER_LMA) || (c->cr4 & X86_CR4_LA57)) {
		snprintf(err, RP_ERRLEN, "the oracle runs 4-level paging only "
			 "(CR0.PG, CR4.PAE, EFER.LMA; no LA57)");
		goto out;
	}
	if (wc.nacc > RP_MAX_ACCESSES) {
		snprintf(err, RP_ERRLEN, "\"accesses\" must be an array of at "
			 "most %d accesses", RP_MAX_ACCESSES);
		goto out;
	}
	for (i = 0; i < wc.nacc; i++) {
		if (wc.acc[i].implicit && wc.acc[i].kind != VMMU_ACCESS_READ) {
			snprintf(err, RP_ERRLEN, "accesses[%zu]: only implicit "
				 "reads (an LDT descriptor load) can run on KVM", i);
			goto out;
		}
		c->acc[c->nacc].gva = wc.acc[i].gva.v;
		c->acc[c->nacc].kind = wc.acc[i].kind;
		c->acc[c->nacc].cpl = wc.acc[i].cpl;
		c->acc[c->nacc++].implicit = wc.acc[i].implicit;
	}
	/* Pages in address order, so that A/D writes are reported so. */
	words = calloc(wc.mem.nwords ? wc.mem.nwords : 1, sizeof(*words));
	if (!words) {
		snprintf(err, RP_ERRLEN, "out of memory");
		goto out;
	}
	for (it = 0, nw = 0; (w = guest_mem_next(&wc.mem, &it)); )
		words[nw++] = *w;
	qsort(words, nw, sizeof(*words), rp_word_cmp);
	for (i = 0; i < nw; i++) {
		uint8_t *p = rp_page(c, words[i].wgpa, true);

		if (!p) {
			snprintf(err, RP_ERRLEN, "more than %d pages of memory",
				 RP_MAX_PAGES);
			goto out;
		}
		for (n = 0; n < 8; n++)
			if (words[i].given & (1u << n))
				p[(words[i].wgpa + n) & 0xfff] =
					(uint8_t)(words[i].val >> (8 * n));
	}
	rc = 0;
out:
	free(words);
	walk_case_free(&wc);
	return rc;
}

/* ---- running ---- */

static struct kvm_run *rp_alarm_run;

static void rp_on_alarm(int sig)
{
	(void)sig;
	if (rp_alarm_run)
		rp_alarm_run->immediate_exit = 1;
}

/* KVM_RUN that gives up after RP_DEADLINE_S (the case's bytes may run). */
static int rp_run(struct orc_vm *vm, void *ctx)
{
	struct sigaction sa;
	int ret;

	(void)ctx;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = rp_on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	rp_alarm_run = vm->k.run;
	vm->k.run->immediate_exit = 0;
	alarm(RP_DEADLINE_S);
	do {
		ret = ioctl(vm->k.vcpu_fd, KVM_RUN, 0);
	} while (ret < 0 && errno == EAGAIN);
	alarm(0);
	rp_alarm_run = NULL;
	if (ret < 0) {
		snprintf(vm->k.why, sizeof(vm->k.why), "%s",
			 errno == EINTR ? "the guest ran past the deadline" :
			 strerror(errno));
		return VMMU_EIO;
	}
	return (int)vm->k.run->exit_reason;
}

/*
 * Where the harness goes: 16 MiB of guest-physical space no page of the
 * case uses (from 64 GiB up), and an empty PML4 slot of the case's root
 * that no access uses.
 */
static int place_harness(struct rp_case *c, uint64_t *hgva, uint64_t *hgpa,
			 char *err)
{
	uint8_t *root = rp_page(c, c->cr3 & X86_PTE_ADDR_MASK, true);
	uint64_t e;

	if (!root) {
		snprintf(err, RP_ERRLEN, "too many pages of memory");
		return -1;
	}
	for (*hgpa = 64ULL << 30; ; *hgpa += ORC_MEM_SIZE) {
		unsigned i;

		for (i = 0; i < c->npages; i++)
			if (c->page[i].gpa - *hgpa < ORC_MEM_SIZE)
				break;
		if (i == c->npages)
			break;
	}
	for (unsigned slot = 255; slot >= 1; slot--) {
		unsigned i;

		memcpy(&e, root + 8 * slot, 8);
		for (i = 0; i < c->nacc && (c->acc[i].gva >> 39 & 0x1ff) != slot; i++)
			;
		if (e == 0 && i == c->nacc) {
			*hgva = (uint64_t)slot << 39;
			return 0;
		}
	}
	snprintf(err, RP_ERRLEN, "no empty PML4 slot in 1..255 for the harness");
	return -1;
}

/* A VM whose RAM is the case's pages, with the harness placed beside them. */
static int rp_open(struct rp_case *c, struct orc_vm *vm, char *err)
{
	uint64_t hgva, hgpa;
	uint8_t *root;
	int rc;

	if (place_harness(c, &hgva, &hgpa, err) < 0)
		return 2;
	rc = orc_vm_open_kvm(vm, c->amd ? ORC_VENDOR_AMD : ORC_VENDOR_INTEL, err,
			     RP_ERRLEN);
	if (rc < 0)
		return rc == VMMU_ENOTSUP ? 77 : 1;
	rc = kvmh_map(&vm->k, 0, 0, vm->k.mem, 0);
	if (rc == 0)
		rc = kvmh_map(&vm->k, 0, hgpa, vm->k.mem, ORC_MEM_SIZE);
	for (unsigned i = 0; rc == 0 && i < c->npages; i++)
		rc = kvmh_map(&vm->k, 1 + i, c->page[i].gpa, c->page[i].data, 4096);
	if (rc == 0)
		rc = orc_vm_build(vm, hgva, hgpa, c->cr3, err, RP_ERRLEN);
	else
		snprintf(err, RP_ERRLEN, "%s", vm->k.why);
	if (rc < 0) {
		orc_vm_close(vm);
		return 1;
	}
	root = rp_page(c, c->cr3 & X86_PTE_ADDR_MASK, false);
	orc_vm_map_harness(vm, root);
	if (!(c->cr4 & X86_CR4_PKE))
		return 0;
	orc_pku_probe(vm);
	if (vm->pku)
		return 0;
	snprintf(err, RP_ERRLEN, "the case sets CR4.PKE, but this KVM cannot "
		 "run protection keys: %.180s", vm->pku_note);
	orc_vm_close(vm);
	return 2;
}

/* Differences between what the CPU model of the case and of KVM say. */
static void rp_warn(const struct rp_case *c, const struct orc_vm *vm)
{
	if (c->maxphyaddr != vm->maxphyaddr)
		fprintf(stderr, "kvm_oracle: note: the case says MAXPHYADDR %llu, "
			"KVM's guest has %u\n", (unsigned long long)c->maxphyaddr,
			vm->maxphyaddr);
	if (c->gbpages && !vm->gbpages)
		fprintf(stderr, "kvm_oracle: note: the case allows 1 GiB pages; "
			"KVM here has none (PS in a PDPTE is a reserved bit)\n");
	if ((c->cr4 & X86_CR4_PKE) && c->nacc > 1)
		fprintf(stderr, "kvm_oracle: note: with protection keys, KVM's "
			"shadow MMU may let a later access to a page through that "
			"the keys deny (docs/kvm-oracle.md): one access per page "
			"compares reliably\n");
	for (unsigned i = 0; i < c->nacc; i++) {
		unsigned slot = c->acc[i].gva >> 39 & 0x1ff;

		if ((c->acc[i].gva & 7) && c->acc[i].kind != VMMU_ACCESS_FETCH)
			fprintf(stderr, "kvm_oracle: note: accesses[%u] is not "
				"8-byte aligned: the guest's 8-byte access may touch "
				"two pages%s\n", i, c->acc[i].cpl == 3 &&
				(c->rflags & X86_RFLAGS_AC) ? ", and raises #AC at "
				"CPL 3 with RFLAGS.AC=1 on this KVM" : "");
		if (c->acc[i].implicit)
			fprintf(stderr, "kvm_oracle: note: accesses[%u] is an LDT "
				"descriptor load; KVM spins (deadline %d s) when the "
				"page has no memory\n", i, RP_DEADLINE_S);

		if (c->acc[i].cpl == 3 && slot >= 256 && slot < 272)
			fprintf(stderr, "kvm_oracle: note: accesses[%u] is a user "
				"access through PML4 slot %u, which faults on this "
				"host whatever the tables say\n", i, slot);
	}
}

static void rp_writes(json_t *arr, const struct rp_case *c, uint8_t *before)
{
	uint64_t a, b;

	for (unsigned i = 0; i < c->npages; i++)
		for (unsigned off = 0; off < 4096; off += 8) {
			memcpy(&a, before + 4096 * i + off, 8);
			memcpy(&b, c->page[i].data + off, 8);
			if (a != b)
				json_array_append_new(arr, json_pack("{s:o,s:i,s:o}",
					"gpa", cli_hex(c->page[i].gpa + off),
					"size", 8, "value", cli_hex(b)));
		}
}

/* Run every access of the case; the output object, or NULL with err. */
static json_t *rp_run_case(struct rp_case *c, struct orc_vm *vm, int *status,
			   char *err)
{
	json_t *results = json_array(), *writes = json_array();
	uint8_t *before = malloc(4096 * (size_t)c->npages);
	struct orc_outcome o;
	json_t *r;

	for (unsigned i = 0; before && i < c->nacc; i++) {
		struct orc_launch l = {
			.cr0 = c->cr0, .cr4 = c->cr4, .efer = c->efer,
			.pkru = (uint32_t)c->pkru,
			.ac = (c->rflags & X86_RFLAGS_AC) != 0, .a = &c->acc[i],
			.wval = 0x5757575757575757ULL, .run = rp_run,
		};

		for (unsigned p = 0; p < c->npages; p++)
			memcpy(before + 4096 * p, c->page[p].data, 4096);
		if (orc_vm_launch(vm, &l, &o) < 0) {
			snprintf(err, RP_ERRLEN, "accesses[%u]: KVM failed: %s", i,
				 vm->k.why);
			*status = 1;
			break;
		}
		o.gpa_known = o.mmio;
		o.gpa = o.mmio_gpa;
		/*
		 * KVM emulates an access to a page without memory; it cannot
		 * fetch instructions from one. It only gets there when the
		 * walk succeeded (a failed walk injects #PF instead).
		 */
		if (o.harness_error && c->acc[i].kind == VMMU_ACCESS_FETCH &&
		    vm->k.run->exit_reason == KVM_EXIT_INTERNAL_ERROR &&
		    vm->k.run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
			o.harness_error = false;
			o.ok = true;
			o.mmio = true;
		}
		r = orc_kvm_result_json(&c->acc[i], &o, 0);
		if (o.harness_error)
			*status = 1;
		else if (o.ok && o.mmio && !o.gpa_known)
			json_object_set_new(r, "note", json_string(
				"the walk succeeded; the page has no memory, so KVM "
				"could not fetch from it"));
		else if (o.ok && !o.mmio && !c->acc[i].implicit)
			json_object_set_new(r, "note", json_string(
				"completed in guest RAM (a page of the case); KVM "
				"does not show the address"));
		json_array_append_new(results, r);
		rp_writes(writes, c, before);
	}
	free(before);
	if (!before) {
		snprintf(err, RP_ERRLEN, "out of memory");
		*status = 1;
	}
	return json_pack("{s:o,s:o}", "results", results, "memory_writes", writes);
}

json_t *orc_replay_case(const json_t *jc, int *status, char *err)
{
	struct rp_case *c = calloc(1, sizeof(*c));
	struct orc_vm vm;
	json_t *out = NULL;
	int rc;

	*status = 2;
	if (!c) {
		snprintf(err, RP_ERRLEN, "out of memory");
		return NULL;
	}
	if (rp_parse(jc, c, err) == 0) {
		rc = rp_open(c, &vm, err);
		*status = rc;
		if (rc == 0) {
			rp_warn(c, &vm);
			out = rp_run_case(c, &vm, status, err);
			orc_vm_close(&vm);
		}
	}
	rp_free(c);
	free(c);
	return out;
}

int orc_replay_file(const char *path, bool pretty)
{
	json_t *root = cli_load_json("kvm_oracle", path), *out, *one;
	char err[RP_ERRLEN] = "";
	int status = 0, worst = 0;
	size_t i;

	if (!root)
		return 2;
	if (json_is_object(root)) {
		out = orc_replay_case(root, &worst, err);
	} else if (json_is_array(root)) {
		out = json_array();
		for (i = 0; i < json_array_size(root) && worst != 2; i++) {
			one = orc_replay_case(json_array_get(root, i), &status, err);
			worst = status > worst ? status : worst;
			if (one)
				json_array_append_new(out, one);
		}
	} else {
		snprintf(err, RP_ERRLEN, "the input must be a case object or an "
			 "array of cases");
		out = NULL;
		worst = 2;
	}
	json_decref(root);
	if (*err)
		fprintf(stderr, "kvm_oracle: %s\n", err);
	if (worst == 77)
		printf("SKIP: kvm_oracle needs /dev/kvm\n");
	else if (out && worst != 2)
		cli_print_json(out, pretty);
	json_decref(out);
	return worst;
}
