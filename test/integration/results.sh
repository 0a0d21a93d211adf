#!/bin/sh
# Results for CI (issue 16 point 7): scripts/run-tests.sh, run on a few suites of every kind —
# a real criterion suite, a criterion suite with a failing, a crashing and a skipped test whose
# message holds XML markup (and "]]>", which criterion's own XML does not survive), a unit
# binary that dies before writing anything, integration scripts with markup, `#`, control
# characters and indented details, one that exits nonzero, one with no case — writes per
# suite NAME.tap and NAME.xml that parse (python3's xml.etree; a strict TAP line grammar) and
# count exactly what the suite's console line says; the console lines keep their format.
. "$ROOT/test/integration/common.inc"

PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
	fail "run-tests.sh writes TAP and JUnit XML per suite" "no python3"
	exit 0
fi
f="$T/fixtures"
mkdir -p "$f"

# a criterion suite with every outcome
cat >"$f/mini.c" <<'EOF'
#include <criterion/criterion.h>
#include <signal.h>
Test(mini, passes) { cr_assert(1); }
Test(mini, fails_with_markup) { cr_assert(0, "a <b> & \"c\" ]]> 'd' message"); }
Test(mini, crashes) { raise(SIGSEGV); }
Test(mini, skipped) { cr_skip_test("not here"); }
EOF
if ! ${CC:-cc} -g "$f/mini.c" -o "$f/unit-mini" -lcriterion >"$T/cc.err" 2>&1; then
	fail "a criterion suite builds" "$(tail_of "$T/cc.err" 5)"
	exit 0
fi
# a unit binary that dies before writing its TAP
printf '#!/bin/sh\necho dying >&2\nkill -SEGV $$\n' >"$f/unit-dies"
chmod +x "$f/unit-dies"
# integration scripts
cat >"$f/mixed.sh" <<'EOF'
echo "some output a CI log shows"
echo "PASS: a <b> & \"c\" 'd' case"
echo "FAIL: a case # with a hash"
echo "    detail one: x < y && z"
printf '    detail two with a control character: \001 and ]]>\n'
echo "PASS: a case with # SKIP-like text"
echo "FAIL: a failure without details"
EOF
printf 'echo "PASS: before the crash"\nexit 3\n' >"$f/exits.sh"
printf 'echo "nothing to say"\n' >"$f/empty.sh"

suites="$ROOT/build/test/unit-options $f/unit-mini $f/unit-dies $f/mixed.sh $f/exits.sh $f/empty.sh"
for s in $suites; do
	[ -e "$s" ] || { fail "run-tests.sh writes TAP and JUnit XML per suite" "$s is missing (not built?)"; exit 0; }
done
res="$T/results"
# shellcheck disable=SC2086
TEST_RESULTS="$res" timeout -k 5 300 sh "$ROOT/scripts/run-tests.sh" $suites >"$T/run.out" 2>"$T/run.err"
rc=$?

cat >"$T/check.py" <<'EOF'
import os, re, sys
import xml.etree.ElementTree as ET

out, res = sys.argv[1], sys.argv[2]
lines = open(out).read().splitlines()
suite_line = re.compile(r"^([A-Za-z0-9_.+-]+): (\d+) passed, (\d+) failed$")
final = re.compile(r"^(\d+) passed, (\d+) failed$")
suites, problems = {}, []
for l in lines:
    m = suite_line.match(l)
    if m:
        suites[m.group(1)] = (int(m.group(2)), int(m.group(3)))
m = final.match(lines[-1]) if lines else None
if not m:
    problems.append("last line is not 'N passed, N failed': %r" % (lines[-1:],))
elif (int(m.group(1)), int(m.group(2))) != (sum(p for p, _ in suites.values()), sum(f for _, f in suites.values())):
    problems.append("the closing line does not add up the suite lines")

# TAP, strictly: the version line first, one plan, test lines numbered in order where numbered,
# comments, YAML blocks right after a test line; nothing else (no blank line).
TEST = re.compile(r"^(not ok|ok)(?: (\d+))?(?: - (.*)| (.*))?$")
def tap(path):
    ls = open(path, encoding="utf-8").read().split("\n")
    if ls and ls[-1] == "":
        ls.pop()
    if not ls or ls[0] != "TAP version 13":
        return None, "no 'TAP version 13' first line"
    plan, oks, fails, n, i, prev_test = None, 0, 0, 0, 1, False
    while i < len(ls):
        l = ls[i]
        if re.match(r"^1\.\.(\d+)(?: # .*)?$", l):
            if plan is not None:
                return None, "two plans"
            plan = int(l.split("..")[1].split()[0])
            prev_test = False
        elif TEST.match(l):
            mm = TEST.match(l)
            n += 1
            if mm.group(2) and int(mm.group(2)) != n:
                return None, "test %s out of order at line %d" % (mm.group(2), i + 1)
            if mm.group(1) == "ok":
                oks += 1
            else:
                fails += 1
            prev_test = True
        elif l.startswith("#"):
            prev_test = False
        elif l == "  ---" and prev_test:
            i += 1
            while i < len(ls) and ls[i] != "  ...":
                if not ls[i].startswith("  "):
                    return None, "YAML block line %d not indented" % (i + 1)
                i += 1
            if i == len(ls):
                return None, "YAML block not closed"
            prev_test = False
        else:
            return None, "line %d is not TAP: %r" % (i + 1, l)
        i += 1
    if plan is None:
        return None, "no plan"
    return (plan, n, oks, fails), None

for name, (p, f) in sorted(suites.items()):
    for ext in ("tap", "xml"):
        if not os.path.exists(os.path.join(res, name + "." + ext)):
            problems.append("%s.%s missing" % (name, ext))
    try:
        root = ET.parse(os.path.join(res, name + ".xml")).getroot()
        cases = root.findall(".//testcase")
        bad = sum(1 for c in cases if c.find("failure") is not None or c.find("error") is not None)
        for s in ([root] if root.tag == "testsuite" else root.findall("testsuite")):
            if int(s.get("tests", -1)) != len(s.findall("testcase")):
                problems.append("%s.xml: testsuite tests=%s for %d testcases" % (name, s.get("tests"), len(s.findall("testcase"))))
        if (len(cases), bad) != (p + f, f):
            problems.append("%s.xml: %d cases, %d failed; the line says %d passed, %d failed" % (name, len(cases), bad, p, f))
    except (ET.ParseError, OSError) as e:
        problems.append("%s.xml does not parse: %s" % (name, e))
    try:
        t, err = tap(os.path.join(res, name + ".tap"))
        if err:
            problems.append("%s.tap: %s" % (name, err))
        elif (t[2], t[3]) != (p, f):
            problems.append("%s.tap: %d ok, %d not ok; the line says %d passed, %d failed" % (name, t[2], t[3], p, f))
        elif t[0] != t[1] and name != "unit-dies":
            problems.append("%s.tap: plan 1..%d for %d test lines" % (name, t[0], t[1]))
    except OSError as e:
        problems.append("%s.tap: %s" % (name, e))

want = {"unit-options": None, "unit-mini": (2, 2), "unit-dies": (0, 1), "mixed": (2, 2),
        "exits": (1, 1), "empty": (0, 0)}
for k, v in want.items():
    if k not in suites:
        problems.append("no line for suite %s" % k)
    elif v is not None and suites[k] != v:
        problems.append("%s: %d passed, %d failed; expected %d and %d" % (k, suites[k][0], suites[k][1], v[0], v[1]))
x = ET.parse(os.path.join(res, "mixed.xml")).getroot()
names = [c.get("name") for c in x.iter("testcase")]
if "a <b> & \"c\" 'd' case" not in names or "a case # with a hash" not in names:
    problems.append("mixed.xml: the case names are not kept: %r" % names)
fl = [c.find("failure") for c in x.iter("testcase") if c.find("failure") is not None]
if not fl or "detail one: x < y && z" not in (fl[0].text or ""):
    problems.append("mixed.xml: the failure's details are not in <failure>")
if "a case \\# with a hash" not in open(os.path.join(res, "mixed.tap")).read():
    problems.append("mixed.tap: a '#' in a case name is not escaped")
print("\n".join(problems) if problems else "%d suites" % len(suites))
sys.exit(1 if problems else 0)
EOF
"$PY" "$T/check.py" "$T/run.out" "$res" >"$T/check.out" 2>&1
crc=$?
if [ "$rc" = 1 ] && [ "$crc" = 0 ]; then
	pass "run-tests.sh writes per suite TAP and JUnit XML that parse and count what its lines say (criterion failures with markup, crashes, skips; integration details, hashes, control characters, a nonzero exit, no case)"
else
	fail "run-tests.sh writes per suite TAP and JUnit XML that parse and count what its lines say" \
		"run-tests.sh: $(rc_text "$rc" 300)" "$(tail_of "$T/check.out" 12)" "$(tail_of "$T/run.out" 8)" "$(tail_of "$T/run.err" 4)"
fi

# The console lines are what they were: one "NAME: N passed, N failed" per suite, the failure
# details, and the closing line last (make test's interface).
if grep -q '^unit-mini: 2 passed, 2 failed$' "$T/run.out" && grep -q '^mixed: 2 passed, 2 failed$' "$T/run.out" &&
	grep -q '^FAIL: a case # with a hash$' "$T/run.out" && grep -q '^exits: 1 passed, 1 failed$' "$T/run.out" &&
	tail -n 1 "$T/run.out" | grep -Eq '^[0-9]+ passed, 6 failed$'; then
	pass "run-tests.sh's console lines keep their format: per suite, failures' details, 'N passed, N failed' last"
else
	fail "run-tests.sh's console lines keep their format: per suite, failures' details, 'N passed, N failed' last" \
		"$(tail_of "$T/run.out" 20)"
fi

# The workflow of docs/wrapper.md that runs make test uploads these files and publishes the XML.
cat >"$T/wf.py" <<'EOF2'
import re, sys
try:
    import yaml
except ImportError:
    print("no Python module yaml: install the Debian package python3-yaml (make test does)")
    sys.exit(1)
doc = open(sys.argv[1]).read()
blocks = re.findall(r"^```yaml\n(.*?)^```$", doc, re.S | re.M)
wf = [yaml.safe_load(b) for b in blocks]
wf = [w for w in wf if any("make test" in str(s.get("run", "")) for j in w["jobs"].values() for s in j["steps"])]
if not wf:
    print("no workflow in docs/wrapper.md runs make test"); sys.exit(1)
steps = [s for j in wf[0]["jobs"].values() for s in j["steps"]]
up = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
rep = [s for s in steps if "junit" in str(s.get("uses", "")).lower()]
ok = up and "build/test-results" in str(up[0].get("with", {}).get("path")) and up[0].get("if") == "always()" \
    and rep and "build/test-results/" in str(rep[0].get("with", {})) and rep[0].get("if") == "always()"
print("ok" if ok else "the upload or the JUnit report step does not read build/test-results/ always: %r" % steps)
sys.exit(0 if ok else 1)
EOF2
YPY=$PY
for c in /usr/bin/python3 "$PY"; do
	if "$c" -c 'import yaml' 2>/dev/null; then YPY=$c; break; fi
done
if "$YPY" "$T/wf.py" "$ROOT/docs/wrapper.md" >"$T/wf.out" 2>&1; then
	pass "docs/wrapper.md's make test workflow uploads build/test-results/ and publishes its JUnit XML, also when tests fail"
else
	fail "docs/wrapper.md's make test workflow uploads build/test-results/ and publishes its JUnit XML, also when tests fail" \
		"$(tail_of "$T/wf.out" 5)"
fi
