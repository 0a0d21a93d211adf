/* markrate — the mark rate of a collector on a live, pointer-dense heap.
 *
 * Builds SIZE MiB (argv[1], default 1024) of 64-byte nodes, each holding 4 pointers (one to
 * its predecessor in its run of 64, three to nodes chosen at random, so the graph is visited
 * in random order) and 4 words of data; a global array points to the last node of every run,
 * so every node is live. Each collection must find no leak. Then times
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

/* volatile and global: the root array must stay live (a dead static would be optimised away,
 * and the whole graph with it) */
node_t **volatile roots;

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
#ifdef BOEHM
  node_t **all = GC_MALLOC(n * sizeof *all); /* Boehm must see it while nodes are made */
#else
  node_t **all = malloc(n * sizeof *all);
#endif
  for (size_t i = 0; i < n; i++) all[i] = ALLOC(sizeof(node_t));
  uint64_t r = 88172645463325252ull;
  for (size_t i = 0; i < n; i++)
    for (int k = 0; k < 4; k++) {
      r ^= r << 13; r ^= r >> 7; r ^= r << 17;
      /* p[0] chains every run of 64 nodes back to its first one, and the roots point to the
       * last node of each run, so every node is reachable; the other three pointers go
       * anywhere (the graph is visited in random order) */
      all[i]->p[k] = k == 0 && i % 64 ? all[i - 1] : all[r % n];
      all[i]->data[k] = r;
    }
  roots = ALLOC((n / 64 + 1) * sizeof *roots);
  for (size_t i = 0; i < n; i += 64) roots[i / 64] = all[i + 63 < n ? i + 63 : n - 1];
#ifndef BOEHM
  free(all); /* from here the nodes are reachable only through roots and each other */
#endif
  all = NULL;
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
