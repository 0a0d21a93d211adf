#!/bin/sh
# fuzz.sh — the fuzz harness (test/fuzz/) for a bounded time: random and coverage-guided
# sequences of malloc, free, realloc, memalign, calloc, hand-offs between threads and
# collections on the core, every object checked against a shadow model (test/fuzz/engine.c).
#
#   libFuzzer target, collect mode          12 s (skipped, with a SKIP line, without clang-14)
#   standalone driver, collect mode          8 s (stop-the-world marking, the default)
#   standalone driver, collect mode, SCVGC_CONCURRENT=on    4 s (concurrent marking)
#   standalone driver, leak mode with SCVGC_CONCURRENT=on    4 s
#   standalone driver, leak and off modes    4 s each
#
# A case passes when the run ends by itself with its closing line and status 0. On a failure
# the harness's message (operation, object, expected and found bytes) and the failing input
# (base64) are in the details; replay it with build/test/fuzz-driver FILE.
# The hour-long run outside CI and its figures: docs/compatibility.md.
. "$ROOT/test/integration/common.inc"

DRV=$ROOT/build/test/fuzz-driver
LF=$ROOT/build/test/fuzz-libfuzzer
mkdir -p "$T/crash" "$T/corpus"

# The failing inputs, base64 (at most 4 KiB each): save one with base64 -d >crash.bin and
# replay it with build/test/fuzz-driver crash.bin (SCVGC_MODE as in the case).
saved_inputs() {
	for _f in "$T"/crash/*; do
		[ -f "$_f" ] || continue
		printf 'input %s (base64): %s\n' "$(basename "$_f")" "$(head -c 4096 "$_f" | base64 -w0)"
	done
}

driver_case() { # MODE SECONDS [SCVGC_CONCURRENT]
	_conc=${3:-}
	_label="random heap operation sequences keep every object intact (standalone driver, SCVGC_MODE=$1${_conc:+ SCVGC_CONCURRENT=$_conc}, $2 s)"
	if [ ! -x "$DRV" ]; then
		fail "$_label" "$DRV is not built (make test builds it)"
		return
	fi
	timeout -k 5 $(($2 + 60)) env ${_conc:+SCVGC_CONCURRENT=$_conc} SCVGC_MODE="$1" SCVGC_REPORT=none "$DRV" -t "$2" -o "$T/crash" \
		>"$T/drv-$1.out" 2>"$T/drv-$1.err"
	rc=$?
	if [ "$rc" = 0 ] && grep -q ': ok$' "$T/drv-$1.out"; then
		pass "$_label"
		sed 's/^/    /' "$T/drv-$1.out"
	else
		fail "$_label" "$(rc_text "$rc" $(($2 + 60)))" "$(tail_of "$T/drv-$1.err" 6)" \
			"$(saved_inputs)"
	fi
}

libfuzzer_case() {
	_label="coverage-guided heap operation sequences keep every object intact (libFuzzer, SCVGC_MODE=collect, 12 s)"
	if [ ! -x "$LF" ]; then
		if command -v clang-14 >/dev/null 2>&1; then
			fail "$_label" "$LF is not built although clang-14 is installed (make test builds it)"
		else
			echo "SKIP: $_label: clang-14 is not installed (packages clang, libclang-rt-14-dev)"
		fi
		return
	fi
	timeout -k 5 80 env SCVGC_MODE=collect SCVGC_REPORT=none "$LF" -max_total_time=12 \
		-max_len=4096 -timeout=30 -artifact_prefix="$T/crash/" "$T/corpus" \
		>"$T/lf.out" 2>"$T/lf.err"
	rc=$?
	if [ "$rc" = 0 ] && grep -q '^Done [0-9]* runs' "$T/lf.err"; then
		pass "$_label"
		grep -E '^Done|^scvgc-fuzz' "$T/lf.err" | sed 's/^/    /'
	else
		fail "$_label" "$(rc_text "$rc" 80)" "$(grep -E 'scvgc-fuzz|ERROR|SCVGC|assert' "$T/lf.err" | tail -n 6 | cut -c1-200)" \
			"$(tail_of "$T/lf.err" 4)" "$(saved_inputs)"
	fi
}

libfuzzer_case
driver_case collect 8
driver_case collect 4 on
driver_case leak 4 on
driver_case leak 4
driver_case off 4
exit 0
