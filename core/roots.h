/* roots.h — what roots.c tells the rest of the core beyond the scan itself (mark.h declares
 * the scan): the size of the root set, for pacing (gc.c), and the maps cache's counters.
 */
#ifndef SCVGC_ROOTS_H
#define SCVGC_ROOTS_H

#include "internal.h"

/* Bytes of root memory the last complete scan read (registers and TCBs aside): the
 * stacks, data and bss, other writable mappings and root regions, counted by page runs
 * actually read (untouched pages and the file's own pages are not). Pacing counts it as
 * Go's pacer counts stacks and globals (gc.c goal_of). 0 before the first scan. */
size_t scvgc_roots_scanned_bytes(void) SCVGC_HIDDEN;

/* Tests: how the writable mappings are listed — PROCMAP_QUERY where the kernel has it (0),
 * or the text of /proc/self/maps always (-1) — and the writable private mappings as each way
 * lists them, (start, end, executable) each: their number, or -1 when that way failed. */
void scvgc_roots_test_maps(int how) SCVGC_HIDDEN;
int scvgc_roots_test_writable(bool query, uintptr_t (*out)[3], int max) SCVGC_HIDDEN;

#endif
