#!/usr/bin/env python3
# `vmmu walk` with "backend": "shadow": every case of a corpus runs through
# plain `vmmu walk --trace` (the reference) and through the shadow backend
# twice, with the default identity p2m and with a p2m that moves every
# page to another host address and turns some final pages into MMIO, ROM
# or holes; the shadow's guest-visible outcome must be the plain walk
# composed with the p2m, case by case and access by access, and its A/D
# updates the plain walk's. The corpus: examples/walk-*.json (not the
# nested ones), the conformance generator's cases (`conform --dump-case`,
# when its emulator runs here) and walk_nested.py's random guests. Then
# malformed input: exit 2 with a message naming the problem.
# Usage: walk_shadow.py VMMU EXAMPLES_DIR [CONFORM] [--cases N] [--seed S]
#        [--conform-cases N]
import json
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import walk_nested as wn  # noqa: E402  (its generator; reads argv[1] too)

PG = 4096
REGION = 2 << 20
IDENTITY_BITS = 46
vmmu = sys.argv[1]
examples_dir = sys.argv[2]
conform = sys.argv[3] if len(sys.argv) > 3 and not sys.argv[3].startswith("--") else None
fails = 0
stats = {"cases": 0, "accesses": 0, "translations": 0, "faults": 0,
         "mmio": 0, "hole": 0, "rom": 0, "fills": 0, "emulated_writes": 0,
         "exits": 0, "writes": 0}


def fail(msg):
    global fails
    fails += 1
    if fails <= 20:
        print("FAIL:", msg)


def opt(name, dflt):
    a = sys.argv
    return int(a[a.index(name) + 1]) if name in a else dflt


def run(cases, trace=False):
    args = [vmmu, "walk", "--case", "-"] + (["--trace"] if trace else [])
    p = subprocess.run(args, input=json.dumps(cases), capture_output=True,
                       text=True)
    return p.returncode, (json.loads(p.stdout) if p.returncode == 0 else None), p.stderr


# ---- the corpus ----

def example_cases():
    out = []
    for name in sorted(os.listdir(examples_dir)):
        if not name.startswith("walk-") or not name.endswith(".json"):
            continue
        c = json.load(open(os.path.join(examples_dir, name)))
        for one in c if isinstance(c, list) else [c]:
            if "nested" not in one:
                out.append(one)
    return out


def conform_cases(n):
    if not conform:
        print("note: no conform binary given: conformance cases not used")
        return []
    out = []
    for mode in ("2level", "pae", "4level", "5level"):
        for i in range(n):
            p = subprocess.run([conform, "--mode", mode, "--dump-case", str(i)],
                               capture_output=True, text=True)
            if p.returncode == 77 or (p.returncode == 2 and i == 0):
                print("note: conformance cases not used: %s" % p.stderr.strip())
                return out
            if p.returncode:
                fail("conform --dump-case %s %d exited %d" % (mode, i, p.returncode))
                continue
            out.append(json.loads(p.stdout))
    return out


def random_cases(n, rng):
    out = []
    for _ in range(n):
        mode = rng.choice(list(wn.MODES))
        paging, g, accesses = wn.rand_guest(rng, mode)
        out.append({"paging": paging, "memory": g.items("gpa"),
                    "accesses": accesses})
    return out


# ---- p2m and the composition ----

def num(v):
    return int(v, 0) if isinstance(v, str) else int(v)


def listed_pages(case):
    pages = set()
    for it in case.get("memory", []):
        a = num(it["gpa"])
        n = len(it["hex"]) // 2 if "hex" in it else \
            8 * len(it.get("qwords", [])) or 4 * len(it.get("dwords", []))
        for p in range(a & ~(PG - 1), a + max(n, 1), PG):
            pages.add(p)
    return pages


def table_pages(case, plain):
    """Pages holding what the walks read: listed bytes, entries, PDPTEs."""
    pages = listed_pages(case)
    pages.add(num(case["paging"]["cr3"]) & ~(PG - 1))
    for r in plain["results"]:
        for e in r.get("entries", []):
            pages.add(num(e["gpa"]) & ~(PG - 1))
    return pages


def moved_p2m(case, plain, rng):
    """Every region of the tables moved in host memory; some final pages
    (not tables) MMIO or holes; everything else a hole. (p2m, kinds)."""
    tables = table_pages(case, plain)
    finals = {num(r["gpa"]) & ~(PG - 1) for r in plain["results"] if r["ok"]}
    special = {}
    for p in sorted(finals - tables):
        pick = rng.random()
        if pick < 0.25:
            special[p] = "mmio"
        elif pick < 0.5:
            special[p] = "hole"
        elif pick < 0.6:
            special[p] = "rom"
    regions = sorted({p & ~(REGION - 1) for p in tables | finals})
    if len(regions) + 2 * len(special) > 60:
        return None
    bases = rng.sample(range(1 << 12, 1 << 20), len(regions))   # 2 MiB slots
    maxphy = num(case["paging"]["maxphyaddr"])
    p2m = []
    for reg, b in zip(regions, bases):
        hbase = b * REGION
        start = reg
        end = min(reg + REGION, 1 << maxphy)
        for sp in sorted(s for s in special if reg <= s < end):
            if sp > start:
                p2m.append({"gpa": hex(start), "hpa": hex(hbase + start - reg),
                            "size": hex(sp - start), "type": "ram"})
            if special[sp] == "mmio":
                p2m.append({"gpa": hex(sp), "size": hex(PG), "type": "mmio"})
            elif special[sp] == "rom":
                p2m.append({"gpa": hex(sp), "hpa": hex(hbase + sp - reg),
                            "size": hex(PG), "type": "rom"})
            start = sp + PG
        if end > start:
            p2m.append({"gpa": hex(start), "hpa": hex(hbase + start - reg),
                        "size": hex(end - start), "type": "ram"})
    rng.shuffle(p2m)
    return p2m


def identity_p2m(case):
    maxphy = num(case["paging"]["maxphyaddr"])
    return [{"gpa": "0x0", "hpa": "0x0", "type": "ram",
             "size": hex(1 << min(maxphy, IDENTITY_BITS))}]


def p2m_at(p2m, gpa):
    for e in p2m:
        g, s = num(e["gpa"]), num(e["size"])
        if g <= gpa < g + s:
            return e["type"], (num(e["hpa"]) + gpa - g if "hpa" in e else None)
    return "hole", None


def expect(r, acc, p2m):
    """The plain result r composed with p2m: what the guest sees."""
    for e in r.get("entries", []):
        t, _ = p2m_at(p2m, num(e["gpa"]))
        if t not in ("ram", "rom"):
            return {"gva": r["gva"], "ok": False, "exit": t, "gpa": e["gpa"]}, False
    if not r["ok"]:
        return {k: r[k] for k in ("gva", "ok", "vector", "error_code", "cr2") if k in r}, True
    gpa = num(r["gpa"])
    t, hpa = p2m_at(p2m, gpa)
    if t == "ram" or (t == "rom" and acc["access"] != "write"):
        return {"gva": r["gva"], "ok": True, "gpa": r["gpa"], "hpa": hex(hpa)}, True
    return {"gva": r["gva"], "ok": False, "exit": t, "gpa": r["gpa"]}, True


def final_values(writes):
    return {num(w["gpa"]): num(w["value"]) for w in writes}


def compare(i, case, plain, shadow, p2m, label):
    stats["cases"] += 1
    ad_same = True
    for j, (r, s) in enumerate(zip(plain["results"], shadow["results"])):
        want, walked = expect(r, case["accesses"][j], p2m)
        ad_same = ad_same and walked
        s = {k: (hex(num(v)) if k in ("gva", "gpa", "hpa", "error_code", "cr2")
                 else v) for k, v in s.items()}
        want = {k: (hex(num(v)) if k in ("gva", "gpa", "hpa", "error_code", "cr2")
                    else v) for k, v in want.items()}
        stats["accesses"] += 1
        if s.get("ok"):
            stats["translations"] += 1
        elif "vector" in s:
            stats["faults"] += 1
        else:
            stats[s.get("exit", "other")] = stats.get(s.get("exit", "other"), 0) + 1
        if s != want:
            fail("%s case %d access %d: shadow %s, plain composed with the "
                 "p2m %s" % (label, i, j, s, want))
            return
    if len(plain["results"]) != len(shadow["results"]):
        fail("%s case %d: %d results, plain %d" % (label, i, len(shadow["results"]),
                                                     len(plain["results"])))
    # A/D updates: the same entries end with the same values (a walk
    # whose tables leave RAM has none in the shadow: not compared then).
    if ad_same and final_values(plain["memory_writes"]) != \
            final_values(shadow["memory_writes"]):
        fail("%s case %d: A/D updates %s, plain %s" % (
            label, i, shadow["memory_writes"], plain["memory_writes"]))
    stats["writes"] += len(shadow["memory_writes"])
    for k in ("fills", "emulated_writes", "exits"):
        stats[k] += shadow["shadow"][k]


def run_corpus(name, cases, rng):
    if not cases:
        return
    rc, plain, err = run(cases, trace=True)
    if rc:
        fail("%s: plain vmmu walk exited %d: %s" % (name, rc, err))
        return
    ident = [dict(c, backend="shadow") for c in cases]
    moved, used = [], []
    for i, c in enumerate(cases):
        p2m = moved_p2m(c, plain[i], rng)
        if p2m is not None:
            moved.append(dict(c, backend="shadow", p2m=p2m))
            used.append(i)
    for label, batch, idx in (("identity", ident, list(range(len(cases)))),
                              ("moved", moved, used)):
        rc, out, err = run(batch)
        if rc:
            fail("%s %s: vmmu walk --backend shadow exited %d: %s" % (name, label, rc, err))
            continue
        for k, i in enumerate(idx):
            p2m = batch[k].get("p2m") or identity_p2m(cases[i])
            compare(i, cases[i], plain[i], out[k], p2m, "%s %s" % (name, label))
    print("%s: %d cases, %d with a moved p2m" % (name, len(cases), len(moved)))


# ---- malformed input ----

BASE = {"paging": {"cr0": "0x80010011", "cr3": "0x1000", "cr4": "0x20",
                   "efer": "0x500", "maxphyaddr": 46},
        "memory": [{"gpa": "0x1000", "qwords": ["0x2003"]}],
        "accesses": [{"gva": "0x0", "access": "read"}]}
RAM = {"gpa": "0x0", "hpa": "0x100000", "size": "0x10000", "type": "ram"}


def bad_inputs():
    bad = [
        ({"backend": "kvm"}, [], "unknown \"backend\" \"kvm\""),
        ({"backend": 5}, [], "unknown \"backend\""),
        ({"p2m": [RAM]}, [], "needs \"backend\""),
        ({"backend": "shadow", "p2m": {}}, [], "must be an array"),
        ({"backend": "shadow", "p2m": [dict(RAM, gpa="0x800")]}, [], "multiples of 4 KiB"),
        ({"backend": "shadow", "p2m": [dict(RAM, size="0x0")]}, [], "size not 0"),
        ({"backend": "shadow", "p2m": [dict(RAM, type="disk")]}, [], "\"type\" must be"),
        ({"backend": "shadow", "p2m": [dict(RAM, colour="red")]}, [], "colour"),
        ({"backend": "shadow", "p2m": [{"gpa": "0x0", "size": "0x1000", "type": "ram"}]},
         [], "hpa"),
        ({"backend": "shadow", "p2m": [RAM, dict(RAM, gpa="0x8000", hpa="0x900000")]},
         [], "guest-physical"),
        ({"backend": "shadow", "p2m": [RAM, dict(RAM, gpa="0x100000", hpa="0x108000")]},
         [], "host-physical"),
        ({"backend": "shadow", "p2m": [dict(RAM, gpa="0x3ffffffff000")]}, [], "MAXPHYADDR"),
        ({"backend": "shadow", "p2m": [{"gpa": "0x0", "hpa": "0x0", "size": "0x1000",
                                         "type": "mmio"}]}, [], "drop \"hpa\""),
        ({"backend": "shadow", "p2m": [dict(RAM, gpa="0x10000")]}, [],
         "memory at gpa 0x1000 is not RAM or ROM"),
        ({"backend": "shadow", "nested": {"type": "npt", "ncr3": "0x0"},
          "memory": []}, [], "do not go together"),
        ({"backend": "shadow"}, ["--trace"], "--trace is not available"),
    ]
    for extra, args, msg in bad:
        case = dict(BASE, **extra)
        p = subprocess.run([vmmu, "walk", "--case", "-"] + args,
                           input=json.dumps(case), capture_output=True, text=True)
        if p.returncode != 2 or msg not in p.stderr:
            fail("bad input %s: exit %d, stderr %r (want 2 and %r)" % (
                extra, p.returncode, p.stderr.strip(), msg))
    # A good case with an explicit p2m runs (exit 0), at the moved hpa;
    # gva 0x1000 maps the page table itself: the write to it is emulated.
    case = dict(BASE, backend="shadow",
                p2m=[RAM], memory=[{"gpa": "0x1000", "qwords": ["0x2007"]},
                                   {"gpa": "0x2000", "qwords": ["0x3007"]},
                                   {"gpa": "0x3000", "qwords": ["0x4007"]},
                                   {"gpa": "0x4000", "qwords": ["0x5007", "0x4007"]}],
                accesses=[{"gva": "0x0", "access": "read"},
                          {"gva": "0x1008", "access": "write"}])
    rc, out, err = run(case)
    want = [{"gva": "0x0", "ok": True, "gpa": "0x5000", "hpa": "0x105000"},
            {"gva": "0x1008", "ok": True, "gpa": "0x4008", "hpa": "0x104008"}]
    if rc or out["results"] != want or out["shadow"]["emulated_writes"] != 1:
        fail("hand case: exit %d, %s %s" % (rc, out, err))


def main():
    rng = random.Random(opt("--seed", 1))
    run_corpus("examples", example_cases(), rng)
    run_corpus("conformance", conform_cases(opt("--conform-cases", 12)), rng)
    run_corpus("random", random_cases(opt("--cases", 300), rng), rng)
    bad_inputs()
    print("compared: %s" % json.dumps(stats))
    if min(stats[k] for k in ("fills", "translations", "faults", "mmio", "hole",
                                "rom")) == 0:
        fail("the corpus exercised too little: %s" % stats)
    if fails:
        print("%d failures" % fails)
        sys.exit(1)
    print("walk_shadow: all passed")


if __name__ == "__main__":
    main()
