/* stack.h — allocation stacks: capture (stack.c, unwind.c) and the stack depot (stack.c).
 *
 * A stack id is a small dense integer, nonzero, naming one distinct stack for the life of the
 * process; objmeta.stack holds it. 0 means "no stack".
 */
#ifndef SCVGC_STACK_H
#define SCVGC_STACK_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define SCVGC_STACK_MAX_DEPTH 64 /* the largest SCVGC_STACK_DEPTH (options.c) */

/* The calling thread's stack: up to scvgc_opt.stack_depth return addresses, deduplicated
 * in the depot. The first is the return address into the caller of the library's entry
 * point (malloc, calloc, ...; for C++ new, that caller is operator new). 0 when the depth
 * is 0, when nothing could be captured, when the depot is out of memory or ids, or when the
 * calling thread is already inside a capture (a signal handler's malloc).
 * Never calls malloc itself (a thread's first capture may make pthread_setspecific calloc:
 * that malloc's own capture returns 0); takes only the depot's leaf locks when the stack is
 * new. Call it with no core lock held. Any thread; a fork child too. */
uint32_t scvgc_stack_capture(void) SCVGC_HIDDEN;

/* The frames of stack id: returns the depth and points *pcs at the return addresses
 * (valid for the life of the process). 0 (and *pcs NULL) for 0 or an id never returned.
 * Lock-free; safe with the world stopped and in a fork child. */
int scvgc_stack_get(uint32_t id, const uintptr_t **pcs) SCVGC_HIDDEN;

/* Depot of an explicit stack (tests, and callers that captured frames themselves): the id
 * of pcs[0..n), inserting it when new. 0 when n is 0 or out of memory/ids. */
uint32_t scvgc_stack_intern(const uintptr_t *pcs, int n) SCVGC_HIDDEN;

/* Code was mapped or unmapped: call after every dlclose (dlopen is harmless) so the walker
 * forgets the unwind rules it cached for addresses that may now hold other code. */
void scvgc_stack_modules_changed(void) SCVGC_HIDDEN;

typedef struct {
  size_t stacks;          /* distinct stacks in the depot */
  size_t depot_bytes;     /* mapped for the depot (tables and frames; in scvgc_gc_sys) */
  size_t index_slots;     /* slots of the depot's current index (doubles at half full) */
  size_t unwind_bytes;    /* mapped for the walker's rule cache (in scvgc_gc_sys) */
  uint64_t nested;        /* captures refused because the thread was already capturing */
  uint64_t truncated;     /* walks that stopped at a frame without usable unwind info */
  uint64_t rule_misses;   /* unwind rules decoded from .eh_frame */
} scvgc_stack_stats_t;
void scvgc_stack_stats(scvgc_stack_stats_t *st) SCVGC_HIDDEN;

/* The depot's checker (D1-D4 of stack.c; tests): aborts on a broken invariant. */
void scvgc_stack_check(void) SCVGC_HIDDEN;

/* The depot's mappings (for the root finder: they are the library's own, never scanned). */
void scvgc_stack_foreach_mapping(void (*fn)(void *base, size_t len, void *arg),
                                 void *arg) SCVGC_HIDDEN;

/* Test hook: scvgc_stack_capture called as if the thread were already inside one (as a signal
 * handler's malloc would be). */
uint32_t scvgc_stack_capture_nested(void) SCVGC_HIDDEN;

/* fork: take the depot's locks before fork, release them in the parent, reset in the child. */
void scvgc_stack_fork_prepare(void) SCVGC_HIDDEN;
void scvgc_stack_fork_parent(void) SCVGC_HIDDEN;
void scvgc_stack_fork_child(void) SCVGC_HIDDEN;

#endif
