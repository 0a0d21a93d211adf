#!/bin/sh
# test/leaks/oracle/valgrind.sh — cross-checks the corpus's ground truth against valgrind's
# memcheck, an independent conservative leak checker: runs every case (as built by run.sh in
# build/test/leaks) under memcheck, turns its leak records into a libscvgc-shaped report
# (vg2json.py) and checks that with check.py. Prints PASS/FAIL lines like run.sh.
#
#     ROOT=/abs/repo sh test/leaks/oracle/valgrind.sh [NAME...]     (run test/leaks/run.sh first)
#
# Where memcheck differs from the contract the mapping follows the contract (see vg2json.py);
# the cases that exercise the library itself, not the truth, cannot pass here and are listed as
# "skip": the exit status (SCVGC_EXITCODE), a dead stack frame memcheck does not see
# either way, and the roots memcheck does not read (a write-only mapping; unaligned pointers
# in a JIT's rwx code cache). Not part of make test: valgrind is slow and this checks the
# corpus, not the code.
set -u
ROOT=${ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
SRC=$ROOT/test/leaks
BIN=$ROOT/build/test/leaks
for v in $(env | sed -n 's/^\(SCVGC[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/scvgc-oracle.XXXXXX") || exit 1
[ -n "${KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT
gcc -shared -fPIC -O1 -o "$tmp/libvgshim.so" "$SRC/oracle/vgshim.c" || exit 1
only=" $* "
for src in "$SRC"/*.c "$SRC"/*.cpp; do
  file=$(basename "$src"); name=${file%.*}
  case $file in lib*) continue ;; esac
  case $only in "  ") ;; *" $name "*) ;; *) continue ;; esac
  desc=$(sed -n 's|^// case: *||p' "$src" | head -n 1)
  case $name in
  exitcode_leak) echo "skip: $desc (the exit status is the library's)"; continue ;;
  root_jit_code_cache) echo "skip: $desc (memcheck reads aligned words only)"; continue ;;
  root_mapping_write_only) echo "skip: $desc (memcheck does not read write-only mappings)"; continue ;;
  esac
  case $name in thread_exited_dead_stack) echo "skip: $desc (memcheck reads the stacks glibc caches for exited threads, their static TLS included, as live)"; continue ;; esac
  case $name in api_dead_stack) echo "skip: $desc (the count scvgc_leak_check returns is the library's)"; continue ;; esac
  case $name in collect_dead_stack_malloc_cycle) echo "skip: $desc (reclaiming during the run is collect mode's)"; continue ;; esac
  [ -x "$BIN/$name" ] || { echo "FAIL: $desc"; echo "  not built (run test/leaks/run.sh first)"; continue; }
  envs=$(awk '!/^\/\//{exit} sub(/^\/\/ env: */, "")' "$src" | sed "s|@SRCDIR@|$SRC|g; s|@BINDIR@|$BIN|g")
  check=full
  grep -q find_leak_check "$src" && check=no
  set -f
  # shellcheck disable=SC2086,SC2016
  timeout 300 sh -c 'echo $$ >"$0"; exec "$@"' "$tmp/$name.pid" \
    env LD_PRELOAD="$tmp/libvgshim.so" valgrind -q --xml=yes --xml-file="$tmp/$name.%p.xml" \
    --leak-check=$check --show-leak-kinds=definite,indirect,possible --num-callers=40 \
    --run-libc-freeres=no --run-cxx-freeres=no "$BIN/$name" >"$tmp/$name.out" 2>&1 </dev/null
  rc=$?
  set +f
  xmls=$(ls "$tmp/$name".*.xml 2>/dev/null)
  set -f --
  for x in $xmls; do
    j=${x%.xml}.json
    # shellcheck disable=SC2086
    env $envs python3 "$SRC/oracle/vg2json.py" "$x" "$j" && set -- "$@" "$j"
  done
  set +f
  if python3 "$SRC/check.py" "$src" --pid "$(cat "$tmp/$name.pid")" --rc "$rc" \
      --output "$tmp/$name.out" "$@" >"$tmp/$name.check" 2>&1; then
    echo "PASS: $desc"
  else
    echo "FAIL: $desc"; head -n 25 "$tmp/$name.check"
  fi
  for j in "$@"; do
    p=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(" ".join("%s/%s:%s" % (g["objects"], g["bytes"], g["stack"][0]["function"] if g["stack"] else "?") for g in r["possibly"]))' "$j")
    [ -n "$p" ] && echo "  (memcheck: possibly lost, reachable by interior pointers only: $p)"
  done
done
exit 0
