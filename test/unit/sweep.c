/* core/sweep.c: the sweepgen protocol (the state table in sweep.h), the owner's lazy flush
 * (tcache.c T5), the sweepers, the mark stack's spans retired and freed, what was
 * reclaimed by allocation stack. Collect mode, no background sweeper (the tests move the
 * spans through their states themselves), no periodic cycle. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gc.h"
#include "mark.h"
#include "stack.h"
#include "sweep.h"

static void start(void) {
  setenv("SCVGC_MODE", "collect", 1);
  setenv("SCVGC_REPORT", "none", 1);
  setenv("SCVGC_GOGC", "off", 1);
  setenv("SCVGC_SAMPLE", "0", 1); /* every stack: the reclaimed table is checked per stack */
  scvgc_init();
  scvgc_gc_start();
}

void *volatile keep;

#include "threads.h"

static void cycle(void) {
  scrub();
  __asm__ volatile("xor %%ebx,%%ebx; xor %%r12d,%%r12d; xor %%r13d,%%r13d; xor %%r14d,%%r14d;"
                   "xor %%r15d,%%r15d" ::: "rbx", "r12", "r13", "r14", "r15");
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST), "the cycle is complete");
}

static uint32_t sg(void) { return scvgc_sweepgen_now(); }
static uint32_t gen(const void *p) { return scvgc_span_sweepgen(scvgc_spanof((uintptr_t)p)); }
static scvgc_span_t *span(const void *p) { return scvgc_spanof((uintptr_t)p); }

static bool is_free(void *p) {
  scvgc_span_t *s = span(p);
  uint32_t i = s->cls ? scvgc_slot_index(s, (uintptr_t)p) : 0;
  return s->state != SCVGC_SPAN_LARGE && s->state != SCVGC_SPAN_SMALL ? true : s->meta[i].size == 0;
}

/* ---- transitions ------------------------------------------------------------------------- */

Test(sweep, a_new_span_is_swept_then_cached, .init = start) {
  void *p = scvgc_malloc(48);
  cr_assert_eq(gen(p), sg() + 3, "owned by this thread's cache: swept and then cached");
  void *big = scvgc_malloc(100000);
  cr_assert_eq(gen(big), sg(), "a large span is owned by no cache: swept");
  keep = p;
}

/* A pointer kept where the marker cannot see it: above the user address space. */
#define HIDE ((uintptr_t)0x5a5a << 48)
static void *unhide(void *p) { return (void *)((uintptr_t)p ^ HIDE); }
static void *garbage_small[64];
__attribute__((noinline)) static void drop_small(void) {
  /* most of a span of 256-byte objects (32 fit), all dropped: the thread's exit hands the
   * span to central (owned by no cache, on its partial list) */
  for (int i = 0; i < 20; i++) garbage_small[i] = (void *)((uintptr_t)scvgc_malloc(256) ^ HIDE);
}



Test(sweep, a_cycle_makes_unowned_spans_unswept_and_cached_ones_stale, .init = start) {
  void **mine = scvgc_malloc(64);
  keep = mine;
  in_thread(drop_small);
  void *g = unhide(garbage_small[0]);
  cr_assert_null(span(g)->owner, "the exited thread's span is central");
  cr_assert_eq(gen(g), sg());
  uint32_t before = sg();
  cycle();
  cr_assert_eq(sg(), before + 2, "sweepgen advances by 2 per cycle");
  cr_assert_eq(gen(g), sg() - 2, "needs sweeping");
  cr_assert_eq(gen(mine), sg() + 1, "cached before the sweep began");
  cr_assert_neq(scvgc_tc.flushgen, sg(), "this cache is stale");
}

static void *hidden[8];
__attribute__((noinline)) static void drop_here(void) {
  for (int i = 0; i < 8; i++) hidden[i] = (void *)((uintptr_t)scvgc_malloc(80) ^ HIDE);
}

Test(sweep, the_owner_flushes_at_its_next_allocation_and_sweeps_in_place, .init = start) {
  /* garbage in this thread's own current span: allocated here, dropped */
  drop_here();
  void **live = scvgc_malloc(80);
  keep = live;
  scvgc_span_t *s = span(live);
  cycle();
  cr_assert_eq(gen(live), sg() + 1);
  uint64_t before = scvgc_sweepstats.objects;
  void *q = scvgc_malloc(80); /* the first allocation after the cycle: T5 */
  cr_assert_eq(scvgc_tc.flushgen, sg(), "flushed");
  cr_assert_eq(gen(live), sg() + 3, "swept by its owner, still cached");
  cr_assert_eq(span(live), s);
  /* conservative: a stale copy of the last pointer (a register of the allocating frames)
   * may keep one of them */
  cr_assert_geq(scvgc_sweepstats.objects - before, 7, "the dropped objects are reclaimed: %lu",
                (unsigned long)(scvgc_sweepstats.objects - before));
  int nfree = 0;
  for (int i = 0; i < 8; i++) nfree += is_free(unhide(hidden[i])) || unhide(hidden[i]) == q;
  cr_assert_geq(nfree, 7);
  cr_assert(!is_free(live), "what a root reaches stays");
  cr_assert_eq(((uint32_t)span(q)->meta[scvgc_slot_index(span(q), (uintptr_t)q)].size) & SCVGC_META_MARK,
               SCVGC_META_MARK, "a new object is black");
  scvgc_free(q);
}

Test(sweep, the_flush_hands_spans_it_does_not_allocate_from_back_unswept, .init = start) {
  void **a = scvgc_malloc(1000); /* a span of this class owned here */
  keep = a;
  for (int i = 0; i < 20; i++) garbage_small[i] = (void *)((uintptr_t)scvgc_malloc(1000) ^ HIDE);
  void *other = unhide(garbage_small[19]);
  scvgc_span_t *cur = span(other), *first = span(a);
  cr_assert_neq(cur, first, "two spans of the class");
  cycle();
  cr_assert_eq(first->sweepgen, sg() + 1);
  (void)scvgc_malloc(16); /* flush (another class: the flush covers every class) */
  cr_assert_null(first->owner, "a span that is not the current one goes back to central");
  uint32_t v = first->sweepgen;
  cr_assert(v == sg() - 2 || v == sg() || first->state == SCVGC_SPAN_FREE,
            "handed back as needing sweeping (or swept already, or freed): %u vs %u", v, sg());
  cr_assert_eq(cur->sweepgen, sg() + 3, "the current span is swept in place");
}

Test(sweep, a_central_span_is_swept_before_it_is_handed_out, .init = start) {
  in_thread(drop_small);
  scvgc_span_t *s = span(unhide(garbage_small[0]));
  cycle();
  cr_assert_eq(s->sweepgen, sg() - 2);
  void *p = scvgc_malloc(256); /* the same class: central's span is taken, swept first */
  cr_assert_eq(span(p), s, "this thread took the central span");
  cr_assert_eq(s->sweepgen, sg() + 3, "swept, then cached");
  for (int i = 1; i < 20; i++) {
    void *g = unhide(garbage_small[i]);
    cr_assert(is_free(g) || g == p);
  }
}

/* A sweeper in the middle of s (sweepgen sg - 1) holds off the owner's uncache. */
static _Atomic int released;
static scvgc_span_t *held;
static void *uncacher(void *arg) {
  (void)arg;
  scvgc_sweep_uncache(held);
  cr_assert(atomic_load(&released), "uncache returned while the sweeper held the span");
  return NULL;
}

Test(sweep, a_cached_span_being_swept_is_waited_for, .init = start) {
  void *p = scvgc_malloc(64);
  keep = p;
  held = span(p);
  cycle();
  uint32_t g = sg();
  cr_assert_eq(held->sweepgen, g + 1);
  /* a remote sweeper claims it, as the background sweeper does for an idle owner */
  uint32_t from = g + 1;
  cr_assert(__atomic_compare_exchange_n(&held->sweepgen, &from, g - 1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
  pthread_t t;
  pthread_create(&t, NULL, uncacher, NULL);
  usleep(50000);
  atomic_store(&released, 1);
  __atomic_store_n(&held->sweepgen, g + 3, __ATOMIC_RELEASE); /* the sweeper's end */
  pthread_join(t, NULL);
  cr_assert_eq(held->sweepgen, g, "swept-and-cached becomes swept when the owner lets go");
}

Test(sweep, finish_sweeps_everything_and_the_next_cycle_sees_only_swept_spans, .init = start) {
  void **mine = scvgc_malloc(64);
  keep = mine;
  in_thread(drop_small);
  cycle();
  size_t n = scvgc_sweep_finish();
  cr_assert_geq(n, 2, "the central span and this thread's stale one: %zu", n);
  cr_assert_eq(gen(mine), sg() + 3, "swept for its (idle) owner, still cached");
  cr_assert(span(unhide(garbage_small[0]))->state == SCVGC_SPAN_FREE, "a wholly dead span goes back to the heap");
}

__attribute__((noinline)) static void drop_large(void) {
  garbage_small[0] = (void *)((uintptr_t)scvgc_malloc(200000) ^ HIDE);
}

Test(sweep, a_dead_large_object_is_freed_by_the_sweep, .init = start) {
  void *live = scvgc_malloc(300000);
  keep = live;
  in_thread(drop_large);
  scvgc_span_t *s = span(unhide(garbage_small[0]));
  size_t inuse = atomic_load(&scvgc_heap_inuse);
  cycle();
  cr_assert_eq(s->sweepgen, sg() - 2);
  scvgc_sweep_finish();
  cr_assert_eq(s->state, SCVGC_SPAN_FREE);
  cr_assert_leq(atomic_load(&scvgc_heap_inuse), inuse - 150000); /* the mark stack took some */
  cr_assert_eq(span(live)->state, SCVGC_SPAN_LARGE);
  cr_assert_eq(gen(live), sg());
}

Test(sweep, a_span_the_last_sweep_missed_is_relabelled_for_the_next, .init = start) {
  void *p = scvgc_malloc(64);
  keep = p;
  cycle(); /* p's span: stale (sg + 1); nobody allocates or finishes */
  uint32_t g = sg();
  cr_assert_eq(gen(p), g + 1);
  /* the next cycle finishes the sweep itself; take the finish out of the picture by
   * moving the span by hand to "handed back, not swept" as a late flush would */
  __atomic_store_n(&span(p)->sweepgen, g - 2, __ATOMIC_RELAXED);
  cycle();
  cr_assert_eq(sg(), g + 2);
  uint32_t v = gen(p);
  cr_assert(v == sg() - 2 || v == sg() + 3 || v == sg(), "to sweep again, or swept: %u vs %u", v, sg());
}

/* ---- what was reclaimed, by stack -------------------------------------------------------- */

__attribute__((noinline)) static void drop_many(void) {
  for (int i = 0; i < 100; i++) (void)scvgc_malloc(40);
}

Test(sweep, reclaimed_objects_are_counted_by_allocation_stack, .init = start) {
  in_thread(drop_many);
  cycle();
  scvgc_sweep_finish();
  scvgc_reclaim_t *r;
  long n = scvgc_sweep_copy_reclaimed(&r);
  cr_assert_geq(n, 1);
  uint64_t objs = 0, bytes = 0;
  for (long i = 0; i < n; i++)
    if (r[i].objects == 100) {
      objs = r[i].objects;
      bytes = r[i].bytes;
      cr_assert_neq(r[i].stack, 0, "the stack was captured");
    }
  cr_assert_eq(objs, 100);
  cr_assert_eq(bytes, 100 * 40);
  free(r);
}

/* ---- the mark stack's spans ---------------------------------------------------------------- */

Test(sweep, mark_stack_spans_are_retired_at_termination_and_freed_by_the_sweeper, .init = start) {
  /* a wide heap: 200000 objects greyed from one array, many workbufs at once */
  enum { N = 200000 };
  void **arr = scvgc_malloc(N * sizeof(void *));
  for (int i = 0; i < N; i++) arr[i] = scvgc_malloc(16);
  keep = arr;
  cycle();
  size_t big = scvgc_wb_bytes();
  cr_assert_gt(big, 64 << 10, "the wide heap needed a large mark stack: %zu", big);
  cr_assert_eq(scvgc_wb_spans(), 0, "no workbuf span is in use between cycles (W2)");
  keep = NULL;
  for (int i = 0; i < N; i++) arr[i] = NULL;
  cycle(); /* reuses the retired spans first: no new ones */
  cr_assert_leq(scvgc_wb_bytes(), big);
  while (scvgc_wb_release(8)) {}
  cr_assert_eq(scvgc_wb_bytes(), 0, "the GC metadata in the heap falls after the heap shrinks");
  scvgc_stats_t st;
  scvgc_stats_read(&st);
  cr_assert_lt(st.gc_sys_bytes, atomic_load(&scvgc_gc_sys) + 1, "gc_sys counts no workbuf now");
}

/* The checker of the state table (scvgc_sweep_check): sound after cycles, and a span whose
 * sweepgen is in no state (sg + 2) is caught. */
Test(sweep, the_state_checker_passes_after_cycles, .init = start) {
  keep = scvgc_malloc(100);
  cycle();
  cycle();
  scvgc_heap_lock_all();
  scvgc_sweep_check();
  scvgc_heap_unlock_all();
}

Test(sweep, the_state_checker_catches_a_span_in_no_state, .init = start, .signal = SIGILL) {
  void *p = scvgc_malloc(100);
  keep = p;
  scvgc_span_t *s = scvgc_span_inuse((uintptr_t)p);
  cr_assert_not_null(s);
  scvgc_heap_lock_all();
  scvgc_sweep_check();
  __atomic_store_n(&s->sweepgen, scvgc_sweepgen_now() + 2, __ATOMIC_RELAXED);
  scvgc_sweep_check();
  scvgc_heap_unlock_all();
}
