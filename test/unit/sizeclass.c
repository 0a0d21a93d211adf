/* Invariants of core/sizeclass.c, checked from first principles. */
#include <criterion/criterion.h>

#include "internal.h"

static const uint32_t page = SCVGC_PAGE_SIZE;

Test(sizeclass, sizes_are_increasing_multiples_of_16) {
  for (int c = 1; c < SCVGC_NCLASSES; c++) {
    cr_assert_eq(scvgc_classes[c].size % 16, 0, "class %d", c);
    if (c > 1) cr_assert_gt(scvgc_classes[c].size, scvgc_classes[c - 1].size);
  }
  cr_assert_eq(scvgc_classes[SCVGC_NCLASSES - 1].size, SCVGC_MAX_SMALL);
}

Test(sizeclass, every_power_of_two_from_16_to_32k_is_a_class) {
  for (uint32_t p = 16; p <= SCVGC_MAX_SMALL; p *= 2)
    cr_assert_eq(scvgc_classes[scvgc_size_class(p)].size, p, "%u", p);
}

Test(sizeclass, every_size_maps_to_the_smallest_class_that_fits) {
  for (size_t n = 0; n <= SCVGC_MAX_SMALL; n++) {
    uint32_t c = scvgc_size_class(n);
    cr_assert(c >= 1 && c < SCVGC_NCLASSES);
    cr_assert_geq(scvgc_classes[c].size, n, "size %zu", n);
    if (c > 1) cr_assert_lt(scvgc_classes[c - 1].size, n, "size %zu not smallest", n);
  }
}

Test(sizeclass, internal_waste_is_bounded) {
  /* above 128 bytes, no request wastes more than 16% of its object (Go's table: 15.8%) */
  for (size_t n = 129; n <= SCVGC_MAX_SMALL; n++) {
    uint32_t sz = scvgc_classes[scvgc_size_class(n)].size;
    cr_assert_leq((sz - n) * 100, 16 * (size_t)sz, "size %zu in %u", n, sz);
  }
}

Test(sizeclass, span_pages_are_the_fewest_with_tail_waste_at_most_an_eighth) {
  for (int c = 1; c < SCVGC_NCLASSES; c++) {
    const scvgc_class_t *k = &scvgc_classes[c];
    uint32_t span = k->npages * page;
    cr_assert_leq((span % k->size) * 8, span, "class %d", c);
    cr_assert_eq(k->nelems, span / k->size);
    for (uint32_t np = 1; np < k->npages; np++)
      cr_assert_gt(((np * page) % k->size) * 8, np * page, "class %d: %u pages suffice", c, np);
  }
}

Test(sizeclass, divmul_divides_exactly_at_every_offset_of_a_span) {
  for (int c = 1; c < SCVGC_NCLASSES; c++) {
    const scvgc_class_t *k = &scvgc_classes[c];
    for (uint64_t off = 0; off < (uint64_t)k->npages * page; off++)
      if (((off * k->divmul) >> 32) != off / k->size)
        cr_assert_fail("class %d offset %lu", c, (unsigned long)off);
  }
}
