/* special.c — the specials: what a lean object has beyond its mark bit (the lean layout,
 * internal.h "lean"). In collect mode with sampled stacks (the default) a small object keeps
 * no per-object word: only the few that carry something have an entry here, as Go keeps its
 * profiled objects' buckets in span specials —
 *   a sampled object       its allocation stack and requested size;
 *   a library-owned one    SCVGC_STACK_LIB (a root of every cycle, never reported);
 *   an ignored one         SCVGC_STACK_IGNORED (scvgc_ignore_object, scvgc_disable).
 * The table: open addressing keyed by the object's address, linear probing, doubling at half
 * full, deletion by backward shift (no tombstones).
 *
 * Invariants:
 *   P1 at most one entry per address; an entry names an allocated object of a lean span:
 *      it is made after the object is popped from its free list and dropped (scvgc_special_
 *      take) before the object is on a free list again, by every path that frees it (the
 *      owner's free, a remote free, a sweeper).
 *   P2 s->nspecial is the number of entries whose object is in span s. It changes under the
 *      lock only; a free reads it with no lock (SCVGC_RACY): an entry made by the thread
 *      that allocated the object is visible to any thread the program handed the object to,
 *      since the handing-over orders it. 0 -> the free skips the table.
 *   P3 every entry of the library's own objects or ignored ones is greyed at each cycle's
 *      start (scvgc_special_roots), under the lock the collector holds.
 *   P4 (root_lost below) a root that could not be entered stops every later cycle's frees.
 * Locks: special_lock (SPECIAL in internal.h's lock ranks: under CENTRAL, HEAP and META, which
 *   sweepers and the collector's late classification hold; the growth maps, so OWN is under
 *   it). Taken on the allocation path with no core lock held.
 */
#include <string.h>

#include "gc.h"
#include "lock.h"
#include "mark.h"

typedef struct {
  uintptr_t addr; /* 0: empty */
  uint32_t stack;
  uint32_t size;  /* the requested size */
} entry_t;

static scvgc_lock_t special_lock = SCVGC_LOCK_RANKED(SCVGC_RANK_SPECIAL);
static entry_t *tab;
static size_t cap, used, nroots;
/* P4 a library-owned or ignored object that found no room (the table could not grow: out of
 * memory) is a root nobody knows: from then on no cycle frees anything (gc.c, as a cycle
 * whose mark stack ran out of memory), said once. */
static _Atomic int root_lost;

bool scvgc_special_root_lost(void) { return atomic_load_explicit(&root_lost, memory_order_relaxed); }

static inline size_t hash(uintptr_t a, size_t c) {
  return (size_t)(((a >> 4) * 0x9E3779B97F4A7C15ull) >> 20) & (c - 1);
}

static bool grow(void) {
  size_t nc = cap ? cap * 2 : 1024;
  entry_t *n = scvgc_sys_map_meta(nc * sizeof *n);
  if (!n) return false;
  for (size_t i = 0; i < cap; i++) {
    if (!tab[i].addr) continue;
    size_t h = hash(tab[i].addr, nc);
    while (n[h].addr) h = (h + 1) & (nc - 1);
    n[h] = tab[i];
  }
  if (tab) scvgc_sys_unmap_meta(tab, cap * sizeof *tab);
  tab = n;
  cap = nc;
  return true;
}

static entry_t *find(uintptr_t a) {
  if (!cap) return NULL;
  for (size_t h = hash(a, cap);; h = (h + 1) & (cap - 1)) {
    if (tab[h].addr == a) return &tab[h];
    if (!tab[h].addr) return NULL;
  }
}

static bool is_root(uint32_t stack) { return stack >= SCVGC_STACK_IGNORED; }

bool scvgc_special_set(scvgc_span_t *s, uintptr_t a, uint32_t stack, uint32_t size) {
  bool ok = true;
  scvgc_lock(&special_lock);
  entry_t *e = find(a);
  if (e) {
    nroots += (size_t)is_root(stack) - (size_t)is_root(e->stack);
    e->stack = stack;
    e->size = size;
  } else if ((used + 1) * 2 <= cap || grow()) {
    size_t h = hash(a, cap);
    while (tab[h].addr) h = (h + 1) & (cap - 1);
    tab[h] = (entry_t){a, stack, size};
    used++;
    nroots += is_root(stack);
    SCVGC_RACY_STORE(s->nspecial, SCVGC_RACY_LOAD(s->nspecial) + 1);
  } else {
    ok = false; /* no memory: a sampled object goes without (reported with no stack) */
  }
  scvgc_unlock(&special_lock);
  if (!ok && is_root(stack) && !atomic_exchange(&root_lost, 1)) /* P4 */
    scvgc_message("out of memory for the table of the library's own objects: collect mode "
                  "frees nothing from now on");
  return ok;
}

/* Backward-shift deletion of slot h. */
static void remove_at(size_t h) {
  size_t j = h;
  for (;;) {
    j = (j + 1) & (cap - 1);
    if (!tab[j].addr) break;
    size_t k = hash(tab[j].addr, cap);
    /* move j into the hole h unless k lies cyclically in (h, j] */
    if (h <= j ? (h < k && k <= j) : (h < k || k <= j)) continue;
    tab[h] = tab[j];
    h = j;
  }
  tab[h].addr = 0;
}

bool scvgc_special_take_locked(scvgc_span_t *s, uintptr_t a, uint32_t *stack, uint32_t *size) {
  SCVGC_ASSERT_HELD(&special_lock);
  entry_t *e = find(a);
  if (!e) return false;
  *stack = e->stack;
  *size = e->size;
  nroots -= is_root(e->stack);
  remove_at((size_t)(e - tab));
  used--;
  SCVGC_RACY_STORE(s->nspecial, SCVGC_RACY_LOAD(s->nspecial) - 1);
  return true;
}

bool scvgc_special_take(scvgc_span_t *s, uintptr_t a, uint32_t *stack, uint32_t *size) {
  scvgc_lock(&special_lock);
  bool r = scvgc_special_take_locked(s, a, stack, size);
  scvgc_unlock(&special_lock);
  return r;
}

bool scvgc_special_get_locked(uintptr_t a, uint32_t *stack, uint32_t *size) {
  SCVGC_ASSERT_HELD(&special_lock);
  entry_t *e = find(a);
  if (!e) return false;
  *stack = e->stack;
  *size = e->size;
  return true;
}

void scvgc_special_resize(uintptr_t a, uint32_t size) {
  scvgc_lock(&special_lock);
  entry_t *e = find(a);
  if (e) e->size = size;
  scvgc_unlock(&special_lock);
}

size_t scvgc_special_nroots(void) {
  scvgc_lock(&special_lock);
  size_t n = nroots;
  scvgc_unlock(&special_lock);
  return n;
}

void scvgc_special_roots(scvgc_marker_t *m) {
  SCVGC_ASSERT_HELD(&special_lock);
  if (!nroots) return;
  for (size_t i = 0; i < cap; i++)
    if (tab[i].addr && is_root(tab[i].stack)) scvgc_mark_word(m, tab[i].addr);
}

size_t scvgc_special_count(void) {
  scvgc_lock(&special_lock);
  size_t n = used;
  scvgc_unlock(&special_lock);
  return n;
}

void scvgc_special_lock_all(void) { scvgc_lock(&special_lock); }
void scvgc_special_unlock_all(void) { scvgc_unlock(&special_lock); }
void scvgc_special_reset_locks(void) { scvgc_lock_reset(&special_lock); }
