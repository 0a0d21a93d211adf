/* core/own.c: what the library owns — the own-mapping registry (O1, O2) and its lookups for
 * the root scan, the library's threads (L1). (The registry's merge/split cases are in
 * test/unit/mark.c, where they were written.) */
#include <criterion/criterion.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "own.h"

Test(own, the_next_own_stretch_is_found_from_below_and_none_past_the_last) {
  char *p = mmap(NULL, 6 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(p, MAP_FAILED);
  uintptr_t a = (uintptr_t)p;
  scvgc_own_mapping(a + 2 * 4096, 4096);
  scvgc_own_mapping(a + 4 * 4096, 4096);
  cr_assert_eq(scvgc_own_next(a), a + 2 * 4096);
  cr_assert_eq(scvgc_own_next(a + 2 * 4096), a + 2 * 4096); /* at: itself */
  cr_assert_eq(scvgc_own_next(a + 3 * 4096), a + 4 * 4096);
  scvgc_own_unmapping(a, 6 * 4096);
  uintptr_t n = scvgc_own_next(a);
  cr_assert(n == UINTPTR_MAX || n >= a + 6 * 4096 || n < a, "no stretch of ours is left in it");
  munmap(p, 6 * 4096);
}

Test(own, a_metadata_mapping_is_the_librarys_own_until_it_is_unmapped) {
  size_t before = atomic_load(&scvgc_gc_sys);
  char *m = scvgc_sys_map_meta(3 * 4096);
  cr_assert_not_null(m);
  uintptr_t end;
  cr_assert(scvgc_is_own((uintptr_t)m + 4096, &end));
  cr_assert_geq(end, (uintptr_t)m + 3 * 4096);
  cr_assert_eq(atomic_load(&scvgc_gc_sys), before + 3 * 4096);
  scvgc_sys_unmap_meta(m, 3 * 4096);
  cr_assert(!scvgc_is_own((uintptr_t)m + 4096, &end));
  cr_assert_eq(atomic_load(&scvgc_gc_sys), before);
}

static _Atomic pid_t lib_tid;
static _Atomic int lib_go;

static void *lib_main(void *arg) {
  (void)arg;
  atomic_store(&lib_tid, (pid_t)syscall(SYS_gettid));
  while (!atomic_load(&lib_go)) usleep(1000);
  return NULL;
}

Test(own, a_library_thread_is_listed_with_its_tcb_and_the_caller_is_not) {
  int before = scvgc_libthread_tcbs((uintptr_t[64]){0}, 64);
  cr_assert(scvgc_libthread_start(lib_main, NULL));
  while (!atomic_load(&lib_tid)) usleep(1000);
  cr_assert(scvgc_is_libthread(atomic_load(&lib_tid)));
  cr_assert(!scvgc_is_libthread((pid_t)syscall(SYS_gettid)));
  uintptr_t tcbs[64];
  cr_assert_eq(scvgc_libthread_tcbs(tcbs, 64), before + 1);
  atomic_store(&lib_go, 1);
}
