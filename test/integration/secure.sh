#!/bin/sh
# A set-user-ID program (AT_SECURE) ignores every SCVGC_* variable: the report goes to stderr
# in leak mode whatever the environment says, and no file is written where SCVGC_REPORT or
# SCVGC_JSON point (SPEC "Behaviour users rely on", issue 13 point 8).
# Needs root (to make a set-user-ID copy owned by another user) and a C compiler: without
# them the case says SKIP, not PASS.
. "$ROOT/test/integration/common.inc"

name="a set-user-ID program ignores SCVGC_* and reports on stderr"
if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1 || ! command -v "${CC:-cc}" >/dev/null; then
	echo "SKIP: $name (needs root, a nobody user and a C compiler)"
	exit 0
fi
# linked, not preloaded: the loader ignores LD_PRELOAD paths in a secure-execution process
libdir=$(dirname "$LIB")
if ! "${CC:-cc}" -O1 -o "$T/suid" "$ROOT/test/progs/secure_leak.c" "$LIB" -Wl,-rpath,"$libdir" 2>"$T/cc.err"; then
	fail "$name" "cannot build the program:" "$(tail_of "$T/cc.err" 5)"
	exit 0
fi
chown nobody "$T/suid" && chmod 4755 "$T/suid"
mkdir "$T/out" && chmod 777 "$T/out"
timeout -k 5 60 env SCVGC_MODE=collect SCVGC_REPORT="$T/out/r.txt" SCVGC_JSON="$T/out/r.json" \
	SCVGC_GOGC=junk "$T/suid" >"$T/stdout" 2>"$T/stderr"
rc=$?
if [ "$rc" != 0 ]; then
	fail "$name" "$(rc_text $rc 60)" "$(tail_of "$T/stderr" 10)"
elif ! grep -q "scvgc: .*(leak mode" "$T/stderr"; then
	fail "$name" "no leak-mode report on stderr:" "$(tail_of "$T/stderr" 10)"
elif grep -q "SCVGC_GOGC" "$T/stderr" || [ -e "$T/out/r.txt" ] || [ -e "$T/out/r.json" ]; then
	fail "$name" "the environment was read:" "$(ls "$T/out")" "$(tail_of "$T/stderr" 10)"
else
	pass "$name"
fi

# The same program, not set-user-ID, reads its environment (the case above can fail).
name="the same program, not set-user-ID, honours SCVGC_*"
chown root "$T/suid" && chmod 755 "$T/suid"
rm -f "$T/out/"*
timeout -k 5 60 env SCVGC_MODE=collect SCVGC_REPORT="$T/out/r.txt" "$T/suid" >"$T/stdout" 2>"$T/stderr"
rc=$?
if [ "$rc" = 0 ] && grep -q "(collect mode" "$T/out/r.txt" 2>/dev/null; then pass "$name"
else fail "$name" "$(rc_text $rc 60)" "$(tail_of "$T/stderr" 10)"; fi
