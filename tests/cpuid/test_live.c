/* SPDX-License-Identifier: MIT */
/*
 * Live detection on the machine running the tests: it must succeed, agree
 * with the kernel's own view of the CPU (/proc/cpuinfo), explain its
 * decision, and `vmmu detect` must print the same decision (human and
 * JSON) and refuse an override the host cannot run.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "vmmu/detect.h"
#include "vmmu/error.h"

static struct vmmu_host_info host;
static struct vmmu_decision decision;

/* The "flags" and "address sizes" lines of the first CPU. */
static int cpuinfo(char *flags, size_t flen, unsigned *phys)
{
	FILE *fp = fopen("/proc/cpuinfo", "r");
	char line[8192];

	*phys = 0;
	flags[0] = '\0';
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		if (!strncmp(line, "flags", 5) && !flags[0])
			snprintf(flags, flen, " %s", strchr(line, ':') + 1);
		if (!strncmp(line, "address sizes", 13) && !*phys)
			*phys = (unsigned)atoi(strchr(line, ':') + 1);
	}
	fclose(fp);
	flags[strcspn(flags, "\n")] = ' ';
	return flags[0] ? 0 : -1;
}

static bool flag(const char *flags, const char *name)
{
	char pat[64];

	snprintf(pat, sizeof(pat), " %s ", name);
	return strstr(flags, pat) != NULL;
}

static void test_live_matches_kernel(void **state)
{
	char flags[8192], err[256] = "";
	unsigned phys;
	struct vmmu_vm_request r = { .backend = VMMU_BACKEND_AUTO };

	(void)state;
	assert_int_equal(vmmu_detect_live(&host, err, sizeof(err)), 0);
	assert_int_equal(vmmu_decide(&host, &r, &decision), 0);
	if (cpuinfo(flags, sizeof(flags), &phys)) {
		printf("SKIP: /proc/cpuinfo unreadable\n");
		exit(77);
	}
	assert_int_equal(host.feat.vmx, flag(flags, "vmx"));
	assert_int_equal(host.feat.svm, flag(flags, "svm"));
	assert_int_equal(host.feat.hypervisor, flag(flags, "hypervisor"));
	assert_int_equal(host.feat.pdpe1gb, flag(flags, "pdpe1gb"));
	assert_int_equal(host.feat.nx, flag(flags, "nx"));
	assert_int_equal(host.feat.smep, flag(flags, "smep"));
	assert_int_equal(host.feat.smap, flag(flags, "smap"));
	assert_int_equal(host.feat.invpcid, flag(flags, "invpcid"));
	/* The kernel may only lower it (memory-encryption key-ID bits). */
	if (phys)
		assert_true(phys <= host.feat.maxphyaddr &&
			    phys + 16 > host.feat.maxphyaddr);
	assert_true(host.topo.valid && host.topo.pus >= 1);
	assert_true(host.topo.pus <= (int)sysconf(_SC_NPROCESSORS_CONF));
	if (access("/dev/kvm", F_OK) == 0 && host.kvm.present)
		assert_int_equal(host.kvm.api_version, 12);
	printf("live: %s %s family %d model 0x%x -> %s\n",
	       vmmu_vendor_name(host.cpu.vendor), host.cpu.brand,
	       host.cpu.family, host.cpu.model,
	       vmmu_backend_name(decision.backend));
}

static void test_live_explains(void **state)
{
	size_t i;

	(void)state;
	assert_true(decision.n_reasons > 0);
	for (i = 0; i < decision.n_reasons; i++) {
		assert_true(decision.reasons[i].code[0] != '\0');
		assert_true(strlen(decision.reasons[i].text) > 10);
		printf("  why: [%s] %s\n", decision.reasons[i].code,
		       decision.reasons[i].text);
	}
	if (!host.feat.vmx && !host.feat.svm) {
		assert_int_equal(decision.backend, VMMU_BACKEND_SHADOW);
		assert_string_equal(decision.reasons[0].code, "vmx.absent");
		assert_string_equal(decision.reasons[1].code, "svm.absent");
	}
	if (host.kvm.present) {
		bool said = false;

		for (i = 0; i < decision.n_reasons; i++)
			said |= !strcmp(decision.reasons[i].code,
					"kvm.available");
		assert_true(said);
	}
}

/* Run vmmu with args; stdout into out (NUL-terminated); exit status. */
static int run(char *const args[], char *out, size_t outlen)
{
	char path[] = "/tmp/vmmu-live-XXXXXX";
	int fd = mkstemp(path), status;
	pid_t pid;
	ssize_t n;

	assert_true(fd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		if (null >= 0)
			dup2(null, 2);
		execv(VMMU_CLI, args);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	n = pread(fd, out, outlen - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_cli_json(void **state)
{
	static char out[65536];
	char *args[] = { VMMU_CLI, "detect", "--json", NULL };
	json_error_t jerr;
	json_t *o, *cpu, *reasons;

	(void)state;
	assert_int_equal(run(args, out, sizeof(out)), 0);
	o = json_loads(out, 0, &jerr);
	assert_non_null(o);
	cpu = json_object_get(o, "cpu");
	assert_true(json_is_string(json_object_get(cpu, "vendor")));
	assert_int_equal(json_integer_value(json_object_get(cpu, "family")),
			 host.cpu.family);
	assert_int_equal(json_integer_value(json_object_get(cpu, "model")),
			 host.cpu.model);
	assert_true(json_is_integer(json_object_get(cpu, "stepping")));
	assert_true(json_is_string(json_object_get(cpu, "libcpuid_codename")));
	assert_true(json_is_string(json_object_get(cpu, "name")));
	assert_true(json_is_object(json_object_get(o, "features")));
	assert_true(json_is_boolean(json_object_get(json_object_get(o,
		    "features"), "vmx")));
	assert_string_equal(json_string_value(json_object_get(o, "backend")),
			    vmmu_backend_name(decision.backend));
	/* Without --backend the request is "auto" (not "none"). */
	assert_string_equal(json_string_value(json_object_get(json_object_get(o,
			    "request"), "backend")), "auto");
	reasons = json_object_get(o, "reasons");
	assert_int_equal(json_array_size(reasons), decision.n_reasons);
	assert_true(json_is_string(json_object_get(json_array_get(reasons, 0),
						   "code")));
	assert_true(json_is_array(json_object_get(o, "degraded")));
	json_decref(o);
}

/*
 * File names need not be UTF-8; jansson refuses such strings, and a
 * json_pack() with one used to drop the whole "source" and "vmx" keys.
 */
static void test_cli_json_foreign_path(void **state)
{
	static char out[65536];
	static const char dump[] =
		"CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\n"
		"CPUID 00000001: 000906ED-00100800-7FFAFBBF-BFEBFBFF\n"
		"CPUID 00000007: 00000000-00000000-00000000-00000000\n"
		"CPUID 80000000: 80000000-00000000-00000000-00000000\n";
	char dir[] = "/tmp/vmmu-live-XXXXXX", dpath[64], mpath[64], cmd[96];
	char *args[] = { VMMU_CLI, "detect", "--json", "--cpuid-dump", dpath,
			 "--vmx-msrs", mpath, NULL };
	json_error_t jerr;
	json_t *o;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(dpath, sizeof(dpath), "%s/dump\xff.txt", dir);
	snprintf(mpath, sizeof(mpath), "%s/msrs\xfe.txt", dir);
	fp = fopen(dpath, "w");
	assert_non_null(fp);
	fputs(dump, fp);
	fclose(fp);
	fp = fopen(mpath, "w");
	assert_non_null(fp);
	fputs("0x48b=0x0\n", fp);
	fclose(fp);
	assert_int_equal(run(args, out, sizeof(out)), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	o = json_loads(out, 0, &jerr);
	assert_non_null(o);
	assert_true(json_is_string(json_object_get(json_object_get(o,
		    "source"), "path")));
	assert_non_null(strstr(json_string_value(json_object_get(
		    json_object_get(o, "vmx"), "note")), "msrs?.txt"));
	json_decref(o);
}

static void test_cli_human_and_overrides(void **state)
{
	static char out[65536];
	char *human[] = { VMMU_CLI, "detect", NULL };
	char *ept[] = { VMMU_CLI, "detect", "--backend", "ept", NULL };
	char *model[] = { VMMU_CLI, "detect", "--json", "--backend", "npt",
			  "--model-only", NULL };
	char *help[] = { VMMU_CLI, "detect", "--help", NULL };
	char *bad[] = { VMMU_CLI, "detect", "--guest-phys-bits", "99", NULL };
	struct vmmu_vm_request r = { .backend = VMMU_BACKEND_EPT };
	struct vmmu_decision d;
	int lib = vmmu_decide(&host, &r, &d);

	(void)state;
	assert_int_equal(run(human, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "BACKEND    "));
	assert_non_null(strstr(out, vmmu_backend_name(decision.backend)));
	assert_non_null(strstr(out, decision.reasons[0].code));
	/* A forced EPT: accepted exactly when the library accepts it. */
	assert_int_equal(run(ept, out, sizeof(out)), lib == 0 ? 0 : 2);
	if (lib)
		assert_non_null(strstr(out, "REFUSED"));
	assert_int_equal(run(model, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"backend\": \"npt\""));
	assert_non_null(strstr(out, "\"model_only\": true"));
	assert_int_equal(run(help, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "SYNOPSIS"));
	assert_non_null(strstr(out, "EXIT STATUS"));
	assert_non_null(strstr(out, "EXAMPLES"));
	assert_int_equal(run(bad, out, sizeof(out)), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_matches_kernel),
		cmocka_unit_test(test_live_explains),
		cmocka_unit_test(test_cli_json),
		cmocka_unit_test(test_cli_json_foreign_path),
		cmocka_unit_test(test_cli_human_and_overrides),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
