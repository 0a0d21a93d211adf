/* scvgc.h — the public API of libscvgc, for programs that want to drive the collector.
 * Unmodified programs never need it. Both functions are exported by libscvgc.so, so a
 * program that is not linked against it can find them with dlsym(RTLD_DEFAULT, ...).
 * Under SCVGC_MODE=off both do nothing (scvgc_leak_check returns 0).
 */
#ifndef SCVGC_H
#define SCVGC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Run a full collection now: stop the world, mark from every root, find what is unreachable
 * (and in SCVGC_MODE=collect, reclaim it). */
void scvgc_collect(void);

/* Run a collection and write the leak report to the configured destinations now
 * (SCVGC_REPORT, SCVGC_JSON). Returns the number of leaked objects, direct and indirect,
 * not counting suppressed ones. */
size_t scvgc_leak_check(void);

#ifdef __cplusplus
}
#endif

#endif
