/* central.c — central lists (Go's mcentral) and the protocol of a span's xfree word.
 *
 * Owns: per size class, the spans that no cache owns and that have free objects
 * (partial): spans of exited threads, until a cache takes them; the remote-free path.
 * Locks: central[c].lock guards partial, and for a span owned by no cache its freelist,
 *   bump, where and owner. Lock order: central -> heap -> meta.
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
 */
#include <string.h>

#include "internal.h"
#include "lock.h"
#include "sweep.h"

typedef struct {
  scvgc_lock_t lock;
  scvgc_span_t *partial; /* doubly linked through next/prev */
  size_t npartial;
} __attribute__((aligned(64))) central_t;

static central_t central[SCVGC_NCLASSES];

static void link_partial(central_t *c, scvgc_span_t *s) {
  SCVGC_ASSERT(!s->where);
  s->prev = NULL;
  s->next = c->partial;
  if (c->partial) c->partial->prev = s;
  c->partial = s;
  s->where = 1;
  c->npartial++;
}

static void unlink_partial(central_t *c, scvgc_span_t *s) {
  if (s->prev) s->prev->next = s->next;
  else c->partial = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  s->where = 0;
  c->npartial--;
}

/* Return a wholly free span to the page heap. Central lock of its class held. */
static void span_to_heap(central_t *c, scvgc_span_t *s) {
  if (s->where) unlink_partial(c, s);
  atomic_store_explicit(&s->xfree, 0, memory_order_relaxed);
  if (s->meta) scvgc_meta_free(s->meta, scvgc_objmeta_bytes(s->nelems));
  scvgc_heap_free(s);
}

static scvgc_span_t *new_span(uint32_t cls) {
  const scvgc_class_t *k = &scvgc_classes[cls];
  void *meta = NULL;
  if (scvgc_tracking && !(meta = scvgc_meta_alloc(scvgc_objmeta_bytes(k->nelems)))) return NULL;
  scvgc_span_t *s = scvgc_heap_alloc(k->npages, 0, SCVGC_SPAN_SMALL, cls, meta);
  if (!s && meta) scvgc_meta_free(meta, scvgc_objmeta_bytes(k->nelems));
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
    uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&s->xfree, &x,
                                                  x & ~(SCVGC_XF_CENTRAL | SCVGC_XF_UNLINKED),
                                                  memory_order_acq_rel, memory_order_relaxed))
      ;
    s->owner = tc;
    scvgc_unlock(&c->lock);
    scvgc_sweep_cache(s); /* swept before it is used (sweep.c), in place: tc owns it now */
    return s;
  }
  scvgc_unlock(&c->lock);
  s = new_span(cls);
  if (s) {
    s->owner = tc;
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
  s->owner = NULL;
  s->nalloc = nalloc;
  uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_relaxed), nx;
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
                                              memory_order_relaxed))
      break;
  }
  if (has_free) link_partial(c, s);
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
      if (!s->where) link_partial(c, s);
    }
    if (atomic_compare_exchange_weak_explicit(&s->xfree, &x, x & ~SCVGC_XF_NOTIFY,
                                              memory_order_acq_rel, memory_order_acquire))
      break;
  }
  scvgc_unlock(&c->lock);
}

/* Free object p of span s from a thread that does not own s. Lock-free unless this free
 * changes the span's state (C2, C3): then once per such change. */
void scvgc_central_remote_free(scvgc_span_t *s, void *p) { scvgc_central_remote_free_list(s, p, p, 1); }

void scvgc_central_remote_free_list(scvgc_span_t *s, void *head, void *tail, uint32_t n) {
  central_t *c = &central[s->cls]; /* stable: the objects are still allocated, so s is s */
  uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_relaxed), nx;
  enum { NONE, NOTIFY, QUEUE } todo;
  do {
    *(void **)tail = (void *)(x & SCVGC_XF_PTRMASK);
    nx = (uintptr_t)head | (x & (SCVGC_XF_FLAGS & ~SCVGC_XF_UNLINKED)) | (((x >> 48) + n) << 48);
    todo = NONE;
    if (x & SCVGC_XF_CENTRAL) {
      if (!(x & SCVGC_XF_NOTIFY) &&
          ((x & SCVGC_XF_UNLINKED) || SCVGC_XF_COUNT(nx) == s->nalloc)) {
        nx |= SCVGC_XF_NOTIFY;
        todo = NOTIFY;
      }
    } else if (x & SCVGC_XF_UNLINKED) {
      nx |= SCVGC_XF_QUEUED;
      todo = QUEUE;
    }
  } while (!atomic_compare_exchange_weak_explicit(&s->xfree, &x, nx, memory_order_acq_rel,
                                                  memory_order_relaxed));
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

/* Link up to one page's worth of never-used objects of s (at least one), in address order.
 * Owner only. Returns the list, NULL when the bump region is empty. */
void *scvgc_span_carve(scvgc_span_t *s) {
  if (s->bump >= s->limit) return NULL;
  uintptr_t n = SCVGC_PAGE_SIZE / s->elemsize;
  if (n == 0) n = 1;
  uintptr_t left = (s->limit - s->bump) / s->elemsize;
  if (n > left) n = left;
  char *first = (char *)s->bump, *p = first;
  for (uintptr_t i = 1; i < n; i++, p += s->elemsize) *(void **)p = p + s->elemsize;
  *(void **)p = NULL;
  s->bump += n * s->elemsize;
  s->ncarved += (uint32_t)n;
  return first;
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
