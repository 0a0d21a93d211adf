/* wp.c — written-page tracking of the heap's own mappings for concurrent marking (gc.c C1-C4):
 * userfaultfd write-protect in asynchronous mode, read back with PAGEMAP_SCAN (Linux 6.7+).
 *
 * Owns: the table of tracked ranges (every arena mapping and every huge block: anonymous
 *   mappings the library made itself) and the userfaultfd descriptor.
 *   W1 the descriptor is opened lazily, by the first concurrent cycle (never in mode leak or
 *      off unless concurrency is asked for, never before a cycle), O_CLOEXEC, with
 *      UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED: a write to a protected page is
 *      resolved in the kernel (no signal, no thread, no event to read) and only clears the
 *      page's protection. (WP_UNPOPULATED is what lets PAGEMAP_SCAN protect, with
 *      PM_SCAN_CHECK_WPASYNC; its pte markers are never made, W3.)
 *   W2 every range of the table is registered (UFFDIO_REGISTER_MODE_WP) while the descriptor
 *      is open: at the open for those made before, at scvgc_wp_add for later ones.
 *   W3 Only populated pages are ever protected: every scan (PAGEMAP_SCAN, PM_SCAN_WP_MATCHING |
 *      PM_SCAN_CHECK_WPASYNC) takes the pages present or swapped out, not the shared zero
 *      page, and unprotected (PAGE_IS_WRITTEN). A hole (never touched, or zapped by the
 *      scavenger's madvise) is left alone: a write there makes a new page, unprotected,
 *      which the next scan reports; protecting holes would put a pte marker in each, which
 *      the page tables then report as swapped out, and a sparse 64 GiB block would look
 *      touched all over to the marker (os.c scvgc_sys_touched). A page of the zero page was
 *      only read. scvgc_wp_reset protects every written page; scvgc_wp_written reports the
 *      pages written since and protects them again in the same walk, so no write between
 *      two scans is lost.
 *      scvgc_wp_release lifts the protection at the end of a cycle: between cycles the
 *      program's first write to each page would otherwise fault (in the kernel, about a
 *      microsecond each: GCBench spent 0.34 s of system time so, against 0.03 s).
 *   W4 any failure (no userfaultfd: ENOSYS, EPERM from vm.unprivileged_userfaultfd=0 even
 *      with UFFD_USER_MODE_ONLY, seccomp; no WP_ASYNC; no PAGEMAP_SCAN) closes the descriptor
 *      for good: the cycles mark with the world stopped (gc.c), said once in the trace.
 *   W6 each cycle checks first that the descriptor is still the one it opened (fstat: device
 *      and inode): a program that closed it (closefrom) gets the fallback, and an ioctl never
 *      reaches a file of the program's that took its number.
 *   W5 a fork child inherits the descriptor but none of the registrations (no
 *      UFFD_FEATURE_EVENT_FORK): scvgc_wp_fork_child closes it, the child's first concurrent
 *      cycle opens its own.
 *   Pages of a range that is unmapped (a huge block freed) or moved (mremap drops the
 *   registration) leave the table first (scvgc_wp_remove); the pageheap never frees or
 *   moves a block while a concurrent cycle marks (pageheap.c H10).
 * Locks: wp_lock (rank WP, the innermost of internal.h's ranks: nothing is taken under it;
 *   the table grows with it dropped, scvgc_wp_written's callback runs with it dropped, W7):
 *   taken under the heap lock (scvgc_wp_add, scvgc_wp_remove) and by the collector (gc_lock
 *   held, every lock to OWN in the pauses).
 * Callers: the page heap (any thread, heap lock held), the collector. System calls only: safe
 *   with the world stopped; a descriptor opened for each PAGEMAP_SCAN (/proc/self/pagemap) is
 *   closed before the call returns.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "lock.h"
#include "wp.h"

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#include "pagemap.h"

typedef struct { uintptr_t base, len; } wp_range_t;

static scvgc_lock_t wp_lock = SCVGC_LOCK_RANKED(SCVGC_RANK_WP);
static wp_range_t *ranges; /* mapped (metadata); grows by doubling */
static size_t nranges, cap;
static int uffd = -1;
static dev_t uffd_dev; /* W6: what the descriptor was when opened */
static ino_t uffd_ino;
static int state;           /* 0 not tried, 1 open, -1 failed for good (W4) */
static const char *why;     /* W4: the reason, for the trace */
static int test_fail;       /* tests: the next open fails */
static uint64_t removals;   /* W7: ranges removed so far (the table reorders) */

static bool wp_range(uintptr_t base, size_t len, bool on) {
  struct uffdio_writeprotect w = {.range = {base, len}, .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0};
  return ioctl(uffd, UFFDIO_WRITEPROTECT, &w) == 0;
}

static bool register_range(uintptr_t base, size_t len) {
  struct uffdio_register r = {.range = {base, len}, .mode = UFFDIO_REGISTER_MODE_WP};
  return ioctl(uffd, UFFDIO_REGISTER, &r) == 0;
}

static void fail(const char *reason) {
  if (uffd >= 0) syscall(SYS_close, uffd);
  uffd = -1;
  state = -1;
  why = reason;
}

/* W1, W2: wp_lock held. */
static bool open_uffd(void) {
  if (test_fail) {
    fail("userfaultfd refused (test hook)");
    return false;
  }
  int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) /* vm.unprivileged_userfaultfd=0: user-mode faults only is enough for WP */
    fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  if (fd < 0) {
    fail("no userfaultfd");
    return false;
  }
  uffd = fd;
  struct stat st;
  if (fstat(uffd, &st) == 0) uffd_dev = st.st_dev, uffd_ino = st.st_ino;
  struct uffdio_api api = {.api = UFFD_API,
                           .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
  if (ioctl(uffd, UFFDIO_API, &api) != 0) {
    fail("userfaultfd without asynchronous write-protect");
    return false;
  }
  for (size_t i = 0; i < nranges; i++)
    if (!register_range(ranges[i].base, ranges[i].len)) {
      fail("userfaultfd write-protect refused on the heap");
      return false;
    }
  state = 1;
  return true;
}

void scvgc_wp_add(uintptr_t base, size_t len) {
  scvgc_lock(&wp_lock);
  while (nranges == cap) { /* grow with wp_lock dropped: mapping takes OWN, above WP */
    size_t ocap = cap, ncap = cap ? cap * 2 : 256;
    scvgc_unlock(&wp_lock);
    wp_range_t *n = scvgc_sys_map_meta(ncap * sizeof *n);
    scvgc_lock(&wp_lock);
    if (!n) { /* untracked memory: no concurrent cycle can be trusted from now on */
      fail("out of memory for the written-page table");
      scvgc_unlock(&wp_lock);
      return;
    }
    if (cap != ocap) { /* another thread grew it meanwhile */
      scvgc_unlock(&wp_lock);
      scvgc_sys_unmap_meta(n, ncap * sizeof *n);
      scvgc_lock(&wp_lock);
      continue;
    }
    wp_range_t *old = ranges;
    if (old) __builtin_memcpy(n, old, nranges * sizeof *n);
    ranges = n;
    cap = ncap;
    if (old) { /* unmapped with wp_lock dropped too; nothing reads it: ranges moved */
      scvgc_unlock(&wp_lock);
      scvgc_sys_unmap_meta(old, ocap * sizeof *n);
      scvgc_lock(&wp_lock);
    }
  }
  ranges[nranges++] = (wp_range_t){base, len};
  if (state == 1 && !register_range(base, len)) fail("userfaultfd write-protect refused on the heap");
  scvgc_unlock(&wp_lock);
}

void scvgc_wp_remove(uintptr_t base, size_t len) {
  scvgc_lock(&wp_lock);
  for (size_t i = 0; i < nranges; i++)
    if (ranges[i].base == base && ranges[i].len == len) {
      ranges[i] = ranges[--nranges];
      removals++;
      break;
    }
  scvgc_unlock(&wp_lock);
}

/* One range's written pages: fn for each run; reprotect them when asked. -1: failed. */
static long scan_range(int pm, uintptr_t lo, uintptr_t hi, bool reprotect, scvgc_range_fn fn,
                       void *arg) {
  struct page_region r[64];
  long pages = 0;
  uintptr_t at = lo;
  while (at < hi) {
    struct pm_scan_arg a = {.size = sizeof a,
                            .flags = reprotect ? PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC : 0,
                            .start = at, .end = hi, .vec = (uintptr_t)r, .vec_len = 64,
                            .category_inverted = PAGE_IS_PFNZERO,
                            .category_mask = PAGE_IS_WRITTEN | PAGE_IS_PFNZERO,
                            .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
                            .return_mask = PAGE_IS_WRITTEN};
    long n = ioctl(pm, PAGEMAP_SCAN, &a);
    if (n < 0) return -1;
    for (long i = 0; i < n; i++) {
      pages += (long)((r[i].end - r[i].start) >> SCVGC_OSPAGE_SHIFT);
      if (fn) fn(arg, r[i].start, r[i].end);
    }
    if (a.walk_end <= at) return -1;
    at = a.walk_end;
  }
  return pages;
}

static long scan_all(bool reprotect, scvgc_range_fn fn, void *arg) {
  int pm = scvgc_open_proc_self("pagemap"); /* roots.c R3: the thread's view */
  if (pm < 0) {
    fail("/proc/self/pagemap cannot be opened");
    return -1;
  }
  long total = 0;
  for (size_t i = 0; i < nranges && total >= 0; i++) {
    long n = scan_range(pm, ranges[i].base, ranges[i].base + ranges[i].len, reprotect, fn, arg);
    if (n < 0) {
      fail("PAGEMAP_SCAN refused (Linux 6.7 or later wanted)");
      total = -1;
    } else {
      total += n;
    }
  }
  syscall(SYS_close, pm);
  return total;
}

/* W6: the program may have closed the descriptor (closefrom in a daemon), and its number
 * may name a file of the program's now: never an ioctl on that. */
static bool still_ours(void) {
  struct stat st;
  if (fstat(uffd, &st) == 0 && st.st_dev == uffd_dev && st.st_ino == uffd_ino) return true;
  uffd = -1; /* not ours to close */
  fail("the program closed the userfaultfd descriptor");
  return false;
}

bool scvgc_wp_reset(void) {
  scvgc_lock(&wp_lock);
  bool ok = (state == 1 && still_ours()) || (state == 0 && open_uffd());
  /* a scan that protects what was written since the last one: every page protected */
  if (ok) ok = scan_all(true, NULL, NULL) >= 0;
  scvgc_unlock(&wp_lock);
  return ok;
}

void scvgc_wp_release(void) {
  scvgc_lock(&wp_lock);
  for (size_t i = 0; state == 1 && i < nranges; i++)
    if (!wp_range(ranges[i].base, ranges[i].len, false)) fail("userfaultfd write-unprotect refused");
  scvgc_unlock(&wp_lock);
}

/* W7 fn (the marker's rescan, which pushes on workbufs: WB, and during C2 the heap lock for
 *    a new workbuf span) runs with wp_lock dropped: nothing is taken under it. A range at a
 *    time is read under the lock and scanned without it; ranges added meanwhile (new arenas)
 *    are appended and scanned in turn. A removal (a huge block unmapped or moved, which H10
 *    keeps out of a mark; only defensively) reorders the table: the walk starts again from
 *    the first range, which only reports again what was written since. */
long scvgc_wp_written(scvgc_range_fn fn, void *arg, bool reprotect) {
  scvgc_lock(&wp_lock);
  if (state != 1) {
    scvgc_unlock(&wp_lock);
    return -1;
  }
  int pm = scvgc_open_proc_self("pagemap");
  if (pm < 0) {
    fail("/proc/self/pagemap cannot be opened");
    scvgc_unlock(&wp_lock);
    return -1;
  }
  long total = 0;
  uint64_t seen = removals;
  for (size_t i = 0; i < nranges; i++) {
    wp_range_t r = ranges[i];
    scvgc_unlock(&wp_lock);
    long n = scan_range(pm, r.base, r.base + r.len, reprotect, fn, arg);
    scvgc_lock(&wp_lock);
    if (n < 0 || state != 1) {
      if (state == 1) fail("PAGEMAP_SCAN refused (Linux 6.7 or later wanted)");
      total = -1;
      break;
    }
    total += n;
    if (removals != seen) { /* the table was reordered: walk it again */
      seen = removals;
      i = (size_t)-1;
    }
  }
  syscall(SYS_close, pm);
  scvgc_unlock(&wp_lock);
  return total;
}

const char *scvgc_wp_unavailable(void) { return state == -1 ? why : NULL; }

bool scvgc_wp_failed(void) { return state == -1; }

void scvgc_wp_test_fail(bool on) {
  scvgc_lock(&wp_lock);
  test_fail = on;
  if (!on && state == -1) state = 0, why = NULL; /* try again at the next cycle */
  scvgc_unlock(&wp_lock);
}

void scvgc_wp_fork_child(void) {
  scvgc_lock_reset(&wp_lock);
  if (uffd >= 0) syscall(SYS_close, uffd); /* W5: the parent's registrations */
  uffd = -1;
  if (state == 1) state = 0;
}
