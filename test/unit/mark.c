/* core/mark.c, workbuf.c and roots.c: the candidate check, marking, the mark stack, the
 * library's own mappings. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gc.h"
#include "mark.h"

static void mode_leak(void) { setenv("SCVGC_MODE", "leak", 1); }

static bool marked(void *p) {
  scvgc_span_t *s;
  uint32_t i;
  cr_assert(scvgc_find_object((uintptr_t)p, &s, &i));
  return scvgc_marked(s, i);
}

Test(mark, any_byte_of_an_allocated_object_finds_it, .init = mode_leak) {
  char *small = scvgc_malloc(100), *large = scvgc_malloc(100000);
  scvgc_span_t *s;
  uint32_t i;
  for (size_t off = 0; off < 112; off += 7) {
    cr_assert(scvgc_find_object((uintptr_t)small + off, &s, &i), "offset %zu", off);
    cr_assert_eq(scvgc_object_base(s, i), (uintptr_t)small);
  }
  for (size_t off = 0; off < 100000; off += 4097) {
    cr_assert(scvgc_find_object((uintptr_t)large + off, &s, &i));
    cr_assert_eq(scvgc_object_base(s, i), (uintptr_t)large);
  }
  cr_assert_eq(scvgc_object_size(s, i), 100000);
}

Test(mark, free_slots_and_addresses_outside_the_heap_are_not_candidates, .init = mode_leak) {
  char *a = scvgc_malloc(100), *b = scvgc_malloc(100);
  scvgc_free(b);
  scvgc_span_t *s;
  uint32_t i;
  int local;
  cr_assert(scvgc_find_object((uintptr_t)a, &s, &i));
  cr_assert(!scvgc_find_object((uintptr_t)b, &s, &i));
  cr_assert(!scvgc_find_object((uintptr_t)&local, &s, &i));
  cr_assert(!scvgc_find_object(0, &s, &i));
  cr_assert(!scvgc_find_object((uintptr_t)a + 1000000000, &s, &i));
}

/* Clear an object's mark bit, as the start of a cycle does (allocation sets it). */
static void unmark(void *p) {
  scvgc_span_t *s = scvgc_spanof((uintptr_t)p);
  uint32_t i = s->cls ? scvgc_slot_index(s, (uintptr_t)p) : 0;
  s->meta[i].size &= ~SCVGC_META_MARK;
}

Test(mark, an_object_is_greyed_once_and_what_it_points_to_is_marked, .init = mode_leak) {
  /* a chain longer than one workbuf holds, to make the mark stack spill and be shared */
  enum { N = 5000 };
  void **head = NULL;
  for (int k = 0; k < N; k++) {
    void **n = scvgc_malloc(32);
    n[0] = head;
    n[1] = (char *)head + 8; /* an interior pointer too */
    head = n;
  }
  for (void **n = head; n; n = n[0]) unmark(n); /* allocation is black: as a cycle starts */
  scvgc_marker_t m;
  scvgc_heap_lock_all(); /* as in a cycle: workbuf spans come from the locked heap */
  scvgc_marker_init(&m);
  scvgc_mark_word(&m, (uintptr_t)head);
  scvgc_mark_word(&m, (uintptr_t)head); /* M1: the second time it is already marked */
  cr_assert_eq(m.objects, 1);
  scvgc_mark_parallel(&m);
  scvgc_heap_unlock_all();
  cr_assert_eq(m.objects, N);
  for (void **n = head; n; n = n[0]) cr_assert(marked(n));
  scvgc_marker_done(&m);
  scvgc_wb_check_empty();
}

Test(mark, mark_range_skips_words_that_are_not_pointers_into_the_heap, .init = mode_leak) {
  void *obj = scvgc_malloc(64);
  unmark(obj);
  uintptr_t words[6] = {0, 1, 4096, (uintptr_t)-1, (uintptr_t)obj + 8, 12345};
  scvgc_marker_t m;
  scvgc_heap_lock_all();
  scvgc_marker_init(&m);
  scvgc_mark_range(&m, (uintptr_t)words, (uintptr_t)(words + 6));
  scvgc_mark_flush(&m);
  cr_assert_eq(m.objects, 1);
  cr_assert_eq(m.bytes, sizeof words);
  scvgc_mark_parallel(&m);
  scvgc_marker_done(&m);
  scvgc_heap_unlock_all();
}

Test(mark, workbufs_are_2k_carved_from_32k_manual_spans_and_reused, .init = mode_leak) {
  scvgc_malloc(16); /* initialise the heap */
  scvgc_heap_lock_all();
  scvgc_workbuf_t *b[20];
  for (int k = 0; k < 20; k++) b[k] = scvgc_wb_getempty();
  scvgc_heap_unlock_all();
  cr_assert_eq(sizeof(scvgc_workbuf_t), 2048);
  cr_assert_eq(scvgc_wb_spans(), 2); /* 16 per span */
  scvgc_span_t *s = scvgc_spanof((uintptr_t)b[0]);
  cr_assert_eq(s->state, SCVGC_SPAN_MANUAL);
  cr_assert_eq(s->npages * SCVGC_PAGE_SIZE, 32768);
  for (int k = 0; k < 20; k++) scvgc_wb_putempty(b[k]);
  scvgc_heap_lock_all();
  scvgc_workbuf_t *again = scvgc_wb_getempty();
  scvgc_heap_unlock_all();
  cr_assert_eq(scvgc_wb_spans(), 2);
  scvgc_wb_putempty(again);
}

Test(mark, own_mappings_merge_split_and_answer_lookups) {
  char *p = mmap(NULL, 5 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uintptr_t a = (uintptr_t)p, end;
  scvgc_own_mapping(a, 4096);
  scvgc_own_mapping(a + 4096, 4096); /* adjacent: merged */
  cr_assert(scvgc_is_own(a + 5000, &end));
  cr_assert_eq(end, a + 8192);
  cr_assert(!scvgc_is_own(a + 8192, &end));
  scvgc_own_mapping(a + 3 * 4096, 2 * 4096);
  scvgc_own_unmapping(a + 4096, 4096); /* a hole */
  cr_assert(scvgc_is_own(a, &end));
  cr_assert_eq(end, a + 4096);
  cr_assert(!scvgc_is_own(a + 4096, &end));
  cr_assert(scvgc_is_own(a + 4 * 4096, &end));
  scvgc_own_unmapping(a, 5 * 4096);
  cr_assert(!scvgc_is_own(a, &end));
  cr_assert(!scvgc_is_own(a + 4 * 4096, &end));
}

Test(mark, metadata_mappings_are_the_librarys_own) {
  void *p = scvgc_sys_map_meta(65536);
  uintptr_t end;
  cr_assert(scvgc_is_own((uintptr_t)p + 100, &end));
  scvgc_sys_unmap_meta(p, 65536);
  cr_assert(!scvgc_is_own((uintptr_t)p + 100, &end));
}

/* L1, L2: a library thread is registered before its creator returns and runs with every
 * signal blocked, whatever the creator's mask. */
static _Atomic int lt_checked, lt_unblocked = -1;
static void *lt_body(void *arg) {
  (void)arg;
  sigset_t m;
  pthread_sigmask(SIG_BLOCK, NULL, &m);
  int unblocked = 0;
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP && !(s >= 32 && s < SIGRTMIN) && !sigismember(&m, s)) unblocked++;
  atomic_store(&lt_unblocked, unblocked);
  atomic_store(&lt_checked, 1);
  return NULL;
}

Test(mark, library_threads_are_registered_and_block_every_signal) {
  sigset_t none, before, after;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, &before);
  cr_assert(scvgc_libthread_start(lt_body, NULL));
  pthread_sigmask(SIG_SETMASK, NULL, &after);
  cr_expect(!sigismember(&after, SIGTERM), "the creator's own mask is given back");
  int tcbs = 0;
  uintptr_t tp[64];
  tcbs = scvgc_libthread_tcbs(tp, 64);
  cr_expect_gt(tcbs, 0);
  while (!atomic_load(&lt_checked)) sched_yield();
  cr_expect_eq(atomic_load(&lt_unblocked), 0, "%d signals left unblocked", atomic_load(&lt_unblocked));
}

/* ---- large objects are read over their touched pages (os.c scvgc_sys_touched) ---------- */

typedef struct { uintptr_t lo[64], hi[64]; int n; } runs_t;

static void note_run(void *arg, uintptr_t lo, uintptr_t hi) {
  runs_t *r = arg;
  cr_assert_lt(r->n, 64);
  r->lo[r->n] = lo;
  r->hi[r->n++] = hi;
}

/* 64 MiB never touched but for OS pages 3, 1000 and 1001 (and one page only read, which maps
 * the zero page): the walk gives exactly the written pages, cut to the range asked. */
static void touched_pages_case(bool scan) {
  size_t len = (size_t)64 << 20;
  char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(m, MAP_FAILED);
  madvise(m, len, MADV_NOHUGEPAGE); /* one written byte must not fault in 2 MiB */
  m[3 * 4096 + 5] = 1;
  m[1000 * 4096] = 1;
  m[1001 * 4096 + 4095] = 1;
  volatile char sink = m[5000 * 4096]; /* the zero page: PAGEMAP_SCAN skips it */
  (void)sink;
  scvgc_sys_pagemap_scan(scan);
  runs_t r = {.n = 0};
  uintptr_t lo = (uintptr_t)m + 3 * 4096 + 100; /* not page aligned: runs are clipped */
  scvgc_object_words(lo, (uintptr_t)m + len, note_run, &r);
  size_t bytes = 0;
  bool saw3 = false, saw1000 = false;
  for (int i = 0; i < r.n; i++) {
    cr_assert(r.lo[i] >= lo && r.hi[i] <= (uintptr_t)m + len && r.lo[i] < r.hi[i]);
    bytes += r.hi[i] - r.lo[i];
    saw3 |= r.lo[i] == lo;
    saw1000 |= r.lo[i] <= (uintptr_t)m + 1000 * 4096 && r.hi[i] >= (uintptr_t)m + 1002 * 4096;
  }
  cr_assert(saw3 && saw1000, "the written pages were not all given (%d runs)", r.n);
  cr_assert_leq(bytes, 4 * 4096, "%zu bytes given of 3 written pages", bytes);
  scvgc_sys_pagemap_scan(true);
  munmap(m, len);
}

Test(mark, a_large_object_is_read_over_its_written_pages_only_pagemap_scan) { touched_pages_case(true); }
Test(mark, a_large_object_is_read_over_its_written_pages_only_pagemap_file) { touched_pages_case(false); }

Test(mark, a_small_object_is_read_whole) {
  char buf[4096];
  runs_t r = {.n = 0};
  scvgc_object_words((uintptr_t)buf, (uintptr_t)buf + sizeof buf, note_run, &r);
  cr_assert_eq(r.n, 1);
  cr_assert(r.lo[0] == (uintptr_t)buf && r.hi[0] == (uintptr_t)buf + sizeof buf);
}

/* M3: a page of a live object that the program made PROT_NONE is skipped, the pages around
 * it are read, and the program's own SIGSEGV handler is back afterwards. */
static void own_segv(int sig) { (void)sig; }

Test(mark, a_protected_page_inside_a_live_object_is_skipped_without_a_fault, .init = mode_leak,
     .timeout = 60) { /* without the guard the fault repeats under the handler below */
  struct sigaction sa = {0}, before, after;
  sa.sa_handler = own_segv;
  sigaction(SIGSEGV, &sa, &before);
  size_t sz = 64 << 10;
  char *buf = scvgc_malloc(sz);
  memset(buf, 0, sz);
  uintptr_t page = ((uintptr_t)buf + sz / 2) & ~(uintptr_t)4095;
  void *a = scvgc_malloc(48), *b = scvgc_malloc(48);
  *(void **)(page - 16) = a;        /* before the protected page */
  *(void **)(page + 4096 + 16) = b; /* after it */
  unmark(buf);
  unmark(a);
  unmark(b);
  cr_assert_eq(mprotect((void *)page, 4096, PROT_NONE), 0);
  scvgc_marker_t m;
  scvgc_heap_lock_all();
  scvgc_marker_init(&m);
  scvgc_mark_word(&m, (uintptr_t)buf);
  scvgc_mark_guard(true);
  scvgc_mark_parallel(&m);
  uint64_t skipped = scvgc_mark_guard(false);
  scvgc_marker_done(&m);
  scvgc_heap_unlock_all();
  mprotect((void *)page, 4096, PROT_READ | PROT_WRITE);
  cr_assert_eq(skipped, 1);
  scvgc_span_t *s;
  uint32_t i;
  cr_assert(scvgc_find_object((uintptr_t)a, &s, &i) && scvgc_marked(s, i), "read before the page");
  cr_assert(scvgc_find_object((uintptr_t)b, &s, &i) && scvgc_marked(s, i), "read after the page");
  sigaction(SIGSEGV, NULL, &after);
  cr_assert_eq((void *)after.sa_handler, (void *)own_segv, "the program's handler is back");
  sigaction(SIGSEGV, &before, NULL);
}
