/* Invariants of the scavenger (core/scavenge.c) and of what it relies on in core/pageheap.c
 * (H5-H8: released pages, npreleased through split and coalesce, releasing spans),
 * core/central.c (R1-R3: pages released inside central spans, parked slots) and
 * core/tcache.c (T6: the partial queue's bound). Time is the fake clock of os.c. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define PG SCVGC_PAGE_SIZE
#define SEC 1000000000ull
#define T0 (1000 * SEC)

static void mode_off(void) {
  setenv("SCVGC_MODE", "off", 1);
  setenv("SCVGC_SCAVENGE_AFTER", "10s", 1);
  scvgc_clock_set_fake(T0);
}
static void mode_leak(void) {
  mode_off();
  setenv("SCVGC_MODE", "leak", 1);
}
static void quiet_off(void) {
  mode_off();
  cr_redirect_stderr();
}

/* OS pages of [p, p + n) resident now (mincore). */
static size_t resident(const void *p, size_t n) {
  long os = sysconf(_SC_PAGESIZE);
  uintptr_t a = (uintptr_t)p & ~(uintptr_t)(os - 1), e = (uintptr_t)p + n;
  size_t np = (e - a + (uintptr_t)os - 1) / (uintptr_t)os, r = 0;
  unsigned char *v = malloc(np);
  cr_assert_eq(mincore((void *)a, e - a, v), 0);
  for (size_t i = 0; i < np; i++) r += v[i] & 1;
  free(v);
  return r;
}

static size_t released_bytes(void) {
  scvgc_stats_t st;
  scvgc_stats_read(&st);
  return st.released_bytes;
}

/* Every checker: the page heap's H1-H8 and central's R1-R2 and free lists. */
static void check(void) {
  scvgc_heap_check();
  scvgc_central_check();
}

static scvgc_span_t *get(size_t np) {
  scvgc_span_t *s = scvgc_heap_alloc(np, 0, SCVGC_SPAN_MANUAL, 0, NULL);
  cr_assert_not_null(s);
  return s;
}

/* ---- free spans (pageheap.c) ------------------------------------------------------------- */

Test(scavenge, a_free_span_is_released_only_once_unused_for_scavenge_after, .init = mode_off) {
  scvgc_init();
  scvgc_span_t *g0 = get(1), *s = get(20), *g1 = get(1);
  uintptr_t base = s->base;
  memset((void *)base, 0xab, 20 * PG);
  scvgc_heap_free(s); /* unused since T0 */
  cr_assert_eq(resident((void *)base, 20 * PG), 20 * PG / 4096);
  scvgc_scavenged_t r;
  scvgc_scavenge_pass(T0 + 10 * SEC - 1, false, &r);
  cr_assert_eq(r.heap_bytes, 0, "released %zu bytes 1 ns early", r.heap_bytes);
  cr_assert_eq(resident((void *)base, 20 * PG), 20 * PG / 4096);
  size_t before = released_bytes();
  scvgc_scavenge_pass(T0 + 10 * SEC, false, &r);
  cr_assert_eq(r.heap_bytes, 20 * PG);
  cr_assert_eq(released_bytes(), before + 20 * PG);
  cr_assert_eq(resident((void *)base, 20 * PG), 0);
  scvgc_span_t *f = scvgc_spanof(base);
  cr_assert_eq(f->state, SCVGC_SPAN_FREE);
  cr_assert_eq(f->npreleased, f->npages); /* H7 */
  check();
  scvgc_scavenge_pass(T0 + 100 * SEC, false, &r); /* nothing left to release */
  cr_assert_eq(r.heap_bytes, 0);
  (void)g0; (void)g1;
}

Test(scavenge, released_counts_follow_split_coalesce_release_and_reuse, .init = mode_off) {
  scvgc_init();
  scvgc_span_t *a = get(6), *b = get(10), *c = get(4), *guard = get(1);
  uintptr_t base = a->base;
  memset((void *)base, 1, 20 * PG);
  scvgc_heap_free(b);
  scvgc_scavenge_pass(T0 + 20 * SEC, false, NULL); /* b's 10 pages released */
  scvgc_clock_set_fake(T0 + 30 * SEC);
  scvgc_heap_free(a); /* coalesces: 6 resident + 10 released */
  scvgc_heap_free(c); /* and 4 more resident */
  check();
  scvgc_span_t *f = scvgc_spanof(base);
  cr_assert_eq(f->base, base);
  cr_assert_eq(f->npages, 20);
  cr_assert_eq(f->npreleased, 10, "the merged span counts its released pages (H7)");
  cr_assert_eq(f->unused_since, T0 + 30 * SEC, "the newest stamp wins");
  /* a split at allocation: the head (a's 6 pages + 2 of b's) is taken, the tail keeps
   * 8 released pages of b and c's 4 resident ones */
  scvgc_span_t *h = get(8);
  cr_assert_eq(h->base, base);
  cr_assert_eq(h->needzero, 1);
  scvgc_span_t *t = scvgc_spanof(base + 8 * PG);
  cr_assert_eq(t->state, SCVGC_SPAN_FREE);
  cr_assert_eq(t->npages, 12);
  cr_assert_eq(t->npreleased, 8);
  check();
  /* release the rest: only the 4 resident pages go */
  scvgc_scavenged_t r;
  scvgc_scavenge_pass(T0 + 40 * SEC, false, &r);
  cr_assert_eq(r.heap_bytes, 4 * PG);
  t = scvgc_spanof(base + 8 * PG); /* released in a piece of its own, then merged again */
  cr_assert_eq(t->base, base + 8 * PG);
  cr_assert_eq(t->npages, 12);
  cr_assert_eq(t->npreleased, 12);
  /* a wholly released span reused needs no zeroing and reads zero */
  scvgc_span_t *z = get(12);
  cr_assert_eq(z->base, base + 8 * PG);
  cr_assert_eq(z->needzero, 0);
  for (size_t i = 0; i < 12 * PG; i += 64) cr_assert_eq(((char *)z->base)[i], 0);
  check();
  (void)guard;
}

Test(scavenge, a_released_page_reused_reads_zero_and_calloc_leaves_it_untouched, .init = mode_off) {
  char *p = scvgc_malloc(1 << 20);
  memset(p, 0x5a, 1 << 20);
  scvgc_free(p);
  scvgc_scavenge_pass(T0, true, NULL); /* every free page, whatever its age */
  char *q = scvgc_calloc(1, 1 << 20);
  cr_assert_eq(q, p, "best fit takes the same pages again");
  cr_assert_eq(scvgc_spanof((uintptr_t)q)->needzero, 0);
  cr_assert_eq(resident(q, 1 << 20), 0, "calloc skipped clearing released pages");
  for (size_t i = 0; i < (1u << 20); i += 512) cr_assert_eq(q[i], 0);
  /* the same without the release: calloc must clear */
  memset(q, 0x5a, 1 << 20);
  scvgc_free(q);
  char *r = scvgc_calloc(1, 1 << 20);
  cr_assert_eq(r, q);
  cr_assert_eq(scvgc_spanof((uintptr_t)r)->needzero, 1);
  for (size_t i = 0; i < (1u << 20); i += 512) cr_assert_eq(r[i], 0);
}

static int map_lines(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  int n = 0, c;
  while ((c = fgetc(f)) != EOF) n += c == '\n';
  fclose(f);
  return n;
}

Test(scavenge, releases_do_not_add_mappings, .init = mode_off) {
  scvgc_init();
  enum { N = 200 };
  scvgc_span_t *s[N];
  for (int i = 0; i < N; i++) {
    s[i] = get(1 + i % 7);
    memset((void *)s[i]->base, 3, s[i]->npages * PG);
  }
  for (int i = 0; i < N; i += 2) scvgc_heap_free(s[i]); /* 100 holes between live spans */
  int before = map_lines();
  scvgc_scavenged_t r;
  scvgc_scavenge_pass(T0 + 60 * SEC, false, &r);
  cr_assert_gt(r.heap_bytes, 100 * PG);
  int after = map_lines();
  cr_assert_eq(after, before, "maps lines %d -> %d", before, after);
  for (int i = 0; i < N; i += 2) cr_assert_eq(resident((void *)s[i]->base, PG), 0);
  for (int i = 1; i < N; i += 2) cr_assert_eq(((char *)s[i]->base)[0], 3);
  check();
}

Test(scavenge, batches_split_a_large_free_span_and_put_it_back_whole, .init = mode_off) {
  scvgc_init();
  size_t np = 3000; /* more than a batch (256 pages): released piece by piece */
  scvgc_span_t *s = get(np), *guard = get(1);
  uintptr_t base = s->base;
  for (size_t i = 0; i < np; i += 3) ((char *)base)[i * PG] = 1; /* every third page */
  scvgc_heap_free(s);
  scvgc_scavenged_t r;
  scvgc_scavenge_pass(T0 + 60 * SEC, false, &r);
  cr_assert_geq(r.heap_bytes, np * PG - 64 * PG); /* (the pages before it in the arena too) */
  scvgc_span_t *f = scvgc_spanof(base);
  cr_assert_eq(f->state, SCVGC_SPAN_FREE);
  cr_assert_leq(f->base, base);
  cr_assert_geq(f->base + f->npages * PG, base + np * PG, "coalesced back into one span");
  cr_assert_eq(f->npreleased, f->npages);
  cr_assert_eq(resident((void *)base, np * PG), 0);
  check();
  (void)guard;
}

Test(scavenge, random_work_with_passes_keeps_every_heap_invariant, .init = mode_off) {
  scvgc_init();
  scvgc_span_t *live[64] = {0};
  unsigned r = 777;
  uint64_t now = T0;
  for (int i = 0; i < 4000; i++) {
    r = r * 1103515245 + 12345;
    int k = (r >> 16) % 64;
    now += SEC / 4;
    scvgc_clock_set_fake(now);
    if (live[k]) {
      scvgc_heap_free(live[k]);
      live[k] = NULL;
    } else {
      live[k] = get(1 + (r >> 8) % ((r & 1) ? 8 : 300));
      ((char *)live[k]->base)[0] = 1;
    }
    if (i % 97 == 0) scvgc_scavenge_pass(now, (r >> 4) % 5 == 0, NULL);
    if (i % 250 == 0) check(); /* H6, H7, H8 */
  }
  check();
}

Test(scavenge, shrinking_a_large_object_gives_its_tail_to_the_heap, .init = mode_off) {
  char *p = scvgc_malloc(1 << 20);
  memset(p, 7, 1 << 20);
  scvgc_span_t *s = scvgc_spanof((uintptr_t)p);
  cr_assert_eq(s->npages, (1u << 20) / PG);
  char *q = scvgc_realloc(p, 100000);
  cr_assert_eq(q, p);
  cr_assert_eq(s->npages, (100000 + PG - 1) / PG);
  cr_assert_geq(scvgc_usable_size(q), 100000);
  scvgc_span_t *t = scvgc_spanof((uintptr_t)p + s->npages * PG);
  cr_assert_eq(t->state, SCVGC_SPAN_FREE);
  cr_assert_eq(q[99999], 7);
  check();
  scvgc_scavenged_t r;
  scvgc_scavenge_pass(T0 + 60 * SEC, false, &r);
  cr_assert_geq(r.heap_bytes, (1u << 20) - 13 * PG);
  cr_assert_eq(resident(p + 13 * PG, (1 << 20) - 13 * PG), 0);
  cr_assert_eq(q[0], 7);
  scvgc_free(q);
  check();
}

/* ---- inside central spans (central.c R1-R3) ------------------------------------------------ */

#define CLS4K 42 /* the 4096-byte class: 2 objects per page-sized span */

static uint32_t class_of(size_t n) { return scvgc_size_class(n); }

/* n objects of size sz, owned by this thread; then the cache gives everything to central. */
static void **fill(size_t sz, uint32_t n) {
  void **o = calloc(n, sizeof *o);
  for (uint32_t i = 0; i < n; i++) {
    o[i] = scvgc_malloc(sz);
    memset(o[i], 0x11, sz);
  }
  return o;
}

Test(scavenge, pages_of_free_slots_of_central_spans_are_released, .init = mode_off) {
  size_t sz = 1024;
  uint32_t cls = class_of(sz), per = scvgc_classes[cls].nelems; /* 8 per 8 KiB span */
  cr_assert_eq(per, 8);
  uint32_t n = per * 16;
  void **o = fill(sz, n);
  /* keep the first object of every span; free the others: 7 of 8 slots free per span,
   * so the second OS page of each span (slots 4..7) holds no object */
  for (uint32_t i = 0; i < n; i++)
    if (i % per) scvgc_free(o[i]);
  scvgc_tcache_flush(&scvgc_tc); /* every span goes central now (at T0) */
  check();
  scvgc_scavenged_t r;
  scvgc_scavenge_pass(T0 + 9 * SEC, false, &r);
  cr_assert_eq(r.inspan_bytes, 0, "central for 9 s only");
  size_t before = released_bytes();
  scvgc_scavenge_pass(T0 + 10 * SEC, false, &r);
  cr_assert_eq(r.inspan_bytes, 16 * 4096, "one OS page per span: %zu", r.inspan_bytes);
  cr_assert_eq(released_bytes(), before + 16 * 4096);
  for (uint32_t i = 0; i < n; i += per) {
    scvgc_span_t *s = scvgc_spanof((uintptr_t)o[i]);
    cr_assert_eq(s->relmask, 2);
    cr_assert_eq(resident((char *)s->base + 4096, 4096), 0);
    cr_assert_eq(((unsigned char *)o[i])[sz - 1], 0x11, "the survivor is intact");
  }
  check(); /* the in-span count adds up */
  scvgc_scavenge_pass(T0 + 20 * SEC, false, &r);
  cr_assert_eq(r.inspan_bytes, 0, "a quiet span is not released twice");
  /* taking the spans again (R2): the parked slots come back, zero beyond their links, each
   * exactly once: the n - 16 objects are the freed slots, all distinct */
  unsigned char **again = calloc(n, sizeof *again);
  for (uint32_t i = 0; i < n - 16; i++) {
    unsigned char *p = again[i] = scvgc_malloc(sz);
    scvgc_span_t *s = scvgc_spanof((uintptr_t)p);
    cr_assert_eq(s->relmask, 0);
    if (scvgc_slot_index(s, (uintptr_t)p) >= 4)
      for (size_t k = 16; k < sz; k += 8) cr_assert_eq(p[k], 0, "a released slot reads zero");
    for (uint32_t j = 0; j < n; j += per) cr_assert_neq((void *)p, o[j], "a survivor handed out");
    for (uint32_t j = 0; j < i; j++) cr_assert_neq(p, again[j], "handed out twice");
    memset(p, 0x22, sz);
  }
  for (uint32_t j = 0; j < n; j += per) cr_assert_eq(((unsigned char *)o[j])[sz - 1], 0x11);
  check();
  free(again);
  free(o);
}

Test(scavenge, objects_freed_by_other_threads_count_as_free, .init = mode_off) {
  size_t sz = 2048;
  uint32_t cls = class_of(sz), per = scvgc_classes[cls].nelems; /* 4 per span */
  void **o = fill(sz, per * 8);
  scvgc_tcache_flush(&scvgc_tc); /* full spans to central, then freed "remotely" */
  for (uint32_t i = 0; i < per * 8; i++)
    if (i % per >= 2) scvgc_free(o[i]); /* not the owner: onto xfree */
  scvgc_span_t *s = scvgc_spanof((uintptr_t)o[0]);
  cr_assert_eq(SCVGC_XF_COUNT(atomic_load(&s->xfree)), 2);
  scvgc_scavenged_t r;
  scvgc_scavenge_pass(T0 + 10 * SEC, false, &r);
  cr_assert_eq(r.inspan_bytes, 8 * 4096); /* slots 2, 3: the second OS page */
  cr_assert_eq(SCVGC_XF_COUNT(atomic_load(&s->xfree)), 0);
  cr_assert_eq(s->nalloc, 2, "C3: allocated = nalloc - count");
  cr_assert_eq(atomic_load(&s->xfree) & SCVGC_XF_NOTIFY, 0);
  /* the last frees still return each span to the heap (C3), with its released page */
  for (uint32_t i = 0; i < per * 8; i++)
    if (i % per < 2) scvgc_free(o[i]);
  cr_assert_eq(scvgc_spanof((uintptr_t)o[0])->state, SCVGC_SPAN_FREE);
  check();
  cr_assert_eq(atomic_load(&scvgc_inspan_released), 0);
  free(o);
}

Test(scavenge, a_span_left_wholly_free_goes_to_the_heap, .init = mode_off) {
  size_t sz = 4096;
  void **o = fill(sz, 2);
  scvgc_span_t *s = scvgc_spanof((uintptr_t)o[0]);
  cr_assert_eq(s->nelems, 2);
  scvgc_tcache_flush(&scvgc_tc);
  scvgc_free(o[0]);
  scvgc_free(o[1]); /* the second remote free returns it (C3) */
  cr_assert_eq(s->state, SCVGC_SPAN_FREE);
  check();
  free(o);
}

Test(scavenge, small_slots_share_pages_so_only_whole_free_pages_go, .init = mode_off) {
  size_t sz = 48; /* 170 per span; 85.3 per OS page */
  uint32_t per = scvgc_classes[class_of(sz)].nelems;
  void **o = fill(sz, per);
  scvgc_span_t *s = scvgc_spanof((uintptr_t)o[0]);
  scvgc_free(o[0]); /* the cache owns it: then to central with the flush */
  for (uint32_t i = 86; i < per; i++) scvgc_free(o[i]); /* slot 85 straddles the pages */
  scvgc_tcache_flush(&scvgc_tc);
  scvgc_scavenged_t r;
  scvgc_scavenge_pass(T0 + 10 * SEC, false, &r);
  cr_assert_eq(r.inspan_bytes, 0, "slot 85 (allocated) overlaps the second page");
  scvgc_free(o[85]); /* remote now */
  scvgc_scavenge_pass(T0 + 20 * SEC, false, &r);
  cr_assert_eq(r.inspan_bytes, 4096);
  cr_assert_eq(s->relmask, 2);
  cr_assert_eq(((unsigned char *)o[84])[47], 0x11);
  check();
  free(o);
}

Test(scavenge, a_double_free_of_a_parked_slot_is_caught_in_mode_off, .init = quiet_off) {
  size_t sz = 1024;
  uint32_t per = 8;
  void **o = fill(sz, per);
  for (uint32_t i = 1; i < per; i++) scvgc_free(o[i]);
  scvgc_tcache_flush(&scvgc_tc);
  scvgc_scavenge_pass(T0 + 10 * SEC, false, NULL);
  scvgc_span_t *s = scvgc_spanof((uintptr_t)o[0]);
  cr_assert_eq(s->relmask, 2);
  size_t nfree = s->nfreelist;
  scvgc_free(o[6]); /* parked: its page reads zero, its key is gone */
  cr_assert_eq(s->nfreelist, nfree);
  cr_assert_eq(SCVGC_XF_COUNT(atomic_load(&s->xfree)), 0, "not pushed a second time");
  cr_assert_eq(resident(o[6], 16), 0, "and its page was not written");
  free(o);
}

Test(scavenge, leak_mode_metadata_stays_exact_across_parking, .init = mode_leak) {
  size_t sz = 1024;
  uint32_t per = 8;
  void **o = fill(sz, per * 4);
  for (uint32_t i = 0; i < per * 4; i++)
    if (i % per) scvgc_free(o[i]);
  scvgc_tcache_flush(&scvgc_tc);
  scvgc_scavenged_t r;
  scvgc_scavenge_pass(T0 + 10 * SEC, false, &r);
  cr_assert_eq(r.inspan_bytes, 4 * 4096);
  scvgc_stats_t st;
  scvgc_stats_read(&st);
  cr_assert_eq(st.live_objects, 4 + 0 /* o itself is the system malloc's */);
  for (uint32_t i = 0; i < per * 4; i += per) {
    scvgc_span_t *s = scvgc_spanof((uintptr_t)o[i]);
    for (uint32_t k = 1; k < per; k++) cr_assert_eq(s->meta[k].size, 0);
    cr_assert_neq(s->meta[0].size, 0);
  }
  for (uint32_t i = 0; i < per * 4; i += per) scvgc_free(o[i]);
  check();
  free(o);
}

/* ---- the cache's bound (tcache.c T6) -------------------------------------------------------- */

Test(scavenge, a_cache_keeps_a_bounded_partial_queue, .init = mode_off) {
  size_t sz = 1024;
  uint32_t cls = class_of(sz), per = scvgc_classes[cls].nelems;
  uint32_t nspans = 4 * SCVGC_TC_PARTIAL_PAGES, n = per * nspans;
  void **o = fill(sz, n);
  for (uint32_t i = 0; i < n; i += per) scvgc_free(o[i]); /* first free into each span */
  scvgc_bin_t *b = &scvgc_tc.bins[cls];
  cr_assert_leq(b->partial_pages, SCVGC_TC_PARTIAL_PAGES);
  uint32_t owned = 0, central = 0;
  for (uint32_t i = 1; i < n; i += per) {
    scvgc_span_t *s = scvgc_spanof((uintptr_t)o[i]);
    if (s->owner == &scvgc_tc) owned++;
    else central++;
  }
  cr_assert_geq(central, nspans - SCVGC_TC_PARTIAL_PAGES - 1);
  cr_assert_eq(scvgc_central_partial_count(cls), central);
  /* the owner's next frees into a central span are remote frees; all still adds up */
  for (uint32_t i = 0; i < n; i++)
    if (i % per) scvgc_free(o[i]);
  check();
  (void)owned;
  free(o);
}

Test(scavenge, a_cache_that_allocates_between_frees_keeps_its_spans, .init = mode_off) {
  size_t sz = 1024;
  uint32_t cls = class_of(sz), per = scvgc_classes[cls].nelems;
  uint32_t nspans = 4 * SCVGC_TC_PARTIAL_PAGES, n = per * nspans;
  void **o = fill(sz, n);
  scvgc_bin_t *b = &scvgc_tc.bins[cls];
  for (uint32_t i = 0; i < n; i += per) {
    scvgc_free(o[i]); /* a full span's first free */
    /* allocate until the cache refills: the steady state of a program that works */
    for (int k = 0; k < 100 && b->quiet_events; k++) cr_assert_not_null(scvgc_malloc(sz));
    cr_assert_eq(b->quiet_events, 0);
  }
  cr_assert_eq(scvgc_central_partial_count(cls), 0, "no span of a working cache went central");
  check();
  free(o);
}

/* ---- statistics and the timeline ------------------------------------------------------------ */

Test(scavenge, stats_add_up_and_consumed_is_sys_less_released, .init = mode_off) {
  void **o = fill(1024, 64);
  for (int i = 0; i < 64; i++)
    if (i % 8) scvgc_free(o[i]);
  scvgc_tcache_flush(&scvgc_tc);
  void *big = scvgc_malloc(3 << 20);
  memset(big, 1, 3 << 20);
  scvgc_free(big);
  scvgc_scavenge_pass(T0 + 10 * SEC, false, NULL);
  scvgc_stats_t st;
  scvgc_stats_read(&st);
  cr_assert_eq(st.sys_bytes, st.inuse_bytes + st.idle_bytes + st.released_bytes);
  cr_assert_eq(st.consumed_bytes, st.sys_bytes - st.released_bytes);
  cr_assert_eq(atomic_load(&scvgc_inspan_released), 8);
  free(o);
}

Test(scavenge, the_timeline_keeps_order_and_its_first_sample_when_full, .init = mode_off) {
  scvgc_free(scvgc_malloc(100)); /* a heap to sample */
  scvgc_timeline_start();
  for (int i = 0; i < 5000; i++) scvgc_timeline_sample(i % 2 ? SCVGC_TL_SCVG : SCVGC_TL_GC);
  scvgc_timeline_sample(SCVGC_TL_EXIT);
  scvgc_tlsample_t *t;
  long n = scvgc_timeline_copy(&t);
  cr_assert_gt(n, 500);
  cr_assert_leq(n, 2048);
  cr_assert_eq(t[0].event, SCVGC_TL_GC);
  cr_assert_eq(t[n - 1].event, SCVGC_TL_EXIT, "the exit sample is always kept");
  for (long i = 1; i < n; i++) cr_assert_geq(t[i].t_ns, t[i - 1].t_ns);
  for (long i = 0; i < n; i++) {
    cr_assert_neq(t[i].t_ns % 1000000, 500000);
    cr_assert_gt(t[i].sys_bytes, 0);
    cr_assert_gt(t[i].rss_bytes, 0);
  }
  free(t);
}

Test(scavenge, rss_now_reads_statm, .init = mode_off) {
  int64_t a = scvgc_rss_now();
  char *p = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(p, 1, 8 << 20);
  int64_t b = scvgc_rss_now();
  cr_assert_geq(b - a, 7 << 20);
  munmap(p, 8 << 20);
}

/* ---- concurrency: passes run back to back while threads allocate, free each other's objects
 * and exit (their spans go central) -------------------------------------------------------- */

#define NT 4
#define SLOTS 2048
static _Atomic(void *) mailbox[NT][SLOTS];
static _Atomic int stop;

static void pattern(void *p, size_t n) {
  unsigned char *c = p;
  uintptr_t seed = (uintptr_t)p * 2654435761u;
  ((size_t *)p)[0] = n;
  for (size_t i = sizeof(size_t); i < n; i++) c[i] = (unsigned char)(seed >> (i % 32));
}

static void verify(void *p) {
  unsigned char *c = p;
  size_t n = ((size_t *)p)[0];
  uintptr_t seed = (uintptr_t)p * 2654435761u;
  for (size_t i = sizeof(size_t); i < n; i++)
    if (c[i] != (unsigned char)(seed >> (i % 32))) cr_assert_fail("object %p corrupted at %zu of %zu", p, i, n);
}

static void *ring(void *arg) {
  int me = (int)(intptr_t)arg % NT;
  unsigned r = (unsigned)(intptr_t)arg * 7919 + 1;
  for (int i = 0; i < 30000; i++) {
    r = r * 1103515245 + 12345;
    int slot = (r >> 8) % SLOTS;
    size_t n = 16 + (r >> 20) % ((r & 7) ? 3000 : 70000);
    void *p = scvgc_malloc(n);
    if (!p) cr_assert_fail("malloc");
    pattern(p, n);
    void *old = atomic_exchange(&mailbox[(me + 1) % NT][slot], p);
    if (old) { verify(old); scvgc_free(old); }
    void *mine = atomic_exchange(&mailbox[me][(slot * 7) % SLOTS], NULL);
    if (mine) { verify(mine); scvgc_free(mine); }
  }
  return NULL; /* the thread's exit gives its spans to central */
}

static _Atomic size_t scavenged_heap, scavenged_inspan;

static void *scavenger(void *arg) {
  (void)arg;
  scvgc_scavenged_t r;
  while (!atomic_load(&stop)) {
    scvgc_scavenge_pass(scvgc_clock(), true, &r);
    atomic_fetch_add(&scavenged_heap, r.heap_bytes);
    atomic_fetch_add(&scavenged_inspan, r.inspan_bytes);
  }
  return NULL;
}

static void concurrent(void) {
  pthread_t sc, t[NT];
  pthread_create(&sc, NULL, scavenger, NULL);
  for (int gen = 0; gen < 3; gen++) {
    for (int i = 0; i < NT; i++) pthread_create(&t[i], NULL, ring, (void *)(intptr_t)(gen * NT + i));
    for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
  }
  atomic_store(&stop, 1);
  pthread_join(sc, NULL);
  for (int i = 0; i < NT; i++)
    for (int k = 0; k < SLOTS; k++) {
      void *p = atomic_load(&mailbox[i][k]);
      if (p) { verify(p); scvgc_free(p); }
    }
  check();
  scvgc_stats_t st;
  scvgc_stats_read(&st);
  cr_assert_eq(st.live_objects, 0, "live %zu", st.live_objects);
  cr_assert_gt(atomic_load(&scavenged_heap), 0);
  cr_assert_gt(atomic_load(&scavenged_inspan), 0, "pages inside central spans were released meanwhile");
}

Test(scavenge, passes_back_to_back_under_cross_thread_frees_corrupt_nothing, .init = mode_off, .timeout = 120) {
  concurrent();
}

Test(scavenge, the_same_in_leak_mode, .init = mode_leak, .timeout = 120) {
  concurrent();
}

/* gc.c T1: no scavenger thread until free pages worth releasing pile up (2 MiB), then one at
 * the end of the free (or allocation slow path) that made them, no lock held; small frees
 * start nothing. */
Test(scavenge, the_thread_starts_once_two_mib_of_free_pages_pile_up_not_before, .init = mode_off) {
  scvgc_init();
  scvgc_scavenge_start(); /* the constructor's part: mode off, no clock, no limit */
  cr_assert(!scvgc_scavenge_started());
  void *small[200];
  for (int i = 0; i < 200; i++) small[i] = scvgc_malloc(100);
  for (int i = 0; i < 200; i++) scvgc_free(small[i]);
  void *p = scvgc_malloc(1 << 20); /* a slow path: nothing wanted yet */
  scvgc_free(p);
  p = scvgc_malloc(1 << 20);
  cr_assert(!scvgc_scavenge_started(), "1 MiB free is not worth a thread");
  void *big[4];
  for (int i = 0; i < 4; i++) big[i] = scvgc_malloc(1 << 20);
  for (int i = 0; i < 4; i++) scvgc_free(big[i]);
  scvgc_free(p); /* crosses the line: its slow path starts it once the free is done */
  cr_assert(scvgc_scavenge_started(), "at the end of the free that crossed the line");
}
