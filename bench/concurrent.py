#!/usr/bin/env python3
"""Concurrent marking against stop-the-world marking (issue 15), GCBench (bench/workloads/gcbench.c)
in one run, interleaved: libscvgc collect mode with SCVGC_CONCURRENT=on and off, Boehm GC
linked (stop-the-world, and its incremental mode: GC_ENABLE_INCREMENTAL=1). Prints a markdown
table of medians: longest pause (JSON pause_max_ns: every stop of every cycle, the exit check's
included; Boehm: the longest "World-stopped marking took" of GC_PRINT_STATS), p99 pause (JSON),
CPU s (user+sys), wall s, collections.
  python3 bench/concurrent.py [--runs N]"""
import json, os, re, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, 'build', 'libscvgc.so')
SRC = os.path.join(ROOT, 'bench', 'workloads', 'gcbench.c')
runs = int(sys.argv[sys.argv.index('--runs') + 1]) if '--runs' in sys.argv else 5
tmp = tempfile.mkdtemp()


def build(name, flags, libs=()):
    out = os.path.join(tmp, name)
    subprocess.check_call(['gcc', '-O2', *flags, '-o', out, SRC, *libs])
    return out


nofree = build('nofree', [])
try:
    boehm = build('boehm', ['-DBOEHM'], ['-lgc'])
except subprocess.CalledProcessError:
    boehm = None
J = os.path.join(tmp, 'r.json')
base = {'LD_PRELOAD': LIB, 'SCVGC_MODE': 'collect', 'SCVGC_REPORT': 'none', 'SCVGC_JSON': J}
configs = [('libscvgc collect, SCVGC_CONCURRENT=on', nofree, dict(base, SCVGC_CONCURRENT='on')),
           ('libscvgc collect, SCVGC_CONCURRENT=off', nofree, dict(base, SCVGC_CONCURRENT='off'))]
if boehm:
    configs += [('Boehm GC, stop-the-world', boehm, {'GC_PRINT_STATS': '1'}),
                ('Boehm GC, incremental (GC_ENABLE_INCREMENTAL=1)', boehm,
                 {'GC_PRINT_STATS': '1', 'GC_ENABLE_INCREMENTAL': '1'})]
res = {c[0]: [] for c in configs}
for r in range(runs):
    for name, prog, env in configs:
        if os.path.exists(J): os.unlink(J)
        e = {k: v for k, v in os.environ.items() if not k.startswith('SCVGC') and k != 'LD_PRELOAD'}
        e.update(env)
        t0 = time.time()
        before = os.times()
        p = subprocess.run([prog], env=e, capture_output=True, text=True)
        after = os.times()
        wall = time.time() - t0
        if p.returncode: sys.exit('%s failed (%d): %s' % (name, p.returncode, p.stderr[-500:]))
        cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
        pmax = p99 = coll = None
        if os.path.exists(J):
            g = json.load(open(J))['gc']
            pmax, p99, coll = g['pause_max_ns'] / 1e6, g.get('pause_p99_ns', 0) / 1e6, g['cycles']
        else:
            ms = [int(a) + int(b) / 1e6 for a, b in re.findall(r'World-stopped marking took (\d+) ms (\d+) ns', p.stderr)]
            pmax = max(ms) if ms else None
            coll = len(ms)
        res[name].append((pmax, p99, cpu, wall, coll))
print('| configuration | longest pause ms | p99 pause ms | CPU s | wall s | collections |')
print('|---|---:|---:|---:|---:|---:|')
for name, _, _ in configs:
    xs = res[name]
    med = lambda i: statistics.median(x[i] for x in xs if x[i] is not None) if any(x[i] is not None for x in xs) else None
    f = lambda v, fmt: fmt % v if v is not None else 'n/a'
    print('| %s | %s | %s | %s | %s | %s |' % (name, f(med(0), '%.2f'), f(med(1), '%.2f'), f(med(2), '%.2f'),
                                               f(med(3), '%.2f'), f(med(4), '%.0f')))
