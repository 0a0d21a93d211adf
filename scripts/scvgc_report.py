#!/usr/bin/env python3
"""scvgc_report.py — the report half of the scvgc wrapper: reads libscvgc's JSON reports.

    scvgc_report.py report FILE.json [--html OUT] [--title TEXT]
        the report as text on stdout, in the library's own text format (docs/reports.md),
        or with --html a self-contained HTML page (OUT `-`: stdout)
    scvgc_report.py report FILE.json [--gen-suppressions] [--folded [OUT]] [--pprof OUT]
                                     [--sarif OUT [--source-root DIR]]
        the same leak groups as a suppressions file (stdout), folded stacks, a gzipped pprof
        profile, or SARIF 2.1.0 (docs/wrapper.md, "Other formats")
    scvgc_report.py diff [--grown PERCENT] OLD.json NEW.json
        the leak groups of NEW whose allocation stack OLD does not have (and with --grown those
        that grew by more than PERCENT); exit status 1 when there is one, 0 when there is none,
        2 when a report cannot be read or NEW is incomplete
    scvgc_report.py snapshot PID [--timeout S] [--signal SIG]
        sends the report signal to a process running under the library with
        SCVGC_REPORT_SIGNAL, waits for the report it writes and prints its path
    scvgc_report.py run --html OUT --preload LIB [--json TEMPLATE] [--title TEXT] -- PROG ARGS
        what `scvgc --html` runs: PROG with LD_PRELOAD=LIB, then the HTML of its own report
        (the one named for its pid, not a fork child's); exits with PROG's status

scripts/scvgc (the sh front end) parses the options and calls this file; it is installed next
to the helper binaries (PREFIX/lib/scvgc/). Python 3 standard library only.

Reports may come from older or newer libraries: every field may be missing or null (SPEC:
"Unknown values are null"); absent sections (`timeline`, `reclaimed`, the per-group
`reclaimed_*`) are simply not shown.
"""

import argparse
import html
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time

PROG = "scvgc"
TIMELINE_SERIES = (  # key, label, colour (the HTML chart's legend order)
    ("inuse_bytes", "heap in use", "#d9480f"),
    ("sys_bytes", "heap sys", "#1c7ed6"),
    ("released_bytes", "released to the OS", "#2b8a3e"),
    ("rss_bytes", "RSS", "#7048e8"),
)


class ReportError(Exception):
    pass


# ---- reading ---------------------------------------------------------------------------------

def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def num(v, default=None):
    return v if is_num(v) else default


def obj(v):
    return v if isinstance(v, dict) else {}


def load(path):
    """The report in PATH as a dict with `leaks` always a list of dicts and stacks lists."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            rep = json.load(f)
    except OSError as e:
        raise ReportError("%s: %s" % (path, e.strerror or e))
    except ValueError as e:
        raise ReportError("%s: not JSON: %s" % (path, e))
    if not isinstance(rep, dict) or "leaks" not in rep and "totals" not in rep:
        raise ReportError("%s: not a libscvgc JSON report (no `leaks` or `totals`)" % path)
    rep["leaks"] = clean_groups(rep.get("leaks"))
    if "reclaimed" in rep and rep["reclaimed"] is not None:
        rep["reclaimed"] = clean_groups(rep.get("reclaimed"))
    return rep


def clean_groups(v):
    groups = []
    for g in v if isinstance(v, list) else []:
        if not isinstance(g, dict):
            continue
        g = dict(g)
        g["stack"] = [f for f in (g.get("stack") or []) if isinstance(f, dict)] \
            if isinstance(g.get("stack"), list) else []
        groups.append(g)
    return groups


def sval(v):
    """A string field of a frame, or None."""
    return v if isinstance(v, str) and v else None


def frame_key(f):
    """How frames are matched across runs: the function name when known (so ASLR does not
    matter), else the module and offset (a future `offset` field), else module and pc.
    The HTML page's JS (frameKey) uses the same rule for merging frames."""
    fn = sval(f.get("function"))
    if fn:
        return fn
    mod = sval(f.get("module")) or "?"
    off = sval(f.get("offset"))
    if off:
        return "%s+%s" % (mod, off)
    return "%s@%s" % (mod, sval(f.get("pc")) or "?")


def stack_key(g):
    return tuple(frame_key(f) for f in g["stack"])


# ---- text ------------------------------------------------------------------------------------

def n_text(v):
    return str(int(v)) if is_num(v) else "?"


def kib(v):
    return str(int(v) >> 10) if is_num(v) else "?"


def usec(v):
    return str(int(v) // 1000) if is_num(v) else "?"


def frame_line(k, f):
    fn = sval(f.get("function")) or "??"
    s = "#%d %s %s" % (k, sval(f.get("pc")) or "??", fn)
    file = sval(f.get("file"))
    if file:
        line = f.get("line")
        s += " (%s:%s)" % (file, int(line)) if is_num(line) else " (%s)" % file
    return s + " " + (sval(f.get("module")) or "")


def group_head(g, verb="leaked"):
    objs = num(g.get("objects"))
    kind = g.get("kind")
    adverb = "directly " if kind == "direct" else "indirectly " if kind == "indirect" else ""
    return "%s bytes in %s object%s %s %s%s, allocated at:" % (
        n_text(g.get("bytes")), n_text(objs), "" if objs == 1 else "s",
        "is" if objs == 1 else "are", adverb, verb)


def stack_lines(g):
    if not g["stack"]:
        return ["    (no stack captured)"]
    return ["    " + frame_line(k, f) for k, f in enumerate(g["stack"])]


def suppression_lines(rep):
    """The library's "suppressions used" block (docs/reports.md), from `suppressions`."""
    supp = [x for x in (rep.get("suppressions") or []) if isinstance(x, dict)]
    if not supp:
        return []
    out = []

    def where(x):
        return "leak:%s (%s:%s)" % (sval(x.get("pattern")) or "?", sval(x.get("source")) or "?",
                                   n_text(x.get("line")))
    used = [x for x in supp if num(x.get("groups"), 0) or num(x.get("objects"), 0)]
    if used:
        out.append("suppressions used:")
        out.append("     objects        bytes  pattern")
        for x in used:
            out.append("%12s %12s  %s" % (n_text(x.get("objects")), n_text(x.get("bytes")), where(x)))
    unused = [x for x in supp if x not in used]
    if unused:
        out.append("suppressions unused:")
        out.extend("  " + where(x) for x in unused)
    out.append("")
    return out


# With more than TEXT_GROUPS_MAX leak groups the library's text report merges those that share
# their kind and first TEXT_TOP_FRAMES frames (the return addresses: inlined frames are the
# same pc) and prints the TEXT_GROUPS_MAX largest (core/report.c, docs/reports.md); the JSON
# keeps each group.
TEXT_TOP_FRAMES = 8
TEXT_GROUPS_MAX = 1000


def text_groups(leaks):
    """The text report's merged groups, largest first: dicts of rep (the largest member, whose
    stack is printed), objects, bytes, stacks (groups merged)."""
    groups, index = [], {}
    merge = len(leaks) > TEXT_GROUPS_MAX
    for i, g in enumerate(leaks):
        if not merge:
            groups.append({"rep": g, "i": i, "objects": num(g.get("objects"), 0),
                           "bytes": num(g.get("bytes"), 0), "stacks": 1})
            continue
        pcs = tuple(sval(f.get("pc")) for f in g["stack"]
                    if f.get("inlined") is not True)[:TEXT_TOP_FRAMES]
        key = (g.get("kind"), pcs)
        t = index.get(key)
        if t is None:
            t = index[key] = {"rep": g, "i": i, "objects": 0, "bytes": 0, "stacks": 0}
            groups.append(t)
        t["objects"] += num(g.get("objects"), 0)
        t["bytes"] += num(g.get("bytes"), 0)
        t["stacks"] += 1
    groups.sort(key=lambda t: (-t["bytes"], -t["objects"], t["i"]))
    return groups


def text_report(rep):
    """The report in the library's text format (docs/reports.md), line for line where the
    JSON holds the same facts; `reclaimed` and `timeline` lines only when the report has them."""
    pid = rep.get("pid")
    pre = "==%s== scvgc: " % (int(pid) if is_num(pid) else "?")
    mode = rep.get("mode") if isinstance(rep.get("mode"), str) else "?"
    t = obj(rep.get("totals"))
    leaks = rep["leaks"]
    out = []
    if is_num(rep.get("snapshot")):  # the report signal's snapshot N (docs/reports.md)
        out.append("snapshot %d of the running program (SCVGC_REPORT_SIGNAL)" % rep["snapshot"])
    reported = sum(num(t.get(k), 0) for k in ("direct_objects", "indirect_objects"))
    if not reported and not leaks:
        out.append("no leaks found (%s mode%s)" % (
            mode, "; the check was incomplete: a thread could not be stopped"
            if rep.get("complete") is False else ""))
    else:
        out.append("LEAK SUMMARY (%s mode): %s bytes in %s objects are leaked" % (
            mode, n_text(sum(num(t.get(k), 0) for k in ("direct_bytes", "indirect_bytes"))),
            n_text(reported)))
        sb = rep.get("sample_bytes")
        if is_num(sb) and sb > 0:  # the library's line (docs/reports.md "Sampled stacks")
            out.append("stacks sampled, one per %d bytes allocated on average (SCVGC_SAMPLE): the "
                       "groups are estimates, the summary and totals exact" % sb)
        tg = text_groups(leaks)
        for x in tg[:TEXT_GROUPS_MAX]:
            g = x["rep"]
            out.append("")
            head = group_head({"kind": g.get("kind"), "objects": x["objects"],
                               "bytes": x["bytes"]} if x["stacks"] > 1 else g)
            if g.get("estimated") is True:
                head = head[:-len(", allocated at:")] + " (estimated), allocated at:"
            out.append(head)
            if x["stacks"] == 1 and (is_num(g.get("reclaimed_objects")) or
                                     is_num(g.get("reclaimed_bytes"))):
                out.append("    (and %s bytes in %s objects from this stack reclaimed during the run)"
                           % (n_text(g.get("reclaimed_bytes")), n_text(g.get("reclaimed_objects"))))
            out.extend(stack_lines(g))
            if x["stacks"] > 1:
                out.append("    (the stack of the largest of %d groups with these first %d frames; "
                           "the JSON report has each)" % (x["stacks"], TEXT_TOP_FRAMES))
        if len(tg) > TEXT_GROUPS_MAX:
            rest = tg[TEXT_GROUPS_MAX:]
            out.append("")
            out.append("... and %d more groups (%s bytes) in the JSON report" % (
                sum(x["stacks"] for x in rest), n_text(sum(x["bytes"] for x in rest))))
        out.append("")
    for g in rep.get("reclaimed") or []:
        if out[-1]:
            out.append("")
        out.append(group_head(g, "reclaimed"))
        out.extend(stack_lines(g))
        out.append("")
    out.extend(suppression_lines(rep))
    out.append("totals: direct %s objects (%s bytes), indirect %s objects (%s bytes), "
               "suppressed %s objects (%s bytes)" % tuple(n_text(t.get(k)) for k in (
                   "direct_objects", "direct_bytes", "indirect_objects", "indirect_bytes",
                   "suppressed_objects", "suppressed_bytes")))
    if mode == "collect" or num(t.get("reclaimed_objects"), 0):
        out.append("reclaimed: %s objects (%s bytes)" % (
            n_text(t.get("reclaimed_objects")), n_text(t.get("reclaimed_bytes"))))
    h = obj(rep.get("heap"))
    out.append("heap: sys %s KiB, in use %s KiB, idle %s KiB, released %s KiB, GC metadata %s KiB, "
               "%s objects" % (kib(h.get("sys_bytes")), kib(h.get("inuse_bytes")),
                               kib(h.get("idle_bytes")), kib(h.get("released_bytes")),
                               kib(h.get("gc_sys_bytes")), n_text(h.get("live_objects"))))
    gc = obj(rep.get("gc"))
    out.append("gc: %s cycles, pause total %s us, longest %s us" % (
        n_text(gc.get("cycles")), usec(gc.get("pause_total_ns")), usec(gc.get("pause_max_ns"))))
    r = obj(rep.get("rss"))
    if is_num(r.get("peak_bytes")) or is_num(r.get("exit_bytes")):
        out.append("rss: peak %s KiB, at exit %s KiB" % (kib(r.get("peak_bytes")),
                                                       kib(r.get("exit_bytes"))))
    else:
        out.append("rss: unknown")
    tl = timeline(rep)
    if tl:
        span = max((p["t_ns"] for p in tl if is_num(p.get("t_ns"))), default=None)
        events = {}
        for p in tl:
            events[p.get("event")] = events.get(p.get("event"), 0) + 1
        peaks = []
        for key, label, _ in TIMELINE_SERIES:
            vals = [p[key] for p in tl if is_num(p.get(key))]
            if vals:
                peaks.append("%s peak %s KiB" % (label, kib(max(vals))))
        out.append("timeline: %d samples over %s s (%s)%s" % (
            len(tl), "%.3f" % (span / 1e9) if span is not None else "?",
            ", ".join("%s %s" % (n, e) for e, n in sorted(
                events.items(), key=lambda x: str(x[0]))),
            "; " + ", ".join(peaks) if peaks else ""))
    return "".join(pre + line + "\n" for line in out)


def timeline(rep):
    tl = rep.get("timeline")
    return [p for p in tl if isinstance(p, dict)] if isinstance(tl, list) else []


# ---- diff ------------------------------------------------------------------------------------

def diff_frame_key(f):
    """How `diff` matches frames across runs: the function name and the base name of its
    source file (two `leak` functions in different files are different places; the directory
    is left out, so a base and a head checkout in different directories still match), else
    what frame_key gives."""
    fn = sval(f.get("function"))
    if not fn:
        return frame_key(f)
    file = sval(f.get("file"))
    return "%s (%s)" % (fn, os.path.basename(file)) if file else fn


def diff_key(g):
    return tuple(diff_frame_key(f) for f in g["stack"])


def by_stack(groups):
    """Groups summed by diff key (kind is ignored: a leak that turned indirect is not new)."""
    out = {}
    for g in groups:
        e = out.setdefault(diff_key(g), {"objects": 0, "bytes": 0, "estimated": False,
                                         "groups": []})
        e["objects"] += num(g.get("objects"), 0)
        e["bytes"] += num(g.get("bytes"), 0)
        e["estimated"] = e["estimated"] or g.get("estimated") is True
        e["groups"].append(g)
    return out


def diff(old, new, old_name, new_name, grown=None):
    """Prints the groups of NEW whose stack OLD lacks and, with GROWN (a percentage), the
    stacks whose leaked bytes grew by more than that; returns how many of both."""
    olds, news = by_stack(old["leaks"]), by_stack(new["leaks"])
    fresh = [g for g in new["leaks"] if diff_key(g) not in olds]
    fixed = sum(1 for k in olds if k not in news)
    both = sum(1 for k in olds if k in news)
    bigger = []
    if grown is not None:
        for k, e in news.items():
            o = olds.get(k)
            if o is not None and e["bytes"] > o["bytes"] * (1 + grown / 100.0):
                bigger.append((k, o, e))
    if fresh:
        nbytes = sum(num(g.get("bytes"), 0) for g in fresh)
        nobjs = sum(num(g.get("objects"), 0) for g in fresh)
        print("%s diff: %d new leak group%s in %s (%d bytes in %d objects), not in %s:" % (
            PROG, len(fresh), "" if len(fresh) == 1 else "s", new_name, nbytes, nobjs, old_name))
        for g in fresh:
            print("")
            print(group_head(g) + (" (estimated)" if g.get("estimated") is True else ""))
            for line in stack_lines(g):
                print(line)
        print("")
    if bigger:
        print("%s diff: %d leak group%s grew by more than %s%% from %s to %s:" % (
            PROG, len(bigger), "" if len(bigger) == 1 else "s", fmt_pct(grown), old_name,
            new_name))
        for k, o, e in bigger:
            pct = "%.0f%%" % ((e["bytes"] - o["bytes"]) * 100.0 / o["bytes"]) if o["bytes"] \
                else "from nothing"
            print("")
            print("%d bytes in %d objects, was %d bytes in %d objects (+%s)%s, allocated at:" % (
                e["bytes"], e["objects"], o["bytes"], o["objects"], pct,
                " (estimated from sampled stacks)" if e["estimated"] or o["estimated"] else ""))
            for line in stack_lines(e["groups"][0]):
                print(line)
        print("")
    print("%s diff: %d new, %d fixed, %d in both%s (allocation stacks, matched by function and "
          "source file)" % (PROG, len({diff_key(g) for g in fresh}), fixed, both,
                            ", %d grown by more than %s%%" % (len(bigger), fmt_pct(grown))
                            if grown is not None else ""))
    return len(fresh) + len(bigger)


def fmt_pct(v):
    return ("%f" % v).rstrip("0").rstrip(".")


# ---- suppressions ----------------------------------------------------------------------------

# Functions that allocate on behalf of their caller: a suppression names the first frame that is
# not one of these (a leak "in malloc" or "in strdup" would suppress every leak).
ALLOCATORS = {
    "malloc", "calloc", "realloc", "reallocarray", "memalign", "posix_memalign",
    "aligned_alloc", "valloc", "pvalloc", "strdup", "strndup", "__strdup", "__strndup",
    "wcsdup", "asprintf", "vasprintf", "__asprintf", "__vasprintf", "__asprintf_chk",
    "__vasprintf_chk", "open_memstream", "getline", "getdelim", "__getdelim", "realpath",
    "scandir", "tempnam", "get_current_dir_name", "getcwd", "xmalloc", "xcalloc", "xrealloc",
    "xstrdup", "g_malloc", "g_malloc0", "g_realloc", "g_strdup", "g_new", "g_new0",
}


def is_allocator(name):
    base = name.split("@")[0]
    if base in ALLOCATORS or base.startswith(("operator new", "_Znw", "_Zna")):
        return True
    return base.startswith("__libc_") and "alloc" in base


def pattern_matches(pat, g):
    """Whether leak:PAT may suppress group G: PAT occurs in a function, file or module name of
    a frame, as a plain substring or with `*` and `?` as wildcards (the library's glob; a name
    used as a pattern matches itself either way, the glob may match more)."""
    glob = re.compile(".*".join(".".join(re.escape(q) for q in p.split("?"))
                                for p in pat.split("*")), re.S)
    for f in g["stack"]:
        for k in ("function", "file", "module"):
            v = sval(f.get(k))
            if v and (pat in v or glob.search(v)):
                return True
    return False


def suppression_for(g, groups):
    """(pattern, how many other stacks of GROUPS it also matches) for group G, or (None, 0).
    The pattern is a function name of G's stack: the innermost one that is not an allocator
    and that matches no other stack of the report; failing that, the innermost non-allocator
    function (its comment says what else it would hide)."""
    names = []
    for f in g["stack"]:
        fn = sval(f.get("function"))
        # ^ at the start and $ at the end would read as LeakSanitizer's anchors.
        if fn and not is_allocator(fn) and fn not in names and "\n" not in fn and \
                not fn.startswith("^") and not fn.endswith("$"):
            names.append(fn)
    if not names:
        return None, 0
    mine = diff_key(g)
    others = {}
    for o in groups:
        if diff_key(o) != mine:
            others.setdefault(diff_key(o), o)
    best = None
    for fn in names:
        n = sum(1 for o in others.values() if pattern_matches(fn, o))
        if n == 0:
            return fn, 0
        if best is None:
            best = (fn, n)
    return best


def where(f):
    s = sval(f.get("function")) or "??"
    file = sval(f.get("file"))
    if file:
        line = f.get("line")
        s += " (%s%s)" % (os.path.basename(file), ":%d" % line if is_num(line) else "")
    return s


def sample_note(rep):
    sb = rep.get("sample_bytes")
    if is_num(sb) and sb > 0:
        return ("sampled stacks (one per %d bytes allocated on average): counts of groups "
                "marked estimated are estimates" % sb)
    return None


def gen_suppressions(rep, source):
    """A suppressions file for SCVGC_SUPPRESS / --suppress: one leak:PATTERN per leak stack,
    each after a comment saying what it suppresses."""
    groups = rep["leaks"]
    out = ["# libscvgc suppressions for the leaks of %s (pid %s, %s mode), written by"
           % (os.path.basename(source), n_text(rep.get("pid")),
              rep.get("mode") if isinstance(rep.get("mode"), str) else "?"),
           "# `scvgc report --gen-suppressions`. leak:NAME hides every leak with NAME in a function,",
           "# source file or module name of its allocation stack: keep the lines you mean, edit",
           "# the rest (docs/wrapper.md). Use with scvgc --suppress FILE or SCVGC_SUPPRESS=FILE."]
    note = sample_note(rep)
    if note:
        out.append("# This report has " + note + ".")
    if not groups:
        out.append("# (no leaks: nothing to suppress)")
    seen = {}
    lines = 0
    for g in groups:
        key = diff_key(g)
        desc = "%s bytes in %s object%s %s leaked%s" % (
            n_text(g.get("bytes")), n_text(g.get("objects")),
            "" if g.get("objects") == 1 else "s",
            {"direct": "directly", "indirect": "indirectly"}.get(g.get("kind"), ""),
            " (estimated)" if g.get("estimated") is True else "")
        out.append("")
        if not g["stack"]:
            out.append("# %s, no stack captured: cannot be suppressed" % desc)
            continue
        out.append("# %s, allocated at %s" % (desc, " <- ".join(where(f) for f in g["stack"][:4])
                                              + (" <- ..." if len(g["stack"]) > 4 else "")))
        if key in seen:
            out.append("# (the same stack as leak:%s above)" % seen[key])
            continue
        pat, also = suppression_for(g, groups)
        if pat is None:
            out.append("# no function name in this stack: suppress it by module or file by hand")
            continue
        if also:
            out.append("# note: leak:%s also hides %d other stack%s of this report" % (
                pat, also, "" if also == 1 else "s"))
        out.append("leak:" + pat)
        seen[key] = pat
        lines += 1
    return "\n".join(out) + "\n"


# ---- folded stacks ---------------------------------------------------------------------------

def folded_frame(f):
    """A frame's name in a folded line: the function, else module base name and pc; `;` (the
    separator) and line breaks cannot occur in it."""
    fn = sval(f.get("function"))
    if not fn:
        mod = sval(f.get("module"))
        fn = "%s+%s" % (os.path.basename(mod) if mod else "??", sval(f.get("pc")) or "?")
    return re.sub(r"[;\r\n]", "_", fn)


def folded(rep, value="bytes"):
    """Brendan Gregg's folded format: `root;caller;...;allocator VALUE` per stack, leaked
    bytes (or objects) summed over the groups of the same stack (kinds merged)."""
    sums = {}
    for g in rep["leaks"]:
        st = [folded_frame(f) for f in reversed(g["stack"])] or ["[no stack captured]"]
        line = ";".join(st)
        sums[line] = sums.get(line, 0) + int(num(g.get(value), 0))
    return "".join("%s %d\n" % (k, v) for k, v in sorted(sums.items()))


# ---- pprof -----------------------------------------------------------------------------------
# profile.proto (github.com/google/pprof/proto/profile.proto), the fields written here:
#   Profile:   1 sample_type (ValueType), 2 sample, 3 mapping, 4 location, 5 function,
#              6 string_table, 10 duration_nanos, 11 period_type, 12 period, 13 comment,
#              14 default_sample_type
#   ValueType: 1 type, 2 unit (string indices)
#   Sample:    1 location_id (packed uint64, leaf first), 2 value (packed int64), 3 label
#   Label:     1 key, 2 str (string indices)
#   Mapping:   1 id, 5 filename, 7 has_functions, 8 has_filenames, 9 has_line_numbers
#   Location:  1 id, 2 mapping_id, 3 address, 4 line
#   Line:      1 function_id, 2 line
#   Function:  1 id, 2 name, 3 system_name, 4 filename
# Wire format: a key is (field << 3 | wire type) as a varint; type 0 is a varint, type 2 a
# varint length then that many bytes. string_table[0] must be "".

def pb_varint(v):
    v &= (1 << 64) - 1  # negative int64s are ten-byte two's complement
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_int(field, v):
    return pb_varint(field << 3) + pb_varint(v) if v else b""


def pb_bytes(field, data):
    return pb_varint(field << 3 | 2) + pb_varint(len(data)) + data


def pb_packed(field, values):
    return pb_bytes(field, b"".join(pb_varint(v) for v in values)) if values else b""


SAMPLE_TYPES = (("leaked_objects", "count"), ("leaked_space", "bytes"),
                ("reclaimed_objects", "count"), ("reclaimed_space", "bytes"))


def pprof(rep, source):
    """The report as a gzipped pprof profile: one sample per leak group (values leaked
    objects and bytes) and per reclaimed group (reclaimed objects and bytes)."""
    import gzip
    strings, index = [""], {"": 0}

    def s(v):
        v = "" if v is None else str(v)
        if v not in index:
            index[v] = len(strings)
            strings.append(v)
        return index[v]

    mappings, functions, locations = {}, {}, {}
    body = bytearray()
    for t, u in SAMPLE_TYPES:
        body += pb_bytes(1, pb_int(1, s(t)) + pb_int(2, s(u)))

    def location(f):
        mod, fn, file = sval(f.get("module")), sval(f.get("function")), sval(f.get("file"))
        line = int(f["line"]) if is_num(f.get("line")) else 0
        try:
            addr = int(sval(f.get("pc")) or "0", 16)
        except ValueError:
            addr = 0
        key = (mod, addr, fn, file, line)
        if key in locations:
            return locations[key][0]
        mid = 0
        if mod:
            if mod not in mappings:
                mappings[mod] = [len(mappings) + 1, True, True]
            m = mappings[mod]
            mid = m[0]
            m[1] = m[1] and bool(fn)
            m[2] = m[2] and bool(file)
        lines = b""
        if fn:
            fkey = (fn, file)
            if fkey not in functions:
                functions[fkey] = len(functions) + 1
            lines = pb_bytes(4, pb_int(1, functions[fkey]) + pb_int(2, line))
        lid = len(locations) + 1
        locations[key] = (lid, pb_int(1, lid) + pb_int(2, mid) + pb_int(3, addr) + lines)
        return lid

    def sample(g, values):
        # pprof drops a sample without locations: a stackless group gets one pseudo-frame,
        # named as in the folded output.
        ids = [location(f) for f in g["stack"] or [{"function": "[no stack captured]"}]]
        labels = b""
        if isinstance(g.get("kind"), str):
            labels += pb_bytes(3, pb_int(1, s("kind")) + pb_int(2, s(g["kind"])))
        if g.get("estimated") is True:
            labels += pb_bytes(3, pb_int(1, s("estimated")) + pb_int(2, s("true")))
        return pb_bytes(2, pb_packed(1, ids) + pb_packed(2, values) + labels)

    for g in rep["leaks"]:
        body += sample(g, [int(num(g.get("objects"), 0)), int(num(g.get("bytes"), 0)), 0, 0])
    for g in rep.get("reclaimed") or []:
        body += sample(g, [0, 0, int(num(g.get("objects"), 0)), int(num(g.get("bytes"), 0))])
    for mod, (mid, has_fn, has_file) in mappings.items():
        body += pb_bytes(3, pb_int(1, mid) + pb_int(5, s(mod)) + pb_int(7, int(has_fn)) +
                         pb_int(8, int(has_file)) + pb_int(9, int(has_file)))
    for lid, data in sorted(locations.values()):
        body += pb_bytes(4, data)
    for (fn, file), fid in functions.items():
        body += pb_bytes(5, pb_int(1, fid) + pb_int(2, s(fn)) + pb_int(3, s(fn)) +
                         pb_int(4, s(file)))
    comments = ["libscvgc leak report %s: pid %s, %s mode" % (
        os.path.basename(source), n_text(rep.get("pid")),
        rep.get("mode") if isinstance(rep.get("mode"), str) else "?")]
    if rep.get("complete") is False:
        comments.append("incomplete: a thread could not be stopped, the leaks are unknown")
    note = sample_note(rep)
    if note:
        comments.append(note + " (label estimated=true)")
    comment_ids = [s(c) for c in comments]
    tl = timeline(rep)
    span = max((int(p["t_ns"]) for p in tl if is_num(p.get("t_ns"))), default=0)
    sb = rep.get("sample_bytes")
    trailer = pb_int(10, span)
    if is_num(sb) and sb > 0:
        trailer += pb_bytes(11, pb_int(1, s("space")) + pb_int(2, s("bytes"))) + pb_int(12, int(sb))
    trailer += pb_packed(13, comment_ids) + pb_int(14, s("leaked_space"))
    # The string table goes last: every index above is known by now.
    strtab = b"".join(pb_bytes(6, v.encode("utf-8")) for v in strings)
    return gzip.compress(bytes(body) + strtab + trailer, mtime=0)


# ---- SARIF -----------------------------------------------------------------------------------

SARIF_RULES = (
    ("scvgc/direct-leak", "MemoryLeak", "error",
     "A heap object that nothing points to at exit was never freed.",
     "libscvgc's collector found heap objects that no root and no live object points to when "
     "the program exited: they can never be freed. The result's code flow is the allocation "
     "stack, innermost frame first."),
    ("scvgc/indirect-leak", "IndirectMemoryLeak", "warning",
     "A heap object reachable only from leaked objects was never freed.",
     "Only other leaked objects point to these objects: fixing the direct leak that reaches "
     "them usually fixes this one too. The code flow is the allocation stack."),
)


def sarif_uri(path, root):
    """(uri, uriBaseId or None): a path under ROOT relative to %SRCROOT%, else a file: URI
    (relative paths the debug info gives without a directory stay relative)."""
    from urllib.parse import quote
    if os.path.isabs(path):
        rel = os.path.relpath(path, root) if root else None
        if rel and not rel.startswith(".." + os.sep) and rel != "..":
            return quote(rel), "SRCROOT"
        return "file://" + quote(path), None
    return quote(os.path.normpath(path)), None


def sarif_location(f, root, with_message=True):
    loc = {}
    file = sval(f.get("file"))
    mod = sval(f.get("module"))
    target = file or mod
    if target:
        uri, base = sarif_uri(target, root)
        art = {"uri": uri}
        if base:
            art["uriBaseId"] = base
        phys = {"artifactLocation": art}
        if file and is_num(f.get("line")) and f["line"] >= 1:
            phys["region"] = {"startLine": int(f["line"])}
        loc["physicalLocation"] = phys
    fn = sval(f.get("function"))
    if fn:
        loc["logicalLocations"] = [{"fullyQualifiedName": fn, "kind": "function"}]
    if with_message:
        loc["message"] = {"text": "%s%s" % (
            where(f), " in " + os.path.basename(mod) if mod else "")}
    return loc


# HTML and SARIF show the largest groups only: a program that leaks from a recursion has a
# group per path through it (131072 in test/progs/leak_tree.c), and the page or the SARIF file
# of all of them ran to GBs (SARIF: 2 GB and 20 GB of memory). The JSON keeps every group.
GROUPS_SHOWN_MAX = 5000


def largest_groups(groups):
    """(the GROUPS_SHOWN_MAX largest groups in report order, how many left out, their bytes)."""
    if len(groups) <= GROUPS_SHOWN_MAX:
        return groups, 0, 0
    order = sorted(range(len(groups)), key=lambda i: -num(groups[i].get("bytes"), 0))
    keep = sorted(order[:GROUPS_SHOWN_MAX])
    rest = order[GROUPS_SHOWN_MAX:]
    return ([groups[i] for i in keep], len(rest),
            sum(num(groups[i].get("bytes"), 0) for i in rest))


def omitted_note(n, nbytes):
    return ("the %d largest leak groups are shown; %d more groups (%s bytes) are in the JSON "
            "report only" % (GROUPS_SHOWN_MAX, n, n_text(nbytes)))


def sarif(rep, source, root, version=None):
    import hashlib
    note = sample_note(rep)
    rules = [{"id": rid, "name": name,
              "shortDescription": {"text": short}, "fullDescription": {"text": full},
              "defaultConfiguration": {"level": level},
              "help": {"text": full + " See libscvgc's docs/reports.md."}}
             for rid, name, level, short, full in SARIF_RULES]
    results = []
    shown, n_omitted, omitted_bytes = largest_groups(rep["leaks"])
    for g in shown:
        kind = g.get("kind")
        ri = 1 if kind == "indirect" else 0
        st = g["stack"]
        # The result's location: where the program asked for the memory, the innermost frame
        # with a source file that is not an allocator, one under the source root first (a
        # file of the repository, which code scanning can show); else the innermost frame.
        own = [f for f in st if sval(f.get("file")) and not is_allocator(
            sval(f.get("function")) or "")]
        mine = [f for f in own if sarif_uri(f["file"], root)[1]]
        main = (mine or own or st or [None])[0]
        text = "%s bytes in %s object%s %s leaked%s" % (
            n_text(g.get("bytes")), n_text(g.get("objects")),
            "" if g.get("objects") == 1 else "s",
            "indirectly" if kind == "indirect" else "directly",
            ", allocated at " + " <- ".join(where(f) for f in st[:3]) +
            (" <- ..." if len(st) > 3 else "") if st else " (no stack captured)")
        if g.get("estimated") is True:
            text += ". Estimated: " + (note or "the report's stacks are sampled")
        res = {"ruleId": SARIF_RULES[ri][0], "ruleIndex": ri, "level": SARIF_RULES[ri][2],
               "message": {"text": text + "."},
               "partialFingerprints": {"scvgcAllocationStack/v1": hashlib.sha256(
                   "\n".join((kind or "",) + diff_key(g)).encode("utf-8")).hexdigest()},
               "properties": {"kind": kind, "objects": g.get("objects"),
                              "bytes": g.get("bytes")}}
        if g.get("estimated") is True:
            res["properties"]["estimated"] = True
        loc = sarif_location(main, root, False) if main else {}
        if "physicalLocation" not in loc:
            # Code scanning needs a file: with none known, the module is the artifact.
            loc = {"physicalLocation": {"artifactLocation": {"uri": "unknown"}}}
        res["locations"] = [loc]
        if st:
            flow = [{"location": sarif_location(f, root), "nestingLevel": 0,
                     "executionOrder": i + 1}
                    for i, f in enumerate(reversed(st))]
            res["codeFlows"] = [{"message": {"text": "allocation stack, outermost call first"},
                                 "threadFlows": [{"locations": flow}]}]
            res["stacks"] = [{"message": {"text": "allocation stack"},
                              "frames": [{"location": sarif_location(f, root)} for f in st]}]
        results.append(res)
    driver = {"name": "libscvgc", "rules": rules}
    if version:
        driver["version"] = version
    run = {"tool": {"driver": driver},
           "results": results,
           "properties": {"pid": rep.get("pid"), "mode": rep.get("mode"),
                          "complete": rep.get("complete"), "report": os.path.basename(source),
                          "totals": obj(rep.get("totals"))}}
    if is_num(rep.get("sample_bytes")):
        run["properties"]["sample_bytes"] = rep["sample_bytes"]
    if root:
        from urllib.parse import quote
        run["originalUriBaseIds"] = {"SRCROOT": {"uri": "file://" + quote(
            os.path.join(os.path.abspath(root), ""))}}
    inv = {"executionSuccessful": rep.get("complete") is not False}
    notes = []
    if note:
        notes.append(note)
    if n_omitted:
        notes.append(omitted_note(n_omitted, omitted_bytes))
        run["properties"]["groups_omitted"] = n_omitted
    if rep.get("complete") is False:
        notes.append("the leak check was incomplete (a thread could not be stopped): its leaks "
                     "are unknown")
    if notes:
        inv["toolExecutionNotifications"] = [{"message": {"text": n}, "level": "warning"}
                                             for n in notes]
    run["invocations"] = [inv]
    return json.dumps({"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
                       "version": "2.1.0", "runs": [run]}, indent=1) + "\n"


# ---- HTML ------------------------------------------------------------------------------------

def esc(v):
    return html.escape("" if v is None else str(v), quote=True)


def human_bytes(v):
    if not is_num(v):
        return "unknown"
    v = int(v)
    if v < 1024:
        return "%d B" % v
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        v /= 1024.0
        if v < 1024 or unit == "TiB":
            return "%.1f %s" % (v, unit)


def cell_bytes(v):
    if not is_num(v):
        return '<span class="unknown">unknown</span>'
    return '<span title="%d bytes">%s</span>' % (int(v), esc(human_bytes(v)))


def cell_num(v):
    return "{:,}".format(int(v)) if is_num(v) else '<span class="unknown">unknown</span>'


def cell_ns(v):
    if not is_num(v):
        return '<span class="unknown">unknown</span>'
    v = int(v)
    if v < 1000:
        return "%d ns" % v
    if v < 1000000:
        return "%.1f \u00b5s" % (v / 1e3)
    if v < 10000000000:
        return "%.2f ms" % (v / 1e6)
    return "%.2f s" % (v / 1e9)


def frame_html(f):
    fn = sval(f.get("function"))
    s = '<span class="fn">%s</span>' % esc(fn) if fn else '<span class="unknown">??</span>'
    file = sval(f.get("file"))
    if file:
        line = f.get("line")
        s += ' <span class="loc">(%s%s)</span>' % (esc(file), ":%d" % line if is_num(line) else "")
    mod = sval(f.get("module"))
    if mod:
        s += ' <span class="mod">%s</span>' % esc(mod)
    return s


def stack_cell(g):
    st = g["stack"]
    if not st:
        return '<span class="unknown">(no stack captured)</span>'
    first = frame_html(st[0])
    if len(st) == 1:
        return first
    callers = [sval(f.get("function")) or "??" for f in st[1:3]]
    first += ' <span class="callers">\u2190 %s%s</span>' % (
        " \u2190 ".join(esc(c) for c in callers), " \u2190 \u2026" if len(st) > 3 else "")
    rest = "".join('<li><span class="pc">%s</span> %s</li>' % (esc(sval(f.get("pc")) or "??"),
                                                              frame_html(f)) for f in st)
    return '<details><summary>%s</summary><ol start="0">%s</ol></details>' % (first, rest)


def card(title, rows):
    body = "".join('<tr><th>%s</th><td>%s</td></tr>' % (esc(k), v) for k, v in rows)
    return '<section class="card"><h3>%s</h3><table>%s</table></section>' % (esc(title), body)


def html_report(rep, source, title=None):
    t = obj(rep.get("totals"))
    h = obj(rep.get("heap"))
    gc = obj(rep.get("gc"))
    r = obj(rep.get("rss"))
    pid = rep.get("pid")
    mode = rep.get("mode")
    leaks, n_omitted, omitted_bytes = largest_groups(rep["leaks"])
    reclaimed = rep.get("reclaimed") or []
    tl = timeline(rep)

    nbytes = sum(num(t.get(k), 0) for k in ("direct_bytes", "indirect_bytes"))
    nobjs = sum(num(t.get(k), 0) for k in ("direct_objects", "indirect_objects"))
    if nobjs or rep["leaks"]:
        verdict = '<p class="verdict leak">%s in %s objects leaked (%s mode)</p>' % (
            esc(human_bytes(nbytes)), cell_num(nobjs), esc(mode))
    else:
        verdict = '<p class="verdict ok">No leaks found (%s mode)</p>' % esc(mode)
    if rep.get("complete") is False:
        verdict += ('<p class="warn">The check was incomplete: a thread could not be stopped '
                    '(or the mark stack ran out of memory), so the collector found nothing.</p>')
    note = sample_note(rep)
    if note:  # the groups are estimates (~), the verdict and the totals exact (docs/reports.md)
        verdict += ('<p class="warn">This report has %s (shown with ~); the totals are exact.</p>'
                    % esc(note))

    if n_omitted:
        verdict += '<p class="warn">On this page: %s.</p>' % esc(
            omitted_note(n_omitted, omitted_bytes))

    def est(g, cell):
        return "~" + cell if g.get("estimated") is True else cell

    cards = [
        card("Run", [("mode", esc(mode)), ("pid", cell_num(pid)),
                     ("complete", esc({True: "yes", False: "no"}.get(rep.get("complete"),
                                                                    "unknown"))),
                     ("report version", cell_num(rep.get("version")))]),
        card("Leaks", [
            ("direct", "%s objects, %s" % (cell_num(t.get("direct_objects")),
                                           cell_bytes(t.get("direct_bytes")))),
            ("indirect", "%s objects, %s" % (cell_num(t.get("indirect_objects")),
                                             cell_bytes(t.get("indirect_bytes")))),
            ("suppressed", "%s objects, %s" % (cell_num(t.get("suppressed_objects")),
                                               cell_bytes(t.get("suppressed_bytes")))),
            ("reclaimed", "%s objects, %s" % (cell_num(t.get("reclaimed_objects")),
                                              cell_bytes(t.get("reclaimed_bytes"))))]),
        card("Heap", [("sys", cell_bytes(h.get("sys_bytes"))),
                      ("in use", cell_bytes(h.get("inuse_bytes"))),
                      ("idle", cell_bytes(h.get("idle_bytes"))),
                      ("released", cell_bytes(h.get("released_bytes"))),
                      ("consumed", cell_bytes(h.get("consumed_bytes"))),
                      ("GC metadata", cell_bytes(h.get("gc_sys_bytes"))),
                      ("live objects", cell_num(h.get("live_objects")))]),
        card("GC", [("cycles", cell_num(gc.get("cycles"))),
                    ("pause total", cell_ns(gc.get("pause_total_ns"))),
                    ("longest pause", cell_ns(gc.get("pause_max_ns")))]),
        card("RSS", [("peak", cell_bytes(r.get("peak_bytes"))),
                     ("at exit", cell_bytes(r.get("exit_bytes")))]),
    ]

    has_group_reclaim = any(k in g for g in leaks for k in ("reclaimed_objects", "reclaimed_bytes"))
    rows = []
    for i, g in enumerate(leaks):
        kind = g.get("kind")
        rows.append('<tr class="%s"><td class="n">%d</td><td>%s</td><td class="n">%s</td>'
                    '<td class="n">%s</td>%s<td class="stack">%s</td></tr>' % (
                        "direct" if kind == "direct" else "indirect", i + 1, esc(kind),
                        est(g, cell_num(g.get("objects"))), est(g, cell_bytes(g.get("bytes"))),
                        '<td class="n">%s objects, %s</td>' % (
                            cell_num(g.get("reclaimed_objects")),
                            cell_bytes(g.get("reclaimed_bytes"))) if has_group_reclaim else "",
                        stack_cell(g)))
    if rows:
        table = ('<table class="leaks"><thead><tr><th>#</th><th>kind</th><th>objects</th>'
                 '<th>bytes</th>%s<th>allocated at (click for the whole stack)</th></tr></thead>'
                 '<tbody>%s</tbody></table>' % (
                     "<th>reclaimed from this stack</th>" if has_group_reclaim else "",
                     "".join(rows)))
    else:
        table = '<p class="none">No leak groups in this report.</p>'

    reclaimed_html = ""
    if reclaimed:
        rrows = "".join('<tr><td class="n">%s</td><td class="n">%s</td><td class="stack">%s</td>'
                        '</tr>' % (est(g, cell_num(g.get("objects"))),
                                   est(g, cell_bytes(g.get("bytes"))), stack_cell(g))
                        for g in reclaimed)
        reclaimed_html = ('<section><h2>Reclaimed by the collector</h2><table class="leaks">'
                          '<thead><tr><th>objects</th><th>bytes</th><th>allocated at</th></tr>'
                          '</thead><tbody>%s</tbody></table></section>' % rrows)

    # What the scripts draw: only the fields they use, strings as JSON (escaped below).
    data = {
        "leaks": [{"kind": g.get("kind"), "objects": num(g.get("objects")),
                   "bytes": num(g.get("bytes")),
                   "stack": [{k: f.get(k) for k in ("function", "file", "line", "module", "pc",
                                                    "offset")} for f in g["stack"]]}
                  for g in leaks],
        "timeline": [{k: p.get(k) for k in ("t_ns", "event") + tuple(
            s[0] for s in TIMELINE_SERIES)} for p in tl]
        if isinstance(rep.get("timeline"), list) else None,
        "series": [list(s) for s in TIMELINE_SERIES],
    }
    blob = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    # inside <script>: no "</script", no "<!--"; JSON.parse reads the \u escapes back
    blob = blob.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

    head = title or "pid %s" % (int(pid) if is_num(pid) else "?")
    page = HTML_TEMPLATE
    for key, val in (("@@TITLE@@", esc("scvgc report: " + head)),
                     ("@@HEADING@@", esc(head)),
                     ("@@VERDICT@@", verdict),
                     ("@@CARDS@@", "".join(cards)),
                     ("@@TABLE@@", table),
                     ("@@NGROUPS@@", str(len(leaks))),
                     ("@@RECLAIMED@@", reclaimed_html),
                     ("@@SOURCE@@", esc(source)),
                     ("@@STYLE@@", HTML_STYLE),
                     ("@@SCRIPT@@", HTML_SCRIPT),
                     ("@@DATA@@", blob)):
        page = page.replace(key, val)
    return page


HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@@TITLE@@</title>
<style>@@STYLE@@</style>
<script>
/* First, so that an error anywhere below is recorded in the render-ok marker. */
window.scvgcErrors = [];
window.onerror = function (msg, src, line, col) {
  window.scvgcErrors.push(String(msg) + " (line " + line + ":" + col + ")");
  var m = document.getElementById("render-ok");
  if (m) m.setAttribute("data-errors", String(window.scvgcErrors.length));
  var e = document.getElementById("render-errors");
  if (e) { e.hidden = false; e.textContent = window.scvgcErrors.join("\\n"); }
};
</script>
</head>
<body>
<header><h1>scvgc report <span class="sub">@@HEADING@@</span></h1>@@VERDICT@@</header>
<pre id="render-errors" hidden></pre>
<div class="cards">@@CARDS@@</div>
<section>
<h2>Leaked bytes by allocation stack</h2>
<p class="help">An icicle graph: the outermost frame at the top, the allocating function at the
bottom of each column; a box's width is its share of the leaked bytes. Click a box to zoom into
it, click the top box (all leaks) to zoom out.
<span class="filter">Show: <button type="button" data-kind="" class="on">all</button><button
type="button" data-kind="direct">direct</button><button type="button"
data-kind="indirect">indirect</button></span></p>
<div id="flame-info" class="info">&nbsp;</div>
<div id="flame"></div>
</section>
<section>
<h2>Heap and RSS over time</h2>
<div id="timeline"></div>
</section>
<section>
<h2>Leak groups (@@NGROUPS@@)</h2>
@@TABLE@@
</section>
@@RECLAIMED@@
<footer>Rendered by scvgc report from @@SOURCE@@.</footer>
<script id="report-data" type="application/json">@@DATA@@</script>
<script>@@SCRIPT@@</script>
</body>
</html>
"""

HTML_STYLE = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 24px 24px;
  color: #212529; background: #fff; }
header h1 { font-size: 22px; margin: 16px 0 4px; }
h1 .sub { font-weight: normal; color: #495057; font-family: ui-monospace, monospace; font-size: 17px; }
h2 { font-size: 17px; margin: 24px 0 6px; border-bottom: 1px solid #dee2e6; }
h3 { font-size: 13px; margin: 0 0 4px; text-transform: uppercase; color: #495057; }
.verdict { font-size: 16px; font-weight: 600; margin: 4px 0; }
.verdict.leak { color: #c92a2a; } .verdict.ok { color: #2b8a3e; }
.warn { background: #fff3bf; padding: 6px 10px; border-left: 4px solid #f59f00; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 12px; }
.card { border: 1px solid #dee2e6; border-radius: 6px; padding: 8px 12px; min-width: 170px; }
.card th { text-align: left; font-weight: normal; color: #495057; padding-right: 12px; }
.card td { text-align: right; font-variant-numeric: tabular-nums; }
.unknown { color: #868e96; font-style: italic; }
.help { color: #495057; margin: 4px 0; }
.filter { margin-left: 12px; white-space: nowrap; }
.filter button { font: inherit; border: 1px solid #adb5bd; background: #f8f9fa; padding: 1px 8px;
  cursor: pointer; } .filter button.on { background: #343a40; color: #fff; }
.info { font-family: ui-monospace, monospace; font-size: 12px; min-height: 1.4em; color: #343a40;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#flame svg, #timeline svg { display: block; width: 100%; }
#flame g.box { cursor: pointer; }
#flame g.box text { font: 11px ui-monospace, monospace; fill: #212529; pointer-events: none; }
#flame g.box rect { stroke: #fff; stroke-width: 0.5; }
#flame g.box:hover rect { stroke: #212529; stroke-width: 1; }
#flame g.box.above rect { opacity: 0.55; }
#timeline text { font: 11px system-ui, sans-serif; fill: #495057; }
#timeline .grid { stroke: #e9ecef; } #timeline .axis { stroke: #868e96; }
table.leaks { border-collapse: collapse; width: 100%; }
table.leaks th { text-align: left; border-bottom: 2px solid #dee2e6; padding: 3px 8px; }
table.leaks td { border-bottom: 1px solid #f1f3f5; padding: 3px 8px; vertical-align: top; }
table.leaks tr.direct td:nth-child(2) { color: #c92a2a; }
table.leaks tr.indirect td:nth-child(2) { color: #e67700; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.stack { font-family: ui-monospace, monospace; font-size: 12px; }
td.stack ol { margin: 4px 0; padding-left: 28px; }
.fn { font-weight: 600; } .loc { color: #495057; } .mod { color: #868e96; } .pc { color: #adb5bd; }
.callers { color: #495057; }
summary { cursor: pointer; }
.none { color: #495057; }
footer { margin-top: 24px; color: #868e96; font-size: 12px; }
"""

HTML_SCRIPT = r"""
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("report-data").textContent);

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVGNS, name);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    if (parent) parent.appendChild(e);
    return e;
  }
  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function str(v) { return typeof v === "string" && v.length ? v : null; }
  function humanBytes(v) {
    if (!isNum(v)) return "unknown";
    if (v < 1024) return v + " B";
    var units = ["KiB", "MiB", "GiB", "TiB"], i = -1;
    do { v /= 1024; i++; } while (v >= 1024 && i < units.length - 1);
    return v.toFixed(v < 10 ? 2 : 1) + " " + units[i];
  }
  function base(path) { var s = str(path); return s ? s.replace(/^.*\//, "") : "?"; }
  /* The same rule as frame_key() in scvgc_report.py: function name, else module+offset/pc. */
  function frameKey(f) {
    var fn = str(f["function"]);
    if (fn) return fn;
    var mod = str(f.module) || "?";
    if (str(f.offset)) return mod + "+" + f.offset;
    return mod + "@" + (str(f.pc) || "?");
  }
  function frameLabel(f) { return str(f["function"]) || ("?? " + base(f.module)); }
  function frameWhere(f) {
    var s = "";
    if (str(f.file)) s += " (" + f.file + (isNum(f.line) ? ":" + f.line : "") + ")";
    if (str(f.module)) s += " " + f.module;
    return s;
  }

  /* ---- the icicle graph ------------------------------------------------------------- */
  var flameBox = document.getElementById("flame");
  var info = document.getElementById("flame-info");
  var W = 1200, ROW = 18;
  var nodes = [], root = null, zoomed = null, useObjects = false;

  function buildTree(kind) {
    var r = {label: "all leaks", frame: null, key: "", children: {}, list: [], bytes: 0,
             objects: 0, depth: 0, parent: null};
    var all = [r];
    data.leaks.forEach(function (g) {
      if (kind && g.kind !== kind) return;
      var b = isNum(g.bytes) ? g.bytes : 0, o = isNum(g.objects) ? g.objects : 0;
      r.bytes += b; r.objects += o;
      var n = r, st = (g.stack || []).slice().reverse();
      st.forEach(function (f) {
        var k = frameKey(f);
        var c = Object.prototype.hasOwnProperty.call(n.children, k) ? n.children[k] : null;
        if (!c) {
          c = {label: frameLabel(f), frame: f, key: k, children: {}, list: [], bytes: 0,
               objects: 0, depth: n.depth + 1, parent: n};
          n.children[k] = c; n.list.push(c); all.push(c);
        }
        c.bytes += b; c.objects += o;
        n = c;
      });
    });
    useObjects = r.bytes === 0;
    all.forEach(function (n) {
      n.list.sort(function (a, b) { return weight(b) - weight(a) || (a.key < b.key ? -1 : 1); });
    });
    return all;
  }
  function weight(n) { return useObjects ? n.objects : n.bytes; }

  function color(n) {
    if (!n.frame) return "#adb5bd";
    var h = 0, s = n.key;
    for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
    if (!str(n.frame["function"])) return "hsl(0, 0%, " + (70 + h % 15) + "%)";
    return "hsl(" + (h % 50 + 5) + ", " + (70 + h % 25) + "%, " + (58 + (h >> 8) % 14) + "%)";
  }

  function describe(n) {
    var tw = weight(root) || 1;
    var pct = (100 * weight(n) / tw).toFixed(1) + "%";
    var what = n.frame ? n.label + frameWhere(n.frame) : "all leaks";
    return what + " \u2014 " + humanBytes(n.bytes) + " in " + n.objects + " object" +
           (n.objects === 1 ? "" : "s") + " (" + pct + ")";
  }

  function drawFlame(kind) {
    while (flameBox.firstChild) flameBox.removeChild(flameBox.firstChild);
    nodes = buildTree(kind);
    root = nodes[0];
    var depth = 0;
    nodes.forEach(function (n) { if (n.depth > depth) depth = n.depth; });
    if (nodes.length === 1) {
      var p = document.createElement("p");
      p.className = "none";
      p.textContent = data.leaks.length ? "No leak of this kind." : "No leaks: nothing to draw.";
      flameBox.appendChild(p);
      return 0;
    }
    var svg = el("svg", {viewBox: "0 0 " + W + " " + (depth + 1) * ROW, role: "img",
                         preserveAspectRatio: "none", height: (depth + 1) * ROW}, flameBox);
    nodes.forEach(function (n) {
      var g = el("g", {"class": "box"}, svg);
      if (n.frame) g.setAttribute("data-frame", n.label);
      else g.setAttribute("data-root", "1");
      g.setAttribute("data-depth", n.depth);
      el("title", {}, g).textContent = describe(n);
      n.rect = el("rect", {y: n.depth * ROW, height: ROW - 1, fill: color(n)}, g);
      n.text = el("text", {y: n.depth * ROW + 13}, g);
      n.g = g;
      g.addEventListener("click", function () { zoom(n === zoomed || !n.frame ? root : n); });
      g.addEventListener("mouseenter", function () { info.textContent = describe(n); });
    });
    zoom(root);
    return nodes.length - 1;
  }

  function place(n, x, w) {
    n.g.style.display = "";
    n.g.setAttribute("class", "box");
    n.rect.setAttribute("x", x.toFixed(2));
    n.rect.setAttribute("width", Math.max(w, 0).toFixed(2));
    n.g.setAttribute("data-x", x.toFixed(2));
    n.g.setAttribute("data-w", Math.max(w, 0).toFixed(2));
    n.text.setAttribute("x", (x + 3).toFixed(2));
    var fit = Math.floor((w - 6) / 6.7);
    n.text.textContent = fit < 3 ? "" : n.label.length <= fit ? n.label
                         : n.label.slice(0, fit - 1) + "\u2026";
    var tw = weight(n) || 0, cx = x;
    n.list.forEach(function (c) {
      var cw = tw ? w * weight(c) / tw : w / n.list.length;
      place(c, cx, cw);
      cx += cw;
    });
  }

  function zoom(n) {
    zoomed = n;
    nodes.forEach(function (m) { m.g.style.display = "none"; });
    place(n, 0, W);
    for (var a = n.parent; a; a = a.parent) {
      a.g.style.display = "";
      a.g.setAttribute("class", "box above");
      a.rect.setAttribute("x", "0");
      a.rect.setAttribute("width", String(W));
      a.g.setAttribute("data-x", "0");
      a.g.setAttribute("data-w", String(W));
      a.text.setAttribute("x", "3");
      a.text.textContent = a.label;
    }
    info.textContent = describe(n);
  }

  var boxes = drawFlame("");
  Array.prototype.forEach.call(document.querySelectorAll(".filter button"), function (b) {
    b.addEventListener("click", function () {
      Array.prototype.forEach.call(document.querySelectorAll(".filter button"), function (o) {
        o.className = o === b ? "on" : "";
      });
      drawFlame(b.getAttribute("data-kind"));
    });
  });

  /* ---- the timeline ----------------------------------------------------------------- */
  var tlBox = document.getElementById("timeline");
  var points = 0;
  function note(text) {
    var p = document.createElement("p");
    p.className = "none";
    p.textContent = text;
    tlBox.appendChild(p);
  }
  function niceStep(range, n) {
    var raw = range / n, mag = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (raw <= steps[i] * mag) return steps[i] * mag;
    return 10 * mag;
  }
  function byteStep(max) {
    var unit = 1;
    while (max / unit >= 1024 * 4 && unit < Math.pow(1024, 4)) unit *= 1024;
    return niceStep(max / unit, 5) * unit;
  }
  function drawTimeline() {
    var tl = data.timeline;
    if (!tl) { note("This report has no timeline (the library that wrote it records none)."); return; }
    var pts = tl.filter(function (p) { return p && isNum(p.t_ns); });
    pts.sort(function (a, b) { return a.t_ns - b.t_ns; });
    if (!pts.length) { note("The timeline of this report is empty."); return; }
    points = pts.length;
    var series = data.series.filter(function (s) {
      return pts.some(function (p) { return isNum(p[s[0]]); });
    });
    var TW = 1200, TH = 320, L = 78, R = 16, T = 12, B = 54;
    var tmax = pts[pts.length - 1].t_ns, tmin = Math.min(0, pts[0].t_ns);
    if (tmax <= tmin) tmax = tmin + 1;
    var ymax = 0;
    pts.forEach(function (p) { series.forEach(function (s) {
      if (isNum(p[s[0]]) && p[s[0]] > ymax) ymax = p[s[0]]; }); });
    if (ymax <= 0) ymax = 1;
    var ystep = byteStep(ymax);
    ymax = Math.ceil(ymax / ystep) * ystep;
    var X = function (t) { return L + (TW - L - R) * (t - tmin) / (tmax - tmin); };
    var Y = function (v) { return T + (TH - T - B) * (1 - v / ymax); };
    var svg = el("svg", {viewBox: "0 0 " + TW + " " + TH, role: "img"}, tlBox);
    for (var v = 0; v <= ymax + ystep / 2; v += ystep) {
      el("line", {x1: L, x2: TW - R, y1: Y(v), y2: Y(v), "class": "grid"}, svg);
      el("text", {x: L - 6, y: Y(v) + 4, "text-anchor": "end"}, svg).textContent = humanBytes(v);
    }
    var secs = (tmax - tmin) / 1e9, tstep = niceStep(secs, 8);
    for (var s = Math.ceil(tmin / 1e9 / tstep) * tstep; s <= tmax / 1e9 + 1e-12; s += tstep) {
      var x = X(s * 1e9);
      el("line", {x1: x, x2: x, y1: T, y2: TH - B, "class": "grid"}, svg);
      el("text", {x: x, y: TH - B + 16, "text-anchor": "middle"}, svg).textContent =
        (tstep < 0.01 ? (s * 1000).toFixed(tstep < 0.001 ? 2 : 1) + " ms" :
         (+s.toFixed(3)) + " s");
    }
    el("line", {x1: L, x2: TW - R, y1: TH - B, y2: TH - B, "class": "axis"}, svg);
    el("line", {x1: L, x2: L, y1: T, y2: TH - B, "class": "axis"}, svg);
    var evColor = {gc: "#495057", scvg: "#2b8a3e", exit: "#c92a2a"};
    pts.forEach(function (p) {
      var c = evColor[p.event] || "#868e96";
      var m = el("rect", {x: X(p.t_ns) - 1.5, y: TH - B + 22, width: 3, height: 8, fill: c}, svg);
      m.setAttribute("data-event", String(p.event));
      el("title", {}, m).textContent = String(p.event) + " at " + (p.t_ns / 1e9).toFixed(3) + " s";
    });
    series.forEach(function (s) {
      var d = "", pen = false;
      pts.forEach(function (p) {
        if (!isNum(p[s[0]])) { pen = false; return; }
        d += (pen ? "L" : "M") + X(p.t_ns).toFixed(1) + "," + Y(p[s[0]]).toFixed(1);
        pen = true;
      });
      el("path", {d: d, fill: "none", stroke: s[2], "stroke-width": 2,
                  "data-series": s[0]}, svg);
      if (pts.length <= 400) pts.forEach(function (p) {
        if (!isNum(p[s[0]])) return;
        var c = el("circle", {cx: X(p.t_ns), cy: Y(p[s[0]]), r: 2.5, fill: s[2]}, svg);
        el("title", {}, c).textContent = s[1] + ": " + humanBytes(p[s[0]]) + " at " +
          (p.t_ns / 1e9).toFixed(3) + " s (" + p.event + ")";
      });
    });
    var lx = L;
    series.forEach(function (s) {
      el("rect", {x: lx, y: TH - 14, width: 14, height: 4, fill: s[2]}, svg);
      var t = el("text", {x: lx + 18, y: TH - 9}, svg);
      t.textContent = s[1];
      lx += 30 + 7 * s[1].length;
    });
    Object.keys(evColor).forEach(function (k) {
      el("rect", {x: lx, y: TH - 16, width: 3, height: 8, fill: evColor[k]}, svg);
      el("text", {x: lx + 7, y: TH - 9}, svg).textContent = k;
      lx += 22 + 7 * k.length;
    });
  }
  drawTimeline();

  /* ---- the marker tests read (test/integration/tool.sh) ----------------------------- */
  var marker = document.createElement("div");
  marker.id = "render-ok";
  marker.hidden = true;
  marker.setAttribute("data-boxes", String(boxes));
  marker.setAttribute("data-timeline-points", String(points));
  marker.setAttribute("data-errors", String(window.scvgcErrors.length));
  document.body.appendChild(marker);

  /* #selftest: zoom into the first frame by a click, check the layout, click the root. */
  if (location.hash === "#selftest") {
    var verdict = "ok";
    try {
      var first = root.list[0];
      if (first) {
        var before = first.g.getAttribute("data-w");
        first.g.dispatchEvent(new MouseEvent("click", {bubbles: true}));
        if (zoomed !== first || first.g.getAttribute("data-w") !== String(W.toFixed(2)))
          verdict = "zoom did not widen the frame";
        root.list.slice(1).forEach(function (o) {
          if (o.g.style.display !== "none") verdict = "a sibling stayed visible after zoom";
        });
        root.g.dispatchEvent(new MouseEvent("click", {bubbles: true}));
        if (zoomed !== root || first.g.getAttribute("data-w") !== before)
          verdict = "clicking the root did not reset the zoom";
      }
    } catch (e) { verdict = "exception: " + e; }
    marker.setAttribute("data-zoom", verdict);
  }
})();
"""


# ---- run (scvgc --html) ----------------------------------------------------------------------

def run(args):
    """Runs the program with the library preloaded and renders its own JSON report as HTML.
    The program's status is returned as the wrapper's (a signal is re-raised on ourselves)."""
    prog = args.command
    if prog and prog[0] == "--":
        prog = prog[1:]
    if not prog:
        print("%s: no program to run" % PROG, file=sys.stderr)
        return 2
    tmpdir = None
    template = args.json
    if not template:
        tmpdir = tempfile.mkdtemp(prefix="scvgc.")
        template = os.path.join(tmpdir, "report.%p.json")
    env = dict(os.environ)
    env["SCVGC_JSON"] = template
    env["LD_PRELOAD"] = args.preload
    forwarded = (signal.SIGTERM, signal.SIGHUP)
    child = {}

    def forward(sig, _frame):
        if "proc" in child:
            try:
                child["proc"].send_signal(sig)
            except OSError:
                pass
    # INT and QUIT from a terminal reach the program directly (same process group); here they
    # only must not kill the wrapper before it renders. A handler, not SIG_IGN: the program
    # must not inherit "ignored".
    for sig in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, lambda s, f: None)
    for sig in forwarded:
        signal.signal(sig, forward)
    try:
        try:
            child["proc"] = proc = subprocess.Popen(prog, env=env, restore_signals=True)
        except OSError as e:
            print("%s: cannot run %s: %s" % (PROG, prog[0], e.strerror or e), file=sys.stderr)
            return 127 if isinstance(e, FileNotFoundError) else 126
        while True:
            try:
                status = proc.wait()
                break
            except KeyboardInterrupt:
                continue
        path = template.replace("%p", str(proc.pid))
        if os.path.exists(path):
            try:
                rep = load(path)
                page = html_report(rep, path if not tmpdir else "the run of %s" % prog[0],
                                   args.title or " ".join(prog))
                write_text(args.html, page)
                print("%s: HTML report written to %s" % (PROG, args.html), file=sys.stderr)
            except ReportError as e:
                print("%s: no HTML report: %s" % (PROG, e), file=sys.stderr)
            except OSError as e:
                print("%s: no HTML report: cannot write %s: %s" % (PROG, args.html,
                                                                 e.strerror or e), file=sys.stderr)
        else:
            print("%s: no HTML report: pid %d wrote no JSON report (it ended by a signal or "
                  "_exit, or the mode is off)" % (PROG, proc.pid), file=sys.stderr)
    finally:
        if tmpdir:
            for name in os.listdir(tmpdir):
                try:
                    os.unlink(os.path.join(tmpdir, name))
                except OSError:
                    pass
            try:
                os.rmdir(tmpdir)
            except OSError:
                pass
    if status >= 0:
        return status
    # Killed by a signal: die of the same one, so the caller sees what it would have seen
    # without the wrapper (no core file of our own).
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    except (OSError, ValueError):
        pass
    return 128 - status


def write_text(path, text):
    if path == "-":
        sys.stdout.write(text)
        return
    tmp = path + ".tmp%d" % os.getpid()
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_bytes(path, data):
    if path == "-":
        sys.stdout.buffer.write(data)
        return
    tmp = path + ".tmp%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def percent(v):
    try:
        p = float(v.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError("not a percentage: %r" % v)
    if not p >= 0 or p == float("inf"):
        raise argparse.ArgumentTypeError("must be 0 or more: %r" % v)
    return p


# ---- snapshot: a report of a running process on demand (docs/reports.md) -------------------

# The library's names for signals (core/snapshot.c): those it accepts for SCVGC_REPORT_SIGNAL.
SIGNAL_NAMES = ("HUP", "INT", "QUIT", "USR1", "USR2", "PIPE", "ALRM", "TERM", "URG", "XCPU",
                "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR")


def parse_signal(v):
    """SCVGC_REPORT_SIGNAL's syntax (core/snapshot.c scvgc_parse_signal): a number, a name with
    or without SIG, SIGRTMIN+N, SIGRTMAX-N; None for off."""
    v = v.strip()
    if v in ("off", "0", ""):
        return None
    if v.isdigit():
        return int(v)
    u = v.upper()
    if u.startswith("SIG") and len(u) > 3:
        u = u[3:]
    if u in SIGNAL_NAMES:
        return int(getattr(signal, "SIG" + u))
    m = re.fullmatch(r"RTMIN(?:\+(\d+))?|RTMAX(?:-(\d+))?", u)
    if m:
        if u.startswith("RTMIN"):
            return int(signal.SIGRTMIN) + int(m.group(1) or 0)
        return int(signal.SIGRTMAX) - int(m.group(2) or 0)
    raise ReportError("not a signal: %r" % v)


def options_of(env):
    """The library's settings of the report paths and signal, as it reads them (core/options.c
    O1): SCVGC_OPTIONS' pairs (by variable name or short name), then the variables."""
    short = {"json": "SCVGC_JSON", "report": "SCVGC_REPORT", "report_signal": "SCVGC_REPORT_SIGNAL",
             "mode": "SCVGC_MODE"}
    out = {}
    for m in re.finditer(r"([A-Za-z_]+)=(\"[^\"]*\"|'[^']*'|[^:, \n]*)", env.get("SCVGC_OPTIONS", "")):
        k, v = m.group(1), m.group(2).strip("\"'")
        name = short.get(k, k)
        if name in short.values():
            out[name] = v
    for name in short.values():
        if name in env:
            out[name] = env[name]
    return out


def proc_environ(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ReportError("process %d: cannot read its environment: %s" % (pid, e.strerror or e))
    env = {}
    for item in raw.split(b"\0"):
        k, sep, v = item.partition(b"=")
        if sep:
            env[k.decode(errors="replace")] = v.decode(errors="replace")
    return env


def caught_signals(pid):
    """The set of signals process PID has a handler for (SigCgt of /proc/PID/status)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    mask = int(line.split()[1], 16)
                    return {n + 1 for n in range(64) if mask >> n & 1}
    except (OSError, ValueError):
        pass
    return set()


def snapshot_files(pattern):
    """{N: path} of the snapshot files of a report path whose `%p` is already `PID.`."""
    d, base = os.path.split(pattern)
    head, tail = base.split("\0")
    rx = re.compile(re.escape(head) + r"(\d+)" + re.escape(tail) + "$")
    out = {}
    try:
        names = os.listdir(d or ".")
    except OSError:
        return out
    for n in names:
        m = rx.match(n)
        if m:
            out[int(m.group(1))] = os.path.join(d, n)
    return out


def snapshot_ready(path, is_json):
    """The library has finished writing PATH: a JSON report that parses (its closing brace is
    its last write), or a text report whose rss line is there and that stopped growing."""
    try:
        if is_json:
            with open(path, encoding="utf-8", errors="replace") as f:
                return isinstance(json.load(f), dict)
        size = os.path.getsize(path)
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        if " scvgc: rss: " not in text:
            return False
        time.sleep(0.2)
        return os.path.getsize(path) == size
    except (OSError, ValueError):
        return False


def snapshot(args):
    pid = args.pid
    if pid <= 0 or not os.path.isdir("/proc/%d" % pid):
        raise ReportError("no process %d" % pid)
    opts = options_of(proc_environ(pid))
    sig = parse_signal(args.signal) if args.signal else parse_signal(opts.get("SCVGC_REPORT_SIGNAL", "off"))
    if sig is None:
        raise ReportError("process %d was not started with SCVGC_REPORT_SIGNAL (give --signal SIG "
                          "if its compiled-in defaults set it)" % pid)
    try:
        with open("/proc/%d/maps" % pid) as f:
            mapped = "libscvgc" in f.read()
    except OSError:
        mapped = False
    if not mapped:
        raise ReportError("process %d has no libscvgc mapped: the signal would reach the program "
                          "itself" % pid)
    if sig not in caught_signals(pid):
        raise ReportError("process %d does not catch signal %d (the library did not install its "
                          "handler: mode off, or the program ignores it); not sending it" % (pid, sig))
    # Where the library writes: the JSON report when there is one (its closing brace says it is
    # complete), else the text report when it goes to a file.
    dest, is_json = opts.get("SCVGC_JSON"), True
    if not dest:
        dest, is_json = opts.get("SCVGC_REPORT", "stderr"), False
        if dest in ("stderr", "none"):
            raise ReportError("process %d writes no report file (SCVGC_JSON unset, SCVGC_REPORT=%s): "
                              "nothing to wait for" % (pid, dest))
    if not os.path.isabs(dest):
        try:
            cwd = os.readlink("/proc/%d/cwd" % pid)
        except OSError as e:
            raise ReportError("process %d: cannot read its working directory: %s" % (
                pid, e.strerror or e))
        shown = dest if os.path.realpath(cwd) == os.path.realpath(os.getcwd()) else None
        dest = os.path.join(cwd, dest)
    else:
        shown = None
    # core/report.c F2: %p becomes PID.N; a path without %p gets .PID.N appended
    mark = dest.replace("%p", "%d.\0" % pid) if "%p" in dest else dest + ".%d.\0" % pid
    before = snapshot_files(mark)
    last = max(before, default=0)
    os.kill(pid, sig)
    deadline = time.monotonic() + args.timeout
    while True:
        new = {n: p for n, p in snapshot_files(mark).items() if n > last}
        if new:
            n = min(new)
            if snapshot_ready(new[n], is_json):
                path = new[n]
                if shown is not None:
                    path = os.path.relpath(path)
                print(path)
                return 0
        if not os.path.isdir("/proc/%d" % pid):
            raise ReportError("process %d ended before its snapshot was written" % pid)
        if time.monotonic() >= deadline:
            raise ReportError("no snapshot from process %d after %g s (expected %s)" % (
                pid, args.timeout, mark.replace("\0", "%d" % (last + 1))))
        time.sleep(0.05)


# ---- command line ----------------------------------------------------------------------------

def main(argv):
    ap = argparse.ArgumentParser(prog=PROG, description="libscvgc's report tools")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("report", help="print a saved JSON report as text, or render it as HTML")
    p.add_argument("file", nargs="?")
    p.add_argument("--html", metavar="OUT", help="write a self-contained HTML page (- for stdout)")
    p.add_argument("--title", help="the page's heading (default: the pid)")
    p.add_argument("--gen-suppressions", action="store_true",
                   help="print a suppressions file: one leak:PATTERN per leak stack")
    p.add_argument("--folded", nargs="?", const="-", metavar="OUT",
                   help="folded stacks (flamegraph.pl, inferno, speedscope); default stdout")
    p.add_argument("--folded-value", choices=("bytes", "objects"), default="bytes")
    p.add_argument("--tool-version", help=argparse.SUPPRESS)  # the wrapper's, for SARIF
    p.add_argument("--pprof", metavar="OUT", help="a gzipped pprof profile (go tool pprof)")
    p.add_argument("--sarif", metavar="OUT", help="SARIF 2.1.0 (GitHub code scanning)")
    p.add_argument("--source-root", metavar="DIR", default=None,
                   help="SARIF: file paths under DIR become relative to %%SRCROOT%% "
                        "(default: the current directory)")
    p = sub.add_parser("diff", help="list the leaks of NEW that OLD does not have")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--grown", metavar="PERCENT", type=percent,
                   help="also list (and fail on) stacks whose leaked bytes grew by more")
    p = sub.add_parser("snapshot", help="a report of a running process, now")
    p.add_argument("pid", type=int)
    p.add_argument("--timeout", type=float, default=60.0, metavar="S")
    p.add_argument("--signal", metavar="SIG",
                   help="the signal to send (default: the process's SCVGC_REPORT_SIGNAL)")
    p = sub.add_parser("run", help="run a program, then render its report as HTML")
    p.add_argument("--html", metavar="OUT", required=True)
    p.add_argument("--preload", required=True)
    p.add_argument("--json", metavar="TEMPLATE")
    p.add_argument("--title")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    if args.cmd == "report" and args.file is None:
        # `report --folded FILE.json`: the optional OUT of --folded took the report's name.
        if args.folded not in (None, "-"):
            args.file, args.folded = args.folded, "-"
        else:
            ap.error("report needs FILE.json")

    try:
        if args.cmd == "report":
            rep = load(args.file)
            wrote = False
            if args.html:
                write_text(args.html, html_report(rep, args.file, args.title))
                wrote = True
            if args.gen_suppressions:
                sys.stdout.write(gen_suppressions(rep, args.file))
                wrote = True
            if args.folded:
                write_text(args.folded, folded(rep, args.folded_value))
                wrote = True
                note = sample_note(rep)
                if note:
                    print("%s: note: %s (folded stacks cannot say so)" % (PROG, note),
                          file=sys.stderr)
            if args.pprof:
                write_bytes(args.pprof, pprof(rep, args.file))
                wrote = True
            if args.sarif:
                root = args.source_root if args.source_root is not None else os.getcwd()
                write_text(args.sarif, sarif(rep, args.file, root or None, args.tool_version))
                wrote = True
            if not wrote:
                sys.stdout.write(text_report(rep))
            return 0
        if args.cmd == "diff":
            old, new = load(args.old), load(args.new)
            grown = args.grown
            if grown is None and is_num(old.get("snapshot")) and is_num(new.get("snapshot")) \
                    and old.get("pid") == new.get("pid"):
                # two snapshots of one process: what leaked between them is mostly growth of
                # the stacks both have
                grown = 0.0
            if new.get("complete") is False:
                print("%s diff: %s is incomplete (a thread could not be stopped): its leaks are "
                      "unknown" % (PROG, args.new), file=sys.stderr)
                return 2
            return 1 if diff(old, new, args.old, args.new, grown) else 0
        if args.cmd == "run":
            return run(args)
        if args.cmd == "snapshot":
            return snapshot(args)
    except ReportError as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as e:  # the HTML output cannot be written
        print("%s: cannot write %s: %s" % (PROG, getattr(args, "html", None) or "the output",
                                            e.strerror or e), file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
