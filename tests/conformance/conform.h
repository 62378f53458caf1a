/* SPDX-License-Identifier: MIT */
/*
 * Conformance harness, host side: random cases per paging mode, packed
 * into batches for the bare-metal test kernel (batch.h), run in an x86
 * emulator (QEMU TCG), and compared access by access, A/D bits included,
 * with vmmu's guest page-table walker. docs/conformance.md has the design.
 */
#ifndef VMMU_CONFORM_H
#define VMMU_CONFORM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "batch.h"

#define CONF_MAX_WORDS    192
#define CONF_MAX_ACCESSES 8

enum conf_mode {
	CONF_2LEVEL,    /* 32-bit paging, CR4.PSE random (4 MiB pages, PSE-36) */
	CONF_PAE,
	CONF_4LEVEL,
	CONF_5LEVEL,
	CONF_NMODES,
};

/* What the emulated CPU offers (the kernel's K line). */
struct conf_cpu {
	unsigned maxphyaddr;
	uint32_t c1edx, c7ebx, c7ecx, e1edx;
	bool pse36, nx, smep, smap, pku, la57, gbpages;
	/*
	 * Bochs 2.7 applies PKRU by the access's CPL, not by the page's U/S
	 * (its handle_pkeys()): WD then blocks the kernel's own stack writes
	 * (key 0) with CR0.WP = 1, so key 0 must stay writable.
	 */
	bool pkru_by_cpl;
	bool unbacked_ones;     /* physical memory past RAM reads as all ones */
	/*
	 * Sets A in the entries a walk used before it faulted (QEMU TCG sets
	 * A level by level as it descends): the comparer's walker then runs
	 * with VMMU_PAGING_A_ON_FAULT and compares those bits exactly.
	 */
	bool a_on_fault;
	/*
	 * Reads the PAE PDPTEs on every walk instead of at the CR3 load
	 * (QEMU TCG): the known:qemu-pae-pdpte class applies, per access.
	 */
	bool pdpte_per_walk;
	/*
	 * End of the case region for this emulator (CB_CASE_LIMIT when 0).
	 * Under Bochs, PAE cases whose PDPT sat in the top 2 MiB of its 2 GiB
	 * raised #GP at paging enable although the PDPTEs written there are
	 * valid (cause not found; Bochs does not boot with more memory), so
	 * Bochs cases stay below 0x7f000000.
	 */
	uint64_t case_limit;
};

static inline uint64_t conf_case_limit(const struct conf_cpu *cpu)
{
	return cpu->case_limit ? cpu->case_limit : CB_CASE_LIMIT;
}

struct conf_case {
	uint32_t id;
	enum conf_mode mode;
	uint64_t cr0, cr3, cr4, efer, rflags;   /* efer: LMA set as the CPU would */
	uint32_t pkru;
	uint32_t nwords, naccesses;
	struct cb_word words[CONF_MAX_WORDS];  /* non-zero words, distinct gpas */
	struct cb_access acc[CONF_MAX_ACCESSES];
};

/* What the emulator reported for one case. */
struct conf_result {
	bool ok;
	uint32_t value;         /* ok: the tag / value read */
	uint32_t vector, error_code;
	uint64_t cr2;
};

struct conf_outcome {
	bool complete;          /* the case's E line was seen */
	uint32_t nresults;
	struct conf_result res[CONF_MAX_ACCESSES];
	uint64_t final[CONF_MAX_WORDS];  /* every word after the case */
};

/* Known, documented differences (docs/conformance.md). */
enum conf_class {
	CONF_AGREE,
	CONF_KD_RSVD_NO_P,        /* QEMU: reserved-bit #PF without PFEC.P */
	CONF_KD_QEMU_PDPTE_A,     /* QEMU: sets bit 5 in PAE PDPTEs */
	CONF_KD_QEMU_PAE_PDPTE,   /* QEMU: PDPTEs read per walk, no #GP */
	CONF_KD_BOCHS_PKRU_BY_CPL, /* Bochs: keys by CPL, not by page U/S */
	CONF_KD_QEMU_1G_NO_CPUID, /* QEMU: 1 GiB pages without Page1GB */
	CONF_DISAGREE,            /* unexplained: keep last */
	CONF_NCLASSES,
};

struct conf_stats {
	uint64_t cases, accesses, ok, faults_pf, faults_gp;
	uint64_t value_checked, value_unchecked, ad_words_changed;
	uint64_t by_class[CONF_NCLASSES];      /* cases, by their worst class */
	uint64_t known_events[CONF_NCLASSES];  /* accesses + words, per class */
	uint64_t crashed;
	/* coverage: translations by page size, #PF by error-code bit */
	uint64_t size_4k, size_2m, size_4m, size_1g;
	uint64_t pfec_bit[6];   /* P, W, U, RSVD, I, PK */
	uint64_t cpl3, smep_on, smap_on, pke_on, nxe_on, wp_on, ac_on;
};

const char *conf_mode_name(enum conf_mode m);
int conf_mode_parse(const char *s, enum conf_mode *m);
const char *conf_class_name(enum conf_class c);
const char *conf_class_doc(enum conf_class c);

/* conform_gen.c: the case a (seed, mode, id) triple stands for. */
void conf_gen_case(struct conf_case *c, enum conf_mode mode,
		   const struct conf_cpu *cpu, uint64_t seed, uint32_t id);
/* The case's memory word at gpa (0 when not listed). */
uint64_t conf_case_word(const struct conf_case *c, uint64_t gpa);
/* Print the case as a `vmmu walk --case` document. */
void conf_case_json(FILE *f, const struct conf_case *c, const struct conf_cpu *cpu);

/* conform_run.c */
enum conf_emu_kind { CONF_EMU_QEMU, CONF_EMU_BOCHS };

struct conf_emulator {
	enum conf_emu_kind kind;
	const char *qemu;       /* qemu-system-x86_64 path */
	const char *bochs;      /* bochs path */
	const char *bochs_cpu;  /* Bochs cpu: model= */
	const char *kernel;     /* conform-kernel.elf */
	const char *cpu_model;  /* -cpu argument */
	const char *workdir;    /* batch and output files */
	unsigned timeout_s;
};

void conf_cpu_decode(struct conf_cpu *cpu);
/* conform_bochs.c: boot batch in Bochs, port 0xe9 text to out. 0 or -1. */
int conf_run_bochs(const struct conf_emulator *em, const char *batch,
		   const char *out);
/* Boot an empty batch and read the K line. 0, or -1 with a message. */
int conf_probe(const struct conf_emulator *em, struct conf_cpu *cpu);
/*
 * Run cases [0, n) in one boot. out[i].complete tells which finished; the
 * return value is how many finished before the emulator stopped, or -1
 * when it could not be started.
 */
int conf_run_batch(const struct conf_emulator *em, const struct conf_case *cases,
		   uint32_t n, struct conf_outcome *out);

/* conform_cmp.c: classify one case, add to stats, explain when asked. */
enum conf_class conf_compare(const struct conf_case *c,
			     const struct conf_outcome *o,
			     const struct conf_cpu *cpu, struct conf_stats *st,
			     FILE *explain);

#endif
