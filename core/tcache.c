/* tcache.c — per-thread caches (Go's mcache): the spans a thread owns, refill, thread exit.
 *
 * Owns: scvgc_tc, the calling thread's cache, in static TLS (initial-exec: no allocation,
 *   no lock, one %fs-relative access); the registry of live caches; the thread-exit key.
 * A cache owns every span it took (like mimalloc's thread-owned pages), so the thread's
 * own frees never need an atomic instruction, whichever of its spans they hit. Per class:
 *   - the current span (bins[c].span): malloc pops bins[c].free, which holds only objects
 *     of the current span (T1);
 *   - partial: a queue of owned spans with objects on their freelist, or spent just now (a
 *     spent current span goes to its back unmarked: under random lifetimes frees come back
 *     to it before its turn; one still empty at its turn is marked full);
 *   - full: owned spans with no free object as last seen (their xfree word has UNLINKED,
 *     so the first remote free queues the span on xspans, central.c C2).
 * Invariants:
 *   T1 bins[c].free holds objects of bins[c].span only; every owned span is exactly one of
 *      current, on partial, on full (s->where says which), and s->owner == this cache.
 *   T2 only the owning thread reads or writes its bins and its spans' owner-only fields
 *      (stats readers excepted: they read counters racily, which is fine for statistics;
 *      the owner counts with scvgc_stat_inc, so those reads are relaxed atomics).
 *   T3 a span leaves its cache (to central or the heap) only after clearing XF_UNLINKED
 *      (no new queuer) and seeing XF_QUEUED clear (none in flight): C5. The owner waits for
 *      an in-flight queuer however long it takes; a span leaves its cache only off every
 *      list of the cache (where == NONE), and nothing puts it back on one after that.
 *   T4 a DEAD cache (its thread ran the exit flush) owns nothing, and never will: late
 *      allocations of that thread borrow a span from central and give it straight back.
 *   T5 collect mode: a cache whose flushgen differs from the heap's sweepgen owns spans
 *      cached before the last cycle; its thread flushes it (scvgc_tcache_flush_stale) at
 *      its next allocation (alloc.c checks in scvgc_track), so no span stays stale longer
 *      than its owner stays idle. Spans move between caches and central only with their
 *      sweepgen moved too (sweep.h: central.c calls scvgc_sweep_cache/uncache).
 *   T6 a full span that gets a free joins the partial queue, unless the queue is over
 *      SCVGC_TC_PARTIAL_PAGES pages and more than SCVGC_TC_QUIET_EVENTS spans of the class
 *      went full -> partial since the cache last refilled in the class: a burst of frees
 *      with no allocation in between (a program giving back the memory of a peak). Then the
 *      queue is cut back to the bound from its tail (once per burst) and the span goes to
 *      central at once, where the scavenger can release the pages of its free
 *      objects (central.c R1) and another thread can take it. A cache that allocates in the
 *      class keeps its spans: in a steady state (larson) refills come between the events,
 *      and a fixed bound alone sent spans back and forth (twice the time). The owner's later
 *      frees into a span it gave away are remote frees (one CAS).
 *   T7 in a fork child, the forking thread's spans carry no QUEUED bit of a queuer that
 *      did not come along (scvgc_tcache_fork_child clears them after a drain).
 * Who may unlink a span from the owner's lists: the owner only, and a span on its xspans
 * queue stays where it is until the owner drains it — so an owner that takes a span off a
 * list must set where before anything that drains (release_owned, drain_xspans).
 * scvgc_tcache_check() checks T1 and T4; the debug build runs it at every refill, free
 * event and flush (TC_CHECK).
 * Locks: registry_lock (REGISTRY in internal.h's lock ranks: above GC and the stack
 *   depot's, below central) for the registry and the totals of dead caches; the once lock
 *   (TC_ONCE) around the exit key. Refill and release take central and heap locks through
 *   central.c, with no lock of this file held.
 * Callers: the owning thread only (malloc/free slow paths, the thread-exit destructor,
 *   which also tells roots.c that the thread's stack block is going dead); the fork child
 *   handler.
 */
#include <pthread.h>
#include <sched.h>

#include "internal.h"
#include "lock.h"
#include "mark.h"
#include "sweep.h"

__thread scvgc_tcache_t scvgc_tc __attribute__((tls_model("initial-exec")));

#if SCVGC_DEBUG
#define TC_CHECK(tc) scvgc_tcache_check(tc)
#else
#define TC_CHECK(tc) ((void)0)
#endif

static scvgc_lock_t registry_lock = SCVGC_LOCK_RANKED(SCVGC_RANK_REGISTRY);
static scvgc_tcache_t *registry;
static pthread_key_t exit_key;
static _Atomic int exit_key_ready;

/* The thread-exit key. pthread_key_create neither allocates nor takes a lock malloc could
 * hold, so the first cache creates it; being created that early, its index is below 32
 * and pthread_setspecific uses glibc's static slots (no allocation) too. */
void scvgc_tcache_setup_key(void) {
  static scvgc_lock_t once = SCVGC_LOCK_RANKED(SCVGC_RANK_TC_ONCE);
  if (atomic_load_explicit(&exit_key_ready, memory_order_acquire)) return;
  scvgc_lock(&once);
  if (!atomic_load_explicit(&exit_key_ready, memory_order_relaxed) &&
      pthread_key_create(&exit_key, (void (*)(void *))scvgc_tcache_thread_exit) == 0)
    atomic_store_explicit(&exit_key_ready, 1, memory_order_release);
  scvgc_unlock(&once);
}

static void tcache_init(scvgc_tcache_t *tc) {
  scvgc_init();
  scvgc_tcache_setup_key();
  tc->state = SCVGC_TC_ACTIVE;
  tc->flushgen = scvgc_sweepgen_now(); /* owns nothing yet: nothing stale */
  scvgc_lock(&registry_lock);
  tc->rprev = NULL;
  tc->rnext = registry;
  if (registry) registry->rprev = tc;
  registry = tc;
  scvgc_unlock(&registry_lock);
  if (atomic_load_explicit(&exit_key_ready, memory_order_acquire))
    pthread_setspecific(exit_key, tc); /* key < 32: glibc's static slots, no allocation */
}

/* The checker of T1 (and T4): every span the cache owns is on exactly one of its lists, the
 * lists are well formed (partial: a queue whose head's prev is its tail; full: NULL-ended
 * both ways), each span says where it is and names this cache as its owner, and the bin's
 * bounds (L2) are the current span's. Owner only. In the debug build it runs
 * at the operation boundaries of this file (TC_CHECK); tests call it directly. */
void scvgc_tcache_check(const scvgc_tcache_t *tc) {
  if (tc->state == SCVGC_TC_DEAD) {
    for (uint32_t c = 1; c < SCVGC_NCLASSES; c++)
      SCVGC_CHECK(!tc->bins[c].span && !tc->bins[c].partial && !tc->bins[c].full);
    return;
  }
  for (uint32_t c = 1; c < SCVGC_NCLASSES; c++) {
    const scvgc_bin_t *b = &tc->bins[c];
    const scvgc_span_t *s = b->span;
    if (s) {
      SCVGC_CHECK(s->owner == tc && s->where == SCVGC_W_CURRENT && s->cls == c);
      SCVGC_CHECK(s->state == SCVGC_SPAN_SMALL);
      SCVGC_CHECK(b->nbase == -s->base && b->len16 == (s->limit - s->base) >> 4);
      /* b->free is not walked: its links are checked at each pop (L2), and a walk here would
       * leave copies of the next objects to hand out in dead stack, where the conservative
       * marker finds them (a leak hidden in the debug build) */
    } else {
      SCVGC_CHECK(!b->free);
    }
    uint64_t pages = 0;
    size_t n = 0;
    const scvgc_span_t *last = NULL;
    for (s = b->partial; s; last = s, s = s->next, n++) {
      SCVGC_CHECK(n < ((size_t)1 << 24)); /* no cycle */
      SCVGC_CHECK(s->owner == tc && s->where == SCVGC_W_PARTIAL && s->cls == c);
      SCVGC_CHECK(s->state == SCVGC_SPAN_SMALL && s != b->span);
      if (last) SCVGC_CHECK(s->prev == last);
      pages += s->npages;
    }
    if (b->partial) SCVGC_CHECK(b->partial->prev == last && last->next == NULL);
    SCVGC_CHECK(pages == b->partial_pages);
    last = NULL;
    n = 0;
    for (s = b->full; s; last = s, s = s->next, n++) {
      SCVGC_CHECK(n < ((size_t)1 << 24));
      SCVGC_CHECK(s->owner == tc && s->where == SCVGC_W_FULL && s->cls == c);
      SCVGC_CHECK(s->state == SCVGC_SPAN_SMALL && s->prev == last && s != b->span);
    }
  }
}

/* ---- the owner's span lists (T1) ------------------------------------------------- */

static void list_push(scvgc_span_t **head, scvgc_span_t *s) {
  s->prev = NULL;
  s->next = *head;
  if (*head) (*head)->prev = s;
  *head = s;
}

static void list_remove(scvgc_span_t **head, scvgc_span_t *s) {
  if (s->prev) s->prev->next = s->next;
  else *head = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
}

/* The partial list is a queue: its head's prev is its tail (the tail's next is NULL), so a
 * span can go to the back as cheaply as to the front. */
static void partial_push(scvgc_bin_t *b, scvgc_span_t *s) {
  scvgc_span_t **head = &b->partial;
  b->partial_pages += (uint32_t)s->npages;
  s->next = *head;
  s->prev = *head ? (*head)->prev : s;
  if (*head) (*head)->prev = s;
  *head = s;
}

static void partial_append(scvgc_bin_t *b, scvgc_span_t *s) {
  scvgc_span_t **head = &b->partial;
  b->partial_pages += (uint32_t)s->npages;
  s->next = NULL;
  if (!*head) {
    s->prev = s;
    *head = s;
    return;
  }
  scvgc_span_t *tail = (*head)->prev;
  tail->next = s;
  s->prev = tail;
  (*head)->prev = s;
}

static void partial_remove(scvgc_bin_t *b, scvgc_span_t *s) {
  scvgc_span_t **head = &b->partial;
  b->partial_pages -= (uint32_t)s->npages;
  if (*head == s) {
    *head = s->next;
    if (*head) (*head)->prev = s->prev == s ? *head : s->prev;
  } else {
    s->prev->next = s->next;
    if (s->next) s->next->prev = s->prev;
    else (*head)->prev = s->prev; /* s was the tail */
  }
  s->next = s->prev = NULL;
}

static void to_partial(scvgc_bin_t *b, scvgc_span_t *s) {
  if (s->where == SCVGC_W_FULL) list_remove(&b->full, s);
  if (s->where != SCVGC_W_PARTIAL) partial_push(b, s);
  s->where = SCVGC_W_PARTIAL;
}

/* Take the spans other threads queued (C2): they have objects on their xfree now. */
static void drain_xspans(scvgc_tcache_t *tc) {
  scvgc_span_t *l = atomic_exchange_explicit(&tc->xspans, NULL, memory_order_acquire);
  while (l) {
    scvgc_span_t *s = l;
    l = s->xnext; /* read before QUEUED is cleared: then s may be queued again */
    atomic_fetch_and_explicit(&s->xfree, ~SCVGC_XF_QUEUED, memory_order_release);
    if (s->where == SCVGC_W_FULL) to_partial(&tc->bins[s->cls], s);
  }
}

/* Let owned span s go to central (which returns it to the heap if it is wholly free),
 * with list (n objects) not handed out. s is on no list of the cache (T1: the caller took
 * it off, and where says NONE from here on, so a drain below cannot put it back).
 * T3: first no new queuer (they need UNLINKED), then none in flight (QUEUED clear): only then
 * may the owner let go, since a queuer reads s->owner after its CAS and pushes onto that
 * cache. The wait has no bound: a queuer is between two instructions of the remote-free path
 * and always finishes (mimalloc's abandonment waits the same way); giving up instead left the
 * span owned by a cache whose thread was gone, and the late push wrote into the freed TLS of
 * that thread (or into the cache of the next thread that got the same TLS block). The fork
 * child clears QUEUED on its own spans, whose queuers did not come along (T7). */
static void release_owned(scvgc_tcache_t *tc, scvgc_span_t *s, void *list, uint32_t n) {
  SCVGC_ASSERT(s->owner == tc && s->next == NULL && s->prev == NULL);
  s->where = SCVGC_W_NONE;
  atomic_fetch_and_explicit(&s->xfree, ~SCVGC_XF_UNLINKED, memory_order_acq_rel);
  for (unsigned i = 0; atomic_load_explicit(&s->xfree, memory_order_acquire) & SCVGC_XF_QUEUED; i++) {
    drain_xspans(tc);
    if (!(atomic_load_explicit(&s->xfree, memory_order_acquire) & SCVGC_XF_QUEUED)) break;
    scvgc_backoff(i);
  }
  scvgc_central_release(s, list, n);
}

/* Owned span s became full: mark it so (C2), unless remote frees arrived meanwhile. */
static bool mark_full(scvgc_span_t *s) {
  uintptr_t x = atomic_load_explicit(&s->xfree, memory_order_relaxed);
  do {
    if (x & SCVGC_XF_PTRMASK) return false;
  } while (!atomic_compare_exchange_weak_explicit(&s->xfree, &x, x | SCVGC_XF_UNLINKED,
                                                  memory_order_release, memory_order_relaxed));
  return true;
}

/* Owned partial span s goes to central with its free objects (T3 inside release_owned). */
static void partial_to_central(scvgc_tcache_t *tc, scvgc_bin_t *b, scvgc_span_t *s) {
  partial_remove(b, s);
  void *l = s->freelist;
  uint32_t n = s->nfreelist;
  s->freelist = NULL;
  s->nfreelist = 0;
  release_owned(tc, s, l, n);
}

void scvgc_tcache_free_event(scvgc_tcache_t *tc, scvgc_span_t *s) {
  scvgc_bin_t *b = &tc->bins[s->cls];
  if (s->where == SCVGC_W_FULL) {
    /* T6: frees alone, no refill, while the queue is over its bound: a free burst. The
     * span goes to central, where the scavenger can release the pages of its free objects,
     * and the queue is cut back to the bound from its tail (once per burst). s leaves the
     * full list first: cutting the queue drains xspans (T3), and s may be queued there by a
     * remote free — a drain would then move it to partial behind our back (T1). */
    if (++b->quiet_events > SCVGC_TC_QUIET_EVENTS && b->partial &&
        b->partial_pages + s->npages > SCVGC_TC_PARTIAL_PAGES) {
      list_remove(&b->full, s);
      s->where = SCVGC_W_NONE;
      if (b->quiet_events == SCVGC_TC_QUIET_EVENTS + 1)
        while (b->partial && b->partial->prev != b->partial &&
               b->partial_pages > SCVGC_TC_PARTIAL_PAGES)
          partial_to_central(tc, b, b->partial->prev);
      void *l = s->freelist;
      uint32_t n = s->nfreelist;
      s->freelist = NULL;
      s->nfreelist = 0;
      release_owned(tc, s, l, n);
      TC_CHECK(tc);
      return;
    }
    to_partial(b, s);
  }
  if (s->nfreelist == s->ncarved && s->where == SCVGC_W_PARTIAL && (b->partial != s || s->next))
    partial_to_central(tc, b, s); /* wholly free, and another span waits on partial too */
  TC_CHECK(tc);
}

/* Late allocation of a thread whose cache is gone (T4): one object from a borrowed span. */
static void *dead_alloc(scvgc_tcache_t *tc, uint32_t cls) {
  scvgc_span_t *s = scvgc_central_take(cls, tc);
  if (!s) return NULL;
  if (!s->freelist) {
    uint32_t n = 0;
    void *l = scvgc_span_carve(s);
    if (l) for (void *q = l; q; q = scvgc_span_next(s, q)) n++;
    else l = scvgc_span_xfree_grab(s, &n);
    s->freelist = l;
    s->nfreelist = n;
  }
  void *p = s->freelist;
  if (p) {
    s->freelist = scvgc_span_next(s, p);
    s->nfreelist--;
  }
  void *l = s->freelist;
  uint32_t n = s->nfreelist;
  s->freelist = NULL;
  s->nfreelist = 0;
  s->where = SCVGC_W_NONE;
  scvgc_central_release(s, l, n); /* never marked full, so never queued (T3) */
  return p;
}

/* The slow path of malloc for class cls: bins[cls].free is empty. Returns the object to
 * hand out (already popped), or NULL when out of memory. */
void *scvgc_tcache_refill(scvgc_tcache_t *tc, uint32_t cls) {
  if (unlikely(tc->state != SCVGC_TC_ACTIVE)) {
    if (tc->state == SCVGC_TC_DEAD) return dead_alloc(tc, cls);
    tcache_init(tc);
  }
  /* checked on entry, not on the way out: the checker's frame would keep a copy of the
   * object handed out in dead stack (a conservative root in the tests) */
  TC_CHECK(tc);
  scvgc_bin_t *b = &tc->bins[cls];
  void *list;
  b->quiet_events = 0; /* T6: the cache allocates in this class */
  for (int tries = 0;; tries++) {
    scvgc_span_t *s = b->span;
    if (s) {
      uint32_t n;
      if ((list = s->freelist)) { /* the owner's own frees first: hot in cache */
        s->freelist = NULL;
        s->nfreelist = 0;
        break;
      }
      if ((list = scvgc_span_carve(s)) || (list = scvgc_span_xfree_grab(s, &n))) break;
      b->span = NULL;
      if (tries == 0 && b->partial) {
        /* Spent, but frees keep coming back to it under random lifetimes: to the back of
         * the queue, unmarked (no CAS, and no move back on its next free). A span found
         * still empty when its turn comes is marked full below. */
        s->where = SCVGC_W_PARTIAL;
        partial_append(b, s);
      } else {
        if (!mark_full(s)) { /* remote frees arrived: grab them */
          b->span = s;
          continue;
        }
        s->where = SCVGC_W_FULL;
        list_push(&b->full, s);
      }
    }
    if (atomic_load_explicit(&tc->xspans, memory_order_relaxed)) drain_xspans(tc);
    if ((s = b->partial)) {
      partial_remove(b, s);
    } else if (!(s = scvgc_central_take(cls, tc))) {
      return NULL;
    }
    s->where = SCVGC_W_CURRENT;
    b->span = s;
    b->nbase = -s->base;
    b->len16 = (s->limit - s->base) >> 4;
  }
  b->free = scvgc_span_next(b->span, list);
  return list;
}

static uint32_t list_len(const scvgc_span_t *s, void *l) {
  uint32_t n = 0;
  for (; l; l = scvgc_span_next(s, l)) n++;
  return n;
}

/* Give every owned span back to central (T1 makes this complete). The cache stays
 * usable. */
void scvgc_tcache_flush(scvgc_tcache_t *tc) {
  drain_xspans(tc);
  for (uint32_t c = 1; c < SCVGC_NCLASSES; c++) {
    scvgc_bin_t *b = &tc->bins[c];
    scvgc_span_t *s;
    if ((s = b->span)) { /* bin list + the span's own freelist */
      void *l = b->free;
      uint32_t n = list_len(s, l) + s->nfreelist;
      if (l) {
        void *t = l, *nx;
        while ((nx = scvgc_span_next(s, t))) t = nx;
        scvgc_link_set(t, s->freelist);
      } else {
        l = s->freelist;
      }
      s->freelist = NULL;
      s->nfreelist = 0;
      b->span = NULL;
      b->free = NULL;
      release_owned(tc, s, l, n);
    }
    while ((s = b->partial) || (s = b->full)) {
      if (s == b->partial) partial_remove(b, s);
      else list_remove(&b->full, s);
      void *l = s->freelist;
      uint32_t n = s->nfreelist;
      s->freelist = NULL;
      s->nfreelist = 0;
      release_owned(tc, s, l, n);
    }
  }
  TC_CHECK(tc);
}

/* T5 (collect mode): at its first allocation after a cycle, the owner sweeps its current
 * spans in place — their objects are in its hands (the bins) — and hands every other
 * span back to central, stale (cached before the sweep began: sweep.h), for the sweepers.
 * A cache keeps no span across a cycle it did not sweep itself, except when its thread
 * never allocates again: then the background sweeper sweeps those spans for it through
 * the remote-free path (sweep.c), and they stay where they are. */
void scvgc_tcache_flush_stale(scvgc_tcache_t *tc) {
  if (tc->state != SCVGC_TC_ACTIVE) return;
  tc->flushgen = scvgc_sweepgen_now();
  drain_xspans(tc);
  for (uint32_t c = 1; c < SCVGC_NCLASSES; c++) {
    scvgc_bin_t *b = &tc->bins[c];
    scvgc_span_t *s;
    if ((s = b->span)) scvgc_sweep_cached(s);
    while ((s = b->partial) || (s = b->full)) {
      if (s == b->partial) partial_remove(b, s);
      else list_remove(&b->full, s);
      void *l = s->freelist;
      uint32_t n = s->nfreelist;
      s->freelist = NULL;
      s->nfreelist = 0;
      release_owned(tc, s, l, n);
    }
  }
  TC_CHECK(tc);
}

/* Thread-exit destructor (pthread key): flush, fold the counters, leave the registry. */
void scvgc_tcache_thread_exit(void) {
  scvgc_tcache_t *tc = &scvgc_tc;
  if (tc->state != SCVGC_TC_ACTIVE) return;
  scvgc_tcache_flush(tc);
  scvgc_lock(&registry_lock);
  scvgc_stats_fold_tcache(tc);
  if (tc->rprev) tc->rprev->rnext = tc->rnext;
  else registry = tc->rnext;
  if (tc->rnext) tc->rnext->rprev = tc->rprev;
  scvgc_unlock(&registry_lock);
  tc->state = SCVGC_TC_DEAD;
  scvgc_roots_thread_exit(); /* its stack block goes to glibc's cache: dead once it is gone */
  scvgc_libthreads_thread_exit(); /* own.c L3: the last thread of the program's own? */
}

/* Visit every live cache, then call fn(NULL, arg) to end, all under the registry lock
 * (which also guards the totals of gone caches kept in stats.c). */
void scvgc_tcache_foreach(void (*fn)(const scvgc_tcache_t *, void *), void *arg) {
  scvgc_lock(&registry_lock);
  for (scvgc_tcache_t *t = registry; t; t = t->rnext) fn(t, arg);
  fn(NULL, arg);
  scvgc_unlock(&registry_lock);
}

/* The same, for a caller that holds the registry lock (the collector, world stopped). */
void scvgc_tcache_foreach_locked(void (*fn)(const scvgc_tcache_t *, void *), void *arg) {
  SCVGC_ASSERT_HELD(&registry_lock);
  for (scvgc_tcache_t *t = registry; t; t = t->rnext) fn(t, arg);
  fn(NULL, arg);
}

void scvgc_tcache_lock_registry(void) { scvgc_lock(&registry_lock); }
void scvgc_tcache_unlock_registry(void) { scvgc_unlock(&registry_lock); }

/* Fork child: only the forking thread exists. The caches of the other threads keep their
 * spans (their lists may have been mid-update at the fork, so walking them is unsafe):
 * those spans stay owned by caches nobody will use, and the objects they hold are lost
 * to this child. Their counters are folded so the statistics stay right.
 * T7: the forking thread's own spans may carry QUEUED for a remote free whose thread did
 * not come along (it was between its CAS and its push in the parent). After the drain, a
 * span still QUEUED is one whose push will never happen here: the bit is cleared, so that
 * release_owned (T3), which waits for it without a bound, does not wait forever. */
static void clear_queued(scvgc_span_t *s) {
  atomic_fetch_and_explicit(&s->xfree, ~SCVGC_XF_QUEUED, memory_order_relaxed);
}

void scvgc_tcache_fork_child(void) {
  scvgc_lock_reset(&registry_lock);
  scvgc_tcache_t *me = &scvgc_tc;
  for (scvgc_tcache_t *t = registry, *n; t; t = n) {
    n = t->rnext;
    if (t != me) scvgc_stats_fold_tcache(t);
  }
  registry = NULL;
  if (me->state == SCVGC_TC_ACTIVE) {
    me->rprev = me->rnext = NULL;
    registry = me;
    drain_xspans(me);
    for (uint32_t c = 1; c < SCVGC_NCLASSES; c++) {
      scvgc_bin_t *b = &me->bins[c];
      if (b->span) clear_queued(b->span);
      for (scvgc_span_t *s = b->partial; s; s = s->next) clear_queued(s);
      for (scvgc_span_t *s = b->full; s; s = s->next) clear_queued(s);
    }
  }
}
