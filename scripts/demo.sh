#!/bin/sh
# make demo: run real programs under libscvgc and show what the library reports.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
scvgc="$root/scripts/scvgc"
echo "== python3 under libscvgc (SCVGC_MODE=off): same output as without it"
"$scvgc" --mode off -- /usr/bin/python3 -c 'import json; print(len(json.dumps([{str(i): [i] * 5} for i in range(50000)])))'
echo "== sqlite3 under libscvgc, then the heap's own statistics (malloc_stats)"
"$scvgc" --mode off -- sqlite3 :memory: \
  'create table t(a,b); with recursive c(x) as (select 1 union all select x+1 from c where x<100000)
   insert into t select x, hex(randomblob(20)) from c; select count(*), sum(length(b)) from t;'
PYTHONMALLOC=malloc "$scvgc" --mode off -- /usr/bin/python3 -c '
import ctypes, sys
libc = ctypes.CDLL(None)
data = [bytearray(100) for _ in range(100000)]
sys.stdout.flush(); libc.malloc_stats()'
