#!/bin/sh
# `scvgc report` in the formats other tools read, each checked by a reader that is not ours:
#   --gen-suppressions   fed back to the library (--suppress), which must hide exactly the
#                        groups each line names
#   --pprof              read by Go's pprof (`go tool pprof -raw/-traces/-comments`; Debian
#                        package golang-go, installed by `make test` and .ci/run)
#   --sarif              validated against the SARIF 2.1.0 JSON schema (test/formats/, the
#                        schema Microsoft's SARIF SDK ships) with python3-jsonschema
#   --folded             no packaged reader: parsed by flamegraph.pl's own line rule
#                        (`^(.*)\s+?(\d+(?:\.\d*)?)$`, frames split on `;`), strictly
# A missing reader is a FAIL naming the package, never a skip. The program is
# test/progs/tool_leaks.c (built here at -O0 -g, as tool.sh does); the sampled-report cases use
# a copy of its real report marked as sampled (SPEC: "sample_bytes", "estimated"), since the
# library samples stacks only in modes and builds where SCVGC_SAMPLE is in force.
# Whole script: about 10 s on two cores.
. "$ROOT/test/integration/common.inc"

. "$ROOT/test/integration/tool_common.inc"

# check NAME SCRIPT ARGS...: PASS when the Python check prints nothing and exits 0 (run by
# $CHECKPY when set: the interpreter with the module the check needs).
check() {
	_name=$1
	shift
	if "${CHECKPY:-$PY}" "$@" >"$T/check.out" 2>&1; then
		pass "$_name"
	else
		fail "$_name" "$(tail_of "$T/check.out" 12)"
	fi
}

wrap leak --json "$T/leak.json" -- "$prog" leak
wrap extra --json "$T/extra.json" -- "$prog" leak-extra
if ! [ -s "$T/leak.json" ] || ! [ -s "$T/extra.json" ]; then
	fail "tool_leaks writes its JSON reports" "$(tail_of "$T/leak.err" 6)"
	exit 0
fi

# The sampled copy: sample_bytes, every group estimated, a reclaimed array, a frame without a
# function, a C++ name with spaces, and one with the folded separator `;` in it.
"$PY" - "$T/extra.json" "$T/sampled.json" <<'EOF'
import json, sys
rep = json.load(open(sys.argv[1]))
rep["sample_bytes"] = 524288
rep["mode"] = "collect"
for g in rep["leaks"]:
    g["estimated"] = True
g = rep["leaks"][0]
g["stack"].insert(0, {"pc": "0x7f0000001234", "function": None, "file": None, "line": None,
                      "module": "/lib/x86_64-linux-gnu/libz.so.1"})
rep["leaks"].append({"kind": "direct", "objects": 3, "bytes": 3000, "estimated": True,
    "stack": [{"pc": "0x401000", "function": "std::map<int, char*>::operator[](int const&)",
               "file": "/src/a b.cc", "line": 7, "module": "/bin/prog"},
              {"pc": "0x401100", "function": "odd;name", "file": "/src/c.cc", "line": 9,
               "module": "/bin/prog"}]})
rep["leaks"].append({"kind": "direct", "objects": 1, "bytes": 8, "estimated": True, "stack": []})
rep["reclaimed"] = [{"objects": 1000, "bytes": 64000, "estimated": True,
    "stack": [{"pc": "0x401200", "function": "churn", "file": "/src/c.cc", "line": 20,
               "module": "/bin/prog"}]}]
rep["totals"]["reclaimed_objects"] = 1000
rep["totals"]["reclaimed_bytes"] = 64000
json.dump(rep, open(sys.argv[2], "w"))
EOF

# ---- --gen-suppressions (issue 16 point 3) ------------------------------------------------
wrap gen report --gen-suppressions "$T/extra.json"
cp "$T/gen.out" "$T/gen.supp"
pats=$(sed -n 's/^leak://p' "$T/gen.supp" | tr '\n' ' ')
other=$(grep -v -e '^leak:' -e '^#' -e '^$' "$T/gen.supp" | head -3)
if [ "$rc" = 0 ] && [ "$pats" = "leak_alpha list_node leak_gamma " ] && [ -z "$other" ]; then
	pass "report --gen-suppressions: one leak:FUNCTION per leak stack, innermost function first, the rest comments"
else
	fail "report --gen-suppressions: one leak:FUNCTION per leak stack, innermost function first, the rest comments" \
		"$(rc_text "$rc" 30); patterns: $pats; other lines: $other" "$(tail_of "$T/gen.out" 12)"
fi

wrap gsupp --suppress "$T/gen.supp" --json "$T/gsupp.json" -- "$prog" leak-extra
sup=$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["totals"]["suppressed_objects"], len(r["leaks"]))' "$T/gsupp.json" 2>/dev/null)
if [ "$rc" = 0 ] && [ "$sup" = "5 0" ] && grep -q 'scvgc: no leaks found' "$T/gsupp.err"; then
	pass "the generated file given to --suppress hides every leak of the run it came from (5 objects suppressed)"
else
	fail "the generated file given to --suppress hides every leak of the run it came from (5 objects suppressed)" \
		"$(rc_text "$rc" 30); suppressed objects, groups left: ${sup:-none}" "$(tail_of "$T/gsupp.err" 8)"
fi

# Each line alone hides its own stack and no other (the library's own matching decides).
bad=""
n=0
# shellcheck disable=SC2013 # the generated names have no blanks
for p in $(sed -n 's/^leak://p' "$T/gen.supp"); do
	n=$((n + 1))
	printf 'leak:%s\n' "$p" >"$T/one.supp"
	# a fresh path each time: the library never overwrites a report file it did not create
	# in this run (report.c F1), so a reused one.json would still hold the first run's leaks
	rm -f "$T/one.json"
	wrap one --suppress "$T/one.supp" --json "$T/one.json" -- "$prog" leak-extra
	left=$("$PY" -c 'import json,sys; print(" ".join(sorted({g["stack"][0]["function"] for g in json.load(open(sys.argv[1]))["leaks"]})))' "$T/one.json" 2>/dev/null)
	want=$(printf '%s\n' leak_alpha leak_gamma list_node | grep -v -x "$p" | tr '\n' ' ')
	[ "$left " = "$want" ] || bad="$bad leak:$p left [$left], want [$want];"
done
[ "$n" = 3 ] || bad="$bad $n generated lines, want 3;"
if [ -z "$bad" ]; then
	pass "each generated suppression alone hides its own leak stack and no other"
else
	fail "each generated suppression alone hides its own leak stack and no other" "$bad"
fi

# A name that would hide other stacks (leak ⊂ leak_more under substring matching) is passed
# over for the first caller that hides only its own; allocators (malloc, strdup, operator new)
# are never the pattern; a group without a stack gets a comment, not a line.
cat >"$T/names.json" <<'EOF'
{"version": 1, "pid": 7, "mode": "leak", "leaks": [
 {"kind": "direct", "objects": 1, "bytes": 10, "stack": [
   {"pc": "0x1", "function": "strdup", "file": null, "line": null, "module": "/lib/libc.so.6"},
   {"pc": "0x2", "function": "leak", "file": "/src/a.c", "line": 3, "module": "/bin/p"},
   {"pc": "0x3", "function": "run_a", "file": "/src/a.c", "line": 9, "module": "/bin/p"},
   {"pc": "0x4", "function": "main", "file": "/src/m.c", "line": 1, "module": "/bin/p"}]},
 {"kind": "direct", "objects": 1, "bytes": 20, "stack": [
   {"pc": "0x5", "function": "operator new(unsigned long)", "file": null, "line": null, "module": "/lib/libstdc++.so.6"},
   {"pc": "0x6", "function": "leak_more", "file": "/src/b.c", "line": 3, "module": "/bin/p"},
   {"pc": "0x4", "function": "main", "file": "/src/m.c", "line": 1, "module": "/bin/p"}]},
 {"kind": "direct", "objects": 1, "bytes": 5, "stack": []}],
 "totals": {"direct_objects": 3, "direct_bytes": 35, "indirect_objects": 0, "indirect_bytes": 0}}
EOF
wrap gen2 report --gen-suppressions "$T/names.json"
pats=$(sed -n 's/^leak://p' "$T/gen2.out" | tr '\n' ' ')
if [ "$rc" = 0 ] && [ "$pats" = "run_a leak_more " ] && grep -q 'no stack captured: cannot be suppressed' "$T/gen2.out"; then
	pass "--gen-suppressions skips allocators and names that would also hide another stack"
else
	fail "--gen-suppressions skips allocators and names that would also hide another stack" \
		"$(rc_text "$rc" 30); patterns: $pats (want run_a leak_more)" "$(tail_of "$T/gen2.out" 14)"
fi
wrap gen3 report --gen-suppressions "$T/sampled.json"
if [ "$rc" = 0 ] && grep -q '^# This report has sampled stacks (one per 524288 bytes' "$T/gen3.out" &&
	[ "$(grep -c '(estimated), allocated at' "$T/gen3.out")" = 5 ]; then
	pass "--gen-suppressions of a sampled report says so, and marks each estimated group"
else
	fail "--gen-suppressions of a sampled report says so, and marks each estimated group" \
		"$(rc_text "$rc" 30)" "$(tail_of "$T/gen3.out" 10)"
fi

# ---- --folded (point 5) -------------------------------------------------------------------
cat >"$T/folded.py" <<'EOF'
# folded.py FOLDED REPORT VALUE: FOLDED must be what flamegraph.pl reads (every line matches
# its rule; frames non-empty, no `;` inside one) and sum, stack by stack (root first), to the
# report's leaks.
import json, os, re, sys
text, rep, value = open(sys.argv[1], encoding="utf-8").read(), json.load(open(sys.argv[2])), sys.argv[3]
bad = []
if text and not text.endswith("\n"):
    bad.append("no final newline")
got = {}
for n, line in enumerate(text.splitlines(), 1):
    m = re.match(r"^(.*)\s+?(\d+(?:\.\d*)?)$", line)   # flamegraph.pl's rule
    if not m or " " in line[len(m.group(1)):].strip() or "\t" in line:
        bad.append("line %d is not STACK COUNT: %r" % (n, line))
        continue
    frames = m.group(1).split(";")
    if any(not f or f != f.strip() for f in frames):
        bad.append("line %d has an empty or padded frame: %r" % (n, line))
    if m.group(1) in got:
        bad.append("line %d repeats a stack (stacks must be summed): %r" % (n, line))
    got[m.group(1)] = int(m.group(2))
want = {}
for g in rep["leaks"]:
    fr = []
    for f in reversed(g.get("stack") or []):
        fn = f.get("function") or "%s+%s" % (os.path.basename(f.get("module") or "??"), f.get("pc"))
        fr.append(fn.replace(";", "_"))
    k = ";".join(fr) or "[no stack captured]"
    want[k] = want.get(k, 0) + g[value]
if got != want:
    bad.append("stacks and %s differ:\n got  %s\n want %s" % (value, sorted(got.items()), sorted(want.items())))
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
wrap fold report "$T/extra.json" --folded
if [ "$rc" = 0 ]; then
	check "report --folded: flamegraph.pl's line format, root first, leaked bytes summed per stack" \
		"$T/folded.py" "$T/fold.out" "$T/extra.json" bytes
else
	fail "report --folded: flamegraph.pl's line format, root first, leaked bytes summed per stack" \
		"$(rc_text "$rc" 30)" "$(tail_of "$T/fold.err" 5)"
fi
wrap fold1 report --folded "$T/extra.json"
if [ "$rc" = 0 ] && [ -s "$T/fold1.out" ] && cmp -s "$T/fold.out" "$T/fold1.out"; then
	pass "report --folded FILE.json (the option first) is report FILE.json --folded"
else
	fail "report --folded FILE.json (the option first) is report FILE.json --folded" \
		"$(rc_text "$rc" 30)" "$(tail_of "$T/fold1.err" 3)"
fi
wrap fold2 report "$T/sampled.json" --folded "$T/sampled.folded" --folded-value objects
if [ "$rc" = 0 ] && grep -q 'note: sampled stacks (one per 524288 bytes' "$T/fold2.err"; then
	check "--folded of a sampled report (objects; odd names; no stack): valid, and stderr says the counts are estimates" \
		"$T/folded.py" "$T/sampled.folded" "$T/sampled.json" objects
else
	fail "--folded of a sampled report (objects; odd names; no stack): valid, and stderr says the counts are estimates" \
		"$(rc_text "$rc" 30)" "$(tail_of "$T/fold2.err" 5)"
fi

# ---- --pprof (point 5): read by Go's pprof ------------------------------------------------
GO=$(command -v go)
# gopprof NAME ARGS...: `go tool pprof ARGS` with no network and its files in $T.
gopprof() {
	_n=$1
	shift
	HOME="$T" PPROF_TMPDIR="$T" GOFLAGS='' GOPROXY=off timeout -k 5 60 "$GO" tool pprof -symbolize=none "$@" \
		>"$T/$_n.out" 2>"$T/$_n.err"
}
cat >"$T/pprof_raw.py" <<'EOF'
# pprof_raw.py RAW REPORT: the `pprof -raw` listing must hold one sample per leak group (leaked
# objects, bytes, 0, 0) and per reclaimed group (0, 0, objects, bytes), each with its stack's
# functions, file:line by file:line, and its kind and estimated labels.
import json, re, sys
raw, rep = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
bad = []
if "leaked_objects/count leaked_space/bytes[dflt] reclaimed_objects/count reclaimed_space/bytes" not in raw:
    bad.append("sample types are not leaked_objects/count leaked_space/bytes (default) reclaimed_*")
samples_part, _, rest = raw.partition("\nLocations\n")
locs_part = rest.partition("\nMappings\n")[0]
locs = {}
for line in locs_part.splitlines():
    m = re.match(r"\s*(\d+): (0x[0-9a-f]+) (M=\d+ )?(.*)$", line)
    if m:
        locs[m.group(1)] = m.group(4)
samples = []
cur = None
for line in samples_part.splitlines():
    m = re.match(r"\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+):((?: \d+)*) ?$", line)
    if m:
        cur = {"values": [int(m.group(i)) for i in range(1, 5)],
               "locs": m.group(5).split(), "labels": ""}
        samples.append(cur)
    elif cur is not None and ":[" in line:
        cur["labels"] += line.strip() + " "
def frame_text(f):
    fn = f.get("function")
    if not fn:
        return None
    return "%s %s:%s" % (fn, f.get("file") or "", f.get("line") or 0)
want = [([g["objects"], g["bytes"], 0, 0], g) for g in rep["leaks"]] + \
       [([0, 0, g["objects"], g["bytes"]], g) for g in rep.get("reclaimed") or []]
if len(samples) != len(want):
    bad.append("%d samples, the report has %d groups" % (len(samples), len(want)))
for s, (values, g) in zip(samples, want):
    if s["values"] != values:
        bad.append("sample values %s, want %s" % (s["values"], values))
    st = g.get("stack") or [{"function": "[no stack captured]"}]
    if len(s["locs"]) != len(st):
        bad.append("sample has %d locations, stack %d frames" % (len(s["locs"]), len(st)))
    for lid, f in zip(s["locs"], st):
        t = frame_text(f)
        got = locs.get(lid, "?")
        if t is not None and not got.startswith(t + " "):
            bad.append("location %s is %r, want %r" % (lid, got, t))
    if "kind" in g and "kind:[%s]" % g["kind"] not in s["labels"]:
        bad.append("no kind:[%s] label on a sample" % g["kind"])
    if g.get("estimated") and "estimated:[true]" not in s["labels"]:
        bad.append("no estimated:[true] label on an estimated group")
if rep.get("sample_bytes") and not re.search(r"PeriodType: space bytes\nPeriod: %d\n" % rep["sample_bytes"], raw):
    bad.append("no PeriodType: space bytes / Period: %d" % rep["sample_bytes"])
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
if [ -z "$GO" ]; then
	for c in "report --pprof: Go's pprof reads every sample, value and frame" \
		"report --pprof: go tool pprof -traces and -top agree with the report's totals" \
		"--pprof of a sampled report: period, estimated labels and a comment saying so, reclaimed samples"; do
		fail "$c" "no go binary: install the Debian package golang-go (make test and .ci/run do)"
	done
else
	wrap pp report "$T/extra.json" --pprof "$T/extra.pb.gz"
	gopprof raw -raw "$T/extra.pb.gz"
	if [ "$rc" = 0 ] && [ -s "$T/raw.out" ]; then
		check "report --pprof: Go's pprof reads every sample, value and frame" \
			"$T/pprof_raw.py" "$T/raw.out" "$T/extra.json"
	else
		fail "report --pprof: Go's pprof reads every sample, value and frame" \
			"scvgc: $(rc_text "$rc" 30)" "$(tail_of "$T/pp.err" 4)" "$(tail_of "$T/raw.err" 6)"
	fi
	gopprof top -top -sample_index=leaked_objects "$T/extra.pb.gz"
	gopprof traces -traces "$T/extra.pb.gz"
	if grep -q 'Type: leaked_objects' "$T/top.out" && grep -q 'of 5 total' "$T/top.out" &&
		grep -q 'Total samples = 308B' "$T/traces.out" && grep -q '^ *64B *leak_gamma$' "$T/traces.out"; then
		pass "report --pprof: go tool pprof -traces and -top agree with the report's totals"
	else
		fail "report --pprof: go tool pprof -traces and -top agree with the report's totals" \
			"$(tail_of "$T/top.out" 6)" "$(tail_of "$T/top.err" 3)" "$(tail_of "$T/traces.out" 8)"
	fi
	wrap pp2 report "$T/sampled.json" --pprof "$T/sampled.pb.gz"
	gopprof raw2 -raw "$T/sampled.pb.gz"
	gopprof comments -comments "$T/sampled.pb.gz"
	if [ "$rc" = 0 ] && grep -q 'sampled stacks (one per 524288 bytes' "$T/comments.out"; then
		check "--pprof of a sampled report: period, estimated labels and a comment saying so, reclaimed samples" \
			"$T/pprof_raw.py" "$T/raw2.out" "$T/sampled.json"
	else
		fail "--pprof of a sampled report: period, estimated labels and a comment saying so, reclaimed samples" \
			"scvgc: $(rc_text "$rc" 30)" "$(tail_of "$T/comments.out" 4)" "$(tail_of "$T/comments.err" 4)"
	fi
fi

# ---- --sarif (point 5): the SARIF 2.1.0 schema, then what code scanning shows --------------
cat >"$T/sarif.py" <<'EOF'
# sarif.py SARIF REPORT SCHEMA ROOT: valid against the SARIF 2.1.0 schema (python3-jsonschema),
# one result per leak group whose code flow is its stack (outermost call first, file:line by
# file:line, paths under ROOT relative to %SRCROOT%), estimated groups saying so.
import json, os, sys
try:
    import jsonschema
except ImportError:
    print("no Python module jsonschema: install the Debian package python3-jsonschema (make test does)")
    sys.exit(1)
doc, rep = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
schema, root = json.load(open(sys.argv[3])), sys.argv[4]
bad = []
cls = jsonschema.validators.validator_for(schema)
errs = sorted(cls(schema).iter_errors(doc), key=lambda e: list(e.path))
for e in errs[:8]:
    bad.append("schema: %s at %s" % (e.message[:200], "/".join(map(str, e.path))))
if doc.get("version") != "2.1.0":
    bad.append("version is not 2.1.0")
if not doc["runs"][0]["tool"]["driver"].get("version"):
    bad.append("the tool has no version (the wrapper's)")
run = doc["runs"][0]
res = run["results"]
if len(res) != len(rep["leaks"]):
    bad.append("%d results for %d leak groups" % (len(res), len(rep["leaks"])))
def uri_of(path):
    if path.startswith(root + "/"):
        return os.path.relpath(path, root).replace(" ", "%20"), "SRCROOT"
    if path.startswith("/"):
        return "file://" + path.replace(" ", "%20"), None
    return os.path.normpath(path), None
for r, g in zip(res, rep["leaks"]):
    want_rule = "scvgc/%s-leak" % g["kind"]
    if r["ruleId"] != want_rule or run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] != want_rule:
        bad.append("result rule %s/%s, want %s" % (r["ruleId"], r["ruleIndex"], want_rule))
    msg = r["message"]["text"]
    if not msg.startswith("%d bytes in %d object" % (g["bytes"], g["objects"])):
        bad.append("message %r does not start with the group's size" % msg)
    if g.get("estimated") and "Estimated" not in msg:
        bad.append("an estimated group's message does not say so: %r" % msg)
    if not g.get("estimated") and "stimated" in msg:
        bad.append("an exact group's message says estimated: %r" % msg)
    st = g.get("stack") or []
    if not st:
        if r.get("codeFlows"):
            bad.append("a group without a stack has a code flow")
        continue
    flow = r["codeFlows"][0]["threadFlows"][0]["locations"]
    if len(flow) != len(st):
        bad.append("code flow of %d locations for a stack of %d frames" % (len(flow), len(st)))
    for fl, f in zip(flow, reversed(st)):
        loc = fl["location"]
        name = (loc.get("logicalLocations") or [{}])[0].get("fullyQualifiedName")
        if name != f.get("function") and f.get("function"):
            bad.append("code flow step names %r, frame %r" % (name, f.get("function")))
        if f.get("file"):
            pl = loc["physicalLocation"]
            want_uri, want_base = uri_of(f["file"])
            if pl["artifactLocation"]["uri"] != want_uri or pl["artifactLocation"].get("uriBaseId") != want_base:
                bad.append("frame %s: uri %r base %r, want %r base %r" % (f.get("function"),
                           pl["artifactLocation"]["uri"], pl["artifactLocation"].get("uriBaseId"), want_uri, want_base))
            if f.get("line") and pl.get("region", {}).get("startLine") != f["line"]:
                bad.append("frame %s: line %r, want %r" % (f.get("function"), pl.get("region"), f["line"]))
    # The result sits on the innermost frame with a source file (under ROOT first).
    first = next((f for f in st if f.get("file") and f["file"].startswith(root + "/")),
                 next((f for f in st if f.get("file")), None))
    if first:
        pl = r["locations"][0]["physicalLocation"]
        if pl.get("region", {}).get("startLine") != first["line"]:
            bad.append("result at line %r, want %r (%s)" % (pl.get("region"), first["line"], first["function"]))
if rep.get("sample_bytes") is not None:
    if run.get("properties", {}).get("sample_bytes") != rep["sample_bytes"]:
        bad.append("run properties lack sample_bytes")
    notes = run["invocations"][0].get("toolExecutionNotifications") or []
    if not any("sampled stacks" in n["message"]["text"] for n in notes):
        bad.append("no notification that the stacks are sampled")
if root and run.get("originalUriBaseIds", {}).get("SRCROOT", {}).get("uri") != "file://" + root + "/":
    bad.append("originalUriBaseIds.SRCROOT is not file://ROOT/")
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
SCHEMA="$ROOT/test/formats/sarif-schema-2.1.0.json"
# The interpreter that has jsonschema: Debian's (python3-jsonschema) first, then $PY.
SPY=$PY
for c in /usr/bin/python3 "$PY"; do
	if "$c" -c 'import jsonschema' 2>/dev/null; then SPY=$c; break; fi
done
wrap sarif report "$T/extra.json" --sarif "$T/extra.sarif" --source-root "$ROOT"
if [ "$rc" = 0 ]; then
	CHECKPY=$SPY
	check "report --sarif: valid SARIF 2.1.0 (schema), one result per group, its stack as the code flow, paths relative to the source root" \
		"$T/sarif.py" "$T/extra.sarif" "$T/extra.json" "$SCHEMA" "$ROOT"
else
	fail "report --sarif: valid SARIF 2.1.0 (schema), one result per group, its stack as the code flow, paths relative to the source root" \
		"$(rc_text "$rc" 30)" "$(tail_of "$T/sarif.err" 5)"
fi
wrap sarif2 report "$T/sampled.json" --sarif "$T/sampled.sarif" --source-root /src
if [ "$rc" = 0 ]; then
	CHECKPY=$SPY
	check "--sarif of a sampled report (odd names, no stack, a frame without a function): valid, estimated results say so" \
		"$T/sarif.py" "$T/sampled.sarif" "$T/sampled.json" "$SCHEMA" /src
else
	fail "--sarif of a sampled report (odd names, no stack, a frame without a function): valid, estimated results say so" \
		"$(rc_text "$rc" 30)" "$(tail_of "$T/sarif2.err" 5)"
fi
# The schema check itself must catch a broken file (or every case above would pass on nothing).
"$PY" - "$T/extra.sarif" "$T/broken.sarif" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["runs"][0]["results"][0]["level"] = "fatal"
del d["runs"][0]["tool"]["driver"]["name"]
json.dump(d, open(sys.argv[2], "w"))
EOF
CHECKPY=""
if "$SPY" "$T/sarif.py" "$T/broken.sarif" "$T/extra.json" "$SCHEMA" "$ROOT" >"$T/broken.out" 2>&1; then
	fail "the SARIF schema check rejects a file with a bad level and no tool name" "$(tail_of "$T/broken.out" 4)"
elif grep -q "schema: 'name' is a required property" "$T/broken.out" && grep -q "schema: 'fatal' is not one of" "$T/broken.out"; then
	pass "the SARIF schema check rejects a file with a bad level and no tool name"
else
	fail "the SARIF schema check rejects a file with a bad level and no tool name" "$(tail_of "$T/broken.out" 6)"
fi
exit 0
