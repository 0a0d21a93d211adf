/* stw_guest.c — stopping the world as the program sees it (test/integration/stw.sh).
 *
 *   stw_guest vec xmm|ymm|zmm   a heap object whose only pointer lives in one vector
 *                               register of a spinning thread is not leaked: prints
 *                               "vec OK" (or "vec SKIP" when the CPU lacks the registers)
 *   stw_guest reap N            N collections while a thread reaps every child with
 *                               waitpid(-1, __WALL): it collects none of the library's
 *                               tracers, and at most one child of the library is alive at
 *                               the end (none in mode off): "reap OK"
 *   stw_guest exec              one collection (a tracer is made), then the process execs
 *                               itself as "children", which after 2.5 s finds no running
 *                               child: the old image's tracer went (it holds the old address
 *                               space until then); its exited task may be left: "exec OK"
 *   stw_guest held              an object whose only pointer lives in r15 of a spinning
 *                               thread survives 10 collections (collect mode: a freed one
 *                               comes back from malloc): "held OK"; run under a PID
 *                               namespace whose /proc is the parent's, where the thread
 *                               cannot be named, the cycles must be incomplete
 *   stw_guest vmchild           the same, the pointer in r15 of a task made by
 *                               clone(CLONE_VM) without CLONE_THREAD: "vmchild OK"
 *   stw_guest rawfork           after a collection that started the marker helpers (20 MB
 *                               live), a child made by syscall(SYS_fork) collects twice and
 *                               exits within 30 s: "rawfork OK"
 *   stw_guest seccomp           under a seccomp filter that kills on ptrace, 5 collections
 *                               with a second thread running: "seccomp OK" (stw.sh checks
 *                               the fallback's reason)
 *   stw_guest churn             non-dumpable (the signal fallback), one thread blocking every
 *                               signal and one in sigwaitinfo() on the full set; 300 000
 *                               allocations of 256 bytes: the waiter never dequeues the
 *                               library's signal, none stays pending on the blocker:
 *                               "churn OK"
 * Anything else prints one line on stderr and exits 1. Needs the library preloaded (the
 * scvgc_* API is found with dlsym), except for `reap` in mode off.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static int die(const char *why) {
  fprintf(stderr, "stw_guest: %s\n", why);
  return 1;
}

/* ---- vec ---------------------------------------------------------------------------- */
/* The pointer travels: slot -> a vector register (slot zeroed) -> spin -> slot. Nothing in
 * memory holds it meanwhile: the register file is its only root. */
static uintptr_t slot;
static _Atomic int ready, quit;
static int which; /* 0 xmm15, 1 ymm15 upper half, 2 zmm31 */

static void *holder(void *arg) {
  (void)arg;
  if (which == 0)
    __asm__ volatile("movq %0, %%xmm15\n\t"
                     "movq $0, %0\n\t"
                     "movl $1, %1\n\t"
                     "1: pause\n\t"
                     "cmpl $0, %2\n\t"
                     "je 1b\n\t"
                     "movq %%xmm15, %0\n\t"
                     : "+m"(slot), "=m"(ready)
                     : "m"(quit)
                     : "xmm15", "memory");
  else if (which == 1)
    __asm__ volatile("vmovq %0, %%xmm0\n\t"
                     "vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
                     "vinserti128 $1, %%xmm0, %%ymm15, %%ymm15\n\t"
                     "vpxor %%xmm0, %%xmm0, %%xmm0\n\t"
                     "movq $0, %0\n\t"
                     "movl $1, %1\n\t"
                     "1: pause\n\t"
                     "cmpl $0, %2\n\t"
                     "je 1b\n\t"
                     "vextracti128 $1, %%ymm15, %%xmm0\n\t"
                     "vmovq %%xmm0, %0\n\t"
                     "vzeroupper\n\t"
                     : "+m"(slot), "=m"(ready)
                     : "m"(quit)
                     : "xmm0", "xmm15", "memory");
  else
    __asm__ volatile("vpbroadcastq %0, %%zmm31\n\t"
                     "movq $0, %0\n\t"
                     "movl $1, %1\n\t"
                     "1: pause\n\t"
                     "cmpl $0, %2\n\t"
                     "je 1b\n\t"
                     "vmovq %%xmm31, %0\n\t"
                     "vzeroupper\n\t"
                     : "+m"(slot), "=m"(ready)
                     : "m"(quit)
                     : "memory");
  return NULL;
}

static int vec(const char *reg) {
  size_t (*check)(void) = (size_t (*)(void))dlsym(RTLD_DEFAULT, "scvgc_leak_check");
  if (!check) return die("scvgc_leak_check not found: is the library preloaded?");
  __builtin_cpu_init();
  if (!strcmp(reg, "xmm")) which = 0;
  else if (!strcmp(reg, "ymm")) which = 1;
  else if (!strcmp(reg, "zmm")) which = 2;
  else return die("vec: xmm, ymm or zmm");
  if ((which == 1 && !__builtin_cpu_supports("avx2")) ||
      (which == 2 && !__builtin_cpu_supports("avx512f"))) {
    printf("vec SKIP (no %s)\n", reg);
    return 0;
  }
  char *p = malloc(100);
  strcpy(p, "still here");
  slot = (uintptr_t)p;
  p = NULL;
  pthread_t th;
  pthread_create(&th, NULL, holder, NULL);
  while (!ready) sleep_ms(1);
  size_t leaked = check();
  quit = 1;
  pthread_join(th, NULL);
  p = (char *)slot;
  if (leaked != 0) {
    fprintf(stderr, "stw_guest: %zu objects leaked while the only pointer was in %s\n",
            leaked, reg);
    return 1;
  }
  if (strcmp(p, "still here")) return die("the object changed");
  free(p);
  printf("vec OK\n");
  return 0;
}

/* ---- reap --------------------------------------------------------------------------- */
static _Atomic int reaped;
static void *reaper(void *arg) {
  (void)arg;
  for (;;) {
    int st;
    if (waitpid(-1, &st, __WALL) > 0) reaped++;
    else sleep_ms(1);
  }
  return NULL;
}

static void *spinner(void *arg) {
  (void)arg;
  ready = 1;
  while (!quit) free(malloc(32));
  return NULL;
}

/* Children of this process, from /proc/self/task/<tid>/children; zombies too, unless
 * running_only (then only those not yet exited count). */
static int count_children(int running_only) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    int pid;
    while (fscanf(f, "%d", &pid) == 1) {
      char sp[64], buf[512] = "";
      snprintf(sp, sizeof sp, "/proc/%d/stat", pid);
      FILE *g = fopen(sp, "r");
      if (g) {
        if (!fgets(buf, sizeof buf, g)) buf[0] = 0;
        fclose(g);
      }
      char *q = strrchr(buf, ')');
      int dead = !g || (q && (q[2] == 'Z' || q[2] == 'X'));
      n += !running_only || !dead;
    }
    fclose(f);
  }
  closedir(d);
  return n;
}
static int children(void) { return count_children(0); }

static int reap(int n) {
  void (*collect)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "scvgc_collect");
  pthread_t r, s;
  pthread_create(&r, NULL, reaper, NULL);
  pthread_create(&s, NULL, spinner, NULL);
  while (!ready) sleep_ms(1);
  for (int i = 0; i < n && collect; i++) {
    collect();
    sleep_ms(2);
  }
  quit = 1;
  pthread_join(s, NULL);
  sleep_ms(50);
  int kids = children();
  int off = getenv("SCVGC_MODE") && !strcmp(getenv("SCVGC_MODE"), "off");
  if (reaped != 0 || kids > (off ? 0 : 1)) {
    fprintf(stderr, "stw_guest: the program reaped %d unknown children; %d alive at the end\n",
            (int)reaped, kids);
    return 1;
  }
  printf("reap OK (%d collections, %d child%s of the library)\n", collect ? n : 0, kids,
         kids == 1 ? "" : "ren");
  return 0;
}

/* ---- exec --------------------------------------------------------------------------- */
static int exec_self(void) {
  void (*collect)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "scvgc_collect");
  if (!collect) return die("scvgc_collect not found: is the library preloaded?");
  pthread_t s;
  pthread_create(&s, NULL, spinner, NULL);
  while (!ready) sleep_ms(1);
  collect(); /* from the main thread, which execs: the tracer's maker never exits */
  if (children() != 1) fprintf(stderr, "stw_guest: note: %d children before exec\n", children());
  execl("/proc/self/exe", "stw_guest", "children", (char *)NULL);
  return die("exec failed");
}

static int after_exec(void) {
  sleep_ms(2500);
  int running = count_children(1), all = children();
  if (running != 0 || all > 1) {
    fprintf(stderr, "stw_guest: %d children of the old image 2.5 s after the exec, %d running\n",
            all, running);
    return 1;
  }
  printf("exec OK (%d exited child of the old image)\n", all);
  return 0;
}

/* ---- held, vmchild ------------------------------------------------------------------ */
/* The pointer travels: gslot -> r15 (gslot zeroed) -> spin -> gslot. The program keeps only
 * hidden = pointer ^ HIDE, which points nowhere. */
#define HIDE ((uintptr_t)0x5a5a5a5a5a5a5a5aull)
#define HELD_SIZE 48
static uintptr_t gslot, hidden;
static _Atomic int gready, gquit;

static void hold_r15(void) {
  __asm__ volatile("movq %0, %%r15\n\t"
                   "movq $0, %0\n\t"
                   "movl $1, %1\n\t"
                   "1: pause\n\t"
                   "cmpl $0, %2\n\t"
                   "je 1b\n\t"
                   "movq %%r15, %0\n\t"
                   : "+m"(gslot), "=m"(gready)
                   : "m"(gquit)
                   : "r15", "memory");
}
static void *held_thread(void *arg) { (void)arg; hold_r15(); return NULL; }
static int held_child(void *arg) { (void)arg; hold_r15(); return 0; }

__attribute__((noinline)) static void held_make(void) {
  char *p = malloc(HELD_SIZE);
  strcpy(p, "still here");
  gslot = (uintptr_t)p;
  hidden = (uintptr_t)p ^ HIDE;
}
/* Overwrite the dead stack below the callers, where the pointer may have been left. */
__attribute__((noinline)) static void scrub(void) {
  volatile char junk[16384];
  memset((char *)junk, 0, sizeof junk);
}

/* 10 collections, each followed by 4096 allocations of the object's size: 1 when one of
 * them returned the held object (it was freed), else 0. */
__attribute__((noinline)) static int held_probe(void) {
  void (*collect)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "scvgc_collect");
  void **keep = malloc(4096 * sizeof *keep);
  int hit = 0;
  for (int r = 0; r < 10 && !hit; r++) {
    collect();
    for (int i = 0; i < 4096; i++)
      if ((uintptr_t)(keep[i] = malloc(HELD_SIZE)) == (hidden ^ HIDE)) hit = 1;
    for (int i = 0; i < 4096; i++) free(keep[i]);
  }
  free(keep);
  return hit;
}

static int held_end(const char *name, int hit) {
  const char *p = (const char *)gslot;
  if (hit || !p || strcmp(p, "still here")) {
    fprintf(stderr, "stw_guest: %s: the object held only in r15 was freed (%s)\n", name,
            hit ? "malloc returned it again" : "its contents changed");
    return 1;
  }
  printf("%s OK\n", name);
  return 0;
}

static int held(void) {
  if (!dlsym(RTLD_DEFAULT, "scvgc_collect")) return die("scvgc_collect not found");
  held_make();
  pthread_t th;
  pthread_create(&th, NULL, held_thread, NULL);
  while (!gready) sleep_ms(1);
  scrub();
  int hit = held_probe();
  gquit = 1;
  pthread_join(th, NULL);
  return held_end("held", hit);
}

static int vmchild(void) {
  if (!dlsym(RTLD_DEFAULT, "scvgc_collect")) return die("scvgc_collect not found");
  size_t sz = 256 * 1024;
  char *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack == MAP_FAILED) return die("mmap");
  held_make();
  pid_t pid = clone(held_child, stack + sz, CLONE_VM | SIGCHLD, NULL);
  if (pid < 0) return die("clone(CLONE_VM)");
  while (!gready) sleep_ms(1);
  scrub();
  int hit = held_probe();
  gquit = 1;
  int st;
  waitpid(pid, &st, __WALL);
  return held_end("vmchild", hit);
}

/* ---- rawfork ------------------------------------------------------------------------ */
static int rawfork(void) {
  void (*collect)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "scvgc_collect");
  if (!collect) return die("scvgc_collect not found");
  enum { N = 5000 };
  static void *big[N];
  for (int i = 0; i < N; i++) big[i] = malloc(4096); /* 20 MB live: the markers start */
  collect();
  pid_t pid = (pid_t)syscall(SYS_fork);
  if (pid < 0) return die("SYS_fork");
  if (pid == 0) {
    collect();
    free(malloc(100));
    collect();
    _exit(0);
  }
  int st, waited = 0;
  while (waitpid(pid, &st, WNOHANG) != pid) {
    if (++waited > 30000) { /* 30 s: it hangs (with signals blocked: no alarm() would do) */
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      break;
    }
    sleep_ms(1);
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "stw_guest: the SYS_fork child %s %d\n",
            WIFSIGNALED(st) ? "was killed by signal" : "exited", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    return 1;
  }
  for (int i = 0; i < N; i++) free(big[i]);
  printf("rawfork OK\n");
  return 0;
}

/* ---- seccomp ------------------------------------------------------------------------ */
static int seccomp_case(void) {
  void (*collect)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "scvgc_collect");
  if (!collect) return die("scvgc_collect not found");
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof f / sizeof *f, f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
    return die("cannot install a seccomp filter");
  pthread_t s;
  pthread_create(&s, NULL, spinner, NULL);
  while (!ready) sleep_ms(1);
  for (int i = 0; i < 5; i++) collect();
  quit = 1;
  pthread_join(s, NULL);
  printf("seccomp OK\n");
  return 0;
}

/* ---- churn -------------------------------------------------------------------------- */
static _Atomic int stolen, blocker_tid, waiting;
static void *sig_blocker(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  blocker_tid = (int)syscall(SYS_gettid);
  for (;;) pause();
  return NULL;
}
static void *sig_waiter(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  waiting = 1;
  for (;;) {
    siginfo_t si;
    if (sigwaitinfo(&all, &si) < 0) continue;
    if (si.si_signo == SIGTERM || si.si_signo == SIGINT) _exit(3); /* timeout(1) */
    if (si.si_signo >= SIGRTMIN) stolen++; /* a daemon's "request" */
  }
  return NULL;
}

static int churn(void) {
  prctl(PR_SET_DUMPABLE, 0); /* the library then stops the world with signals */
  pthread_t b, w;
  pthread_create(&b, NULL, sig_blocker, NULL);
  pthread_create(&w, NULL, sig_waiter, NULL);
  while (!blocker_tid || !waiting) sleep_ms(1);
  for (int i = 0; i < 300000; i++) {
    char *p = malloc(256);
    p[0] = (char)i; /* dropped: garbage for the collector */
  }
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)blocker_tid);
  FILE *f = fopen(path, "r");
  unsigned long long pend = ~0ull;
  while (f && fgets(buf, sizeof buf, f))
    if (!strncmp(buf, "SigPnd:", 7)) pend = strtoull(buf + 7, NULL, 16);
  if (f) fclose(f);
  if (stolen || pend) {
    fprintf(stderr, "stw_guest: churn: %d signals taken by sigwaitinfo, blocker's SigPnd %llx\n",
            (int)stolen, pend);
    return 1;
  }
  printf("churn OK\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "vec")) return vec(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "reap")) return reap(atoi(argv[2]));
  if (argc == 2 && !strcmp(argv[1], "exec")) return exec_self();
  if (argc == 2 && !strcmp(argv[1], "children")) return after_exec();
  if (argc == 2 && !strcmp(argv[1], "held")) return held();
  if (argc == 2 && !strcmp(argv[1], "vmchild")) return vmchild();
  if (argc == 2 && !strcmp(argv[1], "rawfork")) return rawfork();
  if (argc == 2 && !strcmp(argv[1], "seccomp")) return seccomp_case();
  if (argc == 2 && !strcmp(argv[1], "churn")) return churn();
  return die("usage: stw_guest vec xmm|ymm|zmm | reap N | exec | held | vmchild | rawfork | "
             "seccomp | churn");
}
