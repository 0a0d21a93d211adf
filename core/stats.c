/* stats.c — heap statistics (the SPEC JSON "heap" block), folded on demand.
 *
 * Nothing here is on a fast path: each cache counts its own allocations and frees in its
 * bins (plain increments, T2 in tcache.c), and a reader adds them up under the registry
 * lock together with the totals of caches that are gone. Large objects are counted by the
 * page heap under its lock.
 * sys = in use + idle + released (+ the mark stack's spans, counted as GC metadata):
 * released counts both free pages released and OS pages released inside central spans,
 * which are not in use either; consumed = sys - released is what may be resident.
 * Locks: registry lock (through scvgc_tcache_foreach), then the heap lock.
 */
#include "internal.h"
#include "mark.h"
#include "sweep.h"

/* Totals of caches whose thread exited (registry lock). */
static uint64_t gone_nalloc, gone_nfree;
/* Allocations and frees by threads whose cache is already DEAD (rare: late destructors). */
static _Atomic uint64_t orphan_nalloc, orphan_nfree;

static uint64_t cache_nalloc(const scvgc_tcache_t *tc) {
  uint64_t n = 0;
  for (int c = 1; c < SCVGC_NCLASSES; c++) n += __atomic_load_n(&tc->bins[c].nalloc, __ATOMIC_RELAXED);
  return n;
}

void scvgc_stats_fold_tcache(const scvgc_tcache_t *tc) {
  gone_nalloc += cache_nalloc(tc);
  gone_nfree += tc->nfree;
}

void scvgc_stats_orphan(int64_t na, int64_t nf) {
  if (na) atomic_fetch_add_explicit(&orphan_nalloc, (uint64_t)na, memory_order_relaxed);
  if (nf) atomic_fetch_add_explicit(&orphan_nfree, (uint64_t)nf, memory_order_relaxed);
}

typedef struct { uint64_t na, nf; } sums_t;

/* Called for each live cache, then once with NULL, all under the registry lock. */
static void add_cache(const scvgc_tcache_t *tc, void *arg) {
  sums_t *s = arg;
  s->na += tc ? cache_nalloc(tc) : gone_nalloc;
  s->nf += tc ? __atomic_load_n(&tc->nfree, __ATOMIC_RELAXED) : gone_nfree;
}

/* Small objects reclaimed by sweeping count as freed (large ones are counted by the page
 * heap when the sweeper frees their span); the mark stack's spans are GC metadata, not
 * heap in use. */
static void fill(scvgc_stats_t *st, const sums_t *s, const scvgc_heapstat_t *hs) {
  uint64_t na = s->na + atomic_load(&orphan_nalloc), nf = s->nf + atomic_load(&orphan_nfree);
  nf += __atomic_load_n(&scvgc_sweepstats.small_objects, __ATOMIC_RELAXED);
  size_t wb = scvgc_wb_bytes();
  size_t inuse = hs->inuse_pages << SCVGC_PAGE_SHIFT, freerel = hs->released_pages << SCVGC_PAGE_SHIFT;
  size_t inspan = hs->inspan_released << SCVGC_OSPAGE_SHIFT; /* central.c R1 */
  if (inspan > inuse) inspan = inuse; /* read apart from the heap's figures: never negative */
  st->sys_bytes = hs->sys;
  st->idle_bytes = hs->sys - inuse - freerel;
  st->released_bytes = freerel + inspan;
  st->consumed_bytes = hs->sys - st->released_bytes;
  st->inuse_bytes = inuse - inspan; /* so sys == in use + idle + released (+ GC workbufs) */
  st->inuse_bytes -= wb < st->inuse_bytes ? wb : st->inuse_bytes;
  st->gc_sys_bytes = atomic_load(&scvgc_gc_sys) + wb;
  st->live_objects = na - nf + hs->large_nalloc - hs->large_nfree;
  st->nmalloc = na + hs->large_nalloc;
  st->nfree = nf + hs->large_nfree;
}

void scvgc_stats_read(scvgc_stats_t *st) {
  sums_t s = {0, 0};
  scvgc_tcache_foreach(add_cache, &s);
  scvgc_heapstat_t hs;
  scvgc_heap_stats(&hs);
  fill(st, &s, &hs);
}

void scvgc_stats_read_locked(scvgc_stats_t *st) {
  sums_t s = {0, 0};
  scvgc_tcache_foreach_locked(add_cache, &s);
  scvgc_heapstat_t hs;
  scvgc_heap_stats_locked(&hs);
  fill(st, &s, &hs);
}
