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
 * Anything else prints one line on stderr and exits 1. Needs the library preloaded (the
 * scvgc_* API is found with dlsym), except for `reap` in mode off.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "vec")) return vec(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "reap")) return reap(atoi(argv[2]));
  if (argc == 2 && !strcmp(argv[1], "exec")) return exec_self();
  if (argc == 2 && !strcmp(argv[1], "children")) return after_exec();
  return die("usage: stw_guest vec xmm|ymm|zmm | reap N | exec");
}
