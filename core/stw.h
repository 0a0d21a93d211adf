/* stw.h — stopping the world: every thread of the process but the caller, frozen with its
 * registers and stack pointer recorded, until the caller resumes them.
 *
 * The collector calls scvgc_stw_stop(), scans the roots on its own thread (the threads it
 * named with scvgc_stw_exclude() keep running), then calls scvgc_stw_start(). Two methods:
 *   ptrace   (primary) a helper task, clone()d into our address space but not our thread
 *            group, PTRACE_SEIZEs and PTRACE_INTERRUPTs every thread, as LeakSanitizer does.
 *            No signal is delivered, so threads that block every signal stop too, and sleep,
 *            nanosleep, poll, read are restarted by the kernel, never cut short. The helper
 *            (the tracer) is made at the first stop and kept for the life of the process,
 *            and so is its child (the seizer) that ptraces: it lets go of every thread with
 *            PTRACE_DETACH and waits for the next stop (it exits, letting go of every
 *            thread at once, only after a stop that left a thread it cannot detach).
 *   signals  (fallback, when ptrace is refused: under gdb or strace, Yama, seccomp, or when
 *            the process is non-dumpable, which ptrace would need lifted) a
 *            dedicated real-time signal whose handler records the registers and waits on a
 *            futex. SA_RESTART: read() and futex waits restart, but the kernel ends
 *            nanosleep/poll/select/epoll_wait with EINTR when any handler runs (signal(7)).
 * Which one ran is in scvgc_world_t.method; the fallback is announced once (trace >= 1).
 * The stop-the-world path calls no libc function that may allocate or lock: raw system
 * calls, memory from mmap. Not async-signal-safe; one stop at a time per process (the
 * callers are serialised inside), and its lock ranks between OWN and WB (internal.h
 * "lock ranks").
 */
#ifndef SCVGC_STW_H
#define SCVGC_STW_H

#include <stdint.h>
#include <sys/types.h>

#include "internal.h"

/* States of a thread in the world. Registers and sp are valid for STOPPED and SELF. */
enum {
  SCVGC_STW_STOPPED = 1,  /* frozen by this stop */
  SCVGC_STW_SELF = 2,     /* the caller: threads[0], registers captured in scvgc_stw_stop */
  SCVGC_STW_EXCLUDED = 3, /* named by scvgc_stw_exclude: left running, no registers */
  SCVGC_STW_GONE = 4,     /* exited meanwhile (or a zombie main thread): seen gone from
                             /proc, never inferred from ESRCH alone: nothing to scan */
  SCVGC_STW_FAILED = 5,   /* could not be stopped (signals blocked under the fallback, no
                             answer within the timeout, waiting in vfork, no memory for its
                             slot, a tid that ptrace or a signal cannot name): it runs on, so
                             a collection must not free anything this cycle */
};

/* How the world was stopped. */
enum {
  SCVGC_STW_ALONE = 0,   /* nothing to stop: the caller (and excluded threads) only */
  SCVGC_STW_PTRACE = 1,
  SCVGC_STW_SIGNALS = 2,
};

/* Registers are stored in the hardware encoding order, so regs[12] is r12. */
enum {
  SCVGC_REG_RAX, SCVGC_REG_RCX, SCVGC_REG_RDX, SCVGC_REG_RBX, SCVGC_REG_RSP, SCVGC_REG_RBP,
  SCVGC_REG_RSI, SCVGC_REG_RDI, SCVGC_REG_R8, SCVGC_REG_R9, SCVGC_REG_R10, SCVGC_REG_R11,
  SCVGC_REG_R12, SCVGC_REG_R13, SCVGC_REG_R14, SCVGC_REG_R15,
  SCVGC_STW_NREGS /* 16 general-purpose registers */
};

typedef struct {
  pid_t tid;
  int state;   /* SCVGC_STW_* above */
  int nregs;   /* entries of regs that are valid: SCVGC_STW_NREGS when stopped, 6 callee-saved
                  (rbx rbp r12-r15) plus rsp for SELF, 0 otherwise; the others read 0 */
  int signal;  /* internal. ptrace: the signal a thread was about to take when it stopped
                  (delivered when it is resumed); fallback: checks that saw it blocking */
  uintptr_t sp;   /* stack pointer when stopped; the live stack is [sp - 128, base) */
  uintptr_t pc;   /* instruction pointer when stopped (for diagnostics) */
  uintptr_t tp;   /* thread pointer (fs base): its TCB, from which static TLS is found */
  uintptr_t regs[SCVGC_STW_NREGS];
  /* Vector and other extended registers (x87/MMX, xmm, ymm, zmm, opmask: the whole xsave
   * image) of a STOPPED thread: its 8-byte lanes that could be a user-space address are
   * w->vec[vec_off, vec_off + nvec); the other lanes (0, floats, small integers) cannot
   * point into the heap and are dropped. 0 lanes for SELF: no vector register is preserved
   * across a call, so the caller's hold nothing of its callers. */
  uint32_t vec_off, nvec;
} scvgc_thread_t;

/* A zeroed scvgc_world_t is ready for use; keep it between cycles (the thread array is
 * reused, grown by remapping) and scvgc_stw_free() it when done. threads[0] is always the
 * caller. Fields below "internal" belong to stw.c. */
typedef struct {
  scvgc_thread_t *threads; /* nthreads entries: every thread of /proc/self/task */
  int nthreads;
  int method;              /* SCVGC_STW_ALONE, _PTRACE or _SIGNALS */
  int nstopped;            /* threads in state STOPPED */
  int nfailed;             /* threads that could not be stopped (FAILED, or no slot), plus
                              one for each reason below the stop cannot vouch for */
  const char *incomplete;  /* NULL, or why the stop is incomplete beyond a thread that would
                              not stop, in lower-case words (the trace line's format): /proc
                              speaks another PID namespace's tids, another process shares the
                              address space (clone(CLONE_VM) without CLONE_THREAD); nfailed
                              counts it */
  uint64_t timeout_ns;     /* how long a thread may take to stop; 0: SCVGC_STW_TIMEOUT_NS */
  uint64_t stop_ns;        /* duration of the last scvgc_stw_stop */
  /* internal */
  size_t cap;              /* entries mapped at threads */
  int32_t *index;          /* tid -> slot hash (open addressing), icap entries */
  size_t icap;
  uintptr_t *vec;          /* the threads' vector lanes (see scvgc_thread_t.nvec) */
  size_t nvec, vcap;       /* lanes used in this stop, lanes mapped */
} scvgc_world_t;

/* Default time a thread may take to stop: long enough for a thread in a short
 * uninterruptible wait (page fault on a slow disk), short enough that a stuck thread costs
 * one slow cycle and not a hang. Under the fallback a thread is sent the signal only when
 * /proc shows it would take it: one that blocks it (SigBlk), or waits for it in
 * sigwaitinfo/sigtimedwait (which would dequeue it as the program's own), is not sent it
 * (a queued signal would pile up, or be taken for a request) and is failed when it still
 * does so SCVGC_STW_GRACE_NS later. A thread waiting in vfork (state D in /proc, in the kernel's clone) cannot stop before its
 * child execs or exits, which may take any time: it is failed as soon as it is seen there,
 * after SCVGC_STW_VFORK_CHECK_NS under ptrace (the cycle frees nothing; the next one tries
 * again). */
#define SCVGC_STW_TIMEOUT_NS (1000ull * 1000 * 1000)
#define SCVGC_STW_GRACE_NS (20ull * 1000 * 1000)
#define SCVGC_STW_VFORK_CHECK_NS (1ull * 1000 * 1000)

/* Stop every thread of the process but the caller and the excluded ones. Any thread may
 * call it, holding any core lock but WB (the collector holds REGISTRY..OWN, so that no
 * thread stops holding one); it returns with the world stopped (as far as it could be),
 * signals blocked in the calling thread, and the stop-the-world lock held: the caller must
 * call scvgc_stw_start(w) in every case, and must not allocate, print through stdio or take
 * a lock another thread may hold in between. Returns w->nfailed (0: every thread is
 * stopped or gone). */
int scvgc_stw_stop(scvgc_world_t *w) SCVGC_HIDDEN;
/* Does the stop still hold every thread it reported stopped? Between stop and start: false
 * when the ptrace seizer holding them is gone or going (its tracer died, which lets every
 * thread run): whatever was read of the world since may be torn, and a cycle must not free
 * on it. Always true under the signal fallback (a thread leaves its handler only at start). */
bool scvgc_stw_held(const scvgc_world_t *w) SCVGC_HIDDEN;
/* Resume what scvgc_stw_stop stopped, restore the caller's signal mask, release the lock.
 * The thread array stays readable (tids and states) until the next stop. */
void scvgc_stw_start(scvgc_world_t *w) SCVGC_HIDDEN;
/* The mappings stw.c holds for w (thread array, tid index, vector lanes, the tracer's and
 * the seizer's stacks), at most max, as [start, end) pairs: the library's own, never roots
 * (they hold copies of registers). */
int scvgc_stw_mappings(const scvgc_world_t *w, uintptr_t (*out)[2], int max) SCVGC_HIDDEN;
/* Unmap w's memory. Not between stop and start. */
void scvgc_stw_free(scvgc_world_t *w) SCVGC_HIDDEN;

/* Threads of the collector itself (markers) that must keep running while the world is
 * stopped; they appear in the world as EXCLUDED. At most SCVGC_STW_MAX_EXCLUDED at once;
 * returns 0, or -1 when the table is full. Entries are tagged with the pid, so a fork
 * child ignores its parent's. */
#define SCVGC_STW_MAX_EXCLUDED 256
int scvgc_stw_exclude(pid_t tid) SCVGC_HIDDEN;
void scvgc_stw_unexclude(pid_t tid) SCVGC_HIDDEN;

/* Test and debugging knob: 1 makes every later stop use the signal fallback. */
void scvgc_stw_force_signals(int on) SCVGC_HIDDEN;
/* Test knob: act as if Yama's ptrace_scope read `scope` (-2: read it again from /proc). */
void scvgc_stw_assume_yama_scope(int scope) SCVGC_HIDDEN;
/* The tracer task alive now (0: none): at most one per process, kept between stops. */
pid_t scvgc_stw_tracer(void) SCVGC_HIDDEN;
/* Why the last stop fell back to signals ("forced", "ptrace: EPERM", ...), NULL if it did
 * not. scvgc_stw_fallback_reported is set once the line has been printed (trace >= 1). */
const char *scvgc_stw_fallback_reason(void) SCVGC_HIDDEN;
extern int scvgc_stw_fallback_reported SCVGC_HIDDEN;
/* The signal number the fallback uses (0 until the fallback is first used). */
int scvgc_stw_signal(void) SCVGC_HIDDEN;

#endif
