#!/usr/bin/env bash
# Install the build into a scratch prefix, then build and run a program
# against the installed libvmmu found through pkg-config alone.
# usage: install_test.sh BUILD_DIR CC [EXTRA_CFLAGS...]
set -euo pipefail
build=$1 cc=$2; shift 2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
cat > "$prefix/consumer.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <vmmu/vmmu.h>
#include <vmmu/hosted.h>

#define CHECK(e) do { int rc_ = (e); if (rc_ < 0) { \
	fprintf(stderr, "%s: %s\n", #e, vmmu_strerror(rc_)); return 1; } } while (0)

/* A VM on the hosted platform: 1 GiB of RAM, written and read back. */
static int guest_memory(void)
{
	static const char msg[] = "hello from guest-physical memory";
	struct vmmu_hosted_arena *arena;
	struct vmmu_platform plat;
	struct vmmu_vm *vm;
	char buf[sizeof(msg)], zero[16], none[16] = { 0 };
	int bad;

	CHECK(vmmu_hosted_create(2ULL << 30, &arena));
	vmmu_hosted_platform(arena, &plat);
	CHECK(vmmu_vm_create(&plat, &vm));
	CHECK(vmmu_vm_add_slot(vm, mk_gpa(0), 1ULL << 30, VMMU_MEM_RAM));
	CHECK(vmmu_vm_write_gpa(vm, mk_gpa(0x1ff0), msg, sizeof(msg)));
	CHECK(vmmu_vm_read_gpa(vm, mk_gpa(0x1ff0), buf, sizeof(buf)));
	CHECK(vmmu_vm_read_gpa(vm, mk_gpa(0x3000), zero, sizeof(zero)));
	bad = memcmp(buf, msg, sizeof(msg)) || memcmp(zero, none, sizeof(zero)) ||
	      vmmu_hosted_pages_in_use(arena) == 0;
	vmmu_vm_destroy(vm);
	bad |= vmmu_hosted_pages_in_use(arena) != 0;
	vmmu_hosted_destroy(arena);
	return bad;
}

int main(void)
{
	/* 4-level paging off: a walk is the identity. */
	struct vmmu_paging_state ps;
	struct vmmu_access acc = { { 0x1234 }, VMMU_ACCESS_READ, 0, false };
	struct vmmu_walk_result res;
	struct vmmu_gmem mem = { 0 };

	memset(&ps, 0, sizeof(ps));
	ps.maxphyaddr = 48;
	vmmu_paging_update(&ps);
	if (vmmu_walk(&ps, &mem, &acc, &res) < 0 || !res.ok || res.gpa.v != 0x1234)
		return 1;
	if (guest_memory())
		return 1;
	puts(vmmu_strerror(VMMU_ENOMEM));
	return 0;
}
C
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
"$cc" -std=c11 "$@" "$prefix/consumer.c" $(pkg-config --cflags --libs vmmu) -o "$prefix/consumer"
out=$("$prefix/consumer")
[ "$out" = "out of host memory" ] || { echo "unexpected output: $out"; exit 1; }
test -x "$prefix/bin/vmmu"
"$prefix/bin/vmmu" --version
