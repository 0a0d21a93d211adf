#!/usr/bin/env python3
"""GCBench-style benchmark (bench/workloads/gcbench.c): libscvgc collect mode against Boehm GC
(linked, GC_MALLOC) and against glibc with explicit frees. Runs interleaved, prints a markdown
table of medians: CPU s (user+sys), peak RSS, collections, longest pause.
  python3 bench/gcbench.py [--runs N]"""
import json, os, resource, statistics, subprocess, sys, tempfile

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
configs = [
    ('glibc, explicit frees', [withfree], {}),
    ('Boehm GC 8.2, linked (GC_MALLOC)', [boehm], {}),
    ('libscvgc collect, no frees', [nofree], {'LD_PRELOAD': LIB, 'SCVGC_MODE': 'collect', 'SCVGC_REPORT': 'none', 'SCVGC_JSON': J}),
    ('libscvgc collect, no frees, SCVGC_STACK_DEPTH=0', [nofree], {'LD_PRELOAD': LIB, 'SCVGC_MODE': 'collect', 'SCVGC_REPORT': 'none', 'SCVGC_JSON': J, 'SCVGC_STACK_DEPTH': '0'}),
]
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
        out = subprocess.run(['/usr/bin/time', '-f', '%U %S %M', '-o', t] + pre + cmd, env=ee,
                             capture_output=True, text=True).stdout
        u, s, m = open(t).read().split()[-3:]
        coll, pause = None, None
        for line in out.splitlines():
            if line.startswith('collections'): coll = int(line.split()[1])
        if os.path.exists(J):
            g = json.load(open(J))['gc']
            coll, pause = g['cycles'], g['pause_max_ns'] / 1e6
        res[name].append((float(u) + float(s), int(m) / 1024, coll, pause, out.strip().splitlines()[-1] if out else ''))
base = statistics.median(x[0] for x in res[configs[0][0]])
print('| configuration | CPU s | ÷ glibc | peak RSS MiB | collections | longest pause ms |')
print('|---|---:|---:|---:|---:|---:|')
for name, _, _ in configs:
    xs = res[name]
    cpu = statistics.median(x[0] for x in xs)
    rss = statistics.median(x[1] for x in xs)
    coll = xs[0][2]
    pauses = [x[3] for x in xs if x[3] is not None]
    print('| %s | %.2f | %.2fx | %.0f | %s | %s |' % (name, cpu, cpu / base, rss, '—' if coll is None else coll,
          '%.1f' % statistics.median(pauses) if pauses else 'n/a'))
