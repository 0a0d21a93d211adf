/* metadiet — the GC metadata of a heap of small objects (issue 14 point 2): N objects of SIZE
 * bytes (argv: SIZE N), all kept live through one array, then exit; the JSON report's heap
 * section says what the library holds (gc_sys_bytes) against the heap in use (inuse_bytes).
 *   cc -O2 bench/workloads/metadiet.c -o metadiet
 *   SCVGC_MODE=collect SCVGC_REPORT=none SCVGC_JSON=r.json LD_PRELOAD=build/libscvgc.so ./metadiet 16 4000000 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void **volatile keep;

int main(int argc, char **argv) {
  size_t size = argc > 1 ? strtoul(argv[1], NULL, 0) : 16;
  size_t n = argc > 2 ? strtoul(argv[2], NULL, 0) : 4000000;
  keep = malloc(n * sizeof *keep);
  if (!keep) return 1;
  for (size_t i = 0; i < n; i++) {
    keep[i] = malloc(size);
    if (!keep[i]) return 1;
    memset(keep[i], (int)i, size);
  }
  printf("%zu objects of %zu bytes\n", n, size);
  return 0;
}
