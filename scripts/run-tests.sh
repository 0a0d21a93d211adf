#!/bin/sh
# Runs every test suite and prints one closing line "N passed, N failed".
#   - criterion suites: build/test/unit-* (each test counted from its TAP line)
#   - integration suites: test/integration/*.sh; each prints "PASS: name" / "FAIL: name"
#     lines, one per case, and is run with LIB (absolute path of build/libscvgc.so),
#     ROOT (repository root) and BIN (build/test/progs, the compiled test programs).
# Exit status: 0 when nothing failed.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIB="$ROOT/build/libscvgc.so"
BIN="$ROOT/build/test/progs"
export ROOT LIB BIN
# The sanitizer builds of the unit suites: leaks of criterion's own runner are not ours.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
pass=0; fail=0
log=$(mktemp -d)
for t in "$ROOT"/build/test/unit-*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  "$t" --tap="$log/$name.tap" -j2 >"$log/$name.out" 2>&1
  p=$(grep -c '^ok ' "$log/$name.tap" 2>/dev/null); p=${p:-0}
  f=$(grep -c '^not ok ' "$log/$name.tap" 2>/dev/null); f=${f:-0}
  # a suite that crashed before writing its TAP counts as one failure
  if [ "$p" = 0 ] && [ "$f" = 0 ]; then f=1; fi
  echo "$name: $p passed, $f failed"
  if [ "$f" != 0 ]; then grep '^not ok' "$log/$name.tap" 2>/dev/null; tail -20 "$log/$name.out"; fi
  pass=$((pass + p)); fail=$((fail + f))
done
for t in "$ROOT"/test/integration/*.sh; do
  [ -f "$t" ] || continue
  name=$(basename "$t" .sh)
  sh "$t" >"$log/$name.out" 2>&1
  rc=$?
  p=$(grep -c '^PASS: ' "$log/$name.out"); f=$(grep -c '^FAIL: ' "$log/$name.out")
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; echo "FAIL: $name exited $rc" >>"$log/$name.out"; fi
  echo "$name: $p passed, $f failed"
  if [ "$f" != 0 ]; then grep -A3 '^FAIL: ' "$log/$name.out" | head -40; fi
  pass=$((pass + p)); fail=$((fail + f))
done
rm -rf "$log"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
