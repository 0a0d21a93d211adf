/* pageheap.c — the page heap (Go's mheap): arenas, the address -> span map, free spans,
 * and huge blocks (mappings of their own, U1-U4 at "huge spans" below).
 *
 * Owns: every arena (64 MiB of address space each, mapped as needed, never unmapped), the
 * L1 arena table (whose entries may also name a huge span), the free spans, the
 * released-page bitmaps, the huge spans and the tombstones of freed ones.
 * Lock: heap.lock guards everything here except the read-only lookups (scvgc_spanof), which
 *   run with no lock: an arena is published in scvgc_arena_l1 only after it is complete,
 *   and map entries are written before the span they name is handed to anyone.
 * Callers: program threads (span refill, large and huge objects), the sweeper, the scavenger
 *   (scvgc_heap_scavenge, malloc_trim). Not for the world-stopped path: it takes a lock.
 *
 * Invariants (checked by scvgc_heap_check, pinned by test/unit/pageheap.c):
 *   H1 every page of every arena belongs to exactly one span, free or in use;
 *   H2 the map names its span for every page of an in-use span, and for the first and last
 *      page of a free span;
 *   H3 no two free spans are adjacent (free() coalesces with both neighbours);
 *   H4 a free span of n < 128 pages is on free[n]; larger ones are on the large list;
 *      allocation is best fit (the smallest free span that is large enough; among equal
 *      sizes on the large list, the lowest address);
 *   H5 a page whose released bit is set reads as zero; an allocated span has needzero == 0
 *      only if every one of its pages was released (fresh from the OS counts as released);
 *   H6 inuse_pages + free pages + releasing pages == sys / PAGE; released_pages counts the
 *      set bits of free pages (releasing ones included); a released bit is never set on a
 *      page of an in-use span (take clears them; OS pages released inside central spans
 *      are counted apart, scvgc_inspan_released, and turn into released bits only when
 *      both halves of a heap page are released as the span comes back: free_locked);
 *   H7 a free span's npreleased is the number of its pages whose released bit is set
 *      (kept through coalescing, splitting and release);
 *   H8 a span with `releasing` set is free, on no free list, and touched by the scavenger
 *      only: take() never sees it (it is on no list), coalescing and grow_inplace skip it,
 *      so its pages can be madvised with the heap lock dropped; the scavenger puts it back
 *      (coalescing) under the lock.
 * The scavenger's release (scvgc_heap_scavenge) takes batches of at most SCAV_BATCH_PAGES
 * off the free lists under the lock (H8), madvises the unreleased runs of each with the
 * lock dropped, then sets their released bits and puts them back: the heap lock is never
 * held across a madvise. batch_lock (before the heap lock) is held for a whole batch, so
 * fork waits for a batch to be back on the lists.
 *   H9 every arena mapping and every huge block is in the written-page table (wp.c) from
 *      its mapping to its unmapping or move.
 *   H10 while a concurrent cycle marks with the world running (scvgc_gc_marking, set and
 *      cleared under the heap lock), no in-use span leaves use: a span that would go back
 *      to the heap (a free large object, an empty central span, a workbuf span) waits on
 *      the deferred list with its identity and metadata block intact (`deferred` set, its
 *      objects free), and a huge block is neither shrunk nor moved (realloc waits for the
 *      mark's end, scvgc_gc_wait_marking, rather than copy it); so a marker that read
 *      an in-use state (acquire: init_inuse publishes the state last, with release) reads
 *      an identity that holds for the whole mark. The collector hands them back after the
 *      cycle (scvgc_heap_flush_deferred).
 *   H11 in a lean heap (internal.h) every page of an in-use small span has its arena's
 *      pinfo entry (mark bits, pages back to the span's start, class), set in take() before the map names the
 *      span, and cleared in free_locked() before the side block can be freed; every other
 *      page has marks NULL. The marker reads it with no lock while spans stay in use
 *      (world stopped, or H10), so it never needs the span struct (mark.c M8).
 */
#include <string.h>

#include "internal.h"
#include "lock.h"
#include "sweep.h"
#include "wp.h"

scvgc_arena_t *scvgc_arena_l1[SCVGC_L1_ENTRIES];
_Atomic size_t scvgc_heap_inuse;
_Atomic size_t scvgc_inspan_released;

/* The scavenger's batch: pages taken off the free lists for one round of madvise with the
 * heap lock dropped. Larger batches mean fewer lock round trips; smaller ones keep less
 * memory out of the allocator's reach meanwhile (an allocation that would have fit in a
 * batch grows the heap instead). 2 MiB is a few hundred microseconds of madvise. */
#define SCAV_BATCH_PAGES 256
#define SCAV_BATCH_SPANS 64

#define NSMALL 128 /* exact free lists for 1..127 pages */

/* U4: how many freed huge blocks keep the first 64 MiB of their address space (PROT_NONE:
 * no memory, no charge) and their first L1 entry, so that a double free of one of them is
 * diagnosed instead of reaching glibc. More costs address space (a ulimit -v counts it). */
#define HUGE_TOMBS 4

static struct {
  scvgc_lock_t lock;
  scvgc_span_t *free[NSMALL]; /* free[n]: free spans of exactly n pages */
  uint64_t nonempty[NSMALL / 64];
  scvgc_span_t *large; /* free spans of >= NSMALL pages, unordered */
  size_t sys;          /* bytes of arenas */
  size_t inuse_pages;
  size_t free_pages;
  size_t released_pages; /* free pages released to the OS (H6) */
  size_t releasing_pages; /* pages of spans off the lists being released (H6, H8) */
  size_t releasing_released; /* of which released already (their bits count in
                                released_pages) */
  size_t nfree_spans;
  size_t large_nalloc, large_nfree, large_bytes; /* SPAN_LARGE spans: counts and bytes */
  scvgc_arena_t *arenas; /* every arena, newest first */
  /* Huge spans (U1-U4 below): in use, linked through next/prev; their pages are in none
   * of the counts above (H6 is about arenas), only in huge_pages. */
  scvgc_span_t *huge;
  size_t huge_pages;
  uintptr_t tomb[HUGE_TOMBS]; /* U4: bases of freed huge blocks kept as PROT_NONE, 0: none */
  scvgc_span_t *deferred;     /* H10: spans freed while a concurrent cycle marks */
  size_t tomb_next;           /* the slot the next tombstone takes (the oldest) */
} heap = {.lock = SCVGC_LOCK_RANKED(SCVGC_RANK_HEAP)};

/* Huge spans (below) */
typedef struct { uintptr_t base; size_t resv; } huge_gone_t;
static bool is_huge(const scvgc_span_t *s);
static void huge_unlink_locked(scvgc_span_t *s, huge_gone_t *g);
static void huge_release(const huge_gone_t *g);
static bool huge_resize_locked(scvgc_span_t *s, size_t np);

/* What the GC trigger reads: pages of in-use spans, arenas' and huge ones. Heap lock. */
static void publish_inuse(void) {
  atomic_store_explicit(&scvgc_heap_inuse, (heap.inuse_pages + heap.huge_pages) << SCVGC_PAGE_SHIFT,
                        memory_order_relaxed);
}

/* ---- free lists ------------------------------------------------------------------- */

static scvgc_span_t **list_of(size_t np) { return np < NSMALL ? &heap.free[np] : &heap.large; }

static void fl_insert(scvgc_span_t *s) {
  scvgc_span_t **h = list_of(s->npages);
  s->prev = NULL;
  s->next = *h;
  if (*h) (*h)->prev = s;
  *h = s;
  if (s->npages < NSMALL) heap.nonempty[s->npages / 64] |= 1ull << (s->npages % 64);
  heap.nfree_spans++;
  heap.free_pages += s->npages;
}

static void fl_remove(scvgc_span_t *s) {
  if (s->prev) {
    s->prev->next = s->next;
  } else {
    scvgc_span_t **h = list_of(s->npages);
    *h = s->next;
    if (!s->next && s->npages < NSMALL)
      heap.nonempty[s->npages / 64] &= ~(1ull << (s->npages % 64));
  }
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  heap.nfree_spans--;
  heap.free_pages -= s->npages;
}

/* ---- the map and the released bits -------------------------------------------------- */

static scvgc_arena_t *arena_of(uintptr_t p) { return scvgc_arena_l1[p >> SCVGC_ARENA_SHIFT]; }

static void map_set(uintptr_t base, size_t npages, scvgc_span_t *s) {
  for (size_t i = 0; i < npages;) {
    uintptr_t p = base + (i << SCVGC_PAGE_SHIFT);
    scvgc_arena_t *a = arena_of(p);
    size_t pg = (p >> SCVGC_PAGE_SHIFT) & (SCVGC_ARENA_PAGES - 1);
    for (; pg < SCVGC_ARENA_PAGES && i < npages; pg++, i++) a->spans[pg] = s;
  }
}

/* H11 the lean marker's page table (internal.h scvgc_pinfo_t): set for every page of a lean
 * small span as it is taken, before the map names it; cleared as it is freed, before its
 * side block can go. */
static void pinfo_set(const scvgc_span_t *s, uint64_t *marks) {
  for (size_t i = 0; i < s->npages;) {
    uintptr_t p = s->base + (i << SCVGC_PAGE_SHIFT);
    scvgc_arena_t *a = arena_of(p);
    size_t pg = (p >> SCVGC_PAGE_SHIFT) & (SCVGC_ARENA_PAGES - 1);
    for (; pg < SCVGC_ARENA_PAGES && i < s->npages; pg++, i++) {
      a->pinfo[pg].back = (uint32_t)i; /* a span may cross into the next arena */
      a->pinfo[pg].cls = s->cls;
      __atomic_store_n(&a->pinfo[pg].marks, marks, __ATOMIC_RELEASE);
    }
  }
}

/* H2 for a free span: its ends. */
static void map_ends(scvgc_span_t *s) {
  map_set(s->base, 1, s);
  map_set(s->base + ((s->npages - 1) << SCVGC_PAGE_SHIFT), 1, s);
}

static bool released_bit(uintptr_t p) {
  size_t pg = (p >> SCVGC_PAGE_SHIFT) & (SCVGC_ARENA_PAGES - 1);
  /* racy: release_batch reads its pages' bits without the lock (H8), beside bits of other
   * pages that the lock holder rewrites in the same word */
  return (SCVGC_RACY_LOAD(arena_of(p)->released[pg / 64]) >> (pg % 64)) & 1;
}

/* The released bits of [base, base + npages) counted a bitmap word at a time. */
static size_t released_count(uintptr_t base, size_t npages) {
  size_t n = 0;
  for (size_t i = 0; i < npages;) {
    uintptr_t p = base + (i << SCVGC_PAGE_SHIFT);
    size_t pg = (p >> SCVGC_PAGE_SHIFT) & (SCVGC_ARENA_PAGES - 1);
    size_t k = 64 - pg % 64; /* pages left in this bitmap word */
    if (k > npages - i) k = npages - i;
    uint64_t w = arena_of(p)->released[pg / 64] >> (pg % 64);
    if (k < 64) w &= (1ull << k) - 1;
    n += (size_t)__builtin_popcountll(w);
    i += k;
  }
  return n;
}

/* The first page of [base, base + npages) whose released bit is clear, or npages. */
static size_t first_unreleased(uintptr_t base, size_t npages) {
  for (size_t i = 0; i < npages;) {
    uintptr_t p = base + (i << SCVGC_PAGE_SHIFT);
    size_t pg = (p >> SCVGC_PAGE_SHIFT) & (SCVGC_ARENA_PAGES - 1);
    size_t k = 64 - pg % 64;
    if (k > npages - i) k = npages - i;
    uint64_t w = ~(arena_of(p)->released[pg / 64] >> (pg % 64));
    if (k < 64) w &= (1ull << k) - 1;
    if (w) return i + (size_t)__builtin_ctzll(w);
    i += k;
  }
  return npages;
}

/* The released pages among the first np of free span s, from its npreleased when that
 * says all or none (the common cases: no bitmap walk). */
static size_t released_head(const scvgc_span_t *s, size_t np) {
  if (s->npreleased == 0) return 0;
  if (s->npreleased == s->npages) return np;
  return released_count(s->base, np);
}

/* Count the released pages of [base, base+npages) and set them all to val. */
static size_t released_swap(uintptr_t base, size_t npages, bool val) {
  size_t n = 0;
  for (size_t i = 0; i < npages; i++) {
    uintptr_t p = base + (i << SCVGC_PAGE_SHIFT);
    scvgc_arena_t *a = arena_of(p);
    size_t pg = (p >> SCVGC_PAGE_SHIFT) & (SCVGC_ARENA_PAGES - 1);
    uint64_t bit = 1ull << (pg % 64), *w = &a->released[pg / 64];
    if (*w & bit) n++;
    SCVGC_RACY_STORE(*w, val ? *w | bit : *w & ~bit); /* read racily: released_bit */
  }
  return n;
}

/* ---- finding, growing, splitting ------------------------------------------------------ */

static scvgc_span_t *find(size_t np) {
  if (np < NSMALL) {
    for (size_t w = np / 64; w < NSMALL / 64; w++) {
      uint64_t m = heap.nonempty[w];
      if (w == np / 64) m &= ~0ull << (np % 64);
      if (m) return heap.free[w * 64 + (size_t)__builtin_ctzll(m)];
    }
  }
  scvgc_span_t *best = NULL;
  for (scvgc_span_t *s = heap.large; s; s = s->next)
    if (s->npages >= np &&
        (!best || s->npages < best->npages || (s->npages == best->npages && s->base < best->base)))
      best = s;
  return best;
}

/* A free neighbour that may be merged: on the free lists (not being released, H8). */
static bool mergeable(const scvgc_span_t *n) { return n && n->state == SCVGC_SPAN_FREE && !n->releasing; }

/* Insert free span s, coalescing with free neighbours (H3). s->unused_since and
 * s->npreleased are set; the merged span keeps the newest unused_since of its parts (its
 * oldest pages wait for the newest: the price of one stamp per span) and the sum of their
 * released pages (H7). */
static void insert_free(scvgc_span_t *s) {
  s->state = SCVGC_SPAN_FREE;
  s->releasing = 0;
  scvgc_span_t *l = scvgc_spanof(s->base - 1);
  if (s->base && mergeable(l) && l->base + (l->npages << SCVGC_PAGE_SHIFT) == s->base) {
    fl_remove(l);
    s->base = l->base;
    s->npages += l->npages;
    s->npreleased += l->npreleased;
    if (l->unused_since > s->unused_since) s->unused_since = l->unused_since;
    scvgc_spanstruct_free(l);
  }
  uintptr_t end = s->base + (s->npages << SCVGC_PAGE_SHIFT);
  scvgc_span_t *r = scvgc_spanof(end);
  if (mergeable(r) && r->base == end) {
    fl_remove(r);
    s->npages += r->npages;
    s->npreleased += r->npreleased;
    if (r->unused_since > s->unused_since) s->unused_since = r->unused_since;
    scvgc_spanstruct_free(r);
  }
  map_ends(s);
  fl_insert(s);
}

static bool grow(size_t np) {
  size_t bytes = (np << SCVGC_PAGE_SHIFT);
  bytes = (bytes + SCVGC_ARENA_SIZE - 1) & ~(SCVGC_ARENA_SIZE - 1);
  if (bytes < np) return false;
  char *mem = scvgc_sys_map_aligned(bytes, SCVGC_ARENA_SIZE);
  if (!mem) return false;
  scvgc_span_t *s = scvgc_spanstruct_alloc();
  if (!s) { scvgc_sys_unmap(mem, bytes); return false; }
  for (size_t off = 0; off < bytes; off += SCVGC_ARENA_SIZE) {
    scvgc_arena_t *a = scvgc_sys_map_meta(sizeof *a);
    if (!a) { /* the arenas already published stay: they are usable address space */
      bytes = off;
      break;
    }
    a->base = (uintptr_t)mem + off;
    memset(a->released, 0xff, sizeof a->released);
    a->next = heap.arenas;
    heap.arenas = a;
    __atomic_store_n(&scvgc_arena_l1[a->base >> SCVGC_ARENA_SHIFT], a, __ATOMIC_RELEASE);
  }
  if (!bytes) { scvgc_spanstruct_free(s); return false; }
  scvgc_wp_add((uintptr_t)mem, bytes); /* H9 */
  heap.sys += bytes;
  heap.released_pages += bytes >> SCVGC_PAGE_SHIFT;
  s->base = (uintptr_t)mem;
  s->npages = bytes >> SCVGC_PAGE_SHIFT;
  s->npreleased = s->npages; /* fresh pages count as released (H5) */
  s->unused_since = 0;
  insert_free(s);
  return true;
}

/* Split the tail of s beyond np pages off as a new free span. s is off the free lists. */
static bool split_tail(scvgc_span_t *s, size_t np) {
  if (s->npages == np) return true;
  scvgc_span_t *t = scvgc_spanstruct_alloc();
  if (!t) return false;
  t->base = s->base + (np << SCVGC_PAGE_SHIFT);
  t->npages = s->npages - np;
  t->state = SCVGC_SPAN_FREE;
  t->unused_since = s->unused_since;
  size_t head = released_head(s, np);
  t->npreleased = s->npreleased - head;
  s->npreleased = head;
  s->npages = np;
  map_ends(t);
  fl_insert(t); /* its neighbours are s (being allocated) and what followed s: not free */
  return true;
}

/* The fields of a span becoming in use (state st, class cls, side metadata meta), but the
 * map, needzero and the heap's counts. */
static void init_inuse(scvgc_span_t *s, uint8_t st, uint32_t cls, void *meta) {
  s->npreleased = 0;
  SCVGC_RACY_STORE(s->relmask, 0);
  s->scavenged = 0;
  s->next = s->prev = NULL;
  s->cls = (uint8_t)cls;
  s->meta = meta;
  SCVGC_RACY_STORE(s->owner, NULL);
  s->freelist = NULL;
  s->where = 0;
  s->nalloc = 0;
  s->nfreelist = 0;
  s->ncarved = 0;
  s->xnext = NULL;
  atomic_store_explicit(&s->xfree, 0, memory_order_relaxed);
  if (cls) {
    const scvgc_class_t *c = &scvgc_classes[cls];
    s->elemsize = c->size;
    s->nelems = c->nelems;
    s->divmul = c->divmul;
  } else {
    s->elemsize = (uint32_t)(s->npages << SCVGC_PAGE_SHIFT); /* truncated past 4 GiB: unused */
    s->nelems = 1;
    s->divmul = 0;
  }
  s->bump = s->base;
  s->sweepgen = scvgc_sweepgen_now(); /* a new span has nothing to sweep (sweep.c S2) */
  s->limit = s->base + (uintptr_t)s->nelems * s->elemsize;
  if (!cls) s->limit = s->base + (s->npages << SCVGC_PAGE_SHIFT);
  __atomic_store_n(&s->state, st, __ATOMIC_RELEASE); /* H10: the identity before the state */
}

/* Turn free span s (already trimmed, off the lists) into an in-use span of state st. */
static void take(scvgc_span_t *s, uint8_t st, uint32_t cls, void *meta) {
  size_t rel = released_swap(s->base, s->npages, false);
  SCVGC_ASSERT(rel == s->npreleased); /* H7 */
  heap.released_pages -= rel;
  init_inuse(s, st, cls, meta);
  s->needzero = rel != s->npages;
  if (st == SCVGC_SPAN_SMALL && meta && scvgc_class_lean(s->elemsize)) pinfo_set(s, meta); /* H11 */
  /* identity before the map: a lock-free reader that finds s through the map sees it whole */
  __atomic_thread_fence(__ATOMIC_RELEASE);
  map_set(s->base, s->npages, s);
  heap.inuse_pages += s->npages;
  publish_inuse();
  if (st == SCVGC_SPAN_LARGE) {
    heap.large_nalloc++;
    heap.large_bytes += s->npages << SCVGC_PAGE_SHIFT;
  }
}

static scvgc_span_t *alloc_locked(size_t np, size_t align_pages) {
  SCVGC_ASSERT_LOCKED(&heap.lock); /* by this thread, or the collector for its markers */
  size_t want = np + align_pages - 1;
  if (want < np) return NULL;
  scvgc_span_t *s = find(want);
  if (!s) {
    if (!grow(want)) return NULL;
    s = find(want);
    if (!s) return NULL;
  }
  fl_remove(s);
  if (align_pages > 1) {
    uintptr_t align = align_pages << SCVGC_PAGE_SHIFT;
    uintptr_t a = (s->base + align - 1) & ~(align - 1);
    if (a != s->base) { /* the head goes back: its left neighbour is not free (H3) */
      scvgc_span_t *h = scvgc_spanstruct_alloc();
      if (!h) { fl_insert(s); return NULL; }
      h->base = s->base;
      h->npages = (a - s->base) >> SCVGC_PAGE_SHIFT;
      h->state = SCVGC_SPAN_FREE;
      h->unused_since = s->unused_since;
      h->npreleased = released_head(s, h->npages);
      s->npreleased -= h->npreleased;
      s->base = a;
      s->npages -= h->npages;
      map_ends(h);
      fl_insert(h);
    }
  }
  if (!split_tail(s, np)) { insert_free(s); return NULL; }
  return s;
}

/* Bytes the heap may hold resident: sys less everything released (heap lock). */
static size_t consumed_locked(void) {
  size_t rel = (heap.released_pages << SCVGC_PAGE_SHIFT) +
               (atomic_load_explicit(&scvgc_inspan_released, memory_order_relaxed) << SCVGC_OSPAGE_SHIFT);
  size_t sys = heap.sys + (heap.huge_pages << SCVGC_PAGE_SHIFT);
  return sys > rel ? sys - rel : 0;
}

scvgc_span_t *scvgc_heap_alloc(size_t np, size_t align, uint8_t st, uint32_t cls, void *meta) {
  size_t ap = align > SCVGC_PAGE_SIZE ? align >> SCVGC_PAGE_SHIFT : 1;
  if (np == 0 || np > (SCVGC_MAX_REQUEST >> SCVGC_PAGE_SHIFT)) return NULL;
  scvgc_lock(&heap.lock);
  scvgc_span_t *s = alloc_locked(np, ap);
  if (s) take(s, st, cls, meta);
  /* SCVGC_MEMLIMIT: one load and a compare while the limit is far (the trigger is SIZE_MAX
   * when off, and while the scavenger is already on its way) */
  size_t trigger = atomic_load_explicit(&scvgc_memlimit_trigger, memory_order_relaxed);
  bool kick = trigger != SIZE_MAX && consumed_locked() > trigger;
  scvgc_unlock(&heap.lock);
  if (kick) scvgc_scavenge_memlimit_kick();
  return s;
}

/* In-use span s comes back: the heap pages whose two OS pages were both released inside it
 * (central.c R1) get their released bit; the rest of its pages are resident as far as the
 * heap knows (a half-released page is simply released again by the scavenger). */
static size_t relmask_to_bits(scvgc_span_t *s) {
  size_t n = 0;
  if (!s->relmask) return 0;
  for (size_t k = 0; k < s->npages && k < 32; k++) {
    if (((s->relmask >> (2 * k)) & 3) != 3) continue;
    released_swap(s->base + (k << SCVGC_PAGE_SHIFT), 1, true);
    n++;
  }
  atomic_fetch_sub_explicit(&scvgc_inspan_released, (size_t)__builtin_popcountll(s->relmask),
                            memory_order_relaxed);
  SCVGC_RACY_STORE(s->relmask, 0);
  return n;
}

static void free_locked(scvgc_span_t *s, uint64_t now) {
  SCVGC_ASSERT_HELD(&heap.lock);
  SCVGC_ASSERT(s->state >= SCVGC_SPAN_SMALL);
  /* the scavenger starts once free pages worth releasing pile up (scavenge.c) */
  if (((heap.sys >> SCVGC_PAGE_SHIFT) - heap.inuse_pages - heap.released_pages + s->npages)
          << SCVGC_PAGE_SHIFT >= SCVGC_SCAVENGE_START_MIN)
    scvgc_scavenge_need();
  size_t rel = relmask_to_bits(s);
  heap.released_pages += rel;
  s->npreleased = rel;
  s->scavenged = 0;
  heap.inuse_pages -= s->npages;
  publish_inuse();
  if (s->state == SCVGC_SPAN_LARGE) {
    heap.large_nfree++;
    heap.large_bytes -= s->npages << SCVGC_PAGE_SHIFT;
  }
  if (s->state == SCVGC_SPAN_SMALL && scvgc_lean) pinfo_set(s, NULL); /* H11 (meta may be gone) */
  s->cls = 0;
  SCVGC_RACY_STORE(s->owner, NULL);
  s->meta = NULL;
  __atomic_store_n(&s->sweepgen, scvgc_sweepgen_now(), __ATOMIC_RELEASE); /* sweep.c S2 */
  s->unused_since = now;
  insert_free(s);
}

scvgc_span_t *scvgc_heap_alloc_locked(size_t np, uint8_t st) {
  scvgc_span_t *s = alloc_locked(np, 1);
  if (s) take(s, st, 0, NULL);
  return s;
}

/* The in-use spans that start in arena a (heap lock held). */
static void arena_spans(scvgc_arena_t *a, void (*fn)(scvgc_span_t *, void *), void *arg) {
  {
    for (size_t pg = 0; pg < SCVGC_ARENA_PAGES;) {
      scvgc_span_t *s = a->spans[pg];
      uintptr_t addr = a->base + (pg << SCVGC_PAGE_SHIFT);
      if (!s) { pg++; continue; } /* cannot happen (H1); kept for robustness */
      if (s->base == addr && s->state >= SCVGC_SPAN_SMALL && !s->deferred) fn(s, arg);
      /* from the first page of any span (H2), skip to its end, which may lie in a later
       * arena: then this arena is done */
      uintptr_t end = s->base + (s->npages << SCVGC_PAGE_SHIFT);
      if (s->base != addr || end <= addr) { pg++; continue; }
      pg = end >= a->base + SCVGC_ARENA_SIZE ? SCVGC_ARENA_PAGES : (end - a->base) >> SCVGC_PAGE_SHIFT;
    }
  }
}

void scvgc_heap_foreach_span(void (*fn)(scvgc_span_t *, void *), void *arg) {
  SCVGC_ASSERT_HELD(&heap.lock);
  for (scvgc_arena_t *a = heap.arenas; a; a = a->next) arena_spans(a, fn, arg);
  for (scvgc_span_t *s = heap.huge, *next; s; s = next) {
    next = s->next;
    if (!s->deferred) fn(s, arg);
  }
}

void scvgc_heap_foreach_span_chunked(void (*fn)(scvgc_span_t *, void *), void *arg) {
  scvgc_lock(&heap.lock);
  for (scvgc_arena_t *a = heap.arenas; a;) {
    arena_spans(a, fn, arg);
    a = a->next; /* arenas are never unmapped: the list only grows at its head */
    scvgc_unlock(&heap.lock);
    scvgc_lock(&heap.lock);
  }
  for (scvgc_span_t *s = heap.huge, *next; s; s = next) {
    next = s->next;
    if (!s->deferred) fn(s, arg);
  }
  scvgc_unlock(&heap.lock);
}

/* H10: keep s (in use, its objects all free) until the concurrent cycle ends. Heap lock. */
static void defer_locked(scvgc_span_t *s) {
  s->deferred = 1;
  s->xnext = heap.deferred; /* not next: a huge span stays on heap.huge meanwhile */
  heap.deferred = s;
}

bool scvgc_heap_free_or_defer(scvgc_span_t *s) {
  uint64_t now = scvgc_clock();
  scvgc_lock(&heap.lock);
  bool d = atomic_load_explicit(&scvgc_gc_marking, memory_order_relaxed);
  if (d) defer_locked(s); /* in one hold of the lock with the test: never half of each */
  else free_locked(s, now);
  scvgc_unlock(&heap.lock);
  return d;
}

void scvgc_heap_free(scvgc_span_t *s) {
  uint64_t now = scvgc_clock();
  scvgc_lock(&heap.lock);
  SCVGC_ASSERT(!is_huge(s)); /* huge spans go through scvgc_heap_free_large */
  if (atomic_load_explicit(&scvgc_gc_marking, memory_order_relaxed)) defer_locked(s);
  else free_locked(s, now);
  scvgc_unlock(&heap.lock);
}

void scvgc_heap_flush_deferred(void) {
  scvgc_lock(&heap.lock);
  scvgc_span_t *list = atomic_load_explicit(&scvgc_gc_marking, memory_order_relaxed) ? NULL : heap.deferred;
  if (list) heap.deferred = NULL;
  scvgc_unlock(&heap.lock);
  while (list) {
    scvgc_span_t *s = list;
    list = s->xnext;
    void *meta = s->meta;
    size_t mbytes = meta ? scvgc_span_meta_bytes(s->state == SCVGC_SPAN_SMALL ? s->cls : 0) : 0;
    huge_gone_t g = {0, 0};
    scvgc_lock(&heap.lock);
    s->deferred = 0;
    s->xnext = NULL;
    if (s->state == SCVGC_SPAN_SMALL) {
      s->meta = NULL;
      free_locked(s, scvgc_clock());
    } else if (is_huge(s)) {
      huge_unlink_locked(s, &g);
    } else {
      free_locked(s, scvgc_clock());
    }
    scvgc_unlock(&heap.lock);
    if (g.base) huge_release(&g);
    if (meta) scvgc_meta_free(meta, mbytes);
  }
}

bool scvgc_heap_free_large(scvgc_span_t *s, void **meta) {
  uint64_t now = scvgc_clock();
  huge_gone_t g = {0, 0};
  scvgc_lock(&heap.lock);
  bool ok = s->state == SCVGC_SPAN_LARGE && !s->deferred;
  if (ok && atomic_load_explicit(&scvgc_gc_marking, memory_order_relaxed)) { /* H10 */
    *meta = NULL;
    if (s->meta) __atomic_store_n(&s->meta[0].size, 0, __ATOMIC_RELAXED); /* no object now */
    defer_locked(s);
  } else if (ok) {
    *meta = s->meta;
    if (is_huge(s)) huge_unlink_locked(s, &g);
    else free_locked(s, now);
  }
  scvgc_unlock(&heap.lock);
  if (g.base) huge_release(&g);
  return ok;
}

/* The sweeper's end of large span s, which it claimed in generation sg (sweepgen sg - 1):
 * if s is still that span and its object was not marked, free it and hand back its
 * metadata block, allocation stack and requested size; otherwise mark it swept. Under the
 * heap lock, so a free() of the same object cannot interleave. */
bool scvgc_heap_sweep_large(scvgc_span_t *s, uint32_t sg, void **meta, uint32_t *stack,
                            size_t *bytes) {
  bool freed = false;
  uint64_t now = scvgc_clock();
  huge_gone_t g = {0, 0};
  scvgc_lock(&heap.lock);
  if (s->state == SCVGC_SPAN_LARGE && s->sweepgen == sg - 1) {
    uint32_t v = s->meta ? __atomic_load_n(&s->meta[0].size, __ATOMIC_RELAXED) : 0;
    if (v && !(v & SCVGC_META_MARK)) {
      *meta = s->meta;
      *stack = s->meta[0].stack;
      *bytes = s->reqsize;
      if (is_huge(s)) huge_unlink_locked(s, &g);
      else free_locked(s, now);
      freed = true;
    } else {
      __atomic_store_n(&s->sweepgen, sg, __ATOMIC_RELEASE);
    }
  }
  scvgc_unlock(&heap.lock);
  if (g.base) huge_release(&g);
  return freed;
}

/* Grow in-use span s to np pages by taking the start of the free span that follows it. */
bool scvgc_heap_grow_inplace(scvgc_span_t *s, size_t np) {
  bool ok = false;
  scvgc_lock(&heap.lock);
  if (is_huge(s)) {
    ok = np > s->npages && huge_resize_locked(s, np);
    scvgc_unlock(&heap.lock);
    return ok;
  }
  uintptr_t end = s->base + (s->npages << SCVGC_PAGE_SHIFT);
  scvgc_span_t *r = scvgc_spanof(end);
  size_t need = np - s->npages;
  if (np > s->npages && mergeable(r) && r->base == end && r->npages >= need) {
    fl_remove(r);
    size_t rel = released_swap(end, need, false);
    if (r->npages > need) {
      r->base += need << SCVGC_PAGE_SHIFT;
      r->npages -= need;
      r->npreleased -= rel;
      map_ends(r);
      fl_insert(r);
    } else {
      scvgc_spanstruct_free(r);
    }
    heap.released_pages -= rel;
    if (rel != need) s->needzero = 1;
    map_set(end, need, s);
    s->npages = np;
    s->limit = s->base + (np << SCVGC_PAGE_SHIFT);
    heap.inuse_pages += need;
    publish_inuse();
    if (s->state == SCVGC_SPAN_LARGE) heap.large_bytes += need << SCVGC_PAGE_SHIFT;
    ok = true;
  }
  scvgc_unlock(&heap.lock);
  return ok;
}

void scvgc_heap_shrink_inplace(scvgc_span_t *s, size_t np) {
  uint64_t now = scvgc_clock();
  if (np && np < s->npages && s->state == SCVGC_SPAN_LARGE && is_huge(s)) scvgc_gc_wait_marking(); /* H10 */
  scvgc_lock(&heap.lock);
  if (s->state == SCVGC_SPAN_LARGE && np && np < s->npages && is_huge(s)) {
    /* H10: a marker may be reading the pages that would become PROT_NONE */
    if (!atomic_load_explicit(&scvgc_gc_marking, memory_order_relaxed)) huge_resize_locked(s, np);
  } else if (s->state == SCVGC_SPAN_LARGE && np && np < s->npages) {
    scvgc_span_t *t = scvgc_spanstruct_alloc();
    if (t) { /* without a struct the tail simply stays with the object */
      size_t cut = s->npages - np;
      t->base = s->base + (np << SCVGC_PAGE_SHIFT);
      t->npages = cut;
      t->npreleased = 0; /* pages of an in-use span carry no released bit (H6) */
      t->unused_since = now;
      s->npages = np;
      s->limit = s->base + (np << SCVGC_PAGE_SHIFT);
      s->elemsize = (uint32_t)(np << SCVGC_PAGE_SHIFT);
      heap.inuse_pages -= cut;
      heap.large_bytes -= cut << SCVGC_PAGE_SHIFT;
      publish_inuse();
      insert_free(t); /* maps its ends: the map no longer names s past its new end */
    }
  }
  scvgc_unlock(&heap.lock);
}

/* ---- huge spans ------------------------------------------------------------------------
 * A block of at least SCVGC_HUGE_MIN bytes, or aligned beyond an arena, is a mapping of its
 * own (os.c: user memory, charged by the overcommit policy, so an impossible one fails):
 *   U1 a huge span's base is 64 MiB aligned and its reservation is resv = its 64 MiB
 *      chunks: [base, base + npages * PAGE) is read-write, the rest of resv PROT_NONE (so
 *      no other mapping can share its last chunk);
 *   U2 while it is in use, every L1 entry of its reservation is the span | SCVGC_L1_HUGE,
 *      and it is on heap.huge; it has no arena, no page table, no released bits. Its
 *      metadata is the span struct and those L1 entries: 8 bytes per 64 MiB, touched or not;
 *   U3 freeing it takes it off the list and points its L1 entries at tomb_span (DEAD: no
 *      object, not a root for roots.c, as an arena) under the heap lock; the memory goes
 *      back with the lock dropped (the span is nobody's then), and only after that are the
 *      entries cleared, under the lock again: an entry is never NULL while its range is
 *      still mapped, so the collector never takes a dying block for a root mapping;
 *   U4 the first 64 MiB of the HUGE_TOMBS latest freed blocks stay reserved (PROT_NONE) with
 *      their first entry on tomb_span: free() of such a pointer again is diagnosed as a
 *      double free; older ones are unmapped and their pointers are no longer the heap's;
 *   U5 a realloc past the reservation moves the pages (scvgc_heap_move_huge) with the heap
 *      lock held from clearing the old entries to setting the new ones, so no collection
 *      sees the block's range mapped read-write with no entry (U3's concern).
 * Callers hold the heap lock for everything but the mapping calls (and U5's mremap). */

static scvgc_span_t tomb_span; /* DEAD, base 0, limit 0: contains nothing */

static scvgc_arena_t *huge_entry(const scvgc_span_t *s) {
  return (scvgc_arena_t *)((uintptr_t)s | SCVGC_L1_HUGE);
}

static bool is_huge(const scvgc_span_t *s) {
  return scvgc_arena_l1[s->base >> SCVGC_ARENA_SHIFT] == huge_entry(s);
}

/* The reservation of huge span s (U1, U2): its L1 entries, counted. */
static size_t huge_resv(const scvgc_span_t *s) {
  size_t i = s->base >> SCVGC_ARENA_SHIFT, n = 0;
  while (i + n < SCVGC_L1_ENTRIES && scvgc_arena_l1[i + n] == huge_entry(s)) n++;
  return n << SCVGC_ARENA_SHIFT;
}

static void l1_set(uintptr_t base, size_t len, scvgc_arena_t *v) {
  for (size_t off = 0; off < len; off += SCVGC_ARENA_SIZE)
    __atomic_store_n(&scvgc_arena_l1[(base + off) >> SCVGC_ARENA_SHIFT], v, __ATOMIC_RELEASE);
}

/* Clear the entries of an unmapped range that still name tomb_span: the kernel may have
 * handed the range to an arena or a huge block since, which set entries of their own. */
static void l1_clear_tomb(uintptr_t base, size_t len) {
  for (size_t off = 0; off < len; off += SCVGC_ARENA_SIZE) {
    scvgc_arena_t **e = &scvgc_arena_l1[(base + off) >> SCVGC_ARENA_SHIFT];
    if (*e == huge_entry(&tomb_span)) __atomic_store_n(e, NULL, __ATOMIC_RELEASE);
  }
}

scvgc_span_t *scvgc_heap_alloc_huge(size_t np, size_t align, void *meta) {
  if (np == 0 || np > (SCVGC_MAX_REQUEST >> SCVGC_PAGE_SHIFT) || align > SCVGC_MAX_ALIGN) return NULL;
  size_t bytes = np << SCVGC_PAGE_SHIFT;
  size_t resv = (bytes + SCVGC_ARENA_SIZE - 1) & ~(SCVGC_ARENA_SIZE - 1);
  char *mem = scvgc_sys_map_huge(bytes, resv, align > SCVGC_ARENA_SIZE ? align : SCVGC_ARENA_SIZE);
  if (!mem) return NULL;
  scvgc_lock(&heap.lock);
  scvgc_span_t *s = scvgc_spanstruct_alloc();
  if (!s) {
    scvgc_unlock(&heap.lock);
    scvgc_sys_unmap(mem, resv);
    return NULL;
  }
  s->base = (uintptr_t)mem;
  s->npages = np;
  s->unused_since = 0;
  init_inuse(s, SCVGC_SPAN_LARGE, 0, meta);
  s->needzero = 0; /* fresh from the OS */
  s->next = heap.huge;
  if (heap.huge) heap.huge->prev = s;
  heap.huge = s;
  scvgc_wp_add(s->base, resv); /* H9 */
  __atomic_thread_fence(__ATOMIC_RELEASE); /* identity before the map, as in take() */
  l1_set(s->base, resv, huge_entry(s));
  heap.huge_pages += np;
  heap.large_nalloc++;
  heap.large_bytes += bytes;
  publish_inuse();
  scvgc_unlock(&heap.lock);
  return s;
}

/* U3, under the lock: huge span s is freed; what to give back is left in *g. */
static void huge_unlink_locked(scvgc_span_t *s, huge_gone_t *g) {
  g->base = s->base;
  g->resv = huge_resv(s);
  scvgc_wp_remove(g->base, g->resv); /* H9: unmapped (or PROT_NONE) from now on */
  if (s->prev) s->prev->next = s->next;
  else heap.huge = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  heap.huge_pages -= s->npages;
  heap.large_nfree++;
  heap.large_bytes -= s->npages << SCVGC_PAGE_SHIFT;
  publish_inuse();
  l1_set(g->base, g->resv, huge_entry(&tomb_span));
  s->meta = NULL;
  __atomic_store_n(&s->sweepgen, scvgc_sweepgen_now(), __ATOMIC_RELEASE); /* sweep.c S2 */
  scvgc_spanstruct_free(s);
}

/* U3, U4, with no lock held: give a freed huge block's memory back. */
static void huge_release(const huge_gone_t *g) {
  if (g->resv > SCVGC_ARENA_SIZE)
    scvgc_sys_unmap((void *)(g->base + SCVGC_ARENA_SIZE), g->resv - SCVGC_ARENA_SIZE);
  scvgc_sys_decommit((void *)g->base, SCVGC_ARENA_SIZE);
  scvgc_lock(&heap.lock);
  l1_clear_tomb(g->base + SCVGC_ARENA_SIZE, g->resv - SCVGC_ARENA_SIZE);
  uintptr_t old = heap.tomb[heap.tomb_next];
  heap.tomb[heap.tomb_next] = g->base;
  heap.tomb_next = (heap.tomb_next + 1) % HUGE_TOMBS;
  if (old) l1_set(old, SCVGC_ARENA_SIZE, NULL); /* before the unmap: no one maps it meanwhile */
  scvgc_unlock(&heap.lock);
  if (old) scvgc_sys_unmap((void *)old, SCVGC_ARENA_SIZE);
}

bool scvgc_heap_move_huge(scvgc_span_t *s, size_t np) {
  if (np == 0 || np > (SCVGC_MAX_REQUEST >> SCVGC_PAGE_SHIFT) || !is_huge(s)) return false;
  scvgc_gc_wait_marking(); /* H10: rather than copy gigabytes */
  size_t bytes = np << SCVGC_PAGE_SHIFT;
  size_t resv = (bytes + SCVGC_ARENA_SIZE - 1) & ~(SCVGC_ARENA_SIZE - 1);
  char *mem = scvgc_sys_reserve(resv, SCVGC_ARENA_SIZE);
  if (!mem) return false;
  size_t len = s->npages << SCVGC_PAGE_SHIFT; /* s is ours: it does not change meanwhile */
  if (bytes <= len || !scvgc_sys_recommit(mem + len, bytes - len)) { /* the growth, charged */
    scvgc_sys_unmap(mem, resv);
    return false;
  }
  /* Under the lock, so that no collection sees the block half moved: its old entries go
   * NULL before the pages move (nobody else may use the object meanwhile), the new ones
   * name it once s says where it is (U2). */
  scvgc_lock(&heap.lock);
  if (atomic_load_explicit(&scvgc_gc_marking, memory_order_relaxed)) { /* H10: copied instead */
    scvgc_unlock(&heap.lock);
    scvgc_sys_unmap(mem, resv);
    return false;
  }
  uintptr_t old = s->base;
  size_t oldresv = huge_resv(s);
  scvgc_wp_remove(old, oldresv); /* H9: mremap drops the registration */
  l1_set(old, oldresv, NULL);
  if (!scvgc_sys_move((void *)old, len, mem)) {
    scvgc_wp_add(old, oldresv);
    l1_set(old, oldresv, huge_entry(s));
    scvgc_unlock(&heap.lock);
    scvgc_sys_unmap(mem + len, resv - len); /* [mem, mem + len) may be a hole now: not ours */
    return false;
  }
  s->base = (uintptr_t)mem;
  s->bump = s->base;
  s->npages = np;
  s->limit = s->base + bytes;
  s->elemsize = (uint32_t)bytes;
  heap.huge_pages += np - (len >> SCVGC_PAGE_SHIFT);
  heap.large_bytes += bytes - len;
  publish_inuse();
  __atomic_thread_fence(__ATOMIC_RELEASE);
  l1_set(s->base, resv, huge_entry(s));
  scvgc_wp_add(s->base, resv); /* H9 */
  scvgc_unlock(&heap.lock);
  if (oldresv > len) scvgc_sys_unmap((void *)(old + len), oldresv - len); /* its PROT_NONE tail */
  return true;
}

/* realloc in place inside the reservation (U1): the pages past np become PROT_NONE, or
 * PROT_NONE pages become the block's. */
static bool huge_resize_locked(scvgc_span_t *s, size_t np) {
  uintptr_t end = s->base + (s->npages << SCVGC_PAGE_SHIFT), nend = s->base + (np << SCVGC_PAGE_SHIFT);
  if (np == 0 || nend > s->base + huge_resv(s)) return false;
  if (nend > end && !scvgc_sys_recommit((void *)end, nend - end)) return false;
  if (nend < end) scvgc_sys_decommit((void *)nend, end - nend);
  heap.huge_pages = heap.huge_pages - s->npages + np;
  heap.large_bytes = heap.large_bytes - (s->npages << SCVGC_PAGE_SHIFT) + (np << SCVGC_PAGE_SHIFT);
  s->npages = np;
  s->limit = nend;
  s->elemsize = (uint32_t)(np << SCVGC_PAGE_SHIFT);
  publish_inuse();
  return true;
}

/* ---- the scavenger's release (H8) ----------------------------------------------------- */

typedef struct {
  scvgc_span_t *spans[SCAV_BATCH_SPANS];
  size_t n, pages;
  size_t list;          /* the free list the search is in (NSMALL: the large list) */
  scvgc_span_t *cursor; /* where the search goes on in that list, if still on it */
} batch_t;

/* Free span s (on a list) less its first f pages, which are released: n pages from f are
 * carved out into a span off the lists (H8); the head [0, f) and the tail stay free. *tail
 * is the tail's span (NULL: none). NULL when no span struct could be had. */
static scvgc_span_t *carve_releasing(scvgc_span_t *s, size_t f, size_t n, scvgc_span_t **tail) {
  scvgc_span_t *c = s, *t = NULL;
  size_t relc = 0;
  *tail = NULL;
  if (f > 0 || n < s->npages) {
    c = scvgc_spanstruct_alloc();
    if (!c) return NULL;
    if (f + n < s->npages && !(t = scvgc_spanstruct_alloc())) {
      scvgc_spanstruct_free(c);
      return NULL;
    }
    relc = released_count(s->base + (f << SCVGC_PAGE_SHIFT), n);
  }
  fl_remove(s);
  if (c != s) {
    size_t total = s->npreleased;
    c->base = s->base + (f << SCVGC_PAGE_SHIFT);
    c->npages = n;
    c->state = SCVGC_SPAN_FREE;
    c->unused_since = s->unused_since;
    c->npreleased = relc;
    if (t) {
      t->base = c->base + (n << SCVGC_PAGE_SHIFT);
      t->npages = s->npages - f - n;
      t->state = SCVGC_SPAN_FREE;
      t->unused_since = s->unused_since;
      t->npreleased = total - f - relc;
      map_ends(t);
      fl_insert(t);
      *tail = t;
    }
    s->npages = f;
    s->npreleased = f;
    if (f) {
      map_ends(s);
      fl_insert(s);
    } else {
      scvgc_spanstruct_free(s);
    }
    map_ends(c);
  }
  c->releasing = 1;
  heap.releasing_pages += c->npages;
  heap.releasing_released += c->npreleased;
  return c;
}

/* Under the lock: take spans due (unused_since <= cutoff, some page not released) off the
 * lists into b: whole spans while they fit in SCAV_BATCH_PAGES (and SCAV_BATCH_SPANS), or
 * one piece of a larger one. The search goes on from b->cursor when that is still a span of
 * the same list: spans a batch puts back go to the heads of the lists, behind the cursor,
 * so a list of many small spans is walked once per pass, not once per batch. */
static void fill_batch(batch_t *b, uint64_t cutoff) {
  b->n = b->pages = 0;
  for (; b->list <= NSMALL; b->list++, b->cursor = NULL) {
    scvgc_span_t **head = b->list < NSMALL ? &heap.free[b->list] : &heap.large;
    scvgc_span_t *s = b->cursor, *next;
    if (!s || s->state != SCVGC_SPAN_FREE || s->releasing || list_of(s->npages) != head) s = *head;
    for (; s; s = next) {
      next = s->next;
      if (s->npreleased == s->npages || s->unused_since > cutoff) continue;
      size_t f = first_unreleased(s->base, s->npages), n = s->npages - f;
      if (b->n == SCAV_BATCH_SPANS || (b->n && b->pages + n > SCAV_BATCH_PAGES)) {
        b->cursor = s;
        return;
      }
      /* a piece of a large span leaves a tail that stays on the large list */
      if (n > SCAV_BATCH_PAGES && s->npages - f - SCAV_BATCH_PAGES >= NSMALL) n = SCAV_BATCH_PAGES;
      scvgc_span_t *t, *c = carve_releasing(s, f, n, &t);
      if (!c) { /* no span struct: the rest waits for the next pass */
        b->list = NSMALL + 1;
        return;
      }
      b->spans[b->n++] = c;
      b->pages += n;
      if (t) { /* the tail went to the head of the large list: go on from there */
        b->cursor = t;
        return;
      }
    }
  }
}

/* Without the lock: madvise every run of unreleased pages of the batch. The spans are
 * ours alone (H8): nobody else reads or writes their pages' released bits meanwhile. */
static void release_batch(batch_t *b) {
  for (size_t i = 0; i < b->n; i++) {
    scvgc_span_t *c = b->spans[i];
    for (size_t k = 0; k < c->npages;) {
      uintptr_t p = c->base + (k << SCVGC_PAGE_SHIFT);
      if (released_bit(p)) { k++; continue; }
      size_t run = 1;
      while (k + run < c->npages && !released_bit(p + (run << SCVGC_PAGE_SHIFT))) run++;
      scvgc_sys_release((void *)p, run << SCVGC_PAGE_SHIFT);
      k += run;
    }
  }
}

/* Under the lock: the batch's pages are released; put the spans back (coalescing). */
static size_t return_batch(batch_t *b) {
  size_t n = 0;
  for (size_t i = 0; i < b->n; i++) {
    scvgc_span_t *c = b->spans[i];
    size_t was = released_swap(c->base, c->npages, true);
    SCVGC_ASSERT(was == c->npreleased);
    n += c->npages - was;
    heap.released_pages += c->npages - was;
    heap.releasing_pages -= c->npages;
    heap.releasing_released -= was;
    c->npreleased = c->npages;
    insert_free(c);
  }
  return n;
}

/* Held from taking a batch off the lists to putting it back (one releaser at a time), and
 * by fork's prepare handler: a fork child never inherits spans left `releasing` by a
 * thread that is not in it. Order: BATCH, above GC and below every other core lock
 * (internal.h "lock ranks"). */
static scvgc_lock_t batch_lock = SCVGC_LOCK_RANKED(SCVGC_RANK_BATCH);

size_t scvgc_heap_scavenge(uint64_t cutoff) {
  size_t n = 0;
  batch_t b;
  b.list = 1;
  b.cursor = NULL;
  for (;;) {
    scvgc_lock(&batch_lock);
    scvgc_lock(&heap.lock);
    fill_batch(&b, cutoff);
    scvgc_unlock(&heap.lock);
    if (!b.n) {
      scvgc_unlock(&batch_lock);
      break;
    }
    release_batch(&b);
    scvgc_lock(&heap.lock);
    n += return_batch(&b);
    scvgc_unlock(&heap.lock);
    scvgc_unlock(&batch_lock);
  }
  return n << SCVGC_PAGE_SHIFT;
}

void scvgc_heap_fork_prepare(void) { scvgc_lock(&batch_lock); }
void scvgc_heap_fork_parent(void) { scvgc_unlock(&batch_lock); }

/* Release every free page to the OS now (malloc_trim). Returns the bytes released. */
size_t scvgc_heap_release_all(void) { return scvgc_heap_scavenge(UINT64_MAX); }

void scvgc_heap_stats(scvgc_heapstat_t *hs) {
  scvgc_lock(&heap.lock);
  scvgc_heap_stats_locked(hs);
  scvgc_unlock(&heap.lock);
}

void scvgc_heap_stats_locked(scvgc_heapstat_t *hs) {
  SCVGC_ASSERT_HELD(&heap.lock);
  hs->sys = heap.sys + (heap.huge_pages << SCVGC_PAGE_SHIFT); /* huge blocks: what is mapped */
  hs->inuse_pages = heap.inuse_pages + heap.huge_pages;
  hs->released_pages = heap.released_pages;
  hs->inspan_released = atomic_load_explicit(&scvgc_inspan_released, memory_order_relaxed);
  hs->large_nalloc = heap.large_nalloc;
  hs->large_nfree = heap.large_nfree;
  hs->large_bytes = heap.large_bytes;
}

size_t scvgc_heap_free_spans(void) {
  scvgc_lock(&heap.lock);
  size_t n = heap.nfree_spans;
  scvgc_unlock(&heap.lock);
  return n;
}

typedef struct { size_t inspan, bits, huge_pages; } inuse_check_t;

static void check_inuse(scvgc_span_t *s, void *arg) {
  inuse_check_t *c = arg;
  if (is_huge(s)) { /* U1, U2 */
    SCVGC_CHECK(s->base % SCVGC_ARENA_SIZE == 0 && s->state == SCVGC_SPAN_LARGE);
    SCVGC_CHECK(huge_resv(s) >= s->npages << SCVGC_PAGE_SHIFT && !s->relmask);
    c->huge_pages += s->npages;
    return;
  }
  c->bits += released_count(s->base, s->npages); /* H6: none on in-use pages */
  SCVGC_CHECK(!s->relmask || (s->state == SCVGC_SPAN_SMALL && !s->owner)); /* central.c R2 */
  SCVGC_CHECK(s->npages <= 32 || !s->relmask);
  c->inspan += (size_t)__builtin_popcountll(s->relmask);
}

/* The checker of H2..H8 (H1 follows from H6 and the map walk). Takes the heap lock; the
 * in-span count is exact only when no central span changes meanwhile (tests). */
void scvgc_heap_check(void) {
  scvgc_lock(&heap.lock);
  size_t pages = 0, spans = 0, released = 0;
  for (size_t i = 0; i <= NSMALL; i++) {
    if (i < NSMALL)
      SCVGC_CHECK(!!heap.free[i] == !!(heap.nonempty[i / 64] & (1ull << (i % 64))));
    for (scvgc_span_t *s = i < NSMALL ? heap.free[i] : heap.large; s; s = s->next) {
      SCVGC_CHECK(s->state == SCVGC_SPAN_FREE);
      SCVGC_CHECK(!s->releasing);
      SCVGC_CHECK(i < NSMALL ? s->npages == i : s->npages >= NSMALL);
      SCVGC_CHECK(s->next == NULL || s->next->prev == s);
      SCVGC_CHECK(scvgc_spanof(s->base) == s);
      SCVGC_CHECK(scvgc_spanof(s->base + ((s->npages - 1) << SCVGC_PAGE_SHIFT)) == s);
      scvgc_span_t *l = scvgc_spanof(s->base - 1);
      SCVGC_CHECK(!mergeable(l) || l->base + (l->npages << SCVGC_PAGE_SHIFT) != s->base);
      scvgc_span_t *r = scvgc_spanof(s->base + (s->npages << SCVGC_PAGE_SHIFT));
      SCVGC_CHECK(!mergeable(r) || r->base != s->base + (s->npages << SCVGC_PAGE_SHIFT));
      size_t rel = released_count(s->base, s->npages);
      SCVGC_CHECK(rel == s->npreleased); /* H7 */
      released += rel;
      pages += s->npages;
      spans++;
    }
  }
  SCVGC_CHECK(released + heap.releasing_released == heap.released_pages);
  SCVGC_CHECK(spans == heap.nfree_spans);
  SCVGC_CHECK(pages == heap.free_pages);
  SCVGC_CHECK(pages + heap.releasing_pages + heap.inuse_pages == heap.sys >> SCVGC_PAGE_SHIFT);
  inuse_check_t c = {0, 0, 0};
  scvgc_heap_foreach_span(check_inuse, &c);
  SCVGC_CHECK(c.bits == 0);
  SCVGC_CHECK(c.huge_pages == heap.huge_pages);
  SCVGC_CHECK(c.inspan == atomic_load(&scvgc_inspan_released));
  scvgc_unlock(&heap.lock);
}

bool scvgc_heap_locked(void) { return atomic_load_explicit(&heap.lock.v, memory_order_relaxed); }

void scvgc_heap_lock_all(void) { scvgc_lock(&heap.lock); }
void scvgc_heap_unlock_all(void) { scvgc_unlock(&heap.lock); }
void scvgc_heap_reset_locks(void) {
  scvgc_lock_reset(&heap.lock);
  scvgc_lock_reset(&batch_lock);
}
