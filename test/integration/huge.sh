#!/bin/sh
# huge.sh — requests the system cannot back, and huge blocks (issue 18, section 5): an
# impossible malloc fails with NULL and ENOMEM as under glibc (the overcommit policy
# applies), alignments past 1 TiB fail, huge granted-but-untouched blocks cost kilobytes of
# RSS and a collection reads only their touched pages, a successful allocation leaves errno
# alone, and a huge block freed twice is diagnosed.
#
# Program: test/progs/huge_blocks.c (its banner says what each case checks). Modes as in
# common.inc; "plain" runs the cases glibc can run, to check the test itself.
# Budget: a few seconds per case (the old heap took minutes, or never returned, on these).
. "$ROOT/test/integration/common.inc"

broken=$(preload_broken)
PROG_OK='huge_blocks: OK'

for m in plain off default collect; do
	prog_case "malloc of more than RAM + swap fails with ENOMEM (vm.overcommit_memory 0 or 2) and a program's halving fallback gets a buffer" \
		$m 120 huge_blocks enomem
done
for m in plain off default collect; do
	prog_case "aligned_alloc(2^30 .. 2^46, 10), each freed: up to 2^40 honoured, past it ENOMEM, and neither address space nor RSS stays behind" \
		$m 120 huge_blocks align
done
for m in plain off default collect; do
	prog_case "64 GiB of granted untouched huge blocks cost kilobytes of RSS, and a collection reads only the page of them that was written" \
		$m 120 huge_blocks untouched
done
for m in plain off default collect; do
	prog_case "a successful malloc, calloc, realloc, aligned_alloc or free leaves errno as it was (4 threads)" \
		$m 120 huge_blocks errno
done
prog_case "huge blocks nothing points to are reclaimed and their address space goes back to the OS" \
	collect 120 huge_blocks reclaim
for m in off default collect; do
	prog_case "a huge block freed twice is diagnosed and ignored" $m 120 huge_blocks dfree
	if [ "$rc" = 0 ] && ! grep -q 'double free' "$T/err"; then
		fail "a huge block freed twice is diagnosed ($(mode_label $m))" "no 'double free' diagnostic on stderr" "$(tail_of "$T/err" 4)"
	fi
done
