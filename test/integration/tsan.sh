#!/bin/sh
# tsan.sh — the core's multi-threaded paths are free of data races (ThreadSanitizer).
#
# build/test/tsan-core_threads (test/tsan/core_threads.c) links the TSan build of the debug
# core and calls scvgc_malloc/free/realloc/calloc from threads that hand objects to each
# other, exit with objects live, and free in bursts; it prints one PASS/FAIL line per case
# (a case fails on a changed byte, a checker's abort, or any TSan report while it ran).
# Run in modes off and leak; collect mode is not run (see the program's header).
# Run alone: ROOT=$PWD sh test/integration/tsan.sh
: "${ROOT:?ROOT must name the repository}"
PROG="$ROOT/build/test/tsan-core_threads"
T=$(mktemp -d "${TMPDIR:-/tmp}/scvgc-tsan.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

if [ ! -x "$PROG" ]; then
	echo "FAIL: the core's threads under ThreadSanitizer: $PROG is missing (make build/test/tsan-core_threads)"
	exit 0
fi
for mode in off leak; do
	timeout -k 5 120 "$PROG" "$mode" >"$T/out" 2>"$T/err"
	rc=$?
	cat "$T/out"
	if [ "$rc" != 0 ]; then
		# every report's summary, and the end of stderr (a checker's abort, a crash)
		grep '^SUMMARY: ThreadSanitizer' "$T/err" | sort | uniq -c | head -20 | sed 's/^/    /'
		tail -n 15 "$T/err" | cut -c1-200 | sed 's/^/    | /'
		grep -q '^FAIL: ' "$T/out" ||
			echo "FAIL: the core's threads under ThreadSanitizer (SCVGC_MODE=$mode): exit status $rc"
	fi
done
exit 0
