#!/bin/sh
# make demo: a leaky C program under libscvgc (the leak and RSS report, text and JSON),
# then real programs whose output is unchanged.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
scvgc="$root/scripts/scvgc"
mkdir -p "$root/build/demo"
cc -g -O0 "$root/scripts/demo/leaky.c" -o "$root/build/demo/leaky"
echo "== scripts/scvgc --json build/demo/leaky.json -- build/demo/leaky"
rm -f "$root/build/demo/leaky.json" # the library never overwrites a file it did not create
"$scvgc" --json "$root/build/demo/leaky.json" -- "$root/build/demo/leaky"
echo "== the same report as JSON (build/demo/leaky.json), first lines"
head -c 600 "$root/build/demo/leaky.json"; echo " ..."
echo "== scripts/scvgc report build/demo/leaky.json --html build/demo/leaky.html"
"$scvgc" report "$root/build/demo/leaky.json" --html "$root/build/demo/leaky.html"
echo "open build/demo/leaky.html in a browser: summary, leak table, icicle graph of the leaks"
echo "== python3 under libscvgc: same output as without it, and no leak of its own reported"
"$scvgc" -- /usr/bin/python3 -c 'import json; print(len(json.dumps([{str(i): [i] * 5} for i in range(50000)])))'
