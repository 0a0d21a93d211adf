#!/usr/bin/env python3
"""Allocator benchmarks for libscvgc (issue 2).

Builds the workloads in bench/workloads/ (gcc -O2 -pthread) into
build/bench/, then runs every workload under every allocator, interleaved
(round-robin: run 1 of every allocator, then run 2, ...), and reports the
median CPU time (user+sys of the child, from os.wait4), the median wall
time, the median peak RSS (ru_maxrss), the ratios to glibc and to mimalloc,
and the geometric means of the ratios over the workloads.  Every workload
prints one line "checksum <hex>"; the lines must agree across allocators
and runs, and a mismatch is reported loudly (exit status 1).

With --callgrind it instead counts instructions (Ir) with
valgrind --tool=callgrind for the single-threaded workloads at a smaller
size, one run per allocator (the counts are deterministic).

Python standard library only.  Examples:
    python3 bench/run.py                      # everything, text table
    python3 bench/run.py --markdown           # Markdown table (docs/performance.md)
    python3 bench/run.py -w churn,larson -a glibc,mimalloc --runs 3
    python3 bench/run.py -w larson,prodcons --threads 1,2,4,8 --markdown
    python3 bench/run.py --callgrind --markdown
"""
import argparse
import collections
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "bench" / "workloads"
BUILD = ROOT / "build" / "bench"
LIBDIR = Path("/usr/lib/x86_64-linux-gnu")
CFLAGS = ["-O2", "-pthread", "-Wall", "-Wextra", "-Werror"]
CHECKSUM_RE = re.compile(r"^checksum [0-9a-f]+$")

# Environment variables that change how an allocator or Python behaves: they
# are removed from the children's environment so every run starts from the
# defaults (the variables each run needs are then set explicitly).
STRIPPED_ENV_PREFIXES = ("LD_PRELOAD", "MALLOC_", "MIMALLOC_", "TCMALLOC_", "JE_MALLOC_",
                         "HEAPPROFILE", "HEAPCHECK", "SCVGC_", "PYTHON", "GLIBC_TUNABLES")


@dataclass
class Workload:
    name: str
    kind: str            # "c", "python" or "sqlite"
    size: int            # default size argument (about 1 s with glibc here)
    cg_size: int         # size under callgrind
    threaded: bool       # takes -t N
    about: str


WORKLOADS = [
    Workload("churn", "c", 16_000_000, 400_000, False,
             "single thread, 16-128 B objects in a FIFO ring of 4096 plus 0-3 LIFO "
             "temporaries per step (cfrac/espresso-like)"),
    Workload("mixed", "c", 6_000_000, 300_000, False,
             "single thread, log-uniform sizes 8 B-64 KiB in 4096 slots, lifetimes "
             "spread over orders of magnitude"),
    Workload("realloc", "c", 800, 100, False,
             "single thread, 32 interleaved string builders grown to 64 B-2 MiB, by "
             "exact realloc per 1-64 B append or by capacity doubling"),
    Workload("prodcons", "c", 10_000_000, 0, True,
             "producer/consumer pairs: 16-1024 B objects passed in batches of 256 "
             "through a queue and freed by the other thread (xmalloc-test-like)"),
    Workload("larson", "c", 30_000_000, 0, True,
             "larson-style server: per-thread 2000 slots, free a random slot and "
             "malloc 16-1024 B; 1 step in 64 swaps an object through shared mailboxes"),
    Workload("python", "python", 30_000, 2_000, False,
             "/usr/bin/python3 with PYTHONMALLOC=malloc: build dicts/lists, json "
             "dumps/loads, group and sort"),
    Workload("sqlite", "sqlite", 150_000, 10_000, False,
             "sqlite3 :memory:: insert rows with randomblob, two indexes, range "
             "queries, GROUP BY, ORDER BY, update, delete, self-join"),
]
WORKLOAD_BY_NAME = {w.name: w for w in WORKLOADS}


@dataclass
class Allocator:
    name: str
    lib: Optional[Path]                    # None: glibc, no preload
    env: Dict[str, str] = field(default_factory=dict)


@dataclass
class Case:
    """One row group of the table: a workload at a thread count."""
    workload: Workload
    threads: int         # 0 for workloads that take no -t

    @property
    def label(self):
        return f"{self.workload.name}-t{self.threads}" if self.threads else self.workload.name


@dataclass
class Sample:
    cpu: float
    wall: float
    rss_kib: int


@dataclass
class Cell:
    """All runs of one case under one allocator."""
    samples: List[Sample] = field(default_factory=list)
    outputs: collections.Counter = field(default_factory=collections.Counter)
    failures: List[str] = field(default_factory=list)
    instructions: Optional[int] = None


# ---------------------------------------------------------------- setup

def find_allocators(args, notes):
    """The selected allocators whose library exists; a note for each skipped one."""
    mimalloc = next((p for p in (LIBDIR / "libmimalloc.so.2", LIBDIR / "libmimalloc.so.2.0")
                     if p.exists()), LIBDIR / "libmimalloc.so.2")
    scvgc_name = "libscvgc" if args.scvgc_mode == "off" else f"libscvgc({args.scvgc_mode})"
    known = {
        "glibc": Allocator("glibc", None),
        "jemalloc": Allocator("jemalloc", LIBDIR / "libjemalloc.so.2"),
        "mimalloc": Allocator("mimalloc", mimalloc),
        "tcmalloc": Allocator("tcmalloc", LIBDIR / "libtcmalloc.so.4"),
        "libscvgc": Allocator(scvgc_name, Path(args.scvgc_lib).resolve(),
                              {"SCVGC_MODE": args.scvgc_mode}),
    }
    chosen = []
    for name in args.allocators.split(","):
        name = name.strip()
        if name not in known:
            sys.exit(f"run.py: unknown allocator {name!r} (known: {', '.join(known)})")
        alloc = known[name]
        if alloc.lib is not None and not alloc.lib.exists():
            notes.append(f"{alloc.name} skipped: {alloc.lib} does not exist"
                         + (" (build it with make)" if name == "libscvgc" else ""))
            continue
        chosen.append(alloc)
    return chosen


def select_cases(args, notes):
    programs = {"python": args.python, "sqlite": args.sqlite3}
    threads = [int(t) for t in args.threads.split(",")]
    if any(t < 1 for t in threads):
        sys.exit("run.py: --threads takes positive integers")
    cases = []
    for name in args.workloads.split(","):
        name = name.strip()
        if name not in WORKLOAD_BY_NAME:
            sys.exit(f"run.py: unknown workload {name!r} (known: {', '.join(WORKLOAD_BY_NAME)})")
        w = WORKLOAD_BY_NAME[name]
        program = programs.get(w.kind)
        if program is not None and not os.access(program, os.X_OK):
            notes.append(f"{w.name} skipped: {program} is not an executable")
            continue
        if args.callgrind and w.threaded:
            continue  # instruction counts only for the single-threaded workloads
        if not w.threaded:
            cases.append(Case(w, 0))
            continue
        for t in threads:
            if w.name == "prodcons" and t > 1 and t % 2:
                continue  # prodcons runs pairs: 1 or an even number of threads
            cases.append(Case(w, t))
    return cases


def build(args):
    """Compiles the C workloads into build/bench/ when out of date."""
    BUILD.mkdir(parents=True, exist_ok=True)
    header = SRC / "common.h"
    programs = [(ROOT / "bench" / "launch.c", BUILD / "launch")]
    programs += [(SRC / f"{w.name}.c", BUILD / w.name) for w in WORKLOADS if w.kind == "c"]
    for src, exe in programs:
        if exe.exists() and exe.stat().st_mtime > max(src.stat().st_mtime, header.stat().st_mtime):
            continue
        cmd = [args.cc, *CFLAGS, "-o", str(exe), str(src)]
        log(" ".join(cmd))
        if subprocess.run(cmd).returncode != 0:
            sys.exit(f"run.py: compiling {src} failed")


def command(case, args, size):
    """argv, extra environment and stdin file of one run."""
    w = case.workload
    if w.kind == "c":
        argv = [str(BUILD / w.name)]
        if case.threads:
            argv += ["-t", str(case.threads)]
        return argv + [str(size)], {}, None
    if w.kind == "python":
        env = {"PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
        # not -I / -E: they would make python ignore PYTHONMALLOC
        return [args.python, "-s", str(SRC / "pywork.py"), str(size)], env, None
    if w.kind == "sqlite":
        argv = [args.sqlite3, "-bail", ":memory:", "-cmd", f".parameter set @n {size}"]
        return argv, {}, SRC / "sqlite.sql"
    raise ValueError(w.kind)


def scaled(n, scale):
    return max(1, int(round(n * scale)))


# ---------------------------------------------------------------- running

def log(msg, end="\n"):
    print(msg, file=sys.stderr, end=end, flush=True)


def base_environment():
    return {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED_ENV_PREFIXES)}


def run_child(argv, env, preload, stdin_path, timeout):
    """Runs argv through build/bench/launch (LD_PRELOAD=preload when given);
    returns (problem text or None when it exited 0, stdout, stderr, cpu seconds,
    wall seconds, peak RSS KiB).  The launcher does the wait4() and reports the
    child's rusage: see bench/launch.c for why python cannot do it itself."""
    cmd = [str(BUILD / "launch"), "-T", f"{timeout:g}"]
    if preload is not None:
        cmd += ["-p", str(preload)]
    cmd += ["--", *argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryFile() as rep:
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, str(stdin_path or os.devnull), os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
            (os.POSIX_SPAWN_DUP2, rep.fileno(), 3),
        ]
        pid = os.posix_spawn(cmd[0], cmd, env, file_actions=actions)
        # backstop only: the launcher enforces the timeout on its child itself
        timer = threading.Timer(timeout + 30, os.kill, (pid, signal.SIGKILL))
        timer.start()
        _, status, _ = os.wait4(pid, 0)
        timer.cancel()
        stdout, stderr, report = (f.seek(0) or f.read().decode(errors="replace")
                                  for f in (out, err, rep))
    fields = dict(kv.split("=", 1) for kv in report.split())
    if os.waitstatus_to_exitcode(status) != 0 or "status" not in fields:
        return (f"launcher failed ({stderr.strip()[-200:]})", stdout, stderr, 0.0, 0.0, 0)
    child = int(fields["status"])
    cpu = float(fields["utime"]) + float(fields["stime"])
    wall, rss = float(fields["wall"]), int(fields["maxrss"])
    problem = None
    if os.WIFSIGNALED(child):
        sig = os.WTERMSIG(child)
        problem = f"killed by {signal.Signals(sig).name}"
        if sig == signal.SIGKILL and wall >= timeout:
            problem = f"timed out after {timeout:g} s"
    elif os.WEXITSTATUS(child) != 0:
        problem = f"exit status {os.WEXITSTATUS(child)}"
    return problem, stdout, stderr, cpu, wall, rss


def child_env(base, alloc, extra):
    """(environment, library to preload) of one run"""
    env = dict(base)
    env.update(extra)
    env.update(alloc.env)
    return env, alloc.lib


def record_output(cell, alloc, case, problem, stdout, stderr):
    if problem is None and not CHECKSUM_RE.match(stdout.strip()):
        problem = "printed no checksum line"
    if problem is not None:
        tail = stderr.strip().splitlines()[-3:]
        cell.failures.append(problem)
        log(f"\n*** {case.label} under {alloc.name}: {problem}"
            + "".join(f"\n    {line}" for line in tail))
        return False
    cell.outputs[stdout.strip()] += 1
    return True


def measure(cases, allocs, args):
    base = base_environment()
    results = {}
    for case in cases:
        size = scaled(case.workload.size, args.scale)
        cells = {a.name: Cell() for a in allocs}
        results[case.label] = cells
        total = args.warmup + args.runs
        for r in range(total):
            warm = r < args.warmup
            log(f"{case.label:12s} {'warm-up' if warm else f'run {r - args.warmup + 1}/{args.runs}'}:",
                end="")
            for alloc in allocs:
                argv, extra, stdin_path = command(case, args, size)
                problem, stdout, stderr, cpu, wall, rss = run_child(
                    argv, *child_env(base, alloc, extra), stdin_path, args.timeout)
                cell = cells[alloc.name]
                if record_output(cell, alloc, case, problem, stdout, stderr) and not warm:
                    cell.samples.append(Sample(cpu, wall, rss))
                log(f"  {alloc.name} {cpu:.2f}s" if problem is None else f"  {alloc.name} FAILED",
                    end="")
            log("")
    return results


def callgrind(cases, allocs, args):
    if shutil.which("valgrind") is None:
        sys.exit("run.py: --callgrind needs valgrind")
    base = base_environment()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            size = scaled(case.workload.cg_size, args.scale)
            cells = {a.name: Cell() for a in allocs}
            results[case.label] = cells
            log(f"{case.label:12s} callgrind:", end="")
            for alloc in allocs:
                argv, extra, stdin_path = command(case, args, size)
                outfile = Path(tmp) / f"{case.label}.{alloc.name}.out"
                vg = [shutil.which("valgrind"), "--tool=callgrind",
                      f"--callgrind-out-file={outfile}"]
                problem, stdout, stderr, _, _, _ = run_child(
                    vg + argv, *child_env(base, alloc, extra), stdin_path, args.timeout * 50)
                cell = cells[alloc.name]
                if record_output(cell, alloc, case, problem, stdout, stderr):
                    cell.instructions = read_callgrind_total(outfile)
                    if cell.instructions is None:
                        cell.failures.append("no totals line in the callgrind output")
                log(f"  {alloc.name} {cell.instructions or 0:,} Ir", end="")
            log("")
    return results


def read_callgrind_total(path):
    """Ir from the "totals:" line of a callgrind output file ("summary:" in
    older versions)."""
    found = {}
    try:
        with open(path) as f:
            for line in f:
                for key in ("totals:", "summary:"):
                    if line.startswith(key):
                        found[key] = int(line.split()[1])
    except OSError:
        return None
    return found.get("totals:", found.get("summary:"))


# ---------------------------------------------------------------- checking

def check_checksums(results, notes):
    """Every successful run of a case must print the same line.  Returns the
    set of (case, allocator) whose output disagrees."""
    bad = set()
    for label, cells in results.items():
        seen = collections.Counter()
        for cell in cells.values():
            seen.update(cell.outputs)
        if len(seen) <= 1:
            continue
        ref_cell = cells.get("glibc")
        if ref_cell is not None and len(ref_cell.outputs) == 1:
            reference = next(iter(ref_cell.outputs))
        else:
            reference = seen.most_common(1)[0][0]
        msg = [f"CHECKSUM MISMATCH in {label}: expected {reference!r}"]
        for name, cell in cells.items():
            for line, count in cell.outputs.items():
                if line != reference:
                    bad.add((label, name))
                    msg.append(f"    {name}: {line!r} in {count} run(s)")
        banner = "!" * 72
        log(f"\n{banner}\n" + "\n".join(msg) + f"\n{banner}")
        notes.append("; ".join(m.strip() for m in msg))
    return bad


# ---------------------------------------------------------------- reporting

def geomean(values):
    values = [v for v in values if v is not None and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


def spread(values):
    """median absolute deviation relative to the median, in percent"""
    med = statistics.median(values)
    if len(values) < 2 or med == 0:
        return ""
    mad = statistics.median(abs(v - med) for v in values)
    return f" ±{100 * mad / med:.0f}%"


def summarise(results, allocs, bad):
    """Per case and allocator: medians, and the ratio columns."""
    rows = []
    ratios = {a.name: collections.defaultdict(list) for a in allocs}
    for label, cells in results.items():
        med = {}
        for name, cell in cells.items():
            if cell.samples and not cell.failures and (label, name) not in bad:
                med[name] = (statistics.median(s.cpu for s in cell.samples),
                             statistics.median(s.rss_kib for s in cell.samples) / 1024)
        for alloc in allocs:
            cell = cells[alloc.name]
            status = ""
            if (label, alloc.name) in bad:
                status = "CHECKSUM MISMATCH"
            elif cell.failures:
                status = f"FAILED: {cell.failures[0]}" + (
                    f" (+{len(cell.failures) - 1} more)" if len(cell.failures) > 1 else "")
            if alloc.name not in med:
                rows.append([label, alloc.name, status or "no data", "", "", "", "", "", ""])
                continue
            cpu, rss = med[alloc.name]
            wall = statistics.median(s.wall for s in cell.samples)
            r = {}
            for ref in ("glibc", "mimalloc"):
                r["cpu", ref] = ratio(cpu, med.get(ref, (None, None))[0])
                r["rss", ref] = ratio(rss, med.get(ref, (None, None))[1])
                ratios[alloc.name]["cpu", ref].append(r["cpu", ref])
                ratios[alloc.name]["rss", ref].append(r["rss", ref])
            rows.append([label, alloc.name,
                         f"{cpu:.3f}{spread([s.cpu for s in cell.samples])}",
                         f"{wall:.3f}", f"{rss:.1f}",
                         fmt(r["cpu", "glibc"]), fmt(r["cpu", "mimalloc"]),
                         fmt(r["rss", "glibc"]), fmt(r["rss", "mimalloc"])])
    header = ["workload", "allocator", "CPU s", "wall s", "peak RSS MiB",
              "CPU ÷ glibc", "CPU ÷ mimalloc", "RSS ÷ glibc", "RSS ÷ mimalloc"]
    gheader = ["allocator", "CPU ÷ glibc", "CPU ÷ mimalloc", "RSS ÷ glibc", "RSS ÷ mimalloc"]
    grows = []
    for alloc in allocs:
        rr = ratios[alloc.name]
        grows.append([alloc.name] + [fmt(geomean(rr[k, ref])) for k, ref in
                                     (("cpu", "glibc"), ("cpu", "mimalloc"),
                                      ("rss", "glibc"), ("rss", "mimalloc"))])
    return header, rows, gheader, grows


def summarise_callgrind(results, allocs, bad):
    rows = []
    ratios = {a.name: collections.defaultdict(list) for a in allocs}
    for label, cells in results.items():
        ir = {name: c.instructions for name, c in cells.items()
              if c.instructions and not c.failures and (label, name) not in bad}
        for alloc in allocs:
            cell = cells[alloc.name]
            if alloc.name not in ir:
                status = "CHECKSUM MISMATCH" if (label, alloc.name) in bad else \
                    f"FAILED: {cell.failures[0]}" if cell.failures else "no data"
                rows.append([label, alloc.name, status, "", ""])
                continue
            rg, rm = ratio(ir[alloc.name], ir.get("glibc")), ratio(ir[alloc.name], ir.get("mimalloc"))
            ratios[alloc.name]["glibc"].append(rg)
            ratios[alloc.name]["mimalloc"].append(rm)
            rows.append([label, alloc.name, f"{ir[alloc.name]:,}", fmt(rg), fmt(rm)])
    header = ["workload", "allocator", "instructions (Ir)", "Ir ÷ glibc", "Ir ÷ mimalloc"]
    gheader = ["allocator", "Ir ÷ glibc", "Ir ÷ mimalloc"]
    grows = [[a.name, fmt(geomean(ratios[a.name]["glibc"])), fmt(geomean(ratios[a.name]["mimalloc"]))]
             for a in allocs]
    return header, rows, gheader, grows


def render(header, rows, markdown):
    numeric = range(2, len(header)) if header[0] == "workload" else range(1, len(header))
    if markdown:
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join("---:" if i in numeric else "---" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    def line(row):
        return "  ".join(str(c).rjust(w) if i in numeric else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(row, widths))).rstrip()
    out = [line(header), line(["-" * w for w in widths])]
    prev = None
    for row in rows:
        if header[0] == "workload" and prev is not None and row[0] != prev:
            out.append("")
        out.append(line(row))
        prev = row[0]
    return "\n".join(out)


def library_version(lib):
    """when lib was built, and the repository's commit (for the libscvgc rows)"""
    built = time.strftime("%Y-%m-%d %H:%M", time.localtime(lib.stat().st_mtime))
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--",
                                "core", "preload", "Makefile"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"{lib.name} built {built}"
    return (f"{lib.name} built {built}, repository at {head}"
            + (" with uncommitted changes in core/, preload/ or Makefile" if dirty else ""))


def machine_cpu_seconds():
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat"""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]  # user .. steal
    hz = os.sysconf("SC_CLK_TCK")
    idle = ticks[3] + ticks[4]                                # idle + iowait
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


def machine_line():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{model}, {os.cpu_count()} cores, Linux {platform.release()}, "
            f"{time.strftime('%Y-%m-%d')}")


def report(results, allocs, cases, args, notes, bad):
    md = args.markdown
    out = []
    if args.callgrind:
        header, rows, gheader, grows = summarise_callgrind(results, allocs, bad)
        what = ("Instruction counts (Ir) from valgrind --tool=callgrind, whole program, "
                "one run each (deterministic)")
    else:
        header, rows, gheader, grows = summarise(results, allocs, bad)
        what = (f"Median of {args.runs} interleaved runs after {args.warmup} warm-up round(s); "
                f"CPU = user+sys of the child (±: median absolute deviation), "
                f"peak RSS = ru_maxrss")
    sizes = ", ".join(f"{c.label} {scaled(c.workload.cg_size if args.callgrind else c.workload.size, args.scale)}"
                      for c in cases)
    what += f"; sizes: {sizes}"
    scvgc = [a for a in allocs if a.name.startswith("libscvgc")]
    if scvgc:
        what += f"; libscvgc with SCVGC_MODE={args.scvgc_mode} ({library_version(scvgc[0].lib)})"
    out.append(f"{what}.  Machine: {machine_line()}; load average at start "
               f"{args.load_at_start:.2f}; other processes used {args.others_share:.0%} of "
               f"the machine's CPU during the run.")
    out.append("")
    out.append(render(header, rows, md))
    out.append("")
    out.append(("Geometric means over the workloads above:" if md else
                "Geometric means over the workloads:"))
    out.append("")
    out.append(render(gheader, grows, md))
    if notes:
        out.append("")
        out.extend(("- " if md else "note: ") + n for n in notes)
    print("\n".join(out))


def dump_json(path, results, allocs, args, notes):
    data = {"args": vars(args), "machine": machine_line(), "notes": notes,
            "allocators": {a.name: {"lib": str(a.lib) if a.lib else None, "env": a.env}
                           for a in allocs},
            "results": {label: {name: {"samples": [vars(s) for s in c.samples],
                                       "outputs": dict(c.outputs), "failures": c.failures,
                                       "instructions": c.instructions}
                                for name, c in cells.items()}
                        for label, cells in results.items()}}
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


# ---------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="workloads:\n" + "\n".join(
                                    f"  {w.name:9s} {w.about}" for w in WORKLOADS))
    p.add_argument("-w", "--workloads", default=",".join(w.name for w in WORKLOADS),
                   help="comma-separated workloads (default: all)")
    p.add_argument("-a", "--allocators", default="glibc,jemalloc,mimalloc,tcmalloc,libscvgc",
                   help="comma-separated allocators (default: %(default)s)")
    p.add_argument("--runs", type=int, default=5, help="measured runs per allocator (default 5)")
    p.add_argument("--warmup", type=int, default=1,
                   help="unmeasured rounds before the runs (default 1)")
    p.add_argument("--threads", default="2",
                   help="thread counts for prodcons and larson, e.g. 1,2,4,8 (default 2)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every workload size")
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    p.add_argument("--callgrind", action="store_true",
                   help="count instructions with callgrind (single-threaded workloads, "
                        "smaller sizes) instead of timing")
    p.add_argument("--json", metavar="FILE", help="also write every sample to FILE")
    p.add_argument("--timeout", type=float, default=120, help="seconds before a run is killed")
    p.add_argument("--scvgc-lib", default=str(ROOT / "build" / "libscvgc.so"),
                   help="libscvgc to preload (default: build/libscvgc.so)")
    p.add_argument("--scvgc-mode", default="off", help="SCVGC_MODE for libscvgc (default off)")
    p.add_argument("--python", default="/usr/bin/python3", help="python for the python workload")
    p.add_argument("--sqlite3", default=shutil.which("sqlite3") or "/usr/bin/sqlite3",
                   help="sqlite3 shell for the sqlite workload")
    p.add_argument("--cc", default=os.environ.get("CC", "gcc"), help="C compiler")
    args = p.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be >= 1 and --warmup >= 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    notes = []
    allocs = find_allocators(args, notes)
    if not allocs:
        sys.exit("run.py: no allocator to run")
    cases = select_cases(args, notes)
    if not cases:
        sys.exit("run.py: no workload to run")
    for note in notes:
        log(f"note: {note}")
    args.load_at_start = os.getloadavg()[0]
    if args.load_at_start > 0.5:
        log(f"warning: load average {args.load_at_start:.2f}: other processes are running, "
            "the timings will be noisy")
    build(args)
    start = time.monotonic()
    machine0, own0 = machine_cpu_seconds(), sum(os.times()[:4])
    results = (callgrind if args.callgrind else measure)(cases, allocs, args)
    machine1, own1 = machine_cpu_seconds(), sum(os.times()[:4])
    busy, total = machine1[0] - machine0[0], machine1[1] - machine0[1]
    args.others_share = max(0.0, (busy - (own1 - own0)) / total) if total > 0 else 0.0
    log(f"done in {time.monotonic() - start:.0f} s; other processes used "
        f"{args.others_share:.0%} of the machine's CPU meanwhile")
    if args.others_share > 0.05 and not args.callgrind:
        log("warning: the machine was not quiet: the timings are noisy, run again when it is")
    bad = check_checksums(results, notes)
    failed = any(c.failures for cells in results.values() for c in cells.values())
    if failed:
        notes.append("some runs FAILED (see the rows marked FAILED and the log on stderr)")
    report(results, allocs, cases, args, notes, bad)
    if args.json:
        dump_json(args.json, results, allocs, args, notes)
    return 1 if bad or failed else 0


if __name__ == "__main__":
    sys.exit(main())
