/* report_self — leaks a few objects at several stacks and prints, just before exit, the
 * heap's bytes in use as the allocator counts them (mallinfo2().uordblks):
 *   "inuse: N"
 * test/integration/exports.sh compares it with the heap line of the exit report, written with
 * a suppressions file set: the report's figures must be the program's, taken before the
 * symbolizer (libdw and the DWARF it reads, megabytes) is loaded (issue 13 point 12). */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile sink;

__attribute__((noinline)) static void leak_a(void) { sink = malloc(100); sink = NULL; }
__attribute__((noinline)) static void leak_b(void) { sink = malloc(3000); sink = NULL; }

int main(void) {
  for (int i = 0; i < 50; i++) {
    leak_a();
    leak_b();
  }
  struct mallinfo2 mi = mallinfo2();
  printf("inuse: %zu\n", mi.uordblks);
  fflush(stdout);
  return 0;
}
