/* engine.c — the fuzz engine shared by the libFuzzer target (libfuzzer.c) and the standalone
 * driver (driver.c): it reads a byte string as a sequence of heap operations, runs them on
 * the core's entry points directly (scvgc_malloc, scvgc_free, scvgc_realloc, scvgc_memalign,
 * scvgc_calloc, scvgc_gc_cycle — the shim's malloc maps onto these, preload/shim.c), and
 * checks every object against a shadow model.
 *
 * The model: NSLOTS slots in this file's bss (a root of the collector, so every object the
 * model holds is reachable), each with the object's address, requested size, alignment and
 * the seed of the byte pattern it was filled with. Checks, each an abort with the operation
 * and the object on failure:
 *   - every object's bytes are its pattern: before a free, around a realloc (the prefix
 *     survives), after each collection (all objects), at the end of each input (all);
 *   - calloc memory is zero; memalign memory is aligned; usable size >= the request;
 *   - a new object overlaps no object the model holds (a live object reclaimed or handed
 *     out twice would);
 *   - at the end of an input, with every object freed: the heap's live-object count is
 *     back to where it was (off, leak), or not above it plus the objects dropped (collect).
 * Helper threads take hand-offs asynchronously: frees of the main thread's objects (remote
 * frees) and allocations the main thread adopts later (objects in the helpers' spans),
 * while the main thread goes on allocating and collecting. A helper can be made to exit
 * (its cache is flushed) and is replaced. In collect mode "drop" forgets an object without
 * freeing it: garbage for the collector; in the other modes drop frees.
 *
 * The mode comes from SCVGC_MODE (collect when unset); in collect mode SCVGC_GOGC defaults
 * to 10, so allocation alone starts collections on any thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "gc.h"
#include "sweep.h"
#include "engine.h"

#define NSLOTS 64
#define NHELPERS 2
#define QLEN 32

typedef struct {
  unsigned char *p; /* NULL: empty */
  size_t n;         /* requested bytes */
  size_t align;     /* requested alignment (16 for plain malloc) */
  uint8_t seed;     /* pattern seed */
  int pending;      /* >0: helper pending-1 owes this slot an object (see adopt) */
} slot_t;

enum { RQ_FREE = 1, RQ_ALLOC = 2, RQ_EXIT = 3 };
typedef struct {
  int kind;
  unsigned char *p; /* RQ_FREE: the object; RQ_ALLOC: the result */
  size_t n;
  uint8_t seed;
  int slot;         /* RQ_ALLOC: the slot that adopts the result */
} req_t;

typedef struct {
  pthread_t t;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  req_t q[QLEN];     /* bss: a root (objects in flight are reachable) */
  unsigned head;     /* next to post (main) */
  unsigned done;     /* processed (helper) */
  int running;
} helper_t;

static slot_t slots[NSLOTS];
static helper_t helpers[NHELPERS];
static int mode;
static unsigned long nops_total, ncollect_total, nhandoff_total;

/* ---- failure -------------------------------------------------------------------------- */

static size_t cur_op; /* index of the operation being run, for messages */

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fprintf(stderr, "scvgc-fuzz: FAILED at operation %zu (mode %s): %s\n", cur_op,
          mode == SCVGC_MODE_COLLECT ? "collect" : mode == SCVGC_MODE_LEAK ? "leak" : "off", buf);
  fflush(stderr);
  abort();
}

/* ---- patterns -------------------------------------------------------------------------- */

static inline uint8_t pat(uint8_t seed, size_t i) {
  return (uint8_t)(seed * 0x9du + i * 0x3bu + (i >> 8) * 0x11u + 1);
}

static void fill(unsigned char *p, size_t from, size_t n, uint8_t seed) {
  for (size_t i = from; i < n; i++) p[i] = pat(seed, i);
}

static void check(const unsigned char *p, size_t n, uint8_t seed, const char *when, int slot) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != pat(seed, i))
      die("%s: object %p of slot %d (%zu bytes, seed %u): byte %zu is 0x%02x, expected 0x%02x"
          " (reclaimed or overwritten while live?)",
          when, (void *)p, slot, n, seed, i, p[i], pat(seed, i));
}

static void check_all(const char *when) {
  for (int i = 0; i < NSLOTS; i++)
    if (slots[i].p && !slots[i].pending) check(slots[i].p, slots[i].n, slots[i].seed, when, i);
}

/* A new object: aligned, big enough, and disjoint from every object the model holds. */
static void check_new(unsigned char *p, size_t n, size_t align, const char *what) {
  if ((uintptr_t)p % align) die("%s(%zu) returned %p, not aligned to %zu", what, n, (void *)p, align);
  size_t us = scvgc_usable_size(p);
  if (us < n) die("%s(%zu) = %p: usable size %zu is smaller", what, n, (void *)p, us);
  uintptr_t a = (uintptr_t)p, ae = a + (n ? n : 1);
  for (int i = 0; i < NSLOTS; i++) {
    if (!slots[i].p || slots[i].pending) continue;
    uintptr_t b = (uintptr_t)slots[i].p, be = b + (slots[i].n ? slots[i].n : 1);
    if (a < be && b < ae)
      die("%s(%zu) = %p overlaps the live object %p (%zu bytes) of slot %d", what, n,
          (void *)p, (void *)slots[i].p, slots[i].n, i);
  }
}

/* ---- helper threads --------------------------------------------------------------------- */

static void *helper_main(void *arg) {
  helper_t *h = arg;
  pthread_mutex_lock(&h->mu);
  for (;;) {
    while (h->done == h->head) pthread_cond_wait(&h->cv, &h->mu);
    req_t *r = &h->q[h->done % QLEN];
    pthread_mutex_unlock(&h->mu);
    int kind = r->kind;
    if (kind == RQ_FREE) {
      scvgc_free(r->p);
    } else if (kind == RQ_ALLOC) {
      unsigned char *p = scvgc_malloc(r->n);
      if (!p) die("helper: malloc(%zu) failed", r->n);
      fill(p, 0, r->n, r->seed);
      r->p = p;
    }
    pthread_mutex_lock(&h->mu);
    h->done++;
    pthread_cond_broadcast(&h->cv);
    if (kind == RQ_EXIT) break;
  }
  pthread_mutex_unlock(&h->mu);
  return NULL;
}

static void helper_start(helper_t *h) {
  h->head = h->done = 0;
  if (pthread_create(&h->t, NULL, helper_main, h)) die("pthread_create failed");
  h->running = 1;
}

/* Adopt what h allocated for the model (its RQ_ALLOC requests up to 'upto'). */
static void adopt(helper_t *h, unsigned from, unsigned upto) {
  for (unsigned k = from; k < upto; k++) {
    req_t *r = &h->q[k % QLEN];
    if (r->kind != RQ_ALLOC) continue;
    slot_t *s = &slots[r->slot];
    s->pending = 0;
    check_new(r->p, r->n, SCVGC_ALIGN, "helper malloc");
    check(r->p, r->n, r->seed, "adopting a helper's object", r->slot);
    s->p = r->p;
    s->n = r->n;
    s->align = SCVGC_ALIGN;
    s->seed = r->seed;
    r->p = NULL;
  }
}

static unsigned adopted[NHELPERS];

static void helper_sync(int i) {
  helper_t *h = &helpers[i];
  if (!h->running) return;
  pthread_mutex_lock(&h->mu);
  while (h->done != h->head) pthread_cond_wait(&h->cv, &h->mu);
  unsigned head = h->head;
  pthread_mutex_unlock(&h->mu);
  adopt(h, adopted[i], head);
  adopted[i] = head;
}

static void sync_all(void) {
  for (int i = 0; i < NHELPERS; i++) helper_sync(i);
}

static void post(int i, req_t r) {
  helper_t *h = &helpers[i];
  pthread_mutex_lock(&h->mu);
  if (h->head - h->done == QLEN) { /* full: wait for it, then adopt what it made */
    while (h->done != h->head) pthread_cond_wait(&h->cv, &h->mu);
    unsigned head = h->head;
    pthread_mutex_unlock(&h->mu);
    adopt(h, adopted[i], head);
    adopted[i] = head;
    pthread_mutex_lock(&h->mu);
  }
  h->q[h->head % QLEN] = r;
  h->head++;
  pthread_cond_broadcast(&h->cv);
  pthread_mutex_unlock(&h->mu);
  nhandoff_total++;
}

static void helper_restart(int i) {
  helper_t *h = &helpers[i];
  helper_sync(i);
  post(i, (req_t){.kind = RQ_EXIT});
  pthread_join(h->t, NULL);
  h->running = 0;
  adopted[i] = 0;
  helper_start(h);
}

/* ---- the input reader ---------------------------------------------------------------------- */

typedef struct {
  const uint8_t *d;
  size_t n, i;
} rd_t;

static unsigned u8(rd_t *r) { return r->i < r->n ? r->d[r->i++] : 0; }
static unsigned u16(rd_t *r) { return u8(r) | u8(r) << 8; }

/* A request size: mostly small, some medium, a few large (above 32 KiB: a span each). */
static size_t size_of(rd_t *r) {
  unsigned k = u8(r);
  switch (k & 7) {
  case 0: return k >> 3;                        /* 0..31 */
  case 1: case 2: case 3: return u8(r) + 1;     /* 1..256 */
  case 4: return u16(r) % 2048;                 /* ..2 KiB */
  case 5: return u16(r) % 32768 + 1;            /* ..32 KiB */
  case 6: return 32768 - 16 + (k >> 3);         /* around the small/large border */
  default: return 32768 + (size_t)u16(r) * 4;   /* large, up to 288 KiB */
  }
}

/* ---- operations ---------------------------------------------------------------------------- */

static uint8_t next_seed;

static void slot_free(int i, const char *why) {
  slot_t *s = &slots[i];
  check(s->p, s->n, s->seed, why, i);
  scvgc_free(s->p);
  s->p = NULL;
}

/* The slot must be usable by the main thread: not owed an object by a helper. */
static void settle(int i) {
  if (slots[i].pending) sync_all();
}

static size_t dropped;

static void op(rd_t *r) {
  unsigned o = u8(r) % 16;
  int i = (int)(u8(r) % NSLOTS);
  slot_t *s = &slots[i];
  settle(i);
  switch (o) {
  case 0: case 1: case 2: { /* malloc */
    size_t n = size_of(r);
    if (s->p) slot_free(i, "free before malloc");
    unsigned char *p = scvgc_malloc(n);
    if (!p) die("malloc(%zu) returned NULL (errno %d)", n, errno);
    check_new(p, n, SCVGC_ALIGN, "malloc");
    *s = (slot_t){p, n, SCVGC_ALIGN, next_seed++, 0};
    fill(p, 0, n, s->seed);
    break;
  }
  case 3: case 4: /* free */
    if (s->p) slot_free(i, "free");
    break;
  case 5: case 6: { /* realloc, NULL and size 0 included */
    size_t n = size_of(r);
    if (n == 0 && s->p) { /* glibc's rule: frees, returns NULL */
      check(s->p, s->n, s->seed, "realloc(p, 0)", i);
      if (scvgc_realloc(s->p, 0)) die("realloc(%p, 0) did not return NULL", (void *)s->p);
      s->p = NULL;
      break;
    }
    if (s->p) check(s->p, s->n, s->seed, "before realloc", i);
    unsigned char *old = s->p;
    size_t oldn = old ? s->n : 0;
    s->p = NULL; /* the old object may move: it is not the model's while realloc runs */
    unsigned char *p = scvgc_realloc(old, n);
    if (!p) die("realloc(%p, %zu) returned NULL", (void *)old, n);
    check_new(p, n, SCVGC_ALIGN, "realloc");
    uint8_t seed = old ? s->seed : next_seed++;
    size_t keep = oldn < n ? oldn : n;
    check(p, keep, seed, "the kept prefix after realloc", i);
    fill(p, keep, n, seed);
    *s = (slot_t){p, n, SCVGC_ALIGN, seed, 0};
    break;
  }
  case 7: { /* memalign */
    size_t align = (size_t)1 << (u8(r) % 17); /* 1 .. 64 KiB */
    size_t n = size_of(r);
    if (s->p) slot_free(i, "free before memalign");
    size_t a = align < SCVGC_ALIGN ? SCVGC_ALIGN : align;
    unsigned char *p = scvgc_memalign(align, n);
    if (!p) die("memalign(%zu, %zu) returned NULL", align, n);
    check_new(p, n, a, "memalign");
    *s = (slot_t){p, n, a, next_seed++, 0};
    fill(p, 0, n, s->seed);
    break;
  }
  case 8: { /* calloc */
    size_t m = u8(r) % 64 + 1, n = size_of(r) / m + (u8(r) & 1);
    if (s->p) slot_free(i, "free before calloc");
    unsigned char *p = scvgc_calloc(n, m);
    if (!p) die("calloc(%zu, %zu) returned NULL", n, m);
    check_new(p, n * m, SCVGC_ALIGN, "calloc");
    for (size_t k = 0; k < n * m; k++)
      if (p[k]) die("calloc(%zu, %zu) = %p: byte %zu is 0x%02x, not zero", n, m, (void *)p, k, p[k]);
    *s = (slot_t){p, n * m, SCVGC_ALIGN, next_seed++, 0};
    fill(p, 0, n * m, s->seed);
    break;
  }
  case 9: case 10: { /* hand-off: a helper frees this object (a remote free) */
    if (!s->p) break;
    check(s->p, s->n, s->seed, "before a hand-off", i);
    post(u8(r) % NHELPERS, (req_t){.kind = RQ_FREE, .p = s->p});
    s->p = NULL;
    break;
  }
  case 11: { /* hand-off: a helper allocates an object for this slot */
    size_t n = size_of(r);
    if (s->p) slot_free(i, "free before a helper's malloc");
    int h = (int)(u8(r) % NHELPERS);
    s->pending = h + 1;
    post(h, (req_t){.kind = RQ_ALLOC, .n = n, .seed = next_seed++, .slot = i});
    break;
  }
  case 12: /* collection */
    if (mode == SCVGC_MODE_OFF) break;
    unsigned how = u8(r);
    if (how & 1) break; /* every other time: collections cost far more than the rest */
    if (!(how & 14)) sync_all(); /* mostly while the helpers run */
    scvgc_gc_cycle(SCVGC_GC_REQUEST);
    ncollect_total++;
    check_all("after a collection");
    break;
  case 13: /* drop: garbage for collect mode; the other modes free it */
    if (!s->p) break;
    check(s->p, s->n, s->seed, "before a drop", i);
    if (mode == SCVGC_MODE_COLLECT) {
      s->p = NULL;
      dropped++;
    } else {
      slot_free(i, "free (drop)");
    }
    break;
  case 14: /* a helper exits (its cache is flushed) and is replaced */
    if (u8(r) & 1) helper_restart(u8(r) % NHELPERS);
    else sync_all();
    break;
  default: /* usable size and a full check */
    if (s->p && scvgc_usable_size(s->p) < s->n) die("usable size of %p below %zu", (void *)s->p, s->n);
    check_all("a full check");
    break;
  }
}

static size_t live_now(void) {
  scvgc_stats_t st;
  scvgc_stats_read(&st);
  return st.live_objects;
}

/* ---- the entry points ---------------------------------------------------------------------- */

void scvgc_fuzz_init(void) {
  setenv("SCVGC_MODE", "collect", 0);
  if (!strcmp(getenv("SCVGC_MODE"), "collect")) setenv("SCVGC_GOGC", "10", 0);
  setenv("SCVGC_REPORT", "none", 0);
  scvgc_init();
  mode = scvgc_opt.mode;
  scvgc_gc_start();
  scvgc_sweep_start_thread();
  for (int i = 0; i < NHELPERS; i++) {
    pthread_mutex_init(&helpers[i].mu, NULL);
    pthread_cond_init(&helpers[i].cv, NULL);
    helper_start(&helpers[i]);
  }
}

const char *scvgc_fuzz_mode(void) {
  return mode == SCVGC_MODE_COLLECT ? "collect" : mode == SCVGC_MODE_LEAK ? "leak" : "off";
}

void scvgc_fuzz_one(const uint8_t *data, size_t size) {
  rd_t r = {data, size, 0};
  sync_all();
  size_t base = live_now();
  dropped = 0;
  cur_op = 0;
  while (r.i < r.n) {
    op(&r);
    cur_op++;
  }
  nops_total += cur_op;
  sync_all();
  check_all("the end of the input");
  for (int i = 0; i < NSLOTS; i++)
    if (slots[i].p) slot_free(i, "the final free");
  size_t live = live_now();
  if (mode != SCVGC_MODE_COLLECT ? live != base : live > base + dropped)
    die("live objects after freeing everything: %zu, at the start: %zu (+%zu dropped)", live,
        base, dropped);
}

void scvgc_fuzz_totals(scvgc_fuzz_totals_t *t) {
  t->ops = nops_total;
  t->requested_cycles = ncollect_total;
  t->cycles = scvgc_gcstats.cycles;
  t->handoffs = nhandoff_total;
}
