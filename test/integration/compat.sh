#!/bin/sh
# compat.sh — the short subset of `make compat` that make test runs: a dozen modules of
# CPython's regression suite (scripts/compat_python.py --ci: ctypes, mmap, threads, select,
# json, re, dict, weakref, zlib, struct) with PYTHONMALLOC=malloc, without the preload
# and in modes leak and collect (SCVGC_GOGC=10). A module passes in a mode when every test
# case has the outcome it has without the preload; a case whose outcome also varies without
# the preload (the script reruns a module that differs) is flaky and does not fail.
# Needs the Debian packages python3.11 and libpython3.11-testsuite (.ci/run installs them).
# The full list, the programs and the figures: `make compat`, docs/compatibility.md.
. "$ROOT/test/integration/common.inc"

broken=$(preload_broken)
if [ -n "$broken" ]; then
	fail "CPython's regression suite subset under the preload" "the library cannot be preloaded: $broken"
	exit 0
fi
if [ ! -x /usr/bin/python3.11 ] || [ ! -f /usr/lib/python3.11/test/test_json/__init__.py ] &&
	[ ! -f /usr/lib/python3.11/test/test_json.py ]; then
	fail "CPython's regression suite subset under the preload" \
		"python3.11 and its regression suite are not installed (Debian packages python3.11 libpython3.11-testsuite)"
	exit 0
fi
/usr/bin/python3 "$ROOT/scripts/compat_python.py" --ci --pass-fail --timeout 300 --out "$T/python" >"$T/log" 2>&1
rc=$?
# the PASS/FAIL lines, and the 4-space detail lines under each FAIL
awk '/^(PASS|FAIL): / { print; f = /^FAIL/; next } f && /^    [^ ]/ { print; next } { f = 0 }' "$T/log"
if ! grep -q '^python modules: ' "$T/log"; then
	fail "compat_python.py --ci ran to its end" "exit status $rc" "$(tail_of "$T/log" 6)"
fi
exit 0
