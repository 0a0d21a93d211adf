/* unwind.h — the fast stack walker behind scvgc_stack_capture (unwind.c).
 *
 * Only stack.c and the tests call it. A walk takes no lock and calls no allocator; a thread's
 * first walk maps its walker state (unwind.c).
 */
#ifndef SCVGC_UNWIND_H
#define SCVGC_UNWIND_H

#include <stdint.h>

#include "internal.h"

/* The return addresses of the calling thread's frames, outermost last, after the leading
 * frames inside the library itself (see unwind.c, "Which frames are the library's"):
 * at most max of them go to pcs. Returns how many; 0 when none could be found.
 * *tag: when this thread's previous walk found exactly the same frames, the tag that walk was
 * given (scvgc_unwind_set_tag), and then pcs and *hash are left alone; else 0, and *hash is
 * scvgc_stack_hash of pcs. */
int scvgc_unwind(uintptr_t *pcs, int max, uint32_t *tag, uint64_t *hash) SCVGC_HIDDEN;

/* The depot's key of a stack. Each frame's term is independent of the others (the multiplies
 * overlap) and depends on its position (the rotation), so reordered frames hash differently. */
static inline uint64_t scvgc_stack_hash_step(uint64_t h, int i, uintptr_t pc) {
  uint64_t x = pc * 0xBF58476D1CE4E5B9ull;
  return h + ((x << (i & 63)) | (x >> ((64 - i) & 63)));
}
static inline uint64_t scvgc_stack_hash_final(uint64_t h, int n) {
  h += (uint64_t)n * 0x9E3779B97F4A7C15ull;
  h ^= h >> 31;
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 29);
}
static inline uint64_t scvgc_stack_hash(const uintptr_t *pcs, int n) {
  uint64_t h = 0;
  for (int i = 0; i < n; i++) h = scvgc_stack_hash_step(h, i, pcs[i]);
  return scvgc_stack_hash_final(h, n);
}

/* Start-up (the constructor, outside malloc): the calling thread's walker now, so that the
 * walker's pthread key is one of the first. Made at the program's first capture instead, in
 * a program that created 32 keys or more before it, the key falls in glibc's second level:
 * the thread cache's pthread_setspecific callocs the block for keys 32-63, that calloc's
 * capture makes the walker, whose pthread_setspecific finds no block yet and callocs a
 * second one, which the first then overwrites: a 512-byte leak of glibc's, with no stack
 * (test/leaks/root_setspecific_key40.c). */
void scvgc_unwind_start(void) SCVGC_HIDDEN;

/* Name the pcs of the calling thread's last walk (stack.c: their depot id). */
void scvgc_unwind_set_tag(uint32_t tag) SCVGC_HIDDEN;

/* Code was unmapped (dlclose) or mapped (dlopen): forget every cached rule, since a
 * cached address may now hold other code. Cheap (one atomic increment); any thread. */
void scvgc_unwind_modules_changed(void) SCVGC_HIDDEN;

/* Counters for the trace and the tests (relaxed; approximate under races). */
typedef struct {
  uint64_t rule_misses;   /* rules computed from .eh_frame */
  uint64_t truncated;     /* walks stopped early at a frame they could not step through */
  uint64_t signal_frames; /* signal trampolines stepped through */
  uint64_t other_skips;   /* times a thread stopped checking other memos for a while */
  size_t rule_bytes;      /* rule-cache tables and per-thread walkers mapped (in scvgc_gc_sys) */
} scvgc_unwind_stats_t;
void scvgc_unwind_stats(scvgc_unwind_stats_t *st) SCVGC_HIDDEN;

/* The rule-cache tables mapped so far (current and replaced ones). */
void scvgc_unwind_foreach_mapping(void (*fn)(void *base, size_t len, void *arg),
                                  void *arg) SCVGC_HIDDEN;

/* fork: the walker free list's lock (stack.c's fork handlers call these). */
void scvgc_unwind_fork_prepare(void) SCVGC_HIDDEN;
void scvgc_unwind_fork_parent(void) SCVGC_HIDDEN;
void scvgc_unwind_fork_child(void) SCVGC_HIDDEN;

/* A frame's state: its pc and sp, and the callee-saved registers as they are in that frame
 * (for an outer frame: as its callee found them on entry, recovered from the CFI). */
typedef struct {
  uintptr_t pc, sp, rbx, rbp, r12, r13, r14, r15;
} scvgc_uwregs_t;
enum { SCVGC_UW_CONTINUE = 0, SCVGC_UW_HERE = 1, SCVGC_UW_OUT = 2 };
/* Walk the calling thread's frames outward from the caller of this function, callee-saved
 * registers included. decide(pc, fn, arg) is asked of each frame (fn: the start of its
 * function, from the CFI): SCVGC_UW_CONTINUE steps to its caller, SCVGC_UW_HERE stops with
 * *r the state of this frame, SCVGC_UW_OUT stops with *r the state of its caller right after
 * the call returns (sp just above the return address). false: the walk could not get there
 * (no CFI, a signal frame, 64 frames). Slow (decodes every frame's CFI, nothing cached);
 * allocates nothing, takes no lock. */
bool scvgc_unwind_regs(scvgc_uwregs_t *r, int (*decide)(uintptr_t pc, uintptr_t fn, void *arg),
                       void *arg) SCVGC_HIDDEN;

/* Test hook: is pc in the library's own code, as the walker decides it? */
bool scvgc_unwind_is_self(uintptr_t pc) SCVGC_HIDDEN;

#endif
