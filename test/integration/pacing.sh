#!/bin/sh
# pacing.sh — pacing that counts the roots (issue 14 point 4): GOGC applies to the live heap
# plus the roots the last cycle read (core/gc.c goal_of, as Go's pacer since 1.18), so a
# program with a large root set and a small heap is not collected every few MiB allocated,
# each cycle reading the whole root set again.
#   - big_roots: 300 MiB of touched anonymous memory (roots), 300 MiB of 1 KiB garbage, in
#     collect mode with SCVGC_GOGC=10. With the goal from the live heap alone (GC_FLOOR,
#     4 MiB, every time) it ran 76 cycles; counting the roots, 11 (goal ~34 MiB). The bound
#     (30) leaves room for a busy machine's timing, none for the old pacing. The objects
#     known only from the big mapping stay intact (the program checks them: "ok").
. "$ROOT/test/integration/common.inc"

broken=$(preload_broken)
[ -z "$broken" ] || { fail "pacing" "the library cannot be preloaded: $broken"; exit 0; }

name="300 MiB of mmap'd roots and a small heap at SCVGC_GOGC=10: at most 30 cycles for 300 MiB of garbage"
timeout -k 5 300 env LD_PRELOAD="$LIB" SCVGC_MODE=collect SCVGC_GOGC=10 SCVGCTRACE=1 SCVGC_REPORT=none \
	"$BIN/big_roots" 300 300 >"$T/br.out" 2>"$T/br.err"
rc=$?
cycles=$(grep -c ' scvgc: gc [0-9]* @' "$T/br.err")
if [ "$rc" = 0 ] && grep -q '^ok$' "$T/br.out" && [ "$cycles" -ge 2 ] && [ "$cycles" -le 30 ]; then
	pass "$name ($cycles)"
else
	fail "$name" "$(rc_text "$rc" 300), $cycles cycles" "$(tail_of "$T/br.err" 3)" "$(tail_of "$T/br.out" 2)"
fi
