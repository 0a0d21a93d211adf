/* diag.c — diagnostics for bad calls: one message, then the stack of the offending call.
 *
 * Stack walking uses libunwind's local unw_backtrace (no allocation: libunwind keeps its
 * own mmap'd pools) and dladdr for names. Called by program threads only, outside every
 * core lock. Each diagnostic is one message line plus up to 16 frame lines, each prefixed
 * like every line the library writes ("==PID== scvgc: "). Not a cancellation point (free and
 * realloc must not be one): cancellation is disabled while the lines are written.
 */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <stdlib.h>
#include <pthread.h>

#include "internal.h"

/* The stack of the call into the library: frames inside the library itself are skipped. */
static void print_stack(void) {
  void *pcs[40];
  int n = unw_backtrace(pcs, 40);
  Dl_info self;
  int i = 0;
  if (dladdr((void *)print_stack, &self))
    while (i < n && self.dli_fbase) {
      Dl_info di;
      if (!dladdr((char *)pcs[i] - 1, &di) || di.dli_fbase != self.dli_fbase) break;
      i++;
    }
  for (int k = 0; i < n && k < 16; i++, k++) {
    Dl_info di;
    uintptr_t pc = (uintptr_t)pcs[i];
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
  }
}

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
  print_stack();
  abort();
}
