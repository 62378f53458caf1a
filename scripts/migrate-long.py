#!/usr/bin/env python3
"""The long run of live migrations: N randomized `vmmu migrate` runs (the
guest writing on 1-4 vCPUs throughout), rotating over every backend and
every dirty-tracking variant it offers, each checked page by page by the
receiver's hashes. Prints a table per backend and variant; exits 1 if any
migration failed or differed, 2 on bad usage.

    scripts/migrate-long.py [--vmmu PATH] [--count N] [--seed S] [--json]

Progress goes to stderr, one line per 50 migrations.
"""
import argparse
import json
import random
import subprocess
import sys
import time

COMBOS = [("ept", "wp"), ("ept", "ad"), ("ept", "pml"), ("ept", "wp2m"),
          ("npt", "wp"), ("npt", "ad"), ("npt", "wp2m"),
          ("shadow", "wp"), ("direct", "wp")]
WORKLOADS = ["random", "hot", "sweep"]


def one(vmmu, backend, dirty, rng, i):
    cmd = [vmmu, "migrate", "--backend", backend,
           "--dirty", "wp" if dirty == "wp2m" else dirty,
           "--vcpus", str(rng.randint(1, 4)),
           "--mem", "%dM" % rng.choice([4, 8, 16, 32]),
           "--workload", rng.choice(WORKLOADS), "--seed", str(i), "--json"]
    if dirty == "wp2m":
        cmd.append("--dirty-2m")
    if rng.random() < 0.25:
        cmd += ["--rate", str(rng.choice([200, 2000, 20000]))]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    try:
        rep = json.loads(p.stdout)
    except ValueError:
        rep = {"ok": False, "error": "no report: " + p.stderr.strip()[-300:]}
    rep["_cmd"] = " ".join(cmd)
    rep["_rc"] = p.returncode
    return rep


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vmmu", default="build-rel/vmmu")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.count < 1:
        ap.error("--count must be at least 1")
    rng = random.Random(a.seed)
    stats = {c: {"runs": 0, "ok": 0, "pages": 0, "stores": 0,
                 "downtime_ms": 0.0, "bad_pages": 0} for c in COMBOS}
    failures = []
    t0 = time.time()
    for i in range(a.count):
        c = COMBOS[i % len(COMBOS)]
        rep = one(a.vmmu, c[0], c[1], rng, a.seed * 1000000 + i)
        s = stats[c]
        s["runs"] += 1
        ok = rep.get("ok") is True and rep["_rc"] == 0
        s["ok"] += ok
        s["pages"] += rep.get("total_pages", 0)
        s["stores"] += rep.get("guest_stores", 0)
        s["downtime_ms"] = max(s["downtime_ms"], rep.get("downtime_ms", 0.0))
        s["bad_pages"] += rep.get("bad_pages", 0)
        if not ok:
            failures.append({"cmd": rep["_cmd"], "error": rep.get("error")})
        if (i + 1) % 50 == 0:
            print("migrate-long: %d/%d, %d failed, %.0f s" %
                  (i + 1, a.count, len(failures), time.time() - t0),
                  file=sys.stderr)
    out = {"count": a.count, "seed": a.seed, "seconds": time.time() - t0,
           "failures": failures,
           "combos": [dict(backend=c[0], dirty=c[1], **stats[c])
                      for c in COMBOS]}
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        print("%-7s %-5s %6s %6s %12s %14s %12s %10s" %
              ("backend", "dirty", "runs", "ok", "pages sent", "guest stores",
               "max down ms", "bad pages"))
        for c in COMBOS:
            s = stats[c]
            print("%-7s %-5s %6d %6d %12d %14d %12.2f %10d" %
                  (c[0], c[1], s["runs"], s["ok"], s["pages"], s["stores"],
                   s["downtime_ms"], s["bad_pages"]))
        print("%d migrations in %.0f s, %d failed" %
              (a.count, out["seconds"], len(failures)))
        for f in failures[:10]:
            print("FAILED: %s: %s" % (f["cmd"], f["error"]))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
