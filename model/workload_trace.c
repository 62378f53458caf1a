/* SPDX-License-Identifier: MIT */
/*
 * trace:FILE: a real program's recorded accesses replayed by one process
 * of the guest OS model. The record does not say where the program's
 * image, its stack and what valgrind itself placed lie, so the process
 * starts with one read/write/execute mapping over all of user space: any
 * address faults in a page on first use. munmap and brk shrinking remove
 * pages (later accesses there fault them in again only after an mmap or
 * brk that brings them back). Runs on vCPU 0; other vCPUs stay idle.
 */
#include "model/model.h"
#include "vmmu/error.h"

static const struct gos_image img_trace = { 3, 1, 0, 1 };

static uint64_t trace_units(const struct gos *g, const struct wl_params *w)
{
	(void)g;
	return w->trace ? w->trace->accesses / 1024 + 1 : 1;
}

/* One access of a record: at most 8 bytes, and the next page if crossed. */
static int trace_access(struct gos_cpu *c, const struct trace_rec *r,
			enum vmmu_access_kind kind)
{
	uint64_t a = r->addr, last = r->addr + r->size - 1;
	unsigned size = r->size > 8 ? 8 : r->size;
	int rc;

	if ((a & ~VMMU_PAGE_MASK) + size > VMMU_PAGE_SIZE)
		size = (unsigned)(VMMU_PAGE_SIZE - (a & ~VMMU_PAGE_MASK));
	rc = gos_access(c, a, kind, size);
	if (rc == 0 && (last & VMMU_PAGE_MASK) != (a & VMMU_PAGE_MASK))
		rc = gos_access(c, last & VMMU_PAGE_MASK, kind, 1);
	return rc;
}

static int trace_event(struct gos_cpu *c, const struct trace_rec *r,
		       uint64_t *brk)
{
	const unsigned rwx = GOS_R | GOS_W | GOS_X;
	uint64_t top = c->g->user_top - VMMU_PAGE_SIZE;

	if (r->addr < VMMU_PAGE_SIZE || r->addr >= top || r->len > top - r->addr)
		return VMMU_OK;         /* outside what a process can map */
	switch (r->kind) {
	case TR_MMAP:
		return r->len ? gos_mmap_fixed(c, r->addr, r->len, rwx) : 0;
	case TR_MUNMAP:
		return r->len && !(r->addr & ~VMMU_PAGE_MASK) ?
		       gos_munmap(c, r->addr, r->len) : VMMU_OK;
	default:                        /* brk: the new break */
		if (*brk && r->addr < *brk)
			(void)gos_munmap(c, (r->addr + VMMU_PAGE_SIZE - 1) &
					 VMMU_PAGE_MASK, *brk - r->addr);
		else if (*brk && r->addr > *brk)
			(void)gos_mmap_fixed(c, *brk, r->addr - *brk, rwx);
		*brk = r->addr;
		return VMMU_OK;
	}
}

static int trace_run(struct gos_cpu *c, const struct wl_params *w,
		     struct wl_shared *sh)
{
	static const enum vmmu_access_kind kinds[] = {
		VMMU_ACCESS_READ, VMMU_ACCESS_WRITE, VMMU_ACCESS_READ,
		VMMU_ACCESS_FETCH,
	};
	struct trace_cursor cur;
	struct trace_rec r;
	struct gos_proc *p;
	uint64_t n = 0, brk = 0;
	int rc;

	(void)sh;
	if (c->id != 0 || !w->trace)
		return w->trace ? VMMU_OK : VMMU_EINVAL;
	rc = gos_spawn(c, &img_trace, &p);
	/* all of user space but the stub's text page at 0x400000 */
	if (rc == 0)
		rc = gos_mmap_fixed(c, VMMU_PAGE_SIZE, 0x400000 - VMMU_PAGE_SIZE,
				    GOS_R | GOS_W | GOS_X);
	if (rc == 0)
		rc = gos_mmap_fixed(c, 0x401000, c->g->user_top - 0x402000,
				    GOS_R | GOS_W | GOS_X);
	trace_cursor_init(&cur, w->trace);
	while (rc == 0 && (rc = trace_next(&cur, &r)) == 1) {
		if (r.kind >= TR_MMAP) {
			rc = trace_event(c, &r, &brk);
			continue;
		}
		rc = trace_access(c, &r, kinds[r.kind]);
		if (rc == 0 && r.kind == TR_MODIFY)
			rc = trace_access(c, &r, VMMU_ACCESS_WRITE);
		if (rc == VMMU_EFAULT)  /* unmapped by the program: as SIGSEGV */
			rc = VMMU_OK;
		if ((++n & 1023) == 0 && w->progress)
			atomic_fetch_add(w->progress, 1);
	}
	return rc < 0 ? rc : VMMU_OK;
}

const struct workload wl_trace = {
	"trace", "a recorded program (trace:FILE)", false, trace_units,
	trace_run,
};
