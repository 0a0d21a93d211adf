/* fixalloc.c — memory for the core's own metadata: span structs, side-metadata blocks.
 *
 * Like Go's fixalloc/persistentalloc, this memory comes straight from mmap and is never
 * part of the heap: it is not scanned as a root and never holds user objects. All of it is
 * counted in scvgc_gc_sys.
 *
 * Span structs: a free list, refilled 64 KiB at a time. Caller holds the heap lock.
 * Meta blocks: sizes rounded to 64 bytes with a free list per size, under meta_lock;
 *   larger blocks are mapped directly. Blocks come back zeroed.
 * Lock order: meta_lock is the innermost lock of the core (taken under the heap lock).
 */
#include <string.h>

#include "internal.h"
#include "lock.h"

#define CHUNK (256u << 10)

static scvgc_span_t *span_pool;

static void *chunk_alloc(size_t n) { return scvgc_sys_map_meta(n); }

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

/* Meta blocks: sizes rounded up to 64 bytes, one free list per rounded size up to 64 KiB
 * (a span's block has one of a few dozen sizes, so exact lists waste nothing). */
#define META_QUANTUM 64
#define META_MAX (64u << 10)
static scvgc_lock_t meta_lock = SCVGC_LOCK_INIT;
static void *meta_free_lists[META_MAX / META_QUANTUM + 1];
static char *meta_cur, *meta_end;

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
    *list = (void *)(*(uintptr_t *)p & ~FREE_LINK_MARK);
    scvgc_unlock(&meta_lock);
    memset(p, 0, sz);
    return p;
  }
  if ((size_t)(meta_end - meta_cur) < sz) {
    /* the rest of the old chunk is lost: at most one block's worth per chunk */
    meta_cur = chunk_alloc(CHUNK);
    meta_end = meta_cur ? meta_cur + CHUNK : NULL;
    if (!meta_cur) {
      scvgc_unlock(&meta_lock);
      return NULL;
    }
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
  void **list = &meta_free_lists[meta_round(n ? n : 1) / META_QUANTUM];
  scvgc_lock(&meta_lock);
  *(uintptr_t *)p = (uintptr_t)*list | FREE_LINK_MARK;
  *list = p;
  scvgc_unlock(&meta_lock);
}

size_t scvgc_objmeta_bytes(uint32_t nelems) {
  return (size_t)nelems * sizeof(scvgc_objmeta_t) + 2 * (size_t)((nelems + 63) / 64) * 8;
}

void scvgc_meta_lock_all(void) { scvgc_lock(&meta_lock); }
void scvgc_meta_unlock_all(void) { scvgc_unlock(&meta_lock); }
void scvgc_meta_reset_locks(void) { scvgc_lock_reset(&meta_lock); }
