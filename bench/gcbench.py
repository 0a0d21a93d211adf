#!/usr/bin/env python3
"""GCBench-style benchmark (bench/workloads/gcbench.c): libscvgc collect mode against Boehm GC
(linked, GC_MALLOC), against glibc with explicit frees, and against Go's runtime on the same
program ported (bench/workloads/gcbench.go; where `go` is installed). Runs interleaved, prints a markdown
table of medians: CPU s (user+sys, the exit report included), the program's own time to the end
of main, peak RSS, collections, and from SCVGCTRACE=1, over every cycle but the exit one: the
longest wait of the thread whose allocation started a cycle (it runs the whole cycle: sweep
termination + stop + mark + mark termination; GCBench has one thread), the world's longest
stop (a concurrent cycle's longer pause, start or finish; a stop-the-world cycle's stop + mark +
mark termination); and the exit cycle's whole time. Go's pauses come from GODEBUG=gctrace=1
(its two stops per cycle), Boehm's from GC_PRINT_STATS=1 (its marking stops the world).
  python3 bench/gcbench.py [--runs N] [--compare LIB]
--compare adds a row for another build of the library (an earlier commit's build/libscvgc.so),
run interleaved with the others."""
import json, os, resource, shutil, statistics, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, 'build', 'libscvgc.so')
SRC = os.path.join(ROOT, 'bench', 'workloads', 'gcbench.c')
runs = int(sys.argv[sys.argv.index('--runs') + 1]) if '--runs' in sys.argv else 3
tmp = tempfile.mkdtemp()

def build(name, flags, libs=()):
    out = os.path.join(tmp, name)
    subprocess.check_call(['gcc', '-O2', *flags, '-o', out, SRC, *libs])
    return out

nofree, withfree, boehm = build('nofree', []), build('free', ['-DFREE']), build('boehm', ['-DBOEHM'], ['-lgc'])
J = os.path.join(tmp, 'r.json')
# Go's runtime on the same program (bench/workloads/gcbench.go), where a Go toolchain is installed
# (Debian: golang-go); its build cache goes to the temporary directory, not to $HOME
gobin = None
if shutil.which('go'):
    gobin = os.path.join(tmp, 'gcbench-go')
    genv = dict(os.environ, GOCACHE=os.path.join(tmp, 'gocache'), GOPATH=os.path.join(tmp, 'gopath'))
    subprocess.check_call(['go', 'build', '-o', gobin, os.path.join(ROOT, 'bench', 'workloads', 'gcbench.go')],
                          env=genv, cwd=tmp)
    gover = subprocess.run(['go', 'version'], capture_output=True, text=True, env=genv).stdout.split()
    gover = gover[2][2:] if len(gover) > 2 else '?'
configs = [
    ('glibc, explicit frees', [withfree], {}),
    ('Boehm GC 8.2, linked (GC_MALLOC)', [boehm], {'GC_PRINT_STATS': '1'}),
    ('libscvgc collect, no frees', [nofree], {'LD_PRELOAD': LIB, 'SCVGC_MODE': 'collect', 'SCVGC_REPORT': 'none', 'SCVGC_JSON': J}),
    ('libscvgc collect, no frees, SCVGC_SAMPLE=0 (every stack)', [nofree], {'LD_PRELOAD': LIB, 'SCVGC_MODE': 'collect', 'SCVGC_REPORT': 'none', 'SCVGC_JSON': J, 'SCVGC_SAMPLE': '0'}),
    ('libscvgc collect, no frees, SCVGC_STACK_DEPTH=0', [nofree], {'LD_PRELOAD': LIB, 'SCVGC_MODE': 'collect', 'SCVGC_REPORT': 'none', 'SCVGC_JSON': J, 'SCVGC_STACK_DEPTH': '0'}),
]
if gobin:
    configs.insert(2, ('Go %s runtime (gcbench.go, GOGC=100)' % gover, [gobin], {'GODEBUG': 'gctrace=1'}))
if '--compare' in sys.argv:
    other = os.path.abspath(sys.argv[sys.argv.index('--compare') + 1])
    configs.insert(3, ('libscvgc collect, no frees, the build given by --compare', [nofree],
                       {'LD_PRELOAD': other, 'SCVGC_MODE': 'collect', 'SCVGC_REPORT': 'none', 'SCVGC_JSON': J}))
# CPU and peak RSS of the program itself, through /usr/bin/time
res = {c[0]: [] for c in configs}
for r in range(runs):
    for name, cmd, env in configs:
        if os.path.exists(J): os.unlink(J)
        e = dict(os.environ, **env)
        t = os.path.join(tmp, 't')
        # /usr/bin/time itself must not be preloaded: the preload goes to the program through env
        pre = ['env'] + ['%s=%s' % kv for kv in env.items()]
        ee = {k: v for k, v in os.environ.items() if not k.startswith('SCVGC') and k != 'LD_PRELOAD'}
        if 'LD_PRELOAD' in env: pre.append('SCVGCTRACE=1')
        p = subprocess.run(['/usr/bin/time', '-f', '%U %S %M', '-o', t] + pre + cmd, env=ee,
                           capture_output=True, text=True)
        out = p.stdout
        if p.returncode: sys.exit('%s failed (%d): %s' % (name, p.returncode, p.stderr[-500:]))
        cyc = [l for l in p.stderr.splitlines() if ' scvgc: gc ' in l and ' ms sweepterm+stop+mark+markterm' in l]
        def phases(l):
            return [float(x) for x in l.split('%: ')[1].split(' ms')[0].split('+')]
        def stop(l):
            # the world's longest stop: a concurrent cycle stops it twice ("concurrent: S+F ms
            # pause start+finish") and marks with it going; a stop-the-world cycle stops it
            # for stop + mark + markterm
            if 'concurrent: ' in l and ' ms pause start+finish' in l:
                return max(float(x) for x in l.split('concurrent: ')[1].split(' ms')[0].split('+'))
            a = phases(l)
            return a[1] + a[2] + a[3]
        # the allocating thread that started a cycle runs it and waits for its end (gc.c B1 is
        # off): sweep termination + stop + mark + mark termination, concurrent or not
        ph = [sum(phases(l)) for l in cyc]
        st = [stop(l) for l in cyc]
        runp = max(ph[:-1], default=None)
        runstop = max(st[:-1], default=None)
        exitp = ph[-1] if ph else None
        wall = [l for l in out.splitlines() if l.startswith('total ')]
        wall = float(wall[0].split()[1]) / 1e3 if wall else None
        u, s, m = open(t).read().split()[-3:]
        coll, pause = None, None
        for line in out.splitlines():
            if line.startswith('collections'): coll = int(line.split()[1])
        if os.path.exists(J):
            g = json.load(open(J))['gc']
            coll, pause = g['cycles'], g['pause_max_ns'] / 1e6
        err = p.stderr.splitlines()
        # Go (GODEBUG=gctrace=1): "gc N @t P%: A+B+C ms clock": A and C stop the world (sweep
        # termination, mark termination), B is the concurrent mark; an allocating goroutine
        # assists the mark instead of waiting for the cycle (no figure for its wait)
        goc = [l for l in err if l.startswith('gc ') and ' ms clock' in l]
        if goc:
            clk = [[float(x) for x in l.split('%: ')[1].split(' ms clock')[0].split('+')] for l in goc]
            runstop = max(max(a[0], a[2]) for a in clk)
        # Boehm (GC_PRINT_STATS=1): the world is stopped for the whole mark ("World-stopped
        # marking took"); a collection ("Complete collection took") is what the allocating
        # thread waits for (its sweep is lazy, done by later allocations)
        def took(key):
            return [int(l.split(key)[1].split()[0]) + int(l.split(key)[1].split()[2]) / 1e6
                    for l in err if key in l and ' ns' in l]
        bstop, ball = took('World-stopped marking took '), took('Complete collection took ')
        if bstop: runstop = max(bstop)
        if ball: runp, ph = max(ball), ball
        res[name].append((float(u) + float(s), int(m) / 1024, coll, runp if ph else pause, exitp if cyc else None,
                          wall, runstop if (ph or goc or bstop) else None))
base = statistics.median(x[0] for x in res[configs[0][0]])
print('| configuration | CPU s | ÷ glibc | to end of main s | peak RSS MiB | collections | longest wait of the allocating thread ms | longest world stop ms | exit cycle ms |')
print('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
for name, _, _ in configs:
    xs = res[name]
    cpu = statistics.median(x[0] for x in xs)
    rss = statistics.median(x[1] for x in xs)
    coll = xs[0][2]
    pauses = [x[3] for x in xs if x[3] is not None]
    exits = [x[4] for x in xs if x[4] is not None]
    walls = [x[5] for x in xs if x[5] is not None]
    stops = [x[6] for x in xs if x[6] is not None]
    print('| %s | %.2f | %.2fx | %s | %.0f | %s | %s | %s | %s |' % (name, cpu, cpu / base,
          '%.2f' % statistics.median(walls) if walls else 'n/a', rss, '—' if coll is None else coll,
          '%.1f' % statistics.median(pauses) if pauses else 'n/a',
          '%.1f' % statistics.median(stops) if stops else 'n/a',
          '%.1f' % statistics.median(exits) if exits else 'n/a'))
