/* os.c — the core's only contact with the OS: mappings, time, environment, locks' futex.
 *
 * Owns: nothing but the counter of metadata bytes (scvgc_gc_sys).
 * Locks: none. Callers: every thread; safe with the world stopped and in a fork child
 * (mmap, madvise, clock_gettime and futex are system calls that neither allocate nor lock).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "lock.h"
#include "mark.h"

_Atomic size_t scvgc_gc_sys;

void *scvgc_sys_map(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* A mapping of n bytes aligned to align (a power of two >= the OS page): map n + align,
 * trim both ends. Tried first at the hint, so consecutive arenas tend to be adjacent and
 * free spans can coalesce across them. */
void *scvgc_sys_map_aligned(size_t n, size_t align) {
  static _Atomic uintptr_t hint;
  uintptr_t h = atomic_load_explicit(&hint, memory_order_relaxed);
  if (h) {
    void *p = mmap((void *)h, n, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != MAP_FAILED) {
      if ((uintptr_t)p == h) {
        atomic_store_explicit(&hint, h + n, memory_order_relaxed);
        return p;
      }
      munmap(p, n); /* an old kernel ignored NOREPLACE and placed it elsewhere */
    }
  }
  if (n + align < n) return NULL;
  char *raw = scvgc_sys_map(n + align);
  if (!raw) return NULL;
  uintptr_t start = ((uintptr_t)raw + align - 1) & ~(align - 1);
  if (start > (uintptr_t)raw) munmap(raw, start - (uintptr_t)raw);
  uintptr_t end = (uintptr_t)raw + n + align;
  if (end > start + n) munmap((void *)(start + n), end - (start + n));
  atomic_store_explicit(&hint, start + n, memory_order_relaxed);
  return (void *)start;
}

void scvgc_sys_unmap(void *p, size_t n) { munmap(p, n); }

void *scvgc_sys_map_meta(size_t n) {
  void *p = scvgc_sys_map(n);
  if (p) {
    atomic_fetch_add_explicit(&scvgc_gc_sys, n, memory_order_relaxed);
    scvgc_own_mapping((uintptr_t)p, n);
  }
  return p;
}

void scvgc_sys_unmap_meta(void *p, size_t n) {
  scvgc_own_unmapping((uintptr_t)p, n);
  munmap(p, n);
  atomic_fetch_sub_explicit(&scvgc_gc_sys, n, memory_order_relaxed);
}

void scvgc_sys_release(void *p, size_t n) { madvise(p, n, MADV_DONTNEED); }

uint64_t scvgc_nanotime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The clock hook: the unit tests move time by hand to age spans (test/unit/scavenge.c). */
static _Atomic uint64_t fake_clock;

uint64_t scvgc_clock(void) {
  uint64_t f = atomic_load_explicit(&fake_clock, memory_order_relaxed);
  return f ? f : scvgc_nanotime();
}

void scvgc_clock_set_fake(uint64_t ns) { atomic_store(&fake_clock, ns); }

/* getenv without libc: glibc's getenv does not allocate either, but this one is also
 * safe before libc's own initialisation has finished. */
extern char **environ;
const char *scvgc_getenv(const char *name) {
  size_t len = strlen(name);
  if (!environ) return NULL;
  for (char **e = environ; *e; e++)
    if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') return *e + len + 1;
  return NULL;
}

/* ---- futex lock slow paths ---- */
static long futex(_Atomic uint32_t *w, int op, uint32_t val) {
  return syscall(SYS_futex, w, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

void scvgc_lock_slow(scvgc_lock_t *l) {
  for (int i = 0; i < 100; i++) {
    uint32_t c = 0;
    if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_weak_explicit(&l->v, &c, 1, memory_order_acquire,
                                              memory_order_relaxed))
      return;
    __builtin_ia32_pause();
  }
  while (atomic_exchange_explicit(&l->v, 2, memory_order_acquire) != 0) futex(&l->v, FUTEX_WAIT, 2);
}

void scvgc_unlock_wake(scvgc_lock_t *l) { futex(&l->v, FUTEX_WAKE, 1); }

/* The i-th wait for another thread to finish a few instructions (lock.h): spin, then yield,
 * then sleep 50 us so that a waiter of higher priority cannot starve the thread it waits
 * for. Raw system calls: no cancellation point, no errno change. */
void scvgc_backoff(unsigned i) {
  if (i < 16) {
    __builtin_ia32_pause();
  } else if (i < 1024) {
    syscall(SYS_sched_yield);
  } else {
    struct timespec ts = {0, 50000};
    int e = errno;
    syscall(SYS_nanosleep, &ts, NULL);
    errno = e;
  }
}
