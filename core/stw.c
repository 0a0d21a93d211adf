/* stw.c — stop-the-world: freeze every thread of /proc/self/task but the caller, record
 * their registers and stack pointers, resume them. The API and the two methods are told in
 * stw.h; this file is the stop-the-world path.
 *
 * Owns: the stop-the-world lock (stw_lock), the tracer task (one per process, kept between
 *   stops) and its stack, the signal fallback's handler and mailbox, the exclusion table, the
 *   world's vector-lane array. Per-cycle state lives in `cyc`, which only the lock holder
 *   (and its tracer) touches.
 * Locks: stw_lock only, held from scvgc_stw_stop to scvgc_stw_start; it ranks between OWN
 *   and WB (internal.h "lock ranks"): the collector takes it with every core lock but WB
 *   held, and nothing is taken under it but WB. Not a scvgc_lock_t:
 *   its word is the holder's pid, so a fork child finds a parent's hold stale and takes it
 *   over.
 * Callers: any program thread or the collector (the "stopper"); the tracer task (helper,
 *   clone()d with CLONE_VM but in a thread group of its own; the program's one child of
 *   ours, kept between stops) and its own child the seizer, which ptraces our threads; the
 *   seizer too is kept between stops (no process is created per stop, issue 14): it lets
 *   go of each thread with PTRACE_DETACH, and exits instead only after a stop that left a
 *   thread it cannot detach (seizer_main); every stopped thread runs stw_handler under the
 *   fallback.
 * Invariants:
 *   - nothing here calls libc while a thread is stopped, nor anywhere in the tracer, the
 *     seizer or the handler: system calls are inline `syscall` instructions (no errno, no
 *     TLS: the tracer shares the caller's thread pointer), memory is mmap'd, /proc is read with
 *     getdents64. libc is called only by the stopper before anything is stopped: errno,
 *     memset, sigaction() to (re)install the fallback, scvgc_message() for its notice.
 *   - w->threads[0] is the caller; every tid listed in /proc/self/task while the world is
 *     stopped has exactly one slot (stopping rescans until a pass finds nothing new).
 *   - a stop that cannot vouch for every root counts in nfailed (issue 19): a thread is GONE
 *     only when /proc no longer shows it alive (ESRCH alone may mean a tid of another PID
 *     namespace), a /proc whose list lacks gettid() names nothing but a lone caller, and a
 *     process sharing our address space from another thread group (shared_vm) fails it.
 *   - the process's own settings are left as they are: PR_SET_DUMPABLE is never lifted (a
 *     non-dumpable process is stopped with signals) and PR_SET_PTRACER never set (it would
 *     replace the program's one exception, and cannot be read back).
 *   - between stops no thread of the program is traced: the seizer has detached every
 *     thread it stopped, or exited (which lets go of every tracee, stopped or not), before
 *     ctl reads TR_IDLE again, and scvgc_stw_start returns only then. Neither the tracer nor
 *     the seizer holds a descriptor between stops, nor is either pinned to a CPU (each
 *     takes back its maker's affinity once running: take_back_affinity).
 *   - a stop holds every thread it reports STOPPED until scvgc_stw_start. The tracer dies
 *     with the thread that made it (PR_SET_PDEATHSIG), the seizer with the tracer, and the
 *     seizer's exit lets go of every thread: so a ptrace stop is reported only with the
 *     tracer's maker held (the caller, a stopped thread, or a library thread: maker_held);
 *     one whose maker is exiting lets go and is made again with a tracer of the caller's
 *     (ptrace_stop_held). A tracer killed from outside is seen by scvgc_stw_held: the seizer
 *     moves ctl only by compare-and-swap (ctl_move), so the kernel's zeroing of ctl at the
 *     tracer's exit is never overwritten.
 *   - a STOPPED thread's vector registers are all in w->vec (every lane that could be an
 *     address): a thread whose extended state could not be read is FAILED, not STOPPED.
 *   - the fallback handler never touches the thread array (which may move when it grows):
 *     it publishes a record on its own stack through the tagged mailbox `sig.acks` and
 *     waits; a push can only succeed while its cycle is open, so every record the stopper
 *     reads belongs to a thread that will wait for the next resume.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "stw.h"

#if !defined(__x86_64__)
#error "stw.c: x86-64 Linux only"
#endif

#ifndef PR_SET_PTRACER
#define PR_SET_PTRACER 0x59616d61
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef KCMP_VM
#define KCMP_VM 1
#endif
#ifndef ARCH_GET_FS
#define ARCH_GET_FS 0x1003
#endif

/* Internal slot states while stopping; none survives scvgc_stw_stop. */
enum { ST_NEW = 0,   /* listed, nothing sent yet */
       ST_WAIT = 6,  /* interrupt or signal sent, no answer yet */
       ST_HELD = 7 }; /* fallback: it would not take the signal (blocks_signal), not sent */

/* ---- raw system calls: no errno, no TLS, no PLT -------------------------------------- */
static inline long sc6(long n, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#define sc0(n) sc6(n, 0, 0, 0, 0, 0, 0)
#define sc1(n, a) sc6(n, (long)(a), 0, 0, 0, 0, 0)
#define sc2(n, a, b) sc6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sc3(n, a, b, c) sc6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sc4(n, a, b, c, d) sc6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

static inline pid_t r_getpid(void) { return (pid_t)sc0(SYS_getpid); }
static inline pid_t r_gettid(void) { return (pid_t)sc0(SYS_gettid); }
static inline long r_close(int fd) { return sc1(SYS_close, fd); }
static inline long r_ptrace(long req, pid_t tid, long addr, long data) {
  return sc4(SYS_ptrace, req, tid, addr, data);
}
static inline long r_futex(void *w, int op, uint32_t val, const struct timespec *ts) {
  return sc6(SYS_futex, (long)w, op, val, (long)ts, 0, 0);
}
static inline long r_sigmask(int how, const uint64_t *set, uint64_t *old) {
  return sc4(SYS_rt_sigprocmask, how, set, old, 8);
}
static inline void *r_mmap(size_t n) {
  long p = sc6(SYS_mmap, 0, (long)n, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p < 0 && p > -4096 ? NULL : (void *)p;
}
static inline uint64_t r_now(void) {
  struct timespec ts;
  sc2(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static inline struct timespec ns_ts(uint64_t ns) {
  return (struct timespec){(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
}

/* The glibc clone() wrapper would do, but this one needs no PLT entry and no errno. The
 * child starts on `stack` (16-byte aligned top) with fn and arg pushed, calls fn(arg) and
 * exits with its result through SYS_exit (never exit(): atexit handlers are the program's). */
static long raw_clone(unsigned long flags, void *stack, uint32_t *ctid, int (*fn)(void *),
                      void *arg) {
  uintptr_t *sp = (uintptr_t *)stack;
  *--sp = (uintptr_t)arg;
  *--sp = (uintptr_t)fn;
  register long r10 __asm__("r10") = (long)ctid;
  register long r8 __asm__("r8") = 0;
  long ret;
  __asm__ volatile("syscall\n\t"
                   "test %%rax, %%rax\n\t"
                   "jnz 1f\n\t"
                   "xor %%ebp, %%ebp\n\t" /* child: outermost frame */
                   "pop %%rax\n\t"
                   "pop %%rdi\n\t"
                   "call *%%rax\n\t"
                   "mov %%eax, %%edi\n\t"
                   "mov %[nexit], %%eax\n\t"
                   "syscall\n\t"
                   "hlt\n"
                   "1:"
                   : "=a"(ret)
                   : "0"((long)SYS_clone), "D"(flags), "S"(sp), "d"(0), "r"(r10), "r"(r8),
                     [nexit] "i"(SYS_exit)
                   : "rcx", "r11", "memory");
  return ret;
}

/* ---- the stop-the-world lock ------------------------------------------------------- */
static _Atomic uint32_t stw_lock; /* 0 free, else the pid of the holding process */
static _Atomic pid_t stw_holder;   /* tid of the holder (a recursive stop is a bug) */

/* Returns true when it took over a hold inherited from the parent of a fork. */
static bool lock_take(uint32_t pid, pid_t tid) {
  SCVGC_ASSERT(!(atomic_load(&stw_lock) == pid && atomic_load(&stw_holder) == tid));
  for (;;) {
    uint32_t v = 0;
    if (atomic_compare_exchange_strong(&stw_lock, &v, pid)) break;
    if (v != pid) { /* held in the parent when it forked: nobody here will release it */
      if (atomic_compare_exchange_strong(&stw_lock, &v, pid)) {
        atomic_store(&stw_holder, tid);
        return true;
      }
      continue;
    }
    r_futex(&stw_lock, FUTEX_WAIT_PRIVATE, v, NULL);
  }
  atomic_store(&stw_holder, tid);
  return false;
}

static void lock_release(void) {
  SCVGC_ASSERT(atomic_load(&stw_lock) == (uint32_t)r_getpid());
  atomic_store(&stw_holder, 0);
  atomic_store(&stw_lock, 0);
  r_futex(&stw_lock, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
}

/* ---- exclusion table: (pid << 32 | tid), 0 = empty ----------------------------------- */
static _Atomic uint64_t excluded[SCVGC_STW_MAX_EXCLUDED];
static _Atomic int nexcluded_hw; /* high-water mark of used entries */

int scvgc_stw_exclude(pid_t tid) {
  uint64_t e = (uint64_t)(uint32_t)r_getpid() << 32 | (uint32_t)tid;
  for (int i = 0; i < SCVGC_STW_MAX_EXCLUDED; i++) {
    uint64_t z = 0;
    if (atomic_compare_exchange_strong(&excluded[i], &z, e)) {
      int hw = atomic_load(&nexcluded_hw);
      while (hw < i + 1 && !atomic_compare_exchange_weak(&nexcluded_hw, &hw, i + 1)) {}
      return 0;
    }
  }
  return -1;
}

void scvgc_stw_unexclude(pid_t tid) {
  uint64_t e = (uint64_t)(uint32_t)r_getpid() << 32 | (uint32_t)tid;
  int hw = atomic_load(&nexcluded_hw);
  for (int i = 0; i < hw; i++) {
    uint64_t v = e;
    atomic_compare_exchange_strong(&excluded[i], &v, 0);
  }
}

static bool is_excluded(uint32_t pid, pid_t tid) {
  uint64_t e = (uint64_t)pid << 32 | (uint32_t)tid;
  int hw = atomic_load_explicit(&nexcluded_hw, memory_order_relaxed);
  for (int i = 0; i < hw; i++)
    if (atomic_load_explicit(&excluded[i], memory_order_relaxed) == e) return true;
  return false;
}

/* ---- per-cycle state (lock holder and its tracer only) ------------------------------- */
enum { TR_EXITED = 0, TR_RUNNING = 1, TR_STOPPED = 2, TR_REFUSED = 3, TR_IDLE = 4 };
enum { GO_WAIT = 0, GO_STOP = 1, GO_RESUME = 2 };

/* The tracer task: made at the first ptrace stop of a process, kept for its life (the
 * program sees at most this one child of ours), re-made when it ended (see tracer_main).
 * tracer_owner tells a fork child that tracer_pid is its parent's. Lock holder only. */
static pid_t tracer_pid;
static uint32_t tracer_owner;
static pid_t tracer_maker; /* the thread that made it: its exit kills the tracer (below) */
#define TRACER_CHECK_NS (1000ull * 1000 * 1000) /* idle tracer or seizer: has the process exec'd? */
/* /proc/PID/task in the tracer's file table, opened and closed by each seizer. */
static int seizer_taskfd = -1;

static struct {
  uint32_t pid;          /* our process */
  pid_t self;            /* the caller */
  pid_t proc_self;       /* the caller's tid as /proc names it: self, or another PID
                            namespace's number when /proc is not ours (see scvgc_stw_stop) */
  int saw_self;          /* scan_new found self in /proc/self/task */
  int foreign_ns;        /* /proc lists tids of another PID namespace: none can be named */
  int taskfd;            /* /proc/self/task, opened by the caller in the program's file
                            table (the tracer has a table of its own), closed by start */
  uint64_t saved_mask;   /* the caller's signal mask, restored by start */
  int oom;               /* a thread got no slot: counted failed once */
  uint64_t timeout;
  scvgc_world_t *w;
  /* ptrace */
  _Atomic uint32_t ctl;  /* TR_*: TR_IDLE -> TR_RUNNING by the caller (claiming the
                            tracer), -> TR_STOPPED or TR_REFUSED by the seizer, -> TR_IDLE
                            by the tracer once the seizer is gone; zeroed by the kernel at
                            the tracer's exit (CLONE_CHILD_CLEARTID, a shared-futex wake) */
  _Atomic uint32_t go;   /* GO_*: GO_STOP and GO_RESUME written by the caller (the tracer
                            makes a seizer on GO_STOP, which lets go on GO_RESUME), GO_WAIT
                            by the tracer before it reads TR_IDLE */
  _Atomic uint32_t outcome; /* TR_STOPPED or TR_REFUSED, written by the tracer before it
                               changes ctl: ctl itself may already read TR_EXITED */
  int refusal;           /* errno of the refused PTRACE_SEIZE */
  _Atomic pid_t seizer;  /* the tracer's child (kept between stops), 0 when it has none */
  _Atomic int killed_by; /* the signal that ended the last seizer or tracer, 0 if none or
                            our own SIGKILL: set by the tracer (its seizer) and tracer_reap */
  int keep_seizer;       /* the seizer may outlive this stop (set by the caller per stop):
                            not in a process that reaps orphans (see seizer_may_stay) */
  pid_t maker;           /* tracer_maker, for the seizer (set by the caller per stop) */
} cyc;

static int force_signals;

static const char *fallback_reason;
int scvgc_stw_fallback_reported;
static int yama_scope = -2; /* -2 unknown, -1 no Yama */
/* After a refusal, ptrace is tried again only after SCVGC_STW_PTRACE_RETRY_NS, or in
 * another process (a fork child): a traced program would otherwise pay a tracer start and a
 * refused attach (~100 us) on every cycle, but a debugger may also detach. */
#define SCVGC_STW_PTRACE_RETRY_NS (10ull * 1000 * 1000 * 1000)
static uint32_t refused_pid;
static uint64_t refused_until;

void scvgc_stw_force_signals(int on) { force_signals = on; }
void scvgc_stw_assume_yama_scope(int scope) { yama_scope = scope; }
const char *scvgc_stw_fallback_reason(void) { return fallback_reason; }

/* ---- the thread array and its tid index ------------------------------------------- */
static size_t page_round(size_t n) { return (n + 4095) & ~(size_t)4095; }

static uint32_t hash_tid(pid_t tid, size_t icap) {
  return (uint32_t)(((uint32_t)tid * 2654435761u) & (icap - 1));
}

static void index_put(scvgc_world_t *w, pid_t tid, int slot) {
  uint32_t h = hash_tid(tid, w->icap);
  while (w->index[h]) h = (h + 1) & (uint32_t)(w->icap - 1);
  w->index[h] = slot + 1;
}

static scvgc_thread_t *lookup(scvgc_world_t *w, pid_t tid) {
  uint32_t h = hash_tid(tid, w->icap);
  for (int32_t s; (s = w->index[h]); h = (h + 1) & (uint32_t)(w->icap - 1))
    if (w->threads[s - 1].tid == tid) return &w->threads[s - 1];
  return NULL;
}

/* Make room for `need` slots: the array is remapped (it may move: nothing holds pointers into
 * it across a call), the index rebuilt at twice the size. Raw syscalls: the tracer calls it. */
static int world_grow(scvgc_world_t *w, size_t need) {
  if (need <= w->cap) return 0;
  size_t ncap = w->cap ? w->cap * 2 : 256;
  while (ncap < need) ncap *= 2;
  size_t ob = page_round(w->cap * sizeof(scvgc_thread_t));
  size_t nb = page_round(ncap * sizeof(scvgc_thread_t));
  ncap = nb / sizeof(scvgc_thread_t);
  size_t icap = 1;
  while (icap < 2 * ncap) icap *= 2;
  int32_t *idx = r_mmap(icap * sizeof(int32_t));
  if (!idx) return -1;
  void *p;
  if (w->threads) {
    long r = sc6(SYS_mremap, (long)w->threads, (long)ob, (long)nb, MREMAP_MAYMOVE, 0, 0);
    p = r < 0 && r > -4096 ? NULL : (void *)r;
  } else {
    p = r_mmap(nb);
  }
  if (!p) {
    sc2(SYS_munmap, idx, icap * sizeof(int32_t));
    return -1;
  }
  if (w->index) {
    sc2(SYS_munmap, w->index, w->icap * sizeof(int32_t));
    atomic_fetch_sub(&scvgc_gc_sys, w->icap * sizeof(int32_t));
  }
  atomic_fetch_add(&scvgc_gc_sys, nb - ob + icap * sizeof(int32_t));
  w->threads = p;
  w->cap = ncap;
  w->index = idx;
  w->icap = icap;
  for (int i = 0; i < w->nthreads; i++) index_put(w, w->threads[i].tid, i);
  return 0;
}

static scvgc_thread_t *add_slot(scvgc_world_t *w, pid_t tid, int state) {
  if ((size_t)w->nthreads == w->cap && world_grow(w, w->cap + 1) < 0) return NULL;
  int i = w->nthreads++;
  scvgc_thread_t *t = &w->threads[i];
  *t = (scvgc_thread_t){.tid = tid, .state = state};
  index_put(w, tid, i);
  return t;
}

/* ---- vector lanes ------------------------------------------------------------------ */
/* Could v be a user-space address? Lanes that cannot (0, doubles, small integers) are
 * dropped, which keeps w->vec small: most lanes of an xsave image are one of those. */
static inline bool lane_kept(uintptr_t v) { return v >= 4096 && v < ((uintptr_t)1 << 57); }

/* Append the kept 8-byte lanes of words[0, n) to w->vec as t's lanes (t must be the last
 * thread given lanes). Raw syscalls: the tracer calls it. On no memory the thread is
 * FAILED: a lost lane could be the only pointer to an object. */
static void vec_add(scvgc_world_t *w, scvgc_thread_t *t, const uintptr_t *words, size_t n) {
  if (t->nvec == 0) t->vec_off = (uint32_t)w->nvec;
  for (size_t i = 0; i < n; i++) {
    uintptr_t v = words[i];
    if (!lane_kept(v)) continue;
    if (w->nvec == w->vcap) {
      size_t ob = w->vcap * sizeof(uintptr_t), nb = ob ? 2 * ob : 65536;
      void *p;
      if (w->vec) {
        long r = sc6(SYS_mremap, (long)w->vec, (long)ob, (long)nb, MREMAP_MAYMOVE, 0, 0);
        p = r < 0 && r > -4096 ? NULL : (void *)r;
      } else {
        p = r_mmap(nb);
      }
      if (!p) {
        t->state = SCVGC_STW_FAILED;
        return;
      }
      atomic_fetch_add(&scvgc_gc_sys, nb - ob);
      w->vec = p;
      w->vcap = nb / sizeof(uintptr_t);
    }
    w->vec[w->nvec++] = v;
    t->nvec++;
  }
}

void scvgc_stw_free(scvgc_world_t *w) {
  if (w->vec) {
    sc2(SYS_munmap, w->vec, w->vcap * sizeof(uintptr_t));
    atomic_fetch_sub(&scvgc_gc_sys, w->vcap * sizeof(uintptr_t));
  }
  w->vec = NULL;
  w->nvec = w->vcap = 0;
  if (w->threads) {
    size_t b = page_round(w->cap * sizeof(scvgc_thread_t));
    sc2(SYS_munmap, w->threads, b);
    atomic_fetch_sub(&scvgc_gc_sys, b);
  }
  if (w->index) {
    sc2(SYS_munmap, w->index, w->icap * sizeof(int32_t));
    atomic_fetch_sub(&scvgc_gc_sys, w->icap * sizeof(int32_t));
  }
  w->threads = NULL;
  w->index = NULL;
  w->cap = w->icap = 0;
  w->nthreads = 0;
}

/* ---- /proc/self/task ------------------------------------------------------------------ */
struct dirent64_k {
  uint64_t d_ino;
  int64_t d_off;
  uint16_t d_reclen;
  uint8_t d_type;
  char d_name[];
};

/* Add a slot (ST_NEW, or EXCLUDED) for every listed tid that has none. Returns the number
 * added, or -1 when the list cannot be read. Callable from the tracer. */
static int scan_new(scvgc_world_t *w, int dirfd) {
  _Alignas(8) char buf[4096];
  int added = 0;
  if (sc3(SYS_lseek, dirfd, 0, SEEK_SET) < 0) return -1;
  for (;;) {
    long n = sc3(SYS_getdents64, dirfd, buf, sizeof buf);
    if (n < 0) return -1;
    if (n == 0) break;
    for (long pos = 0; pos < n;) {
      struct dirent64_k *d = (struct dirent64_k *)(buf + pos);
      pos += d->d_reclen;
      pid_t tid = 0;
      const char *c = d->d_name;
      if (*c < '0' || *c > '9') continue;
      for (; *c >= '0' && *c <= '9'; c++) tid = tid * 10 + (*c - '0');
      if (tid == cyc.self) cyc.saw_self = 1;
      if (lookup(w, tid)) continue;
      int state = is_excluded(cyc.pid, tid) ? SCVGC_STW_EXCLUDED : ST_NEW;
      if (cyc.oom) continue;
      if (!add_slot(w, tid, state)) {
        cyc.oom = 1; /* one failure stands for every thread without a slot */
        continue;
      }
      added++;
    }
  }
  return added;
}

/* Read /proc/self/task/<tid>/<leaf> into buf (NUL-terminated); length or -1. */
static long read_task_file(int dirfd, pid_t tid, const char *leaf, char *buf, size_t n) {
  char path[40];
  char digits[12];
  int k = 0, m = 0;
  do digits[k++] = (char)('0' + tid % 10); while ((tid /= 10) && k < 11);
  while (k) path[m++] = digits[--k];
  path[m++] = '/';
  while (*leaf && m < (int)sizeof path - 1) path[m++] = *leaf++;
  path[m] = 0;
  long fd = sc4(SYS_openat, dirfd, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return -1;
  long len = sc3(SYS_read, fd, buf, n - 1);
  r_close((int)fd);
  if (len < 0) return -1;
  buf[len] = 0;
  return len;
}

/* The state letter of /proc/self/task/<tid>/stat (R, S, D, Z, ...); 'X' when it is gone. */
static char task_state(int dirfd, pid_t tid) {
  char buf[512];
  if (read_task_file(dirfd, tid, "stat", buf, sizeof buf) < 0) return 'X';
  const char *p = NULL;
  for (const char *c = buf; *c; c++)
    if (*c == ')') p = c; /* comm may contain ')': the state follows the last one */
  if (!p || !p[1] || !p[2]) return '?';
  return p[2];
}

/* The thread has exited, or is a zombie (a main thread that called pthread_exit stays
 * listed, as a zombie, until the process ends): nothing of it can run or be scanned. */
static bool thread_dead(int dirfd, pid_t tid) {
  char s = task_state(dirfd, tid);
  return s == 'Z' || s == 'X' || s == 'x';
}

/* Is the thread waiting in vfork for its child to exec or exit? It sleeps uninterruptibly
 * (D) in the kernel's clone: wchan names wait_for_vfork_done, or the function it is inlined
 * into (kernel_clone since 5.10, _do_fork before). No stop or signal takes effect there. */
static bool in_vfork(int dirfd, pid_t tid) {
  if (task_state(dirfd, tid) != 'D') return false;
  char buf[64];
  if (read_task_file(dirfd, tid, "wchan", buf, sizeof buf) < 0) return false;
  static const char *const names[] = {"wait_for_vfork_done", "kernel_clone", "_do_fork",
                                      "do_fork"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    const char *a = buf, *b = names[i];
    while (*b && *a == *b) a++, b++;
    if (!*b && (!*a || *a == '\n')) return true;
  }
  return false;
}

static const char *status_field(const char *buf, const char *key);
static bool caller_seccomp(void);
static const char tracer_died[] = "the tracer died";
static const char tracer_orphaned[] = "the thread that made the tracer is exiting";
static const char seccomp_filtered[] =
    "a seccomp filter is installed (one that kills on ptrace would kill the tracer, with a "
    "core dump of the whole address space)";
static const char tracer_killed[] =
    "the tracer was killed by a signal (a seccomp filter that kills on ptrace?)";
/* A process whose tracer was killed, or which runs under a seccomp filter (filters are never
 * lifted), never tries ptrace again: each try would cost a dead tracer, a core dump and an
 * audit record. Lock holder only; a fork child (another pid) looks again. */
static uint32_t ptrace_never_pid;
static const char *ptrace_never_why;


/* ---- ptrace: the tracer task ------------------------------------------------------- */
#define TRACER_STACK (64 * 1024)
#define SEIZER_STACK (256 * 1024)
/* Mapped once each, a guard page at the low end, reused by every tracer and seizer. */
static char *tracer_stack, *seizer_stack;

/* Apply one wait4 status to thread t (ST_WAIT, or a FAILED one that stopped late). */
static void tracer_event(scvgc_thread_t *t, int status) {
  if (WIFEXITED(status) || WIFSIGNALED(status)) {
    t->state = SCVGC_STW_GONE;
  } else if (WIFSTOPPED(status)) {
    /* PTRACE_EVENT_STOP: our interrupt (or a group stop). Otherwise a signal-delivery
     * stop: stopped all the same; the signal goes back at the release. */
    if ((status >> 16) != PTRACE_EVENT_STOP) t->signal = WSTOPSIG(status);
    t->state = SCVGC_STW_STOPPED;
  }
}

/* Wait (at most until deadline) for every ST_WAIT thread to report its stop. Each sweep
 * asks wait4 about each waiting tid: wait4(-1) walks every tracee in the kernel, which made
 * a cycle quadratic (1000 threads: 70 ms). Between sweeps, SIGCHLD (blocked in the tracer,
 * so a stop after the sweep leaves it pending: no lost wake-up) says something changed. */
static void tracer_wait(scvgc_world_t *w, int pending, uint64_t deadline) {
  uint64_t chld = (uint64_t)1 << (SIGCHLD - 1);
  uint64_t vfork_check = r_now() + SCVGC_STW_VFORK_CHECK_NS;
  while (pending > 0) {
    for (int i = 1; i < w->nthreads && pending > 0; i++) {
      scvgc_thread_t *t = &w->threads[i];
      if (t->state != ST_WAIT) continue;
      int status;
      long r = sc4(SYS_wait4, t->tid, &status, __WALL | WNOHANG, 0);
      if (r == t->tid) tracer_event(t, status);
      else if (r == -ECHILD) t->state = SCVGC_STW_GONE; /* reaped: not ours any more */
      if (t->state != ST_WAIT) pending--;
    }
    if (pending <= 0) break;
    uint64_t now = r_now();
    if (now >= deadline) break;
    if (now >= vfork_check) {
      /* Not stopped yet: a thread in vfork would hold the world stopped until the
       * timeout (or its child's exec, whichever first) and then fail anyway: fail it now. */
      vfork_check = now + SCVGC_STW_GRACE_NS;
      for (int i = 1; i < w->nthreads; i++) {
        scvgc_thread_t *t = &w->threads[i];
        if (t->state == ST_WAIT && in_vfork(seizer_taskfd, t->tid))
          t->state = SCVGC_STW_FAILED, pending--;
      }
      if (pending <= 0) break;
    }
    uint64_t until = vfork_check < deadline ? vfork_check : deadline;
    struct timespec ts = ns_ts(until - now);
    sc4(SYS_rt_sigtimedwait, &chld, NULL, &ts, 8);
  }
}

/* Seize and interrupt the ST_NEW threads from slot `from`, wait for them; rescan until
 * nothing new appears. 0, or -errno when ptrace is refused (nothing is left stopped). */
static int tracer_stop_all(scvgc_world_t *w) {
  int from = 1;
  for (;;) {
    int pending = 0;
    for (int i = from; i < w->nthreads; i++) {
      scvgc_thread_t *t = &w->threads[i];
      if (t->state != ST_NEW) continue;
      long r = r_ptrace(PTRACE_SEIZE, t->tid, 0, 0);
      if (r == -ESRCH) {
        /* Gone only when /proc says so: a listed tid that ptrace cannot name (another PID
         * namespace's number) is a thread that runs on. */
        t->state = thread_dead(seizer_taskfd, t->tid) ? SCVGC_STW_GONE : SCVGC_STW_FAILED;
      } else if (r < 0) {
        if (thread_dead(seizer_taskfd, t->tid)) {
          t->state = SCVGC_STW_GONE; /* exiting or zombie: attach refuses those too */
          continue;
        }
        return (int)r; /* our exit lets go of the threads seized so far */
      } else {
        r_ptrace(PTRACE_INTERRUPT, t->tid, 0, 0); /* ESRCH: its exit is reported by wait4 */
        t->state = ST_WAIT;
        pending++;
      }
    }
    from = w->nthreads;
    tracer_wait(w, pending, r_now() + cyc.timeout);
    for (int i = 1; i < w->nthreads; i++)
      if (w->threads[i].state == ST_WAIT) w->threads[i].state = SCVGC_STW_FAILED;
    /* A thread that ran until now may have created others: look again, until a pass over
     * the list (with every known thread stopped) finds nothing new. */
    int added = scan_new(w, seizer_taskfd);
    if (added <= 0) return 0;
  }
}

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif
#define XSTATE_MAX 16384 /* bytes of a thread's xsave image read (AVX-512: 2.7 KB) */

static void tracer_fill_regs(scvgc_thread_t *t) {
  struct user_regs_struct u;
  if (r_ptrace(PTRACE_GETREGS, t->tid, 0, (long)&u) < 0) {
    t->state = SCVGC_STW_FAILED; /* cannot happen to a stopped tracee; be safe */
    return;
  }
  uintptr_t *r = t->regs;
  r[SCVGC_REG_RAX] = u.rax; r[SCVGC_REG_RCX] = u.rcx; r[SCVGC_REG_RDX] = u.rdx;
  r[SCVGC_REG_RBX] = u.rbx; r[SCVGC_REG_RSP] = u.rsp; r[SCVGC_REG_RBP] = u.rbp;
  r[SCVGC_REG_RSI] = u.rsi; r[SCVGC_REG_RDI] = u.rdi; r[SCVGC_REG_R8] = u.r8;
  r[SCVGC_REG_R9] = u.r9;   r[SCVGC_REG_R10] = u.r10; r[SCVGC_REG_R11] = u.r11;
  r[SCVGC_REG_R12] = u.r12; r[SCVGC_REG_R13] = u.r13; r[SCVGC_REG_R14] = u.r14;
  r[SCVGC_REG_R15] = u.r15;
  t->nregs = SCVGC_STW_NREGS;
  t->sp = u.rsp;
  t->pc = u.rip;
  t->tp = u.fs_base;
  /* The vector registers: the thread's whole xsave image in the standard layout (legacy
   * x87/MMX/xmm area, header, then ymm upper halves, opmasks, zmm...). A component in its
   * init state reads as zeros. Larger images (AMX tiles) are cut at XSTATE_MAX: tile data
   * holds no pointers a program could load back into a register without memory. Where the
   * kernel has no xstate regset, PTRACE_GETFPREGS gives the legacy area (x87, xmm0-15). */
  _Alignas(64) uintptr_t xs[XSTATE_MAX / sizeof(uintptr_t)];
  struct iovec iov = {xs, sizeof xs};
  if (r_ptrace(PTRACE_GETREGSET, t->tid, NT_X86_XSTATE, (long)&iov) == 0) {
    vec_add(cyc.w, t, xs, iov.iov_len / sizeof(uintptr_t));
  } else if (r_ptrace(PTRACE_GETFPREGS, t->tid, 0, (long)xs) == 0) {
    vec_add(cyc.w, t, xs, sizeof(struct user_fpregs_struct) / sizeof(uintptr_t));
  } else {
    t->state = SCVGC_STW_FAILED; /* its vector registers are unknown */
  }
}

/* Is the process that made the tracer still the one it serves, in the same address space?
 * kcmp fails or differs once that process has exited (the tracer was reparented) or
 * exec'd (the tracer holds the old address space alone). */
static bool tracer_still_ours(void) {
  long me = sc0(SYS_getpid); /* the tracer's own: it is a process of its own */
  return sc6(SYS_kcmp, me, (long)cyc.pid, KCMP_VM, 0, 0, 0) == 0;
}

/* A thread caught in a signal-delivery stop gets its signal back only through
 * PTRACE_DETACH: wait4 consumed it (the kernel zeroes the tracee's exit_code when it
 * reports the stop), so letting go by our exit alone would lose it. Rare: one syscall each. */
static void seizer_release_signals(scvgc_world_t *w) {
  for (int i = 1; i < w->nthreads; i++) {
    scvgc_thread_t *t = &w->threads[i];
    if (t->state == SCVGC_STW_STOPPED && t->signal)
      r_ptrace(PTRACE_DETACH, t->tid, 0, t->signal);
  }
}

/* How many stopped threads the seizer lets go of one by one (and lives on) rather than by
 * its exit (and a new seizer, a clone(), at the next stop). Each PTRACE_DETACH makes one
 * thread runnable while the seizer still has the rest to do, and a woken thread may take
 * the seizer's CPU from it (wakeup preemption): on a loaded 2-CPU machine, 64 idle threads
 * took 11.5 ms to let go of one by one against 1.2 ms by exit, whose single pass in the
 * kernel (exit_ptrace, under the tasklist lock) cannot be preempted. With a few threads
 * the clone saved is worth more (1 thread: 82 -> 62 us per stop+start). */
#define SEIZER_DETACH_MAX 8

/* Let go of every thread of this stop one by one, each with the signal its stop consumed.
 * True when none is left traced: every seized thread was STOPPED (FAILED ones — no answer,
 * in vfork, registers unreadable — may still be seized and running, which PTRACE_DETACH
 * cannot reach) and each detach succeeded or found the thread gone (ESRCH: killed since).
 * False, having let go only of those that had a signal to get back: the caller exits,
 * which lets go of every other tracee at once (exit_ptrace) — also when the stop held
 * more than SEIZER_DETACH_MAX threads, or the seizer may not stay (seizer_may_stay). */
static bool seizer_detach_all(scvgc_world_t *w) {
  int stopped = 0;
  for (int i = 1; i < w->nthreads; i++) {
    int st = w->threads[i].state;
    stopped += st == SCVGC_STW_STOPPED;
    if (st == SCVGC_STW_FAILED) stopped = SEIZER_DETACH_MAX + 1; /* maybe seized, running */
  }
  if (stopped > SEIZER_DETACH_MAX || !cyc.keep_seizer) {
    seizer_release_signals(w); /* our exit lets go of the rest */
    return false;
  }
  bool clean = true;
  for (int i = 1; i < w->nthreads; i++) {
    scvgc_thread_t *t = &w->threads[i];
    if (t->state != SCVGC_STW_STOPPED) continue;
    long r = r_ptrace(PTRACE_DETACH, t->tid, 0, t->signal);
    if (r < 0 && r != -ESRCH) clean = false; /* still traced: our exit lets go of it */
  }
  return clean;
}

/* The seizer: a child of the tracer (so never the program's), on seizer_stack, made at the
 * first stop and kept between stops (issue 14: a stop costs no process creation). Each
 * stop: it stops the world, publishes TR_STOPPED, waits for GO_RESUME, lets go of every
 * thread with PTRACE_DETACH (seizer_detach_all), and goes back to TR_IDLE itself, waiting
 * for the next GO_STOP. It exits instead (and the tracer, reaping it, says TR_IDLE) when a
 * stop leaves a thread it cannot detach (FAILED: the kernel lets go of every tracee at our
 * exit, stopped or not, exit_ptrace), when ptrace is refused (the threads seized so far
 * go with our exit), and when the process exec'd or exited (the check of TRACER_CHECK_NS
 * while idle; exit status 2 tells the tracer to end too). /proc/PID/task is opened in the
 * tracer's file table (CLONE_FILES) for each stop and closed before the world runs again:
 * between stops the tracer holds no descriptor at all. */
static void take_back_affinity(void);

/* Is the thread that made the tracer held for the whole stop? The tracer dies with it
 * (PR_SET_PDEATHSIG), and the seizer with the tracer, and the seizer's exit lets go of every
 * thread it stopped: a maker that exits during a stop would set the world running while the
 * collector marks. So the maker must be the caller, stopped (a stopped thread cannot exit:
 * only a SIGKILL of the whole process ends it, and then nothing is left to mark for), or a
 * library thread (excluded: it ends only after the program's last thread, own.c L3). A
 * maker seen exiting or gone fails the stop before it is reported, and the caller makes a
 * tracer of its own (scvgc_stw_stop). */
static bool maker_held(const scvgc_world_t *w) {
  if (cyc.maker == cyc.self) return true;
  for (int i = 1; i < w->nthreads; i++)
    if (w->threads[i].tid == cyc.maker)
      return w->threads[i].state == SCVGC_STW_STOPPED || w->threads[i].state == SCVGC_STW_EXCLUDED;
  return false;
}

/* The seizer's moves of ctl: a compare-and-swap from the state it expects, never a store.
 * The kernel zeroes ctl at the tracer's exit (CLONE_CHILD_CLEARTID) some microseconds before
 * the tracer's death reaches the seizer (PR_SET_PDEATHSIG): a store in that gap would hide the
 * death from the caller, which would then wait its deadline out with every core lock held,
 * or claim a dead tracer for the next stop, and kill a seizer pid long reaped. False: ctl no
 * longer reads `from` (the tracer is gone); the seizer exits, which lets go of every thread. */
static bool ctl_move(uint32_t from, uint32_t to) {
  if (!atomic_compare_exchange_strong(&cyc.ctl, &from, to)) return false;
  r_futex(&cyc.ctl, FUTEX_WAKE, INT32_MAX, NULL); /* shared: see cyc.ctl */
  return true;
}

static int seizer_main(void *arg) {
  sc2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
  take_back_affinity();
  if (sc0(SYS_getppid) != (long)(intptr_t)arg) return 1; /* the tracer is gone */
  char path[32] = "/proc/", digits[12];
  int k = 0, m = 6;
  uint32_t pid = cyc.pid;
  do digits[k++] = (char)('0' + pid % 10); while ((pid /= 10) && k < 11);
  while (k) path[m++] = digits[--k];
  for (const char *l = "/task"; *l;) path[m++] = *l++;
  path[m] = 0;
  for (;;) { /* here go reads GO_STOP, ctl TR_RUNNING: a stop is asked for */
    scvgc_world_t *w = cyc.w;
    seizer_taskfd = (int)sc4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    int r = seizer_taskfd < 0 ? seizer_taskfd : tracer_stop_all(w);
    if (r == 0 && !maker_held(w)) r = -EOWNERDEAD;
    if (seizer_taskfd >= 0) r_close(seizer_taskfd); /* the tracer's table holds none between stops */
    seizer_taskfd = -1;
    if (r < 0) {
      cyc.refusal = -r;
      seizer_release_signals(w);
      atomic_store(&cyc.outcome, TR_REFUSED);
      ctl_move(TR_RUNNING, TR_REFUSED);
      break; /* our exit lets go of the threads seized so far */
    }
    for (int i = 1; i < w->nthreads; i++)
      if (w->threads[i].state == SCVGC_STW_STOPPED) tracer_fill_regs(&w->threads[i]);
    atomic_store(&cyc.outcome, TR_STOPPED);
    if (!ctl_move(TR_RUNNING, TR_STOPPED)) break; /* the tracer died: our exit lets go */
    uint32_t g;
    while ((g = atomic_load(&cyc.go)) != GO_RESUME) r_futex(&cyc.go, FUTEX_WAIT_PRIVATE, g, NULL);
    if (!seizer_detach_all(w)) break; /* our exit lets go of the rest */
    /* Every thread runs again. Before TR_IDLE, which lets the caller claim us for the next
     * stop and set GO_STOP. */
    atomic_store(&cyc.go, GO_WAIT);
    if (!ctl_move(TR_STOPPED, TR_IDLE)) break; /* the tracer died meanwhile */
    while ((g = atomic_load(&cyc.go)) != GO_STOP) {
      struct timespec ts = ns_ts(TRACER_CHECK_NS);
      if (r_futex(&cyc.go, FUTEX_WAIT_PRIVATE, g, &ts) == -ETIMEDOUT && !tracer_still_ours()) {
        return 2; /* the process exec'd or exited: the tracer ends too */
      }
    }
  }
  return 0;
}

/* Make the child task fn(arg) on the top of stack with `flags`, started on this CPU: it
 * inherits a one-CPU affinity held for the length of the clone, and we sleep at once,
 * leaving it the CPU, while a new task sent to an idle CPU waits for that CPU to wake up,
 * which for a halted vCPU takes up to milliseconds (measured: 1.8 ms -> 50 us per cycle
 * with one thread). */
static uint64_t child_aff[16]; /* the maker's affinity, which the child takes back */
static long child_affn;        /* its size, 0: none to take back */

static long clone_here(unsigned long flags, char *stack, uint32_t *ctid, int (*fn)(void *),
                       void *arg) {
  uint64_t oldaff[16] = {0}, one[16] = {0};
  long affn = sc3(SYS_sched_getaffinity, 0, sizeof oldaff, oldaff);
  for (int i = 0; i < 16; i++) child_aff[i] = oldaff[i];
  child_affn = affn > 0 ? affn : 0;
  unsigned cpu = 0;
  if (affn > 0 && sc3(SYS_getcpu, &cpu, NULL, NULL) == 0 && cpu < 1024) {
    one[cpu / 64] = 1ull << (cpu % 64);
    if (sc3(SYS_sched_setaffinity, 0, sizeof one, one) != 0) affn = 0;
  } else {
    affn = 0;
  }
  long pid = raw_clone(flags, stack, ctid, fn, arg);
  if (affn > 0) sc3(SYS_sched_setaffinity, 0, (size_t)affn, oldaff);
  return pid;
}

/* A child of clone_here, once running: the maker's affinity back. The tracer and the seizer
 * live on between stops, and one pinned to the CPU of the stop that made it would wait for
 * that CPU at every later stop. Before anything else reads child_aff again (the tracer's
 * clone of a seizer rewrites it with the same mask, the world's lock held). */
static void take_back_affinity(void) {
  if (child_affn > 0) sc3(SYS_sched_setaffinity, 0, (size_t)child_affn, child_aff);
}

/* The tracer's file table starts as a copy of the program's: empty it at once, so that
 * the tracer holds none of the program's descriptors (a pipe's end, or one closed on exec,
 * stays open as long as any table holds it). close_range where the kernel has it (5.9),
 * else every entry of /proc/self/fd (the tracer's own). */
static void close_inherited_fds(void) {
  if (sc3(SYS_close_range, 0, ~0u, 0) == 0) return;
  long dir = sc4(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dir < 0) return;
  _Alignas(8) char buf[4096];
  for (;;) {
    long n = sc3(SYS_getdents64, dir, buf, sizeof buf);
    if (n <= 0) break;
    for (long pos = 0; pos < n;) {
      struct dirent64_k *d = (struct dirent64_k *)(buf + pos);
      pos += d->d_reclen;
      long fd = 0;
      const char *c = d->d_name;
      if (*c < '0' || *c > '9') continue;
      for (; *c >= '0' && *c <= '9'; c++) fd = fd * 10 + (*c - '0');
      if (fd != dir) r_close((int)fd);
    }
  }
  r_close((int)dir);
}

/* The tracer: the one child of the process, kept for its life, on tracer_stack, with every
 * signal blocked (inherited), sharing our memory but not our file table (it empties its
 * copy) nor our signal handlers.
 * Must not touch TLS. At a stop (GO_STOP) with no seizer it makes one and waits for its
 * end, which is after many stops (seizer_main serves each, and says TR_IDLE itself between
 * them) or after this one; once the seizer is gone the world is let go, and the tracer says
 * TR_IDLE. It exits when the thread that made it exits (PR_SET_PDEATHSIG, so with the
 * process too) or when the process exec'd (checked every TRACER_CHECK_NS while idle, by the
 * seizer while one waits: its exit status 2); the next stop makes a new one. */
static int tracer_main(void *arg) {
  (void)arg;
  sc2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
  sc2(SYS_prctl, PR_SET_NAME, "scvgc-tracer"); /* what ps shows for the program's child */
  take_back_affinity();
  /* Should anything kill it, no core dump: its address space is the program's whole heap.
   * Its limits are its own (no CLONE_THREAD); the seizers inherit them. */
  struct { uint64_t cur, max; } nocore = {0, 0};
  sc4(SYS_prlimit64, 0, RLIMIT_CORE, &nocore, NULL);
  close_inherited_fds();
  if (sc0(SYS_getppid) != (long)cyc.pid) return 1; /* the caller's process is gone */
  /* Stops of the seizer's tracees are announced by SIGCHLD, unless the program ignores it:
   * our handler table is a private copy (the seizer gets a copy of it), so reset it here. */
  struct { void *h; unsigned long flags; void *restorer; uint64_t mask; } dfl = {0};
  sc4(SYS_rt_sigaction, SIGCHLD, &dfl, NULL, 8);
  long me = sc0(SYS_getpid);
  for (;;) {
    uint32_t g;
    while ((g = atomic_load(&cyc.go)) != GO_STOP) {
      struct timespec ts = ns_ts(TRACER_CHECK_NS);
      if (r_futex(&cyc.go, FUTEX_WAIT_PRIVATE, g, &ts) == -ETIMEDOUT && !tracer_still_ours())
        return 0;
    }
    /* SIGCHLD at its exit: should the tracer die first, init can reap it. */
    long pid = clone_here(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_UNTRACED | SIGCHLD,
                          seizer_stack + SEIZER_STACK, NULL, seizer_main, (void *)(intptr_t)me);
    if (pid > 0) {
      atomic_store(&cyc.seizer, (pid_t)pid);
      int status = 0;
      while (sc4(SYS_wait4, pid, &status, __WALL, 0) == -EINTR) {}
      if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
        atomic_store(&cyc.killed_by, WTERMSIG(status));
      atomic_store(&cyc.seizer, 0);
      if (WIFEXITED(status) && WEXITSTATUS(status) == 2) return 0; /* exec'd: see seizer */
    }
    /* Before TR_IDLE, which lets the caller claim us for the next stop and set GO_STOP. */
    atomic_store(&cyc.go, GO_WAIT);
    atomic_store(&cyc.ctl, TR_IDLE); /* outcome still TR_RUNNING: the seizer died */
    r_futex(&cyc.ctl, FUTEX_WAKE, INT32_MAX, NULL);
  }
}

static int read_yama_scope(void) {
  char b[8] = {0};
  long fd = sc4(SYS_openat, AT_FDCWD, "/proc/sys/kernel/yama/ptrace_scope",
                O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return -1;
  long n = sc3(SYS_read, fd, b, sizeof b - 1);
  r_close((int)fd);
  return n > 0 && b[0] >= '0' && b[0] <= '9' ? b[0] - '0' : -1;
}

/* Wait for a tracer that is exiting or gone, and forget it. A program that reaps with
 * waitpid(-1, __WALL) may have taken it first: ECHILD. */
static void tracer_reap(void) {
  int status = 0;
  long r = 0;
  if (tracer_pid) while ((r = sc4(SYS_wait4, tracer_pid, &status, __WALL, 0)) == -EINTR) {}
  if (r > 0 && WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
    atomic_store(&cyc.killed_by, WTERMSIG(status));
  tracer_pid = 0;
}

/* Wait while ctl reads a or b, at most until deadline. Past it the seizer and the tracer
 * are killed (their exits let go of every thread) and the tracer reaped: false. */
static bool tracer_wait_ctl(uint32_t a, uint32_t b, uint64_t deadline) {
  uint32_t c;
  while ((c = atomic_load(&cyc.ctl)) == a || c == b) {
    uint64_t now = r_now();
    if (now >= deadline) {
      /* a seizer pid is ours only while the tracer lives (ctl not zeroed): a dead tracer's
       * last seizer was reparented and reaped, and its pid may name anything since */
      pid_t s = atomic_load(&cyc.seizer);
      if (s > 0 && atomic_load(&cyc.ctl) != TR_EXITED) sc2(SYS_kill, s, SIGKILL);
      sc2(SYS_kill, tracer_pid, SIGKILL);
      tracer_reap();
      return false;
    }
    struct timespec ts = ns_ts(deadline - now);
    r_futex(&cyc.ctl, FUTEX_WAIT, c, &ts);
  }
  return true;
}

/* The tracer, idle and claimed for a stop (ctl TR_RUNNING): the one we have, or a new
 * one. NULL, or why not. */
static const char *tracer_get(void) {
  if (tracer_owner != cyc.pid) { /* a fork child: the parent's tracer serves the parent */
    tracer_pid = 0;
    tracer_owner = cyc.pid;
    atomic_store(&cyc.ctl, TR_EXITED);
  }
  if (tracer_pid) {
    uint32_t idle = TR_IDLE;
    if (atomic_compare_exchange_strong(&cyc.ctl, &idle, TR_RUNNING)) return NULL;
    tracer_reap(); /* it exited since: its maker exited, or it was killed */
    if (atomic_load(&cyc.killed_by)) return tracer_killed; /* by a signal not ours */
  }
  if (!tracer_stack || !seizer_stack) {
    char *s = tracer_stack ? tracer_stack : r_mmap(TRACER_STACK);
    char *z = seizer_stack ? seizer_stack : r_mmap(SEIZER_STACK);
    if (s && !tracer_stack) sc3(SYS_mprotect, s, 4096, PROT_NONE); /* guard pages */
    if (z && !seizer_stack) sc3(SYS_mprotect, z, 4096, PROT_NONE);
    tracer_stack = s;
    seizer_stack = z;
    if (!s || !z) return "no memory for the tracer's stack";
  }
  /* The tracer inherits the caller's filters: under one that kills on ptrace it would die
   * at its first PTRACE_SEIZE. A tracer made before the filter keeps working (kept above). */
  if (caller_seccomp()) return seccomp_filtered;
  atomic_store(&cyc.ctl, TR_RUNNING);
  atomic_store(&cyc.go, GO_WAIT);
  atomic_store(&cyc.seizer, 0);
  /* exit signal 0: the program's wait()/waitpid() without __WALL never sees the tracer,
   * and no SIGCHLD reaches the program's handler. CLONE_UNTRACED: a debugger tracing us
   * does not follow it. CLONE_CHILD_CLEARTID: ctl reads TR_EXITED once it is gone. */
  long pid = clone_here(CLONE_VM | CLONE_FS | CLONE_UNTRACED | CLONE_CHILD_CLEARTID,
                        tracer_stack + TRACER_STACK, (uint32_t *)&cyc.ctl, tracer_main, NULL);
  if (pid < 0) {
    atomic_store(&cyc.ctl, TR_EXITED);
    return "clone of the tracer failed";
  }
  tracer_pid = (pid_t)pid;
  tracer_owner = cyc.pid;
  tracer_maker = cyc.self;
  return NULL;
}

/* Is a seccomp filter installed on the caller (whose filters a new tracer inherits)?
 * "Seccomp:" of its /proc status: 0 none, 1 strict, 2 filter. Unknown counts as filtered. */
static bool caller_seccomp(void) {
  char buf[2048];
  if (read_task_file(cyc.taskfd, cyc.proc_self, "status", buf, sizeof buf) < 0) return true;
  const char *p = status_field(buf, "Seccomp:");
  return p && *p != '0';
}

/* May the seizer stay between stops? Not where the program itself would inherit it: should
 * the tracer die while the seizer waits (the thread that made the tracer exited, which
 * sends the tracer its parent-death SIGKILL), the seizer is reparented to the nearest
 * "child reaper" above the tracer — init, or a subreaper ancestor, which reap orphans as
 * their job — and that is the program when it is a subreaper (PR_SET_CHILD_SUBREAPER) or
 * PID 1 of its namespace: it would get a SIGCHLD and a zombie it never made. There the
 * seizer exits after each stop, while the tracer (which reaps it) lives. */
static bool seizer_may_stay(void) {
  int sub = 1;
  if (cyc.pid == 1 || sc2(SYS_prctl, PR_GET_CHILD_SUBREAPER, &sub) != 0) return false;
  return sub == 0;
}

/* Stop the world with ptrace. 0: stopped (the seizer waits for GO_RESUME); otherwise a
 * reason to fall back, with every thread running. Never lifts PR_SET_DUMPABLE (a
 * non-dumpable process never gets here) nor names the tracer with PR_SET_PTRACER: that
 * would replace the one exception a process may hold (its crash reporter's), and the
 * kernel offers no way to read it back. So under Yama ptrace_scope 1 the attach works only
 * where the kernel allows it anyway (CAP_SYS_PTRACE, PR_SET_PTRACER_ANY). */
static const char *ptrace_stop(void) {
  if (yama_scope == -2) yama_scope = read_yama_scope();
  if (yama_scope == 3) return "Yama ptrace_scope is 3";
  cyc.keep_seizer = seizer_may_stay();
  cyc.refusal = 0;
  atomic_store(&cyc.killed_by, 0);
  atomic_store(&cyc.outcome, TR_RUNNING);
  const char *why = tracer_get();
  if (why) return why;
  cyc.maker = tracer_maker; /* a tracer made just now: ours */
  atomic_store(&cyc.go, GO_STOP);
  r_futex(&cyc.go, FUTEX_WAKE_PRIVATE, 1, NULL);

  /* Bounded: the seizer gives up on each thread after the timeout; a stuck one is killed,
   * which lets go of every thread it holds. */
  uint64_t deadline = r_now() + 4 * cyc.timeout + 1000000000ull;
  bool alive = tracer_wait_ctl(TR_RUNNING, TR_RUNNING, deadline);
  uint32_t c = alive ? atomic_load(&cyc.outcome) : TR_EXITED;
  if (c == TR_STOPPED && atomic_load(&cyc.ctl) == TR_STOPPED) return NULL;
  if (c == TR_STOPPED) c = TR_EXITED; /* the tracer died as its seizer said stopped */
  /* Every thread runs again once the seizer is gone: the tracer says so with TR_IDLE. */
  if (alive && tracer_wait_ctl(TR_REFUSED, TR_STOPPED, deadline) &&
      atomic_load(&cyc.ctl) == TR_EXITED)
    tracer_reap();
  if (atomic_exchange(&cyc.killed_by, 0)) return tracer_killed;
  if (c == TR_REFUSED && cyc.refusal == EOWNERDEAD) return tracer_orphaned;
  if (c == TR_REFUSED)
    return cyc.refusal != EPERM ? "PTRACE_SEIZE failed"
           : yama_scope == 1    ? "PTRACE_SEIZE refused (EPERM) under Yama ptrace_scope 1, "
                                  "which the library does not lift with PR_SET_PTRACER"
                                : "PTRACE_SEIZE refused (EPERM): traced already, or seccomp";
  return tracer_died;
}

/* Kill and reap the tracer (and with it any seizer): the next stop makes another. */
static void tracer_retire(void) {
  if (!tracer_pid) return;
  pid_t s = atomic_load(&cyc.seizer);
  if (s > 0 && atomic_load(&cyc.ctl) != TR_EXITED) sc2(SYS_kill, s, SIGKILL); /* as above */
  sc2(SYS_kill, tracer_pid, SIGKILL);
  tracer_reap();
  atomic_store(&cyc.ctl, TR_EXITED);
}

/* The world listed again from scratch (every thread runs: a stop that failed let go of all). */
static void world_relist(scvgc_world_t *w, const scvgc_thread_t *me) {
  w->nthreads = 0;
  w->nvec = 0;
  cyc.oom = 0;
  for (size_t i = 0; i < w->icap; i++) w->index[i] = 0;
  add_slot(w, cyc.self, SCVGC_STW_SELF);
  w->threads[0] = *me; /* slot 0 again */
  scan_new(w, cyc.taskfd);
}

/* ptrace_stop, again with a tracer of the caller's own when the tracer's maker was not held
 * (maker_held): that tracer is doomed, and a stop it made could end at any moment. A retry
 * that fails is no refusal of ptrace (the first try seized every thread; a thread the last
 * seizer still held, were it slow to go, refuses a new one): this stop takes the signals. */
static const char *ptrace_stop_held(scvgc_world_t *w, const scvgc_thread_t *me) {
  const char *why = ptrace_stop();
  if (why != tracer_orphaned) return why;
  tracer_retire();
  world_relist(w, me);
  why = ptrace_stop(); /* the maker is the caller now: not refused again for that */
  if (why == tracer_orphaned) tracer_retire();
  return why && why != seccomp_filtered && why != tracer_killed ? tracer_died : why;
}

bool scvgc_stw_held(const scvgc_world_t *w) {
  /* ctl leaves TR_STOPPED only by start's GO_RESUME, or by the tracer's exit (the kernel's
   * CLONE_CHILD_CLEARTID) before its death reaches the seizer, or after the seizer's */
  return w->method != SCVGC_STW_PTRACE || atomic_load(&cyc.ctl) == TR_STOPPED;
}

static void ptrace_start(void) {
  atomic_store(&cyc.go, GO_RESUME);
  r_futex(&cyc.go, FUTEX_WAKE_PRIVATE, 1, NULL);
  if (tracer_wait_ctl(TR_STOPPED, TR_STOPPED, r_now() + 4 * cyc.timeout + 1000000000ull) &&
      atomic_load(&cyc.ctl) == TR_EXITED)
    tracer_reap(); /* its maker exited meanwhile */
}

pid_t scvgc_stw_tracer(void) {
  return tracer_owner == (uint32_t)r_getpid() && atomic_load(&cyc.ctl) != TR_EXITED
             ? tracer_pid : 0;
}

/* ---- the signal fallback ----------------------------------------------------------- */
/* A stopped thread's record, on its own stack inside stw_handler. */
typedef struct ack {
  struct ack *next;
  pid_t tid;
  uintptr_t sp, pc, tp;
  uintptr_t regs[SCVGC_STW_NREGS];
  const uintptr_t *fp; /* the saved vector registers, in the signal frame below it */
  size_t fpwords;
} ack_t;

#define ACK_TAG_SHIFT 48
#define ACK_PTR ((((uintptr_t)1) << ACK_TAG_SHIFT) - 1)
#define SIGVAL_MAGIC 0x5c76u /* "\\v": high half of si_value, to tell our signals apart */

static struct {
  int signo;                 /* 0 until installed */
  struct sigaction old;      /* the disposition we replaced (SIG_DFL), chained for others */
  uint32_t tag;              /* this cycle's tag, 1..0xffff */
  /* The mailbox: (tag << 48) | head of the ack_t list. Tag 0 = closed: no push succeeds.
   * The stopper opens it with the cycle's tag, drains it with exchange, closes it at start,
   * then bumps `resume`; so a record is only pushed by a handler that read `resume` before
   * the close and waits for it to change. */
  _Atomic uintptr_t acks;
  _Atomic uint32_t nacks;    /* futex word: bumped by each push */
  _Atomic uint32_t resume;   /* futex word: bumped by each start */
} sig;

int scvgc_stw_signal(void) { return sig.signo; }

static void stw_handler(int signo, siginfo_t *si, void *ucv) {
  uintptr_t v = (uintptr_t)si->si_value.sival_ptr;
  if (si->si_code != SI_QUEUE || (v >> 32) != SIGVAL_MAGIC || si->si_pid != r_getpid()) {
    /* not ours: hand it to whoever had the signal before us */
    if (sig.old.sa_flags & SA_SIGINFO) {
      if (sig.old.sa_sigaction) sig.old.sa_sigaction(signo, si, ucv);
    } else if (sig.old.sa_handler != SIG_DFL && sig.old.sa_handler != SIG_IGN) {
      sig.old.sa_handler(signo);
    }
    return;
  }
  uint32_t tag = (uint32_t)v & 0xffff;
  uint32_t r = atomic_load_explicit(&sig.resume, memory_order_acquire);
  const ucontext_t *uc = ucv;
  const greg_t *g = uc->uc_mcontext.gregs;
  ack_t a;
  a.tid = r_gettid();
  a.sp = (uintptr_t)g[REG_RSP];
  a.pc = (uintptr_t)g[REG_RIP];
  a.tp = 0;
  sc2(SYS_arch_prctl, ARCH_GET_FS, &a.tp);
  a.regs[SCVGC_REG_RAX] = g[REG_RAX]; a.regs[SCVGC_REG_RCX] = g[REG_RCX];
  a.regs[SCVGC_REG_RDX] = g[REG_RDX]; a.regs[SCVGC_REG_RBX] = g[REG_RBX];
  a.regs[SCVGC_REG_RSP] = g[REG_RSP]; a.regs[SCVGC_REG_RBP] = g[REG_RBP];
  a.regs[SCVGC_REG_RSI] = g[REG_RSI]; a.regs[SCVGC_REG_RDI] = g[REG_RDI];
  a.regs[SCVGC_REG_R8] = g[REG_R8];   a.regs[SCVGC_REG_R9] = g[REG_R9];
  a.regs[SCVGC_REG_R10] = g[REG_R10]; a.regs[SCVGC_REG_R11] = g[REG_R11];
  a.regs[SCVGC_REG_R12] = g[REG_R12]; a.regs[SCVGC_REG_R13] = g[REG_R13];
  a.regs[SCVGC_REG_R14] = g[REG_R14]; a.regs[SCVGC_REG_R15] = g[REG_R15];
  /* The vector registers were saved by the kernel in the signal frame: the fxsave area,
   * and when its software-reserved bytes carry FP_XSTATE_MAGIC1 the whole xsave image
   * (ymm, zmm, opmasks) of xstate_size bytes. It stays put while this handler waits. */
  a.fp = (const uintptr_t *)uc->uc_mcontext.fpregs;
  a.fpwords = a.fp ? 512 / sizeof(uintptr_t) : 0;
  if (a.fp) {
    const struct _fpx_sw_bytes *sw = (const void *)((const char *)a.fp + 464);
    if (sw->magic1 == FP_XSTATE_MAGIC1 && sw->xstate_size > 512 &&
        sw->xstate_size <= XSTATE_MAX)
      a.fpwords = sw->xstate_size / sizeof(uintptr_t);
  }
  uintptr_t h = atomic_load(&sig.acks);
  do {
    if ((h >> ACK_TAG_SHIFT) != tag) return; /* a late signal of a closed cycle */
    a.next = (ack_t *)(h & ACK_PTR);
  } while (!atomic_compare_exchange_weak_explicit(&sig.acks, &h,
                                                  (h & ~ACK_PTR) | (uintptr_t)&a,
                                                  memory_order_release, memory_order_relaxed));
  atomic_fetch_add(&sig.nacks, 1);
  r_futex(&sig.nacks, FUTEX_WAKE_PRIVATE, 1, NULL);
  /* Stopped. Every other signal is blocked here (sa_mask), so nothing of the program runs
   * on this thread until the resume. Ours is not (SA_NODEFER): a thread resumed but not yet
   * out of this handler when the next cycle signals it takes the new signal at once, nested,
   * instead of showing it blocked in SigBlk and being judged unstoppable. */
  while (atomic_load_explicit(&sig.resume, memory_order_acquire) == r)
    r_futex(&sig.resume, FUTEX_WAIT_PRIVATE, r, NULL);
}

/* Install the handler on the highest real-time signal from SIGRTMAX-5 down that the
 * program left at its default. With no thread stopped (it calls libc's sigaction). */
static int install_handler(void) {
  if (sig.signo) {
    /* Still ours? A program that took the signal since would get our stops, and we would
     * wait for answers that never come: move to another one instead. */
    struct sigaction cur;
    if (sigaction(sig.signo, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
        cur.sa_sigaction == stw_handler)
      return 0;
    sig.signo = 0;
  }
  for (int s = SIGRTMAX - 5; s >= SIGRTMIN + 2; s--) {
    struct sigaction old;
    if (sigaction(s, NULL, &old) != 0) continue;
    if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler != SIG_DFL) continue;
    struct sigaction sa = {0};
    sa.sa_sigaction = stw_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
    sigfillset(&sa.sa_mask);
    sigdelset(&sa.sa_mask, s);
    if (sigaction(s, &sa, &sig.old) != 0) continue;
    sig.signo = s;
    return 0;
  }
  return -1;
}

/* The value after "key" at the start of a line of buf (a /proc status file), or NULL. */
static const char *status_field(const char *buf, const char *key) {
  for (const char *c = buf; *c; c++) {
    if (c != buf && c[-1] != '\n') continue;
    const char *k = key, *p = c;
    while (*k && *p == *k) p++, k++;
    if (*k) continue;
    while (*p == ' ' || *p == '\t') p++;
    return p;
  }
  return NULL;
}

static uint64_t parse_hex(const char *p) {
  uint64_t m = 0;
  if (p[0] == '0' && p[1] == 'x') p += 2;
  for (;; p++) {
    int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
    if (d < 0) return m;
    m = m << 4 | (uint64_t)d;
  }
}

/* Would the thread not take our signal in its handler? It blocks it (SigBlk), or it waits
 * for it in rt_sigtimedwait (sigwaitinfo, sigtimedwait, sigwait), which unblocks the set it
 * waits for while it sleeps and would dequeue our signal as the program's own: its
 * /proc/.../syscall names the call and the set's address, read with process_vm_readv (no
 * fault if it went meanwhile). A thread between the read and the delivery can still start
 * such a wait (docs/limitations.md). */
static bool blocks_signal(pid_t tid) {
  int dirfd = cyc.taskfd;
  uint64_t bit = (uint64_t)1 << (sig.signo - 1);
  char buf[2048];
  if (read_task_file(dirfd, tid, "status", buf, sizeof buf) < 0) return false;
  const char *p = status_field(buf, "SigBlk:");
  if (p && (parse_hex(p) & bit)) return true;
  if (read_task_file(dirfd, tid, "syscall", buf, 256) < 0) return false;
  long nr = 0;
  for (p = buf; *p >= '0' && *p <= '9'; p++) nr = nr * 10 + (*p - '0');
  if (p == buf || nr != SYS_rt_sigtimedwait || *p != ' ') return false;
  uint64_t set = 0, addr = parse_hex(p + 1);
  struct iovec local = {&set, sizeof set}, remote = {(void *)addr, sizeof set};
  if (sc6(SYS_process_vm_readv, cyc.pid, (long)&local, 1, (long)&remote, 1, 0) != sizeof set)
    return true; /* waiting for a set we cannot read: assume ours is in it */
  return (set & bit) != 0;
}

static int drain_acks(scvgc_world_t *w) {
  int n = 0;
  uintptr_t h = atomic_exchange_explicit(&sig.acks, (uintptr_t)sig.tag << ACK_TAG_SHIFT,
                                         memory_order_acquire);
  for (ack_t *a = (ack_t *)(h & ACK_PTR); a; a = a->next) {
    scvgc_thread_t *t = lookup(w, a->tid);
    if (!t || (t->state != ST_WAIT && t->state != SCVGC_STW_FAILED)) continue;
    if (t->state == ST_WAIT) n++;
    t->state = SCVGC_STW_STOPPED;
    t->signal = 0;
    t->sp = a->sp;
    t->pc = a->pc;
    t->tp = a->tp;
    for (int i = 0; i < SCVGC_STW_NREGS; i++) t->regs[i] = a->regs[i];
    t->nregs = SCVGC_STW_NREGS;
    t->nvec = 0;
    if (a->fp) vec_add(w, t, a->fp, a->fpwords); /* none: the thread never used them */
  }
  return n;
}

/* Queue our signal to t: ST_WAIT, or FAILED (its queue is full, or ESRCH for a tid /proc
 * still lists: another PID namespace's number), or GONE. */
static void signal_send(scvgc_thread_t *t, const siginfo_t *si) {
  siginfo_t s = *si;
  long r = sc4(SYS_rt_tgsigqueueinfo, cyc.pid, t->tid, sig.signo, &s);
  if (r == 0) t->state = ST_WAIT, t->signal = 0;
  else if (r == -ESRCH && thread_dead(cyc.taskfd, t->tid)) t->state = SCVGC_STW_GONE;
  else t->state = SCVGC_STW_FAILED;
}

static void signals_stop(scvgc_world_t *w) {
  if (++sig.tag > 0xffff) sig.tag = 1;
  atomic_store(&sig.acks, (uintptr_t)sig.tag << ACK_TAG_SHIFT);
  siginfo_t si = {0};
  si.si_signo = sig.signo;
  si.si_code = SI_QUEUE;
  si.si_pid = (pid_t)cyc.pid;
  si.si_uid = (uid_t)sc0(SYS_getuid);
  si.si_value.sival_ptr = (void *)((uintptr_t)SIGVAL_MAGIC << 32 | sig.tag);
  int from = 1;
  for (;;) {
    int pending = 0;
    for (int i = from; i < w->nthreads; i++) {
      scvgc_thread_t *t = &w->threads[i];
      if (t->state != ST_NEW) continue;
      if (blocks_signal(t->tid)) {
        t->state = ST_HELD; /* not sent: looked at again at the next check */
        t->signal = 1;
        pending++;
        continue;
      }
      signal_send(t, &si);
      if (t->state == ST_WAIT) pending++;
    }
    from = w->nthreads;
    uint64_t start = r_now(), deadline = start + cyc.timeout;
    uint64_t next_check = start + SCVGC_STW_GRACE_NS;
    while (pending > 0) {
      uint32_t seen = atomic_load(&sig.nacks);
      pending -= drain_acks(w);
      if (pending <= 0) break;
      uint64_t now = r_now();
      if (now >= deadline) break;
      if (now >= next_check) {
        /* Slow answers: tell the exited and the blocking apart from the merely slow. libc
         * blocks every signal for short moments (pthread_create, fork, posix_spawn): a
         * thread must be seen blocking at two checks in a row (t->signal counts them). */
        next_check = now + SCVGC_STW_GRACE_NS;
        for (int i = 1; i < w->nthreads; i++) {
          scvgc_thread_t *t = &w->threads[i];
          if (t->state == ST_HELD) {
            if (thread_dead(cyc.taskfd, t->tid)) t->state = SCVGC_STW_GONE, pending--;
            else if (blocks_signal(t->tid)) t->state = SCVGC_STW_FAILED, pending--;
            else if (signal_send(t, &si), t->state != ST_WAIT) pending--;
            continue;
          }
          if (t->state != ST_WAIT) continue;
          if (thread_dead(cyc.taskfd, t->tid)) t->state = SCVGC_STW_GONE, pending--;
          else if (in_vfork(cyc.taskfd, t->tid)) t->state = SCVGC_STW_FAILED, pending--;
          else if (!blocks_signal(t->tid)) t->signal = 0;
          else if (++t->signal >= 2) t->state = SCVGC_STW_FAILED, pending--;
        }
        continue;
      }
      uint64_t until = next_check < deadline ? next_check : deadline;
      struct timespec ts = ns_ts(until - now);
      r_futex(&sig.nacks, FUTEX_WAIT_PRIVATE, seen, &ts);
    }
    drain_acks(w);
    for (int i = 1; i < w->nthreads; i++)
      if (w->threads[i].state == ST_WAIT || w->threads[i].state == ST_HELD)
        w->threads[i].state = SCVGC_STW_FAILED;
    if (scan_new(w, cyc.taskfd) <= 0) return;
  }
}

static void signals_start(void) {
  atomic_store_explicit(&sig.acks, 0, memory_order_release); /* closed: late pushes fail */
  atomic_fetch_add_explicit(&sig.resume, 1, memory_order_release);
  r_futex(&sig.resume, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
}

/* ---- other processes in our address space ------------------------------------------ */
/* A task made by clone(CLONE_VM) without CLONE_THREAD shares our memory from a thread group
 * of its own: /proc/self/task does not list it, so it is neither stopped nor scanned, and
 * what only it points to would be freed under it. It is the child of one of our threads
 * (unless made with CLONE_PARENT, or its maker exited: docs/limitations.md), so each
 * thread's /proc/.../children is read, with the world stopped (no new child meanwhile), and
 * every child compared with kcmp(KCMP_VM); our own tracer is one of them, and is skipped. */
static int kcmp_missing; /* ENOSYS: the kernel cannot tell; the check is skipped */

/* The number `outer` (a pid as this /proc names it) has in our PID namespace: the NSpid
 * field at our own depth. -1 when unknown. Only where /proc is not ours. */
static long local_pid(long outer) {
  char path[40] = "/proc/", d[12], buf[2048];
  int k = 0, m = 6, depth = 0;
  do d[k++] = (char)('0' + outer % 10); while ((outer /= 10) && k < 11);
  while (k) path[m++] = d[--k];
  for (const char *l = "/status"; *l;) path[m++] = *l++;
  path[m] = 0;
  if (read_task_file(cyc.taskfd, cyc.proc_self, "status", buf, sizeof buf) < 0) return -1;
  const char *p = status_field(buf, "NSpid:");
  for (; p && *p && *p != '\n'; p++)
    if (*p >= '0' && *p <= '9' && (p[-1] == ' ' || p[-1] == '\t' || p[-1] == ':')) depth++;
  long fd = sc4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0 || depth == 0) return fd >= 0 ? (r_close((int)fd), -1) : -1;
  long n = sc3(SYS_read, fd, buf, sizeof buf - 1);
  r_close((int)fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  p = status_field(buf, "NSpid:");
  for (int f = 0; p && *p && *p != '\n';) {
    while (*p == ' ' || *p == '\t') p++;
    long v = 0;
    for (; *p >= '0' && *p <= '9'; p++) v = v * 10 + (*p - '0');
    if (++f == depth) return v;
  }
  return -1;
}

/* Is `child` (a pid as /proc names it) a process sharing our address space? Unknown counts
 * as shared, except where the kernel has no kcmp, or refuses it (EPERM: a child that exec'd
 * a set-ID program, which holds an address space of its own). */
static bool child_shares_vm(long child) {
  if (cyc.proc_self != cyc.self && (child = local_pid(child)) < 0) return true;
  if (child == tracer_pid && tracer_owner == cyc.pid) return false;
  long r = sc6(SYS_kcmp, cyc.pid, child, KCMP_VM, 0, 0, 0);
  if (r == -ENOSYS) kcmp_missing = 1;
  return r == 0;
}

static bool shared_vm(scvgc_world_t *w) {
  for (int i = 0; i < w->nthreads && !kcmp_missing; i++) {
    scvgc_thread_t *t = &w->threads[i];
    if (t->state != SCVGC_STW_SELF && t->state != SCVGC_STW_STOPPED &&
        t->state != SCVGC_STW_EXCLUDED)
      continue;
    char path[40], d[12];
    pid_t tid = i == 0 ? cyc.proc_self : t->tid;
    int k = 0, m = 0;
    do d[k++] = (char)('0' + tid % 10); while ((tid /= 10) && k < 11);
    while (k) path[m++] = d[--k];
    for (const char *l = "/children"; *l;) path[m++] = *l++;
    path[m] = 0;
    long fd = sc4(SYS_openat, cyc.taskfd, path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
      if (i == 0) return false; /* no children files (CONFIG_PROC_CHILDREN): cannot tell */
      continue;
    }
    char buf[512];
    long pid = -1, n;
    bool shared = false;
    while (!shared && (n = sc3(SYS_read, fd, buf, sizeof buf)) > 0) {
      for (long j = 0; j < n && !shared; j++) {
        if (buf[j] >= '0' && buf[j] <= '9') {
          pid = (pid < 0 ? 0 : pid * 10) + (buf[j] - '0');
        } else if (pid >= 0) {
          shared = child_shares_vm(pid);
          pid = -1;
        }
      }
    }
    if (!shared && pid >= 0) shared = child_shares_vm(pid);
    r_close((int)fd);
    if (shared) return true;
  }
  return false;
}

/* ---- the API ----------------------------------------------------------------------- */
int scvgc_stw_stop(scvgc_world_t *w) {
  int saved_errno = errno;
  uint64_t t0 = r_now();
  uint32_t pid = (uint32_t)r_getpid();
  pid_t self = r_gettid();
  if (lock_take(pid, self) && cyc.taskfd > 0) r_close(cyc.taskfd); /* the parent's */
  uint64_t all = ~(uint64_t)0;
  r_sigmask(SIG_SETMASK, &all, &cyc.saved_mask);
  cyc.pid = pid;
  cyc.self = self;
  cyc.proc_self = self;
  cyc.saw_self = cyc.foreign_ns = 0;
  cyc.w = w;
  cyc.oom = 0;
  cyc.timeout = w->timeout_ns ? w->timeout_ns : SCVGC_STW_TIMEOUT_NS;
  w->nthreads = w->nstopped = w->nfailed = 0;
  w->nvec = 0;
  w->method = SCVGC_STW_ALONE;
  w->incomplete = NULL;
  if (w->index)
    for (size_t i = 0; i < w->icap; i++) w->index[i] = 0;

  /* The caller's callee-saved registers (the only ones that can hold its callers' values
   * across this call) and its stack pointer, as of this frame. */
  scvgc_thread_t me = {.tid = cyc.self, .state = SCVGC_STW_SELF, .nregs = 7};
  __asm__ volatile("mov %%rbx, 24(%1)\n\t"
                   "mov %%rsp, 32(%1)\n\t"
                   "mov %%rbp, 40(%1)\n\t"
                   "mov %%r12, 96(%1)\n\t"
                   "mov %%r13, 104(%1)\n\t"
                   "mov %%r14, 112(%1)\n\t"
                   "mov %%r15, 120(%1)\n\t"
                   "mov %%fs:0, %0"
                   : "=r"(me.tp)
                   : "r"(me.regs)
                   : "memory");
  me.sp = me.regs[SCVGC_REG_RSP];
  me.pc = (uintptr_t)__builtin_return_address(0);
  int have_slot = (w->cap || world_grow(w, 1) == 0) && add_slot(w, cyc.self, SCVGC_STW_SELF);
  if (have_slot) w->threads[0] = me;
  cyc.taskfd = (int)sc4(SYS_openat, AT_FDCWD, "/proc/self/task",
                        O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (!have_slot || cyc.taskfd < 0 || scan_new(w, cyc.taskfd) < 0) {
    w->nfailed = 1; /* no /proc or no memory: the other threads are unknown and running */
    goto out;
  }
  if (!cyc.saw_self && !cyc.oom) {
    /* /proc/self/task does not list gettid(): this /proc belongs to another PID namespace
     * (unshare --pid --fork without --mount-proc) and its tids name nothing that ptrace or
     * a signal can reach here. One entry is the caller itself; more are threads that
     * cannot be identified, which is a failure to stop, never "gone". */
    if (w->nthreads == 2) {
      cyc.proc_self = w->threads[1].tid;
      w->nthreads = 1;
      for (size_t i = 0; i < w->icap; i++) w->index[i] = 0;
      index_put(w, cyc.self, 0);
    } else {
      cyc.foreign_ns = 1;
      for (int i = 1; i < w->nthreads; i++) w->threads[i].state = SCVGC_STW_FAILED;
      w->incomplete = "proc shows the threads of another pid namespace";
      goto out;
    }
  }
  int others = 0;
  for (int i = 1; i < w->nthreads; i++) others += w->threads[i].state == ST_NEW;
  if (others == 0 && !cyc.oom) goto out; /* alone: nobody else can create a thread */

  const char *why;
  if (force_signals) {
    why = "forced by scvgc_stw_force_signals";
  } else if (sc2(SYS_prctl, PR_GET_DUMPABLE, 0) != 1) {
    /* Attaching needs the process dumpable, and lifting the flag for the stop would let
     * any process of the user open /proc/PID/mem meanwhile and keep reading it after. */
    why = "the process is not dumpable (PR_SET_DUMPABLE), and the library never lifts that";
  } else if (ptrace_never_pid == pid) {
    why = ptrace_never_why;
  } else if (refused_pid == pid && t0 < refused_until) {
    why = fallback_reason;
  } else if ((why = ptrace_stop_held(w, &me)) == seccomp_filtered || why == tracer_killed) {
    ptrace_never_pid = pid;
    ptrace_never_why = why;
  } else if (why && why != tracer_died && why != tracer_orphaned) {
    refused_pid = pid; /* a tracer killed meanwhile (its maker exited) is no refusal */
    refused_until = r_now() + SCVGC_STW_PTRACE_RETRY_NS;
  }
  if (!why) {
    w->method = SCVGC_STW_PTRACE;
  } else {
    /* The tracer is gone and every thread runs again: start over with signals. */
    world_relist(w, &me);
    fallback_reason = why;
    if (install_handler() < 0) {
      why = fallback_reason = "no free real-time signal";
      for (int i = 1; i < w->nthreads; i++)
        if (w->threads[i].state == ST_NEW) w->threads[i].state = SCVGC_STW_FAILED;
    }
    if (!scvgc_stw_fallback_reported && scvgc_opt.trace >= 1) {
      scvgc_stw_fallback_reported = 1; /* once per process: nothing is stopped yet */
      if (sig.signo)
        scvgc_message("stop-the-world: ptrace unavailable (%s); stopping threads with signal "
                      "%d instead (under gdb: handle SIG%d nostop noprint)",
                      why, sig.signo, sig.signo);
      else
        scvgc_message("stop-the-world: ptrace unavailable (%s) and no free real-time signal: "
                      "threads cannot be stopped, collections free nothing",
                      fallback_reason);
    }
    if (sig.signo) {
      w->method = SCVGC_STW_SIGNALS;
      signals_stop(w);
    }
  }
out:
  for (int i = 1; i < w->nthreads; i++) {
    int s = w->threads[i].state;
    if (s == SCVGC_STW_STOPPED) w->nstopped++;
    else if (s == SCVGC_STW_FAILED) w->nfailed++;
  }
  if (cyc.oom) w->nfailed++;
  if (w->nfailed == 0 && cyc.taskfd >= 0 && shared_vm(w)) {
    w->nfailed++;
    w->incomplete = "another process shares the address space";
  }
  w->stop_ns = r_now() - t0;
  errno = saved_errno;
  return w->nfailed;
}

void scvgc_stw_start(scvgc_world_t *w) {
  int saved_errno = errno;
  if (w->method == SCVGC_STW_PTRACE) ptrace_start();
  else if (w->method == SCVGC_STW_SIGNALS) signals_start();
  if (cyc.taskfd >= 0) r_close(cyc.taskfd);
  cyc.taskfd = -1;
  cyc.w = NULL;
  r_sigmask(SIG_SETMASK, &cyc.saved_mask, NULL);
  lock_release();
  errno = saved_errno;
}

int scvgc_stw_mappings(const scvgc_world_t *w, uintptr_t (*out)[2], int max) {
  int n = 0;
  if (w->threads && n < max) {
    out[n][0] = (uintptr_t)w->threads;
    out[n++][1] = (uintptr_t)w->threads + page_round(w->cap * sizeof(scvgc_thread_t));
  }
  if (w->index && n < max) {
    out[n][0] = (uintptr_t)w->index;
    out[n++][1] = (uintptr_t)w->index + w->icap * sizeof(int32_t);
  }
  if (w->vec && n < max) {
    out[n][0] = (uintptr_t)w->vec;
    out[n++][1] = (uintptr_t)w->vec + w->vcap * sizeof(uintptr_t);
  }
  if (tracer_stack && n < max) {
    out[n][0] = (uintptr_t)tracer_stack;
    out[n++][1] = (uintptr_t)tracer_stack + TRACER_STACK;
  }
  if (seizer_stack && n < max) {
    out[n][0] = (uintptr_t)seizer_stack;
    out[n++][1] = (uintptr_t)seizer_stack + SEIZER_STACK;
  }
  return n;
}
