/* sweep.h — sweeping by sweepgen (sweep.c): the span states, the sweepers, what they reclaimed.
 *
 * The heap's sweep generation advances by 2 at the end of every collection that may free
 * (collect mode, a complete cycle). A span's s->sweepgen against it (sg) says:
 *
 *   s->sweepgen   state                                       who may move it on
 *   sg - 2        needs sweeping (owned by no cache)          any sweeper, by CAS to sg - 1
 *   sg - 1        being swept (by exactly one sweeper)        that sweeper only
 *   sg            swept, owned by no cache                    a cache taking it (-> sg + 3)
 *   sg + 1        cached before the sweep began: needs        its owner (flush, release), or the
 *                 sweeping, by its owner                      sweeper for an idle owner (CAS)
 *   sg + 3        swept and then cached                       its owner releasing it (-> sg)
 *
 * At the end of a cycle, sg += 2 turns every unowned swept span into "needs sweeping" and
 * every cached one into "cached before the sweep began". Every span is in state sg or
 * sg + 3 again before the next cycle starts (scvgc_sweep_finish), so no other value is
 * ever seen at that moment (S1).
 */
#ifndef SCVGC_SWEEP_H
#define SCVGC_SWEEP_H

#include "internal.h"

extern _Atomic uint32_t scvgc_sweepgen SCVGC_HIDDEN;
/* Nonzero in collect mode: the library reclaims, so the protocol above is in force. */
extern int scvgc_collecting SCVGC_HIDDEN;

static inline uint32_t scvgc_sweepgen_now(void) {
  return atomic_load_explicit(&scvgc_sweepgen, memory_order_acquire);
}
static inline uint32_t scvgc_span_sweepgen(const scvgc_span_t *s) {
  return __atomic_load_n(&s->sweepgen, __ATOMIC_ACQUIRE);
}

/* ---- the cycle (gc.c) ------------------------------------------------------------------ */
/* Before lock_all and the stop: sweep everything the last cycle left (sweep termination).
 * Returns the spans this call had to sweep itself. No core lock held. */
size_t scvgc_sweep_finish(void) SCVGC_HIDDEN;
/* Every core lock held, world not stopped yet: room for the next sweep list, for every span
 * in use; the heap lock stays held until the list is made (sweep.c S6). */
bool scvgc_sweep_reserve(void) SCVGC_HIDDEN;
/* Tests: the entries the sweep list has room for. */
size_t scvgc_sweep_room(void) SCVGC_HIDDEN;
/* World stopped, marking done: list the spans to sweep and advance sg (collect mode), and
 * retire the mark stack's spans (every mode). live: the bytes marked. */
void scvgc_sweep_begin(bool reclaim, size_t live, size_t goal) SCVGC_HIDDEN;
/* The checker of the state table above (sweep.c): aborts on a span in no state. Heap lock
 * held. */
void scvgc_sweep_check(void) SCVGC_HIDDEN;
/* World restarted: wake the background sweeper. */
void scvgc_sweep_wake(void) SCVGC_HIDDEN;
/* The background sweeper thread: outside malloc (the constructor). */
void scvgc_sweep_start_thread(void) SCVGC_HIDDEN;
/* The sweeper thread runs (and was not told to end): it can run background cycles (gc.c B1). */
bool scvgc_sweep_thread_running(void) SCVGC_HIDDEN;
/* Pages of listed spans that no sweeper has reached yet (an estimate, for pacing). */
size_t scvgc_sweep_unswept_bytes(void) SCVGC_HIDDEN;
/* Proportional sweeping: the caller took npages from the page heap. */
void scvgc_sweep_credit(size_t npages) SCVGC_HIDDEN;

/* ---- span transitions (central.c, tcache.c) ------------------------------------------- */
/* A cache has just taken unowned span s (it is the owner now): sweep it if it still needs
 * it, then mark it cached (-> sg + 3). */
void scvgc_sweep_cache(scvgc_span_t *s) SCVGC_HIDDEN;
/* The owner lets s go: swept-and-cached -> swept; cached-before-the-sweep -> needs
 * sweeping (a sweeper will). Waits out a sweeper in the middle of it. */
void scvgc_sweep_uncache(scvgc_span_t *s) SCVGC_HIDDEN;
/* The owner sweeps its own stale span s in place (dead objects onto s->freelist). Returns
 * the objects reclaimed. */
uint32_t scvgc_sweep_cached(scvgc_span_t *s) SCVGC_HIDDEN;

/* Tests: the dead objects of small span s, made free and linked head..tail, as a sweeper
 * holding its sweep (sg - 1) finds them; the caller hands them on. */
uint32_t scvgc_sweep_collect_dead(scvgc_span_t *s, void **head, void **tail) SCVGC_HIDDEN;

/* ---- what was reclaimed ----------------------------------------------------------------- */
typedef struct {
  uint32_t stack;   /* allocation stack (depot id); 0 = none */
  uint64_t objects; /* 0: empty slot */
  uint64_t bytes;   /* requested bytes */
} scvgc_reclaim_t;

typedef struct {
  uint64_t cycles;                    /* sweeps completed */
  uint64_t objects, bytes;            /* reclaimed in all, every route */
  uint64_t small_objects;             /* of which small (stats: live objects) */
  uint64_t spans_bg, spans_alloc, spans_owner, spans_finish; /* spans swept, by route */
  uint64_t spans_freed;               /* large spans freed by sweeping */
  uint64_t spans_whole;               /* small spans freed whole, none of their objects
                                         read (sweep.c S7) */
  uint64_t wb_spans_freed;            /* mark-stack spans returned to the heap */
} scvgc_sweepstats_t;

extern scvgc_sweepstats_t scvgc_sweepstats SCVGC_HIDDEN; /* atomically updated fields */
/* A copy of the reclaimed-by-stack table (malloc'd; free it). -1: out of memory. */
long scvgc_sweep_copy_reclaimed(scvgc_reclaim_t **out) SCVGC_HIDDEN;

void scvgc_sweep_fork_prepare(void) SCVGC_HIDDEN;
void scvgc_sweep_fork_parent(void) SCVGC_HIDDEN;
void scvgc_sweep_fork_child(void) SCVGC_HIDDEN;

#endif
