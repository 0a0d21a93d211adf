#!/usr/bin/env python3
"""Peak-then-idle benchmark (issue 5): how fast does each allocator give memory back?

Runs bench/workloads/peakidle.c (about 1.5 GiB requested in objects of 16 B-64 KiB, every
byte written, 95% freed at random, then idle) under each allocator and prints the RSS curve
it samples at 0, 1, 2, 5, 10, 15, 20 and 40 s after the frees, its peak RSS (VmHWM) against
the bytes requested, and the time of its allocation phase. Allocators:

    glibc            no preload
    glibc+trim       no preload, malloc_trim(0) right after the frees
    jemalloc         libjemalloc.so.2 (Debian libjemalloc2), its defaults
    mimalloc         libmimalloc.so.2 (Debian libmimalloc2.0), its defaults
    tcmalloc         libtcmalloc.so.4 (Debian libgoogle-perftools4), its defaults
    libscvgc         build/libscvgc.so, SCVGC_MODE=off (a plain malloc, as bench/run.py)
    libscvgc(leak)   the same in the default mode (leak checking on)
both libscvgc runs with SCVGC_SCAVENGE_AFTER=10s (default 5m). A library that is not
installed is skipped with a note. Every run must print the same checksum.

    python3 bench/peakidle.py [--markdown] [--png docs/peakidle.png] [--json FILE]
                              [-a glibc,jemalloc,...] [--bytes N] [--times 0,1,2,...]
    python3 bench/peakidle.py --from-json FILE [--markdown] [--png OUT.png]

Python standard library only, except --png (matplotlib: Debian python3-matplotlib).
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "bench" / "workloads" / "peakidle.c"
EXE = ROOT / "build" / "bench" / "peakidle"
LIBDIR = Path("/usr/lib/x86_64-linux-gnu")
STRIPPED = ("LD_PRELOAD", "MALLOC_", "MIMALLOC_", "TCMALLOC_", "JE_MALLOC_", "SCVGC_",
            "GLIBC_TUNABLES")


def allocators(scvgc_lib):
    mimalloc = next((p for p in (LIBDIR / "libmimalloc.so.2", LIBDIR / "libmimalloc.so.2.0")
                     if p.exists()), LIBDIR / "libmimalloc.so.2")
    scv = {"SCVGC_SCAVENGE_AFTER": "10s", "SCVGC_REPORT": "none"}
    return {
        "glibc": (None, {}, []),
        "glibc+trim": (None, {}, ["--trim"]),
        "jemalloc": (LIBDIR / "libjemalloc.so.2", {}, []),
        "mimalloc": (mimalloc, {}, []),
        "tcmalloc": (LIBDIR / "libtcmalloc.so.4", {}, []),
        "libscvgc": (scvgc_lib, dict(scv, SCVGC_MODE="off"), []),
        "libscvgc(leak)": (scvgc_lib, dict(scv, SCVGC_MODE="leak"), []),
        "libscvgc(collect)": (scvgc_lib, dict(scv, SCVGC_MODE="collect"), []),
    }


def build(cc):
    EXE.parent.mkdir(parents=True, exist_ok=True)
    hdr = SRC.parent / "common.h"
    if EXE.exists() and EXE.stat().st_mtime > max(SRC.stat().st_mtime, hdr.stat().st_mtime):
        return
    cmd = [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(EXE), str(SRC)]
    print(" ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)


def run(name, lib, env_extra, args, nbytes, times):
    env = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED)}
    env.update(env_extra)
    if lib is not None:
        env["LD_PRELOAD"] = str(lib)
    argv = [str(EXE), "-b", str(nbytes), "-s", ",".join(str(t) for t in times)] + args
    t0 = time.time()
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=max(times) + 600)
    if p.returncode != 0:
        raise RuntimeError(f"{name}: exit status {p.returncode}: {p.stderr.strip()[-300:]}")
    r = {"allocator": name, "rss_kib": {}, "wall_s": round(time.time() - t0, 1)}
    for line in p.stdout.splitlines():
        f = line.split()
        if f[0] == "requested":
            r["requested"] = int(f[1])
        elif f[0] == "objects":
            r["objects"] = int(f[1])
        elif f[0] == "survivors":
            r["live_objects"], r["live_bytes"] = int(f[1]), int(f[2])
        elif f[0] == "phases":
            r["alloc_s"], r["free_s"] = float(f[1]), float(f[2])
        elif f[0] == "rss":
            r["rss_kib"][f[1]] = int(f[2])
        elif f[0] == "hwm":
            r["hwm_kib"] = int(f[1])
        elif f[0] == "checksum":
            r["checksum"] = f[1]
    return r


def mib(kib):
    return f"{kib / 1024:.0f}"


def table(results, times, markdown):
    req = results[0]["requested"]
    head = (["allocator", "peak RSS MiB", "peak ÷ requested"] + [f"{t} s" for t in times] +
            ["alloc phase s"])
    rows = []
    for r in results:
        rows.append([r["allocator"], mib(r["hwm_kib"]), f"{r['hwm_kib'] * 1024 / req:.3f}"] +
                    [mib(r["rss_kib"][str(t)]) for t in times] + [f"{r['alloc_s']:.2f}"])
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(row) + " |" for row in rows]
    else:
        w = [max(len(x) for x in col) for col in zip(head, *rows)]
        out = ["  ".join(c.rjust(n) for c, n in zip(row, w)) for row in [head] + rows]
    return "\n".join(out)


def plot(results, times, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 5.2), dpi=110)
    for r in results:
        xs = times
        ys = [r["rss_kib"][str(t)] / 1024 for t in times]
        style = "-" if r["allocator"].startswith("libscvgc") else "--"
        ax.plot(xs, ys, style, marker="o", markersize=3.5, linewidth=2 if style == "-" else 1.3,
                label=r["allocator"])
    live = results[0]["live_bytes"] / 2 ** 20
    ax.axhline(live, color="grey", linewidth=0.8, linestyle=":")
    ax.text(max(times), live, f" live data {live:.0f} MiB", va="bottom", ha="right",
            color="grey", fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("seconds since the frees (95% of 1.5 GiB)")
    ax.set_ylabel("RSS (MiB, log scale)")
    ax.set_title("peakidle: RSS while idle after a 1.5 GiB peak")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-a", "--allocators", default="glibc,glibc+trim,jemalloc,mimalloc,tcmalloc,libscvgc,libscvgc(leak)")
    p.add_argument("--bytes", type=int, default=3 << 29, help="bytes requested (default 1.5 GiB)")
    p.add_argument("--times", default="0,1,2,5,10,15,20,40", help="sample times, s")
    p.add_argument("--scvgc-lib", default=str(ROOT / "build" / "libscvgc.so"))
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--png", help="plot the curves into this PNG (matplotlib)")
    p.add_argument("--json", help="write the results to this file")
    p.add_argument("--cc", default=os.environ.get("CC", "gcc"))
    p.add_argument("--from-json", metavar="FILE",
                   help="run nothing: print the table (and --png) of a saved --json file")
    args = p.parse_args()
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        print(table(saved["results"], saved["times"], args.markdown))
        if args.png:
            plot(saved["results"], saved["times"], args.png)
        return 0
    times = [int(t) for t in args.times.split(",")]
    build(args.cc)
    known = allocators(Path(args.scvgc_lib).resolve())
    results, notes = [], []
    for name in args.allocators.split(","):
        lib, env, extra = known[name]
        if lib is not None and not Path(lib).exists():
            notes.append(f"{name} skipped: {lib} does not exist")
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.append(run(name, lib, env, extra, args.bytes, times))
    sums = {r["checksum"] for r in results}
    if len(sums) != 1:
        notes.append(f"CHECKSUMS DIFFER: {sums}")
    r0 = results[0]
    print(f"{r0['requested'] / 2 ** 20:.0f} MiB requested in {r0['objects']} objects, "
          f"{r0['live_bytes'] / 2 ** 20:.1f} MiB in {r0['live_objects']} objects kept; "
          f"RSS in MiB at each time after the frees:\n")
    print(table(results, times, args.markdown))
    for n in notes:
        print("\nnote: " + n)
    if args.json:
        Path(args.json).write_text(json.dumps({"times": times, "results": results}, indent=1))
    if args.png:
        plot(results, times, args.png)
    return 1 if len(sums) != 1 else 0


if __name__ == "__main__":
    sys.exit(main())
