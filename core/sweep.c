/* sweep.c — sweeping (Go's mgcsweep.go, seeds 001 and 003): giving back what marking left
 * white, lazily, after the world has restarted.
 *
 * Owns: the heap's sweep generation, the list of spans to sweep, the background sweeper
 * thread, the table of what was reclaimed by allocation stack. The state table of
 * s->sweepgen is in sweep.h.
 *
 * The sweep list: at the end of a cycle that may free (collect mode, every thread stopped),
 * every in-use object span (small and large) is listed and sg advances by 2. Then, with
 * the world running, each listed span is swept once — exactly once: a sweeper first moves
 * s->sweepgen by CAS (S2). The sweepers:
 *   - the background sweeper thread: unowned spans in list order, yielding every few
 *     spans; then the mark stack's spans (workbuf.c) in batches; then, after a grace
 *     period, whatever is left — spans of caches whose thread did not allocate since (an
 *     idle thread never flushes) are swept for it, through the remote-free path;
 *   - allocation, in proportion: a thread that takes pages from the heap sweeps
 *     ratio * npages pages first, ratio = pages listed / pages the program may allocate
 *     before the next goal, so sweeping ends before the next cycle is due;
 *   - a cache taking an unowned span sweeps it first (scvgc_sweep_cache);
 *   - a thread cache, at its first allocation after a cycle (flushgen != sg: tcache.c),
 *     sweeps its current spans in place and hands every other span back to central;
 *   - scvgc_sweep_finish, at the start of the next cycle, sweeps what is still left.
 *
 * How a sweeper frees a dead object depends on who may touch the span's lists:
 *   in place  (the span's owner: a cache that owns it, or took it just now) — onto
 *             s->freelist, no atomics;
 *   remote    (anyone else) — the dead objects are pushed on the span's xfree list with
 *             one CAS, exactly as a free from a thread that does not own the span
 *             (central.c C1..C5): it touches no field of the owner, so it is safe while
 *             the owner runs, and a span it leaves wholly free goes back to the heap;
 *   large     the span is freed to the heap under the heap lock (pageheap.c).
 *
 * Invariants:
 *   S1 no span is listed twice, and when a cycle starts every span is swept (sg or sg+3).
 *      Checked (debug build) as the list is made; scvgc_sweep_check checks the whole state
 *      table at every cycle's start.
 *   S2 a span is swept by the one thread whose CAS moved its sweepgen to sg - 1; only that
 *      thread moves it on. Freeing a span to the heap or taking a new one writes sg.
 *   S3 allocation is black: every object allocated since the last cycle has its mark bit
 *      set (alloc.c), and the mark bits are cleared only at the start of a cycle. So an
 *      allocated object without a mark bit is exactly an object that was unreachable when
 *      the world stopped, and a sweeper never reclaims a newer one — even if the span it
 *      reads was freed and reused meanwhile (a reused span holds only black objects).
 *      The lean layout (internal.h L1-L4) sets the bit only where a sweeper may read the
 *      span (not swept yet) or a cycle runs; a sweeper reading a span freed and reused
 *      under it is caught by L3 instead.
 *   S4 a dead object stays allocated (its metadata non-zero) until its sweeper has pushed
 *      it onto a free list, so a span holding one never becomes wholly free under a sweeper.
 * Locks: list access is guarded by a busy count and an open flag (finish closes the list
 *   and waits for the count to drop); reclaim_lock (RECLAIM in internal.h's lock ranks;
 *   taken with no core lock held but GC; only OWN, when the table grows, under it) guards
 *   the reclaim table.
 *   S5 a thread inside the list looks at the open flag before each entry and leaves as
 *      soon as it is clear: finish (which has swept everything itself) waits for at most
 *      one span's sweep per thread inside, never for the rest of their pass. (A sweeper
 *      that walked its whole pass first, yielding every 16 spans, held a collection of 300
 *      busy threads for up to a minute on two cores.)
 *   S6 every span in use when a sweep begins is on its list. Room for the list is made
 *      (scvgc_sweep_reserve) with every core lock held, the heap's from there to the
 *      listing, so no span is made in between: a concurrent cycle makes it again in C3 (gc.c),
 *      C1's room not counting the spans the program took during C2. A span left off would
 *      keep the last generation's value, read after the advance as "needs sweeping" or
 *      "cached before the sweep", out of sweep termination's reach (it walks the list),
 *      and be swept later — during the next concurrent mark, whose marks C0 clears with the
 *      world running: live objects freed (churn 64 3, about 1 run in 10, before the C3
 *      reservation). Should the list still fill up, the sweep does not begin: the cycle
 *      reclaims nothing, and no span is left behind.
 *   S7 a central lean span without a single mark bit or special holds only dead objects and
 *      free slots: its sweeper hands it to the heap whole (central.c C7), reading and linking
 *      none of its objects (sweep_whole_dead). GCBench: 57 622 of ~90 000 spans swept.
 *   Sweeping a span takes the central or heap lock only through central.c / pageheap.c.
 * Callers: the background sweeper, program threads (allocation slow paths), the collector
 *   before it stops the world. Never with the world stopped except scvgc_sweep_begin.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gc.h"
#include "lock.h"
#include "mark.h"
#include "sweep.h"

_Atomic uint32_t scvgc_sweepgen = 2;
int scvgc_collecting;
scvgc_sweepstats_t scvgc_sweepstats;

#define GRACE_NS 100000000ull /* an idle cache's spans are swept for it after 100 ms */
#define WB_BATCH 8            /* mark-stack spans freed between two yields */

static struct {
  scvgc_span_t **spans; /* the list (own mapping); spans[0..n) */
  size_t n, cap;
  _Atomic size_t next;  /* pass-1 claim index */
  _Atomic int busy;     /* sweepers inside the list */
  _Atomic int open;     /* the list may be used */
  _Atomic uint32_t epoch; /* bumped when a new list is ready (futex word of the sweeper) */
  _Atomic size_t unswept_pages; /* listed pages not yet swept (an estimate, for pacing) */
  _Atomic size_t credit_alloc, credit_swept; /* proportional sweeping, in pages */
  size_t ratio16;       /* pages to sweep per page allocated, times 65536 */
  uint64_t begin_ns;
  _Atomic int complete; /* every listed span swept (pacing may use the heap figure) */
  _Atomic int wb_pending; /* the mark stack's spans wait to be freed */
  bool overflow;        /* S6: a span found no room on the list being made */
} sw;

static long futex(_Atomic uint32_t *w, int op, uint32_t val, const struct timespec *ts) {
  return syscall(SYS_futex, w, op | FUTEX_PRIVATE_FLAG, val, ts, NULL, 0);
}

static void stat_add(uint64_t *f, uint64_t n) { __atomic_fetch_add(f, n, __ATOMIC_RELAXED); }

/* ---- the reclaim table: (stack) -> objects, bytes ---------------------------------------- */

static scvgc_lock_t reclaim_lock = SCVGC_LOCK_RANKED(SCVGC_RANK_RECLAIM);
static scvgc_reclaim_t *rtab;
static size_t rcap, rused;

static bool rtab_grow(void) {
  size_t cap = rcap ? rcap * 2 : 256;
  scvgc_reclaim_t *n = scvgc_sys_map_meta(cap * sizeof *n);
  if (!n) return false;
  for (size_t i = 0; i < rcap; i++) {
    if (!rtab[i].objects) continue;
    size_t h = (rtab[i].stack * 2654435761u) & (cap - 1);
    while (n[h].objects) h = (h + 1) & (cap - 1);
    n[h] = rtab[i];
  }
  if (rtab) scvgc_sys_unmap_meta(rtab, rcap * sizeof *rtab);
  rtab = n;
  rcap = cap;
  return true;
}

/* What one span's sweep reclaimed, by stack, flushed to the table once per span (or when
 * it holds more stacks than it has room for). */
#define ACC_N 8
typedef struct {
  uint32_t stack[ACC_N];
  uint64_t objects[ACC_N], bytes[ACC_N];
  int n;
} acc_t;

static void acc_flush(acc_t *a) {
  if (!a->n) return;
  uint64_t objs = 0, bytes = 0;
  scvgc_lock(&reclaim_lock);
  for (int k = 0; k < a->n; k++) {
    objs += a->objects[k];
    bytes += a->bytes[k];
    if ((rused + 1) * 2 > rcap && !rtab_grow()) continue; /* totals below stay right */
    size_t h = (a->stack[k] * 2654435761u) & (rcap - 1);
    while (rtab[h].objects && rtab[h].stack != a->stack[k]) h = (h + 1) & (rcap - 1);
    if (!rtab[h].objects) {
      rtab[h].stack = a->stack[k];
      rused++;
    }
    rtab[h].objects += a->objects[k];
    rtab[h].bytes += a->bytes[k];
  }
  scvgc_unlock(&reclaim_lock);
  stat_add(&scvgc_sweepstats.objects, objs);
  stat_add(&scvgc_sweepstats.bytes, bytes);
  a->n = 0;
}

static void acc_add_n(acc_t *a, uint32_t stack, uint64_t objects, uint64_t bytes) {
  for (int k = 0; k < a->n; k++)
    if (a->stack[k] == stack) {
      a->objects[k] += objects;
      a->bytes[k] += bytes;
      return;
    }
  if (a->n == ACC_N) acc_flush(a);
  a->stack[a->n] = stack;
  a->objects[a->n] = objects;
  a->bytes[a->n] = bytes;
  a->n++;
}

static void acc_add(acc_t *a, uint32_t stack, uint64_t bytes) { acc_add_n(a, stack, 1, bytes); }

long scvgc_sweep_copy_reclaimed(scvgc_reclaim_t **out) {
  size_t want = 0;
  for (;;) {
    scvgc_reclaim_t *buf = want ? malloc(want * sizeof *buf) : NULL;
    if (want && !buf) return -1;
    scvgc_lock(&reclaim_lock);
    if (rused <= want) {
      size_t n = 0;
      for (size_t i = 0; i < rcap; i++)
        if (rtab[i].objects) buf[n++] = rtab[i];
      scvgc_unlock(&reclaim_lock);
      *out = buf;
      return (long)n;
    }
    want = rused;
    scvgc_unlock(&reclaim_lock);
    free(buf);
  }
}

/* ---- sweeping one span ------------------------------------------------------------------- */

/* The dead objects of small span s (S3: allocated, not marked), unlinked from nothing —
 * they were on no list — and made free: metadata cleared (S4 ends here), the double-free
 * key set, linked through word 0 into *head..*tail. Returns how many. */
static uint32_t collect_dead_lean(scvgc_span_t *s, const uint64_t *marks, void **head, void **tail,
                                  acc_t *acc);

/* The sweeper's snapshot of s (L3): read while it holds the span's sweep, before and after,
 * so a span freed and reused under a remote sweeper is never read half old, half new (a
 * re-take's stores come after the free's sweepgen store, which the second check would see). */
static bool snapshot(scvgc_span_t *s, uint32_t sg, void **meta, uintptr_t *base, uintptr_t *size,
                     uint32_t *n) {
  if (__atomic_load_n(&s->sweepgen, __ATOMIC_ACQUIRE) != sg - 1) return false;
  *meta = s->meta;
  *base = s->base;
  *size = s->elemsize;
  *n = s->nelems;
  return __atomic_load_n(&s->sweepgen, __ATOMIC_ACQUIRE) == sg - 1 && *meta && *size && *n &&
         *n <= (SCVGC_PAGE_SIZE / SCVGC_ALIGN + 63) / 64 * 4 * 64;
}

static uint32_t collect_dead(scvgc_span_t *s, void **head, void **tail, acc_t *acc) {
  uint32_t sg = scvgc_sweepgen_now(), n, k = 0;
  void *mb;
  uintptr_t base, size;
  if (!snapshot(s, sg, &mb, &base, &size, &n)) return 0;
  /* the layout by the class of the snapshot (internal.h scvgc_class_lean), the block read
   * once: a remote sweeper's span may be freed under it, its fields cleared */
  if (scvgc_class_lean((uint32_t)size)) return collect_dead_lean(s, mb, head, tail, acc);
  scvgc_objmeta_t *meta = mb;
  void **h = NULL, **t = NULL;
  /* read all, then free only if the span is still this sweeper's (L3: in a lean heap a freed
   * full block may be handed to a lean span, whose bitmaps would read as sizes) */
  uint64_t dead[(SCVGC_PAGE_SIZE / SCVGC_ALIGN + 63) / 64 * 4] = {0};
  for (uint32_t i = 0; i < n; i++) {
    uint32_t v = __atomic_load_n(&meta[i].size, __ATOMIC_RELAXED);
    if (v && !(v & SCVGC_META_MARK)) dead[i / 64] |= 1ull << (i % 64);
  }
  if (__atomic_load_n(&s->sweepgen, __ATOMIC_ACQUIRE) != sg - 1) return 0;
  for (uint32_t w = 0; w < scvgc_bitmap_words(n); w++)
    for (uint64_t d = dead[w]; d; d &= d - 1) {
      uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(d);
      uint32_t v = __atomic_load_n(&meta[i].size, __ATOMIC_RELAXED); /* dead: unchanged */
      void **o = (void **)(base + (uintptr_t)i * size);
      acc_add(acc, meta[i].stack, v - 1);
      __atomic_store_n(&meta[i].size, 0, __ATOMIC_RELAXED);
      o[1] = (void *)(scvgc_free_key ^ (uintptr_t)o);
      scvgc_link_set(o, h);
      h = o;
      if (!t) t = o;
      k++;
    }
  *head = h;
  *tail = t;
  return k;
}

/* The same in the lean layout (internal.h L1-L3). A slot is dead when it holds an object
 * (scvgc_lean_allocated: not past ncarved, not parked, no key in word 1) and, read after
 * that word, no mark bit (L1: an allocation sets the bit before it clears the key), and
 * relmask read after the word does not say parked (a page released meanwhile reads zero:
 * central.c sets the bit before the madvise). The slots are read first and freed only if
 * this sweeper still holds the span's sweep (L3). */
static uint32_t collect_dead_lean(scvgc_span_t *s, const uint64_t *marks, void **head, void **tail,
                                  acc_t *acc) {
  uint32_t sg = scvgc_sweepgen_now(), k = 0, n;
  /* L3: a snapshot while it is ours (a span freed and reused under a remote sweeper may
   * describe anything by now, a huge block too), and the check again before any write */
  void *mb;
  uintptr_t base, size;
  if (!snapshot(s, sg, &mb, &base, &size, &n) || mb != marks) return 0;
  uint64_t dead[(SCVGC_PAGE_SIZE / SCVGC_ALIGN + 63) / 64 * 4]; /* nelems <= 2048 */
  uint32_t nw = scvgc_bitmap_words(n);
  for (uint32_t w = 0; w < nw; w++) {
    uint64_t cand = ~__atomic_load_n(&marks[w], __ATOMIC_ACQUIRE), d = 0;
    if (w == nw - 1 && n % 64) cand &= (1ull << (n % 64)) - 1;
    for (; cand; cand &= cand - 1) {
      uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(cand);
      void **o = (void **)(base + (uintptr_t)i * size);
      if (!scvgc_lean_allocated(s, i, o) || ((__atomic_load_n(&marks[w], __ATOMIC_ACQUIRE) >> (i % 64)) & 1) ||
          scvgc_lean_parked(s, i))
        continue;
      d |= 1ull << (i % 64);
    }
    dead[w] = d;
  }
  if (__atomic_load_n(&s->sweepgen, __ATOMIC_ACQUIRE) != sg - 1) return 0; /* L3 */
  void **h = NULL, **t = NULL;
  uint32_t plain = 0; /* dead objects without a special: counted together, by slot size */
  uintptr_t key = scvgc_free_key;
  for (uint32_t w = 0; w < nw; w++) {
    for (uint64_t d = dead[w]; d; d &= d - 1) {
      uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(d);
      void **o = (void **)(base + (uintptr_t)i * size);
      uint32_t stack, bytes;
      if (unlikely(SCVGC_RACY_LOAD(s->nspecial)) && scvgc_special_take(s, (uintptr_t)o, &stack, &bytes))
        acc_add(acc, stack, bytes);
      else
        plain++;
      o[1] = (void *)(key ^ (uintptr_t)o);
      scvgc_link_set(o, h);
      h = o;
      if (!t) t = o;
      k++;
    }
  }
  if (plain) acc_add_n(acc, 0, plain, (uint64_t)plain * size);
  *head = h;
  *tail = t;
  return k;
}

uint32_t scvgc_sweep_collect_dead(scvgc_span_t *s, void **head, void **tail) {
  acc_t acc = {.n = 0};
  uint32_t k = collect_dead(s, head, tail, &acc);
  acc_flush(&acc);
  return k;
}

/* In place: the caller owns s and holds its sweep (sg - 1). */
static uint32_t sweep_in_place(scvgc_span_t *s, acc_t *acc) {
  void *h, *t;
  uint32_t k = collect_dead(s, &h, &t, acc);
  if (k) {
    scvgc_link_set(t, s->freelist);
    s->freelist = h;
    s->nfreelist += k;
    stat_add(&scvgc_sweepstats.small_objects, k);
  }
  return k;
}

/* S7 A central lean span that the mark left without a single mark bit (and that has no
 *    special: no sampled or library object) holds only dead objects and free slots: it goes
 *    to the heap whole (central.c C7) without its objects being read or linked — a GCBench
 *    span of temporary nodes is mostly such. True when it did (the objects are counted). */
static bool sweep_whole_dead(scvgc_span_t *s, acc_t *acc) {
  uint32_t sg = scvgc_sweepgen_now(), n, dead;
  void *mb;
  uintptr_t base, size;
  if (!snapshot(s, sg, &mb, &base, &size, &n) || !scvgc_class_lean((uint32_t)size) ||
      SCVGC_RACY_LOAD(s->nspecial) || __atomic_load_n(&s->relmask, __ATOMIC_RELAXED) ||
      !(atomic_load_explicit(&s->xfree, memory_order_relaxed) & SCVGC_XF_CENTRAL))
    return false; /* a hint only (an owned span's for_owner sweep: no central lock taken to
                     refuse it); C7 decides under the lock */
  const uint64_t *marks = mb;
  uint32_t nw = scvgc_bitmap_words(n);
  for (uint32_t w = 0; w < nw; w++) {
    uint64_t m = __atomic_load_n(&marks[w], __ATOMIC_ACQUIRE);
    if (w == nw - 1 && n % 64) m &= (1ull << (n % 64)) - 1;
    if (m) return false;
  }
  if (!scvgc_central_free_dead(s, sg - 1, &dead)) return false;
  if (dead) {
    stat_add(&scvgc_sweepstats.small_objects, dead);
    acc_add_n(acc, 0, dead, (uint64_t)dead * size);
  }
  stat_add(&scvgc_sweepstats.spans_whole, 1);
  return true;
}

/* Remote: the caller holds the sweep of s but not its lists. The push may hand the span
 * back to the heap (it was all dead): s is not touched after it but for the final CAS. */
static void sweep_remote(scvgc_span_t *s, acc_t *acc) {
  if (sweep_whole_dead(s, acc)) return; /* S7 */
  void *h, *t;
  uint32_t k = collect_dead(s, &h, &t, acc);
  if (k) {
    stat_add(&scvgc_sweepstats.small_objects, k);
    scvgc_central_remote_free_list(s, h, t, k);
  }
}

static bool claim(scvgc_span_t *s, uint32_t from, uint32_t sg) {
  return __atomic_compare_exchange_n(&s->sweepgen, &from, sg - 1, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED);
}

/* The end of a sweep (S2): a CAS, since s may have been freed (and reused) meanwhile. */
static void release_claim(scvgc_span_t *s, uint32_t sg, uint32_t to) {
  uint32_t v = sg - 1;
  __atomic_compare_exchange_n(&s->sweepgen, &v, to, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

static void unswept_sub(size_t np) {
  size_t u = atomic_load_explicit(&sw.unswept_pages, memory_order_relaxed);
  while (u && !atomic_compare_exchange_weak_explicit(&sw.unswept_pages, &u, u > np ? u - np : 0,
                                                     memory_order_relaxed, memory_order_relaxed)) {}
}

/* Sweep listed span s if it needs it: unowned ones always, stale cached ones when
 * for_owner (their owner did not come back). Returns its pages when this call swept it. */
static size_t sweep_entry(scvgc_span_t *s, bool for_owner, uint64_t *route) {
  uint32_t sg = scvgc_sweepgen_now();
  uint32_t v = scvgc_span_sweepgen(s);
  uint32_t to;
  if (v == sg - 2) to = sg;
  else if (v == sg + 1 && for_owner) to = sg + 3;
  else return 0;
  if (!claim(s, v, sg)) return 0;
  size_t np = s->npages;
  acc_t acc = {.n = 0};
  uint8_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
  if (st == SCVGC_SPAN_SMALL) {
    sweep_remote(s, &acc);
    release_claim(s, sg, to);
  } else if (st == SCVGC_SPAN_LARGE) {
    void *meta = NULL;
    uint32_t stack = 0;
    size_t bytes = 0;
    if (scvgc_heap_sweep_large(s, sg, &meta, &stack, &bytes)) {
      acc_add(&acc, stack, bytes);
      scvgc_meta_free(meta, scvgc_objmeta_bytes(1));
      stat_add(&scvgc_sweepstats.spans_freed, 1);
    }
  } else {
    release_claim(s, sg, to); /* cannot happen (S2: freed spans are at sg) */
  }
  acc_flush(&acc);
  unswept_sub(np);
  stat_add(route, 1);
  return np;
}

/* ---- transitions of cached spans ---------------------------------------------------------- */

/* A sweeper holds s: claimed in this generation (sg - 1), or in the last one by a thread
 * the world stopped in the middle of it (sg - 3, see list_span). */
static bool in_sweep(uint32_t v, uint32_t sg) { return v == sg - 1 || v == sg - 3; }

static void wait_sweeper(unsigned *spins) {
  if (++*spins < 64) __builtin_ia32_pause();
  else sched_yield();
}

void scvgc_sweep_cache(scvgc_span_t *s) {
  if (!scvgc_collecting) return;
  unsigned spins = 0;
  for (;;) {
    uint32_t sg = scvgc_sweepgen_now(), v = scvgc_span_sweepgen(s);
    if (v == sg - 2) {
      if (!claim(s, v, sg)) continue;
      acc_t acc = {.n = 0};
      sweep_in_place(s, &acc);
      acc_flush(&acc);
      unswept_sub(s->npages);
      stat_add(&scvgc_sweepstats.spans_alloc, 1);
      __atomic_store_n(&s->sweepgen, sg + 3, __ATOMIC_RELEASE);
      return;
    }
    if (in_sweep(v, sg)) { /* a remote sweeper is on it: safe for the new owner, but wait */
      wait_sweeper(&spins);
      continue;
    }
    if (__atomic_compare_exchange_n(&s->sweepgen, &v, sg + 3, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_RELAXED))
      return;
  }
}

void scvgc_sweep_uncache(scvgc_span_t *s) {
  if (!scvgc_collecting) return;
  unsigned spins = 0;
  for (;;) {
    uint32_t sg = scvgc_sweepgen_now(), v = scvgc_span_sweepgen(s);
    uint32_t to = v == sg + 3 ? sg : v == sg + 1 ? sg - 2 : v;
    if (in_sweep(v, sg)) {
      wait_sweeper(&spins);
      continue;
    }
    if (to == v ||
        __atomic_compare_exchange_n(&s->sweepgen, &v, to, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
      return;
  }
}

uint32_t scvgc_sweep_cached(scvgc_span_t *s) {
  unsigned spins = 0;
  for (;;) {
    uint32_t sg = scvgc_sweepgen_now(), v = scvgc_span_sweepgen(s);
    if (v == sg + 1) {
      if (!claim(s, v, sg)) continue;
      acc_t acc = {.n = 0};
      uint32_t k = sweep_in_place(s, &acc);
      acc_flush(&acc);
      unswept_sub(s->npages);
      stat_add(&scvgc_sweepstats.spans_owner, 1);
      __atomic_store_n(&s->sweepgen, sg + 3, __ATOMIC_RELEASE);
      return k;
    }
    if (!in_sweep(v, sg)) return 0;
    wait_sweeper(&spins); /* swept for us by the background sweeper right now */
  }
}

/* ---- the list ------------------------------------------------------------------------------ */

static bool list_enter(void) {
  atomic_fetch_add(&sw.busy, 1);
  if (atomic_load(&sw.open)) return true;
  atomic_fetch_sub(&sw.busy, 1);
  return false;
}

static void list_leave(void) { atomic_fetch_sub(&sw.busy, 1); }

/* One pass-1 entry: false when the list is used up. */
static bool sweep_one(uint64_t *route, size_t *pages) {
  if (!atomic_load_explicit(&sw.open, memory_order_relaxed)) return false; /* S5 */
  size_t i = atomic_fetch_add(&sw.next, 1);
  if (i >= sw.n) return false;
  *pages += sweep_entry(sw.spans[i], false, route);
  return true;
}

size_t scvgc_sweep_room(void) { return sw.cap; }

bool scvgc_sweep_reserve(void) {
  if (!scvgc_collecting) return true;
  scvgc_heapstat_t hs;
  scvgc_heap_stats_locked(&hs);
  size_t need = hs.inuse_pages + 1; /* every span has at least one page */
  if (need <= sw.cap) return true;
  size_t cap = need + need / 4 + 1024;
  scvgc_span_t **n = scvgc_sys_map_meta(cap * sizeof *n);
  if (!n) return false;
  if (sw.spans) scvgc_sys_unmap_meta(sw.spans, sw.cap * sizeof *n);
  sw.spans = n;
  sw.cap = cap;
  sw.n = 0;
  return true;
}

/* World stopped, sg not advanced yet. A span the last sweep did not reach (handed back
 * after sweep termination went by, or cached and not flushed) is relabelled so that it is
 * still to be swept in the new generation — with the new marks, which is right: what was
 * unreachable then is unreachable now. A span a stopped thread is sweeping keeps its
 * value, sg - 3 after the advance: that sweeper ends it (its final store is the old
 * generation's, which reads as "to sweep" in the new one), and everybody waits it out. */
static void list_span(scvgc_span_t *s, void *arg) {
  size_t *pages = arg;
  if ((s->state != SCVGC_SPAN_SMALL && s->state != SCVGC_SPAN_LARGE) || !s->meta) return;
  uint32_t sg = scvgc_sweepgen_now(), v = s->sweepgen;
  if (v == sg - 2) __atomic_store_n(&s->sweepgen, sg, __ATOMIC_RELAXED);
  else if (v == sg + 1) __atomic_store_n(&s->sweepgen, sg + 3, __ATOMIC_RELAXED);
  /* S1 as the list is made: swept, swept and cached, or in a stopped sweeper's hands */
  SCVGC_ASSERT(s->sweepgen == sg || s->sweepgen == sg + 3 || s->sweepgen == sg - 1);
  if (sw.n == sw.cap) { /* S6: cannot happen, reserve counted every page; never half a list */
    sw.overflow = true;
    return;
  }
  sw.spans[sw.n++] = s;
  *pages += s->npages;
}

/* The checker of the state table (sweep.h): every in-use object span's sweepgen is one of
 * its states against sg — needs sweeping (sg - 2), being swept (sg - 1, or sg - 3: a sweep
 * of the generation before, which its sweeper ends with the old generation's value), swept
 * (sg), cached before the sweep (sg + 1), swept and cached (sg + 3) — and only a small span
 * is ever cached. Only in collect mode (elsewhere no span is swept). Heap lock held (the
 * span walk): the collector at each cycle's start in the debug build (gc.c), and tests. */
static void check_span(scvgc_span_t *s, void *arg) {
  (void)arg;
  if ((s->state != SCVGC_SPAN_SMALL && s->state != SCVGC_SPAN_LARGE) || !s->meta) return;
  uint32_t d = scvgc_span_sweepgen(s) - scvgc_sweepgen_now();
  SCVGC_CHECK(d == (uint32_t)-3 || d == (uint32_t)-2 || d == (uint32_t)-1 || d == 0 || d == 1 ||
              d == 3);
  SCVGC_CHECK(s->state == SCVGC_SPAN_SMALL || (d != 1 && d != 3));
}

void scvgc_sweep_check(void) {
  if (!scvgc_collecting) return;
  SCVGC_CHECK(!(scvgc_sweepgen_now() & 1)); /* sg moves by 2 */
  scvgc_heap_foreach_span(check_span, NULL);
}

void scvgc_sweep_begin(bool reclaim, size_t live, size_t goal) {
  scvgc_wb_retire(); /* every mode: the mark stack is empty now (W2) */
  atomic_store(&sw.wb_pending, 1);
  if (!reclaim || !scvgc_collecting || !sw.spans) return;
  size_t pages = 0;
  sw.n = 0;
  sw.overflow = false;
  scvgc_heap_foreach_span(list_span, &pages);
  if (sw.overflow) { /* S6: no sweep rather than one that misses spans (the list stays shut) */
    sw.n = 0;
    return;
  }
  atomic_store(&sw.next, 0);
  atomic_store(&sw.unswept_pages, pages);
  atomic_store(&sw.credit_alloc, 0);
  atomic_store(&sw.credit_swept, 0);
  size_t dist = goal > live ? (goal - live) >> SCVGC_PAGE_SHIFT : 0;
  sw.ratio16 = (pages << 16) / (dist ? dist : 1);
  sw.begin_ns = scvgc_nanotime();
  atomic_store(&sw.complete, 0);
  /* S1: every listed span is at sg or sg + 3 here (finish ran before the stop) */
  atomic_store_explicit(&scvgc_sweepgen, scvgc_sweepgen_now() + 2, memory_order_release);
  atomic_store(&sw.open, 1);
}

void scvgc_sweep_wake(void) {
  atomic_fetch_add(&sw.epoch, 1);
  futex(&sw.epoch, FUTEX_WAKE, 1, NULL);
}

size_t scvgc_sweep_unswept_bytes(void) {
  return atomic_load_explicit(&sw.unswept_pages, memory_order_relaxed) << SCVGC_PAGE_SHIFT;
}

void scvgc_sweep_credit(size_t npages) {
  if (!scvgc_collecting || !atomic_load_explicit(&sw.open, memory_order_relaxed)) return;
  size_t a = atomic_fetch_add(&sw.credit_alloc, npages) + npages;
  size_t target = (size_t)(((unsigned __int128)a * sw.ratio16) >> 16);
  if (atomic_load(&sw.credit_swept) >= target || !list_enter()) return;
  size_t pages = 0;
  while (atomic_load(&sw.credit_swept) + pages < target)
    if (!sweep_one(&scvgc_sweepstats.spans_alloc, &pages)) break;
  atomic_fetch_add(&sw.credit_swept, pages);
  list_leave();
}

static void trace_sweep(const char *who) {
  if (scvgc_opt.trace < 2) return;
  const scvgc_sweepstats_t *t = &scvgc_sweepstats;
  uint64_t ms = (scvgc_nanotime() - sw.begin_ns) / 1000;
  scvgc_message("sweep %lu: %lu.%03lu ms after the cycle, done by %s; %lu objects (%lu KB) reclaimed "
                "in all, spans swept by sweeper/alloc/owner/finish %lu/%lu/%lu/%lu, %lu large freed, "
                "%lu mark-stack spans freed, %lu small spans freed whole",
                (unsigned long)t->cycles, (unsigned long)(ms / 1000), (unsigned long)(ms % 1000), who,
                (unsigned long)t->objects, (unsigned long)(t->bytes >> 10), (unsigned long)t->spans_bg,
                (unsigned long)t->spans_alloc, (unsigned long)t->spans_owner,
                (unsigned long)t->spans_finish, (unsigned long)t->spans_freed,
                (unsigned long)t->wb_spans_freed, (unsigned long)t->spans_whole);
}

/* Everything listed is swept: pacing may trust the heap figure again. */
static void complete(const char *who) {
  int z = 0;
  if (!atomic_compare_exchange_strong(&sw.complete, &z, 1)) return;
  atomic_store(&sw.unswept_pages, 0);
  stat_add(&scvgc_sweepstats.cycles, 1);
  scvgc_gc_sweep_done();
  trace_sweep(who);
}

/* Sweep every listed span that is owned by no cache and still needs it. */
static void sweep_list(uint64_t *route) {
  for (size_t i = 0; i < sw.n && atomic_load_explicit(&sw.open, memory_order_relaxed); i++) /* S5 */
    sweep_entry(sw.spans[i], false, route);
}

/* Sweep every listed span that still needs it, stale cached ones included (for their
 * owners), and wait for sweepers in the middle of one. The background sweeper (helper)
 * stops when the list closes (S5); finish, which closes it, goes through. */
static size_t sweep_all(uint64_t *route, bool helper) {
  size_t swept = 0;
  for (size_t i = 0; i < sw.n; i++) {
    if (helper && !atomic_load_explicit(&sw.open, memory_order_relaxed)) break; /* S5 */
    scvgc_span_t *s = sw.spans[i];
    unsigned spins = 0;
    for (;;) {
      if (sweep_entry(s, true, route)) swept++;
      uint32_t sg = scvgc_sweepgen_now(), v = scvgc_span_sweepgen(s);
      if (!in_sweep(v, sg) && v != sg - 2 && v != sg + 1) break;
      wait_sweeper(&spins);
    }
  }
  return swept;
}

size_t scvgc_sweep_finish(void) {
  if (!scvgc_collecting || !atomic_load(&sw.open)) return 0;
  size_t swept = 0;
  if (list_enter()) {
    swept = sweep_all(&scvgc_sweepstats.spans_finish, false);
    list_leave();
  }
  atomic_store(&sw.open, 0);
  while (atomic_load(&sw.busy)) sched_yield();
  complete("sweep termination");
  return swept;
}

/* ---- the background sweeper ---------------------------------------------------------------- */

static _Atomic int sweeper_running; /* B1 */

static void *sweeper_main(void *arg) {
  (void)arg;
  scvgc_gc_worker = 1; /* never starts a cycle from its own allocations (it makes none) */
  uint32_t seen = 0;
  for (;;) {
    uint32_t e;
    while ((e = atomic_load(&sw.epoch)) == seen) futex(&sw.epoch, FUTEX_WAIT, seen, NULL);
    seen = e;
    if (atomic_load(&scvgc_libthreads_quit)) return NULL; /* own.c L3 */
    if (scvgc_gc_background_pending()) { /* gc.c B1: a cycle pacing asked for */
      scvgc_gc_background_run();
      seen = atomic_load(&sw.epoch) - 1; /* and sweep what it left, without waiting */
      continue;
    }
    if (list_enter()) { /* pass 1: unowned spans, in list order */
      size_t pages = 0;
      for (int k = 1; sweep_one(&scvgc_sweepstats.spans_bg, &pages); k++) {
        if (k % 16 == 0) sched_yield();
        if (scvgc_gc_background_pending()) break; /* gc.c B1: its sweep termination ends this */
      }
      /* and the spans owners handed back meanwhile (a flush follows every cycle at once) */
      sweep_list(&scvgc_sweepstats.spans_bg);
      list_leave();
    }
    /* the mark stack's spans, a batch at a time */
    if (atomic_exchange(&sw.wb_pending, 0)) {
      size_t n;
      while ((n = scvgc_wb_release(WB_BATCH))) {
        stat_add(&scvgc_sweepstats.wb_spans_freed, n);
        sched_yield();
      }
    }
    /* pass 2, after a grace period for the owners of cached spans to flush them: what is
     * left (spans handed back after pass 1 went by, idle owners' spans) */
    struct timespec ts = {0, (long)GRACE_NS};
    if (atomic_load(&sw.epoch) == seen) futex(&sw.epoch, FUTEX_WAIT, seen, &ts);
    if (atomic_load(&scvgc_libthreads_quit)) return NULL;
    if (atomic_load(&sw.epoch) != seen || !list_enter()) continue;
    sweep_all(&scvgc_sweepstats.spans_bg, true);
    list_leave();
    complete("the sweeper");
  }
  return NULL;
}

void scvgc_sweep_start_thread(void) {
  static _Atomic int started;
  if (!scvgc_tracking || atomic_exchange(&started, 1)) return;
  if (scvgc_libthread_start(sweeper_main, NULL)) atomic_store(&sweeper_running, 1);
}

bool scvgc_sweep_thread_running(void) {
  return atomic_load(&sweeper_running) && !atomic_load(&scvgc_libthreads_quit);
}

/* ---- fork ------------------------------------------------------------------------------------ */

void scvgc_sweep_fork_prepare(void) { scvgc_lock(&reclaim_lock); }
void scvgc_sweep_fork_parent(void) { scvgc_unlock(&reclaim_lock); }

/* The child has only the forking thread: a sweep another thread was in the middle of will
 * never end. Its span is taken as swept (the dead objects it had unlinked but not yet
 * pushed are lost to the child: never reused, never corrupting). */
void scvgc_sweep_fork_child(void) {
  scvgc_lock_reset(&reclaim_lock);
  atomic_store(&sweeper_running, 0); /* no sweeper in the child: no background cycle (B1) */
  atomic_store(&sw.busy, 0);
  if (!atomic_load(&sw.open)) return;
  uint32_t sg = scvgc_sweepgen_now();
  for (size_t i = 0; i < sw.n; i++) {
    scvgc_span_t *s = sw.spans[i];
    if (in_sweep(scvgc_span_sweepgen(s), sg))
      __atomic_store_n(&s->sweepgen, s->owner ? sg + 3 : sg, __ATOMIC_RELAXED);
  }
}
