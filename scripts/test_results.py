#!/usr/bin/env python3
"""test_results.py — the per-suite result files of scripts/run-tests.sh, for CI systems.

    test_results.py integration NAME OUT DIR [SECONDS]
        OUT is the output of test/integration/NAME.sh ("PASS: name" / "FAIL: name" lines, a
        failure's details indented below it); writes DIR/NAME.tap (TAP version 13: one test
        line per case, a failure's details in a YAML block) and DIR/NAME.xml (JUnit XML)
    test_results.py unit NAME TAP XML OUT [SECONDS]
        TAP and XML are what the criterion suite NAME wrote (--tap, --xml); OUT its console
        output. Keeps criterion's XML when it parses and agrees with its TAP; otherwise (the
        suite crashed before writing them, or wrote them half) writes both again from what
        there is, with a failing case that says so, so the files always count what the
        per-suite line of run-tests.sh counts.

Prints "PASSED FAILED" (the counts written) on stdout. Python 3 standard library only.
The formats: docs/testing.md ("Results for CI").
"""

import os
import re
import sys
import xml.etree.ElementTree as ET

# XML 1.0 has no room for most control characters: dropped (a test's output may hold any byte)
BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
OUT_MAX = 64 << 10  # the tail of a suite's output kept in <system-out>


def clean(s):
    return BAD_XML.sub("", s)


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def tap_desc(name):
    # TAP: a `#` in a description starts a directive unless escaped
    return name.replace("\\", "\\\\").replace("#", "\\#")


def write_tap(path, cases):
    """cases: [(name, ok, details)]"""
    lines = ["TAP version 13", "1..%d" % len(cases)]
    for i, (name, ok, details) in enumerate(cases, 1):
        lines.append("%s %d - %s" % ("ok" if ok else "not ok", i, tap_desc(name)))
        if not ok and details:
            lines.append("  ---")
            lines.append("  message: |")
            lines.extend("    " + d for d in details)
            lines.append("  ...")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(clean(l) for l in lines) + "\n")


def write_junit(path, suite, cases, seconds, out):
    failures = sum(1 for c in cases if not c[1])
    root = ET.Element("testsuites", name=suite, tests=str(len(cases)), failures=str(failures),
                      errors="0", time="%.3f" % seconds)
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)),
                       failures=str(failures), errors="0", skipped="0", time="%.3f" % seconds)
    skipped = 0
    for name, ok, details in cases:
        skip = re.search(r"\s# SKIP\b\s*(.*)$", name, re.I)
        if skip:
            name = name[:skip.start()].rstrip()
        tc = ET.SubElement(ts, "testcase", classname=suite, name=clean(name), time="0")
        if ok and skip:
            ET.SubElement(tc, "skipped", message=clean(skip.group(1)))
            skipped += 1
        if not ok:
            msg = [d for d in details if re.search(r"assert|fail|error|signal|crash", d, re.I)
                   and not re.match(r"\s*(assertions|failures):", d)] or details or [name]
            f = ET.SubElement(tc, "failure", type="FAIL", message=clean(msg[0].strip()))
            f.text = clean("\n".join(details))
    ts.set("skipped", str(skipped))
    if out:
        so = ET.SubElement(ts, "system-out")
        so.text = clean(out[-OUT_MAX:])
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)


def integration(name, out_path, outdir, seconds):
    out = read(out_path)
    cases = []
    for line in out.splitlines():
        m = re.match(r"(PASS|FAIL): (.*)$", line)
        if m:
            cases.append((m.group(2), m.group(1) == "PASS", []))
        elif cases and not cases[-1][1] and line.startswith("    "):
            cases[-1][2].append(line[4:])
    write_tap(os.path.join(outdir, name + ".tap"), cases)
    write_junit(os.path.join(outdir, name + ".xml"), "integration." + name, cases, seconds, out)
    return cases


TAP_LINE = re.compile(r"(ok|not ok)\b(?: \d+)?(?: -)? ?(.*?)(?:\s+\(\d+\.\d+s\))?\s*$")


def tap_cases(text):
    cases = []
    for line in text.splitlines():
        m = TAP_LINE.match(line)
        if m:
            desc = m.group(2)
            cases.append((desc, m.group(1) == "ok", []))
        elif cases and not cases[-1][1] and line.startswith("  ") and line.strip() not in ("---", "..."):
            cases[-1][2].append(line.strip())
    return cases


def criterion_xml_agrees(xml_path, cases):
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, OSError):
        return False
    tcs = root.findall(".//testcase")
    fails = sum(1 for tc in tcs if tc.find("failure") is not None or tc.find("error") is not None)
    return len(tcs) == len(cases) and fails == sum(1 for c in cases if not c[1])


def unit(name, tap_path, xml_path, out_path, seconds):
    cases = tap_cases(read(tap_path))
    if not cases:  # crashed before writing its results: one failure (run-tests.sh counts so)
        tail = read(out_path).splitlines()[-20:]
        cases = [(name + " ran to its end and wrote its results", False,
                  ["the suite wrote no TAP (it crashed or could not start); its output ends:"] + tail)]
        write_tap(tap_path, cases)
    if not criterion_xml_agrees(xml_path, cases):
        # missing, cut short, or not well-formed (criterion 2.4 puts a failure's message in a
        # CDATA section unescaped: a "]]>" in it breaks the file)
        write_junit(xml_path, name, cases, seconds, read(out_path))
    return cases


def main(argv):
    if len(argv) >= 4 and argv[0] == "integration":
        cases = integration(argv[1], argv[2], argv[3], float(argv[4]) if len(argv) > 4 else 0.0)
    elif len(argv) >= 5 and argv[0] == "unit":
        cases = unit(argv[1], argv[2], argv[3], argv[4], float(argv[5]) if len(argv) > 5 else 0.0)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print("%d %d" % (sum(1 for c in cases if c[1]), sum(1 for c in cases if not c[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
