/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for shadow isolation (docs/shadow.md, "Isolation
 * fuzzing"): the input bytes are a program of guest and VMM operations on
 * a shadow VM (iso_env.h: a neighbour VM shares the host arena):
 *
 *   guest page-table stores through the emulated path (an 8-byte write,
 *   sometimes 4 bytes or misaligned, at the identity-mapped address of a
 *   table entry, trapped and emulated once the frame is shadowed), VMM
 *   writes of entries (vmmu_vm_write_gpa), accesses checked against the
 *   reference walker, accesses left unchecked (the TLB model may be
 *   stale), paging-mode changes, CR3 loads, INVLPG and INVPCID, PV
 *   mmu_update batches, PV pin and unpin, out-of-sync on and off, and p2m
 *   type changes of a page;
 *
 * entries come from the input raw or through iso_hostile_entry (self-maps,
 * loops, MMIO, frames the VM does not own, reserved bits). After every
 * operation iso_check() must hold: no shadow leaf maps a host page
 * outside the VM's RAM, no writable leaf maps a page table (a shadowed
 * one, or one with a PV table type), the backend's invariants hold and the
 * VM is alive. A violation aborts (a libFuzzer crash, with the message).
 *
 * Built with libFuzzer by the `fuzz` target (tests/shadow/CMakeLists.txt),
 * and without it, for replaying a corpus under the ordinary test build,
 * with FUZZ_REPLAY_MAIN (main() below).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmmu/error.h"
#include "vmmu/p2m.h"
#include "shadow-fallback/shadow.h"
#include "iso_env.h"

#define FZ_RAM   (1ULL << 20)   /* 256 frames: the tables and data */
#define FZ_POOL  32             /* recycling at once */
#define FZ_STEPS 256            /* operations per input at most */
#define FZ_PTE   (X86_PTE_P | X86_PTE_RW | X86_PTE_US)

struct fz_in {
	const uint8_t *p;
	size_t n;
};

/* The next len bytes little-endian (zeros once the input ends). */
static uint64_t take(struct fz_in *in, unsigned len)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < len && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

static uint64_t take64(void *ctx)
{
	return take(ctx, 8);
}

/* A 4-level identity map of the RAM, so that guest stores reach tables. */
static int fz_tables(struct iso_env *s)
{
	static const uint64_t link[3][2] = {
		{ ISO_TABLES, ISO_TABLES + 0x1000 },
		{ ISO_TABLES + 0x1000, ISO_TABLES + 0x2000 },
		{ ISO_TABLES + 0x2000, ISO_TABLES + 0x3000 },
	};
	uint64_t e;
	int rc = 0;

	for (unsigned i = 0; rc == 0 && i < 3; i++) {
		e = link[i][1] | FZ_PTE;
		rc = vmmu_vm_write_gpa(s->vm, mk_gpa(link[i][0]), &e, 8);
	}
	for (uint64_t g = 0; rc == 0 && g < FZ_RAM; g += 4096) {
		e = g | FZ_PTE;
		rc = vmmu_vm_write_gpa(s->vm, mk_gpa(ISO_TABLES + 0x3000 + g / 512),
				       &e, 8);
	}
	if (rc == 0)
		rc = vmmu_vcpu_set_cr(s->vcpu, VMMU_CR4, X86_CR4_PAE);
	if (rc == 0)
		rc = vmmu_vcpu_set_cr(s->vcpu, VMMU_EFER, X86_EFER_LME |
				      X86_EFER_LMA | X86_EFER_NXE);
	if (rc == 0)
		rc = vmmu_vcpu_set_cr(s->vcpu, VMMU_CR3, ISO_TABLES);
	if (rc == 0)
		rc = vmmu_vcpu_set_cr(s->vcpu, VMMU_CR0, X86_CR0_PG |
				      X86_CR0_PE | X86_CR0_WP);
	return rc;
}

/* An entry of the input's choosing: raw bits or a hostile one. */
static uint64_t fz_entry(struct iso_env *s, struct fz_in *in)
{
	return take(in, 1) & 1 ? take(in, 8) : iso_hostile_entry(s, take64, in);
}

static uint64_t fz_entry_gpa(struct fz_in *in)
{
	return ISO_TABLES + (take(in, 2) % (ISO_NTAB * 512)) * 8;
}

/* A gva: mostly near the tables and the low levels' entries, or any. */
static gva_t fz_gva(struct fz_in *in)
{
	uint64_t sel = take(in, 1), v = take(in, 8);

	if (sel & 1)
		return mk_gva(v);
	return mk_gva((v & 0xc060301ff8ULL) | (sel & 2 ? 0xffff800000000000ULL : 0));
}

/* A guest store into a table through its identity mapping (emulated). */
static int fz_guest_store(struct iso_env *s, struct fz_in *in)
{
	uint64_t gpa = fz_entry_gpa(in), val = fz_entry(s, in);
	unsigned shape = (unsigned)take(in, 1) % 4;
	struct vmmu_op op = {
		.acc = { mk_gva(gpa + (shape == 3 ? 4 : 0)), VMMU_ACCESS_WRITE,
			 0, false },
		.size = shape >= 2 ? 4 : 8, .data = &val,
	};
	struct vmmu_access_result r;
	int rc = vmmu_vcpu_access(s->vcpu, &op, &r);

	return rc == VMMU_EINVAL ? 0 : rc;      /* EINVAL: paging mode invalid */
}

/* An access with the TLB model as it is (stale entries allowed). */
static int fz_access_unchecked(struct iso_env *s, struct fz_in *in)
{
	uint64_t data = 0;
	unsigned k = (unsigned)take(in, 1);
	struct vmmu_op op = {
		.acc = { fz_gva(in), (enum vmmu_access_kind)(k % 3),
			 (uint8_t)(k & 4 ? 3 : 0), (k & 8) != 0 },
		.size = 1u << (k >> 4 & 3), .data = &data,
	};
	struct vmmu_access_result r;
	int rc;

	op.acc.gva.v &= ~(uint64_t)(op.size - 1);
	rc = vmmu_vcpu_access(s->vcpu, &op, &r);
	return rc == VMMU_EINVAL ? 0 : rc;
}

static int fz_access_checked(struct iso_env *s, struct fz_in *in)
{
	unsigned k = (unsigned)take(in, 1);
	struct vmmu_access acc = { fz_gva(in), (enum vmmu_access_kind)(k % 3),
				   (uint8_t)(k & 4 ? 3 : 0), false };

	acc.gva.v &= ~7ULL;     /* an 8-byte op may not cross a page */

	return iso_access(s, &acc, take(in, 8));
}

static void fz_pv_batch(struct iso_env *s, struct fz_in *in)
{
	struct vmmu_pv_update req[4];
	unsigned n = 1 + (unsigned)take(in, 1) % 4, done;

	for (unsigned i = 0; i < n; i++) {
		req[i].ptr = take(in, 1) & 1 ? take(in, 8) : fz_entry_gpa(in);
		req[i].val = fz_entry(s, in);
	}
	(void)vmmu_shadow_pv_mmu_update(s->vm, req, n, &done);
}

static void fz_pin(struct iso_env *s, struct fz_in *in)
{
	unsigned k = (unsigned)take(in, 1);
	gpa_t t = mk_gpa(ISO_TABLES + (k & 15) * 4096ULL);

	if (k & 0x80)
		(void)vmmu_shadow_pv_unpin(s->vm, t);
	else
		(void)vmmu_shadow_pv_pin(s->vm, t, 1 + (k >> 4 & 3));
}

static void fz_p2m(struct iso_env *s, struct fz_in *in)
{
	static const enum vmmu_p2m_type types[] = {
		VMMU_P2M_RAM_RW, VMMU_P2M_RAM_RO, VMMU_P2M_MMIO, VMMU_P2M_ROM,
	};
	unsigned k = (unsigned)take(in, 2);

	(void)vmmu_vm_set_p2m_type(s->vm, mk_gpa((k >> 2) % (FZ_RAM >> 12) << 12),
				   4096, types[k & 3]);
}

/* FUZZ_TRACE set in the environment: each operation on stderr. */
static bool trace;

/* One operation; 0, or -1 with s->msg on a violation. */
static int fz_step(struct iso_env *s, struct fz_in *in)
{
	unsigned op = (unsigned)(take(in, 1) % 14);
	uint64_t v;
	int rc = 0;

	if (trace)
		fprintf(stderr, "op %u, %zu bytes left\n", op, in->n);
	switch (op) {
	case 0: case 1: case 2:
		rc = fz_guest_store(s, in);
		break;
	case 3:
		v = fz_entry(s, in);
		rc = vmmu_vm_write_gpa(s->vm, mk_gpa(fz_entry_gpa(in)), &v, 8);
		break;
	case 4: case 5:
		return fz_access_checked(s, in);
	case 6:
		rc = fz_access_unchecked(s, in);
		break;
	case 7:
		return iso_set_mode(s, take(in, 8));
	case 8:
		v = take(in, 2);
		(void)vmmu_vcpu_set_cr(s->vcpu, VMMU_CR3, ISO_TABLES +
				       (v & 15) * 4096 + (v >> 4 & 0x18));
		break;
	case 9:
		rc = vmmu_vcpu_invlpg(s->vcpu, fz_gva(in));
		break;
	case 10:
		v = take(in, 1);
		(void)vmmu_vcpu_invpcid(s->vcpu, (unsigned)v % 4, 0, fz_gva(in));
		break;
	case 11:
		fz_pv_batch(s, in);
		break;
	case 12:
		fz_pin(s, in);
		break;
	default:
		if (take(in, 1) & 1)
			fz_p2m(s, in);
		else
			rc = vmmu_shadow_set_oos(s->vm, take(in, 1) & 1);
		break;
	}
	if (rc < 0) {
		snprintf(s->msg, sizeof(s->msg), "operation failed: %s",
			 vmmu_strerror(rc));
		return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct iso_env s;
	struct fz_in in = { data, size };
	unsigned step;

	trace = getenv("FUZZ_TRACE") != NULL;
	if (iso_env_create(&s, FZ_RAM, FZ_POOL) < 0 || fz_tables(&s) < 0) {
		fprintf(stderr, "fuzz_shadow_isolation: setup failed\n");
		abort();
	}
	for (step = 0; in.n && step < FZ_STEPS; step++) {
		if (fz_step(&s, &in) < 0 || iso_check(&s) < 0) {
			fprintf(stderr, "fuzz_shadow_isolation: step %u: %s\n",
				step, s.msg);
			abort();
		}
	}
	iso_env_destroy(&s);
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
/*
 * Without libFuzzer: run every file named on the command line (a seed
 * corpus) through the target, as libFuzzer does when given files.
 */
int main(int argc, char **argv)
{
	static uint8_t buf[1 << 16];

	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		size_t n;

		if (!f) {
			fprintf(stderr, "cannot open %s\n", argv[i]);
			return 2;
		}
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("fuzz_shadow_isolation: %d inputs replayed, no violation\n",
	       argc - 1);
	return 0;
}
#endif
