/* big_roots.c — a small heap beside a large root set (issue 14 point 4, pacing that counts
 * the roots): maps ROOT_MIB MiB of anonymous memory, writes every page of it (so that every
 * cycle reads it: touched pages of a writable private mapping are roots), keeps a few
 * pointers to live objects in it, then allocates and drops GARBAGE_MIB MiB of 1 KiB objects
 * (never freed: only the collector reclaims them in collect mode). Prints "ok" when the
 * objects the roots name are intact at the end.
 * Usage: big_roots ROOT_MIB GARBAGE_MIB */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv) {
  size_t root_mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 300;
  size_t garbage_mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 300;
  size_t n = root_mib << 20;
  char *roots = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (roots == MAP_FAILED) return perror("mmap"), 2;
  for (size_t i = 0; i < n; i += 4096) roots[i] = 1;
  /* live objects known only from the big mapping, one per MiB */
  for (size_t i = 0; i < root_mib; i++) {
    char *o = malloc(64);
    if (!o) return 3;
    memset(o, (int)(i & 0x7f) + 1, 64);
    memcpy(roots + (i << 20) + 64, &o, sizeof o);
  }
  volatile char sink = 0;
  for (size_t i = 0; i < garbage_mib * 1024; i++) {
    char *g = malloc(1024);
    if (!g) return 4;
    g[0] = (char)i;
    sink += g[0];
  }
  for (size_t i = 0; i < root_mib; i++) {
    char *o;
    memcpy(&o, roots + (i << 20) + 64, sizeof o);
    for (int k = 0; k < 64; k++)
      if (o[k] != (char)((i & 0x7f) + 1)) return printf("corrupt object %zu\n", i), 5;
  }
  (void)sink;
  printf("ok\n");
  return 0;
}
