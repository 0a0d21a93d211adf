#!/bin/sh
# annotate.sh — the annotation API, the options in one variable and compiled into the program,
# and LeakSanitizer's suppression syntax (issue 20 "annotation API", issue 16 points 1, 2, 4).
#   test/progs/annotate.c   scvgc_ignore_object, scvgc_disable/enable, root and excluded
#                           regions, scvgc_leak_counts, the compiled-in hooks
#                           (__scvgc_default_options/_suppressions, __lsan_is_turned_off,
#                           __lsan_default_options); built here with -rdynamic, in variants
#   test/progs/tool_leaks.c leak_alpha (100 bytes), list_node (3 x 16, 1 direct 2 indirect),
#                           leak_gamma (64): the suppression patterns and SCVGC_OPTIONS
. "$ROOT/test/integration/common.inc"
for v in $(env | sed -n 's/^\(SCVGC[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
unset LD_PRELOAD ANNOTATE_TURNED_OFF

broken=$(preload_broken)
if [ -n "$broken" ]; then
	fail "the library can be preloaded" "$broken"
	exit 0
fi
CC=${CC:-cc}
build() { # build NAME SOURCE FLAGS...
	_n=$1 _s=$2
	shift 2
	if ! $CC -O1 -g -pthread -Wall -Wextra "$ROOT/test/progs/$_s.c" -o "$T/$_n" "$@" >"$T/$_n.build" 2>&1; then
		fail "test/progs/$_s.c builds ($_n)" "$(tail_of "$T/$_n.build" 8)"
		return 1
	fi
}
build annotate annotate -rdynamic || exit 0
build tool_leaks tool_leaks || exit 0

# run NAME ENV... -- PROG ARGS: PROG under the library (30 s at most), $T/NAME.out/.err, $rc
run() {
	_n=$1
	shift
	_env=""
	while [ "$1" != -- ]; do _env="$_env $1"; shift; done
	shift
	# shellcheck disable=SC2086 # the assignments are words on purpose
	timeout -k 5 30 env LD_PRELOAD="$LIB" $_env "$@" >"$T/$_n.out" 2>"$T/$_n.err" </dev/null
	rc=$?
}

# ---- the API (annotate api): counts after each annotation ----------------------------------
expected='start: 0 0 0 0 0 0 0
pair: 1 48 1 32 0 0 2
ignore_object: 1
ignore_object(stack): 0
ignored: 0 0 0 0 0 0 0
disabled: 1 56 0 0 0 0 1
shared: 1 72 0 0 0 0 1
register_root_region: 1
rooted: 0 0 0 0 0 0 0
unregister_root_region: 1
unrooted: 1 72 0 0 0 0 1
table: 0 0 0 0 0 0 0
register_excluded_region: 1
excluded: 1 88 0 0 0 0 1
unregister_excluded_region: 1
included: 0 0 0 0 0 0 0
suppressed: 0 0 0 0 1 24 0
unregister unknown: 0'
run api -- "$T/annotate"
if [ "$(cat "$T/api.out")" = "$expected" ]; then
	pass "scvgc_ignore_object, scvgc_disable/enable, root and excluded regions: scvgc_leak_counts sees each"
else
	fail "scvgc_ignore_object, scvgc_disable/enable, root and excluded regions: scvgc_leak_counts sees each" \
		"$(rc_text $rc 30); got:" "$(diff "$T/api.out" - <<EOF | head -20
$expected
EOF
)"
fi

# the compiled-in defaults: exitcode=7, a bad key named, the suppressions used with their
# counts, the bad compiled-in line by number
rep="$T/api.err"
if [ "$rc" = 7 ] && grep -q '__scvgc_default_options: unknown option bogus_key; ignored' "$rep" &&
	grep -q '__scvgc_default_suppressions:3: ignoring a line that is not leak:PATTERN' "$rep" &&
	grep -q 'scvgc: suppressions used:' "$rep" &&
	grep -q 'scvgc_enable() without a matching scvgc_disable(); ignored' "$rep" &&
	grep -q 'scvgc_unregister_root_region(0x[0-9a-f]*, 8): no such region registered; ignored' "$rep" &&
	grep -qE 'scvgc: +1 +24  leak:\^suppressed_alloc\$ \(__scvgc_default_suppressions:2\)' "$rep" &&
	grep -q 'totals: direct 1 objects (40 bytes), indirect 0 objects (0 bytes), suppressed 1 objects (24 bytes)' "$rep"; then
	pass "__scvgc_default_options and __scvgc_default_suppressions apply; the report lists the suppressions used; misuse is one line"
else
	fail "__scvgc_default_options and __scvgc_default_suppressions apply; the report lists the suppressions used; misuse is one line" \
		"$(rc_text $rc 30) (want 7)" "$(tail_of "$rep" 14)"
fi

run env1 SCVGC_EXITCODE=0 -- "$T/annotate"
run env2 SCVGC_OPTIONS=exitcode=5 -- "$T/annotate"
run env3 SCVGC_OPTIONS=exitcode=5 SCVGC_EXITCODE=4 -- "$T/annotate"
if [ "$(cat "$T/env1.out")" = "$expected" ] && [ "$rc" = 4 ] && { run env2 SCVGC_OPTIONS=exitcode=5 -- "$T/annotate"; [ "$rc" = 5 ]; } &&
	{ run env1 SCVGC_EXITCODE=0 -- "$T/annotate"; [ "$rc" = 0 ]; }; then
	pass "the environment wins over the compiled-in defaults, and SCVGC_EXITCODE over SCVGC_OPTIONS"
else
	fail "the environment wins over the compiled-in defaults, and SCVGC_EXITCODE over SCVGC_OPTIONS" \
		"last: $(rc_text $rc 30)" "$(tail_of "$T/env1.err" 4)"
fi

# the JSON report carries the suppressions
run json SCVGC_JSON="$T/a.json" SCVGC_REPORT=none -- "$T/annotate"
js=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print([(s["pattern"], s["source"], s["line"], s["objects"], s["bytes"]) for s in r["suppressions"]], r["totals"]["suppressed_bytes"])' "$T/a.json" 2>&1)
if [ "$js" = "[('^suppressed_alloc\$', '__scvgc_default_suppressions', 2, 1, 24)] 24" ]; then
	pass "the JSON report lists each suppression with its source, line, objects and bytes"
else
	fail "the JSON report lists each suppression with its source, line, objects and bytes" "$js"
fi

# __lsan_is_turned_off() returning 1: no check, no report, no exit status
run off1 ANNOTATE_TURNED_OFF=1 -- "$T/annotate"
if [ "$rc" = 0 ] && grep -q '^pair: 0 0 0 0 0 0 0$' "$T/off1.out" && ! grep -q 'LEAK SUMMARY\|no leaks found' "$T/off1.err"; then
	pass "__lsan_is_turned_off() turns the checks and the exit report off"
else
	fail "__lsan_is_turned_off() turns the checks and the exit report off" "$(rc_text $rc 30)" \
		"$(tail_of "$T/off1.out" 3)" "$(tail_of "$T/off1.err" 3)"
fi

# mode off: every function a no-op returning 0
run off2 SCVGC_MODE=off -- "$T/annotate"
if [ "$rc" = 0 ] && grep -q '^ignore_object: 0$' "$T/off2.out" && grep -q '^register_root_region: 0$' "$T/off2.out" &&
	grep -q '^pair: 0 0 0 0 0 0 0$' "$T/off2.out" && [ ! -s "$T/off2.err" ]; then
	pass "SCVGC_MODE=off: every annotation function is a no-op returning 0"
else
	fail "SCVGC_MODE=off: every annotation function is a no-op returning 0" "$(rc_text $rc 30)" \
		"$(tail_of "$T/off2.out" 4)" "$(tail_of "$T/off2.err" 3)"
fi

# without the library: the SCVGC_OPTIONAL wrappers find nothing and do nothing
timeout -k 5 30 "$T/annotate" >"$T/plain.out" 2>"$T/plain.err"
rc=$?
if [ "$rc" = 0 ] && grep -q '^ignore_object: 0$' "$T/plain.out" && grep -q '^suppressed: 0 0 0 0 0 0 0$' "$T/plain.out" && [ ! -s "$T/plain.err" ]; then
	pass "without the library the SCVGC_OPTIONAL (dlsym) wrappers of scvgc.h are harmless no-ops"
else
	fail "without the library the SCVGC_OPTIONAL (dlsym) wrappers of scvgc.h are harmless no-ops" \
		"$(rc_text $rc 30)" "$(tail_of "$T/plain.err" 4)"
fi

# the plain declarations, linked against the library
if build linked annotate -rdynamic -DLINKED "$LIB" -Wl,-rpath,"$(dirname "$LIB")"; then
	run linked -- "$T/linked"
	if [ "$(cat "$T/linked.out")" = "$expected" ]; then pass "the declarations of scvgc.h link against libscvgc.so"
	else fail "the declarations of scvgc.h link against libscvgc.so" "$(rc_text $rc 30)" "$(tail_of "$T/linked.out" 5)"; fi
fi

# LeakSanitizer's compiled-in options: detect_leaks=0, and the keys that translate
if build lsan0 annotate -rdynamic -DNO_HOOKS '-DLSAN_OPTS="detect_leaks=0:verbosity=1"'; then
	run lsan0 -- "$T/lsan0"
	if [ "$rc" = 0 ] && grep -q '^pair: 0 0 0 0 0 0 0$' "$T/lsan0.out" && [ ! -s "$T/lsan0.err" ]; then
		pass "__lsan_default_options detect_leaks=0 turns the checks off"
	else
		fail "__lsan_default_options detect_leaks=0 turns the checks off" "$(rc_text $rc 30)" "$(tail_of "$T/lsan0.err" 4)"
	fi
fi
if build lsan1 annotate -rdynamic -DNO_HOOKS '-DLSAN_OPTS="exitcode=9:malloc_context_size=100:report_objects=1"'; then
	run lsan1 -- "$T/lsan1"
	if [ "$rc" = 9 ] && grep -q '^pair: 1 48 1 32 0 0 2$' "$T/lsan1.out" && ! grep -q 'not a valid\|unknown option' "$T/lsan1.err"; then
		pass "__lsan_default_options exitcode and malloc_context_size apply; LSan's other keys are left alone"
	else
		fail "__lsan_default_options exitcode and malloc_context_size apply; LSan's other keys are left alone" \
			"$(rc_text $rc 30) (want 9)" "$(tail_of "$T/lsan1.err" 4)"
	fi
fi

# collect mode: ignored objects (and what they reach) and disabled allocations are never
# reclaimed, while a plain lost object is
run coll SCVGC_MODE=collect SCVGC_GOGC=10 SCVGC_EXITCODE=0 SCVGC_REPORT=none -- "$T/annotate" collect
if [ "$rc" = 0 ] && grep -q '^collect: 1 48 0 0 0 0 1$' "$T/coll.out" && grep -q '^kept: intact$' "$T/coll.out"; then
	pass "collect mode reclaims a lost object but never an ignored one, what it reaches, or a disabled allocation"
else
	fail "collect mode reclaims a lost object but never an ignored one, what it reaches, or a disabled allocation" \
		"$(rc_text $rc 30)" "$(tail_of "$T/coll.out" 3)" "$(tail_of "$T/coll.err" 5)"
fi

# ---- SCVGC_OPTIONS ---------------------------------------------------------------------------
run o1 SCVGC_OPTIONS="mode=off" -- "$T/tool_leaks" leak
run o2 "SCVGC_OPTIONS=report=$T/r.%p.txt,json=$T/r.json:exitcode=3" -- "$T/tool_leaks" leak
o2rc=$rc
run o3 "SCVGC_OPTIONS=SCVGC_STACK_DEPTH=0:gogc=xyz:nokey:what=1" -- "$T/tool_leaks" leak
if [ ! -s "$T/o1.err" ] && [ "$o2rc" = 3 ] && [ ! -s "$T/o2.err" ] && grep -q 'LEAK SUMMARY' "$T"/r.*.txt &&
	[ -s "$T/r.json" ] && grep -q 'no stack captured: SCVGC_STACK_DEPTH=0' "$T/o3.err" &&
	grep -q 'SCVGC_OPTIONS: gogc=xyz is not a valid value; using 100' "$T/o3.err" &&
	grep -q 'SCVGC_OPTIONS: nokey is not key=value; ignored' "$T/o3.err" &&
	grep -q 'SCVGC_OPTIONS: unknown option what; ignored' "$T/o3.err"; then
	pass "SCVGC_OPTIONS: short and full names, : and , between pairs, bad pairs named on one line each"
else
	fail "SCVGC_OPTIONS: short and full names, : and , between pairs, bad pairs named on one line each" \
		"o2: $(rc_text $o2rc 30)" "$(tail_of "$T/o1.err" 3)" "$(tail_of "$T/o2.err" 3)" "$(tail_of "$T/o3.err" 6)"
fi
mkdir -p "$T/a:b"
run o4 "SCVGC_OPTIONS=json='$T/a:b/q.json':report=none" SCVGC_JSON="$T/wins.json" -- "$T/tool_leaks" leak
run o5 "SCVGC_OPTIONS=json='$T/a:b/q.json':report=none" -- "$T/tool_leaks" leak
if [ -s "$T/wins.json" ] && [ -s "$T/a:b/q.json" ]; then
	pass "SCVGC_OPTIONS: a quoted value may hold ':'; SCVGC_JSON wins over json= there"
else
	fail "SCVGC_OPTIONS: a quoted value may hold ':'; SCVGC_JSON wins over json= there" "$(tail_of "$T/o5.err" 3)"
fi

# ---- suppressions: LeakSanitizer's syntax -----------------------------------------------------
# supp NAME LINES: the tool_leaks leak-extra run with these suppressions; prints the functions
# of the groups left, sorted
supp() {
	_n=$1
	shift
	printf '%s\n' "$@" >"$T/$_n.supp"
	rm -f "$T/$_n.json"
	run "$_n" SCVGC_SUPPRESS="$T/$_n.supp" SCVGC_JSON="$T/$_n.json" -- "$T/tool_leaks" leak-extra
	python3 -c 'import json,sys; print(" ".join(sorted({g["stack"][0]["function"] for g in json.load(open(sys.argv[1]))["leaks"]})))' "$T/$_n.json" 2>&1
}
bad=""
check_supp() { # NAME WANT LINES...
	_n=$1 _want=$2
	shift 2
	_got=$(supp "$_n" "$@")
	[ "$_got" = "$_want" ] || bad="$bad [$*] left [$_got], want [$_want];"
}
check_supp s1 "leak_alpha leak_gamma" 'leak:^list_node$'
check_supp s2 "leak_alpha leak_gamma list_node" 'leak:^list_nod$'
check_supp s3 "leak_alpha leak_gamma" 'leak:list_nod'
check_supp s4 "leak_alpha list_node" 'leak:^leak_g*a$'
check_supp s5 "leak_alpha leak_gamma list_node" 'leak:^eak_gamma'
check_supp s6 "" 'leak:tool_leaks.c$'
check_supp s7 "leak_alpha leak_gamma list_node" 'leak:tool_leaks.$'
check_supp s8 "leak_gamma list_node" 'leak:^leak_*ph*$'
if [ -z "$bad" ]; then
	pass "leak:PATTERN as LeakSanitizer reads it: ^ and \$ anchor, * matches any run, else a substring (function, file, module)"
else
	fail "leak:PATTERN as LeakSanitizer reads it: ^ and \$ anchor, * matches any run, else a substring (function, file, module)" "$bad"
fi

supp s9 '# comment' 'leak:^list_node$' 'interceptor_via_fun:foo' 'leak:' '  leak:never_matches  ' >/dev/null
if grep -q "s9.supp:3: ignoring a line that is not leak:PATTERN" "$T/s9.err" &&
	grep -q "s9.supp:4: ignoring a line that is not leak:PATTERN" "$T/s9.err" &&
	! grep -q 'interceptor_via_fun' "$T/s9.err" &&
	grep -qE 'scvgc: +3 +144  leak:\^list_node\$ \(.*s9.supp:2\)' "$T/s9.err" &&
	grep -qE 'scvgc: suppressions unused:' "$T/s9.err" && grep -qE 'scvgc:   leak:never_matches \(.*s9.supp:5\)' "$T/s9.err"; then
	pass "bad suppression lines are named by number, never echoed; the used ones are counted and the unused listed"
else
	fail "bad suppression lines are named by number, never echoed; the used ones are counted and the unused listed" \
		"$(tail_of "$T/s9.err" 16)"
fi

# a file of any size: 5000 patterns (over 200 KiB), the one that matches last
python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(5000):
        f.write("leak:^no_such_function_%05d_%s$\n" % (i, "x" * 30))
    f.write("leak:^leak_gamma$\n")' "$T/big.supp"
rm -f "$T/big.json"
run big SCVGC_SUPPRESS="$T/big.supp" SCVGC_JSON="$T/big.json" SCVGC_REPORT=none -- "$T/tool_leaks" leak-extra
left=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(" ".join(sorted({g["stack"][0]["function"] for g in r["leaks"]})), len(r["suppressions"]))' "$T/big.json" 2>&1)
if [ "$left" = "leak_alpha list_node 5001" ]; then
	pass "a suppressions file of 5001 patterns (240 KiB) is read whole"
else
	fail "a suppressions file of 5001 patterns (240 KiB) is read whole" "left: $left" "$(tail_of "$T/big.err" 3)"
fi

# scvgc report FILE.json prints the suppressions block as the library wrote it
rm -f "$T/r9.json" "$T/r9.txt"
run r9 SCVGC_SUPPRESS="$T/s9.supp" SCVGC_JSON="$T/r9.json" SCVGC_REPORT="$T/r9.txt" -- "$T/tool_leaks" leak-extra
python3 "$ROOT/scripts/scvgc_report.py" report "$T/r9.json" >"$T/r9.py.txt" 2>&1
if grep -q 'suppressions unused:' "$T/r9.txt" && diff "$T/r9.txt" "$T/r9.py.txt" >"$T/r9.diff"; then
	pass "scvgc report renders the suppressions used and unused as the library's text report does"
else
	fail "scvgc report renders the suppressions used and unused as the library's text report does" \
		"$(tail_of "$T/r9.diff" 10)"
fi
