#!/bin/sh
# test/leaks/run.sh — the leak-case corpus: builds every case, runs it under libscvgc and checks
# the JSON report it writes against the ground truth in the case's header.
#
#     LIB=/abs/build/libscvgc.so ROOT=/abs/repo sh test/leaks/run.sh [NAME...]
#
# Prints one "PASS: <case>" or "FAIL: <case>" line per case (a few indented detail lines follow
# a FAIL) and exits 0; NAMEs (file names without extension) run only those cases.
#
# README — the corpus
# -------------------
# Every test/leaks/*.c and *.cpp except lib*.c is a case: a small program in one user
# situation. lib*.c are shared libraries that cases dlopen() (built as build/test/leaks/lib*.so,
# next to the programs; leakcase.h's open_sibling_library() finds them there). leakcase.h holds
# the helpers and the discipline that makes the ground truth exact: read its banner first.
#
# Cases are compiled with gcc / g++ -g -O0 -pthread -Wall -Wextra (plus -ldl when they use dl*)
# into build/test/leaks/NAME, and run with the environment
#     LD_PRELOAD=$LIB SCVGC_JSON=<tmp>/NAME.%p.json SCVGC_REPORT=none <the case's env: lines>
# under a timeout (LEAKS_TIMEOUT, 30 s), every other SCVGC_* variable unset. The JSON reports
# (one per process that exits normally) and the exit status go to check.py.
#
# The header: the comment lines `// key: value` that open the file (the first line not starting
# with // ends it; plain comment lines inside it are allowed). Keys:
#
#   // case: <the user situation, one line>                                        (required)
#         e.g. "a leak reachable only from a dlopen'd library's TLS is not reported"
#   // expect: direct_objects=N direct_bytes=N indirect_objects=N indirect_bytes=N  (required)
#         the report's totals, all four required; also suppressed_objects=N when it matters.
#   // expect-leak: function=F kind=direct|indirect objects=N bytes=N [groups=N]
#         the groups of that kind whose stack names F, in any frame, must add up to N objects
#         and N bytes (and number N when groups= is given). At least one must exist.
#   // expect-not-reported: F [F ...]
#         no group of any kind may name F in its stack: what F allocated is not a leak.
#   // expect-order: F1 F2 [...]
#         the first group naming F1 comes before the first naming F2, and so on.
#   // expect-exit: N       the exit status under the library (default 0).
#   // env: VAR=VALUE ...   extra environment (no spaces inside a value). @SRCDIR@ becomes
#                           test/leaks, @BINDIR@ build/test/leaks (absolute). SCVGC_MODE here
#                           also changes the expected `mode`, SCVGC_STACK_DEPTH the frame limit.
#   // cflags: FLAGS        extra compiler flags (e.g. -O2 for a case that needs it).
#   // reports: N           number of JSON reports (default 1): one per process that exits
#                           through exit(), e.g. 2 for a fork whose child exits.
#   // child-expect: / child-expect-leak: / child-expect-not-reported:
#         the same, for every report other than that of the process run.sh started.
#
# Meaning of the numbers. Bytes are the sizes the program requested (the last realloc's size;
# new[] includes the array cookie). direct: nothing live points to the object; indirect: only
# leaked objects do; an unreachable cycle reports one member as direct and the rest indirect.
# A function matches a frame by its exact name, its demangled C++ name (F(...), ns::F(...)) or
# its mangled one. Every report is also checked for: version 1; mode (leak unless the env says
# otherwise); pid equal to the one in its file name; at most SCVGC_STACK_DEPTH (16) frames per
# group; the groups of each kind adding up to the totals. A missing report is a FAIL.
#
# When the checked moment is not the exit, the case calls scvgc_leak_check() (found with
# dlsym) and then _exit(0)s, so that the report on disk is the one the check wrote.
# Under plain glibc (no LD_PRELOAD) every case runs the same code and exits 0.
#
# How the ground truth is kept honest: selftest/run.sh checks check.py itself on hand-written
# reports; oracle/valgrind.sh runs the corpus under valgrind's memcheck (an independent
# conservative leak checker) and checks its findings, mapped to this report shape (stacks cut,
# suppressions and mode applied as the library would), against the same headers: every case
# agrees except the one about the library's exit status, which it skips. Memcheck also
# shows what the collector must see beyond the cases' own objects: glibc reaches the DTV it
# callocs in pthread_create (272 bytes here) and the 2304-byte _dl_find_object segment it
# mallocs in dlopen only through interior pointers; without them every thread or dlopen case
# would report one more leak.
set -u

ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIB=${LIB:-$ROOT/build/libscvgc.so}
SRC=$ROOT/test/leaks
BIN=$ROOT/build/test/leaks
CC=${CC:-gcc}
CXX=${CXX:-g++}
PYTHON=${PYTHON:-python3}
TIMEOUT=${LEAKS_TIMEOUT:-30}

# The user's own SCVGC_* settings must not change a case's ground truth.
for v in $(env | sed -n 's/^\(SCVGC[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done

mkdir -p "$BIN"
[ -f "$LIB" ] || echo "note: $LIB does not exist: every case will fail"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/scvgc-leaks.XXXXXX") || exit 0
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# header FILE KEY: the values of every `// KEY:` line of FILE's header.
header() {
  awk -v key="$2" '
    !/^\/\// { exit }
    { line = $0; sub(/^\/\/[ \t]*/, "", line)
      if (index(line, key ":") == 1) { v = substr(line, length(key) + 2); sub(/^[ \t]+/, "", v); print v } }
  ' "$1"
}

# details FILE: the first lines of FILE, indented, after a FAIL line.
details() { head -n 25 "$1" | sed 's/^\([^ ]\)/  \1/'; }

for src in "$SRC"/lib*.c; do
  [ -f "$src" ] || continue
  so="$BIN/$(basename "$src" .c).so"
  "$CC" -g -O0 -shared -fPIC -Wall -Wextra -o "$so" "$src" >"$tmp/lib.build" 2>&1 ||
    { echo "note: $(basename "$src") does not build; the cases that load it will fail"; details "$tmp/lib.build"; }
done

only=" $* "
ran=0
for src in "$SRC"/*.c "$SRC"/*.cpp; do
  [ -f "$src" ] || continue
  file=$(basename "$src")
  name=${file%.*}
  case $file in lib*) continue ;; esac
  case $only in "  ") ;; *" $name "*) ;; *) continue ;; esac
  ran=$((ran + 1))
  desc=$(header "$src" case | head -n 1)
  [ -n "$desc" ] || desc="$name (no // case: line)"

  case $file in *.cpp) cc=$CXX ;; *) cc=$CC ;; esac
  ldl=
  grep -q 'dlopen\|dlsym\|find_leak_check\|open_sibling_library' "$src" && ldl=-ldl
  set -f
  # shellcheck disable=SC2046 # cflags are words on purpose
  "$cc" -g -O0 -pthread -Wall -Wextra -I"$SRC" $(header "$src" cflags) -o "$BIN/$name" "$src" \
    $ldl >"$tmp/$name.build" 2>&1
  built=$?
  set +f
  if [ $built != 0 ]; then
    echo "FAIL: $desc"
    echo "  $file does not compile:"
    details "$tmp/$name.build"
    continue
  fi

  envs=$(header "$src" env | sed "s|@SRCDIR@|$SRC|g; s|@BINDIR@|$BIN|g")
  rm -f "$tmp/$name".*.json "$tmp/$name.pid"
  # The inner sh records its pid and execs env, which execs the program: the pid is the
  # program's, so its report is NAME.<that pid>.json; any other report is a child's.
  set -f
  # shellcheck disable=SC2086,SC2016 # env lines are words on purpose; $$ is the inner sh's
  timeout -k 5 "$TIMEOUT" sh -c 'echo $$ >"$0"; exec "$@"' "$tmp/$name.pid" \
    env LD_PRELOAD="$LIB" SCVGC_JSON="$tmp/$name.%p.json" SCVGC_REPORT=none $envs \
    "$BIN/$name" >"$tmp/$name.out" 2>&1 </dev/null
  rc=$?
  set +f
  pid=$(cat "$tmp/$name.pid" 2>/dev/null)

  set --
  for j in "$tmp/$name".*.json; do [ -f "$j" ] && set -- "$@" "$j"; done
  if "$PYTHON" "$SRC/check.py" "$src" --pid "${pid:-0}" --rc "$rc" --output "$tmp/$name.out" \
       "$@" >"$tmp/$name.check" 2>&1; then
    echo "PASS: $desc"
  else
    echo "FAIL: $desc"
    details "$tmp/$name.check"
  fi
done

[ $ran -gt 0 ] || echo "note: no case matched:$only"
exit 0
