/* scvgc.h — the public API of libscvgc, for programs that want to drive the collector or
 * annotate their allocations. Unmodified programs never need it.
 *
 * Every function is exported by libscvgc.so. A program run under LD_PRELOAD does not link
 * against the library, so there are two ways to call them:
 *   - declare them (the default) and run the program only under the library: a call binds
 *     to the preloaded definition (a program run without it fails to start: an undefined
 *     symbol), or link it with -lscvgc;
 *   - #define SCVGC_OPTIONAL before including this header: each function becomes a static
 *     inline wrapper that looks the real one up once with dlsym(RTLD_DEFAULT, ...) and
 *     does nothing (returning 0) when the library is not in the process. This is the
 *     pattern to use in a program that must also run without the library.
 * Under SCVGC_MODE=off, or when the program turned the checks off (its compiled-in
 * defaults say mode=off or detect_leaks=0, or __lsan_is_turned_off() returns nonzero), every
 * function does nothing and returns 0.
 *
 * Compiled-in defaults, as LeakSanitizer's (docs/env.md): a program may define
 *     const char *__scvgc_default_options(void);      (SCVGC_OPTIONS syntax: "mode=collect:gogc=50")
 *     const char *__scvgc_default_suppressions(void); (lines of a suppressions file)
 * and LeakSanitizer's __lsan_default_options, __lsan_default_suppressions and
 * __lsan_is_turned_off are honoured too. The library finds them with dlsym at start-up:
 * an executable must export them (link with -rdynamic, or
 * -Wl,--export-dynamic-symbol=__scvgc_default_options); a shared library of the program
 * exports them as it is. The environment wins over them.
 */
#ifndef SCVGC_H
#define SCVGC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Counts of one check, as valgrind's VALGRIND_COUNT_LEAKS / VALGRIND_COUNT_LEAK_BLOCKS give
 * them (memcheck's "definitely lost" is direct, "indirectly lost" indirect). */
typedef struct {
  size_t direct_objects, direct_bytes;         /* nothing points to them */
  size_t indirect_objects, indirect_bytes;     /* only leaked objects point to them */
  size_t suppressed_objects, suppressed_bytes; /* hidden by a suppression */
} scvgc_leak_counts_t;

#ifndef SCVGC_OPTIONAL

/* Run a full collection now: stop the world, mark from every root, find what is unreachable
 * (and in SCVGC_MODE=collect, reclaim it). valgrind: none; Go: runtime.GC(). */
void scvgc_collect(void);

/* Run a collection and write the leak report to the configured destinations now
 * (SCVGC_REPORT, SCVGC_JSON). Returns the number of leaked objects, direct and indirect,
 * not counting suppressed ones. LSan: __lsan_do_recoverable_leak_check();
 * valgrind: VALGRIND_DO_LEAK_CHECK. */
size_t scvgc_leak_check(void);

/* Run a collection and fill *counts (may be NULL) without writing any report. Returns the
 * number of leaked objects, as scvgc_leak_check. valgrind: VALGRIND_DO_LEAK_CHECK then
 * VALGRIND_COUNT_LEAKS / VALGRIND_COUNT_LEAK_BLOCKS (memcheck's count-leaks). */
size_t scvgc_leak_counts(scvgc_leak_counts_t *counts);

/* Never report the live heap object p points into (any byte of it), nor what it reaches:
 * it is a root of every check, and in collect mode is never reclaimed, until it is freed.
 * Returns 1, or 0 when p is not inside a live object of this heap.
 * LSan: __lsan_ignore_object(p). */
int scvgc_ignore_object(const void *p);

/* Between scvgc_disable() and the matching scvgc_enable(), the calling thread's allocations
 * are ignored as by scvgc_ignore_object. Per thread, nestable.
 * LSan: __lsan_disable() / __lsan_enable() (and the C++ __lsan::ScopedDisabler). */
void scvgc_disable(void);
void scvgc_enable(void);

/* Treat [p, p + n) as a root: pointers stored there keep objects alive. For memory the
 * collector does not read by itself: a shared mapping (MAP_SHARED), a read-only one, memory
 * handed to a device or to another process. The part unmapped at a check is skipped.
 * Unregister with the same bounds. Returns 1, or 0 (the table of 1024 regions is full, or
 * no such region). LSan: __lsan_register_root_region / __lsan_unregister_root_region. */
int scvgc_register_root_region(const void *p, size_t n);
int scvgc_unregister_root_region(const void *p, size_t n);

/* Never read [p, p + n) as a root: a cache of stale pointers, a buffer of random bytes that
 * looks like pointers. In collect mode an object only such memory points to is reclaimed.
 * Unregister with the same bounds. valgrind: none (memcheck reads every mapping);
 * bdwgc: GC_exclude_static_roots. */
int scvgc_register_excluded_region(const void *p, size_t n);
int scvgc_unregister_excluded_region(const void *p, size_t n);

#else /* SCVGC_OPTIONAL: each call looks the library up once, a no-op without it */

#include <dlfcn.h>

#define SCVGC__FN(ret, name, params, args)                                        \
  static inline ret name params {                                                 \
    static ret(*fn) params;                                                       \
    static int looked;                                                            \
    if (!__atomic_load_n(&looked, __ATOMIC_ACQUIRE)) {                            \
      __atomic_store_n(&fn, (ret(*) params)dlsym(RTLD_DEFAULT, #name), __ATOMIC_RELAXED); \
      __atomic_store_n(&looked, 1, __ATOMIC_RELEASE);                             \
    }                                                                             \
    ret(*f) params = __atomic_load_n(&fn, __ATOMIC_RELAXED);                      \
    return f ? f args : (ret)0;                                                   \
  }
#define SCVGC__VOID(name)                                                         \
  static inline void name(void) {                                                 \
    static void (*fn)(void);                                                      \
    static int looked;                                                            \
    if (!__atomic_load_n(&looked, __ATOMIC_ACQUIRE)) {                            \
      __atomic_store_n(&fn, (void (*)(void))dlsym(RTLD_DEFAULT, #name), __ATOMIC_RELAXED); \
      __atomic_store_n(&looked, 1, __ATOMIC_RELEASE);                             \
    }                                                                             \
    void (*f)(void) = __atomic_load_n(&fn, __ATOMIC_RELAXED);                     \
    if (f) f();                                                                   \
  }
/* scvgc_leak_counts zeroes *counts when the library is not there */
SCVGC__VOID(scvgc_collect)
SCVGC__VOID(scvgc_disable)
SCVGC__VOID(scvgc_enable)
SCVGC__FN(size_t, scvgc_leak_check, (void), ())
static inline size_t scvgc_leak_counts(scvgc_leak_counts_t *c) {
  static size_t (*fn)(scvgc_leak_counts_t *);
  static int looked;
  if (!__atomic_load_n(&looked, __ATOMIC_ACQUIRE)) {
    __atomic_store_n(&fn, (size_t(*)(scvgc_leak_counts_t *))dlsym(RTLD_DEFAULT, "scvgc_leak_counts"),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&looked, 1, __ATOMIC_RELEASE);
  }
  size_t (*f)(scvgc_leak_counts_t *) = __atomic_load_n(&fn, __ATOMIC_RELAXED);
  if (f) return f(c);
  if (c) *c = (scvgc_leak_counts_t){0, 0, 0, 0, 0, 0};
  return 0;
}
SCVGC__FN(int, scvgc_ignore_object, (const void *p), (p))
SCVGC__FN(int, scvgc_register_root_region, (const void *p, size_t n), (p, n))
SCVGC__FN(int, scvgc_unregister_root_region, (const void *p, size_t n), (p, n))
SCVGC__FN(int, scvgc_register_excluded_region, (const void *p, size_t n), (p, n))
SCVGC__FN(int, scvgc_unregister_excluded_region, (const void *p, size_t n), (p, n))
#undef SCVGC__FN
#undef SCVGC__VOID

#endif /* SCVGC_OPTIONAL */

#ifdef __cplusplus
}
#endif

#endif
