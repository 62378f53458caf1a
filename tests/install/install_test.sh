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
