/* running_pause.c — the pause a running thread sees while another thread calls scvgc_collect()
 * on a big live heap (issue 15: at most 10 ms on a 1 GiB heap).
 *
 * Not built by make:
 *   cc -O2 -pthread bench/running_pause.c -o build/running_pause -ldl
 *   SCVGC_MODE=collect SCVGC_GOGC=off SCVGC_REPORT=none LD_PRELOAD=build/libscvgc.so \
 *       build/running_pause [MiB] [collections]
 * Builds MiB (default 1024) of 64-byte nodes (as bench/workloads/markrate.c: one pointer back
 * along a run of 64, three at random, all live through a global array). A ticker thread then
 * loops reading the clock and allocating and freeing a small object now and then; the main
 * thread calls scvgc_collect() (dlsym) the given number of times (default 3). Prints the
 * longest gap the ticker saw between two clock reads (its longest stop: the pause it saw),
 * the 99.9th percentile of its gaps over 50 us, and the median wall time of a collection.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct node { struct node *p[4]; uint64_t data[4]; } node_t;
node_t **volatile roots;
static volatile int stop;
static double gaps[1 << 20];
static long ngaps;
static double maxgap;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6; /* ms */
}

static void *ticker(void *arg) {
  (void)arg;
  double last = now();
  unsigned k = 0;
  while (!stop) {
    if (++k % 64 == 0) free(malloc(48)); /* it uses the allocator too */
    double t = now(), g = t - last;
    last = t;
    if (g > maxgap) maxgap = g;
    if (g > 0.05 && ngaps < (long)(sizeof gaps / sizeof *gaps)) gaps[ngaps++] = g;
  }
  return NULL;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 1024;
  int cycles = argc > 2 ? atoi(argv[2]) : 3;
  void (*gc)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "scvgc_collect");
  if (!gc) return fprintf(stderr, "scvgc_collect not found: preload build/libscvgc.so\n"), 2;
  long n = (mib << 20) / 64, runs = n / 64;
  roots = malloc(runs * sizeof *roots);
  node_t **all = malloc(n * sizeof *all);
  uint64_t s = 88172645463325252ull;
  for (long i = 0; i < n; i++) {
    node_t *x = malloc(sizeof *x);
    x->p[0] = i % 64 ? all[i - 1] : NULL;
    for (int j = 1; j < 4; j++) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      x->p[j] = i ? all[s % i] : NULL;
    }
    for (int j = 0; j < 4; j++) x->data[j] = i;
    all[i] = x;
    if (i % 64 == 63) roots[i / 64] = x;
  }
  free(all);
  pthread_t t;
  pthread_create(&t, NULL, ticker, NULL);
  usleep(100000);
  double *wall = malloc(cycles * sizeof *wall);
  for (int c = 0; c < cycles; c++) {
    double t0 = now();
    gc();
    wall[c] = now() - t0;
    usleep(100000);
  }
  stop = 1;
  pthread_join(t, NULL);
  qsort(wall, cycles, sizeof *wall, cmp);
  qsort(gaps, ngaps, sizeof *gaps, cmp);
  printf("%ld MiB, %d collections: running thread's longest stop %.3f ms, p99.9 of its gaps over "
         "50 us %.3f ms (%ld such gaps); scvgc_collect() median wall %.1f ms\n",
         mib, cycles, maxgap, ngaps ? gaps[ngaps * 999 / 1000] : 0.0, ngaps, wall[cycles / 2]);
  return 0;
}
