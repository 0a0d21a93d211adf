#!/bin/sh
# The library is a guest (issue 13): its report measures the program, not itself; it stops
# the world in leak mode only when asked; it starts no thread before one is needed.
. "$ROOT/test/integration/common.inc"

# The heap line of the exit report is the program's heap: read before the symbolizer (libdw,
# megabytes of DWARF and line tables) is loaded. A suppressions file makes the report
# symbolize every stack; before the fix the line grew from ~0.2 MB to ~12.5 MB.
name="the report's heap figures are taken before symbolizing (suppressions set)"
printf 'leak:no_such_function\n' >"$T/supp"
timeout -k 5 60 env LD_PRELOAD="$LIB" SCVGC_SUPPRESS="$T/supp" "$BIN/report_self" >"$T/out" 2>"$T/err"
rc=$?
prog=$(sed -n 's/^inuse: //p' "$T/out")
rep=$(sed -n 's/.*scvgc: heap: .*, in use \([0-9]*\) KiB.*/\1/p' "$T/err")
if [ "$rc" != 0 ] || [ -z "$prog" ] || [ -z "$rep" ]; then
	fail "$name" "$(rc_text $rc 60)" "$(tail_of "$T/err" 10)"
elif [ "$rep" -gt $((prog / 1024 + 2048)) ]; then
	fail "$name" "the program had $((prog / 1024)) KiB in use, the report says $rep KiB"
else
	pass "$name"
fi

# Leak mode stops the world only at exit (and through the API) unless SCVGC_GOGC or
# SCVGC_FORCEGC is set: each stop makes epoll_wait, sigtimedwait, semtimedop, inotify reads
# and the like fail with EINTR. 64 MiB kept live would start several periodic cycles.
name="leak mode runs no periodic cycle unless SCVGC_GOGC is set (only the exit check)"
timeout -k 5 60 env -u SCVGC_GOGC -u SCVGC_FORCEGC -u SCVGC_MODE LD_PRELOAD="$LIB" "$BIN/guest" grow 64 >"$T/out" 2>"$T/err"
rc=$?
cycles=$(sed -n 's/.*scvgc: gc: \([0-9]*\) cycles.*/\1/p' "$T/err")
if [ "$rc" = 0 ] && [ "$cycles" = 1 ]; then pass "$name"
else fail "$name" "$(rc_text $rc 60), ${cycles:-no} cycles" "$(tail_of "$T/err" 5)"; fi

name="leak mode with SCVGC_GOGC=100 set explicitly runs periodic cycles"
timeout -k 5 60 env -u SCVGC_MODE SCVGC_GOGC=100 LD_PRELOAD="$LIB" "$BIN/guest" grow 64 >"$T/out" 2>"$T/err"
rc=$?
cycles=$(sed -n 's/.*scvgc: gc: \([0-9]*\) cycles.*/\1/p' "$T/err")
if [ "$rc" = 0 ] && [ "${cycles:-0}" -gt 1 ]; then pass "$name"
else fail "$name" "$(rc_text $rc 60), ${cycles:-no} cycles" "$(tail_of "$T/err" 5)"; fi

# No library thread before one is needed: a program that allocates little and never collects
# stays single-threaded, so it may still unshare a user namespace (Linux refuses one to a
# multi-threaded process with EINVAL: bubblewrap, rootless podman, browser sandboxes).
# Collect mode keeps a clock (SCVGC_FORCEGC): its scavenger starts at the first allocations.
for mode in off default; do
	name="a small program stays single-threaded and can unshare a user namespace ($(mode_label $mode))"
	run_in "$mode" 60 "$T/out" "$T/err" "$BIN/guest" small
	th=$(sed -n 's/^threads: //p' "$T/out")
	us=$(sed -n 's/^unshare: //p' "$T/out")
	if [ "$rc" != 0 ] || [ "$th" != 1 ]; then
		fail "$name" "$(rc_text $rc 60), ${th:-?} threads" "$(tail_of "$T/err" 5)"
	elif [ "$us" = EINVAL ]; then
		fail "$name" "unshare(CLONE_NEWUSER) failed with EINVAL"
	else
		pass "$name"
	fi
done
# ... and the threads do come when there is work: 64 MiB marked in collect mode.
name="a collect-mode cycle on a 64 MiB heap starts the sweeper (and markers where there are CPUs)"
run_in collect 60 "$T/out" "$T/err" "$BIN/guest" grow 64
th=$(sed -n 's/^threads: //p' "$T/out")
if [ "$rc" = 0 ] && [ "${th:-0}" -ge 2 ]; then pass "$name"
else fail "$name" "$(rc_text $rc 60), ${th:-?} threads" "$(tail_of "$T/err" 5)"; fi

# A bad free's diagnostic is symbolized like the leak report (function, file:line, module),
# by the library's own walker and its lazily loaded symbolizer.
name="a double free's stack names the function and its file:line"
run_in default 60 "$T/out" "$T/err" "$BIN/bad_free"
if [ "$rc" = 0 ] && grep -q 'scvgc:    #0 0x[0-9a-f]* free_twice (test/progs/bad_free.c:[0-9]*) ' "$T/err"; then
	pass "$name"
else
	fail "$name" "$(rc_text $rc 60)" "$(grep -A2 'invalid pointer' "$T/err" | head -3)"
fi

# The report loads no debuginfod client unless DEBUGINFOD_URLS asks for one (symbolize.c S4):
# libdw's standard search for a module's separate debug file falls back to debuginfod when it
# finds none, and that dlopens libdebuginfod with libcurl, GnuTLS, libcrypto and Kerberos
# (elfutils 0.188: 74 objects loaded in all where 15 do; ~9 MiB of peak RSS, network libraries
# in a program that asked for none). A leaking program without DWARF (objcopy --strip-debug)
# and with no debug file for its build id makes the search come up empty.
name="a report of a program without debug info loads no debuginfod client (DEBUGINFOD_URLS unset)"
if objcopy --strip-debug "$BIN/leak_tree" "$T/nodebug" 2>/dev/null; then
	timeout -k 5 60 env -u DEBUGINFOD_URLS LEAK_TREE_LEVELS=2 LD_DEBUG=files LD_PRELOAD="$LIB" \
		"$T/nodebug" >"$T/out" 2>"$T/err"
	rc=$?
	loaded=$(grep -c 'file=libdebuginfod' "$T/err")
	if [ "$rc" != 0 ] || ! grep -q 'scvgc: .* leaked' "$T/err"; then
		fail "$name" "$(rc_text $rc 60), no leak report" "$(grep -v 'file=\|^ *[0-9]*:	*$' "$T/err" | tail -n 5)"
	elif [ "$loaded" != 0 ]; then
		fail "$name" "libdebuginfod was loaded" "$(grep 'file=' "$T/err" | grep -c .) objects loaded"
	else
		pass "$name"
	fi
else
	fail "$name" "objcopy --strip-debug failed (binutils missing?)"
fi

# ... and what the standard search finds without a debug link is still found: NAME.debug beside
# the program (objcopy --only-keep-debug), which the build-id lookup alone would miss.
name="a report finds a program's debug file named after it (NAME.debug beside it, no debug link)"
mkdir -p "$T/nd"
if objcopy --only-keep-debug "$BIN/leak_tree" "$T/nd/leak_tree.debug" 2>/dev/null &&
	objcopy --strip-debug "$BIN/leak_tree" "$T/nd/leak_tree" 2>/dev/null; then
	timeout -k 5 60 env -u DEBUGINFOD_URLS LEAK_TREE_LEVELS=1 LD_PRELOAD="$LIB" \
		"$T/nd/leak_tree" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" = 0 ] && grep -q 'scvgc: *#0 0x[0-9a-f]* leak_a (test/progs/leak_tree.c:[0-9]*)' "$T/err"; then
		pass "$name"
	else
		fail "$name" "$(rc_text $rc 60), no file:line for leak_a" "$(grep -m2 'leak_a' "$T/err")"
	fi
else
	fail "$name" "objcopy failed (binutils missing?)"
fi
