#!/bin/sh
# Runs every test suite and prints one line per suite "NAME: N passed, N failed" and one closing
# line "N passed, N failed".
#   scripts/run-tests.sh            every suite (make test)
#   scripts/run-tests.sh SUITE...   only these: paths of unit binaries or integration scripts
#   - criterion suites: build/test/unit-* (each test counted from its TAP line)
#   - integration suites: test/integration/*.sh; each prints "PASS: name" / "FAIL: name"
#     lines, one per case, and is run with LIB (absolute path of build/libscvgc.so),
#     ROOT (repository root) and BIN (build/test/progs, the compiled test programs).
# Results for CI (docs/testing.md): $TEST_RESULTS (default build/test-results/; its *.tap and
# *.xml removed first)
# gets per suite NAME.tap (TAP version 13) and NAME.xml (JUnit XML): criterion's own --tap and
# --xml for the unit suites, and for an integration suite the same made from its PASS/FAIL
# lines by scripts/test_results.py (a failure's indented details in the TAP's YAML block and
# the JUnit <failure>). Each file counts what the suite's line says. Without python3 the
# integration suites get no files (said once on stderr); the lines are the same.
# Exit status: 0 when nothing failed.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIB="$ROOT/build/libscvgc.so"
BIN="$ROOT/build/test/progs"
export ROOT LIB BIN
# The sanitizer builds of the unit suites: leaks of criterion's own runner are not ours.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
RESULTS=${TEST_RESULTS:-$ROOT/build/test-results}
# only the files of an earlier run go (TEST_RESULTS may name a directory that holds others)
mkdir -p "$RESULTS" && rm -f "$RESULTS"/*.tap "$RESULTS"/*.xml || exit 2
PY=$(command -v python3) || echo "run-tests: no python3: no TAP or JUnit files for the integration suites" >&2
conv="$ROOT/scripts/test_results.py"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# the suites: the arguments, or every unit binary then every integration script
[ $# -gt 0 ] || set -- "$ROOT"/build/test/unit-* "$ROOT"/test/integration/*.sh
pass=0; fail=0
log=$(mktemp -d)
for t in "$@"; do
  case "$t" in *.sh) continue ;; esac
  [ -x "$t" ] || continue
  name=$(basename "$t")
  tap="$RESULTS/$name.tap" xml="$RESULTS/$name.xml"
  t0=$(now)
  "$t" --tap="$tap" --xml="$xml" -j2 >"$log/$name.out" 2>&1
  p=$(grep -c '^ok ' "$tap" 2>/dev/null); p=${p:-0}
  f=$(grep -c '^not ok ' "$tap" 2>/dev/null); f=${f:-0}
  # a suite that crashed before writing its TAP counts as one failure
  if [ "$p" = 0 ] && [ "$f" = 0 ]; then f=1; fi
  t1=$(now)
  echo "$name: $p passed, $f failed"
  if [ "$f" != 0 ]; then grep '^not ok' "$tap" 2>/dev/null; tail -20 "$log/$name.out"; fi
  # criterion's files kept when whole; else made again from what there is (the same counts)
  [ -n "$PY" ] && "$PY" "$conv" unit "$name" "$tap" "$xml" "$log/$name.out" "$(secs "$t0" "$t1")" >/dev/null
  pass=$((pass + p)); fail=$((fail + f))
done
for t in "$@"; do
  case "$t" in *.sh) ;; *) continue ;; esac
  [ -f "$t" ] || continue
  name=$(basename "$t" .sh)
  t0=$(now)
  sh "$t" >"$log/$name.out" 2>&1
  rc=$?
  p=$(grep -c '^PASS: ' "$log/$name.out"); f=$(grep -c '^FAIL: ' "$log/$name.out")
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; echo "FAIL: $name exited $rc" >>"$log/$name.out"; fi
  [ -n "$PY" ] && "$PY" "$conv" integration "$name" "$log/$name.out" "$RESULTS" "$(secs "$t0" "$(now)")" >/dev/null
  echo "$name: $p passed, $f failed"
  if [ "$f" != 0 ]; then grep -A3 '^FAIL: ' "$log/$name.out" | head -40; fi
  pass=$((pass + p)); fail=$((fail + f))
done
rm -rf "$log"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
