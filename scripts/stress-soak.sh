#!/bin/sh
# stress-soak.sh — `make stress`: test/progs/churn in every mode, under the release and the
# debug build (checkers on), at many thread counts, over and over for STRESS_MINUTES minutes
# (default 5). Prints one line per run and, at the end, "N passed, N failed"; exits 1 when any
# run failed, keeping that run's stderr in build/stress/.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/build/test/progs/churn"
out="$ROOT/build/stress"
mkdir -p "$out"
end=$(($(date +%s) + ${STRESS_MINUTES:-5} * 60))
pass=0 fail=0 n=0
while [ "$(date +%s)" -lt "$end" ]; do
	for lib in libscvgc.so libscvgc-debug.so; do
		for mode in off leak collect; do
			for threads in 2 8 32 64 128; do
				[ "$(date +%s)" -lt "$end" ] || break 3
				n=$((n + 1))
				rounds=$((192 / threads + 2))
				timeout -k 5 600 env LD_PRELOAD="$ROOT/build/$lib" SCVGC_MODE=$mode SCVGC_GOGC=10 \
					SCVGC_REPORT=none "$BIN" "$threads" "$rounds" >"$out/run.out" 2>"$out/run.err"
				rc=$?
				if [ "$rc" = 0 ] && grep -q '^churn: OK' "$out/run.out"; then
					pass=$((pass + 1))
					echo "ok   $lib $mode $threads threads x $rounds rounds"
				else
					fail=$((fail + 1))
					cp "$out/run.err" "$out/fail-$n.err"
					echo "FAIL $lib $mode $threads threads x $rounds rounds: exit $rc ($out/fail-$n.err)"
					head -n 3 "$out/run.err" | sed 's/^/     /'
				fi
			done
		done
	done
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
