/* SPDX-License-Identifier: MIT */
/*
 * The oracle's guest code, copied once to a supervisor page and once to a
 * user page. Position-independent except for the fixed addresses of the
 * report area, addressed RIP-relative: the harness may sit at any linear
 * address.
 *
 * setup (CPL 0, RSI = block):  performs the block's paging-structure writes
 *   as ordinary guest stores (so that a shadow-paging KVM notices them),
 *   reloads CR3 (SDM Vol. 3A 4.10.4.1: flushes non-global translations),
 *   then IRETQ to the access stub with the CS/SS/RFLAGS/RSP of the block.
 * access stubs (RDI = address, RCX = 0):  the access, then DIV RCX, whose
 *   #DE says "the access completed". A fetch jumps to the address, where the
 *   host put "mov eax, imm32; ud2": #UD says the fetch completed and EAX
 *   tells which guest-physical page was fetched.
 * exception stubs (one per vector, 16 bytes each):  push a zero error code
 *   where the CPU pushes none, push the vector, store RAX, vector, error
 *   code, RIP, CS, CR2, RFLAGS in the report area and `out` to the report
 *   port (always at CPL 0: an `out` at CPL 3 #GPs under this KVM).
 *
 * Block layout: +0 number of writes, +8 RIP, +16 CS, +24 RFLAGS, +32 RSP,
 * +40 SS, +48 RDI, +56 RAX, +64 RDX (LDT selector), +128 (gva, value) pairs.
 * Report layout: +0 RAX, +8 vector, +16 error code, +24 RIP, +32 CS,
 * +40 CR2, +48 RFLAGS.
 */
#include "oracle.h"

#define ORC_STR_(x) #x
#define ORC_STR(x) ORC_STR_(x)

__asm__(
	".pushsection .rodata\n"
	".balign 64\n"
	".globl orc_guest_blob\n"
	".globl orc_guest_blob_end\n"
	".intel_syntax noprefix\n"
	"orc_guest_blob:\n"
	/* The report area, at a fixed distance below the supervisor copy. */
	".set orc_g_report, orc_guest_blob - (" ORC_STR(ORC_SCODE_OFF) " - "
	ORC_STR(ORC_REPORT_OFF) ")\n"
	/* Entry-offset table, read by oracle_kvm.c (ORC_OFF_*). */
	".quad orc_g_setup - orc_guest_blob\n"
	".quad orc_g_vectors - orc_guest_blob\n"
	".quad orc_g_read - orc_guest_blob\n"
	".quad orc_g_write - orc_guest_blob\n"
	".quad orc_g_fetch - orc_guest_blob\n"
	".quad orc_g_ldt - orc_guest_blob\n"
	".quad orc_g_read_done - orc_guest_blob\n"
	".quad orc_g_write_done - orc_guest_blob\n"
	".quad orc_g_fetch - orc_guest_blob\n"
	".quad orc_g_ldt_done - orc_guest_blob\n"
	".balign 16\n"
	"orc_g_setup:\n"
	"  mov rcx, [rsi]\n"
	"  lea rbx, [rsi + 128]\n"
	"1: test rcx, rcx\n"
	"  jz 2f\n"
	"  mov rdi, [rbx]\n"
	"  mov rax, [rbx + 8]\n"
	"  mov [rdi], rax\n"
	"  add rbx, 16\n"
	"  dec rcx\n"
	"  jmp 1b\n"
	"2: mov rax, cr3\n"
	"  mov cr3, rax\n"
	"  push qword ptr [rsi + 40]\n"
	"  push qword ptr [rsi + 32]\n"
	"  push qword ptr [rsi + 24]\n"
	"  push qword ptr [rsi + 16]\n"
	"  push qword ptr [rsi + 8]\n"
	"  mov rdi, [rsi + 48]\n"
	"  mov rax, [rsi + 56]\n"
	"  mov rdx, [rsi + 64]\n"
	"  xor ecx, ecx\n"
	"  iretq\n"
	"orc_g_read:\n"
	"  mov rax, [rdi]\n"
	"orc_g_read_done:\n"
	"  div rcx\n"
	"orc_g_write:\n"
	"  mov [rdi], rax\n"
	"orc_g_write_done:\n"
	"  div rcx\n"
	"orc_g_fetch:\n"
	"  jmp rdi\n"
	"orc_g_ldt:\n"
	"  mov es, dx\n"
	"orc_g_ldt_done:\n"
	"  div rcx\n"
	".balign 16\n"
	"orc_g_vectors:\n"
	".irp v,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,"
	"23,24,25,26,27,28,29,30,31\n"
	"  .balign 16\n"
	"  .if (\\v == 8) || (\\v == 10) || (\\v == 11) || (\\v == 12) || "
	"(\\v == 13) || (\\v == 14) || (\\v == 17) || (\\v == 21) || "
	"(\\v == 29) || (\\v == 30)\n"
	"  .else\n"
	"  push 0\n"
	"  .endif\n"
	"  push \\v\n"
	"  jmp orc_g_common\n"
	".endr\n"
	".balign 16\n"
	"orc_g_common:\n"
	"  mov qword ptr [rip + orc_g_report], rax\n"
	"  mov rax, [rsp]\n"
	"  mov qword ptr [rip + orc_g_report + 8], rax\n"
	"  mov rax, [rsp + 8]\n"
	"  mov qword ptr [rip + orc_g_report + 16], rax\n"
	"  mov rax, [rsp + 16]\n"
	"  mov qword ptr [rip + orc_g_report + 24], rax\n"
	"  mov rax, [rsp + 24]\n"
	"  mov qword ptr [rip + orc_g_report + 32], rax\n"
	"  mov rax, cr2\n"
	"  mov qword ptr [rip + orc_g_report + 40], rax\n"
	"  mov rax, [rsp + 32]\n"
	"  mov qword ptr [rip + orc_g_report + 48], rax\n"
	"  mov dx, " ORC_STR(ORC_REPORT_PORT) "\n"
	"  out dx, al\n"
	"3: hlt\n"
	"  jmp 3b\n"
	"orc_guest_blob_end:\n"
	".att_syntax prefix\n"
	".popsection\n");
