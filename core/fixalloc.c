/* fixalloc.c — memory for the core's own metadata: span structs, side-metadata blocks.
 *
 * Like Go's fixalloc/persistentalloc, this memory comes straight from mmap and is never
 * part of the heap: it is not scanned as a root and never holds user objects. All of it is
 * counted in scvgc_gc_sys.
 *
 * Span structs: a free list, refilled 64 KiB at a time. Caller holds the heap lock.
 * Meta blocks: power-of-two size buckets (16 B .. 64 KiB) with free lists, under meta_lock;
 *   larger blocks are mapped directly. Blocks come back zeroed.
 * Lock order: meta_lock is the innermost lock of the core (taken under the heap lock).
 */
#include <string.h>

#include "internal.h"
#include "lock.h"

#define CHUNK (256u << 10)

static scvgc_span_t *span_pool;

static void *chunk_alloc(size_t n) {
  void *p = scvgc_sys_map(n);
  if (p) atomic_fetch_add_explicit(&scvgc_gc_sys, n, memory_order_relaxed);
  return p;
}

scvgc_span_t *scvgc_spanstruct_alloc(void) {
  if (!span_pool) {
    scvgc_span_t *c = chunk_alloc(CHUNK);
    if (!c) return NULL;
    for (size_t i = 0; i < CHUNK / sizeof *c; i++) {
      c[i].next = span_pool;
      span_pool = &c[i];
    }
  }
  scvgc_span_t *s = span_pool;
  span_pool = s->next;
  memset(s, 0, sizeof *s);
  return s;
}

void scvgc_spanstruct_free(scvgc_span_t *s) {
  s->state = SCVGC_SPAN_DEAD;
  s->next = span_pool;
  span_pool = s;
}

#define META_MIN_SHIFT 4
#define META_MAX_SHIFT 16
static scvgc_lock_t meta_lock = SCVGC_LOCK_INIT;
static void *meta_free[META_MAX_SHIFT + 1];
static char *meta_cur, *meta_end;

static unsigned bucket(size_t n) {
  unsigned b = META_MIN_SHIFT;
  while (((size_t)1 << b) < n) b++;
  return b;
}

void *scvgc_meta_alloc(size_t n) {
  if (n > ((size_t)1 << META_MAX_SHIFT)) return chunk_alloc((n + 4095) & ~(size_t)4095);
  unsigned b = bucket(n);
  size_t sz = (size_t)1 << b;
  void *p;
  scvgc_lock(&meta_lock);
  if ((p = meta_free[b])) {
    meta_free[b] = *(void **)p;
  } else {
    if ((size_t)(meta_end - meta_cur) < sz) {
      meta_cur = chunk_alloc(CHUNK);
      meta_end = meta_cur ? meta_cur + CHUNK : NULL;
      if (!meta_cur) { scvgc_unlock(&meta_lock); return NULL; }
    }
    p = meta_cur;
    meta_cur += sz;
    scvgc_unlock(&meta_lock);
    return p; /* fresh from mmap: already zero */
  }
  scvgc_unlock(&meta_lock);
  memset(p, 0, sz);
  return p;
}

void scvgc_meta_free(void *p, size_t n) {
  if (!p) return;
  if (n > ((size_t)1 << META_MAX_SHIFT)) {
    size_t m = (n + 4095) & ~(size_t)4095;
    scvgc_sys_unmap(p, m);
    atomic_fetch_sub_explicit(&scvgc_gc_sys, m, memory_order_relaxed);
    return;
  }
  unsigned b = bucket(n);
  scvgc_lock(&meta_lock);
  *(void **)p = meta_free[b];
  meta_free[b] = p;
  scvgc_unlock(&meta_lock);
}

void scvgc_meta_lock_all(void) { scvgc_lock(&meta_lock); }
void scvgc_meta_unlock_all(void) { scvgc_unlock(&meta_lock); }
void scvgc_meta_reset_locks(void) { scvgc_lock_reset(&meta_lock); }
