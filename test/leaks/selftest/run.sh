#!/bin/sh
# test/leaks/selftest/run.sh — checks check.py itself on hand-written reports: the samples pass
# as written, and each mutation of them (one broken fact) fails with the right message.
# Prints PASS/FAIL lines like the corpus; exits 0. Needs only python3.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
CHECK="$HERE/../check.py"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/scvgc-selftest.XXXXXX") || exit 0
trap 'rm -rf "$tmp"' EXIT

# expect NAME STATUS MESSAGE -- check.py ARGS: runs check.py, wants that exit status and, when
# MESSAGE is not empty, a line containing it.
expect() {
  name=$1 want=$2 msg=$3; shift 4
  python3 "$CHECK" "$@" >"$tmp/out" 2>&1
  got=$?
  if [ "$got" = "$want" ] && { [ -z "$msg" ] || grep -qF -- "$msg" "$tmp/out"; }; then
    echo "PASS: check.py: $name"
  else
    echo "FAIL: check.py: $name"
    echo "  exit status $got (wanted $want), wanted a line with: $msg"
    sed 's/^/  | /' "$tmp/out" | head -n 12
  fi
}

# mutate SRC PID PYTHON: writes a copy of report SRC as $tmp/m.PID.json after running the Python
# statement(s) on it as r; prints the copy's path.
mutate() {
  python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(r, open(sys.argv[2], "w"))' "$1" "$tmp/m.$2.json" "$3"
  echo "$tmp/m.$2.json"
}

S="$HERE/sample.c"
G="$HERE/sample.100.json"
expect "a report that matches its case passes" 0 "" -- "$S" --pid 100 "$G"
expect "a missing report fails" 1 "no JSON report from pid 100" -- "$S" --pid 100
expect "a report from another pid only fails" 1 "no JSON report from pid 999" -- "$S" --pid 999 "$G"
expect "a report from an unexpected second process fails" 1 "report of pid 100 (child): not expected" -- "$S" --pid 999 "$G"
expect "a wrong exit status fails" 1 "exit status 3, expected 0" -- "$S" --pid 100 --rc 3 "$G"
expect "a timeout is named" 1 "timed out" -- "$S" --pid 100 --rc 124 "$G"
expect "wrong totals fail" 1 "totals.direct_objects is 3, expected 2" -- "$S" --pid 100 \
  "$(mutate "$G" 100 'r["totals"]["direct_objects"] = 3')"
expect "groups that do not add up to the totals fail" 1 "the indirect groups list 3 objects" -- "$S" --pid 100 \
  "$(mutate "$G" 100 'r["leaks"][0]["objects"] = 3')"
expect "a wrong version fails" 1 "version is 2, expected 1" -- "$S" --pid 100 \
  "$(mutate "$G" 100 'r["version"] = 2')"
expect "a wrong mode fails" 1 "mode is 'collect', expected 'leak'" -- "$S" --pid 100 \
  "$(mutate "$G" 100 'r["mode"] = "collect"')"
expect "a pid that differs from the file name fails" 1 "pid is 101" -- "$S" --pid 100 \
  "$(mutate "$G" 100 'r["pid"] = 101')"
expect "a missing group fails" 1 "direct leak from control_leak: no such group" -- "$S" --pid 100 \
  "$(mutate "$G" 100 'r["leaks"][2]["stack"][0]["function"] = "other"')"
expect "a group of the wrong kind fails" 1 "direct leak from list_push: no such group" -- "$S" --pid 100 \
  "$(mutate "$G" 100 'r["leaks"][1]["kind"] = "indirect"; r["totals"].update(direct_objects=1, direct_bytes=13, indirect_objects=5, indirect_bytes=240)')"
expect "a group split in two fails groups=1" 1 "indirect leak from list_push: in 2 groups, expected 1" -- "$S" --pid 100 \
  "$(mutate "$G" 100 'import copy; g = copy.deepcopy(r["leaks"][0]); g["stack"][1]["pc"] = "0x401199"
for x in (g, r["leaks"][0]): x.update(objects=2, bytes=96)
r["leaks"].insert(1, g)')"
expect "a function matched in a deeper frame counts" 0 "" -- "$S" --pid 100 \
  "$(mutate "$G" 100 'r["leaks"][2]["stack"].insert(0, {"function": "malloc_wrapper"})')"
expect "a forbidden function in a stack fails" 1 "keep_tree is in the stack of 1 group(s)" -- "$S" --pid 100 \
  "$(mutate "$G" 100 'r["leaks"][0]["stack"][2]["function"] = "keep_tree"')"
expect "groups out of the expected order fail" 1 "groups are in the order control_leak list_push" -- "$S" --pid 100 \
  "$(mutate "$G" 100 'r["leaks"].reverse()')"
expect "more frames than SCVGC_STACK_DEPTH fail" 1 "5 frames, more than SCVGC_STACK_DEPTH=4" -- "$S" --pid 100 \
  "$(mutate "$G" 100 'r["leaks"][0]["stack"] += [{"function": "a"}, {"function": "b"}]')"
echo '{"version": 1,' >"$tmp/broken.100.json"
expect "a report that is not JSON fails" 1 "not readable JSON" -- "$S" --pid 100 "$tmp/broken.100.json"
expect "both reports of a fork pass against their own expectations" 0 "" -- \
  "$HERE/sample_fork.c" --pid 200 "$HERE/sample_fork.200.json" "$HERE/sample_fork.201.json"
expect "each process of a fork is checked against its own expectation" 1 "report of pid 201 (child): leak_in_parent is in the stack" -- \
  "$HERE/sample_fork.c" --pid 200 "$HERE/sample_fork.200.json" \
  "$(mutate "$HERE/sample_fork.201.json" 201 'r["leaks"][0]["stack"][0]["function"] = "leak_in_parent"')"
expect "a fork whose child wrote no report fails" 1 "1 JSON report(s) written, expected 2" -- \
  "$HERE/sample_fork.c" --pid 200 "$HERE/sample_fork.200.json"
expect "C++ names match demangled, mangled and namespaced, not by prefix" 0 "" -- \
  "$HERE/sample_cpp.cpp" --pid 300 "$HERE/sample_cpp.300.json"
expect "a longer C++ name with the same prefix does not match" 1 "make_widget_pool is in the stack" -- \
  "$HERE/sample_cpp.cpp" --pid 300 "$(mutate "$HERE/sample_cpp.300.json" 300 'r["leaks"][2]["stack"].append({"function": "make_widget_pool()"})')"
expect "a header with an unknown key is rejected" 2 "bad_header.c:3: expect-leek: unknown header key" -- \
  "$HERE/bad_header.c" --pid 1
sed 's/ indirect_bytes=0//' "$HERE/bad_header.c" >"$tmp/short_totals.c"
expect "a header whose totals lack a field is rejected" 2 "expect: missing indirect_bytes" -- \
  "$tmp/short_totals.c" --pid 1
exit 0
