/* core/fixalloc.c and core/os.c: the core's own metadata memory. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/mman.h>
#include <string.h>

#include "internal.h"
#include "mark.h"

Test(fixalloc, meta_blocks_come_back_zeroed_and_are_reused_by_size) {
  char *a = scvgc_meta_alloc(1000);
  cr_assert_not_null(a);
  memset(a, 0xee, 1000);
  scvgc_meta_free(a, 1000);
  char *b = scvgc_meta_alloc(1000); /* same rounded size: the same block, zeroed again */
  cr_assert_eq(b, a);
  for (int i = 0; i < 1000; i++) cr_assert_eq(b[i], 0);
  char *c = scvgc_meta_alloc(2000); /* another size: another block */
  cr_assert_neq(c, a);
}

Test(fixalloc, meta_memory_is_counted_and_is_the_librarys_own) {
  size_t before = atomic_load(&scvgc_gc_sys);
  char *big = scvgc_meta_alloc(1 << 20); /* mapped directly */
  cr_assert_geq(atomic_load(&scvgc_gc_sys), before + (1 << 20));
  uintptr_t end;
  cr_assert(scvgc_is_own((uintptr_t)big + 4096, &end));
  scvgc_meta_free(big, 1 << 20);
  cr_assert(!scvgc_is_own((uintptr_t)big + 4096, &end));
}

Test(fixalloc, span_structs_are_recycled_and_start_zeroed) {
  scvgc_heap_lock_all();
  scvgc_span_t *s = scvgc_spanstruct_alloc();
  s->base = 12345;
  scvgc_spanstruct_free(s);
  cr_assert_eq(s->state, SCVGC_SPAN_DEAD);
  scvgc_span_t *t = scvgc_spanstruct_alloc();
  scvgc_heap_unlock_all();
  cr_assert_eq(t, s);
  cr_assert_eq(t->base, 0);
  cr_assert_eq((uintptr_t)t % 64, 0, "xfree sits on its own cache line");
}

Test(fixalloc, a_spans_side_metadata_holds_its_objects_and_two_bitmaps) {
  cr_assert_eq(scvgc_objmeta_bytes(512), 512 * 8 + 2 * 8 * 8);
  cr_assert_eq(scvgc_objmeta_bytes(1), 8 + 2 * 8);
}

/* F1: the pages of span-struct slabs that hold only free structs go back to the OS; a
 * struct handed out again from them starts zeroed; pages with a live struct stay. */
Test(fixalloc, free_span_struct_pages_are_released_and_come_back_zeroed) {
  enum { N = 3000 };
  static scvgc_span_t *s[N];
  scvgc_heap_lock_all();
  for (int i = 0; i < N; i++) {
    s[i] = scvgc_spanstruct_alloc();
    s[i]->base = 0x1234;
  }
  for (int i = 1; i < N; i++) scvgc_spanstruct_free(s[i]); /* s[0] stays */
  scvgc_heap_unlock_all();
  size_t rel = scvgc_spanstruct_release();
  cr_assert_geq(rel, (size_t)(N - 64) * sizeof(scvgc_span_t) / 2, "released %zu", rel);
  unsigned char v;
  cr_assert_eq(mincore((void *)((uintptr_t)s[N / 2] & ~(uintptr_t)4095), 4096, &v), 0);
  cr_assert_eq(v & 1, 0, "a page of free structs is not resident");
  cr_assert_eq(s[0]->base, 0x1234, "the live struct's page stayed");
  cr_assert_eq(s[N / 2]->state, SCVGC_SPAN_DEAD, "a released struct reads as DEAD (zero)");
  cr_assert_eq(scvgc_spanstruct_release(), 0, "nothing twice");
  scvgc_heap_lock_all();
  for (int i = 1; i < N; i++) {
    scvgc_span_t *t = scvgc_spanstruct_alloc();
    cr_assert_eq(t->base, 0);
    t->base = 1;
  }
  scvgc_heap_unlock_all();
}

/* The checker (F2, F3): sound after use, and each kind of damage caught. */
Test(fixalloc, the_checker_passes_on_blocks_and_structs_in_use_and_freed) {
  void *a = scvgc_meta_alloc(200), *b = scvgc_meta_alloc(200), *c = scvgc_meta_alloc(5000);
  scvgc_meta_free(b, 200);
  scvgc_heap_lock_all();
  scvgc_span_t *s = scvgc_spanstruct_alloc(), *t = scvgc_spanstruct_alloc();
  scvgc_spanstruct_free(s);
  scvgc_heap_unlock_all();
  scvgc_fixalloc_check();
  scvgc_meta_free(a, 200);
  scvgc_meta_free(c, 5000);
  scvgc_heap_lock_all();
  scvgc_spanstruct_free(t);
  scvgc_heap_unlock_all();
  scvgc_fixalloc_check();
}

Test(fixalloc, the_checker_catches_a_free_block_linking_outside_every_chunk, .signal = SIGILL) {
  static char outside[4096] __attribute__((aligned(64)));
  void *a = scvgc_meta_alloc(300);
  scvgc_meta_free(a, 300);
  scvgc_fixalloc_check();
  /* a write after free: the link now names memory no chunk holds */
  *(uintptr_t *)a = (uintptr_t)outside | ((uintptr_t)SCVGC_META_MARK << 32);
  *(uintptr_t *)outside = (uintptr_t)SCVGC_META_MARK << 32; /* a NULL link after it */
  scvgc_fixalloc_check();
}

Test(fixalloc, the_checker_catches_a_free_list_shorter_than_its_count, .signal = SIGILL) {
  void *a = scvgc_meta_alloc(400), *b = scvgc_meta_alloc(400);
  scvgc_meta_free(a, 400);
  scvgc_meta_free(b, 400); /* the list: b -> a */
  scvgc_fixalloc_check();
  *(uintptr_t *)b = (uintptr_t)SCVGC_META_MARK << 32; /* b now ends the list: a is lost */
  scvgc_fixalloc_check();
}

Test(fixalloc, the_checker_catches_a_span_struct_freed_twice, .signal = SIGILL) {
  scvgc_heap_lock_all();
  scvgc_span_t *s = scvgc_spanstruct_alloc();
  scvgc_spanstruct_free(s);
  scvgc_spanstruct_free(s); /* the slab's count goes past its free bits */
  scvgc_heap_unlock_all();
  scvgc_fixalloc_check();
}

/* F4: with no address space for a metadata chunk, the chunk comes from the page heap (a
 * MANUAL span): blocks still come back zeroed, and the checker still passes. */
Test(fixalloc, a_chunk_the_os_refuses_comes_from_the_heap) {
  void *warm = scvgc_malloc(64); /* the heap started */
  scvgc_fixalloc_test_no_map = true;
  char *first = NULL, *p = NULL;
  for (int i = 0; i < 300; i++) { /* 300 blocks of 1 KiB: past any chunk left over */
    p = scvgc_meta_alloc(1000);
    cr_assert_not_null(p, "block %d: the heap has room", i);
    for (int k = 0; k < 1000; k++) cr_assert_eq(p[k], 0, "zeroed");
    memset(p, 0xab, 1000);
    if (!first) first = p;
  }
  scvgc_fixalloc_test_no_map = false;
  scvgc_span_t *s = scvgc_spanof((uintptr_t)p);
  cr_assert_not_null(s, "the last block lies in the heap");
  cr_assert_eq(s->state, SCVGC_SPAN_MANUAL);
  scvgc_meta_free(p, 1000);
  char *q = scvgc_meta_alloc(1000);
  cr_assert_eq(q, p, "reused by size");
  for (int k = 0; k < 1000; k++) cr_assert_eq(q[k], 0, "and zeroed again");
  scvgc_fixalloc_check();
  scvgc_free(warm);
  (void)first;
}
