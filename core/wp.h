/* wp.h — written-page tracking of the heap's mappings (wp.c), for concurrent marking (gc.c). */
#ifndef SCVGC_WP_H
#define SCVGC_WP_H

#include "internal.h"

/* The page heap made (add) or is about to unmap or move (remove) an anonymous mapping of
 * heap memory: an arena mapping or a huge block. Heap lock held. */
void scvgc_wp_add(uintptr_t base, size_t len) SCVGC_HIDDEN;
void scvgc_wp_remove(uintptr_t base, size_t len) SCVGC_HIDDEN;
/* Protect every page of the tracked mappings (opening the descriptor at the first call,
 * W1): from now on a write is recorded. false: tracking is not available (W4). */
bool scvgc_wp_reset(void) SCVGC_HIDDEN;
/* fn over the runs of OS pages written since the last reset or scan; those pages are
 * protected again when reprotect (fn runs with no lock of wp.c held, W7). Returns the number
 * of pages, -1 on failure (W4). */
long scvgc_wp_written(scvgc_range_fn fn, void *arg, bool reprotect) SCVGC_HIDDEN;
/* Lift the protection of every page (the cycle is over): no fault between cycles. */
void scvgc_wp_release(void) SCVGC_HIDDEN;
/* Why tracking is unavailable for good (W4), or NULL. */
const char *scvgc_wp_unavailable(void) SCVGC_HIDDEN;
bool scvgc_wp_failed(void) SCVGC_HIDDEN;
/* Tests: make the descriptor's next open fail (on), or allow a new try (off). */
void scvgc_wp_test_fail(bool on) SCVGC_HIDDEN;
void scvgc_wp_fork_child(void) SCVGC_HIDDEN; /* W5 */

#endif
