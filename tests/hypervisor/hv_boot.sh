#!/bin/sh
# SPDX-License-Identifier: MIT
# Boot the vmmu-hv kernel once under QEMU (TCG) or Bochs and check the
# lines it prints on its serial port (docs/hypervisor.md).
#
#   hv_boot.sh qemu|bochs CPU-MODEL KERNEL WORKDIR [EXPECTED-LINE...]
#
# Every EXPECTED-LINE must appear as a whole line of the serial output, and
# so must "hv: end pass". With HV_VMMU set to the vmmu command, the CPUID
# words and VMX MSRs the kernel printed also go to `vmmu detect
# --cpuid-dump --vmx-msrs`, whose decision text (from "request" on) must be
# the one the kernel printed ("hv-decide:" lines) from vmmu's own policy.
# HV_APPEND is the kernel's command line (QEMU -append, GRUB's multiboot
# line): "vmmu.backend=KIND" forces a backend, and `vmmu detect` then gets
# --backend KIND. Exit 0 on success, 1 on a mismatch, 77 (skip) when the
# emulator or, for Bochs, the GRUB rescue-CD tools are missing.
set -u
emu=$1 cpu=$2 kernel=$3 work=$4
shift 4
timeout_s=${HV_TIMEOUT:-60}
append=${HV_APPEND:-}
force=$(printf '%s\n' "$append" | sed -n 's/.*vmmu\.backend=\([a-z]*\).*/\1/p')

skip() { echo "hv_boot: SKIP: $*"; exit 77; }
have() { command -v "$1" >/dev/null 2>&1; }

case $emu in
qemu)
	have qemu-system-x86_64 || skip "qemu-system-x86_64 not installed (Debian qemu-system-x86)" ;;
bochs)
	for t in bochs grub-mkrescue xorriso script; do
		have $t || skip "$t not installed (Debian bochs bochs-term bochsbios vgabios grub-pc-bin grub-common xorriso mtools)"
	done ;;
*)
	echo "hv_boot: unknown emulator $emu" >&2
	exit 2 ;;
esac
[ -f "$kernel" ] || { echo "hv_boot: no kernel $kernel"; exit 1; }
mkdir -p "$work" || exit 1
out=$work/serial-$emu-$cpu.txt
rm -f "$out"
start=$(date +%s.%N)
case $emu in
qemu)
	timeout "$timeout_s" qemu-system-x86_64 -accel tcg -cpu "$cpu" -m 64 \
		-kernel "$kernel" -append "$append" -serial "file:$out" -display none -no-reboot \
		-nodefaults -device isa-debug-exit,iobase=0xf4,iosize=4
	;;
bochs)
	iso=$work/hv-$cpu.iso dir=$work/iso-$cpu rc=$work/bochsrc-$cpu
	rm -rf "$dir" && mkdir -p "$dir/boot/grub" && cp "$kernel" "$dir/boot/hv.elf" || exit 1
	printf 'set timeout=0\nset default=0\nmenuentry vmmu-hv {\n  multiboot /boot/hv.elf %s\n  boot\n}\n' "$append" \
		>"$dir/boot/grub/grub.cfg"
	grub-mkrescue -o "$iso" "$dir" >/dev/null 2>&1 || skip "grub-mkrescue failed (grub-pc-bin, xorriso, mtools installed?)"
	cat >"$rc" <<RC
megs: 64
cpu: model=$cpu, count=1, ips=200000000, reset_on_triple_fault=0
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest
ata0-master: type=cdrom, path=$iso, status=inserted
boot: cdrom
display_library: term
com1: enabled=1, mode=file, dev=$out
log: $work/bochs-$cpu.log
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
mouse: enabled=0
clock: sync=none
RC
	echo c >"$work/bochs-cont"
	# Debian's Bochs has its debugger built in and only the curses display:
	# it needs a terminal (script) and a "c" to start.
	timeout "$timeout_s" script -qec "bochs -q -f '$rc' >/dev/null 2>&1" /dev/null \
		<"$work/bochs-cont" >/dev/null 2>&1
	;;
esac
end=$(date +%s.%N)
[ -f "$out" ] || { echo "hv_boot: no serial output from $emu"; exit 1; }
cat "$out"
echo "hv_boot: $emu $cpu: $(awk "BEGIN { printf \"%.2f\", $end - $start }") s wall"
fail=0
for line in "$@" "hv: end pass"; do
	if ! grep -Fxq -- "$line" "$out"; then
		echo "hv_boot: MISSING: $line"
		fail=1
	fi
done
if [ -n "${HV_VMMU:-}" ]; then
	sed -n 's/^hv-cpuid: //p' "$out" >"$work/cpuid-$cpu.txt"
	sed -n 's/^hv-msr: //p' "$out" >"$work/msrs-$cpu.txt"
	set -- --cpuid-dump "$work/cpuid-$cpu.txt"
	[ -s "$work/msrs-$cpu.txt" ] && set -- "$@" --vmx-msrs "$work/msrs-$cpu.txt"
	[ -n "$force" ] && set -- "$@" --backend "$force"
	# The decision's lines, from "request" on. Only where the MSR values
	# came from differs: the kernel read them (source "msr"), vmmu detect
	# got them in a file ("file", and its [vmx.source] reason names it).
	"$HV_VMMU" detect "$@" | sed -n '/^request /,$p' |
		sed -e 's/(file)$/(msr)/' -e 's/; file)$/; msr)/' \
		    -e '/^  - \[vmx\.source\] VMX capabilities: VMX capability MSRs given in /d' \
		>"$work/decide-host-$cpu.txt"
	sed -n 's/^hv-decide: //p' "$out" >"$work/decide-kernel-$cpu.txt"
	host=$(sed -n 's/^BACKEND *\([a-z]*\).*/\1/p' "$work/decide-host-$cpu.txt")
	echo "hv_boot: vmmu detect $*: backend ${host:-none}; kernel: $(sed -n 's/^hv: decision \([a-z]*\) .*/\1/p' "$out")"
	if [ ! -s "$work/decide-kernel-$cpu.txt" ] ||
	   ! diff -u "$work/decide-host-$cpu.txt" "$work/decide-kernel-$cpu.txt"; then
		echo "hv_boot: MISMATCH: the kernel's decision text is not vmmu detect's"
		fail=1
	else
		echo "hv_boot: decision text identical to vmmu detect's ($(wc -l <"$work/decide-kernel-$cpu.txt") lines)"
	fi
fi
[ $fail -eq 0 ] && echo "hv_boot: $emu $cpu: all expected lines present"
exit $fail
