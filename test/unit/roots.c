/* core/roots.c: which memory is read as a root, and a scan that faults. The stack cases
 * (a coroutine stack in .bss, another thread's dead stack, a malloc'd sigaltstack) are leak
 * cases in test/leaks/; a report racing a collection is test/integration/roots.sh. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <criterion/criterion.h>
#include <sched.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gc.h"
#include "mark.h"
#include "roots.h"
#include "symbolize.h"

static void start(void) {
  setenv("SCVGC_MODE", "leak", 1);
  setenv("SCVGC_REPORT", "none", 1);
  scvgc_init();
  scvgc_gc_start();
}

#define PRESENT (1ull << 63)
#define SWAPPED (1ull << 62)
#define FILEPAGE (1ull << 61)

Test(roots, a_swapped_out_page_is_read_in_any_mapping) {
  /* mincore calls it not resident; it may hold pointers all the same */
  cr_assert(scvgc_roots_page_written(SWAPPED | 0x1234, false));
  cr_assert(scvgc_roots_page_written(SWAPPED | 0x1234, true));
  cr_assert(scvgc_roots_page_written(PRESENT, false));
  cr_assert_not(scvgc_roots_page_written(0, false), "never touched: reads zero");
}

Test(roots, in_a_file_mapping_only_the_pages_the_program_wrote_are_read) {
  cr_assert(scvgc_roots_page_written(PRESENT, true), "a private copy");
  cr_assert_not(scvgc_roots_page_written(PRESENT | FILEPAGE, true), "still the file's page");
  cr_assert_not(scvgc_roots_page_written(0, true), "not in memory: the file's");
}

#include "threads.h"

/* A 64 KiB file mapped private and writable, every page read, then truncated to one page:
 * reading any other page now raises SIGBUS. */
static void **volatile fmap;
static void truncated_file_mapping(void) {
  char path[] = "/tmp/scvgc-roots-XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  unlink(path);
  cr_assert_eq(ftruncate(fd, 65536), 0);
  fmap = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  cr_assert(fmap != MAP_FAILED);
  volatile char sum = 0;
  for (int i = 0; i < 65536; i += 4096) sum += ((volatile char *)fmap)[i];
  cr_assert_eq(ftruncate(fd, 4096), 0);
  close(fd);
}

__attribute__((noinline)) static void keep_in_written_page(void) {
  void *p = scvgc_malloc(4000);
  memset(p, 0, 4000);
  fmap[7] = p;
}

Test(roots, a_truncated_file_mapping_is_read_through_pagemap_without_a_fault, .init = start) {
  truncated_file_mapping();
  in_thread(keep_in_written_page);
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST), "the cycle is complete");
  cr_assert_not(scvgc_gcstats.last.roots_incomplete);
  /* the written page is a private copy: a root */
  scvgc_span_t *s;
  uint32_t i;
  cr_assert(scvgc_find_object((uintptr_t)fmap[7], &s, &i));
  cr_assert(scvgc_marked(s, i), "the object in the written page is alive");
}

Test(roots, a_fault_reading_the_roots_ends_the_cycle_and_it_frees_nothing, .init = start) {
  truncated_file_mapping();
  struct sigaction before, after;
  sigaction(SIGBUS, NULL, &before);
  scvgc_roots_test_pagemap(-1); /* then a file mapping is read whole */
  cr_assert_not(scvgc_gc_cycle(SCVGC_GC_REQUEST), "a cycle that faulted is not trusted");
  cr_assert(scvgc_gcstats.last.roots_incomplete);
  cr_assert(scvgc_leaks.incomplete, "the leak table says it is incomplete");
  /* the program goes on, and its own SIGBUS disposition is back */
  sigaction(SIGBUS, NULL, &after);
  cr_assert_eq((void *)after.sa_sigaction, (void *)before.sa_sigaction);
  scvgc_roots_test_pagemap(0);
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST), "the next cycle, with pagemap, is complete");
}

/* An object the library allocated for itself, referenced only from the library's own
 * memory (never a root): the symbolizer's state is such an object. */
static void **own_page;
__attribute__((noinline)) static void allocate_for_the_library(void) {
  scvgc_lib_enter();
  own_page[0] = scvgc_malloc(200);
  own_page[1] = scvgc_malloc(50000); /* a large object */
  scvgc_lib_leave();
  ((void **)own_page[0])[3] = scvgc_malloc(24); /* what it points to is alive too */
  own_page[2] = scvgc_malloc(100);               /* the program's: a leak */
}

Test(roots, an_object_the_library_allocated_for_itself_stays_alive, .init = start) {
  own_page = scvgc_sys_map_meta(4096); /* the library's own mapping: not a root */
  cr_assert(own_page);
  in_thread(allocate_for_the_library);
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST));
  scvgc_span_t *s;
  uint32_t i;
  cr_assert(scvgc_find_object((uintptr_t)own_page[0], &s, &i));
  cr_assert(scvgc_marked(s, i), "library-owned small object");
  cr_assert(scvgc_find_object((uintptr_t)own_page[1], &s, &i));
  cr_assert(scvgc_marked(s, i), "library-owned large object");
  cr_assert(scvgc_find_object(((uintptr_t *)own_page[0])[3], &s, &i));
  cr_assert(scvgc_marked(s, i), "reached from a library-owned object");
  cr_assert(scvgc_find_object((uintptr_t)own_page[2], &s, &i));
  cr_assert_not(scvgc_marked(s, i), "the program's object, referenced from the library's memory only");
}

/* A symbolizing session allocates libdw's state through malloc, referenced only from the
 * library's data: what a session allocates is library-owned, whoever opened it — the
 * report, or a bad-free diagnostic (diag.c, try_begin), which is no report. Before this, a
 * cycle that the session's own allocations started in collect mode freed libdw's objects
 * under it (faults.sh's bad frees in collect mode: a diagnostic for a free libdw made). */
__attribute__((noinline)) static void allocate_in_a_session(void) {
  cr_assert(scvgc_symbolize_try_begin(), "no other session is open");
  own_page[0] = scvgc_malloc(72);
  own_page[1] = scvgc_malloc(48000); /* a large object */
  scvgc_symbolize_end();
  own_page[2] = scvgc_malloc(72); /* after the session: the program's */
}

Test(roots, what_a_symbolizing_session_allocates_is_the_librarys_and_stays_alive, .init = start) {
  own_page = scvgc_sys_map_meta(4096); /* the library's own mapping: not a root */
  cr_assert(own_page);
  in_thread(allocate_in_a_session);
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST));
  scvgc_span_t *s;
  uint32_t i;
  cr_assert(scvgc_find_object((uintptr_t)own_page[0], &s, &i));
  cr_assert(scvgc_marked(s, i), "small object allocated in the session");
  cr_assert(scvgc_find_object((uintptr_t)own_page[1], &s, &i));
  cr_assert(scvgc_marked(s, i), "large object allocated in the session");
  cr_assert(scvgc_find_object((uintptr_t)own_page[2], &s, &i));
  cr_assert_not(scvgc_marked(s, i), "the program's object after the session ended");
}

/* A thread made to run with a thread pointer that points nowhere (a raw clone() with a TLS
 * of its own, or a program that moved fs): its descriptor cannot be read, so nothing of its
 * stack is cut, and the probe's fault costs nothing else. */
static atomic_int bad_fs_ready;
static void *bad_fs_thread(void *arg) {
  (void)arg;
  atomic_store(&bad_fs_ready, 1);
  /* no libc from here on: every TLS access would fault */
  __asm__ volatile("syscall" : : "a"(SYS_arch_prctl), "D"(ARCH_SET_FS), "S"(0x10000) : "rcx", "r11", "memory");
  for (;;) __asm__ volatile("syscall" : : "a"(SYS_pause) : "rcx", "r11", "memory");
  return NULL;
}

Test(roots, a_thread_whose_thread_pointer_points_nowhere_is_scanned_whole, .init = start) {
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, bad_fs_thread, NULL), 0);
  while (!atomic_load(&bad_fs_ready)) usleep(1000);
  usleep(50000); /* in pause() now */
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST), "the cycle is complete");
  cr_assert_not(scvgc_gcstats.last.roots_incomplete);
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST), "and the next one");
}

/* With pages in swap, anonymous mappings are read through pagemap: the pages the program
 * touched (in memory or swapped out), not the others. (No swap here: forced.) */
static void **volatile arena;
__attribute__((noinline)) static void keep_in_arena(void) {
  arena[4096 / 8 * 5 + 3] = scvgc_malloc(300); /* page 5 of 64 */
}

Test(roots, with_pages_in_swap_anonymous_mappings_are_read_through_pagemap, .init = start) {
  arena = mmap(NULL, 64 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert(arena != MAP_FAILED);
  in_thread(keep_in_arena);
  scvgc_roots_test_pagemap(1);
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST));
  scvgc_span_t *s;
  uint32_t i;
  cr_assert(scvgc_find_object((uintptr_t)arena[4096 / 8 * 5 + 3], &s, &i));
  cr_assert(scvgc_marked(s, i), "the object in the touched page is alive");
  scvgc_roots_test_pagemap(0);
}

/* A raw clone() without CLONE_SETTLS runs on its parent's thread pointer, here on a stack
 * carved from its parent's own stack (above a frame of the parent's that holds a pointer).
 * Its sp lies in its parent's stack block, but the descriptor there names its parent: it is
 * not the child's own stack, and nothing of it is cut below the child's sp. */
static atomic_int clone_ready;
static void *volatile clone_kept;
static int clone_child(void *arg) {
  (void)arg;
  for (;;) __asm__ volatile("syscall" : : "a"(SYS_pause) : "rcx", "r11", "memory");
  return 0;
}

__attribute__((noinline)) static void hold_below(char *stack_top) {
  void *volatile mine = scvgc_malloc(700); /* in this frame, below the child's stack */
  clone_kept = (void *)~(uintptr_t)mine; /* the test's own copy, hidden */
  int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
  cr_assert(clone(clone_child, stack_top, flags, NULL) > 0);
  atomic_store(&clone_ready, 1);
  for (;;) pause();
}

static void *clone_parent(void *arg) {
  (void)arg;
  char child_stack[64 * 1024] __attribute__((aligned(16)));
  hold_below(child_stack + sizeof child_stack);
  return NULL;
}

Test(roots, a_raw_clone_on_its_parents_stack_cuts_nothing_of_it, .init = start) {
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, clone_parent, NULL), 0);
  while (!atomic_load(&clone_ready)) usleep(1000);
  usleep(50000);
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST));
  scvgc_span_t *s;
  uint32_t i;
  cr_assert(scvgc_find_object(~(uintptr_t)clone_kept, &s, &i));
  cr_assert(scvgc_marked(s, i), "the parent's local, below the child's sp, is alive");
}

/* A private mapping of a plain file on the tmpfs at /dev/shm, with pagemap unreadable (so the
 * mapping is read whole): a file, not a device, told by its type and not by its path. */
static void **volatile shm_map;
static void keep_in_dev_shm(void) {
  shm_map[5] = scvgc_malloc(40);
}

Test(roots, a_dev_shm_file_mapping_is_a_root_even_without_pagemap, .init = start) {
  char path[] = "/dev/shm/scvgc-roots-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) cr_skip_test("no /dev/shm here");
  cr_assert_eq(ftruncate(fd, 8192), 0);
  shm_map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  close(fd);
  cr_assert(shm_map != MAP_FAILED);
  in_thread(keep_in_dev_shm);
  scvgc_roots_test_pagemap(-1);
  bool ok = scvgc_gc_cycle(SCVGC_GC_REQUEST);
  scvgc_roots_test_pagemap(0);
  unlink(path); /* after the cycle: its type was asked by its path */
  cr_assert(ok, "the cycle is complete");
  scvgc_span_t *s;
  uint32_t i;
  cr_assert(scvgc_find_object((uintptr_t)shm_map[5], &s, &i));
  cr_assert(scvgc_marked(s, i), "the object in the /dev/shm mapping is alive");
}

/* A pointer only as an unaligned immediate in an rwx mapping (a JIT's code) keeps its object;
 * the same bytes in a plain rw mapping do not (notroot_unaligned). */
static unsigned char *volatile rwx, *volatile rw;
static void *volatile in_rwx, *volatile in_rw;
static void emit(void) {
  /* a is scanned once marked: cleared, so a free-list link it kept cannot name b; b is of
   * another class, so no link between the two exists at all */
  void *a = scvgc_malloc(32), *b = scvgc_malloc(48);
  memset(a, 0, 32);
  uintptr_t va = (uintptr_t)a, vb = (uintptr_t)b;
  memcpy(rwx + 77, &va, 8);
  memcpy(rw + 77, &vb, 8);
  in_rwx = (void *)(va ^ 0x5a5a); /* kept hidden from the scan, for the checks below */
  in_rw = (void *)(vb ^ 0x5a5a);
}

Test(roots, writable_executable_mappings_are_read_at_every_byte_offset, .init = start) {
  rwx = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  rw = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (rwx == MAP_FAILED) cr_skip_test("no rwx mapping allowed here");
  in_thread(emit);
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST));
  scvgc_span_t *s;
  uint32_t i;
  cr_assert(scvgc_find_object((uintptr_t)in_rwx ^ 0x5a5a, &s, &i));
  cr_assert(scvgc_marked(s, i), "the unaligned immediate in code keeps its object");
  cr_assert(scvgc_find_object((uintptr_t)in_rw ^ 0x5a5a, &s, &i));
  cr_assert_not(scvgc_marked(s, i), "an unaligned word in data is no pointer");
}

/* R3: the roots read with no descriptor left under the soft RLIMIT_NOFILE (the library raises
 * it for its own open), and a scan that cannot open /proc/self/maps at the hard limit says so
 * instead of scanning nothing. The scan is called directly: stopping the world needs
 * descriptors of its own (stw.c). */
static void *volatile held_by_global;
static void keep_in_global(void) { held_by_global = scvgc_malloc(56); }

static int fill_descriptors(rlim_t soft, rlim_t hard) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = soft;
  if (hard) rl.rlim_max = hard;
  cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
  int first = -1, fd;
  while ((fd = dup(1)) >= 0)
    if (first < 0) first = fd;
  return first;
}

static bool scan_now(void **obj) {
  scvgc_world_t w;
  memset(&w, 0, sizeof w);
  scvgc_marker_t m;
  scvgc_heap_lock_all();
  scvgc_marker_init(&m);
  scvgc_span_t *s;
  uint32_t i;
  cr_assert(scvgc_find_object((uintptr_t)*obj, &s, &i));
  s->meta[i].size &= ~SCVGC_META_MARK;
  bool ok = scvgc_roots_scan(&m, &w);
  scvgc_mark_parallel(&m);
  scvgc_marker_done(&m);
  scvgc_heap_unlock_all();
  *obj = (void *)(uintptr_t)scvgc_marked(s, i);
  return ok;
}

Test(roots, the_roots_are_read_when_every_descriptor_under_the_soft_limit_is_taken, .init = start) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 128) cr_skip_test("hard limit too low");
  in_thread(keep_in_global);
  int first = fill_descriptors(64, 0);
  void *obj = held_by_global;
  bool ok = scan_now(&obj);
  for (int fd = first; fd >= 0 && fd < 64; fd++) close(fd);
  cr_assert(ok, "the scan is complete");
  cr_assert(obj, "the object held by a global is marked");
}

Test(roots, a_scan_that_cannot_open_the_maps_is_incomplete, .init = start) {
  in_thread(keep_in_global);
  int first = fill_descriptors(64, 64);
  void *obj = held_by_global;
  bool ok = scan_now(&obj);
  for (int fd = first; fd >= 0 && fd < 64; fd++) close(fd);
  cr_assert_not(ok, "no descriptor for /proc/self/maps: the cycle must free nothing");
}

/* Pacing counts the roots (issue 14 point 4, gc.c goal_of): the bytes a scan read, which
 * grow by what the program touched in a new mapping and not by what it only reserved. */
Test(roots, a_scan_counts_the_root_bytes_it_read_touched_pages_only, .init = start) {
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST));
  size_t before = scvgc_roots_scanned_bytes();
  cr_assert_gt(before, 0, "the data, bss and stack are roots");
  size_t big = 64u << 20, touched = 16u << 20;
  char *p = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert(p != MAP_FAILED);
  for (size_t i = 0; i < touched; i += 4096) p[i] = 1;
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST));
  size_t with = scvgc_roots_scanned_bytes();
  cr_assert_geq(with, before + touched - (1u << 20), "before %zu, with %zu", before, with);
  cr_assert_lt(with, before + touched + (8u << 20), "untouched pages counted: %zu", with);
  munmap(p, big);
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST));
  cr_assert_lt(scvgc_roots_scanned_bytes(), before + (4u << 20));
}

/* The writable private mappings listed by PROCMAP_QUERY (Linux 6.11, roots.c R6) are exactly
 * those of the text of /proc/self/maps: anonymous, a file's private copy, write-only, writable
 * and executable ones in; shared, read-only and PROT_NONE ones out. */
Test(roots, procmap_query_lists_the_same_writable_private_mappings_as_the_text, .init = start) {
  static uintptr_t a[4096][3], b[4096][3];
  char path[] = "/tmp/scvgc-roots-XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  unlink(path);
  cr_assert_eq(ftruncate(fd, 65536), 0);
  void *maps[] = {
      mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0),
      mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
      mmap(NULL, 65536, PROT_READ, MAP_PRIVATE, fd, 0),
      mmap(NULL, 65536, PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
      mmap(NULL, 65536, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
      mmap(NULL, 65536, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
      mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0),
  };
  for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) cr_assert(maps[i] != MAP_FAILED);
  close(fd);
  int nb = scvgc_roots_test_writable(false, b, 4096);
  int na = scvgc_roots_test_writable(true, a, 4096);
  if (na < 0) cr_skip_test("no PROCMAP_QUERY on this kernel (Linux 6.11)");
  cr_assert_gt(nb, 3);
  cr_assert_eq(na, nb, "queried %d, text %d", na, nb);
  for (int i = 0; i < na; i++)
    cr_assert(a[i][0] == b[i][0] && a[i][1] == b[i][1] && a[i][2] == b[i][2],
              "mapping %d: queried %lx-%lx x%lu, text %lx-%lx x%lu", i, (unsigned long)a[i][0],
              (unsigned long)a[i][1], (unsigned long)a[i][2], (unsigned long)b[i][0],
              (unsigned long)b[i][1], (unsigned long)b[i][2]);
  int found = 0;
  for (int i = 0; i < na; i++)
    for (size_t k = 0; k < sizeof maps / sizeof *maps; k++)
      if (a[i][0] == (uintptr_t)maps[k]) found |= 1 << k;
  cr_assert_eq(found, 1 | 1 << 3 | 1 << 4, "which of ours were listed: %#x", found);
  for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) munmap(maps[i], 65536);
}

/* A cycle reads the same roots by either way: the bytes it read and the objects it marked. */
Test(roots, a_cycle_reads_the_same_roots_with_the_queries_and_with_the_text, .init = start) {
  void **v = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert(v != MAP_FAILED);
  for (int i = 0; i < 64; i++) v[i * 512] = scvgc_malloc(100);
  /* The process may fault in a page between two cycles (ASan's allocator, a stack growing):
   * the comparison holds only when the queried cycles on both sides of the text one agree. */
  size_t q1 = 0, q2 = 1, t1 = 0, m1 = 0, m2 = 0;
  for (int round = 0; round < 8 && q1 != q2; round++) {
    cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST));
    q1 = scvgc_roots_scanned_bytes(), m1 = scvgc_gcstats.last.marked_objects;
    scvgc_roots_test_maps(-1);
    cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST));
    t1 = scvgc_roots_scanned_bytes(), m2 = scvgc_gcstats.last.marked_objects;
    scvgc_roots_test_maps(0);
    cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST));
    q2 = scvgc_roots_scanned_bytes();
  }
  cr_assert_eq(q1, q2, "the roots never held still: %zu then %zu", q1, q2);
  cr_assert_eq(q1, t1, "root bytes: queried %zu, text %zu", q1, t1);
  cr_assert_eq(m1, m2, "objects marked: queried %zu, text %zu", m1, m2);
  for (int i = 0; i < 64; i++) {
    scvgc_span_t *s;
    uint32_t k;
    cr_assert(scvgc_find_object((uintptr_t)v[i * 512], &s, &k));
    cr_assert(scvgc_marked(s, k));
  }
  munmap(v, 1 << 20);
}
