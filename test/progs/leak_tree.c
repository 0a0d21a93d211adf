/* leak_tree — leaks one object from each of 2 * 4^8 = 131072 distinct allocation stacks: a
 * recursion 8 levels deep that calls itself from four call sites at each level (the path
 * through them is the stack), and two allocation sites at the bottom. Every object is
 * dropped at once (direct leaks); sizes vary with the path so that groups differ in bytes.
 * The program a report must stay small and fast on (test/integration/leakgroups.sh):
 * LEAK_TREE_LEVELS (default 8) sets the depth. Prints "leaked N objects". */
#include <stdio.h>
#include <stdlib.h>

static volatile unsigned long sink;
static unsigned long leaked;

__attribute__((noinline)) static void leak_a(unsigned path) {
  void *p = malloc(16 + (path % 7) * 16);
  sink += (unsigned long)p != 0; /* the pointer dies here */
  leaked++;
}

__attribute__((noinline)) static void leak_b(unsigned path) {
  void *p = malloc(24 + (path % 5) * 8);
  sink += (unsigned long)p != 0;
  leaked++;
}

/* four call sites per level; the statements after each call keep them apart (no tail call) */
__attribute__((noinline)) static void level(int depth, unsigned path) {
  if (depth == 0) {
    leak_a(path);
    sink++;
    leak_b(path);
    sink++;
    return;
  }
  level(depth - 1, path * 4 + 0);
  sink++;
  level(depth - 1, path * 4 + 1);
  sink += 2;
  level(depth - 1, path * 4 + 2);
  sink += 3;
  level(depth - 1, path * 4 + 3);
  sink += 4;
}

int main(void) {
  const char *e = getenv("LEAK_TREE_LEVELS");
  int levels = e ? atoi(e) : 8;
  level(levels, 0);
  printf("leaked %lu objects\n", leaked);
  return 0;
}
