/* api.c — the annotation API of include/scvgc.h, and the program's compiled-in hooks.
 *
 * Owns: the exported scvgc_* functions besides scvgc_collect and scvgc_leak_check (which
 * preload/shim.c keeps), each one the counterpart of a LeakSanitizer interface function; the
 * per-thread scvgc_disable() depth; the look-up of the hooks a program may define
 * (__scvgc_default_options, __scvgc_default_suppressions, and LeakSanitizer's
 * __lsan_default_options, __lsan_default_suppressions, __lsan_is_turned_off), found with
 * dlsym(RTLD_DEFAULT) by the constructor and never defined here (a definition would be
 * exported, and every program would "have" them).
 * A1 Every exported function is a no-op in mode off (scvgc_tracking clear) and when the
 *    program turned the checks off (detect_leaks=0, mode=off in its compiled-in defaults).
 * A2 An ignored object (scvgc_ignore_object, or allocated while the thread's disable depth
 *    is above zero) is a root of every cycle like the library's own objects (objmeta.stack
 *    SCVGC_STACK_IGNORED, gc.c grey_lib): never reported, never reclaimed, and what it
 *    reaches is neither, as LeakSanitizer does with its ignored chunks. free() ends it.
 * Locks: none of its own: the root-region table (roots.c) is under own.c's own_lock, the
 *   excluded regions are entered in the library's own-mapping registry (own.c), whose lock
 *   that is too. Nothing here is a cancellation point (SAY). Callers: program threads; the constructor (scvgc_api_start). Never with the world
 *   stopped, never in a fork child's restricted window.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>

#include "alloc_fast.h"
#include "gc.h"
#include "mark.h"
#include "report.h"
#include "../include/scvgc.h"

#define EXPORT __attribute__((visibility("default")))

__thread int scvgc_disabled __attribute__((tls_model("initial-exec")));

static const char *(*prog_supp[2])(void); /* __scvgc_default_suppressions, __lsan_... */
static int (*lsan_is_turned_off)(void);

/* A diagnostic of a misused call: not a cancellation point (write is one). */
#define SAY(...)                                                \
  do {                                                          \
    int oldcancel_;                                             \
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &oldcancel_); \
    scvgc_message(__VA_ARGS__);                                 \
    pthread_setcancelstate(oldcancel_, NULL);                   \
  } while (0)

static void *lookup(const char *name) {
  scvgc_lib_enter(); /* dlerror's buffer of a failed look-up is the library's */
  void *f = dlsym(RTLD_DEFAULT, name);
  scvgc_lib_leave();
  return f;
}

/* The constructor, before the collector starts: the program's compiled-in defaults (options.c
 * O1) and the suppression hooks, for the report. */
void scvgc_api_start(void) {
  if (!scvgc_tracking) return; /* mode off: no check to configure, nothing to say */
  const char *(*opts)(void) = (const char *(*)(void))lookup("__lsan_default_options");
  if (opts) scvgc_options_program_defaults(opts(), "__lsan_default_options", true);
  opts = (const char *(*)(void))lookup("__scvgc_default_options");
  if (opts) scvgc_options_program_defaults(opts(), "__scvgc_default_options", false);
  prog_supp[0] = (const char *(*)(void))lookup("__scvgc_default_suppressions");
  prog_supp[1] = (const char *(*)(void))lookup("__lsan_default_suppressions");
  lsan_is_turned_off = (int (*)(void))lookup("__lsan_is_turned_off");
}

const char *scvgc_program_suppressions(int which) {
  return which >= 0 && which < 2 && prog_supp[which] ? prog_supp[which]() : NULL;
}

/* Asked at the exit check and each API check, as LeakSanitizer asks at its check. */
bool scvgc_api_turned_off(void) {
  return !scvgc_tracking || scvgc_turned_off || (lsan_is_turned_off && lsan_is_turned_off());
}

/* The annotations work unless the mode is off or the program's defaults turned the checks
 * off (A1); __lsan_is_turned_off() is asked at the checks only (it may change its answer). */
static inline bool on(void) { return scvgc_tracking && !scvgc_turned_off; }

EXPORT int scvgc_ignore_object(const void *p) {
  scvgc_span_t *s;
  uint32_t i;
  if (!on() || !p || !scvgc_find_object((uintptr_t)p, &s, &i)) return 0;
  if (scvgc_span_lean(s)) /* special.c: a root from the next cycle on (P3) */
    return scvgc_special_set(s, scvgc_object_base(s, i), SCVGC_STACK_IGNORED, s->elemsize);
  /* a plain 32-bit store: a cycle reads it with this thread stopped, before or after */
  __atomic_store_n(&s->meta[i].stack, SCVGC_STACK_IGNORED, __ATOMIC_RELAXED);
  return 1;
}

EXPORT void scvgc_disable(void) {
  if (on()) scvgc_disabled++;
}

EXPORT void scvgc_enable(void) {
  if (!on()) return;
  if (scvgc_disabled > 0) scvgc_disabled--;
  else SAY("scvgc_enable() without a matching scvgc_disable(); ignored");
}

EXPORT int scvgc_register_root_region(const void *p, size_t n) {
  if (!on() || !n) return 0;
  if (scvgc_roots_user_add((uintptr_t)p, n, true)) return 1;
  SAY("scvgc_register_root_region(%p, %lu): too many root regions; not added", p,
                (unsigned long)n);
  return 0;
}

EXPORT int scvgc_unregister_root_region(const void *p, size_t n) {
  if (!on() || !n) return 0;
  if (scvgc_roots_user_add((uintptr_t)p, n, false)) return 1;
  SAY("scvgc_unregister_root_region(%p, %lu): no such region registered; ignored", p,
                (unsigned long)n);
  return 0;
}

/* An excluded region is entered as a stretch of the library's own (never a root, roots.c);
 * unregistering removes it from there. */
EXPORT int scvgc_register_excluded_region(const void *p, size_t n) {
  if (!on() || !n) return 0;
  scvgc_own_mapping((uintptr_t)p, n);
  return 1;
}

EXPORT int scvgc_unregister_excluded_region(const void *p, size_t n) {
  if (!on() || !n) return 0;
  scvgc_own_unmapping((uintptr_t)p, n);
  return 1;
}

/* As scvgc_leak_check (preload/shim.c), writing nothing: not a cancellation point, and
 * inside the allocator for a fork from a signal handler (alloc.c F1). */
EXPORT size_t scvgc_leak_counts(scvgc_leak_counts_t *c) {
  if (c) *c = (scvgc_leak_counts_t){0, 0, 0, 0, 0, 0};
  if (scvgc_api_turned_off()) return 0;
  scvgc_init();
  int oldcancel;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &oldcancel);
  scvgc_alloc_enter();
  scvgc_report_t r;
  bool ok = scvgc_gc_cycle(SCVGC_GC_REQUEST) || scvgc_gcstats.cycles;
  if (ok) scvgc_report_count(&r);
  scvgc_alloc_leave();
  pthread_setcancelstate(oldcancel, NULL);
  if (!ok) return 0;
  if (c)
    *c = (scvgc_leak_counts_t){r.direct_objects, r.direct_bytes, r.indirect_objects,
                               r.indirect_bytes, r.suppressed_objects, r.suppressed_bytes};
  return r.reported_objects;
}
