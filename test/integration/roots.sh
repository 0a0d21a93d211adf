#!/bin/sh
# roots.sh — what keeps an object alive, where a unit test or a leak case cannot show it:
#   - the library's own heap objects (the symbolizer's libdw session and caches, referenced
#     only from the library's data) stay alive in collect mode while another thread collects
#     during a report (docs/design.md "Library-owned objects").
# The other root cases are leak cases (test/leaks/root_*.c, notroot_*.c) and test/unit/roots.c.
. "$ROOT/test/integration/common.inc"

broken=$(preload_broken)
[ -z "$broken" ] || { fail "roots" "the library cannot be preloaded: $broken"; exit 0; }

name="a report symbolizing on one thread while another calls scvgc_collect() in collect mode (libdw's state is the library's own)"
timeout -k 5 120 env LD_PRELOAD="$LIB" SCVGC_MODE=collect SCVGC_SAMPLE=0 SCVGC_REPORT="$T/report.txt" \
	"$BIN/owned_report" 3 >"$T/lo.out" 2>"$T/lo.err"
rc=$?
if [ "$rc" = 0 ] && grep -q '^ok ' "$T/lo.out" && grep -q 'lose_b' "$T/report.txt"; then
	pass "$name"
else
	fail "$name" "$(rc_text "$rc" 120)" "$(tail_of "$T/lo.err" 5)" "$(tail_of "$T/lo.out" 2)"
fi
