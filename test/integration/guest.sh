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
