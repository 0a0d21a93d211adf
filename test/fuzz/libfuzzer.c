/* libfuzzer.c — the libFuzzer target: each input is a sequence of heap operations for the
 * engine (engine.c). Built with clang -fsanitize=fuzzer against a core compiled with
 * -fsanitize=fuzzer-no-link (coverage of the core guides the search); see the Makefile's
 * fuzz targets and test/integration/fuzz.sh. The mode comes from SCVGC_MODE (collect when
 * unset). */
#include <stdio.h>
#include <stdlib.h>

#include "engine.h"

static void totals(void) {
  scvgc_fuzz_totals_t t;
  scvgc_fuzz_totals(&t);
  fprintf(stderr, "scvgc-fuzz: mode %s: %lu operations, %lu hand-offs, %lu collections (%lu requested)\n",
          scvgc_fuzz_mode(), t.ops, t.handoffs, t.cycles, t.requested_cycles);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  scvgc_fuzz_init();
  atexit(totals);
  return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  scvgc_fuzz_one(data, size);
  return 0;
}
