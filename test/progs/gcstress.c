/* gcstress — collect-mode stress: threads build, share, relink and drop linked structures
 * while collections run back to back (run it with SCVGC_MODE=collect SCVGC_GOGC=1).
 * Every node carries a pattern derived from its address and id, checked before each use:
 * an object reclaimed while still reachable is reused and overwritten, and the check
 * fails (exit 1, with the node). Dropped lists are garbage (never freed by the program);
 * freed lists are freed explicitly; realloc moves nodes.
 *   gcstress [threads] [seconds] [fork]   (defaults 4, 3, 0; fork=1: one thread forks
 *                                          children that allocate and check, all along)
 * Prints "ok N operations" at the end. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct node {
  uintptr_t magic; /* MAGIC ^ address */
  uint64_t id;
  size_t size;     /* bytes of payload */
  struct node *next;
  unsigned char payload[];
} node_t;

#define MAGIC 0x5ca1ab1e0ddba11ull
#define SHARED 64
#define LOCAL 32

static pthread_mutex_t shared_lock[SHARED];
static node_t *shared[SHARED];
static volatile int stop;
static void (*collect)(void);
static _Atomic unsigned long ops;

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void fill(node_t *n, uint64_t id, size_t size) {
  n->magic = MAGIC ^ (uintptr_t)n;
  n->id = id;
  n->size = size;
  for (size_t i = 0; i < size; i++) n->payload[i] = (unsigned char)(id * 31 + i);
}

static void check(const node_t *n, const char *where) {
  int bad = n->magic != (MAGIC ^ (uintptr_t)n);
  for (size_t i = 0; !bad && i < n->size; i++) bad = n->payload[i] != (unsigned char)(n->id * 31 + i);
  if (bad) {
    fprintf(stderr, "gcstress: node %p corrupt (%s): magic %#lx id %lu size %zu\n", (void *)n, where,
            (unsigned long)n->magic, (unsigned long)n->id, n->size);
    _exit(1);
  }
}

static node_t *build(uint64_t *s, int len) {
  node_t *h = NULL;
  for (int i = 0; i < len; i++) {
    size_t sz = rnd(s) % 8 == 0 && !getenv("GCSTRESS_SMALL") ? 40000 + rnd(s) % 30000 : rnd(s) % 600;
    node_t *n = malloc(sizeof *n + sz);
    if (!n) { perror("malloc"); _exit(2); }
    fill(n, rnd(s), sz);
    n->next = h;
    h = n;
  }
  return h;
}

static int verify(node_t *h, const char *where) {
  int k = 0;
  for (; h; h = h->next, k++) check(h, where);
  return k;
}

static void free_list(node_t *h) {
  while (h) {
    node_t *n = h->next;
    check(h, "free");
    free(h);
    h = n;
  }
}

static void *worker(void *arg) {
  uint64_t s = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
  node_t **local = calloc(LOCAL, sizeof *local); /* a heap root block, reachable from here */
  unsigned long n = 0;
  while (!stop) {
    int i = (int)(rnd(&s) % LOCAL), j = (int)(rnd(&s) % LOCAL);
    switch (rnd(&s) % 8) {
    case 0: /* drop: garbage */
      verify(local[i], "drop");
      local[i] = build(&s, 1 + (int)(rnd(&s) % 64));
      break;
    case 1: /* free explicitly */
      free_list(local[i]);
      local[i] = NULL;
      break;
    case 2: /* relink: splice j after the first node of i */
      if (i != j && local[i] && local[j]) {
        verify(local[j], "relink");
        node_t *t = local[j];
        while (t->next) t = t->next;
        t->next = local[i]->next;
        local[i]->next = local[j];
        local[j] = NULL;
      }
      break;
    case 3: { /* share: swap with a shared slot */
      int k = (int)(rnd(&s) % SHARED);
      pthread_mutex_lock(&shared_lock[k]);
      node_t *o = shared[k];
      shared[k] = local[i];
      local[i] = o;
      pthread_mutex_unlock(&shared_lock[k]);
      verify(local[i], "share");
      break;
    }
    case 4: /* realloc the head */
      if (local[i]) {
        node_t *h = local[i];
        check(h, "realloc");
        size_t sz = rnd(&s) % 900;
        uint64_t id = h->id;
        size_t keep = h->size < sz ? h->size : sz;
        node_t *m = realloc(h, sizeof *m + sz);
        if (!m) { perror("realloc"); _exit(2); }
        m->magic = MAGIC ^ (uintptr_t)m;
        for (size_t b = 0; b < keep; b++)
          if (m->payload[b] != (unsigned char)(id * 31 + b)) { fprintf(stderr, "gcstress: realloc lost data\n"); _exit(1); }
        fill(m, id, sz);
        local[i] = m;
      }
      break;
    case 5: /* truncate: drop the tail after the 2nd node */
      if (local[i] && local[i]->next) local[i]->next->next = NULL;
      break;
    default:
      if (!local[i]) local[i] = build(&s, 1 + (int)(rnd(&s) % 32));
      else verify(local[i], "walk");
    }
    n++;
    if (collect && n % 4096 == 0) collect();
  }
  for (int i = 0; i < LOCAL; i++) verify(local[i], "end");
  ops += n;
  return local; /* still reachable: the joiner checks nothing more */
}

static void *forker(void *arg) {
  (void)arg;
  while (!stop) {
    pid_t p = fork();
    if (p == 0) {
      uint64_t s = 7;
      node_t *h = build(&s, 200);
      if (collect) collect();
      verify(h, "child");
      free_list(h);
      _exit(0);
    }
    int st;
    if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st)) {
      fprintf(stderr, "gcstress: fork child failed (status %d)\n", p < 0 ? -1 : st);
      _exit(1);
    }
    ops++;
    usleep(2000);
  }
  return NULL;
}

int main(int argc, char **argv) {
  int nt = argc > 1 ? atoi(argv[1]) : 4;
  double secs = argc > 2 ? atof(argv[2]) : 3;
  int dofork = argc > 3 ? atoi(argv[3]) : 0;
  collect = (void (*)(void))dlsym(RTLD_DEFAULT, "scvgc_collect");
  for (int i = 0; i < SHARED; i++) pthread_mutex_init(&shared_lock[i], NULL);
  pthread_t t[64], f;
  if (nt > 64) nt = 64;
  for (int i = 0; i < nt; i++) pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
  if (dofork) pthread_create(&f, NULL, forker, NULL);
  struct timespec ts = {(time_t)secs, (long)((secs - (time_t)secs) * 1e9)};
  nanosleep(&ts, NULL);
  stop = 1;
  for (int i = 0; i < nt; i++) {
    void *r;
    pthread_join(t[i], &r);
    free(r);
  }
  if (dofork) pthread_join(f, NULL);
  for (int i = 0; i < SHARED; i++) verify(shared[i], "shared");
  printf("ok %lu operations\n", (unsigned long)ops);
  return 0;
}
