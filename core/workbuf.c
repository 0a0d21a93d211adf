/* workbuf.c — the mark stack: 2 KiB workbufs carved from 32 KiB manually-managed heap spans
 * (Go's mgcwork.go after commit 9cc883a, seed 002).
 *
 * Owns: the global lists of full and empty workbufs and the list of workbuf spans.
 * A marker keeps one workbuf of its own to push and pop grey objects without any shared
 * write; it exchanges whole workbufs with the global lists, so markers share work at
 * workbuf granularity and nothing is ever dropped: when a marker has more grey objects
 * than fit, it publishes a full workbuf — there is no overflow and no rescan of the heap.
 *
 * Invariants:
 *   W1 every workbuf lies in a span of state MANUAL on `spans` (the busy list), and is on
 *      exactly one of: full, empty, or held by one marker.
 *   W2 at mark termination every workbuf is empty (checked), and every workbuf span moves
 *      to `retired` (scvgc_wb_retire): between cycles no workbuf is in use. A new workbuf
 *      comes from a retired span before a new one is asked of the heap; the sweeper
 *      returns the retired spans to the heap in batches (scvgc_wb_release), so the mark
 *      stack's memory follows the heap down after a large heap shrinks (seed 001).
 * Locks: wb_lock guards the lists (taken once per 254 objects, never on the per-object
 *   path); WB, the last of internal.h's lock ranks: nothing is taken under it. New spans come from the page heap through scvgc_heap_alloc_locked: the collector
 *   holds the heap lock for the whole cycle (it takes every core lock before it stops the
 *   world, so no stopped thread can hold one), on behalf of all its markers.
 * Callers: the collector thread and its marker threads, with the world stopped, or during a
 *   concurrent mark (gc.c C2; W3 below) and the leak classification after the restart (gc.c
 *   G1, heap lock held by the collector) with the world running.
 */
#include <string.h>

#include "internal.h"
#include "lock.h"
#include "mark.h"

#define WB_SPAN_BYTES (32u << 10)

static scvgc_lock_t wb_lock = SCVGC_LOCK_RANKED(SCVGC_RANK_WB);
static scvgc_workbuf_t *wb_full, *wb_empty;
static size_t wb_nfull;
static scvgc_span_t *wb_spans; /* W1: every workbuf span in use, linked through next */
static size_t wb_nspans;
static scvgc_span_t *wb_retired; /* W2: spans of no workbuf, to reuse or free */
static size_t wb_nretired;

/* W3 While a concurrent cycle marks with the world running (gc.c C2), the collector holds
 *    no heap lock: a marker that needs a new span drops wb_lock and takes it with
 *    scvgc_heap_alloc (the heap lock), then takes wb_lock again: the one order of
 *    internal.h (HEAP before WB) holds in every phase. A fork in
 *    the middle of C2 leaves the child the parent's grey objects: scvgc_wb_fork_child
 *    empties them. */
static _Atomic int heap_unlocked;

void scvgc_wb_heap_unlocked(bool on) { atomic_store(&heap_unlocked, on); }

/* Carve span s into workbufs (wb_lock held): all but the first go on the empty list. */
static scvgc_workbuf_t *carve(scvgc_span_t *s) {
  s->next = wb_spans;
  wb_spans = s;
  wb_nspans++;
  scvgc_workbuf_t *first = (scvgc_workbuf_t *)s->base;
  for (uintptr_t off = sizeof(scvgc_workbuf_t); off + sizeof(scvgc_workbuf_t) <= WB_SPAN_BYTES;
       off += sizeof(scvgc_workbuf_t)) {
    scvgc_workbuf_t *b = (scvgc_workbuf_t *)(s->base + off);
    b->nobj = 0;
    b->next = wb_empty;
    wb_empty = b;
  }
  first->nobj = 0;
  return first;
}

/* An empty workbuf, or NULL when the heap cannot give a new span (out of memory). A new
 * span comes from a retired one, or from the page heap: under wb_lock where the collector
 * holds the heap lock (internal.h's order: HEAP before WB), and with wb_lock dropped for the
 * call while a concurrent mark runs with the heap unlocked (W3: no lock is taken under WB). */
scvgc_workbuf_t *scvgc_wb_getempty(void) {
  scvgc_lock(&wb_lock);
  scvgc_workbuf_t *b = wb_empty;
  if (b) {
    wb_empty = b->next;
  } else if (wb_retired) {
    scvgc_span_t *s = wb_retired;
    wb_retired = s->next;
    wb_nretired--;
    b = carve(s);
  } else if (atomic_load(&heap_unlocked)) {
    scvgc_unlock(&wb_lock);
    scvgc_span_t *s = scvgc_heap_alloc(WB_SPAN_BYTES >> SCVGC_PAGE_SHIFT, 0, SCVGC_SPAN_MANUAL, 0, NULL);
    scvgc_lock(&wb_lock);
    if (s) b = carve(s);
  } else {
    scvgc_span_t *s = scvgc_heap_alloc_locked(WB_SPAN_BYTES >> SCVGC_PAGE_SHIFT, SCVGC_SPAN_MANUAL);
    if (s) b = carve(s);
  }
  scvgc_unlock(&wb_lock);
  if (b) b->nobj = 0;
  return b;
}

void scvgc_wb_putempty(scvgc_workbuf_t *b) {
  scvgc_lock(&wb_lock);
  b->next = wb_empty;
  wb_empty = b;
  scvgc_unlock(&wb_lock);
}

void scvgc_wb_putfull(scvgc_workbuf_t *b) {
  scvgc_lock(&wb_lock);
  b->next = wb_full;
  wb_full = b;
  wb_nfull++;
  scvgc_unlock(&wb_lock);
}

/* A workbuf with grey objects, or NULL when there is none right now. */
scvgc_workbuf_t *scvgc_wb_trygetfull(void) {
  if (!__atomic_load_n(&wb_full, __ATOMIC_RELAXED)) return NULL;
  scvgc_lock(&wb_lock);
  scvgc_workbuf_t *b = wb_full;
  if (b) {
    wb_full = b->next;
    wb_nfull--;
  }
  scvgc_unlock(&wb_lock);
  return b;
}

bool scvgc_wb_have_full(void) { return __atomic_load_n(&wb_full, __ATOMIC_RELAXED) != NULL; }

/* Mark termination: W2. */
void scvgc_wb_check_empty(void) {
  scvgc_lock(&wb_lock);
  SCVGC_CHECK(wb_full == NULL && wb_nfull == 0);
  scvgc_unlock(&wb_lock);
}

/* Mark termination (world stopped): every workbuf is empty (W2), so every span retires. */
void scvgc_wb_retire(void) {
  scvgc_lock(&wb_lock);
  while (wb_spans) {
    scvgc_span_t *s = wb_spans;
    wb_spans = s->next;
    s->next = wb_retired;
    wb_retired = s;
    wb_nretired++;
  }
  wb_nspans = 0;
  wb_empty = NULL;
  scvgc_unlock(&wb_lock);
}

/* The sweeper: return up to n retired spans to the heap. Returns how many. Not during a
 * cycle: the collector holds the heap lock then, and this waits for it. */
size_t scvgc_wb_release(size_t n) {
  scvgc_span_t *batch = NULL;
  size_t k = 0;
  scvgc_lock(&wb_lock);
  while (k < n && wb_retired) {
    scvgc_span_t *s = wb_retired;
    wb_retired = s->next;
    wb_nretired--;
    s->next = batch;
    batch = s;
    k++;
  }
  scvgc_unlock(&wb_lock);
  while (batch) {
    scvgc_span_t *s = batch;
    batch = s->next;
    s->next = NULL;
    scvgc_heap_free(s);
  }
  return k;
}

size_t scvgc_wb_spans(void) { return wb_nspans; }
/* Bytes of the mark stack's spans, in use or retired: the GC metadata in the heap. */
size_t scvgc_wb_bytes(void) {
  return (__atomic_load_n(&wb_nspans, __ATOMIC_RELAXED) + __atomic_load_n(&wb_nretired, __ATOMIC_RELAXED)) *
         WB_SPAN_BYTES;
}

void scvgc_wb_fork_child(bool midmark) {
  scvgc_lock_reset(&wb_lock);
  if (!midmark) return;
  /* A fork during a concurrent mark (gc.c C2): the grey objects and the workbufs the markers
   * held are the parent's; in the child every workbuf of the busy spans is empty again (W2
   * for its next cycle). */
  wb_full = wb_empty = NULL;
  wb_nfull = 0;
  for (scvgc_span_t *s = wb_spans; s; s = s->next)
    for (uintptr_t off = 0; off + sizeof(scvgc_workbuf_t) <= WB_SPAN_BYTES; off += sizeof(scvgc_workbuf_t)) {
      scvgc_workbuf_t *b = (scvgc_workbuf_t *)(s->base + off);
      b->nobj = 0;
      b->next = wb_empty;
      wb_empty = b;
    }
}
