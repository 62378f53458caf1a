/* SPDX-License-Identifier: MIT */
/*
 * The shared emulator on a vCPU's exit path: a backend that write-protects
 * one guest page hands every write to it to vmmu_vcpu_emulate(), which
 * runs the instruction at RIP (capstone decodes, vmmu executes) with the
 * hypervisor's view of guest memory.
 */
#include "vmmu/emulate_vcpu.h"
#include "walk/walk_fixture.h"

#define CODE_GVA  0x400000ULL
#define CODE_GPA  0x200000ULL
#define WP_GVA    0x401000ULL
#define WP_GPA    0x201000ULL

static unsigned wp_exits, written_calls;

/* The direct backend, except that writes to WP_GPA's page exit. */
static int wp_hw_walk(struct vmmu_vcpu *vcpu, const struct vmmu_access *acc,
		      struct vmmu_hw_walk *out)
{
	int rc = vmmu_backend_direct.hw_walk(vcpu, acc, out);

	if (rc == 0 && out->status == VMMU_HW_OK &&
	    acc->kind == VMMU_ACCESS_WRITE &&
	    (out->gpa.v & VMMU_PAGE_MASK) == WP_GPA) {
		out->status = VMMU_HW_EXIT;
		out->exit.kind = VMMU_EXIT_EPT_VIOLATION;
		out->exit.access = acc->kind;
		out->exit.gpa = out->gpa;
	}
	return rc;
}

static int wp_handle_exit(struct vmmu_vcpu *vcpu, const struct vmmu_exit *exit,
			  const struct vmmu_op *op, struct vmmu_exit_result *res)
{
	if (exit->kind != VMMU_EXIT_EPT_VIOLATION)
		return vmmu_backend_direct.handle_exit(vcpu, exit, op, res);
	wp_exits++;
	return vmmu_vcpu_emulate(vcpu, exit, op, res);
}

static void wp_written(struct vmmu_vm *vm, gpa_t gpa, size_t len)
{
	(void)vm;
	if ((gpa.v & VMMU_PAGE_MASK) == WP_GPA && len == 8)
		written_calls++;
}

static const struct vmmu_backend_ops wp_backend = {
	.name = "write-protect",
	.hw_walk = wp_hw_walk,
	.handle_exit = wp_handle_exit,
	.gpa_written = wp_written,
};

struct ev_fx {
	struct fx *f;
	struct vmmu_vcpu *vcpu;
	struct vmmu_emu_vcpu ev;
};

static struct ev_fx evf;

static int ev_setup(void **state)
{
	memset(&evf, 0, sizeof(evf));
	wp_exits = written_calls = 0;
	if (fx_setup((void **)&evf.f) < 0 ||
	    vmmu_vm_set_backend(evf.f->vm, VMMU_BACKEND_NONE, &wp_backend) < 0 ||
	    vmmu_vcpu_create(evf.f->vm, &evf.vcpu) < 0 ||
	    vmmu_emu_create(&evf.ev.emu) < 0)
		return -1;
	fx_long(evf.f, false, 48);
	fx_map4k(evf.f, CODE_GVA, PRWU, CODE_GPA);
	fx_map4k(evf.f, WP_GVA, PRWU, WP_GPA);
	evf.vcpu->paging = evf.f->ps;
	vmmu_paging_update(&evf.vcpu->paging);
	evf.ev.mode = 64;
	evf.ev.regs.rip = CODE_GVA;
	evf.ev.regs.rflags = 2;
	vmmu_emu_vcpu_install(evf.vcpu, &evf.ev);
	*state = &evf;
	return 0;
}

static int ev_teardown(void **state)
{
	struct ev_fx *e = *state;

	vmmu_emu_destroy(e->ev.emu);
	return fx_teardown((void **)&e->f);
}

/* The guest's store at CPL 3, as the instruction at RIP makes it. */
static struct vmmu_access_result ev_store(struct ev_fx *e, const uint8_t *insn,
					  size_t len, uint64_t gva, uint64_t v)
{
	struct vmmu_op op = { .acc = { mk_gva(gva), W, 3, false }, .size = 8,
			      .data = &v };
	struct vmmu_access_result r;

	assert_int_equal(vmmu_vm_write_gpa(e->f->vm, mk_gpa(CODE_GPA), insn, len), 0);
	assert_int_equal(vmmu_vcpu_access(e->vcpu, &op, &r), 0);
	return r;
}

static void test_store_emulated(void **state)
{
	struct ev_fx *e = *state;
	static const uint8_t mov_rdi_rax[] = { 0x48, 0x89, 0x07 };
	struct vmmu_access_result r;

	e->ev.regs.gpr[VMMU_RAX] = 0x1122334455667788ULL;
	e->ev.regs.gpr[VMMU_RDI] = WP_GVA + 0x10;
	r = ev_store(e, mov_rdi_rax, sizeof(mov_rdi_rax), WP_GVA + 0x10,
		     0x1122334455667788ULL);
	assert_int_equal(r.status, VMMU_ACCESS_DONE);
	assert_true(r.emulated);
	assert_int_equal(wp_exits, 1);
	assert_int_equal(written_calls, 1);
	assert_int_equal(rd(e->f, WP_GPA + 0x10, 8), 0x1122334455667788ULL);
	assert_int_equal(e->ev.regs.rip, CODE_GVA + 3);
	assert_int_equal(e->ev.instructions, 1);
	assert_string_equal(e->ev.last.mnemonic, "mov");
}

/* The instruction's own operand faults: the #PF is what gets injected. */
static void test_exception_injected(void **state)
{
	struct ev_fx *e = *state;
	static const uint8_t mov_rdi1000_rax[] = { 0x48, 0x89, 0x87,
						   0x00, 0x10, 0x00, 0x00 };
	struct vmmu_access_result r;

	e->ev.regs.gpr[VMMU_RDI] = WP_GVA;      /* rdi + 0x1000 is unmapped */
	r = ev_store(e, mov_rdi1000_rax, sizeof(mov_rdi1000_rax), WP_GVA, 0);
	assert_int_equal(r.status, VMMU_ACCESS_FAULT);
	assert_int_equal(r.fault.vector, X86_VEC_PF);
	assert_int_equal(r.fault.error_code, X86_PFEC_W | X86_PFEC_U);
	assert_int_equal(r.fault.cr2.v, WP_GVA + 0x1000);
	assert_int_equal(e->ev.regs.rip, CODE_GVA);     /* not advanced */
}

/* An instruction the emulator does not implement goes to the VMM. */
static void test_unhandleable_to_vmm(void **state)
{
	struct ev_fx *e = *state;
	static const uint8_t fst[] = { 0xd9, 0x17 };     /* fst dword [rdi] */
	struct vmmu_access_result r;

	e->ev.regs.gpr[VMMU_RDI] = WP_GVA;
	r = ev_store(e, fst, sizeof(fst), WP_GVA, 0);
	assert_int_equal(r.status, VMMU_ACCESS_VMM);
	assert_int_equal(r.reason, VMMU_REASON_UNHANDLED);
	assert_int_equal(e->ev.regs.rip, CODE_GVA);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_emulated, ev_setup, ev_teardown),
		cmocka_unit_test_setup_teardown(test_exception_injected, ev_setup, ev_teardown),
		cmocka_unit_test_setup_teardown(test_unhandleable_to_vmm, ev_setup, ev_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
