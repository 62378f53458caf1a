#!/bin/sh
# `vmmu emulate` end to end: verdicts for a few known cases and exit status 2
# on malformed input. Usage: cli_emulate.sh PATH/TO/vmmu
set -u
vmmu=$1
fail=0

check() { # name, json, expected substring
	out=$(printf '%s' "$2" | "$vmmu" emulate --case - --compact 2>&1)
	case $out in
	*"$3"*) ;;
	*) echo "FAIL $1: expected '$3' in: $out"; fail=1 ;;
	esac
}

check_rc2() { # name, json [, text the message must contain]
	msg=$(printf '%s' "$2" | "$vmmu" emulate --case - 2>&1 >/dev/null)
	rc=$?
	[ "$rc" -eq 2 ] || { echo "FAIL $1: exit $rc, expected 2"; fail=1; }
	case $msg in
	*"${3:-}"*) ;;
	*) echo "FAIL $1: expected '$3' in: $msg"; fail=1 ;;
	esac
}

# lock cmpxchg [rdi], rsi succeeding: ZF set, the new value written.
check lock-cmpxchg '{"mode":64,"rip":"0x1000","bytes":"f0480fb137","regs":{"rax":"0x1","rsi":"0x2","rdi":"0x2000"},"memory":[{"gva":"0x2000","hex":"0100000000000000"}]}' \
	'"memory_writes":[{"gva":"0x2000","size":8,"value":"0x2"}]'
check lock-cmpxchg-zf '{"mode":64,"rip":"0x1000","bytes":"f0480fb137","regs":{"rax":"0x1","rsi":"0x2","rdi":"0x2000"},"memory":[{"gva":"0x2000","hex":"0100000000000000"}]}' \
	'"rflags":"0x46"'
# 32-bit PAE: lock cmpxchg8b [esi] with a failing compare loads EDX:EAX.
check cmpxchg8b-32 '{"mode":32,"rip":"0x1000","bytes":"f00fc70e","regs":{"rsi":"0x2000"},"memory":[{"gva":"0x2000","hex":"6350e0fe00000080"}]}' \
	'"rax":"0xfee05063","rcx":"0x0","rdx":"0x80000000"'
# rep stosq into an unmapped page: #PF at the first unmapped byte.
check rep-stosq-pf '{"mode":64,"rip":"0x1000","bytes":"f348ab","regs":{"rcx":"4","rdi":"0x2ff0"},"memory":[{"gva":"0x2000","hex":"'"$(printf '%08192d' 0)"'"}]}' \
	'"cr2":"0x3000"'
check rep-stosq-partial '{"mode":64,"rip":"0x1000","bytes":"f348ab","regs":{"rcx":"4","rdi":"0x2ff0"},"memory":[{"gva":"0x2000","hex":"'"$(printf '%08192d' 0)"'"}]}' \
	'"rcx":"0x2"'
# Fetched from memory when "bytes" is absent.
check fetch '{"mode":64,"rip":"0x1000","regs":{"rdi":"0x2000","rax":"7"},"memory":[{"gva":"0x1000","hex":"f00fc107"},{"gva":"0x2000","hex":"05000000"}]}' \
	'"value":"0xc"'
# lock on mov: #UD; cpuid: unhandleable.
check lock-mov '{"rip":"0x1000","bytes":"f08907"}' '"vector":6'
check cpuid '{"rip":"0x1000","bytes":"0fa2"}' '"error":"unhandleable","mnemonic":"cpuid"'
# GS override in 64-bit mode.
check gs '{"rip":"0x1000","bytes":"6548893c2508000000","gs_base":"0x3000","regs":{"rdi":"0x55"},"memory":[{"gva":"0x3000","hex":"00000000000000000000000000000000"}]}' \
	'{"gva":"0x3008","size":8,"value":"0x55"}'

check_rc2 bad-hex '{"rip":"0x1000","bytes":"zz"}' '"bytes": bad hex'
check_rc2 bad-memory-hex '{"mode":64,"rip":"0x1000","bytes":"90","memory":[{"gva":"0x10","hex":"0g"}]}' 'memory[0]: "hex": bad hex'
check_rc2 bad-mode '{"mode":48,"rip":"0x1000","bytes":"90"}'
check_rc2 no-rip '{"bytes":"90"}'
check_rc2 not-object '[1]'
check_rc2 not-json 'not json'
check_rc2 bad-memory '{"rip":"0x1000","bytes":"90","memory":[{"gva":"0x10"}]}'
# Unknown keys and registers the mode does not have are errors, never 0.
check_rc2 unknown-key '{"rip":"0x1000","bytes":"90","typo":1}' 'unknown key "typo"'
check_rc2 unknown-reg '{"rip":"0x1000","bytes":"90","regs":{"rzz":"1"}}' 'unknown register "rzz"'
check_rc2 eax-in-64 '{"rip":"0x1000","bytes":"90","regs":{"eax":"1"}}' '"eax" is a 32-bit name'
check_rc2 r8-in-32 '{"mode":32,"rip":"0x1000","bytes":"90","regs":{"r8":"1"}}' '"r8" does not exist in 32-bit mode'
check_rc2 twice '{"mode":32,"rip":"0x1000","bytes":"90","regs":{"eax":"1","rax":"2"}}' 'given twice'
check_rc2 ds-in-64 '{"rip":"0x1000","bytes":"90","ds_base":"0x10"}' 'no effect in 64-bit mode'
check_rc2 mem-key '{"rip":"0x1000","bytes":"90","memory":[{"gva":"0x10","hex":"00","x":1}]}' 'memory[0]: unknown key "x"'
check eax-in-32 '{"mode":32,"rip":"0x1000","bytes":"01d8","regs":{"eax":"0x5","ebx":"0x6"}}' '"rax":"0xb"'
# Memory items as in vmmu walk: qwords/dwords, and a later item overwrites
# an overlapping earlier one (lock xadd [rdi], eax: 9 + 7, not 5 + 7).
check overlap-later-wins '{"mode":64,"rip":"0x1000","regs":{"rdi":"0x2000","rax":"7"},"memory":[{"gva":"0x1000","hex":"f00fc107"},{"gva":"0x2000","dwords":["5"]},{"gva":"0x2000","hex":"09"}]}' \
	'"value":"0x10"'
out=$(printf '%s' '{"rip":"0x1000","bytes":"90"}' | "$vmmu" emulate --case - --json)
[ $? -eq 0 ] || { echo "FAIL: --json must be accepted"; fail=1; }
msg=$("$vmmu" emulate --case / 2>&1 >/dev/null)
[ $? -eq 2 ] || { echo "FAIL: a directory must exit 2"; fail=1; }
case $msg in *"is a directory"*) ;; *) echo "FAIL: directory message: $msg"; fail=1 ;; esac
# bench emulator: --repeat out of 1..16 is an error (it used to be clamped
# to 16 silently); --quick is a short smoke run.
for r in 0 17 99 x; do
	msg=$("$vmmu" bench emulator --repeat "$r" 2>&1 >/dev/null)
	[ $? -eq 2 ] || { echo "FAIL: bench emulator --repeat $r must exit 2"; fail=1; }
	case $msg in *"--repeat takes 1..16"*) ;; *) echo "FAIL: --repeat $r: $msg"; fail=1 ;; esac
done
n=$("$vmmu" bench emulator --quick --json 2>/dev/null | grep -c '"native_ns"')
[ "$n" -eq 3 ] || { echo "FAIL: bench emulator --quick gave $n cases"; fail=1; }
"$vmmu" emulate >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: no --case must exit 2"; fail=1; }
"$vmmu" emulate --help | grep -q "EXIT STATUS" || { echo "FAIL: --help"; fail=1; }

[ $fail -eq 0 ] && echo "cli_emulate: all passed"
exit $fail
