/* SPDX-License-Identifier: MIT */
/*
 * The KVM host helper: a 64-bit guest on 2 MiB identity pages executes
 * `out` and reports a value computed from a guest memory load. Skips (77)
 * where /dev/kvm is absent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vmmu/vmmu.h"
#include "host/kvm_vcpu.h"

#define PML4 0x2000
#define PDPT 0x3000
#define PD   0x4000
#define GDT  0x5000
#define TSS  0x6000
#define CODE 0x8000

static void test_long_mode_out(void **state)
{
	/* mov rax,[0x9000]; add al,1; out 0x10,al; hlt */
	static const uint8_t code[] = {
		0x48, 0x8b, 0x04, 0x25, 0x00, 0x90, 0x00, 0x00,
		0x04, 0x01, 0xe6, 0x10, 0xf4,
	};
	struct kvmh k;
	struct kvm_regs r;
	uint64_t *pml4, *pdpt, *pd;
	int rc = kvmh_open(&k, 4 << 20);

	(void)state;
	assert_int_equal(rc, 0);
	pml4 = (uint64_t *)(k.mem + PML4);
	pdpt = (uint64_t *)(k.mem + PDPT);
	pd = (uint64_t *)(k.mem + PD);
	pml4[0] = PDPT | 0x7;
	pdpt[0] = PD | 0x7;
	pd[0] = 0x0 | 0x87;     /* 2 MiB page, P|W|U|PS */
	pd[1] = 0x200000 | 0x87;
	k.mem[0x9000] = 0x41;
	memcpy(k.mem + CODE, code, sizeof(code));
	kvmh_write_gdt(&k, GDT, TSS);
	assert_int_equal(kvmh_set_long_mode(&k, 0x80050033, PML4, 0x20, 0x500,
					    GDT, 0, 0xfff, TSS), 0);
	memset(&r, 0, sizeof(r));
	r.rip = CODE;
	r.rsp = 0x7000;
	r.rflags = 0x2;
	assert_int_equal(kvmh_set_regs(&k, &r), 0);
	rc = kvmh_run(&k);
	assert_int_equal(rc, KVM_EXIT_IO);
	assert_int_equal(k.run->io.port, 0x10);
	assert_int_equal(k.run->io.direction, KVM_EXIT_IO_OUT);
	assert_int_equal(*((uint8_t *)k.run + k.run->io.data_offset), 0x42);
	kvmh_close(&k);
}

int main(void)
{
	struct kvmh probe;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_long_mode_out),
	};

	if (kvmh_open(&probe, 1 << 20) < 0) {
		printf("SKIP: KVM host tests need /dev/kvm (%s)\n", probe.why);
		return 77;
	}
	kvmh_close(&probe);
	return cmocka_run_group_tests_name("host", tests, NULL, NULL);
}
