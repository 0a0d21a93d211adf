/* stats.c — heap statistics (the SPEC JSON "heap" block), folded on demand.
 *
 * Nothing here is on a fast path: each cache counts its own allocations and frees in its
 * bins (plain increments, T2 in tcache.c), and a reader adds them up under the registry
 * lock together with the totals of caches that are gone. Large objects are counted by the
 * page heap under its lock.
 * Locks: registry lock (through scvgc_tcache_foreach), then the heap lock.
 */
#include "internal.h"

/* Totals of caches whose thread exited (registry lock). */
static uint64_t gone_nalloc[SCVGC_NCLASSES], gone_nfree[SCVGC_NCLASSES];
/* Allocations and frees by threads whose cache is already DEAD (rare: late destructors). */
static _Atomic int64_t orphan_nalloc[SCVGC_NCLASSES], orphan_nfree[SCVGC_NCLASSES];

void scvgc_stats_fold_tcache(const scvgc_tcache_t *tc) {
  for (int c = 1; c < SCVGC_NCLASSES; c++) {
    gone_nalloc[c] += tc->bins[c].nalloc;
    gone_nfree[c] += tc->bins[c].nfree;
  }
}

void scvgc_stats_orphan(uint32_t cls, int64_t na, int64_t nf) {
  if (na) atomic_fetch_add_explicit(&orphan_nalloc[cls], na, memory_order_relaxed);
  if (nf) atomic_fetch_add_explicit(&orphan_nfree[cls], nf, memory_order_relaxed);
}

typedef struct { uint64_t na[SCVGC_NCLASSES], nf[SCVGC_NCLASSES]; } sums_t;

/* Called for each live cache, then once with NULL, all under the registry lock. */
static void add_cache(const scvgc_tcache_t *tc, void *arg) {
  sums_t *s = arg;
  for (int c = 1; c < SCVGC_NCLASSES; c++) {
    s->na[c] += tc ? __atomic_load_n(&tc->bins[c].nalloc, __ATOMIC_RELAXED) : gone_nalloc[c];
    s->nf[c] += tc ? __atomic_load_n(&tc->bins[c].nfree, __ATOMIC_RELAXED) : gone_nfree[c];
  }
}

void scvgc_stats_read(scvgc_stats_t *st) {
  static sums_t zero;
  sums_t s = zero;
  scvgc_tcache_foreach(add_cache, &s);
  scvgc_heapstat_t hs;
  scvgc_heap_stats(&hs);
  uint64_t objs = 0, bytes = 0, na = 0, nf = 0;
  for (int c = 1; c < SCVGC_NCLASSES; c++) {
    uint64_t a = s.na[c] + (uint64_t)atomic_load(&orphan_nalloc[c]);
    uint64_t f = s.nf[c] + (uint64_t)atomic_load(&orphan_nfree[c]);
    na += a;
    nf += f;
    objs += a - f;
    bytes += (a - f) * scvgc_classes[c].size;
  }
  st->sys_bytes = hs.sys;
  st->inuse_bytes = hs.inuse_pages << SCVGC_PAGE_SHIFT;
  st->released_bytes = hs.released_pages << SCVGC_PAGE_SHIFT;
  st->idle_bytes = hs.sys - st->inuse_bytes - st->released_bytes;
  st->gc_sys_bytes = atomic_load(&scvgc_gc_sys);
  st->live_objects = objs + hs.large_nalloc - hs.large_nfree;
  st->live_bytes = bytes + hs.large_bytes;
  st->nmalloc = na + hs.large_nalloc;
  st->nfree = nf + hs.large_nfree;
}
