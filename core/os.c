/* os.c — the core's only contact with the OS: mappings, time, environment, locks' futex,
 * and which pages of a range were ever touched (the page tables).
 *
 * Owns: nothing but the counter of metadata bytes (scvgc_gc_sys, which own.c's
 *   scvgc_sys_map_meta keeps: the metadata mappings are registered there as the library's).
 * Locks: none. Callers: every thread; safe with the world stopped and in a fork child
 * (mmap, madvise, clock_gettime, futex, open and ioctl are system calls that neither
 * allocate nor lock).
 * Mappings: the core's metadata is mapped MAP_NORESERVE (the library's own, never charged
 *   against the overcommit limit); user memory (arenas, huge blocks) is not, so the
 *   kernel's overcommit policy (vm.overcommit_memory) refuses what it cannot back and
 *   malloc fails with ENOMEM as under glibc. Address space reserved only to be trimmed
 *   (alignment) is PROT_NONE, which no policy charges.
 * errno: none of these functions changes it when they succeed (a malloc that succeeds
 *   leaves errno as it was, and a failed NOREPLACE try or a futex EAGAIN is no failure).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/ioctl.h>
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
  int e = errno;
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  errno = e;
  return p == MAP_FAILED ? NULL : p;
}

/* Address space only: PROT_NONE, charged by no overcommit policy. */
static void *reserve(void *at, size_t n, int flags) {
  void *p = mmap(at, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | flags, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* Make [p, p + n) of a reservation user memory: read-write, charged (no MAP_NORESERVE). */
static bool commit(void *p, size_t n) {
  return mmap(p, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED;
}

/* User memory: n bytes (a multiple of the OS page) at an address aligned to align (a power
 * of two >= the OS page), inside a reservation of resv >= n bytes (a multiple of align)
 * whose part past n stays PROT_NONE. Tried first at the hint, so consecutive arenas tend to
 * be adjacent and free spans can coalesce across them. NULL when the address space or the
 * overcommit policy refuses. */
static void *map_user(size_t n, size_t resv, size_t align, bool use_hint) {
  static _Atomic uintptr_t hint;
  uintptr_t h = use_hint ? atomic_load_explicit(&hint, memory_order_relaxed) : 0;
  if (resv < n || resv + align < resv) return NULL;
  char *start = NULL;
  if (h) {
    void *p = reserve((void *)h, resv, MAP_FIXED_NOREPLACE);
    if (p && (uintptr_t)p != h) munmap(p, resv); /* an old kernel placed it elsewhere */
    else start = p;
  }
  if (!start) {
    char *raw = reserve(NULL, resv + align, 0);
    if (!raw) return NULL;
    start = (char *)(((uintptr_t)raw + align - 1) & ~(align - 1));
    if (start > raw) munmap(raw, (size_t)(start - raw));
    char *end = raw + resv + align;
    if (end > start + resv) munmap(start + resv, (size_t)(end - (start + resv)));
  }
  if (!commit(start, n)) {
    munmap(start, resv);
    return NULL;
  }
  if (use_hint) atomic_store_explicit(&hint, (uintptr_t)start + resv, memory_order_relaxed);
  return start;
}

void *scvgc_sys_reserve(size_t resv, size_t align) {
  int e = errno;
  void *p = NULL;
  char *raw = resv + align < resv ? NULL : reserve(NULL, resv + align, 0);
  if (raw) {
    char *start = (char *)(((uintptr_t)raw + align - 1) & ~(align - 1)), *end = raw + resv + align;
    if (start > raw) munmap(raw, (size_t)(start - raw));
    if (end > start + resv) munmap(start + resv, (size_t)(end - (start + resv)));
    p = start;
  }
  errno = e;
  return p;
}

bool scvgc_sys_move(void *from, size_t n, void *to) {
  int e = errno;
  bool ok = mremap(from, n, n, MREMAP_MAYMOVE | MREMAP_FIXED, to) != MAP_FAILED;
  errno = e;
  return ok;
}

void *scvgc_sys_map_aligned(size_t n, size_t align) {
  int e = errno;
  void *p = map_user(n, n, align, true);
  errno = e;
  return p;
}

void *scvgc_sys_map_huge(size_t n, size_t resv, size_t align) {
  int e = errno;
  void *p = map_user(n, resv, align, false);
  errno = e;
  return p;
}

void scvgc_sys_decommit(void *p, size_t n) {
  int e = errno;
  reserve(p, n, MAP_FIXED); /* frees the pages and the charge; on failure they simply stay */
  errno = e;
}

bool scvgc_sys_recommit(void *p, size_t n) {
  int e = errno;
  bool ok = commit(p, n);
  if (!ok) reserve(p, n, MAP_FIXED); /* keep the hole PROT_NONE: nobody else gets it */
  errno = e;
  return ok;
}

/* ---- touched pages ------------------------------------------------------------------------
 * A page of anonymous memory that is neither present nor swapped out was never written (or
 * was released): it reads zero and holds no pointer. The page tables say which pages those
 * are: PAGEMAP_SCAN (Linux 6.7) in one call per run of pages; else the 64-bit entries of
 * /proc/self/pagemap (bit 63 present, bit 62 swapped; readable by the process itself). Not
 * mincore: it calls a swapped-out page absent, and that page may hold the only pointer to
 * an object. */

#include "pagemap.h"

static _Atomic int pagemap_scan_works = 1; /* cleared for good when the kernel lacks it */

void scvgc_sys_pagemap_scan(bool on) { atomic_store(&pagemap_scan_works, on); }

/* PAGEMAP_SCAN over [lo, hi): false when the ioctl is not there (nothing called yet). */
static bool touched_scan(int fd, uintptr_t lo, uintptr_t hi, scvgc_range_fn fn, void *arg) {
  struct page_region r[64];
  uintptr_t at = lo;
  while (at < hi) {
    struct pm_scan_arg a = {
        .size = sizeof a, .start = at, .end = hi, .vec = (uintptr_t)r, .vec_len = 64,
        .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
        .return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_PFNZERO};
    long n = ioctl(fd, PAGEMAP_SCAN, &a);
    if (n < 0) {
      if (at != lo) { fn(arg, at, hi); return true; } /* half way: read the rest */
      atomic_store_explicit(&pagemap_scan_works, 0, memory_order_relaxed);
      return false;
    }
    for (long i = 0; i < n; i++) /* a page of the shared zero page holds zeros only */
      if (r[i].categories & (PAGE_IS_PRESENT | PAGE_IS_SWAPPED) &&
          !(r[i].categories & PAGE_IS_PFNZERO))
        fn(arg, r[i].start, r[i].end);
    if (a.walk_end <= at) { fn(arg, at, hi); return true; } /* no progress: be safe */
    at = a.walk_end;
  }
  return true;
}

/* The same from the pagemap entries, a buffer of them at a time. */
static void touched_read(int fd, uintptr_t lo, uintptr_t hi, scvgc_range_fn fn, void *arg) {
  uint64_t e[512];
  uintptr_t run = 0; /* start of the current run of touched pages, 0: none */
  for (uintptr_t at = lo; at < hi;) {
    size_t want = (hi - at) >> SCVGC_OSPAGE_SHIFT;
    if (want > 512) want = 512;
    ssize_t got = pread(fd, e, want * 8, (off_t)((at >> SCVGC_OSPAGE_SHIFT) * 8));
    if (got < 8) { /* unreadable: the rest may hold anything */
      fn(arg, run ? run : at, hi);
      return;
    }
    size_t k = (size_t)got / 8;
    for (size_t i = 0; i < k; i++, at += SCVGC_OSPAGE_SIZE) {
      bool t = (e[i] >> 62) & 3;
      if (t && !run) run = at;
      if (!t && run) { fn(arg, run, at); run = 0; }
    }
  }
  if (run) fn(arg, run, hi);
}

typedef struct { scvgc_range_fn fn; void *arg; uintptr_t lo, hi; } clip_t;

/* The runs found are whole OS pages: the caller sees them cut to its [lo, hi). */
static void clip_fn(void *c, uintptr_t a, uintptr_t b) {
  clip_t *k = c;
  if (a < k->lo) a = k->lo;
  if (b > k->hi) b = k->hi;
  if (a < b) k->fn(k->arg, a, b);
}

int scvgc_open_proc_self(const char *name) {
  char path[64];
  size_t k = scvgc_snprintf(path, sizeof path, "/proc/thread-self/%s", name);
  if (k >= sizeof path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0 && errno == ENOENT) { /* Linux before 3.17: no thread-self */
    scvgc_snprintf(path, sizeof path, "/proc/self/%s", name);
    fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  }
  return (int)fd;
}

int scvgc_proc_status(const char *const *keys, int64_t *vals, int n) {
  for (int i = 0; i < n; i++) vals[i] = -1;
  int fd = scvgc_open_proc_self("status");
  if (fd < 0) return 0;
  char buf[4096];
  ssize_t len = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (len <= 0) return 0;
  buf[len] = 0;
  int found = 0;
  for (char *line = buf; *line;) {
    char *end = strchr(line, '\n');
    for (int i = 0; i < n; i++) {
      size_t kl = strlen(keys[i]);
      if (vals[i] >= 0 || strncmp(line, keys[i], kl) || line[kl] != ':') continue;
      const char *p = line + kl + 1;
      while (*p == ' ' || *p == '\t') p++;
      int64_t v = 0;
      while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
      vals[i] = v;
      found++;
    }
    if (!end) break;
    line = end + 1;
  }
  return found;
}

void scvgc_sys_touched(uintptr_t lo, uintptr_t hi, scvgc_range_fn fn, void *arg) {
  if (hi <= lo) return;
  int e = errno;
  uintptr_t alo = lo & ~(SCVGC_OSPAGE_SIZE - 1);
  uintptr_t ahi = (hi + SCVGC_OSPAGE_SIZE - 1) & ~(SCVGC_OSPAGE_SIZE - 1);
  int fd = scvgc_open_proc_self("pagemap");
  if (fd < 0) { /* no /proc: every page may hold pointers */
    fn(arg, lo, hi);
    errno = e;
    return;
  }
  clip_t k = {fn, arg, lo, hi};
  if (!(atomic_load_explicit(&pagemap_scan_works, memory_order_relaxed) &&
        touched_scan(fd, alo, ahi, clip_fn, &k)))
    touched_read(fd, alo, ahi, clip_fn, &k);
  close(fd);
  errno = e;
}

void scvgc_sys_unmap(void *p, size_t n) { munmap(p, n); }

void scvgc_sys_release(void *p, size_t n) {
  int e = errno;
  madvise(p, n, MADV_DONTNEED);
  errno = e;
}

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
  int e = errno; /* FUTEX_WAIT fails with EAGAIN when the word changed: no error to a caller */
  while (atomic_exchange_explicit(&l->v, 2, memory_order_acquire) != 0) futex(&l->v, FUTEX_WAIT, 2);
  errno = e;
}

void scvgc_unlock_wake(scvgc_lock_t *l) {
  int e = errno;
  futex(&l->v, FUTEX_WAKE, 1);
  errno = e;
}

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
