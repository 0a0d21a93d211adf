/* mark.c — conservative marking: the candidate check, scanning, parallel drain.
 *
 * A word is a candidate when it points at or into an allocated object of the heap (any
 * byte of the object's slot: interior pointers count): the span map (two loads), a bounds
 * check, the slot index (one multiply), the slot's metadata says allocated
 * (scvgc_find_object). Marking sets the object's mark bit with an atomic OR — the first
 * marker to set it greys the object (pushes it on its workbuf); every grey object is
 * scanned exactly once, word by word over its requested size — a large one over the pages
 * it ever touched only (scvgc_object_words): a sparse 64 GiB block costs what it holds.
 *
 * Parallel marking: nthreads marker threads (one per core, started outside malloc by
 * scvgc_mark_start_threads as library threads, own.c L1-L3) sleep on a futex between
 * cycles. The collector scans the roots and drains; the first time a marker publishes a
 * full workbuf in a cycle, the helpers are woken to join (a small heap is marked by the
 * collector alone, without paying for their wake-up). Markers share work through the global full list (workbuf.c); an idle
 * marker's need is seen by the others, which hand off half of their workbuf. Termination:
 * a marker with nothing to do counts itself idle; when all are idle and no full workbuf
 * is left, marking is done (no marker can then produce work).
 *
 * Invariants:
 *   M1 an object's mark bit is set before it is pushed, so it is pushed at most once.
 *   M2 with the world stopped, an allocated object's metadata, base and size do not change.
 *   M3 reading an object never faults the program: a page it protected is skipped (below,
 *      scvgc_object_words), under a guard that leaves the program's own handlers in charge
 *      of every other fault.
 *   With the world running (a concurrent cycle's mark, gc.c C2) M2 does not hold; instead:
 *   M4 a span's state is read first, with acquire (init_inuse publishes it last, with
 *      release), and an in-use span keeps its identity until the cycle ends (pageheap.c H10).
 *   M5 the mark bit is set with a compare-and-swap on the metadata word as read: a slot freed
 *      meanwhile (word 0) is never marked, so no free slot ever carries a lone mark bit.
 *   M6 no signal handler is installed: an object of a page or more is read through
 *      process_vm_readv (a protected page fails with EFAULT and is skipped).
 *   M7 the marked objects on a page written since the tracking started are read again
 *      (scvgc_mark_written), over their part on that page.
 * Callers: the collector thread and the marker threads, with the world stopped and every
 *   core lock held by the collector, or (C2) with the world running and gc_lock held by the
 *   collector. Nothing here allocates or takes a core lock except wb_lock (per workbuf) and,
 *   during C2, the heap lock for a new workbuf span (workbuf.c W3).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "gc.h"
#include "lock.h"
#include "mark.h"
#include "stw.h"

bool scvgc_find_object(uintptr_t w, scvgc_span_t **sp, uint32_t *idx) {
  scvgc_span_t *s = scvgc_spanof(w);
  if (!s) return false;
  uint8_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE); /* M4: before the identity */
  if (st != SCVGC_SPAN_SMALL && st != SCVGC_SPAN_LARGE) return false;
  uintptr_t off = w - s->base;
  uint32_t i;
  if (off >= s->limit - s->base) return false; /* limit: the end of a large span */
  i = st == SCVGC_SPAN_SMALL ? scvgc_slot_index(s, w) : 0;
  if (!s->meta || !scvgc_allocated(s, i)) return false; /* a free slot */
  *sp = s;
  *idx = i;
  return true;
}

uintptr_t scvgc_object_base(const scvgc_span_t *s, uint32_t idx) {
  return s->base + (uintptr_t)idx * s->elemsize;
}

size_t scvgc_object_size(const scvgc_span_t *s, uint32_t idx) {
  if (scvgc_span_lean(s)) return s->elemsize; /* the whole slot (internal.h, lean layout) */
  size_t n = s->state == SCVGC_SPAN_LARGE ? s->reqsize : (size_t)(s->meta[idx].size & ~SCVGC_META_MARK) - 1;
  return (n + 7) & ~(size_t)7;
}

_Atomic uint64_t scvgc_mark_objects, scvgc_mark_live;

void scvgc_marker_init(scvgc_marker_t *m) {
  m->nbatch = 0;
  m->wb = scvgc_wb_getempty();
  m->bytes = m->objects = m->live = 0;
  m->oom = m->wb == NULL;
}

void scvgc_marker_done(scvgc_marker_t *m) {
  atomic_fetch_add_explicit(&scvgc_mark_objects, m->objects, memory_order_relaxed);
  atomic_fetch_add_explicit(&scvgc_mark_live, m->live, memory_order_relaxed);
  if (m->wb) {
    SCVGC_ASSERT(m->wb->nobj == 0);
    scvgc_wb_putempty(m->wb);
    m->wb = NULL;
  }
}

static void wake_helpers(void);

/* A grey entry: the object's address, and for a small object its scan length in the high
 * bits (addresses are below 2^47, small sizes below 2^16), so scanning it needs no second
 * look at its span and metadata. Large objects carry 0 and are looked up. */
#define GREY_SHIFT SCVGC_ADDR_BITS
static inline uintptr_t grey(const scvgc_span_t *s, uintptr_t obj, uint32_t meta_size) {
  if (s->state != SCVGC_SPAN_SMALL) return obj;
  uintptr_t n = (((meta_size & ~SCVGC_META_MARK) - 1) + 7) & ~(uintptr_t)7;
  return obj | (n << GREY_SHIFT);
}
static void push(scvgc_marker_t *m, uintptr_t obj) {
  if (unlikely(!m->wb || m->wb->nobj == SCVGC_WB_NOBJ)) {
    scvgc_workbuf_t *e = scvgc_wb_getempty();
    if (!e) { /* no memory for the mark stack: the cycle's result is not trustworthy */
      m->oom = true;
      return;
    }
    if (m->wb) {
      scvgc_wb_putfull(m->wb);
      wake_helpers(); /* there is work to share now */
    }
    m->wb = e;
  }
  m->wb->obj[m->wb->nobj++] = obj;
  m->objects++;
}

/* The lean layout's (internal.h L2): the slot is marked whatever it holds, and greyed, the
 * whole slot; whether it holds an object is asked when it is scanned (GREY_LEAN), from its
 * word 1, which the scan reads anyway: the mark itself touches only the bitmap (2 MiB for a
 * GiB of 64-byte objects, where the full layout's words are 128 MiB). */
#define GREY_LEAN ((uintptr_t)1 << 63)
#define GREY_SIZE(e) (((e) >> GREY_SHIFT) & 0xffff)
_Static_assert(GREY_SHIFT + 16 <= 63 && SCVGC_MAX_SMALL < 65536, "a grey entry's fields");
static inline bool lean_mark_at(scvgc_marker_t *m, uint64_t *marks, uint32_t i, uintptr_t obj,
                                uint32_t size) {
  uint64_t b = 1ull << (i % 64), *w = &marks[i / 64];
  if (__atomic_load_n(w, __ATOMIC_RELAXED) & b) return false;
  if (__atomic_fetch_or(w, b, __ATOMIC_ACQ_REL) & b) return false;
  __builtin_prefetch((void *)obj); /* it will be scanned soon */
  m->live += size;
  push(m, obj | ((uintptr_t)size << GREY_SHIFT) | GREY_LEAN);
  return true;
}
static inline bool lean_mark(scvgc_marker_t *m, const scvgc_span_t *s, uint32_t i) {
  return lean_mark_at(m, scvgc_lean_marks(s), i, scvgc_object_base(s, i), s->elemsize);
}

/* M1, M5: set the mark bit of the metadata word at w, read as v, if the slot is allocated and
 * unmarked; true when this call set it (the caller greys the object). A compare-and-swap,
 * not an OR: with the world running (a concurrent cycle) the program may free the slot
 * between the read and the write, and an OR would then leave a lone mark bit on a free slot,
 * which reads as allocated. */
static inline bool set_mark(uint32_t *word, uint32_t v) {
  while (v && !(v & SCVGC_META_MARK))
    if (__atomic_compare_exchange_n(word, &v, v | SCVGC_META_MARK, true, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED))
      return true;
  return false;
}

void scvgc_mark_word(scvgc_marker_t *m, uintptr_t w) {
  scvgc_span_t *s;
  uint32_t i;
  if (scvgc_lean && (s = scvgc_spanof(w)) &&
      __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == SCVGC_SPAN_SMALL && /* M4 */
      scvgc_class_lean(s->elemsize)) {
    if (w - s->base < s->limit - s->base && s->meta) lean_mark(m, s, scvgc_slot_index(s, w));
    return; /* L2: free slots too */
  }
  if (!scvgc_find_object(w, &s, &i)) return;
  uint32_t v = __atomic_load_n(&s->meta[i].size, __ATOMIC_RELAXED);
  if (!set_mark(&s->meta[i].size, v)) return;
  m->live += s->state == SCVGC_SPAN_SMALL ? s->elemsize : s->npages << SCVGC_PAGE_SHIFT;
  push(m, grey(s, scvgc_object_base(s, i), v));
}

/* Mark the candidates of a batch of words. Each check is a chain of dependent loads, most of
 * them cache misses on a large heap: the batch runs the chain stage by stage across its
 * words, prefetching the next stage, so their misses overlap instead of adding up.
 * M8 In a lean heap a word into a small span is checked without the span struct: the arena's
 *    page table (pageheap.c H11) gives the span's mark bits, start and class, and the
 *    class table (a few cache lines) the slot; the chain is page entry, mark word. Other
 *    words (large objects, the full layout, a huge block) go the span's way: page -> span,
 *    the span, the slot's metadata word. */
#define BATCH SCVGC_MARK_BATCH
#define DRAIN_K 16 /* objects popped and prefetched together (mark.h SCVGC_MARK_BATCH) */
static void mark_batch(scvgc_marker_t *m, const uintptr_t *w, int n) {
  scvgc_span_t *s[BATCH];
  const scvgc_arena_t *ar[BATCH];
  uint64_t *lm[BATCH]; /* M8: the span's mark bits; NULL: the span's way */
  uintptr_t ob[BATCH];
  uint32_t idx[BATCH], esz[BATCH], pg[BATCH];
  for (int k = 0; k < n; k++) { /* stage 0: the arena's page entry */
    uintptr_t a = w[k] >> SCVGC_ARENA_SHIFT;
    ar[k] = a < SCVGC_L1_ENTRIES ? scvgc_arena_l1[a] : NULL;
    if (!ar[k] || ((uintptr_t)ar[k] & SCVGC_L1_HUGE)) continue;
    pg[k] = (uint32_t)((w[k] >> SCVGC_PAGE_SHIFT) & (SCVGC_ARENA_PAGES - 1));
    if (scvgc_lean) __builtin_prefetch(&ar[k]->pinfo[pg[k]]);
    else __builtin_prefetch(&ar[k]->spans[pg[k]]);
  }
  for (int k = 0; k < n; k++) { /* stage 1: the mark word (M8), or the span */
    s[k] = NULL;
    lm[k] = NULL;
    if (!ar[k]) continue;
    if ((uintptr_t)ar[k] & SCVGC_L1_HUGE) {
      s[k] = (scvgc_span_t *)((uintptr_t)ar[k] - SCVGC_L1_HUGE);
      continue;
    }
    if (scvgc_lean) {
      const scvgc_pinfo_t *pi = &ar[k]->pinfo[pg[k]];
      uint64_t *mk = __atomic_load_n(&pi->marks, __ATOMIC_ACQUIRE);
      if (mk) {
        const scvgc_class_t *c = &scvgc_classes[pi->cls];
        uintptr_t base = (w[k] & ~(uintptr_t)(SCVGC_PAGE_SIZE - 1)) - ((uintptr_t)pi->back << SCVGC_PAGE_SHIFT);
        uintptr_t off = w[k] - base;
        if (off >= (uintptr_t)c->nelems * c->size) continue; /* the span's tail */
        uint32_t i = (uint32_t)(((uint64_t)off * c->divmul) >> 32);
        lm[k] = mk;
        idx[k] = i;
        esz[k] = c->size;
        ob[k] = base + (uintptr_t)i * c->size;
        __builtin_prefetch(&mk[i / 64], 1);
        continue;
      }
    }
    s[k] = ar[k]->spans[pg[k]];
    if (s[k]) __builtin_prefetch(s[k]);
  }
  for (int k = 0; k < n; k++) { /* stage 2, the span's way: its metadata word */
    scvgc_span_t *sp = s[k];
    if (!sp) continue;
    uint8_t st = __atomic_load_n(&sp->state, __ATOMIC_ACQUIRE); /* M4 */
    uintptr_t off = w[k] - sp->base;
    if ((st != SCVGC_SPAN_SMALL && st != SCVGC_SPAN_LARGE) || off >= sp->limit - sp->base ||
        !sp->meta) {
      s[k] = NULL;
      continue;
    }
    uint32_t i = st == SCVGC_SPAN_SMALL ? scvgc_slot_index(sp, w[k]) : 0;
    idx[k] = i;
    if (st == SCVGC_SPAN_SMALL && scvgc_span_lean(sp)) {
      __builtin_prefetch(&scvgc_lean_marks(sp)[i / 64], 1);
    } else {
      __builtin_prefetch(&sp->meta[i], 1);
    }
  }
  for (int k = 0; k < n; k++) { /* stage 3: mark and grey */
    if (lm[k]) {
      lean_mark_at(m, lm[k], idx[k], ob[k], esz[k]);
      continue;
    }
    scvgc_span_t *sp = s[k];
    if (!sp) continue;
    uint32_t i = idx[k];
    if (scvgc_span_lean(sp)) {
      lean_mark(m, sp, i);
      continue;
    }
    uint32_t *word = &sp->meta[i].size, v = __atomic_load_n(word, __ATOMIC_RELAXED);
    if (!v || (v & SCVGC_META_MARK)) continue; /* a free slot, or marked already */
    if (!set_mark(word, v)) continue; /* M1 */
    uintptr_t obj = scvgc_object_base(sp, i);
    __builtin_prefetch((void *)obj); /* it will be scanned soon */
    m->live += sp->state == SCVGC_SPAN_SMALL ? sp->elemsize : sp->npages << SCVGC_PAGE_SHIFT;
    push(m, grey(sp, obj, v));
  }
}

void scvgc_mark_flush(scvgc_marker_t *m) {
  int n = m->nbatch;
  m->nbatch = 0; /* before: mark_batch pushes, and a push never flushes, but be plain */
  if (n) mark_batch(m, m->batch, n);
}

SCVGC_NO_SANITIZE void scvgc_mark_range(scvgc_marker_t *m, uintptr_t lo, uintptr_t hi) {
  lo = (lo + 7) & ~(uintptr_t)7;
  for (uintptr_t p = lo; p + 8 <= hi; p += 8) {
    uintptr_t w = *(const uintptr_t *)p;
    /* cheap filter: no arena below 64 KiB or above the user address space */
    if (w < 65536 || (w >> SCVGC_ADDR_BITS)) continue;
    m->batch[m->nbatch++] = w;
    if (m->nbatch == BATCH) scvgc_mark_flush(m);
  }
  m->bytes += hi > lo ? hi - lo : 0;
}

/* [lo, hi) at every byte offset: a JIT's code holds pointers as unaligned immediates
 * (roots.c R5). Eight times the reads of scvgc_mark_range: only for rwx mappings. */
SCVGC_NO_SANITIZE void scvgc_mark_range_bytes(scvgc_marker_t *m, uintptr_t lo, uintptr_t hi) {
  for (uintptr_t p = lo; p + 8 <= hi; p++) {
    uintptr_t w;
    __builtin_memcpy(&w, (const void *)p, sizeof w);
    if (w < 65536 || (w >> SCVGC_ADDR_BITS)) continue;
    m->batch[m->nbatch++] = w;
    if (m->nbatch == BATCH) scvgc_mark_flush(m);
  }
  m->bytes += hi > lo ? hi - lo : 0;
}

/* ---- pages of a live object the program protected (M3) ----------------------------------
 * A program may mprotect pages inside its own heap object (guard pages in a big calloc'd
 * buffer). M3: reading an object never faults the program: an object of a page or more is
 * read a page at a time under a guard, and a page that faults (SIGSEGV, SIGBUS) is skipped
 * — what the program cannot read holds no pointer it uses now — and the cycle goes on.
 * The guard's handler is installed from scvgc_mark_guard(true) to scvgc_mark_guard(false),
 * with the world stopped (no program thread runs, so none can fault meanwhile); a fault of
 * a thread not inside a guarded read, or a signal sent with kill, goes to the program's own
 * handler, called as the kernel would have called it (JITs and runtimes rely on theirs). */
static __thread sigjmp_buf *volatile guard_jmp __attribute__((tls_model("initial-exec")));
static __thread volatile uintptr_t guard_addr __attribute__((tls_model("initial-exec")));
static __thread sigset_t guard_mask __attribute__((tls_model("initial-exec"))); /* before */
static __thread sigset_t guard_run __attribute__((tls_model("initial-exec")));  /* guarded */
static struct sigaction prog_segv, prog_bus; /* the program's, while the guard is on */
static _Atomic uint64_t guard_skipped;         /* pages skipped this cycle (the trace) */

static void on_guard_fault(int sig, siginfo_t *si, void *ctx) {
  sigjmp_buf *j = guard_jmp;
  if (j && si->si_code > 0) {
    guard_addr = (uintptr_t)si->si_addr;
    siglongjmp(*j, 1);
  }
  const struct sigaction *old = sig == SIGBUS ? &prog_bus : &prog_segv;
  if (old->sa_flags & SA_SIGINFO) {
    old->sa_sigaction(sig, si, ctx);
  } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
    old->sa_handler(sig);
  } else { /* the default action: as if the guard were not there */
    sigaction(sig, old, NULL);
    if (si->si_code <= 0) syscall(SYS_tgkill, (long)getpid(), syscall(SYS_gettid), (long)sig);
  }
}

/* The calling thread's part: SIGSEGV and SIGBUS unblocked (a synchronous fault with them
 * blocked kills the process; the stop and L2 block every signal in our threads). */
static void guard_thread(bool on) {
  if (on) {
    sigset_t f;
    sigemptyset(&f);
    sigaddset(&f, SIGSEGV);
    sigaddset(&f, SIGBUS);
    pthread_sigmask(SIG_UNBLOCK, &f, &guard_mask);
    pthread_sigmask(SIG_SETMASK, NULL, &guard_run);
  } else {
    pthread_sigmask(SIG_SETMASK, &guard_mask, NULL);
  }
}

static _Atomic int guard_on;

uint64_t scvgc_mark_guard(bool on) {
  if (on) {
    struct sigaction sa;
    __builtin_memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_guard_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &prog_segv);
    sigaction(SIGBUS, &sa, &prog_bus);
    guard_thread(true);
    atomic_store(&guard_on, 1);
    return 0;
  }
  atomic_store(&guard_on, 0);
  guard_thread(false);
  sigaction(SIGSEGV, &prog_segv, NULL);
  sigaction(SIGBUS, &prog_bus, NULL);
  return atomic_load(&guard_skipped);
}

typedef struct { scvgc_range_fn fn; void *arg; } guarded_t;

/* M6: while the world runs (a concurrent cycle's mark, gc.c C2) no signal handler of the
 * library's is installed: an object of a page or more is read through process_vm_readv of
 * the process itself, a chunk at a time into the marker's buffer, which fails with EFAULT
 * on a page the program protected (or unmapped) instead of faulting. What the buffer holds
 * is marked as the object would be: marking reads values, never their addresses. */
static _Atomic int reading_live;
#define COPY_CHUNK (32u << 10) /* the marker threads' stacks are 256 KiB */

static void copied_fn(guarded_t *k, uintptr_t lo, uintptr_t hi) {
  uintptr_t buf[COPY_CHUNK / sizeof(uintptr_t)];
  pid_t pid = (pid_t)syscall(SYS_getpid);
  for (uintptr_t at = lo; at < hi;) {
    uintptr_t want = hi - at < COPY_CHUNK ? hi - at : COPY_CHUNK;
    struct iovec l = {buf, want}, r = {(void *)at, want};
    ssize_t n = syscall(SYS_process_vm_readv, pid, &l, 1UL, &r, 1UL, 0UL);
    if (n > 0) k->fn(k->arg, (uintptr_t)buf, (uintptr_t)buf + (uintptr_t)n);
    if (n == (ssize_t)want) {
      at += want;
      continue;
    }
    /* the page at at + n cannot be read: skip it (a partial read stops at a page's start) */
    uintptr_t bad = at + (n > 0 ? (uintptr_t)n : 0);
    at = (bad | 4095) + 1;
    atomic_fetch_add_explicit(&guard_skipped, 1, memory_order_relaxed);
  }
}

void scvgc_mark_concurrent(bool on) { atomic_store(&reading_live, on); }

/* A cycle's start: the pages skipped by its concurrent reads (M6) and by the guard (M3) add up. */
void scvgc_mark_skipped_reset(void) { atomic_store(&guard_skipped, 0); }

bool scvgc_mark_concurrent_ok(void) {
  static int ok; /* 0 unknown, 1 yes, -1 no (seccomp, no CONFIG_CROSS_MEMORY_ATTACH) */
  if (!ok) {
    uintptr_t a = 42, b = 0;
    struct iovec l = {&b, sizeof b}, r = {&a, sizeof a};
    ok = syscall(SYS_process_vm_readv, (pid_t)syscall(SYS_getpid), &l, 1UL, &r, 1UL, 0UL) ==
                 (long)sizeof a && b == 42 ? 1 : -1;
  }
  return ok == 1;
}

static void guarded_fn(void *g, uintptr_t lo, uintptr_t hi) {
  guarded_t *k = g;
  if (hi - lo >= 4096 && atomic_load_explicit(&reading_live, memory_order_relaxed)) {
    copied_fn(k, lo, hi);
    return;
  }
  if (hi - lo < 4096 || !atomic_load_explicit(&guard_on, memory_order_relaxed)) {
    k->fn(k->arg, lo, hi); /* holds no whole page: the program cannot have protected it */
    return;
  }
  sigjmp_buf jb;
  volatile uintptr_t at = lo;
  if (sigsetjmp(jb, 0)) { /* the page at guard_addr faulted: skip it */
    guard_jmp = NULL;
    pthread_sigmask(SIG_SETMASK, &guard_run, NULL); /* the handler left all blocked */
    uintptr_t f = guard_addr;
    at = f >= at && f < hi ? (f | 4095) + 1 : hi;
    atomic_fetch_add_explicit(&guard_skipped, 1, memory_order_relaxed);
  }
  guard_jmp = &jb;
  while (at < hi) { /* a page at a time: a fault leaves the pages before it read whole */
    uintptr_t e = (at | 4095) + 1;
    if (e > hi) e = hi;
    k->fn(k->arg, at, e);
    at = e;
  }
  guard_jmp = NULL;
}

void scvgc_object_words(uintptr_t lo, uintptr_t hi, scvgc_range_fn fn, void *arg) {
  guarded_t k = {fn, arg};
  if (hi - lo < SCVGC_SPARSE_MIN) guarded_fn(&k, lo, hi);
  else scvgc_sys_touched(lo, hi, guarded_fn, &k);
}

static void mark_range_fn(void *m, uintptr_t lo, uintptr_t hi) { scvgc_mark_range(m, lo, hi); }

SCVGC_NO_SANITIZE static void scan_object(scvgc_marker_t *m, uintptr_t e) {
  uintptr_t obj = e & (((uintptr_t)1 << GREY_SHIFT) - 1), n = GREY_SIZE(e);
  if ((e & GREY_LEAN) && ((const uintptr_t *)obj)[1] == (scvgc_free_key ^ obj)) {
    m->live -= n; /* a free slot, marked (L2) but not an object: nothing to scan */
    m->objects--;
    return;
  }
  if (!n) { /* large (or an empty small object: then this costs a lookup, no more) */
    scvgc_span_t *s = scvgc_spanof(obj);
    n = scvgc_object_size(s, s->state == SCVGC_SPAN_SMALL ? scvgc_slot_index(s, obj) : 0);
  }
  scvgc_object_words(obj, obj + n, mark_range_fn, m);
}

/* ---- written pages (gc.c C2, C3) -------------------------------------------------------- *
 * M7 A page written since the tracking started may hold a pointer stored after its object
 *    was scanned: every marked object on it is read again, over its part on the page only —
 *    the rest of it did not change since it was scanned, or it is grey and will be scanned
 *    whole. An unmarked object needs nothing: if it is marked later, it is scanned whole. */
void scvgc_mark_written(void *arg, uintptr_t lo, uintptr_t hi) {
  scvgc_marker_t *m = arg;
  for (uintptr_t p = lo; p < hi;) {
    scvgc_span_t *s = scvgc_spanof(p);
    uintptr_t next = (p | (SCVGC_PAGE_SIZE - 1)) + 1;
    uint8_t st = s ? __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) : 0;
    if ((st != SCVGC_SPAN_SMALL && st != SCVGC_SPAN_LARGE) || !s->meta ||
        p - s->base >= (s->npages << SCVGC_PAGE_SHIFT)) {
      p = next < hi ? next : hi;
      continue;
    }
    uintptr_t end = s->base + (s->npages << SCVGC_PAGE_SHIFT);
    if (end > hi) end = hi;
    if (st == SCVGC_SPAN_LARGE) {
      uint32_t v = __atomic_load_n(&s->meta[0].size, __ATOMIC_RELAXED);
      uintptr_t a = s->base, b = a + ((s->reqsize + 7) & ~(uintptr_t)7);
      if (a < p) a = p;
      if (b > end) b = end;
      if ((v & SCVGC_META_MARK) && (v & ~SCVGC_META_MARK) && a < b)
        scvgc_object_words(a, b, mark_range_fn, m);
    } else {
      for (uint32_t i = scvgc_slot_index(s, p); i < s->nelems; i++) {
        uintptr_t a = scvgc_object_base(s, i);
        if (a >= end) break;
        uintptr_t b;
        if (scvgc_span_lean(s)) {
          if (!scvgc_lean_marked(s, i) || !scvgc_lean_allocated(s, i, (void **)a)) continue;
          b = a + s->elemsize;
        } else {
          uint32_t v = __atomic_load_n(&s->meta[i].size, __ATOMIC_RELAXED);
          if (!(v & SCVGC_META_MARK) || !(v & ~SCVGC_META_MARK)) continue;
          b = a + ((((v & ~SCVGC_META_MARK) - 1) + 7) & ~(uintptr_t)7);
        }
        if (a < p) a = p;
        if (b > end) b = end;
        if (a < b) scvgc_mark_range(m, a, b);
      }
    }
    p = end;
  }
}

/* ---- termination and the marker threads ------------------------------------------------ */

static _Atomic int nmarking;  /* markers taking part in the current drain */
static _Atomic int nidle;     /* of those, how many found nothing to do */

/* Waiting for another marker: spin a little, then give the CPU away — a helper just woken
 * may have been queued on this very CPU, and a spinning waiter would keep it out. */
static void backoff(unsigned *spins) {
  if (++*spins < 64) __builtin_ia32_pause();
  else sched_yield();
}

void scvgc_mark_drain(scvgc_marker_t *m) {
  bool idle = false;
  unsigned spins = 0;
  scvgc_mark_flush(m);
  for (;;) {
    while (m->wb && m->wb->nobj) {
      /* Scan a few objects at a time, prefetched together first: their misses overlap. */
      uintptr_t objs[DRAIN_K];
      int k = 0;
      while (k < DRAIN_K && m->wb->nobj) {
        objs[k] = m->wb->obj[--m->wb->nobj];
        __builtin_prefetch((void *)(objs[k] & (((uintptr_t)1 << GREY_SHIFT) - 1)));
        k++;
      }
      for (int j = 0; j < k; j++) scan_object(m, objs[j]);
      if (!m->wb->nobj) scvgc_mark_flush(m); /* the held-back checks may grey more */
      /* share: someone is idle and there is nothing on the full list */
      if (atomic_load_explicit(&nidle, memory_order_relaxed) && m->wb->nobj > 8 &&
          !scvgc_wb_have_full()) {
        scvgc_workbuf_t *half = scvgc_wb_getempty();
        if (half) {
          uintptr_t k = m->wb->nobj / 2;
          for (uintptr_t j = 0; j < k; j++) half->obj[j] = m->wb->obj[m->wb->nobj - k + j];
          half->nobj = k;
          m->wb->nobj -= k;
          scvgc_wb_putfull(half);
        }
      }
    }
    scvgc_workbuf_t *b = scvgc_wb_trygetfull();
    if (b) {
      if (idle) {
        atomic_fetch_sub(&nidle, 1);
        idle = false;
      }
      if (m->wb) scvgc_wb_putempty(m->wb);
      m->wb = b;
      continue;
    }
    if (!idle) {
      atomic_fetch_add(&nidle, 1);
      idle = true;
    }
    if (atomic_load(&nidle) == atomic_load(&nmarking) && !scvgc_wb_have_full()) return;
    backoff(&spins);
  }
}

/* ---- marker threads -------------------------------------------------------------------- */

static _Atomic uint32_t cycle_gen;  /* bumped to start the helpers' drain */
static _Atomic int helpers_done;
static _Atomic int helpers_oom; /* a helper had no workbuf this drain: the cycle is incomplete */
static int nhelpers;
static _Atomic int helpers_started;

static long futex(_Atomic uint32_t *w, int op, uint32_t val) {
  return syscall(SYS_futex, w, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}


static void *marker_main(void *arg) {
  (void)arg;
  /* no cycle can start before every helper has got here (scvgc_mark_start_threads waits),
   * so the generation it must wait past is the first one */
  uint32_t seen = 0;
  atomic_fetch_add(&helpers_started, 1);
  for (;;) {
    while (atomic_load(&cycle_gen) == seen) futex(&cycle_gen, FUTEX_WAIT, seen);
    seen = atomic_load(&cycle_gen);
    if (atomic_load(&scvgc_libthreads_quit)) return NULL; /* L3 */
    scvgc_gc_worker = 1;
    scvgc_marker_t m;
    scvgc_marker_init(&m);
    guard_thread(true); /* M3 */
    scvgc_mark_drain(&m);
    guard_thread(false);
    /* a grey object it could not push is unscanned: the cycle must not count as complete */
    if (m.oom) atomic_store(&helpers_oom, 1);
    scvgc_marker_done(&m);
    atomic_fetch_add(&helpers_done, 1);
  }
  return NULL;
}

/* Start n - 1 helper threads (the collector is the n-th marker). Called outside malloc. */
int scvgc_mark_start_threads(int n) {
  if (n > 64) n = 64;
  for (int i = 0; i < n - 1; i++)
    if (scvgc_libthread_start(marker_main, NULL)) nhelpers++;
  while (atomic_load(&helpers_started) < nhelpers) sched_yield();
  return nhelpers + 1;
}

int scvgc_mark_nthreads(void) { return nhelpers + 1; }

/* L3: the helpers end (gc_lock held: no cycle is using them). */
void scvgc_mark_stop_threads(void) {
  nhelpers = 0;
  atomic_fetch_add(&cycle_gen, 1);
  futex(&cycle_gen, FUTEX_WAKE, INT32_MAX);
}


void scvgc_mark_fork_child(void) { nhelpers = 0; }

static _Atomic int woken;  /* helpers woken this drain (0 or nhelpers) */
static _Atomic int draining; /* between the counters' reset and the end of the drain: the
                                only time helpers may be woken (not during the root scan,
                                which pushes too, before the counters are set) */

static void wake_helpers(void) {
  int n = nhelpers;
  if (!n || !atomic_load_explicit(&draining, memory_order_acquire) ||
      atomic_load_explicit(&woken, memory_order_relaxed))
    return;
  int zero = 0;
  if (!atomic_compare_exchange_strong(&woken, &zero, n)) return;
  atomic_fetch_add(&nmarking, n); /* counted before they run: termination waits for them */
  atomic_fetch_add(&cycle_gen, 1);
  futex(&cycle_gen, FUTEX_WAKE, n);
}

void scvgc_mark_parallel(scvgc_marker_t *self) {
  atomic_store(&nidle, 0);
  atomic_store(&nmarking, 1);
  atomic_store(&helpers_done, 0);
  atomic_store(&helpers_oom, 0);
  atomic_store(&woken, 0);
  atomic_store_explicit(&draining, 1, memory_order_release);
  if (scvgc_wb_have_full()) wake_helpers(); /* the roots already filled workbufs */
  scvgc_mark_drain(self);
  unsigned spins = 0;
  while (atomic_load(&helpers_done) < atomic_load(&woken)) backoff(&spins);
  atomic_store(&draining, 0);
  if (atomic_load(&helpers_oom)) self->oom = true; /* the collector's verdict: incomplete */
}
