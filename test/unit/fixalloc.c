/* core/fixalloc.c and core/os.c: the core's own metadata memory. */
#include <criterion/criterion.h>
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
