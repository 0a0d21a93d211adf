/* Invariants of core/pageheap.c: best fit, coalescing, the address map, release. */
#include <criterion/criterion.h>
#include <string.h>

#include "internal.h"

#define PG SCVGC_PAGE_SIZE

static scvgc_span_t *get(size_t np) {
  scvgc_span_t *s = scvgc_heap_alloc(np, 0, SCVGC_SPAN_MANUAL, 0, NULL);
  cr_assert_not_null(s);
  return s;
}

Test(pageheap, spans_are_page_aligned_and_of_the_size_asked) {
  for (size_t np = 1; np < 300; np += 37) {
    scvgc_span_t *s = get(np);
    cr_assert_eq(s->base % PG, 0);
    cr_assert_eq(s->npages, np);
    cr_assert_eq(s->state, SCVGC_SPAN_MANUAL);
  }
  scvgc_heap_check();
}

Test(pageheap, map_finds_the_span_from_first_middle_and_last_byte) {
  scvgc_span_t *a = get(3), *s = get(10), *b = get(2);
  uintptr_t end = s->base + 10 * PG;
  cr_assert_eq(scvgc_spanof(s->base), s);
  cr_assert_eq(scvgc_spanof(s->base + 5 * PG + 123), s);
  cr_assert_eq(scvgc_spanof(end - 1), s);
  cr_assert_eq(scvgc_span_inuse(end - 1), s);
  cr_assert_neq(scvgc_spanof(s->base - 1), s);
  cr_assert_neq(scvgc_spanof(end), s);
  (void)a;
  (void)b;
}

Test(pageheap, addresses_outside_the_heap_map_to_nothing) {
  int local;
  static int global;
  get(1);
  cr_assert_null(scvgc_spanof((uintptr_t)&local));
  cr_assert_null(scvgc_spanof((uintptr_t)&global));
  cr_assert_null(scvgc_spanof(0));
  cr_assert_null(scvgc_spanof(~(uintptr_t)0));
  cr_assert_null(scvgc_spanof((uintptr_t)1 << 47));
}

Test(pageheap, free_coalesces_with_both_neighbours) {
  scvgc_span_t *a = get(4), *b = get(5), *c = get(6), *guard = get(1);
  uintptr_t base = a->base;
  cr_assert_eq(b->base, base + 4 * PG);
  cr_assert_eq(c->base, base + 9 * PG);
  scvgc_heap_free(a);
  scvgc_heap_free(c);
  scvgc_heap_check();
  size_t before = scvgc_heap_free_spans();
  scvgc_heap_free(b); /* joins a and c: one span fewer than before */
  scvgc_heap_check();
  cr_assert_eq(scvgc_heap_free_spans(), before - 1);
  scvgc_span_t *f = scvgc_spanof(base);
  cr_assert_eq(f->state, SCVGC_SPAN_FREE);
  cr_assert_eq(f->base, base);
  cr_assert_eq(f->npages, 15);
  cr_assert_eq(scvgc_spanof(base + 15 * PG - 1), f);
  (void)guard;
}

Test(pageheap, allocation_is_best_fit) {
  /* free holes of 3, 8 and 5 pages between guards; a 4-page request takes the 5 */
  scvgc_span_t *h3 = get(3), *g1 = get(1), *h8 = get(8), *g2 = get(1), *h5 = get(5), *g3 = get(1);
  uintptr_t b5 = h5->base, b8 = h8->base;
  scvgc_heap_free(h3);
  scvgc_heap_free(h8);
  scvgc_heap_free(h5);
  scvgc_span_t *s = get(4);
  cr_assert_eq(s->base, b5);
  scvgc_span_t *t = get(7); /* the 8 is the best fit now */
  cr_assert_eq(t->base, b8);
  scvgc_heap_check();
  (void)g1; (void)g2; (void)g3;
}

Test(pageheap, large_best_fit_prefers_the_smallest_then_the_lowest) {
  scvgc_span_t *a = get(300), *g1 = get(1), *b = get(200), *g2 = get(1), *c = get(200), *g3 = get(1);
  uintptr_t bb = b->base;
  scvgc_heap_free(a);
  scvgc_heap_free(c);
  scvgc_heap_free(b);
  scvgc_span_t *s = get(150);
  cr_assert_eq(s->base, bb);
  (void)g1; (void)g2; (void)g3;
}

Test(pageheap, spans_larger_than_an_arena_work) {
  size_t np = (200u << 20) / PG;
  scvgc_span_t *s = get(np);
  cr_assert_eq(scvgc_spanof(s->base + (np / 2) * PG), s);
  cr_assert_eq(scvgc_spanof(s->base + np * PG - 1), s);
  memset((char *)s->base + np * PG - 4096, 1, 4096);
  scvgc_heap_free(s);
  scvgc_heap_check();
}

Test(pageheap, aligned_spans_up_to_a_megabyte_and_beyond) {
  for (size_t al = 16 * 1024; al <= (4u << 20); al *= 2) {
    scvgc_span_t *s = scvgc_heap_alloc(3, al, SCVGC_SPAN_LARGE, 0, NULL);
    cr_assert_not_null(s);
    cr_assert_eq(s->base % al, 0, "align %zu", al);
    cr_assert_eq(s->npages, 3);
  }
  scvgc_heap_check();
}

Test(pageheap, grow_in_place_takes_the_free_span_that_follows) {
  scvgc_span_t *s = get(4);
  uintptr_t base = s->base;
  cr_assert(scvgc_heap_grow_inplace(s, 9));
  cr_assert_eq(s->base, base);
  cr_assert_eq(s->npages, 9);
  cr_assert_eq(scvgc_spanof(base + 9 * PG - 1), s);
  scvgc_span_t *next = get(1);
  cr_assert(!scvgc_heap_grow_inplace(s, 10) || next->base != base + 9 * PG);
  scvgc_heap_check();
}

Test(pageheap, fresh_pages_need_no_zeroing_and_reused_ones_do) {
  scvgc_span_t *s = get(8);
  cr_assert_eq(s->needzero, 0);
  uintptr_t base = s->base;
  memset((void *)base, 0xab, 8 * PG);
  scvgc_heap_free(s);
  s = get(8);
  cr_assert_eq(s->base, base);
  cr_assert_eq(s->needzero, 1);
}

Test(pageheap, released_pages_read_zero_and_are_counted) {
  scvgc_span_t *s = get(16), *guard = get(1);
  uintptr_t base = s->base;
  memset((void *)base, 0xcd, 16 * PG);
  scvgc_heap_free(s);
  scvgc_heapstat_t before, after;
  scvgc_heap_stats(&before);
  cr_assert_geq(scvgc_heap_release_all(), 16 * PG);
  scvgc_heap_stats(&after);
  cr_assert_geq(after.released_pages, before.released_pages + 16);
  scvgc_heap_check();
  s = get(16);
  cr_assert_eq(s->base, base);
  cr_assert_eq(s->needzero, 0);
  for (size_t i = 0; i < 16 * PG; i += 512) cr_assert_eq(((char *)base)[i], 0);
  (void)guard;
}

Test(pageheap, random_allocations_keep_every_invariant) {
  scvgc_span_t *live[64] = {0};
  unsigned r = 12345;
  for (int i = 0; i < 5000; i++) {
    r = r * 1103515245 + 12345;
    int k = (r >> 16) % 64;
    if (live[k]) {
      scvgc_heap_free(live[k]);
      live[k] = NULL;
    } else {
      live[k] = get(1 + (r >> 8) % ((r & 1) ? 8 : 300));
    }
    if (i % 500 == 0) scvgc_heap_check();
  }
  scvgc_heap_check();
}
