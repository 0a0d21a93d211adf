/* gc.h — the collection cycle (gc.c) and what it leaves for the report (report.c). */
#ifndef SCVGC_GC_H
#define SCVGC_GC_H

#include "internal.h"
#include "own.h"

enum { SCVGC_LEAK_DIRECT = 0, SCVGC_LEAK_INDIRECT = 1, SCVGC_LEAK_RECLAIMED = 2 /* report.c only */ };
/* REQUEST: a report is wanted (scvgc_leak_check, the report signal); COLLECT: scvgc_collect(),
 * which in collect mode, as a periodic or forced cycle, leaves the garbage to the sweep and
 * builds no leak table (gc.c: the classification is the longest part of a full cycle's pause). */
enum { SCVGC_GC_EXIT = 0, SCVGC_GC_REQUEST = 1, SCVGC_GC_PERIODIC = 2, SCVGC_GC_FORCED = 3,
       SCVGC_GC_COLLECT = 4 };

/* One group of the leak table: leaked objects of one allocation stack and kind. */
typedef struct {
  uint32_t stack;   /* stack depot id (0: no stack captured) */
  uint8_t kind;     /* SCVGC_LEAK_* */
  uint64_t objects; /* 0 marks an empty slot of the table */
  uint64_t bytes;   /* requested bytes */
} scvgc_leak_t;

typedef struct {
  scvgc_leak_t *slots; /* open addressing by (stack, kind); mapped, never the heap */
  size_t cap, ngroups;
  bool incomplete;     /* the cycle could not stop every thread, or ran out of memory */
  struct {
    uint64_t direct_objects, direct_bytes, indirect_objects, indirect_bytes, live_objects;
  } totals;
} scvgc_leaks_t;

typedef struct {
  int reason, valid, full, threads, failed_threads, method;
  int roots_incomplete; /* the roots could not be read whole (roots.c): nothing freed */
  int concurrent;       /* marked with the world running (C1-C4 in gc.c) */
  uint64_t pause_start_ns, pause_finish_ns; /* concurrent: the two pauses (C1, C3-C4) */
  uint64_t conc_mark_ns;  /* concurrent: from the first restart to the second stop (C2) */
  uint64_t pages_rescanned; /* OS pages written during the mark and read again (C2, C3) */
  uint64_t fin_stop_ns, fin_roots_ns, fin_written_ns, fin_drain_ns, fin_term_ns, fin_sweep_ns; /* C3-C4 */
  uint64_t sweepterm_ns, stop_ns, roots_ns, mark_ns, classify_ns, term_ns, end_ns;
  uint64_t marked_objects, scanned_bytes, live, unreachable;
  size_t heap_before, heap_after, goal, sweep_bytes, wb_bytes;
} scvgc_cycle_t;

/* Pause histogram: every stop of the world (one per stop-the-world cycle, two per concurrent
 * one) by its length, in buckets of 1/SCVGC_PH_SUB of a power of two (6% wide). */
#define SCVGC_PH_SUB 16
#define SCVGC_PH_BUCKETS (64 * SCVGC_PH_SUB)
typedef struct {
  uint64_t cycles, pause_total_ns, pause_max_ns, start_ns;
  int markers;
  uint64_t pauses;          /* stops of the world counted in pause_hist */
  uint64_t pages_rescanned; /* all cycles: OS pages written during a concurrent mark, read again */
  uint32_t pause_hist[SCVGC_PH_BUCKETS];
  scvgc_cycle_t last;
} scvgc_gcstats_t;
/* The q-th quantile (0..1) of the pauses in ns (a bucket's middle, at most pause_max_ns);
 * 0 with no pause yet. */
uint64_t scvgc_gc_pause_quantile(double q) SCVGC_HIDDEN;

extern scvgc_gcstats_t scvgc_gcstats SCVGC_HIDDEN;
extern _Atomic int scvgc_gc_paused SCVGC_HIDDEN;
extern scvgc_leaks_t scvgc_leaks SCVGC_HIDDEN;
extern __thread int scvgc_gc_worker SCVGC_HIDDEN __attribute__((tls_model("initial-exec")));
/* scvgc_disable() depth of the thread (api.c): while nonzero, what it allocates is ignored
 * (objmeta.stack = SCVGC_STACK_IGNORED). */
extern __thread int scvgc_disabled SCVGC_HIDDEN __attribute__((tls_model("initial-exec")));

/* The collector's start-up (the constructor): roots, the start time, pacing. It starts no
 * thread: the markers and the sweeper come with the first cycles that need them (gc.c T1). */
void scvgc_gc_start(void) SCVGC_HIDDEN;
bool scvgc_gc_ready(void) SCVGC_HIDDEN;
/* Run one full cycle; false when it could not be trusted (see scvgc_leaks_t.incomplete). */
bool scvgc_gc_cycle(int reason) SCVGC_HIDDEN;
void scvgc_gc_fork_child(void) SCVGC_HIDDEN;
/* The sweep of the last cycle is done (sweep.c): pacing may trust the heap figure. */
void scvgc_gc_sweep_done(void) SCVGC_HIDDEN;
long scvgc_gc_copy_leaks(scvgc_leak_t **out, scvgc_leaks_t *totals) SCVGC_HIDDEN;

/* The constructor: start the background sweeper at the first collect-mode cycle (T1). The
 * unit tests leave it off: they move spans through the sweep states themselves. */
void scvgc_gc_want_sweeper(void) SCVGC_HIDDEN;
/* B1 (gc.c): a periodic cycle asked of the sweeper thread; the sweeper runs it. */
bool scvgc_gc_background_pending(void) SCVGC_HIDDEN;
void scvgc_gc_background_run(void) SCVGC_HIDDEN;
/* Tests: called by the collector in C2 after the first drain, the world running; and the
 * written pages' rescan turned off (to show what it is for). */
extern void (*scvgc_gc_test_hook)(void) SCVGC_HIDDEN;
extern bool scvgc_gc_test_no_rescan SCVGC_HIDDEN;
/* Tests: forget what the last stop found (gc.c C6), as before a process's first cycle. */
void scvgc_gc_test_forget_alone(void) SCVGC_HIDDEN;
/* Whether the marker helpers were started (gc.c T1; tests). */
bool scvgc_gc_markers_started(void) SCVGC_HIDDEN;

#endif
