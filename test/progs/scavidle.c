/* scavidle — programs that idle after using memory, for test/integration/scavenge.sh.
 *
 * usage:
 *   scavidle peak MB KEEP% SECONDS   allocate MB in objects of 1-64 KiB (every byte written),
 *                                    free all but KEEP% at random, then idle SECONDS, printing
 *                                    "rss T KiB" every second (T = 0 right after the frees),
 *                                    "live KiB" once, and "ok" when the survivors check out
 *   scavidle fork MB SECONDS         peak MB KEEP 0, then fork: the child frees 95% and idles,
 *                                    printing "child rss T KiB"; the parent waits for it
 *   scavidle idle SECONDS            sleep; print "cpu S" (user + system seconds of the whole
 *                                    process, every thread, during the sleep only)
 *   scavidle trim MB                 allocate and free MB; print "before KiB", call
 *                                    malloc_trim(0), print "after KiB"
 *   scavidle limit MB ROUNDS         keep MB/2 live in 1 MiB blocks with holes between them
 *                                    and allocate 2 MiB blocks that fit no hole, ROUNDS times;
 *                                    print "rss KiB" at the end (SCVGC_MEMLIMIT's case)
 * Every object's bytes are a pattern of its index, checked before it is freed ("bad" and
 * exit status 2 on a mismatch). */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) v = strtol(line + 6, NULL, 10);
  if (f) fclose(f);
  return v;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_until(double t) {
  for (double d; (d = t - now()) > 0;) {
    struct timespec ts = {(time_t)d, (long)((d - (time_t)d) * 1e9)};
    nanosleep(&ts, NULL);
  }
}

static unsigned rnd = 12345;
static unsigned next(void) { return rnd = rnd * 1103515245 + 12345; }

typedef struct { unsigned char *p; size_t n; } obj_t;
static obj_t *objs;
static size_t nobjs;

static void fill(obj_t *o, size_t i) {
  for (size_t k = 0; k < o->n - 1; k += 512) o->p[k] = (unsigned char)(i + k / 512);
  o->p[o->n - 1] = (unsigned char)i;
}

static void check(const obj_t *o, size_t i) {
  for (size_t k = 0; k < o->n - 1; k += 512)
    if (o->p[k] != (unsigned char)(i + k / 512)) { printf("bad\n"); exit(2); }
  if (o->p[o->n - 1] != (unsigned char)i) { printf("bad\n"); exit(2); }
}

static void peak(size_t mb) {
  size_t total = 0, cap = 1024;
  objs = malloc(cap * sizeof *objs);
  while (total < mb << 20) {
    if (nobjs == cap) objs = realloc(objs, (cap *= 2) * sizeof *objs);
    obj_t *o = &objs[nobjs];
    o->n = 1024 + next() % (63 * 1024);
    o->p = malloc(o->n);
    memset(o->p, 0x77, o->n);
    fill(o, nobjs);
    total += o->n;
    nobjs++;
  }
}

/* Free all but keep% at random; returns the live KiB. */
static long thin(int keep) {
  size_t live = 0;
  for (size_t i = 0; i < nobjs; i++) {
    if ((int)(next() % 100) < keep) {
      live += objs[i].n;
      continue;
    }
    check(&objs[i], i);
    free(objs[i].p);
    objs[i].p = NULL;
  }
  return (long)(live >> 10);
}

static void check_all(void) {
  for (size_t i = 0; i < nobjs; i++)
    if (objs[i].p) check(&objs[i], i);
}

static void idle_report(const char *who, int seconds) {
  double t0 = now();
  for (int t = 0; t <= seconds; t++) {
    sleep_until(t0 + t);
    printf("%srss %d %ld\n", who, t, rss_kib());
    fflush(stdout);
  }
}

static double cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "";
  if (!strcmp(what, "peak") && argc == 5) {
    peak((size_t)atol(argv[2]));
    printf("live %ld\n", thin(atoi(argv[3])));
    idle_report("", atoi(argv[4]));
    check_all();
    printf("ok\n");
    return 0;
  }
  if (!strcmp(what, "fork") && argc == 4) {
    peak((size_t)atol(argv[2]));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      printf("child live %ld\n", thin(5));
      idle_report("child ", atoi(argv[3]));
      check_all();
      printf("child ok\n");
      return 0;
    }
    int st;
    waitpid(pid, &st, 0);
    check_all();
    printf("parent ok %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return 0;
  }
  if (!strcmp(what, "idle") && argc == 3) {
    double c0 = cpu();
    sleep_until(now() + atof(argv[2]));
    printf("cpu %.3f\n", cpu() - c0);
    return 0;
  }
  if (!strcmp(what, "trim") && argc == 3) {
    peak((size_t)atol(argv[2]));
    thin(0);
    printf("before %ld\n", rss_kib());
    malloc_trim(0);
    printf("after %ld\n", rss_kib());
    return 0;
  }
  if (!strcmp(what, "limit") && argc == 4) {
    size_t mb = (size_t)atol(argv[2]);
    int rounds = atoi(argv[3]);
    void **keep = calloc(mb, sizeof *keep);
    for (size_t i = 0; i < mb; i++) { /* mb blocks of 1 MiB; every other one freed */
      keep[i] = malloc(1 << 20);
      memset(keep[i], 1, 1 << 20);
    }
    for (size_t i = 0; i < mb; i += 2) {
      free(keep[i]);
      keep[i] = NULL;
    }
    for (int r = 0; r < rounds; r++) { /* 2 MiB fits no hole: fresh pages each time */
      /* (through a volatile pointer: the compiler may not drop a malloc, memset, free) */
      char *volatile b = malloc(2 << 20);
      memset(b, 2, 2 << 20);
      free(b);
      char *volatile c = malloc(2 << 20); /* the same pages again, plus a new block */
      char *volatile d = malloc(2 << 20);
      memset(c, 3, 2 << 20);
      memset(d, 3, 2 << 20);
      free(c);
      free(d);
      struct timespec ts = {0, 20000000};
      nanosleep(&ts, NULL);
    }
    printf("rss %ld\n", rss_kib());
    for (size_t i = 0; i < mb; i++) free(keep[i]);
    free(keep);
    return 0;
  }
  fprintf(stderr, "usage: see the header of test/progs/scavidle.c\n");
  return 1;
}
