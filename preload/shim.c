/* shim.c — the interposed malloc API of libscvgc.so. Thin: argument rules of each entry
 * point, foreign pointers, start-up, fork. Everything else is the core's.
 *
 * Exported (the only default-visibility symbols of the library; test/integration/exports.sh
 * fails on any other): the glibc malloc family listed in SPEC "Behaviour users rely on".
 * Foreign pointers — memory from glibc's own malloc (an RTLD_DEEPBIND library, the loader
 * before us) — are recognised by the arena map and handed to glibc's __libc_* functions.
 * Start-up: the core initialises itself inside the first malloc without allocating; the
 * constructor below then does what may allocate (the thread-exit key, fork handlers).
 * Callers: any program thread.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "../core/alloc_fast.h"
#include "../core/gc.h"
#include "../core/sweep.h"
#include "../core/report.h"
#include "../core/stack.h"
#include "../include/scvgc.h"

#define EXPORT __attribute__((visibility("default")))

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_realloc(void *, size_t);

static size_t (*libc_usable_size)(void *);

EXPORT void *malloc(size_t n) { return scvgc_malloc_inline(n); }

EXPORT void free(void *p) {
  if (unlikely(!scvgc_free_inline(p)) && p) __libc_free(p);
  /* the free is done and no lock is held: the scavenger's start point (core/scavenge.c) */
  if (unlikely(atomic_load_explicit(&scvgc_scavenge_restart, memory_order_relaxed)))
    scvgc_scavenge_restart_now();
}

EXPORT void *calloc(size_t n, size_t m) { return scvgc_calloc(n, m); }

EXPORT void *realloc(void *p, size_t n) {
  if (p && !scvgc_owns(p)) return __libc_realloc(p, n);
  return scvgc_realloc(p, n);
}

EXPORT void *reallocarray(void *p, size_t n, size_t m) {
  size_t t;
  if (__builtin_mul_overflow(n, m, &t)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(p, t);
}

static int pow2(size_t a) { return a && !(a & (a - 1)); }

/* glibc: a non-power-of-two alignment is rounded up to one. */
EXPORT void *memalign(size_t align, size_t n) {
  if (align > ((size_t)1 << 62)) {
    errno = EINVAL;
    return NULL;
  }
  while (!pow2(align)) align = align ? align + (align & -align) : 1;
  return scvgc_memalign(align, n);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  if (!pow2(align) || align % sizeof(void *)) return EINVAL;
  int saved = errno;
  void *p = scvgc_memalign(align, n);
  if (!p) return ENOMEM;
  errno = saved;
  *out = p;
  return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t n) {
  if (!pow2(align)) {
    errno = EINVAL;
    return NULL;
  }
  return scvgc_memalign(align, n);
}

EXPORT void *valloc(size_t n) { return scvgc_memalign((size_t)sysconf(_SC_PAGESIZE), n); }

EXPORT void *pvalloc(size_t n) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  if (n > SIZE_MAX - pg) {
    errno = ENOMEM;
    return NULL;
  }
  return scvgc_memalign(pg, n ? (n + pg - 1) & ~(pg - 1) : pg);
}

EXPORT size_t malloc_usable_size(void *p) {
  if (!p) return 0;
  if (scvgc_owns(p)) return scvgc_usable_size(p);
  if (libc_usable_size) return libc_usable_size(p);
  size_t sz = ((size_t *)p)[-1]; /* glibc chunk header: size | flags */
  return (sz & ~(size_t)7) - ((sz & 2) ? 16 : 8);
}

EXPORT void free_sized(void *p, size_t n) {
  (void)n;
  free(p);
}

EXPORT void free_aligned_sized(void *p, size_t align, size_t n) {
  (void)align;
  (void)n;
  free(p);
}

/* Releases every free page now, whatever its age: free spans, and the free OS pages of
 * spans no thread owns (a thread's own spans keep theirs). 1 when something was released. */
EXPORT int malloc_trim(size_t pad) {
  (void)pad;
  scvgc_init();
  return scvgc_scavenge_pass(scvgc_clock(), true, NULL) > 0;
}

EXPORT struct mallinfo2 mallinfo2(void) {
  scvgc_stats_t st;
  struct mallinfo2 mi;
  scvgc_init();
  scvgc_stats_read(&st);
  memset(&mi, 0, sizeof mi);
  mi.arena = st.sys_bytes;                                  /* address space of the heap */
  mi.ordblks = st.live_objects;                             /* objects in use */
  mi.uordblks = st.inuse_bytes;                             /* bytes of in-use spans */
  mi.fordblks = st.idle_bytes;                              /* free, not released */
  mi.hblkhd = st.gc_sys_bytes;                              /* metadata mappings */
  mi.keepcost = st.released_bytes;                          /* releasable: released already */
  return mi;
}

EXPORT struct mallinfo mallinfo(void) {
  struct mallinfo2 m2 = mallinfo2();
  struct mallinfo mi;
  memset(&mi, 0, sizeof mi);
  mi.arena = (int)m2.arena;
  mi.ordblks = (int)m2.ordblks;
  mi.uordblks = (int)m2.uordblks;
  mi.fordblks = (int)m2.fordblks;
  mi.hblkhd = (int)m2.hblkhd;
  mi.keepcost = (int)m2.keepcost;
  return mi;
}

EXPORT void malloc_stats(void) {
  scvgc_stats_t st;
  scvgc_init();
  scvgc_stats_read(&st);
  scvgc_message("heap: sys %zu, in use %zu, idle %zu, released %zu, GC metadata %zu bytes",
                st.sys_bytes, st.inuse_bytes, st.idle_bytes, st.released_bytes,
                st.gc_sys_bytes);
  scvgc_message("objects: %zu live, %zu allocated, %zu freed", st.live_objects, st.nmalloc,
                st.nfree);
}

/* Every parameter is accepted and has no effect: the heap has no tunables of glibc's. */
EXPORT int mallopt(int param, int value) {
  (void)param;
  (void)value;
  return 1;
}

/* ---- dl hooks ------------------------------------------------------------------------- */

static int (*libc_dlclose)(void *);

/* After a library goes, its code addresses may hold other code: the stack walker forgets
 * the unwind rules it cached (roots need nothing: they are read from /proc/self/maps at
 * each cycle, so dlopen'd and dlclose'd data are always current). */
EXPORT int dlclose(void *handle) {
  if (!libc_dlclose) libc_dlclose = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
  int r = libc_dlclose ? libc_dlclose(handle) : -1;
  scvgc_stack_modules_changed();
  return r;
}

/* ---- the public API (include/scvgc.h) ------------------------------------------------ */

EXPORT void scvgc_collect(void) {
  scvgc_init();
  scvgc_gc_cycle(SCVGC_GC_REQUEST);
}

EXPORT size_t scvgc_leak_check(void) {
  scvgc_init();
  if (!scvgc_gc_cycle(SCVGC_GC_REQUEST) && !scvgc_gcstats.cycles) return 0;
  scvgc_report_t r;
  scvgc_report_write(&r);
  return r.reported_objects;
}

/* ---- start-up and exit ------------------------------------------------------------------- */

__attribute__((constructor(101))) static void scvgc_start(void) {
  scvgc_init();
  scvgc_keep_stderr();
  pthread_atfork(scvgc_fork_prepare, scvgc_fork_parent, scvgc_fork_child);
  libc_usable_size = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
  libc_dlclose = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
  /* No thread here: the markers and the sweeper start with the cycles that need them, the
   * scavenger when there is something to release (core/gc.c T1, core/scavenge.c). */
  scvgc_gc_start();
  scvgc_gc_want_sweeper();
  scvgc_scavenge_start();
}

/* The exit check: a destructor of the library, so it runs after the program's atexit
 * handlers and destructors (and those of the libraries loaded after it), from whichever
 * thread called exit(). A program that ends by _exit or a fatal signal gets no report. */
__attribute__((destructor(101))) static void scvgc_exit(void) {
  if (!scvgc_tracking || !scvgc_gc_ready()) return;
  scvgc_gc_cycle(SCVGC_GC_EXIT);
  scvgc_timeline_sample(SCVGC_TL_EXIT);
  scvgc_report_t r;
  scvgc_report_write(&r);
  if (r.reported_objects && scvgc_opt.exitcode) {
    fflush(NULL); /* stdio is flushed after the destructors: do it before leaving */
    _exit(scvgc_opt.exitcode);
  }
}
