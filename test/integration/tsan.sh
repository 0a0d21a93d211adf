#!/bin/sh
# tsan.sh — the core's multi-threaded paths are free of data races (ThreadSanitizer).
#
# build/test/tsan-core_threads (test/tsan/core_threads.c) links the TSan build of the debug
# core and calls scvgc_malloc/free/realloc/calloc from threads that hand objects to each
# other, exit with objects live, free in bursts, beside a scavenger; it prints one PASS/FAIL
# line per case (a case fails on a changed byte, a checker's abort, or any TSan report while
# it ran). Run in modes off and leak; collect mode is not run (see the program's header).
# A crash or a hang fails the case that was running (the program names each on stderr).
# Run alone: ROOT=$PWD sh test/integration/tsan.sh
: "${ROOT:?ROOT must name the repository}"
PROG="$ROOT/build/test/tsan-core_threads"
LIMIT=90
T=$(mktemp -d "${TMPDIR:-/tmp}/scvgc-tsan.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

if [ ! -x "$PROG" ]; then
	echo "FAIL: the core's threads under ThreadSanitizer: $PROG is missing (make build/test/tsan-core_threads)"
	exit 0
fi
for mode in off leak; do
	timeout -k 5 "$LIMIT" "$PROG" "$mode" >"$T/out" 2>"$T/err"
	rc=$?
	cat "$T/out"
	[ "$rc" = 0 ] && continue
	if ! grep -q '^FAIL: ' "$T/out"; then
		case $rc in
		124 | 137) why="timed out after $LIMIT s" ;;
		66 | 1) why="exit status $rc" ;;
		*) why="exit status $rc$([ "$rc" -gt 128 ] && echo " (signal $((rc - 128)))")" ;;
		esac
		last=$(grep '^case: ' "$T/err" | tail -n 1 | cut -c7-)
		echo "FAIL: ${last:-the core's threads under ThreadSanitizer} (SCVGC_MODE=$mode): $why"
	fi
	# every report's summary, and the end of stderr (a checker's message, a crash)
	grep '^SUMMARY: ThreadSanitizer' "$T/err" | sort | uniq -c | head -20 | sed 's/^/    /'
	grep -v '^case: ' "$T/err" | tail -n 15 | cut -c1-200 | sed 's/^/    | /'
done
exit 0
