/* core/wp.c and the concurrent cycle (gc.c C0-C4): written pages are reported and protected
 * again, unwritten ones are not; a pointer moved during the mark from where the marker has
 * not looked to an object it has already scanned keeps its object; allocation during the mark
 * is black; a free during the mark stays a free and a freed span waits for the mark's end;
 * without userfaultfd the cycle stops the world. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gc.h"
#include "mark.h"
#include "stw.h"
#include "sweep.h"
#include "wp.h"

static void start(void) {
  setenv("SCVGC_MODE", "collect", 1);
  setenv("SCVGC_REPORT", "none", 1);
  setenv("SCVGC_GOGC", "off", 1);
  setenv("SCVGC_CONCURRENT", "on", 1);
  scvgc_options_lean_test = 1; /* the concurrent cycle with the lean layout, whatever the build */
  scvgc_init();
  scvgc_gc_start();
}

/* ---- wp.c alone ------------------------------------------------------------------------ */

typedef struct {
  uintptr_t lo, hi; /* the object watched */
  int pages[64];    /* its OS pages reported written */
} seen_t;

static void note(void *arg, uintptr_t lo, uintptr_t hi) {
  seen_t *s = arg;
  for (uintptr_t p = lo; p < hi; p += 4096)
    if (p >= s->lo && p < s->hi) s->pages[(p - s->lo) >> 12]++;
}

static seen_t scan(char *obj, bool reprotect) {
  seen_t s;
  memset(&s, 0, sizeof s);
  s.lo = (uintptr_t)obj;
  s.hi = s.lo + 64 * 4096;
  cr_assert_geq(scvgc_wp_written(note, &s, reprotect), 0, "the scan works");
  return s;
}

Test(wp, written_pages_are_reported_once_and_protected_again, .init = start) {
  char *obj = scvgc_malloc(64 * 4096); /* a large object: page aligned, in an arena */
  cr_assert_eq((uintptr_t)obj & 4095, 0);
  memset(obj, 1, 64 * 4096);
  cr_assert(scvgc_wp_reset(), "userfaultfd write-protect tracking is available here (%s)",
            scvgc_wp_unavailable() ? scvgc_wp_unavailable() : "?");
  seen_t s = scan(obj, true);
  for (int i = 0; i < 64; i++) cr_assert_eq(s.pages[i], 0, "page %d reported before any write", i);
  obj[3 * 4096 + 100] = 2;
  obj[7 * 4096] = 2;
  ((volatile char *)obj)[9 * 4096]; /* a read is no write */
  s = scan(obj, true);
  for (int i = 0; i < 64; i++)
    cr_assert_eq(s.pages[i], i == 3 || i == 7, "page %d: reported %d times", i, s.pages[i]);
  s = scan(obj, true); /* protected again by the last scan: nothing new */
  for (int i = 0; i < 64; i++) cr_assert_eq(s.pages[i], 0, "page %d reported again", i);
  obj[7 * 4096 + 8] = 3;
  s = scan(obj, false);
  cr_assert_eq(s.pages[7], 1, "written again after the reprotection");
}

Test(wp, a_page_first_read_then_written_and_a_fresh_arena_are_tracked, .init = start) {
  cr_assert(scvgc_wp_reset());
  char *obj = scvgc_malloc(64 * 4096); /* fresh pages: never written, maybe never mapped */
  volatile char c = obj[5 * 4096];     /* the zero page, read-only */
  (void)c;
  obj[5 * 4096 + 1] = 1;
  /* a new arena mapped after the reset: registered and protected as it is made */
  char *big = scvgc_malloc(100 << 20);
  cr_assert_not_null(big);
  big[(50 << 20) + 3] = 1;
  seen_t s = scan(obj, true);
  cr_assert_eq(s.pages[5], 1, "the page written after a read");
  cr_assert_eq(s.pages[6], 0);
  seen_t b;
  memset(&b, 0, sizeof b);
  b.lo = (uintptr_t)big + (48 << 20);
  b.hi = b.lo + 64 * 4096;
  cr_assert_geq(scvgc_wp_written(note, &b, true), 0);
  for (int i = 0; i < 64; i++)
    cr_assert_eq(b.pages[i], i == 512, "big page %d: reported %d times", i, b.pages[i]);
}

/* ---- the concurrent cycle ---------------------------------------------------------------- */

/* Pointers the collector cannot see: stored XOR-ed in a global (a root holds no value that
 * points into the heap), as a program thread would hold them in a register that the start
 * pause read before it had them. */
#define HIDE 0x5a5a5a5a5a5a5a5aull
static uintptr_t hidden_x, hidden_n, hidden_big;
void **volatile root_a; /* a root: the object the marker scans first */

static bool allocated(void *p) {
  scvgc_span_t *s;
  uint32_t i;
  return scvgc_find_object((uintptr_t)p, &s, &i);
}

/* The object's mark bit, in either layout (collect mode's default is the lean one). */
static bool marked(void *p) {
  scvgc_span_t *s = scvgc_spanof((uintptr_t)p);
  uint32_t i = s->state == SCVGC_SPAN_SMALL ? scvgc_slot_index(s, (uintptr_t)p) : 0;
  return scvgc_marked(s, i);
}

/* In C2, after the first drain: root_a is scanned. The only pointer to x goes into it (the
 * store a write barrier exists for); the hidden copy is dropped. */
static int hook_calls;
static void move_pointer(void) {
  hook_calls++;
  cr_assert(marked(root_a), "a is marked (scanned) before the move");
  cr_assert_not(marked((void *)(hidden_x ^ HIDE)), "x is not marked yet");
  root_a[1] = (void *)(hidden_x ^ HIDE);
  hidden_x = 0;
}

__attribute__((noinline)) static void *setup_moved(void) {
  root_a = scvgc_malloc(64);
  memset(root_a, 0, 64);
  char *x = scvgc_malloc(48);
  strcpy(x, "still here");
  hidden_x = (uintptr_t)x ^ HIDE;
  x = NULL;
  return NULL;
}

#include "threads.h"

__attribute__((noinline)) static void cycle(void) {
  scrub();
  __asm__ volatile("xor %%ebx,%%ebx; xor %%r12d,%%r12d; xor %%r13d,%%r13d; xor %%r14d,%%r14d;"
                   "xor %%r15d,%%r15d" ::: "rbx", "r12", "r13", "r14", "r15");
  cr_assert(scvgc_gc_cycle(SCVGC_GC_REQUEST), "the cycle is complete");
  scvgc_sweep_finish();
}

Test(wp, a_pointer_moved_into_a_scanned_object_during_the_mark_keeps_its_object, .init = start) {
  setup_moved();
  scvgc_gc_test_hook = move_pointer;
  cycle();
  cr_assert_eq(hook_calls, 1, "the cycle was concurrent");
  cr_assert(scvgc_gcstats.last.concurrent);
  cr_assert_geq(scvgc_gcstats.last.pages_rescanned, 1, "a's page was written and rescanned");
  char *x = root_a[1];
  cr_assert(allocated(x), "x survived the cycle");
  cr_assert_str_eq(x, "still here");
  scvgc_gc_test_hook = NULL;
  cycle(); /* and the next one, now a plain case */
  cr_assert(allocated(root_a[1]));
}

Test(wp, without_the_written_pages_rescan_the_moved_object_would_be_reclaimed, .init = start) {
  setup_moved();
  scvgc_gc_test_hook = move_pointer;
  scvgc_gc_test_no_rescan = true; /* what the test above guards against */
  cycle();
  cr_assert_eq(hook_calls, 1);
  cr_assert_not(allocated(root_a[1]), "x was reclaimed though a reaches it");
}

static void allocate_during_mark(void) {
  void *n = scvgc_malloc(40);
  cr_assert(marked(n), "allocated black");
  hidden_n = (uintptr_t)n ^ HIDE; /* unreachable at once */
}

/* Whether the hidden object is allocated, without leaving its address in this frame. */
__attribute__((noinline)) static bool hidden_allocated(uintptr_t h) { return allocated((void *)(h ^ HIDE)); }

Test(wp, an_object_allocated_during_the_mark_is_black_and_survives_that_cycle, .init = start) {
  scvgc_gc_test_hook = allocate_during_mark;
  cycle();
  cr_assert(scvgc_gcstats.last.concurrent);
  cr_assert(hidden_allocated(hidden_n), "floating garbage of this cycle: kept");
  scvgc_gc_test_hook = NULL;
  scrub();
  cycle();
  cr_assert_not(hidden_allocated(hidden_n), "the next cycle reclaims it");
}

static void free_during_mark(void) {
  void *a = root_a[0];
  root_a[0] = NULL;
  scvgc_free(a); /* a small object the marker has already marked */
  void *big = (void *)(hidden_big ^ HIDE);
  scvgc_free(big); /* a large one: its span waits (pageheap.c H10) */
  scvgc_span_t *s = scvgc_spanof((uintptr_t)big);
  cr_assert_eq(s->state, SCVGC_SPAN_LARGE, "the span stays in use while the mark runs");
  cr_assert(s->deferred);
  cr_assert_not(allocated(big), "but holds no object");
}

Test(wp, a_free_during_the_mark_stays_a_free_and_a_freed_span_waits_for_its_end, .init = start) {
  root_a = scvgc_malloc(64);
  memset(root_a, 0, 64);
  root_a[0] = scvgc_malloc(100);
  void *small = root_a[0];
  char *big = scvgc_malloc(1 << 20);
  hidden_big = (uintptr_t)big ^ HIDE;
  root_a[2] = big; /* marked in this cycle: the free comes after */
  scvgc_gc_test_hook = free_during_mark;
  big = NULL;
  cycle();
  cr_assert(scvgc_gcstats.last.concurrent);
  cr_assert_not(allocated(small), "the freed slot is free");
  scvgc_span_t *s = scvgc_spanof(hidden_big ^ HIDE);
  cr_assert(!s || s->state != SCVGC_SPAN_LARGE || s->base != (hidden_big ^ HIDE),
            "the large span went back to the heap after the cycle");
}

/* sweep.c S6: spans the program takes during C2 are on the sweep list the cycle makes in C4.
 * C1's room for it counted the spans in use then; spans past it were left off the list,
 * kept the last generation's sweepgen and, unswept by sweep termination, were swept during
 * the next concurrent mark with its marks half made (churn 64 3 lost live blocks). */
#define MANY_MAX 8192
static void *many[MANY_MAX]; /* a root: every large object the hook allocates stays alive */
static size_t many_n;

static void allocate_many_spans(void) {
  for (size_t i = 0; i < many_n; i++) {
    many[i] = scvgc_malloc(SCVGC_MAX_SMALL + 1); /* a span of its own each */
    cr_assert_not_null(many[i]);
  }
}

static void span_swept(scvgc_span_t *s, void *arg) {
  size_t *bad = arg;
  if ((s->state != SCVGC_SPAN_SMALL && s->state != SCVGC_SPAN_LARGE) || !s->meta) return;
  uint32_t d = scvgc_span_sweepgen(s) - scvgc_sweepgen_now();
  *bad += d != 0 && d != 3; /* S1: swept, or swept and cached, when the next cycle starts */
}

Test(wp, spans_taken_during_the_mark_are_on_the_sweep_list_and_swept_before_the_next_mark,
     .init = start) {
  cycle(); /* the list's room is made for this heap */
  void *garbage = scvgc_malloc(100);
  uintptr_t hidden_garbage = (uintptr_t)garbage ^ HIDE;
  garbage = NULL;
  /* more spans than C1 can make room for: room now, plus the pages C1 will count, plus some */
  many_n = scvgc_sweep_room() + (atomic_load(&scvgc_heap_inuse) >> SCVGC_PAGE_SHIFT) * 2 + 64;
  cr_assert_leq(many_n, MANY_MAX);
  scvgc_gc_test_hook = allocate_many_spans;
  uint32_t sg = scvgc_sweepgen_now();
  cycle(); /* ends with scvgc_sweep_finish, as the next cycle starts */
  scvgc_gc_test_hook = NULL;
  cr_assert(scvgc_gcstats.last.concurrent);
  cr_assert_eq(scvgc_sweepgen_now(), sg + 2, "the cycle swept");
  cr_assert_not(hidden_allocated(hidden_garbage), "its garbage was reclaimed");
  size_t bad = 0;
  scvgc_heap_foreach_span_chunked(span_swept, &bad);
  cr_assert_eq(bad, 0, "%zu spans in use were left unswept by sweep termination", bad);
  for (size_t i = 0; i < many_n; i++) cr_assert(allocated(many[i]), "object %zu is alive", i);
  for (size_t i = 0; i < many_n; i++) scvgc_free(many[i]);
}

Test(wp, without_userfaultfd_the_cycle_stops_the_world, .init = start) {
  scvgc_wp_test_fail(true);
  scvgc_gc_test_hook = move_pointer; /* never called: no concurrent phase */
  setup_moved();
  cycle();
  cr_assert_eq(hook_calls, 0);
  cr_assert_not(scvgc_gcstats.last.concurrent);
  cr_assert_not_null(scvgc_wp_unavailable(), "the reason is kept for the trace");
  cr_assert(scvgc_gcstats.last.valid);
  scvgc_wp_test_fail(false);
  scvgc_gc_test_hook = NULL;
  cycle();
  cr_assert(scvgc_gcstats.last.concurrent, "a later cycle tries again once allowed");
}

Test(wp, concurrent_off_stops_the_world, .init = start) {
  scvgc_opt.concurrent = 0;
  scvgc_gc_test_hook = move_pointer;
  setup_moved();
  cycle();
  cr_assert_eq(hook_calls, 0);
  cr_assert_not(scvgc_gcstats.last.concurrent);
}

Test(wp, pauses_are_counted_two_per_concurrent_cycle_with_quantiles, .init = start) {
  for (int i = 0; i < 5; i++) cycle();
  cr_assert_eq(scvgc_gcstats.pauses, 10, "start and finish of each cycle");
  uint64_t p50 = scvgc_gc_pause_quantile(0.5), p99 = scvgc_gc_pause_quantile(0.99);
  cr_assert_gt(p50, 0);
  cr_assert_leq(p50, p99);
  cr_assert_leq(p99, scvgc_gcstats.pause_max_ns);
  cr_assert_geq(scvgc_gcstats.pause_total_ns, p50 * 5, "the total holds every pause");
}

/* The descriptor's number, from /proc/self/fd; -1 when none is open. */
static int uffd_number(void) {
  for (int fd = 3; fd < 1024; fd++) {
    char path[64], link[128];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n <= 0) continue;
    link[n] = 0;
    if (strstr(link, "userfaultfd")) return fd;
  }
  return -1;
}

Test(wp, a_descriptor_the_program_closed_and_reused_is_never_used, .init = start) {
  cycle();
  cr_assert(scvgc_gcstats.last.concurrent);
  int fd = uffd_number();
  cr_assert_geq(fd, 0, "the library's userfaultfd is open");
  int null = open("/dev/null", O_RDWR);
  cr_assert_eq(dup2(null, fd), fd, "the program closes it and puts a file of its own there");
  close(null);
  cycle();
  cr_assert_not(scvgc_gcstats.last.concurrent, "the cycle stopped the world");
  cr_assert_not_null(scvgc_wp_unavailable());
  struct stat st;
  cr_assert_eq(fstat(fd, &st), 0, "the program's file is still open");
  cr_assert(S_ISCHR(st.st_mode));
}

/* ---- C6: a program alone with its collector --------------------------------------------- */

static pthread_mutex_t idle_mu = PTHREAD_MUTEX_INITIALIZER;
static void *idle_thread(void *arg) { /* waits, holding nothing, until the test lets it go */
  (void)arg;
  pthread_mutex_lock(&idle_mu);
  pthread_mutex_unlock(&idle_mu);
  return NULL;
}

/* The default (SCVGC_CONCURRENT not set): the thread that runs a cycle waits for all of it
 * either way, so where the last stop found it alone the cycle stops the world; a thread made
 * since is stopped by that cycle, and the next one is concurrent again; once it is gone the
 * cycles stop the world again. Set explicitly, every cycle is concurrent (the tests above).
 * Run in a fork child of the test: criterion's own process has a thread of its own. Returns
 * NULL or what went wrong. */
#define EXPECT(c, why) do { if (!(c)) return why; } while (0)
void *volatile big_live; /* a root */
static const char *alone_sequence(void) {
  scvgc_opt.concurrent_alone = 0; /* as SCVGC_CONCURRENT unset */
  cycle();
  EXPECT(scvgc_gcstats.last.method == SCVGC_STW_ALONE, "a fork child is alone");
  cycle();
  EXPECT(!scvgc_gcstats.last.concurrent, "alone: the world is stopped");
  pthread_mutex_lock(&idle_mu);
  pthread_t t;
  EXPECT(pthread_create(&t, NULL, idle_thread, NULL) == 0, "pthread_create");
  cycle();
  EXPECT(!scvgc_gcstats.last.concurrent, "the last stop found it alone: stopped");
  EXPECT(scvgc_gcstats.last.method != SCVGC_STW_ALONE, "this cycle stopped the new thread");
  cycle();
  EXPECT(scvgc_gcstats.last.concurrent, "another thread runs: concurrent again");
  pthread_mutex_unlock(&idle_mu);
  pthread_join(t, NULL);
  cycle(); /* its finishing stop finds the caller alone */
  cycle();
  EXPECT(!scvgc_gcstats.last.concurrent, "alone again: stopped");
  /* alone, but with more than ALONE_MAX_LIVE (64 MiB) live: concurrent, its signals kept */
  big_live = scvgc_malloc((size_t)80 << 20);
  EXPECT(big_live != NULL, "an 80 MiB block");
  cycle(); /* marks it: the live heap is past the bound from here */
  cycle();
  EXPECT(scvgc_gcstats.last.concurrent, "alone with 80 MiB live: concurrent");
  scvgc_free(big_live);
  big_live = NULL;
  cycle();
  cycle();
  EXPECT(!scvgc_gcstats.last.concurrent, "alone, the block gone: stopped again");
  /* before a first stop, the thread count says: another thread, a concurrent cycle */
  pthread_mutex_lock(&idle_mu);
  EXPECT(pthread_create(&t, NULL, idle_thread, NULL) == 0, "pthread_create");
  scvgc_gc_test_forget_alone();
  cycle();
  EXPECT(scvgc_gcstats.last.concurrent, "a first cycle with another thread: concurrent");
  pthread_mutex_unlock(&idle_mu);
  pthread_join(t, NULL);
  scvgc_gc_test_forget_alone();
  cycle();
  EXPECT(!scvgc_gcstats.last.concurrent, "a first cycle alone: stopped");
  scvgc_opt.concurrent_alone = 1;
  cycle();
  EXPECT(scvgc_gcstats.last.concurrent, "SCVGC_CONCURRENT set: concurrent alone too");
  return NULL;
}

Test(wp, a_program_alone_with_its_collector_stops_the_world_by_default, .init = start) {
  cycle(); /* started, the descriptor open */
  scvgc_fork_prepare();
  pid_t pid = fork();
  if (pid == 0) {
    scvgc_fork_child();
    alarm(30);
    const char *why = alone_sequence();
    if (why) fprintf(stderr, "alone_sequence: %s (cycle %lu)\n", why, (unsigned long)scvgc_gcstats.cycles);
    _exit(why ? 1 : 0);
  }
  scvgc_fork_parent();
  cr_assert_gt(pid, 0);
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child's sequence failed (status %#x)", st);
}
