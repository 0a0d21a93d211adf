#!/bin/sh
# stress.sh — the C stress programs of test/progs/ hold up under LD_PRELOAD=$LIB.
#
# Each program exits 0 on success and prints one diagnostic line on stderr on failure (see the
# banner of each .c file). Every program runs under the preload in SCVGC_MODE=off and in the
# default mode (both with SCVGC_REPORT=none), and, where it is cheap and glibc can run it, once
# without the preload as a baseline that checks the test program itself.
# bad_free runs only under the preload; its case also counts the allocator's diagnostics on
# stderr (SCVGC_REPORT=none must not silence them):
#   - exactly one stderr line containing "double free" (any case) per double free (4 of them),
#   - at least one line containing "invalid" or "not the start" per interior-pointer free (2),
#     not counting lines that say "double free".
. "$ROOT/test/integration/common.inc"

broken=$(preload_broken)

# A library that binds malloc to glibc's even under LD_PRELOAD (RTLD_DEEPBIND), for foreign_free.
cat >"$T/deep.c" <<'EOF'
#include <stdlib.h>
#include <string.h>
void *deep_malloc(size_t n) { return malloc(n); }
char *deep_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n); /* not strdup: libc's strdup would call the interposed malloc */
	if (d)
		memcpy(d, s, n);
	return d;
}
EOF
deepflag="--deepbind $T/libdeep.so"
if ! gcc -shared -fPIC -O1 -o "$T/libdeep.so" "$T/deep.c" 2>"$T/deep.err"; then
	deepflag=""
	deep_err="could not build the RTLD_DEEPBIND helper library: $(head -c 300 "$T/deep.err")"
fi

for mode in off default plain; do
	prog_case "objects passed between 6 threads keep every byte until freed" "$mode" 60 xthread_pattern 2
	prog_case "10,000 threads created and joined in batches of 50 leave a sound, bounded heap" "$mode" 180 threads10k
	prog_case "fork while 4 threads allocate leaves a usable heap in children and grandchildren" "$mode" 180 fork_alloc
done

for mode in off default; do
	prog_case "every malloc entry point handles its edge cases as glibc documents" "$mode" 60 \
		api_edges --expect-free-sized --strict --mallinfo
done
prog_case "every malloc entry point handles its edge cases as glibc documents" plain 60 api_edges

for mode in off default plain; do
	name="blocks from glibc's own malloc can be freed, realloc'd and sized through the preloaded allocator"
	if [ -n "$deep_err" ]; then
		fail "$name ($(mode_label "$mode"))" "$deep_err"
	else
		# shellcheck disable=SC2086 # deepflag is two words on purpose
		prog_case "$name" "$mode" 60 foreign_free $deepflag
	fi
done

# The same programs under the debug build (build/libscvgc-debug.so): every lock checks the
# global order and its owner (core/lock.c K1-K3), and the structure checkers (the thread
# cache's, the sweep states', the metadata allocator's) run at their operation boundaries;
# any broken rule aborts the program. fork_alloc forks while threads allocate: the fork
# handlers take every core lock in rank order and the children reset them.
DLIB="$ROOT/build/libscvgc-debug.so"
if [ -f "$DLIB" ]; then
	keep=$LIB
	LIB=$DLIB
	for mode in default collect; do
		prog_case "debug build: objects passed between 6 threads keep every byte, lock order and checkers hold" "$mode" 180 xthread_pattern 2
		prog_case "debug build: fork while 4 threads allocate, lock order and checkers hold" "$mode" 240 fork_alloc
		# the fork handlers take no lock there (alloc.c F1) and the child resets the ones the
		# interrupted call holds: neither trips the order check (lock.c K3)
		PROG_OK="fork_signal: OK" prog_case \
			"debug build: fork() from a signal handler that interrupted malloc, lock records reset in the child" \
			"$mode" 180 fork_signal 2
		PROG_OK=
	done
	LIB=$keep
else
	fail "the stress programs under the debug build" "$DLIB is missing (make build/libscvgc-debug.so)"
fi

# bad_free: the heap survives, and each bad free is reported once. SCVGC_REPORT=none as
# everywhere (a leak report or a summary at exit must not change the count): the diagnostics of
# bad frees are not the report and go to stderr whatever SCVGC_REPORT says.
for mode in off default; do
	name="double frees and interior-pointer frees are reported once each and leave the heap sound ($(mode_label "$mode"))"
	if [ -n "$broken" ]; then
		fail "$name" "the library cannot be preloaded: $broken"
		continue
	fi
	if [ ! -x "$BIN/bad_free" ]; then
		fail "$name" "$BIN/bad_free is missing (test/progs/bad_free.c not built?)"
		continue
	fi
	run_in "$mode" 60 "$T/out" "$T/err" "$BIN/bad_free"
	ndouble=$(grep -ci 'double free' "$T/err")
	ninvalid=$(grep -vi 'double free' "$T/err" | grep -ciE 'invalid|not the start')
	problems=""
	[ "$rc" = 0 ] || problems="bad_free: $(rc_text "$rc" 60) after step '$(tail -n 1 "$T/out")'"
	[ "$rc" != 0 ] || grep -qx 'bad_free: OK' "$T/out" || problems="bad_free exited 0 but did not print 'bad_free: OK'"
	if [ -z "$problems" ] && [ "$ndouble" != 4 ]; then
		problems="stderr has $ndouble lines mentioning 'double free'; want exactly 4 (one per double free)"
	fi
	if [ -z "$problems" ] && [ "$ninvalid" -lt 2 ]; then
		problems="stderr has $ninvalid lines mentioning 'invalid' or 'not the start' (and not 'double free'); want >= 2 (two interior-pointer frees)"
	fi
	if [ -z "$problems" ]; then
		pass "$name"
	else
		fail "$name" "$problems" "$(tail_of "$T/err" 6)"
	fi
done

exit 0
