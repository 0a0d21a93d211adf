/* lock.h — the core's mutex: one 32-bit word, futex-based (Drepper's "mutex 2").
 *
 * Why not pthread_mutex: the fork child resets these by storing 0 (no libc state), they
 * never allocate, and the uncontended path is one CAS and one exchange.
 * States: 0 unlocked, 1 locked, 2 locked with (possible) waiters.
 * Callers: any thread, including the fork handlers. Never taken in a signal handler.
 */
#ifndef SCVGC_LOCK_H
#define SCVGC_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct { _Atomic uint32_t v; } scvgc_lock_t;
#define SCVGC_LOCK_INIT { 0 }

void scvgc_lock_slow(scvgc_lock_t *l) __attribute__((visibility("hidden")));
void scvgc_unlock_wake(scvgc_lock_t *l) __attribute__((visibility("hidden")));
/* The i-th (from 0) wait for another thread to finish a short step: spin, yield, then sleep
 * (os.c). For the waits that have no lock to sleep on. */
void scvgc_backoff(unsigned i) __attribute__((visibility("hidden")));

static inline void scvgc_lock(scvgc_lock_t *l) {
  uint32_t c = 0;
  if (__builtin_expect(atomic_compare_exchange_strong_explicit(
          &l->v, &c, 1, memory_order_acquire, memory_order_relaxed), 1))
    return;
  scvgc_lock_slow(l);
}

static inline void scvgc_unlock(scvgc_lock_t *l) {
  if (__builtin_expect(atomic_exchange_explicit(&l->v, 0, memory_order_release) == 2, 0))
    scvgc_unlock_wake(l);
}

/* Fork child only: the threads that held it are gone. */
static inline void scvgc_lock_reset(scvgc_lock_t *l) { atomic_store_explicit(&l->v, 0, memory_order_relaxed); }

#endif
