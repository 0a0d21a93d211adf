/* pending.h — TEMPORARY: the APIs of stack.c and symbolize.c, being written on the
 * `stack` branch; report.c has weak stand-ins until they are merged. */
#ifndef SCVGC_PENDING_H
#define SCVGC_PENDING_H
#include "internal.h"
typedef struct { uintptr_t pc; const char *function; const char *file; int line; const char *module; } scvgc_frame_t;
uint32_t scvgc_stack_capture(void) SCVGC_HIDDEN;
int scvgc_stack_get(uint32_t id, const uintptr_t **pcs) SCVGC_HIDDEN;
void scvgc_symbolize_begin(void) SCVGC_HIDDEN;
bool scvgc_symbolize(uintptr_t pc, scvgc_frame_t *out) SCVGC_HIDDEN;
void scvgc_symbolize_end(void) SCVGC_HIDDEN;
#endif
