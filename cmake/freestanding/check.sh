#!/usr/bin/env bash
# The freestanding check: compile every source of the freestanding modules
# with -ffreestanding -nostdinc against a shim that offers only <stdint.h>,
# <stddef.h>, <stdbool.h>, <stdatomic.h>, <stdarg.h> (the compiler's own;
# <stdarg.h> for cpuid's policy text, core/ept/npt do not use it) and a
# <string.h> declaring memcpy, memmove, memset and memcmp; link them into
# one relocatable object and require that nothing else is undefined. Run
# for x86-64 and for 32-bit x86 (the 8-byte compare-exchange path).
# usage: check.sh CC OUTDIR SRCDIR -- SOURCES...
set -euo pipefail
cc=$1 out=$2 src=$3; shift 4
gccinc=$("$cc" -print-file-name=include)
shim=$out/shim
mkdir -p "$shim"
for h in stdint.h stddef.h stdbool.h stdatomic.h stdarg.h; do
	printf '#include "%s/%s"\n' "$gccinc" "$h" > "$shim/$h"
done
cat > "$shim/string.h" <<'H'
#ifndef VMMU_SHIM_STRING_H
#define VMMU_SHIM_STRING_H
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#endif
H
allowed='^(memcpy|memmove|memset|memcmp)$'
for arch in 64 32; do
	objs=()
	for f in "$@"; do
		o=$out/m$arch/$(echo "$f" | tr / _).o
		mkdir -p "$out/m$arch"
		"$cc" -m$arch -std=c11 -O2 -Wall -Wextra -Werror -ffreestanding \
			-nostdinc -isystem "$shim" -I "$src/include" -I "$src" \
			-I "$src/$(dirname "$f")" -fno-pic -fno-stack-protector \
			-c "$src/$f" -o "$o"
		objs+=("$o")
	done
	ld -r -m "$([ $arch = 64 ] && echo elf_x86_64 || echo elf_i386)" \
		-o "$out/freestanding-m$arch.o" "${objs[@]}"
	bad=$(nm -u "$out/freestanding-m$arch.o" | awk '{print $2}' |
	      grep -Ev "$allowed" || true)
	if [ -n "$bad" ]; then
		echo "freestanding check (-m$arch): undefined symbols outside the allowed set:" >&2
		echo "$bad" >&2
		exit 1
	fi
done
touch "$out/stamp"
