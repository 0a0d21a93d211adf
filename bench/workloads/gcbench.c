/* gcbench — a GCBench-style binary-tree benchmark (after Boehm's GCBench, itself after
 * John Ellis and Pete Kovac's Java version), written for libscvgc.
 *
 * Builds temporary trees top-down and bottom-up at depths 4, 6, ..., 16 (the number of trees
 * per depth keeps the work per depth equal), a stretch tree of depth 18 first, and keeps a
 * long-lived tree of depth 16 and an array of 500000 doubles alive throughout.
 * Three builds of the same source:
 *   default      mallocs and never frees: run it under SCVGC_MODE=collect (or leak)
 *   -DFREE       frees every temporary tree explicitly (the glibc-with-frees baseline)
 *   -DBOEHM      GC_MALLOC from Boehm GC (link with -lgc)
 * Prints the elapsed time of each phase and, at the end, "collections N" where it can know
 * (Boehm). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef BOEHM
#include <gc.h>
#define ALLOC(n) GC_MALLOC(n)
#define ALLOC_ATOMIC(n) GC_MALLOC_ATOMIC(n)
#define RELEASE(p) ((void)(p))
#else
#define ALLOC(n) malloc(n)
#define ALLOC_ATOMIC(n) malloc(n)
#ifdef FREE
#define RELEASE(p) free_tree(p)
#else
#define RELEASE(p) ((void)(p))
#endif
#endif

enum { kStretchTreeDepth = 18, kLongLivedTreeDepth = 16, kArraySize = 500000,
       kMinTreeDepth = 4, kMaxTreeDepth = 16 };

typedef struct Node0 {
  struct Node0 *left, *right;
  int i, j;
} Node0, *Node;

static Node new_node(Node l, Node r) {
  Node n = ALLOC(sizeof(Node0));
  if (!n) { fputs("gcbench: out of memory\n", stderr); exit(1); }
  n->left = l;
  n->right = r;
  n->i = n->j = 0;
  return n;
}

#ifdef FREE
static void free_tree(Node n) {
  if (!n) return;
  free_tree(n->left);
  free_tree(n->right);
  free(n);
}
#endif

/* Nodes in a tree of depth i. */
static int tree_size(int i) { return (1 << (i + 1)) - 1; }

/* Number of iterations to use for a given tree depth. */
static int num_iters(int i) { return 2 * tree_size(kStretchTreeDepth) / tree_size(i); }

/* Build tree top down, assigning to older objects. */
static void populate(int depth, Node n) {
  if (depth-- <= 0) return;
  n->left = new_node(NULL, NULL);
  n->right = new_node(NULL, NULL);
  populate(depth, n->left);
  populate(depth, n->right);
}

/* Build tree bottom-up. */
static Node make_tree(int depth) {
  if (depth <= 0) return new_node(NULL, NULL);
  return new_node(make_tree(depth - 1), make_tree(depth - 1));
}

/* Tag every node of the long-lived tree, then check the tag and the count at the end: a node
 * reclaimed while reachable and handed out again comes back with i == 0. */
static int tag_tree(Node n, int tag) {
  if (!n) return 0;
  if (tag) n->i = n->j = tag;
  else if (n->i != 0x5eed || n->j != 0x5eed) return -(1 << 30);
  return 1 + tag_tree(n->left, tag) + tag_tree(n->right, tag);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void time_construction(int depth) {
  int n = num_iters(depth);
  double t0 = now();
  for (int i = 0; i < n; i++) {
    Node temp = new_node(NULL, NULL);
    populate(depth, temp);
    RELEASE(temp);
  }
  double t1 = now();
  for (int i = 0; i < n; i++) {
    Node temp = make_tree(depth);
    RELEASE(temp);
  }
  double t2 = now();
  printf("depth %2d: %5d trees, top down %.0f ms, bottom up %.0f ms\n", depth, n, (t1 - t0) * 1e3,
         (t2 - t1) * 1e3);
}

int main(void) {
#ifdef BOEHM
  GC_INIT();
#endif
  double t0 = now();
  Node stretch = make_tree(kStretchTreeDepth); /* stretch the heap */
  RELEASE(stretch);
  Node volatile long_lived = new_node(NULL, NULL); /* volatile: a root the compiler keeps */
  populate(kLongLivedTreeDepth, long_lived);
  tag_tree(long_lived, 0x5eed);
  double *volatile array = ALLOC_ATOMIC(sizeof(double) * kArraySize);
  for (int i = 0; i < kArraySize / 2; i++) array[i] = 1.0 / i;
  for (int d = kMinTreeDepth; d <= kMaxTreeDepth; d += 2) time_construction(d);
  if (!long_lived || array[1000] != 1.0 / 1000 ||
      tag_tree(long_lived, 0) != tree_size(kLongLivedTreeDepth)) {
    fputs("gcbench: failed: the long-lived tree or array changed\n", stderr);
    return 1;
  }
  printf("total %.0f ms\n", (now() - t0) * 1e3);
#ifdef BOEHM
  printf("collections %lu\n", (unsigned long)GC_get_gc_no());
#endif
  return 0;
}
