/* lock.c — the debug build's check of the global lock order (internal.h "lock ranks").
 *
 * Owns: the calling thread's stack of held ranked locks (static TLS, initial-exec: no
 *   allocation), and the names of the ranks for the message.
 * Invariants (SCVGC_DEBUG only; the release build compiles nothing here):
 *   K1 a thread takes a ranked lock (scvgc_lock) only when, against every ranked lock it
 *      holds, its rank is higher, or equal with a higher address (the arrays, in index
 *      order); else it aborts with one line naming both locks. Taking one it already
 *      holds aborts the same way (a self-deadlock).
 *   K2 a ranked lock's owner is the tid of the thread that holds it, 0 when free; only
 *      the holder unlocks it (an unlock by another thread aborts).
 *   K3 a fork child's locks are reset (scvgc_lock_reset): owner 0 and gone from the
 *      forking thread's stack, whose cached tid is forgotten (scvgc_lock_dbg_fork_child).
 *      A lock the forking thread held when it was reset (a fork from a signal handler that
 *      interrupted the allocator, alloc.c F1) is remembered: the interrupted code's unlock
 *      of it, once the handler returns in the child, is allowed once.
 * Locks: none. Callers: every thread that takes a core lock; never a signal handler or the
 *   tracer (lock.h).
 */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "lock.h"

#if SCVGC_DEBUG

/* The most locks a thread holds at once: fork's prepare handler (66 central locks and the
 * others), with room to spare. */
#define MAX_HELD 192

#define MAX_RESET 8

static __thread struct {
  const scvgc_lock_t *held[MAX_HELD];
  int n;
  int32_t tid;
  const scvgc_lock_t *reset[MAX_RESET]; /* K3: reset while this thread held them */
  int nreset;
} me __attribute__((tls_model("initial-exec")));

static const char *const rank_name[SCVGC_NRANKS] = {
    [SCVGC_RANK_NONE] = "an unranked lock",
    [SCVGC_RANK_REPORT] = "the report lock (report.c)",
    [SCVGC_RANK_SYM_SESSION] = "the symbolizer's session lock (symbolize.c)",
    [SCVGC_RANK_SYM_LOAD] = "the symbolizer's load lock (symbolize.c)",
    [SCVGC_RANK_GC] = "the gc lock (gc.c)",
    [SCVGC_RANK_BATCH] = "the scavenger's batch lock (pageheap.c)",
    [SCVGC_RANK_WALKER] = "the walker lock (unwind.c)",
    [SCVGC_RANK_DEPOT] = "the stack depot's lock (stack.c)",
    [SCVGC_RANK_RECLAIM] = "the reclaim table lock (sweep.c)",
    [SCVGC_RANK_TC_ONCE] = "the thread-exit key's once lock (tcache.c)",
    [SCVGC_RANK_REGISTRY] = "the cache registry lock (tcache.c)",
    [SCVGC_RANK_CENTRAL] = "a central lock (central.c)",
    [SCVGC_RANK_HEAP] = "the heap lock (pageheap.c)",
    [SCVGC_RANK_META] = "the metadata lock (fixalloc.c)",
    [SCVGC_RANK_TIMELINE] = "the timeline lock (timeline.c)",
    [SCVGC_RANK_OWN] = "the own-registry lock (own.c)",
    [SCVGC_RANK_WB] = "the workbuf lock (workbuf.c)",
    [SCVGC_RANK_WP] = "the written-page table lock (wp.c)",
};

static int32_t my_tid(void) {
  if (!me.tid) me.tid = (int32_t)syscall(SYS_gettid);
  return me.tid;
}

static const char *name_of(const scvgc_lock_t *l) {
  return l->rank < SCVGC_NRANKS ? rank_name[l->rank] : "a lock of a bad rank";
}

__attribute__((noreturn, cold)) static void order_fail(const scvgc_lock_t *l,
                                                       const scvgc_lock_t *h) {
  if (l == h)
    scvgc_message("lock order: taking %s (rank %u, %p) that this thread already holds",
                  name_of(l), l->rank, (const void *)l);
  else
    scvgc_message("lock order: taking %s (rank %u, %p) while holding %s (rank %u, %p): "
                  "see the lock ranks in core/internal.h",
                  name_of(l), l->rank, (const void *)l, name_of(h), h->rank, (const void *)h);
  scvgc_assert_fail("lock order (K1)", __FILE__, __LINE__);
}

void scvgc_lock_dbg_order(scvgc_lock_t *l) {
  if (!l->rank) return;
  for (int i = 0; i < me.n; i++) {
    const scvgc_lock_t *h = me.held[i];
    if (l->rank > h->rank || (l->rank == h->rank && l > h)) continue;
    order_fail(l, h);
  }
}

void scvgc_lock_dbg_took(scvgc_lock_t *l) {
  if (!l->rank) return;
  if (me.n == MAX_HELD) {
    scvgc_message("lock order: a thread holds more than %d locks", MAX_HELD);
    scvgc_assert_fail("held-lock stack overflow", __FILE__, __LINE__);
  }
  me.held[me.n++] = l;
  atomic_store_explicit(&l->owner, my_tid(), memory_order_relaxed);
}

static bool forget(const scvgc_lock_t *l) {
  for (int i = me.n - 1; i >= 0; i--)
    if (me.held[i] == l) {
      for (int j = i; j + 1 < me.n; j++) me.held[j] = me.held[j + 1];
      me.n--;
      return true;
    }
  return false;
}

void scvgc_lock_dbg_release(scvgc_lock_t *l) {
  if (!l->rank) return;
  int32_t o = atomic_load_explicit(&l->owner, memory_order_relaxed);
  if (!o)
    for (int i = 0; i < me.nreset; i++)
      if (me.reset[i] == l) { /* K3: the unlock of a hold the fork child reset */
        me.reset[i] = me.reset[--me.nreset];
        return;
      }
  if (o != my_tid() || !forget(l)) {
    scvgc_message("lock order: unlocking %s (%p) held by tid %d, not by this thread (%d)",
                  name_of(l), (const void *)l, (int)o, (int)my_tid());
    scvgc_assert_fail("unlock by the holder (K2)", __FILE__, __LINE__);
  }
  atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
}

void scvgc_lock_dbg_reset(scvgc_lock_t *l) {
  if (forget(l) && me.nreset < MAX_RESET) me.reset[me.nreset++] = l;
  atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
}

void scvgc_lock_dbg_fork_child(void) { me.tid = 0; }

bool scvgc_lock_held(const scvgc_lock_t *l) {
  if (!atomic_load_explicit(&l->v, memory_order_relaxed)) return false;
  if (!l->rank) return true;
  return atomic_load_explicit(&l->owner, memory_order_relaxed) == my_tid();
}

void scvgc_lock_held_fail(const scvgc_lock_t *l, const char *what, const char *file, int line) {
  scvgc_message("lock: %s must be %s here (%s:%d); owner tid %d, this thread %d", name_of(l),
                what, file, line, (int)atomic_load_explicit(&l->owner, memory_order_relaxed),
                (int)my_tid());
  scvgc_assert_fail("lock precondition", file, line);
}

int scvgc_lock_dbg_depth(void) { return me.n; }

#endif
