#!/bin/sh
# Reports on demand from a running program (SCVGC_REPORT_SIGNAL, `scvgc snapshot`, issue 16
# point 8): a program that leaks steadily (test/progs/snapleak.c) is snapshotted twice while it
# runs; the second snapshot has more, `scvgc diff` of the two shows the growth, and the program
# runs to its end with its output unchanged. Without the option the library leaves the signal
# alone (SIG_DFL still kills); a handler the program installs itself wins.
. "$ROOT/test/integration/common.inc"
. "$ROOT/test/integration/tool_common.inc"

snap="$BIN/snapleak"
if [ ! -x "$snap" ]; then
	fail "snapshots of a running program" "$snap is missing (test/progs/snapleak.c not built?)"
	exit 0
fi
mkdir -p "$T/run" && cd "$T/run" || exit 1

# the glibc baseline's output, to compare with
touch stop.plain
timeout 30 "$snap" stop.plain >plain.out 2>/dev/null

# start NAME ENV...: starts snapleak under the library in the background (stop file NAME.stop,
# stdout NAME.out, stderr NAME.err), with ENV (VAR=value ...) added; sets $pid
start() {
	_n=$1
	shift
	rm -f "$_n.stop"
	# env execs snapleak: $! is its pid (it ends by itself after 120 s at most)
	env LD_PRELOAD="$LIB" SCVGC_REPORT=none "$@" "$snap" "$_n.stop" $SNAP_ARGS >"$_n.out" 2>"$_n.err" &
	pid=$!
	# the library's constructor has run once the program printed its first line
	_i=0
	while [ ! -s "$_n.out" ] && [ $_i -lt 300 ]; do sleep 0.1; _i=$((_i + 1)); done
}

# stop NAME: the program ends its loop; sets $rc to its status
stop() {
	touch "$1.stop"
	_i=0
	while kill -0 "$pid" 2>/dev/null && [ $_i -lt 300 ]; do sleep 0.1; _i=$((_i + 1)); done
	wait "$pid"
	rc=$?
}

bytes_of() { # the direct bytes of a JSON report
	"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"]["direct_bytes"])' "$1"
}

# ---- two snapshots of a steadily leaking program --------------------------------------------
start steady SCVGC_REPORT_SIGNAL=SIGUSR2 SCVGC_JSON=steady.%p.json
steady=$pid
sleep 1
timeout 90 "$SCVGC" snapshot --timeout 60 "$pid" >snap1.out 2>snap1.err
rc1=$?
sleep 1
timeout 90 "$SCVGC" snapshot --timeout 60 "$pid" >snap2.out 2>snap2.err
rc2=$?
alive=no
kill -0 "$pid" 2>/dev/null && alive=yes
stop steady
s1=$(cat snap1.out) s2=$(cat snap2.out)
if [ "$rc1" = 0 ] && [ "$rc2" = 0 ] && [ "$s1" = "steady.$steady.1.json" ] && [ "$s2" = "steady.$steady.2.json" ] &&
	[ -f "$s1" ] && [ -f "$s2" ]; then
	pass "scvgc snapshot PID sends the signal, waits and prints the new report: %p becomes PID.1, then PID.2"
else
	fail "scvgc snapshot PID sends the signal, waits and prints the new report: %p becomes PID.1, then PID.2" \
		"snapshot 1: status $rc1, printed '$s1' $(cat snap1.err)" "snapshot 2: status $rc2, printed '$s2' $(cat snap2.err)" \
		"files: $(ls)"
fi
b1=$(bytes_of "$s1" 2>/dev/null) b2=$(bytes_of "$s2" 2>/dev/null)
n1=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("snapshot"))' "$s1" 2>/dev/null)
if [ -n "$b1" ] && [ -n "$b2" ] && [ "$b1" -gt 0 ] && [ "$b2" -gt "$b1" ] && [ "$n1" = 1 ] &&
	[ -f "steady.$steady.json" ]; then
	pass "the second snapshot of a program that leaks steadily has more ($b1 then $b2 bytes); the exit report is written as before"
else
	fail "the second snapshot of a program that leaks steadily has more; the exit report is written as before" \
		"direct bytes: '$b1' then '$b2'; snapshot field '$n1'; files: $(ls)"
fi
"$SCVGC" diff "$s1" "$s2" >diff.out 2>diff.err
drc=$?
if [ "$drc" = 1 ] && grep -q 'grew by more than 0%' diff.out && grep -q 'leak_one' diff.out; then
	pass "scvgc diff of two snapshots of one process shows the stack that leaked between them (status 1)"
else
	fail "scvgc diff of two snapshots of one process shows the stack that leaked between them (status 1)" \
		"status $drc" "$(tail_of diff.out 12)" "$(tail_of diff.err 4)"
fi
if [ "$alive" = yes ] && [ "$rc" = 0 ] && cmp -s plain.out steady.out; then
	pass "the program goes on through the snapshots: exit status 0, its output unchanged ($(cat steady.err | tr '\n' ' '))"
else
	fail "the program goes on through the snapshots: exit status 0, its output unchanged" \
		"alive after the snapshots: $alive; $(rc_text "$rc" 120)" "$(tail_of steady.out 4)" "$(tail_of steady.err 4)"
fi

# ---- a path without %p, collect mode, the text report ---------------------------------------
start plain SCVGC_MODE=collect SCVGC_OPTIONS=report_signal=usr1:json=plain.json SCVGC_REPORT=plain.txt
timeout 90 "$SCVGC" snapshot --timeout 60 "$pid" >snap3.out 2>snap3.err
rc3=$?
p3=$pid
stop plain
if [ "$rc3" = 0 ] && [ "$(cat snap3.out)" = "plain.json.$p3.1" ] && [ -f "plain.txt.$p3.1" ] &&
	grep -q 'snapshot 1 of the running program' "plain.txt.$p3.1" && [ "$rc" = 0 ] &&
	"$SCVGC" report "plain.json.$p3.1" | grep -q 'snapshot 1 of the running program'; then
	pass "a report path without %p gets .PID.N (collect mode, signal set in SCVGC_OPTIONS; text and JSON)"
else
	fail "a report path without %p gets .PID.N (collect mode, signal set in SCVGC_OPTIONS; text and JSON)" \
		"status $rc3: $(cat snap3.out) $(cat snap3.err)" "files: $(ls plain*)" "$(rc_text "$rc" 120)"
fi

# ---- a fork child: its own snapshots, numbered from 1 -----------------------------------------
SNAP_ARGS=fork start fork SCVGC_REPORT_SIGNAL=SIGUSR2 SCVGC_JSON=fork.%p.json
parent=$pid
kid=$(cat /proc/$parent/task/*/children 2>/dev/null | tr ' ' '\n' | grep . | head -1)
timeout 90 "$SCVGC" snapshot --timeout 60 "${kid:-0}" >snap5.out 2>snap5.err
rc5=$?
touch fork.stop
_i=0
while kill -0 "$parent" 2>/dev/null && [ $_i -lt 300 ]; do sleep 0.1; _i=$((_i + 1)); done
wait "$parent"
rc=$?
if [ -n "$kid" ] && [ "$rc5" = 0 ] && [ "$(cat snap5.out)" = "fork.$kid.1.json" ] && [ "$rc" = 0 ] &&
	! ls "fork.$parent".*.json >/dev/null 2>&1; then
	pass "a fork child keeps the handler and writes its own snapshots (its pid, numbered from 1); the parent writes none"
else
	fail "a fork child keeps the handler and writes its own snapshots (its pid, numbered from 1); the parent writes none" \
		"child '$kid': scvgc snapshot status $rc5: $(cat snap5.out) $(cat snap5.err)" "$(rc_text "$rc" 120)" "files: $(ls fork*)"
fi

# ---- the guest rule: no option, no handler ---------------------------------------------------
start unset SCVGC_JSON=unset.%p.json
caught=$(sed -n 's/^SigCgt:[[:space:]]*//p' /proc/$pid/status 2>/dev/null)
timeout 30 "$SCVGC" snapshot --timeout 5 "$pid" >snap4.out 2>snap4.err
rc4=$?
kill -USR2 "$pid" 2>/dev/null
_i=0
while kill -0 "$pid" 2>/dev/null && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
wait "$pid"
rc=$?
# SIGUSR2 (12) is bit 11 of SigCgt; killed by it: status 140
if [ "$rc4" = 2 ] && [ $((0x${caught:-0} >> 11 & 1)) = 0 ] && [ "$rc" = 140 ]; then
	pass "without SCVGC_REPORT_SIGNAL the signal is the program's: not caught, SIGUSR2 kills it as before, and scvgc snapshot refuses to send it"
else
	fail "without SCVGC_REPORT_SIGNAL the signal is the program's: not caught, SIGUSR2 kills it as before, and scvgc snapshot refuses to send it" \
		"SigCgt $caught; scvgc snapshot status $rc4: $(cat snap4.err)" "the program: $(rc_text "$rc" 120)"
fi

# ---- the program's own handler wins ----------------------------------------------------------
SNAP_ARGS=own start own SCVGC_REPORT_SIGNAL=SIGUSR2 SCVGC_JSON=own.%p.json
sleep 0.5
kill -USR2 "$pid"
sleep 2
stop own
if [ "$rc" = 0 ] && grep -q 'own handler ran 1 times' own.out && ! ls own.*.*.json >/dev/null 2>&1; then
	pass "a handler the program installs itself for the signal wins: it runs, no snapshot is written"
else
	fail "a handler the program installs itself for the signal wins: it runs, no snapshot is written" \
		"$(rc_text "$rc" 120)" "$(tail_of own.out 3)" "files: $(ls own*)"
fi

# ---- the option's bad value, and --help --------------------------------------------------------
env LD_PRELOAD="$LIB" SCVGC_REPORT=none SCVGC_REPORT_SIGNAL=SIGSEGV true 2>bad.err
if grep -q 'SCVGC_REPORT_SIGNAL=SIGSEGV is not a valid value; using off' bad.err &&
	"$SCVGC" --help | grep -q 'SCVGC_REPORT_SIGNAL' && "$SCVGC" --help | grep -q 'snapshot PID'; then
	pass "SCVGC_REPORT_SIGNAL refuses a fault signal in one line (off), scvgc --help lists the option and snapshot"
else
	fail "SCVGC_REPORT_SIGNAL refuses a fault signal in one line (off), scvgc --help lists the option and snapshot" \
		"$(tail_of bad.err 3)"
fi
