/* alloc.c — the allocator's entry points (Go's malloc.go). Start reading here.
 *
 * The allocation path. A request of n <= 32 KiB is rounded to a size class
 * (sizeclass.c). The calling thread's cache (tcache.c, static TLS) holds, per class, one
 * span and a free list of that span's objects: malloc pops the list — no lock, no atomic
 * instruction. When the list is empty the cache refills from the span's never-used tail,
 * then from objects other threads freed into the span (its lock-free xfree list); when the
 * span has nothing left the cache gives it to the class's central list and takes a span
 * with free objects from there, or a new one from the page heap (central.c,
 * pageheap.c). Larger requests get a span of their own from the page heap, under its lock;
 * from SCVGC_HUGE_MIN on (or aligned beyond an arena), a mapping of their own (pageheap.c
 * "huge spans": no page table, unmapped when freed).
 *
 * The free path. The address -> span map (two loads) gives the object's span. If the
 * calling thread's cache owns it, the object goes back on the cache's list — again no
 * lock and no atomic. Otherwise it is pushed on the span's xfree list with one CAS: frees
 * from other threads scale, with no global lock. The central lock is taken only when such
 * a push changes the span's central state (it was full, or is now wholly free).
 *
 * Side metadata. In modes leak and collect (scvgc_tracking), each object has an
 * scvgc_objmeta_t (stack id, requested size) that says whether it is allocated; mode off
 * never touches it. The lean layout (collect mode's default, internal.h) has none: its
 * common allocation — unsampled, no cycle running, the span swept — only clears the key,
 * inline in the fast path (alloc_fast.h scvgc_track_lean_fast); scvgc_track does the rest. With SCVGC_SAMPLE (collect mode's default) only sampled objects get a
 * stack, the others stack 0 ("sampling" below). Bad frees are found by checking the slot (start of an object of an
 * in-use span) and, for double frees, the metadata or, in mode off, a per-process key
 * that free() stores in the object's second word (cleared again by malloc).
 *
 * Errors: out of memory returns NULL with errno ENOMEM (so does an alignment above
 * SCVGC_MAX_ALIGN); a success leaves errno as it was; a bad free prints one diagnostic
 * (diag.c) and changes nothing; free keeps errno (its slow paths save it). Pointers this
 * heap does not own are the shim's business (it hands them to glibc): scvgc_free and
 * friends must only be given NULL or owned ones.
 *
 * Callers: program threads, through preload/shim.c or directly (tests). Not safe with the
 * world stopped (it may take locks) nor in a signal handler interrupting malloc — except
 * fork() from such a handler, in a program with no other thread (see "fork" below).
 * Every path that may take a core lock counts itself in scvgc_in_alloc (alloc_fast.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "alloc_fast.h"
#include "gc.h"
#include "report.h"
#include "stack.h"
#include "lock.h"
#include "mark.h"
#include "sweep.h"

int scvgc_inited;
uintptr_t scvgc_free_key;
uintptr_t scvgc_link_key; /* L1 (internal.h) */
__thread uint32_t scvgc_in_alloc __attribute__((tls_model("initial-exec")));

static _Atomic int init_state; /* 0 none, 1 running, 2 done */

/* Idempotent, allocation-free start-up; runs inside the first malloc. Anything that may
 * allocate or start threads is done by the shim's constructor instead. */
void scvgc_init(void) {
  if (likely(atomic_load_explicit(&init_state, memory_order_acquire) == 2)) return;
  int expect = 0;
  if (atomic_compare_exchange_strong(&init_state, &expect, 1)) {
    const void *r = (const void *)getauxval(AT_RANDOM); /* 16 bytes, not aligned */
    uint64_t k[2] = {(uintptr_t)&init_state, scvgc_nanotime()};
    if (r) memcpy(k, r, sizeof k);
    scvgc_free_key = (k[0] ^ k[1]) | 1;
    /* L1's secret: another function of the 16 random bytes, so that reading one key out of
     * a freed object (word 1 holds scvgc_free_key ^ its address) does not give the other */
    scvgc_link_key = (k[0] * 0x9e3779b97f4a7c15ull) ^ ((k[1] << 29) | (k[1] >> 35)) ^ 0x5bd1e995u;
    scvgc_options_init();
    scvgc_inited = 1;
    atomic_store_explicit(&init_state, 2, memory_order_release);
    return;
  }
  while (atomic_load_explicit(&init_state, memory_order_acquire) != 2) __builtin_ia32_pause();
}

/* ---- sampling ----------------------------------------------------------------------------
 * SCVGC_SAMPLE = R > 0: a thread captures the stack of the allocation during which its
 * R-mean exponential byte countdown runs out (Go's MemProfileRate, tcmalloc's and jemalloc's
 * sampling): each byte is sampled with probability 1/R, so an object of size s is sampled
 * with probability 1 - exp(-s/R) and big and small objects are sampled in proportion to
 * their bytes. Unsampled objects get stack 0; report.c scales the sampled groups back to
 * estimates (Go's scaleHeapSample). A capture is the allocation's main cost: at 512 KiB
 * nearly all small allocations skip it. Per-thread state only: no lock, no atomic. */

/* bytes this thread allocates before its next sampled allocation; 0: not drawn yet (a new
 * thread) */
__thread uint64_t scvgc_sample_left __attribute__((tls_model("initial-exec")));
#define sample_left scvgc_sample_left
static __thread uint64_t sample_rng __attribute__((tls_model("initial-exec"))); /* splitmix64 */

/* ln(u) for u in (0, 1], to about 1e-7 (no libm in the library): u = 2^e * m, m in [1, 2),
 * ln m = 2 atanh((m-1)/(m+1)) by its series. */
static double ln01(double u) {
  uint64_t b;
  memcpy(&b, &u, sizeof b);
  int e = (int)((b >> 52) & 0x7ff) - 1023;
  b = (b & ((1ull << 52) - 1)) | (1023ull << 52);
  double m;
  memcpy(&m, &b, sizeof m);
  double t = (m - 1) / (m + 1), t2 = t * t;
  double lnm = 2 * t * (1 + t2 * (1.0 / 3 + t2 * (1.0 / 5 + t2 * (1.0 / 7 + t2 * (1.0 / 9 + t2 / 11)))));
  return e * 0.6931471805599453 + lnm;
}

/* The next countdown: an exponential variate of mean rate, at least 1. Exposed for tests. */
uint64_t scvgc_sample_draw(uint64_t rate) {
  if (unlikely(!sample_rng))
    sample_rng = (scvgc_free_key ^ (uintptr_t)&sample_rng ^ scvgc_nanotime()) | 1;
  uint64_t z = (sample_rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  double u = (double)((z >> 11) + 1) * (1.0 / 9007199254740992.0); /* (0, 1] */
  double x = -ln01(u) * (double)rate;
  if (x < 1) return 1;
  return x > 1e18 ? (uint64_t)1e18 : (uint64_t)x;
}

/* The stack of an allocation of n bytes: captured, or 0 when this one is not sampled.
 * Inlined: its frame would be one the walker does not know as the library's (unwind.c
 * self_fns, where the core is linked into the program). */
static inline __attribute__((always_inline)) uint32_t sampled_stack(size_t n) {
  uint64_t rate = scvgc_opt.sample, left = sample_left;
  if (!rate) return scvgc_stack_capture();
  if (unlikely(!left)) left = scvgc_sample_draw(rate);
  if (likely(n < left)) {
    sample_left = left - n;
    return 0;
  }
  sample_left = scvgc_sample_draw(rate);
  return scvgc_stack_capture();
}

/* ---- side metadata --------------------------------------------------------------------- */

/* Record a new object's metadata. Allocation is black (sweep.c S3): the mark bit is set,
 * so no sweeper still working on the last cycle's marks can take the object; the next
 * cycle clears it before it marks. In collect mode this is also where a cache learns that
 * a cycle ran since it last flushed (tcache.c T5): before the metadata is written, so its
 * own sweep sees the object free. */
void scvgc_track(void *p, size_t n) {
  scvgc_tcache_t *tc = &scvgc_tc;
  scvgc_alloc_enter();
  if (unlikely(tc->flushgen != scvgc_sweepgen_now()) && scvgc_collecting)
    scvgc_tcache_flush_stale(tc);
  scvgc_span_t *s = scvgc_spanof((uintptr_t)p);
  uint32_t i = s->cls ? scvgc_slot_index(s, (uintptr_t)p) : 0;
  if (!s->cls) s->reqsize = n;
  if (scvgc_span_lean(s)) { /* internal.h, the lean layout */
    void **o = p;
    uint32_t st = likely(!(scvgc_in_lib | scvgc_disabled)) ? sampled_stack(n)
                  : scvgc_in_lib ? SCVGC_STACK_LIB : SCVGC_STACK_IGNORED;
    /* L1: black, then allocated, while a cycle runs or the span is unswept; L4: else no bit */
    if (unlikely(atomic_load_explicit(&scvgc_gc_black, memory_order_relaxed)) ||
        unlikely(__atomic_load_n(&s->sweepgen, __ATOMIC_ACQUIRE) != scvgc_sweepgen_now() + 3))
      scvgc_lean_mark(s, i);
    __atomic_store_n(&o[1], NULL, __ATOMIC_RELEASE);
    if (unlikely(st)) scvgc_special_set(s, (uintptr_t)p, st, (uint32_t)n);
  } else if (s->meta) {
    s->meta[i].stack = likely(!(scvgc_in_lib | scvgc_disabled)) ? sampled_stack(n)
                       : scvgc_in_lib ? SCVGC_STACK_LIB : SCVGC_STACK_IGNORED;
    __atomic_store_n(&s->meta[i].size, (s->cls ? (uint32_t)n + 1 : 1) | SCVGC_META_MARK,
                     __ATOMIC_RELAXED);
  }
  ((void **)p)[1] = NULL; /* the caller left the key: see scvgc_malloc_class */
  scvgc_alloc_leave();
}

/* ---- malloc -------------------------------------------------------------------------- */

/* A collection started by an allocation runs on the allocating thread: it reads
 * /proc/self/maps and may write trace lines with calls that are cancellation points. malloc
 * is not one: a thread with a cancellation pending would be unwound with the world stopped
 * and every lock of the cycle held (the process hung, beyond SIGTERM). */
static void gc_periodic_nocancel(const void *keep) {
  int old;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  scvgc_gc_periodic(keep); /* the cycle cuts this thread's stack at malloc's caller (gc.c E1) */
  pthread_setcancelstate(old, NULL);
}

static void *malloc_large(size_t n, size_t align) {
  if (unlikely(n > SCVGC_MAX_REQUEST || align > SCVGC_MAX_ALIGN)) goto oom;
  scvgc_init();
  int err = errno; /* a success leaves errno as it was, whatever the calls below did */
  void *meta = NULL;
  if (scvgc_tracking && !(meta = scvgc_meta_alloc(scvgc_objmeta_bytes(1)))) goto oom;
  size_t np = (n + SCVGC_PAGE_SIZE - 1) >> SCVGC_PAGE_SHIFT;
  scvgc_span_t *s = n >= SCVGC_HUGE_MIN || align > SCVGC_ARENA_SIZE
                        ? scvgc_heap_alloc_huge(np, align, meta)
                        : scvgc_heap_alloc(np, align, SCVGC_SPAN_LARGE, 0, meta);
  if (unlikely(!s)) {
    if (meta) scvgc_meta_free(meta, scvgc_objmeta_bytes(1));
    goto oom;
  }
  s->reqsize = n;
  /* p, the object's address, stays live across the calls below: a cycle they start must
   * see it in a register or on this stack (the span struct is no root) */
  void *volatile p = (void *)s->base;
  if (meta) scvgc_track(p, n);
  scvgc_sweep_credit(s->npages);
  if (unlikely(atomic_load_explicit(&scvgc_heap_inuse, memory_order_relaxed) >=
               atomic_load_explicit(&scvgc_gc_next, memory_order_relaxed)))
    gc_periodic_nocancel(p);
  if (unlikely(atomic_load_explicit(&scvgc_scavenge_restart, memory_order_relaxed)))
    scvgc_scavenge_restart_now(); /* a fork child's scavenger (scavenge.c) */
  errno = err;
  return p;
oom:
  errno = ENOMEM;
  return NULL;
}

void *scvgc_malloc_large(size_t n, size_t align) {
  scvgc_alloc_enter();
  void *p = malloc_large(n, align);
  scvgc_alloc_leave();
  return p;
}

static void *malloc_slow(scvgc_tcache_t *tc, uint32_t cls, size_t n) {
  int err = errno; /* as in malloc_large */
  void **p = scvgc_tcache_refill(tc, cls);
  if (unlikely(!p)) {
    errno = ENOMEM;
    return NULL;
  }
  p[0] = NULL; /* as in scvgc_malloc_class */
  if (likely(tc->state == SCVGC_TC_ACTIVE)) scvgc_stat_inc(&tc->bins[cls].nalloc);
  else scvgc_stats_orphan(1, 0);
  if (scvgc_tracking) scvgc_track(p, n); /* it clears word 1 */
  else p[1] = NULL;
  if (unlikely(atomic_load_explicit(&scvgc_heap_inuse, memory_order_relaxed) >=
               atomic_load_explicit(&scvgc_gc_next, memory_order_relaxed)))
    gc_periodic_nocancel(p); /* no core lock is held here and the cache is consistent */
  if (unlikely(atomic_load_explicit(&scvgc_scavenge_restart, memory_order_relaxed)))
    scvgc_scavenge_restart_now(); /* likewise: a fork child's scavenger (scavenge.c) */
  errno = err;
  return p;
}

void *scvgc_malloc_slow(scvgc_tcache_t *tc, uint32_t cls, size_t n) {
  scvgc_alloc_enter();
  void *p = malloc_slow(tc, cls, n);
  scvgc_alloc_leave();
  return p;
}

void *scvgc_malloc(size_t n) { return scvgc_malloc_inline(n); }

/* ---- free ---------------------------------------------------------------------------- */

/* The fast path's event (a span of the cache's got full -> partial, or wholly free). */
/* The end of a free whose slow part may have given pages back to the heap, no lock held:
 * the scavenger's start point (scavenge.c). The fast path never makes free pages, so it does
 * not look (a load and a branch on every free). */
static inline void free_done(void) {
  if (unlikely(atomic_load_explicit(&scvgc_scavenge_restart, memory_order_relaxed)))
    scvgc_scavenge_restart_now();
}

void scvgc_free_event(scvgc_tcache_t *tc, scvgc_span_t *s) {
  int e = errno;
  scvgc_alloc_enter();
  scvgc_tcache_free_event(tc, s);
  scvgc_alloc_leave();
  free_done();
  errno = e;
}

static void free_slow(scvgc_span_t *s, uintptr_t p);

/* free keeps errno: the heap's madvise, munmap or a diagnostic's write may change it. */
void scvgc_free_slow(scvgc_span_t *s, uintptr_t p) {
  int e = errno;
  scvgc_alloc_enter();
  free_slow(s, p);
  scvgc_alloc_leave();
  free_done();
  errno = e;
}

static void free_slow(scvgc_span_t *s, uintptr_t p) {
  scvgc_tcache_t *tc = &scvgc_tc;
  if (s->state == SCVGC_SPAN_SMALL && p - s->base < s->limit - s->base) {
    uint32_t i = scvgc_slot_index(s, p);
    void **o = (void **)p;
    if (s->base + (uintptr_t)i * s->elemsize != p) {
      scvgc_bad_free("free", o, "not the start of an object");
      return;
    }
    if (scvgc_small_is_free_any(s, i, o)) {
      scvgc_bad_free("free", o, "double free");
      return;
    }
    if (scvgc_span_lean(s)) scvgc_special_drop(s, p); /* P1: before the key */
    else if (s->meta) s->meta[i].size = 0;
    o[1] = (void *)(scvgc_free_key ^ p);
    if (SCVGC_RACY_LOAD(s->owner) == tc) { /* the fast path's checks are a superset: not reached */
      scvgc_link_set(o, s->freelist);
      s->freelist = o;
      scvgc_stat_inc(&tc->nfree);
      if (++s->nfreelist == s->ncarved || s->where == SCVGC_W_FULL) scvgc_tcache_free_event(tc, s);
      return;
    }
    if (likely(tc->state == SCVGC_TC_ACTIVE)) scvgc_stat_inc(&tc->nfree);
    else scvgc_stats_orphan(0, 1);
    scvgc_central_remote_free(s, o);
    return;
  }
  if (s->state == SCVGC_SPAN_LARGE && p - s->base < (s->npages << SCVGC_PAGE_SHIFT)) {
    void *meta;
    if (p != s->base) {
      scvgc_bad_free("free", (void *)p, "not the start of an object");
      return;
    }
    if (!scvgc_heap_free_large(s, &meta)) {
      scvgc_bad_free("free", (void *)p, "double free");
      return;
    }
    if (meta) scvgc_meta_free(meta, scvgc_objmeta_bytes(1));
    return;
  }
  /* a free span, a span struct that describes other pages now, or GC memory */
  scvgc_bad_free("free", (void *)p, "double free or invalid pointer: the memory is not allocated");
}

bool scvgc_free(void *p) { return scvgc_free_inline(p); }

/* ---- the rest of the API ------------------------------------------------------------- */

void *scvgc_calloc(size_t n, size_t m) {
  size_t t;
  if (unlikely(__builtin_mul_overflow(n, m, &t))) {
    errno = ENOMEM;
    return NULL;
  }
  if (t <= SCVGC_MAX_SMALL) {
    void *p = scvgc_malloc(t);
    if (p) memset(p, 0, t);
    return p;
  }
  void *p = scvgc_malloc_large(t, 0);
  if (p && scvgc_spanof((uintptr_t)p)->needzero) memset(p, 0, t);
  return p; /* pages fresh from the OS (or released to it) are zero already */
}

/* malloc_usable_size. Where the collector scans objects (leak, collect) it is the size the
 * marker reads — the requested size, as LeakSanitizer and memcheck answer — so that no byte
 * the program is told it may use holds a pointer the marker does not see (a pointer kept in
 * the slot's tail past the request had its object freed in collect mode). In mode off, the
 * slot or span size. */
size_t scvgc_usable_size(const void *ptr) {
  scvgc_span_t *s = scvgc_span_inuse((uintptr_t)ptr);
  if (!s) return 0;
  if (s->meta) {
    if (s->state == SCVGC_SPAN_LARGE) return s->reqsize;
    if (s->state != SCVGC_SPAN_SMALL) return 0;
    if (scvgc_span_lean(s)) return s->elemsize; /* the marker reads the whole slot */
    uint32_t v = __atomic_load_n(&s->meta[scvgc_slot_index(s, (uintptr_t)ptr)].size,
                                 __ATOMIC_RELAXED) & ~SCVGC_META_MARK;
    return v ? v - 1 : 0;
  }
  if (s->state == SCVGC_SPAN_SMALL) return s->elemsize;
  return (s->npages << SCVGC_PAGE_SHIFT) - ((uintptr_t)ptr - s->base);
}

/* A live object's start, or NULL after a diagnostic (for realloc). */
static scvgc_span_t *live_object(void *ptr, const char *what) {
  uintptr_t p = (uintptr_t)ptr;
  scvgc_span_t *s = scvgc_span_inuse(p);
  if (s && s->state == SCVGC_SPAN_SMALL && p - s->base < s->limit - s->base) {
    uint32_t i = scvgc_slot_index(s, p);
    if (s->base + (uintptr_t)i * s->elemsize != p) goto interior;
    if (scvgc_small_is_free_any(s, i, ptr)) goto freed;
    return s;
  }
  if (s && s->state == SCVGC_SPAN_LARGE) {
    if (p != s->base) goto interior;
    return s;
  }
freed:
  scvgc_bad_free(what, ptr, "the pointer is not allocated (freed already?)");
  return NULL;
interior:
  scvgc_bad_free(what, ptr, "not the start of an object");
  return NULL;
}

static void *realloc_impl(void *ptr, size_t n);

void *scvgc_realloc(void *ptr, size_t n) {
  scvgc_alloc_enter();
  void *q = realloc_impl(ptr, n);
  scvgc_alloc_leave();
  return q;
}

static void *realloc_impl(void *ptr, size_t n) {
  if (!ptr) return scvgc_malloc(n);
  if (n == 0) { /* glibc frees and returns NULL */
    scvgc_free(ptr);
    return NULL;
  }
  scvgc_span_t *s = live_object(ptr, "realloc");
  if (!s) {
    errno = EINVAL;
    return NULL;
  }
  size_t cap;
  if (s->state == SCVGC_SPAN_SMALL) {
    cap = s->elemsize;
    if (n <= cap && (n > cap / 2 || cap <= 32)) {
      if (s->meta && !scvgc_span_lean(s)) { /* the mark bit stays: a sweeper may not have reached the span yet */
        /* and only the size bits change, atomically: a concurrent cycle's marker may set the
         * mark bit (gc.c C2) or its clear may drop it (C0) meanwhile, and a plain store of
         * the bit read before would undo either — a grey object unmarked (then swept though
         * reachable), or a cleared one marked black without ever being scanned */
        uint32_t *w = &s->meta[scvgc_slot_index(s, (uintptr_t)ptr)].size;
        uint32_t v = __atomic_load_n(w, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(w, &v, (v & SCVGC_META_MARK) | ((uint32_t)n + 1), true,
                                            __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
      } else if (s->meta && SCVGC_RACY_LOAD(s->nspecial)) {
        scvgc_special_resize((uintptr_t)ptr, (uint32_t)n); /* a sampled object's size */
      }
      return ptr;
    }
  } else {
    cap = s->npages << SCVGC_PAGE_SHIFT;
    if (n <= cap && (n > cap / 2 || n > SCVGC_MAX_SMALL)) {
      /* shrinking in place: whole pages past the new size go back to the heap, where the
       * scavenger can release them (a large span's tail is never released while in use) */
      size_t np = (n + SCVGC_PAGE_SIZE - 1) >> SCVGC_PAGE_SHIFT;
      if (np < s->npages) scvgc_heap_shrink_inplace(s, np);
      s->reqsize = n;
      return ptr;
    }
    if (n > cap && n <= SCVGC_MAX_REQUEST &&
        scvgc_heap_grow_inplace(s, (n + SCVGC_PAGE_SIZE - 1) >> SCVGC_PAGE_SHIFT)) {
      s->reqsize = n;
      return ptr;
    }
    /* a huge block past its reservation moves its pages instead of copying them: a sparse
     * one stays sparse (pageheap.c) */
    if (n > cap && n <= SCVGC_MAX_REQUEST && n >= SCVGC_HUGE_MIN &&
        scvgc_heap_move_huge(s, (n + SCVGC_PAGE_SIZE - 1) >> SCVGC_PAGE_SHIFT)) {
      s->reqsize = n;
      return (void *)s->base;
    }
  }
  scvgc_gc_keep_moving(ptr); /* a cycle this allocation starts cuts our frames (gc.c E1) */
  void *q = scvgc_malloc(n);
  scvgc_gc_keep_moving(NULL);
  if (!q) return NULL; /* the old block is untouched, as realloc promises */
  memcpy(q, ptr, n < cap ? n : cap);
  scvgc_free(ptr);
  return q;
}

/* align: a power of two (the shim checks the API's own rules first); one above
 * SCVGC_MAX_REQUEST (up to 2^63, which glibc accepts) cannot be given: ENOMEM. */
void *scvgc_memalign(size_t align, size_t n) {
  if (align <= SCVGC_ALIGN) return scvgc_malloc(n);
  if (n <= SCVGC_MAX_SMALL && align <= SCVGC_PAGE_SIZE) {
    /* A class whose size is a multiple of align: its objects, at multiples of the size from
     * a page-aligned base, are aligned. Every power of two up to 32 KiB is a class. */
    uint32_t c = scvgc_size_class(n > align ? n : align);
    while (scvgc_classes[c].size % align) c++;
    return scvgc_malloc_class(c, n);
  }
  return scvgc_malloc_large(n ? n : 1, align); /* size 0: a unique, freeable pointer */
}

/* ---- fork ----------------------------------------------------------------------------
 * The prepare handler takes every core lock in the global order (internal.h), the parent
 * releases them, the child resets them: the child's heap is whole and usable.
 * F1 fork() from a signal handler that interrupted this thread where it may hold a core lock
 *    (scvgc_in_alloc > 0, this handler included: a fork from a handler that interrupted a
 *    fork) must not wait for that lock. glibc allows fork() there in a process with one
 *    thread; we match it when the program has no other thread of its own (the library's
 *    threads excepted, /proc/self/task read with raw system calls): the prepare handler then
 *    takes no lock. The parent goes on as if nothing happened; the child resets the locks,
 *    and the interrupted call completes in both when the handler returns. With the library's
 *    threads running, one of them may be mid-change in the child's copy of the heap; a child
 *    that calls only async-signal-safe functions before exec or _exit, as POSIX asks of
 *    such a child, never looks (docs/limitations.md). With threads of the program's own, the
 *    locks are taken as usual: fork() from a handler that interrupted malloc may then
 *    deadlock, as under glibc.
 * Callers: glibc's fork, through the shim's handlers (which take the stdio list lock first),
 * one fork at a time. */

static bool fork_nolocks; /* F1: this fork's prepare took no lock */

/* Does the program have no thread but the caller (the library's own excepted)? */
static bool alone_in_process(void) {
  if (__libc_single_threaded) return true;
  int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/task",
                        O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  pid_t me = (pid_t)syscall(SYS_gettid);
  bool alone = true;
  char buf[2048] __attribute__((aligned(8)));
  long n;
  while (alone && (n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      /* struct linux_dirent64: d_ino 8, d_off 8, d_reclen 2, d_type 1, d_name */
      unsigned short reclen;
      memcpy(&reclen, buf + off + 16, sizeof reclen);
      const char *name = buf + off + 19;
      off += reclen;
      if (name[0] < '0' || name[0] > '9') continue;
      pid_t tid = 0;
      for (; *name >= '0' && *name <= '9'; name++) tid = tid * 10 + (*name - '0');
      if (tid != me && !scvgc_is_libthread(tid)) alone = false;
    }
  }
  if (n < 0) alone = false;
  syscall(SYS_close, fd);
  return alone;
}

void scvgc_fork_prepare(void) {
  bool nested = scvgc_in_alloc > 0;
  scvgc_alloc_enter(); /* until the parent or child handler: F1 for a nested fork */
  if (nested && alone_in_process()) {
    fork_nolocks = true;
    return;
  }
  fork_nolocks = false;
  scvgc_heap_fork_prepare(); /* the scavenger's batch: it takes only the heap lock inside */
  scvgc_stack_fork_prepare(); /* taken inside malloc with no core lock below it held */
  scvgc_sweep_fork_prepare(); /* the reclaim table's lock: taken with no core lock held */
  scvgc_tcache_lock_registry();
  scvgc_central_lock_all();
  scvgc_heap_lock_all();
  scvgc_meta_lock_all();
  scvgc_special_lock_all();
}

void scvgc_fork_parent(void) {
  if (!fork_nolocks) {
    scvgc_special_unlock_all();
    scvgc_meta_unlock_all();
    scvgc_heap_unlock_all();
    scvgc_central_unlock_all();
    scvgc_tcache_unlock_registry();
    scvgc_sweep_fork_parent();
    scvgc_stack_fork_parent();
    scvgc_heap_fork_parent();
  }
  fork_nolocks = false;
  scvgc_alloc_leave();
}

void scvgc_fork_child(void) {
  fork_nolocks = false;
#if SCVGC_DEBUG
  scvgc_lock_dbg_fork_child(); /* lock.c K3: this thread's tid changed */
#endif
  scvgc_gc_fork_child(); /* its own locks, and a child has no marker threads */
  scvgc_report_fork_child();
  scvgc_special_reset_locks();
  scvgc_meta_reset_locks();
  scvgc_heap_reset_locks();
  scvgc_central_reset_locks();
  scvgc_tcache_fork_child(); /* resets the registry lock */
  scvgc_sweep_fork_child();
  scvgc_stack_fork_child();
  scvgc_scavenge_fork_child(); /* plain stores: the child's thread starts later */
  scvgc_timeline_fork_child();
  scvgc_alloc_leave();
}
