#!/usr/bin/env python3
# `vmmu walk` with "nested" (EPT and NPT):
#  - hand-built cases whose exits follow SDM Vol. 3C Table 28-7 (exit
#    qualification for EPT violations) and 29.3.3.1 (misconfigurations),
#    APM Vol. 2 15.25.6 (#NPF EXITINFO1/2) and the literal EXITINFO1 values
#    of kvm-unit-tests' svm_npt tests;
#  - a randomized cross-check: the nested walk of a random guest equals
#    the plain walk of the same guest composed with the nested translation
#    (a random permutation of 4 KiB frames, or the identity with large
#    nested leaves), with the reference count of a cold 2-D walk;
#  - malformed "nested" objects: exit 2 with a message naming the field.
# Usage: walk_nested.py VMMU [--cases N] [--seed S]
import json
import random
import subprocess
import sys

P, RW, US, PWT, A, D, PS = 1, 2, 4, 8, 0x20, 0x40, 0x80
NX = 1 << 63
EPT_RWX, EPT_WB, EPT_PS, EPT_A, EPT_D = 7, 6 << 3, 0x80, 0x100, 0x200
PG = 4096

vmmu = sys.argv[1] if len(sys.argv) > 1 else "vmmu"
fails = 0


def fail(msg):
    global fails
    fails += 1
    print("FAIL:", msg)


def run(case, trace=False):
    """Run vmmu walk on case (an object or an array); (rc, output, stderr)."""
    args = [vmmu, "walk", "--case", "-"] + (["--trace"] if trace else [])
    p = subprocess.run(args, input=json.dumps(case), capture_output=True,
                       text=True)
    out = json.loads(p.stdout) if p.returncode == 0 else None
    return p.returncode, out, p.stderr


def h(v):
    return "0x%x" % v


class Mem:
    """Sparse memory as 8-byte words, emitted as vmmu walk memory items."""

    def __init__(self):
        self.w = {}

    def put(self, addr, v, size=8):
        word = addr & ~7
        if size == 8:
            self.w[word] = v
        else:
            sh = (addr & 4) * 8
            old = self.w.get(word, 0)
            self.w[word] = (old & ~(0xffffffff << sh)) | (v << sh)

    def get(self, addr, size=8):
        v = self.w.get(addr & ~7, 0)
        return v if size == 8 else (v >> ((addr & 4) * 8)) & 0xffffffff

    def items(self, key):
        return [{key: h(a), "qwords": [h(v)]} for a, v in sorted(self.w.items())]


def level_shift(level):
    return 12 + 9 * (level - 1)


def index(addr, level):
    return (addr >> level_shift(level)) & 511


class Nested:
    """EPT or NPT tables in host memory hm, table pages from alloc()."""

    def __init__(self, kind, hm, alloc, levels=4):
        self.kind, self.hm, self.alloc, self.levels = kind, hm, alloc, levels
        self.root = alloc()
        self.tables = {self.root}

    def nonleaf(self, table):
        return table | (EPT_RWX if self.kind == "ept" else P | RW | US)

    def leaf(self, hpa, level):
        big = EPT_PS if level > 1 else 0
        if self.kind == "ept":
            return hpa | EPT_RWX | EPT_WB | big
        return hpa | P | RW | US | (PS if level > 1 else 0)

    def map(self, gpa, hpa, level=1):
        """Map the page (4 KiB, 2 MiB at level 2, 1 GiB at 3) gpa -> hpa."""
        table = self.root
        for lv in range(self.levels, level, -1):
            ea = table + index(gpa, lv) * 8
            e = self.hm.get(ea)
            if not e:
                t = self.alloc()
                self.tables.add(t)
                self.hm.put(ea, self.nonleaf(t))
                e = self.hm.get(ea)
            table = e & 0x000ffffffffff000
        self.hm.put(table + index(gpa, level) * 8, self.leaf(hpa, level))

    def entry(self, gpa, level):
        """Host address of the entry at level on gpa's path."""
        table = self.root
        for lv in range(self.levels, level, -1):
            table = self.hm.get(table + index(gpa, lv) * 8) & 0x000ffffffffff000
        return table + index(gpa, level) * 8

    def spec(self, **kw):
        if self.kind == "ept":
            d = {"type": "ept", "eptp": h(self.root | 6 | (self.levels - 1) << 3)}
        else:
            d = {"type": "npt", "ncr3": h(self.root), "levels": self.levels}
        d.update(kw)
        return d


def frame_allocator(start):
    nxt = [start]

    def alloc():
        nxt[0] += PG
        return nxt[0] - PG
    return alloc


def nested_case(paging, gmem, accesses, frames, nt, nspec=None, leaves=True):
    """The nested case: guest memory moved to frames[page], tables nt
    (mapping frames with 4 KiB leaves unless leaves is False)."""
    for page, hpa in frames.items() if leaves else ():
        nt.map(page, hpa)
    hm = nt.hm
    for a, v in gmem.w.items():
        hm.put(frames[a & ~(PG - 1)] + (a & (PG - 1)), v)
    return {"paging": paging, "nested": nspec or nt.spec(),
            "memory": hm.items("hpa"), "accesses": accesses}


# ---- hand-built cases: a 4-level guest, gva 0x401123 ----

PG4 = {"cr0": "0x80010011", "cr3": "0x1000", "cr4": "0x20",
       "efer": "0xd00", "maxphyaddr": 46}
GVA = 0x401123      # PML4[0] PDPT[0] PD[2] PT[1]
GTABLE = {4: 0x1000, 3: 0x2000, 2: 0x3000, 1: 0x4000}
GDATA = 0x5000
# gpa page -> hpa page: a permutation, nothing at its own address
FRAMES = {0x1000: 0x9000, 0x2000: 0x13000, 0x3000: 0x7000,
          0x4000: 0x21000, 0x5000: 0x30000}


def guest_entry(level):
    return GTABLE[level] + index(GVA, level) * 8


def hand_guest(ad_bits=0):
    g = Mem()
    for lv in (4, 3, 2):
        g.put(guest_entry(lv), GTABLE[lv - 1] | P | RW | US | (ad_bits & A))
    g.put(guest_entry(1), GDATA | P | RW | US | ad_bits)
    return g


def hand(kind, tweak=None, access="read", ad=None, levels=4, cpl=0,
         ad_bits=0):
    """Run one access of GVA; tweak(nt) edits the nested tables first."""
    nt = Nested(kind, Mem(), frame_allocator(0x100000), levels)
    spec = nt.spec(ad=ad) if ad is not None else nt.spec()
    case = nested_case(PG4, hand_guest(ad_bits),
                       [{"gva": h(GVA), "access": access, "cpl": cpl}],
                       FRAMES, nt, spec)
    if tweak:
        tweak(nt)
        case["memory"] = nt.hm.items("hpa")
    rc, out, err = run(case)
    if rc:
        fail("%s hand case exited %d: %s" % (kind, rc, err.strip()))
        return None, nt
    return out, nt


def expect(name, got, want):
    if got != want:
        fail("%s: got %s, want %s" % (name, json.dumps(got), json.dumps(want)))


def set_bits(nt, gpa, level, set_=0, clear=0):
    ea = nt.entry(gpa, level)
    nt.hm.put(ea, (nt.hm.get(ea) & ~clear) | set_)


def hand_ok_cases():
    plain = {"paging": PG4, "memory": hand_guest().items("gpa"),
             "accesses": [{"gva": h(GVA), "access": "read"}]}
    _, pout, _ = run(plain)
    for kind in ("ept", "npt"):
        out, nt = hand(kind)
        if not out:
            continue
        r = out["results"][0]
        # 4 guest entries, each and the final gpa through 4 nested levels
        expect(kind + " 4x4 read", r, {"gva": h(GVA), "ok": True,
               "gpa": h(GDATA + 0x123), "page_size": 4096,
               "hpa": h(FRAMES[GDATA] + 0x123), "refs": 24})
        guest = [w for w in out["memory_writes"] if w["table"] == "guest"]
        # the guest's A bits, where the plain walk sets them, at the hpa
        want = [{"hpa": h(FRAMES[int(w["gpa"], 16) & ~0xfff] +
                          (int(w["gpa"], 16) & 0xfff)),
                 "size": 8, "value": w["value"], "table": "guest"}
                for w in pout["memory_writes"]]
        expect(kind + " guest A writes", guest, want)
        expect(kind + " guest A values", sorted(int(w["value"], 16) & A
                                                for w in guest), [A] * 4)
        nested = [w for w in out["memory_writes"] if w["table"] != "guest"]
        if kind == "ept":
            expect("ept without A/D writes no EPT entry", nested, [])
        else:
            # APM 5.4.1: A in every nested entry used, D in the leaves of
            # the guest-table pages (their accesses are writes, 15.25.5)
            want_d = {nt.entry(GTABLE[lv], 1) for lv in GTABLE}
            for w in nested:
                v, a = int(w["value"], 16), int(w["hpa"], 16)
                if not v & A or bool(v & D) != (a in want_d):
                    fail("npt A/D write %s" % json.dumps(w))
            # 4 levels x 5 walks, sharing the upper entries
            if not 8 <= len(nested) <= 20:
                fail("npt writes: %d" % len(nested))
    # EPT A/D (SDM 29.3.5): a successful nested walk sets A in every EPT
    # entry it used, root first, and D in its leaf for a write; guest
    # paging-structure accesses are writes, so the leaves of the guest's
    # table pages get D; the data page's leaf gets D only for a write.
    for access in ("read", "write"):
        out, nt = hand("ept", ad=True, access=access)
        if not out:
            continue
        expect("ept a/d " + access, out["results"][0]["refs"], 24)
        want = []

        def ept(addr, bits):
            want.append({"hpa": h(addr), "size": 8,
                         "value": h(nt.hm.get(addr) | bits), "table": "ept"})
        for lv in (4, 3, 2):        # upper entries: shared, A once
            ept(nt.entry(GTABLE[4], lv), EPT_A)
        for lv in (4, 3, 2, 1):     # the walks of the guest's four tables
            ept(nt.entry(GTABLE[lv], 1), EPT_A | EPT_D)
        for lv in (4, 3, 2, 1):     # then the guest's own A (and D)
            ga = guest_entry(lv)
            bits = A | (D if lv == 1 and access == "write" else 0)
            want.append({"hpa": h(FRAMES[GTABLE[lv]] + (ga & 0xfff)),
                         "size": 8, "value": h(hand_guest().get(ga) | bits),
                         "table": "guest"})
        ept(nt.entry(GDATA, 1), EPT_A | (EPT_D if access == "write" else 0))
        expect("ept a/d %s writes" % access, out["memory_writes"], want)


def hand_npt_cases():
    # kvm-unit-tests svm_npt literal EXITINFO1 values (bit 32: final gpa)
    cases = [
        ("not present", lambda nt: set_bits(nt, GDATA, 1, clear=P), "read", 0,
         0x100000004, GDATA + 0x123),
        ("nx fetch", lambda nt: set_bits(nt, GDATA, 1, set_=NX), "fetch", 0,
         0x100000015, GDATA + 0x123),
        ("user = 0", lambda nt: set_bits(nt, GDATA, 1, clear=US), "read", 0,
         0x100000005, GDATA + 0x123),
        ("read-only write", lambda nt: set_bits(nt, GDATA, 1, clear=RW),
         "write", 0, 0x100000007, GDATA + 0x123),
        # the guest's PML4 read-only: its walk writes there (bit 33), and
        # EXITINFO2 is the entry's gpa, the guest CR3 (entry 0)
        ("guest table read-only", lambda nt: set_bits(nt, GTABLE[4], 1, clear=RW),
         "read", 3, 0x200000007, GTABLE[4]),
        # APM 15.25.6: not present on a guest table: W and U, P clear
        ("guest table not present", lambda nt: set_bits(nt, GTABLE[2], 1, clear=P),
         "read", 0, 0x200000006, guest_entry(2)),
        # APM 5.3.3: a reserved bit (bit 51 above MAXPHYADDR 46) in the
        # nested PTE of the data page: P and RSVD
        ("reserved bit", lambda nt: set_bits(nt, GDATA, 1, set_=1 << 51),
         "read", 0, 0x10000000d, GDATA + 0x123),
        # ... and in the nested PML4E every walk shares: the first
        # guest-table access faults, a write (bit 33)
        ("reserved bit on the way to a guest table",
         lambda nt: set_bits(nt, GDATA, 4, set_=1 << 51), "read", 0,
         0x20000000f, guest_entry(4)),
    ]
    for name, tweak, access, cpl, info1, info2 in cases:
        out, _ = hand("npt", tweak, access, cpl=cpl)
        if out:
            expect("npt " + name, out["results"][0],
                   {"gva": h(GVA), "ok": False, "exit": "npf",
                    "exitinfo1": h(info1), "exitinfo2": h(info2)})


def hand_ept_cases():
    R, W, X, GLA, FIN = 1, 2, 4, 0x80, 0x100
    data, pde = GDATA + 0x123, guest_entry(2)
    cases = [
        # SDM Table 28-7: bits 2:0 the access, 5:3 the entry's R/W/X, 7
        # GLA valid, 8 the final translation
        ("final not present read", lambda nt: set_bits(nt, GDATA, 1, clear=7),
         "read", None, R | GLA | FIN, data),
        ("guest PD page not present", lambda nt: set_bits(nt, GTABLE[2], 1, clear=7),
         "read", None, R | GLA, pde),
        ("write to R-X", lambda nt: set_bits(nt, GDATA, 1, clear=W),
         "write", None, W | 5 << 3 | GLA | FIN, data),
        ("fetch from RW-", lambda nt: set_bits(nt, GDATA, 1, clear=X),
         "fetch", None, X | 3 << 3 | GLA | FIN, data),
        ("read of execute-only", lambda nt: set_bits(nt, GDATA, 1, clear=R | W),
         "read", None, R | 4 << 3 | GLA | FIN, data),
        # rights are the AND over the walk: R-only at the PML4E level
        ("write under R-only PML4E", lambda nt: set_bits(nt, GDATA, 4, clear=W | X),
         "write", None, W | 1 << 3 | GLA | FIN, data),
        # with A/D, a guest-table read is a write: R|W, the entry's R--
        ("ad: guest PT page read-only", lambda nt: set_bits(nt, GTABLE[1], 1, clear=W | X),
         "read", True, R | W | 1 << 3 | GLA, guest_entry(1)),
    ]
    # kvm-unit-tests ept_access_test_paddr_read_only_ad_disabled: the
    # guest's own A update of its PML4E under an R-only EPT: read and write
    out, _ = hand("ept", lambda nt: set_bits(nt, GDATA, 4, clear=W | X))
    if out:
        expect("ept guest A write under R-only EPT", out["results"][0],
               {"gva": h(GVA), "ok": False, "exit": "ept_violation",
                "qualification": h(R | W | 1 << 3 | GLA),
                "gpa": h(guest_entry(4)), "gla": h(GVA)})
    for name, tweak, access, ad, qual, gpa in cases:
        # guest A/D already set: no guest write goes through EPT
        out, _ = hand("ept", tweak, access, ad, ad_bits=A | D)
        if out:
            expect("ept " + name, out["results"][0],
                   {"gva": h(GVA), "ok": False, "exit": "ept_violation",
                    "qualification": h(qual), "gpa": h(gpa), "gla": h(GVA)})
    # SDM 29.3.3.1: misconfigurations
    mis = [
        ("W without R", lambda nt: set_bits(nt, GDATA, 1, clear=R), data),
        ("leaf memory type 2", lambda nt: set_bits(nt, GDATA, 1, clear=7 << 3, set_=2 << 3), data),
        ("leaf memory type 7", lambda nt: set_bits(nt, GDATA, 1, set_=7 << 3), data),
        ("bit 51 above MAXPHYADDR", lambda nt: set_bits(nt, GDATA, 1, set_=1 << 51), data),
        ("execute-only without the capability", None, data),
        # the PML4E is on every walk: the first guest-table read
        ("bit 7 in the PML4E", lambda nt: set_bits(nt, GDATA, 4, set_=0x80),
         guest_entry(4)),
    ]
    for name, tweak, gpa in mis:
        if tweak:
            out, _ = hand("ept", tweak, ad_bits=A | D)
        else:
            out = hand_xonly()
        if out:
            expect("ept " + name, out["results"][0],
                   {"gva": h(GVA), "ok": False, "exit": "ept_misconfig",
                    "gpa": h(gpa)})
    # ignored bits (SDM tables 29-1..29-6: 11 without MBEC, 63:52 of a
    # non-leaf... here bit 11 of the leaf and bit 62) change nothing
    out, _ = hand("ept", lambda nt: set_bits(nt, GDATA, 1, set_=1 << 11 | 1 << 62))
    if out:
        expect("ept ignored bits", out["results"][0]["ok"], True)


def hand_xonly():
    R, W = 1, 2
    nt = Nested("ept", Mem(), frame_allocator(0x100000))
    case = nested_case(PG4, hand_guest(A | D), [{"gva": h(GVA), "access": "fetch"}],
                       FRAMES, nt, nt.spec(execute_only=False))
    set_bits(nt, GDATA, 1, clear=R | W)
    case["memory"] = nt.hm.items("hpa")
    rc, out, err = run(case)
    if rc:
        fail("xonly case exited %d: %s" % (rc, err))
    return out


def hand_5x5():
    # LA57 guest over 5-level EPT and NPT: 5 guest entries and the final
    # gpa, each through 5 nested levels: 35 references (6 x 6 - 1)
    pg5 = dict(PG4, cr4="0x1020")
    gva = (3 << 48) | (5 << 39) | (7 << 30) | (9 << 21) | (11 << 12) | 0x321
    g, frames = Mem(), {}
    for i, lv in enumerate((5, 4, 3, 2, 1)):
        t = 0x1000 * (i + 1)
        g.put(t + index(gva, lv) * 8, (t + 0x1000) | P | RW | US)
        frames[t] = 0x40000 + 0x3000 * (5 - i)
    frames[0x6000] = 0x90000
    for kind in ("ept", "npt"):
        nt = Nested(kind, Mem(), frame_allocator(0x100000), 5)
        case = nested_case(pg5, g, [{"gva": h(gva), "access": "write"}],
                           frames, nt)
        rc, out, err = run(case)
        if rc:
            fail("5x5 %s exited %d: %s" % (kind, rc, err))
            continue
        expect("5x5 " + kind, out["results"][0],
               {"gva": h(gva), "ok": True, "gpa": "0x6321", "page_size": 4096,
                "hpa": "0x90321", "refs": 35})


def hand_pae_case():
    # PAE: the PDPTE load (MOV to CR3) goes through EPT; an EPT violation
    # there has no valid linear address (SDM Table 28-7 bit 7 clear)
    pae = {"cr0": "0x80010011", "cr3": "0x1000", "cr4": "0x20",
           "efer": "0x0", "maxphyaddr": 46}
    g = Mem()
    g.put(0x1000, 0x2000 | P)
    g.put(0x2000, 0x3000 | P | RW | US)
    g.put(0x3000, 0x4000 | P | RW | US)
    frames = {0x1000: 0x50000, 0x2000: 0x51000, 0x3000: 0x52000,
              0x4000: 0x53000}
    nt = Nested("ept", Mem(), frame_allocator(0x100000))
    acc = [{"gva": "0x123", "access": "read"}, {"gva": "0x456", "access": "write"}]
    case = nested_case(pae, g, acc, frames, nt)
    rc, out, err = run(case)
    if rc:
        fail("pae case exited %d: %s" % (rc, err))
        return
    # PDPTE register, PD, PT through EPT: 2 guest references, 3 x 4 nested
    expect("pae ok", out["results"][0], {"gva": "0x123", "ok": True,
           "gpa": "0x4123", "page_size": 4096, "hpa": "0x53123", "refs": 14})
    set_bits(nt, 0x1000, 1, clear=7)
    case["memory"] = nt.hm.items("hpa")
    rc, out, err = run(case)
    if rc:
        fail("pae case exited %d: %s" % (rc, err))
        return
    for r in out["results"]:
        expect("pae pdpte load violation", r,
               {"gva": r["gva"], "ok": False, "exit": "ept_violation",
                "qualification": "0x1", "gpa": "0x1000"})


def examples():
    # examples/walk-ept.json: EPT with A/D, the data page R-X; the guest
    # reads, writes (SDM Table 28-7: 0x1aa) and fetches.
    # examples/walk-npt.json: the data page NX in the NPT; read, write,
    # fetch (kvm-unit-tests' NX value 0x100000015).
    import os
    ex = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                      "examples")
    ok = {"gva": h(GVA), "ok": True, "gpa": h(GDATA + 0x123),
          "page_size": 4096, "hpa": h(FRAMES[GDATA] + 0x123), "refs": 24}
    ok8 = dict(ok, gva=h(GVA + 8), gpa=h(GDATA + 0x12b),
               hpa=h(FRAMES[GDATA] + 0x12b))
    want = {
        "ept": [ok, {"gva": h(GVA), "ok": False, "exit": "ept_violation",
                     "qualification": "0x1aa", "gpa": h(GDATA + 0x123),
                     "gla": h(GVA)}, ok8],
        "npt": [ok, ok, {"gva": h(GVA + 8), "ok": False, "exit": "npf",
                         "exitinfo1": "0x100000015",
                         "exitinfo2": h(GDATA + 0x12b)}],
    }
    for kind, res in want.items():
        with open(os.path.join(ex, "walk-%s.json" % kind)) as f:
            rc, out, err = run(json.load(f))
        if rc:
            fail("examples/walk-%s.json exited %d: %s" % (kind, rc, err))
            continue
        expect("examples/walk-%s.json" % kind, out["results"], res)
        if [w for w in out["memory_writes"] if w["table"] not in ("guest", kind)]:
            fail("examples/walk-%s.json: writes of another table" % kind)


def bad_inputs():
    base = {"paging": PG4, "memory": [],
            "accesses": [{"gva": "0x1000", "access": "read"}]}
    bad = [
        ({"type": "vtx"}, "type"),
        ({}, "type"),
        ({"type": "ept"}, "eptp"),
        ({"type": "ept", "eptp": "0x1019"}, "eptp"),       # memory type 1
        ({"type": "ept", "eptp": "0x102e"}, "eptp"),       # walk length 6
        ({"type": "ept", "eptp": "0x109e"}, "eptp"),       # bit 7
        ({"type": "ept", "eptp": "0x40000000000001e"}, "eptp"),  # above MAXPHYADDR
        ({"type": "ept", "eptp": "0x105e", "ad": False}, "ad"),
        ({"type": "ept", "eptp": "0x101e", "ad": 1}, "ad"),
        ({"type": "ept", "eptp": "0x101e", "pml": True}, "pml"),
        ({"type": "ept", "eptp": "0x101e", "maxphyaddr": 60}, "maxphyaddr"),
        ({"type": "ept", "eptp": "0x101e", "ncr3": "0x1000"}, "ncr3"),
        ({"type": "ept", "eptp": "zz"}, "eptp"),
        ({"type": "npt"}, "ncr3"),
        ({"type": "npt", "ncr3": "0x1000", "levels": 3}, "levels"),
        ({"type": "npt", "ncr3": "0x1000", "levels": "x"}, "levels"),
        ({"type": "npt", "ncr3": "0x1000000000000000"}, "ncr3"),
        ({"type": "npt", "ncr3": "0x1000", "nxe": "yes"}, "nxe"),
        ({"type": "npt", "ncr3": "0x1000", "eptp": "0x1e"}, "eptp"),
        ("ept", "nested"),
    ]
    for spec, field in bad:
        c = dict(base, nested=spec)
        rc, _, err = run(c)
        if rc != 2 or field not in err:
            fail("bad nested %s: exit %d, message %r (want 2 naming %s)" %
                 (json.dumps(spec), rc, err.strip(), field))
    # memory items of a nested case carry hpa, not gpa
    c = dict(base, nested={"type": "npt", "ncr3": "0x1000"},
             memory=[{"gpa": "0x1000", "qwords": ["0x1"]}])
    rc, _, err = run(c)
    if rc != 2 or "gpa" not in err:
        fail("nested case with a gpa memory item: exit %d, %r" % (rc, err))
    c = dict(base, memory=[{"hpa": "0x1000", "qwords": ["0x1"]}])
    rc, _, err = run(c)
    if rc != 2 or "hpa" not in err:
        fail("plain case with an hpa memory item: exit %d, %r" % (rc, err))


# ---- the randomized cross-check ----

MODES = {
    "4level": ({"cr0": "0x80010011", "cr4": "0x20", "efer": "0xd00"}, 4, 8),
    "5level": ({"cr0": "0x80010011", "cr4": "0x1020", "efer": "0xd00"}, 5, 8),
    "pae": ({"cr0": "0x80010011", "cr4": "0x20", "efer": "0x800"}, 3, 8),
    "2level": ({"cr0": "0x80010011", "cr4": "0x10", "efer": "0x0"}, 2, 4),
}


def rand_guest(rng, mode):
    """Random guest tables for a few addresses: (paging, memory, accesses)."""
    regs, top, esz = MODES[mode]
    g = Mem()
    pool = rng.sample(range(1, 0x4000), 10)
    pool = [p * PG for p in pool]
    cr3 = pool[0]
    accesses = []
    for _ in range(rng.randint(1, 6)):
        if mode in ("4level", "5level"):
            bits = 48 if mode == "4level" else 57
            gva = rng.getrandbits(bits - 1)     # lower half: canonical
        else:
            gva = rng.getrandbits(32)
        table, lv = cr3, top
        while lv >= 1:
            if mode == "pae" and lv == 3:
                ea = (cr3 & ~31) + ((gva >> 30) & 3) * 8
            elif mode == "2level":
                ea = table + ((gva >> (12 + 10 * (lv - 1))) & 1023) * 4
            else:
                ea = table + index(gva, lv) * 8
            e = g.get(ea, esz)
            if not e:
                e = rand_entry(rng, mode, lv, pool)
                g.put(ea, e, esz)
            if not e & P or e & (1 << 50):
                break
            big = lv > 1 and e & PS and not (mode == "pae" and lv == 3)
            if lv == 1 or big:
                break
            table = e & (0xfffff000 if esz == 4 else 0x000ffffffffff000)
            lv -= 1
        accesses.append({"gva": h(gva + rng.randrange(0, PG, 8) * 0),
                         "access": rng.choice(["read", "write", "fetch"]),
                         "cpl": rng.choice([0, 3])})
        # also a second access to the same page, carrying A/D over
        if rng.random() < 0.3:
            accesses.append({"gva": h(gva ^ 0x10), "access": "write", "cpl": 0})
    paging = dict(regs, cr3=h(cr3), maxphyaddr=46)
    return paging, g, accesses


def rand_entry(rng, mode, lv, pool):
    if rng.random() < 0.08:
        return rng.getrandbits(16) & ~P
    flags = P | (RW if rng.random() < 0.8 else 0) | (US if rng.random() < 0.8 else 0)
    flags |= (A if rng.random() < 0.4 else 0) | (D if rng.random() < 0.3 else 0)
    if mode == "pae" and lv == 3:
        flags = P | (RW if rng.random() < 0.03 else 0)     # RW: reserved
    elif mode != "2level" and rng.random() < 0.15:
        flags |= NX
    if mode == "2level":
        if lv == 2 and rng.random() < 0.15:
            return (rng.randrange(0, 64) << 22) | flags | PS
        return rng.choice(pool) | flags if lv > 1 else rng.randrange(0, 0x4000) * PG | flags
    if rng.random() < 0.02:
        flags |= 1 << 50                                    # reserved at 46
    if lv in (2, 3) and rng.random() < 0.15 and not (mode == "pae" and lv == 3):
        size = 1 << level_shift(lv)
        return rng.randrange(0, 4) * size | flags | PS
    if lv == 1:
        return rng.randrange(0, 0x4000) * PG | flags
    return rng.choice(pool) | flags


def touched_pages(case, plain):
    """Guest-physical pages a plain run read (entries, PDPTEs, finals)."""
    pages = {a & ~(PG - 1) for a in Mem_of(case).w}
    for r in plain["results"]:
        for e in r.get("entries", []):
            pages.add(int(e["gpa"], 16) & ~(PG - 1))
        if r["ok"]:
            pages.add(int(r["gpa"], 16) & ~(PG - 1))
    return pages


def Mem_of(case):
    m = Mem()
    for it in case["memory"]:
        m.put(int(it["gpa"], 16), int(it["qwords"][0], 16))
    return m


def cross_check(n, seed, chunk=2000):
    rng = random.Random(seed)
    stats = {"ok": 0, "fault": 0, "refs24": 0, "walks": 0, "exits": 0}
    for start in range(0, n, chunk):
        cross_chunk(rng, min(chunk, n - start), start, stats)
    print("cross-check: %d cases, %d walks, %d translations (%d cold 4x4 "
          "with 24 references), %d guest faults, %d exits on an unmapped page" %
          (n, stats["walks"], stats["ok"], stats["refs24"], stats["fault"],
           stats["exits"]))
    if stats["refs24"] == 0 or stats["fault"] == 0 or stats["exits"] == 0:
        fail("the random cases did not cover translations and faults")


def cross_chunk(rng, n, first, stats):
    plains, nesteds, metas = [], [], []
    for i in range(n):
        mode = rng.choice(list(MODES))
        paging, g, accesses = rand_guest(rng, mode)
        plains.append({"paging": paging, "memory": g.items("gpa"),
                       "accesses": accesses})
    rc, pouts, err = run(plains, trace=True)
    if rc:
        fail("plain random cases exited %d: %s" % (rc, err))
        return
    for i, case in enumerate(plains):
        mode = mode_of(case)
        kind = rng.choice(["ept", "npt"])
        ident = rng.random() < 0.25
        levels = rng.choice([4, 5]) if kind == "npt" else 4
        ad = rng.random() < 0.5 if kind == "ept" else None
        hm = Mem()
        pages = sorted(touched_pages(case, pouts[i]))
        if ident:
            frames = {p: p for p in pages}
            alloc = frame_allocator(1 << 40)
        else:
            hp = rng.sample(range(0x100000, 0x200000), len(pages))
            frames = {p: f * PG for p, f in zip(pages, hp)}
            alloc = frame_allocator(0x300000 * PG)
        nt = Nested(kind, hm, alloc, levels)
        if ident:
            # identity with 1 GiB nested leaves (the guest is below 64 GiB)
            for p in pages:
                nt.map(p & ~((1 << 30) - 1), p & ~((1 << 30) - 1), 3)
        spec = nt.spec(ad=ad) if ad is not None else nt.spec()
        nc = nested_case(case["paging"], Mem_of(case), case["accesses"],
                         frames, nt, spec, leaves=not ident)
        # Some cases lose the nested mapping of one page the guest uses
        # (not the PAE PDPT: its load is checked by hand_pae_case).
        removed = None
        cands = [p for p in pages
                 if not (mode == "pae" and p == int(case["paging"]["cr3"], 16) & ~(PG - 1))]
        if not ident and cands and rng.random() < 0.3:
            removed = rng.choice(cands)
            hm.put(nt.entry(removed, 1), 0)
            nc["memory"] = hm.items("hpa")
        nesteds.append(nc)
        metas.append((kind, ident, levels, frames, nt.tables, removed, bool(ad)))
    rc, nouts, err = run(nesteds, trace=True)
    if rc:
        fail("nested random cases exited %d: %s" % (rc, err))
        return
    for i in range(n):
        stats["walks"] += len(plains[i]["accesses"])
        compare(plains[i], pouts[i], nouts[i], metas[i], stats, first + i)


def compare_removed(case, pout, nout, meta, stats, where):
    """A page unmapped: exits where the walk first needs it, else the plain
    result (entries and A/D writes aside: an exit sets no A/D)."""
    kind, _, _, frames, _, removed, ad = meta
    mode = mode_of(case)
    for p, q, acc in zip(pout["results"], nout["results"], case["accesses"]):
        want = expected_exit(p, acc, mode, kind, removed, ad)
        if want:
            stats["exits"] += 1
        else:
            want = {k: v for k, v in p.items() if k != "entries"}
            if p["ok"]:
                want["hpa"] = h(hpa_of(frames, int(p["gpa"], 16)))
        q = {k: v for k, v in q.items() if k not in ("entries", "refs")}
        if q != want:
            fail("%s, page 0x%x unmapped: %s, want %s" % (where, removed, q, want))


def hpa_of(frames, gpa):
    return frames[gpa & ~(PG - 1)] + (gpa & (PG - 1))


def mode_of(case):
    return [m for m, (r, _, _) in MODES.items()
            if r["cr4"] == case["paging"]["cr4"] and r["efer"] == case["paging"]["efer"]][0]


def expected_exit(p, acc, mode, kind, removed, ad):
    """The exit the first translation of a removed page gives, or None:
    the guest's entries in order (not the PAE PDPTE register), then the
    final gpa (SDM Table 28-7; APM Vol. 2 15.25.6)."""
    ents = p.get("entries", [])[1 if mode == "pae" else 0:]
    seq = [(int(e["gpa"], 16), True) for e in ents]
    if p["ok"]:
        seq.append((int(p["gpa"], 16), False))
    for gpa, gpt in seq:
        if gpa & ~(PG - 1) != removed:
            continue
        k = acc["access"]
        if kind == "ept":
            qual = (1 | (2 if ad else 0)) if gpt else {"read": 1, "write": 2, "fetch": 4}[k]
            qual |= 0x80 | (0 if gpt else 0x100)
            return {"gva": p["gva"], "ok": False, "exit": "ept_violation",
                    "qualification": h(qual), "gpa": h(gpa), "gla": p["gva"]}
        code = US | (RW if gpt or k == "write" else 0)
        code |= 0x10 if not gpt and k == "fetch" else 0
        code |= 1 << (33 if gpt else 32)
        return {"gva": p["gva"], "ok": False, "exit": "npf",
                "exitinfo1": h(code), "exitinfo2": h(gpa)}
    return None


def compare(case, pout, nout, meta, stats, i):
    kind, ident, levels, frames, tables, removed, ad = meta
    mode = mode_of(case)
    where = "case %d (%s over %s%s)" % (i, mode, kind, " identity" if ident else "")
    if removed is not None:
        compare_removed(case, pout, nout, meta, stats, where)
        return
    for p, q in zip(pout["results"], nout["results"]):
        if not p["ok"]:
            stats["fault"] += 1
            if p != q:
                fail("%s: fault %s, nested %s" % (where, p, q))
            continue
        stats["ok"] += 1
        q = dict(q)
        hpa, refs = q.pop("hpa", None), q.pop("refs", None)
        if p != q or hpa is None:
            fail("%s: plain %s, nested %s" % (where, p, q))
            continue
        if int(hpa, 16) != hpa_of(frames, int(p["gpa"], 16)):
            fail("%s: %s hpa %s, want gpa %s composed" % (where, p["gva"], hpa, p["gpa"]))
        # references: the guest's entries (not the PAE PDPTE register) and
        # a nested walk per distinct 4 KiB page they and the final gpa are in
        ents = p["entries"][1:] if mode == "pae" else p["entries"]
        npages = len({int(e["gpa"], 16) >> 12 for e in ents} |
                     {int(p["gpa"], 16) >> 12})
        want = len(ents) + npages * levels
        if ident:
            if refs > want:
                fail("%s: %d references, more than %d" % (where, refs, want))
        elif refs != want:
            fail("%s: %s %d references, want %d" % (where, p["gva"], refs, want))
        if refs == 24 and mode == "4level" and p["page_size"] == 4096 and not ident:
            stats["refs24"] += 1
    want = [{"hpa": h(hpa_of(frames, int(w["gpa"], 16))), "size": w["size"],
             "value": w["value"], "table": "guest"} for w in pout["memory_writes"]]
    got = [w for w in nout["memory_writes"] if w["table"] == "guest"]
    if got != want:
        fail("%s: guest writes %s, want %s" % (where, got, want))
    for w in nout["memory_writes"]:
        if w["table"] != "guest" and (w["table"] != kind or
                                      int(w["hpa"], 16) & ~(PG - 1) not in tables):
            fail("%s: nested write outside the %s tables: %s" % (where, kind, w))


def main():
    n, seed = 300, 1
    args = sys.argv[2:]
    if "--cases" in args:
        n = int(args[args.index("--cases") + 1])
    if "--seed" in args:
        seed = int(args[args.index("--seed") + 1])
    hand_ok_cases()
    hand_npt_cases()
    hand_ept_cases()
    hand_pae_case()
    hand_5x5()
    examples()
    bad_inputs()
    cross_check(n, seed)
    if fails:
        print("%d failures" % fails)
        sys.exit(1)
    print("walk_nested: all passed")


if __name__ == "__main__":
    main()
