/* scavenge.c — the scavenger (Go's MHeap_Scavenger, seed 004): a library thread that gives
 * the pages of long-unused free memory back to the OS, and forces a GC when none ran for a
 * while. The overview of what is released, and when, is in docs/design.md "The scavenger".
 *
 * Owns: the scavenger thread and its wake word; SCVGC_MEMLIMIT's trigger; the pass count.
 * Also serves the report signal (snapshot.c P3): a wake with a snapshot requested writes the
 * snapshot first, and runs a pass only when one is due.
 * A pass (scvgc_scavenge_pass) releases, with madvise(MADV_DONTNEED):
 *   - the pages of free spans unused (unused_since) for SCVGC_SCAVENGE_AFTER, in batches
 *     with the heap lock dropped for each madvise (pageheap.c H8);
 *   - the OS pages of central spans, central for that long, that hold no allocated object
 *     (central.c R1-R3), under each class's central lock, a few spans per hold;
 *   - the pages of the span-struct pool that hold only free structs (fixalloc.c F1).
 * Released pages read as zero when used again, so calloc skips clearing them (pageheap.c
 * H5); madvise keeps the mapping (and its protection) as it is, so releases never add
 * mappings.
 * The thread wakes every min(SCVGC_FORCEGC, SCVGC_SCAVENGE_AFTER) / 2 (never more often
 * than MIN_TICK_NS), so a span is released at most AFTER * 1.5 after it became unused; it
 * forces a collection when none ran for SCVGC_FORCEGC; the page heap wakes it at once when
 * the heap's consumed bytes (sys less released) near SCVGC_MEMLIMIT.
 *
 * Locks: none of its own. A pass takes central[c] then heap (through central.c and
 *   pageheap.c), one at a time, never across a system call of its own but the madvise of
 *   one central span's pages (at most 64 OS pages). The forced GC runs with no lock held.
 * Start: when first needed (gc.c T1, scvgc_scavenge_start below): at the end of the free()
 *   or allocation slow path after SCVGC_SCAVENGE_START_MIN of free pages first piled up; in the
 *   constructor for a forced-GC clock, a memory limit or a report signal (snapshot.c).
 * Threads: the scavenger (a library thread, own.c L1: excluded from stopping the world,
 *   so a cycle it starts, or one that starts while it holds a lock, cannot deadlock on it);
 *   program threads (malloc_trim, the page heap's memory-limit kick, the fork child's
 *   restart). Never with the world stopped. The fork child handler only resets state: the
 *   child starts its own scavenger at its first allocation slow path (alloc.c), outside
 *   every lock, never inside the handler.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gc.h"
#include "mark.h"
#include "sweep.h"

/* SCVGC_SCAVENGE_START_MIN (internal.h, checked by the page heap): free pages, not released,
 * that make the thread worth starting; a program whose free pages never reach it has nothing
 * the thread would give back that matters, and stays without it (single-threaded). */

/* The shortest period: SCVGC_SCAVENGE_AFTER=0 means "at the next pass", not a busy loop. */
#define MIN_TICK_NS 50000000ull
/* SCVGC_MEMLIMIT: the trigger is 95% of the limit; after a pass that could not get below
 * it, the next one waits until the heap has grown by 1/32 of the limit (no wake storm when
 * the live heap itself is above the limit). */
#define MEMLIMIT_GOAL(l) ((l) - (l) / 20)
#define MEMLIMIT_STEP(l) ((l) / 32)

_Atomic int scvgc_scavenge_restart; /* start the thread at the next free() or allocation
                                       slow path: it is needed (or a fork child's) */
_Atomic size_t scvgc_memlimit_trigger = SIZE_MAX;

static struct {
  _Atomic uint32_t wake;   /* bumped by a kick: the thread's futex word */
  _Atomic int started;     /* the thread exists (this process) */
  _Atomic int memlimit;    /* a memory-limit pass is due */
  uint32_t passes;         /* scvgN: the thread's passes so far */
} scv;

static long futex(_Atomic uint32_t *w, int op, uint32_t val, const struct timespec *ts) {
  return syscall(SYS_futex, w, op | FUTEX_PRIVATE_FLAG, val, ts, NULL, 0);
}

static uint64_t tick_ns(void) {
  uint64_t t = scvgc_opt.scavenge_after_ns;
  if (scvgc_opt.forcegc_ns && scvgc_opt.forcegc_ns < t) t = scvgc_opt.forcegc_ns;
  t /= 2;
  return t < MIN_TICK_NS ? MIN_TICK_NS : t;
}

size_t scvgc_scavenge_pass(uint64_t now, bool all, scvgc_scavenged_t *out) {
  uint64_t after = scvgc_opt.scavenge_after_ns;
  uint64_t cutoff = all ? UINT64_MAX : now > after ? now - after : 0;
  scvgc_scavenged_t r;
  r.heap_bytes = scvgc_heap_scavenge(cutoff);
  r.inspan_bytes = scvgc_central_scavenge(cutoff);
  r.meta_bytes = scvgc_spanstruct_release(); /* no age: a free struct is not reused soon */
  if (out) *out = r;
  return r.heap_bytes + r.inspan_bytes + r.meta_bytes;
}

static size_t consumed_now(void) {
  scvgc_stats_t st;
  scvgc_stats_read(&st);
  return st.consumed_bytes;
}

/* After a memory-limit pass that began at `before` consumed bytes: the goal, or a step above
 * where the heap stood — the lower of before and now, so growth while the pass ran (frees it
 * could not see yet, new spans) still reaches the next trigger. */
static void rearm_memlimit(size_t before) {
  uint64_t l = scvgc_opt.memlimit;
  if (!l) return;
  size_t c = consumed_now(), t = MEMLIMIT_GOAL(l);
  if (before < c) c = before;
  if (c + MEMLIMIT_STEP(l) > t) t = c + MEMLIMIT_STEP(l);
  atomic_store(&scvgc_memlimit_trigger, t);
}

/* Wake the thread (own.c L3: to end). */
void scvgc_scavenge_wake(void) {
  atomic_fetch_add(&scv.wake, 1);
  futex(&scv.wake, FUTEX_WAKE, 1, NULL);
}

void scvgc_scavenge_memlimit_kick(void) {
  /* the first thread to see the heap above the trigger disarms it and wakes the thread */
  if (atomic_exchange(&scvgc_memlimit_trigger, SIZE_MAX) == SIZE_MAX) return;
  atomic_store(&scv.memlimit, 1);
  atomic_fetch_add(&scv.wake, 1);
  futex(&scv.wake, FUTEX_WAKE, 1, NULL);
}

/* ---- the trace lines (SCVGCTRACE=1; format and fields in docs/reports.md) ----------------- */

static void trace_pass(uint32_t k, size_t released) {
  scvgc_stats_t st;
  scvgc_stats_read(&st);
  if (released >> 20) scvgc_message("scvg%u: %lu MB released", k, (unsigned long)(released >> 20));
  scvgc_message("scvg%u: inuse: %lu, idle: %lu, sys: %lu, released: %lu, consumed: %lu (MB)", k,
                (unsigned long)(st.inuse_bytes >> 20), (unsigned long)(st.idle_bytes >> 20),
                (unsigned long)(st.sys_bytes >> 20), (unsigned long)(st.released_bytes >> 20),
                (unsigned long)(st.consumed_bytes >> 20));
}

/* ---- the thread ----------------------------------------------------------------------------- */

/* When the last collection ended (or the collector started): real time, like the GC's. */
static uint64_t last_gc_ns(void) {
  uint64_t e = __atomic_load_n(&scvgc_gcstats.last.end_ns, __ATOMIC_RELAXED);
  return e ? e : __atomic_load_n(&scvgc_gcstats.start_ns, __ATOMIC_RELAXED);
}

static bool gc_possible(void) {
  return scvgc_tracking && scvgc_gc_ready() && !atomic_load(&scvgc_gc_paused);
}

/* Collect mode after a memory-limit collection: give the sweepers a moment to hand the
 * garbage's spans back, so the release that follows sees them free. */
static void await_sweep(void) {
  for (int i = 0; i < 20 && scvgc_sweep_unswept_bytes(); i++) {
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
}

static void one_pass(uint32_t k) {
  bool limit = atomic_exchange(&scv.memlimit, 0);
  size_t before = limit ? consumed_now() : 0;
  if (gc_possible() && ((limit && scvgc_collecting) ||
                        (scvgc_opt.forcegc_ns && scvgc_nanotime() - last_gc_ns() >= scvgc_opt.forcegc_ns))) {
    scvgc_gc_cycle(SCVGC_GC_FORCED);
    if (scvgc_opt.trace) scvgc_message("scvg%u: GC forced%s", k, limit ? " (memory limit)" : "");
    if (limit && scvgc_collecting) await_sweep();
  }
  size_t released = scvgc_scavenge_pass(scvgc_clock(), limit, NULL);
  if (limit) rearm_memlimit(before);
  if (scvgc_opt.trace) trace_pass(k, released);
  scvgc_timeline_sample(SCVGC_TL_SCVG);
}

static void *scavenger_main(void *arg) {
  (void)arg;
  uint64_t tick = tick_ns(), next = scvgc_nanotime() + tick;
  /* a memory-limit kick may have come before this thread existed (a fork child) */
  if (scvgc_opt.memlimit && atomic_load(&scvgc_memlimit_trigger) == SIZE_MAX)
    atomic_store(&scv.memlimit, 1);
  for (;;) {
    uint32_t seen = atomic_load(&scv.wake);
    while (!atomic_load(&scv.memlimit) && !scvgc_snapshot_pending()) {
      uint64_t now = scvgc_nanotime();
      if (now >= next) break;
      struct timespec ts = {(time_t)((next - now) / 1000000000u), (long)((next - now) % 1000000000u)};
      futex(&scv.wake, FUTEX_WAIT, seen, &ts);
      seen = atomic_load(&scv.wake);
      if (atomic_load(&scvgc_libthreads_quit)) return NULL; /* own.c L3 */
    }
    scvgc_snapshot_run(); /* a report signal's request (snapshot.c P3), if any */
    uint64_t now = scvgc_nanotime();
    if (!atomic_load(&scv.memlimit) && now < next) continue; /* only a snapshot was due */
    one_pass(scv.passes++);
    now = scvgc_nanotime();
    if (now >= next) next = now + tick; /* a memory-limit pass keeps the period's phase */
  }
  return NULL;
}

static void start_thread(void) {
  if (atomic_exchange(&scv.started, 1)) return;
  if (!scvgc_libthread_start(scavenger_main, NULL)) atomic_store(&scv.started, 0);
}

/* The constructor. The thread is needed from the start only when it keeps a clock
 * (SCVGC_FORCEGC on: collect mode's default, or set explicitly in leak mode) or watches a
 * limit (SCVGC_MEMLIMIT): an idle program must get its forced GC or its release without
 * allocating again, and the constructor is then the one point outside every allocation
 * (what remains of gc.c T1: docs/limitations.md). Otherwise it starts once there is
 * something worth releasing: scvgc_scavenge_need, when SCVGC_SCAVENGE_START_MIN of free pages
 * are not released, at the end of the next free() slow path (scvgc_free_event, scvgc_free_slow) or allocation slow path. */
void scvgc_scavenge_start(void) {
  scvgc_timeline_start();
  if (scvgc_opt.memlimit) atomic_store(&scvgc_memlimit_trigger, MEMLIMIT_GOAL(scvgc_opt.memlimit));
  /* a report signal's handler (snapshot.c P1) wants the thread that serves it from the start:
   * the signal may come while the program allocates nothing */
  bool snapshots = scvgc_snapshot_start();
  if ((scvgc_tracking && scvgc_opt.forcegc_ns) || scvgc_opt.memlimit || snapshots) start_thread();
}

void scvgc_scavenge_need(void) {
  if (!atomic_load_explicit(&scv.started, memory_order_relaxed) &&
      !atomic_load_explicit(&scvgc_scavenge_restart, memory_order_relaxed))
    atomic_store_explicit(&scvgc_scavenge_restart, 1, memory_order_relaxed);
}

bool scvgc_scavenge_started(void) { return atomic_load(&scv.started); }

void scvgc_scavenge_restart_now(void) {
  if (atomic_exchange(&scvgc_scavenge_restart, 0)) start_thread();
}

/* Fork child: the thread is not in the child. Only plain stores here (the handler may call
 * nothing that allocates or locks); the allocation slow path starts a new thread. */
void scvgc_scavenge_fork_child(void) {
  int was = atomic_exchange(&scv.started, 0);
  atomic_store(&scv.wake, 0);
  scvgc_snapshot_fork_child();
  if (was) atomic_store(&scvgc_scavenge_restart, 1);
}
