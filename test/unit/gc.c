/* core/gc.c: whole cycles — what is reached is live, what is not is a leak, classified as
 * direct or indirect the way valgrind groups blocks; the leak table and pacing. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>

#include "gc.h"
#include "mark.h"
#include "roots.h"

static void start(void) {
  setenv("SCVGC_MODE", "leak", 1);
  setenv("SCVGC_REPORT", "none", 1);
  scvgc_init();
  scvgc_gc_start();
}

void *volatile keep;

#include "threads.h"

static const scvgc_leaks_t *collect(void) {
  scrub();
  /* and the callee-saved registers this frame inherited: zero for the cycle (the compiler
   * saves the caller's values first and restores them after) */
  __asm__ volatile("xor %%ebx,%%ebx; xor %%r12d,%%r12d; xor %%r13d,%%r13d; xor %%r14d,%%r14d;"
                   "xor %%r15d,%%r15d" ::: "rbx", "r12", "r13", "r14", "r15");
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST), "the cycle is complete");
  return &scvgc_leaks;
}

__attribute__((noinline)) static void lose_cycle(void) {
  void **a = scvgc_malloc(32), **b = scvgc_malloc(48), **c = scvgc_malloc(64);
  a[0] = b;
  b[0] = c;
  c[0] = a;
}

Test(gc, a_leaked_cycle_is_one_direct_leak_and_the_rest_indirect, .init = start) {
  in_thread(lose_cycle);
  const scvgc_leaks_t *t = collect();
  cr_assert_eq(t->totals.direct_objects, 1, "direct %lu indirect %lu", (unsigned long)t->totals.direct_objects, (unsigned long)t->totals.indirect_objects);
  cr_assert_eq(t->totals.indirect_objects, 2);
  cr_assert_eq(t->totals.direct_bytes + t->totals.indirect_bytes, 32 + 48 + 64);
}

static int list_len = 1000;
__attribute__((noinline)) static void lose_list(void) {
  void **head = NULL;
  for (int i = 0; i < list_len; i++) {
    void **x = scvgc_malloc(24);
    x[0] = head;
    head = x;
  }
}

Test(gc, a_leaked_list_is_its_head_direct_and_every_other_node_indirect, .init = start) {
  in_thread(lose_list);
  const scvgc_leaks_t *t = collect();
  cr_assert_eq(t->totals.direct_objects, 1);
  cr_assert_eq(t->totals.indirect_objects, 999);
  cr_assert_eq(t->totals.indirect_bytes, 999 * 24);
}

__attribute__((noinline)) static void lose_into_kept(void) {
  /* a leaked object pointing at a live one does not make the live one a leak */
  void **live = scvgc_malloc(40), **dead = scvgc_malloc(40);
  dead[0] = live;
  keep = live;
}

Test(gc, what_a_root_reaches_is_not_reported_even_if_a_leak_points_to_it, .init = start) {
  in_thread(lose_into_kept);
  const scvgc_leaks_t *t = collect();
  cr_assert_eq(t->totals.direct_objects, 1);
  cr_assert_eq(t->totals.indirect_objects, 0);
}

__attribute__((noinline)) static void keep_interior(void) {
  char *p = scvgc_malloc(1000);
  keep = p + 999; /* the last byte */
}

Test(gc, an_interior_pointer_keeps_its_object, .init = start) {
  keep_interior();
  const scvgc_leaks_t *t = collect();
  cr_assert_eq(t->totals.direct_objects + t->totals.indirect_objects, 0);
}

Test(gc, freed_objects_are_never_reported, .init = start) {
  for (int i = 0; i < 100; i++) scvgc_free(scvgc_malloc(100 + i));
  scvgc_free(scvgc_malloc(100000));
  const scvgc_leaks_t *t = collect();
  cr_assert_eq(t->totals.direct_objects + t->totals.indirect_objects, 0);
}

__attribute__((noinline)) static void lose_two_stacks(void) {
  for (int i = 0; i < 3; i++) {
    void *p = scvgc_malloc(10);
    scvgc_spanof((uintptr_t)p)->meta[scvgc_slot_index(scvgc_spanof((uintptr_t)p), (uintptr_t)p)].stack = 7;
  }
  void *q = scvgc_malloc(200000);
  scvgc_spanof((uintptr_t)q)->meta[0].stack = 9;
}

Test(gc, leaks_are_grouped_by_allocation_stack_and_kind, .init = start) {
  in_thread(lose_two_stacks);
  const scvgc_leaks_t *t = collect();
  cr_assert_eq(t->ngroups, 2);
  int seen = 0;
  for (size_t i = 0; i < t->cap; i++) {
    const scvgc_leak_t *l = &t->slots[i];
    if (!l->objects) continue;
    if (l->stack == 7) { cr_assert_eq(l->objects, 3); cr_assert_eq(l->bytes, 30); seen |= 1; }
    if (l->stack == 9) { cr_assert_eq(l->objects, 1); cr_assert_eq(l->bytes, 200000); seen |= 2; }
  }
  cr_assert_eq(seen, 3);
}

Test(gc, a_cycle_leaves_every_workbuf_empty_and_counts_its_pause, .init = start) {
  list_len = 20000;
  in_thread(lose_list);
  collect();
  scvgc_wb_check_empty();
  cr_assert_eq(scvgc_gcstats.cycles, 1);
  cr_assert_gt(scvgc_gcstats.pause_total_ns, 0);
  cr_assert_geq(scvgc_gcstats.pause_max_ns, scvgc_gcstats.last.stop_ns);
}

Test(gc, the_next_cycle_is_paced_by_gogc_with_a_4_mib_floor) {
  setenv("SCVGC_MODE", "leak", 1);
  setenv("SCVGC_GOGC", "50", 1);
  scvgc_init();
  scvgc_gc_start();
  cr_assert_eq(atomic_load(&scvgc_gc_next), 4u << 20);
  for (int i = 0; i < 100; i++) keep = scvgc_malloc(100000); /* about 10 MiB, all leaked */
  scrub();
  scvgc_gc_cycle(SCVGC_GC_REQUEST);
  size_t inuse = atomic_load(&scvgc_heap_inuse);
  /* GOGC applies to the live heap plus the roots the cycle read (issue 14 point 4) */
  size_t roots = scvgc_roots_scanned_bytes();
  cr_assert_gt(roots, 0);
  cr_assert_eq(atomic_load(&scvgc_gc_next), inuse + (inuse + roots) / 100 * 50);
}
