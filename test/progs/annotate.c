/* annotate: the annotation API of include/scvgc.h and the program's compiled-in hooks
 * (test/integration/annotate.sh builds it with -rdynamic so that the library's dlsym finds
 * the hooks, in several variants).
 *   annotate          phases, each printing "PHASE: direct_objects direct_bytes
 *                     indirect_objects indirect_bytes suppressed_objects suppressed_bytes
 *                     return" from scvgc_leak_counts; then one leak of 24 bytes allocated in
 *                     suppressed_alloc (the compiled-in suppressions hide it) and one of 40
 *                     bytes in exit_leak, left for the exit report.
 *   annotate collect  in collect mode: ignored and disabled objects survive (collect_case)
 * Variants (-D): LINKED (linked with libscvgc.so: the plain declarations; else the
 *   SCVGC_OPTIONAL dlsym wrappers, which run without the library too), NO_HOOKS (no hook),
 *   LSAN_OPTS="..." (defines __lsan_default_options returning it), and
 *   __lsan_is_turned_off() returns 1 when ANNOTATE_TURNED_OFF is set.
 * A pointer the test must keep from the collector is stored XOR-ed (hide/unhide) so that
 * no word of memory holds it while a check runs.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef LINKED /* -DLINKED: linked against libscvgc.so, the plain declarations */
#define SCVGC_OPTIONAL
#endif
#include "../../include/scvgc.h"

#define NOINLINE __attribute__((noinline))
#define KEY ((uintptr_t)0x5a5a5a5a5a5a5a5aull)

#ifndef NO_HOOKS
const char *__scvgc_default_options(void) { return "exitcode=7:bogus_key=1"; }
const char *__scvgc_default_suppressions(void) { return "# compiled in\nleak:^suppressed_alloc$\nnot a line\n"; }
int __lsan_is_turned_off(void) { return getenv("ANNOTATE_TURNED_OFF") != NULL; }
#endif
#ifdef LSAN_OPTS
const char *__lsan_default_options(void) { return LSAN_OPTS; }
#endif

static volatile uintptr_t hidden[8];
static void *volatile table[4];

static NOINLINE void hide(int k, void *p) { hidden[k] = (uintptr_t)p ^ KEY; }
static NOINLINE void *unhide(int k) { return (void *)(hidden[k] ^ KEY); }

/* Clear the dead part of the stack below this frame and the caller-saved registers. */
static NOINLINE void scrub(void) {
  volatile char buf[16384];
  memset((char *)buf, 0, sizeof buf);
  __asm__ volatile("xor %%eax, %%eax; xor %%ecx, %%ecx; xor %%edx, %%edx; xor %%esi, %%esi; "
                   "xor %%edi, %%edi; xor %%r8d, %%r8d; xor %%r9d, %%r9d; xor %%r10d, %%r10d; "
                   "xor %%r11d, %%r11d; pxor %%xmm0, %%xmm0; pxor %%xmm1, %%xmm1"
                   ::: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "xmm0", "xmm1", "memory");
}

static NOINLINE void counts(const char *phase) {
  scrub();
  scvgc_leak_counts_t c;
  memset(&c, 0xff, sizeof c);
  size_t r = scvgc_leak_counts(&c);
  printf("%s: %zu %zu %zu %zu %zu %zu %zu\n", phase, c.direct_objects, c.direct_bytes,
         c.indirect_objects, c.indirect_bytes, c.suppressed_objects, c.suppressed_bytes, r);
  fflush(stdout);
}

/* a -> b, both lost: 1 direct (48), 1 indirect (32) */
static NOINLINE void make_pair(void) {
  void **a = malloc(48);
  a[0] = malloc(32);
  hide(0, a);
}
static NOINLINE int ignore_pair(void) { return scvgc_ignore_object((char *)unhide(0) + 5); }
static NOINLINE void free_pair(void) {
  void **a = unhide(0);
  free(a[0]);
  free(a);
}

static NOINLINE void make_disabled(void) {
  scvgc_disable();
  scvgc_disable();
  hide(1, malloc(40)); /* depth 2 */
  scvgc_enable();
  hide(2, malloc(24)); /* depth 1 */
  scvgc_enable();
  hide(3, malloc(56)); /* reported */
}
static NOINLINE void free_disabled(void) {
  for (int k = 1; k <= 3; k++) free(unhide(k));
}

static void **shm;
static NOINLINE void make_shared(void) {
  shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  shm[0] = malloc(72);
}

static NOINLINE void make_table(void) { table[1] = malloc(88); }

static NOINLINE void suppressed_alloc(void) { hide(4, malloc(24)); }
static NOINLINE void exit_leak(void) { hide(5, malloc(40)); }

/* annotate collect (SCVGC_MODE=collect): an ignored object, what it points to, and an
 * object allocated while disabled survive cycles that reclaim a plain lost one; the memory
 * they hold is checked after the reclaimed slots were handed out again. */
static NOINLINE void make_kept(void) {
  unsigned char **a = malloc(48);
  memset(a, 0xa1, 48);
  a[0] = malloc(32);
  memset(a[0], 0xb2, 32);
  scvgc_ignore_object(a);
  hide(0, a);
  scvgc_disable();
  unsigned char *d = malloc(48);
  scvgc_enable();
  memset(d, 0xc3, 48);
  hide(1, d);
  hide(2, malloc(48)); /* lost: reclaimed */
}
static NOINLINE int check_kept(void) {
  unsigned char **a = unhide(0), *d = unhide(1);
  int ok = 1;
  for (int i = 8; i < 48; i++) ok &= ((unsigned char *)a)[i] == 0xa1;
  for (int i = 0; i < 32; i++) ok &= a[0][i] == 0xb2;
  for (int i = 0; i < 48; i++) ok &= d[i] == 0xc3;
  return ok;
}
static int collect_case(void) {
  make_kept();
  counts("collect");
  for (int k = 0; k < 3; k++) scvgc_collect();
  void *fill[4096];
  for (int i = 0; i < 4096; i++) memset(fill[i] = malloc(48), 0xee, 48);
  void *fill2[4096];
  for (int i = 0; i < 4096; i++) memset(fill2[i] = malloc(32), 0xee, 32);
  int ok = check_kept();
  printf("kept: %s\n", ok ? "intact" : "OVERWRITTEN");
  for (int i = 0; i < 4096; i++) free(fill[i]), free(fill2[i]);
  unsigned char **a = unhide(0);
  free(a[0]);
  free(a);
  free(unhide(1));
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "collect")) return collect_case();
  counts("start");
  make_pair();
  counts("pair");
  printf("ignore_object: %d\n", ignore_pair());
  printf("ignore_object(stack): %d\n", scvgc_ignore_object(&argc));
  counts("ignored");
  free_pair();

  make_disabled();
  counts("disabled");
  free_disabled();

  make_shared();
  counts("shared");
  printf("register_root_region: %d\n", scvgc_register_root_region(shm, 4096));
  counts("rooted");
  printf("unregister_root_region: %d\n", scvgc_unregister_root_region(shm, 4096));
  counts("unrooted");
  free(shm[0]);
  munmap(shm, 4096);

  make_table();
  counts("table");
  printf("register_excluded_region: %d\n", scvgc_register_excluded_region((void *)table, sizeof table));
  counts("excluded");
  printf("unregister_excluded_region: %d\n", scvgc_unregister_excluded_region((void *)table, sizeof table));
  counts("included");
  free(table[1]);
  table[1] = NULL;

  suppressed_alloc();
  counts("suppressed");
  scvgc_enable(); /* unmatched: one line, ignored */
  printf("unregister unknown: %d\n", scvgc_unregister_root_region((void *)table, 8));
  exit_leak();
  scrub();
  return 0;
}
