#!/usr/bin/env python3
"""Checks the JSON reports of one leak case against the ground truth in the case's header.

    check.py CASE_SOURCE --pid PID [--rc RC] [--output FILE] [REPORT.json ...]

CASE_SOURCE is the case's .c/.cpp file; its leading `// key: value` lines are the ground truth
(the format is documented at the top of run.sh). PID is the pid of the process run.sh started:
the report named *.PID.json is the main one, any other is a child's. RC is that process's exit
status. FILE holds the program's stdout and stderr, shown after a failure.

Prints nothing and exits 0 when every check holds; otherwise prints one indented line per
failed check (then the reports' groups and the program's last output lines) and exits 1.
Exits 2 when the case's header is malformed. Standard library only.
"""

import argparse
import json
import os
import re
import sys

KNOWN_KEYS = {
    "case", "expect", "expect-leak", "expect-not-reported", "expect-order", "expect-exit",
    "env", "cflags", "reports", "child-expect", "child-expect-leak",
    "child-expect-not-reported",
}
TOTAL_KEYS = {
    "direct_objects", "direct_bytes", "indirect_objects", "indirect_bytes",
    "suppressed_objects", "reclaimed_objects", "reclaimed_bytes",
}
REQUIRED_TOTALS = ("direct_objects", "direct_bytes", "indirect_objects", "indirect_bytes")
LEAK_FIELDS = {"function", "kind", "objects", "bytes", "groups"}
DEFAULT_STACK_DEPTH = 16
HEADER_LINE = re.compile(r"^//\s*([a-z][a-z-]*):\s*(.*?)\s*$")


class HeaderError(Exception):
    pass


def parse_pairs(text, allowed, what):
    """'a=1 b=x' -> {'a': '1', 'b': 'x'}; every key must be in allowed."""
    pairs = {}
    for word in text.split():
        key, eq, value = word.partition("=")
        if not eq or not value:
            raise HeaderError("%s: %r is not key=value" % (what, word))
        if key not in allowed:
            raise HeaderError("%s: unknown field %r" % (what, key))
        if key in pairs:
            raise HeaderError("%s: field %r given twice" % (what, key))
        pairs[key] = value
    return pairs


def parse_int(value, what):
    if not re.fullmatch(r"\d+", value):
        raise HeaderError("%s: %r is not a non-negative integer" % (what, value))
    return int(value)


def parse_totals(text, what):
    totals = {k: parse_int(v, what) for k, v in parse_pairs(text, TOTAL_KEYS, what).items()}
    missing = [k for k in REQUIRED_TOTALS if k not in totals]
    if missing:
        raise HeaderError("%s: missing %s" % (what, ", ".join(missing)))
    return totals


def parse_leak(text, what):
    fields = parse_pairs(text, LEAK_FIELDS, what)
    for k in ("function", "kind", "objects", "bytes"):
        if k not in fields:
            raise HeaderError("%s: missing %s=" % (what, k))
    if fields["kind"] not in ("direct", "indirect"):
        raise HeaderError("%s: kind must be direct or indirect" % what)
    leak = {"function": fields["function"], "kind": fields["kind"],
            "objects": parse_int(fields["objects"], what),
            "bytes": parse_int(fields["bytes"], what)}
    if "groups" in fields:
        leak["groups"] = parse_int(fields["groups"], what)
    return leak


def new_expectation():
    return {"totals": None, "leaks": [], "not_reported": [], "order": []}


def parse_header(path):
    """The case's ground truth: the `// key: value` lines before its first other line."""
    spec = {"case": None, "env": {}, "exit": 0, "reports": 1,
            "main": new_expectation(), "child": new_expectation()}
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines, 1):
        if not line.startswith("//"):
            break
        m = HEADER_LINE.match(line)
        if not m:
            continue  # a plain comment line inside the header
        key, value = m.groups()
        what = "%s:%d: %s" % (os.path.basename(path), n, key)
        if key not in KNOWN_KEYS:
            raise HeaderError("%s: unknown header key" % what)
        role = "child" if key.startswith("child-") else "main"
        base = key[len("child-"):] if role == "child" else key
        exp = spec[role]
        if key == "case":
            spec["case"] = value
        elif key == "env":
            for word in value.split():
                var, eq, val = word.partition("=")
                if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
                    raise HeaderError("%s: %r is not VAR=VALUE" % (what, word))
                spec["env"][var] = val
        elif key == "cflags":
            pass  # run.sh's business
        elif key == "expect-exit":
            spec["exit"] = parse_int(value, what)
        elif key == "reports":
            spec["reports"] = parse_int(value, what)
        elif base == "expect":
            if exp["totals"] is not None:
                raise HeaderError("%s: given twice" % what)
            exp["totals"] = parse_totals(value, what)
        elif base == "expect-leak":
            exp["leaks"].append(parse_leak(value, what))
        elif base == "expect-not-reported":
            if not value.split():
                raise HeaderError("%s: no function named" % what)
            exp["not_reported"].extend(value.split())
        elif base == "expect-order":
            if len(value.split()) < 2:
                raise HeaderError("%s: name at least two functions" % what)
            exp["order"].append(value.split())
    if not spec["case"]:
        raise HeaderError("%s: no `// case:` line" % os.path.basename(path))
    if spec["main"]["totals"] is None:
        raise HeaderError("%s: no `// expect:` line" % os.path.basename(path))
    has_child = any(spec["child"][k] for k in ("totals", "leaks", "not_reported", "order"))
    if spec["reports"] > 1 and spec["child"]["totals"] is None:
        raise HeaderError("%s: `reports: %d` needs a `// child-expect:` line"
                          % (os.path.basename(path), spec["reports"]))
    if has_child and spec["reports"] < 2:
        raise HeaderError("%s: child-expect lines need `// reports: 2` or more"
                          % os.path.basename(path))
    return spec


def frame_matches(frame, name):
    """Whether a stack frame is function `name`: the exact symbol, a demangled C++ name
    (`name(...)`, `ns::name(...)`, `name<...>`), or a mangled one (`_Z...<len>name...`)."""
    if not isinstance(frame, dict):
        return False
    fn = frame.get("function")
    if not isinstance(fn, str) or not fn:
        return False
    if fn == name:
        return True
    if re.search(r"(^|::)" + re.escape(name) + r"(\(|<|$)", fn):
        return True
    if fn.startswith("_Z") and re.search(r"(?<!\d)%d%s" % (len(name), re.escape(name)), fn):
        return True
    return False


def group_matches(group, name):
    stack = group.get("stack") or []
    return any(frame_matches(f, name) for f in stack)


def frame_names(group, limit=6):
    names = []
    for f in (group.get("stack") or [])[:limit]:
        fn = f.get("function") if isinstance(f, dict) else None
        names.append(fn if isinstance(fn, str) and fn else "?")
    more = len(group.get("stack") or []) - limit
    return " < ".join(names) + (" < ..." if more > 0 else "") if names else "(no stack)"


def is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def check_report(report, exp, spec, label, file_pid):
    """Returns the list of failed checks of one report against one expectation."""
    bad = []
    if not isinstance(report, dict):
        return ["%s: the report is not a JSON object" % label]
    if report.get("version") != 1:
        bad.append("%s: version is %r, expected 1" % (label, report.get("version")))
    mode = spec["env"].get("SCVGC_MODE", "leak")
    if report.get("mode") != mode:
        bad.append("%s: mode is %r, expected %r" % (label, report.get("mode"), mode))
    if file_pid is not None and report.get("pid") != file_pid:
        bad.append("%s: pid is %r but the file is named for pid %d"
                   % (label, report.get("pid"), file_pid))

    leaks = report.get("leaks")
    if not isinstance(leaks, list):
        bad.append("%s: `leaks` is %s, expected a list" % (label, type(leaks).__name__))
        leaks = []
    depth = spec["env"].get("SCVGC_STACK_DEPTH", str(DEFAULT_STACK_DEPTH))
    depth = int(depth) if depth.isdigit() else None
    groups = []
    for i, g in enumerate(leaks):
        where = "%s: leaks[%d]" % (label, i)
        if not isinstance(g, dict):
            bad.append("%s is not an object" % where)
            continue
        if g.get("kind") not in ("direct", "indirect"):
            bad.append("%s: kind %r is neither direct nor indirect" % (where, g.get("kind")))
        if not is_count(g.get("objects")) or g.get("objects") == 0:
            bad.append("%s: objects %r is not a positive integer" % (where, g.get("objects")))
        if not is_count(g.get("bytes")):
            bad.append("%s: bytes %r is not a non-negative integer" % (where, g.get("bytes")))
        stack = g.get("stack")
        if stack is not None and not isinstance(stack, list):
            bad.append("%s: stack is neither a list nor null" % where)
            continue
        if depth is not None and len(stack or []) > depth:
            bad.append("%s: %d frames, more than SCVGC_STACK_DEPTH=%d"
                       % (where, len(stack), depth))
        groups.append(g)

    totals = report.get("totals")
    if not isinstance(totals, dict):
        bad.append("%s: no `totals` object" % label)
        totals = {}
    for key, want in sorted(exp["totals"].items()):
        got = totals.get(key)
        if got != want:
            bad.append("%s: totals.%s is %r, expected %d" % (label, key, got, want))
    for kind in ("direct", "indirect"):
        for unit in ("objects", "bytes"):
            listed = sum(g.get(unit, 0) for g in groups
                         if g.get("kind") == kind and is_count(g.get(unit)))
            total = totals.get("%s_%s" % (kind, unit))
            if is_count(total) and listed != total:
                bad.append("%s: the %s groups list %d %s but totals.%s_%s is %d"
                           % (label, kind, listed, unit, kind, unit, total))

    for want in exp["leaks"]:
        name, kind = want["function"], want["kind"]
        found = [g for g in groups if g.get("kind") == kind and group_matches(g, name)]
        objs = sum(g.get("objects", 0) for g in found if is_count(g.get("objects")))
        nbytes = sum(g.get("bytes", 0) for g in found if is_count(g.get("bytes")))
        desc = "%s: %s leak from %s" % (label, kind, name)
        if not found:
            bad.append("%s: no such group (expected %d objects, %d bytes)"
                       % (desc, want["objects"], want["bytes"]))
            continue
        if objs != want["objects"] or nbytes != want["bytes"]:
            bad.append("%s: %d objects, %d bytes; expected %d objects, %d bytes"
                       % (desc, objs, nbytes, want["objects"], want["bytes"]))
        if "groups" in want and len(found) != want["groups"]:
            bad.append("%s: in %d groups, expected %d" % (desc, len(found), want["groups"]))

    for name in exp["not_reported"]:
        hits = [g for g in groups if group_matches(g, name)]
        if hits:
            bad.append("%s: %s is in the stack of %d group(s) (%d objects), expected none"
                       % (label, name, len(hits), sum(g.get("objects", 0) for g in hits
                                                      if is_count(g.get("objects")))))

    for names in exp["order"]:
        positions = []
        for name in names:
            pos = next((i for i, g in enumerate(groups) if group_matches(g, name)), None)
            if pos is None:
                bad.append("%s: order %s: no group names %s" % (label, " ".join(names), name))
                break
            positions.append(pos)
        else:
            if positions != sorted(positions) or len(set(positions)) != len(positions):
                bad.append("%s: groups are in the order %s, expected %s"
                           % (label, " ".join(n for _, n in sorted(zip(positions, names))),
                              " ".join(names)))
    return bad


def describe(report, label):
    lines = []
    if not isinstance(report, dict) or not isinstance(report.get("leaks"), list):
        return lines
    t = report.get("totals") if isinstance(report.get("totals"), dict) else {}
    lines.append("%s: totals direct %s/%s, indirect %s/%s (objects/bytes)"
                 % (label, t.get("direct_objects"), t.get("direct_bytes"),
                    t.get("indirect_objects"), t.get("indirect_bytes")))
    for g in report["leaks"][:12]:
        if isinstance(g, dict):
            lines.append("  %s %s objects %s bytes: %s"
                         % (g.get("kind"), g.get("objects"), g.get("bytes"), frame_names(g)))
    if len(report["leaks"]) > 12:
        lines.append("  ... %d more groups" % (len(report["leaks"]) - 12))
    return lines


def report_pid(path):
    m = re.search(r"\.(\d+)\.json$", path)
    return int(m.group(1)) if m else None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case")
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--rc", type=int, default=0)
    ap.add_argument("--output")
    ap.add_argument("reports", nargs="*")
    args = ap.parse_intermixed_args(argv)

    try:
        spec = parse_header(args.case)
    except (HeaderError, OSError) as e:
        print("  bad case header: %s" % e)
        return 2

    bad, context = [], []
    if args.rc != spec["exit"]:
        if args.rc in (124, 137):
            bad.append("timed out (exit status %d)" % args.rc)
        elif args.rc > 128:
            bad.append("killed by signal %d" % (args.rc - 128))
        else:
            bad.append("exit status %d, expected %d" % (args.rc, spec["exit"]))

    loaded = {}
    for path in args.reports:
        try:
            with open(path, encoding="utf-8") as f:
                loaded[path] = json.load(f)
        except (OSError, ValueError) as e:
            bad.append("%s: not readable JSON: %s" % (os.path.basename(path), e))
    main_paths = [p for p in args.reports if report_pid(p) == args.pid]
    child_paths = [p for p in args.reports if report_pid(p) != args.pid]
    if not main_paths:
        bad.append("no JSON report from pid %d (expected NAME.%d.json)" % (args.pid, args.pid))
    if len(args.reports) != spec["reports"]:
        bad.append("%d JSON report(s) written, expected %d (one per process that exits)"
                   % (len(args.reports), spec["reports"]))
    for role, paths in (("main", main_paths), ("child", child_paths)):
        for path in paths:
            if path not in loaded:
                continue
            pid = report_pid(path)
            label = "report of pid %s%s" % (pid, " (child)" if role == "child" else "")
            if spec[role]["totals"] is None:
                bad.append("%s: not expected (the case has no child-expect lines)" % label)
                context.extend(describe(loaded[path], label))
                continue
            failed = check_report(loaded[path], spec[role], spec, label, pid)
            bad.extend(failed)
            if failed:
                context.extend(describe(loaded[path], label))

    if not bad:
        return 0
    for line in bad:
        print("  " + line)
    for line in context:
        print("    " + line)
    if args.output and os.path.exists(args.output):
        with open(args.output, encoding="utf-8", errors="replace") as f:
            tail = f.read().splitlines()[-5:]
        if tail:
            print("    program output (last lines):")
            for line in tail:
                print("      " + line)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
