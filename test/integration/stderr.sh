#!/bin/sh
# stderr.sh — the library's file descriptors and signals are invisible to the program:
# no descriptor of its own (fmt.c E1-E3), the report still reaches the file fd 2 named when the
# program closed fd 2 before exit, never a file that took fd 2's place, and a signal the
# program waits for never reaches a library thread (mark.c L2).
. "$ROOT/test/integration/common.inc"
FDS=$ROOT/build/test/progs/fds

for mode in off default collect; do
	run_in plain 30 "$T/plain.out" "$T/plain.err" "$FDS" list
	run_in "$mode" 30 "$T/$mode.out" "$T/$mode.err" "$FDS" list
	if [ "$rc" = 0 ] && cmp -s "$T/plain.out" "$T/$mode.out"; then
		pass "the program sees only its own descriptors ($(mode_label $mode))"
	else
		fail "the program sees only its own descriptors ($(mode_label $mode))" \
			"without the preload: $(tr '\n' ' ' <"$T/plain.out")" "under it: $(tr '\n' ' ' <"$T/$mode.out") ($(rc_text "$rc" 30))"
	fi
done

for mode in leak collect; do
	timeout -k 5 30 env LD_PRELOAD="$LIB" SCVGC_MODE=$mode SCVGC_STACK_DEPTH=16 SCVGC_SAMPLE=0 "$FDS" close2 >/dev/null 2>"$T/close2.err"
	rc=$?
	if [ "$rc" = 0 ] && grep -q "scvgc: LEAK SUMMARY ($mode mode): 100 bytes in 1 objects" "$T/close2.err" &&
		grep -q "#0 .* main " "$T/close2.err"; then
		pass "the report reaches stderr's file after the program closed fd 2 (SCVGC_MODE=$mode)"
	else
		fail "the report reaches stderr's file after the program closed fd 2 (SCVGC_MODE=$mode)" \
			"$(rc_text "$rc" 30)" "$(tail_of "$T/close2.err" 5)"
	fi
done

# A daemon that closed fd 2 and whose data file took its place: the report goes where fd 2
# pointed at start-up (a file: opened again by its path), never into the program's file; with a
# pipe at start-up (no path) it is lost, and the data file still holds only the data.
for mode in leak collect; do
	bytes=100 # collect mode counts an unsampled object by its slot size (reports.md "Sizes")
	[ $mode = collect ] && bytes=112
	timeout -k 5 30 env LD_PRELOAD="$LIB" SCVGC_MODE=$mode "$FDS" reuse2 "$T/data" >/dev/null 2>"$T/reuse2.err"
	rc=$?
	if [ "$rc" = 0 ] && [ "$(cat "$T/data")" = data ] &&
		grep -q "scvgc: LEAK SUMMARY ($mode mode): $bytes bytes in 1 objects" "$T/reuse2.err"; then
		pass "a file that took fd 2's place gets no report; stderr's own file does (SCVGC_MODE=$mode)"
	else
		fail "a file that took fd 2's place gets no report; stderr's own file does (SCVGC_MODE=$mode)" \
			"$(rc_text "$rc" 30)" "data file: $(head -c 300 "$T/data" | tr '\n' ' ')" "$(tail_of "$T/reuse2.err" 3)"
	fi
	rm -f "$T/data"
	(timeout -k 5 30 env LD_PRELOAD="$LIB" SCVGC_MODE=$mode "$FDS" reuse2 "$T/data" 2>&1 >/dev/null; echo "rc=$?") | cat >"$T/reuse2p.err"
	if grep -qx "rc=0" "$T/reuse2p.err" && [ "$(cat "$T/data")" = data ]; then
		pass "a file that took the place of a piped fd 2 gets no report (SCVGC_MODE=$mode)"
	else
		fail "a file that took the place of a piped fd 2 gets no report (SCVGC_MODE=$mode)" \
			"data file: $(head -c 300 "$T/data" | tr '\n' ' ')" "$(tail_of "$T/reuse2p.err" 3)"
	fi
	rm -f "$T/data"
done

for mode in off default collect; do
	run_in "$mode" 60 "$T/sig.out" "$T/sig.err" "$FDS" sigwait
	if [ "$rc" = 0 ] && grep -qx "got SIGUSR1" "$T/sig.out"; then
		pass "a signal the program waits for with sigwait reaches it ($(mode_label $mode))"
	else
		fail "a signal the program waits for with sigwait reaches it ($(mode_label $mode))" \
			"$(rc_text "$rc" 60)" "$(tail_of "$T/sig.err" 3)"
	fi
done
