/* SPDX-License-Identifier: MIT */
/*
 * `vmmu emulate --case FILE|-`: run the shared instruction emulator on one
 * instruction described in JSON, against a sparse memory given as regions
 * (anything else is unmapped and faults with #PF), and print the registers
 * after, the memory writes, or the exception / unhandleable verdict.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"
#include "guest_mem.h"
#include "vmmu/emulate.h"
#include "vmmu/error.h"

const char cmd_emulate_summary[] =
	"emulate one x86 instruction against given registers and memory";

static const char *const gpr_names[VMMU_NR_GPRS] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};
static const char *const seg_names[VMMU_NR_SEGS] = {
	"es_base", "cs_base", "ss_base", "ds_base", "fs_base", "gs_base",
};

#define PF_EC_W (1u << 1)       /* SDM Vol. 3 Figure 4-12: write access */
#define PF_EC_I (1u << 4)       /* instruction fetch */

struct model {
	struct guest_mem mem;   /* the listed bytes; anything else is unmapped */
	json_t *writes;         /* array of {"gva","size","value"|"hex"} */
};

static void usage(FILE *out)
{
	fprintf(out,
"NAME\n"
"    vmmu emulate - emulate one x86 instruction with vmmu's emulator\n"
"\n"
"SYNOPSIS\n"
"    vmmu emulate --case FILE|- [--compact] [--json]\n"
"    vmmu emulate --help\n"
"\n"
"DESCRIPTION\n"
"    Reads one case as JSON, decodes the instruction with capstone and\n"
"    executes it with vmmu's semantics table, exactly as a backend would on\n"
"    a faulting write. Memory consists of the listed regions only; an\n"
"    access to any other byte raises #PF (CR2 = first unmapped byte, error\n"
"    code P=0, W for writes, I/D for fetches, U=0).\n"
"\n"
"    Input fields:\n"
"      mode      16, 32 or 64 (default 64)\n"
"      rip       address of the instruction (\"0x...\")\n"
"      bytes     instruction bytes as hex; if absent they are fetched from\n"
"                memory at CS base + rip\n"
"      regs      rax..r15 and rflags in 64-bit mode; rax..rdi (or eax..edi)\n"
"                and rflags (or eflags) in 16/32-bit mode. Missing ones\n"
"                are 0; rflags bit 1 is forced to 1. Any other name, or\n"
"                one the mode does not have, is an error.\n"
"      fs_base, gs_base, and for 16/32-bit modes es_base, cs_base,\n"
"                ss_base, ds_base (default 0)\n"
"      memory    [{\"gva\": \"0x...\", \"hex\": \"...\"}, ...]; as in vmmu\n"
"                walk, an item has exactly one of hex, qwords or dwords,\n"
"                and a later item overwrites an overlapping earlier one.\n"
"    Unknown keys are errors. The input may be at most 16 MiB and its\n"
"    memory may touch at most 65536 pages.\n"
"\n"
"OPTIONS\n"
"    --case FILE   the case file; - reads standard input\n"
"    --compact     print the result on one line\n"
"    --json        accepted for uniformity; the output is always JSON\n"
"    --help        this text\n"
"\n"
"OUTPUT\n"
"    Always JSON on standard output:\n"
"      {\"ok\": true, \"length\": N, \"mnemonic\": \"...\", \"complete\": B,\n"
"       \"undefined_flags\": \"0x..\", \"regs\": {...after...},\n"
"       \"memory_writes\": [{\"gva\": \"0x..\", \"size\": N, \"value\": \"0x..\"}]}\n"
"      writes wider than 8 bytes (string batches, CMPXCHG16B) carry \"hex\"\n"
"      (bytes in memory order) instead of \"value\"; complete is false when a\n"
"      REP instruction stopped at the per-call iteration limit (RIP not\n"
"      advanced); undefined_flags lists the RFLAGS bits the SDM leaves\n"
"      undefined for the instruction.\n"
"      {\"ok\": false, \"error\": \"unhandleable\", \"mnemonic\": \"...\"}\n"
"      {\"ok\": false, \"exception\": {\"vector\": V, \"error_code\": \"0x..\",\n"
"       \"cr2\": \"0x..\"}, \"regs\": {...}, \"memory_writes\": [...]}\n"
"      (regs after an exception differ from the input only for a REP string\n"
"      instruction that faulted after completing some iterations.)\n"
"\n"
"EXIT STATUS\n"
"    0 a verdict was printed (including exceptions and unhandleable),\n"
"    1 internal error, 2 bad usage or malformed input.\n"
"\n"
"EXAMPLES\n"
"    echo '{\"mode\":64,\"rip\":\"0x1000\",\"bytes\":\"f0480fb137\",\n"
"      \"regs\":{\"rax\":\"0x1\",\"rsi\":\"0x2\",\"rdi\":\"0x2000\"},\n"
"      \"memory\":[{\"gva\":\"0x2000\",\"hex\":\"0100000000000000\"}]}' |\n"
"      vmmu emulate --case -\n");
}

/* Check every byte is mapped; fill *exc with #PF on the first that is not. */
static bool mapped(const struct model *m, uint64_t la, unsigned int len,
		   uint32_t ec, struct vmmu_emu_exception *exc)
{
	uint64_t missing;

	if (guest_mem_listed(&m->mem, la, len, &missing))
		return true;
	vmmu_emu_page_fault(exc, missing, ec);
	return false;
}

static void copy_out(const struct model *m, uint64_t la, uint8_t *buf,
		     unsigned int len)
{
	guest_mem_read(&m->mem, la, buf, len);
}

static int cb_fetch(void *opaque, uint64_t la, void *buf, unsigned int len,
		    struct vmmu_emu_exception *exc)
{
	if (!mapped(opaque, la, len, PF_EC_I, exc))
		return VMMU_EFAULT;
	copy_out(opaque, la, buf, len);
	return 0;
}

static int cb_read(void *opaque, uint64_t la, void *buf, unsigned int len,
		   struct vmmu_emu_exception *exc)
{
	if (!mapped(opaque, la, len, 0, exc))
		return VMMU_EFAULT;
	copy_out(opaque, la, buf, len);
	return 0;
}

static void log_write(struct model *m, uint64_t la, const uint8_t *buf,
		      unsigned int len)
{
	json_t *w = json_object();
	uint64_t v = 0;
	char *hex;
	unsigned int i;

	json_object_set_new(w, "gva", cli_hex(la));
	json_object_set_new(w, "size", json_integer(len));
	if (len <= 8) {
		memcpy(&v, buf, len);
		json_object_set_new(w, "value", cli_hex(v));
	} else {
		hex = malloc(2 * (size_t)len + 1);
		if (hex) {
			for (i = 0; i < len; i++)
				sprintf(hex + 2 * i, "%02x", buf[i]);
			json_object_set_new(w, "hex", json_string(hex));
			free(hex);
		}
	}
	json_array_append_new(m->writes, w);
}

static int cb_write(void *opaque, uint64_t la, const void *buf,
		    unsigned int len, struct vmmu_emu_exception *exc)
{
	struct model *m = opaque;

	if (!mapped(m, la, len, PF_EC_W, exc))
		return VMMU_EFAULT;
	if (guest_mem_write(&m->mem, la, buf, len) < 0)
		return VMMU_EFAULT;
	log_write(m, la, buf, len);
	return 0;
}

static int cb_cmpxchg(void *opaque, uint64_t la, void *old,
		      const void *new_val, unsigned int len,
		      struct vmmu_emu_exception *exc)
{
	uint8_t cur[16];

	if (len > sizeof(cur) || !mapped(opaque, la, len, PF_EC_W, exc))
		return len > sizeof(cur) ? VMMU_EINVAL : VMMU_EFAULT;
	copy_out(opaque, la, cur, len);
	if (!memcmp(cur, old, len) && cb_write(opaque, la, new_val, len, exc))
		return VMMU_EFAULT;
	memcpy(old, cur, len);
	return 0;
}

static const struct vmmu_emu_ops model_ops = {
	.fetch = cb_fetch, .read = cb_read, .write = cb_write,
	.cmpxchg = cb_cmpxchg,
};

static const char *const case_keys[] = { "mode", "rip", "bytes", "regs",
	"memory", "es_base", "cs_base", "ss_base", "ds_base", "fs_base",
	"gs_base", NULL };
/* 32-bit names of the first eight GPRs, accepted in 16- and 32-bit mode. */
static const char *const gpr32_names[8] = {
	"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
};

/* One register key of "regs" against the mode: its index, or -1 with err. */
static int reg_index(const char *key, unsigned int mode, char *err,
		     size_t errlen)
{
	unsigned int i;

	for (i = 0; i < VMMU_NR_GPRS; i++)
		if (!strcmp(key, gpr_names[i])) {
			if (i >= 8 && mode != 64)
				break;
			return (int)i;
		}
	if (i < VMMU_NR_GPRS) {
		snprintf(err, errlen, "regs: \"%s\" does not exist in %u-bit "
			 "mode", key, mode);
		return -1;
	}
	for (i = 0; i < 8; i++)
		if (!strcmp(key, gpr32_names[i])) {
			if (mode == 64)
				break;
			return (int)i;
		}
	if (i < 8)
		snprintf(err, errlen, "regs: \"%s\" is a 32-bit name; in 64-bit "
			 "mode give \"%s\"", key, gpr_names[i]);
	else if (!strcmp(key, "rflags") || (mode != 64 && !strcmp(key, "eflags")))
		return VMMU_NR_GPRS;
	else
		snprintf(err, errlen, "regs: unknown register \"%s\" (rax..%s, "
			 "rflags%s)", key, mode == 64 ? "r15" : "rdi",
			 mode == 64 ? "" : "; eax..edi, eflags");
	return -1;
}

static int parse_gprs(const json_t *r, unsigned int mode,
		      struct vmmu_emu_regs *regs, char *err, size_t errlen)
{
	bool seen[VMMU_NR_GPRS + 1] = { false };
	const char *key;
	json_t *v;
	uint64_t *dst;
	int i;

	regs->rflags = 2;
	json_object_foreach((json_t *)r, key, v) {
		i = reg_index(key, mode, err, errlen);
		if (i < 0)
			return -1;
		if (seen[i]) {
			snprintf(err, errlen, "regs: \"%s\" names a register "
				 "given twice", key);
			return -1;
		}
		seen[i] = true;
		dst = i == VMMU_NR_GPRS ? &regs->rflags : &regs->gpr[i];
		if (cli_get_u64(r, key, true, 0, dst, "regs", err, errlen) < 0)
			return -1;
	}
	regs->rflags |= 2;
	return 0;
}

static int parse_regs(const json_t *root, struct vmmu_emu_regs *regs,
		      unsigned int *mode, char *err, size_t errlen)
{
	const json_t *r = json_object_get(root, "regs");
	uint64_t v;
	unsigned int i;

	memset(regs, 0, sizeof(*regs));
	if (cli_check_keys(root, case_keys, "case", err, errlen) < 0 ||
	    cli_get_u64(root, "mode", false, 64, &v, "case", err, errlen) < 0)
		return -1;
	if (v != 16 && v != 32 && v != 64) {
		snprintf(err, errlen, "case: \"mode\" must be 16, 32 or 64");
		return -1;
	}
	*mode = (unsigned int)v;
	if (cli_get_u64(root, "rip", true, 0, &regs->rip, "case", err,
			errlen) < 0)
		return -1;
	for (i = 0; i < VMMU_NR_SEGS; i++) {
		/* 64-bit mode uses only the FS and GS bases (SDM 3.4.4). */
		if (*mode == 64 && i != 4 && i != 5 &&
		    json_object_get(root, seg_names[i])) {
			snprintf(err, errlen, "case: \"%s\" has no effect in "
				 "64-bit mode (only fs_base and gs_base do)",
				 seg_names[i]);
			return -1;
		}
		if (cli_get_u64(root, seg_names[i], false, 0, &regs->seg_base[i],
				"case", err, errlen) < 0)
			return -1;
	}
	if (r && !json_is_object(r)) {
		snprintf(err, errlen, "case: \"regs\" must be an object");
		return -1;
	}
	regs->rflags = 2;
	return r ? parse_gprs(r, *mode, regs, err, errlen) : 0;
}

static json_t *regs_json(const struct vmmu_emu_regs *regs)
{
	json_t *o = json_object();
	unsigned int i;

	for (i = 0; i < VMMU_NR_GPRS; i++)
		json_object_set_new(o, gpr_names[i], cli_hex(regs->gpr[i]));
	json_object_set_new(o, "rip", cli_hex(regs->rip));
	json_object_set_new(o, "rflags", cli_hex(regs->rflags));
	return o;
}

static json_t *result_json(const struct vmmu_emu_result *res,
			   const struct vmmu_emu_regs *regs, struct model *m)
{
	json_t *o = json_object(), *e;

	switch (res->status) {
	case VMMU_EMU_DONE:
		json_object_set_new(o, "ok", json_true());
		json_object_set_new(o, "length", json_integer(res->length));
		json_object_set_new(o, "mnemonic", json_string(res->mnemonic));
		json_object_set_new(o, "complete", json_boolean(res->complete));
		json_object_set_new(o, "undefined_flags",
				    cli_hex(res->undefined_flags));
		json_object_set_new(o, "regs", regs_json(regs));
		json_object_set_new(o, "memory_writes", json_incref(m->writes));
		break;
	case VMMU_EMU_EXCEPTION:
		e = json_object();
		json_object_set_new(o, "ok", json_false());
		json_object_set_new(e, "vector", json_integer(res->exc.vector));
		if (res->exc.has_error_code)
			json_object_set_new(e, "error_code",
					    cli_hex(res->exc.error_code));
		if (res->exc.vector == VMMU_EXC_PF)
			json_object_set_new(e, "cr2", cli_hex(res->exc.cr2));
		json_object_set_new(o, "exception", e);
		if (res->length)
			json_object_set_new(o, "mnemonic",
					    json_string(res->mnemonic));
		json_object_set_new(o, "regs", regs_json(regs));
		json_object_set_new(o, "memory_writes", json_incref(m->writes));
		break;
	default:
		json_object_set_new(o, "ok", json_false());
		json_object_set_new(o, "error",
				    json_string(res->status == VMMU_EMU_RETRY ?
						"retry" : "unhandleable"));
		json_object_set_new(o, "mnemonic", json_string(res->mnemonic));
		break;
	}
	return o;
}

static int emulate_case(const json_t *root, bool pretty)
{
	struct model m = { 0 };
	struct vmmu_emu_regs regs;
	struct vmmu_emu_result res;
	struct vmmu_emu *emu = NULL;
	const json_t *bytes = json_object_get(root, "bytes");
	uint8_t *code = NULL;
	size_t code_len = 0, i;
	unsigned int mode;
	char err[256];
	int rc = 2;
	json_t *out;

	m.writes = json_array();
	if (guest_mem_init(&m.mem, GUEST_MEM_CASE_PAGES) < 0) {
		fprintf(stderr, "vmmu emulate: out of memory\n");
		rc = 1;
		goto out;
	}
	m.mem.strict = true;
	if (!json_is_object(root)) {
		snprintf(err, sizeof(err), "the case must be a JSON object");
		goto bad;
	}
	if (parse_regs(root, &regs, &mode, err, sizeof(err)) < 0 ||
	    guest_mem_parse(json_object_get(root, "memory"), "gva", &m.mem, err,
			    sizeof(err)) < 0)
		goto bad;
	if (bytes && (!json_is_string(bytes) ||
		      cli_hex_bytes(json_string_value(bytes), &code, &code_len,
				    err, sizeof(err)) < 0 || !code_len)) {
		char why[sizeof(err)];

		if (json_is_string(bytes) && code && !code_len)
			snprintf(err, sizeof(err), "\"bytes\" is empty");
		else if (!json_is_string(bytes))
			snprintf(err, sizeof(err), "\"bytes\" must be a hex string");
		else {
			memcpy(why, err, sizeof(why));
			snprintf(err, sizeof(err), "\"bytes\": %.200s", why);
		}
		goto bad;
	}
	rc = 1;
	if (vmmu_emu_create(&emu) < 0) {
		fprintf(stderr, "vmmu emulate: cannot create the emulator\n");
		goto out;
	}
	if (code)
		i = (size_t)vmmu_emulate_bytes(emu, mode, &regs, code, code_len,
					       &model_ops, &m, &res);
	else
		i = (size_t)vmmu_emulate(emu, mode, &regs, &model_ops, &m, &res);
	if ((int)i < 0) {
		fprintf(stderr, "vmmu emulate: %s\n", vmmu_strerror((int)i));
		goto out;
	}
	out = result_json(&res, &regs, &m);
	rc = cli_print_json(out, pretty) < 0 ? 1 : 0;
	json_decref(out);
	goto out;
bad:
	fprintf(stderr, "vmmu emulate: %s\n", err);
out:
	vmmu_emu_destroy(emu);
	guest_mem_fini(&m.mem);
	free(code);
	json_decref(m.writes);
	return rc;
}

int cmd_emulate(int argc, char **argv)
{
	const char *path = NULL;
	bool pretty = true;
	json_t *root;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--case") && i + 1 < argc) {
			path = argv[++i];
		} else if (!strcmp(argv[i], "--compact")) {
			pretty = false;
		} else if (!strcmp(argv[i], "--json")) {
			;       /* the output is always JSON */
		} else {
			fprintf(stderr, "vmmu emulate: unexpected argument '%s' "
				"(see vmmu emulate --help)\n", argv[i]);
			return 2;
		}
	}
	if (!path) {
		fprintf(stderr, "vmmu emulate: --case FILE|- is required "
			"(see vmmu emulate --help)\n");
		return 2;
	}
	root = cli_load_json("emulate", path);
	if (!root)
		return 2;
	rc = emulate_case(root, pretty);
	json_decref(root);
	return rc;
}
