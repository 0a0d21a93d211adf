/* pageheap.c — the page heap (Go's mheap): arenas, the address -> span map, free spans.
 *
 * Owns: every arena (64 MiB of address space each, reserved with mmap as needed, never
 * unmapped), the L1 arena table, the free spans, the released-page bitmaps.
 * Lock: heap.lock guards everything here except the read-only lookups (scvgc_spanof), which
 *   run with no lock: an arena is published in scvgc_arena_l1 only after it is complete,
 *   and map entries are written before the span they name is handed to anyone.
 * Callers: program threads (span refill, large objects), the sweeper and scavenger later.
 *   Not for the world-stopped path: it takes a lock.
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
 *   H6 inuse_pages + free pages == sys / PAGE, released_pages counts the set bits of
 *      free pages.
 */
#include <string.h>

#include "internal.h"
#include "lock.h"
#include "sweep.h"

scvgc_arena_t *scvgc_arena_l1[SCVGC_L1_ENTRIES];
_Atomic size_t scvgc_heap_inuse;

#define NSMALL 128 /* exact free lists for 1..127 pages */

static struct {
  scvgc_lock_t lock;
  scvgc_span_t *free[NSMALL]; /* free[n]: free spans of exactly n pages */
  uint64_t nonempty[NSMALL / 64];
  scvgc_span_t *large; /* free spans of >= NSMALL pages, unordered */
  size_t sys;          /* bytes of arenas */
  size_t inuse_pages;
  size_t free_pages;
  size_t released_pages; /* free pages released to the OS (H6) */
  size_t nfree_spans;
  size_t large_nalloc, large_nfree, large_bytes; /* SPAN_LARGE spans: counts and bytes */
  scvgc_arena_t *arenas; /* every arena, newest first */
} heap = {.lock = SCVGC_LOCK_INIT};

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

/* H2 for a free span: its ends. */
static void map_ends(scvgc_span_t *s) {
  map_set(s->base, 1, s);
  map_set(s->base + ((s->npages - 1) << SCVGC_PAGE_SHIFT), 1, s);
}

static size_t released_count(uintptr_t base, size_t npages) {
  size_t n = 0;
  for (size_t i = 0; i < npages; i++) {
    uintptr_t p = base + (i << SCVGC_PAGE_SHIFT);
    size_t pg = (p >> SCVGC_PAGE_SHIFT) & (SCVGC_ARENA_PAGES - 1);
    n += (arena_of(p)->released[pg / 64] >> (pg % 64)) & 1;
  }
  return n;
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
    if (val) *w |= bit; else *w &= ~bit;
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

/* Insert free span s, coalescing with free neighbours (H3). s->unused_since is set. */
static void insert_free(scvgc_span_t *s) {
  s->state = SCVGC_SPAN_FREE;
  scvgc_span_t *l = scvgc_spanof(s->base - 1);
  if (s->base && l && l->state == SCVGC_SPAN_FREE &&
      l->base + (l->npages << SCVGC_PAGE_SHIFT) == s->base) {
    fl_remove(l);
    s->base = l->base;
    s->npages += l->npages;
    if (l->unused_since > s->unused_since) s->unused_since = l->unused_since;
    scvgc_spanstruct_free(l);
  }
  uintptr_t end = s->base + (s->npages << SCVGC_PAGE_SHIFT);
  scvgc_span_t *r = scvgc_spanof(end);
  if (r && r->state == SCVGC_SPAN_FREE && r->base == end) {
    fl_remove(r);
    s->npages += r->npages;
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
  heap.sys += bytes;
  heap.released_pages += bytes >> SCVGC_PAGE_SHIFT;
  s->base = (uintptr_t)mem;
  s->npages = bytes >> SCVGC_PAGE_SHIFT;
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
  s->npages = np;
  map_ends(t);
  fl_insert(t); /* its neighbours are s (being allocated) and what followed s: not free */
  return true;
}

/* Turn free span s (already trimmed, off the lists) into an in-use span of state st. */
static void take(scvgc_span_t *s, uint8_t st, uint32_t cls, void *meta) {
  size_t rel = released_swap(s->base, s->npages, false);
  heap.released_pages -= rel;
  s->needzero = rel != s->npages;
  s->next = s->prev = NULL;
  s->cls = (uint8_t)cls;
  s->meta = meta;
  s->owner = NULL;
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
  s->state = st;
  /* identity before the map: a lock-free reader that finds s through the map sees it whole */
  __atomic_thread_fence(__ATOMIC_RELEASE);
  map_set(s->base, s->npages, s);
  heap.inuse_pages += s->npages;
  atomic_store_explicit(&scvgc_heap_inuse, heap.inuse_pages << SCVGC_PAGE_SHIFT, memory_order_relaxed);
  if (st == SCVGC_SPAN_LARGE) {
    heap.large_nalloc++;
    heap.large_bytes += s->npages << SCVGC_PAGE_SHIFT;
  }
}

static scvgc_span_t *alloc_locked(size_t np, size_t align_pages) {
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
      s->base = a;
      s->npages -= h->npages;
      map_ends(h);
      fl_insert(h);
    }
  }
  if (!split_tail(s, np)) { insert_free(s); return NULL; }
  return s;
}

scvgc_span_t *scvgc_heap_alloc(size_t np, size_t align, uint8_t st, uint32_t cls, void *meta) {
  size_t ap = align > SCVGC_PAGE_SIZE ? align >> SCVGC_PAGE_SHIFT : 1;
  if (np == 0 || np > (SCVGC_MAX_REQUEST >> SCVGC_PAGE_SHIFT)) return NULL;
  scvgc_lock(&heap.lock);
  scvgc_span_t *s = alloc_locked(np, ap);
  if (s) take(s, st, cls, meta);
  scvgc_unlock(&heap.lock);
  return s;
}

static void free_locked(scvgc_span_t *s, uint64_t now) {
  SCVGC_ASSERT(s->state >= SCVGC_SPAN_SMALL);
  heap.inuse_pages -= s->npages;
  atomic_store_explicit(&scvgc_heap_inuse, heap.inuse_pages << SCVGC_PAGE_SHIFT, memory_order_relaxed);
  if (s->state == SCVGC_SPAN_LARGE) {
    heap.large_nfree++;
    heap.large_bytes -= s->npages << SCVGC_PAGE_SHIFT;
  }
  s->cls = 0;
  s->owner = NULL;
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

void scvgc_heap_foreach_span(void (*fn)(scvgc_span_t *, void *), void *arg) {
  for (scvgc_arena_t *a = heap.arenas; a; a = a->next) {
    for (size_t pg = 0; pg < SCVGC_ARENA_PAGES;) {
      scvgc_span_t *s = a->spans[pg];
      uintptr_t addr = a->base + (pg << SCVGC_PAGE_SHIFT);
      if (!s) { pg++; continue; } /* cannot happen (H1); kept for robustness */
      if (s->base == addr && s->state >= SCVGC_SPAN_SMALL) fn(s, arg);
      /* from the first page of any span (H2), skip to its end, which may lie in a later
       * arena: then this arena is done */
      uintptr_t end = s->base + (s->npages << SCVGC_PAGE_SHIFT);
      if (s->base != addr || end <= addr) { pg++; continue; }
      pg = end >= a->base + SCVGC_ARENA_SIZE ? SCVGC_ARENA_PAGES : (end - a->base) >> SCVGC_PAGE_SHIFT;
    }
  }
}

void scvgc_heap_free(scvgc_span_t *s) {
  uint64_t now = scvgc_nanotime();
  scvgc_lock(&heap.lock);
  free_locked(s, now);
  scvgc_unlock(&heap.lock);
}

bool scvgc_heap_free_large(scvgc_span_t *s, void **meta) {
  uint64_t now = scvgc_nanotime();
  scvgc_lock(&heap.lock);
  bool ok = s->state == SCVGC_SPAN_LARGE;
  if (ok) {
    *meta = s->meta;
    free_locked(s, now);
  }
  scvgc_unlock(&heap.lock);
  return ok;
}

/* The sweeper's end of large span s, which it claimed in generation sg (sweepgen sg - 1):
 * if s is still that span and its object was not marked, free it and hand back its
 * metadata block, allocation stack and requested size; otherwise mark it swept. Under the
 * heap lock, so a free() of the same object cannot interleave. */
bool scvgc_heap_sweep_large(scvgc_span_t *s, uint32_t sg, void **meta, uint32_t *stack,
                            size_t *bytes) {
  bool freed = false;
  uint64_t now = scvgc_nanotime();
  scvgc_lock(&heap.lock);
  if (s->state == SCVGC_SPAN_LARGE && s->sweepgen == sg - 1) {
    uint32_t v = s->meta ? __atomic_load_n(&s->meta[0].size, __ATOMIC_RELAXED) : 0;
    if (v && !(v & SCVGC_META_MARK)) {
      *meta = s->meta;
      *stack = s->meta[0].stack;
      *bytes = s->reqsize;
      free_locked(s, now);
      freed = true;
    } else {
      __atomic_store_n(&s->sweepgen, sg, __ATOMIC_RELEASE);
    }
  }
  scvgc_unlock(&heap.lock);
  return freed;
}

/* Grow in-use span s to np pages by taking the start of the free span that follows it. */
bool scvgc_heap_grow_inplace(scvgc_span_t *s, size_t np) {
  bool ok = false;
  scvgc_lock(&heap.lock);
  uintptr_t end = s->base + (s->npages << SCVGC_PAGE_SHIFT);
  scvgc_span_t *r = scvgc_spanof(end);
  size_t need = np - s->npages;
  if (np > s->npages && r && r->state == SCVGC_SPAN_FREE && r->base == end && r->npages >= need) {
    fl_remove(r);
    if (r->npages > need) {
      r->base += need << SCVGC_PAGE_SHIFT;
      r->npages -= need;
      map_ends(r);
      fl_insert(r);
    } else {
      scvgc_spanstruct_free(r);
    }
    size_t rel = released_swap(end, need, false);
    heap.released_pages -= rel;
    if (rel != need) s->needzero = 1;
    map_set(end, need, s);
    s->npages = np;
    s->limit = s->base + (np << SCVGC_PAGE_SHIFT);
    heap.inuse_pages += need;
    atomic_store_explicit(&scvgc_heap_inuse, heap.inuse_pages << SCVGC_PAGE_SHIFT, memory_order_relaxed);
    if (s->state == SCVGC_SPAN_LARGE) heap.large_bytes += need << SCVGC_PAGE_SHIFT;
    ok = true;
  }
  scvgc_unlock(&heap.lock);
  return ok;
}

/* Release every free page to the OS now (malloc_trim). Returns the bytes released. */
size_t scvgc_heap_release_all(void) {
  size_t n = 0;
  scvgc_lock(&heap.lock);
  for (size_t i = 0; i <= NSMALL; i++) {
    for (scvgc_span_t *s = i < NSMALL ? heap.free[i] : heap.large; s; s = s->next) {
      size_t rel = released_swap(s->base, s->npages, true);
      if (rel == s->npages) continue;
      scvgc_sys_release((void *)s->base, s->npages << SCVGC_PAGE_SHIFT);
      n += s->npages - rel;
    }
  }
  heap.released_pages += n;
  scvgc_unlock(&heap.lock);
  return n << SCVGC_PAGE_SHIFT;
}

void scvgc_heap_stats(scvgc_heapstat_t *hs) {
  scvgc_lock(&heap.lock);
  scvgc_heap_stats_locked(hs);
  scvgc_unlock(&heap.lock);
}

void scvgc_heap_stats_locked(scvgc_heapstat_t *hs) {
  hs->sys = heap.sys;
  hs->inuse_pages = heap.inuse_pages;
  hs->released_pages = heap.released_pages;
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

/* The checker of H2..H6 (H1 follows from H6 and the map walk). Takes the heap lock. */
void scvgc_heap_check(void) {
  scvgc_lock(&heap.lock);
  size_t pages = 0, spans = 0, released = 0;
  for (size_t i = 0; i <= NSMALL; i++) {
    if (i < NSMALL)
      SCVGC_CHECK(!!heap.free[i] == !!(heap.nonempty[i / 64] & (1ull << (i % 64))));
    for (scvgc_span_t *s = i < NSMALL ? heap.free[i] : heap.large; s; s = s->next) {
      SCVGC_CHECK(s->state == SCVGC_SPAN_FREE);
      SCVGC_CHECK(i < NSMALL ? s->npages == i : s->npages >= NSMALL);
      SCVGC_CHECK(s->next == NULL || s->next->prev == s);
      SCVGC_CHECK(scvgc_spanof(s->base) == s);
      SCVGC_CHECK(scvgc_spanof(s->base + ((s->npages - 1) << SCVGC_PAGE_SHIFT)) == s);
      scvgc_span_t *l = scvgc_spanof(s->base - 1);
      SCVGC_CHECK(!l || l->state != SCVGC_SPAN_FREE ||
                  l->base + (l->npages << SCVGC_PAGE_SHIFT) != s->base);
      scvgc_span_t *r = scvgc_spanof(s->base + (s->npages << SCVGC_PAGE_SHIFT));
      SCVGC_CHECK(!r || r->state != SCVGC_SPAN_FREE ||
                  r->base != s->base + (s->npages << SCVGC_PAGE_SHIFT));
      released += released_count(s->base, s->npages);
      pages += s->npages;
      spans++;
    }
  }
  SCVGC_CHECK(released == heap.released_pages);
  SCVGC_CHECK(spans == heap.nfree_spans);
  SCVGC_CHECK(pages == heap.free_pages);
  SCVGC_CHECK(pages + heap.inuse_pages == heap.sys >> SCVGC_PAGE_SHIFT);
  scvgc_unlock(&heap.lock);
}

void scvgc_heap_lock_all(void) { scvgc_lock(&heap.lock); }
void scvgc_heap_unlock_all(void) { scvgc_unlock(&heap.lock); }
void scvgc_heap_reset_locks(void) { scvgc_lock_reset(&heap.lock); }
