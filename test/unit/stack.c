/* Invariants of core/stack.c (capture, depot) and core/unwind.c (the walker).
 *
 * The core is linked into this program, so "the library's frames" are the capture's own and
 * the allocation entry points named in unwind.c; libunwind is the reference for the frames. */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <criterion/criterion.h>
#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "alloc_fast.h"
#include "stack.h"
#include "unwind.h"

static void depth16(void) { scvgc_opt.stack_depth = 16; }

static volatile int sink;

/* Two call sites, kept apart from each other and from their callers. */
__attribute__((noinline)) static uint32_t site_a(void) {
  uint32_t id = scvgc_stack_capture();
  sink++;
  return id;
}
__attribute__((noinline)) static uint32_t site_b(void) {
  uint32_t id = scvgc_stack_capture();
  sink += 2;
  return id;
}

__attribute__((noinline)) static uint32_t site_c(void) {
  uint32_t id = scvgc_stack_capture();
  sink += 3;
  return id;
}

/* [start, end) of the function containing pc, from its unwind info. */
static void function_of(uintptr_t pc, uintptr_t *start, uintptr_t *end) {
  unw_proc_info_t pi;
  cr_assert_eq(unw_get_proc_info_by_ip(unw_local_addr_space, pc, &pi, NULL), 0);
  *start = pi.start_ip;
  *end = pi.end_ip;
}

/* The frames libunwind finds from its caller's caller: reference for the walker. */
__attribute__((noinline)) static int reference(uintptr_t *pcs, int max) {
  void *raw[80];
  int n = unw_backtrace(raw, max + 1 < 80 ? max + 1 : 80);
  for (int i = 1; i < n; i++) pcs[i - 1] = (uintptr_t)raw[i];
  return n > 1 ? n - 1 : 0;
}

Test(stack, the_same_stack_captured_twice_gets_the_same_id, .init = depth16) {
  uint32_t first = 0;
  for (int i = 0; i < 100; i++) {
    uint32_t id = site_a();
    cr_assert_neq(id, 0);
    if (i == 0) first = id;
    cr_assert_eq(id, first, "capture %d: id %u, first %u", i, id, first);
  }
}

/* Captures from site_a and site_b, alternately, through one call site: ids[0], ids[1]. */
static void alternate(int rounds, uint32_t ids[2]) {
  uint32_t (*const site[2])(void) = {site_a, site_b};
  for (int i = 0; i < 2 * rounds; i++) {
    uint32_t id = site[i & 1]();
    if (i < 2) ids[i] = id;
    cr_assert_eq(id, ids[i & 1], "capture %d", i);
  }
}

Test(stack, walks_found_whole_in_other_memos_keep_them_checked, .init = depth16) {
  /* three sites in a scattered order through one caller: the next is mostly neither the
   * last one's successor nor the last one, and is found whole in an older memo */
  uint32_t (*const site[3])(void) = {site_a, site_b, site_c};
  uint32_t first[3] = {0, 0, 0};
  unsigned x = 12345;
  for (int i = 0; i < 3000; i++) {
    x = x * 1103515245u + 12345u;
    int k = (int)((x >> 16) % 3);
    uint32_t id = site[k]();
    if (!first[k]) first[k] = id;
    cr_assert_eq(id, first[k], "capture %d", i);
  }
  scvgc_unwind_stats_t u;
  scvgc_unwind_stats(&u);
  cr_assert_eq(u.other_skips, 0);
}

Test(stack, different_call_sites_get_different_ids, .init = depth16) {
  uint32_t ids[2];
  alternate(50, ids); /* alternating also must not confuse the walker's memo */
  cr_assert(ids[0] && ids[1]);
  cr_assert_neq(ids[0], ids[1]);
}

Test(stack, depth_0_captures_nothing) {
  scvgc_opt.stack_depth = 0;
  cr_assert_eq(site_a(), 0);
  scvgc_stack_stats_t st;
  scvgc_stack_stats(&st);
  cr_assert_eq(st.stacks, 0);
}

Test(stack, the_depth_option_bounds_the_frames_kept) {
  scvgc_opt.stack_depth = 3;
  const uintptr_t *pcs;
  cr_assert_eq(scvgc_stack_get(site_a(), &pcs), 3);
  scvgc_opt.stack_depth = 64;
  cr_assert_gt(scvgc_stack_get(site_a(), &pcs), 3);
}

__attribute__((noinline)) static void first_frame_is_the_caller(void) {
  uint32_t id = scvgc_stack_capture();
  const uintptr_t *pcs;
  int n = scvgc_stack_get(id, &pcs);
  cr_assert_gt(n, 1);
  /* The first frame is in this function (the call to scvgc_stack_capture), not in the
   * capture, the walker or libunwind. */
  uintptr_t lo, hi;
  function_of((uintptr_t)first_frame_is_the_caller, &lo, &hi);
  cr_assert(pcs[0] - 1 >= lo && pcs[0] - 1 < hi, "first frame %#lx not in [%#lx, %#lx)",
            (unsigned long)pcs[0], (unsigned long)lo, (unsigned long)hi);
}

Test(stack, frames_inside_the_library_are_skipped, .init = depth16) {
  first_frame_is_the_caller();
  /* the walker classifies the allocation entry points and itself as the library's */
  cr_assert(scvgc_unwind_is_self((uintptr_t)scvgc_malloc + 1));
  cr_assert(scvgc_unwind_is_self((uintptr_t)scvgc_track + 1));
  cr_assert(scvgc_unwind_is_self((uintptr_t)scvgc_stack_capture + 1));
  cr_assert(scvgc_unwind_is_self((uintptr_t)scvgc_unwind + 1));
  cr_assert_not(scvgc_unwind_is_self((uintptr_t)site_a + 1));
  cr_assert_not(scvgc_unwind_is_self((uintptr_t)first_frame_is_the_caller + 1));
}

Test(stack, a_nested_capture_returns_0, .init = depth16) {
  cr_assert_eq(scvgc_stack_capture_nested(), 0);
  scvgc_stack_stats_t st;
  scvgc_stack_stats(&st);
  cr_assert_eq(st.nested, 1);
  cr_assert_neq(site_a(), 0, "the flag is cleared again");
}

/* ---- the walker against libunwind ---------------------------------------------------------- */

static int compared;

/* The walker's frames above this function equal libunwind's. */
__attribute__((noinline)) static void agree_with_libunwind(void) {
  uintptr_t got[64], ref[64];
  uint32_t tag;
  uint64_t hash;
  int n = scvgc_unwind(got, 64, &tag, &hash);
  int m = reference(ref, 64);
  /* got[0] is the return address into this function from scvgc_unwind; ref[0] the one from
   * reference(): different calls, the same function. Above it the frames are the same. */
  cr_assert_eq(n, m, "walker %d frames, libunwind %d", n, m);
  for (int i = 1; i < n; i++)
    cr_assert_eq(got[i], ref[i], "frame %d: %#lx, libunwind %#lx", i, (unsigned long)got[i],
                 (unsigned long)ref[i]);
  compared++;
}

static int by_value(const void *a, const void *b) {
  agree_with_libunwind(); /* called from inside libc's qsort */
  return *(const int *)a - *(const int *)b;
}

__attribute__((noinline)) static int recurse(int d, int variant) {
  if (d > 0) return recurse(d - 1, variant) + (variant & 1);
  agree_with_libunwind();
  agree_with_libunwind(); /* again: this time from the memo */
  if (variant == 2) {
    int v[6] = {6, 2, 5, 1, 4, 3};
    qsort(v, 6, sizeof v[0], by_value);
  }
  return 1;
}

Test(stack, the_walker_finds_the_frames_libunwind_finds) {
  for (int variant = 0; variant < 3; variant++)
    for (int d = 0; d < 40; d += 7) recurse(d, variant);
  cr_assert_gt(compared, 30);
}

/* ---- signals ------------------------------------------------------------------------------- */

static uint32_t in_handler;
static void on_usr1(int sig) {
  (void)sig;
  in_handler = scvgc_stack_capture();
}

__attribute__((noinline)) static void interrupted_function(void) {
  raise(SIGUSR1);
  sink++;
}

__attribute__((noinline)) static void interrupted_function_2(void) {
  raise(SIGUSR2);
  sink++;
}

Test(stack, a_capture_in_a_signal_handler_reaches_the_interrupted_code, .init = depth16) {
  signal(SIGUSR1, on_usr1);
  interrupted_function();
  const uintptr_t *pcs;
  int n = scvgc_stack_get(in_handler, &pcs);
  cr_assert_gt(n, 3);
  uintptr_t lo, hi;
  function_of((uintptr_t)interrupted_function, &lo, &hi);
  bool found = false;
  for (int i = 0; i < n; i++) found |= pcs[i] - 1 >= lo && pcs[i] - 1 < hi;
  cr_assert(found, "the frames above the signal trampoline are missing");
  scvgc_stack_stats_t st;
  scvgc_stack_stats(&st);
  cr_assert_eq(st.truncated, 0);
}

/* U4: a handler that edits its context (here: the interrupted %rsp and %rbp point at memory
 * that cannot be read) and then allocates must get a truncated stack, not a fault. */
static uintptr_t unmapped;
static uint32_t in_edited_handler;
static int edited_frames;
static void on_usr2(int sig, siginfo_t *si, void *ctx) {
  (void)sig;
  (void)si;
  ucontext_t *uc = ctx;
  greg_t rsp = uc->uc_mcontext.gregs[REG_RSP], rbp = uc->uc_mcontext.gregs[REG_RBP];
  uc->uc_mcontext.gregs[REG_RSP] = (greg_t)unmapped;
  uc->uc_mcontext.gregs[REG_RBP] = (greg_t)unmapped;
  in_edited_handler = scvgc_stack_capture();
  uint32_t tag;
  uint64_t hash;
  uintptr_t pcs[64];
  edited_frames = scvgc_unwind(pcs, 64, &tag, &hash);
  uc->uc_mcontext.gregs[REG_RSP] = rsp; /* put it back: the handler returns through it */
  uc->uc_mcontext.gregs[REG_RBP] = rbp;
}

Test(stack, a_handler_that_points_its_context_at_unmapped_memory_cannot_make_the_walk_fault,
     .init = depth16) {
  /* PROT_NONE, and kept: a hole left by munmap could be mapped again by the walker */
  void *p = mmap(NULL, 1 << 16, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(p, MAP_FAILED);
  unmapped = (uintptr_t)p + (1 << 15);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_usr2;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR2, &sa, NULL);
  interrupted_function_2();
  cr_assert_gt(edited_frames, 0, "the handler's own frames are still found");
  const uintptr_t *pcs;
  cr_assert_gt(scvgc_stack_get(in_edited_handler, &pcs), 0);
}

/* ---- the depot ----------------------------------------------------------------------------- */

__attribute__((noinline)) static uint32_t at_depth(int d) {
  if (d > 0) {
    uint32_t id = at_depth(d - 1);
    sink++;
    return id;
  }
  return scvgc_stack_capture();
}

static void depth64(void) { scvgc_opt.stack_depth = 64; }

Test(stack, ids_are_dense_and_name_their_frames_for_good, .init = depth64) {
  uint32_t ids[20];
  const uintptr_t *first[20];
  for (int d = 0; d < 20; d++) {
    ids[d] = at_depth(d);
    cr_assert_eq(ids[d], (uint32_t)d + 1, "stack %d got id %u", d, ids[d]);
    cr_assert_gt(scvgc_stack_get(ids[d], &first[d]), 0);
  }
  for (int d = 0; d < 20; d++) {
    const uintptr_t *pcs;
    scvgc_stack_get(ids[d], &pcs);
    cr_assert_eq(pcs, first[d]);
    cr_assert_eq(scvgc_stack_intern(pcs, scvgc_stack_get(ids[d], &pcs)), ids[d]);
  }
  const uintptr_t *none;
  cr_assert_eq(scvgc_stack_get(0, &none), 0);
  cr_assert_null(none);
  cr_assert_eq(scvgc_stack_get(1000, &none), 0);
}

Test(stack, interned_frames_are_stored_once) {
  uintptr_t a[3] = {0x1000, 0x2000, 0x3000}, b[3] = {0x1000, 0x2000, 0x3001};
  uint32_t ia = scvgc_stack_intern(a, 3), ib = scvgc_stack_intern(b, 3);
  cr_assert(ia && ib && ia != ib);
  cr_assert_eq(scvgc_stack_intern(a, 3), ia);
  cr_assert_eq(scvgc_stack_intern(a, 2), scvgc_stack_intern(b, 2));
  cr_assert_eq(scvgc_stack_intern(a, 0), 0);
  const uintptr_t *pcs;
  cr_assert_eq(scvgc_stack_get(ib, &pcs), 3);
  cr_assert_eq(pcs[2], 0x3001);
}

static void add_len(void *base, size_t len, void *arg) {
  (void)base;
  *(size_t *)arg += len;
}

Test(stack, the_depot_lives_in_counted_metadata_mappings, .init = depth16) {
  size_t before = atomic_load(&scvgc_gc_sys);
  site_a();
  scvgc_stack_stats_t st;
  scvgc_stack_stats(&st);
  cr_assert_gt(st.depot_bytes, 0);
  cr_assert_gt(st.unwind_bytes, 0);
  cr_assert_geq(atomic_load(&scvgc_gc_sys) - before, st.depot_bytes + st.unwind_bytes);
  size_t mapped = 0;
  scvgc_stack_foreach_mapping(add_len, &mapped);
  cr_assert_eq(mapped, st.depot_bytes + st.unwind_bytes, "the root finder is told of all of it");
}

#define NTHREADS 8
#define ROUNDS 2000
static uint32_t seen[NTHREADS][2];

static void *capture_both(void *arg) {
  int t = (int)(intptr_t)arg;
  for (int i = 0; i < ROUNDS; i++) {
    uint32_t a = site_a(), b = site_b();
    if (i == 0) {
      seen[t][0] = a;
      seen[t][1] = b;
    }
    if (a != seen[t][0] || b != seen[t][1]) return (void *)1;
  }
  return NULL;
}

Test(stack, concurrent_captures_from_8_threads_agree, .init = depth16) {
  pthread_t th[NTHREADS];
  for (int t = 0; t < NTHREADS; t++)
    cr_assert_eq(pthread_create(&th[t], NULL, capture_both, (void *)(intptr_t)t), 0);
  for (int t = 0; t < NTHREADS; t++) {
    void *r;
    pthread_join(th[t], &r);
    cr_assert_null(r, "thread %d saw its id change", t);
  }
  for (int t = 0; t < NTHREADS; t++) {
    cr_assert_eq(seen[t][0], seen[0][0], "thread %d", t);
    cr_assert_eq(seen[t][1], seen[0][1], "thread %d", t);
  }
  cr_assert_neq(seen[0][0], seen[0][1]);
  scvgc_stack_stats_t st;
  scvgc_stack_stats(&st);
  cr_assert_eq(st.stacks, 2, "each stack is stored once, whoever inserts it first");
}

static void *insert_many(void *arg) {
  uintptr_t pcs[4] = {(uintptr_t)arg, 0, 0, 0};
  for (uintptr_t i = 1; i <= 20000; i++) {
    pcs[1] = i;
    if (!scvgc_stack_intern(pcs, 2)) return (void *)1;
  }
  return NULL;
}

Test(stack, concurrent_inserts_of_new_stacks_get_distinct_dense_ids) {
  pthread_t th[NTHREADS];
  for (int t = 0; t < NTHREADS; t++)
    pthread_create(&th[t], NULL, insert_many, (void *)(uintptr_t)(0x10000 + t % 4));
  for (int t = 0; t < NTHREADS; t++) {
    void *r;
    pthread_join(th[t], &r);
    cr_assert_null(r);
  }
  scvgc_stack_stats_t st;
  scvgc_stack_stats(&st);
  cr_assert_eq(st.stacks, 4 * 20000, "two threads per key set: every stack once");
  scvgc_stack_check();
  for (uint32_t id = 1; id <= 4 * 20000; id++) {
    const uintptr_t *pcs;
    cr_assert_eq(scvgc_stack_get(id, &pcs), 2, "id %u", id);
  }
}

static void add_resident(void *base, size_t len, void *arg) {
  size_t pages = (len + 4095) / 4096;
  unsigned char *v = malloc(pages);
  cr_assert_not_null(v);
  cr_assert_eq(mincore(base, len, v), 0);
  for (size_t i = 0; i < pages; i++) *(size_t *)arg += (v[i] & 1) ? 4096 : 0;
  free(v);
}

/* D3, D4: the index doubles as stacks come, and a stack interned before a growth is found
 * again after it under the same id (GCBench interns ~1 M recursive stacks). */
Test(stack, the_depot_index_grows_with_ids_stable_and_every_stack_found_again) {
  enum { N = 200000 };
  uintptr_t pcs[3] = {0x400000, 0, 0x500000};
  scvgc_stack_stats_t st;
  size_t first = 0;
  for (uint32_t i = 1; i <= N; i++) {
    pcs[1] = 0x1000 + 16 * (uintptr_t)i;
    cr_assert_eq(scvgc_stack_intern(pcs, 3), i, "stack %u", i);
    if (i == 1) {
      scvgc_stack_stats(&st);
      first = st.index_slots;
    }
  }
  scvgc_stack_stats(&st);
  cr_assert_eq(st.stacks, N);
  cr_assert_gt(first, 0);
  cr_assert_lt(first, N, "the test must pass the first index's size");
  cr_assert_geq(st.index_slots, 2 * (size_t)N, "at most half full");
  for (uint32_t i = 1; i <= N; i++) {
    pcs[1] = 0x1000 + 16 * (uintptr_t)i;
    cr_assert_eq(scvgc_stack_intern(pcs, 3), i, "stack %u after the growth", i);
    const uintptr_t *got;
    cr_assert_eq(scvgc_stack_get(i, &got), 3);
    cr_assert_eq(got[1], pcs[1]);
  }
  scvgc_stack_stats(&st);
  cr_assert_eq(st.stacks, N, "nothing inserted twice");
  scvgc_stack_check();
  size_t mapped = 0;
  scvgc_stack_foreach_mapping(add_len, &mapped);
  cr_assert_eq(mapped, st.depot_bytes + st.unwind_bytes, "replaced indexes are still told of");
  /* the replaced indexes (2^14 .. 2^18 slots: ~3.9 MiB) gave their pages back */
  size_t resident = 0;
  scvgc_stack_foreach_mapping(add_resident, &resident);
  cr_assert_leq(resident + ((size_t)3 << 20), st.depot_bytes + st.unwind_bytes,
                "resident %zu of %zu mapped", resident, st.depot_bytes + st.unwind_bytes);
}

/* A recursion that goes down by the bits of path, from one of two call sites per level: each
 * path is a stack, and with 8 frames kept the paths that end alike share one. */
#define DESCENT_LEVELS 11
__attribute__((noinline)) static uint32_t descend(int level, unsigned path) {
  uint32_t id;
  if (level == 0) {
    id = scvgc_stack_capture();
  } else if (path & 1) {
    id = descend(level - 1, path >> 1);
    sink++;
  } else {
    id = descend(level - 1, path >> 1);
    sink += 2;
  }
  return id;
}

static void depth8(void) { scvgc_opt.stack_depth = 8; }

/* D1 and the depot's hint (the id after the thread's last one): walked in the order the
 * stacks were interned, in reverse and in a scattered order, each path gets the id of its
 * stack, and no two ids name the same frames (a hint taken without comparing the frames
 * would give the next stack's id). */
Test(stack, a_recursion_walked_in_any_order_gets_one_id_per_stack, .init = depth8) {
  enum { N = 1 << DESCENT_LEVELS };
  static uint32_t ids[N];
  for (unsigned p = 0; p < N; p++) ids[p] = descend(DESCENT_LEVELS, p);
  scvgc_stack_stats_t st;
  scvgc_stack_stats(&st);
  cr_assert_gt(st.stacks, 64, "the paths' last levels make distinct stacks");
  cr_assert_lt(st.stacks, N, "paths that end alike share a stack (8 frames kept)");
  for (unsigned p = N; p-- > 0;)
    cr_assert_eq(descend(DESCENT_LEVELS, p), ids[p], "path %u, in reverse", p);
  for (unsigned k = 0; k < N; k++) {
    unsigned p = (k * 1237u) % N;
    cr_assert_eq(descend(DESCENT_LEVELS, p), ids[p], "path %u, scattered", p);
  }
  for (unsigned p = 0; p < N; p++)
    cr_assert_eq(descend(DESCENT_LEVELS, p), ids[p], "path %u, in order again", p);
  size_t stacks = st.stacks;
  scvgc_stack_stats(&st);
  cr_assert_eq(st.stacks, stacks, "nothing interned twice");
  scvgc_unwind_stats_t u;
  scvgc_unwind_stats(&u);
  cr_assert_gt(u.other_skips, 0, "a recursion's walks are never found whole in another memo: "
                                 "the walker stops checking them for a while");
  scvgc_stack_check();
  for (uint32_t a = 1; a <= stacks; a++)
    for (uint32_t b = a + 1; b <= stacks; b++) {
      const uintptr_t *pa, *pb;
      int na = scvgc_stack_get(a, &pa), nb = scvgc_stack_get(b, &pb);
      cr_assert(na != nb || memcmp(pa, pb, (size_t)na * sizeof *pa) != 0, "ids %u and %u", a, b);
    }
}

Test(stack, a_module_change_keeps_ids_and_frames, .init = depth16) {
  uint32_t ids[3][2];
  for (int round = 0; round < 3; round++) {
    alternate(3, ids[round]);
    cr_assert_eq(ids[round][0], ids[0][0], "round %d", round);
    cr_assert_eq(ids[round][1], ids[0][1], "round %d", round);
    scvgc_stack_modules_changed();
    if (round == 1)
      for (int i = 0; i < 70000; i++) scvgc_stack_modules_changed(); /* a key generation wrap */
  }
}

static volatile int stop_inserting;
static void *insert_until_stopped(void *arg) {
  uintptr_t pcs[2] = {(uintptr_t)arg, 0};
  while (!stop_inserting) {
    pcs[1]++;
    scvgc_stack_intern(pcs, 2);
  }
  return NULL;
}

Test(stack, a_fork_child_captures_while_other_threads_were_inserting, .init = depth16) {
  pthread_atfork(scvgc_stack_fork_prepare, scvgc_stack_fork_parent, scvgc_stack_fork_child);
  pthread_t th[4];
  for (int t = 0; t < 4; t++) pthread_create(&th[t], NULL, insert_until_stopped, (void *)(uintptr_t)(t + 1));
  for (int k = 0; k < 20; k++) {
    pid_t pid = fork();
    if (pid == 0) {
      uint32_t a = site_a(), b = site_b();
      uintptr_t pcs[2] = {0xdead, (uintptr_t)k};
      _exit(a && b && a != b && scvgc_stack_intern(pcs, 2) ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d", k);
  }
  stop_inserting = 1;
  for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
}

/* ---- per-thread walkers ------------------------------------------------------------------- */

static pthread_key_t late_key;
static uint32_t late_id;
static uintptr_t late_first;

__attribute__((noinline)) static void late_destructor(void *arg) {
  (void)arg;
  late_id = scvgc_stack_capture(); /* after the walker's own destructor ran */
  const uintptr_t *pcs;
  if (scvgc_stack_get(late_id, &pcs) > 0) late_first = pcs[0];
}

static void *capture_then_exit(void *arg) {
  (void)arg;
  site_a();                                   /* this thread's walker exists */
  pthread_setspecific(late_key, (void *)1);   /* a destructor that runs after the walker's */
  return NULL;
}

Test(stack, a_thread_whose_walker_is_gone_still_captures, .init = depth16) {
  site_a(); /* the walker key exists before late_key: its destructor runs first */
  cr_assert_eq(pthread_key_create(&late_key, late_destructor), 0);
  pthread_t th;
  pthread_create(&th, NULL, capture_then_exit, NULL);
  pthread_join(th, NULL);
  cr_assert_neq(late_id, 0);
  uintptr_t lo, hi;
  function_of((uintptr_t)late_destructor, &lo, &hi);
  cr_assert(late_first - 1 >= lo && late_first - 1 < hi);
}

static void *capture_once(void *arg) {
  (void)arg;
  return (void *)(uintptr_t)site_a();
}

Test(stack, walkers_of_exited_threads_are_reused, .init = depth16) {
  for (int i = 0; i < 300; i++) {
    pthread_t th;
    void *id;
    pthread_create(&th, NULL, capture_once, NULL);
    pthread_join(th, &id);
    cr_assert_neq((uintptr_t)id, 0);
  }
  scvgc_stack_stats_t st;
  scvgc_stack_stats(&st);
  cr_assert_lt(st.unwind_bytes, (size_t)4 << 20, "300 threads, one at a time: %zu bytes",
               st.unwind_bytes);
}

Test(stack, threads_with_the_smallest_stacks_still_start_and_capture, .init = depth16) {
  pthread_attr_t at;
  pthread_attr_init(&at);
  cr_assert_eq(pthread_attr_setstacksize(&at, 16384), 0);
  pthread_t th;
  cr_assert_eq(pthread_create(&th, &at, capture_once, NULL), 0,
               "the core's static TLS must leave room in a 16 KiB stack");
  void *id;
  pthread_join(th, &id);
  cr_assert_neq((uintptr_t)id, 0);
}

/* scvgc_unwind_regs (the collector's entry point, gc.c E1): the callee-saved registers an
 * outer frame had when it made a call, recovered through frames that saved and reused them. */
static uintptr_t regs_middle_start;
static scvgc_uwregs_t regs_seen;
static bool regs_ok;

static int stop_after_middle(uintptr_t pc, uintptr_t fn, void *arg) {
  (void)pc;
  (void)arg;
  return fn == regs_middle_start ? SCVGC_UW_OUT : SCVGC_UW_CONTINUE;
}

__attribute__((noinline)) static void regs_inner(void) {
  regs_ok = scvgc_unwind_regs(&regs_seen, stop_after_middle, NULL);
  sink++;
}

/* Uses every callee-saved register for values of its own: its prologue saves the caller's. */
__attribute__((noinline)) static void regs_middle(void) {
  __asm__ volatile("mov $1, %%rbx\n\tmov $2, %%r12\n\tmov $3, %%r13\n\tmov $4, %%r14\n\t"
                   "mov $5, %%r15" ::: "rbx", "r12", "r13", "r14", "r15");
  regs_inner();
  sink++;
}

Test(stack, the_entry_walk_recovers_the_callee_saved_registers_of_an_outer_frame) {
  uintptr_t end;
  function_of((uintptr_t)regs_middle + 4, &regs_middle_start, &end);
  register uintptr_t b __asm__("rbx") = 0x1111;
  register uintptr_t c __asm__("r12") = 0x2222;
  register uintptr_t d __asm__("r13") = 0x3333;
  register uintptr_t e __asm__("r14") = 0x4444;
  register uintptr_t f __asm__("r15") = 0x5555;
  __asm__ volatile("" : "+r"(b), "+r"(c), "+r"(d), "+r"(e), "+r"(f));
  regs_middle();
  __asm__ volatile("" : : "r"(b), "r"(c), "r"(d), "r"(e), "r"(f));
  cr_assert(regs_ok, "the walk got out of regs_middle");
  cr_expect_eq(regs_seen.rbx, 0x1111);
  cr_expect_eq(regs_seen.r12, 0x2222);
  cr_expect_eq(regs_seen.r13, 0x3333);
  cr_expect_eq(regs_seen.r14, 0x4444);
  cr_expect_eq(regs_seen.r15, 0x5555);
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  cr_expect(regs_seen.sp < here + 4096 && regs_seen.sp > here - 65536,
            "the sp is this test's, as it called regs_middle");
}

Test(stack, the_entry_walk_says_when_it_cannot_get_there) {
  regs_middle_start = 1; /* no function starts there */
  regs_middle();
  cr_assert_not(regs_ok, "64 frames or the end of the stack, never a guess");
}
