#!/bin/sh
# heap.sh — the heap never corrupts under thread churn, and a write after free is caught.
#
# churn (test/progs/churn.c): 32 and 64 threads created and joined every round, blocks freed
# by other threads, bursts of frees, realloc growth, calloc zero checks, a pattern in every
# word checked before every free. A short run here in every mode and without the preload; the
# same under build/libscvgc-debug.so, whose checkers (scvgc_tcache_check and the others)
# assert the span-ownership invariants at every operation boundary. `make stress` soaks it.
# uaf_link: one pointer written into a freed block must abort malloc with our diagnostic
# (safe-linking, L1/L2 in core/internal.h), never make it return that pointer.
. "$ROOT/test/integration/common.inc"

broken=$(preload_broken)
PROG_OK='^churn: OK'
for mode in off default collect plain; do
	prog_case "32 threads come and go, freeing each other's blocks: every block keeps its bytes" "$mode" 120 churn 32 6
done
for mode in off default collect; do
	prog_case "64 threads come and go, freeing each other's blocks: every block keeps its bytes" "$mode" 120 churn 64 3
done

DLIB="$ROOT/build/libscvgc-debug.so"
if [ -f "$DLIB" ]; then
	keep=$LIB
	LIB=$DLIB
	for mode in off default collect; do
		prog_case "thread churn under the debug build: the span-ownership checkers hold at every step" "$mode" 180 churn 32 4
	done
	LIB=$keep
else
	fail "thread churn under the debug build" "$DLIB is missing (make build/libscvgc-debug.so)"
fi
PROG_OK=

for mode in off default collect; do
	name="a pointer written into a freed block aborts malloc with a diagnostic, never comes back from it ($(mode_label "$mode"))"
	if [ -n "$broken" ]; then
		fail "$name" "the library cannot be preloaded: $broken"
		continue
	fi
	run_in "$mode" 60 "$T/out" "$T/err" "$BIN/uaf_link"
	if [ "$rc" = 134 ] && grep -q 'scvgc: heap corruption: the free-list link' "$T/err" &&
		! grep -q 'got target' "$T/out"; then
		pass "$name"
	else
		fail "$name" "uaf_link: $(rc_text "$rc" 60), want SIGABRT with the diagnostic" \
			"$(tail_of "$T/err" 3)" "$(tail_of "$T/out" 2)"
	fi
done

# Deferred cancellation while a thread allocates (issue 19 #13): a cycle started from malloc
# reads /proc and writes trace lines, calls that are cancellation points; a thread unwound there
# held every lock of the cycle, and the next cycle hung the process for good. Cycles back to
# back (GOGC=1) with a trace line each, 50 threads cancelled while they allocate.
for mode in collect leak; do
	name="threads cancelled while they allocate leave no lock held ($mode mode, cycles back to back, traced)"
	if [ -n "$broken" ]; then
		fail "$name" "the library cannot be preloaded: $broken"
		continue
	fi
	timeout -k 5 120 env LD_PRELOAD="$LIB" SCVGC_MODE=$mode SCVGC_GOGC=1 SCVGCTRACE=1 SCVGC_REPORT=none \
		"$BIN/cancel_alloc" 50 >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" = 0 ] && grep -q '^cancel_alloc: OK' "$T/out"; then
		pass "$name"
	else
		fail "$name" "cancel_alloc: $(rc_text "$rc" 120)" "$(tail_of "$T/err" 3)"
	fi
done

# The library's threads never keep a process alive (mark.c L3): a fork child whose only thread
# of its own returns from its start function, and a main thread that calls pthread_exit, end
# their processes as without the preload (CPython's test_threading hung in collect mode).
PROG_OK='^last_thread_exit: OK'
for mode in off default collect plain; do
	prog_case "a process ends when the last thread of its own ends, library threads or not" "$mode" 60 last_thread_exit
done
# After the main thread's pthread_exit /proc/self/maps reads empty (roots.c R7): a cycle then
# must still see the data segment as a root (it freed what only globals reach, and glibc
# crashed in _dl_fini at exit in last_thread_exit, about 1 run in 10 in collect mode).
PROG_OK='^leader_exit: OK'
for mode in default collect; do
	prog_case "after the main thread has ended, a block only a global reaches survives two cycles" "$mode" 60 leader_exit
done
PROG_OK=
