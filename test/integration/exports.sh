#!/bin/sh
# The library exports the malloc family and nothing else; the core exports no malloc.
allowed="aligned_alloc calloc free free_aligned_sized free_sized mallinfo mallinfo2 malloc
malloc_stats malloc_trim malloc_usable_size mallopt memalign posix_memalign pvalloc realloc
reallocarray valloc malloc_info __libc_malloc __libc_free __libc_calloc __libc_realloc
__libc_memalign __libc_valloc __libc_pvalloc __libc_mallinfo __libc_mallopt
scvgc_collect scvgc_leak_check scvgc_leak_counts scvgc_ignore_object scvgc_disable scvgc_enable
scvgc_register_root_region scvgc_unregister_root_region scvgc_register_excluded_region
scvgc_unregister_excluded_region dlclose sigaltstack"
got=$(nm -D --defined-only "$LIB" | awk '{print $3}' | sed 's/@.*//' | sort -u)
stray=""
for s in $got; do
  case " $(echo $allowed) " in *" $s "*) ;; *) stray="$stray $s" ;; esac
done
if [ -z "$stray" ]; then echo "PASS: libscvgc.so exports only the documented symbols"
else echo "FAIL: libscvgc.so exports only the documented symbols"; echo "  stray:$stray"; fi
missing=""
for s in $allowed; do echo "$got" | grep -qx "$s" || missing="$missing $s"; done
if [ -z "$missing" ]; then echo "PASS: libscvgc.so exports every malloc entry point"
else echo "FAIL: libscvgc.so exports every malloc entry point"; echo "  missing:$missing"; fi
core_malloc=$(nm "$ROOT/build/libscvgc_core.a" 2>/dev/null | awk '$2 ~ /^[TW]$/ {print $3}' | grep -xE 'malloc|free|calloc|realloc' || true)
if [ -z "$core_malloc" ]; then echo "PASS: the core defines no malloc of its own"
else echo "FAIL: the core defines no malloc of its own"; echo "  $core_malloc"; fi

# Issue 13 point 11: nothing a program's libraries could bind to comes with the library. It
# needs libc alone (no libunwind, whose unversioned _Unwind_* took over every C++ throw, and
# no libdw: loaded with dlopen only to write a report).
needed=$(readelf -d "$LIB" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
case " $needed" in
*" libc.so.6 "*) extra=$(echo "$needed" | tr ' ' '\n' | grep -v -e '^libc\.so\.6$' -e '^ld-linux' -e '^$') ;;
*) extra="(no libc: $needed)" ;;
esac
if [ -z "$extra" ]; then echo "PASS: libscvgc.so needs libc only"
else echo "FAIL: libscvgc.so needs libc only"; echo "  also needs: $extra"; fi

# A C program that dlopens a C++ library that throws, and a C++ program: in every mode their
# throws bind to libgcc_s's unwinder as without the preload, and run at native speed (the
# figures are printed; the bound is only the generous timeout). libdw is not mapped in a
# process that wrote no report (SCVGC_REPORT=none in these modes).
. "$ROOT/test/integration/common.inc"
for mode in plain off default collect; do
	for prog in cxx_throw_dl cxx_throw; do
		name="$prog: C++ throws use libgcc_s's unwinder ($(mode_label $mode))"
		if [ ! -x "$BIN/$prog" ]; then fail "$name" "$BIN/$prog is missing"; continue; fi
		args=""; [ "$prog" = cxx_throw_dl ] && args="$BIN/libthrow.so"
		run_in "$mode" 120 "$T/out" "$T/err" "$BIN/$prog" $args 20000
		unw=$(sed -n 's/^unwinder: //p' "$T/out")
		if [ "$rc" != 0 ]; then fail "$name" "$(rc_text $rc 120)" "$(tail_of "$T/err" 5)"
		else case $unw in
			*/libgcc_s.so*) pass "$name" ;;
			*) fail "$name" "_Unwind_RaiseException comes from ${unw:-nowhere}" ;;
			esac
		fi
		echo "    $(grep '^throws:' "$T/out")"
		if [ "$prog" = cxx_throw_dl ] && [ "$mode" != plain ] && [ "$rc" = 0 ]; then
			name="libdw is not loaded into a process that writes no report ($(mode_label $mode))"
			if grep -qx 'libdw: not mapped' "$T/out"; then pass "$name"
			else fail "$name" "$(grep '^libdw' "$T/out")"; fi
		fi
	done
done

# Issue 13 ("Also"): the repository names no path of the machine it was developed on (a home
# directory, a checkout under /work): the docs and scripts say what a path is, not where it
# was. The pattern is built in pieces so that this file does not match itself.
home="/ro""ot/"; work="/wo""rk/"; homes="/ho""me/[a-z]"
if command -v git >/dev/null 2>&1 && git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	files=$(git -C "$ROOT" ls-files)
else
	files=$(cd "$ROOT" && find . -path ./build -prune -o -path ./.git -prune -o -type f -print)
fi
hits=$(cd "$ROOT" && echo "$files" | grep -v -e '\.png$' -e '\.jpg$' |
	xargs grep -n -I -e "$home" -e "$work" -e "$homes" 2>/dev/null | head -5)
if [ -z "$hits" ]; then pass "the repository names no path of the development machine"
else fail "the repository names no path of the development machine" "$hits"; fi
