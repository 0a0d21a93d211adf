/* cxx_throw_dl — a C program that dlopens a C++ library (libthrow.so) and has it throw.
 *
 *   cxx_throw_dl LIBRARY [N]   (LIBRARY: build/test/progs/libthrow.so; N throws, default 20000)
 *
 * Prints "unwinder: FILE" (where the process's _Unwind_RaiseException lives: libgcc_s, never
 * a library the allocator dragged in), "throws: N in S s", and "libdw: mapped|not mapped"
 * (whether libdw is in the process: the allocator loads it only to write a report), then
 * exits 0; exit 1 when a throw was not caught. Run by test/integration/exports.sh.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int libdw_mapped(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  int found = 0;
  while (f && fgets(line, sizeof line, f))
    if (strstr(line, "/libdw")) found = 1;
  if (f) fclose(f);
  return found;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: cxx_throw_dl LIBRARY [N]\n");
    return 2;
  }
  int n = argc > 2 ? atoi(argv[2]) : 20000;
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) {
    fprintf(stderr, "cxx_throw_dl: %s\n", dlerror());
    return 1;
  }
  int (*throw_n)(int) = (int (*)(int))dlsym(h, "throw_n");
  const char *(*unwinder_of)(void) = (const char *(*)(void))dlsym(h, "unwinder_of");
  if (!throw_n || !unwinder_of) {
    fprintf(stderr, "cxx_throw_dl: %s\n", dlerror());
    return 1;
  }
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  int caught = throw_n(n);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("unwinder: %s\n", unwinder_of());
  printf("throws: %d in %.3f s\n", n, (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
  printf("libdw: %s\n", libdw_mapped() ? "mapped" : "not mapped");
  if (caught != n) {
    fprintf(stderr, "cxx_throw_dl: %d of %d throws caught\n", caught, n);
    return 1;
  }
  return 0;
}
