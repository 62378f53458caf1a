/* SPDX-License-Identifier: MIT */
/*
 * A case as a `vmmu walk --case` document (docs/walker.md), so that any
 * disagreement can be replayed with the command line alone. The kernel's
 * fixed table for the case's mode is included as memory.
 */
#include <inttypes.h>

#include "conform.h"

static void hex_bytes(FILE *f, uint64_t v, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		fprintf(f, "%02x", (unsigned)(v >> (8 * i)) & 0xff);
}

static void fixed_table_json(FILE *f, enum conf_mode mode)
{
	unsigned pt, i;

	if (mode == CONF_2LEVEL) {
		fprintf(f, "    {\"gpa\": \"0x%x\", \"hex\": \"", CB_FIXED_PT32);
		for (i = 0; i < 1024; i++)
			hex_bytes(f, cb_fixed_entry(0, i), 4);
		fprintf(f, "\"}");
		return;
	}
	for (pt = 1; pt <= 2; pt++) {
		fprintf(f, "%s    {\"gpa\": \"0x%x\", \"hex\": \"", pt == 2 ? ",\n" : "",
			pt == 1 ? CB_FIXED_PT64_0 : CB_FIXED_PT64_1);
		for (i = 0; i < 512; i++)
			hex_bytes(f, cb_fixed_entry(pt, i), 8);
		fprintf(f, "\"}");
	}
}

void conf_case_json(FILE *f, const struct conf_case *c, const struct conf_cpu *cpu)
{
	static const char *const kinds[] = { "read", "write", "fetch" };
	uint32_t i;

	fprintf(f, "{\"paging\": {\"cr0\": \"0x%" PRIx64 "\", \"cr3\": \"0x%" PRIx64
		"\", \"cr4\": \"0x%" PRIx64 "\", \"efer\": \"0x%" PRIx64
		"\", \"pkru\": \"0x%x\", \"rflags\": \"0x%" PRIx64
		"\", \"maxphyaddr\": %u, \"gbpages\": %s, \"a_bits_on_fault\": %s},\n"
		"  \"memory\": [\n",
		c->cr0, c->cr3, c->cr4, c->efer, c->pkru, c->rflags, cpu->maxphyaddr,
		cpu->gbpages ? "true" : "false", cpu->a_on_fault ? "true" : "false");
	for (i = 0; i < c->nwords; i++) {
		fprintf(f, "    {\"gpa\": \"0x%" PRIx64 "\", \"hex\": \"", c->words[i].gpa);
		hex_bytes(f, c->words[i].value, 8);
		fprintf(f, "\"},\n");
	}
	fixed_table_json(f, c->mode);
	fprintf(f, "\n  ],\n  \"accesses\": [\n");
	for (i = 0; i < c->naccesses; i++)
		fprintf(f, "    {\"gva\": \"0x%" PRIx64 "\", \"access\": \"%s\", "
			"\"cpl\": %u, \"implicit\": false}%s\n", c->acc[i].gva,
			kinds[c->acc[i].kind % 3], c->acc[i].cpl,
			i + 1 < c->naccesses ? "," : "");
	fprintf(f, "  ]}\n");
}
