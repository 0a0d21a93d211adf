// case: an object referenced only from an anonymous huge-page mapping (MAP_HUGETLB) is not reported, and the exit check touches no page of it the program did not
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: keep_in_huge_pages
/* MAP_HUGETLB memory is listed as /anon_hugepage: anonymous memory, not a file. Reading it whole
 * took a huge page from the pool for every page not yet touched (SIGBUS when the pool is
 * empty). The case maps 8 huge pages and touches one; where no pool is configured (the mmap
 * fails) it uses a plain anonymous mapping and shows only the root. */
#include "leakcase.h"
#include <sys/mman.h>

#ifndef MAP_HUGETLB
#define MAP_HUGETLB 0x40000
#endif
#define HUGE_BYTES (8ul << 21)

static void **volatile huge; /* the mapping's address, not a heap pointer */

static NOINLINE void keep_in_huge_pages(void)
{
    void **m = mmap(NULL, HUGE_BYTES, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    if (m == MAP_FAILED)
        m = mmap(NULL, HUGE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        die("mmap failed");
    m[8] = malloc(64);
    if (!m[8])
        die("malloc failed");
    huge = m;
}

int main(void)
{
    keep_in_huge_pages();
    control_leak();
    scrub();
    return 0;
}
