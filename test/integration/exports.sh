#!/bin/sh
# The library exports the malloc family and nothing else; the core exports no malloc.
allowed="aligned_alloc calloc free free_aligned_sized free_sized mallinfo mallinfo2 malloc
malloc_stats malloc_trim malloc_usable_size mallopt memalign posix_memalign pvalloc realloc
reallocarray valloc malloc_info __libc_malloc __libc_free __libc_calloc __libc_realloc
__libc_memalign __libc_valloc __libc_pvalloc __libc_mallinfo __libc_mallopt
scvgc_collect scvgc_leak_check dlclose sigaltstack"
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
