#!/usr/bin/env python3
"""Turns one memcheck XML log into a libscvgc-shaped JSON report (the oracle's report).

    vg2json.py LOG.xml OUT.json

Uses the first leak check in the log (the one scvgc_leak_check() triggered when the case calls
it; valgrind runs with --leak-check=no then). Mapping: Leak_DefinitelyLost -> direct,
Leak_IndirectlyLost -> indirect; Leak_PossiblyLost (reachable only through interior pointers)
is reachable by the libscvgc contract and goes to "possibly" (ignored by check.py). Stacks lose
valgrind's replacement frames (malloc, operator new...), are cut to SCVGC_STACK_DEPTH and
regrouped; SCVGC_SUPPRESS patterns and SCVGC_MODE are applied as the library would.
"""
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

KINDS = {"Leak_DefinitelyLost": "direct", "Leak_IndirectlyLost": "indirect",
         "Leak_PossiblyLost": "possibly"}


def main(log, out):
    pid = int(re.search(r"\.(\d+)\.xml$", log).group(1))
    depth = int(os.environ.get("SCVGC_STACK_DEPTH", "16"))
    patterns = []
    if os.environ.get("SCVGC_SUPPRESS"):
        with open(os.environ["SCVGC_SUPPRESS"]) as f:
            patterns = [l.strip()[5:] for l in f if l.strip().startswith("leak:")]
    root = ET.parse(log).getroot()
    groups, suppressed, last = {}, 0, (0, None)
    for err in root.iter("error"):
        kind = KINDS.get(err.findtext("kind"))
        if not kind:
            continue
        text = err.findtext("xwhat/text")
        m = re.search(r"in loss record (\d+) of (\d+)", text)
        rec, of = int(m.group(1)), int(m.group(2))
        if rec <= last[0] or (last[1] is not None and of != last[1]):
            break  # a second leak check (the exit one) starts over
        last = (rec, of)
        blocks = int(err.findtext("xwhat/leakedblocks"))
        m = re.match(r"([\d,]+) \(([\d,]+) direct", text)
        nbytes = int((m.group(2) if m else text.split()[0]).replace(",", ""))
        frames = []
        for fr in err.findall("stack/frame"):
            if "vgpreload" in (fr.findtext("obj") or ""):
                continue
            frames.append({"pc": fr.findtext("ip"), "function": fr.findtext("fn"),
                           "file": fr.findtext("file"),
                           "line": int(fr.findtext("line")) if fr.findtext("line") else None,
                           "module": fr.findtext("obj")})
        if any(p in (f["function"] or "") or p in (f["file"] or "") or p in (f["module"] or "")
               for p in patterns for f in frames):
            suppressed += blocks
            continue
        frames = frames[:depth]
        key = (kind, tuple(f["pc"] for f in frames))
        g = groups.setdefault(key, {"kind": kind, "objects": 0, "bytes": 0, "stack": frames})
        g["objects"] += blocks
        g["bytes"] += nbytes
    leaks = sorted((g for g in groups.values() if g["kind"] != "possibly"),
                   key=lambda g: -g["bytes"])
    totals = {"suppressed_objects": suppressed}
    for kind in ("direct", "indirect"):
        totals[kind + "_objects"] = sum(g["objects"] for g in leaks if g["kind"] == kind)
        totals[kind + "_bytes"] = sum(g["bytes"] for g in leaks if g["kind"] == kind)
    report = {"version": 1, "pid": pid, "mode": os.environ.get("SCVGC_MODE", "leak"),
              "leaks": leaks, "totals": totals,
              "possibly": [g for g in groups.values() if g["kind"] == "possibly"]}
    with open(out, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
