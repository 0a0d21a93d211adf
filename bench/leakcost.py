#!/usr/bin/env python3
"""The cost of leak mode (the default: every allocation's stack) on allocation-heavy programs,
against glibc: GCBench with explicit frees (bench/workloads/gcbench.c -DFREE: ~15 M allocations
from recursive stacks), python3 (bench/workloads/pywork.py), perl (a hash of 300k arrays) and
sqlite3 (bench/workloads/sqlite.sql). Runs every configuration of a round, then the next round
(interleaved), and prints a markdown table of the median CPU seconds (user + sys of the
program, its exit report included) and its ratio to glibc, and the median peak RSS.
  python3 bench/leakcost.py [--runs N] [--lib NAME=PATH]... [--only gcbench,python3,...]
--lib adds a libscvgc build to compare (default: build/libscvgc.so as "libscvgc leak").
python3 is the interpreter running this script (not a wrapper script such as pyenv's shim)."""
import os, statistics, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
args = sys.argv[1:]
runs = int(args[args.index('--runs') + 1]) if '--runs' in args else 5
libs = [a.split('=', 1) for i, a in enumerate(args) if i and args[i - 1] == '--lib']
if not libs:
    libs = [('libscvgc leak', os.path.join(ROOT, 'build', 'libscvgc.so'))]
only = args[args.index('--only') + 1].split(',') if '--only' in args else None
tmp = tempfile.mkdtemp()
gcb = os.path.join(tmp, 'gcbench-free')
subprocess.check_call(['gcc', '-O2', '-DFREE', '-o', gcb,
                       os.path.join(ROOT, 'bench', 'workloads', 'gcbench.c')])
sql = open(os.path.join(ROOT, 'bench', 'workloads', 'sqlite.sql')).read()
PERL = ('my %h; $h{$_} = [$_, "x" x 20] for 1..300000; my $s = 0; '
        '$s += length($h{$_}[1]) for keys %h; delete $h{$_} for 1..150000; print "$s\\n"')
programs = [
    ('gcbench', [gcb], None, {}),
    ('python3', [sys.executable, '-s', os.path.join(ROOT, 'bench', 'workloads', 'pywork.py'), '30000'],
     None, {'PYTHONMALLOC': 'malloc'}),
    ('perl', ['perl', '-e', PERL], None, {}),
    ('sqlite3', ['sqlite3', '-bail', ':memory:', '-cmd', '.parameter set @n 150000'], sql, {}),
]
if only:
    programs = [p for p in programs if p[0] in only]
configs = [('glibc', None)] + [(n, p) for n, p in libs]
res = {}
for r in range(runs):
    for prog, cmd, stdin, penv in programs:
        for name, lib in configs:
            t = os.path.join(tmp, 't')
            env = {k: v for k, v in os.environ.items() if not k.startswith('SCVGC') and k != 'LD_PRELOAD'}
            env.update(penv)
            pre = ['env'] + (['LD_PRELOAD=' + lib, 'SCVGC_REPORT=none'] if lib else [])
            p = subprocess.run(['/usr/bin/time', '-f', '%U %S %M', '-o', t] + pre + cmd, env=env,
                               input=stdin, capture_output=True, text=True)
            if p.returncode:
                sys.exit('%s under %s failed (%d): %s' % (prog, name, p.returncode, p.stderr[-300:]))
            u, s, m = open(t).read().split()[-3:]
            res.setdefault((prog, name), []).append((float(u) + float(s), int(m) / 1024))
print('| program | configuration | CPU s | ÷ glibc | peak RSS MiB |')
print('|---|---|---:|---:|---:|')
for prog, *_ in programs:
    base = statistics.median(x[0] for x in res[(prog, 'glibc')])
    for name, _ in configs:
        xs = res[(prog, name)]
        cpu = statistics.median(x[0] for x in xs)
        print('| %s | %s | %.2f | %.2fx | %.0f |' % (prog, name, cpu, cpu / base,
                                                   statistics.median(x[1] for x in xs)))
