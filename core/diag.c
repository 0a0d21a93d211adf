/* diag.c — diagnostics for bad calls: one message, then the stack of the offending call.
 *
 * The stack comes from the library's own walker (unwind.c: no allocation, no lock, frames
 * inside the library skipped) and is symbolized like the leak report (symbolize.c: function,
 * file:line, module), the symbolizer being loaded at the first diagnostic. When another
 * thread has a symbolization session open (a report being written), or this very thread
 * has (a bad free inside the report), the frames are named by dladdr instead, without
 * waiting. Called by program threads only, outside every core lock; it may allocate (the
 * symbolizer does), after the bad call has been dealt with. Each diagnostic is one message
 * line plus up to 16 frame lines, each prefixed like every line the library writes
 * ("==PID== scvgc: "). Not a cancellation point (free and realloc must not be one):
 * cancellation is disabled while the lines are written.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <pthread.h>

#include "internal.h"
#include "stack.h"
#include "symbolize.h"
#include "unwind.h"

#define DIAG_FRAMES 16

/* The frame lines of pc: "#k 0xPC function (file:line) module", as the leak report's, one
 * per function inlined there too. Returns how many lines. */
static int print_frame(int k, uintptr_t pc, bool session) {
  scvgc_frame_t f[8];
  int nf = session ? scvgc_symbolize_frames(pc, f, 8) : 0;
  if (nf > 0 && f[nf - 1].module) {
    for (int i = 0; i < nf; i++) {
      char where[512] = "";
      if (f[i].file) scvgc_snprintf(where, sizeof where, " (%s:%d)", f[i].file, f[i].line);
      scvgc_message("   #%d %p %s%s %s", k + i, (void *)pc, f[i].function ? f[i].function : "??",
                    where, f[i].module);
    }
    return nf;
  }
  Dl_info di;
  if (dladdr((void *)(pc - 1), &di) && di.dli_fname) {
    if (di.dli_sname)
      scvgc_message("   #%d %p %s+0x%lx (%s)", k, (void *)pc, di.dli_sname,
                    (unsigned long)(pc - (uintptr_t)di.dli_saddr), di.dli_fname);
    else
      scvgc_message("   #%d %p (%s+0x%lx)", k, (void *)pc, di.dli_fname,
                    (unsigned long)(pc - (uintptr_t)di.dli_fbase));
  } else {
    scvgc_message("   #%d %p", k, (void *)pc);
  }
  return 1;
}

/* The stack of the call into the library: the walker skips the library's own frames.
 * symbolize false: names from dladdr only, nothing allocated (the heap may be corrupt). */
static void print_stack_sym(bool symbolize) {
  uintptr_t buf[DIAG_FRAMES];
  const uintptr_t *pcs = buf;
  uint32_t tag = 0;
  uint64_t hash;
  int n = scvgc_unwind(buf, DIAG_FRAMES, &tag, &hash);
  if (tag) { /* the same frames as this thread's previous walk: the depot has them */
    n = scvgc_stack_get(tag, &pcs);
    if (n > DIAG_FRAMES) n = DIAG_FRAMES;
  }
  if (n <= 0) {
    scvgc_message("   (no stack: the walker found no frame it could step through)");
    return;
  }
  bool session = symbolize && scvgc_symbolize_try_begin();
  for (int i = 0, k = 0; i < n; i++) k += print_frame(k, pcs[i], session);
  if (session) scvgc_symbolize_end();
}

static void print_stack(void) { print_stack_sym(true); }

void scvgc_bad_free(const char *what, const void *p, const char *why) {
  int oldcancel;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &oldcancel);
  scvgc_message("%s(%p): invalid pointer: %s; the call is ignored", what, p, why);
  print_stack();
  pthread_setcancelstate(oldcancel, NULL);
}

/* L2 (internal.h): a free object's link does not decode to a slot of its span. Something
 * wrote into the object after it was freed (or overran the object before it): go on and the
 * heap hands out memory the program or an attacker chose. Abort, as glibc does for its
 * "malloc(): unaligned tcache chunk detected". */
void scvgc_link_corrupt(const void *o, uintptr_t got) {
  scvgc_message("heap corruption: the free-list link in the free object at %p decodes to 0x%lx, "
                "which is not an object of its span: something wrote to that object after it "
                "was freed (a use after free) or past the end of the object before it; aborting",
                o, (unsigned long)got);
  /* no symbolizer: it allocates, from the heap that is corrupt */
  print_stack_sym(false);
  abort();
}
