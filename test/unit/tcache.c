/* Invariants of core/tcache.c and core/central.c: refill, ownership, flush, remote frees. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void mode_off(void) { setenv("SCVGC_MODE", "off", 1); }

#define CLS32 2 /* the 32-byte class */

/* T1: everything on a bin's list belongs to the bin's span, which the cache owns. */
static void check_cache(const scvgc_tcache_t *tc) {
  for (int c = 1; c < SCVGC_NCLASSES; c++) {
    const scvgc_bin_t *b = &tc->bins[c];
    if (!b->span) {
      cr_assert_null(b->free);
      continue;
    }
    cr_assert_eq(b->span->owner, tc);
    cr_assert_eq(b->span->where, SCVGC_W_CURRENT);
    cr_assert_eq(b->span->cls, c);
    for (void *p = b->free; p; p = scvgc_span_next(b->span, p)) cr_assert_eq(scvgc_spanof((uintptr_t)p), b->span);
    for (const scvgc_span_t *s = b->partial; s; s = s->next) {
      cr_assert_eq(s->owner, tc);
      cr_assert_eq(s->where, SCVGC_W_PARTIAL);
    }
    for (const scvgc_span_t *s = b->full; s; s = s->next) {
      cr_assert_eq(s->owner, tc);
      cr_assert_eq(s->where, SCVGC_W_FULL);
    }
  }
}

Test(tcache, refill_takes_a_span_the_cache_then_owns, .init = mode_off) {
  void *p = scvgc_malloc(32);
  scvgc_span_t *s = scvgc_spanof((uintptr_t)p);
  cr_assert_eq(s->cls, CLS32);
  cr_assert_eq(s->owner, &scvgc_tc);
  cr_assert_eq(scvgc_tc.bins[CLS32].span, s);
  check_cache(&scvgc_tc);
}

Test(tcache, objects_come_from_one_span_until_it_is_full, .init = mode_off) {
  uint32_t n = scvgc_classes[CLS32].nelems;
  void *first = scvgc_malloc(32);
  scvgc_span_t *s = scvgc_spanof((uintptr_t)first);
  for (uint32_t i = 1; i < n; i++) cr_assert_eq(scvgc_spanof((uintptr_t)scvgc_malloc(32)), s);
  void *next = scvgc_malloc(32);
  cr_assert_neq(scvgc_spanof((uintptr_t)next), s);
  cr_assert_eq(s->where, SCVGC_W_FULL);
  cr_assert(atomic_load(&s->xfree) & SCVGC_XF_UNLINKED);
  check_cache(&scvgc_tc);
}

Test(tcache, own_free_of_a_full_span_makes_it_partial_and_reused, .init = mode_off) {
  uint32_t n = scvgc_classes[CLS32].nelems;
  void **objs = calloc(n, sizeof *objs);
  for (uint32_t i = 0; i < n; i++) objs[i] = scvgc_malloc(32);
  scvgc_span_t *s = scvgc_spanof((uintptr_t)objs[0]);
  scvgc_malloc(32); /* s is full now */
  cr_assert_eq(s->where, SCVGC_W_FULL);
  scvgc_free(objs[7]);
  cr_assert_eq(s->where, SCVGC_W_PARTIAL);
  check_cache(&scvgc_tc);
  /* the current span runs out eventually and the partial one is used again */
  void *again = NULL;
  for (uint32_t i = 0; i < n + 1 && again != objs[7]; i++) again = scvgc_malloc(32);
  cr_assert_eq(again, objs[7]);
  free(objs);
}

Test(tcache, a_wholly_free_owned_span_goes_back_to_the_heap, .init = mode_off) {
  uint32_t n = scvgc_classes[CLS32].nelems;
  void **objs = calloc(3 * n, sizeof *objs);
  for (uint32_t i = 0; i < 3 * n; i++) objs[i] = scvgc_malloc(32);
  scvgc_span_t *s0 = scvgc_spanof((uintptr_t)objs[0]);
  scvgc_span_t *s1 = scvgc_spanof((uintptr_t)objs[n]);
  uintptr_t b0 = s0->base, b1 = s1->base;
  for (uint32_t i = 0; i < n; i++) scvgc_free(objs[i]); /* s0 first on partial: kept */
  cr_assert_eq(scvgc_spanof(b0)->state, SCVGC_SPAN_SMALL);
  for (uint32_t i = n; i < 2 * n; i++) scvgc_free(objs[i]); /* s1 wholly free too: returned */
  cr_assert_eq(scvgc_spanof(b1)->state, SCVGC_SPAN_FREE);
  scvgc_heap_check();
  check_cache(&scvgc_tc);
  free(objs);
}

typedef struct { void **objs; uint32_t n; } batch_t;

static void *free_all(void *arg) {
  batch_t *b = arg;
  for (uint32_t i = 0; i < b->n; i++) scvgc_free(b->objs[i]);
  return NULL;
}

static void *alloc_all(void *arg) {
  batch_t *b = arg;
  for (uint32_t i = 0; i < b->n; i++) b->objs[i] = scvgc_malloc(32);
  return NULL;
}

Test(tcache, another_threads_frees_go_to_the_spans_xfree_list, .init = mode_off) {
  uint32_t n = 10;
  void *objs[10];
  for (uint32_t i = 0; i < n; i++) objs[i] = scvgc_malloc(32);
  scvgc_span_t *s = scvgc_spanof((uintptr_t)objs[0]);
  batch_t b = {objs, n};
  pthread_t t;
  pthread_create(&t, NULL, free_all, &b);
  pthread_join(t, NULL);
  cr_assert_eq(SCVGC_XF_COUNT(atomic_load(&s->xfree)), n);
  cr_assert_eq(s->owner, &scvgc_tc); /* still ours */
}

Test(tcache, remote_free_of_a_full_span_queues_it_for_its_owner, .init = mode_off) {
  uint32_t n = scvgc_classes[CLS32].nelems;
  void **objs = calloc(n, sizeof *objs);
  for (uint32_t i = 0; i < n; i++) objs[i] = scvgc_malloc(32);
  scvgc_span_t *s = scvgc_spanof((uintptr_t)objs[0]);
  scvgc_malloc(32); /* s is full */
  batch_t b = {objs + 5, 1};
  pthread_t t;
  pthread_create(&t, NULL, free_all, &b);
  pthread_join(t, NULL);
  cr_assert_eq(atomic_load(&scvgc_tc.xspans), s);
  cr_assert(atomic_load(&s->xfree) & SCVGC_XF_QUEUED);
  /* the owner drains the queue at its next refill and the object comes back */
  void *again = NULL;
  for (uint32_t i = 0; i < 2 * n && again != objs[5]; i++) again = scvgc_malloc(32);
  cr_assert_eq(again, objs[5]);
  cr_assert_null(atomic_load(&scvgc_tc.xspans));
  cr_assert_eq(atomic_load(&s->xfree) & SCVGC_XF_QUEUED, 0);
  free(objs);
}

Test(tcache, thread_exit_gives_every_span_to_central, .init = mode_off) {
  uint32_t n = 3 * scvgc_classes[CLS32].nelems / 2;
  void **objs = calloc(n, sizeof *objs);
  batch_t b = {objs, n};
  pthread_t t;
  pthread_create(&t, NULL, alloc_all, &b);
  pthread_join(t, NULL);
  scvgc_span_t *s0 = scvgc_spanof((uintptr_t)objs[0]), *s1 = scvgc_spanof((uintptr_t)objs[n - 1]);
  cr_assert_null(s0->owner);
  cr_assert_null(s1->owner);
  cr_assert(atomic_load(&s1->xfree) & SCVGC_XF_CENTRAL);
  cr_assert_eq(scvgc_central_partial_count(CLS32), 1); /* s1 has free objects, s0 none */
  /* a free into the full central span links it (C2) */
  scvgc_free(objs[0]);
  cr_assert_eq(scvgc_central_partial_count(CLS32), 2);
  free(objs);
}

Test(tcache, a_central_span_whose_objects_are_all_freed_returns_to_the_heap, .init = mode_off) {
  uint32_t n = scvgc_classes[CLS32].nelems;
  void **objs = calloc(n, sizeof *objs);
  batch_t b = {objs, n};
  pthread_t t;
  pthread_create(&t, NULL, alloc_all, &b);
  pthread_join(t, NULL);
  uintptr_t base = scvgc_spanof((uintptr_t)objs[0])->base;
  for (uint32_t i = 0; i < n; i++) scvgc_free(objs[i]);
  cr_assert_eq(scvgc_spanof(base)->state, SCVGC_SPAN_FREE); /* C3 */
  scvgc_heap_check();
  free(objs);
}

Test(tcache, flush_returns_everything_and_the_cache_still_works, .init = mode_off) {
  void *p = scvgc_malloc(100), *q = scvgc_malloc(5000);
  scvgc_free(p);
  scvgc_tcache_flush(&scvgc_tc);
  for (int c = 1; c < SCVGC_NCLASSES; c++) {
    cr_assert_null(scvgc_tc.bins[c].span);
    cr_assert_null(scvgc_tc.bins[c].partial);
    cr_assert_null(scvgc_tc.bins[c].full);
  }
  cr_assert_null(scvgc_spanof((uintptr_t)q)->owner);
  void *r = scvgc_malloc(100);
  cr_assert_not_null(r);
  check_cache(&scvgc_tc);
}

Test(tcache, late_allocations_after_thread_exit_borrow_and_return, .init = mode_off) {
  scvgc_free(scvgc_malloc(64));
  scvgc_tcache_thread_exit();
  cr_assert_eq(scvgc_tc.state, SCVGC_TC_DEAD);
  void *p = scvgc_malloc(64);
  cr_assert_not_null(p);
  cr_assert_null(scvgc_spanof((uintptr_t)p)->owner);
  memset(p, 1, 64);
  scvgc_free(p);
  for (int c = 1; c < SCVGC_NCLASSES; c++) cr_assert_null(scvgc_tc.bins[c].span);
}

/* Stress: 4 threads pass objects around in a ring; every object carries a pattern that is
 * checked before it is freed, by whichever thread frees it. */
#define NT 4
#define SLOTS 4096
static _Atomic(void *) mailbox[NT][SLOTS];

static void fill(void *p, size_t n) {
  unsigned char *c = p;
  uintptr_t seed = (uintptr_t)p * 2654435761u;
  ((size_t *)p)[0] = n;
  for (size_t i = sizeof(size_t); i < n; i++) c[i] = (unsigned char)(seed >> (i % 32));
}

static void check(void *p) {
  unsigned char *c = p;
  size_t n = ((size_t *)p)[0];
  uintptr_t seed = (uintptr_t)p * 2654435761u;
  for (size_t i = sizeof(size_t); i < n; i++)
    if (c[i] != (unsigned char)(seed >> (i % 32))) cr_assert_fail("object %p corrupted at %zu", p, i);
}

static void *ring_worker(void *arg) {
  int me = (int)(intptr_t)arg;
  unsigned r = (unsigned)me * 7919 + 1;
  for (int i = 0; i < 200000; i++) {
    r = r * 1103515245 + 12345;
    int slot = (r >> 8) % SLOTS;
    size_t n = 8 + (r >> 20) % ((r & 7) ? 256 : 40000);
    void *p = scvgc_malloc(n);
    if (!p) cr_assert_fail("malloc");
    fill(p, n);
    void *old = atomic_exchange(&mailbox[(me + 1) % NT][slot], p);
    if (old) { check(old); scvgc_free(old); }
    void *mine = atomic_exchange(&mailbox[me][(slot * 7) % SLOTS], NULL);
    if (mine) { check(mine); scvgc_free(mine); }
  }
  return NULL;
}

Test(tcache, four_threads_freeing_each_others_objects_corrupt_nothing, .init = mode_off,
     .timeout = 60) {
  pthread_t t[NT];
  for (int i = 0; i < NT; i++) pthread_create(&t[i], NULL, ring_worker, (void *)(intptr_t)i);
  for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < NT; i++)
    for (int k = 0; k < SLOTS; k++) {
      void *p = atomic_load(&mailbox[i][k]);
      if (p) { check(p); scvgc_free(p); }
    }
  scvgc_heap_check();
  scvgc_stats_t st;
  scvgc_stats_read(&st);
  cr_assert_eq(st.live_objects, 0, "live %zu", st.live_objects);
}

/* The T6 cut drains xspans (T3) while the free event holds a full span that a remote free
 * queued there: the drain must not move that span to partial behind the event's back (it
 * did: the span was then released to central while still on the partial queue, and two
 * caches came to own it). Deterministic: spans of two pages, so that eight free events put
 * sixteen pages on partial and the ninth cuts the queue. */
static void *remote_free_two(void *p) {
  void **pp = p;
  scvgc_free(pp[0]);
  scvgc_free(pp[1]);
  return NULL;
}

Test(tcache, a_free_burst_that_cuts_the_queue_keeps_a_queued_full_span_off_partial,
     .init = mode_off) {
  uint32_t cls = 0;
  for (uint32_t c = 1; c < SCVGC_NCLASSES && !cls; c++)
    if (scvgc_classes[c].npages == 2 && scvgc_classes[c].nelems >= 4) cls = c;
  cr_assert_neq(cls, 0);
  size_t size = scvgc_classes[cls].size;
  uint32_t per = scvgc_classes[cls].nelems, nspans = 11;
  void **objs = calloc((size_t)per * nspans, sizeof *objs);
  for (uint32_t i = 0; i < per * nspans; i++) objs[i] = scvgc_malloc(size);
  scvgc_bin_t *b = &scvgc_tc.bins[cls];
  /* spans 0..9 are spent and full (the queue was empty when each was spent) */
  for (uint32_t k = 0; k < 10; k++)
    cr_assert_eq(scvgc_spanof((uintptr_t)objs[k * per])->where, SCVGC_W_FULL, "span %u", k);
  for (uint32_t k = 0; k < 8; k++) scvgc_free(objs[k * per]); /* eight events: 16 pages */
  cr_assert_eq(b->partial_pages, 16);
  scvgc_span_t *s = scvgc_spanof((uintptr_t)objs[8 * per]);
  scvgc_span_t *tail = scvgc_spanof((uintptr_t)objs[1]);
  cr_assert_eq(b->partial->prev, tail, "span 0 went partial first: the queue's tail");
  /* Another thread frees into s (full) and into the tail (partial, but still UNLINKED from
   * when it was full: the owner's frees leave the bit): both are queued on this cache's
   * xspans (C2), so the cut's release of the tail waits for its QUEUED and drains. */
  void *two[2] = {objs[1], objs[8 * per]};
  pthread_t t;
  pthread_create(&t, NULL, remote_free_two, two);
  pthread_join(t, NULL);
  cr_assert(atomic_load(&s->xfree) & SCVGC_XF_QUEUED);
  cr_assert(atomic_load(&tail->xfree) & SCVGC_XF_QUEUED);
  scvgc_free(objs[8 * per + 1]); /* the ninth event, into s: the burst cuts the queue */
  scvgc_tcache_check(&scvgc_tc);
  cr_assert_null(s->owner, "s went to central");
  cr_assert(atomic_load(&s->xfree) & SCVGC_XF_CENTRAL);
  for (scvgc_span_t *q = b->partial; q; q = q->next) cr_assert_neq(q, s, "s is not on partial");
  for (scvgc_span_t *q = b->full; q; q = q->next) cr_assert_neq(q, s, "s is not on full");
  for (uint32_t i = 0; i < per * nspans; i++)
    if (i % per != 0 || i / per >= 9)
      if (i != 8 * per + 1 && i != 1) scvgc_free(objs[i]);
  scvgc_tcache_flush(&scvgc_tc);
  scvgc_heap_check();
  scvgc_central_check();
  free(objs);
}

/* C6: a span is on its owner's xspans at most once. The owner can mark a span full again
 * while it is still queued (it took the xfree list the queuer left, spent the span, and had
 * not drained yet); a second remote free then found UNLINKED and pushed the span a second
 * time: a cycle in xspans, and drain_xspans never returned (the hang of churn in leak mode). */
static void *remote_free_list(void *p) {
  void **pp = p;
  for (; *pp; pp++) scvgc_free(*pp);
  return NULL;
}

static void remote(void *a, void *b) {
  void *l[3] = {a, b, NULL};
  pthread_t t;
  pthread_create(&t, NULL, remote_free_list, l);
  pthread_join(t, NULL);
}

Test(tcache, a_span_marked_full_again_while_queued_is_queued_once, .init = mode_off,
     .timeout = 30) {
  uint32_t n = scvgc_classes[CLS32].nelems;
  void **a = calloc(n, sizeof *a);
  for (uint32_t i = 0; i < n; i++) a[i] = scvgc_malloc(32);
  scvgc_span_t *s = scvgc_spanof((uintptr_t)a[0]);
  void *next = scvgc_malloc(32); /* s spent and marked full (UNLINKED) */
  cr_assert_eq(s->where, SCVGC_W_FULL);
  remote(a[1], NULL); /* another thread's free: QUEUED, pushed on xspans, UNLINKED cleared */
  cr_assert_eq(atomic_load(&scvgc_tc.xspans), s);
  /* The window in scvgc_tcache_refill between mark_full and the drain that follows it: the
   * owner has taken s's xfree list and marked it full again while s is still queued. */
  atomic_fetch_or(&s->xfree, SCVGC_XF_UNLINKED);
  uintptr_t x = atomic_load(&s->xfree);
  cr_assert((x & SCVGC_XF_UNLINKED) && (x & SCVGC_XF_QUEUED));
  scvgc_central_remote_free(s, a[2]); /* a remote free now: never a second push */
  int seen = 0, len = 0;
  for (scvgc_span_t *q = atomic_load(&scvgc_tc.xspans); q && len < 16; q = q->xnext, len++)
    seen += q == s;
  cr_assert_eq(seen, 1, "s is on xspans %d times (list walked %d steps)", seen, len);
  cr_assert_eq(atomic_load(&s->xfree) & SCVGC_XF_UNLINKED, 0);
  /* the drain (at the next refill) moves it to partial with its free objects */
  for (uint32_t i = 3; i < n; i++) scvgc_free(a[i]);
  scvgc_free(a[0]);
  scvgc_free(next);
  scvgc_tcache_flush(&scvgc_tc);
  scvgc_tcache_check(&scvgc_tc);
  scvgc_heap_check();
  scvgc_central_check();
  free(a);
}

/* The checker itself (scvgc_tcache_check, T1): a span that says it is on the partial queue
 * while it is the current span is caught. Broken on purpose: the process ends. */
Test(tcache, the_checker_catches_a_current_span_that_says_it_is_partial, .init = mode_off,
     .signal = SIGILL) {
  void *p = scvgc_malloc(32);
  cr_assert_not_null(p);
  scvgc_tcache_t *tc = &scvgc_tc;
  scvgc_tcache_check(tc); /* sound */
  tc->bins[CLS32].span->where = SCVGC_W_PARTIAL;
  scvgc_tcache_check(tc);
}
