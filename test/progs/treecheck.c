/* treecheck — a GCBench-like program whose every node is checked (collect mode, concurrent
 * marking): threads build temporary binary trees top-down and bottom-up and drop them (never
 * freed: garbage), while a long-lived tree stays reachable only through a global; one thread
 * keeps swapping subtrees of the long-lived tree (the pointers move between nodes the marker
 * may have scanned and nodes it has not) while cycles run. Every node carries a pattern
 * derived from its address and depth, checked before each use and over the whole long-lived
 * tree at the end: a node reclaimed while reachable is reused and overwritten, and the check
 * fails (exit 1).
 *   treecheck [threads] [seconds] [exec]   (defaults 3, 3)
 * Prints "ok N nodes checked". With "exec": then prints "userfaultfd N", the descriptors of
 * the process that are userfaultfds, and execs ls -l /proc/self/fd (what an exec'd program
 * inherits). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

typedef struct node {
  uintptr_t magic; /* MAGIC ^ address ^ depth */
  struct node *left, *right;
  long depth;
  char pad[16];
} node_t;

#define MAGIC 0x7ee7ee5ca1ab1eull
static node_t *volatile long_lived;
static volatile int stop;
static uint64_t checked[64];

static void bad(const node_t *n, const char *why) {
  fprintf(stderr, "treecheck: node %p %s (magic %lx, depth %ld)\n", (const void *)n, why,
          (unsigned long)n->magic, n->depth);
  exit(1);
}

static node_t *make(node_t *l, node_t *r, long depth) {
  node_t *n = malloc(sizeof *n);
  if (!n) exit(2);
  n->left = l;
  n->right = r;
  n->depth = depth;
  memset(n->pad, (int)depth, sizeof n->pad);
  n->magic = MAGIC ^ (uintptr_t)n ^ (uintptr_t)depth;
  return n;
}

static void check(const node_t *n, long depth) {
  if (n->magic != (MAGIC ^ (uintptr_t)n ^ (uintptr_t)n->depth)) bad(n, "was overwritten");
  if (depth >= 0 && n->depth != depth) bad(n, "has the wrong depth");
  for (size_t i = 0; i < sizeof n->pad; i++)
    if (n->pad[i] != (char)n->depth) bad(n, "payload was overwritten");
}

static long check_tree(const node_t *n, long depth, int id) {
  if (!n) return 0;
  check(n, depth);
  checked[id]++;
  return 1 + check_tree(n->left, depth - 1, id) + check_tree(n->right, depth - 1, id);
}

static node_t *bottom_up(long d) { return d ? make(bottom_up(d - 1), bottom_up(d - 1), d) : make(NULL, NULL, 0); }

static void top_down(node_t *n, long d) {
  if (!d) return;
  n->left = make(NULL, NULL, d - 1);
  n->right = make(NULL, NULL, d - 1);
  top_down(n->left, d - 1);
  top_down(n->right, d - 1);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double until;

static void *builder(void *arg) {
  int id = (int)(intptr_t)arg;
  while (now() < until) {
    for (long d = 4; d <= 12; d += 2) {
      node_t *t = make(NULL, NULL, d);
      top_down(t, d);
      if (check_tree(t, d, id) != (2L << d) - 1) bad(t, "tree lost nodes");
      t = bottom_up(d);
      if (check_tree(t, d, id) != (2L << d) - 1) bad(t, "tree lost nodes");
    }
  }
  return NULL;
}

/* Swap the subtrees of random nodes of the long-lived tree, over and over: each move takes
 * a pointer out of one node and stores it into another. Depths stay right: siblings swap. */
static void *swapper(void *arg) {
  (void)arg;
  unsigned s = 12345;
  while (!stop) {
    node_t *n = long_lived;
    for (int k = 0; k < 14 && n->left; k++) {
      s = s * 1103515245 + 12345;
      node_t *l = n->left, *r = n->right;
      n->left = NULL; /* for a moment the left subtree is reachable from this thread alone */
      n->right = l;
      n->left = r;
      n = (s >> 16) & 1 ? n->left : n->right;
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 3;
  double secs = argc > 2 ? atof(argv[2]) : 3;
  if (threads < 1) threads = 1;
  if (threads > 60) threads = 60;
  long_lived = bottom_up(16);
  double *array = malloc(500000 * sizeof *array);
  for (int i = 0; i < 500000; i++) array[i] = 1.0 / (i + 1);
  until = now() + secs;
  pthread_t b[60], sw;
  pthread_create(&sw, NULL, swapper, NULL);
  for (int i = 0; i < threads; i++) pthread_create(&b[i], NULL, builder, (void *)(intptr_t)i);
  for (int i = 0; i < threads; i++) pthread_join(b[i], NULL);
  stop = 1;
  pthread_join(sw, NULL);
  if (check_tree(long_lived, 16, 63) != (2L << 16) - 1) bad(long_lived, "long-lived tree lost nodes");
  for (int i = 0; i < 500000; i += 997)
    if (array[i] != 1.0 / (i + 1)) {
      fprintf(stderr, "treecheck: the array was overwritten at %d\n", i);
      return 1;
    }
  uint64_t total = 0;
  for (int i = 0; i < 64; i++) total += checked[i];
  printf("ok %lu nodes checked\n", (unsigned long)total);
  if (argc > 3 && !strcmp(argv[3], "exec")) {
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d))) {
      char path[300], link[256];
      snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
      ssize_t k = readlink(path, link, sizeof link - 1);
      if (k > 0) link[k] = 0;
      n += k > 0 && strstr(link, "userfaultfd") != NULL;
    }
    if (d) closedir(d);
    printf("userfaultfd %d\n", n);
    fflush(stdout);
    execlp("ls", "ls", "-l", "/proc/self/fd/", (char *)NULL);
    return 3;
  }
  return 0;
}
