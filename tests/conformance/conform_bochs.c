/* SPDX-License-Identifier: MIT */
/*
 * Running a batch in Bochs. Bochs cannot load a multiboot kernel itself:
 * the kernel and the batch go on a GRUB rescue CD (grub-mkrescue), booted
 * with port_e9_hack on, and the kernel's 0x8900 "Shutdown" ends the run.
 * Debian's Bochs is built with its debugger and only the curses (term)
 * display, so it runs under script(1) for a terminal and reads the
 * debugger's "c" (continue) from a file on standard input; the port 0xe9
 * text arrives on its standard output.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conform.h"

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int make_iso(const struct conf_emulator *em, const char *batch,
		    const char *dir, const char *iso)
{
	char cmd[8192], path[1100];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s/boot/grub' && "
		 "cp '%s' '%s/boot/k.elf' && cp '%s' '%s/boot/cases.bin'",
		 dir, dir, em->kernel, dir, batch, dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/boot/grub/grub.cfg", dir);
	if (write_text(path, "set timeout=0\nset default=0\nmenuentry conform {\n"
		       "  multiboot /boot/k.elf\n  module /boot/cases.bin\n  boot\n}\n"))
		return -1;
	snprintf(cmd, sizeof(cmd), "grub-mkrescue -o '%s' '%s' >/dev/null 2>&1", iso, dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int write_bochsrc(const struct conf_emulator *em, const char *rc,
			 const char *iso, const char *log)
{
	FILE *f = fopen(rc, "w");

	if (!f)
		return -1;
	fprintf(f, "megs: 2048\n"
		"cpu: model=%s, count=1, ips=200000000, reset_on_triple_fault=0\n"
		"romimage: file=/usr/share/bochs/BIOS-bochs-latest\n"
		"vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest\n"
		"ata0-master: type=cdrom, path=%s, status=inserted\n"
		"boot: cdrom\n"
		"display_library: term\n"
		"port_e9_hack: enabled=1\n"
		"log: %s\n"
		"panic: action=fatal\nerror: action=report\ninfo: action=ignore\n"
		"debug: action=ignore\nmouse: enabled=0\nclock: sync=none\n",
		em->bochs_cpu, iso, log);
	return fclose(f);
}

int conf_run_bochs(const struct conf_emulator *em, const char *batch,
		   const char *out)
{
	char dir[1024], iso[1024], rc[1024], log[1024], cont[1024], cmd[8192];
	int pid = (int)getpid(), status;

	snprintf(dir, sizeof(dir), "%s/bochs-iso-%d", em->workdir, pid);
	snprintf(iso, sizeof(iso), "%s/bochs-%d.iso", em->workdir, pid);
	snprintf(rc, sizeof(rc), "%s/bochsrc-%d", em->workdir, pid);
	snprintf(log, sizeof(log), "%s/bochs-%d.log", em->workdir, pid);
	if (make_iso(em, batch, dir, iso)) {
		fprintf(stderr, "conform: grub-mkrescue failed (grub-pc-bin, xorriso, "
			"mtools installed?)\n");
		return -1;
	}
	if (write_bochsrc(em, rc, iso, log))
		return -1;
	snprintf(cont, sizeof(cont), "%s/bochs-cont-%d", em->workdir, pid);
	if (write_text(cont, "c\n"))   /* the debugger's "continue" */
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "timeout %u script -qec \"%s -q -f '%s' >'%s' 2>/dev/null\" "
		 "/dev/null <'%s' >/dev/null 2>&1",
		 em->timeout_s, em->bochs, rc, out, cont);
	status = system(cmd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' '%s' '%s' '%s'", dir, iso, rc,
		 log, cont);
	if (system(cmd) != 0)
		fprintf(stderr, "conform: could not remove %s\n", dir);
	if (status == -1 || (WIFEXITED(status) && WEXITSTATUS(status) == 127))
		return -1;
	return 0;
}
