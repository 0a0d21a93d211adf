#!/bin/sh
# The scvgc wrapper (scripts/scvgc) as a user drives it: its options and exit codes on a leaky
# and a clean program, `report` and `diff` on saved reports, the HTML report in headless
# Chromium, and `make install` / `make uninstall` into a temporary prefix.
#
# The program run is test/progs/tool_leaks.c (its header lists what each mode leaks), built
# here at -O0 so that its leaks are exact. The HTML cases need a `chromium` binary (Debian
# package chromium, installed by `make test` and .ci/run): without one they FAIL, never skip.
# Whole script: about 15 s on two cores.
. "$ROOT/test/integration/common.inc"

. "$ROOT/test/integration/tool_common.inc"

# expect_rc NAME WANT CASE: PASS or FAIL on the exit status of the last wrap.
expect_rc() {
	if [ "$rc" = "$2" ]; then
		pass "$3"
	else
		fail "$3" "$(rc_text "$rc" 30), expected $(rc_text "$2" 30)" "$(tail_of "$T/$1.err" 8)"
	fi
}

# ---- --help -------------------------------------------------------------------------------
wrap help --help
missing=""
for w in --mode --json --html --exitcode --suppress --trace --help --version --log-file \
	--num-callers --gen-suppressions --folded --pprof --sarif --grown report diff snapshot SCVGC_LIB \
	$("$ROOT/build/scvgc-options" | sed -n 's/^  \(SCVGC[A-Z_]*\) .*/\1/p'); do
	grep -q -e "$w" "$T/help.out" || missing="$missing $w"
done
nvars=$("$ROOT/build/scvgc-options" | grep -c '^  SCVGC')
if [ "$rc" = 0 ] && [ -z "$missing" ] && [ "$nvars" -ge 11 ]; then
	pass "scvgc --help lists every option, subcommand and environment variable ($nvars from the options table)"
else
	fail "scvgc --help lists every option, subcommand and environment variable" \
		"$(rc_text "$rc" 30); missing:$missing; $nvars variables from build/scvgc-options"
fi

# The man page must not drift from the options table and the wrapper's options.
missing=""
for w in $("$ROOT/build/scvgc-options" | sed -n 's/^  \(SCVGC[A-Z_]*\) .*/\1/p') SCVGC_LIB; do
	grep -q "^\.B $w\$" "$ROOT/docs/scvgc.1" || missing="$missing $w"
done
for w in mode json html exitcode suppress trace log-file num-callers version; do
	wm=$(printf '%s' "$w" | sed 's/-/\\\\-/g') # roff writes log\-file
	grep -q "^\.BI\{0,1\} \\\\-\\\\-$wm" "$ROOT/docs/scvgc.1" || missing="$missing --$w"
done
if [ -z "$missing" ]; then
	pass "the man page documents every option and every variable of the options table"
else
	fail "the man page documents every option and every variable of the options table" \
		"not in docs/scvgc.1:$missing"
fi

wrap badopt --frobnicate -- "$prog" clean
r1=$rc; grep -q "unknown option --frobnicate" "$T/badopt.err"; g1=$?
wrap badmode --mode fast -- "$prog" clean
r2=$rc
wrap badexit --exitcode=lots -- "$prog" clean
r3=$rc
if [ "$r1:$g1:$r2:$r3" = "2:0:2:2" ]; then
	pass "a bad option or value is a usage error (status 2, one line naming it)"
else
	fail "a bad option or value is a usage error (status 2, one line naming it)" \
		"--frobnicate: $r1 (message found: $g1), --mode fast: $r2, --exitcode=lots: $r3"
fi

# valgrind's names (issue 16 point 10): --version, --log-file, --num-callers.
wrap version --version
mkver=$(sed -n 's/^VERSION *?= *//p' "$ROOT/Makefile")
if [ "$rc" = 0 ] && [ -n "$mkver" ] && grep -q "^scvgc $mkver " "$T/version.out"; then
	pass "scvgc --version prints the Makefile's VERSION ($mkver)"
else
	fail "scvgc --version prints the Makefile's VERSION ($mkver)" "$(rc_text "$rc" 30)" \
		"$(tail_of "$T/version.out" 2)" "$(tail_of "$T/version.err" 2)"
fi
wrap logfile --log-file "$T/log.%p.txt" -- "$prog" leak
set -- "$T"/log.*.txt
if [ "$rc" = 0 ] && [ $# = 1 ] && grep -q 'scvgc: LEAK SUMMARY (leak mode): 244 bytes' "$1" &&
	! grep -q 'scvgc:' "$T/logfile.err"; then
	pass "--log-file FILE (%p: pid) writes the text report there, nothing on stderr"
else
	fail "--log-file FILE (%p: pid) writes the text report there, nothing on stderr" \
		"$(rc_text "$rc" 30); files: $*" "$(tail_of "$T/logfile.err" 4)"
fi
wrap callers --num-callers=2 --json "$T/callers.json" -- "$prog" leak
depths=$("$PY" -c 'import json,sys; print(" ".join(str(len(g["stack"])) for g in json.load(open(sys.argv[1]))["leaks"]), json.load(open(sys.argv[1]))["leaks"][0]["stack"][1]["function"])' "$T/callers.json" 2>/dev/null)
wrap callers0 --num-callers x -- "$prog" leak
if [ "$depths" = "2 2 2 leak" ] && [ "$rc" = 2 ] && grep -q -e '--num-callers must be a number' "$T/callers0.err"; then
	pass "--num-callers N captures N frames per allocation (a non-number is a usage error)"
else
	fail "--num-callers N captures N frames per allocation (a non-number is a usage error)" \
		"stack depths, second frame: ${depths:-none}; --num-callers x: $(rc_text "$rc" 30)" \
		"$(tail_of "$T/callers0.err" 2)"
fi

# ---- running ------------------------------------------------------------------------------
wrap leak --json "$T/leak.%p.json" -- "$prog" leak
if [ "$rc" = 0 ] && grep -q 'scvgc: LEAK SUMMARY (leak mode): 244 bytes in 4 objects' "$T/leak.err" &&
	grep -q ' leak_alpha (' "$T/leak.err" && grep -q ' list_node (' "$T/leak.err"; then
	pass "a leaky program under scvgc: the report is printed and its status (0) kept"
else
	fail "a leaky program under scvgc: the report is printed and its status (0) kept" \
		"$(rc_text "$rc" 30)" "$(tail_of "$T/leak.err" 12)"
fi
set -- "$T"/leak.*.json
leak_json=$1
if [ $# = 1 ] && [ -f "$leak_json" ]; then
	pass "--json FILE with %p writes one report named for the pid"
else
	fail "--json FILE with %p writes one report named for the pid" "files: $*"
fi

wrap leak7 --exitcode 7 -- "$prog" leak
expect_rc leak7 7 "--exitcode 7 on a leaky program: status 7"
wrap leak7b --exitcode=7 -- "$prog" leak-exit 5
expect_rc leak7b 7 "--exitcode=7 on a leaky program that exits 5: status 7 (leaks win)"
wrap clean7 --exitcode 7 -- "$prog" clean
if [ "$rc" = 0 ] && grep -q 'scvgc: no leaks found (leak mode)' "$T/clean7.err"; then
	pass "--exitcode 7 on a clean program: no leaks found, its own status 0"
else
	fail "--exitcode 7 on a clean program: no leaks found, its own status 0" \
		"$(rc_text "$rc" 30)" "$(tail_of "$T/clean7.err" 8)"
fi
wrap exit3 --exitcode 7 -- "$prog" exit 3
expect_rc exit3 3 "a clean program's own nonzero status (3) passes through --exitcode 7"
wrap sig -- "$prog" signal
expect_rc sig 138 "a program killed by SIGUSR1: the wrapper's status says so (138)"

# --mode, --trace, --suppress
wrap collect --mode collect --trace --json "$T/collect.json" -- "$prog" leak
mode=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["mode"])' "$T/collect.json" 2>/dev/null)
if [ "$rc" = 0 ] && [ "$mode" = collect ] && grep -q 'scvgc: gc 1 @' "$T/collect.err"; then
	pass "--mode collect --trace: the report says mode collect, the trace has gc lines"
else
	fail "--mode collect --trace: the report says mode collect, the trace has gc lines" \
		"$(rc_text "$rc" 30); JSON mode: ${mode:-none}" "$(tail_of "$T/collect.err" 6)"
fi
printf '# the test suppression\nleak:leak_alpha\n' >"$T/supp"
wrap supp --suppress "$T/supp" --json "$T/supp.json" -- "$prog" leak
sup=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"]["suppressed_objects"])' "$T/supp.json" 2>/dev/null)
# no frame names leak_alpha; the pattern itself is listed under "suppressions used"
if [ "$rc" = 0 ] && [ "$sup" = 1 ] && ! grep -q '#[0-9]* 0x[0-9a-f]* leak_alpha ' "$T/supp.err" &&
	grep -q list_node "$T/supp.err" && grep -qE 'scvgc: +1 +100  leak:leak_alpha ' "$T/supp.err"; then
	pass "--suppress FILE hides the matching leak and counts it as suppressed"
else
	fail "--suppress FILE hides the matching leak and counts it as suppressed" \
		"$(rc_text "$rc" 30); suppressed_objects: ${sup:-none}" "$(tail_of "$T/supp.err" 6)"
fi
wrap nosupp --suppress "$T/no-such-file" -- "$prog" leak
expect_rc nosupp 2 "--suppress with a missing file is a usage error"

# An LD_PRELOAD already set is kept, after the library.
printf 'int tool_other_preload;\n' >"$T/other.c"
${CC:-cc} -shared -fPIC -o "$T/libother.so" "$T/other.c" 2>/dev/null
LD_PRELOAD="$T/libother.so" timeout 30 "$SCVGC" --mode off -- cat /proc/self/maps >"$T/maps.out" 2>&1
rc=$?
if [ "$rc" = 0 ] && grep -q "$(readlink -f "$LIB")" "$T/maps.out" && grep -q "$T/libother.so" "$T/maps.out"; then
	pass "an LD_PRELOAD already set is kept beside the library"
else
	fail "an LD_PRELOAD already set is kept beside the library" "$(rc_text "$rc" 30)" \
		"$(grep -e scvgc -e other "$T/maps.out" | head -4)"
fi

# ---- report -------------------------------------------------------------------------------
# The library's own text report of the run above, against the text rendered from its JSON.
wrap rep report "$leak_json"
grep '^==[0-9]*== scvgc: ' "$T/leak.err" >"$T/leak.lib.txt"
if [ "$rc" = 0 ] && [ -s "$T/rep.out" ] && cmp -s "$T/rep.out" "$T/leak.lib.txt"; then
	pass "scvgc report FILE.json prints the library's own text report, line for line"
else
	fail "scvgc report FILE.json prints the library's own text report, line for line" \
		"$(rc_text "$rc" 30)" "$(diff "$T/leak.lib.txt" "$T/rep.out" | head -10)" \
		"$(tail_of "$T/rep.err" 5)"
fi
wrap cleanrep --json "$T/clean.json" -- "$prog" clean
wrap rep2 report "$T/clean.json"
grep '^==[0-9]*== scvgc: ' "$T/cleanrep.err" >"$T/clean.lib.txt"
if [ "$rc" = 0 ] && [ -s "$T/rep2.out" ] && cmp -s "$T/rep2.out" "$T/clean.lib.txt"; then
	pass "scvgc report of a clean program's report: the library's short summary"
else
	fail "scvgc report of a clean program's report: the library's short summary" \
		"$(rc_text "$rc" 30)" "$(diff "$T/clean.lib.txt" "$T/rep2.out" | head -10)"
fi

# A report with the later fields (timeline, reclaimed), nulls, and names a browser would parse.
cat >"$T/synthetic.json" <<'EOF'
{"version": 1, "pid": 4242, "mode": "collect", "complete": true,
 "leaks": [
  {"kind": "direct", "objects": 2, "bytes": 96, "reclaimed_objects": 10, "reclaimed_bytes": 480,
   "stack": [{"pc": "0x401136", "function": "<b id=\"xss\">bold</b>", "file": "x.cc", "line": 3, "module": "/bin/<p>"},
             {"pc": "0x401200", "function": "std::map<int, char*>::operator[](int const&)", "file": null, "line": null, "module": "/usr/lib/libstdc++.so.6"},
             {"pc": "0x401300", "function": "main", "file": "x.cc", "line": 9, "module": "/bin/prog"}]},
  {"kind": "indirect", "objects": 1, "bytes": 32, "reclaimed_objects": null, "reclaimed_bytes": null,
   "stack": [{"pc": "0x7f0000001234", "function": null, "file": null, "line": null, "module": "/lib/libz.so"},
             {"pc": "0x401400", "function": "</script><script>document.title='pwned'</script>", "file": null, "line": null, "module": null},
             {"pc": "0x401300", "function": "main", "file": "x.cc", "line": 9, "module": "/bin/prog"}]},
  {"kind": "direct", "objects": 1, "bytes": 0, "stack": null}
 ],
 "totals": {"direct_objects": 3, "direct_bytes": 96, "indirect_objects": 1, "indirect_bytes": 32,
            "suppressed_objects": 0, "suppressed_bytes": null, "reclaimed_objects": 10, "reclaimed_bytes": 480},
 "heap": {"sys_bytes": 67108864, "inuse_bytes": null, "idle_bytes": 0, "released_bytes": 1048576,
          "gc_sys_bytes": 4096, "live_objects": 12},
 "gc": {"cycles": 3, "pause_total_ns": 1500000, "pause_max_ns": null},
 "rss": {"peak_bytes": null, "exit_bytes": null},
 "reclaimed": [{"objects": 10, "bytes": 480, "stack": [{"pc": "0x401500", "function": "churn", "file": "x.cc", "line": 20, "module": "/bin/prog"}]}],
 "timeline": [
  {"t_ns": 0, "event": "gc", "inuse_bytes": 8192, "sys_bytes": 67108864, "released_bytes": 0, "rss_bytes": 2097152},
  {"t_ns": 250000000, "event": "scvg", "inuse_bytes": 16384, "sys_bytes": 67108864, "released_bytes": 1048576, "rss_bytes": null},
  {"t_ns": 500000000, "event": "exit", "inuse_bytes": 12288, "sys_bytes": 67108864, "released_bytes": 1048576, "rss_bytes": 3145728}
 ]}
EOF
wrap rep3 report "$T/synthetic.json"
if [ "$rc" = 0 ] && grep -q '^==4242== scvgc: timeline: 3 samples over 0.500 s' "$T/rep3.out" &&
	grep -q '^==4242== scvgc: reclaimed: 10 objects (480 bytes)' "$T/rep3.out" &&
	grep -q 'in use ? KiB' "$T/rep3.out" && grep -q 'rss: unknown' "$T/rep3.out" &&
	grep -q '(no stack captured)' "$T/rep3.out"; then
	pass "scvgc report of a report with a timeline, reclaimed objects and null values"
else
	fail "scvgc report of a report with a timeline, reclaimed objects and null values" \
		"$(rc_text "$rc" 30)" "$(tail_of "$T/rep3.out" 12)" "$(tail_of "$T/rep3.err" 5)"
fi
echo '[1, 2]' >"$T/notreport.json"
wrap rep4 report "$T/notreport.json"
r1=$rc
wrap rep5 report "$T/no-such.json"
if [ "$r1:$rc" = "2:2" ] && grep -q 'not a libscvgc JSON report' "$T/rep4.err"; then
	pass "scvgc report of a file that is not a report: one line, status 2"
else
	fail "scvgc report of a file that is not a report: one line, status 2" "statuses $r1 and $rc" \
		"$(tail_of "$T/rep4.err" 3)"
fi

# ---- diff ---------------------------------------------------------------------------------
wrap extra --json "$T/extra.json" -- "$prog" leak-extra
wrap diff0 diff "$leak_json" "$leak_json"
if [ "$rc" = 0 ] && ! grep -q 'new leak group' "$T/diff0.out" && grep -q '^scvgc diff: 0 new' "$T/diff0.out"; then
	pass "scvgc diff of a report against itself: nothing new, status 0"
else
	fail "scvgc diff of a report against itself: nothing new, status 0" "$(rc_text "$rc" 30)" \
		"$(tail_of "$T/diff0.out" 8)" "$(tail_of "$T/diff0.err" 4)"
fi
wrap diff1 diff "$leak_json" "$T/extra.json"
if [ "$rc" = 1 ] && grep -q '^scvgc diff: 1 new leak group' "$T/diff1.out" &&
	grep -q ' leak_gamma (' "$T/diff1.out" && ! grep -q 'leak_alpha (' "$T/diff1.out"; then
	pass "scvgc diff against a run with one more leak lists that leak only, status 1"
else
	fail "scvgc diff against a run with one more leak lists that leak only, status 1" \
		"$(rc_text "$rc" 30)" "$(tail_of "$T/diff1.out" 12)" "$(tail_of "$T/diff1.err" 4)"
fi
wrap diff2 diff "$T/extra.json" "$leak_json"
if [ "$rc" = 0 ] && grep -q '^scvgc diff: 0 new, 1 fixed' "$T/diff2.out"; then
	pass "scvgc diff against a run with one leak fewer: nothing new, one fixed, status 0"
else
	fail "scvgc diff against a run with one leak fewer: nothing new, one fixed, status 0" \
		"$(rc_text "$rc" 30)" "$(tail_of "$T/diff2.out" 6)"
fi
# Frames without a function name are matched by module and pc.
"$PY" - "$T/synthetic.json" "$T/moved.json" <<'EOF'
import json, sys
rep = json.load(open(sys.argv[1]))
for g in rep["leaks"]:
    for f in g["stack"] or []:
        if f["function"]:
            f["pc"] = hex(int(f["pc"], 16) + 0x1000)   # ASLR: named frames move
json.dump(rep, open(sys.argv[2], "w"))
rep["leaks"][1]["stack"][0]["pc"] = "0x7f0000009999"     # the unnamed one is another place
json.dump(rep, open(sys.argv[2] + ".other", "w"))
EOF
wrap diff3 diff "$T/synthetic.json" "$T/moved.json"
r1=$rc
wrap diff4 diff "$T/synthetic.json" "$T/moved.json.other"
if [ "$r1:$rc" = "0:1" ] && grep -q '/lib/libz.so' "$T/diff4.out"; then
	pass "scvgc diff ignores the pcs of named frames (ASLR) and matches unnamed ones by module and pc"
else
	fail "scvgc diff ignores the pcs of named frames (ASLR) and matches unnamed ones by module and pc" \
		"statuses $r1 (moved, want 0) and $rc (other pc, want 1)" "$(tail_of "$T/diff4.out" 8)"
fi

# diff by function and source file, and --grown (issue 16 point 6).
"$PY" - "$leak_json" "$T" <<'EOF'
import json, sys, os
rep = json.load(open(sys.argv[1]))
t = sys.argv[2]
def save(name, r):
    json.dump(r, open(os.path.join(t, name), "w"))
# Another `leak_alpha` in another file is another place; the same files in another checkout
# directory are the same.
r = json.loads(json.dumps(rep))
for f in r["leaks"][0]["stack"]:
    if f["function"] == "leak_alpha":
        f["file"] = os.path.join(os.path.dirname(f["file"]), "other_file.c")
save("otherfile.json", r)
r = json.loads(json.dumps(rep))
for g in r["leaks"]:
    for f in g["stack"]:
        if f.get("file") and f["file"].startswith("/"):
            f["file"] = "/elsewhere/checkout/" + os.path.basename(f["file"])
save("otherdir.json", r)
# leak_alpha's group three times as big (100 -> 300 bytes), list_node's direct part +10%.
r = json.loads(json.dumps(rep))
for g in r["leaks"]:
    if g["stack"][0]["function"] == "leak_alpha":
        g["bytes"], g["objects"] = 300, 3
    elif g["kind"] == "direct":
        g["bytes"] += 14   # 144 -> 158 bytes for list_node's stack: +9.7%
save("grown.json", r)
EOF
wrap diff5 diff "$leak_json" "$T/otherfile.json"
r1=$rc
wrap diff6 diff "$leak_json" "$T/otherdir.json"
if [ "$r1:$rc" = "1:0" ] && grep -q '^scvgc diff: 1 new leak group' "$T/diff5.out" &&
	grep -q 'leak_alpha (.*other_file.c' "$T/diff5.out" &&
	grep -q 'matched by function and source file' "$T/diff6.out"; then
	pass "scvgc diff matches frames by function and source file name: the same function in another file is new, another checkout directory is not"
else
	fail "scvgc diff matches frames by function and source file name: the same function in another file is new, another checkout directory is not" \
		"statuses $r1 (other file, want 1) and $rc (other directory, want 0)" "$(tail_of "$T/diff5.out" 6)" \
		"$(tail_of "$T/diff6.out" 3)"
fi
wrap grown0 diff "$leak_json" "$T/grown.json"
g0=$rc
wrap grown50 diff --grown 50 "$leak_json" "$T/grown.json"
g50=$rc
wrap grown5 diff --grown=5% "$leak_json" "$T/grown.json"
g5=$rc
wrap grown300 diff --grown 300 "$leak_json" "$T/grown.json"
g300=$rc
wrap grownbad diff --grown lots "$leak_json" "$T/grown.json"
if [ "$g0:$g50:$g5:$g300:$rc" = "0:1:1:0:2" ] &&
	grep -q '^scvgc diff: 1 leak group grew by more than 50% from' "$T/grown50.out" &&
	grep -q '^300 bytes in 3 objects, was 100 bytes in 1 objects (+200%)' "$T/grown50.out" &&
	grep -q ' leak_alpha (' "$T/grown50.out" && ! grep -q ' list_node (' "$T/grown50.out" &&
	grep -q '0 new, 0 fixed, 2 in both, 1 grown by more than 50%' "$T/grown50.out" &&
	grep -q '2 grown by more than 5%' "$T/grown5.out" && grep -q '^158 bytes in 3 objects, was 144' "$T/grown5.out" &&
	! grep -q 'grown' "$T/grown0.out"; then
	pass "scvgc diff --grown PERCENT lists (and fails on) stacks whose leaked bytes grew by more, kinds summed"
else
	fail "scvgc diff --grown PERCENT lists (and fails on) stacks whose leaked bytes grew by more, kinds summed" \
		"statuses: no --grown $g0 (want 0), 50: $g50 (1), 5%: $g5 (1), 300: $g300 (0), lots: $rc (2)" \
		"$(tail_of "$T/grown50.out" 12)" "$(tail_of "$T/grown5.out" 3)"
fi

# The GitHub Actions example of docs/wrapper.md: a workflow GitHub would accept, whose test and
# SARIF steps, run here with bash -e as the runner does (make a no-op, ./run-tests this
# program), accept a leaking run (23), refuse a failing one and produce the SARIF it uploads.
cat >"$T/ci.py" <<'EOF'
import json, os, re, sys
try:
    import yaml
except ImportError:
    print("no Python module yaml: install the Debian package python3-yaml (make test does)")
    sys.exit(1)
doc, out = open(sys.argv[1]).read(), sys.argv[2]
m = re.search(r"^```yaml\n(.*?)^```$", doc, re.S | re.M)
if not m:
    print("no ```yaml block in docs/wrapper.md"); sys.exit(1)
wf = yaml.safe_load(m.group(1))
bad = []
on = wf.get("on", wf.get(True))   # YAML 1.1 reads a bare `on` as true
if not isinstance(on, dict) or "pull_request" not in on or "push" not in on:
    bad.append("the workflow does not run on push and pull_request")
if (wf.get("permissions") or {}).get("security-events") != "write":
    bad.append("no security-events: write permission (upload-sarif needs it)")
jobs = list(wf["jobs"].values())
steps = jobs[0]["steps"]
if not all(isinstance(s, dict) and ("uses" in s or "run" in s) for s in steps):
    bad.append("a step has neither uses nor run")
runs = {s.get("name"): s["run"] for s in steps if "run" in s}
tests = [n for n, r in runs.items() if "scvgc --exitcode 23" in r]
sarif = [n for n, r in runs.items() if re.search(r"scvgc report \S+ --sarif (\S+)", r)]
diffs = [n for n, r in runs.items() if re.search(r"scvgc diff --grown \d+ ", r)]
up = [s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@")]
if not (tests and sarif and diffs and up):
    bad.append("missing a step: tests under --exitcode 23 %s, report --sarif %s, diff --grown %s, upload-sarif %s"
               % (tests, sarif, diffs, len(up)))
else:
    f = re.search(r"--sarif (\S+)", runs[sarif[0]]).group(1)
    if up[0].get("with", {}).get("sarif_file") != f:
        bad.append("upload-sarif uploads %r, the report step writes %r" % (up[0].get("with"), f))
    if "always()" not in str(up[0].get("if")) or "always()" not in str(
            [s for s in steps if s.get("name") == sarif[0]][0].get("if")):
        bad.append("the SARIF steps do not run when the tests step failed (if: always())")
    open(os.path.join(out, "step-tests.sh"), "w").write(runs[tests[0]])
    open(os.path.join(out, "step-sarif.sh"), "w").write(runs[sarif[0]])
    open(os.path.join(out, "sarif-file"), "w").write(f)
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
mkdir -p "$T/ci/bin" "$T/ci/ws"
printf '#!/bin/sh\nexit 0\n' >"$T/ci/bin/make"
ln -sf "$SCVGC" "$T/ci/bin/scvgc"
chmod +x "$T/ci/bin/make"
# ci_step STEP RUNTESTS_ARGS: the step's script in $T/ci/ws, ./run-tests running the program.
ci_step() {
	printf '#!/bin/sh\nexec "%s" %s\n' "$prog" "$2" >"$T/ci/ws/run-tests"
	chmod +x "$T/ci/ws/run-tests"
	(cd "$T/ci/ws" && PATH="$T/ci/bin:$PATH" timeout -k 5 60 bash --noprofile --norc -eo pipefail "$T/ci/$1") \
		>"$T/ci/$1.out" 2>&1
}
YPY=$PY # the interpreter that has yaml: Debian's (python3-yaml) first
for c in /usr/bin/python3 "$PY"; do
	if "$c" -c 'import yaml' 2>/dev/null; then YPY=$c; break; fi
done
if "$YPY" "$T/ci.py" "$ROOT/docs/wrapper.md" "$T/ci" >"$T/ci.check" 2>&1; then
	ci_step step-tests.sh leak
	r1=$?
	ci_step step-sarif.sh leak
	r2=$?
	results=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["runs"][0]["results"]))' \
		"$T/ci/ws/$(cat "$T/ci/sarif-file")" 2>/dev/null)
	ci_step step-tests.sh "exit 1"
	r3=$?
	ci_step step-tests.sh clean
	r4=$?
	if [ "$r1:$r2:$results:$r3:$r4" = "0:0:3:1:0" ]; then
		pass "the GitHub Actions example of docs/wrapper.md parses, and its test and SARIF steps work on a leaking, a failing and a clean run"
	else
		fail "the GitHub Actions example of docs/wrapper.md parses, and its test and SARIF steps work on a leaking, a failing and a clean run" \
			"tests step on a leak: $r1 (want 0), SARIF step: $r2 (want 0) with ${results:-no} results (want 3), on a failing test: $r3 (want 1), clean: $r4 (want 0)" \
			"$(tail_of "$T/ci/step-tests.sh.out" 5)" "$(tail_of "$T/ci/step-sarif.sh.out" 5)"
	fi
else
	fail "the GitHub Actions example of docs/wrapper.md parses, and its test and SARIF steps work on a leaking, a failing and a clean run" \
		"$(tail_of "$T/ci.check" 8)"
fi

# ---- HTML ---------------------------------------------------------------------------------
# dom.py DOM REPORT [--selftest] [--timeline N] [--hostile]: checks the DOM Chromium dumped
# after the page's scripts ran against the report it was made from (one box per distinct
# frame path, a chart point per timeline sample, no script error; --timeline N: the report
# must have N samples; --hostile: names were not parsed as markup). Prints what is wrong.
cat >"$T/dom.py" <<'EOF'
import json, os, sys
from html.parser import HTMLParser
dom, rep = open(sys.argv[1], encoding="utf-8").read(), json.load(open(sys.argv[2]))
opts = sys.argv[3:]
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
p = P()
p.feed(dom)
bad = []
marker = [a for t, a in p.tags if a.get("id") == "render-ok"]
if not marker:
    bad.append("no #render-ok marker: the page's script did not finish")
    m = {}
else:
    m = marker[0]
    if m.get("data-errors") != "0":
        bad.append("script errors: %s" % m.get("data-errors"))
def key(f):
    fn = f.get("function")
    if isinstance(fn, str) and fn:
        return fn
    return "%s@%s" % (f.get("module") or "?", f.get("pc") or "?")
paths = set()
names = set()
for g in rep["leaks"]:
    st = [key(f) for f in reversed(g.get("stack") or [])]
    for i in range(1, len(st) + 1):
        paths.add(tuple(st[:i]))
    for f in g.get("stack") or []:
        if f.get("function"):
            names.add(f["function"])
frames = [a["data-frame"] for t, a in p.tags if t == "g" and "data-frame" in a]
if len(frames) != len(paths) or m.get("data-boxes") != str(len(paths)):
    bad.append("%d frame boxes in the DOM, marker says %s, the report has %d distinct frames"
               % (len(frames), m.get("data-boxes"), len(paths)))
for n in sorted(names - set(frames)):
    bad.append("no box for function %r" % n)
if "--selftest" in opts and m.get("data-zoom") != "ok":
    bad.append("zoom self-test: %s" % m.get("data-zoom"))
# The timeline: one sample per element with a time (none when the report has no timeline).
tl = rep.get("timeline") if isinstance(rep.get("timeline"), list) else []
want = sum(1 for e in tl if isinstance(e, dict) and isinstance(e.get("t_ns"), (int, float)))
if m.get("data-timeline-points") != str(want):
    bad.append("timeline points %s, expected %d" % (m.get("data-timeline-points"), want))
if want and not [a for t, a in p.tags if t == "path" and a.get("data-series") == "inuse_bytes"]:
    bad.append("no heap-in-use line in the timeline chart")
if "--timeline" in opts and want != int(opts[opts.index("--timeline") + 1]):
    bad.append("the test expected %s timeline samples" % opts[opts.index("--timeline") + 1])
if "--hostile" in opts:
    if [a for t, a in p.tags if a.get("id") == "xss"]:
        bad.append("a function name was parsed as HTML (element #xss exists)")
    if sum(1 for t, a in p.tags if t == "script") != 3:
        bad.append("%d script elements, expected the page's own 3"
                   % sum(1 for t, a in p.tags if t == "script"))
    if "pwned" in dom.split("<title>")[1].split("</title>")[0]:
        bad.append("a function name ran as script")
    if "&lt;b id=\"xss\"&gt;bold&lt;/b&gt;" not in dom:
        bad.append("the escaped function name is not shown in the leak table")
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
chrome=""
for c in chromium chromium-browser google-chrome; do
	command -v "$c" >/dev/null 2>&1 && { chrome=$(command -v "$c"); break; }
done
# render HTML SUFFIX OUT: the DOM of file://HTML after its scripts ran, in OUT.
render() {
	timeout -k 5 60 env -u LD_PRELOAD "$chrome" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
		--no-first-run --user-data-dir="$T/chrome" --virtual-time-budget=5000 \
		--dump-dom "file://$1$2" >"$3" 2>"$3.err"
}
# html_case NAME HTML REPORT DOMARGS... : the PASS/FAIL of one page.
html_case() {
	_name=$1 _html=$2 _rep=$3
	shift 3
	if [ -z "$chrome" ]; then
		fail "$_name" "no chromium binary: install the Debian package chromium (make test does)"
		return
	fi
	render "$_html" "#selftest" "$T/dom.html"
	_rc=$?
	if [ "$_rc" != 0 ] || ! [ -s "$T/dom.html" ]; then
		fail "$_name" "chromium: $(rc_text "$_rc" 60)" "$(tail_of "$T/dom.html.err" 5)"
		return
	fi
	if "$PY" "$T/dom.py" "$T/dom.html" "$_rep" "$@" >"$T/dom.check" 2>&1; then
		pass "$_name"
	else
		fail "$_name" "$(tail_of "$T/dom.check" 10)"
	fi
}

wrap html --json "$T/html.%p.json" --html "$T/leak.html" -- "$prog" leak
set -- "$T"/html.*.json
if [ "$rc" = 0 ] && [ -s "$T/leak.html" ] && grep -q 'scvgc: HTML report written to' "$T/html.err" &&
	grep -q 'LEAK SUMMARY' "$T/html.err"; then
	html_case "--html: the page of a real report renders in Chromium with no script error, one box per frame, zoom works" \
		"$T/leak.html" "$1" --selftest
else
	fail "--html: the page of a real report renders in Chromium with no script error, one box per frame, zoom works" \
		"$(rc_text "$rc" 30), page: $(wc -c <"$T/leak.html" 2>/dev/null) bytes" "$(tail_of "$T/html.err" 6)"
fi
if grep -q -e 'src=' -e 'href="http' -e '@import' -e 'url(' "$T/leak.html" 2>/dev/null; then
	fail "the HTML page is self-contained (no external resources)" \
		"$(grep -o -e 'src=[^ ]*' -e 'href="http[^"]*' -e 'url([^)]*' "$T/leak.html" | head -3)"
else
	pass "the HTML page is self-contained (no external resources)"
fi

wrap rephtml report "$T/synthetic.json" --html "$T/synthetic.html"
if [ "$rc" = 0 ]; then
	html_case "report --html of a report with hostile names, a timeline and nulls: escaped, charted, no script error" \
		"$T/synthetic.html" "$T/synthetic.json" --selftest --timeline 3 --hostile
else
	fail "report --html of a report with hostile names, a timeline and nulls: escaped, charted, no script error" \
		"$(rc_text "$rc" 30)" "$(tail_of "$T/rephtml.err" 6)"
fi

wrap forkhtml --html "$T/fork.html" -- "$prog" fork
if [ "$rc" = 0 ] && grep -q leak_in_parent "$T/fork.html" && ! grep -q leak_in_child "$T/fork.html" &&
	grep -q leak_in_child "$T/forkhtml.err"; then
	pass "--html on a program that forks shows the parent's report, not the child's"
else
	fail "--html on a program that forks shows the parent's report, not the child's" \
		"$(rc_text "$rc" 30); parent's leak in page: $(grep -c leak_in_parent "$T/fork.html" 2>/dev/null), child's: $(grep -c leak_in_child "$T/fork.html" 2>/dev/null)" \
		"$(tail_of "$T/forkhtml.err" 5)"
fi
wrap sightml --html "$T/sig.html" -- "$prog" signal
if [ "$rc" = 138 ] && ! [ -e "$T/sig.html" ] && grep -q 'no HTML report' "$T/sightml.err"; then
	pass "--html on a program killed by a signal: the same status (138), no page, one line why"
else
	fail "--html on a program killed by a signal: the same status (138), no page, one line why" \
		"$(rc_text "$rc" 30)" "$(tail_of "$T/sightml.err" 4)"
fi
wrap exithtml --exitcode 7 --html "$T/exit.html" -- "$prog" exit 3
r1=$rc
wrap leakhtml7 --exitcode 7 --html "$T/leak7.html" -- "$prog" leak
if [ "$r1:$rc" = "3:7" ] && [ -s "$T/exit.html" ] && [ -s "$T/leak7.html" ]; then
	pass "--html keeps the exit statuses: the program's own (3), --exitcode's on leaks (7)"
else
	fail "--html keeps the exit statuses: the program's own (3), --exitcode's on leaks (7)" \
		"statuses $r1 and $rc"
fi

# ---- make install / uninstall -------------------------------------------------------------
P="$T/prefix"
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$ROOT" "$@" >"$T/make.out" 2>&1; }
if mk install PREFIX="$P"; then
	missing=""
	for f in lib/libscvgc.so bin/scvgc lib/scvgc/scvgc_report.py lib/scvgc/scvgc-options \
		include/scvgc.h share/man/man1/scvgc.1 share/doc/scvgc/README.md \
		share/doc/scvgc/docs/reports.md share/doc/scvgc/docs/limitations.md lib/pkgconfig/scvgc.pc; do
		[ -f "$P/$f" ] || missing="$missing $f"
	done
	[ -x "$P/bin/scvgc" ] || missing="$missing (bin/scvgc not executable)"
	if [ -z "$missing" ]; then
		pass "make install PREFIX=... installs the library, wrapper, helpers, header, man page, docs, pkg-config file"
	else
		fail "make install PREFIX=... installs the library, wrapper, helpers, header, man page, docs, pkg-config file" \
			"missing:$missing"
	fi
else
	fail "make install PREFIX=... installs the library, wrapper, helpers, header, man page, docs, pkg-config file" \
		"$(tail_of "$T/make.out" 10)"
fi

# The installed wrapper, run from elsewhere, with the source tree out of its sight.
(cd "$T" && timeout 30 "$P/bin/scvgc" --mode off -- cat /proc/self/maps) >"$T/imaps.out" 2>&1
(cd "$T" && timeout 30 "$P/bin/scvgc" --exitcode 9 --html "$T/installed.html" -- "$prog" leak) \
	>"$T/irun.out" 2>&1
rc=$?
(cd "$T" && timeout 30 "$P/bin/scvgc" --help) >"$T/ihelp.out" 2>&1
if grep -q "$P/lib/libscvgc.so" "$T/imaps.out" && ! grep -q "$ROOT/build" "$T/imaps.out" &&
	[ "$rc" = 9 ] && grep -q 'LEAK SUMMARY' "$T/irun.out" && [ -s "$T/installed.html" ] &&
	grep -q '^  SCVGC_MARKERS' "$T/ihelp.out"; then
	pass "the installed wrapper preloads the installed library, renders HTML and lists the variables"
else
	fail "the installed wrapper preloads the installed library, renders HTML and lists the variables" \
		"$(rc_text "$rc" 30) (want 9)" "$(grep scvgc "$T/imaps.out" | head -2)" "$(tail_of "$T/irun.out" 4)" \
		"$(tail_of "$T/ihelp.out" 2)"
fi

# A program that calls the API, built with the installed pkg-config file.
cat >"$T/api.c" <<'EOF'
#include <scvgc.h>
#include <stdio.h>
int main(void) { scvgc_collect(); printf("leak check: %zu\n", scvgc_leak_check()); return 0; }
EOF
cflags=$(PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --cflags scvgc 2>"$T/pc.err")
libs=$(PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --libs scvgc 2>>"$T/pc.err")
# shellcheck disable=SC2086,SC2116 # flags are words; echo trims pkg-config's trailing blank
if ${CC:-cc} $cflags "$T/api.c" -o "$T/api" $libs -Wl,-rpath,"$P/lib" >"$T/api.err" 2>&1 &&
	SCVGC_REPORT=none timeout 30 "$T/api" >"$T/api.out" 2>>"$T/api.err" &&
	grep -q '^leak check: [0-9]' "$T/api.out" && [ "$(echo $cflags)" = "-I$P/include" ] &&
	[ "$(echo $libs)" = "-L$P/lib -lscvgc" ]; then
	pass "pkg-config scvgc gives -I and -lscvgc: a program calling scvgc_leak_check() builds and runs"
else
	fail "pkg-config scvgc gives -I and -lscvgc: a program calling scvgc_leak_check() builds and runs" \
		"cflags: $cflags; libs: $libs" "$(tail_of "$T/pc.err" 3)" "$(tail_of "$T/api.err" 5)"
fi

if mk uninstall PREFIX="$P" && [ -z "$(find "$P" ! -type d)" ] && ! [ -e "$P/lib/scvgc" ] &&
	! [ -e "$P/share/doc/scvgc" ]; then
	pass "make uninstall PREFIX=... removes every file it installed"
else
	fail "make uninstall PREFIX=... removes every file it installed" "$(find "$P" ! -type d | head -5)" \
		"$(tail_of "$T/make.out" 5)"
fi

# DESTDIR: staged under DESTDIR, the paths written into the files are PREFIX's.
S="$T/stage"
if mk install DESTDIR="$S" PREFIX=/opt/scvgc && [ -f "$S/opt/scvgc/lib/libscvgc.so" ] &&
	grep -q '^prefix=/opt/scvgc$' "$S/opt/scvgc/lib/pkgconfig/scvgc.pc" &&
	grep -q '^libdir_installed="/opt/scvgc/lib"$' "$S/opt/scvgc/bin/scvgc" &&
	mk uninstall DESTDIR="$S" PREFIX=/opt/scvgc && [ -z "$(find "$S" ! -type d)" ]; then
	pass "make install DESTDIR=... stages under DESTDIR with PREFIX's paths; uninstall removes it all"
else
	fail "make install DESTDIR=... stages under DESTDIR with PREFIX's paths; uninstall removes it all" \
		"$(tail_of "$T/make.out" 5)" "$(find "$S" ! -type d | head -5)"
fi
exit 0
