/* engine.h — the fuzz engine (engine.c), shared by the libFuzzer target and the driver. */
#ifndef SCVGC_FUZZ_ENGINE_H
#define SCVGC_FUZZ_ENGINE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  unsigned long ops;              /* operations run */
  unsigned long requested_cycles; /* collections the inputs asked for */
  unsigned long cycles;           /* collections that ran, periodic ones included */
  unsigned long handoffs;         /* requests handed to helper threads */
} scvgc_fuzz_totals_t;

/* Once, before any input: the mode from SCVGC_MODE (default collect, with SCVGC_GOGC=10),
 * the collector's threads, the helper threads. */
void scvgc_fuzz_init(void);
/* Run one input; aborts with a message on stderr when a check fails. */
void scvgc_fuzz_one(const uint8_t *data, size_t size);
const char *scvgc_fuzz_mode(void);
void scvgc_fuzz_totals(scvgc_fuzz_totals_t *t);

#endif
