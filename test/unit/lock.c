/* core/lock.c: the debug build's lock-order check (internal.h "lock ranks", K1-K3). The
 * unit suites link the debug core, so every case here runs with the check on. A broken
 * rule ends in scvgc_assert_fail (__builtin_trap: SIGILL). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>

#include "internal.h"
#include "lock.h"

static scvgc_lock_t heap_like = SCVGC_LOCK_RANKED(SCVGC_RANK_HEAP);
static scvgc_lock_t central_like = SCVGC_LOCK_RANKED(SCVGC_RANK_CENTRAL);
static scvgc_lock_t meta_like = SCVGC_LOCK_RANKED(SCVGC_RANK_META);
static scvgc_lock_t arr[2] = {SCVGC_LOCK_RANKED(SCVGC_RANK_CENTRAL),
                              SCVGC_LOCK_RANKED(SCVGC_RANK_CENTRAL)};

Test(lock, locks_taken_in_rank_order_pass_and_are_recorded_as_held) {
  cr_assert_eq(scvgc_lock_dbg_depth(), 0);
  scvgc_lock(&central_like);
  scvgc_lock(&heap_like);
  scvgc_lock(&meta_like);
  cr_assert_eq(scvgc_lock_dbg_depth(), 3);
  cr_assert(scvgc_lock_held(&heap_like));
  scvgc_unlock(&heap_like); /* not LIFO: allowed */
  cr_assert(!scvgc_lock_held(&heap_like));
  scvgc_unlock(&meta_like);
  scvgc_unlock(&central_like);
  cr_assert_eq(scvgc_lock_dbg_depth(), 0);
}

Test(lock, a_lock_of_lower_rank_taken_under_a_higher_one_aborts, .signal = SIGILL) {
  scvgc_lock(&heap_like);
  scvgc_lock(&central_like); /* central after heap: the order says central -> heap */
}

Test(lock, locks_of_one_rank_go_in_address_order) {
  scvgc_lock(&arr[0]);
  scvgc_lock(&arr[1]);
  scvgc_unlock(&arr[1]);
  scvgc_unlock(&arr[0]);
}

Test(lock, locks_of_one_rank_against_address_order_abort, .signal = SIGILL) {
  scvgc_lock(&arr[1]);
  scvgc_lock(&arr[0]);
}

Test(lock, taking_a_lock_this_thread_holds_aborts_instead_of_hanging, .signal = SIGILL) {
  scvgc_lock(&meta_like);
  scvgc_lock(&meta_like);
}

static void *take_heap_like(void *arg) {
  (void)arg;
  scvgc_lock(&heap_like);
  return NULL;
}

Test(lock, unlocking_a_lock_another_thread_holds_aborts, .signal = SIGILL) {
  pthread_t t;
  pthread_create(&t, NULL, take_heap_like, NULL);
  pthread_join(t, NULL);
  cr_assert(!scvgc_lock_held(&heap_like)); /* held, but not by this thread */
  scvgc_unlock(&heap_like);
}

Test(lock, a_trylock_is_not_checked_but_counts_as_held) {
  scvgc_lock(&meta_like);
  cr_assert(scvgc_trylock(&central_like)); /* never waits: no deadlock to fear */
  cr_assert(scvgc_lock_held(&central_like));
  cr_assert(!scvgc_trylock(&central_like));
  scvgc_unlock(&central_like);
  scvgc_unlock(&meta_like);
  cr_assert_eq(scvgc_lock_dbg_depth(), 0);
}

Test(lock, a_reset_lock_is_forgotten_by_the_thread_that_held_it) {
  scvgc_lock(&central_like);
  scvgc_lock(&heap_like);
  scvgc_lock_reset(&heap_like); /* what a fork child does */
  scvgc_lock_reset(&central_like);
  cr_assert_eq(scvgc_lock_dbg_depth(), 0);
  scvgc_lock(&heap_like); /* free again, and nothing held */
  scvgc_unlock(&heap_like);
}

Test(lock, the_fork_handlers_take_every_core_lock_in_rank_order) {
  scvgc_fork_prepare();
  cr_assert_gt(scvgc_lock_dbg_depth(), SCVGC_NCLASSES); /* every central lock and more */
  scvgc_fork_parent();
  cr_assert_eq(scvgc_lock_dbg_depth(), 0);
}

Test(lock, a_heap_lock_precondition_without_the_lock_aborts, .signal = SIGILL) {
  scvgc_heapstat_t hs;
  scvgc_heap_stats_locked(&hs); /* "heap lock held" */
}

Test(lock, a_heap_lock_precondition_with_the_lock_passes) {
  scvgc_heapstat_t hs;
  scvgc_heap_lock_all();
  scvgc_heap_stats_locked(&hs);
  scvgc_heap_unlock_all();
}

/* K3: a fork from a signal handler that interrupted the allocator (alloc.c F1) resets, in
 * the child, a lock the interrupted code holds; that code's unlock after the handler
 * returns is allowed, once. */
Test(lock, the_unlock_of_a_hold_a_fork_child_reset_is_allowed_once) {
  scvgc_lock(&heap_like);           /* the interrupted code */
  scvgc_lock_reset(&heap_like);     /* the child handler */
  scvgc_lock_dbg_fork_child();
  scvgc_lock(&central_like);        /* the handler allocates: nothing is held any more */
  scvgc_unlock(&central_like);
  scvgc_unlock(&heap_like);         /* the interrupted code goes on */
  cr_assert_eq(scvgc_lock_dbg_depth(), 0);
}

Test(lock, a_second_unlock_of_a_reset_hold_aborts, .signal = SIGILL) {
  scvgc_lock(&heap_like);
  scvgc_lock_reset(&heap_like);
  scvgc_unlock(&heap_like);
  scvgc_unlock(&heap_like);
}
