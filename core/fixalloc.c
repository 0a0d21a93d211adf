/* fixalloc.c — memory for the core's own metadata: span structs, side-metadata blocks.
 *
 * Like Go's fixalloc/persistentalloc, this memory comes straight from mmap and is never
 * part of the heap: it is not scanned as a root and never holds user objects. All of it is
 * counted in scvgc_gc_sys.
 *
 * Span structs: slabs of SLAB bytes, each with a bitmap of its free slots in a header at its
 *   start (so a free struct holds no link: its page can be released). Allocation takes the
 *   lowest free slot of the slab on top of the list of slabs with room, so live structs
 *   pack at the low ends. Caller holds the heap lock. The scavenger releases every OS page
 *   of a slab whose structs are all free (scvgc_spanstruct_release): after a peak of many
 *   spans the pool's memory follows the heap down (F1).
 *   F1 a slab's released bit j set: OS page j has been madvised and no struct overlapping
 *      it has been handed out since (it reads zero). A freed struct may still be read by a
 *      lock-free reader holding a stale map entry: zero reads as DEAD, which every reader
 *      checks (pageheap.c: the map is exact only for in-use spans), so it is as harmless
 *      as the stale contents were.
 * Meta blocks: sizes rounded to 64 bytes with a free list per size, under meta_lock;
 *   larger blocks are mapped directly. Blocks come back zeroed.
 *   F2 every block on a free list lies whole inside a chunk, at a multiple of 64 from the
 *      chunk's first block, its link word carries FREE_LINK_MARK, and each list holds
 *      exactly meta_nfree[size] blocks (no cycle, no block on two lists).
 *   F3 a slab's nfree is the count of its free bits, its header slots are never free, and
 *      it is on the avail list exactly when nfree > 0.
 *   F4 a meta chunk is a mapping of its own, or, where the OS refuses one (a process at its
 *      RLIMIT_AS, its arenas holding the whole limit with free pages in them), CHUNK bytes of
 *      the page heap in a MANUAL span (never freed, never scanned, no object in it; counted
 *      as heap in use, not in scvgc_gc_sys): metadata must not be what makes a malloc fail
 *      while the heap has room (fault_oom failed about 1 run in 50 so).
 * scvgc_fixalloc_check() checks F2 and F3 (the collector runs it at each cycle's start in
 * the debug build, with every lock held; tests call it).
 * Locks: meta_lock (META in internal.h's lock ranks: taken under the heap and central
 *   locks; only OWN, through scvgc_sys_map_meta, is taken under it). Span structs are the
 *   heap lock's (asserted).
 */
#define _GNU_SOURCE
#include <string.h>

#include "internal.h"
#include "lock.h"

#define CHUNK (256u << 10)
#define SLAB (256u << 10)
#define SLOTS (SLAB / sizeof(scvgc_span_t))
#define HDR_SLOTS ((sizeof(slab_t) + sizeof(scvgc_span_t) - 1) / sizeof(scvgc_span_t))
#define OSPAGES (SLAB >> SCVGC_OSPAGE_SHIFT)

typedef struct slab {
  struct slab *next_avail, *prev_avail; /* slabs with a free slot (heap lock) */
  struct slab *next;                    /* every slab */
  uint32_t nfree;
  uint32_t on_avail;
  uint64_t released;                    /* F1: OS pages released */
  uint64_t freebits[(SLOTS + 63) / 64]; /* slot i is free */
} slab_t;

static slab_t *avail, *slabs;

static void *chunk_alloc(size_t n) { return scvgc_fixalloc_test_no_map ? NULL : scvgc_sys_map_meta(n); }
bool scvgc_fixalloc_test_no_map;

static scvgc_span_t *slot_of(slab_t *b, size_t i) { return (scvgc_span_t *)b + i; }

static void avail_push(slab_t *b) {
  b->on_avail = 1;
  b->prev_avail = NULL;
  b->next_avail = avail;
  if (avail) avail->prev_avail = b;
  avail = b;
}

static void avail_remove(slab_t *b) {
  b->on_avail = 0;
  if (b->prev_avail) b->prev_avail->next_avail = b->next_avail;
  else avail = b->next_avail;
  if (b->next_avail) b->next_avail->prev_avail = b->prev_avail;
}

static slab_t *slab_new(void) {
  slab_t *b = chunk_alloc(SLAB);
  if (!b) return NULL;
  for (size_t i = HDR_SLOTS; i < SLOTS; i++) b->freebits[i / 64] |= 1ull << (i % 64);
  b->nfree = (uint32_t)(SLOTS - HDR_SLOTS);
  b->next = slabs;
  slabs = b;
  avail_push(b);
  return b;
}

/* The OS pages slot i overlaps, as a mask of the slab's released bits. */
static uint64_t slot_ospages(size_t i) {
  size_t a = i * sizeof(scvgc_span_t), e = a + sizeof(scvgc_span_t) - 1;
  size_t lo = a >> SCVGC_OSPAGE_SHIFT, hi = e >> SCVGC_OSPAGE_SHIFT;
  uint64_t top = hi >= 63 ? ~0ull : (1ull << (hi + 1)) - 1;
  return top & ~((1ull << lo) - 1);
}

scvgc_span_t *scvgc_spanstruct_alloc(void) {
  SCVGC_ASSERT(scvgc_heap_locked());
  slab_t *b = avail ? avail : slab_new();
  if (!b) return NULL;
  size_t w = 0;
  while (!b->freebits[w]) w++;
  size_t i = w * 64 + (size_t)__builtin_ctzll(b->freebits[w]);
  b->freebits[w] &= ~(1ull << (i % 64));
  if (--b->nfree == 0) avail_remove(b);
  b->released &= ~slot_ospages(i); /* F1: written from now on */
  scvgc_span_t *s = slot_of(b, i);
  memset(s, 0, sizeof *s);
  s->slab = b;
  return s;
}

void scvgc_spanstruct_free(scvgc_span_t *s) {
  SCVGC_ASSERT(scvgc_heap_locked());
  s->state = SCVGC_SPAN_DEAD;
  slab_t *b = s->slab;
  size_t i = (size_t)(s - slot_of(b, 0));
  b->freebits[i / 64] |= 1ull << (i % 64);
  if (b->nfree++ == 0) avail_push(b);
}

/* F1: release the OS pages of span-struct slabs that hold only free structs. Takes the heap
 * lock for one slab at a time. Returns the bytes released. */
size_t scvgc_spanstruct_release(void) {
  size_t n = 0;
  scvgc_heap_lock_all();
  slab_t *b = slabs;
  scvgc_heap_unlock_all();
  for (; b; b = b->next) { /* slabs are never unmapped: the list only grows at its head */
    scvgc_heap_lock_all();
    if (b->nfree) {
      uint64_t busy = 0;
      for (size_t i = 0; i < SLOTS; i++)
        if (!((b->freebits[i / 64] >> (i % 64)) & 1)) busy |= slot_ospages(i);
      uint64_t rel = ~busy & ~b->released;
      for (size_t j = 0; j < OSPAGES;) {
        if (!((rel >> j) & 1)) { j++; continue; }
        size_t k = j;
        while (k < OSPAGES && ((rel >> k) & 1)) k++;
        scvgc_sys_release((char *)b + (j << SCVGC_OSPAGE_SHIFT), (k - j) << SCVGC_OSPAGE_SHIFT);
        n += (k - j) << SCVGC_OSPAGE_SHIFT;
        j = k;
      }
      b->released |= rel;
    }
    scvgc_heap_unlock_all();
  }
  return n;
}

/* Meta blocks: sizes rounded up to 64 bytes, one free list per rounded size up to 64 KiB
 * (a span's block has one of a few dozen sizes, so exact lists waste nothing). */
#define META_QUANTUM 64
#define META_MAX (64u << 10)
static scvgc_lock_t meta_lock = SCVGC_LOCK_RANKED(SCVGC_RANK_META);
static void *meta_free_lists[META_MAX / META_QUANTUM + 1];
static size_t meta_nfree[META_MAX / META_QUANTUM + 1]; /* F2: blocks on each list */
static char *meta_cur, *meta_end;
/* Every chunk, newest first, linked through its first block (F2's bounds). */
typedef struct chunk { struct chunk *next; } chunk_t;
static chunk_t *chunks;

/* A free block's first word links the free list. A sweeper may still read a block its span
 * gave back meanwhile (sweep.c S3): the link carries the mark bit of objmeta[0] (bit 63 of
 * the word is bit 31 of .size), so it never reads as an allocated, unmarked object. */
#define FREE_LINK_MARK ((uintptr_t)SCVGC_META_MARK << 32)

static size_t meta_round(size_t n) { return (n + META_QUANTUM - 1) & ~(size_t)(META_QUANTUM - 1); }

void *scvgc_meta_alloc(size_t n) {
  if (n > META_MAX) return chunk_alloc((n + 4095) & ~(size_t)4095);
  size_t sz = meta_round(n ? n : 1);
  void **list = &meta_free_lists[sz / META_QUANTUM];
  void *p;
  scvgc_lock(&meta_lock);
  if ((p = *list)) {
    SCVGC_ASSERT(*(uintptr_t *)p & FREE_LINK_MARK); /* F2 */
    *list = (void *)(*(uintptr_t *)p & ~FREE_LINK_MARK);
    meta_nfree[sz / META_QUANTUM]--;
    scvgc_unlock(&meta_lock);
    memset(p, 0, sz);
    return p;
  }
  if ((size_t)(meta_end - meta_cur) < sz) {
    /* the rest of the old chunk is lost: at most one block's worth per chunk */
    char *m = chunk_alloc(CHUNK);
    if (!m) { /* F4: no address space for a mapping; the heap's free pages, then */
      scvgc_unlock(&meta_lock); /* the heap lock ranks above META */
      scvgc_span_t *h = scvgc_heap_alloc(CHUNK >> SCVGC_PAGE_SHIFT, 0, SCVGC_SPAN_MANUAL, 0, NULL);
      if (!h) return NULL;
      m = (char *)h->base;
      if (h->needzero) memset(m, 0, CHUNK);
      scvgc_lock(&meta_lock); /* another chunk may have come meanwhile: its rest is lost */
    }
    meta_cur = m;
    meta_end = m + CHUNK;
    chunk_t *c = (chunk_t *)meta_cur; /* its first block links the chunks (F2) */
    c->next = chunks;
    chunks = c;
    meta_cur += META_QUANTUM;
  }
  p = meta_cur;
  meta_cur += sz;
  scvgc_unlock(&meta_lock);
  return p; /* fresh from mmap: already zero */
}

void scvgc_meta_free(void *p, size_t n) {
  if (!p) return;
  if (n > META_MAX) {
    scvgc_sys_unmap_meta(p, (n + 4095) & ~(size_t)4095);
    return;
  }
  size_t k = meta_round(n ? n : 1) / META_QUANTUM;
  void **list = &meta_free_lists[k];
  scvgc_lock(&meta_lock);
  *(uintptr_t *)p = (uintptr_t)*list | FREE_LINK_MARK;
  *list = p;
  meta_nfree[k]++;
  scvgc_unlock(&meta_lock);
}

/* ---- the checker (F2, F3) ---- */

static bool in_chunk(uintptr_t p, size_t sz) {
  for (chunk_t *c = chunks; c; c = c->next) {
    uintptr_t lo = (uintptr_t)c + META_QUANTUM, hi = (uintptr_t)c + CHUNK;
    if (p >= lo && p < hi) return (p - lo) % META_QUANTUM == 0 && p + sz <= hi;
  }
  return false;
}

void scvgc_fixalloc_check_locked(void) {
  SCVGC_ASSERT_HELD(&meta_lock);
  SCVGC_ASSERT(scvgc_heap_locked());
  for (size_t k = 1; k <= META_MAX / META_QUANTUM; k++) { /* F2 */
    size_t n = 0, sz = k * META_QUANTUM;
    for (uintptr_t *p = meta_free_lists[k]; p; n++) {
      SCVGC_CHECK(n < meta_nfree[k]); /* the count, and no cycle */
      SCVGC_CHECK(in_chunk((uintptr_t)p, sz));
      SCVGC_CHECK(*p & FREE_LINK_MARK);
      p = (uintptr_t *)(*p & ~FREE_LINK_MARK);
    }
    SCVGC_CHECK(n == meta_nfree[k]);
  }
  size_t navail = 0;
  for (slab_t *b = avail; b; b = b->next_avail, navail++) {
    SCVGC_CHECK(b->on_avail && b->nfree > 0);
    SCVGC_CHECK(b->next_avail == NULL || b->next_avail->prev_avail == b);
  }
  size_t nslabs_avail = 0;
  for (slab_t *b = slabs; b; b = b->next) { /* F3 */
    size_t nfree = 0;
    for (size_t w = 0; w < (SLOTS + 63) / 64; w++) nfree += (size_t)__builtin_popcountll(b->freebits[w]);
    for (size_t i = 0; i < HDR_SLOTS; i++) SCVGC_CHECK(!((b->freebits[i / 64] >> (i % 64)) & 1));
    SCVGC_CHECK(nfree == b->nfree && nfree <= SLOTS - HDR_SLOTS);
    SCVGC_CHECK(b->on_avail == (b->nfree > 0));
    nslabs_avail += b->on_avail;
  }
  SCVGC_CHECK(nslabs_avail == navail);
}

void scvgc_fixalloc_check(void) {
  scvgc_heap_lock_all();
  scvgc_meta_lock_all();
  scvgc_fixalloc_check_locked();
  scvgc_meta_unlock_all();
  scvgc_heap_unlock_all();
}

size_t scvgc_objmeta_bytes(uint32_t nelems) {
  return (size_t)nelems * sizeof(scvgc_objmeta_t) + 2 * (size_t)((nelems + 63) / 64) * 8;
}

/* Lean: mark, visited and indirect bitmaps (internal.h "lean layout"); the mark words first,
 * so a freed block's link word (FREE_LINK_MARK) reads as marked there too. */
size_t scvgc_span_meta_bytes(uint32_t cls) {
  const scvgc_class_t *k = &scvgc_classes[cls];
  if (cls && scvgc_class_lean(k->size)) return 3 * (size_t)((k->nelems + 63) / 64) * 8;
  return scvgc_objmeta_bytes(cls ? k->nelems : 1);
}

void scvgc_meta_lock_all(void) { scvgc_lock(&meta_lock); }
void scvgc_meta_unlock_all(void) { scvgc_unlock(&meta_lock); }
void scvgc_meta_reset_locks(void) { scvgc_lock_reset(&meta_lock); }
