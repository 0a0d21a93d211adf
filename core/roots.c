/* roots.c — what keeps an object alive (SPEC "roots"): finding and scanning the root set.
 *
 * Owns: the parser of /proc/self/maps and the choice of what in each mapping is read; the
 * list of exited threads' stack blocks; the program's root regions. What the library owns
 * itself (never roots) is own.c's registry.
 * The root classes and where each is found:
 *   1 registers        the stopped threads' saved registers, vector lanes too (stw.c)
 *   2 live stacks      every mapping is read, less the dead part of each thread's own stack:
 *                      [block start, sp - 128) when the sp is in the stack block glibc
 *                      recorded in the thread's descriptor (at its thread pointer, naming
 *                      its tid) ([stack] for the main thread; the collector
 *                      itself is cut where it entered the library, gc.c E1, with no red
 *                      zone). A thread on a coroutine or signal stack cuts nothing. The
 *                      current sigaltstack of each thread is kept through the shim's TLS
 *                      copy (class 3). The stack blocks glibc caches for exited threads are
 *                      dead below their descriptor ("the stacks of exited threads" below)
 *   3 TLS              static TLS and the TCB live at the top of each thread's stack mapping
 *                      (glibc), or, for the main thread, in a private mapping of the loader;
 *                      dynamic TLS blocks are heap objects found through the DTV
 *   4 data and bss     every writable private mapping of a file (and its anonymous bss):
 *                      the pages the program wrote (pagemap: private copies, swapped or not)
 *   5 other mappings   every other writable private mapping, write-only ones too:
 *                      interpreters' arenas, memory the loader took before malloc existed,
 *                      MAP_HUGETLB memory; touched pages only (PAGEMAP_SCAN; before Linux
 *                      6.7 mincore, or pagemap while the process has pages in swap)
 *   6 the heap         objects found alive are scanned by mark.c; the library-owned ones
 *                      (gc.h scvgc_in_lib) are greyed by gc.c before the roots
 *   7 root regions     memory the program registered (scvgc_register_root_region), read
 *                      whole where it is mapped readable
 * Never roots: the heap's arenas, the library's own mappings and data (own.c's registry; the
 * regions a program excluded with scvgc_register_excluded_region are entered there too),
 * the dead part of stacks, free slots (mark.c), device memory (told by pagemap or by the
 * file's type, never by its path).
 *
 * Invariant R1: every mapping the core makes for itself, except heap arenas, is in the
 *   registry while it exists (scvgc_sys_map_meta registers it).
 * Invariant R2: the scan never faults the program: a fault while reading a root (SIGSEGV,
 *   SIGBUS, caught on the collector's thread for the scan only) ends the scan, and the cycle
 *   frees nothing.
 * Invariant R3: a cycle that could not read /proc/self/maps whole frees nothing (below, at
 *   read_maps: what the read needs is held before the program can take it). The maps and
 *   pagemap are read through /proc/thread-self (scvgc_open_proc_self): /proc/self is the
 *   thread group leader's, empty once the main thread called pthread_exit; and an empty
 *   list is a failed read, never "no roots".
 * Invariant R7: only a thread's own stack block is cut: a descriptor without one (the main
 *   thread's: stackblock NULL, stackblock_size holding __libc_stack_end) cuts nothing.
 * Invariant R4: the pause does not grow with virtual size where the kernel has PAGEMAP_SCAN:
 *   untouched ranges are skipped by the kernel, arenas and own stretches found by lookups.
 * Invariant R5: writable and executable memory (a JIT's code) is read at every byte offset.
 * Invariant R6: the writable private mappings are listed afresh at every cycle, with the
 *   world stopped; no cache of them is trusted. A cache needs a change detector that cannot
 *   miss a change, and none is cheap: the library does not see mmap/munmap/mprotect/mremap
 *   (no exported hook, and programs issue them as raw system calls: Go, JITs), and every
 *   counter /proc offers (VmSize, VmData, the number of mappings, the file's size) stays the
 *   same when a mapping is unmapped and another of the same size mapped elsewhere — a
 *   pymalloc arena, say — so a stale cache would miss the new one, and an object only it
 *   points to would be freed. The listing is made cheap instead: PROCMAP_QUERY (Linux 6.11,
 *   read_maps_query) asks the kernel for the writable ones only, without paths; else the
 *   text of /proc/self/maps (~0.6-1 us per mapping). The trace-2 line "gc roots: maps read"
 *   gives its cost (docs/performance.md).
 *   What is read of the maps is counted (root_bytes): the touched pages of the roots, which
 *   pacing adds to the live heap (roots.h, gc.c goal_of).
 * Locks: own.c's own_lock (scvgc_own_lock; OWN in internal.h's lock ranks) for the exited
 *   threads and the root regions; the collector holds it for the whole cycle, for itself
 *   and its markers. Scanning runs with the world stopped and calls only system calls (and
 *   sigaction, sigsetjmp, getrlimit/setrlimit, stat: no allocation, no lock).
 * Callers: the collector (scan, with the world stopped); the constructor (scvgc_roots_init);
 *   scvgc_libthread_start (scvgc_roots_learn_tcb, outside malloc); exiting threads
 *   (scvgc_roots_thread_exit, from the cache's exit destructor: own_lock only).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gc.h"
#include "lock.h"
#include "mark.h"
#include "roots.h"
#include "own.h"
#include "stw.h"

#include "pagemap.h"

#define RED_ZONE 128
#define TCB_BYTES 2304 /* sizeof(struct pthread) in glibc 2.36: the marker threads' TCBs */

typedef struct { uintptr_t start, end; } range_t;

/* The start of the next heap arena after the one addr is in, below hi (hi if none): a load
 * per 64 MiB of address space, so a reservation of terabytes costs a fraction of a ms. */
static uintptr_t next_arena(uintptr_t addr, uintptr_t hi) {
  for (uintptr_t i = (addr >> SCVGC_ARENA_SHIFT) + 1; (i << SCVGC_ARENA_SHIFT) < hi; i++)
    if (scvgc_arena_l1[i]) return i << SCVGC_ARENA_SHIFT;
  return hi;
}



/* ---- /proc/self/maps ------------------------------------------------------------------ *
 * Invariant R3: a cycle that could not read the maps whole scans nothing and frees nothing
 *   (scvgc_roots_scan returns false, and the trace says why). What the read needs is held
 *   before the program can take it: the buffer is mapped at start-up (a program at its
 *   RLIMIT_AS later still has it); a descriptor cannot be held between calls (the guest
 *   rule), so when the program took every descriptor its soft RLIMIT_NOFILE allows, the
 *   limit is raised by two for the open and put back at once (the world is stopped: no
 *   program thread sees it). At the hard limit the cycle is incomplete. */

#define MAPS_START (1u << 20)
static char *maps_buf;
static size_t maps_cap;
static const char *why_not;  /* why the roots could not be read this cycle, NULL: they were */
static int why_errno;

static int fail(const char *why, int err) {
  why_not = why;
  why_errno = err;
  return -1;
}

/* open(2) of a file of /proc, also when every descriptor the soft limit allows is taken. */
static int open_proc(const char *name) { /* the calling thread's view (internal.h) */
  int fd = scvgc_open_proc_self(name);
  if (fd >= 0 || errno != EMFILE) return fd;
  struct rlimit rl, more;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
      rl.rlim_cur + 2 > rl.rlim_max) {
    errno = EMFILE;
    return -1;
  }
  more = rl;
  more.rlim_cur += 2;
  if (setrlimit(RLIMIT_NOFILE, &more) != 0) {
    errno = EMFILE;
    return -1;
  }
  fd = scvgc_open_proc_self(name);
  int e = errno;
  setrlimit(RLIMIT_NOFILE, &rl); /* lowering it below an open descriptor is allowed */
  errno = e;
  return fd;
}

/* Read the whole file with system calls only, into a buffer of our own mapping: its length,
 * or -1 (why_not says why) when it could not be read whole. */
static ssize_t read_maps(void) {
  for (;;) {
    if (!maps_buf) {
      maps_buf = scvgc_sys_map_meta(MAPS_START);
      if (!maps_buf) return fail("no memory for the buffer of /proc/self/maps", ENOMEM);
      maps_cap = MAPS_START;
    }
    int fd = open_proc("maps");
    if (fd < 0) return fail("/proc/self/maps could not be opened", errno);
    size_t n = 0;
    ssize_t r = 0;
    while (n < maps_cap && (r = read(fd, maps_buf + n, maps_cap - n)) > 0) n += (size_t)r;
    int e = errno;
    close(fd);
    if (r < 0) return fail("/proc/self/maps could not be read", e);
    if (n < maps_cap) {
      /* never an empty list: the library's own code and stack are mapped (a list read
       * through a view without the address space, as /proc/self's once the main thread
       * exited, would make every global look unreachable) */
      if (n == 0) return fail("/proc/self/maps listed no mapping", 0);
      if (maps_buf[n - 1] != '\n') return fail("/proc/self/maps ended in a line", 0);
      if (n > maps_cap / 2) { /* room for the maps to double before the buffer must grow */
        char *bigger = scvgc_sys_map_meta(maps_cap * 2);
        if (bigger) {
          memcpy(bigger, maps_buf, n);
          scvgc_sys_unmap_meta(maps_buf, maps_cap);
          maps_buf = bigger;
          maps_cap *= 2;
        }
      }
      return (ssize_t)n;
    }
    char *bigger = scvgc_sys_map_meta(maps_cap * 2); /* too small: twice the size, again */
    if (!bigger) return fail("no memory for the buffer of /proc/self/maps", ENOMEM);
    scvgc_sys_unmap_meta(maps_buf, maps_cap);
    maps_buf = bigger;
    maps_cap *= 2;
  }
}

/* ---- the writable mappings by PROCMAP_QUERY (Linux 6.11) ------------------------------ *
 * The text of /proc/self/maps costs the kernel a line per mapping, and a path (d_path) per
 * mapping of a file: ~0.6-1 us each, though a cycle wants only the writable private ones,
 * a third of them or less. The PROCMAP_QUERY ioctl on the same file hands them over one by
 * one, filtered by the kernel (PROCMAP_QUERY_VMA_WRITABLE), without a path unless asked:
 * 94 mappings, 26 writable: 204 us of text against 77 us of queries (R6). Its answers are
 * written into maps_buf as lines of the maps' own format, so one parser reads both:
 *   "LO-HI rwxp 0 0:0 INODE PATH", PATH only where the scan needs it:
 *   - the mapping holding the main thread's sp ([stack]: its dead part is cut);
 *   - every mapping at SCVGCTRACE=2 (the per-mapping lines name them);
 *   - else "" for an anonymous mapping (inode 0) and "/" for a file's: the scan needs to
 *     know a file mapping only to skip the pages that are still the file's, which
 *     PAGEMAP_SCAN tells by page (this way is taken only with pagemap open: without it a
 *     file's path decides whether it is a device, skip_device). A private /dev/zero or
 *     MAP_HUGETLB mapping (inode != 0) counts as a file here, harmlessly: its pages are
 *     anonymous, never PAGE_IS_FILE, so all of them are read.
 * Not for the root regions (scan_user_roots wants every readable mapping): with any
 * registered, the text is read. The world is stopped: no mapping of the program changes
 * between two queries (the collector's own are skipped by the scan whatever they are). */
struct procmap_query_k { /* linux/fs.h, Linux 6.11 */
  uint64_t size, query_flags, query_addr, vma_start, vma_end, vma_flags, vma_page_size,
      vma_offset, inode;
  uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
  uint64_t vma_name_addr, build_id_addr;
};
#define PROCMAP_QUERY_K _IOWR('f', 17, struct procmap_query_k)
#define PQ_VMA_WRITABLE 0x02
#define PQ_VMA_EXECUTABLE 0x04
#define PQ_VMA_SHARED 0x08
#define PQ_COVERING_OR_NEXT_VMA 0x10
static int pq_state; /* 0 untried, 1 works, -1 the kernel lacks it (the text for good) */
static int pq_test;  /* scvgc_roots_test_maps: 0 auto, -1 the text always */

static char *put_hex(char *o, uintptr_t v) {
  char d[16];
  int k = 0;
  do d[k++] = "0123456789abcdef"[v & 15]; while ((v >>= 4) && k < 16);
  while (k) *o++ = d[--k];
  return o;
}

/* Length of the lines written into maps_buf; -1 when the queries cannot stand for the text
 * this time (no ioctl, an error, no room): the caller reads the text. */
static ssize_t read_maps_query(uintptr_t main_sp, bool names) {
  if (pq_state < 0 || pq_test < 0 || !maps_buf) return -1;
  int fd = open_proc("maps");
  if (fd < 0) return -1;
  static char name[4096];
  size_t n = 0;
  uint64_t at = 0;
  ssize_t ret = -1;
  for (;;) {
    struct procmap_query_k q;
    memset(&q, 0, sizeof q);
    q.size = sizeof q;
    q.query_flags = PQ_COVERING_OR_NEXT_VMA | PQ_VMA_WRITABLE;
    q.query_addr = at;
    if (ioctl(fd, PROCMAP_QUERY_K, &q) != 0) {
      if (errno == ENOENT) ret = (ssize_t)n; /* past the last one: all of them */
      else if (errno == ENOTTY || errno == EINVAL) pq_state = -1;
      break;
    }
    pq_state = 1;
    if (q.vma_end <= at) break; /* no progress: never seen; the text then */
    at = q.vma_end;
    if (q.vma_flags & PQ_VMA_SHARED) continue;
    const char *path = q.inode ? "/" : "";
    size_t plen = q.inode ? 1 : 0;
    if (names || (main_sp >= q.vma_start && main_sp < q.vma_end)) {
      struct procmap_query_k r = q; /* the same mapping again, with its name */
      r.query_flags = PQ_VMA_WRITABLE;
      r.query_addr = q.vma_start;
      r.vma_name_addr = (uintptr_t)name;
      r.vma_name_size = sizeof name;
      if (ioctl(fd, PROCMAP_QUERY_K, &r) != 0 || r.vma_start != q.vma_start) break;
      path = r.vma_name_size ? name : "";
      plen = r.vma_name_size ? strnlen(name, sizeof name) : 0;
    }
    if (n + 80 + plen > maps_cap) break; /* no room: the text (read_maps grows the buffer) */
    char *o = maps_buf + n;
    o = put_hex(o, q.vma_start);
    *o++ = '-';
    o = put_hex(o, q.vma_end);
    memcpy(o, " rw", 3);
    o += 3;
    *o++ = q.vma_flags & PQ_VMA_EXECUTABLE ? 'x' : '-';
    memcpy(o, "p 0 0:0 ", 8);
    o += 8;
    char d[24];
    int k = 0;
    uint64_t ino = q.inode;
    do d[k++] = (char)('0' + ino % 10); while ((ino /= 10) && k < 20);
    while (k) *o++ = d[--k];
    *o++ = ' ';
    memcpy(o, path, plen);
    o += plen;
    *o++ = '\n';
    n = (size_t)(o - maps_buf);
  }
  close(fd);
  return ret;
}

void scvgc_roots_test_maps(int how) { pq_test = how; }

static uintptr_t hex(const char **p);

int scvgc_roots_test_writable(bool query, uintptr_t (*out)[3], int max) {
  ssize_t n = query ? read_maps_query(0, false) : read_maps();
  if (n < 0) return -1;
  int k = 0;
  for (const char *p = maps_buf, *end = maps_buf + n; p < end;) {
    const char *q = p;
    while (p < end && *p != '\n') p++;
    p++;
    uintptr_t lo = hex(&q);
    if (*q++ != '-') continue;
    uintptr_t hi = hex(&q);
    if (*q++ != ' ' || q[1] != 'w' || q[3] != 'p') continue;
    if (k < max) out[k][0] = lo, out[k][1] = hi, out[k][2] = q[2] == 'x';
    k++;
  }
  return k;
}

/* Once, outside the stop-the-world path (dl_iterate_phdr takes the loader's lock): the
 * library's own data and bss, when it is a shared object. Linked into a program (the unit
 * tests), its globals share the program's segment and stay roots: they hold only pointers
 * to metadata and to free objects, which are never candidates. Also the
 * buffer of the maps (R3). */
void scvgc_roots_init(void) {
  scvgc_own_init();
  if (!maps_buf && (maps_buf = scvgc_sys_map_meta(MAPS_START))) maps_cap = MAPS_START; /* R3 */
}

static uintptr_t hex(const char **p) {
  uintptr_t v = 0;
  for (;; (*p)++) {
    char c = **p;
    if (c >= '0' && c <= '9') v = v * 16 + (uintptr_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (uintptr_t)(c - 'a' + 10);
    else return v;
  }
}

static uint64_t hex_dec(const char *p) {
  uint64_t v = 0;
  for (; *p >= '0' && *p <= '9'; p++) v = v * 10 + (uint64_t)(*p - '0');
  return v;
}

/* ---- whose stack is it (root class 2) ------------------------------------------------ *
 * Only a thread's own stack has a dead part: the stack block glibc recorded for the thread
 * (struct pthread's stackblock and stackblock_size, which follow each other), or [stack]
 * for the main thread. A thread whose sp is anywhere else (a coroutine stack, a signal stack
 * in .bss or in a pooled buffer, two anonymous mappings the kernel merged) cuts nothing: the
 * mapping holding its sp is scanned whole, and so is its own stack block, which the frames
 * below the coroutine switch still use. */

#define TCB_NONE ((size_t)-1)
static size_t tcb_block_off = TCB_NONE; /* offset of (stackblock, stackblock_size) in glibc's
                                           struct pthread; TCB_NONE until learned: then no
                                           thread's stack is cut but [stack] */
static size_t tcb_tid_off = TCB_NONE;   /* offset of its tid: a descriptor is the thread's
                                           own only if it names the thread (a raw clone()
                                           without CLONE_SETTLS runs on its parent's) */

void scvgc_roots_learn_tcb(uintptr_t tp, uintptr_t block, size_t size, pid_t tid) {
  if (tcb_block_off != TCB_NONE || !tp) return;
  const uintptr_t *w = (const uintptr_t *)tp;
  size_t blk = TCB_NONE;
  for (size_t k = 0; k + 1 < TCB_BYTES / sizeof *w && blk == TCB_NONE; k++)
    if (w[k] == block && w[k + 1] == size) blk = k * sizeof *w;
  const int32_t *t = (const int32_t *)tp;
  for (size_t k = 0; blk != TCB_NONE && k < blk / sizeof *t; k++)
    if (t[k] == tid) {
      tcb_tid_off = k * sizeof *t;
      tcb_block_off = blk; /* both or neither */
      return;
    }
}

bool scvgc_roots_tcb_known(void) { return tcb_block_off != TCB_NONE; }

static bool probe(uintptr_t addr, uintptr_t out[2]); /* below, with the fault guard */

/* The collector itself (SELF) is cut at its sp exactly: gc.c records the sp of its own
 * frame, and below it are only the scan's frames. */
static uintptr_t red_zone(const scvgc_thread_t *t) { return t->state == SCVGC_STW_SELF ? 0 : RED_ZONE; }

/* ---- the stacks of exited threads --------------------------------------------------- *
 * glibc keeps the stack block of an exited thread in its stack cache (up to 40 MiB of them)
 * for the next pthread_create: an anonymous writable mapping that the maps scan would read
 * whole as root class 5. Everything in it below the descriptor is dead — the thread's frames,
 * down to the very last ones of its exit path (the library's own cache flush at thread exit
 * leaves span bases there: the address of each span's first object), and its static TLS.
 * Each thread that allocated registers its thread pointer at its exit (its cache's exit
 * destructor, scvgc_roots_thread_exit); at a scan, a registered descriptor that is still
 * glibc's (self pointers), says the thread is gone (tid 0: the kernel cleared it,
 * CLONE_CHILD_CLEARTID; -1: pthread_join marked it joined) and records a stack block around
 * it has [block, tp) cut. The descriptor itself (from tp on) is still read: it holds the
 * DTV, glibc's malloc'd vector of the dynamic TLS blocks that it frees only when it reuses
 * the stack. A reused block names its new thread (tid not 0) and is cut as that thread's
 * (find_dead); an unmapped one fails the probe and leaves the registry. A thread that never
 * allocated has no exit destructor: its cached stack stays a root (it can hold only what
 * other threads gave it). The main thread's descriptor records no stack block: never cut. */
#define MAX_EXITED 512
static uintptr_t exited[MAX_EXITED]; /* thread pointers of exited threads (own_lock) */
static size_t nexited;

void scvgc_roots_thread_exit(void) {
  uintptr_t tp = (uintptr_t)pthread_self();
  scvgc_own_lock();
  size_t i = 0;
  while (i < nexited && exited[i] != tp) i++;
  if (i == nexited && nexited < MAX_EXITED) exited[nexited++] = tp; /* full: read whole */
  scvgc_own_unlock();
}

/* The stack block below an exited thread's descriptor at tp, or false when tp is not (or no
 * longer) such a descriptor. Guarded reads: the block may be unmapped. */
static bool exited_block(uintptr_t tp, range_t *r) {
  uintptr_t h[2], s[2], id[2], blk[2];
  /* x86-64 tcbhead_t: tcb (word 0) and self (word 2) point at the descriptor itself */
  if (!probe(tp, h) || !probe(tp + 16, s) || h[0] != tp || s[0] != tp) return false;
  if (!probe(tp + (tcb_tid_off & ~(size_t)7), id) || !probe(tp + tcb_block_off, blk)) return false;
  if ((int32_t)(id[0] >> (8 * (tcb_tid_off & 7))) > 0) return false; /* running, or reused */
  /* The main thread's descriptor has no block: glibc keeps stackblock NULL there and puts
   * __libc_stack_end in stackblock_size (for pthread_getattr_np), which read as a block would
   * cut [0, tp): every mapping below the main thread's TLS, the program's data and the heap's
   * roots with it, once the main thread called pthread_exit. */
  if (blk[0] == 0 || tp <= blk[0] || tp - blk[0] >= blk[1]) return false;
  *r = (range_t){blk[0], tp};
  return true;
}

static range_t *dead; /* the dead parts of the stopped threads' own stacks, sorted, merged */
static size_t ndead, deadcap;

static void sift(range_t *a, size_t i, size_t n) {
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) return;
    if (c + 1 < n && a[c + 1].start > a[c].start) c++;
    if (a[i].start >= a[c].start) return;
    range_t t = a[i];
    a[i] = a[c];
    a[c] = t;
    i = c;
  }
}

/* [block, sp - red zone) of every stopped thread whose sp is in its glibc stack block (the
 * main thread's is found with [stack] in the maps). Heapsort: no libc qsort here. */
static void find_dead(const scvgc_world_t *w, pid_t pid) {
  ndead = 0;
  if (tcb_block_off == TCB_NONE) return;
  if ((size_t)w->nthreads + nexited > deadcap) {
    size_t cap = ((size_t)w->nthreads + nexited) * 2;
    range_t *d = scvgc_sys_map_meta(cap * sizeof *d);
    if (!d) return; /* cut nothing: conservative */
    if (dead) scvgc_sys_unmap_meta(dead, deadcap * sizeof *d);
    dead = d;
    deadcap = cap;
  }
  for (int i = 0; i < w->nthreads; i++) {
    const scvgc_thread_t *t = &w->threads[i];
    if ((t->state != SCVGC_STW_STOPPED && t->state != SCVGC_STW_SELF) || t->tid == pid || !t->tp)
      continue;
    uintptr_t blk[2], id[2];
    uintptr_t ida = t->tp + (tcb_tid_off & ~(size_t)7);
    if (!probe(ida, id) || !probe(t->tp + tcb_block_off, blk)) continue; /* fs set by hand */
    if ((int32_t)(id[0] >> (8 * (tcb_tid_off & 7))) != t->tid) continue; /* not its own */
    uintptr_t cut = (t->sp - red_zone(t)) & ~(uintptr_t)7;
    if (t->sp < blk[0] || t->sp - blk[0] >= blk[1] || cut <= blk[0]) continue;
    dead[ndead++] = (range_t){blk[0], cut};
  }
  size_t k = 0; /* the stacks of exited threads; a registered one that is gone is dropped */
  for (size_t i = 0; i < nexited; i++) {
    range_t r;
    uintptr_t h[2];
    if (exited_block(exited[i], &r)) dead[ndead++] = r;
    else if (!probe(exited[i], h) || h[0] != exited[i]) continue; /* no descriptor there now */
    exited[k++] = exited[i];
  }
  nexited = k;
  for (size_t i = ndead / 2; i-- > 0;) sift(dead, i, ndead);
  for (size_t n = ndead; n > 1; n--) {
    range_t t = dead[0];
    dead[0] = dead[n - 1];
    dead[n - 1] = t;
    sift(dead, 0, n - 1);
  }
  k = 0; /* merge overlaps (stacks never overlap; be safe) */
  for (size_t i = 0; i < ndead; i++) {
    if (k && dead[i].start <= dead[k - 1].end) {
      if (dead[i].end > dead[k - 1].end) dead[k - 1].end = dead[i].end;
    } else {
      dead[k++] = dead[i];
    }
  }
  ndead = k;
}

/* ---- which pages are read (root classes 4 and 5) --------------------------------------- *
 * A writable private mapping of a file holds the program's pointers only in the pages it
 * wrote: those are private (anonymous) copies; the others still show the file, and reading
 * them can fault (SIGBUS past the end of a truncated file), block (a file on a FUSE server
 * whose thread is stopped) or cost a read of the whole file. So in a file mapping only the
 * private copies are read, told apart by /proc/self/pagemap (bit 61 clear: not a page of the
 * file), whether in memory (bit 63) or swapped out (bit 62).
 * In an anonymous mapping every page the program touched is read: resident ones and
 * swapped-out ones. PAGEMAP_SCAN (Linux 6.7) lists both, and the private copies of a file
 * mapping, in runs, skipping untouched page tables whole (R4). Before it: mincore (a byte per
 * page), or pagemap (a word per page) while the process has pages in swap (VmSwap).
 * Without pagemap a file mapping is read whole, and a fault ends the scan (below). */

static int pm_fd = -1;       /* /proc/self/pagemap during a scan, -1 without it */
static bool pm_anon;         /* some page of the process is in swap: anonymous mappings
                                are read through pagemap too */
static int pm_test;          /* scvgc_roots_test_pagemap: 0 auto, -1 none, 1 always */
static uint64_t pm_buf[4096];
static unsigned char mincore_vec[16384];

bool scvgc_roots_page_written(uint64_t e, bool file) {
  bool present = (e >> 63) & 1, swapped = (e >> 62) & 1, filepage = (e >> 61) & 1;
  if (swapped) return true; /* only a private copy goes to swap (never a page of a file) */
  return present && !(file && filepage);
}

void scvgc_roots_test_pagemap(int how) { pm_test = how; }

/* The process's swapped-out bytes (VmSwap), 0 when unknown. */
static char status_buf[4096];
static uint64_t vm_swap(void) {
  int fd = open_proc("status");
  if (fd < 0) return 0;
  ssize_t n = read(fd, status_buf, sizeof status_buf - 1);
  close(fd);
  if (n <= 0) return 0;
  status_buf[n] = 0;
  const char *p = strstr(status_buf, "\nVmSwap:");
  if (!p) return 0;
  for (p += 8; *p == ' ' || *p == '\t'; p++) {}
  return hex_dec(p);
}

/* [lo, hi) read word by word, or at every byte offset in a writable and executable mapping:
 * a JIT's code cache holds pointers as unaligned immediates of its generated code (R5). */
static size_t root_bytes;      /* of the scan in progress: every range read below */
static _Atomic size_t last_root_bytes; /* of the last scan that read the roots whole */

size_t scvgc_roots_scanned_bytes(void) { return atomic_load(&last_root_bytes); }

static void mark(scvgc_marker_t *m, uintptr_t lo, uintptr_t hi, bool exec) {
  root_bytes += hi - lo;
  if (exec) scvgc_mark_range_bytes(m, lo, hi);
  else scvgc_mark_range(m, lo, hi);
}

/* Anonymous memory without pagemap: the resident pages. */
static bool used_mincore; /* this scan read some range through mincore (blind to swap) */

static void scan_mincore(scvgc_marker_t *m, uintptr_t lo, uintptr_t hi, bool exec) {
  used_mincore = true;
  const uintptr_t pg = 4096;
  uintptr_t base = lo & ~(pg - 1);
  while (base < hi) {
    size_t npg = (hi - base + pg - 1) / pg;
    if (npg > sizeof mincore_vec) npg = sizeof mincore_vec;
    if (mincore((void *)base, npg * pg, mincore_vec) != 0) {
      mark(m, base < lo ? lo : base, hi < base + npg * pg ? hi : base + npg * pg, exec);
    } else {
      for (size_t i = 0; i < npg; i++) {
        if (!(mincore_vec[i] & 1)) continue;
        size_t j = i;
        while (j + 1 < npg && (mincore_vec[j + 1] & 1)) j++;
        uintptr_t a = base + i * pg, b = base + (j + 1) * pg;
        mark(m, a < lo ? lo : a, b > hi ? hi : b, exec);
        i = j;
      }
    }
    base += npg * pg;
  }
}

/* PAGEMAP_SCAN (Linux 6.7): the kernel lists the runs of pages present or swapped, skipping
 * what was never touched without a word per page — a 16 TiB reservation with one page
 * touched costs what one page does (R4). Pages of the file in a file mapping, and the
 * shared zero page, are not read. Returns where it stopped: hi, or less when the ioctl
 * failed (the caller reads the rest the older way). */
static struct page_region pm_regions[256];
static int pm_scan = 1; /* cleared for good when the kernel lacks the ioctl */

static uintptr_t scan_regions(scvgc_marker_t *m, uintptr_t lo, uintptr_t hi, bool file, bool exec) {
  const uintptr_t pg = 4096;
  uintptr_t at = lo & ~(pg - 1);
  while (at < hi) {
    struct pm_scan_arg a = {
        .size = sizeof a, .start = at, .end = (hi + pg - 1) & ~(pg - 1),
        .vec = (uintptr_t)pm_regions,
        .vec_len = sizeof pm_regions / sizeof *pm_regions,
        .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
        .return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE | PAGE_IS_PFNZERO};
    long n = ioctl(pm_fd, PAGEMAP_SCAN, &a);
    if (n < 0) {
      if (errno == EINVAL || errno == ENOTTY) pm_scan = 0;
      return at < lo ? lo : at;
    }
    for (long i = 0; i < n; i++) {
      uint64_t c = pm_regions[i].categories;
      if (c & PAGE_IS_PFNZERO) continue;
      if (file && (c & PAGE_IS_FILE) && !(c & PAGE_IS_SWAPPED)) continue; /* the file's own */
      uintptr_t x = pm_regions[i].start, y = pm_regions[i].end;
      mark(m, x < lo ? lo : x, y > hi ? hi : y, exec);
    }
    if (a.walk_end <= at) return at < lo ? lo : at; /* no progress: the older way */
    at = a.walk_end;
  }
  return hi;
}

/* Scan the pages of [lo, hi) that may hold the program's pointers (above). */
static void scan_pages(scvgc_marker_t *m, uintptr_t lo, uintptr_t hi, bool file, bool exec) {
  if (pm_fd >= 0 && pm_scan) {
    lo = scan_regions(m, lo, hi, file, exec);
    if (lo >= hi) return;
  }
  if (!file && !pm_anon) {
    scan_mincore(m, lo, hi, exec);
    return;
  }
  const uintptr_t pg = 4096;
  uintptr_t base = lo & ~(pg - 1);
  while (base < hi) {
    size_t npg = (hi - base + pg - 1) / pg;
    if (npg > sizeof pm_buf / sizeof *pm_buf) npg = sizeof pm_buf / sizeof *pm_buf;
    uintptr_t top = base + npg * pg;
    ssize_t r = pm_fd < 0 ? -1 : pread(pm_fd, pm_buf, npg * 8, (off_t)(base / pg * 8));
    if (r != (ssize_t)(npg * 8)) { /* no pagemap: the whole of a file mapping (guarded) */
      if (file) mark(m, base < lo ? lo : base, top > hi ? hi : top, exec);
      else scan_mincore(m, base < lo ? lo : base, top > hi ? hi : top, exec);
    } else {
      for (size_t i = 0; i < npg; i++) {
        if (!scvgc_roots_page_written(pm_buf[i], file)) continue;
        size_t j = i;
        while (j + 1 < npg && scvgc_roots_page_written(pm_buf[j + 1], file)) j++;
        uintptr_t a = base + i * pg, b = base + (j + 1) * pg;
        mark(m, a < lo ? lo : a, b > hi ? hi : b, exec);
        i = j;
      }
    }
    base = top;
  }
}

/* ---- faults during the scan ----------------------------------------------------------- *
 * What the scan reads was mapped and readable when the maps were read, and the world is
 * stopped, so a fault should not happen; if one does (a file mapping read whole without
 * pagemap, a hardware error), the collector's thread jumps back to scvgc_roots_scan, which
 * reports the scan incomplete: the cycle frees nothing and the program goes on. The handler
 * is installed for the scan only; a fault of any other thread, or a signal sent, gets the
 * program's own disposition back. */

static sigjmp_buf fault_jmp;  /* the scan's end */
static sigjmp_buf probe_jmp;  /* a probe's end (probe below) */
static sigjmp_buf *volatile fault_to; /* where a fault of the guarded thread jumps */
static sigset_t scan_mask;    /* the guarded thread's mask during the scan */
static volatile pid_t guard_tid;
static struct sigaction old_segv, old_bus;
static volatile uintptr_t fault_addr;
static volatile int fault_sig;

static void on_fault(int sig, siginfo_t *si, void *ctx) {
  (void)ctx;
  if (guard_tid && guard_tid == (pid_t)syscall(SYS_gettid) && si->si_code > 0) {
    fault_sig = sig;
    fault_addr = (uintptr_t)si->si_addr;
    siglongjmp(*fault_to, 1);
  }
  sigaction(sig, sig == SIGBUS ? &old_bus : &old_segv, NULL);
  if (si->si_code <= 0) syscall(SYS_tgkill, (long)getpid(), syscall(SYS_gettid), (long)sig);
  /* a fault: returning runs the instruction again, under the program's own disposition */
}

/* Read two words at addr, under the guard: false if that faults. No system call on the
 * way that does not fault (a thread's descriptor is read for each stopped thread). */
static bool probe(uintptr_t addr, uintptr_t out[2]) {
  if (sigsetjmp(probe_jmp, 0)) { /* the handler left every signal blocked */
    fault_to = &fault_jmp;
    pthread_sigmask(SIG_SETMASK, &scan_mask, NULL);
    return false;
  }
  fault_to = &probe_jmp;
  out[0] = ((volatile const uintptr_t *)addr)[0];
  out[1] = ((volatile const uintptr_t *)addr)[1];
  fault_to = &fault_jmp;
  return true;
}

/* ---- device memory --------------------------------------------------------------------- *
 * A private mapping of a device must never be read: reading it may have effects. Read
 * through pagemap, such a mapping shows no page the program wrote (the kernel's page walk
 * skips PFN mappings, and a driver's pages are not anonymous), so nothing of it is read and
 * nothing need be asked. Only where pagemap cannot be read, and a file mapping would be read
 * whole, is its file's type asked: a character or block device (but /dev/zero, whose private
 * mappings are anonymous memory) is skipped, told by its type and not by its path — a
 * tmpfs under /dev (/dev/shm, /dev/hugepages) holds plain files whose copies are roots. */
static char path_buf[4096];

static bool is_anon_name(const char *path, const char *eol) {
  size_t n = (size_t)(eol - path);
  return (n >= 14 && !memcmp(path, "/anon_hugepage", 14)) ||
         (n >= 9 && !memcmp(path, "/dev/zero", 9) && (n == 9 || path[9] == ' '));
}

static bool skip_device(const char *path, const char *eol, uint64_t inode) {
  if (pm_fd >= 0 || *path != '/') return false; /* read through pagemap (above) */
  size_t n = (size_t)(eol - path);
  if (n >= sizeof path_buf) n = sizeof path_buf - 1;
  memcpy(path_buf, path, n);
  path_buf[n] = 0;
  struct stat st;
  if (stat(path_buf, &st) != 0 || st.st_ino != inode) /* deleted, or another file by now: */
    return false; /* a device node is seldom deleted while mapped; read it, guarded (R2) */
  return (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) && st.st_rdev != makedev(1, 5);
}

/* Mappings of stw.c for the current cycle: the library's own, but not in the registry
 * (they are made by raw system calls, some by the tracer task). */
static uintptr_t stw_maps[8][2];
static int nstw_maps;

/* Scan [lo, hi) less the heap's arenas and the library's own stretches. */
static void scan_mapping(scvgc_marker_t *m, uintptr_t lo, uintptr_t hi, bool file, bool exec) {
  for (int k = 0; k < nstw_maps; k++) { /* few and whole mappings: cut them out first */
    uintptr_t a = stw_maps[k][0], b = stw_maps[k][1];
    if (b <= lo || a >= hi) continue;
    if (a > lo) scan_mapping(m, lo, a, file, exec);
    lo = b;
    if (lo >= hi) return;
  }
  while (lo < hi) {
    uintptr_t end;
    if (scvgc_spanof(lo) || scvgc_arena_l1[lo >> SCVGC_ARENA_SHIFT]) { /* an arena */
      lo = (lo | (SCVGC_ARENA_SIZE - 1)) + 1;
      continue;
    }
    if (scvgc_is_own(lo, &end)) {
      lo = end;
      continue;
    }
    uintptr_t stop = next_arena(lo, hi);
    uintptr_t o = scvgc_own_next(lo);
    if (o < stop) stop = o;
    if (stop > hi) stop = hi;
    scan_pages(m, lo, stop, file, exec);
    lo = stop;
  }
}

/* The writable private mappings (root classes 2 to 5), with the dead parts of the stopped
 * threads' own stacks cut out. Reads faulting memory only under the guard. */
static size_t maps_len; /* of the cycle's read (the root regions use it too) */

static size_t nuser_roots; /* the root regions (below) */
static uint64_t maps_ns;                  /* of the cycle's read of the maps */
static unsigned long maps_lines, maps_roots; /* its mappings, and the writable private ones */
static bool maps_queried;                 /* this cycle's came from PROCMAP_QUERY */

static bool scan_maps(scvgc_marker_t *m, const scvgc_world_t *w, pid_t pid) {
  uintptr_t main_sp = 0, main_rz = 0;
  for (int i = 0; i < w->nthreads; i++) {
    const scvgc_thread_t *t = &w->threads[i];
    if (t->tid == pid && (t->state == SCVGC_STW_STOPPED || t->state == SCVGC_STW_SELF)) {
      main_sp = t->sp;
      main_rz = red_zone(t);
    }
  }
  uint64_t t0 = scvgc_nanotime();
  /* the queries only with pagemap (file mappings are told by page) and no root region */
  ssize_t n = pm_fd >= 0 && pm_scan && !nuser_roots ? read_maps_query(main_sp, scvgc_opt.trace >= 2)
                                                    : -1;
  maps_queried = n >= 0;
  if (n < 0) n = read_maps();
  maps_ns = scvgc_nanotime() - t0;
  maps_lines = maps_roots = 0;
  if (n < 0) return false; /* R3 */
  maps_len = (size_t)n;
  const char *p = maps_buf, *end = maps_buf + n;
  size_t di = 0;
  while (p < end) {
    const char *line = p;
    while (p < end && *p != '\n') p++;
    const char *eol = p++;
    const char *q = line;
    maps_lines++;
    uintptr_t lo = hex(&q);
    if (*q++ != '-') continue;
    uintptr_t hi = hex(&q);
    if (*q++ != ' ' || eol - q < 4) continue;
    /* writable private: write-only too (readable on x86-64, where PROT_WRITE implies read) */
    if (q[1] != 'w' || q[3] != 'p') continue;
    maps_roots++;
    bool exec = q[2] == 'x'; /* R5 */
    /* offset, dev and inode, then the path */
    const char *path = q + 4;
    uint64_t inode = 0;
    for (int field = 0; field < 3 && path < eol; field++) {
      while (path < eol && *path == ' ') path++;
      if (field == 2) inode = hex_dec(path);
      while (path < eol && *path != ' ') path++;
    }
    while (path < eol && *path == ' ') path++;
    /* A named mapping is a file's, but for the anonymous memory the kernel names after a
     * file: /anon_hugepage (MAP_HUGETLB) and a private mapping of /dev/zero. */
    bool file = path < eol && *path != '[' && !is_anon_name(path, eol);
    if (file && skip_device(path, eol, inode)) continue;
    uint64_t before = m->objects;
    uintptr_t a = lo, cut = 0; /* scan [a, hi) less the dead stack parts in it */
    if (main_sp >= lo && main_sp < hi && eol - path == 7 && !memcmp(path, "[stack]", 7)) {
      uintptr_t s = (main_sp - main_rz) & ~(uintptr_t)7;
      if (s > lo) a = s;
      cut += a - lo;
    }
    while (di < ndead && dead[di].end <= lo) di++;
    for (size_t k = di; k < ndead && dead[k].start < hi; k++) {
      uintptr_t ds = dead[k].start < a ? a : dead[k].start, de = dead[k].end > hi ? hi : dead[k].end;
      if (de <= ds) continue;
      if (ds > a) scan_mapping(m, a, ds, file, exec);
      cut += de - ds;
      a = de;
    }
    if (a < hi) scan_mapping(m, a, hi, file, exec);
    scvgc_mark_flush(m);
    if (scvgc_opt.trace >= 2 && m->objects != before) /* which roots hold what */
      scvgc_message("gc roots: %lx-%lx%s %.*s: %lu objects", (unsigned long)lo, (unsigned long)hi,
                    cut ? " (stack)" : "", (int)(eol - path), path,
                    (unsigned long)(m->objects - before));
  }
  return true;
}

/* ---- the program's root regions (scvgc_register_root_region, api.c) ------------------- */

/* Memory the program names as a root (LeakSanitizer's __lsan_register_root_region): a shared
 * mapping, a read-only one, a part of the library's own, memory it hides a pointer in. Read
 * whole (not by touched pages), and only where a readable mapping covers it when the maps
 * are read: a region unmapped since it was registered is skipped, not faulted on.
 * own.c's own_lock guards the table; the collector holds it for the whole cycle. */
#define MAX_USER_ROOTS 1024
static range_t user_roots[MAX_USER_ROOTS];
static size_t nuser_roots;

bool scvgc_roots_user_add(uintptr_t start, size_t len, bool add) {
  bool ok = false;
  scvgc_own_lock();
  if (add && nuser_roots < MAX_USER_ROOTS) {
    user_roots[nuser_roots++] = (range_t){start, start + len};
    ok = true;
  } else if (!add) {
    for (size_t i = nuser_roots; i-- > 0 && !ok;)
      if (user_roots[i].start == start && user_roots[i].end == start + len) {
        user_roots[i] = user_roots[--nuser_roots];
        ok = true;
      }
  }
  scvgc_own_unlock();
  return ok;
}

/* The parts of the root regions inside readable mappings (maps_buf, n bytes, just read). */
static void scan_user_roots(scvgc_marker_t *m, size_t n) {
  const char *p = maps_buf, *end = maps_buf + n;
  while (nuser_roots && p < end) {
    const char *q = p;
    while (p < end && *p != '\n') p++;
    p++;
    uintptr_t lo = hex(&q);
    if (*q++ != '-') continue;
    uintptr_t hi = hex(&q);
    if (*q++ != ' ' || q[0] != 'r') continue;
    for (size_t i = 0; i < nuser_roots; i++) {
      uintptr_t a = user_roots[i].start > lo ? user_roots[i].start : lo;
      uintptr_t b = user_roots[i].end < hi ? user_roots[i].end : hi;
      if (a < b) {
        root_bytes += b - a;
        scvgc_mark_range(m, (a + 7) & ~(uintptr_t)7, b & ~(uintptr_t)7);
      }
    }
  }
  scvgc_mark_flush(m);
}

bool scvgc_roots_scan(scvgc_marker_t *m, const scvgc_world_t *w) {
  /* 1: registers */
  for (int i = 0; i < w->nthreads; i++) {
    const scvgc_thread_t *t = &w->threads[i];
    if (t->state != SCVGC_STW_STOPPED && t->state != SCVGC_STW_SELF) continue;
    for (int r = 0; r < t->nregs; r++) scvgc_mark_word(m, t->regs[r]);
    for (uint32_t r = 0; r < t->nvec; r++) scvgc_mark_word(m, w->vec[t->vec_off + r]); /* lanes */
  }
  pid_t pid = getpid();
  uint64_t t0 = scvgc_nanotime();
  root_bytes = 0;
  nstw_maps = scvgc_stw_mappings(w, stw_maps, 8);
  pm_fd = pm_test < 0 ? -1 : open_proc("pagemap");
  /* VmSwap (a read of /proc/self/status, ~20-40 us, twice) matters only to a range read
   * through mincore, which cannot see a page in swap. Where the kernel has PAGEMAP_SCAN, which
   * lists swapped pages itself, no range is, unless the ioctl fails mid-scan: then the end
   * check below treats any swap as a page missed (the cycle frees nothing, once: a kernel
   * without the ioctl clears pm_scan for good). */
  used_mincore = false;
  uint64_t swap0 = pm_fd >= 0 && pm_scan && pm_test <= 0 ? 0 : vm_swap();
  pm_anon = swap0 != 0 || pm_test > 0;
  why_not = NULL;
  /* the guard: SIGSEGV and SIGBUS caught, and unblocked in this thread (the world's stop
   * blocked every signal here) */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigfillset(&sa.sa_mask);
  sigset_t faults, oldmask;
  sigemptyset(&faults);
  sigaddset(&faults, SIGSEGV);
  sigaddset(&faults, SIGBUS);
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
  pthread_sigmask(SIG_UNBLOCK, &faults, &oldmask);
  pthread_sigmask(SIG_SETMASK, NULL, &scan_mask);
  fault_to = &fault_jmp;
  volatile bool ok = true;
  if (sigsetjmp(fault_jmp, 1)) {
    guard_tid = 0;
    m->nbatch = 0; /* words of the faulting range: dropped with the cycle */
    ok = false;
  } else {
    guard_tid = (pid_t)syscall(SYS_gettid);
    find_dead(w, pid);
    uintptr_t tcbs[64]; /* the library threads' TCBs: the DTV and specifics glibc malloc'd */
    int ntcb = scvgc_libthread_tcbs(tcbs, 64);
    for (int i = 0; i < ntcb; i++) scvgc_mark_range(m, tcbs[i], tcbs[i] + TCB_BYTES);
    scvgc_mark_flush(m);
    ok = scan_maps(m, w, pid);
    if (ok) scan_user_roots(m, maps_len);
    guard_tid = 0;
  }
  pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
  sigaction(SIGSEGV, &old_segv, NULL);
  sigaction(SIGBUS, &old_bus, NULL);
  if (pm_fd >= 0) close(pm_fd);
  pm_fd = -1;
  if (!ok && !why_not) {
    if (scvgc_opt.trace) /* no stdio: scvgc_message formats by itself */
      scvgc_message("gc: signal %d reading the roots at 0x%lx: this cycle frees nothing",
                    fault_sig, (unsigned long)fault_addr);
    return false;
  }
  if (!ok) { /* R3: once per cycle, with the reason */
    if (scvgc_opt.trace)
      scvgc_message("gc: %s%s: this cycle frees nothing", why_not,
                    why_errno == EMFILE   ? " (no descriptor left)"
                    : why_errno == ENOMEM ? " (no memory)"
                    : why_errno           ? " (a system call failed)"
                                          : "");
    return false;
  }
  /* a page swapped out while anonymous mappings were read through mincore only was skipped */
  if (!swap0 && used_mincore && vm_swap()) return false;
  atomic_store(&last_root_bytes, root_bytes);
  if (scvgc_opt.trace >= 2) /* the roots phase by part (issue 14 point 3) */
    scvgc_message("gc roots: maps read %lu us (%lu %s, %lu writable private), "
                  "roots read %lu KB, all roots %lu us",
                  (unsigned long)(maps_ns / 1000), maps_lines,
                  maps_queried ? "queried" : "mappings", maps_roots,
                  (unsigned long)(root_bytes >> 10),
                  (unsigned long)((scvgc_nanotime() - t0) / 1000));
  return true;
}
