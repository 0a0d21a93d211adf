/* The allocator API of core/alloc.c: every entry point, its edge cases, bad frees. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

static void mode_off(void) { setenv("SCVGC_MODE", "off", 1); }
static void mode_leak(void) { setenv("SCVGC_MODE", "leak", 1); }
static void quiet_off(void) { mode_off(); cr_redirect_stderr(); }
static void quiet_leak(void) { mode_leak(); cr_redirect_stderr(); }

Test(alloc, malloc_zero_gives_distinct_freeable_objects, .init = mode_off) {
  void *a = scvgc_malloc(0), *b = scvgc_malloc(0);
  cr_assert(a && b && a != b);
  scvgc_free(a);
  scvgc_free(b);
}

Test(alloc, every_object_is_16_byte_aligned_and_holds_its_size, .init = mode_off) {
  for (size_t n = 1; n < 70000; n += n / 8 + 1) {
    char *p = scvgc_malloc(n);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % 16, 0, "size %zu", n);
    cr_assert_geq(scvgc_usable_size(p), n);
    memset(p, 0x5a, n);
    scvgc_free(p);
  }
}

Test(alloc, huge_requests_fail_with_enomem, .init = mode_off) {
  errno = 0;
  cr_assert_null(scvgc_malloc(SIZE_MAX));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(scvgc_malloc((size_t)1 << 62));
  cr_assert_eq(errno, ENOMEM);
}

Test(alloc, calloc_overflow_is_enomem_and_memory_is_zero, .init = mode_off) {
  errno = 0;
  cr_assert_null(scvgc_calloc(SIZE_MAX / 2, 3));
  cr_assert_eq(errno, ENOMEM);
  /* dirty an object, free it, and calloc the same size: it must come back zeroed */
  for (size_t n = 16; n <= (1u << 20); n *= 4) {
    unsigned char *p = scvgc_malloc(n);
    memset(p, 0xff, n);
    scvgc_free(p);
    unsigned char *q = scvgc_calloc(1, n);
    for (size_t i = 0; i < n; i++) cr_assert_eq(q[i], 0, "size %zu byte %zu", n, i);
    scvgc_free(q);
  }
}

Test(alloc, calloc_of_fresh_pages_does_not_touch_them, .init = mode_off) {
  size_t n = 256u << 20;
  char *p = scvgc_calloc(1, n);
  cr_assert_not_null(p);
  cr_assert_eq(scvgc_spanof((uintptr_t)p)->needzero, 0);
  cr_assert_eq(p[n - 1], 0);
  scvgc_free(p);
}

Test(alloc, realloc_stays_in_place_while_the_class_fits, .init = mode_off) {
  char *p = scvgc_malloc(100); /* class 112 */
  cr_assert_eq(scvgc_realloc(p, 112), p);
  cr_assert_eq(scvgc_realloc(p, 60), p);
  char *q = scvgc_realloc(p, 200);
  cr_assert_neq(q, p);
  scvgc_free(q);
}

Test(alloc, realloc_keeps_contents_across_every_boundary, .init = mode_off) {
  size_t sizes[] = {1, 16, 17, 100, 1024, 1025, 32768, 32769, 100000, 1u << 20, 4u << 20, 300, 5};
  unsigned char *p = NULL;
  size_t have = 0;
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    size_t n = sizes[k];
    p = scvgc_realloc(p, n);
    cr_assert_not_null(p);
    for (size_t i = 0; i < (have < n ? have : n); i++) cr_assert_eq(p[i], (unsigned char)i, "%zu", n);
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)i;
    have = n;
  }
  cr_assert_null(scvgc_realloc(p, 0)); /* frees, like glibc */
}

Test(alloc, large_realloc_grows_in_place_when_the_next_pages_are_free, .init = mode_off) {
  char *p = scvgc_malloc(100000);
  memset(p, 7, 100000);
  char *q = scvgc_realloc(p, 400000);
  cr_assert_eq(q, p);
  cr_assert_eq(q[99999], 7);
  cr_assert_geq(scvgc_usable_size(q), 400000);
}

Test(alloc, memalign_takes_every_power_of_two_up_to_a_megabyte, .init = mode_off) {
  for (size_t al = 1; al <= (1u << 20); al *= 2) {
    size_t sizes[] = {1, al > 1 ? al - 1 : 1, al, 3 * al + 5};
    for (int k = 0; k < 4; k++) {
      char *p = scvgc_memalign(al, sizes[k]);
      cr_assert_not_null(p);
      cr_assert_eq((uintptr_t)p % al, 0, "align %zu size %zu", al, sizes[k]);
      cr_assert_geq(scvgc_usable_size(p), sizes[k]);
      memset(p, 1, sizes[k]);
      scvgc_free(p);
    }
  }
}

Test(alloc, usable_size_of_what_is_not_an_object_is_zero, .init = mode_off) {
  int x;
  cr_assert_eq(scvgc_usable_size(NULL), 0);
  cr_assert_eq(scvgc_usable_size(&x), 0);
}

Test(alloc, free_reports_it_does_not_own_a_pointer, .init = mode_off) {
  int x;
  cr_assert(!scvgc_free(NULL));
  cr_assert(!scvgc_free(&x));
  cr_assert(scvgc_free(scvgc_malloc(10)));
}

static void double_free_changes_nothing(void) {
  void *a = scvgc_malloc(48), *big = scvgc_malloc(100000);
  scvgc_free(a);
  scvgc_free(a); /* diagnosed, ignored */
  scvgc_free(big);
  scvgc_free(big);
  /* a is handed out once only: no two live objects share it */
  void *x = scvgc_malloc(48), *y = scvgc_malloc(48);
  cr_assert_neq(x, y);
  scvgc_heap_check();
}

Test(alloc, double_free_is_diagnosed_and_ignored_in_mode_off, .init = quiet_off) {
  double_free_changes_nothing();
  fflush(stderr);
  cr_assert_stderr_neq_str("");
}

Test(alloc, double_free_is_diagnosed_and_ignored_in_leak_mode, .init = quiet_leak) {
  double_free_changes_nothing();
}

Test(alloc, free_of_an_interior_pointer_is_diagnosed_and_ignored, .init = quiet_off) {
  char *a = scvgc_malloc(64), *big = scvgc_malloc(100000);
  scvgc_free(a + 8);
  scvgc_free(big + 4096);
  memset(a, 1, 64);
  memset(big, 1, 100000);
  cr_assert_eq(scvgc_usable_size(a), 64);
  scvgc_free(a);
  scvgc_free(big);
  scvgc_heap_check();
}

Test(alloc, the_diagnostic_names_the_pointer_and_the_fault, .init = quiet_off) {
  char *a = scvgc_malloc(64);
  scvgc_free(a);
  scvgc_free(a);
  fflush(stderr);
  FILE *f = cr_get_redirected_stderr();
  char line[512] = {0};
  cr_assert_not_null(fgets(line, sizeof line, f));
  cr_assert_not_null(strstr(line, "scvgc: free(0x"), "%s", line);
  cr_assert_not_null(strstr(line, "double free"), "%s", line);
}

Test(alloc, leak_mode_records_the_requested_size, .init = mode_leak) {
  char *p = scvgc_malloc(77);
  scvgc_span_t *s = scvgc_spanof((uintptr_t)p);
  cr_assert_not_null(s->meta);
  /* the requested size + 1, and the mark bit: allocation is black (sweep.c S3) */
  cr_assert_eq(s->meta[scvgc_slot_index(s, (uintptr_t)p)].size, 78 | SCVGC_META_MARK);
  scvgc_free(p);
  cr_assert_eq(s->meta[scvgc_slot_index(s, (uintptr_t)p)].size, 0);
  char *big = scvgc_malloc(50000);
  cr_assert_eq(scvgc_spanof((uintptr_t)big)->reqsize, 50000);
}

Test(alloc, mode_off_keeps_no_side_metadata, .init = mode_off) {
  char *p = scvgc_malloc(77);
  cr_assert_null(scvgc_spanof((uintptr_t)p)->meta);
  cr_assert_eq(scvgc_tracking, 0);
}

Test(alloc, stats_count_live_objects_and_bytes, .init = mode_off) {
  void *p[100];
  for (int i = 0; i < 100; i++) p[i] = scvgc_malloc(i < 50 ? 32 : 40000);
  scvgc_stats_t st;
  scvgc_stats_read(&st);
  cr_assert_eq(st.live_objects, 100);
  cr_assert_geq(st.inuse_bytes, 50 * 32 + 50 * 40000);
  cr_assert_geq(st.sys_bytes, st.inuse_bytes + st.released_bytes);
  for (int i = 0; i < 100; i++) scvgc_free(p[i]);
  scvgc_stats_read(&st);
  cr_assert_eq(st.live_objects, 0);
  cr_assert_eq(st.nmalloc, 100);
  cr_assert_eq(st.nfree, 100);
}

Test(alloc, a_new_object_holds_no_stale_free_list_link, .init = mode_off) {
  /* the marker is conservative: a link left in a live object would keep its neighbour */
  void **a = scvgc_malloc(16), **b = scvgc_malloc(16);
  scvgc_free(a);
  scvgc_free(b);
  void **c = scvgc_malloc(16);
  cr_assert_null(c[0]);
  cr_assert_null(c[1]);
}

/* ---- huge blocks (pageheap.c U1-U4) --------------------------------------------------- */

static size_t rss_pages(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, rss = 0;
  cr_assert_not_null(f);
  cr_assert_eq(fscanf(f, "%lu %lu", &size, &rss), 2);
  fclose(f);
  return rss;
}

/* The first of 4, 2, 1 GiB that the overcommit policy grants (untouched). */
static char *granted_huge(size_t *n) {
  for (*n = (size_t)4 << 30; *n >= (size_t)1 << 30; *n /= 2) {
    char *p = scvgc_malloc(*n);
    if (p) return p;
  }
  cr_skip_test("not even 1 GiB is granted here");
  return NULL;
}

Test(alloc, a_granted_untouched_huge_block_costs_kilobytes_of_metadata, .init = mode_off) {
  scvgc_free(scvgc_malloc(100)); /* the heap's first arena, before counting */
  size_t meta0 = atomic_load(&scvgc_gc_sys), rss0 = rss_pages(), n;
  char *p = granted_huge(&n);
  /* one span struct and 8 bytes of L1 per 64 MiB, not an arena table per 64 MiB (which was
   * 65 KiB mapped and 1 KiB + 8 bytes per page of the block written) */
  cr_assert_lt(atomic_load(&scvgc_gc_sys) - meta0, 64 << 10, "metadata grew by %zu bytes",
               atomic_load(&scvgc_gc_sys) - meta0);
  cr_assert_lt(rss_pages() - rss0, 256, "RSS grew by %zu pages", rss_pages() - rss0);
  cr_assert_eq((uintptr_t)p % SCVGC_ARENA_SIZE, 0);
  cr_assert_eq(scvgc_span_inuse((uintptr_t)p), scvgc_span_inuse((uintptr_t)p + n - 1));
  cr_assert_eq(scvgc_span_inuse((uintptr_t)p + n / 2)->base, (uintptr_t)p);
  cr_assert_null(scvgc_span_inuse((uintptr_t)p + n)); /* the reservation's PROT_NONE tail */
  cr_assert_geq(scvgc_usable_size(p), n);
  p[0] = 1;
  p[n - 1] = 2;
  scvgc_heap_check();
  scvgc_free(p);
  cr_assert_null(scvgc_span_inuse((uintptr_t)p));
  scvgc_heap_check();
}

Test(alloc, a_huge_block_freed_twice_is_diagnosed, .init = quiet_off) {
  size_t n;
  char *p = granted_huge(&n);
  scvgc_free(p);
  cr_assert(scvgc_owns(p)); /* U4: a tombstone, not glibc's */
  scvgc_free(p);
  cr_assert_stderr_neq_str("");
}

Test(alloc, a_huge_block_reallocs_in_place_within_its_reservation, .init = mode_off) {
  size_t n = SCVGC_HUGE_MIN + (1 << 20);
  char *p = scvgc_malloc(n);
  cr_assert_not_null(p);
  p[0] = 7;
  p[n - 1] = 9;
  char *q = scvgc_realloc(p, n + (8 << 20)); /* the reservation is 64 MiB chunks */
  cr_assert_eq(q, p);
  cr_assert(q[0] == 7 && q[n - 1] == 9);
  q[n + (8 << 20) - 1] = 3;
  q = scvgc_realloc(q, 1 << 20);
  cr_assert_eq(q, p);
  cr_assert_eq(q[0], 7);
  scvgc_heap_check();
  scvgc_free(q);
}

Test(alloc, alignments_above_max_align_fail_with_enomem_and_below_are_honoured, .init = mode_off) {
  for (int k = 27; k <= 46; k++) {
    errno = EDOM;
    char *p = scvgc_memalign((size_t)1 << k, 10);
    if (((size_t)1 << k) > SCVGC_MAX_ALIGN) {
      cr_assert_null(p, "alignment 2^%d", k);
      cr_assert_eq(errno, ENOMEM);
      continue;
    }
    cr_assert_not_null(p, "alignment 2^%d", k);
    cr_assert_eq(errno, EDOM, "alignment 2^%d: errno changed", k);
    cr_assert_eq((uintptr_t)p % ((uintptr_t)1 << k), 0);
    p[9] = 1;
    scvgc_free(p);
  }
  scvgc_heap_check();
}

Test(alloc, a_huge_block_grown_past_its_reservation_moves_its_pages_not_copies_them, .init = mode_off) {
  size_t n = SCVGC_HUGE_MIN, m = (size_t)2 << 30;
  char *p = scvgc_malloc(n);
  cr_assert_not_null(p);
  memset(p, 7, 4096);
  p[n - 1] = 9;
  size_t rss0 = rss_pages();
  char *q = scvgc_realloc(p, m);
  if (!q) cr_skip_test("2 GiB not granted here");
  /* a copy would have written the 256 MiB into the new block: 65536 pages */
  cr_assert_lt(rss_pages() - rss0, 1024, "RSS grew by %zu pages", rss_pages() - rss0);
  cr_assert(q[0] == 7 && q[4095] == 7 && q[n - 1] == 9 && q[n] == 0 && q[m - 1] == 0);
  cr_assert_eq(scvgc_span_inuse((uintptr_t)q + m - 1)->base, (uintptr_t)q);
  cr_assert_geq(scvgc_usable_size(q), m);
  if (q != p) cr_assert_null(scvgc_span_inuse((uintptr_t)p));
  q[m - 1] = 1;
  scvgc_heap_check();
  scvgc_free(q);
  scvgc_heap_check();
}

/* alloc.c F1: a fork from a signal handler that interrupted this thread inside the allocator
 * (scvgc_in_alloc > 0), in a process with no other thread, must not wait for a lock the
 * interrupted call holds: here the heap's lock, held by "the interrupted call". Before F1 the
 * prepare handler deadlocked on it. Criterion's worker has a thread of its own: the case runs
 * in a child of it (one thread), which alarm() ends if it hangs. */
extern __thread uint32_t scvgc_in_alloc;

Test(alloc, fork_prepare_inside_the_allocator_of_a_lone_thread_waits_for_no_lock, .init = mode_off) {
  scvgc_free(scvgc_malloc(100)); /* started */
  pid_t pid = fork();
  if (pid == 0) {
    alarm(10);
    scvgc_heap_lock_all(); /* what the interrupted call holds */
    scvgc_in_alloc++;
    scvgc_fork_prepare();
    scvgc_fork_parent();
    scvgc_in_alloc--;
    scvgc_heap_unlock_all();
    /* and outside the allocator the handlers take and release every lock as before */
    scvgc_fork_prepare();
    scvgc_fork_parent();
    void *p = scvgc_malloc(100000);
    if (!p) _exit(2);
    scvgc_free(p);
    _exit(0);
  }
  cr_assert_gt(pid, 0);
  int st = 0;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x (SIGALRM 14: it deadlocked)", st);
}

Test(alloc, free_keeps_errno, .init = quiet_off) {
  void *small = scvgc_malloc(24), *large = scvgc_malloc(1 << 20);
  errno = 4242;
  scvgc_free(small);
  scvgc_free(large);
  scvgc_free(small); /* a double free: a diagnostic is written */
  cr_assert_eq(errno, 4242);
}

Test(alloc, an_alignment_above_the_largest_request_is_enomem, .init = mode_off) {
  errno = 0;
  cr_assert_null(scvgc_memalign((size_t)1 << 63, 16));
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  cr_assert_null(scvgc_memalign((size_t)1 << 47, 1));
  cr_assert_eq(errno, ENOMEM);
}
