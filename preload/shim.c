/* shim.c — the interposed malloc API of libscvgc.so. Thin: argument rules of each entry
 * point, foreign pointers, start-up, fork. Everything else is the core's.
 *
 * Exported (the only default-visibility symbols of the library; test/integration/exports.sh
 * fails on any other): the glibc malloc family listed in SPEC "Behaviour users rely on",
 * malloc_info, and glibc's own names for it (__libc_malloc, __libc_free, ...: a program or
 * library that calls glibc's allocator by name reaches this heap, as under jemalloc, mimalloc
 * and tcmalloc, so a block of one family freed through the other works).
 * dlclose and sigaltstack, passed through. scvgc_collect and scvgc_leak_check here; the rest
 * of include/scvgc.h is core/api.c's.
 * Foreign pointers — memory from glibc's own malloc (an RTLD_DEEPBIND library, the loader
 * before us) — are recognised by the arena map and handed to glibc's functions, found with
 * dlsym(RTLD_NEXT) (the names alone would bind to ours).
 * Cancellation: nothing here is a cancellation point; what writes (malloc_stats, malloc_info,
 * the bad-free diagnostics of diag.c) disables cancellation around its output.
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
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/single_threaded.h>
#include <unistd.h>

#include "../core/alloc_fast.h"
#include "../core/gc.h"
#include "../core/sweep.h"
#include "../core/report.h"
#include "../core/stack.h"
#include "../include/scvgc.h"

#define EXPORT __attribute__((visibility("default")))

/* glibc's own allocator, for foreign pointers: resolved by the constructor, or at the first
 * foreign pointer that comes before it (dlsym allocates nothing when it succeeds). */
static size_t (*libc_usable_size)(void *);
static void (*libc_free)(void *);
static void *(*libc_realloc)(void *, size_t);

static void resolve_libc(void) {
  if (!libc_free) libc_free = (void (*)(void *))dlsym(RTLD_NEXT, "__libc_free");
  if (!libc_realloc) libc_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "__libc_realloc");
  if (!libc_usable_size)
    libc_usable_size = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
}

EXPORT void *malloc(size_t n) { return scvgc_malloc_inline(n); }

/* errno is kept: the core's paths save it where a system call may change it, glibc's free
 * keeps it itself. */
EXPORT void free(void *p) {
  if (unlikely(!scvgc_free_inline(p)) && p) {
    if (unlikely(!libc_free)) resolve_libc();
    if (libc_free) libc_free(p);
  }
  /* the scavenger's start point at the end of a free is in the core's slow paths
   * (scvgc_free_event, scvgc_free_slow): only they make free pages */
}

EXPORT void *calloc(size_t n, size_t m) { return scvgc_calloc(n, m); }

EXPORT void *realloc(void *p, size_t n) {
  if (p && !scvgc_owns(p)) {
    if (unlikely(!libc_realloc)) resolve_libc();
    if (libc_realloc) return libc_realloc(p, n);
    errno = ENOMEM;
    return NULL;
  }
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

/* glibc: a non-power-of-two alignment is rounded up to one; above 2^63 there is none
 * (EINVAL); any alignment up to 2^63 is valid, and one the heap cannot give fails with
 * ENOMEM (scvgc_memalign). */
EXPORT void *memalign(size_t align, size_t n) {
  if (align > ((size_t)1 << 63)) {
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

/* The housekeeping calls below take core locks, and some write (trace lines, the report) or
 * run a collection (which reads /proc/self/maps): none is a cancellation point — a thread
 * unwound inside a collection would leave the world stopped — and each counts as inside the
 * allocator for a fork from a signal handler (alloc.c F1). */
static int housekeeping_enter(void) {
  int oldcancel;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &oldcancel);
  scvgc_alloc_enter();
  return oldcancel;
}

static void housekeeping_leave(int oldcancel) {
  scvgc_alloc_leave();
  pthread_setcancelstate(oldcancel, NULL);
}

/* Releases every free page now, whatever its age: free spans, and the free OS pages of
 * spans no thread owns (a thread's own spans keep theirs). 1 when something was released. */
EXPORT int malloc_trim(size_t pad) {
  (void)pad;
  scvgc_init();
  int c = housekeeping_enter();
  int r = scvgc_scavenge_pass(scvgc_clock(), true, NULL) > 0;
  housekeeping_leave(c);
  return r;
}

EXPORT struct mallinfo2 mallinfo2(void) {
  scvgc_stats_t st;
  struct mallinfo2 mi;
  scvgc_init();
  int c = housekeeping_enter();
  scvgc_stats_read(&st);
  housekeeping_leave(c);
  memset(&mi, 0, sizeof mi);
  mi.arena = st.sys_bytes;                                  /* address space of the heap */
  mi.ordblks = st.live_objects;                             /* objects in use */
  mi.uordblks = st.inuse_bytes;                             /* bytes of in-use spans */
  mi.fordblks = st.idle_bytes;                              /* free, not released */
  mi.hblkhd = st.gc_sys_bytes;                              /* metadata mappings */
  mi.keepcost = st.released_bytes;                          /* releasable: released already */
  return mi;
}

static struct mallinfo mallinfo_v1(void) {
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

EXPORT struct mallinfo mallinfo(void) { return mallinfo_v1(); }

/* Not a cancellation point (glibc's is not either): write() is one. */
EXPORT void malloc_stats(void) {
  scvgc_stats_t st;
  scvgc_init();
  int c = housekeeping_enter();
  scvgc_stats_read(&st);
  scvgc_message("heap: sys %zu, in use %zu, idle %zu, released %zu, GC metadata %zu bytes",
                st.sys_bytes, st.inuse_bytes, st.idle_bytes, st.released_bytes,
                st.gc_sys_bytes);
  scvgc_message("objects: %zu live, %zu allocated, %zu freed", st.live_objects, st.nmalloc,
                st.nfree);
  housekeeping_leave(c);
}

/* glibc's XML shape (one heap, the totals, system and address-space sizes), with this heap's
 * figures. options must be 0: otherwise EINVAL is the return value, as glibc's. The
 * statistics are read before the stream is touched: stdio may allocate its buffer through
 * malloc. */
EXPORT int malloc_info(int options, FILE *fp) {
  if (options != 0) return EINVAL;
  scvgc_stats_t st;
  int oldcancel;
  scvgc_init();
  int c = housekeeping_enter();
  scvgc_stats_read(&st);
  housekeeping_leave(c);
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &oldcancel); /* fprintf may write() */
  fprintf(fp,
          "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n</sizes>\n"
          "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
          "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
          "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
          "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n"
          "</heap>\n<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
          "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
          "<total type=\"mmap\" count=\"0\" size=\"0\"/>\n"
          "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
          "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n"
          "</malloc>\n",
          st.live_objects, st.idle_bytes, st.consumed_bytes, st.consumed_bytes, st.sys_bytes,
          st.sys_bytes, st.live_objects, st.idle_bytes, st.consumed_bytes, st.consumed_bytes,
          st.sys_bytes, st.sys_bytes);
  pthread_setcancelstate(oldcancel, NULL);
  return 0;
}

/* Every parameter is accepted and has no effect: the heap has no tunables of glibc's. */
EXPORT int mallopt(int param, int value) {
  (void)param;
  (void)value;
  return 1;
}

/* ---- glibc's names for the family --------------------------------------------------------
 * Bound by name (dlsym, or a library linked against these symbols): they reach this heap,
 * like the plain names. glibc exports no __libc_posix_memalign, __libc_aligned_alloc or
 * __libc_malloc_usable_size. */
EXPORT void *__libc_malloc(size_t n) { return malloc(n); }
EXPORT void __libc_free(void *p) { free(p); }
EXPORT void *__libc_calloc(size_t n, size_t m) { return calloc(n, m); }
EXPORT void *__libc_realloc(void *p, size_t n) { return realloc(p, n); }
EXPORT void *__libc_memalign(size_t align, size_t n) { return memalign(align, n); }
EXPORT void *__libc_valloc(size_t n) { return valloc(n); }
EXPORT void *__libc_pvalloc(size_t n) { return pvalloc(n); }
EXPORT struct mallinfo __libc_mallinfo(void) { return mallinfo_v1(); }
EXPORT int __libc_mallopt(int param, int value) { return mallopt(param, value); }

/* ---- fork ------------------------------------------------------------------------------
 * glibc's fork runs the prepare handlers, then takes its stdio list lock (_IO_list_lock),
 * then its own malloc locks. Ours would run first: a thread holding a FILE lock and waiting
 * in malloc (getline, a stream's first buffer) for a core lock the forking thread holds,
 * while a third thread holds the list lock in fflush(NULL) and waits for that FILE's lock,
 * closes a cycle. So the prepare handler takes the list lock (exported, recursive: glibc's
 * fork takes it again) before the core's locks: glibc's order. A process that never had a
 * second thread skips it, as glibc does; glibc may then take it itself, and resets it in its
 * child when it did: the child handler resets it too when ours was taken (idempotent). */
extern void _IO_list_lock(void);
extern void _IO_list_unlock(void);
extern void _IO_list_resetlock(void);

static bool fork_took_io; /* forks are serialised by glibc's atfork lock and by the list lock */

static void fork_prepare(void) {
  bool io = !__libc_single_threaded;
  if (io) _IO_list_lock();
  scvgc_fork_prepare();
  fork_took_io = io;
}

static void fork_parent(void) {
  bool io = fork_took_io;
  scvgc_fork_parent();
  if (io) _IO_list_unlock();
}

static void fork_child(void) {
  bool io = fork_took_io;
  fork_took_io = false;
  scvgc_fork_child();
  if (io) _IO_list_resetlock();
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

/* ---- sigaltstack ---------------------------------------------------------------------- */

/* The kernel holds the only pointer to a thread's alternate signal stack: a malloc'd one
 * would look unreachable (reported, or reclaimed and then overwritten by the next signal
 * frame). A copy of the current ss_sp lives in this thread's static TLS, a root (SPEC root
 * class 3): the stack, and the signal frames on it, stay alive while installed. A stack
 * set with the raw system call is not seen (docs/limitations.md). */
static __thread void *volatile altstack_sp; /* never read: only kept (volatile) */

EXPORT int sigaltstack(const stack_t *restrict ss, stack_t *restrict old) {
  long r = syscall(SYS_sigaltstack, ss, old);
  if (r == 0 && ss) altstack_sp = (ss->ss_flags & SS_DISABLE) ? NULL : ss->ss_sp;
  return (int)r;
}

/* ---- the public API (include/scvgc.h) ------------------------------------------------ */

EXPORT void scvgc_collect(void) {
  scvgc_init();
  if (scvgc_api_turned_off()) return;
  int c = housekeeping_enter();
  scvgc_gc_cycle(SCVGC_GC_COLLECT);
  housekeeping_leave(c);
}

EXPORT size_t scvgc_leak_check(void) {
  scvgc_init();
  if (scvgc_api_turned_off()) return 0;
  int c = housekeeping_enter();
  size_t n = 0;
  if (scvgc_gc_cycle(SCVGC_GC_REQUEST) || scvgc_gcstats.cycles) {
    scvgc_report_t r;
    scvgc_report_write(&r);
    n = r.reported_objects;
  }
  housekeeping_leave(c);
  return n;
}

/* ---- start-up and exit ------------------------------------------------------------------- */

__attribute__((constructor(101))) static void scvgc_start(void) {
  scvgc_init();
  scvgc_keep_stderr();
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  resolve_libc();
  libc_dlclose = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
  scvgc_api_start(); /* the program's compiled-in defaults, before the collector starts */
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
  if (scvgc_api_turned_off() || !scvgc_gc_ready()) return;
  scvgc_gc_cycle(SCVGC_GC_EXIT);
  scvgc_timeline_sample(SCVGC_TL_EXIT);
  scvgc_report_t r;
  scvgc_report_write(&r);
  if (r.reported_objects && scvgc_opt.exitcode) {
    fflush(NULL); /* stdio is flushed after the destructors: do it before leaving */
    _exit(scvgc_opt.exitcode);
  }
}
