/* lock.h — the core's mutex: one 32-bit word, futex-based (Drepper's "mutex 2").
 *
 * Why not pthread_mutex: the fork child resets these by storing 0 (no libc state), they
 * never allocate, and the uncontended path is one CAS and one exchange.
 * States: 0 unlocked, 1 locked, 2 locked with (possible) waiters.
 * Order: every lock has a rank (internal.h "lock ranks", the one global order). In the
 *   debug build (SCVGC_DEBUG) a lock also records its owner's tid and each thread keeps the
 *   stack of locks it holds (lock.c): taking a lock not above every held one aborts naming
 *   both, unlocking one the thread does not hold aborts, and SCVGC_ASSERT_HELD(l) checks a
 *   function's "X lock held". The release build keeps the word alone: the rank is not
 *   stored and scvgc_lock/scvgc_unlock compile to what they were.
 * Callers: any thread, including the fork handlers. Never taken in a signal handler nor by
 *   the tracer task (stw.c), which shares its caller's thread pointer.
 */
#ifndef SCVGC_LOCK_H
#define SCVGC_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

#include "internal.h"

typedef struct {
  _Atomic uint32_t v;
#if SCVGC_DEBUG
  uint32_t rank;          /* SCVGC_RANK_*; NONE: not checked */
  _Atomic int32_t owner;  /* tid of the holder, 0 when free (or unranked) */
#endif
} scvgc_lock_t;
_Static_assert(SCVGC_DEBUG || sizeof(scvgc_lock_t) == 4, "the release lock is one word");

#if SCVGC_DEBUG
#define SCVGC_LOCK_RANKED(r) { 0, (r), 0 }
#else
#define SCVGC_LOCK_RANKED(r) { 0 }
#endif
/* An unranked lock (SCVGC_RANK_NONE): for locks whose file has not given theirs yet. */
#define SCVGC_LOCK_INIT SCVGC_LOCK_RANKED(SCVGC_RANK_NONE)

void scvgc_lock_slow(scvgc_lock_t *l) __attribute__((visibility("hidden")));
void scvgc_unlock_wake(scvgc_lock_t *l) __attribute__((visibility("hidden")));
/* The i-th (from 0) wait for another thread to finish a short step: spin, yield, then sleep
 * (os.c). For the waits that have no lock to sleep on. */
void scvgc_backoff(unsigned i) __attribute__((visibility("hidden")));

#if SCVGC_DEBUG
/* lock.c: the order check before waiting, the bookkeeping after taking and before
 * releasing, the fork child's reset, and the ownership tests. */
void scvgc_lock_dbg_order(scvgc_lock_t *l) __attribute__((visibility("hidden")));
void scvgc_lock_dbg_took(scvgc_lock_t *l) __attribute__((visibility("hidden")));
void scvgc_lock_dbg_release(scvgc_lock_t *l) __attribute__((visibility("hidden")));
void scvgc_lock_dbg_reset(scvgc_lock_t *l) __attribute__((visibility("hidden")));
/* Held by the calling thread (an unranked lock: held by anyone). */
bool scvgc_lock_held(const scvgc_lock_t *l) __attribute__((visibility("hidden")));
void scvgc_lock_held_fail(const scvgc_lock_t *l, const char *what, const char *file, int line)
    __attribute__((visibility("hidden"), noreturn));
/* The calling thread's locks, as ranks (tests): how many it holds. */
int scvgc_lock_dbg_depth(void) __attribute__((visibility("hidden")));
/* The fork child: the thread's tid changed. */
void scvgc_lock_dbg_fork_child(void) __attribute__((visibility("hidden")));
#endif

static inline void scvgc_lock_raw(scvgc_lock_t *l) {
  uint32_t c = 0;
  if (__builtin_expect(atomic_compare_exchange_strong_explicit(
          &l->v, &c, 1, memory_order_acquire, memory_order_relaxed), 1))
    return;
  scvgc_lock_slow(l);
}

static inline void scvgc_lock(scvgc_lock_t *l) {
#if SCVGC_DEBUG
  scvgc_lock_dbg_order(l);
  scvgc_lock_raw(l);
  scvgc_lock_dbg_took(l);
#else
  scvgc_lock_raw(l);
#endif
}

/* Takes l if it is free; never waits, so never checked against the order (what it took
 * counts as held for the locks taken after it). */
static inline bool scvgc_trylock(scvgc_lock_t *l) {
  uint32_t c = 0;
  if (!atomic_compare_exchange_strong_explicit(&l->v, &c, 1, memory_order_acquire,
                                               memory_order_relaxed))
    return false;
#if SCVGC_DEBUG
  scvgc_lock_dbg_took(l);
#endif
  return true;
}

static inline void scvgc_unlock(scvgc_lock_t *l) {
#if SCVGC_DEBUG
  scvgc_lock_dbg_release(l);
#endif
  if (__builtin_expect(atomic_exchange_explicit(&l->v, 0, memory_order_release) == 2, 0))
    scvgc_unlock_wake(l);
}

/* Fork child only: the threads that held it are gone (the debug owner and the forking
 * thread's record of it go too). */
static inline void scvgc_lock_reset(scvgc_lock_t *l) {
#if SCVGC_DEBUG
  scvgc_lock_dbg_reset(l);
#endif
  atomic_store_explicit(&l->v, 0, memory_order_relaxed);
}

/* "l held" precondition of a function: by the calling thread (debug build only). */
#if SCVGC_DEBUG
#define SCVGC_ASSERT_HELD(l) \
  do { if (!scvgc_lock_held(l)) scvgc_lock_held_fail((l), "held", __FILE__, __LINE__); } while (0)
/* held by some thread: the collector holds the heap lock for its markers */
#define SCVGC_ASSERT_LOCKED(l) \
  do { if (!atomic_load_explicit(&(l)->v, memory_order_relaxed)) \
         scvgc_lock_held_fail((l), "locked", __FILE__, __LINE__); } while (0)
#else
#define SCVGC_ASSERT_HELD(l) ((void)0)
#define SCVGC_ASSERT_LOCKED(l) ((void)0)
#endif

#endif
