/* own.c — what the library owns in the program's process, in one place: what it must
 * never take for the program's (never a root, never stopped, never reported) and what it
 * must keep alive itself.
 *
 * Owns:
 *   - the registry of the library's own mappings (R1 in roots.c): every mapping the core
 *     makes for itself but heap arenas (scvgc_sys_map_meta enters it; regions a program
 *     excluded with scvgc_register_excluded_region too), and the library's own data and
 *     bss when it is a shared object (scvgc_own_init). The root scan skips them
 *     (scvgc_is_own, scvgc_own_next);
 *   - the library's threads (markers, the sweeper, the scavenger; L1-L3 below): started on
 *     stacks of its own mappings, excluded from stopping the world (scvgc_stw_exclude),
 *     their TCBs listed for the scan (scvgc_libthread_tcbs), ended when the program's last
 *     thread ends;
 *   - its own allocations through malloc (scvgc_in_lib, own.h): objects whose stack id is
 *     SCVGC_STACK_LIB, greyed by every cycle (gc.c grey_lib), never reported.
 * Owned elsewhere, listed here so that this is the one index: the tracer task and its
 *   seizer (stw.c: clone()d tasks on a stack of an own mapping, excluded from the world
 *   they stop); the stack walker's per-thread state (unwind.c).
 * Invariants:
 *   O1 a mapping is in the registry from scvgc_sys_map_meta's return until
 *      scvgc_sys_unmap_meta (R1); a registry full (MAX_OWN stretches) leaves a new mapping
 *      out, which is then scanned as a root: conservative, never wrong.
 *   O2 the registry is sorted, its stretches disjoint and merged when adjacent.
 *   L1-L3 at the library threads below.
 * Locks: own_lock (OWN in internal.h's lock ranks): the registry; roots.c also keeps its
 *   exited-threads list and the program's root regions under it (scvgc_own_lock). The
 *   collector holds it for the whole cycle, for itself and its markers, which skip it
 *   (scvgc_gc_worker). The library threads' tables are atomics, written once per thread.
 * Callers: any thread that maps metadata (under any lock ranked before OWN); the collector
 *   and markers with the world stopped (lookups only: no allocation, no lock); the thread
 *   starts (outside malloc: pthread_create may allocate); the program threads' exit hook.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gc.h"
#include "lock.h"
#include "mark.h"
#include "own.h"
#include "stw.h"

/* ---- the own-mapping registry (O1, O2) ---------------------------------------------- */

#define MAX_OWN 8192
typedef struct { uintptr_t start, end; } range_t;

static scvgc_lock_t own_lock = SCVGC_LOCK_RANKED(SCVGC_RANK_OWN);
static range_t own[MAX_OWN]; /* sorted, disjoint, merged when adjacent */
static size_t nown;
static bool own_overflow;
static range_t self_data; /* the library's own writable segments (the .so case) */

void scvgc_own_lock(void) { scvgc_lock(&own_lock); }
void scvgc_own_unlock(void) { scvgc_unlock(&own_lock); }
void scvgc_own_reset_lock(void) { scvgc_lock_reset(&own_lock); }

void scvgc_own_mapping(uintptr_t start, size_t len) {
  uintptr_t end = start + len;
  bool lk = !scvgc_gc_worker; /* the collector holds own_lock for its markers and itself */
  if (lk) scvgc_lock(&own_lock);
  size_t i = 0;
  while (i < nown && own[i].end < start) i++;
  if (i < nown && own[i].start <= end) { /* touches own[i]: merge (and maybe own[i+1]) */
    if (start < own[i].start) own[i].start = start;
    if (end > own[i].end) own[i].end = end;
    if (i + 1 < nown && own[i + 1].start <= own[i].end) {
      own[i].end = own[i + 1].end > own[i].end ? own[i + 1].end : own[i].end;
      memmove(&own[i + 1], &own[i + 2], (nown - i - 2) * sizeof *own);
      nown--;
    }
  } else if (nown < MAX_OWN) {
    memmove(&own[i + 1], &own[i], (nown - i) * sizeof *own);
    own[i].start = start;
    own[i].end = end;
    nown++;
  } else {
    own_overflow = true; /* scanned as a root: conservative, never wrong */
  }
  if (lk) scvgc_unlock(&own_lock);
}

void scvgc_own_unmapping(uintptr_t start, size_t len) {
  uintptr_t end = start + len;
  bool lk = !scvgc_gc_worker;
  if (lk) scvgc_lock(&own_lock);
  for (size_t i = 0; i < nown; i++) {
    if (own[i].end <= start || own[i].start >= end) continue;
    if (own[i].start >= start && own[i].end <= end) { /* wholly inside: drop it */
      memmove(&own[i], &own[i + 1], (nown - i - 1) * sizeof *own);
      nown--;
      i--;
    } else if (own[i].start < start && own[i].end > end) { /* a hole in the middle */
      if (nown < MAX_OWN) {
        memmove(&own[i + 2], &own[i + 1], (nown - i - 1) * sizeof *own);
        own[i + 1].start = end;
        own[i + 1].end = own[i].end;
        nown++;
      }
      own[i].end = start;
      break;
    } else if (own[i].start < start) {
      own[i].end = start;
    } else {
      own[i].start = end;
    }
  }
  if (lk) scvgc_unlock(&own_lock);
}

/* Is addr in a mapping of the library's own? *end: where that stretch ends. Also answers
 * for the library's own data and bss. Caller holds own_lock (or the world is stopped). */
bool scvgc_is_own(uintptr_t addr, uintptr_t *end) {
  if (addr >= self_data.start && addr < self_data.end) {
    *end = self_data.end;
    return true;
  }
  size_t lo = 0, hi = nown;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (own[mid].end <= addr) lo = mid + 1;
    else hi = mid;
  }
  if (lo < nown && own[lo].start <= addr) {
    *end = own[lo].end;
    return true;
  }
  return false;
}

/* The next own stretch at or after addr (start; UINTPTR_MAX if none). */
uintptr_t scvgc_own_next(uintptr_t addr) {
  uintptr_t best = UINTPTR_MAX;
  if (self_data.start >= addr && self_data.start < best) best = self_data.start;
  size_t lo = 0, hi = nown; /* the first stretch starting at or after addr */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (own[mid].start < addr) lo = mid + 1;
    else hi = mid;
  }
  if (lo < nown && own[lo].start < best) best = own[lo].start;
  return best;
}

static int find_self(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  uintptr_t me = (uintptr_t)arg;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (me < lo || me >= hi) continue;
    if (!info->dlpi_name || !info->dlpi_name[0]) return 1; /* linked into the executable */
    for (int k = 0; k < info->dlpi_phnum; k++) { /* the writable segments of this object */
      const ElfW(Phdr) *w = &info->dlpi_phdr[k];
      if (w->p_type != PT_LOAD || !(w->p_flags & PF_W)) continue;
      uintptr_t a = (info->dlpi_addr + w->p_vaddr) & ~(uintptr_t)4095;
      uintptr_t b = (info->dlpi_addr + w->p_vaddr + w->p_memsz + 4095) & ~(uintptr_t)4095;
      if (!self_data.start || a < self_data.start) self_data.start = a;
      if (b > self_data.end) self_data.end = b;
    }
    return 1;
  }
  return 0;
}

/* Once, outside the stop-the-world path (dl_iterate_phdr takes the loader's lock): the
 * library's own data and bss, when it is a shared object. Linked into a program (the unit
 * tests), its globals share the program's segment and stay roots: they hold only pointers
 * to metadata and to free objects, which are never candidates. */
void scvgc_own_init(void) { dl_iterate_phdr(find_self, (void *)(uintptr_t)scvgc_own_init); }

/* A mapping for the core's own metadata (O1): counted in scvgc_gc_sys. */
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
  scvgc_sys_unmap(p, n);
  atomic_fetch_sub_explicit(&scvgc_gc_sys, n, memory_order_relaxed);
}

/* ---- the library's own allocations ---------------------------------------------------- */

__thread int scvgc_in_lib __attribute__((tls_model("initial-exec")));

/* ---- the library's own threads (markers, the sweeper, the scavenger) -------------------
 * L1 each runs on a stack mapped as the library's own (never scanned: it holds stale
 *    copies of what the thread worked on) and is excluded from stopping the world; the
 *    TCB at the top of its stack is scanned (glibc allocated its DTV and thread-specific
 *    data through malloc). Registered by the thread itself before its creator returns.
 * L2 each runs with every signal blocked from its first instruction: signals are the
 *    program's, and a process-directed one goes to a thread that does not block it.
 * L3 they never keep a process alive. glibc ends a process when its last thread ends (the
 *    last pthread_exit calls exit(0)), and it counts every thread, ours too: a program whose
 *    last thread of its own ends that way (a fork child of a non-main thread, a main that
 *    calls pthread_exit) would live on forever with only the library's threads. So the
 *    thread-exit hook of the last thread of the program's own (scvgc_libthreads_thread_exit,
 *    from tcache.c) tells them to end (scvgc_libthreads_quit, gc.c's stop under gc_lock), and
 *    none starts again: the last of all the threads to end then calls exit(0) for glibc. */
#define MAX_LIBTHREADS 64
static pid_t lib_tids[MAX_LIBTHREADS];
static uintptr_t lib_tps[MAX_LIBTHREADS]; /* thread pointers: struct pthread, stack top */
static _Atomic int nlib;                  /* kept in a fork child: the TCBs are still there */
_Atomic int scvgc_libthreads_quit;        /* L3: set once, never cleared */

typedef struct {
  void *(*fn)(void *);
  void *arg;
  _Atomic int registered;
  uintptr_t tp; /* the new thread's pthread_self() and tid, written before registered */
  pid_t tid;
} libthread_start_t;

static void *libthread_main(void *p) {
  libthread_start_t *st = p;
  void *(*fn)(void *) = st->fn;
  void *arg = st->arg;
  st->tp = (uintptr_t)pthread_self();
  st->tid = (pid_t)syscall(SYS_gettid);
  int k = atomic_fetch_add(&nlib, 1);
  if (k < MAX_LIBTHREADS) {
    lib_tids[k] = (pid_t)syscall(SYS_gettid);
    lib_tps[k] = (uintptr_t)pthread_self();
    scvgc_stw_exclude(lib_tids[k]);
  }
  atomic_store(&st->registered, 1); /* st lives on the creator's stack: not used after */
  return fn(arg);
}

/* Start fn(arg) on a library thread (L1). Outside malloc only (pthread_create may
 * allocate). Returns false when it could not be started. */
bool scvgc_libthread_start(void *(*fn)(void *), void *arg) {
  if (atomic_load(&nlib) >= MAX_LIBTHREADS || atomic_load(&scvgc_libthreads_quit)) return false;
  size_t sz = 256 << 10;
  void *stack = scvgc_sys_map_meta(sz);
  if (!stack) return false;
  pthread_t t;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setstack(&a, stack, sz);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  libthread_start_t st = {fn, arg, 0, 0, 0};
  /* Every signal blocked (the new thread inherits the mask): a process-directed signal the
   * program waits for with sigwait or handles on its own threads must never be delivered to
   * one of ours (L2). The faults a library thread could raise itself are not maskable anyway. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  bool ok = pthread_create(&t, &a, libthread_main, &st) == 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&a);
  if (!ok) {
    scvgc_sys_unmap_meta(stack, sz);
    return false;
  }
  while (!atomic_load(&st.registered)) sched_yield(); /* excluded before any stop */
  scvgc_roots_learn_tcb(st.tp, (uintptr_t)stack, sz, st.tid); /* glibc's descriptor layout */
  return true;
}

/* The probe thread: says who it is, then waits until the creator has read its descriptor
 * (the kernel clears the descriptor's tid when a thread exits, so it must still run). */
typedef struct {
  _Atomic int registered, learned;
  uintptr_t tp;
  pid_t tid;
} probe_t;

static void *probe_main(void *arg) {
  probe_t *p = arg;
  p->tp = (uintptr_t)pthread_self();
  p->tid = (pid_t)syscall(SYS_gettid);
  atomic_store(&p->registered, 1);
  while (!atomic_load(&p->learned)) sched_yield();
  return NULL;
}

void scvgc_libthread_probe(void) {
  static bool tried;
  if (tried || scvgc_roots_tcb_known() || atomic_load(&scvgc_libthreads_quit)) return;
  tried = true;
  size_t sz = 64 << 10;
  void *stack = scvgc_sys_map_meta(sz);
  if (!stack) return;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setstack(&a, stack, sz);
  probe_t p = {0, 0, 0, 0};
  sigset_t all, old; /* L2, as for every library thread */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  bool ok = pthread_create(&t, &a, probe_main, &p) == 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&a);
  if (ok) {
    while (!atomic_load(&p.registered)) sched_yield();
    scvgc_roots_learn_tcb(p.tp, (uintptr_t)stack, sz, p.tid);
    atomic_store(&p.learned, 1);
    pthread_join(t, NULL);
  }
  scvgc_sys_unmap_meta(stack, sz);
}

int scvgc_libthread_tcbs(uintptr_t *out, int max) {
  int n = 0, k = atomic_load(&nlib);
  for (int i = 0; i < k && i < MAX_LIBTHREADS && n < max; i++) out[n++] = lib_tps[i];
  return n;
}

bool scvgc_is_libthread(pid_t tid) {
  int k = atomic_load(&nlib);
  for (int i = 0; i < k && i < MAX_LIBTHREADS; i++)
    if (lib_tids[i] == tid) return true;
  return false;
}

/* L3: is any thread of the program's own alive but the caller and those ending too? The
 * tasks of /proc/self/task, read with raw system calls (a descriptor held only for the
 * call). Unknown (no /proc): yes. */
static _Atomic pid_t ending[16]; /* threads inside the check below */

/* Has task t ended (a zombie: the main thread after pthread_exit stays listed as one until
 * the whole process ends)? Unknown: no. */
static bool task_ended(pid_t t) {
  char path[64], buf[512];
  scvgc_snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)t);
  int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true; /* gone meanwhile */
  long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
  syscall(SYS_close, fd);
  if (n <= 0) return false;
  buf[n] = 0;
  const char *rp = NULL;
  for (const char *c = buf; *c; c++)
    if (*c == ')') rp = c; /* the name may hold ')': the state follows the last one */
  return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

/* Is a thread of the library's still in /proc/self/task (a zombie counts as gone)? */
static bool libthreads_listed(void) {
  int k = atomic_load(&nlib);
  for (int i = 0; i < k && i < MAX_LIBTHREADS; i++) {
    char path[64];
    scvgc_snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)lib_tids[i]);
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    syscall(SYS_close, fd);
    if (!task_ended(lib_tids[i])) return true;
  }
  return false;
}

static bool others_alive(pid_t me) {
  int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return true;
  bool found = false;
  char buf[2048];
  long n;
  while (!found && (n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n && !found;) {
      struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; }
          *d = (void *)(buf + off);
      off += d->reclen;
      pid_t t = 0;
      for (const char *c = d->name; *c >= '0' && *c <= '9'; c++) t = t * 10 + (*c - '0');
      if (t <= 0 || t == me || scvgc_is_libthread(t)) continue;
      bool leaving = false;
      for (int i = 0; i < 16; i++) leaving |= atomic_load(&ending[i]) == t;
      found = !leaving && !task_ended(t);
    }
  }
  syscall(SYS_close, fd);
  return found;
}

void scvgc_libthreads_thread_exit(void) {
  if (!atomic_load(&nlib) || atomic_load(&scvgc_libthreads_quit)) return;
  pid_t me = (pid_t)syscall(SYS_gettid);
  if (scvgc_is_libthread(me)) return;
  int slot = -1;
  for (int i = 0; i < 16 && slot < 0; i++) {
    pid_t z = 0;
    if (atomic_compare_exchange_strong(&ending[i], &z, me)) slot = i;
  }
  /* two threads ending at once each see the other registered (both register before they
   * look), so at least one of them stops the library's threads */
  if (!others_alive(me)) {
    scvgc_gc_stop_libthreads();
    /* and wait until they are gone from the task list (past glibc's count of threads): this
     * thread is then the last one, and glibc's exit(0) — the exit handlers, the exit check
     * and its report — runs on it as without the library, not on one of ours */
    for (unsigned i = 0; i < 4000 && libthreads_listed(); i++) scvgc_backoff(i);
  }
  if (slot >= 0) atomic_store(&ending[slot], 0);
}
