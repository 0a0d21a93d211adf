/* stack.c — allocation stacks: the capture called by malloc, and the stack depot.
 *
 * Owns: the depot — every distinct captured stack, stored once, named by a dense id
 * (1, 2, 3, ...) that objmeta.stack keeps. Its memory comes from mmap in 256 KiB chunks
 * (scvgc_gc_sys counts it): never from the heap, never a GC root, never scanned; records
 * are never freed or moved, so a pointer from scvgc_stack_get is valid until exit.
 *
 * Locks: depot_lock (inserts, the index's growth, the chunk cursor, the id counter and the id
 * map); unwind.c's walker_lock is taken alone. Both are outside the order of core/internal.h:
 * taken only inside scvgc_stack_capture/_intern, which are called with no core lock held, and
 * no core lock is taken under them; fork takes them both. Lookups of known stacks take no lock.
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
 *   D1 A stack is in the depot at most once: inserts happen under depot_lock, after a second
 *      lookup in the current index.
 *   D2 Every id ever returned names a record that is complete and never changes: a record
 *      is written, then published in the id map, then in the index (release stores);
 *      readers load with acquire. Ids are handed out in order under depot_lock.
 *   D3 An index slot only goes from empty to an entry, and an index is replaced only by one
 *      that holds every id handed out; so a lock-free lookup that misses a record inserted
 *      meanwhile (in its table or in a newer one; a replaced table, whose pages were given
 *      back, reads empty) only sends the caller to the locked path, which finds it in the
 *      current index.
 *   D4 The current index is at most half full (index_t): probes are short whatever the
 *      number of stacks, and every probe ends at an empty slot.
 *   D5 Capture cost: a whole stack the walker recognises costs no depot lookup (its tag is
 *      the id); any other one costs one hash of its frames, a compare with the record after
 *      the thread's last id (last_id), and when that is another stack one probe of the index.
 *      Whatever answers, the frames are compared with the record's (D1 holds on every path).
 * scvgc_stack_check() checks D1-D4 (the unit tests call it).
 */
#include <string.h>

#include "internal.h"
#include "lock.h"
#include "stack.h"
#include "unwind.h"

/* A stored stack: written once, before its id is published (D2), never changed. */
typedef struct {
  uint32_t depth;
  uint32_t unused;
  uint64_t hash;
  uintptr_t pcs[];
} rec_t;

/* Every depot mapping starts with this header; they form a list for the root finder. */
typedef struct chunk {
  struct chunk *next;
  size_t len;
} chunk_t;

/* The index from a stack's hash to its id: open addressing with linear probing, 2^bits slots,
 * each 0 (empty) or (hash >> 32) << 32 | id. At most half full (D4): when an insert would pass
 * half, the inserter builds a table twice the size from the id map and publishes it; the old
 * one stays mapped (a lock-free reader may be in it) and is never written again. So a probe
 * costs the same with a thousand stacks or ten million (the fixed 2^18-bucket table it
 * replaced made GCBench's ~1 M recursive stacks walk chains of four records, a cache miss
 * each). A replaced index gives its pages back (index_retire). */
typedef struct {
  uint32_t bits;
  uint32_t unused;
  _Atomic uint64_t slot[];
} index_t;

#define INDEX_BITS_MIN 14        /* 16 Ki slots (128 KiB): 8 Ki stacks before the first growth;
                                    above CHUNK / 4, so each index is a mapping of its own */
#define CHUNK ((size_t)256 << 10)
#define ID_L2_BITS 14            /* 16 Ki ids per second-level block (128 KiB) */
#define ID_L1 ((size_t)1 << 12)  /* up to 64 Mi ids */
#define MAX_ID ((uint32_t)(ID_L1 << ID_L2_BITS) - 1)

static _Atomic(index_t *) index_cur;                 /* NULL until the first insert */
static _Atomic(_Atomic(rec_t *) *) idmap[ID_L1];     /* id -> record, two levels */
static _Atomic uint32_t nids;                        /* ids handed out: 1..nids */
static _Atomic(chunk_t *) chunks;                    /* every mapping, newest first */
static _Atomic size_t depot_bytes;
static _Atomic uint64_t n_nested;

/* Inserts, the index's growth, the chunk cursor, the id counter and the id map. One lock:
 * inserts are rare once a program's stacks are known, and each is a copy of a few words. */
static scvgc_lock_t depot_lock = SCVGC_LOCK_RANKED(SCVGC_RANK_DEPOT);
static char *cur, *end; /* bump region of the newest chunk (depot_lock) */

/* The calling thread is inside scvgc_stack_capture. */
static __thread int capturing __attribute__((tls_model("initial-exec")));
/* The id the calling thread's last capture returned from the depot. A program that repeats a
 * walk of its data (GCBench builds the same trees again and again) allocates from the same
 * stacks in the same order as when they were first interned, in id order: the next stack is
 * then last_id + 1, whose record lies next to the last one, and the index's slot, a cache
 * miss in a table of millions (29% of GCBench's time in leak mode), is not read. */
static __thread uint32_t last_id __attribute__((tls_model("initial-exec")));

/* ---- depot memory (depot_lock held) ------------------------------------------------------ */

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

#define SLOT_TAG(hash) ((hash) & ~(uint64_t)0xffffffffu)

/* The id of pcs[0..n) in index t, or 0. *at: the empty slot that ended the probe. */
static uint32_t index_find(const index_t *t, const uintptr_t *pcs, int n, uint64_t hash,
                           size_t *at) {
  size_t mask = ((size_t)1 << t->bits) - 1, i = (size_t)hash & mask;
  for (;; i = (i + 1) & mask) {
    uint64_t s = atomic_load_explicit(&t->slot[i], memory_order_acquire);
    if (!s) break; /* D4: there is always an empty slot */
    if (SLOT_TAG(s) != SLOT_TAG(hash)) continue;
    const rec_t *r = rec_of((uint32_t)s);
    if (r && r->hash == hash && r->depth == (uint32_t)n && same_pcs(r->pcs, pcs, n))
      return (uint32_t)s;
  }
  if (at) *at = i;
  return 0;
}

/* Put id (hash) in a table of which no reader knows yet. */
static void index_fill(index_t *t, uint32_t id, uint64_t hash) {
  size_t mask = ((size_t)1 << t->bits) - 1, i = (size_t)hash & mask;
  while (atomic_load_explicit(&t->slot[i], memory_order_relaxed)) i = (i + 1) & mask;
  atomic_store_explicit(&t->slot[i], SLOT_TAG(hash) | id, memory_order_relaxed);
}

/* A table of 2^bits slots holding ids 1..upto (depot_lock held), or NULL (out of memory). */
static index_t *index_build(uint32_t bits, uint32_t upto) {
  index_t *t = depot_alloc(sizeof(index_t) + (sizeof(uint64_t) << bits));
  if (!t) return NULL;
  t->bits = bits;
  for (uint32_t id = 1; id <= upto; id++) index_fill(t, id, rec_of(id)->hash);
  return t;
}

/* A replaced index (depot_lock held): it stays mapped, since a lock-free reader may be in it,
 * but its slots' pages go back to the OS; a reader there reads empty slots, a miss that sends
 * it to the locked path (D3). The first page stays: it holds the mapping's chunk_t (the list
 * of mappings) and the index's size. Every index has a mapping of its own (depot_alloc: it is
 * larger than CHUNK / 4). */
static void index_retire(index_t *t) {
  chunk_t *c = (chunk_t *)((char *)t - sizeof(chunk_t));
  if (c->len > 4096) scvgc_sys_release((char *)c + 4096, c->len - 4096);
}

/* The id of pcs[0..n) (hash), inserting it when new. hint: an id to try before the index
 * (0: none). */
static uint32_t depot_put(const uintptr_t *pcs, int n, uint64_t hash, uint32_t hint) {
  if (hint && hint <= atomic_load_explicit(&nids, memory_order_acquire)) {
    const rec_t *r = rec_of(hint);
    if (r && r->hash == hash && r->depth == (uint32_t)n && same_pcs(r->pcs, pcs, n)) return hint;
  }
  index_t *t = atomic_load_explicit(&index_cur, memory_order_acquire);
  if (likely(t != NULL)) {
    uint32_t id = index_find(t, pcs, n, hash, NULL);
    if (likely(id)) return id;
  }

  scvgc_lock(&depot_lock);
  uint32_t id = 0;
  size_t at = 0;
  /* look again, in the current table: another thread may have put this very stack there, or
   * in a table that replaced the one looked in above, since (D1, D3) */
  t = atomic_load_explicit(&index_cur, memory_order_acquire);
  if (!t && (t = index_build(INDEX_BITS_MIN, 0)))
    atomic_store_explicit(&index_cur, t, memory_order_release);
  if (t) id = index_find(t, pcs, n, hash, &at);
  uint32_t next = atomic_load_explicit(&nids, memory_order_relaxed) + 1;
  if (t && !id && next <= MAX_ID) {
    rec_t *r = NULL;
    _Atomic(rec_t *) *l2 = atomic_load_explicit(&idmap[next >> ID_L2_BITS], memory_order_relaxed);
    if (!l2 && (l2 = depot_alloc(sizeof(*l2) << ID_L2_BITS)))
      atomic_store_explicit(&idmap[next >> ID_L2_BITS], l2, memory_order_release);
    if (l2) r = depot_alloc(sizeof(rec_t) + (size_t)n * sizeof *pcs);
    if (r) {
      r->depth = (uint32_t)n;
      r->hash = hash;
      memcpy(r->pcs, pcs, (size_t)n * sizeof *pcs);
      atomic_store_explicit(&l2[next & ((1u << ID_L2_BITS) - 1)], r, memory_order_release);
      atomic_store_explicit(&nids, next, memory_order_release);
      id = next;
      if ((size_t)next + 1 > ((size_t)1 << t->bits) / 2) { /* D4: grow, with this id in */
        index_t *bigger = index_build(t->bits + 1, next);
        if (bigger) {
          atomic_store_explicit(&index_cur, bigger, memory_order_release);
          index_retire(t);
        } else {
          atomic_store_explicit(&t->slot[at], SLOT_TAG(hash) | next, memory_order_release);
        }
      } else {
        atomic_store_explicit(&t->slot[at], SLOT_TAG(hash) | next, memory_order_release);
      }
    }
  }
  scvgc_unlock(&depot_lock);
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
    /* last_id follows the depot's answers only: counting the walker's whole walks too sent
     * 21% more of GCBench's lookups to the index */
    id = depot_put(pcs, n, hash, last_id + 1);
    scvgc_unwind_set_tag(id);
    last_id = id;
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
  return depot_put(pcs, n, scvgc_stack_hash(pcs, n), 0);
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
  const index_t *t = atomic_load_explicit(&index_cur, memory_order_acquire);
  st->index_slots = t ? (size_t)1 << t->bits : 0;
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

/* The checker of D1-D4 (tests): every id has a complete record, is found under its own
 * frames, and is in the current index exactly once; the index is at most half full. Takes
 * depot_lock, so no insert runs meanwhile. */
void scvgc_stack_check(void) {
  scvgc_lock(&depot_lock);
  const index_t *t = atomic_load_explicit(&index_cur, memory_order_acquire);
  uint32_t n = atomic_load_explicit(&nids, memory_order_acquire);
  SCVGC_CHECK(t || n == 0);
  if (t) {
    size_t slots = (size_t)1 << t->bits, used = 0;
    for (size_t i = 0; i < slots; i++) {
      uint64_t e = atomic_load_explicit(&t->slot[i], memory_order_relaxed);
      if (!e) continue;
      used++;
      uint32_t id = (uint32_t)e;
      SCVGC_CHECK(id >= 1 && id <= n);
      SCVGC_CHECK(SLOT_TAG(rec_of(id)->hash) == SLOT_TAG(e));
    }
    SCVGC_CHECK(used == n);           /* each id once (with the lookups below) */
    SCVGC_CHECK(2 * (size_t)n <= slots); /* D4 */
    for (uint32_t id = 1; id <= n; id++) {
      const rec_t *r = rec_of(id);
      SCVGC_CHECK(r && r->depth >= 1 && r->depth <= SCVGC_STACK_MAX_DEPTH);
      SCVGC_CHECK(r->hash == scvgc_stack_hash(r->pcs, (int)r->depth));
      SCVGC_CHECK(index_find(t, r->pcs, (int)r->depth, r->hash, NULL) == id); /* D1, D3 */
    }
  }
  scvgc_unlock(&depot_lock);
}

/* ---- fork ----------------------------------------------------------------------------------- */

void scvgc_stack_fork_prepare(void) {
  scvgc_unwind_fork_prepare();
  scvgc_lock(&depot_lock);
}

void scvgc_stack_fork_parent(void) {
  scvgc_unlock(&depot_lock);
  scvgc_unwind_fork_parent();
}

void scvgc_stack_fork_child(void) {
  scvgc_lock_reset(&depot_lock);
  scvgc_unwind_fork_child();
}
