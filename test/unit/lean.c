/* The lean layout (internal.h "lean layout", special.c, sweep.c): collect mode with sampled
 * stacks keeps 3 bits per small object; an object is free by its double-free key; the stacks
 * of sampled, library-owned and ignored objects live in special.c; the marker marks a free
 * slot it is pointed into without scanning it (L2); a sweeper that no longer holds its span's
 * sweep frees nothing (L3). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gc.h"
#include "mark.h"
#include "own.h"
#include "sweep.h"
#include "../../include/scvgc.h"

#define HIDE ((uintptr_t)0x5a5a5a5a5a5a5a5aull)

static void start_with(const char *mode, const char *sample) {
  setenv("SCVGC_MODE", mode, 1);
  setenv("SCVGC_REPORT", "none", 1);
  setenv("SCVGC_GOGC", "off", 1);
  if (sample) setenv("SCVGC_SAMPLE", sample, 1);
  else unsetenv("SCVGC_SAMPLE");
  scvgc_options_lean_test = 1; /* whatever the build's default (internal.h SCVGC_LEAN_DEFAULT) */
  scvgc_init();
  scvgc_gc_start();
}
static void start(void) { start_with("collect", NULL); }
static void start_sample_all(void) { start_with("collect", "1"); } /* every allocation sampled */
static void start_exact(void) { start_with("collect", "0"); }
static void start_leak(void) { start_with("leak", NULL); }

void *volatile keep, *volatile keep2;
static uintptr_t hidden[128];

#include "threads.h"

static void cycle(void) {
  scrub();
  __asm__ volatile("xor %%ebx,%%ebx; xor %%r12d,%%r12d; xor %%r13d,%%r13d; xor %%r14d,%%r14d;"
                   "xor %%r15d,%%r15d" ::: "rbx", "r12", "r13", "r14", "r15");
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST), "the cycle is complete");
  scvgc_sweep_finish();
}

static bool allocated(uintptr_t p) {
  scvgc_span_t *s;
  uint32_t i;
  return scvgc_find_object(p, &s, &i);
}

static bool marked(uintptr_t p) {
  scvgc_span_t *s = scvgc_spanof(p);
  return scvgc_marked(s, scvgc_slot_index(s, p));
}

/* ---- which layout ------------------------------------------------------------------------ */

Test(lean, collect_mode_with_sampled_stacks_is_lean, .init = start) {
  cr_assert(scvgc_lean);
  void *p = scvgc_malloc(40);
  cr_assert(scvgc_span_lean(scvgc_spanof((uintptr_t)p)));
  void *big = scvgc_malloc(100000);
  cr_assert_not(scvgc_span_lean(scvgc_spanof((uintptr_t)big)), "large objects keep the full layout");
  cr_assert_eq(scvgc_usable_size(p), 48, "the whole slot is scanned, and usable");
  cr_assert_eq(scvgc_usable_size(big), 100000);
  /* a small object of 4 KiB or more may begin with a page the program protects: its class
   * keeps the full layout, whose allocation test reads no object */
  void *q = scvgc_malloc(16000);
  scvgc_span_t *qs = scvgc_spanof((uintptr_t)q);
  cr_assert_eq(qs->state, SCVGC_SPAN_SMALL);
  cr_assert_not(scvgc_span_lean(qs));
  cr_assert_eq(scvgc_usable_size(q), 16000);
  cr_assert_null(scvgc_arena_l1[(uintptr_t)q >> SCVGC_ARENA_SHIFT]
                     ->pinfo[((uintptr_t)q >> SCVGC_PAGE_SHIFT) & (SCVGC_ARENA_PAGES - 1)].marks);
  void *r = scvgc_malloc(2000);
  cr_assert(scvgc_span_lean(scvgc_spanof((uintptr_t)r)), "below 4 KiB: lean");
}

Test(lean, every_stack_in_collect_mode_keeps_the_full_layout, .init = start_exact) {
  cr_assert_not(scvgc_lean);
  cr_assert_eq(scvgc_usable_size(scvgc_malloc(40)), 40);
}

Test(lean, leak_mode_keeps_the_full_layout, .init = start_leak) { cr_assert_not(scvgc_lean); }

static void start_default_build(void) {
  setenv("SCVGC_MODE", "collect", 1);
  setenv("SCVGC_REPORT", "none", 1);
  unsetenv("SCVGC_SAMPLE");
  scvgc_options_lean_test = -1; /* as the library runs: the build's default */
  scvgc_init();
}

Test(lean, the_default_build_keeps_the_full_layout_until_the_lost_node_is_found,
     .init = start_default_build) {
  cr_assert_eq(scvgc_lean, SCVGC_LEAN_DEFAULT && 1);
}

/* issue 14 point 2: GC metadata below 3% of the heap for 16-64 byte objects */
Test(lean, the_side_block_is_under_3_percent_of_a_span_of_16_to_64_byte_objects, .init = start) {
  int seen = 0;
  for (uint32_t c = 1; c < SCVGC_NCLASSES; c++) {
    const scvgc_class_t *k = &scvgc_classes[c];
    if (k->size < 16 || k->size > 64) continue;
    size_t meta = scvgc_span_meta_bytes(c), span = (size_t)k->npages * SCVGC_PAGE_SIZE;
    cr_assert_lt(meta * 1000, span * 30, "class %u (%u bytes): %zu of %zu bytes", c, k->size, meta, span);
    cr_assert_leq(meta * 8, (size_t)(k->nelems + 63) / 64 * 64 * 3, "3 bits per slot");
    seen++;
  }
  cr_assert_geq(seen, 4);
}

/* ---- allocated or free --------------------------------------------------------------------- */

Test(lean, carved_slots_not_yet_allocated_are_free_and_a_new_object_is_black_only_when_it_must,
     .init = start) {
  char *p = scvgc_malloc(48);
  cr_assert(allocated((uintptr_t)p));
  cr_assert_not(marked((uintptr_t)p), "no cycle, a swept span: no bit written (L4)");
  atomic_store(&scvgc_gc_black, 1); /* as while a cycle runs */
  char *q = scvgc_malloc(48);
  atomic_store(&scvgc_gc_black, 0);
  cr_assert(marked((uintptr_t)q), "black while a cycle runs (L1)");
  scvgc_span_t *qs = scvgc_spanof((uintptr_t)q);
  uint32_t keepgen = qs->sweepgen;
  qs->sweepgen = scvgc_sweepgen_now() + 1; /* cached before the sweep: a sweeper may come */
  char *r = scvgc_malloc(48);
  qs->sweepgen = keepgen;
  cr_assert_eq(scvgc_spanof((uintptr_t)r), qs);
  cr_assert(marked((uintptr_t)r), "black in a span not swept yet (L1)");
  scvgc_free(q);
  scvgc_free(r);
  scvgc_span_t *s = scvgc_spanof((uintptr_t)p);
  uint32_t i = scvgc_slot_index(s, (uintptr_t)p);
  /* the slots after it were carved into this thread's cache with it: free, key and all */
  cr_assert_lt(i + 1, s->ncarved);
  cr_assert_not(allocated((uintptr_t)p + 48), "a carved slot holds the key");
  scvgc_free(p);
  cr_assert_not(allocated((uintptr_t)p));
}

/* ---- special.c --------------------------------------------------------------------------- */

Test(lean, a_sampled_object_has_its_stack_and_size_until_freed, .init = start_sample_all) {
  size_t before = scvgc_special_count();
  char *p = scvgc_malloc(40);
  scvgc_span_t *s = scvgc_spanof((uintptr_t)p);
  cr_assert_eq(s->nspecial, 1);
  cr_assert_eq(scvgc_special_count(), before + 1);
  uint32_t stack = 0, size = 0;
  scvgc_special_lock_all();
  cr_assert(scvgc_special_get_locked((uintptr_t)p, &stack, &size));
  scvgc_special_unlock_all();
  cr_assert_neq(stack, 0);
  cr_assert_eq(size, 40);
  scvgc_free(p);
  cr_assert_eq(s->nspecial, 0, "the free drops it (P1)");
  cr_assert_eq(scvgc_special_count(), before);
}

Test(lean, the_table_grows_and_deletes_without_losing_an_entry, .init = start_sample_all) {
  enum { N = 5000 };
  static char *obj[N];
  for (int i = 0; i < N; i++) obj[i] = scvgc_malloc(16 + (size_t)(i % 4) * 16);
  for (int i = 0; i < N; i += 2) scvgc_free(obj[i]); /* holes in every probe run */
  scvgc_special_lock_all();
  for (int i = 1; i < N; i += 2) {
    uint32_t stack, size;
    cr_assert(scvgc_special_get_locked((uintptr_t)obj[i], &stack, &size), "object %d", i);
    cr_assert_eq(size, 16 + (uint32_t)(i % 4) * 16);
  }
  for (int i = 0; i < N; i += 2) {
    uint32_t stack, size;
    cr_assert_not(scvgc_special_get_locked((uintptr_t)obj[i], &stack, &size));
  }
  scvgc_special_unlock_all();
  for (int i = 1; i < N; i += 2) scvgc_free(obj[i]);
}

__attribute__((noinline)) static void drop_sampled(void) {
  for (int i = 0; i < 100; i++) (void)scvgc_malloc(40);
}

Test(lean, reclaimed_sampled_objects_are_counted_with_their_stack_and_requested_size,
     .init = start_sample_all) {
  in_thread(drop_sampled);
  cycle();
  scvgc_reclaim_t *r;
  long n = scvgc_sweep_copy_reclaimed(&r);
  uint64_t objs = 0, bytes = 0;
  for (long i = 0; i < n; i++)
    if (r[i].objects == 100) {
      objs = r[i].objects;
      bytes = r[i].bytes;
      cr_assert_neq(r[i].stack, 0);
    }
  cr_assert_eq(objs, 100);
  cr_assert_eq(bytes, 100 * 40, "the requested size, from special.c");
  free(r);
}

__attribute__((noinline)) static void make_ignored(void) {
  void **a = scvgc_malloc(32), **b = scvgc_malloc(64);
  a[0] = b;
  cr_assert_eq(scvgc_ignore_object(a), 1);
  hidden[0] = (uintptr_t)a ^ HIDE;
  hidden[1] = (uintptr_t)b ^ HIDE;
  scvgc_lib_enter();
  void *l = scvgc_malloc(48);
  scvgc_lib_leave();
  hidden[2] = (uintptr_t)l ^ HIDE;
  hidden[3] = (uintptr_t)scvgc_malloc(48) ^ HIDE; /* plain garbage: the control */
}

Test(lean, ignored_and_library_owned_objects_are_roots, .init = start) {
  in_thread(make_ignored);
  cycle();
  cr_assert(allocated(hidden[0] ^ HIDE), "the ignored object lives");
  cr_assert(allocated(hidden[1] ^ HIDE), "and what it reaches");
  cr_assert(allocated(hidden[2] ^ HIDE), "the library's own object lives");
  cr_assert_not(allocated(hidden[3] ^ HIDE), "an unreachable plain object is reclaimed");
}

/* ---- marking and sweeping ------------------------------------------------------------------ */

__attribute__((noinline)) static void make_tree(void) {
  void **root = scvgc_malloc(64 * sizeof(void *));
  for (int i = 0; i < 64; i++) {
    char *o = scvgc_malloc(16 + (size_t)(i % 4) * 16);
    memset(o, i, 16);
    root[i] = o;
    hidden[i] = (uintptr_t)o ^ HIDE;
    hidden[64 + i] = (uintptr_t)scvgc_malloc(16 + (size_t)(i % 4) * 16) ^ HIDE; /* garbage */
  }
  keep = root;
}

Test(lean, a_cycle_keeps_what_is_reachable_and_reclaims_the_rest, .init = start) {
  in_thread(make_tree);
  cycle();
  for (int i = 0; i < 64; i++) {
    char *o = (char *)(hidden[i] ^ HIDE);
    cr_assert(allocated((uintptr_t)o), "reachable object %d", i);
    for (int k = 0; k < 16; k++) cr_assert_eq(o[k], (char)i, "its contents");
    cr_assert_not(allocated(hidden[64 + i] ^ HIDE), "garbage object %d reclaimed", i);
  }
  cycle(); /* and again: nothing reachable goes */
  for (int i = 0; i < 64; i++) cr_assert(allocated(hidden[i] ^ HIDE));
}

__attribute__((noinline)) static void make_stale_slot(void) {
  void **f = scvgc_malloc(48);
  void *g = scvgc_malloc(48);
  keep2 = scvgc_malloc(48); /* live: the span stays in use */
  f[2] = g; /* the free below leaves word 2 as it was: a stale pointer */
  scvgc_free(f);
  keep = f; /* a dangling pointer into a free slot */
  hidden[0] = (uintptr_t)g ^ HIDE;
}

Test(lean, a_free_slot_pointed_into_is_marked_but_not_scanned, .init = start) {
  in_thread(make_stale_slot);
  cycle();
  uintptr_t f = (uintptr_t)keep;
  cr_assert_not(allocated(f), "the slot is still free");
  cr_assert(marked(f), "marked all the same (L2)");
  cr_assert_not(allocated(hidden[0] ^ HIDE), "what its stale words name is not kept");
}

__attribute__((noinline)) static void make_dead_span(void) {
  for (int i = 0; i < 8; i++) hidden[i] = (uintptr_t)scvgc_malloc(256) ^ HIDE;
}

/* L3: the dead slots of a span are freed only by the sweeper that still holds its sweep. */
Test(lean, a_sweeper_that_no_longer_holds_the_sweep_frees_nothing, .init = start) {
  in_thread(make_dead_span);
  scvgc_span_t *s = scvgc_spanof(hidden[0] ^ HIDE);
  for (int i = 0; i < 8; i++) {
    uint32_t k = scvgc_slot_index(s, hidden[i] ^ HIDE);
    scvgc_lean_marks(s)[k / 64] &= ~(1ull << (k % 64)); /* unmarked: dead */
  }
  uint32_t sg = scvgc_sweepgen_now(), was = s->sweepgen;
  void *h, *t;
  s->sweepgen = sg; /* the span was freed and reused: its sweep is gone */
  cr_assert_eq(scvgc_sweep_collect_dead(s, &h, &t), 0);
  for (int i = 0; i < 8; i++) cr_assert(allocated(hidden[i] ^ HIDE), "nothing written");
  s->sweepgen = sg - 1; /* held */
  cr_assert_eq(scvgc_sweep_collect_dead(s, &h, &t), 8);
  for (int i = 0; i < 8; i++) cr_assert_not(allocated(hidden[i] ^ HIDE), "object %d made free", i);
  scvgc_central_remote_free_list(s, h, t, 8);
  s->sweepgen = was;
}

/* ---- spans freed whole (sweep.c S7, central.c C7) ----------------------------------------- */

/* The span of hidden[0]'s object, without its address left in this frame (a root). */
__attribute__((noinline)) static scvgc_span_t *span0(void) {
  scvgc_span_t *s = scvgc_spanof(hidden[0] ^ HIDE);
  scrub();
  return s;
}

__attribute__((noinline)) static uintptr_t base_hidden(const scvgc_span_t *s) {
  cr_assert_eq(scvgc_slot_index(s, hidden[0] ^ HIDE), 0, "hidden[0] begins the span");
  uintptr_t h = s->base ^ HIDE;
  scrub();
  return h;
}

static uint64_t spans_whole(void) { return __atomic_load_n(&scvgc_sweepstats.spans_whole, __ATOMIC_RELAXED); }

/* A span of 256-byte objects filled (32), then 8 objects of the next one, then one object of
 * another class, all dropped: the second span is the one watched. */
__attribute__((noinline)) static void make_dead_spans(void) {
  for (int i = 0; i < 40; i++) {
    uintptr_t p = (uintptr_t)scvgc_malloc(256) ^ HIDE;
    if (i >= 32) hidden[i - 32] = p;
  }
  hidden[8] = (uintptr_t)scvgc_malloc(64) ^ HIDE; /* the thread's last span is another one */
}

Test(lean, a_central_span_the_mark_left_white_goes_to_the_heap_whole, .init = start) {
  in_thread(make_dead_spans); /* its exit hands the spans to central */
  scvgc_span_t *s = span0();
  /* its base is object 0's address: computed in helpers, so that no register of this frame
   * holds it (cycle() saves them on its stack, a root) */
  uintptr_t base_h = base_hidden(s);
  cr_assert_null(s->owner, "central");
  uint64_t whole = spans_whole(), reclaimed = scvgc_sweepstats.small_objects;
  cycle();
  /* the other two spans too, unless a stray copy of their first object marks it */
  cr_assert_geq(spans_whole(), whole + 1, "freed whole");
  cr_assert_geq(scvgc_sweepstats.small_objects, reclaimed + 8, "its 8 dead objects counted");
  for (int i = 0; i < 8; i++)
    cr_assert_not(allocated(hidden[i] ^ HIDE), "object %d reclaimed", i);
  scvgc_span_t *now = scvgc_spanof(base_h ^ HIDE);
  cr_assert(!now || now->state != SCVGC_SPAN_SMALL || now->base != (base_h ^ HIDE),
            "the span left use");
}

__attribute__((noinline)) static void make_span_one_live(void) {
  for (int i = 0; i < 8; i++) hidden[i] = (uintptr_t)scvgc_malloc(256) ^ HIDE;
  char *o = (char *)(hidden[3] ^ HIDE);
  memset(o, 'x', 256);
  keep = o; /* one live object: its mark keeps the span from S7 */
}

Test(lean, a_central_span_with_a_live_object_is_swept_object_by_object, .init = start) {
  in_thread(make_span_one_live);
  uint64_t whole = spans_whole();
  cycle();
  cr_assert_eq(spans_whole(), whole, "not freed whole");
  for (int i = 0; i < 8; i++)
    cr_assert_eq(allocated(hidden[i] ^ HIDE), i == 3, "object %d %s", i, i == 3 ? "kept" : "reclaimed");
  for (int k = 0; k < 256; k++) cr_assert_eq(((char *)keep)[k], 'x', "the live object's contents");
  keep = NULL; /* (not checked reclaimed next: a register of this frame may still hold it) */
}

/* C7's refusals: another sweeper's claim, a NOTIFY holder, parked pages; then its work. */
Test(lean, the_whole_span_free_refuses_what_it_cannot_vouch_for, .init = start) {
  in_thread(make_dead_span);
  scvgc_span_t *s = scvgc_spanof(hidden[0] ^ HIDE);
  uint32_t sg = scvgc_sweepgen_now(), was = s->sweepgen, dead = 99;
  s->sweepgen = sg - 1; /* held by "a sweeper" */
  cr_assert_not(scvgc_central_free_dead(s, sg - 3, &dead), "not this caller's claim");
  atomic_fetch_or(&s->xfree, SCVGC_XF_NOTIFY);
  cr_assert_not(scvgc_central_free_dead(s, sg - 1, &dead), "a notifier holds the span");
  atomic_fetch_and(&s->xfree, ~(uintptr_t)SCVGC_XF_NOTIFY);
  s->relmask = 1;
  cr_assert_not(scvgc_central_free_dead(s, sg - 1, &dead), "parked pages");
  s->relmask = 0;
  for (int i = 0; i < 8; i++) cr_assert(allocated(hidden[i] ^ HIDE), "nothing freed by a refusal");
  cr_assert_eq(dead, 99, "nor counted");
  cr_assert(scvgc_central_free_dead(s, sg - 1, &dead));
  cr_assert_eq(dead, 8, "the objects it held");
  for (int i = 0; i < 8; i++) cr_assert_not(allocated(hidden[i] ^ HIDE));
  (void)was;
}

/* ---- the marker's page table (pageheap.c H11, mark.c M8) --------------------------------- */

static const scvgc_pinfo_t *pinfo_of(uintptr_t p) {
  scvgc_arena_t *a = scvgc_arena_l1[p >> SCVGC_ARENA_SHIFT];
  return &a->pinfo[(p >> SCVGC_PAGE_SHIFT) & (SCVGC_ARENA_PAGES - 1)];
}

static uint32_t multipage_class(void) {
  for (uint32_t c = 1; c < SCVGC_NCLASSES; c++)
    if (scvgc_classes[c].npages >= 2 && scvgc_classes[c].size * scvgc_classes[c].nelems <
                                            scvgc_classes[c].npages * SCVGC_PAGE_SIZE)
      return c;
  return 0;
}

__attribute__((noinline)) static void make_multipage(void) {
  uint32_t c = multipage_class();
  hidden[0] = (uintptr_t)scvgc_malloc(scvgc_classes[c].size) ^ HIDE;
}

static scvgc_span_t *hidden_span(void) { return scvgc_spanof(hidden[0] ^ HIDE); }

Test(lean, every_page_of_a_small_span_names_its_marks_until_the_span_is_freed, .init = start) {
  uint32_t c = multipage_class();
  cr_assert_neq(c, 0, "a class of several pages with a tail");
  in_thread(make_multipage);
  scvgc_span_t *s = hidden_span(); /* not a heap object: no root of the object */
  cr_assert_eq(s->cls, c);
  size_t np = s->npages;
  uint32_t nelems = s->nelems, nw = scvgc_bitmap_words(nelems);
  uint64_t *marks = scvgc_lean_marks(s);
  for (size_t k = 0; k < np; k++) {
    const scvgc_pinfo_t *pi = pinfo_of((hidden[0] ^ HIDE) + (k << SCVGC_PAGE_SHIFT));
    cr_assert_eq(pi->marks, marks, "page %zu", k);
    cr_assert_eq(pi->cls, c);
    cr_assert_eq(pi->back, k, "pages back to the span's start");
  }
  /* the only root: a word into the span's tail past its last slot, which names no object */
  keep = (void *)((hidden[0] ^ HIDE) + (uintptr_t)nelems * scvgc_classes[c].size);
  keep2 = NULL;
  scrub();
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST));
  for (uint32_t b = 0; b < nw * 64; b++)
    cr_assert_not((marks[b / 64] >> (b % 64)) & 1, "slot %u marked (of %u)", b, nelems);
  scvgc_sweep_finish(); /* the object is reclaimed, and its span, wholly free, goes */
  keep = NULL;
  cr_assert_not(allocated(hidden[0] ^ HIDE));
  for (size_t k = 0; k < np; k++)
    cr_assert_null(pinfo_of((hidden[0] ^ HIDE) + (k << SCVGC_PAGE_SHIFT))->marks,
                   "a freed span's page %zu names no marks", k);
}
