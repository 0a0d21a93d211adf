#!/bin/sh
# collect.sh — collect mode (SCVGC_MODE=collect): the library reclaims what nothing reaches.
#   - gcstress: threads build, share, relink and drop linked structures while collections
#     run back to back (SCVGC_GOGC=1); every node's pattern is checked before each use, so
#     a premature reclaim fails; also with a thread forking children all along;
#   - a leaky server simulation stays within a bounded RSS, where glibc grows;
#   - the SCVGCTRACE=1 line of every cycle parses, with consistent fields (docs/reports.md);
#   - the exit report in collect mode counts what was reclaimed, by allocation stack.
. "$ROOT/test/integration/common.inc"

broken=$(preload_broken)
[ -z "$broken" ] || { fail "collect mode" "the library cannot be preloaded: $broken"; exit 0; }

cm() { env LD_PRELOAD="$LIB" SCVGC_MODE=collect SCVGC_REPORT=none "$@"; }

# Stop-the-world marking (SCVGC_CONCURRENT=off) and concurrent marking (the default;
# test/integration/concurrent.sh has more) run the same cases.
for args in "4 3 0 on" "6 3 1 on" "4 3 0 off" "6 3 1 off"; do
	set -- $args
	name="gcstress: $1 threads for $2 s$( [ "$3" = 1 ] && echo ', forking children') with SCVGC_GOGC=1, SCVGC_CONCURRENT=$4"
	timeout -k 5 120 env SCVGC_CONCURRENT=$4 SCVGC_GOGC=1 LD_PRELOAD="$LIB" SCVGC_MODE=collect SCVGC_REPORT=none \
		"$BIN/gcstress" "$1" "$2" "$3" >"$T/st.out" 2>"$T/st.err"
	rc=$?
	if [ "$rc" = 0 ] && grep -q '^ok ' "$T/st.out"; then
		pass "$name"
	else
		fail "$name" "$(rc_text "$rc" 120)" "$(tail_of "$T/st.err" 5)" "$(tail_of "$T/st.out" 2)"
	fi
done

# The leaky server: 400000 requests, each leaking ~500 bytes (~200 MB in all).
glibc=$(timeout 120 "$BIN/leakserver" 400000)
coll=$(timeout 120 env LD_PRELOAD="$LIB" SCVGC_MODE=collect SCVGC_REPORT=none "$BIN/leakserver" 400000)
if [ -n "$coll" ] && [ -n "$glibc" ] && [ "$coll" -lt 65536 ] && [ "$glibc" -gt 131072 ]; then
	pass "a leaky server stays within 64 MiB in collect mode (${coll} KiB; glibc ${glibc} KiB)"
else
	fail "a leaky server stays within 64 MiB in collect mode" "collect: ${coll:-?} KiB, glibc: ${glibc:-?} KiB"
fi

# The trace line (docs/reports.md "The GC trace line").
timeout 60 env SCVGCTRACE=1 LD_PRELOAD="$LIB" SCVGC_MODE=collect SCVGC_REPORT=none "$BIN/leakserver" 100000 \
	>/dev/null 2>"$T/trace.err"
if python3 - "$T/trace.err" >"$T/trace.why" 2>&1 <<'PY'
import re, sys
pat = re.compile(r'^==(\d+)== scvgc: gc (\d+) @(\d+\.\d{3})s (\d+)%: (\d+\.\d{3})\+(\d+\.\d{3})\+(\d+\.\d{3})\+(\d+\.\d{3}) ms '
                 r'sweepterm\+stop\+mark\+markterm, (\d+)->(\d+)->(\d+) MB, (\d+) MB goal, (\d+) threads, (\d+) markers, '
                 r'(\d+) (unreachable|leaked)( \(incomplete: [a-z ]+\))?'
                 r'(; concurrent: (\d+\.\d{3})\+(\d+\.\d{3}) ms pause start\+finish, (\d+\.\d{3}) ms mark, (\d+) pages rescanned)?$')
n, last, t = 0, 0, 0.0
for line in open(sys.argv[1]):
    if ' scvgc: gc ' not in line or ' detail:' in line:
        continue
    m = pat.match(line.rstrip('\n'))
    if not m:
        sys.exit('unparsed: ' + line)
    g = m.groups()
    cyc, at, share = int(g[1]), float(g[2]), int(g[3])
    before, after, live, goal = map(int, g[8:12])
    if cyc != last + 1: sys.exit('cycle numbers skip: %d after %d' % (cyc, last))
    if at < t: sys.exit('time goes back: ' + line)
    if not 0 <= share <= 100: sys.exit('share: ' + line)
    if live > before + 1 or goal < 4: sys.exit('heap figures: ' + line)
    if int(g[13]) < 1: sys.exit('markers: ' + line)
    last, t, n = cyc, at, n + 1
if n < 3:
    sys.exit('only %d cycle lines' % n)
print(n, 'lines')
PY
then
	pass "SCVGCTRACE=1: one parsable line per cycle ($(cat "$T/trace.why"))"
else
	fail "SCVGCTRACE=1: one parsable line per cycle" "$(tail_of "$T/trace.why" 3)" "$(tail_of "$T/trace.err" 3)"
fi

# The report counts what was reclaimed, by allocation stack (every stack captured: the sampled
# report of the default is sample.sh's).
timeout 60 env SCVGC_JSON="$T/r.json" LD_PRELOAD="$LIB" SCVGC_MODE=collect SCVGC_SAMPLE=0 SCVGC_REPORT=none "$BIN/leakserver" 100000 \
	>/dev/null 2>"$T/r.err"
if python3 - "$T/r.json" >"$T/r.why" 2>&1 <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r['totals']
assert r['mode'] == 'collect', r['mode']
assert t['reclaimed_objects'] >= 90000, t
assert t['reclaimed_bytes'] >= 90000 * 48, t
rec = r['reclaimed']
assert rec and sum(g['objects'] for g in rec) == t['reclaimed_objects'], rec[:2]
top = max(rec, key=lambda g: g['bytes'])
assert any(f.get('function') == 'main' for f in top['stack']), top
print(t['reclaimed_objects'], 'objects reclaimed in', len(rec), 'stacks')
PY
then
	pass "the collect-mode report counts what was reclaimed by stack ($(cat "$T/r.why"))"
else
	fail "the collect-mode report counts what was reclaimed by stack" "$(tail_of "$T/r.why" 4)"
fi

# Every byte malloc_usable_size hands out is scanned (issue 19 #5): a pointer kept in the tail
# of a block past its request keeps its object alive in collect mode.
PROG_OK='^usable_tail: OK'
for mode in collect default off; do
	prog_case "a pointer kept in the bytes malloc_usable_size gave keeps its object alive" "$mode" 60 usable_tail
done
PROG_OK=
