/* collect_pause.c — the wall time of scvgc_collect() with N idle threads (issue 14 point 3:
 * the cost of the stop-the-world of a small cycle).
 *
 * Not built by make:
 *   cc -O2 -pthread bench/collect_pause.c -o build/collect_pause -ldl
 *   SCVGC_MODE=collect SCVGC_REPORT=none LD_PRELOAD=build/libscvgc.so build/collect_pause N CALLS
 * N threads wait in pthread_cond_wait; CALLS calls 1 ms apart (after one to warm up); prints
 * the median and 90th percentile in microseconds.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static void *idle(void *a) { (void)a; pthread_mutex_lock(&mu); for (;;) pthread_cond_wait(&cv, &mu); return NULL; }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 4, cycles = argc > 2 ? atoi(argv[2]) : 100;
  void (*gc)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "scvgc_collect");
  if (!gc) return fprintf(stderr, "scvgc_collect not found: preload build/libscvgc.so\n"), 2;
  pthread_t t;
  for (int i = 0; i < n; i++) pthread_create(&t, NULL, idle, NULL);
  usleep(20000);
  double *d = malloc(sizeof(double) * cycles);
  gc();
  for (int i = 0; i < cycles; i++) { double t0 = now(); gc(); d[i] = now() - t0; usleep(1000); }
  qsort(d, cycles, sizeof *d, cmp);
  printf("%d threads: median %.1f us, p90 %.1f us per scvgc_collect\n", n, d[cycles / 2], d[cycles * 9 / 10]);
  fflush(stdout);
  _exit(0);
}
