/* central.c — central lists (Go's mcentral) and the protocol of a span's xfree word.
 *
 * Owns: per size class, the spans that no cache owns and that have free objects
 * (partial): spans of exited threads, until a cache takes them; the remote-free path.
 * Locks: central[c].lock guards partial, and for a span owned by no cache its freelist,
 *   bump, where and owner (asserted where a function needs it). Order: CENTRAL in
 *   internal.h's lock ranks (heap and meta under it; one central lock at a time but in
 *   the fork handler and the collector, which take them all in class order).
 * Callers: program threads (cache refill and release, frees of objects of spans their
 *   cache does not own), later the sweeper. Not on the world-stopped path.
 *
 * Where a small span's free objects are (each free object is in exactly one place):
 *   - its owner's bin free list (the owner's current span only),
 *   - s->freelist (the owner's frees, or central's list while central),
 *   - [s->bump, s->limit): never handed out,
 *   - s->xfree: pushed by threads that do not own the span, lock-free (CAS), with a count.
 *
 * The xfree word (flags in internal.h) carries the span's state, so a remote free learns
 * it from the same CAS that pushes the object:
 *   C1 CENTRAL is set exactly while owner == NULL (set by release, cleared by take; both
 *      under the central lock).
 *   C2 UNLINKED means full as last seen. Owned: the push that sees it clears it, sets
 *      QUEUED and queues the span on its owner's xspans, so the owner can use it again.
 *      Central: the push clears it, sets NOTIFY and links the span under the lock.
 *   C3 nalloc is written before CENTRAL is published; with CENTRAL set, count == nalloc
 *      means every object of the span is free: the pusher that makes it so (or the NOTIFY
 *      holder) returns the span to the heap, under the central lock.
 *   C4 NOTIFY is held by at most one thread; while it is set nobody else returns the span
 *      to the heap. Cache owners keep the bit when they empty the list.
 *   C5 QUEUED: while set, the owner neither releases the span nor lets it be reused, so
 *      the queuer may still read s->owner and push onto that cache after its CAS.
 *   C6 a span is on its owner's xspans at most once: only the push whose CAS sets QUEUED
 *      queues it; a push that finds UNLINKED with QUEUED still set (the owner marked the
 *      span full again before draining it) clears UNLINKED and queues nothing.
 *   C7 a sweeper may return a central span whose allocated objects are all dead to the heap
 *      itself, as the notifier (scvgc_central_free_dead, below).
 *
 * Pages released inside central spans (the scavenger, scvgc_central_scavenge):
 *   R1 s->relmask bit j set: OS page j of the span was madvised (the bit is set just before,
 *      under the central lock: internal.h L3) and nothing was written to
 *      it since (it reads zero, is not resident), and every slot overlapping it is free.
 *      A free slot below s->bump that overlaps a set bit is *parked*: on no list (its link
 *      would be in a released page). Slots at or above bump are the bump region as before.
 *      An allocated slot never overlaps a set bit: a page is released only when every slot
 *      overlapping it is free, under the central lock, which every allocation from a
 *      central span needs first (take). relmask changes under the central lock only.
 *   R2 an owned span has relmask == 0: central_take puts every parked slot back on
 *      s->freelist (writing its link: a zero page comes back) before the span gets an
 *      owner. So the owner's lock-free paths never meet a released page.
 *   R3 the scavenger counts the span's xfree objects as free by moving them to s->freelist
 *      (nalloc less their count, so C3 holds: allocated = nalloc - count). It holds NOTIFY
 *      meanwhile unless someone else does, so no pusher decides anything on a nalloc that is
 *      changing (C4), and ends with the notifier's own check: a span it leaves wholly free
 *      goes to the heap, where the heap pages it released whole keep their released bit.
 *   In mode off a parked slot has lost its double-free key (its page reads zero): free()
 *   and realloc() outside the owner's fast path also test relmask (alloc_fast.h).
 */
#include <string.h>

#include "internal.h"
#include "lock.h"
#include "sweep.h"

typedef struct {
  scvgc_lock_t lock;
  scvgc_span_t *partial; /* doubly linked through next/prev. The scavenger peeks at the
                            head with no lock (empty or not), so it is stored SCVGC_RACY */
  size_t npartial;
  uint64_t unlinks;      /* spans unlinked from partial so far: the scavenger's cursor is
                            still on the list while this has not moved */
} __attribute__((aligned(64))) central_t;

static central_t central[SCVGC_NCLASSES] = {
    [0 ... SCVGC_NCLASSES - 1] = {.lock = SCVGC_LOCK_RANKED(SCVGC_RANK_CENTRAL)}};

static void link_partial(central_t *c, scvgc_span_t *s) {
  SCVGC_ASSERT_HELD(&c->lock);
  SCVGC_ASSERT(!s->where);
  s->prev = NULL;
  s->next = c->partial;
  if (c->partial) c->partial->prev = s;
  SCVGC_RACY_STORE(c->partial, s);
  s->where = 1;
  c->npartial++;
}

static void unlink_partial(central_t *c, scvgc_span_t *s) {
  SCVGC_ASSERT_HELD(&c->lock);
  if (s->prev) s->prev->next = s->next;
  else SCVGC_RACY_STORE(c->partial, s->next);
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  s->where = 0;
  c->npartial--;
  c->unlinks++;
}

/* R2: put the parked slots of s back on its freelist. Central lock held. */
static void unpark(scvgc_span_t *s) {
  SCVGC_ASSERT_HELD(&central[s->cls].lock);
  if (!s->relmask) return;
  uint32_t below = (uint32_t)((s->bump - s->base) / s->elemsize);
  for (uint32_t i = 0; i < below; i++) {
    if (!(scvgc_slot_ospages(s, i) & s->relmask)) continue;
    void **o = (void **)(s->base + (uintptr_t)i * s->elemsize);
    scvgc_link_set(o, s->freelist);
    o[1] = (void *)(scvgc_free_key ^ (uintptr_t)o); /* mode off's double-free key */
    s->freelist = o;
    s->nfreelist++;
  }
  atomic_fetch_sub_explicit(&scvgc_inspan_released, (size_t)__builtin_popcountll(s->relmask),
                            memory_order_relaxed);
  /* after the keys: a lean reader that sees no bit finds the key (internal.h L3) */
  __atomic_store_n(&s->relmask, 0, __ATOMIC_RELEASE);
}

/* Return a wholly free span to the page heap. Central lock of its class held. */
static void span_to_heap(central_t *c, scvgc_span_t *s) {
  SCVGC_ASSERT_HELD(&c->lock);
  if (s->where) unlink_partial(c, s);
  atomic_store_explicit(&s->xfree, 0, memory_order_relaxed);
  void *meta = s->meta;
  size_t mbytes = meta ? scvgc_span_meta_bytes(s->cls) : 0;
  SCVGC_ASSERT(!scvgc_span_lean(s) || !s->nspecial); /* special.c P1 */
  /* pageheap.c H10: during a concurrent mark the span (and its metadata) waits for its end */
  if (!scvgc_heap_free_or_defer(s) && meta) scvgc_meta_free(meta, mbytes);
}

static scvgc_span_t *new_span(uint32_t cls) {
  const scvgc_class_t *k = &scvgc_classes[cls];
  void *meta = NULL;
  if (scvgc_tracking && !(meta = scvgc_meta_alloc(scvgc_span_meta_bytes(cls)))) return NULL;
  scvgc_span_t *s = scvgc_heap_alloc(k->npages, 0, SCVGC_SPAN_SMALL, cls, meta);
  if (!s && meta) scvgc_meta_free(meta, scvgc_span_meta_bytes(cls));
  return s;
}

/* A span of class cls for cache tc to own; its freelist, bump region and xfree list hold
 * its free objects. NULL: out of memory. */
scvgc_span_t *scvgc_central_take(uint32_t cls, scvgc_tcache_t *tc) {
  central_t *c = &central[cls];
  scvgc_lock(&c->lock);
  scvgc_span_t *s = c->partial;
  if (s) {
    unlink_partial(c, s);
    unpark(s);
    s->scavenged = 0;
    uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&s->xfree, &x,
                                                  x & ~(SCVGC_XF_CENTRAL | SCVGC_XF_UNLINKED),
                                                  memory_order_acq_rel, memory_order_relaxed))
      ;
    SCVGC_RACY_STORE(s->owner, tc);
    scvgc_unlock(&c->lock);
    scvgc_sweep_cache(s); /* swept before it is used (sweep.c), in place: tc owns it now */
    return s;
  }
  scvgc_unlock(&c->lock);
  s = new_span(cls);
  if (s) {
    SCVGC_RACY_STORE(s->owner, tc);
    scvgc_sweep_cache(s);
    scvgc_sweep_credit(s->npages);
  }
  return s;
}

/* The owner drops span s, with list (nlist objects of s) that it had not handed out.
 * The caller has made sure XF_QUEUED is clear (C5). */
void scvgc_central_release(scvgc_span_t *s, void *list, uint32_t nlist) {
  central_t *c = &central[s->cls];
  scvgc_sweep_uncache(s);
  uint32_t unbumped = (uint32_t)((s->limit - s->bump) / s->elemsize);
  uint32_t nalloc = s->nelems - nlist - unbumped;
  scvgc_lock(&c->lock);
  s->where = 0;
  s->next = s->prev = NULL;
  s->freelist = list;
  s->nfreelist = nlist;
  SCVGC_RACY_STORE(s->owner, NULL);
  SCVGC_RACY_STORE(s->nalloc, nalloc);
  s->scavenged = 0;
  /* acquire, the failed CAS too: a remote free reads the span (its base, its metadata)
   * before its push; the span may go to the heap below only after those reads (C3) */
  uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_acquire), nx;
  bool has_free;
  for (;;) {
    if (SCVGC_XF_COUNT(x) == nalloc && !(x & SCVGC_XF_NOTIFY)) {
      span_to_heap(c, s); /* C3: nothing of it is allocated, and no notifier is pending */
      scvgc_unlock(&c->lock);
      return;
    }
    has_free = list || unbumped || SCVGC_XF_COUNT(x);
    nx = (x & ~SCVGC_XF_UNLINKED) | SCVGC_XF_CENTRAL | (has_free ? 0 : SCVGC_XF_UNLINKED);
    if (atomic_compare_exchange_weak_explicit(&s->xfree, &x, nx, memory_order_acq_rel,
                                              memory_order_acquire))
      break;
  }
  if (has_free) {
    s->unused_since = scvgc_clock(); /* its free objects are unused from now (R1's clock) */
    link_partial(c, s);
  }
  scvgc_unlock(&c->lock);
}

/* The NOTIFY holder's work (C2..C4), under the central lock. */
static void notify(central_t *c, scvgc_span_t *s) {
  scvgc_lock(&c->lock);
  uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_acquire);
  for (;;) {
    if (x & SCVGC_XF_CENTRAL) {
      if (SCVGC_XF_COUNT(x) == s->nalloc) {
        span_to_heap(c, s);
        scvgc_unlock(&c->lock);
        return;
      }
      if (!s->where) {
        s->unused_since = scvgc_clock(); /* R1's clock: free objects from now */
        link_partial(c, s);
      }
    }
    if (atomic_compare_exchange_weak_explicit(&s->xfree, &x, x & ~SCVGC_XF_NOTIFY,
                                              memory_order_acq_rel, memory_order_acquire))
      break;
  }
  scvgc_unlock(&c->lock);
}

/* C7 (sweep.c S7) A central span whose every allocated object is dead goes to the heap from
 *    the sweeper directly: under the central lock, with CENTRAL set and NOTIFY clear, the CAS
 *    that sets NOTIFY makes the sweeper the one thread that may return it (C4), as a pusher
 *    whose count reached nalloc would be; the dead objects are nalloc less the xfree count
 *    (C3). The sweeper's claim (sweepgen), checked under the lock first, says the span was
 *    not freed and reused meanwhile (sweep.c S4: a span holding a dead object is never freed
 *    under its sweeper). No allocated object is live, so no legitimate free can race with it.
 *    Parked pages (relmask) keep the ordinary path, which knows them (R3). */
bool scvgc_central_free_dead(scvgc_span_t *s, uint32_t claim, uint32_t *dead) {
  central_t *c = &central[s->cls]; /* s holds a dead object: still of this class (S4) */
  scvgc_lock(&c->lock);
  uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_acquire);
  bool ok = __atomic_load_n(&s->sweepgen, __ATOMIC_ACQUIRE) == claim &&
            (x & SCVGC_XF_CENTRAL) && !(x & SCVGC_XF_NOTIFY) && !s->relmask &&
            !SCVGC_RACY_LOAD(s->nspecial) && SCVGC_XF_COUNT(x) <= s->nalloc &&
            atomic_compare_exchange_strong_explicit(&s->xfree, &x, x | SCVGC_XF_NOTIFY,
                                                    memory_order_acq_rel, memory_order_acquire);
  if (ok) {
    *dead = s->nalloc - (uint32_t)SCVGC_XF_COUNT(x);
    span_to_heap(c, s);
  }
  scvgc_unlock(&c->lock);
  return ok;
}

/* Free object p of span s from a thread that does not own s. Lock-free unless this free
 * changes the span's state (C2, C3): then once per such change. */
void scvgc_central_remote_free(scvgc_span_t *s, void *p) { scvgc_central_remote_free_list(s, p, p, 1); }

void scvgc_central_remote_free_list(scvgc_span_t *s, void *head, void *tail, uint32_t n) {
  central_t *c = &central[s->cls]; /* stable: the objects are still allocated, so s is s */
  /* acquire, the failed CAS too: with CENTRAL seen in x, the read of s->nalloc below must
   * see the value written before CENTRAL was published (C3). A plain mov on x86-64. */
  uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_acquire), nx;
  enum { NONE, NOTIFY, QUEUE } todo;
  do {
    scvgc_link_set(tail, (void *)(x & SCVGC_XF_PTRMASK));
    nx = (uintptr_t)head | (x & (SCVGC_XF_FLAGS & ~SCVGC_XF_UNLINKED)) | (((x >> 48) + n) << 48);
    todo = NONE;
    if (x & SCVGC_XF_CENTRAL) {
      if (!(x & SCVGC_XF_NOTIFY) &&
          ((x & SCVGC_XF_UNLINKED) || SCVGC_XF_COUNT(nx) == SCVGC_RACY_LOAD(s->nalloc))) {
        nx |= SCVGC_XF_NOTIFY;
        todo = NOTIFY;
      }
    } else if ((x & SCVGC_XF_UNLINKED) && !(x & SCVGC_XF_QUEUED)) {
      /* C6: queued at most once. With QUEUED still set the span is on its owner's xspans
       * already (or about to be): the owner marked it full again after grabbing its xfree
       * list but before draining. A second push would link it twice into the stack (a
       * cycle: drain_xspans looped forever) — the owner's drain moves it (FULL -> partial)
       * and finds this object on xfree. */
      nx |= SCVGC_XF_QUEUED;
      todo = QUEUE;
    }
  } while (!atomic_compare_exchange_weak_explicit(&s->xfree, &x, nx, memory_order_acq_rel,
                                                  memory_order_acquire));
  if (todo == NOTIFY) {
    notify(c, s);
  } else if (todo == QUEUE) { /* C5: the owner waits for us, so owner and its cache stay */
    scvgc_tcache_t *tc = s->owner;
    scvgc_span_t *h = atomic_load_explicit(&tc->xspans, memory_order_relaxed);
    do s->xnext = h;
    while (!atomic_compare_exchange_weak_explicit(&tc->xspans, &h, s, memory_order_release,
                                                  memory_order_relaxed));
  }
}

/* The owner takes the objects other threads freed (keeping NOTIFY and QUEUED: C4, C5). */
void *scvgc_span_xfree_grab(scvgc_span_t *s, uint32_t *n) {
  uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_relaxed);
  do {
    if (!(x & SCVGC_XF_PTRMASK)) return NULL;
  } while (!atomic_compare_exchange_weak_explicit(
      &s->xfree, &x, x & (SCVGC_XF_NOTIFY | SCVGC_XF_QUEUED), memory_order_acquire,
      memory_order_relaxed));
  *n = SCVGC_XF_COUNT(x);
  return (void *)(x & SCVGC_XF_PTRMASK);
}

/* Link up to one page's worth of never-used objects of s (at least one), in address order,
 * each with the double-free key: a carved object is free like any other (the lean layout
 * tells free from allocated by the key, internal.h). Owner only. Returns the list, NULL when
 * the bump region is empty. */
void *scvgc_span_carve(scvgc_span_t *s) {
  if (s->bump >= s->limit) return NULL;
  uintptr_t n = SCVGC_PAGE_SIZE / s->elemsize;
  if (n == 0) n = 1;
  uintptr_t left = (s->limit - s->bump) / s->elemsize;
  if (n > left) n = left;
  char *first = (char *)s->bump, *p = first;
  for (uintptr_t i = 1; i < n; i++, p += s->elemsize) {
    scvgc_link_set(p, p + s->elemsize);
    ((uintptr_t *)p)[1] = scvgc_free_key ^ (uintptr_t)p;
  }
  scvgc_link_set(p, NULL);
  ((uintptr_t *)p)[1] = scvgc_free_key ^ (uintptr_t)p;
  s->bump += n * s->elemsize;
  /* after the keys: a reader that counts the slots carved finds them (scvgc_lean_allocated) */
  __atomic_store_n(&s->ncarved, s->ncarved + (uint32_t)n, __ATOMIC_RELEASE);
  return first;
}

/* ---- the scavenger's part (R1-R3) ------------------------------------------------------ */

#define SCAV_SPANS_PER_LOCK 16 /* spans scavenged per hold of a class's lock */

/* R3: the objects on s's xfree list join s->freelist. Returns whether this call holds
 * NOTIFY (then scav_done must end it). */
static bool grab_xfree(scvgc_span_t *s) {
  uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_acquire);
  bool own = false;
  for (;;) {
    if (!(x & SCVGC_XF_PTRMASK)) return false;
    own = !(x & SCVGC_XF_NOTIFY);
    uintptr_t nx = (x & SCVGC_XF_FLAGS) | SCVGC_XF_NOTIFY; /* list and count taken */
    if (atomic_compare_exchange_weak_explicit(&s->xfree, &x, nx, memory_order_acq_rel,
                                              memory_order_acquire))
      break;
  }
  uint32_t n = SCVGC_XF_COUNT(x);
  void *l = (void *)(x & SCVGC_XF_PTRMASK), *t = l, *nx;
  while ((nx = scvgc_span_next(s, t))) t = nx;
  scvgc_link_set(t, s->freelist);
  s->freelist = l;
  s->nfreelist += n;
  SCVGC_RACY_STORE(s->nalloc, s->nalloc - n); /* pushers read it racily: see nalloc */
  return own;
}

/* The notifier's end (as notify(), the lock already held): true when s went to the heap. */
static bool scav_done(central_t *c, scvgc_span_t *s) {
  uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_acquire);
  for (;;) {
    if ((x & SCVGC_XF_CENTRAL) && SCVGC_XF_COUNT(x) == s->nalloc) {
      span_to_heap(c, s);
      return true;
    }
    if (atomic_compare_exchange_weak_explicit(&s->xfree, &x, x & ~SCVGC_XF_NOTIFY,
                                              memory_order_acq_rel, memory_order_acquire))
      return false;
  }
}

/* Release the OS pages of central span s that no allocated slot overlaps. Central lock
 * held. Returns the OS pages released. */
static size_t scav_span(central_t *c, scvgc_span_t *s, bool *gone) {
  bool own = grab_xfree(s);
  uint32_t ne = s->nelems, es = s->elemsize;
  uint32_t below = (uint32_t)((s->bump - s->base) / es);
  uint64_t freeb[(SCVGC_PAGE_SIZE / SCVGC_ALIGN + 63) / 64 * 4] = {0}; /* nelems <= 512 */
  SCVGC_ASSERT(ne <= sizeof freeb * 8 && s->npages <= 32);
  for (void **o = s->freelist; o; o = scvgc_span_next(s, o)) {
    uint32_t i = scvgc_slot_index(s, (uintptr_t)o);
    SCVGC_ASSERT(!s->meta || !scvgc_allocated(s, i));
    freeb[i / 64] |= 1ull << (i % 64);
  }
  uint64_t newm = 0;
  for (uint32_t j = 0; j < s->npages * 2; j++) {
    if ((s->relmask >> j) & 1) continue;
    uintptr_t lo = (uintptr_t)j << SCVGC_OSPAGE_SHIFT, hi = lo + SCVGC_OSPAGE_SIZE - 1;
    bool ok = true;
    if (lo < (uintptr_t)ne * es) { /* the span's tail past its last slot holds nothing */
      uint32_t a = (uint32_t)(lo / es), b = (uint32_t)(hi / es);
      if (b >= ne) b = ne - 1;
      for (uint32_t i = a; i <= b && ok; i++)
        ok = i >= below || ((freeb[i / 64] >> (i % 64)) & 1) || (scvgc_slot_ospages(s, i) & s->relmask);
    }
    if (ok) newm |= 1ull << j;
  }
  size_t n = 0;
  if (newm) {
    uint64_t all = s->relmask | newm;
    /* park (R1): the free list keeps the slots clear of every released page; the links of
     * the others are read here, before their pages go */
    void *keep = NULL, *tail = NULL;
    uint32_t kept = 0;
    for (void *o = s->freelist, *nx; o; o = nx) {
      nx = scvgc_span_next(s, o);
      if (scvgc_slot_ospages(s, scvgc_slot_index(s, (uintptr_t)o)) & all) continue;
      if (tail) scvgc_link_set(tail, o);
      else keep = o;
      tail = o;
      kept++;
    }
    if (tail) scvgc_link_set(tail, NULL);
    s->freelist = keep;
    s->nfreelist = kept;
    /* the bits before the pages go: a lean sweeper that read a released page as zero reads
     * relmask after it and finds the slot parked (internal.h L3, sweep.c) */
    __atomic_store_n(&s->relmask, all, __ATOMIC_RELEASE);
    for (uint32_t j = 0; j < 64;) { /* madvise each run of new pages */
      if (!((newm >> j) & 1)) { j++; continue; }
      uint32_t k = j;
      while (k < 64 && ((newm >> k) & 1)) k++;
      scvgc_sys_release((void *)(s->base + ((uintptr_t)j << SCVGC_OSPAGE_SHIFT)),
                        (uintptr_t)(k - j) << SCVGC_OSPAGE_SHIFT);
      j = k;
    }
    n = (size_t)__builtin_popcountll(newm);
    atomic_fetch_add_explicit(&scvgc_inspan_released, n, memory_order_relaxed);
  }
  s->scavenged = 1;
  *gone = own && scav_done(c, s);
  return n;
}

size_t scvgc_central_scavenge(uint64_t cutoff) {
  size_t pages = 0;
  for (uint32_t cls = 1; cls < SCVGC_NCLASSES; cls++) {
    central_t *c = &central[cls];
    if (!__atomic_load_n(&c->partial, __ATOMIC_RELAXED)) continue;
    scvgc_lock(&c->lock);
    int done = 0, restarts = 0;
    for (scvgc_span_t *s = c->partial, *next; s; s = next) {
      next = s->next;
      bool quiet = s->scavenged &&
                   !(atomic_load_explicit(&s->xfree, memory_order_relaxed) & SCVGC_XF_PTRMASK);
      if (quiet || s->unused_since > cutoff) continue;
      bool gone; /* if s went to the heap, next is still on the list */
      pages += scav_span(c, s, &gone);
      if (++done % SCAV_SPANS_PER_LOCK || !next) continue;
      /* let the allocating threads in; if a span left the list meanwhile, next may be gone:
       * start over (the spans done are quiet now), a few times at most per pass */
      uint64_t seen = c->unlinks;
      scvgc_unlock(&c->lock);
      scvgc_lock(&c->lock);
      if (c->unlinks != seen) {
        if (++restarts > 4) break;
        next = c->partial;
      }
    }
    scvgc_unlock(&c->lock);
  }
  return pages << SCVGC_OSPAGE_SHIFT;
}

/* The checker of R1, R2 and the freelists of central spans (each object once, nfreelist
 * right, below bump). Takes each central lock in turn; for tests. */
void scvgc_central_check(void) {
  for (uint32_t cls = 1; cls < SCVGC_NCLASSES; cls++) {
    central_t *c = &central[cls];
    scvgc_lock(&c->lock);
    size_t n = 0;
    for (scvgc_span_t *s = c->partial; s; s = s->next, n++) {
      SCVGC_CHECK(!s->owner && s->where == 1 && s->cls == cls);
      SCVGC_CHECK(atomic_load(&s->xfree) & SCVGC_XF_CENTRAL);
      uint64_t seen[(SCVGC_PAGE_SIZE / SCVGC_ALIGN + 63) / 64 * 4] = {0};
      uint32_t k = 0, below = (uint32_t)((s->bump - s->base) / s->elemsize);
      for (void **o = s->freelist; o && k <= s->nelems; o = scvgc_span_next(s, o), k++) {
        uint32_t i = scvgc_slot_index(s, (uintptr_t)o);
        SCVGC_CHECK(s->base + (uintptr_t)i * s->elemsize == (uintptr_t)o && i < below);
        SCVGC_CHECK(!((seen[i / 64] >> (i % 64)) & 1)); /* once */
        seen[i / 64] |= 1ull << (i % 64);
        SCVGC_CHECK(!(scvgc_slot_ospages(s, i) & s->relmask)); /* R1: parked is off-list */
        SCVGC_CHECK(!s->meta || !scvgc_allocated(s, i));
      }
      SCVGC_CHECK(k == s->nfreelist);
    }
    SCVGC_CHECK(n == c->npartial);
    scvgc_unlock(&c->lock);
  }
}

size_t scvgc_central_partial_count(uint32_t cls) {
  scvgc_lock(&central[cls].lock);
  size_t n = central[cls].npartial;
  scvgc_unlock(&central[cls].lock);
  return n;
}

void scvgc_central_lock_all(void) {
  for (int i = 0; i < SCVGC_NCLASSES; i++) scvgc_lock(&central[i].lock);
}
void scvgc_central_unlock_all(void) {
  for (int i = SCVGC_NCLASSES - 1; i >= 0; i--) scvgc_unlock(&central[i].lock);
}
void scvgc_central_reset_locks(void) {
  for (int i = 0; i < SCVGC_NCLASSES; i++) scvgc_lock_reset(&central[i].lock);
}
