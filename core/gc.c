/* gc.c — a collection cycle, from stopping the world to the leak table. Start here for the
 * collector; mark.c, roots.c, workbuf.c and report.c do the parts.
 *
 * A cycle (scvgc_gc_cycle), one at a time under gc_lock, in the process the library knows
 * (P1: a raw fork child is reset first, a clone(CLONE_VM) task runs none), when it marks
 * with the world stopped:
 *   1. take every core lock (registry, central, heap, meta, the library's mapping
 *      registry): no thread can be stopped while holding one, and the collector may use
 *      the heap's locked functions on behalf of its markers;
 *   2. stop the world (stw.c); a thread that cannot be stopped makes the cycle invalid:
 *      it still runs, but finds and frees nothing (SPEC). The collecting thread itself counts
 *      as it was where it entered the library (E1: its sp and callee-saved registers);
 *   3. clear the collector bits of every span, grey the library-owned objects (gc.h
 *      scvgc_in_lib), scan the roots (roots.c) into workbufs — a fault there makes the
 *      cycle invalid like a thread not stopped — and mark in parallel (mark.c) until no
 *      grey object is left;
 *   4. classify the allocated objects left unmarked (the leaks) as direct or indirect, the
 *      way valgrind groups blocks into cliques: walking leaked objects in address order,
 *      each one not yet reached becomes a leader (direct) and everything it reaches that
 *      is leaked becomes indirect — a leader reached later is demoted — so every group of
 *      leaked objects has exactly one direct cause, cycles included;
 *   5. add the leaks up by (allocation stack, kind) into the leak table;
 *   6. restart the world, release the locks.
 * G4 A cycle frees only on a stop that held every thread it reported stopped until its end
 *    (scvgc_stw_held, read after the roots of each stop and after the mark): a ptrace stop
 *    whose tracer died meanwhile let the world run under the marker.
 * The report (report.c) reads the leak table afterwards, symbolizing outside every lock.
 * With concurrent marking (SCVGC_CONCURRENT, collect mode's default) the world runs during
 * most of step 3, and steps 4-5 run after step 6 where no sweep starts: C0-C5 and G1 below;
 * in collect mode a cycle pacing starts runs on the sweeper thread (B1).
 *
 * Locks: gc_lock (GC), then REGISTRY..OWN and the stop-the-world lock, in the order of
 *   internal.h's lock ranks. Between 1 and 6 the collector holds them all and calls nothing
 *   that allocates or takes a lock of libc (no stdio, no malloc). A concurrent cycle holds
 *   gc_lock alone in C2, the heap lock alone in C0 and G1.
 * Callers: the sweeper thread too (B1, background cycles).
 * Callers: scvgc_collect / scvgc_leak_check (program threads), the exit check, periodic
 *   collections started from the allocation path (with no core lock held).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc_fast.h"
#include "gc.h"
#include "lock.h"
#include "mark.h"
#include "own.h"
#include "roots.h"
#include "stw.h"
#include "sweep.h"
#include "unwind.h"
#include "wp.h"

static scvgc_lock_t gc_lock = SCVGC_LOCK_RANKED(SCVGC_RANK_GC);
_Atomic size_t scvgc_gc_next = SIZE_MAX;
_Atomic int scvgc_gc_marking; /* C1-C3: the world may run while marking (pageheap.c H10) */
_Atomic int scvgc_gc_black;   /* internal.h L1: a cycle runs, lean allocations are black */
/* No periodic cycle while a report symbolizes (report.c): libdw allocates a lot. Only for
 * speed: what the report allocates is library-owned (scvgc_in_lib), alive in any cycle. */
_Atomic int scvgc_gc_paused;

#define GC_FLOOR (4u << 20) /* no periodic cycle below a 4 MiB heap */
#ifndef SCVGC_BG_CYCLES
#define SCVGC_BG_CYCLES 0 /* B1, B2 below: off */
#endif

/* Pacing (GOGC). The goal is the live heap after a cycle times 1 + GOGC/100, never below
 * the floor; the next cycle starts when the heap in use reaches it.
 *   collect: the live heap is what the cycle marked (slot bytes). Sweeping is lazy, so
 *     until it is done the heap in use still holds the garbage: pacing counts the listed
 *     pages no sweeper has reached as not in use (sweep.c). When the sweep is done and
 *     fragmentation keeps the heap above the goal, the goal moves to a quarter of the
 *     allowance above the swept heap (scvgc_gc_sweep_done): a cycle per allocation would
 *     free nothing more.
 *     The goal also counts the pages the thread caches hold (each cache's current span and
 *     its partial spans, per class): those stay in use whatever the sweep frees, so with
 *     hundreds of allocating threads a goal from the live heap alone would sit below the
 *     heap's own floor and every refill would start a cycle (faults.sh, 300 threads).
 *   leak: nothing is freed, so the live heap is the heap in use after the cycle (leaks
 *     included): the pace stays geometric. */
static size_t last_live, last_goal;

/* Pages held by a thread cache's current and partial spans (registry lock held). */
static void add_cached(const scvgc_tcache_t *tc, void *arg) {
  if (!tc) return;
  size_t *pages = arg;
  for (uint32_t c = 0; c < SCVGC_NCLASSES; c++) {
    const scvgc_span_t *sp = tc->bins[c].span;
    *pages += (sp ? sp->npages : 0) + tc->bins[c].partial_pages;
  }
}
static _Atomic size_t last_allowance; /* last_goal - last_live, read by the sweeper's end */

/* The heap goal for a live heap of `live` bytes: as Go's pacer since 1.18, GOGC applies to
 * the heap plus the roots the last cycle scanned (stacks, data, other mappings: roots.h):
 *   goal = live + (live + roots) * GOGC / 100, never below GC_FLOOR.
 * A cycle costs about what it reads, roots included: a small heap beside 300 MiB of mmap'd
 * roots would otherwise be collected every GC_FLOOR bytes allocated, each cycle reading the
 * 300 MiB again (gcc at GOGC=10: ~1300 cycles). The roots read by a cycle are its work,
 * never its garbage, so this only spaces cycles out in proportion to their cost; the heap
 * may then grow by GOGC% of the roots over the live heap before the next cycle. */
static size_t goal_of(size_t live) {
  if (scvgc_opt.gogc < 0) return SIZE_MAX;
  size_t base = live + scvgc_roots_scanned_bytes();
  size_t goal = live + base / 100 * (size_t)scvgc_opt.gogc;
  return goal < GC_FLOOR ? GC_FLOOR : goal;
}

static void set_next(size_t goal) { atomic_store(&scvgc_gc_next, goal); }

void scvgc_gc_sweep_done(void) {
  if (scvgc_opt.gogc < 0) return;
  size_t inuse = atomic_load(&scvgc_heap_inuse);
  size_t floor = inuse + atomic_load(&last_allowance) / 4;
  size_t next = atomic_load(&scvgc_gc_next);
  while (next != SIZE_MAX && next < floor &&
         !atomic_compare_exchange_weak(&scvgc_gc_next, &next, floor)) {}
}

__thread int scvgc_gc_worker __attribute__((tls_model("initial-exec")));

scvgc_gcstats_t scvgc_gcstats;
scvgc_leaks_t scvgc_leaks;
static scvgc_world_t world;
static _Atomic int gc_ready;
static uintptr_t libc_exit; /* glibc's exit(), found at start-up (E1 below) */

/* T1 The library starts no thread before it is needed (issue 13 point 15): a thread makes
 *    the program multi-threaded, and Linux refuses unshare(CLONE_NEWUSER) to such a process
 *    (bubblewrap, rootless podman, browser sandboxes), glibc's set-ID broadcast must reach
 *    it, and so on. The marker helpers start at the first cycle whose heap is worth sharing
 *    (MARK_SHARE_MIN in use), the sweeper at the first collect-mode cycle; both from
 *    scvgc_gc_cycle with gc_lock held (no other cycle can see half of the helpers) and no
 *    other core lock, before the world is stopped, this thread marked starting_threads so
 *    that an allocation pthread_create makes cannot start a periodic cycle on it (it would
 *    wait for gc_lock, held by itself). The scavenger starts on its own terms (scavenge.c).
 *    A cycle runs from the API, the exit check, the scavenger's forced GC, or a periodic
 *    trigger at the end of an allocation's slow path, where the allocation is complete, the
 *    cache consistent and no core lock held: the point the Go runtime starts its mark
 *    workers from (gcStart, called from mallocgc), and jemalloc its background threads. */
#define MARK_SHARE_MIN (16u << 20)
static int markers_wanted;          /* helpers + 1, from SCVGC_MARKERS or the CPUs */
static _Atomic int markers_started; /* the helpers were started (or tried) */
static __thread int starting_threads __attribute__((tls_model("initial-exec")));
static bool sweeper_wanted; /* the preload wants the background sweeper (unit tests do not) */

void scvgc_gc_want_sweeper(void) { sweeper_wanted = true; }

/* gc_lock held, no other core lock. */
static void start_threads(void) {
  /* Whose stack is whose (roots.c) needs glibc's descriptor layout, which a library thread
   * teaches; with no library thread yet (T1), a probe thread does, once, and is gone before
   * the cycle goes on: without it every thread's dead stack would be read as live. */
  if (!scvgc_roots_tcb_known()) {
    starting_threads = 1;
    scvgc_libthread_probe();
    starting_threads = 0;
  }
  bool markers = markers_wanted > 1 && !atomic_load(&markers_started) &&
                 atomic_load(&scvgc_heap_inuse) >= MARK_SHARE_MIN;
  bool sweeper = scvgc_collecting && sweeper_wanted;
  if (!markers && !sweeper) return;
  starting_threads = 1;
  if (markers) {
    atomic_store(&markers_started, 1);
    scvgc_gcstats.markers = scvgc_mark_start_threads(markers_wanted);
  }
  if (sweeper) scvgc_sweep_start_thread(); /* once: it keeps its own flag */
  starting_threads = 0;
}

bool scvgc_gc_markers_started(void) { return atomic_load(&markers_started); }

/* own.c L3: the last thread of the program's own is ending; the library's threads end too,
 * so that glibc can end the process. Under gc_lock: no cycle is using the markers. */
void scvgc_gc_stop_libthreads(void) {
  scvgc_lock(&gc_lock);
  atomic_store(&scvgc_libthreads_quit, 1);
  scvgc_mark_stop_threads();
  scvgc_unlock(&gc_lock);
  scvgc_sweep_wake();
  scvgc_scavenge_wake();
}

/* P1 Which process runs the cycle (issue 19 points 2 and 11). Checked at each cycle's start,
 *    before gc_lock:
 *    - a child made without glibc's fork() (clone(fn, stack, SIGCHLD|CLONE_NEW*) as
 *      bubblewrap, systemd and runc do, syscall(SYS_fork)) ran no fork handler: its copy
 *      still counts the parent's marker threads (a cycle would wait for them forever), holds
 *      the parent's locks and thread caches. It is reset here as the child handler does
 *      (scvgc_fork_child), and marks with the calling thread alone. Locks another thread of
 *      the parent held at that fork may guard half-made changes (docs/limitations.md).
 *    - a task made by clone(CLONE_VM) without CLONE_THREAD shares our memory from another
 *      thread group: its cycle could stop neither us nor itself against us, so it runs
 *      none (the parent's cycles see it: stw.c, and run incomplete while it lives).
 *    The two are told apart by a MADV_WIPEONFORK page: a fork of any kind zeroes its word in
 *    the child, a CLONE_VM task shares it. Where the kernel lacks it (before 4.14), a new
 *    pid whose address space kcmp finds to be gc_pid's is the CLONE_VM case. */
#ifndef KCMP_VM
#define KCMP_VM 1
#endif
static _Atomic uint32_t *fork_mark; /* 1 in the process that set it, 0 in a fork child */
static pid_t gc_pid;                /* the process that set fork_mark (raw getpid) */
static int shared_said;             /* the CLONE_VM case was traced once */

static void process_mark(void) {
  gc_pid = (pid_t)syscall(SYS_getpid);
  if (!fork_mark) {
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
#ifdef MADV_WIPEONFORK
    if (madvise(p, 4096, MADV_WIPEONFORK) == 0) {
      fork_mark = p;
      atomic_fetch_add(&scvgc_gc_sys, 4096);
    } else
#endif
      munmap(p, 4096);
  }
  if (fork_mark) atomic_store(fork_mark, 1);
}

/* P1: true when this process may run a cycle (resetting a raw fork child first). */
static bool process_check(void) {
  pid_t pid = (pid_t)syscall(SYS_getpid);
  bool forked = fork_mark ? atomic_load(fork_mark) == 0
                          : pid != gc_pid && syscall(SYS_kcmp, pid, gc_pid, KCMP_VM, 0, 0) != 0;
  if (forked) {
    scvgc_alloc_enter(); /* scvgc_fork_child leaves it, as after the prepare handler */
    scvgc_fork_child();
    process_mark();
    if (scvgc_opt.trace)
      scvgc_message("gc: a child made without fork() (clone, syscall(SYS_fork)): the library "
                    "was reset as in a fork child; marking with this thread alone");
    return true;
  }
  if (pid == gc_pid) return true;
  if (scvgc_opt.trace && !shared_said) {
    shared_said = 1;
    scvgc_message("gc: this process (%d) shares its address space with process %d "
                  "(clone(CLONE_VM)): it runs no collection; nothing is freed or reported",
                  (int)pid, (int)gc_pid);
  }
  return false;
}

void scvgc_gc_start(void) {
  if (!scvgc_tracking || atomic_load(&gc_ready)) return;
  scvgc_unwind_start(); /* the walker's key early (unwind.h): the library threads did it once */
  libc_exit = (uintptr_t)dlsym(RTLD_NEXT, "exit"); /* E1 (no exit of the library's own) */
  scvgc_roots_init();
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  markers_wanted = scvgc_opt.markers ? scvgc_opt.markers : ncpu < 1 ? 1 : ncpu > 16 ? 16 : (int)ncpu;
  scvgc_gcstats.markers = 1; /* the collecting thread; helpers come with work (T1) */
  scvgc_gcstats.start_ns = scvgc_nanotime();
  process_mark();
  atomic_store(&gc_ready, 1);
  last_goal = goal_of(atomic_load(&scvgc_heap_inuse));
  atomic_store(&last_allowance, last_goal == SIZE_MAX ? 0 : last_goal);
  set_next(last_goal);
}

bool scvgc_gc_ready(void) { return atomic_load_explicit(&gc_ready, memory_order_acquire); }

/* ---- concurrent marking (C1-C5) -------------------------------------------------------------
 * With SCVGC_CONCURRENT on (the default in collect mode) and the kernel's written-page
 * tracking there (wp.c), a cycle is Boehm, Demers and Shenker's mostly-parallel collector:
 *   C0 (world running) reset the tracking: every heap page is write-protected, so each page
 *      written from here on is reported (wp.c W3) — before the marks are cleared and the roots
 *      read, so that nothing written after what the marker reads can be missed;
 *   C1 (world stopped, every lock held) clear the marks, grey the library's objects and the
 *      roots (registers, stacks, data, other mappings) as a stop-the-world cycle does; turn
 *      on scvgc_gc_marking (pageheap.c H10: no span leaves use until C4) and restart;
 *   C2 (world running, gc_lock only) the collector and its helpers drain the grey objects
 *      (mark.c M4-M7); then pre-clean: scan again the marked objects on pages written
 *      meanwhile (re-protecting them), drain, a few rounds while that shrinks;
 *   C3 (every lock held: room for C4's sweep list, for every span in use now, C2's new ones
 *      included; then the world stopped again) scan every root again, the marked objects on
 *      the pages written since the last pre-clean, drain;
 *   C4 end marking (scvgc_gc_marking off), classify and tally as a stop-the-world cycle,
 *      begin the sweep, restart; hand back the spans freed meanwhile (H10);
 *   C5 the sweep, unchanged (sweep.h).
 * Allocation is black in every mode (alloc.c scvgc_track sets the mark bit), so an object
 * allocated during C2 is never reclaimed by this cycle, and its contents are scanned in C3
 * where its page was written. A free during C2 stays a free: the slot's metadata word is 0
 * and the marker's compare-and-swap never marks it (mark.c M5). Correctness: at the end of
 * C3 no marked object holds a pointer to an unmarked one — every store since C0 is on a
 * written page (rescanned) or in a root (rescanned). Where the tracking cannot be had, or
 * process_vm_readv (M6) is refused, the cycle stops the world throughout (said once). */
static int conc_said; /* the fallback was traced */
void (*scvgc_gc_test_hook)(void);
bool scvgc_gc_test_no_rescan;

/* C6 A cycle whose caller was, at the last stop, the program's only thread (the stop found
 *    nothing to stop: SCVGC_STW_ALONE) marks with the world stopped, unless SCVGC_CONCURRENT
 *    was set explicitly: the thread that runs the cycle waits for all of it either way, and a
 *    concurrent cycle costs it the write-protection's system time besides (GCBench: 0.56 s
 *    CPU against 0.43, its longest wait 4.9 ms against 2.5). A thread made since is stopped
 *    by this cycle as by any stop-the-world one, and the next cycle is concurrent again. Before
 *    the first stop, /proc/self/status's thread count tells (first_alone): a program whose
 *    first cycle finds a large heap (a big block allocated at start) and other threads gets
 *    a concurrent one. */
static int last_alone = -1; /* -1: no stop yet */
/* C6 holds up to this live heap (the last cycle's): a mark stops the thread's signals too
 * (the stop blocks them while every lock is held), which a concurrent mark does not; past
 * some tens of milliseconds of marking, a program's timers and ^C keep their concurrent
 * cycles. (GCBench: 16 MiB at most.) */
#define ALONE_MAX_LIVE ((size_t)64 << 20)

/* Before the first stop (C6): is the caller the program's only thread? /proc/self/status's
 * Threads less the library's own threads. Unknown (unreadable) counts as not alone: a
 * concurrent cycle, as before C6. */
static bool first_alone(void) {
  static const char *const key[] = {"Threads"};
  int64_t threads;
  uintptr_t tcbs[64];
  return scvgc_proc_status(key, &threads, 1) && threads >= 1 &&
         threads - scvgc_libthread_tcbs(tcbs, 64) <= 1;
}

void scvgc_gc_test_forget_alone(void) { last_alone = -1; }

static bool concurrent_start(void) {
  if (!scvgc_opt.concurrent) return false;
  if (last_alone < 0) last_alone = first_alone();
  if (last_alone && !scvgc_opt.concurrent_alone && last_live <= ALONE_MAX_LIVE) return false; /* C6 */
  if (!scvgc_mark_concurrent_ok()) {
    if (scvgc_opt.trace && !conc_said++)
      scvgc_message("gc: concurrent marking unavailable (process_vm_readv refused); marking "
                    "with the world stopped");
    return false;
  }
  if (scvgc_wp_reset()) return true;
  if (scvgc_opt.trace && !conc_said++)
    scvgc_message("gc: concurrent marking unavailable (%s); marking with the world stopped",
                  scvgc_wp_unavailable() ? scvgc_wp_unavailable() : "userfaultfd refused");
  return false;
}

/* C2's pre-clean: rounds of written-page rescans while a round still finds this many pages. */
#define PRECLEAN_ROUNDS 4
#define PRECLEAN_SMALL 256

/* Bucket b = 16 g + k holds [k, k + 1) for g = 0 and [(16 + k) << (g - 1), (17 + k) << (g - 1))
 * above: 16 buckets per power of two from 16 ns on. */
static int pause_bucket(uint64_t ns) {
  if (ns < SCVGC_PH_SUB) return (int)ns;
  int e = 63 - __builtin_clzll(ns) - 4; /* ns >> e is in [16, 32) */
  return (e + 1) * SCVGC_PH_SUB + (int)((ns >> e) - SCVGC_PH_SUB);
}

uint64_t scvgc_gc_pause_quantile(double q) {
  const scvgc_gcstats_t *g = &scvgc_gcstats;
  if (!g->pauses) return 0;
  uint64_t want = (uint64_t)(q * (double)g->pauses + 0.999999), seen = 0;
  if (want < 1) want = 1;
  for (int b = 0; b < SCVGC_PH_BUCKETS; b++) {
    seen += g->pause_hist[b];
    if (seen < want) continue;
    int e = b / SCVGC_PH_SUB, k = b % SCVGC_PH_SUB;
    uint64_t lo = e ? (uint64_t)(SCVGC_PH_SUB + k) << (e - 1) : (uint64_t)k;
    uint64_t hi = e ? (uint64_t)(SCVGC_PH_SUB + k + 1) << (e - 1) : (uint64_t)k + 1;
    uint64_t mid = lo + (hi - lo) / 2;
    return mid > g->pause_max_ns ? g->pause_max_ns : mid;
  }
  return g->pause_max_ns;
}

/* One stop of the world of ns nanoseconds: counted in the total, the longest, the histogram. */
static void count_pause(uint64_t ns) {
  scvgc_gcstats_t *g = &scvgc_gcstats;
  g->pause_total_ns += ns;
  if (ns > g->pause_max_ns) g->pause_max_ns = ns;
  int b = pause_bucket(ns);
  if (b >= SCVGC_PH_BUCKETS) b = SCVGC_PH_BUCKETS - 1;
  g->pause_hist[b]++;
  g->pauses++;
}

static void lock_all(void) {
  scvgc_tcache_lock_registry();
  scvgc_central_lock_all();
  scvgc_heap_lock_all();
  scvgc_meta_lock_all();
  scvgc_special_lock_all();
  scvgc_own_lock();
#if SCVGC_DEBUG /* the structure checkers, with every core lock held */
  scvgc_sweep_check();
  scvgc_fixalloc_check_locked();
#endif
}

static void unlock_all(void) {
  scvgc_own_unlock();
  scvgc_special_unlock_all();
  scvgc_meta_unlock_all();
  scvgc_heap_unlock_all();
  scvgc_central_unlock_all();
  scvgc_tcache_unlock_registry();
}

/* ---- step 3: clear ---------------------------------------------------------------------- */

/* Clear the collector bits; count the library-owned objects (gc.h scvgc_in_lib). They are
 * greyed in a second pass (grey_lib), only when there are some: greying here could wake
 * the marker threads (a full workbuf), which would then mark objects in spans whose bits
 * this pass has yet to clear. */
static void clear_bits(scvgc_span_t *s, void *arg) {
  size_t *nlib = arg;
  if (!s->meta) return;
  if (scvgc_span_lean(s)) { /* marks and both bitmaps; the roots are counted in special.c */
    memset(scvgc_lean_marks(s), 0, 3 * (size_t)scvgc_bitmap_words(s->nelems) * 8);
    return;
  }
  uint32_t n = s->state == SCVGC_SPAN_SMALL ? s->nelems : 1;
  for (uint32_t i = 0; i < n; i++) {
    s->meta[i].size &= ~SCVGC_META_MARK;
    *nlib += s->meta[i].stack >= SCVGC_STACK_IGNORED && s->meta[i].size;
  }
  memset(scvgc_visited_bits(s), 0, 2 * (size_t)scvgc_bitmap_words(s->nelems) * 8);
}

/* The same with the world running (C0): the program may free or allocate any slot
 * meanwhile, so the bit is cleared with an atomic AND (a plain one could bring a freed
 * slot's size back). An object allocated black after its span was passed keeps its bit. */
static void clear_bits_live(scvgc_span_t *s, void *arg) {
  size_t *nlib = arg;
  if (!s->meta) return;
  if (scvgc_span_lean(s)) { /* a word at a time: the program's allocations OR into them */
    uint64_t *w = scvgc_lean_marks(s);
    for (uint32_t k = 0, n = 3 * scvgc_bitmap_words(s->nelems); k < n; k++)
      __atomic_store_n(&w[k], 0, __ATOMIC_RELAXED);
    return;
  }
  uint32_t n = s->state == SCVGC_SPAN_SMALL ? s->nelems : 1;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t *w = &s->meta[i].size;
    uint32_t v = __atomic_load_n(w, __ATOMIC_RELAXED);
    if (v & SCVGC_META_MARK) v = __atomic_fetch_and(w, ~SCVGC_META_MARK, __ATOMIC_RELAXED);
    *nlib += s->meta[i].stack >= SCVGC_STACK_IGNORED && v;
  }
  memset(scvgc_visited_bits(s), 0, 2 * (size_t)scvgc_bitmap_words(s->nelems) * 8);
}

/* The library-owned objects: the first roots of the cycle. */
static void grey_lib(scvgc_span_t *s, void *arg) {
  scvgc_marker_t *m = arg;
  if (!s->meta || scvgc_span_lean(s)) return; /* lean: scvgc_special_roots */
  uint32_t n = s->state == SCVGC_SPAN_SMALL ? s->nelems : 1;
  for (uint32_t i = 0; i < n; i++)
    if (unlikely(s->meta[i].stack >= SCVGC_STACK_IGNORED) && s->meta[i].size) /* and ignored */
      scvgc_mark_word(m, scvgc_object_base(s, i));
}

/* ---- step 4: classify -------------------------------------------------------------------- */

typedef struct {
  scvgc_marker_t *m;
  uintptr_t leader;
} classify_t;

static void flood_push(scvgc_marker_t *m, uintptr_t obj) {
  if (m->wb && m->wb->nobj == SCVGC_WB_NOBJ) {
    scvgc_workbuf_t *e = scvgc_wb_getempty();
    if (!e) {
      m->oom = true; /* classification then leaves this object's group incomplete */
      return;
    }
    scvgc_wb_putfull(m->wb);
    m->wb = e;
  }
  if (m->wb) m->wb->obj[m->wb->nobj++] = obj;
}

/* The words of [lo, hi) of a leaked object reached by the flood (below). */
SCVGC_NO_SANITIZE static void flood_words(void *arg, uintptr_t lo, uintptr_t hi) {
  classify_t *c = arg;
  for (uintptr_t p = lo; p + 8 <= hi; p += 8) {
    scvgc_span_t *s;
    uint32_t i;
    if (!scvgc_find_object(*(uintptr_t *)p, &s, &i)) continue;
    if (scvgc_marked(s, i)) continue; /* alive */
    uintptr_t base = scvgc_object_base(s, i);
    if (base == c->leader) continue;
    uint64_t *vis = scvgc_visited_bits(s), *ind = scvgc_indirect_bits(s);
    if (scvgc_bit(vis, i)) {
      scvgc_setbit(ind, i); /* an earlier leader joins this group; its own are done */
      continue;
    }
    scvgc_setbit(vis, i);
    scvgc_setbit(ind, i);
    flood_push(c->m, base);
  }
}

/* Flood from the grey objects of m (the collector's own marker, alone now): every leaked
 * object reached becomes indirect. A large object is read over its touched pages only
 * (mark.h, scvgc_object_words). */
static void flood(classify_t *c) {
  scvgc_marker_t *m = c->m;
  for (;;) {
    if (!m->wb || !m->wb->nobj) {
      scvgc_workbuf_t *b = scvgc_wb_trygetfull();
      if (!b) return;
      if (m->wb) scvgc_wb_putempty(m->wb);
      m->wb = b;
    }
    uintptr_t obj = m->wb->obj[--m->wb->nobj];
    scvgc_span_t *os = scvgc_spanof(obj);
    uint32_t oi = os->state == SCVGC_SPAN_SMALL ? scvgc_slot_index(os, obj) : 0;
    scvgc_object_words(obj, obj + scvgc_object_size(os, oi), flood_words, c);
  }
}

static void classify_span(scvgc_span_t *s, void *arg) {
  classify_t *c = arg;
  if (s->state == SCVGC_SPAN_MANUAL || !s->meta) return;
  uint32_t n = s->state == SCVGC_SPAN_SMALL ? s->nelems : 1;
  uint64_t *vis = scvgc_visited_bits(s);
  for (uint32_t i = 0; i < n; i++) {
    /* the mark read again after the slot (internal.h L1): an allocation during the late
     * classification (G1) is black, and sets its bit before it clears the key */
    if (scvgc_marked(s, i) || scvgc_bit(vis, i) || !scvgc_allocated(s, i) || scvgc_marked(s, i))
      continue;
    scvgc_setbit(vis, i); /* a new leader: direct unless a later one reaches it */
    c->leader = scvgc_object_base(s, i);
    flood_push(c->m, c->leader);
    flood(c);
  }
}

/* G1 Classifying and tallying the leaks need no stopped world (issue 15 point 4): nothing
 *    the program can reach is unmarked, so nothing it does touches an unmarked object but an
 *    allocation (black, never classified) or a free of a marked one. Where no sweep starts
 *    (the exit check, leak mode), they run after the world restarts, under the heap lock
 *    alone (the span walk; the flood's workbufs come from the locked heap) with spans kept
 *    in use (pageheap.c H10) and large objects read as a concurrent mark reads them (mark.c
 *    M6). A collect-mode leak check begins a sweep at its restart: it classifies in the
 *    pause, before the sweep can free what it reads. */
static void tally_span(scvgc_span_t *s, void *arg);

static void classify_late(scvgc_leaks_t *t) {
  scvgc_heap_lock_all();
  atomic_store(&scvgc_gc_marking, 1);
  scvgc_mark_concurrent(true);
  scvgc_marker_t m;
  scvgc_marker_init(&m);
  classify_t c = {&m, 0};
  scvgc_heap_foreach_span(classify_span, &c);
  scvgc_special_lock_all(); /* tally_span reads the lean layout's stacks */
  scvgc_heap_foreach_span(tally_span, t);
  scvgc_special_unlock_all();
  if (m.oom) t->incomplete = true; /* a group could not be flooded whole */
  scvgc_marker_done(&m);
  scvgc_mark_concurrent(false);
  atomic_store(&scvgc_gc_marking, 0);
  scvgc_heap_unlock_all();
}

/* ---- step 5: the leak table ---------------------------------------------------------------- */

static bool table_grow(scvgc_leaks_t *t) {
  size_t cap = t->cap ? t->cap * 2 : 1024;
  scvgc_leak_t *n = scvgc_sys_map_meta(cap * sizeof *n);
  if (!n) return false;
  for (size_t i = 0; i < t->cap; i++) { /* rehash */
    scvgc_leak_t *e = &t->slots[i];
    if (!e->objects) continue;
    size_t h = ((size_t)e->stack * 2654435761u + e->kind) & (cap - 1);
    while (n[h].objects) h = (h + 1) & (cap - 1);
    n[h] = *e;
  }
  if (t->slots) scvgc_sys_unmap_meta(t->slots, t->cap * sizeof *n);
  t->slots = n;
  t->cap = cap;
  return true;
}

static void table_add(scvgc_leaks_t *t, uint32_t stack, int kind, size_t bytes) {
  if ((t->ngroups + 1) * 2 > t->cap && !table_grow(t)) {
    t->incomplete = true;
    return;
  }
  size_t h = ((size_t)stack * 2654435761u + (size_t)kind) & (t->cap - 1);
  while (t->slots[h].objects && (t->slots[h].stack != stack || t->slots[h].kind != kind))
    h = (h + 1) & (t->cap - 1);
  scvgc_leak_t *e = &t->slots[h];
  if (!e->objects) {
    e->stack = stack;
    e->kind = (uint8_t)kind;
    t->ngroups++;
  }
  e->objects++;
  e->bytes += bytes;
}

static void tally_span(scvgc_span_t *s, void *arg) {
  scvgc_leaks_t *t = arg;
  if (s->state == SCVGC_SPAN_MANUAL || !s->meta) return;
  uint32_t n = s->state == SCVGC_SPAN_SMALL ? s->nelems : 1;
  uint64_t *ind = scvgc_indirect_bits(s);
  bool lean = scvgc_span_lean(s);
  for (uint32_t i = 0; i < n; i++) {
    if (!scvgc_allocated(s, i)) continue;
    if (scvgc_marked(s, i)) {
      t->totals.live_objects++;
      continue;
    }
    size_t bytes;
    uint32_t stack;
    if (lean) { /* special.c: a sampled object's stack and size; the slot's size otherwise */
      uint32_t sz;
      if (scvgc_special_get_locked(scvgc_object_base(s, i), &stack, &sz)) bytes = sz;
      else stack = 0, bytes = s->elemsize;
    } else {
      bytes = s->state == SCVGC_SPAN_LARGE ? s->reqsize : (s->meta[i].size & ~SCVGC_META_MARK) - 1;
      stack = s->meta[i].stack;
    }
    int kind = scvgc_bit(ind, i) ? SCVGC_LEAK_INDIRECT : SCVGC_LEAK_DIRECT;
    table_add(t, stack, kind, bytes);
    if (kind == SCVGC_LEAK_DIRECT) {
      t->totals.direct_objects++;
      t->totals.direct_bytes += bytes;
    } else {
      t->totals.indirect_objects++;
      t->totals.indirect_bytes += bytes;
    }
  }
}

/* ---- the trace lines (SCVGCTRACE; format and fields in docs/reports.md) ------------------ */

static void ms3(char *b, size_t n, uint64_t ns) {
  scvgc_snprintf(b, n, "%lu.%03lu", (unsigned long)(ns / 1000000), (unsigned long)(ns / 1000 % 1000));
}

static void trace_cycle(const scvgc_gcstats_t *g, const scvgc_leaks_t *t) {
  const scvgc_cycle_t *c = &g->last;
  uint64_t since = c->end_ns - g->start_ns;
  uint64_t share = since ? g->pause_total_ns * 100 / since : 0;
  char a[32], b[32], d[32], e[32];
  ms3(a, sizeof a, c->sweepterm_ns);
  ms3(b, sizeof b, c->stop_ns);
  ms3(d, sizeof d, c->roots_ns + c->mark_ns);
  ms3(e, sizeof e, c->term_ns);
  uint64_t found = c->full ? t->totals.direct_objects + t->totals.indirect_objects : c->unreachable;
  const char *why = c->valid ? NULL
                    : world.incomplete && c->failed_threads ? world.incomplete /* stw.c's */
                    : c->failed_threads ? "a thread could not be stopped"
                    : c->roots_incomplete ? "the roots could not be read"
                                          : "out of memory";
  char conc[160] = "";
  if (c->concurrent) {
    char p1[32], p2[32], cm[32];
    ms3(p1, sizeof p1, c->pause_start_ns);
    ms3(p2, sizeof p2, c->pause_finish_ns);
    ms3(cm, sizeof cm, c->conc_mark_ns);
    scvgc_snprintf(conc, sizeof conc, "; concurrent: %s+%s ms pause start+finish, %s ms mark, %lu pages rescanned",
                   p1, p2, cm, (unsigned long)c->pages_rescanned);
  }
  scvgc_message("gc %lu @%lu.%03lus %lu%%: %s+%s+%s+%s ms sweepterm+stop+mark+markterm, "
                "%lu->%lu->%lu MB, %lu MB goal, %d threads, %d markers, %lu %s%s%s%s%s",
                (unsigned long)g->cycles, (unsigned long)(since / 1000000000),
                (unsigned long)(since / 1000000 % 1000), (unsigned long)share, a, b, d, e,
                (unsigned long)(c->heap_before >> 20), (unsigned long)(c->heap_after >> 20),
                (unsigned long)(c->live >> 20), (unsigned long)(c->goal == SIZE_MAX ? 0 : c->goal >> 20),
                c->threads, g->markers, (unsigned long)found,
                scvgc_collecting ? "unreachable" : "leaked",
                why ? " (incomplete: " : "", why ? why : "", why ? ")" : "", conc);
  if (scvgc_opt.trace < 2) return;
  if (c->concurrent) {
    char f1[32], f2[32], f3[32], f4[32], f5[32];
    ms3(f1, sizeof f1, c->fin_stop_ns);
    ms3(f2, sizeof f2, c->fin_roots_ns);
    ms3(f3, sizeof f3, c->fin_written_ns);
    ms3(f4, sizeof f4, c->fin_drain_ns);
    ms3(f5, sizeof f5, c->fin_term_ns);
    char f6[32];
    ms3(f6, sizeof f6, c->fin_sweep_ns);
    scvgc_message("gc %lu detail: finish pause: stop %s, roots %s, written pages %s, drain %s, "
                  "markterm %s ms (of which the sweep's start %s ms)", (unsigned long)g->cycles,
                  f1, f2, f3, f4, f5, f6);
  }
  ms3(a, sizeof a, c->roots_ns);
  ms3(b, sizeof b, c->mark_ns);
  ms3(d, sizeof d, c->classify_ns);
  scvgc_message("gc %lu detail: stop by %s, roots %s ms (%lu KB scanned), mark %s ms, %lu objects "
                "marked (%lu KB live), classify %s ms, %lu MB to sweep, mark stack %lu KB",
                (unsigned long)g->cycles,
                c->method == SCVGC_STW_PTRACE ? "ptrace" : c->method == SCVGC_STW_SIGNALS ? "signals" : "none",
                a, (unsigned long)(c->scanned_bytes >> 10), b, (unsigned long)c->marked_objects,
                (unsigned long)(c->live >> 10), d, (unsigned long)(c->sweep_bytes >> 20),
                (unsigned long)(c->wb_bytes >> 10));
}

/* ---- where the collecting thread's live stack starts ---------------------------------------- *
 * E1 The thread that runs a cycle is cut at the stack pointer with which it entered the
 *    library, and its registers are its callee-saved registers at that entry, recovered from
 *    the CFI (scvgc_unwind_regs): the library's frames below lie over the program's dead
 *    frames (slots never written there still hold what the program's returned callees left)
 *    and may hold spilled copies of the program's live registers, which the walk restores.
 *    API calls and cycles an allocation starts: the entry is the first frame outside the
 *    library. The exit check (a destructor, run inside exit: exit -> the exit handlers ->
 *    the loader's fini -> the destructor): the caller of glibc's exit(), as it made the call
 *    — main's caller once main returned, else the function that called exit() — since glibc's
 *    exit frames hold nothing of the program's. Where the walk fails (no CFI on the way), the
 *    thread is cut at the collector's own frame, as before (conservative).
 *    The library's frames below the entry may still hold objects in flight: the object an
 *    allocation is about to return and the block realloc moves (scvgc_gc_periodic's keep
 *    words), marked as roots of that cycle. A library thread (the scavenger's forced cycle)
 *    is cut at its own frame: its stack is the library's, never scanned. */
static __thread uintptr_t cycle_keep[2] __attribute__((tls_model("initial-exec")));

static int entry_api(uintptr_t pc, uintptr_t fn, void *arg) {
  (void)fn;
  (void)arg;
  return scvgc_unwind_is_self(pc) ? SCVGC_UW_CONTINUE : SCVGC_UW_HERE;
}

static int entry_exit(uintptr_t pc, uintptr_t fn, void *arg) {
  (void)pc;
  (void)arg;
  return fn == libc_exit ? SCVGC_UW_OUT : SCVGC_UW_CONTINUE;
}

static __thread int bg_cycle __attribute__((tls_model("initial-exec"))); /* B1 */

static __attribute__((noinline)) bool entry_of(int reason, scvgc_uwregs_t *e) {
  if (reason == SCVGC_GC_FORCED || bg_cycle) return false;
  if (reason == SCVGC_GC_EXIT && libc_exit && scvgc_unwind_regs(e, entry_exit, NULL)) return true;
  return scvgc_unwind_regs(e, entry_api, NULL);
}

/* ---- the cycle ------------------------------------------------------------------------------ */

/* E1: the collecting thread counts as it entered the library (after each stop). */
static void self_entry(bool have_entry, const scvgc_uwregs_t *entry, uintptr_t sp) {
  if (world.nthreads && world.threads[0].state == SCVGC_STW_SELF && have_entry) {
    scvgc_thread_t *me = &world.threads[0]; /* E1: as it entered the library */
    me->sp = me->regs[SCVGC_REG_RSP] = entry->sp;
    me->regs[SCVGC_REG_RBX] = entry->rbx;
    me->regs[SCVGC_REG_RBP] = entry->rbp;
    me->regs[SCVGC_REG_R12] = entry->r12;
    me->regs[SCVGC_REG_R13] = entry->r13;
    me->regs[SCVGC_REG_R14] = entry->r14;
    me->regs[SCVGC_REG_R15] = entry->r15;
    me->nregs = SCVGC_STW_NREGS; /* roots.c reads regs[0, nregs): r12-r15 are 12-15 */
  } else if (world.nthreads && world.threads[0].state == SCVGC_STW_SELF) {
    /* This thread's live stack starts at the cycle's frame (roots.c cuts the collector's own
     * stack at its sp exactly, sp: the cycle's own): the frames of what it calls from there on — the clear, the
     * scan, the sweep — hold the collector's working values (span bases: the address of
     * each span's first object), never roots. stw.c recorded the sp inside its own frame,
     * which these calls overwrite. */
    world.threads[0].sp = sp;
  }
}

__attribute__((noinline)) bool scvgc_gc_cycle(int reason) {
  if (!scvgc_tracking || !scvgc_gc_ready()) return false;
  if (!process_check()) { /* P1: another process of this address space */
    if (reason == SCVGC_GC_PERIODIC) {
      set_next(last_goal); /* the owner's pacing (shared memory) */
      return false;
    }
    /* Asked for a report (exit, leak check): it must show nothing. The table is the
     * owner's too, whose next cycle writes it again. */
    scvgc_lock(&gc_lock);
    memset(&scvgc_leaks.totals, 0, sizeof scvgc_leaks.totals);
    if (scvgc_leaks.slots) memset(scvgc_leaks.slots, 0, scvgc_leaks.cap * sizeof *scvgc_leaks.slots);
    scvgc_leaks.ngroups = 0;
    scvgc_leaks.incomplete = true;
    scvgc_unlock(&gc_lock);
    return false;
  }
  /* The collector's own registers (root class 1 for this thread): spilled into this frame,
   * which stays live, and is scanned, for the whole cycle — where E1's walk fails; else the
   * thread counts as it entered the library, and this frame is below its cut. */
  __builtin_unwind_init();
  scvgc_uwregs_t entry;
  bool have_entry = entry_of(reason, &entry); /* E1 */
  scvgc_lock(&gc_lock);
  atomic_store(&scvgc_gc_black, 1); /* internal.h L1: until the leak table is made */
  start_threads();
  uint64_t t0 = scvgc_nanotime();
  scvgc_gc_worker = 1;
  scvgc_sweep_finish(); /* sweep termination: the last cycle's sweep is done (sweep.c S1) */
  uint64_t ts = scvgc_nanotime();
  scvgc_mark_skipped_reset();
  bool concurrent_wanted = concurrent_start(); /* C0 */
  scvgc_marker_t m;
  if (concurrent_wanted) {
    /* The rest of C0, with the world running: H10 from here on, then the clear, under the
     * heap lock alone, an arena at a time (the span walk; grey_lib's workbufs come from the
     * locked heap). A span made meanwhile holds only objects allocated black: no bit to clear
     * (a library object among them is black too: alive this cycle) */
    scvgc_heap_lock_all();
    atomic_store(&scvgc_gc_marking, 1);
    scvgc_marker_init(&m);
    scvgc_heap_unlock_all();
    size_t nlib = 0;
    scvgc_heap_foreach_span_chunked(clear_bits_live, &nlib);
    if (nlib) scvgc_heap_foreach_span_chunked(grey_lib, &m);
    ts = scvgc_nanotime(); /* none of C0 is a pause */
  }
  lock_all();
  bool room = scvgc_sweep_reserve(); /* again in C3 for a concurrent cycle */
  scvgc_stats_t st;
  scvgc_stats_read_locked(&st);
  size_t before = atomic_load(&scvgc_heap_inuse);
  atomic_store(&scvgc_mark_objects, 0);
  atomic_store(&scvgc_mark_live, 0);
  bool conc = concurrent_wanted;
  uintptr_t cur_sp;
  int rc = scvgc_stw_stop(&world);
  __asm__ volatile("mov %%rsp, %0" : "=r"(cur_sp));
  self_entry(have_entry, &entry, cur_sp);
  uint64_t t1 = scvgc_nanotime(), t2 = t1, t3 = t1, t3b = t1;
  uint64_t pause1 = 0, tc2 = t1, ts3 = t1, f_stop = t1, f_roots = t1, f_written = t1;
  long rescanned = 0;
  bool guard = false;
  if (!conc) scvgc_marker_init(&m);
  bool roots_ok = true;
  if (rc == 0) { /* a thread still running could unmap what the scan reads: skip it all */
    size_t nlib = 0;
    if (!conc) scvgc_heap_foreach_span(clear_bits, &nlib);
    if (nlib) scvgc_heap_foreach_span(grey_lib, &m);
    scvgc_special_roots(&m); /* the lean layout's (special.c P3): special_lock held */
    for (int k = 0; k < 2; k++) /* E1: in flight in the library's frames */
      if (cycle_keep[k]) scvgc_mark_word(&m, cycle_keep[k]);
    roots_ok = scvgc_roots_scan(&m, &world) && scvgc_stw_held(&world); /* G4 */
    t2 = scvgc_nanotime();
  }
  if (rc == 0 && roots_ok && !m.oom && conc) {
    /* C1 ends: the world runs while the markers drain (C2) */
    atomic_store(&scvgc_gc_marking, 1); /* pageheap.c H10, under the heap lock */
    scvgc_mark_concurrent(true);
    scvgc_wb_heap_unlocked(true);
    scvgc_stw_start(&world);
    tc2 = scvgc_nanotime();
    pause1 = tc2 - ts;
    unlock_all();
    scvgc_mark_parallel(&m);
    if (scvgc_gc_test_hook) scvgc_gc_test_hook();
    for (int k = 0; k < PRECLEAN_ROUNDS && !m.oom; k++) {
      long n = scvgc_wp_written(scvgc_gc_test_no_rescan ? NULL : scvgc_mark_written, &m, true);
      if (n < 0) { /* the tracking broke down: this cycle cannot know what was written */
        m.oom = true;
        break;
      }
      rescanned += n;
      scvgc_mark_parallel(&m);
      if (n < PRECLEAN_SMALL) break;
    }
    /* C3 */
    ts3 = scvgc_nanotime();
    lock_all();
    /* C4's sweep list needs an entry per span in use then: C1's reservation did not count
     * the spans the program took during C2, and with the heap lock held from here on no
     * more come (sweep.c S6) */
    room = scvgc_sweep_reserve();
    scvgc_wb_heap_unlocked(false);
    scvgc_mark_concurrent(false);
    rc = scvgc_stw_stop(&world);
    __asm__ volatile("mov %%rsp, %0" : "=r"(cur_sp));
  self_entry(have_entry, &entry, cur_sp);
    f_stop = scvgc_nanotime();
    if (rc == 0) {
      if (!scvgc_roots_scan(&m, &world)) roots_ok = false;
      f_roots = scvgc_nanotime();
      long n = scvgc_wp_written(scvgc_gc_test_no_rescan ? NULL : scvgc_mark_written, &m, false);
      if (n < 0) m.oom = true;
      else rescanned += n;
      f_written = scvgc_nanotime();
      scvgc_mark_guard(true); /* protected pages of live objects (mark.c M3) */
      guard = true;
      scvgc_mark_parallel(&m);
    }
    atomic_store(&scvgc_gc_marking, 0); /* H10: the deferred spans go back after the restart */
    t3 = scvgc_nanotime();
  } else if (rc == 0) {
    conc = false;
    scvgc_mark_guard(true); /* protected pages of live objects (mark.c M3) */
    guard = true;
    scvgc_mark_parallel(&m);
    t3 = scvgc_nanotime();
  } else {
    conc = false;
  }
  atomic_store(&scvgc_gc_marking, 0); /* H10 (C0 turned it on even where C1 failed) */
  /* G4: the stop held to the end of the mark (stw.c: a tracer that died let the world run) */
  bool valid = rc == 0 && !m.oom && roots_ok && !scvgc_special_root_lost() && /* special.c P4 */
               scvgc_stw_held(&world);
  /* The leak table: always in leak mode; in collect mode only when asked for (exit, a
   * leak check, a report): a periodic, forced or scvgc_collect() cycle there leaves the
   * garbage to the sweep. */
  bool full = !scvgc_collecting || reason == SCVGC_GC_EXIT || reason == SCVGC_GC_REQUEST;
  scvgc_leaks_t *t = &scvgc_leaks;
  if (full) {
    memset(&t->totals, 0, sizeof t->totals);
    if (t->slots) memset(t->slots, 0, t->cap * sizeof *t->slots);
    t->ngroups = 0;
    t->incomplete = !valid;
  }
  /* C4': after the restart where no sweep can free what it reads (G1) */
  bool late = valid && full && (reason == SCVGC_GC_EXIT || !scvgc_collecting);
  if (valid && full && !late) {
    classify_t c = {&m, 0};
    scvgc_heap_foreach_span(classify_span, &c);
    scvgc_heap_foreach_span(tally_span, t);
  }
  uint64_t skipped = guard ? scvgc_mark_guard(false) : 0;
  if (skipped && scvgc_opt.trace)
    scvgc_message("gc: %lu protected pages of live objects skipped", (unsigned long)skipped);
  t3b = scvgc_nanotime();
  scvgc_marker_done(&m);
  scvgc_wb_check_empty();
  size_t live = atomic_load(&scvgc_mark_live), marked = atomic_load(&scvgc_mark_objects);
  size_t wb = scvgc_wb_bytes();
  size_t cached = 0;
  if (scvgc_collecting) scvgc_tcache_foreach_locked(add_cached, &cached);
  size_t goal = valid ? goal_of(scvgc_collecting ? live : before) : last_goal;
  if (valid && scvgc_collecting && goal != SIZE_MAX) goal += cached << SCVGC_PAGE_SHIFT;
  /* sweep what the program no longer reaches; never after an incomplete cycle (SPEC) */
  /* The exit check frees nothing: the process is ending, and what it found is reported
   * from the leak table. Its roots are the least certain of all cycles (a main thread that
   * ended with pthread_exit is a zombie whose stack and TLS nobody stops; exit handlers run
   * on whichever thread ended last), and the report still allocates (the symbolizer, the
   * loader's dlopen) after it: a sweep then would hand out what the loader still uses. */
  uint64_t sb0 = scvgc_nanotime();
  scvgc_sweep_begin(valid && room && reason != SCVGC_GC_EXIT, live, goal);
  uint64_t sb1 = scvgc_nanotime();
  size_t unswept = scvgc_sweep_unswept_bytes();
  scvgc_stw_start(&world);
  uint64_t t4 = scvgc_nanotime();
  last_alone = rc == 0 && world.method == SCVGC_STW_ALONE && !world.nfailed; /* C6 */
  int nstopped = 0;
  for (int i = 0; i < world.nthreads; i++)
    nstopped += world.threads[i].state == SCVGC_STW_STOPPED || world.threads[i].state == SCVGC_STW_SELF;
  size_t after = atomic_load(&scvgc_heap_inuse);
  unlock_all();
  uint64_t tl0 = scvgc_nanotime();
  if (late) classify_late(t);
  uint64_t late_ns = scvgc_nanotime() - tl0;
  scvgc_heap_flush_deferred(); /* H10: what was freed during C2 */
  if (concurrent_wanted) scvgc_wp_release(); /* wp.c W3: no fault until the next cycle */
  scvgc_gc_worker = 0;
  if (valid) {
    last_live = scvgc_collecting ? live : after;
    last_goal = scvgc_collecting ? goal : goal_of(after);
    atomic_store(&last_allowance, last_goal > last_live ? last_goal - last_live : 0);
    /* B2 A background cycle marks while the program allocates: as Go's trigger, it starts
     *    before the goal (at 3/4 of the way from the live heap to it), so that its mark ends
     *    near the goal rather than far past it. */
    if (SCVGC_BG_CYCLES && scvgc_collecting && concurrent_wanted && sweeper_wanted &&
        last_goal != SIZE_MAX && last_goal > last_live)
      set_next(last_live + (last_goal - last_live) / 4 * 3);
    else
      set_next(last_goal);
  } else {
    /* An incomplete cycle moves no goal: the next allocation would start the same cycle
     * again, back to back (a thread that blocks every signal under the fallback fails each
     * one after SCVGC_STW_GRACE_NS: a 300 000-allocation program ran for minutes). The next
     * periodic try waits until the heap has doubled (GC_FLOOR at least): a few tries over
     * the program's life. The goal itself stays until a cycle completes. */
    size_t back = after + (after > GC_FLOOR ? after : GC_FLOOR);
    set_next(back > last_goal ? back : last_goal);
  }
  scvgc_sweep_wake();

  scvgc_gcstats_t *g = &scvgc_gcstats;
  uint64_t pause2 = conc ? t4 - ts3 : t4 - ts;
  g->cycles++;
  if (conc) count_pause(pause1);
  count_pause(pause2);
  g->pages_rescanned += (uint64_t)rescanned;
  g->last = (scvgc_cycle_t){.reason = reason, .valid = valid, .full = full,
                            .sweepterm_ns = ts - t0, .stop_ns = t1 - ts,
                            .roots_ns = t2 - t1, .mark_ns = t3 - t2, .classify_ns = late ? late_ns : t3b - t3,
                            .term_ns = t4 - t3,
                            .marked_objects = marked, .scanned_bytes = m.bytes, .live = live,
                            .heap_before = before, .heap_after = after, .goal = last_goal,
                            .unreachable = st.live_objects > marked ? st.live_objects - marked : 0,
                            .sweep_bytes = unswept, .wb_bytes = wb,
                            .threads = nstopped, .failed_threads = world.nfailed,
                            .roots_incomplete = !roots_ok, .concurrent = conc,
                            .pause_start_ns = pause1, .pause_finish_ns = conc ? pause2 : 0,
                            .conc_mark_ns = conc ? ts3 - tc2 : 0,
                            .pages_rescanned = (uint64_t)rescanned,
                            .fin_stop_ns = f_stop - ts3, .fin_roots_ns = f_roots - f_stop,
                            .fin_written_ns = f_written - f_roots, .fin_drain_ns = t3 - f_written,
                            .fin_term_ns = t4 - t3, .fin_sweep_ns = sb1 - sb0,
                            .method = world.method, .end_ns = t4};
  if (scvgc_opt.trace) trace_cycle(g, t);
  scvgc_timeline_sample(SCVGC_TL_GC);
  atomic_store(&scvgc_gc_black, 0);
  scvgc_unlock(&gc_lock);
  return valid;
}

/* From the allocation path, when the heap reached the goal. Markers and the collector
 * never start one (they allocate workbufs, not objects, but be sure). */
/* B1 Background cycles. In collect mode with concurrent marking, a cycle that pacing starts
 *    runs on the sweeper thread (a library thread: its stack is never a root, gc.c E1), so the
 *    allocating thread goes on and sees only the two pauses, as in Go. The allocating thread
 *    asks (bg_request, the sweeper woken) and returns; while the cycle runs, the trigger is
 *    twice the goal it started at (bg_limit). If the heap meanwhile outgrows that, an
 *    allocating thread waits for the cycle's end (gc_lock) rather than let the heap run
 *    away: Go's mark assist, in its crudest form. */
/*    Off (SCVGC_BG_CYCLES 0): with it on, test/progs/last_thread_exit crashed in about half of
 *    its runs in collect mode. The cause was not B1's but any cycle's after the main thread's
 *    pthread_exit, which they made likely: no root but the stacks was read (roots.c; fixed,
 *    0 in 30 with B1 on since). churn 64 once in three suite runs is still unexplained, so
 *    periodic cycles run on the allocating thread, which waits for the whole cycle (the other
 *    threads see the two pauses only). */
static _Atomic int bg_request, bg_running;
static _Atomic size_t bg_limit = SIZE_MAX;

bool scvgc_gc_background_pending(void) { return atomic_load(&bg_request); }

void scvgc_gc_wait_marking(void) {
  if (scvgc_gc_worker) return; /* the collector, a marker: never */
  while (atomic_load(&scvgc_gc_marking)) {
    scvgc_lock(&gc_lock); /* held for the whole cycle: this waits for its end */
    scvgc_unlock(&gc_lock);
  }
}

void scvgc_gc_background_run(void) {
  if (!atomic_exchange(&bg_request, 0)) return;
  int worker = scvgc_gc_worker;
  bg_cycle = 1;
  scvgc_gc_cycle(SCVGC_GC_PERIODIC);
  bg_cycle = 0;
  scvgc_gc_worker = worker;
  atomic_store(&bg_limit, SIZE_MAX);
  atomic_store(&bg_running, 0);
}

void scvgc_gc_periodic(const void *keep) {
  if (scvgc_gc_worker || starting_threads || !scvgc_gc_ready() || atomic_load(&scvgc_gc_paused))
    return;
  size_t next = atomic_load(&scvgc_gc_next);
  size_t inuse = atomic_load(&scvgc_heap_inuse);
  if (unlikely(inuse > atomic_load_explicit(&bg_limit, memory_order_relaxed)) &&
      atomic_load(&bg_running)) { /* B1: the assist, crude: wait for the cycle's end */
    scvgc_lock(&gc_lock);
    scvgc_unlock(&gc_lock);
    return;
  }
  if (inuse < next) return;
  if (scvgc_collecting) { /* pages still to sweep are garbage, not use (pacing above) */
    size_t u = scvgc_sweep_unswept_bytes();
    if (inuse - (u < inuse ? u : inuse) < next) return;
  }
  /* one thread runs it; the others go on allocating rather than queue up behind it */
  if (!atomic_compare_exchange_strong(&scvgc_gc_next, &next, SIZE_MAX)) return;
  if (SCVGC_BG_CYCLES && scvgc_collecting && scvgc_opt.concurrent && !scvgc_wp_failed() &&
      sweeper_wanted && scvgc_sweep_thread_running()) { /* B1 */
    size_t limit = next * 2 > next ? next * 2 : SIZE_MAX;
    atomic_store(&bg_limit, limit);
    atomic_store(&bg_running, 1);
    atomic_store(&bg_request, 1);
    size_t none = SIZE_MAX; /* the trigger becomes the assist's limit, unless the cycle ended */
    atomic_compare_exchange_strong(&scvgc_gc_next, &none, limit);
    scvgc_sweep_wake();
    return;
  }
  cycle_keep[0] = (uintptr_t)keep; /* E1 */
  scvgc_gc_cycle(SCVGC_GC_PERIODIC);
  cycle_keep[0] = 0;
}

void scvgc_gc_keep_moving(const void *old) { cycle_keep[1] = (uintptr_t)old; }

/* A copy of the last cycle's leak table for the report, taken under gc_lock: cycles that
 * start while the report is being written (its symbolization allocates) must not change
 * what it reads. The copy is malloc'd outside the lock (malloc may start a cycle). Returns
 * the number of groups copied into *out (free with free()), or -1 out of memory. */
long scvgc_gc_copy_leaks(scvgc_leak_t **out, scvgc_leaks_t *totals) {
  size_t want = 0;
  for (;;) {
    scvgc_leak_t *buf = want ? malloc(want * sizeof *buf) : NULL;
    if (want && !buf) return -1;
    scvgc_lock(&gc_lock);
    const scvgc_leaks_t *t = &scvgc_leaks;
    if (t->ngroups <= want) {
      size_t n = 0;
      for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].objects) buf[n++] = t->slots[i];
      *totals = *t;
      totals->slots = NULL;
      scvgc_unlock(&gc_lock);
      *out = buf;
      return (long)n;
    }
    want = t->ngroups;
    scvgc_unlock(&gc_lock);
    free(buf);
  }
}

void scvgc_gc_fork_child(void) {
  scvgc_lock_reset(&gc_lock);
  /* a fork during a concurrent mark (C2): the child's heap frees again; what was deferred
   * goes back at the end of its first cycle (H10) */
  bool midmark = atomic_exchange(&scvgc_gc_marking, 0);
  atomic_store(&scvgc_gc_black, 0); /* no cycle runs in the child */
  if (atomic_exchange(&bg_running, 0) || atomic_exchange(&bg_request, 0)) {
    atomic_store(&bg_request, 0); /* B1: the parent's sweeper ran it; the child paces anew */
    atomic_store(&bg_limit, SIZE_MAX);
    set_next(last_goal);
  }
  scvgc_mark_concurrent(false);
  scvgc_wb_heap_unlocked(false);
  scvgc_wp_fork_child(); /* wp.c W5 */
  if (atomic_load(&gc_ready)) process_mark(); /* P1: this child is one the library knows */
  scvgc_mark_fork_child();
  scvgc_wb_fork_child(midmark);
  scvgc_own_reset_lock();
}
