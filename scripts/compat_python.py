#!/usr/bin/python3
"""compat_python.py — CPython's regression suite under libscvgc, compared with a run without it.

Each module of the list runs alone (`python3.11 -m test -j1 --junit-xml FILE MODULE`) with
PYTHONMALLOC=malloc, so that every Python object comes from malloc:

    plain    no preload (the baseline)
    leak     LD_PRELOAD=libscvgc.so SCVGC_MODE=leak
    collect  LD_PRELOAD=libscvgc.so SCVGC_MODE=collect SCVGC_GOGC=10

(SCVGC_REPORT=none in both: the exit report on stderr would change what tests that read a
child's stderr see.) The result of a module is its regrtest verdict (passed, failed, skipped,
env changed, crashed, timed out) and the outcome of every test case in its JUnit file (ok,
fail, error, skip, xfail, xpass). A module gives "the same result" under the preload when the
verdict and every case's outcome are the baseline's. A module that differs is run again, twice
without the preload and once more in the mode that differed: a case whose outcome also varies
without the preload is flaky (noted, not counted against the library); one that differs in
both preloaded runs and never without the preload is a real difference.

    compat_python.py [--modules LIST|--ci] [--modes plain,leak,collect] [--out DIR]
                     [--timeout S] [--markdown FILE] [--no-rerun]

Writes DIR/results.json (everything), DIR/MODE/MODULE.{xml,log}, and with --markdown the
tables of docs/compatibility.md. Prints one line per module and mode, then
"python modules: N same, N differ (leak), N same, N differ (collect)". Exit status 1 when a
module differs for a reason other than flakiness.
"""
import argparse
import glob
import shutil
import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.environ.get("COMPAT_LIB") or os.path.join(ROOT, "build", "libscvgc.so")  # COMPAT_LIB: another build
PYTHON = "/usr/bin/python3.11"
STDTEST = "/usr/lib/python3.11/test"
# Debian's libpython3.11-testsuite leaves test_sqlite3 out. Where a CPython 3.11 tree is on
# the machine (pyenv's, a /usr/local build, or COMPAT_PY_TESTDIRS=dir:dir), a module missing
# from Debian's suite is taken from there: an overlay "test" package (links to Debian's
# files, plus a copy of the module) goes first on PYTHONPATH for that module only, so that
# the module runs on Debian's interpreter with Debian's test.support.
EXTRA_TESTDIRS = [d for d in os.environ.get("COMPAT_PY_TESTDIRS", "").split(":") if d] + \
    sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.11*/lib/python3.11/test")), reverse=True) + \
    ["/usr/local/lib/python3.11/test"]

# The tree a module came from, in words: the document names no path of the machine that
# produced it (a home directory, a build tree).
def describe_testdir(src):
    m = re.search(r"/\.pyenv/versions/([^/]+)/", src)
    if m:
        return "pyenv's CPython %s test directory" % m.group(1)
    if src.startswith("/usr/local/"):
        return "the test directory of a CPython 3.11 built into /usr/local"
    return "a CPython 3.11 tree given in COMPAT_PY_TESTDIRS"


# The modules: the ones the issue names first, then a spread over the interpreter's core
# (objects, GC, weakrefs), the C extension modules that allocate (zlib, bz2, lzma, hashlib,
# pyexpat, _decimal, _pickle, _json, _sqlite3, _ctypes, select, mmap), the OS interfaces
# (os, posix, fork, wait, pty, fcntl, resource) and threads. Left out: modules that take
# many minutes alone (test_asyncio, test_concurrent_futures, test_multiprocessing_spawn
# and _forkserver, test_io, test_decimal's bigmem parts...), GUI, network-only and Windows
# ones.
MODULES = """
test_threading test_subprocess test_multiprocessing_fork test_ctypes test_mmap test_signal
test_socket test_sqlite3
test_thread test_threading_local test_threadsignals test_threadedtempfile test_queue
test_os test_posix test_fork1 test_wait3 test_wait4 test_pty test_fcntl test_resource
test_select test_selectors test_poll test_epoll test_eintr test_faulthandler test_atexit
test_gc test_weakref test_weakset test_finalization test_dict test_list test_set test_tuple
test_bytes test_unicode test_string test_array test_struct test_memoryview test_deque
test_collections test_ordered_dict test_defaultdict test_itertools test_functools
test_heapq test_bisect test_sort test_enum test_dataclasses test_descr test_class
test_exceptions test_traceback test_sys test_json test_re test_pickle test_marshal
test_copy test_zlib test_gzip test_bz2 test_lzma test_zipfile test_tarfile test_hashlib
test_hmac test_random test_math test_fractions test_statistics test_decimal test_datetime
test_time test_csv test_xml_etree test_xml_etree_c test_minidom test_pyexpat test_codecs
test_unicodedata test_tempfile test_shutil test_glob test_pathlib test_fileio test_file
test_mailbox test_logging test_argparse test_difflib test_textwrap test_tokenize test_ast
test_compile test_grammar test_generators test_coroutines test_contextlib
test_socketserver test_timeout test_httpservers test_xmlrpc test_dbm_dumb test_shelve
""".split()

# make test's short subset (test/integration/compat.sh): the modules the issue names that
# run in seconds (not test_sqlite3: Debian does not ship it), and a few that stress the
# allocator.
CI_MODULES = """
test_ctypes test_mmap test_thread test_threading_local test_select test_json
test_re test_dict test_weakref test_zlib test_struct
""".split()

# Test cases left out (regrtest --ignore), each for a reason that has nothing to do with the
# allocator: they hang or cannot work on the machines these runs use.
IGNORE = {
    # AF_VSOCK exists in a Firecracker guest but nothing answers: accept() waits for ever
    # (15 minutes, the per-module timeout, without the preload too)
    "test_socket": ["*ThreadedVSOCKSocketStreamTest*"],
}

MODES = {
    "plain": {},
    "leak": {"LD_PRELOAD": LIB, "SCVGC_MODE": "leak", "SCVGC_REPORT": "none"},
    "collect": {"LD_PRELOAD": LIB, "SCVGC_MODE": "collect", "SCVGC_GOGC": "10",
                "SCVGC_REPORT": "none"},
}

VERDICT = re.compile(r"\[\s*\d+/\d+(?:/\d+)?\] (test_\w+) (.*)$")


def env_for(mode):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SCVGC") and k not in ("LD_PRELOAD", "PYTHONMALLOC")}
    env.update({"PYTHONMALLOC": "malloc", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0"})
    env.update(MODES[mode])
    return env


def cases_of(xml_path):
    """{test id: outcome} from a regrtest JUnit file; None when there is none."""
    try:
        tree = ET.parse(xml_path)
    except (OSError, ET.ParseError):
        return None
    out = {}
    for tc in tree.iter("testcase"):
        name = tc.get("name", "?")
        kids = {c.tag for c in tc}
        if "error" in kids:
            o = "error"
        elif "failure" in kids:
            o = "fail"
        elif "skipped" in kids:
            o = "skip"
        elif "output" in kids:
            o = "xfail"
        elif "outcome" in kids:
            o = "xpass"
        else:
            o = "ok"
        # a name can repeat (a test run twice by a mixin): keep the worst outcome
        if name in out and out[name] != "ok" and o == "ok":
            continue
        out[name] = o
    return out


def verdict_of(log):
    v = None
    for line in log.splitlines():
        m = VERDICT.search(line)
        if m:
            v = m.group(2).strip()
    if v is None:
        if "== Tests result: SUCCESS" in log or "Tests result: SUCCESS" in log:
            v = "passed"
        elif "Tests result:" in log:
            v = log.split("Tests result:")[-1].split("\n")[0].strip().lower()
    if v is None:
        return "no result"
    # "passed (1.2 sec)", "failed (2 failures)", "skipped (resource denied)", "passed -- running: ..."
    # keep the kind only: "failed (3 failures)" and "failed (5 failures)" are the same
    # verdict, the cases tell the rest
    v = re.sub(r"\s*--.*$", "", v)
    v = re.sub(r"\s*\(.*$", "", v)
    return v.strip()


def in_stdtest(module):
    return os.path.exists(os.path.join(STDTEST, module + ".py")) or \
        os.path.isdir(os.path.join(STDTEST, module))


def overlay_for(module, out):
    """(PYTHONPATH entry, source directory) for a module Debian lacks; (None, None) when the
    module is Debian's or found nowhere."""
    if in_stdtest(module):
        return None, None
    for d in EXTRA_TESTDIRS:
        src = os.path.join(d, module)
        if not (os.path.isdir(src) or os.path.exists(src + ".py")):
            continue
        root = os.path.join(out, "overlay")
        pkg = os.path.join(root, "test")
        if not os.path.isdir(pkg):
            os.makedirs(pkg)
            for f in os.listdir(STDTEST):
                os.symlink(os.path.join(STDTEST, f), os.path.join(pkg, f))
        dst = os.path.join(pkg, os.path.basename(src if os.path.isdir(src) else src + ".py"))
        if not os.path.exists(dst):
            if os.path.isdir(src):
                shutil.copytree(src, dst)
            else:
                shutil.copy(src + ".py", dst)
        return root, d
    return None, None


def default_signals():
    """Started from nohup or a background job, SIGINT and SIGQUIT are ignored and the tests
    that send them (test_signal, test_threading's interrupt_main) would fail: give the
    suite the default dispositions a terminal would."""
    for s in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(s, signal.SIG_DFL)


def run_module(module, mode, out, timeout, tag=""):
    d = os.path.join(out, mode + tag)
    os.makedirs(d, exist_ok=True)
    xml = os.path.join(d, module + ".xml")
    logf = os.path.join(d, module + ".log")
    if os.path.exists(xml):
        os.unlink(xml)
    xml = os.path.abspath(xml)
    work = os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)
    t0 = time.time()
    cmd = [PYTHON, "-m", "test", "-j1", "--timeout", str(timeout), "--junit-xml", xml]
    for pat in IGNORE.get(module, []):
        cmd += ["--ignore", pat]
    cmd.append(module)
    env = env_for(mode)
    overlay, source = overlay_for(module, out)
    if overlay:
        env["PYTHONPATH"] = overlay
    try:
        p = subprocess.run(cmd, env=env, cwd=work, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           timeout=timeout + 120, preexec_fn=default_signals)
        log, rc = p.stdout.decode("utf-8", "replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        log = (e.stdout or b"").decode("utf-8", "replace") + "\n[compat] killed: timed out\n"
        rc = "timeout"
    secs = time.time() - t0
    with open(logf, "w") as f:
        f.write(log)
    verdict = "timed out" if rc == "timeout" else verdict_of(log)
    cases = cases_of(xml) or {}
    counts = {}
    for o in cases.values():
        counts[o] = counts.get(o, 0) + 1
    return {"verdict": verdict, "rc": rc, "seconds": round(secs, 1), "cases": cases,
            "counts": counts, "source": source or STDTEST}


def differences(base, other):
    """The cases whose outcome differs, and whether the verdicts differ."""
    diff = {}
    for name in set(base["cases"]) | set(other["cases"]):
        a, b = base["cases"].get(name, "absent"), other["cases"].get(name, "absent")
        if a != b:
            diff[name] = (a, b)
    return base["verdict"] != other["verdict"], diff


def classify(base, run, reruns, mode, vd, diff):
    """A module that differs, with its reruns: 'flaky' when every differing outcome also
    happened in a run without the preload, else 'differs' (noted 'in 1 of 2 runs' when the
    second preloaded run gave the baseline's outcome: an intermittent difference is still one)."""
    bases = [base, reruns["plain2"], reruns["plain3"]]
    again = reruns[mode + "2"]
    flaky, real = [], []
    for name, (x, y) in sorted(diff.items()):
        seen_plain = {b["cases"].get(name, "absent") for b in bases}
        y2 = again["cases"].get(name, "absent")
        if y in seen_plain:
            flaky.append((name, sorted(seen_plain)))
        else:
            real.append((name, x, y, y2))
    verdicts_plain = {b["verdict"] for b in bases}
    if real or (vd and not diff and run["verdict"] not in verdicts_plain):
        notes = []
        absent = [r for r in real if r[2] == "absent"]
        if len(absent) > 3:  # the test process died: one note, not one per case
            notes.append("%d cases never ran with the preload (verdict %r, then %r): the "
                         "test process died" % (len(absent), run["verdict"], again["verdict"]))
            real = [r for r in real if r[2] != "absent"]
        for name, x, y, y2 in real[:8]:
            how = "in both runs with it" if y2 == y else "in 1 of 2 runs with it (the other: %s)" % y2
            notes.append("%s: %s in 3 runs without the preload, %s %s" % (name, x, y, how))
        if not notes:
            notes.append("verdict %r in 3 runs without the preload, %r and %r with it" % (
                base["verdict"], run["verdict"], again["verdict"]))
        return "differs", notes
    notes = ["%s: outcome varies without the preload too (%s)" % (n, ", ".join(o)) for n, o in flaky[:8]]
    if vd and not flaky:
        notes.append("verdict varies: %s" % ", ".join(sorted(verdicts_plain | {run["verdict"]})))
    return "flaky", notes


def summary(r):
    c = r["counts"]
    bits = ["%d ok" % c.get("ok", 0)]
    for k in ("fail", "error", "skip", "xfail", "xpass"):
        if c.get(k):
            bits.append("%d %s" % (c[k], k))
    return "%s (%s; %.0f s)" % (r["verdict"], ", ".join(bits), r["seconds"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modules")
    ap.add_argument("--ci", action="store_true", help="the short list make test runs")
    ap.add_argument("--modes", default="plain,leak,collect")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "compat", "python"))
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--markdown")
    ap.add_argument("--no-rerun", action="store_true")
    ap.add_argument("--pass-fail", action="store_true",
                    help="also a 'PASS: ...' or 'FAIL: ...' line per module and mode (make test)")
    ap.add_argument("--report-only", action="store_true",
                    help="run nothing: the summary and --markdown from DIR/results.json as it is")
    ap.add_argument("--redo", default="", help="with --resume: run these modules again")
    ap.add_argument("--resume", action="store_true",
                    help="keep the results already in DIR/results.json")
    a = ap.parse_args()
    modules = CI_MODULES if a.ci else (a.modules.replace(",", " ").split() if a.modules else MODULES)
    modes = a.modes.split(",")
    if "plain" not in modes:
        modes.insert(0, "plain")
    if not os.path.exists(PYTHON):
        print("compat_python: %s is missing (Debian packages python3.11 and "
              "libpython3.11-testsuite)" % PYTHON)
        return 2
    if not in_stdtest("test_json"):
        print("compat_python: the regression suite is missing (Debian package "
              "libpython3.11-testsuite)")
        return 2
    a.out = os.path.abspath(a.out)
    os.makedirs(a.out, exist_ok=True)
    resf = os.path.join(a.out, "results.json")
    res = {}
    if a.resume and os.path.exists(resf):
        with open(resf) as f:
            res = json.load(f)
        for m in a.redo.replace(",", " ").split():
            res.pop(m, None)

    def save():
        with open(resf + ".tmp", "w") as f:
            json.dump(res, f, indent=1, sort_keys=True)
        os.replace(resf + ".tmp", resf)

    if a.report_only:
        with open(resf) as f:
            res = json.load(f)
        modules = [m for m in modules if m in res and "status" in res[m] and
                   all(x in res[m]["status"] for x in modes if x != "plain")]
    bad = 0
    tally = {m: [0, 0, 0] for m in modes if m != "plain"}  # same, flaky-only, differ
    for mod in modules:
        r = res.setdefault(mod, {})
        for mode in modes:
            if mode not in r and not a.report_only:
                r[mode] = run_module(mod, mode, a.out, a.timeout)
                save()
        base = r["plain"]
        print("%-34s plain    %s" % (mod, summary(base)), flush=True)
        for mode in modes:
            if mode == "plain":
                continue
            vd, diff = differences(base, r[mode])
            status, notes = "same", []
            reruns = r.get("reruns", {})
            if (vd or diff) and a.no_rerun:
                status = "differs"
            elif vd or diff:
                if not a.report_only:
                    # again, twice without the preload and once in this mode
                    reruns = r.setdefault("reruns", {})
                    for k in ("plain2", "plain3", mode + "2"):
                        if k not in reruns:
                            reruns[k] = run_module(mod, k.rstrip("23"), a.out, a.timeout,
                                                   tag=k[-1])
                            save()
                if all(k in reruns for k in ("plain2", "plain3", mode + "2")):
                    status, notes = classify(base, r[mode], reruns, mode, vd, diff)
                else:
                    status, notes = r["status"][mode], r["notes"][mode]
            r.setdefault("status", {})[mode] = status
            r.setdefault("notes", {})[mode] = notes
            if not a.report_only:
                save()
            tally[mode][{"same": 0, "flaky": 1, "differs": 2}[status]] += 1
            if status == "differs":
                bad += 1
            print("%-34s %-8s %s: %s" % ("", mode, summary(r[mode]), status), flush=True)
            for n in notes:
                print("%-34s          %s" % ("", n))
            if a.pass_fail:
                label = "python3.11 -m test %s gives the result it gives without the preload (%s)" % (
                    mod, "SCVGC_MODE=collect SCVGC_GOGC=10" if mode == "collect" else "SCVGC_MODE=" + mode)
                if status == "differs":
                    print("FAIL: " + label)
                    print("    without the preload: " + summary(base))
                    print("    with it: " + summary(r[mode]))
                    for n in notes:
                        print("    " + n)
                else:
                    print("PASS: " + label + (" (flaky without the preload too)" if status == "flaky" else ""))
    print("python modules: " + ", ".join(
        "%s: %d same, %d flaky without the preload too, %d differ" % (m, t[0], t[1], t[2])
        for m, t in tally.items()))
    if a.markdown:
        write_markdown(a.markdown, modules, modes, res)
    return 1 if bad else 0


def write_markdown(path, modules, modes, res):
    pre = [m for m in modes if m != "plain"]
    lines = ["| module | without the preload | " + " | ".join(pre) + " |",
             "|---|---|" + "---|" * len(pre)]
    for mod in modules:
        r = res[mod]
        row = ["`%s`" % mod, summary(r["plain"])]
        for m in pre:
            st = r["status"][m]
            cell = {"same": "same", "flaky": "same (flaky without the preload too)",
                    "differs": "**differs**"}[st]
            if st != "same":
                cell += ": " + summary(r[m])
            row.append(cell)
        lines.append("| " + " | ".join(row) + " |")
    notes = []
    for mod in modules:
        src = res[mod]["plain"].get("source", STDTEST)
        if src != STDTEST:
            notes.append("- `%s` is not in Debian's libpython3.11-testsuite: taken from %s, run "
                         "on Debian's python3.11 (failures of newer tests happen without the "
                         "preload too)" % (mod, describe_testdir(src)))
        for m in pre:
            for n in res[mod]["notes"].get(m, []):
                notes.append("- `%s` (%s): %s" % (mod, m, n))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
        if notes:
            f.write("\nDifferences and flaky cases:\n\n" + "\n".join(notes) + "\n")


if __name__ == "__main__":
    sys.exit(main())
