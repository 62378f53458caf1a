/* SPDX-License-Identifier: MIT */
/*
 * The decision as text: the lines `vmmu detect` prints from "request" on,
 * and the bare-metal kernel prints for the same host (freestanding), so
 * that the two can be compared line by line.
 */
#include "cpuid_fs.h"

struct text {
	char *buf;
	size_t len, n;
};

static void emit(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void emit(struct text *t, const char *fmt, ...)
{
	va_list ap;
	size_t room = t->n < t->len ? t->len - t->n : 0;

	va_start(ap, fmt);
	t->n += vmmu_vfmt(room ? t->buf + t->n : NULL, room, fmt, ap);
	va_end(ap);
}

static const char *yn(bool b)
{
	return b ? "yes" : "no";
}

/* "unpaged, 32-bit, pae" */
static void guest_modes(struct text *t, unsigned modes)
{
	static const char *const names[] = {
		"unpaged", "32-bit", "pae", "4-level", "5-level",
	};
	unsigned i, k = 0;

	/* enum vmmu_guest_mode_bit: bit i is names[i]. */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (modes & (1u << i))
			emit(t, "%s%s", k++ ? ", " : "", names[i]);
}

static void items(struct text *t, const struct vmmu_detect_item *it, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		emit(t, "  - [%s] %s\n", it[i].code, it[i].text);
}

size_t vmmu_decision_format(const struct vmmu_vm_request *r,
			    const struct vmmu_decision *d, char *buf,
			    size_t len)
{
	struct text t = { buf, len, 0 };

	if (len)
		buf[0] = '\0';
	emit(&t, "request    backend %s, guest-la57 %s, guest-phys-bits %u%s%s\n",
	     vmmu_backend_name(r->backend), yn(r->guest_la57), d->phys_bits,
	     r->guest_phys_bits ? "" : " (default)",
	     r->model_only ? ", model-only" : "");
	if (d->refused) {
		emit(&t, "\nBACKEND    %s REFUSED\n", vmmu_backend_name(d->backend));
	} else {
		emit(&t, "\nBACKEND    %s%s: %u-level, %s leaves %s, 1G leaves %s, "
		     "NX %s, execute-only %s, tagged TLB %s, dirty log %s\n"
		     "           guest modes: ", vmmu_backend_name(d->backend),
		     d->model_only ? " (software model)" : "", d->levels,
		     d->levels == 2 ? "4M" : "2M",
		     yn(d->levels == 2 ? d->leaf_4m : d->leaf_2m),
		     yn(d->leaf_1g), yn(d->nx), yn(d->exec_only),
		     yn(d->tagged_tlb), vmmu_dirty_log_name(d->dirty_log));
		guest_modes(&t, d->guest_modes);
		emit(&t, "\n");
	}
	emit(&t, "why\n");
	items(&t, d->reasons, d->n_reasons);
	if (!d->refused) {
		emit(&t, "degraded%s\n", d->n_degraded ? "" : "   (nothing)");
		items(&t, d->degraded, d->n_degraded);
	}
	return t.n;
}
