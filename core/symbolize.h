/* symbolize.h — code address -> function, file:line, module, for the leak report (symbolize.c).
 *
 * Used only while a report or a bad-free diagnostic is written: the world running, no core
 * lock held. It allocates through the ordinary malloc. One session at a time (begin ... end).
 */
#ifndef SCVGC_SYMBOLIZE_H
#define SCVGC_SYMBOLIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

/* One frame of a report. Unknown values are NULL or 0 (the report prints null, never a
 * guess). The strings stay valid until scvgc_symbolize_end. */
typedef struct {
  uintptr_t pc;         /* the address asked about, as given */
  const char *function; /* demangled where the program has a C++ runtime to do it */
  const char *file;     /* source file, from the DWARF line table */
  int line;             /* 0: unknown */
  const char *module;   /* path of the executable or shared object */
  bool inlined;         /* a function inlined at this pc (scvgc_symbolize_frames) */
} scvgc_frame_t;

/* Open a session: read the process's module list now (later dlopens are not seen). The
 * first session loads libdw (symbolize.c). Waits for a session another thread has open. */
void scvgc_symbolize_begin(void) SCVGC_HIDDEN;
/* The same, or false at once when another session is open (the bad-free diagnostics: a
 * bad free inside the report writer's own session must not wait for itself). */
bool scvgc_symbolize_try_begin(void) SCVGC_HIDDEN;

/* Fill *out for pc, a return address (its line is the call's: pc - 1 is looked up). Returns
 * false, with every field but pc unknown, when no module holds pc or no session is open. */
bool scvgc_symbolize(uintptr_t pc, scvgc_frame_t *out) SCVGC_HIDDEN;

/* The frames at pc, the functions inlined there first (innermost first, each with the
 * location inside it) and the function that holds the code last (at the call site of the
 * outermost inlined one): at most max, at least 1 (max > 0). Without debug info, or without
 * inlining at pc, the one frame of scvgc_symbolize. */
int scvgc_symbolize_frames(uintptr_t pc, scvgc_frame_t *out, int max) SCVGC_HIDDEN;

/* Close the session: every string it handed out is freed. */
void scvgc_symbolize_end(void) SCVGC_HIDDEN;

/* The demangled form of a C++ symbol (valid until the end of the session), or name itself
 * when it is not one or no C++ runtime is loaded. */
const char *scvgc_symbolize_demangle(const char *name) SCVGC_HIDDEN;

/* Whether libdw has been loaded (the first session loads it; tests). */
bool scvgc_symbolize_libdw_loaded(void) SCVGC_HIDDEN;

#endif
