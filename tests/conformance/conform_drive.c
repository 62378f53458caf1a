/* SPDX-License-Identifier: MIT */
/*
 * Driving a run: generate cases in chunks, boot one batch per chunk, and
 * compare. A case during which the emulator stopped (a triple fault, a
 * hang killed by the timeout) counts as crashed and unexplained; the rest
 * of its batch runs again in a fresh boot.
 */
#include <stdlib.h>
#include <string.h>

#include "conform.h"
#include "conform_drive.h"

static const char *const mode_names[CONF_NMODES] = {
	"2level", "pae", "4level", "5level",
};

const char *conf_mode_name(enum conf_mode m)
{
	return (unsigned)m < CONF_NMODES ? mode_names[m] : "?";
}

int conf_mode_parse(const char *s, enum conf_mode *m)
{
	unsigned i;

	for (i = 0; i < CONF_NMODES; i++)
		if (!strcmp(s, mode_names[i])) {
			*m = (enum conf_mode)i;
			return 0;
		}
	return -1;
}

static const char *const class_names[CONF_NCLASSES] = {
	"agree", "known:qemu-rsvd-no-p",
	"known:qemu-pdpte-a-bit", "known:qemu-pae-pdpte",
	"known:bochs-pkru-by-cpl", "known:qemu-1g-without-cpuid", "DISAGREE",
};

static const char *const class_docs[CONF_NCLASSES] = {
	"emulator and vmmu agree on every access and every final word",
	"QEMU TCG reports a reserved-bit #PF with PFEC.RSVD but not PFEC.P; "
	"the SDM and APM (and vmmu) set P with RSVD",
	"QEMU TCG sets bit 5 (A) in PAE PDPTEs, where the SDM has no A bit",
	"QEMU TCG reads PAE PDPTEs on every walk (a reserved PDPTE gives #PF); "
	"vmmu loads them at MOV CR3 / paging enable and raises #GP (SDM 4.4.1)",
	"Bochs 2.7 applies PKRU by the access's CPL (AD: CPL-3 data accesses, WD: "
	"CPL-3 writes or any write with CR0.WP) on any page; the SDM (4.6.2) applies "
	"keys to user pages only, AD to supervisor reads of them too",
	"QEMU TCG maps 1 GiB pages even when its CPUID lacks Page1GB; the SDM (4.5.4) "
	"and vmmu (VMMU_PAGING_NO_1G) make PS in a PDPTE reserved then",
	"unexplained difference",
};

const char *conf_class_name(enum conf_class c)
{
	return (unsigned)c < CONF_NCLASSES ? class_names[c] : "?";
}

const char *conf_class_doc(enum conf_class c)
{
	return (unsigned)c < CONF_NCLASSES ? class_docs[c] : "?";
}

void conf_drive_emulator_traits(struct conf_drive *d)
{
	bool bochs = d->em.kind == CONF_EMU_BOCHS;

	d->cpu.pkru_by_cpl = bochs;
	d->cpu.unbacked_ones = bochs;
	d->cpu.a_on_fault = !bochs;     /* Bochs: A/D all or nothing */
	d->cpu.pdpte_per_walk = !bochs; /* observed under QEMU only */
	d->cpu.case_limit = bochs ? 0x7f000000 : 0;
}

/* Modes the emulated CPU can run (5-level needs LA57). */
bool conf_mode_supported(enum conf_mode m, const struct conf_cpu *cpu)
{
	return m != CONF_5LEVEL || cpu->la57;
}

static void report_crash(const struct conf_drive *d, const struct conf_case *c)
{
	if (!d->explain)
		return;
	fprintf(d->explain, "case %u (%s): the emulator stopped during this case\n",
		c->id, conf_mode_name(c->mode));
	conf_case_json(d->explain, c, &d->cpu);
}

/* Run cases [first, first + n) of mode; add to st. 0, or -1 (no emulator). */
static int run_chunk(const struct conf_drive *d, enum conf_mode mode,
		     uint32_t first, uint32_t n, struct conf_case *cases,
		     struct conf_outcome *out, struct conf_stats *st)
{
	uint32_t i, at = 0;

	for (i = 0; i < n; i++)
		conf_gen_case(&cases[i], mode, &d->cpu, d->seed, first + i);
	while (at < n) {
		int done = conf_run_batch(&d->em, cases + at, n - at, out + at);

		if (done < 0)
			return -1;
		for (i = at; i < at + (uint32_t)done; i++) {
			enum conf_class cls;

			if (!out[i].complete) {
				st->cases++;
				st->crashed++;
				st->by_class[CONF_DISAGREE]++;
				report_crash(d, &cases[i]);
				continue;
			}
			cls = conf_compare(&cases[i], &out[i], &d->cpu, st, NULL);
			if (cls != CONF_AGREE && d->explain &&
			    (cls == CONF_DISAGREE || d->explain_known)) {
				struct conf_stats scratch;

				memset(&scratch, 0, sizeof(scratch));
				fprintf(d->explain, "== %s\n", conf_class_name(cls));
				conf_compare(&cases[i], &out[i], &d->cpu, &scratch, d->explain);
				conf_case_json(d->explain, &cases[i], &d->cpu);
			}
		}
		at += (uint32_t)done;
		if (at < n) {
			/* the emulator stopped inside case `at` */
			st->cases++;
			st->crashed++;
			st->by_class[CONF_DISAGREE]++;
			report_crash(d, &cases[at]);
			at++;
		}
	}
	return 0;
}

int conf_drive_mode(const struct conf_drive *d, enum conf_mode mode,
		    uint32_t ncases, struct conf_stats *st)
{
	uint32_t chunk = d->batch ? d->batch : 2000, first;
	struct conf_case *cases = calloc(chunk, sizeof(*cases));
	struct conf_outcome *out = calloc(chunk, sizeof(*out));
	int rc = 0;

	memset(st, 0, sizeof(*st));
	if (!cases || !out) {
		free(cases);
		free(out);
		return -1;
	}
	for (first = 0; first < ncases && rc == 0; first += chunk) {
		uint32_t n = ncases - first < chunk ? ncases - first : chunk;

		rc = run_chunk(d, mode, d->first_id + first, n, cases, out, st);
		if (d->progress)
			fprintf(stderr, "conform: %s: %u/%u cases, %llu disagreements\n",
				conf_mode_name(mode), first + n, ncases,
				(unsigned long long)st->by_class[CONF_DISAGREE]);
	}
	free(cases);
	free(out);
	return rc;
}
