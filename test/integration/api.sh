#!/bin/sh
# api.sh — the malloc API to the letter, and fork, posix_spawn, vfork and system() that never
# deadlock (issue 18, sections 2 and 4). Each program runs without the preload (the glibc
# baseline that checks the test itself) and under the library in modes off, default (leak)
# and collect; see the banner of each test/progs/*.c file.
#   api_conform    errno and error values, free keeps errno, no cancellation point, glibc's
#                  __libc_* names, every entry point (--scvgc under the preload: the checks
#                  glibc 2.36 fails by design — a bad free aborts there)
#   fork_stdio     fork from 4 threads while 8 read with getline and one calls fflush(NULL)
#   fork_signal    fork from a signal handler interrupting malloc, no threads of the program
#   spawn_threads  posix_spawn, vfork + exec and system() while 4 threads allocate
# A deadlock is a timeout: the limits are generous (each run takes a few seconds).
. "$ROOT/test/integration/common.inc"

broken=$(preload_broken)

for mode in plain off default collect; do
	flag=""
	[ "$mode" = plain ] || flag=--scvgc
	PROG_OK="api_conform: OK" prog_case \
		"malloc, free and the rest of the family follow glibc to the letter (errno, EINVAL/ENOMEM, cancellation, __libc_* names)" \
		"$mode" 120 api_conform $flag
	PROG_OK="fork_stdio: OK" prog_case \
		"four threads fork while eight read with getline and one calls fflush(NULL): no deadlock" \
		"$mode" 120 fork_stdio 3
	PROG_OK="fork_signal: OK" prog_case \
		"fork() from a signal handler that interrupted malloc, in a program with no threads: no deadlock" \
		"$mode" 120 fork_signal 2
	PROG_OK="spawn_threads: OK" prog_case \
		"posix_spawn, vfork + exec and system() keep working while other threads allocate" \
		"$mode" 180 spawn_threads 40
done
