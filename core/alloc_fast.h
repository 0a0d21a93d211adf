/* alloc_fast.h — the malloc and free fast paths, inlined into the shim and into alloc.c.
 *
 * Both touch only the calling thread's cache and the object's span: no lock, no atomic
 * read-modify-write. Everything else is an out-of-line slow path in alloc.c, whose header
 * comment tells the whole allocation path.
 */
#ifndef SCVGC_ALLOC_FAST_H
#define SCVGC_ALLOC_FAST_H

#include "gc.h"
#include "internal.h"
#include "own.h"
#include "sweep.h"

void *scvgc_malloc_slow(scvgc_tcache_t *tc, uint32_t cls, size_t n) SCVGC_HIDDEN
    __attribute__((noinline));
void *scvgc_malloc_large(size_t n, size_t align) SCVGC_HIDDEN;
void scvgc_free_slow(scvgc_span_t *s, uintptr_t p) SCVGC_HIDDEN __attribute__((noinline));
void scvgc_track(void *p, size_t n) SCVGC_HIDDEN;
void scvgc_free_event(scvgc_tcache_t *tc, scvgc_span_t *s) SCVGC_HIDDEN __attribute__((noinline));

/* How deep the calling thread is in code that may take a core lock (the slow paths, the
 * shim's housekeeping calls, the fork handlers); 0 on the fast paths, which take none. Read
 * by the fork prepare handler of a fork() from a signal handler (alloc.c, "fork"): a lock
 * this thread may hold must not be waited for. The signal fences keep the count around the
 * locked code as a handler interrupting this thread sees it. */
extern __thread uint32_t scvgc_in_alloc SCVGC_HIDDEN __attribute__((tls_model("initial-exec")));
static inline void scvgc_alloc_enter(void) {
  scvgc_in_alloc++;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
}
static inline void scvgc_alloc_leave(void) {
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  scvgc_in_alloc--;
}

/* The sampling countdown of the calling thread (alloc.c sampled_stack): bytes it allocates
 * before its next sampled allocation; 0 when not drawn yet. */
extern __thread uint64_t scvgc_sample_left SCVGC_HIDDEN __attribute__((tls_model("initial-exec")));

/* scvgc_track's common case in the lean layout, inline: an object p of the cache's current
 * span (T1 in tcache.c: b->free holds only b->span's objects, so no map lookup), not sampled,
 * allocated by the program, in a cache flushed in this generation, with no cycle running
 * and the span swept and cached (internal.h L4: no mark bit to set). Clears the key; false
 * (nothing done) when any of that does not hold: scvgc_track then does it all. No lock, no
 * atomic read-modify-write, as the fast path it is part of. */
static inline __attribute__((always_inline)) bool scvgc_track_lean_fast(scvgc_tcache_t *tc, scvgc_bin_t *b, void **p, size_t n) {
  if (!scvgc_lean) return false; /* leak mode, SCVGC_SAMPLE=0: one load, then scvgc_track */
  /* sg is read after p left b->free, never before (the compiler may hoist an acquire load
   * above plain ones): a cycle between the two would leave p, free and unmarked through it,
   * allocated without its bit in a span its owner has yet to sweep for that cycle. A cycle
   * after the read finds p in this thread's registers (L2). */
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  scvgc_span_t *s = b->span;
  uint64_t left = scvgc_sample_left;
  uint32_t sg = scvgc_sweepgen_now();
  if (!scvgc_span_lean(s) || n >= left || tc->flushgen != sg || (scvgc_in_lib | scvgc_disabled) ||
      atomic_load_explicit(&scvgc_gc_black, memory_order_relaxed) ||
      __atomic_load_n(&s->sweepgen, __ATOMIC_ACQUIRE) != sg + 3)
    return false;
  scvgc_sample_left = left - n;
  __atomic_store_n(&p[1], NULL, __ATOMIC_RELEASE);
  return true;
}

static inline __attribute__((always_inline)) void *scvgc_malloc_class(uint32_t cls, size_t n) {
  scvgc_tcache_t *tc = &scvgc_tc;
  scvgc_bin_t *b = &tc->bins[cls];
  void **p = b->free;
  if (unlikely(!p)) return scvgc_malloc_slow(tc, cls, n);
  b->free = scvgc_link_next(p, b->nbase, b->len16); /* L2 */
  /* clear the list link (a stale pointer to the next free object would keep whatever is
   * allocated there alive for the conservative marker) and the double-free key — which
   * scvgc_track clears itself, after the mark bit (internal.h L1) */
  p[0] = NULL;
  scvgc_stat_inc(&b->nalloc);
  if (unlikely(scvgc_tracking)) {
    if (!scvgc_track_lean_fast(tc, b, p, n)) scvgc_track(p, n);
  } else {
    p[1] = NULL;
  }
  return p;
}

static inline __attribute__((always_inline)) void *scvgc_malloc_inline(size_t n) {
  if (likely(n <= SCVGC_MAX_SMALL)) return scvgc_malloc_class(scvgc_size_class(n), n);
  return scvgc_malloc_large(n, 0);
}

/* Is the object at p (start of slot i of small span s) allocated? The full layout's
 * metadata knows exactly; in mode off and the lean layout the key is the evidence. For a span the calling thread owns
 * (relmask is 0 then: central.c R2); otherwise scvgc_small_is_free_any. */
static inline bool scvgc_small_is_free(scvgc_span_t *s, uint32_t i, void **o) {
  if (s->meta && !scvgc_span_lean(s)) return s->meta[i].size == 0;
  /* slots are carved from the span's start in address order: past ncarved, never used */
  return i >= s->ncarved || o[1] == (void *)(scvgc_free_key ^ (uintptr_t)o);
}

/* The same for a span the caller may not own: a parked slot of a central span (central.c
 * R1) is free though its page reads zero, double-free key included. relmask is read before
 * the object, so a released page is not faulted in. */
static inline bool scvgc_small_is_free_any(scvgc_span_t *s, uint32_t i, void **o) {
  if (s->meta && !scvgc_span_lean(s)) return s->meta[i].size == 0;
  uint64_t rm = __atomic_load_n(&s->relmask, __ATOMIC_RELAXED);
  if (unlikely(rm) && (scvgc_slot_ospages(s, i) & rm)) return true;
  return i >= SCVGC_RACY_LOAD(s->ncarved) || o[1] == (void *)(scvgc_free_key ^ (uintptr_t)o);
}

/* Free p: false when p is not this heap's (NULL included), for the caller to hand on. */
static inline bool scvgc_free_inline(void *ptr) {
  uintptr_t p = (uintptr_t)ptr;
  scvgc_span_t *s = scvgc_spanof(p);
  if (unlikely(!s)) return false;
  scvgc_tcache_t *tc = &scvgc_tc;
  uint32_t i = scvgc_slot_index(s, p);
  void **o = ptr;
  if (likely(SCVGC_RACY_LOAD(s->owner) == tc && p - s->base < s->limit - s->base &&
             s->base + (uintptr_t)i * s->elemsize == p && !scvgc_small_is_free(s, i, o))) {
    if (unlikely(s->meta != NULL)) {
      if (scvgc_class_lean(s->elemsize)) scvgc_special_drop(s, p); /* special.c P1 */
      else s->meta[i].size = 0;
    }
    scvgc_link_set(o, s->freelist);
    o[1] = (void *)(scvgc_free_key ^ p);
    s->freelist = o;
    scvgc_stat_inc(&tc->nfree);
    if (unlikely(++s->nfreelist == s->ncarved || s->where == SCVGC_W_FULL))
      scvgc_free_event(tc, s);
    return true;
  }
  scvgc_free_slow(s, p);
  return true;
}

#endif
