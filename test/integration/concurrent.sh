#!/bin/sh
# concurrent.sh — mostly-concurrent marking (issue 15; core/gc.c C0-C4, core/wp.c): the stress
# programs of collect mode run clean with cycles back to back (SCVGC_GOGC=1) while the world
# runs during the mark, and with SCVGC_CONCURRENT=off; the trace line carries both pauses and
# the concurrent mark time; the JSON gc block has the pause quantiles and the pages rescanned.
#   - treecheck: GCBench-like trees, every node pattern-checked, one thread swapping the
#     subtrees of the long-lived tree (pointers moved between scanned and unscanned nodes);
#   - gcstress: threads relinking shared lists, realloc, explicit frees (also forking);
#   - SCVGC_CONCURRENT=off marks with the world stopped: no concurrent part in any line;
#   - unset, collect mode marks concurrently and leak mode with the world stopped;
#   - the descriptor of userfaultfd is the library's own: closed on exec (O_CLOEXEC);
#   - as an unprivileged user (where the suite runs as root: setpriv to uid 65534).
. "$ROOT/test/integration/common.inc"

broken=$(preload_broken)
[ -z "$broken" ] || { fail "concurrent marking" "the library cannot be preloaded: $broken"; exit 0; }

cm() { env LD_PRELOAD="$LIB" SCVGC_MODE=collect SCVGC_REPORT=none SCVGC_GOGC=1 SCVGCTRACE=1 "$@"; }

# The kernel may refuse userfaultfd (no CONFIG_USERFAULTFD, seccomp, a container): the cycles
# then stop the world and say so once; the programs must pass either way.
probe_err="$T/probe.err"
cm SCVGC_CONCURRENT=on "$BIN/treecheck" 1 0.3 >/dev/null 2>"$probe_err"
if grep -q 'concurrent marking unavailable' "$probe_err"; then
	have=0
	echo "concurrent.sh: $(grep -m1 'concurrent marking unavailable' "$probe_err" | sed 's/.*scvgc: //') (concurrent cases check the fallback)"
else
	have=1
fi

# $1 name, $2 trace file: at least one concurrent cycle line (where the kernel allows it)
concurrent_lines() {
	_n=$(grep -c ' scvgc: gc [0-9].*; concurrent: ' "$2")
	if [ "$have" = 1 ] && [ "$_n" -lt 1 ]; then
		fail "$1" "no cycle marked concurrently" "$(tail_of "$2" 3)"
		return 1
	fi
	return 0
}

for conc in on off; do
	for args in "3 3" "6 2"; do
		set -- $args
		name="treecheck: $1 builders and a subtree swapper for $2 s, SCVGC_GOGC=1, SCVGC_CONCURRENT=$conc"
		timeout -k 5 120 env SCVGC_CONCURRENT=$conc LD_PRELOAD="$LIB" SCVGC_MODE=collect SCVGC_REPORT=none \
			SCVGC_GOGC=1 SCVGCTRACE=1 "$BIN/treecheck" "$1" "$2" >"$T/tc.out" 2>"$T/tc.err"
		rc=$?
		if [ "$rc" != 0 ] || ! grep -q '^ok ' "$T/tc.out"; then
			fail "$name" "$(rc_text "$rc" 120)" "$(tail_of "$T/tc.err" 5)"
		elif [ "$conc" = off ] && grep -q '; concurrent: ' "$T/tc.err"; then
			fail "$name" "a cycle marked concurrently though SCVGC_CONCURRENT=off" "$(grep -m1 '; concurrent' "$T/tc.err")"
		elif [ "$conc" = on ] && ! concurrent_lines "$name" "$T/tc.err"; then
			:
		else
			pass "$name ($(grep -c ' scvgc: gc [0-9]' "$T/tc.err") cycles)"
		fi
	done
done

for conc in on off; do
	for args in "4 3 0" "6 3 1"; do
		set -- $args
		name="gcstress: $1 threads for $2 s$( [ "$3" = 1 ] && echo ', forking children'), SCVGC_GOGC=1, SCVGC_CONCURRENT=$conc"
		timeout -k 5 120 env SCVGC_CONCURRENT=$conc SCVGC_GOGC=1 SCVGCTRACE=1 LD_PRELOAD="$LIB" SCVGC_MODE=collect \
			SCVGC_REPORT=none "$BIN/gcstress" "$1" "$2" "$3" >"$T/st.out" 2>"$T/st.err"
		rc=$?
		if [ "$rc" != 0 ] || ! grep -q '^ok ' "$T/st.out"; then
			fail "$name" "$(rc_text "$rc" 120)" "$(tail_of "$T/st.err" 5)" "$(tail_of "$T/st.out" 2)"
		elif [ "$conc" = on ] && ! concurrent_lines "$name" "$T/st.err"; then
			:
		else
			pass "$name"
		fi
	done
done

# As an unprivileged user: with vm.unprivileged_userfaultfd=0 the library asks for a
# userfaultfd of user-mode faults only (UFFD_USER_MODE_ONLY), which is all asynchronous
# write-protection needs. Only where the suite runs as root (it switches to nobody).
name="treecheck as an unprivileged user (uid 65534, vm.unprivileged_userfaultfd=$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null || echo '?'))"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	timeout -k 5 120 setpriv --reuid=65534 --regid=65534 --clear-groups env SCVGC_CONCURRENT=on \
		LD_PRELOAD="$LIB" SCVGC_MODE=collect SCVGC_REPORT=none SCVGC_GOGC=1 SCVGCTRACE=1 \
		"$BIN/treecheck" 2 1 >"$T/np.out" 2>"$T/np.err"
	rc=$?
	if [ "$rc" != 0 ] || ! grep -q '^ok ' "$T/np.out"; then
		fail "$name" "$(rc_text "$rc" 120)" "$(tail_of "$T/np.err" 5)"
	elif [ "$have" = 1 ] && ! grep -q '; concurrent: ' "$T/np.err"; then
		fail "$name" "no cycle marked concurrently" "$(grep -m1 'unavailable' "$T/np.err")" "$(tail_of "$T/np.err" 2)"
	else
		pass "$name"
	fi
else
	echo "SKIP: $name: not root, or no setpriv"
fi

# The default (SCVGC_CONCURRENT unset): concurrent in collect mode where the kernel allows it,
# stop-the-world in leak mode (its cycles are few).
for mode in collect leak; do
	name="SCVGC_CONCURRENT unset: $( [ $mode = collect ] && echo 'concurrent cycles' || echo 'stop-the-world cycles') in $mode mode"
	timeout -k 5 60 env -u SCVGC_CONCURRENT LD_PRELOAD="$LIB" SCVGC_MODE=$mode SCVGC_REPORT=none SCVGC_GOGC=1 \
		SCVGCTRACE=1 "$BIN/treecheck" 1 0.5 >/dev/null 2>"$T/def.err"
	rc=$?
	if [ "$rc" != 0 ]; then
		fail "$name" "treecheck: $(rc_text "$rc" 60)" "$(tail_of "$T/def.err" 3)"
	elif [ $mode = collect ] && ! concurrent_lines "$name" "$T/def.err"; then
		:
	elif [ $mode = leak ] && grep -q '; concurrent: ' "$T/def.err"; then
		fail "$name" "a leak-mode cycle marked concurrently" "$(grep -m1 '; concurrent' "$T/def.err")"
	else
		pass "$name"
	fi
done

# gc.c C6: a program alone with its collector (one thread: python3) marks with the world
# stopped by default — its thread waits for the whole cycle either way — and opens no
# userfaultfd; SCVGC_CONCURRENT=on set explicitly makes its cycles concurrent.
cat >"$T/alone.py" <<'PY'
import os
keep = []
for r in range(30):
    junk = [[i, str(i)] for i in range(20000)]
    keep.append(junk[::1000])
fds = []
for f in os.listdir('/proc/self/fd'):
    try: fds.append(os.readlink('/proc/self/fd/' + f))
    except OSError: pass  # the listing's own descriptor
print('userfaultfd', sum('userfaultfd' in f for f in fds), 'kept', sum(len(k) for k in keep))
PY
for conc in unset on; do
	name="a one-thread program (python3), SCVGC_CONCURRENT $conc: $( [ $conc = unset ] && echo 'stop-the-world cycles, no userfaultfd' || echo 'concurrent cycles')"
	timeout -k 5 60 env $( [ $conc = unset ] && echo -u SCVGC_CONCURRENT || echo SCVGC_CONCURRENT=on) \
		LD_PRELOAD="$LIB" SCVGC_MODE=collect SCVGC_REPORT=none SCVGC_GOGC=5 SCVGCTRACE=1 \
		PYTHONMALLOC=malloc python3 -s "$T/alone.py" >"$T/al.out" 2>"$T/al.err"
	rc=$?
	ncyc=$(grep -c ' scvgc: gc [0-9]' "$T/al.err")
	nconc=$(grep -c ' scvgc: gc [0-9].*; concurrent: ' "$T/al.err")
	if [ "$rc" != 0 ] || ! grep -q 'kept 600$' "$T/al.out"; then
		fail "$name" "python3: $(rc_text "$rc" 60)" "$(tail_of "$T/al.err" 3)" "$(tail_of "$T/al.out" 2)"
	elif [ "$ncyc" -lt 3 ]; then
		fail "$name" "only $ncyc cycles ran" "$(tail_of "$T/al.err" 3)"
	elif [ $conc = unset ] && { [ "$nconc" != 0 ] || ! grep -q '^userfaultfd 0 ' "$T/al.out"; }; then
		fail "$name" "$nconc of $ncyc cycles concurrent; $(head -1 "$T/al.out")" "$(grep -m1 '; concurrent' "$T/al.err")"
	elif [ $conc = on ] && [ "$have" = 1 ] && [ "$nconc" != "$ncyc" ]; then
		fail "$name" "$nconc of $ncyc cycles concurrent" "$(tail_of "$T/al.err" 2)"
	else
		pass "$name ($ncyc cycles, $nconc concurrent)"
	fi
done

# The trace line of a concurrent cycle and the JSON gc block (docs/reports.md).
rm -f "$T/r.json"
timeout -k 5 60 env SCVGC_CONCURRENT=on LD_PRELOAD="$LIB" SCVGC_MODE=collect SCVGC_REPORT=none SCVGC_GOGC=5 \
	SCVGCTRACE=1 SCVGC_JSON="$T/r.json" "$BIN/treecheck" 2 1 >/dev/null 2>"$T/tr.err"
if python3 - "$T/tr.err" "$T/r.json" "$have" >"$T/tr.why" 2>&1 <<'PY'
import json, re, sys
pat = re.compile(r' scvgc: gc (\d+) @.*; concurrent: (\d+\.\d{3})\+(\d+\.\d{3}) ms pause start\+finish, '
                 r'(\d+\.\d{3}) ms mark, (\d+) pages rescanned$')
lines = [l.rstrip('\n') for l in open(sys.argv[1]) if re.search(r' scvgc: gc \d+ @', l)]
conc = [pat.search(l) for l in lines]
conc = [m for m in conc if m]
have = sys.argv[3] == '1'
if have and not conc: sys.exit('no concurrent cycle line among %d' % len(lines))
longest = 0.0
for m in conc:
    p1, p2, mark = float(m.group(2)), float(m.group(3)), float(m.group(4))
    longest = max(longest, p1, p2)
g = json.load(open(sys.argv[2]))['gc']
for k in ('cycles', 'pause_total_ns', 'pause_max_ns', 'pause_p50_ns', 'pause_p99_ns', 'pages_rescanned'):
    if not isinstance(g.get(k), int): sys.exit('gc.%s missing: %r' % (k, g))
if g['cycles'] != len(lines): sys.exit('cycles %d, trace lines %d' % (g['cycles'], len(lines)))
if not 0 < g['pause_p50_ns'] <= g['pause_p99_ns'] <= g['pause_max_ns'] <= g['pause_total_ns']:
    sys.exit('pause figures out of order: %r' % g)
# the longest pause of the JSON is a single stop: at least what any trace line shows
if g['pause_max_ns'] < longest * 1e6 - 1e3: sys.exit('pause_max_ns %d below a traced pause %.3f ms' % (g['pause_max_ns'], longest))
if have and g['pages_rescanned'] < 1: sys.exit('no page rescanned in %d concurrent cycles' % len(conc))
print('%d concurrent lines of %d, p50 %d ns, p99 %d ns, %d pages rescanned' % (len(conc), len(lines), g['pause_p50_ns'], g['pause_p99_ns'], g['pages_rescanned']))
PY
then
	pass "the trace line gives both pauses and the concurrent mark; the JSON gc block its quantiles ($(cat "$T/tr.why"))"
else
	fail "the trace line gives both pauses and the concurrent mark; the JSON gc block its quantiles" "$(tail_of "$T/tr.why" 3)" "$(tail_of "$T/tr.err" 3)"
fi

# The userfaultfd descriptor is the library's own: opened by the first concurrent cycle,
# closed on exec (O_CLOEXEC), so an exec'd program does not inherit it.
if [ "$have" = 1 ]; then
	timeout -k 5 60 env SCVGC_CONCURRENT=on LD_PRELOAD="$LIB" SCVGC_MODE=collect SCVGC_REPORT=none SCVGC_GOGC=1 \
		"$BIN/treecheck" 1 0.5 exec >"$T/fd.out" 2>&1
	if ! grep -q '^userfaultfd 1$' "$T/fd.out"; then
		fail "the userfaultfd descriptor is the library's one, closed on exec" "not open before the exec" "$(tail_of "$T/fd.out" 5)"
	elif grep -q 'userfaultfd]' "$T/fd.out"; then
		fail "the userfaultfd descriptor is the library's one, closed on exec" "inherited" "$(tail_of "$T/fd.out" 5)"
	else
		pass "the userfaultfd descriptor is the library's one, closed on exec"
	fi
fi
