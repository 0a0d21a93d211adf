/* markrate — the mark rate of a collector on a live, pointer-dense heap.
 *
 * Builds SIZE MiB (argv[1], default 1024) of 64-byte nodes, each holding 4 pointers to
 * other nodes chosen at random (so the heap is one connected graph visited in random
 * order) and 4 words of data; a global array points to every 64th node. Then times
 * full collections: under libscvgc through scvgc_collect() (found with dlsym, so the
 * same binary runs anywhere), or, built with -DBOEHM and linked with -lgc, through
 * GC_gcollect() on GC_MALLOC'd nodes. Prints: MiB, nodes, collections, best and median
 * seconds per collection, and the rate in MB/s over the best one.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef BOEHM
#include <gc.h>
#define ALLOC(n) GC_MALLOC(n)
#else
#define ALLOC(n) malloc(n)
#endif

typedef struct node { struct node *p[4]; uint64_t data[4]; } node_t;

static node_t **roots;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
  int reps = argc > 2 ? atoi(argv[2]) : 3;
#ifdef BOEHM
  GC_INIT();
  void (*collect)(void) = GC_gcollect;
#else
  void (*collect)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "scvgc_collect");
  if (!collect) {
    fprintf(stderr, "markrate: run it under libscvgc (scvgc_collect not found)\n");
    return 2;
  }
#endif
  size_t n = (mib << 20) / sizeof(node_t);
  node_t **all = malloc(n * sizeof *all);
  for (size_t i = 0; i < n; i++) all[i] = ALLOC(sizeof(node_t));
  uint64_t r = 88172645463325252ull;
  for (size_t i = 0; i < n; i++)
    for (int k = 0; k < 4; k++) {
      r ^= r << 13; r ^= r >> 7; r ^= r << 17;
      all[i]->p[k] = all[r % n];
      all[i]->data[k] = r;
    }
  roots = ALLOC((n / 64 + 1) * sizeof *roots);
  for (size_t i = 0; i < n; i += 64) roots[i / 64] = all[i];
  /* free(all); from here the nodes are reachable only through roots and each other */
  double t[16];
  if (reps > 16) reps = 16;
  for (int i = 0; i < reps; i++) {
    double t0 = now();
    collect();
    t[i] = now() - t0;
  }
  qsort(t, reps, sizeof *t, cmp);
  printf("%zu MiB, %zu nodes, %d collections, best %.3f s, median %.3f s, %.0f MB/s\n", mib, n,
         reps, t[0], t[reps / 2], (double)(n * sizeof(node_t)) / t[0] / 1e6);
  return 0;
}
