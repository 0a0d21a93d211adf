#!/bin/sh
# A program that leaks from 131072 distinct allocation stacks (test/progs/leak_tree.c: a
# recursion with four call sites per level, issue 14 point 6): its exit report is written in
# seconds, the text report stays small (over 1000 groups: merged by their first 8 frames, the
# 1000 largest printed, then one "... and N more groups (B bytes) in the JSON report" line), the
# JSON report has every group, and the report tools (scvgc report: text, --html, --sarif,
# --folded; scvgc diff) still work on such a report.
. "$ROOT/test/integration/common.inc"

PY=${PYTHON:-python3}
SCVGC="$ROOT/scripts/scvgc"
for v in $(env | sed -n 's/^\(SCVGC[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
unset LD_PRELOAD
broken=$(preload_broken)
if [ -n "$broken" ]; then
	fail "the library can be preloaded" "$broken"
	exit 0
fi
prog="$BIN/leak_tree"
if [ ! -x "$prog" ]; then
	fail "test/progs/leak_tree.c is built" "$prog is missing"
	exit 0
fi

# ---- 131072 groups: the library's own report ---------------------------------------------
t0=$(date +%s)
timeout -k 5 120 env LD_PRELOAD="$LIB" SCVGC_REPORT="$T/big.txt" SCVGC_JSON="$T/big.json" \
	"$prog" >"$T/big.out" 2>"$T/big.err"
rc=$?
secs=$(($(date +%s) - t0))
case1="the exit report of 131072 leak groups is written within 120 s"
if [ "$rc" = 0 ] && grep -q '^leaked 131072 objects' "$T/big.out" && [ -s "$T/big.txt" ] && [ -s "$T/big.json" ]; then
	pass "$case1 (took $secs s)"
else
	fail "$case1" "$(rc_text "$rc" 120)" "$(tail_of "$T/big.err" 5)"
	exit 0
fi

size=$(wc -c <"$T/big.txt")
groups=$(grep -c 'leaked, allocated at:$' "$T/big.txt")
# 1000 groups of about 16 lines: some 2 MB; every group printed whole was 225 MB
if [ "$size" -lt 4000000 ] && [ "$groups" = 1000 ]; then
	pass "the text report prints the 1000 largest merged groups only ($size bytes)"
else
	fail "the text report prints the 1000 largest merged groups only" "$size bytes, $groups groups"
fi
if grep -q '^==[0-9]*== scvgc: \.\.\. and [0-9]* more groups ([0-9]* bytes) in the JSON report$' "$T/big.txt" &&
	grep -q 'groups with these first 8 frames; the JSON report has each)$' "$T/big.txt"; then
	pass "the text report says how many groups and bytes only the JSON report has"
else
	fail "the text report says how many groups and bytes only the JSON report has" \
		"$(grep -e 'more groups' -e 'first 8 frames' "$T/big.txt" | head -3)"
fi
# every group printed or counted: the merged groups' counts and the "more" line add up to all
"$PY" - "$T/big.txt" >"$T/sum.out" 2>&1 <<'PYEOF'
import re, sys
objs = nbytes = 0
more = None
for line in open(sys.argv[1]):
    m = re.search(r'scvgc: (\d+) bytes in (\d+) objects? (is|are) directly leaked', line)
    if m:
        nbytes += int(m.group(1)); objs += int(m.group(2))
    m = re.search(r'\.\.\. and (\d+) more groups \((\d+) bytes\)', line)
    if m:
        more = (int(m.group(1)), int(m.group(2)))
    m = re.search(r'LEAK SUMMARY \(leak mode\): (\d+) bytes in (\d+) objects', line)
    if m:
        total = (int(m.group(1)), int(m.group(2)))
assert more, "no more-groups line"
print(nbytes + more[1], total[0])
assert nbytes + more[1] == total[0], "bytes shown + bytes in the more line != the summary's"
PYEOF
if [ $? = 0 ]; then
	pass "the groups shown and the more-groups line account for every leaked byte"
else
	fail "the groups shown and the more-groups line account for every leaked byte" "$(tail_of "$T/sum.out" 4)"
fi
jgroups=$(grep -c '^  {"kind": "direct"' "$T/big.json")
if [ "$jgroups" = 131072 ]; then
	pass "the JSON report has every one of the 131072 groups"
else
	fail "the JSON report has every one of the 131072 groups" "$jgroups groups"
fi

# ---- 512 groups: at most 1000, each printed as it is (SPEC: a block per allocation stack) ----
timeout -k 5 60 env LD_PRELOAD="$LIB" SCVGC_REPORT="$T/small.txt" SCVGC_JSON="$T/small.json" \
	LEAK_TREE_LEVELS=4 "$prog" >"$T/small.out" 2>"$T/small.err"
rc=$?
blocks=$(grep -c 'leaked, allocated at:$' "$T/small.txt" 2>/dev/null)
if [ "$rc" = 0 ] && [ "$blocks" = 512 ] && ! grep -q -e 'first 8 frames' -e 'more groups' "$T/small.txt"; then
	pass "a report of 512 groups (1000 or fewer) prints every group unmerged"
else
	fail "a report of 512 groups (1000 or fewer) prints every group unmerged" "$(rc_text "$rc" 60)" \
		"$blocks blocks" "$(grep -e 'first 8 frames' -e 'more groups' "$T/small.txt" | head -2)"
fi

# ---- the tools, on 32768 groups (more than HTML and SARIF show) -------------------------
timeout -k 5 120 env LD_PRELOAD="$LIB" SCVGC_REPORT="$T/mid.txt" SCVGC_JSON="$T/mid.json" \
	LEAK_TREE_LEVELS=7 "$prog" >"$T/mid.out" 2>"$T/mid.err"
rc=$?
if [ "$rc" != 0 ] || ! command -v "$PY" >/dev/null 2>&1; then
	fail "scvgc report and diff on a report of 32768 groups" "$(rc_text "$rc" 120)" "$(tail_of "$T/mid.err" 4)"
	exit 0
fi
tool() {
	_n=$1
	shift
	timeout -k 5 120 "$SCVGC" "$@" >"$T/$_n.out" 2>"$T/$_n.err" </dev/null
	rc=$?
}
tool text report "$T/mid.json"
if [ "$rc" = 0 ] && cmp -s "$T/text.out" "$T/mid.txt"; then
	pass "scvgc report FILE.json prints the library's merged text report, line for line"
else
	fail "scvgc report FILE.json prints the library's merged text report, line for line" \
		"$(rc_text "$rc" 120)" "$(diff "$T/mid.txt" "$T/text.out" | head -6)" "$(tail_of "$T/text.err" 4)"
fi
tool html report --html "$T/mid.html" "$T/mid.json"
rows=$(grep -o '<tr class="direct">' "$T/mid.html" 2>/dev/null | wc -l)
if [ "$rc" = 0 ] && [ "$rows" = 5000 ] &&
	grep -q 'the 5000 largest leak groups are shown; 27768 more groups' "$T/mid.html"; then
	pass "scvgc report --html shows the 5000 largest groups and says how many it left out"
else
	fail "scvgc report --html shows the 5000 largest groups and says how many it left out" \
		"$(rc_text "$rc" 120)" "$rows rows" "$(tail_of "$T/html.err" 4)"
fi
tool sarif report --sarif "$T/mid.sarif" "$T/mid.json"
if [ "$rc" = 0 ] && "$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
assert len(r["results"]) == 5000, len(r["results"])
assert r["properties"]["groups_omitted"] == 27768
assert any("27768 more groups" in n["message"]["text"] for n in r["invocations"][0]["toolExecutionNotifications"])
' "$T/mid.sarif" 2>"$T/sarif.check"; then
	pass "scvgc report --sarif has the 5000 largest groups and a note of the others"
else
	fail "scvgc report --sarif has the 5000 largest groups and a note of the others" \
		"$(rc_text "$rc" 120)" "$(tail_of "$T/sarif.check" 4)" "$(tail_of "$T/sarif.err" 4)"
fi
tool folded report --folded "$T/mid.folded" "$T/mid.json"
if [ "$rc" = 0 ] && grep -q 'leak_a' "$T/mid.folded" && grep -q 'leak_b' "$T/mid.folded"; then
	pass "scvgc report --folded folds the 32768 groups"
else
	fail "scvgc report --folded folds the 32768 groups" "$(rc_text "$rc" 120)" "$(tail_of "$T/folded.err" 4)"
fi
tool diff diff "$T/mid.json" "$T/mid.json"
if [ "$rc" = 0 ] && grep -q '^scvgc diff: 0 new' "$T/diff.out"; then
	pass "scvgc diff of a 32768-group report against itself: nothing new"
else
	fail "scvgc diff of a 32768-group report against itself: nothing new" "$(rc_text "$rc" 120)" \
		"$(tail_of "$T/diff.out" 4)" "$(tail_of "$T/diff.err" 4)"
fi
