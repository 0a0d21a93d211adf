/* mark.h — types and functions of the collector shared by workbuf.c, roots.c, mark.c, gc.c
 * and report.c. The overview of a collection cycle is at the top of gc.c.
 */
#ifndef SCVGC_MARK_H
#define SCVGC_MARK_H

#include <sys/types.h>

#include "internal.h"
#include "own.h"
#include "stw.h"

/* ---- workbufs (workbuf.c) ------------------------------------------------------------ */
#define SCVGC_WB_BYTES 2048
#define SCVGC_WB_NOBJ ((SCVGC_WB_BYTES - 2 * sizeof(void *)) / sizeof(uintptr_t))

typedef struct scvgc_workbuf {
  struct scvgc_workbuf *next; /* on the full or empty list (wb_lock) */
  uintptr_t nobj;
  uintptr_t obj[SCVGC_WB_NOBJ]; /* grey objects: their first byte */
} scvgc_workbuf_t;

scvgc_workbuf_t *scvgc_wb_getempty(void) SCVGC_HIDDEN;
void scvgc_wb_putempty(scvgc_workbuf_t *b) SCVGC_HIDDEN;
void scvgc_wb_putfull(scvgc_workbuf_t *b) SCVGC_HIDDEN;
scvgc_workbuf_t *scvgc_wb_trygetfull(void) SCVGC_HIDDEN;
bool scvgc_wb_have_full(void) SCVGC_HIDDEN;
void scvgc_wb_check_empty(void) SCVGC_HIDDEN;
size_t scvgc_wb_spans(void) SCVGC_HIDDEN;
size_t scvgc_wb_bytes(void) SCVGC_HIDDEN;
void scvgc_wb_retire(void) SCVGC_HIDDEN;
size_t scvgc_wb_release(size_t n) SCVGC_HIDDEN;
/* The fork child (midmark: the fork came during a concurrent mark, W3). */
void scvgc_wb_fork_child(bool midmark) SCVGC_HIDDEN;
/* W3: the collector does not hold the heap lock (a concurrent mark): on or off. */
void scvgc_wb_heap_unlocked(bool on) SCVGC_HIDDEN;

/* ---- per-object collector bits ------------------------------------------------------- *
 * The mark bit is in each object's metadata word (SCVGC_META_MARK, internal.h). After the
 * objmeta array of a span's side-metadata block come two bitmaps of W = ceil(nelems/64)
 * words each, used only to classify the leaks:
 *   visited   a leaked object already assigned to a leak group
 *   indirect  reached from another leaked object
 * Mark bits and both bitmaps are cleared at the start of each cycle. */
static inline uint32_t scvgc_bitmap_words(uint32_t nelems) { return (nelems + 63) / 64; }
static inline uint64_t *scvgc_visited_bits(const scvgc_span_t *s) {
  if (scvgc_span_lean(s)) return scvgc_lean_marks(s) + scvgc_bitmap_words(s->nelems);
  return (uint64_t *)(s->meta + (s->state == SCVGC_SPAN_SMALL ? s->nelems : 1));
}
static inline uint64_t *scvgc_indirect_bits(const scvgc_span_t *s) {
  return scvgc_visited_bits(s) + scvgc_bitmap_words(s->state == SCVGC_SPAN_SMALL ? s->nelems : 1);
}
static inline bool scvgc_marked(const scvgc_span_t *s, uint32_t i) {
  if (scvgc_span_lean(s)) return scvgc_lean_marked(s, i);
  return s->meta[i].size & SCVGC_META_MARK;
}

static inline bool scvgc_bit(const uint64_t *bits, uint32_t i) { return (bits[i / 64] >> (i % 64)) & 1; }
static inline void scvgc_setbit(uint64_t *bits, uint32_t i) { bits[i / 64] |= 1ull << (i % 64); }

/* ---- marking (mark.c) ---------------------------------------------------------------- */
/* Candidate words checked together (mark.c mark_batch): their misses overlap. 128 with 16
 * objects scanned per prefetch round (mark.c scvgc_mark_drain) against 64 and 8: the random
 * 512 MiB tree of bench/workloads/markrate.c marked at 864 MB/s against 760 (means of 5
 * interleaved runs, one marker), 1 GiB 569 against 519 (medians); GCBench unchanged. */
#define SCVGC_MARK_BATCH 128
typedef struct {
  scvgc_workbuf_t *wb;  /* this marker's own workbuf */
  uintptr_t batch[SCVGC_MARK_BATCH]; /* candidate words waiting for their check (mark.c) */
  int nbatch;
  uint64_t bytes;       /* bytes scanned */
  uint64_t objects;     /* objects greyed */
  uint64_t live;        /* bytes of the slots of the objects greyed (the live heap) */
  bool oom;             /* a workbuf could not be had: the cycle must free nothing */
} scvgc_marker_t;

/* The object containing address w if it is an allocated object of the heap: its span and
 * slot index. The candidate check of the conservative marker (O(1): the span map, a bounds
 * check, the slot's metadata). */
bool scvgc_find_object(uintptr_t w, scvgc_span_t **sp, uint32_t *idx) SCVGC_HIDDEN;
/* First byte and scan length (requested bytes, rounded up to words) of object idx of s. */
uintptr_t scvgc_object_base(const scvgc_span_t *s, uint32_t idx) SCVGC_HIDDEN;
size_t scvgc_object_size(const scvgc_span_t *s, uint32_t idx) SCVGC_HIDDEN;

/* Call fn over the words of object [lo, hi) that may be non-zero: all of them, or for an
 * object of SCVGC_SPARSE_MIN bytes or more, the runs of its OS pages that were ever
 * touched (os.c, the page tables): the rest reads zero and holds no pointer. Below that
 * size the page-table walk costs more than the reading it saves. */
#define SCVGC_SPARSE_MIN ((uintptr_t)1 << 20)
void scvgc_object_words(uintptr_t lo, uintptr_t hi, scvgc_range_fn fn, void *arg) SCVGC_HIDDEN;
/* The guard of scvgc_object_words (mark.c M3): on before the drain, off after the leaks are
 * classified, by the collector with the world stopped (the markers join it by themselves).
 * Off returns the number of pages skipped since the cycle's start (scvgc_mark_skipped_reset:
 * unreadable pages of live objects, the concurrent reads' included). */
uint64_t scvgc_mark_guard(bool on) SCVGC_HIDDEN;

/* Concurrent marking (gc.c C2): on, large objects are read as M6 says (no signal handler);
 * the caller turns it on with the world stopped, after scvgc_mark_concurrent_ok(). */
void scvgc_mark_concurrent(bool on) SCVGC_HIDDEN;
bool scvgc_mark_concurrent_ok(void) SCVGC_HIDDEN;
void scvgc_mark_skipped_reset(void) SCVGC_HIDDEN; /* a cycle's start: see scvgc_mark_guard */
/* M7: scan again the marked objects' parts of the written OS pages [lo, hi) (arg: the
 * marker; a scvgc_range_fn for scvgc_wp_written). */
void scvgc_mark_written(void *m, uintptr_t lo, uintptr_t hi) SCVGC_HIDDEN;
void scvgc_marker_init(scvgc_marker_t *m) SCVGC_HIDDEN;
void scvgc_marker_done(scvgc_marker_t *m) SCVGC_HIDDEN;
/* Grey every object that a word-aligned word of [lo, hi) points into. The checks may be
 * held back in the marker's batch: scvgc_mark_flush runs them. */
void scvgc_mark_range(scvgc_marker_t *m, uintptr_t lo, uintptr_t hi) SCVGC_HIDDEN;
/* The same at every byte offset (unaligned words): writable and executable mappings. */
void scvgc_mark_range_bytes(scvgc_marker_t *m, uintptr_t lo, uintptr_t hi) SCVGC_HIDDEN;
void scvgc_mark_flush(scvgc_marker_t *m) SCVGC_HIDDEN;
void scvgc_mark_word(scvgc_marker_t *m, uintptr_t w) SCVGC_HIDDEN;
/* The greying of the lean layout's library-owned and ignored objects (special.c P3). */
void scvgc_special_roots(scvgc_marker_t *m) SCVGC_HIDDEN;
/* Scan grey objects until no marker has any left (termination over all markers). */
void scvgc_mark_drain(scvgc_marker_t *m) SCVGC_HIDDEN;
/* Parallel marking: the marker threads (started outside malloc by scvgc_mark_start) join
 * the calling thread's drain. Returns when all grey objects are scanned. */
void scvgc_mark_parallel(scvgc_marker_t *self) SCVGC_HIDDEN;
int scvgc_mark_start_threads(int n) SCVGC_HIDDEN;
int scvgc_mark_nthreads(void) SCVGC_HIDDEN;
void scvgc_mark_fork_child(void) SCVGC_HIDDEN; /* the marker threads are not in the child */
void scvgc_mark_stop_threads(void) SCVGC_HIDDEN;      /* gc_lock held */
void scvgc_gc_stop_libthreads(void) SCVGC_HIDDEN;     /* gc.c: every library thread ends */
/* What the markers of the current cycle found, summed at scvgc_marker_done. */
extern _Atomic uint64_t scvgc_mark_objects, scvgc_mark_live;

/* ---- roots (roots.c) ----------------------------------------------------------------- */
/* Scan every root class of the SPEC with the world stopped: registers and live stacks of
 * the stopped threads (from w), TLS, data and bss of loaded objects, other writable
 * private mappings that are not the library's own. false: the roots could not be read
 * whole (a fault during the scan, pages swapped out meanwhile): the cycle must free
 * nothing. */
bool scvgc_roots_scan(scvgc_marker_t *m, const scvgc_world_t *w) SCVGC_HIDDEN;
/* A library thread (tid) started on the stack [block, block + size) that the library gave
 * it: where glibc's struct pthread at tp records its stack block and its tid (roots.c, root
 * class 2). */
void scvgc_roots_learn_tcb(uintptr_t tp, uintptr_t block, size_t size, pid_t tid) SCVGC_HIDDEN;
bool scvgc_roots_tcb_known(void) SCVGC_HIDDEN; /* the layout above was learned */
/* The calling thread is exiting (its cache's exit destructor): glibc keeps its stack block
 * for reuse, and from the thread's end on, the part below its descriptor is dead (roots.c). */
void scvgc_roots_thread_exit(void) SCVGC_HIDDEN;
/* Is the page whose /proc/self/pagemap entry is e one the program wrote (a private copy,
 * in memory or swapped out), in a mapping of a file or not? Exposed for tests. */
bool scvgc_roots_page_written(uint64_t e, bool file) SCVGC_HIDDEN;
/* Tests: read the roots as if /proc/self/pagemap could not be opened (-1), through pagemap
 * in anonymous mappings too as with pages in swap (1), or as it comes (0). */
void scvgc_roots_test_pagemap(int how) SCVGC_HIDDEN;
void scvgc_roots_init(void) SCVGC_HIDDEN;
/* A root region of the program's (api.c): add, or remove the one registered with exactly
 * these bounds; false when the table is full or no such region is registered. */
bool scvgc_roots_user_add(uintptr_t start, size_t len, bool add) SCVGC_HIDDEN;

#endif
