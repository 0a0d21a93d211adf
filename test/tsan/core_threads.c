/* The core's multi-threaded paths under ThreadSanitizer: a plain C program (criterion crashes
 * under TSan) linking the TSan build of the debug core (build/libscvgc_tcore.a) and calling
 * scvgc_malloc / scvgc_free / scvgc_realloc / scvgc_calloc directly, no preload.
 *
 *   build/test/tsan-core_threads [off|leak]      (default off; SCVGC_MODE is set from it)
 *
 * One "PASS: name" / "FAIL: name" line per case (scripts/run-tests.sh counts them). A case
 * fails when an object's content changed between its owner's fill and its free, when a
 * checker of the core aborts (the debug build runs them at operation boundaries; the cases
 * also run the heap, central and cache checkers at their ends), or when TSan reported
 * anything while it ran (__tsan_on_report counts the reports). Exit status: 0 when every case
 * passed, 1 otherwise; TSan's own exit code (66, __tsan_default_options) when it reported.
 * Each case's name goes to stderr as "case: NAME" before it starts, so a crash (a checker
 * aborts with a trap) or a hang can be put down to its case.
 *
 * Collect mode is not run here. Tried (scvgc_gc_start, the sweeper thread, then
 * scvgc_gc_cycle): the first cycle never returned; stw.c's ptrace tracer, a raw clone()
 * sharing the caller's thread pointer, sat in its futex wait, and TSan warned that the
 * markers' preallocated stacks are too small for its TLS. A stop-the-world by ptrace is
 * outside what TSan models in any case (it sees no happens-before edge from the stopped
 * threads to the markers). */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* ---- the harness ----------------------------------------------------------------------- */

static _Atomic unsigned long tsan_reports;
static _Atomic int case_failed;

/* TSan's hooks (weak in libtsan): count the reports; keep going after one, so a run shows
 * every race, and end with exit status 66 if there was any. */
void __tsan_on_report(const void *rep);
void __tsan_on_report(const void *rep) {
  (void)rep;
  atomic_fetch_add(&tsan_reports, 1);
}
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "halt_on_error=0:exitcode=66:report_signal_unsafe=0"; }

/* One failed check of the running case: the first few are printed. */
__attribute__((format(printf, 1, 2))) static void failf(const char *fmt, ...) {
  if (atomic_fetch_add(&case_failed, 1) >= 5) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static int nfailed;
static const char *mode_name;

static void run_case(const char *name, void (*fn)(void)) {
  fprintf(stderr, "case: %s\n", name); /* for tsan.sh to name a case that crashed or hung */
  unsigned long r0 = atomic_load(&tsan_reports);
  atomic_store(&case_failed, 0);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  fn();
  /* the structures are whole again once every thread of the case is joined */
  scvgc_tcache_check(&scvgc_tc);
  scvgc_central_check();
  scvgc_heap_check();
  clock_gettime(CLOCK_MONOTONIC, &t1);
  unsigned long races = atomic_load(&tsan_reports) - r0;
  int bad = atomic_load(&case_failed);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  if (races || bad) {
    printf("FAIL: %s (SCVGC_MODE=%s; %lu TSan reports, %d failed checks, %.1f s)\n", name,
           mode_name, races, bad, s);
    nfailed++;
  } else {
    printf("PASS: %s (SCVGC_MODE=%s; %.1f s)\n", name, mode_name, s);
  }
  fflush(stdout);
}

static pthread_t spawn(void *(*fn)(void *), void *arg) {
  pthread_t t;
  if (pthread_create(&t, NULL, fn, arg)) {
    fprintf(stderr, "pthread_create failed\n");
    exit(1);
  }
  return t;
}

/* The scavenger's passes, as its thread runs them (scavenge.c), every millisecond while a
 * case runs: free spans' pages and the free OS pages of central spans released (central.c
 * R1-R3) while other threads free into those spans and take them. */
static _Atomic int scav_stop;
static void *scavenger(void *arg) {
  (void)arg;
  struct timespec ms = {0, 1000000};
  while (!atomic_load(&scav_stop)) {
    scvgc_scavenged_t out;
    scvgc_scavenge_pass(scvgc_clock(), true, &out);
    nanosleep(&ms, NULL);
  }
  return NULL;
}
static pthread_t scavenger_start(void) {
  atomic_store(&scav_stop, 0);
  return spawn(scavenger, NULL);
}
static void scavenger_stop(pthread_t t) {
  atomic_store(&scav_stop, 1);
  pthread_join(t, NULL);
}

/* ---- objects with a checked pattern ------------------------------------------------------
 * Word 0: the size, word 1: the address mangled, then bytes that depend on the address (the
 * first 512 and the last 16 bytes of a large one: TSan makes every byte costly). */
static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static unsigned char pat(uintptr_t p, size_t i) { return (unsigned char)((p >> 4) * 31 + i * 7); }

static void fill(void *p, size_t n) {
  uintptr_t a = (uintptr_t)p;
  unsigned char *c = p;
  ((size_t *)p)[0] = n;
  ((uintptr_t *)p)[1] = a ^ 0x5a5a5a5a5a5a5a5aull;
  size_t head = n < 512 ? n : 512;
  for (size_t i = 16; i < head; i++) c[i] = pat(a, i);
  for (size_t i = n - 16 > head ? n - 16 : head; i < n; i++) c[i] = pat(a, i);
}

static size_t objsize(void *p) { return ((size_t *)p)[0]; }

static bool intact(void *p) {
  uintptr_t a = (uintptr_t)p;
  const unsigned char *c = p;
  size_t n = objsize(p);
  if (n < 16 || n > (1u << 20) || ((uintptr_t *)p)[1] != (a ^ 0x5a5a5a5a5a5a5a5aull)) return false;
  size_t head = n < 512 ? n : 512;
  for (size_t i = 16; i < head; i++)
    if (c[i] != pat(a, i)) return false;
  for (size_t i = n - 16 > head ? n - 16 : head; i < n; i++)
    if (c[i] != pat(a, i)) return false;
  return true;
}

static void check_free(void *p) {
  if (!intact(p)) failf("object %p corrupted (size word %#zx)", p, objsize(p));
  scvgc_free(p);
}

/* Mostly small classes, some up to 32 KiB, now and then a large object. */
static size_t pick_size(uint64_t *r) {
  uint64_t x = rnd(r);
  switch (x & 31) {
  case 0: return SCVGC_MAX_SMALL + 1 + (x >> 8) % 100000;
  case 1: case 2: case 3: case 4: return 1024 + (x >> 8) % (SCVGC_MAX_SMALL - 1024);
  default: return 16 + (x >> 8) % 1008;
  }
}

static void *new_obj(size_t n) {
  void *p = scvgc_malloc(n);
  if (!p) {
    failf("malloc(%zu) failed", n);
    return NULL;
  }
  fill(p, n);
  return p;
}

/* ---- case: a ring of threads freeing each other's objects ---------------------------------
 * Remote frees onto xfree, full spans queued on their owner's xspans (C2), drains, central
 * notifies when a span's owner has gone. */
#define RING_NT 4
#define RING_SLOTS 512
#define RING_ITERS 12000
static _Atomic(void *) ring_box[RING_NT][RING_SLOTS];

static void *ring_worker(void *arg) {
  int me = (int)(intptr_t)arg;
  uint64_t r = 0x9e3779b97f4a7c15ull * (uint64_t)(me + 1);
  for (int i = 0; i < RING_ITERS; i++) {
    uint64_t x = rnd(&r);
    void *p = new_obj(pick_size(&r));
    if (!p) return NULL;
    void *old = atomic_exchange(&ring_box[(me + 1) % RING_NT][x % RING_SLOTS], p);
    if (old) check_free(old);
    void *mine = atomic_exchange(&ring_box[me][(x >> 20) % RING_SLOTS], NULL);
    if (mine) check_free(mine);
  }
  return NULL;
}

static void drain_boxes(_Atomic(void *) *box, size_t n) {
  for (size_t k = 0; k < n; k++) {
    void *p = atomic_exchange(&box[k], NULL);
    if (p) check_free(p);
  }
}

static void case_ring(void) {
  pthread_t t[RING_NT];
  for (int i = 0; i < RING_NT; i++) t[i] = spawn(ring_worker, (void *)(intptr_t)i);
  for (int i = 0; i < RING_NT; i++) pthread_join(t[i], NULL);
  drain_boxes(&ring_box[0][0], RING_NT * RING_SLOTS);
}

/* ---- case: rounds of threads that exit with live objects ------------------------------------
 * Each round's threads free (remotely) what the last round left, refill from the central
 * spans the exited threads' flushes left there, free half of their own objects, and exit
 * leaving the other half live: the exit flush gives central spans with objects still in
 * use, whose last free (by a thread of the next round) returns them to the heap (C3). */
#define CHURN_ROUNDS 10
#define CHURN_NT 6
#define CHURN_OBJS 1500
static _Atomic(void *) churn_left[CHURN_NT][CHURN_OBJS];

static void *churn_worker(void *arg) {
  int me = (int)(intptr_t)arg >> 8, round = (int)(intptr_t)arg & 255;
  uint64_t r = 0x2545f4914f6cdd1dull * (uint64_t)(round * CHURN_NT + me + 1);
  void **mine = calloc(CHURN_OBJS, sizeof *mine);
  if (!mine) return NULL;
  /* the neighbour's leftovers of the last round, and our own slot's */
  _Atomic(void *) *theirs = churn_left[(me + 1) % CHURN_NT];
  for (int k = 0; k < CHURN_OBJS; k++) {
    void *p = atomic_exchange(&theirs[k], NULL);
    if (p) check_free(p);
    mine[k] = new_obj(pick_size(&r) % 2048 + 16);
    if ((k & 3) == 0) { /* interleave local frees, so spans go full -> partial */
      int j = (int)(rnd(&r) % (uint64_t)(k + 1));
      if (mine[j]) {
        check_free(mine[j]);
        mine[j] = NULL;
      }
    }
  }
  for (int k = 0; k < CHURN_OBJS; k++) {
    if (!mine[k]) continue;
    if (k & 1) {
      check_free(mine[k]);
    } else {
      void *old = atomic_exchange(&churn_left[me][k], mine[k]);
      if (old) check_free(old); /* a leftover the neighbour has not reached */
    }
  }
  free(mine);
  if (me % 3 == 2) {
    /* a thread whose cache is gone (its exit flush ran, as when another key's destructor
     * runs after ours) still allocates: each object from a span borrowed from central (T4) */
    scvgc_tcache_thread_exit();
    for (int k = 0; k < 40; k++) {
      void *p = new_obj(16 + (size_t)(rnd(&r) % 3000));
      if (k & 1) check_free(p);
      else if ((p = atomic_exchange(&churn_left[me][k], p))) check_free(p);
    }
  }
  return NULL; /* the exit flush hands the spans with live objects to central */
}

static void case_churn(void) {
  pthread_t sc = scavenger_start();
  for (int round = 0; round < CHURN_ROUNDS; round++) {
    pthread_t t[CHURN_NT];
    for (int i = 0; i < CHURN_NT; i++) t[i] = spawn(churn_worker, (void *)(intptr_t)(i << 8 | round));
    for (int i = 0; i < CHURN_NT; i++) pthread_join(t[i], NULL);
  }
  scavenger_stop(sc);
  drain_boxes(&churn_left[0][0], CHURN_NT * CHURN_OBJS);
}

/* ---- case: free bursts while another thread frees into the same spans --------------------------
 * Each thread fills many spans of a few classes (they go full), then frees them all in a
 * burst (T6: the partial queue is cut and spans go to central) while its neighbour frees
 * every seventh of them remotely (queueing full spans on xspans as the owner drains them);
 * then it allocates again (a refill after the burst) and exits with those live. */
#define BURST_NT 4
#define BURST_OBJS 4000
static _Atomic(void *) burst_objs[BURST_NT][BURST_OBJS];
static _Atomic(void *) burst_after[BURST_NT][64];
static pthread_barrier_t burst_bar;

static void *burst_worker(void *arg) {
  int me = (int)(intptr_t)arg;
  static const size_t sizes[] = {48, 256, 2048, 6000};
  for (int k = 0; k < BURST_OBJS; k++) {
    void *p = new_obj(sizes[k % 4]);
    atomic_store(&burst_objs[me][k], p);
  }
  pthread_barrier_wait(&burst_bar);
  _Atomic(void *) *nb = burst_objs[(me + BURST_NT - 1) % BURST_NT];
  for (int k = 0; k < BURST_OBJS; k++) {
    void *p = atomic_exchange(&burst_objs[me][k], NULL);
    if (p) check_free(p); /* the owner's burst */
    if (k % 7 == 0 && (p = atomic_exchange(&nb[BURST_OBJS - 1 - k], NULL)))
      check_free(p); /* a remote free into the neighbour's spans, during its burst */
  }
  for (int k = 0; k < 64; k++) atomic_store(&burst_after[me][k], new_obj(sizes[k % 4]));
  return NULL;
}

static void case_burst(void) {
  pthread_barrier_init(&burst_bar, NULL, BURST_NT);
  pthread_t sc = scavenger_start();
  for (int rep = 0; rep < 3; rep++) {
    pthread_t t[BURST_NT];
    for (int i = 0; i < BURST_NT; i++) t[i] = spawn(burst_worker, (void *)(intptr_t)i);
    for (int i = 0; i < BURST_NT; i++) pthread_join(t[i], NULL);
    drain_boxes(&burst_objs[0][0], BURST_NT * BURST_OBJS);
    drain_boxes(&burst_after[0][0], BURST_NT * 64);
  }
  scavenger_stop(sc);
  pthread_barrier_destroy(&burst_bar);
}

/* ---- case: calloc, and realloc by a thread that does not own the object ---------------------
 * realloc in place (same class), to another class (malloc + copy + a remote free), to and
 * from a large object. */
#define RE_NT 4
#define RE_SLOTS 256
#define RE_ITERS 6000
static _Atomic(void *) re_box[RE_NT][RE_SLOTS];

static void *re_worker(void *arg) {
  int me = (int)(intptr_t)arg;
  uint64_t r = 0xd1b54a32d192ed03ull * (uint64_t)(me + 1);
  for (int i = 0; i < RE_ITERS; i++) {
    uint64_t x = rnd(&r);
    size_t n = pick_size(&r);
    unsigned char *z = scvgc_calloc(1, n);
    if (!z) {
      failf("calloc(%zu) failed", n);
      return NULL;
    }
    for (size_t j = 0; j < n; j += 61)
      if (z[j]) {
        failf("calloc %p: byte %zu not zero", (void *)z, j);
        break;
      }
    fill(z, n);
    void *p = atomic_exchange(&re_box[(me + 1) % RE_NT][x % RE_SLOTS], z);
    if (p) { /* another thread's object: realloc it, then check what it kept */
      size_t old = objsize(p);
      if (!intact(p)) failf("object %p corrupted before realloc (size %zu)", p, old);
      size_t m = (x >> 32) & 1 ? old / 2 + 16 : pick_size(&r);
      unsigned char *q = scvgc_realloc(p, m);
      if (!q) {
        failf("realloc(%zu) failed", m);
        continue;
      }
      size_t keep = old < m ? old : m, head = keep < 512 ? keep : 512;
      for (size_t j = 16; j < head; j++)
        if (q[j] != pat((uintptr_t)p, j)) {
          failf("realloc %p: byte %zu not kept", (void *)q, j);
          break;
        }
      fill(q, m);
      p = atomic_exchange(&re_box[me][(x >> 16) % RE_SLOTS], q);
      if (p) check_free(p);
    }
  }
  return NULL;
}

static void case_realloc(void) {
  pthread_t t[RE_NT];
  for (int i = 0; i < RE_NT; i++) t[i] = spawn(re_worker, (void *)(intptr_t)i);
  for (int i = 0; i < RE_NT; i++) pthread_join(t[i], NULL);
  drain_boxes(&re_box[0][0], RE_NT * RE_SLOTS);
}

/* ---- case: statistics read while threads allocate ---------------------------------------------
 * scvgc_stats_read adds up the live caches' counters while their threads change them; at
 * the end, with every thread gone, nothing is live. */
static _Atomic int stats_stop;

static void *stats_reader(void *arg) {
  (void)arg;
  scvgc_stats_t st;
  while (!atomic_load(&stats_stop)) scvgc_stats_read(&st);
  return NULL;
}

static void case_stats(void) {
  atomic_store(&stats_stop, 0);
  pthread_t rd = spawn(stats_reader, NULL);
  pthread_t t[RING_NT];
  for (int i = 0; i < RING_NT; i++) t[i] = spawn(ring_worker, (void *)(intptr_t)i);
  for (int i = 0; i < RING_NT; i++) pthread_join(t[i], NULL);
  atomic_store(&stats_stop, 1);
  pthread_join(rd, NULL);
  drain_boxes(&ring_box[0][0], RING_NT * RING_SLOTS);
  scvgc_tcache_flush(&scvgc_tc);
  scvgc_stats_t st;
  scvgc_stats_read(&st);
  if (st.live_objects != 0) failf("live objects at the end: %zu", st.live_objects);
}

int main(int argc, char **argv) {
  mode_name = argc > 1 ? argv[1] : "off";
  setenv("SCVGC_MODE", mode_name, 1); /* read at the first allocation */
  setenv("SCVGC_REPORT", "none", 1);
  setenv("SCVGC_GOGC", "off", 1);
  scvgc_free(scvgc_malloc(16)); /* the main thread's cache, and the core, set up */
  run_case("ring of threads freeing each other's objects (remote frees, xspans)", case_ring);
  run_case("rounds of threads exiting with live objects, late allocations after the exit flush, the scavenger releasing central pages (T4, C3, R1-R3)", case_churn);
  run_case("free bursts with remote frees into the same spans, the scavenger running (T6)", case_burst);
  run_case("calloc, and realloc by a thread that does not own the object", case_realloc);
  run_case("statistics read while threads allocate; nothing live at the end", case_stats);
  return nfailed ? 1 : 0;
}
