/* internal.h — the core's types, constants and cross-file functions.
 *
 * Glossary (the allocation path is told in alloc.c):
 *   page      8 KiB, the unit of the page heap (SCVGC_PAGE_SIZE).
 *   arena     a 64 MiB, 64 MiB-aligned piece of reserved address space; each has a
 *             page -> span table. arena_l1[addr >> 26] finds it, so the address -> span
 *             map is two loads (scvgc_spanof).
 *   span      a run of pages (scvgc_span_t, 128 bytes): free in the page heap, a small-object
 *             span of one size class, one large object, or manually managed (GC workbufs).
 *   class     one of SCVGC_NCLASSES size classes (1..65); class 0 means "not small".
 *   central   per-class list of spans that are owned by no cache and have free objects.
 *   tcache    the per-thread cache: per class, the span it allocates from and that span's
 *             free list. The fast paths touch only the calling thread's tcache.
 *   xfree     a span's lock-free list of objects freed by threads that do not own it.
 *   objmeta   per-object side metadata (stack id, requested size), kept only when the mode
 *             tracks objects (leak, collect); mode off allocates none of it. The lean layout
 *             (collect mode's default, "lean layout" below) keeps 3 bits per small object.
 *   OS page   4 KiB, the unit of madvise: the scavenger (scavenge.c) releases free spans by
 *             heap page and the free parts of central spans by OS page.
 *
 * The global lock order is the rank table below ("lock ranks"): the one place it is
 * written; file headers and docs/design.md refer to it. No lock is held while calling out
 * of the core except where a function says so.
 */
#ifndef SCVGC_INTERNAL_H
#define SCVGC_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCVGC_HIDDEN __attribute__((visibility("hidden")))
/* The conservative scanner reads memory the program never handed to it (stack red zones,
 * uninitialised words): in a sanitizer build those reads are deliberate, not bugs. */
#define SCVGC_NO_SANITIZE __attribute__((no_sanitize("address", "undefined")))
#define likely(x) __builtin_expect(!!(x), 1)
/* A field that threads read (or write) with no lock and no ordering by design says so at
 * its definition, and its racy accesses go through these: relaxed atomics, a plain mov on
 * x86-64 (no locked instruction), visible to the reader and to ThreadSanitizer. */
#define SCVGC_RACY_LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define SCVGC_RACY_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Debug checks (SCVGC_DEBUG=1 at build time): assertions on preconditions and the
 * *_check() structure checkers. Off by default: they are on in the test builds. */
#ifndef SCVGC_DEBUG
#define SCVGC_DEBUG 0
#endif
void scvgc_assert_fail(const char *expr, const char *file, int line) SCVGC_HIDDEN
    __attribute__((noreturn));
#define SCVGC_ASSERT(e) \
  do { if (SCVGC_DEBUG && !(e)) scvgc_assert_fail(#e, __FILE__, __LINE__); } while (0)
#define SCVGC_CHECK(e) \
  do { if (!(e)) scvgc_assert_fail(#e, __FILE__, __LINE__); } while (0)

/* ---- lock ranks: the global lock order ----------------------------------------------- */
/* A thread takes a lock only when its rank is above the rank of every lock it holds; locks
 * of one rank (the array central[c]) in address order, i.e. index
 * order. The debug build checks it at every scvgc_lock (lock.h, lock.c) and aborts naming
 * both locks; a trylock never waits, so it is not checked, but what it took counts as held.
 * Outermost first:
 *   REPORT      report.c report_lock: one report at a time; a report may run a cycle.
 *   SYM_SESSION symbolize.c session_lock: begin..end of a symbolizing session, which
 *               allocates (malloc takes the core locks below under it).
 *   SYM_LOAD    symbolize.c load_lock: dlopen of libdw (allocates) under the session.
 *   GC          gc.c gc_lock: one cycle at a time. Under it the collector finishes the last
 *               sweep (sweep.c S1, no other core lock held), then takes REGISTRY..OWN.
 *   BATCH       pageheap.c batch_lock: the scavenger's batch of free spans (H8); fork's
 *               prepare handler takes it first.
 *   WALKER      unwind.c walker_lock (the walkers' free list and chunks); then
 *   DEPOT       stack.c depot_lock (inserts into the stack depot, its index's growth):
 *               both taken inside malloc with no core lock below held; fork takes them
 *               in this order.
 *   RECLAIM     sweep.c reclaim_lock: the reclaim table (its growth maps: OWN under it).
 *   TC_ONCE     tcache.c's once lock around pthread_key_create.
 *   REGISTRY    tcache.c registry_lock: the registry of live caches.
 *   CENTRAL     central.c central[c].lock, one per class.
 *   HEAP        pageheap.c heap.lock.
 *   META        fixalloc.c meta_lock: side-metadata blocks (span structs are HEAP's).
 *   SPECIAL     special.c special_lock: the lean layout's table of sampled, library-owned
 *               and ignored objects; taken on the allocation and free paths with no lock
 *               held, by sweepers under CENTRAL, by the late classification under HEAP.
 *   TIMELINE    timeline.c tl_lock: taken with none of REGISTRY..META held (the stats it
 *               samples are read first); its array maps metadata (OWN under it).
 *   OWN         own.c own_lock: the registry of what the library owns; every metadata
 *               mapping enters it, so it is under any lock that maps.
 *   WB          workbuf.c wb_lock: the mark stack; markers take it alone, the collector
 *               with every lock above held.
 *   WP          wp.c wp_lock: the written-page table of concurrent marking; under the heap
 *               lock (arenas mapped and unmapped) and in the collector's pauses; nothing
 *               is taken under it (the table grows, and the written pages are rescanned,
 *               with it dropped: wp.c W7).
 * Not a scvgc_lock_t: stw.c's stop-the-world lock (its word is the holder's pid) ranks
 * between OWN and WB: the collector takes it with REGISTRY..OWN held, and WB after it.
 * Every lock of the core carries its rank (SCVGC_LOCK_RANKED); SCVGC_LOCK_INIT (rank NONE,
 * not checked) is left for tests.
 * The fork handlers (alloc.c) take BATCH, WALKER, DEPOT, RECLAIM, REGISTRY,
 * CENTRAL, HEAP, META, SPECIAL in this order; the collector (gc.c) GC, REGISTRY, CENTRAL,
 * HEAP, META, SPECIAL, OWN, then the stop-the-world lock. No lock is taken in a signal handler nor by the
 * tracer task; with the world stopped only the collector and its markers take locks
 * (WB, and OWN, which the markers skip: the collector holds it for them). */
enum {
  SCVGC_RANK_NONE = 0, /* unranked: not checked */
  SCVGC_RANK_REPORT,
  SCVGC_RANK_SYM_SESSION,
  SCVGC_RANK_SYM_LOAD,
  SCVGC_RANK_GC,
  SCVGC_RANK_BATCH,
  SCVGC_RANK_WALKER,
  SCVGC_RANK_DEPOT,
  SCVGC_RANK_RECLAIM,
  SCVGC_RANK_TC_ONCE,
  SCVGC_RANK_REGISTRY,
  SCVGC_RANK_CENTRAL,
  SCVGC_RANK_HEAP,
  SCVGC_RANK_META,
  SCVGC_RANK_SPECIAL,
  SCVGC_RANK_TIMELINE,
  SCVGC_RANK_OWN,
  SCVGC_RANK_WB,
  SCVGC_RANK_WP,
  SCVGC_NRANKS
};

/* ---- geometry ---------------------------------------------------------------------- */
#define SCVGC_PAGE_SHIFT 13
#define SCVGC_PAGE_SIZE ((uintptr_t)1 << SCVGC_PAGE_SHIFT)
#define SCVGC_ARENA_SHIFT 26
#define SCVGC_ARENA_SIZE ((uintptr_t)1 << SCVGC_ARENA_SHIFT)
#define SCVGC_ARENA_PAGES (SCVGC_ARENA_SIZE >> SCVGC_PAGE_SHIFT)
#define SCVGC_ADDR_BITS 47 /* x86-64 user space */
#define SCVGC_L1_ENTRIES ((uintptr_t)1 << (SCVGC_ADDR_BITS - SCVGC_ARENA_SHIFT))
#define SCVGC_OSPAGE_SHIFT 12 /* the OS page: what madvise releases */
#define SCVGC_OSPAGE_SIZE ((uintptr_t)1 << SCVGC_OSPAGE_SHIFT)
#define SCVGC_MAX_SMALL 32768 /* larger requests get a span of their own */
#define SCVGC_NCLASSES 66     /* classes 1..65; 0 is "large / not an object span" */
#define SCVGC_ALIGN 16        /* every object is 16-byte aligned (max_align_t) */
#define SCVGC_MAX_REQUEST ((size_t)1 << 46) /* above this, ENOMEM without trying */
/* Huge blocks (pageheap.c "huge spans"): a large request of at least SCVGC_HUGE_MIN bytes,
 * or aligned beyond an arena, gets a mapping of its own, named in the L1 table by tagged
 * entries (SCVGC_L1_HUGE) instead of arenas with page tables: its metadata is one span
 * struct and 8 bytes per 64 MiB, whatever it touches. Smaller blocks stay in the page heap
 * (reused without a system call, at 1.1 MiB of map per GiB). */
#define SCVGC_HUGE_MIN ((size_t)256 << 20)
/* Alignments above this fail with ENOMEM: honouring one reserves size + alignment of
 * address space for a moment, and 1 TiB of the 128 TiB is as far as that is reasonable. */
#define SCVGC_MAX_ALIGN ((size_t)1 << 40)

/* ---- size classes (sizeclass.c) ---------------------------------------------------- */
typedef struct {
  uint32_t size;   /* object size, a multiple of 16 */
  uint32_t npages; /* pages per span: the fewest that keep tail waste <= 1/8 */
  uint32_t nelems; /* objects per span */
  uint32_t divmul; /* (off * divmul) >> 32 == off / size for every off in a span */
} scvgc_class_t;

extern const scvgc_class_t scvgc_classes[SCVGC_NCLASSES] SCVGC_HIDDEN;
extern const uint8_t scvgc_class_small[1024 / 16 + 1] SCVGC_HIDDEN;   /* by (n+15)/16 */
extern const uint8_t scvgc_class_large[(SCVGC_MAX_SMALL - 1024) / 128 + 1] SCVGC_HIDDEN;

/* The smallest class whose size is >= n; n must be <= SCVGC_MAX_SMALL. */
static inline uint32_t scvgc_size_class(size_t n) {
  if (n <= 1024) return scvgc_class_small[(n + 15) >> 4];
  return scvgc_class_large[(n - 1024 + 127) >> 7];
}

/* ---- free-list links ------------------------------------------------------------------ */
/* Every free list of small objects (a bin's, a span's freelist, the xfree lists, the sweep's
 * chains) is linked through word 0 of its objects, and that word is stored mangled:
 *   L1 link word of free object o = next ^ (o >> 12) ^ scvgc_link_key (glibc's safe-linking,
 *      with a per-process secret as in mimalloc's encoded free lists; the secret is not
 *      scvgc_free_key, whose XOR with o sits in word 1 of the same free object). NULL is
 *      stored mangled too. A pointer the program writes into a freed object (a write after
 *      free) decodes to an address no attacker chose.
 *   L2 every link taken from a list is NULL or a 16-aligned address inside the span the list
 *      belongs to: checked at every pop (malloc's fast path included) and every walk; a link
 *      that fails aborts with one diagnostic (scvgc_link_corrupt) instead of handing out
 *      memory outside the heap. */
extern uintptr_t scvgc_link_key SCVGC_HIDDEN;
static inline void scvgc_link_set(void *o, const void *next) {
  *(uintptr_t *)o = (uintptr_t)next ^ ((uintptr_t)o >> 12) ^ scvgc_link_key;
}
static inline void *scvgc_link_raw(const void *o) { /* decoded, unchecked (L2 is the caller's) */
  return (void *)(*(const uintptr_t *)o ^ ((uintptr_t)o >> 12) ^ scvgc_link_key);
}
void scvgc_link_corrupt(const void *o, uintptr_t got) SCVGC_HIDDEN
    __attribute__((noreturn, cold));
/* The next object after free object o on a list of the span that starts at -nbase and has
 * len16 * 16 bytes of objects: L2 checked with one compare — rotating the offset right by 4
 * moves a misalignment into the top bits, and NULL (offset -base) fails it too and is then
 * told apart on the cold side. */
static inline void *scvgc_link_next(const void *o, uintptr_t nbase, uintptr_t len16) {
  uintptr_t n = (uintptr_t)scvgc_link_raw(o), t = n + nbase;
  if (unlikely(((t >> 4) | (t << 60)) >= len16) && n) scvgc_link_corrupt(o, n);
  return (void *)n;
}

/* ---- per-object side metadata ------------------------------------------------------ */
typedef struct {
  uint32_t stack; /* stack depot id of the allocating stack; 0 = none captured;
                     SCVGC_STACK_LIB: allocated by the library for itself (gc.h
                     scvgc_in_lib): a root of every cycle, never reported nor reclaimed;
                     SCVGC_STACK_IGNORED: the program asked for it to be ignored
                     (scvgc_ignore_object, or allocated between scvgc_disable and
                     scvgc_enable): treated as SCVGC_STACK_LIB, as LeakSanitizer treats its
                     ignored chunks (roots: what they reach is not reported either) */
  uint32_t size;  /* bits 0..30: requested size + 1 (1 for a large object, whose size is
                     the span's reqsize); 0 means the slot is free. Bit 31: the collector's
                     mark bit (SCVGC_META_MARK), set with an atomic OR with the world
                     stopped, cleared at the start of each cycle — kept in the same word as
                     the "allocated" test so the marker's check is one cache miss */
} scvgc_objmeta_t;
#define SCVGC_META_MARK 0x80000000u

/* ---- the lean layout ------------------------------------------------------------------- *
 * In collect mode with sampled stacks (the default: scvgc_lean, fixed at start-up) a small
 * span of objects under 4 KiB (scvgc_class_lean: a larger object may begin with a page the
 * program protected, and this layout reads an object's word 1) has a side block that holds no
 * scvgc_objmeta_t: s->meta points to three bitmaps of
 * W = ceil(nelems/64) words, one bit per slot,
 *   mark      the collector's mark bit (first: a freed block's link word reads as marked)
 *   visited   } the leak classification's bits (mark.h), as in the full layout
 *   indirect  }
 * — 3 bits per object, 2.3% of a heap of 16-byte objects (the full layout: 8 bytes, 50%).
 * The rest lives elsewhere:
 *   allocated  an object is free when its slot is past s->ncarved, parked (s->relmask), or
 *              holds the double-free key in word 1 (every free path writes it, the
 *              allocation clears it: scvgc_lean_allocated); no bit.
 *   stack id   only a sampled, library-owned or ignored object has one: special.c.
 *   size       the slot size: the marker scans the whole slot, malloc_usable_size says so,
 *              and an object without a sampled stack is counted by its slot size.
 * Large spans keep the full layout (one scvgc_objmeta_t) in every mode.
 *   L1 allocation is black (sweep.c S3) where it must be: while a cycle runs (scvgc_gc_black,
 *      from before its clear to the end of its leak classification) or while the span is not
 *      swept in this generation (s->sweepgen != sg + 3: a sweeper may be reading it) the
 *      allocation sets the mark bit with an atomic OR before it clears the key (alloc.c
 *      scvgc_track), so a sweeper that reads the slot's word 1 without the key, and then the
 *      mark bit, sees the bit.
 *   L4 otherwise the allocation writes no bit at all (no locked instruction on the common
 *      path): its span is swept, so no sweeper reads it before the next cycle, and that
 *      cycle either finds the object by tracing, or finds its address in the allocating
 *      thread's registers (stopped between the test and the clear: L2 marks the slot), or
 *      reclaims it as garbage. A non-atomic write could not be allowed: it could undo a
 *      concurrent marker's bit in the same word.
 *   L2 the marker marks every slot a word points into, scanning only the allocated ones: an
 *      allocation stopped between its OR and the key's clear keeps its mark through a cycle
 *      that cleared it (its pointer is in the stopped thread's registers).
 *   L3 a remote sweeper decides from memory a concurrent free of the span may hand to
 *      another use: it reads the slots, then checks that it still holds the span's sweep
 *      (s->sweepgen == sg - 1: a span freed meanwhile has sg or more) before it frees one
 *      (sweep.c); a span holding a dead object is never freed under it (S4). */
extern int scvgc_lean SCVGC_HIDDEN;
/* On by default; -DSCVGC_LEAN_DEFAULT=0 builds a library that keeps the full layout in every
 * mode. Tests choose with scvgc_options_lean_test. (It was off for one stop: treecheck lost a
 * live node about 1 run in 100, which was the stop-the-world letting a running world be
 * marked when the tracer's maker thread exited, stw.c maker_held: no fault of this layout.) */
#ifndef SCVGC_LEAN_DEFAULT
#define SCVGC_LEAN_DEFAULT 1
#endif
extern int scvgc_options_lean_test SCVGC_HIDDEN;
#define SCVGC_STACK_LIB 0xffffffffu
#define SCVGC_STACK_IGNORED 0xfffffffeu /* ids at or above it are roots of every cycle */

/* ---- spans -------------------------------------------------------------------------- */
enum {
  SCVGC_SPAN_DEAD = 0,   /* struct is in the span-struct pool, describes nothing */
  SCVGC_SPAN_FREE = 1,   /* in the page heap's free structures */
  SCVGC_SPAN_SMALL = 2,  /* objects of one size class */
  SCVGC_SPAN_LARGE = 3,  /* one object of > SCVGC_MAX_SMALL bytes (or an aligned one) */
  SCVGC_SPAN_MANUAL = 4, /* manually managed by the core (GC workbufs) */
};

/* xfree word layout: bits 0..3 flags (objects are 16-aligned), bits 4..47 the list head,
 * bits 48..63 the number of objects on the list. */
#define SCVGC_XF_CENTRAL ((uintptr_t)1)  /* span is owned by no cache (central) */
#define SCVGC_XF_UNLINKED ((uintptr_t)2) /* span is full as its owner (or central) last saw
                                            it: the next remote free must say so */
#define SCVGC_XF_NOTIFY ((uintptr_t)4)   /* one thread is on its way to the central lock for
                                            this span; until it clears the bit the span is
                                            never returned to the heap by anyone else */
#define SCVGC_XF_QUEUED ((uintptr_t)8)   /* owned span queued (or being queued) on its
                                            owner's xspans; the owner does not let the span
                                            go while it is set */
#define SCVGC_XF_FLAGS ((uintptr_t)15)
#define SCVGC_XF_PTRMASK ((((uintptr_t)1 << 48) - 1) & ~SCVGC_XF_FLAGS)
#define SCVGC_XF_COUNT(x) ((uint32_t)((x) >> 48))
#define SCVGC_XF_ONE ((uintptr_t)1 << 48)

struct scvgc_tcache;

/* Where an owned span is, in its owner's cache (owner only). */
enum { SCVGC_W_NONE = 0, SCVGC_W_CURRENT = 1, SCVGC_W_PARTIAL = 2, SCVGC_W_FULL = 3 };

typedef struct scvgc_span {
  /* --- first cache line: everything free()'s fast path and the marker's candidate check
   *     read (for a small object). ---
   * Identity (base..limit) is written when the span is carved or initialised for a use,
   * before the map names it, and read by everybody with no lock. */
  uintptr_t base;     /* first byte, page aligned */
  scvgc_objmeta_t *meta; /* side metadata (NULL in mode off): nelems entries, then the
                            collector's bitmaps (mark.h) */
  uint8_t state;      /* SCVGC_SPAN_*; changes under the heap lock */
  uint8_t cls;        /* size class for SMALL, else 0 */
  uint8_t needzero;   /* some page of it may hold non-zero bytes */
  uint8_t where;      /* owned small span: SCVGC_W_* in its owner's cache (owner only);
                         central span: 1 when on central[cls].partial (central lock) */
  uint32_t elemsize;  /* object size (SMALL); npages*PAGE truncated (LARGE, unused) */
  uint32_t nelems;    /* objects in the span (SMALL); 1 otherwise */
  uint32_t divmul;    /* reciprocal of elemsize, see scvgc_class_t */
  uintptr_t limit;    /* base + nelems*elemsize (SMALL); end of the span otherwise */
  /* Ownership (small spans). owner is the cache that took the span, NULL while central.
   * Only the owning thread sets it to NULL (release); only a thread holding the central
   * lock of the class sets it from NULL (take). So "owner == my cache" read by my own
   * thread is never racy, and the owner's fields below need no lock. Any thread freeing
   * an object of the span reads owner with no lock (free's fast path): the answer matters
   * only as "== my cache", which no other thread can make true or false, so the race is by
   * design and its accesses are SCVGC_RACY_* (the queuer's read, C5, is ordered). */
  struct scvgc_tcache *owner;
  void *freelist;     /* objects freed by the owner (owned) or held by central (central
                         lock); linked through word 0 */
  uint32_t nfreelist; /* length of freelist */
  uint32_t ncarved;   /* objects ever taken from [base, bump): outside the bump region.
                         Grows only, by the owner; a free by another thread reads it racily
                         (SCVGC_RACY_*): its object was carved before it was handed over,
                         so any value it sees already counts that slot */

  uintptr_t npages;   /* length in pages */
  uintptr_t bump;     /* next never-used slot; [bump, limit) is free and on no list */
  uint32_t nalloc;    /* central spans: objects outside freelist and bump at release; the
                         span is wholly free when its xfree count reaches it (central.c C3).
                         Written before XF_CENTRAL is published, read after observing it.
                         A remote free reads it with no lock while the scavenger (R3,
                         NOTIFY set first) or a release (CENTRAL not yet set) may be writing
                         it; the CAS that would act on that value then fails, since x has
                         changed, and the value is dropped: SCVGC_RACY_* by design */
  uint32_t sweepgen;  /* against the heap's sweep generation: the state table is in sweep.h;
                         moved by CAS (sweep.c S2), read with no lock */
  /* links: page heap free lists (heap lock), central partial list (central lock), or the
   * owner's partial/full lists (owner only) — a span is on at most one. */
  struct scvgc_span *next, *prev;
  struct scvgc_span *xnext; /* on its owner's xspans queue (XF_QUEUED set) */

  size_t reqsize;        /* LARGE: the requested size */
  uint64_t unused_since; /* FREE: scvgc_clock() when its pages last held an object (heap
                            lock; a span made by coalescing keeps the newest of its parts);
                            central SMALL: when it went central (central lock) */

  /* Remote frees: its own cache line, so other threads' CAS traffic does not evict the
   * fast-path fields above from the owner's cache. */
  _Alignas(64) _Atomic uintptr_t xfree;
  /* The scavenger's fields (cold; on the xfree line, which only remote frees touch). */
  uint64_t relmask;     /* SMALL, central only (central lock): bit j set = OS page j of the
                           span is released — madvised and not written since, so it reads
                           zero and is not resident — and every slot overlapping it is free;
                           such a slot below bump is *parked*: on no list (central.c R1-R3).
                           0 for an owned span (R2). At most 64 OS pages per small span.
                           A free by a thread that does not own the span reads it with no
                           lock (alloc_fast.h): no bit of an allocated slot's pages is ever
                           set (R1), so a racy read cannot mislead it: SCVGC_RACY_* */
  uintptr_t npreleased; /* FREE: how many of its pages have the released bit set (H7), kept
                           through coalescing and splitting (heap lock) */
  uint8_t releasing;    /* FREE, off the free lists while the scavenger madvises its pages
                           with the heap lock dropped: nobody allocates it and no neighbour
                           coalesces with it (pageheap.c H8) */
  uint8_t scavenged;    /* central SMALL: its free pages were released by the scavenger and
                           nothing changed since but remote frees (xfree); central lock */
  uint8_t deferred;     /* freed while a concurrent cycle marked: on the heap's deferred
                           list (through xnext), no object in it, skipped by
                           scvgc_heap_foreach_span (pageheap.c H10); heap lock */
  struct slab *slab;    /* the span-struct slab this struct lives in (fixalloc.c) */
  uint32_t nspecial;    /* lean layout: entries of special.c for objects of this span (P2);
                           changed under special_lock, read by free with none: SCVGC_RACY */
} scvgc_span_t;

/* ---- arenas and the address map (pageheap.c) ---------------------------------------- */
/* What the marker needs of a page of a lean small span, without the span struct (mark.c M8):
 * the span's mark bits, how many pages back from this one it starts (not an arena-relative
 * page: a span may begin in the arena below) and its class. marks is NULL for any other
 * page. Written under the heap lock when the span is taken (before the map names it)
 * and cleared when it is freed (pageheap.c H11); a marker reads it with no lock while no span
 * can be freed under it (the world stopped, or H10 during a concurrent mark). */
typedef struct {
  uint64_t *marks;
  uint32_t back;
  uint32_t cls;
} scvgc_pinfo_t;

typedef struct scvgc_arena {
  uintptr_t base;                               /* 64 MiB aligned */
  struct scvgc_arena *next;                     /* all arenas, newest first (heap lock) */
  scvgc_span_t *spans[SCVGC_ARENA_PAGES];       /* page -> span. Valid for every page of an
                                                   in-use span, and for the first and last
                                                   page of a free span; other entries may be
                                                   stale: callers check the bounds. */
  uint64_t released[SCVGC_ARENA_PAGES / 64];    /* page is released to the OS (reads zero,
                                                   not resident); heap lock. A scavenger's
                                                   batch reads its own pages' bits without
                                                   it (pageheap.c H8), beside bits that the
                                                   lock holder rewrites: stored SCVGC_RACY */
  scvgc_pinfo_t pinfo[SCVGC_ARENA_PAGES];       /* the lean marker's page table (above) */
} scvgc_arena_t;

/* An L1 entry is NULL, an arena, or (bit 0 set, SCVGC_L1_HUGE) the span of the huge block
 * that covers the whole 64 MiB (pageheap.c: the part of it past the block's end is a
 * PROT_NONE reservation of the block's, so no other mapping can be there). */
extern scvgc_arena_t *scvgc_arena_l1[SCVGC_L1_ENTRIES] SCVGC_HIDDEN;
#define SCVGC_L1_HUGE ((uintptr_t)1)
/* OS pages released inside in-use (central) spans: the popcounts of their relmasks. Changed
 * under a central lock (release, take) or the heap lock (a span going back to the heap). */
extern _Atomic size_t scvgc_inspan_released SCVGC_HIDDEN;
/* Bytes of in-use spans, readable without the heap lock (the GC trigger reads it). */
extern _Atomic size_t scvgc_heap_inuse SCVGC_HIDDEN;
/* The heap size at which the next periodic collection starts; SIZE_MAX: none. */
extern _Atomic size_t scvgc_gc_next SCVGC_HIDDEN;
/* keep: the object the allocation is about to return (a root of that cycle, gc.c E1). */
void scvgc_gc_periodic(const void *keep) SCVGC_HIDDEN;
/* realloc: the block being moved, a root of any cycle its allocation starts (NULL: done). */
void scvgc_gc_keep_moving(const void *old) SCVGC_HIDDEN;

/* The map entry for address p: NULL when p is not in any arena of the heap. The span
 * returned may be free or stale for interior pages of free spans; callers that need an
 * object check state and bounds. O(1): two dependent loads. No lock. */
static inline scvgc_span_t *scvgc_spanof(uintptr_t p) {
  uintptr_t i = p >> SCVGC_ARENA_SHIFT;
  if (unlikely(i >= SCVGC_L1_ENTRIES)) return NULL;
  scvgc_arena_t *a = scvgc_arena_l1[i];
  if (!a) return NULL;
  if (unlikely((uintptr_t)a & SCVGC_L1_HUGE)) return (scvgc_span_t *)((uintptr_t)a - SCVGC_L1_HUGE);
  return a->spans[(p >> SCVGC_PAGE_SHIFT) & (SCVGC_ARENA_PAGES - 1)];
}

/* The next object after free object o of small span s (L2 checked against s). */
static inline void *scvgc_span_next(const scvgc_span_t *s, const void *o) {
  return scvgc_link_next(o, -s->base, (s->limit - s->base) >> 4);
}

/* The in-use span containing p (SMALL, LARGE or MANUAL), or NULL. */
static inline scvgc_span_t *scvgc_span_inuse(uintptr_t p) {
  scvgc_span_t *s = scvgc_spanof(p);
  if (!s || s->state < SCVGC_SPAN_SMALL) return NULL;
  if (p - s->base >= (s->npages << SCVGC_PAGE_SHIFT)) return NULL;
  return s;
}

/* Slot index of address p (any byte of the slot) in small span s. */
static inline uint32_t scvgc_slot_index(const scvgc_span_t *s, uintptr_t p) {
  return (uint32_t)(((uint64_t)(p - s->base) * s->divmul) >> 32);
}

/* The OS pages slot i of small span s overlaps, as a mask of s->relmask's bits. */
static inline uint64_t scvgc_slot_ospages(const scvgc_span_t *s, uint32_t i) {
  uintptr_t a = (uintptr_t)i * s->elemsize, b = a + s->elemsize - 1;
  uint32_t lo = (uint32_t)(a >> SCVGC_OSPAGE_SHIFT), hi = (uint32_t)(b >> SCVGC_OSPAGE_SHIFT);
  uint64_t top = hi >= 63 ? ~0ull : (1ull << (hi + 1)) - 1;
  return top & ~((1ull << lo) - 1);
}

/* Page heap. All take the heap lock themselves. */
/* A span of npages (aligned to align bytes when align > PAGE) in state SMALL (of class cls,
 * its identity fields set from the class table), LARGE or MANUAL. meta becomes s->meta.
 * The identity fields are written before the map names the span. NULL: out of memory. */
scvgc_span_t *scvgc_heap_alloc(size_t npages, size_t align, uint8_t state, uint32_t cls,
                               void *meta) SCVGC_HIDDEN;
/* A huge block (pageheap.c U1-U4): a LARGE span of npages in a mapping of its own, base
 * aligned to align (and to 64 MiB). NULL when the OS refuses it or align > MAX_ALIGN. */
scvgc_span_t *scvgc_heap_alloc_huge(size_t npages, size_t align, void *meta) SCVGC_HIDDEN;
/* realloc of huge span s to npages past its reservation: its pages move to a new mapping
 * (mremap: no copy, untouched pages stay untouched) and s->base changes. false: nothing
 * changed (the OS refused). The caller owns the object (no one else frees it meanwhile). */
bool scvgc_heap_move_huge(scvgc_span_t *s, size_t npages) SCVGC_HIDDEN;
void scvgc_heap_free(scvgc_span_t *s) SCVGC_HIDDEN;
/* H10 (pageheap.c): while a concurrent cycle marks (scvgc_gc_marking), spans are not freed
 * but deferred: scvgc_heap_free_or_defer(s) frees wholly free small span s and returns false
 * (the caller then frees the metadata block it saved), or defers it with its metadata block
 * and returns true — decided and done under one hold of the heap lock: a test and a free in
 * two steps let a cycle start between them (a span deferred with its metadata already freed:
 * freed twice, shared by two spans). The collector hands deferred spans back with
 * scvgc_heap_flush_deferred once marking is over (no core lock held). */
extern _Atomic int scvgc_gc_marking SCVGC_HIDDEN;
/* A cycle runs (gc.c, from before its clear or stop to after its leak classification): a lean
 * allocation sets its mark bit (internal.h L1, L4). */
extern _Atomic int scvgc_gc_black SCVGC_HIDDEN;
bool scvgc_heap_free_or_defer(scvgc_span_t *s) SCVGC_HIDDEN;
/* Wait until no concurrent cycle marks (gc.c): a huge block's move or shrink. No lock held. */
void scvgc_gc_wait_marking(void) SCVGC_HIDDEN;
void scvgc_heap_flush_deferred(void) SCVGC_HIDDEN;
/* Free large span s if it is still in use (false: it was already freed: a double free).
 * Its side metadata block is handed back in *meta for the caller to free. */
bool scvgc_heap_free_large(scvgc_span_t *s, void **meta) SCVGC_HIDDEN;
bool scvgc_heap_grow_inplace(scvgc_span_t *s, size_t npages) SCVGC_HIDDEN;
/* Give the pages of in-use LARGE span s beyond its first npages back to the heap (a realloc
 * that shrinks in place). */
void scvgc_heap_shrink_inplace(scvgc_span_t *s, size_t npages) SCVGC_HIDDEN;
/* Release the unreleased pages of every free span whose unused_since <= cutoff (every free
 * span: UINT64_MAX), a batch at a time with the heap lock dropped for the madvise. Returns
 * the bytes released. */
size_t scvgc_heap_scavenge(uint64_t cutoff) SCVGC_HIDDEN;
size_t scvgc_heap_release_all(void) SCVGC_HIDDEN; /* scvgc_heap_scavenge(UINT64_MAX) */
/* The sweeper's end of a large span it claimed (sweep.c): true when it freed it. */
bool scvgc_heap_sweep_large(scvgc_span_t *s, uint32_t sg, void **meta, uint32_t *stack,
                            size_t *bytes) SCVGC_HIDDEN;
void scvgc_heap_check(void) SCVGC_HIDDEN;
/* The same as scvgc_heap_alloc for a caller that holds the heap lock (the collector). */
scvgc_span_t *scvgc_heap_alloc_locked(size_t npages, uint8_t state) SCVGC_HIDDEN;
/* Visit every in-use span (SMALL, LARGE, MANUAL). Heap lock held by the caller. */
void scvgc_heap_foreach_span(void (*fn)(scvgc_span_t *, void *), void *arg) SCVGC_HIDDEN;
/* The same taking the heap lock itself, an arena at a time (fn called with it held): spans
 * made meanwhile in arenas already passed are not visited. A concurrent cycle's C0 (gc.c). */
void scvgc_heap_foreach_span_chunked(void (*fn)(scvgc_span_t *, void *), void *arg) SCVGC_HIDDEN;
void scvgc_heap_lock_all(void) SCVGC_HIDDEN;   /* fork: take the heap lock */
/* The heap lock is held, by this thread or by the collector for its markers (assertions). */
bool scvgc_heap_locked(void) SCVGC_HIDDEN;
void scvgc_heap_unlock_all(void) SCVGC_HIDDEN;
void scvgc_heap_reset_locks(void) SCVGC_HIDDEN; /* fork child */
/* fork: wait out a batch of free spans being released (pageheap.c H8), first of all locks */
void scvgc_heap_fork_prepare(void) SCVGC_HIDDEN;
void scvgc_heap_fork_parent(void) SCVGC_HIDDEN;
/* Test hooks: count of free spans, and the free span (if any) that starts at base. */
size_t scvgc_heap_free_spans(void) SCVGC_HIDDEN;

/* ---- central lists (central.c) ------------------------------------------------------ */
scvgc_span_t *scvgc_central_take(uint32_t cls, struct scvgc_tcache *tc) SCVGC_HIDDEN;
void *scvgc_span_xfree_grab(scvgc_span_t *s, uint32_t *n) SCVGC_HIDDEN;
void scvgc_central_release(scvgc_span_t *s, void *list, uint32_t nlist) SCVGC_HIDDEN;
void scvgc_central_remote_free(scvgc_span_t *s, void *p) SCVGC_HIDDEN;
/* The same for a chain of n objects of s, head..tail linked through word 0 (the sweeper). */
void scvgc_central_remote_free_list(scvgc_span_t *s, void *head, void *tail, uint32_t n) SCVGC_HIDDEN;
/* The sweeper's shortcut (sweep.c S7): central span s, which the sweeper holding claim
 * (s->sweepgen) found with no mark bit and no special, goes to the heap whole, its dead objects
 * neither read nor linked. True when it did, *dead = the objects it held (all dead); false
 * when s is not central as it was (owned, NOTIFY held, pages parked): sweep it as usual. */
bool scvgc_central_free_dead(scvgc_span_t *s, uint32_t claim, uint32_t *dead) SCVGC_HIDDEN;
void *scvgc_span_carve(scvgc_span_t *s) SCVGC_HIDDEN;
void scvgc_central_lock_all(void) SCVGC_HIDDEN;
void scvgc_central_unlock_all(void) SCVGC_HIDDEN;
void scvgc_central_reset_locks(void) SCVGC_HIDDEN;
size_t scvgc_central_partial_count(uint32_t cls) SCVGC_HIDDEN;
/* The scavenger's part (R1-R3 in central.c): release the OS pages of central spans, central
 * since a time <= cutoff, that hold no allocated object. Returns the bytes released. */
size_t scvgc_central_scavenge(uint64_t cutoff) SCVGC_HIDDEN;
void scvgc_central_check(void) SCVGC_HIDDEN; /* R1, R2, freelists of central spans (tests) */

/* ---- thread caches (tcache.c) -------------------------------------------------------- */
typedef struct {
  void *free;             /* objects ready to hand out, all of span; linked through word 0 */
  uintptr_t nbase, len16; /* -span->base and (limit - base) / 16, for L2 on the fast path's
                             pop (set with span; stale while span is NULL). Negated: base
                             itself is the address of the span's first object, and this
                             cache is scanned as a root (TLS) */
  scvgc_span_t *span;     /* the span this cache allocates from in this class, or NULL */
  uint64_t nalloc;        /* objects of this class handed out by this thread (stats: the
                             owner counts with scvgc_stat_inc, readers load it racily) */
  scvgc_span_t *partial;  /* owned spans with objects on their freelist (or being freed) */
  scvgc_span_t *full;     /* owned spans with no free object as last seen */
  uint32_t partial_pages; /* pages of the spans on partial (tcache.c T6) */
  uint32_t quiet_events;  /* full -> partial events since the last refill (T6) */
} scvgc_bin_t;

/* T6 (tcache.c): in a burst of frees (more than SCVGC_TC_QUIET_EVENTS spans of a class
 * made partial with no refill in between), a cache keeps at most SCVGC_TC_PARTIAL_PAGES
 * pages of partial spans per class and gives the others to central. A smaller bound leaves
 * more of a peak's free objects where the scavenger can release their pages and other
 * threads can use them; a larger one (or more quiet events) saves the owner's later frees
 * into those spans their CAS and its refills the central lock. 8 pages is 64 KiB. */
#define SCVGC_TC_PARTIAL_PAGES 8
#define SCVGC_TC_QUIET_EVENTS 8

enum { SCVGC_TC_NEW = 0, SCVGC_TC_ACTIVE = 1, SCVGC_TC_DEAD = 2 };

typedef struct scvgc_tcache {
  scvgc_bin_t bins[SCVGC_NCLASSES];
  _Atomic(scvgc_span_t *) xspans; /* owned full spans that got a remote free (lock-free
                                     stack through span->xnext; pushed by other threads,
                                     drained by the owner) */
  uint64_t nfree;     /* small objects freed by this thread, any class (stats, as nalloc) */
  uint32_t state;     /* SCVGC_TC_*; the owning thread only */
  uint32_t flushgen;  /* the heap's sweepgen when this cache last flushed: the owner
                         flushes at its first allocation after a cycle (tcache.c T5) */
  struct scvgc_tcache *rnext, *rprev; /* registry of live caches (registry lock) */
} scvgc_tcache_t;

/* A statistics counter of the calling thread's cache (T2): only it writes, stats readers
 * load it racily; a relaxed store of the owner's plain read + 1, no locked instruction. */
static inline void scvgc_stat_inc(uint64_t *c) { SCVGC_RACY_STORE(*c, *c + 1); }

/* The calling thread's cache: static TLS, initial-exec (no allocation, no lock). */
extern __thread scvgc_tcache_t scvgc_tc SCVGC_HIDDEN
    __attribute__((tls_model("initial-exec")));

void *scvgc_tcache_refill(scvgc_tcache_t *tc, uint32_t cls) SCVGC_HIDDEN;
void scvgc_tcache_setup_key(void) SCVGC_HIDDEN;
/* free() of an object of a span the cache owns hit a full span or emptied one. */
void scvgc_tcache_free_event(scvgc_tcache_t *tc, scvgc_span_t *s) SCVGC_HIDDEN;
void scvgc_tcache_foreach(void (*fn)(const scvgc_tcache_t *, void *), void *arg) SCVGC_HIDDEN;
void scvgc_tcache_foreach_locked(void (*fn)(const scvgc_tcache_t *, void *), void *arg) SCVGC_HIDDEN;
void scvgc_tcache_flush(scvgc_tcache_t *tc) SCVGC_HIDDEN;
/* The first allocation after a cycle (collect mode): sweep the current spans, hand the
 * others back (T5). */
void scvgc_tcache_flush_stale(scvgc_tcache_t *tc) SCVGC_HIDDEN;
void scvgc_tcache_thread_exit(void) SCVGC_HIDDEN;
void scvgc_tcache_lock_registry(void) SCVGC_HIDDEN;
void scvgc_tcache_unlock_registry(void) SCVGC_HIDDEN;
void scvgc_tcache_fork_child(void) SCVGC_HIDDEN;
/* The checker of T1/T4 (tcache.c); owner only. Aborts on a broken invariant. */
void scvgc_tcache_check(const scvgc_tcache_t *tc) SCVGC_HIDDEN;

/* ---- stats (stats.c) ---------------------------------------------------------------- */
typedef struct {
  size_t sys_bytes;      /* address space mapped for the heap (arenas) */
  size_t inuse_bytes;    /* pages of in-use spans, less the OS pages released inside them */
  size_t idle_bytes;     /* free pages not released */
  size_t released_bytes; /* pages released to the OS (or never touched): free pages, and OS
                            pages inside central spans (central.c R1) */
  size_t consumed_bytes; /* sys less released: what the heap may hold resident */
  size_t gc_sys_bytes;   /* core metadata mapped: spans, arenas, side metadata */
  size_t live_objects;   /* objects allocated and not freed */
  size_t nmalloc, nfree; /* cumulative counts */
} scvgc_stats_t;

void scvgc_stats_read(scvgc_stats_t *st) SCVGC_HIDDEN;
/* The same with the registry and heap locks held by the caller (the collector). */
void scvgc_stats_read_locked(scvgc_stats_t *st) SCVGC_HIDDEN;
/* Heap-side counters (heap lock) */
typedef struct {
  size_t sys, inuse_pages, released_pages;
  size_t inspan_released; /* OS pages released inside in-use spans (central.c R1) */
  size_t large_nalloc, large_nfree, large_bytes;
} scvgc_heapstat_t;
void scvgc_heap_stats(scvgc_heapstat_t *hs) SCVGC_HIDDEN;
void scvgc_heap_stats_locked(scvgc_heapstat_t *hs) SCVGC_HIDDEN; /* heap lock held */
/* Fold the counters of a cache that is going away. Registry lock held. */
void scvgc_stats_fold_tcache(const scvgc_tcache_t *tc) SCVGC_HIDDEN;
/* Counts of threads whose cache is gone (DEAD): rare, so shared atomics. */
void scvgc_stats_orphan(int64_t nalloc, int64_t nfree) SCVGC_HIDDEN;

/* ---- the scavenger (scavenge.c) ---------------------------------------------------- */
typedef struct {
  size_t heap_bytes;   /* released from free spans */
  size_t inspan_bytes; /* released inside central spans */
  size_t meta_bytes;   /* released from the span-struct pool (fixalloc.c F1) */
} scvgc_scavenged_t;
/* One pass: release what stayed unused since before now - SCVGC_SCAVENGE_AFTER (all: every
 * free page, whatever its age). No core lock held. Returns the bytes released. */
size_t scvgc_scavenge_pass(uint64_t now, bool all, scvgc_scavenged_t *out) SCVGC_HIDDEN;
/* The constructor's part: no thread; it is started later (scavenge.c, gc.c T1). */
void scvgc_scavenge_start(void) SCVGC_HIDDEN;
/* The page heap holds SCVGC_SCAVENGE_START_MIN of free pages not released (heap lock may be
 * held: atomics only): start the thread at the end of the next free() or allocation slow
 * path (scvgc_scavenge_restart). */
#define SCVGC_SCAVENGE_START_MIN ((size_t)2 << 20)
void scvgc_scavenge_need(void) SCVGC_HIDDEN;
bool scvgc_scavenge_started(void) SCVGC_HIDDEN; /* tests */
/* A fork child has no scavenger: it is started again at the first safe point (below). */
void scvgc_scavenge_fork_child(void) SCVGC_HIDDEN;
extern _Atomic int scvgc_scavenge_restart SCVGC_HIDDEN;
/* The allocation slow path, no core lock held, the cache consistent: start the thread when
 * it is wanted (scvgc_scavenge_restart set: needed, or a fork child's). */
void scvgc_scavenge_restart_now(void) SCVGC_HIDDEN;
/* SCVGC_MEMLIMIT: consumed bytes (sys less released) above which the page heap wakes the
 * scavenger at once; SIZE_MAX when off or already woken. */
extern _Atomic size_t scvgc_memlimit_trigger SCVGC_HIDDEN;
void scvgc_scavenge_memlimit_kick(void) SCVGC_HIDDEN; /* no core lock held */
void scvgc_scavenge_wake(void) SCVGC_HIDDEN;

/* ---- reports on demand (snapshot.c): SCVGC_REPORT_SIGNAL ------------------------------- */
/* "SIGUSR2", "USR2", "12", "SIGRTMIN+1", "off" (0); false for a signal not allowed. */
bool scvgc_parse_signal(const char *v, int *sig) SCVGC_HIDDEN;
/* The constructor (from scvgc_scavenge_start): installs the handler when the option is set
 * and the signal is at its default; true when it did (the scavenger must then start). */
bool scvgc_snapshot_start(void) SCVGC_HIDDEN;
bool scvgc_snapshot_pending(void) SCVGC_HIDDEN;
void scvgc_snapshot_run(void) SCVGC_HIDDEN; /* the scavenger thread, no lock held */
void scvgc_snapshot_fork_child(void) SCVGC_HIDDEN;

/* ---- the timeline (timeline.c): samples at each GC, scavenger pass and exit ---------- */
enum { SCVGC_TL_GC = 0, SCVGC_TL_SCVG = 1, SCVGC_TL_EXIT = 2 };
typedef struct {
  uint64_t t_ns;  /* since the library started */
  uint64_t inuse_bytes, sys_bytes, released_bytes;
  int64_t rss_bytes; /* -1: unknown */
  uint32_t event;    /* SCVGC_TL_* */
} scvgc_tlsample_t;
/* Record a sample now. Takes the registry and heap locks (stats): no core lock held; reads
 * /proc/self/statm with raw system calls. */
void scvgc_timeline_sample(int event) SCVGC_HIDDEN;
void scvgc_timeline_start(void) SCVGC_HIDDEN; /* t = 0 (the constructor) */
/* A copy of the samples in time order (malloc'd, free it); -1: out of memory. */
long scvgc_timeline_copy(scvgc_tlsample_t **out) SCVGC_HIDDEN;
void scvgc_timeline_fork_child(void) SCVGC_HIDDEN;
int64_t scvgc_rss_now(void) SCVGC_HIDDEN; /* resident bytes (/proc/self/statm), -1 unknown */

/* ---- OS memory and metadata (os.c, fixalloc.c) -------------------------------------- */
void *scvgc_sys_map(size_t n) SCVGC_HIDDEN;           /* zeroed, or NULL */
/* User memory (charged by the overcommit policy, os.c): n bytes aligned to align. */
void *scvgc_sys_map_aligned(size_t n, size_t align) SCVGC_HIDDEN;
/* The same inside a reservation of resv bytes (its part past n PROT_NONE): huge blocks. */
void *scvgc_sys_map_huge(size_t n, size_t resv, size_t align) SCVGC_HIDDEN;
void scvgc_sys_decommit(void *p, size_t n) SCVGC_HIDDEN; /* back to PROT_NONE, uncharged */
bool scvgc_sys_recommit(void *p, size_t n) SCVGC_HIDDEN;  /* PROT_NONE to user memory */
void *scvgc_sys_reserve(size_t resv, size_t align) SCVGC_HIDDEN; /* PROT_NONE, aligned */
/* mremap the n bytes at from onto to (a reservation of the caller's): pages move, no copy. */
bool scvgc_sys_move(void *from, size_t n, void *to) SCVGC_HIDDEN;
/* Call fn for the runs of [lo, hi) whose OS pages were ever touched (present or swapped
 * out, not the zero page): the rest reads zero. From the page tables; all of [lo, hi)
 * when they cannot be read. System calls only: safe with the world stopped. */
typedef void (*scvgc_range_fn)(void *arg, uintptr_t lo, uintptr_t hi);
void scvgc_sys_touched(uintptr_t lo, uintptr_t hi, scvgc_range_fn fn, void *arg) SCVGC_HIDDEN;
/* Open (read-only, close-on-exec, raw system call) /proc/thread-self/NAME, or /proc/self/NAME
 * where the kernel has no thread-self: the address space's files seen through the calling
 * thread. /proc/self is the thread group leader's view, and once the main thread has called
 * pthread_exit its maps read empty and its pagemap cannot be opened (a collector reading its
 * roots there saw no mapping and freed what only globals held). -1 with errno on failure. */
int scvgc_open_proc_self(const char *name) SCVGC_HIDDEN;
/* The numbers of the named fields of that status file ("Threads", "VmHWM": the first number
 * after "NAME:", as written, kB unconverted) into vals, -1 for one not found. Returns how
 * many were found. */
int scvgc_proc_status(const char *const *keys, int64_t *vals, int n) SCVGC_HIDDEN;
void scvgc_sys_pagemap_scan(bool on) SCVGC_HIDDEN; /* tests: false reads /proc/self/pagemap */
void scvgc_sys_unmap(void *p, size_t n) SCVGC_HIDDEN;
void scvgc_sys_release(void *p, size_t n) SCVGC_HIDDEN; /* MADV_DONTNEED */
/* A mapping for the core's own metadata: counted in scvgc_gc_sys and registered as the
 * library's own, so the collector never scans it as a root (own.c O1, roots.c R1). */
void *scvgc_sys_map_meta(size_t n) SCVGC_HIDDEN;
void scvgc_sys_unmap_meta(void *p, size_t n) SCVGC_HIDDEN;
uint64_t scvgc_nanotime(void) SCVGC_HIDDEN;
/* The scavenger's clock (span ages): scvgc_nanotime, unless a test set a fake time. */
uint64_t scvgc_clock(void) SCVGC_HIDDEN;
void scvgc_clock_set_fake(uint64_t ns) SCVGC_HIDDEN; /* tests; 0 = the real clock again */
const char *scvgc_getenv(const char *name) SCVGC_HIDDEN; /* no allocation */
extern _Atomic size_t scvgc_gc_sys SCVGC_HIDDEN; /* metadata bytes mapped */

scvgc_span_t *scvgc_spanstruct_alloc(void) SCVGC_HIDDEN;   /* heap lock held */
void scvgc_spanstruct_free(scvgc_span_t *s) SCVGC_HIDDEN;  /* heap lock held */
size_t scvgc_spanstruct_release(void) SCVGC_HIDDEN; /* the scavenger: no lock held (F1) */
void *scvgc_meta_alloc(size_t n) SCVGC_HIDDEN;  /* zeroed block for side metadata; no lock held */
extern bool scvgc_fixalloc_test_no_map SCVGC_HIDDEN; /* tests: the OS refuses metadata chunks (F4) */
/* The side-metadata block of a span of nelems objects: objmeta array + collector bitmaps
 * (mark.h). Allocated when the span is made, in the tracking modes only. */
size_t scvgc_objmeta_bytes(uint32_t nelems) SCVGC_HIDDEN;
void scvgc_meta_free(void *p, size_t n) SCVGC_HIDDEN;
/* The checker of fixalloc.c F2-F3 (meta free lists inside their chunks, counts agree; the
 * slabs' free counts): takes the heap and meta locks; _locked: the caller holds both. */
void scvgc_fixalloc_check(void) SCVGC_HIDDEN;
void scvgc_fixalloc_check_locked(void) SCVGC_HIDDEN;
void scvgc_meta_lock_all(void) SCVGC_HIDDEN;
void scvgc_meta_unlock_all(void) SCVGC_HIDDEN;
void scvgc_meta_reset_locks(void) SCVGC_HIDDEN;

/* ---- output (fmt.c): no allocation, no stdio ------------------------------------------ */
size_t scvgc_vsnprintf(char *buf, size_t n, const char *fmt, __builtin_va_list ap) SCVGC_HIDDEN;
size_t scvgc_snprintf(char *buf, size_t n, const char *fmt, ...) SCVGC_HIDDEN
    __attribute__((format(printf, 3, 4)));
/* One line on stderr, prefixed "==PID== scvgc: ", newline added. */
void scvgc_message(const char *fmt, ...) SCVGC_HIDDEN __attribute__((format(printf, 1, 2)));
void scvgc_write_all(int fd, const char *s, size_t n) SCVGC_HIDDEN;
/* The library's stderr (fmt.c, E1-E2): fd 2, or the file it named at start-up once the
 * program has closed it. scvgc_err_open returns -1 when there is nowhere to write. */
void scvgc_keep_stderr(void) SCVGC_HIDDEN;
int scvgc_err_open(void) SCVGC_HIDDEN;
void scvgc_err_close(int fd) SCVGC_HIDDEN;

/* ---- options (options.c) ------------------------------------------------------------ */
enum { SCVGC_MODE_OFF = 0, SCVGC_MODE_LEAK = 1, SCVGC_MODE_COLLECT = 2 };
typedef struct {
  int mode;              /* SCVGC_MODE */
  int gogc;              /* SCVGC_GOGC percent; -1 = off */
  int trace;             /* SCVGCTRACE */
  uint64_t scavenge_after_ns;
  uint64_t forcegc_ns;   /* 0 = off */
  uint64_t memlimit;     /* bytes; 0 = off */
  int stack_depth;
  uint64_t sample;       /* SCVGC_SAMPLE: mean bytes between two captured stacks; 0 = every
                            allocation's (alloc.c "sampling"); 0 whenever stack_depth is 0 */
  const char *report;    /* "stderr", "none" or a path template */
  const char *json;      /* path template or NULL */
  int exitcode;
  const char *suppress;  /* path or NULL */
  int markers;           /* SCVGC_MARKERS: marking threads; 0 = one per core (at most 16) */
  int report_signal;     /* SCVGC_REPORT_SIGNAL: 0 = off (snapshot.c) */
  int concurrent;        /* SCVGC_CONCURRENT: 1 = mark concurrently where the kernel allows
                            (gc.c C0-C4); the default in collect mode (options.c) */
  int concurrent_alone;  /* SCVGC_CONCURRENT set explicitly: concurrent even where the thread
                            that collects is the program's only one (gc.c C6) */
} scvgc_options_t;

extern scvgc_options_t scvgc_opt SCVGC_HIDDEN;
/* Nonzero when the mode keeps per-object metadata (leak, collect). Read on the fast path. */
extern int scvgc_tracking SCVGC_HIDDEN;
void scvgc_options_init(void) SCVGC_HIDDEN;
void scvgc_options_print(int fd, int markdown) SCVGC_HIDDEN;
/* The program's compiled-in defaults (options.c O1; api.c finds them): text in SCVGC_OPTIONS'
 * syntax, or LeakSanitizer's (lsan). The constructor only, before any cycle. */
void scvgc_options_program_defaults(const char *text, const char *what, bool lsan) SCVGC_HIDDEN;
/* The program turned the checks off (detect_leaks=0 or mode=off in its compiled-in defaults) */
extern int scvgc_turned_off SCVGC_HIDDEN;
/* The annotation API (api.c): the constructor's look-up of the program's hooks, and whether
 * the checks are off now (mode off, the program's defaults, __lsan_is_turned_off()). */
void scvgc_api_start(void) SCVGC_HIDDEN;
bool scvgc_api_turned_off(void) SCVGC_HIDDEN;
/* AT_SECURE (set-user-ID and the like): every SCVGC_* variable is ignored. */
bool scvgc_options_secure(void) SCVGC_HIDDEN;
extern int scvgc_options_secure_test SCVGC_HIDDEN; /* tests: 1 or 0 forces it, -1 the kernel */
/* Parse helpers, exposed for tests: return false on a bad value. */
bool scvgc_parse_duration(const char *s, uint64_t *ns) SCVGC_HIDDEN;
bool scvgc_parse_bytes(const char *s, uint64_t *bytes) SCVGC_HIDDEN;

/* ---- the allocator (alloc.c) -------------------------------------------------------- */
void scvgc_init(void) SCVGC_HIDDEN;
extern int scvgc_inited SCVGC_HIDDEN;
/* SCVGC_SAMPLE's next interval for the calling thread: exponential, mean rate, >= 1 (tests) */
uint64_t scvgc_sample_draw(uint64_t rate) SCVGC_HIDDEN;
extern uintptr_t scvgc_free_key SCVGC_HIDDEN; /* double-free key, random per process */
void *scvgc_malloc(size_t n) SCVGC_HIDDEN;
bool scvgc_free(void *p) SCVGC_HIDDEN; /* false: not this heap's pointer (or NULL) */
void *scvgc_calloc(size_t n, size_t m) SCVGC_HIDDEN;
void *scvgc_realloc(void *p, size_t n) SCVGC_HIDDEN;
void *scvgc_memalign(size_t align, size_t n) SCVGC_HIDDEN;
size_t scvgc_usable_size(const void *p) SCVGC_HIDDEN;
/* Is p (not NULL) a pointer of this heap? Foreign pointers go to glibc. */
static inline bool scvgc_owns(const void *p) { return scvgc_spanof((uintptr_t)p) != NULL; }

/* Diagnostics (diag.c): one message and the stack of the bad call. */
void scvgc_bad_free(const char *what, const void *p, const char *why) SCVGC_HIDDEN;

/* Fork handling (alloc.c): take every lock before fork, release in both after. */
void scvgc_fork_prepare(void) SCVGC_HIDDEN;
void scvgc_fork_parent(void) SCVGC_HIDDEN;
void scvgc_fork_child(void) SCVGC_HIDDEN;


/* ---- the lean layout's tests (the layout is told at scvgc_lean above) ------------------- */
static inline uint64_t *scvgc_lean_marks(const scvgc_span_t *s) { return (uint64_t *)(void *)s->meta; }
/* Lean classes: objects smaller than an OS page. A program may protect a page it owns whole, so
 * an object of 4 KiB or more may have its first words unreadable: those classes keep the full
 * layout, whose allocation test reads no object (the marker reads them through its guard). */
#define SCVGC_LEAN_MAX SCVGC_OSPAGE_SIZE
static inline bool scvgc_class_lean(uint32_t elemsize) { return scvgc_lean && elemsize < SCVGC_LEAN_MAX; }
static inline bool scvgc_span_lean(const scvgc_span_t *s) {
  return s->cls && scvgc_class_lean(s->elemsize) && s->meta;
}
/* Is slot i, at o, of lean span s allocated? Past ncarved a slot was never used; a parked
 * one reads zero (relmask before the object: no released page faulted in); any other free
 * one holds the key. A reader that must not mistake a page released meanwhile for an
 * object reads relmask again after (scvgc_lean_parked). */
SCVGC_NO_SANITIZE static inline bool scvgc_lean_allocated(const scvgc_span_t *s, uint32_t i,
                                                          void **o) {
  if (i >= __atomic_load_n(&s->ncarved, __ATOMIC_ACQUIRE)) return false;
  uint64_t rm = __atomic_load_n(&s->relmask, __ATOMIC_ACQUIRE);
  if (unlikely(rm) && (scvgc_slot_ospages(s, i) & rm)) return false;
  return __atomic_load_n(&o[1], __ATOMIC_ACQUIRE) != (void *)(scvgc_free_key ^ (uintptr_t)o);
}
static inline bool scvgc_lean_parked(const scvgc_span_t *s, uint32_t i) {
  uint64_t rm = __atomic_load_n(&s->relmask, __ATOMIC_ACQUIRE);
  return rm && (scvgc_slot_ospages(s, i) & rm);
}
static inline bool scvgc_lean_marked(const scvgc_span_t *s, uint32_t i) {
  return (__atomic_load_n(&scvgc_lean_marks(s)[i / 64], __ATOMIC_ACQUIRE) >> (i % 64)) & 1;
}
/* Set the mark bit of slot i: true when this call set it (a read first: most candidates of
 * a marker are marked already, and a locked OR would write their line). */
static inline bool scvgc_lean_mark(const scvgc_span_t *s, uint32_t i) {
  uint64_t b = 1ull << (i % 64), *w = &scvgc_lean_marks(s)[i / 64];
  if (__atomic_load_n(w, __ATOMIC_RELAXED) & b) return false;
  return !(__atomic_fetch_or(w, b, __ATOMIC_ACQ_REL) & b);
}
/* Is slot i of tracked span s (small or large) an allocated object? */
static inline bool scvgc_allocated(const scvgc_span_t *s, uint32_t i) {
  if (scvgc_span_lean(s)) return scvgc_lean_allocated(s, i, (void **)(s->base + (uintptr_t)i * s->elemsize));
  return __atomic_load_n(&s->meta[i].size, __ATOMIC_RELAXED) != 0;
}
/* special.c (P1-P3): the sampled, library-owned and ignored objects of lean spans. */
bool scvgc_special_set(scvgc_span_t *s, uintptr_t a, uint32_t stack, uint32_t size) SCVGC_HIDDEN;
bool scvgc_special_take(scvgc_span_t *s, uintptr_t a, uint32_t *stack, uint32_t *size) SCVGC_HIDDEN;
bool scvgc_special_take_locked(scvgc_span_t *s, uintptr_t a, uint32_t *stack, uint32_t *size) SCVGC_HIDDEN;
bool scvgc_special_get_locked(uintptr_t a, uint32_t *stack, uint32_t *size) SCVGC_HIDDEN;
static inline void scvgc_special_drop(scvgc_span_t *s, uintptr_t a) { /* a free: P1 */
  uint32_t st, sz;
  if (unlikely(SCVGC_RACY_LOAD(s->nspecial))) scvgc_special_take(s, a, &st, &sz);
}
size_t scvgc_special_nroots(void) SCVGC_HIDDEN;
bool scvgc_special_root_lost(void) SCVGC_HIDDEN; /* P4 */
void scvgc_special_resize(uintptr_t a, uint32_t size) SCVGC_HIDDEN; /* realloc in place */
size_t scvgc_special_count(void) SCVGC_HIDDEN;
void scvgc_special_lock_all(void) SCVGC_HIDDEN;
void scvgc_special_unlock_all(void) SCVGC_HIDDEN;
void scvgc_special_reset_locks(void) SCVGC_HIDDEN;
/* The side block of a span of class cls (0: large): lean (a lean class) or full. */
size_t scvgc_span_meta_bytes(uint32_t cls) SCVGC_HIDDEN;

#endif
