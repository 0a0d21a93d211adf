/* sample_volumes — known allocation volumes per stack, for the sampled report (issue 14).
 *
 * Five allocation sites, each a function of its own, allocate known totals of one object
 * size each, interleaved, and drop every object at once (each overwrites one global sink):
 * they end up reclaimed (collect mode) or leaked at exit, attributed to their site. Prints
 * one line per site: "FUNCTION OBJECTS BYTES" (what it allocated), for the test to compare
 * with the report (test/integration/sample.sh). Argument: a scale (default 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *volatile sink;

#define SITE(name, size)                                                                     \
  __attribute__((noinline)) static void name(void) {                                         \
    void *p = malloc(size);                                                                  \
    if (!p) abort();                                                                         \
    memset(p, 0x5a, 16);                                                                     \
    sink = p;                                                                                \
  }
SITE(site_small_64, 64)       /* 16 MiB: many small objects, each rarely sampled */
SITE(site_mid_1000, 1000)     /*  8 MiB */
SITE(site_large_40000, 40000) /*  6 MiB: large objects, most of them sampled */
SITE(site_small_200, 200)     /*  3 MiB: about 8% of the bytes */
SITE(site_rare_5000, 5000)    /*  1 MiB: under 5%, not checked */

static const struct {
  const char *name;
  void (*fn)(void);
  long size, bytes;
} sites[] = {
    {"site_small_64", site_small_64, 64, 16l << 20},
    {"site_mid_1000", site_mid_1000, 1000, 8l << 20},
    {"site_large_40000", site_large_40000, 40000, 6l << 20},
    {"site_small_200", site_small_200, 200, 3l << 20},
    {"site_rare_5000", site_rare_5000, 5000, 1l << 20},
};
#define NSITES (sizeof sites / sizeof *sites)

int main(int argc, char **argv) {
  long scale = argc > 1 ? atol(argv[1]) : 1;
  long n[NSITES], left[NSITES], total = 0;
  for (size_t i = 0; i < NSITES; i++) {
    n[i] = left[i] = sites[i].bytes * scale / sites[i].size;
    total += n[i];
  }
  /* interleaved: each time the site furthest behind its share of the run */
  for (long done = 0; done < total; done++) {
    size_t best = 0;
    double lag = -1;
    for (size_t i = 0; i < NSITES; i++) {
      double l = left[i] ? (double)left[i] / (double)n[i] : -1;
      if (l > lag) lag = l, best = i;
    }
    sites[best].fn();
    left[best]--;
  }
  sink = NULL;
  for (size_t i = 0; i < NSITES; i++) printf("%s %ld %ld\n", sites[i].name, n[i], n[i] * sites[i].size);
  return 0;
}
