/* tcache.c — per-thread caches (Go's mcache): refill, release, thread exit, the registry.
 *
 * Owns: scvgc_tc, the calling thread's cache, in static TLS (initial-exec: no allocation,
 *   no lock, one %fs-relative access); the registry of live caches; the thread-exit key.
 * Invariants:
 *   T1 every object on bins[c].free belongs to bins[c].span, and bins[c].span->owner == tc;
 *      a cache owns no other span.
 *   T2 only the owning thread reads or writes its bins (stats readers excepted: they read
 *      the counters racily, which is fine for statistics).
 *   T3 a DEAD cache (its thread ran the exit flush) owns nothing, and never will: late
 *      allocations of that thread borrow a span and give it straight back.
 * Locks: registry_lock (outermost lock of the core) for the registry and the totals of
 *   dead caches. Refill and release take central and heap locks through central.c.
 * Callers: the owning thread only (malloc/free slow paths, the thread-exit destructor);
 *   the fork child handler.
 */
#include <pthread.h>

#include "internal.h"
#include "lock.h"

__thread scvgc_tcache_t scvgc_tc __attribute__((tls_model("initial-exec")));

static scvgc_lock_t registry_lock = SCVGC_LOCK_INIT;
static scvgc_tcache_t *registry;
static pthread_key_t exit_key;
static _Atomic int exit_key_ready;

/* Called once from the library constructor (never from inside malloc): from then on
 * every new cache asks for the thread-exit flush. */
void scvgc_tcache_setup_key(void) {
  if (pthread_key_create(&exit_key, (void (*)(void *))scvgc_tcache_thread_exit) == 0)
    atomic_store(&exit_key_ready, 1);
  /* the constructor runs in a thread that may already have a cache */
  if (scvgc_tc.state == SCVGC_TC_ACTIVE) pthread_setspecific(exit_key, &scvgc_tc);
}

static void tcache_init(scvgc_tcache_t *tc) {
  scvgc_init();
  tc->state = SCVGC_TC_ACTIVE;
  scvgc_lock(&registry_lock);
  tc->rprev = NULL;
  tc->rnext = registry;
  if (registry) registry->rprev = tc;
  registry = tc;
  scvgc_unlock(&registry_lock);
  if (atomic_load_explicit(&exit_key_ready, memory_order_acquire))
    pthread_setspecific(exit_key, tc); /* key < 32: glibc's static slots, no allocation */
}

/* Late allocation of a thread whose cache is gone (T3): one object from a borrowed span. */
static void *dead_alloc(scvgc_tcache_t *tc, uint32_t cls) {
  void *list;
  scvgc_span_t *s = scvgc_central_take(cls, tc, &list);
  if (!s) return NULL;
  uint32_t n = 0;
  if (!list) list = scvgc_span_carve(s);
  if (!list) list = scvgc_span_xfree_grab(s, &n);
  void *p = list;
  void *rest = NULL;
  uint32_t nrest = 0;
  if (p) {
    rest = *(void **)p;
    for (void *q = rest; q; q = *(void **)q) nrest++;
  }
  scvgc_central_release(s, rest, nrest);
  return p;
}

/* The slow path of malloc for class cls: make bins[cls].free non-empty. Returns the
 * object to hand out (already popped), or NULL when out of memory. */
void *scvgc_tcache_refill(scvgc_tcache_t *tc, uint32_t cls) {
  if (unlikely(tc->state != SCVGC_TC_ACTIVE)) {
    if (tc->state == SCVGC_TC_DEAD) return dead_alloc(tc, cls);
    tcache_init(tc);
  }
  scvgc_bin_t *b = &tc->bins[cls];
  void *list = b->free;
  for (scvgc_span_t *s = b->span; !list;) {
    if (s) {
      uint32_t n;
      if ((list = scvgc_span_carve(s)) || (list = scvgc_span_xfree_grab(s, &n))) break;
      scvgc_central_release(s, NULL, 0); /* full as far as this thread can tell */
      b->span = NULL;
    }
    s = scvgc_central_take(cls, tc, &list);
    if (!s) return NULL;
    b->span = s;
  }
  b->free = *(void **)list;
  return list;
}

static uint32_t list_len(void *l) {
  uint32_t n = 0;
  for (; l; l = *(void **)l) n++;
  return n;
}

/* Give every span back to central (T1 makes this complete). The cache stays usable. */
void scvgc_tcache_flush(scvgc_tcache_t *tc) {
  for (uint32_t c = 1; c < SCVGC_NCLASSES; c++) {
    scvgc_bin_t *b = &tc->bins[c];
    if (!b->span) continue;
    scvgc_central_release(b->span, b->free, list_len(b->free));
    b->span = NULL;
    b->free = NULL;
  }
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
}

/* Visit every live cache, then call fn(NULL, arg) to end, all under the registry lock
 * (which also guards the totals of gone caches kept in stats.c). */
void scvgc_tcache_foreach(void (*fn)(const scvgc_tcache_t *, void *), void *arg) {
  scvgc_lock(&registry_lock);
  for (scvgc_tcache_t *t = registry; t; t = t->rnext) fn(t, arg);
  fn(NULL, arg);
  scvgc_unlock(&registry_lock);
}

void scvgc_tcache_lock_registry(void) { scvgc_lock(&registry_lock); }
void scvgc_tcache_unlock_registry(void) { scvgc_unlock(&registry_lock); }

/* Fork child: only the forking thread exists. The caches of the other threads keep their
 * spans (their lists may have been mid-update at the fork, so walking them is unsafe):
 * those spans stay owned by caches nobody will use, and the objects they hold are lost
 * to this child. Their counters are folded so the statistics stay right. */
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
  }
}
