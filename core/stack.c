/* stack.c — allocation stacks: the capture called by malloc, and the stack depot.
 *
 * Owns: the depot — every distinct captured stack, stored once, named by a dense id
 * (1, 2, 3, ...) that objmeta.stack keeps. Its memory comes from mmap in 256 KiB chunks
 * (scvgc_gc_sys counts it): never from the heap, never a GC root, never scanned; records
 * are never freed or moved, so a pointer from scvgc_stack_get is valid until exit.
 *
 * Locks: shard[NSHARDS] (one per group of buckets), then alloc_lock (the chunk cursor, the
 * id counter and the id map); unwind.c's walker_lock is taken alone. All are outside the
 * order of core/internal.h: taken only inside scvgc_stack_capture/_intern, which are called
 * with no core lock held, and no core lock is taken under them; fork takes them all (shard
 * locks in index order, then alloc_lock). Lookups of known stacks take no lock.
 *
 * Callers: program threads, inside malloc (modes leak and collect); the report and the
 * marker read stacks with scvgc_stack_get (lock-free; safe with the world stopped). In a
 * fork child the depot keeps working: scvgc_stack_fork_child resets the locks.
 *
 * The capture never calls malloc and never re-enters itself: a per-thread flag makes a nested
 * capture return 0 at once. Nesting happens in two ways: a signal handler's malloc, and a
 * thread's first capture, whose pthread_setspecific (unwind.c's walker key) callocs when the
 * program already holds 32 keys. The walk itself calls only _dl_find_object (no allocation,
 * no lock). libunwind is not used: it allocates in that same way, and more (unwind.c).
 *
 * Invariants:
 *   D1 A stack is in the depot at most once: inserts into a bucket happen under its shard
 *      lock, after a second lookup.
 *   D2 Every id ever returned names a record that is complete and never changes: a record
 *      is written, then published in the id map, then linked at its bucket's head (release
 *      stores); readers load with acquire. Ids are handed out in order under alloc_lock.
 *   D3 A bucket chain only grows at its head, so a lock-free lookup that misses a record
 *      inserted meanwhile only sends the caller to the locked path, which finds it.
 */
#include <string.h>

#include "internal.h"
#include "lock.h"
#include "stack.h"
#include "unwind.h"

/* A stored stack. next links the bucket chain by id (0 ends it). */
typedef struct {
  _Atomic uint32_t next;
  uint32_t depth;
  uint64_t hash;
  uintptr_t pcs[];
} rec_t;

/* Every depot mapping starts with this header; they form a list for the root finder. */
typedef struct chunk {
  struct chunk *next;
  size_t len;
} chunk_t;

#define BUCKET_BITS 18           /* 256 Ki buckets, 1 MiB: ~1 M stacks at chains of 4 */
#define NSHARDS 64               /* inserts are rare after warm-up: little contention */
#define CHUNK ((size_t)256 << 10)
#define ID_L2_BITS 14            /* 16 Ki ids per second-level block (128 KiB) */
#define ID_L1 ((size_t)1 << 12)  /* up to 64 Mi ids */
#define MAX_ID ((uint32_t)(ID_L1 << ID_L2_BITS) - 1)

static _Atomic(_Atomic uint32_t *) buckets;         /* NULL until the first insert */
static _Atomic(_Atomic(rec_t *) *) idmap[ID_L1];     /* id -> record, two levels */
static _Atomic uint32_t nids;                        /* ids handed out: 1..nids */
static _Atomic(chunk_t *) chunks;                    /* every mapping, newest first */
static _Atomic size_t depot_bytes;
static _Atomic uint64_t n_nested;

static scvgc_lock_t shard[NSHARDS];
static scvgc_lock_t alloc_lock = SCVGC_LOCK_INIT;
static char *cur, *end; /* bump region of the newest chunk (alloc_lock) */

/* The calling thread is inside scvgc_stack_capture. */
static __thread int capturing __attribute__((tls_model("initial-exec")));

/* ---- depot memory (alloc_lock held) ------------------------------------------------------ */

static void *map_chunk(size_t len) {
  chunk_t *c = scvgc_sys_map_meta(len); /* counted in gc_sys, registered as the library's */
  if (!c) return NULL;
  c->len = len;
  c->next = atomic_load_explicit(&chunks, memory_order_relaxed);
  atomic_store_explicit(&chunks, c, memory_order_release);
  atomic_fetch_add_explicit(&depot_bytes, len, memory_order_relaxed);
  return c;
}

/* n bytes, 8-aligned, zeroed (fresh from mmap). */
static void *depot_alloc(size_t n) {
  n = (n + 7) & ~(size_t)7;
  if (n > CHUNK / 4) {
    char *c = map_chunk((sizeof(chunk_t) + n + 4095) & ~(size_t)4095);
    return c ? c + sizeof(chunk_t) : NULL;
  }
  if ((size_t)(end - cur) < n) {
    char *c = map_chunk(CHUNK);
    if (!c) return NULL;
    cur = c + sizeof(chunk_t);
    end = c + CHUNK;
  }
  void *p = cur;
  cur += n;
  return p;
}

static _Atomic uint32_t *bucket_table(void) {
  _Atomic uint32_t *b = atomic_load_explicit(&buckets, memory_order_acquire);
  if (!b) {
    b = depot_alloc(sizeof(uint32_t) << BUCKET_BITS);
    if (b) atomic_store_explicit(&buckets, b, memory_order_release);
  }
  return b;
}

/* ---- lookup ------------------------------------------------------------------------------- */

static inline const rec_t *rec_of(uint32_t id) {
  _Atomic(rec_t *) *l2 = atomic_load_explicit(&idmap[id >> ID_L2_BITS], memory_order_acquire);
  if (!l2) return NULL;
  return atomic_load_explicit(&l2[id & ((1u << ID_L2_BITS) - 1)], memory_order_acquire);
}

static inline bool same_pcs(const uintptr_t *a, const uintptr_t *b, int n) {
  uintptr_t diff = 0;
  for (int i = 0; i < n; i++) diff |= a[i] ^ b[i];
  return diff == 0;
}

/* The id of pcs[0..n) among the records reachable from first, or 0. */
static uint32_t chain_find(uint32_t id, const uintptr_t *pcs, int n, uint64_t hash) {
  while (id) {
    const rec_t *r = rec_of(id);
    if (!r) return 0; /* not reachable by D2; defensive */
    if (r->hash == hash && r->depth == (uint32_t)n && same_pcs(r->pcs, pcs, n)) return id;
    id = atomic_load_explicit(&((rec_t *)r)->next, memory_order_acquire);
  }
  return 0;
}

static uint32_t depot_put(const uintptr_t *pcs, int n, uint64_t hash) {
  size_t b = (size_t)(hash >> (64 - BUCKET_BITS));
  _Atomic uint32_t *tab = atomic_load_explicit(&buckets, memory_order_acquire);
  if (likely(tab != NULL)) {
    uint32_t id = chain_find(atomic_load_explicit(&tab[b], memory_order_acquire), pcs, n, hash);
    if (likely(id)) return id;
  }

  scvgc_lock_t *l = &shard[b & (NSHARDS - 1)];
  scvgc_lock(l);
  uint32_t id = 0, head = 0;
  /* load it again: another thread may have made the table (and put this very stack in it)
   * since the lock-free look above found none (D1) */
  tab = atomic_load_explicit(&buckets, memory_order_acquire);
  if (tab) {
    head = atomic_load_explicit(&tab[b], memory_order_acquire);
    id = chain_find(head, pcs, n, hash);
  }
  if (!id) {
    rec_t *r = NULL;
    scvgc_lock(&alloc_lock);
    if (!tab) tab = bucket_table();
    uint32_t next = atomic_load_explicit(&nids, memory_order_relaxed) + 1;
    _Atomic(rec_t *) *l2 = NULL;
    if (tab && next <= MAX_ID) {
      l2 = atomic_load_explicit(&idmap[next >> ID_L2_BITS], memory_order_relaxed);
      if (!l2 && (l2 = depot_alloc(sizeof(*l2) << ID_L2_BITS)))
        atomic_store_explicit(&idmap[next >> ID_L2_BITS], l2, memory_order_release);
      if (l2 && (r = depot_alloc(sizeof(rec_t) + (size_t)n * sizeof *pcs)))
        atomic_store_explicit(&nids, next, memory_order_relaxed);
    }
    scvgc_unlock(&alloc_lock);
    if (r) {
      r->depth = (uint32_t)n;
      r->hash = hash;
      memcpy(r->pcs, pcs, (size_t)n * sizeof *pcs);
      head = atomic_load_explicit(&tab[b], memory_order_relaxed); /* unchanged: shard lock */
      atomic_store_explicit(&r->next, head, memory_order_relaxed);
      atomic_store_explicit(&l2[next & ((1u << ID_L2_BITS) - 1)], r, memory_order_release);
      atomic_store_explicit(&tab[b], next, memory_order_release);
      id = next;
    }
  }
  scvgc_unlock(l);
  return id;
}

/* ---- the API -------------------------------------------------------------------------------- */

uint32_t scvgc_stack_capture(void) {
  int depth = scvgc_opt.stack_depth;
  if (depth <= 0) return 0;
  if (unlikely(capturing)) {
    atomic_fetch_add_explicit(&n_nested, 1, memory_order_relaxed);
    return 0;
  }
  capturing = 1;
  atomic_signal_fence(memory_order_seq_cst);
  uintptr_t pcs[SCVGC_STACK_MAX_DEPTH];
  uint32_t id;
  uint64_t hash;
  int n = scvgc_unwind(pcs, depth, &id, &hash);
  if (!id && n) {
    id = depot_put(pcs, n, hash);
    scvgc_unwind_set_tag(id);
  }
  atomic_signal_fence(memory_order_seq_cst);
  capturing = 0;
  return id;
}

uint32_t scvgc_stack_capture_nested(void) {
  int was = capturing;
  capturing = 1;
  uint32_t id = scvgc_stack_capture();
  capturing = was;
  return id;
}

uint32_t scvgc_stack_intern(const uintptr_t *pcs, int n) {
  if (n <= 0) return 0;
  if (n > SCVGC_STACK_MAX_DEPTH) n = SCVGC_STACK_MAX_DEPTH;
  return depot_put(pcs, n, scvgc_stack_hash(pcs, n));
}

int scvgc_stack_get(uint32_t id, const uintptr_t **pcs) {
  const rec_t *r = id && id <= atomic_load_explicit(&nids, memory_order_acquire) ? rec_of(id) : NULL;
  *pcs = r ? r->pcs : NULL;
  return r ? (int)r->depth : 0;
}

void scvgc_stack_modules_changed(void) { scvgc_unwind_modules_changed(); }

void scvgc_stack_stats(scvgc_stack_stats_t *st) {
  scvgc_unwind_stats_t u;
  scvgc_unwind_stats(&u);
  st->stacks = atomic_load_explicit(&nids, memory_order_relaxed);
  st->depot_bytes = atomic_load_explicit(&depot_bytes, memory_order_relaxed);
  st->unwind_bytes = u.rule_bytes;
  st->nested = atomic_load_explicit(&n_nested, memory_order_relaxed);
  st->truncated = u.truncated;
  st->rule_misses = u.rule_misses;
}

void scvgc_stack_foreach_mapping(void (*fn)(void *base, size_t len, void *arg), void *arg) {
  for (chunk_t *c = atomic_load_explicit(&chunks, memory_order_acquire); c; c = c->next)
    fn(c, c->len, arg);
  scvgc_unwind_foreach_mapping(fn, arg);
}

/* ---- fork ----------------------------------------------------------------------------------- */

void scvgc_stack_fork_prepare(void) {
  scvgc_unwind_fork_prepare();
  for (int i = 0; i < NSHARDS; i++) scvgc_lock(&shard[i]);
  scvgc_lock(&alloc_lock);
}

void scvgc_stack_fork_parent(void) {
  scvgc_unlock(&alloc_lock);
  for (int i = NSHARDS - 1; i >= 0; i--) scvgc_unlock(&shard[i]);
  scvgc_unwind_fork_parent();
}

void scvgc_stack_fork_child(void) {
  scvgc_lock_reset(&alloc_lock);
  for (int i = 0; i < NSHARDS; i++) scvgc_lock_reset(&shard[i]);
  scvgc_unwind_fork_child();
}
