#!/bin/sh
# compat.sh — `make compat`: CPython's regression suite under the preload
# (scripts/compat_python.py, every module of its list, modes leak and collect against a run
# without the preload) and the real programs with figures (scripts/compat-progs.sh).
# Results: build/compat/python/results.json, build/compat/python.md, build/compat/progs/
# figures.md; docs/compatibility.md holds the last results. Exit status 1 when something
# differs from the run without the preload (flaky tests excepted) or a program failed.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$ROOT/build/compat"
rc=0
/usr/bin/python3 "$ROOT/scripts/compat_python.py" --out "$ROOT/build/compat/python" \
	--markdown "$ROOT/build/compat/python.md" "$@" || rc=1
"$ROOT/scripts/compat-progs.sh" --out "$ROOT/build/compat/progs" || rc=1
echo "make compat: python tables in build/compat/python.md, program figures in build/compat/progs/figures.md"
exit $rc
