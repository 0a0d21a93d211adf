/* capture.c — nanoseconds per allocation-stack capture (core/stack.c, core/unwind.c).
 *
 * Not built by make. Against the optimised core objects:
 *   make && ar rcs build/core-O2.a build/core/*.o &&
 *   cc -O2 -g -Icore bench/capture.c build/core-O2.a -lunwind -ldw -pthread -o build/capture &&
 *   build/capture [depth] [rounds]
 * Each case captures from RECURSE frames down a recursion, so every capture keeps `depth`
 * (default 16) frames; it prints the best of `rounds` (default 5) timings of 200k captures:
 *   same site        one call site again and again (the memo recognises it whole)
 *   2 sites          two call sites alternately
 *   5-site cycle     five call sites in a cycle at five depths (the shape python's show)
 *   16 sites         sixteen call sites in a fixed shuffled order (more than the memo ring)
 *   unw_backtrace    libunwind's fast trace + the same depot, one call site (for comparison)
 */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"
#include "stack.h"

#define RECURSE 30
#define N 200000

static volatile uint32_t sink;

static uint64_t now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint32_t unw_capture(void) {
  void *raw[80];
  uintptr_t pcs[80];
  int depth = scvgc_opt.stack_depth, n = unw_backtrace(raw, depth + 1), k = 0;
  for (int i = 1; i < n && k < depth; i++) pcs[k++] = (uintptr_t)raw[i];
  return scvgc_stack_intern(pcs, k);
}

#define SITE(i) \
  __attribute__((noinline)) static void site##i(void) { sink += scvgc_stack_capture() + i; }
SITE(0) SITE(1) SITE(2) SITE(3) SITE(4) SITE(5) SITE(6) SITE(7)
SITE(8) SITE(9) SITE(10) SITE(11) SITE(12) SITE(13) SITE(14) SITE(15)
static void (*const sites[16])(void) = {site0, site1, site2,  site3,  site4,  site5,
                                        site6, site7, site8,  site9,  site10, site11,
                                        site12, site13, site14, site15};
__attribute__((noinline)) static void site_unw(void) { sink += unw_capture(); }

static int kase;
static const int order16[16] = {3, 14, 7, 0, 11, 5, 9, 15, 1, 12, 6, 2, 10, 13, 4, 8};

/* Down to depth d, then the case's captures; i picks the site. */
__attribute__((noinline)) static void below(int d, int i) {
  if (d > 0) {
    below(d - 1, i);
    sink++;
    return;
  }
  switch (kase) {
  case 0: site0(); break;
  case 1: sites[i & 1](); break;
  case 2: sites[i % 5](); break;
  case 3: sites[order16[i & 15]](); break;
  case 4: site_unw(); break;
  }
}

__attribute__((noinline)) static void run(int i) {
  /* the 5-site cycle also moves: each site at its own depth */
  below(kase == 2 ? RECURSE + i % 5 : RECURSE, i);
}

int main(int argc, char **argv) {
  scvgc_opt.stack_depth = argc > 1 ? atoi(argv[1]) : 16;
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  static const char *names[] = {"same site", "2 sites", "5-site cycle", "16 sites",
                                "unw_backtrace"};
  for (kase = 0; kase < 5; kase++) {
    for (int i = 0; i < 1000; i++) run(i); /* warm: rules decoded, stacks in the depot */
    double best = 1e30;
    for (int r = 0; r < rounds; r++) {
      uint64_t t0 = now();
      for (int i = 0; i < N; i++) run(i);
      double ns = (double)(now() - t0) / N;
      if (ns < best) best = ns;
    }
    printf("%-14s %6.1f ns/capture (depth %d, incl. %d-frame recursion)\n", names[kase], best,
           scvgc_opt.stack_depth, RECURSE);
  }
  /* the cost of the recursion alone, to subtract */
  kase = 5;
  double best = 1e30;
  for (int r = 0; r < rounds; r++) {
    uint64_t t0 = now();
    for (int i = 0; i < N; i++) run(i);
    double ns = (double)(now() - t0) / N;
    if (ns < best) best = ns;
  }
  printf("%-14s %6.1f ns (no capture)\n", "recursion", best);
  return 0;
}
