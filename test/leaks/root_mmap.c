// case: an object referenced only from an anonymous mmap region is not reported, and one referenced only from a region since unmapped is
// expect: direct_objects=2 direct_bytes=125 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-leak: function=lose_with_munmap kind=direct objects=1 bytes=112
// expect-not-reported: keep_in_mapping
/* A program-managed arena (a private anonymous mapping, like an interpreter's) holds the only
 * pointer to a 96-byte object: a root of class 5. A second mapping holds the only pointer to
 * a 112-byte object and is then unmapped: that object is unreachable. */
#include "leakcase.h"
#include <sys/mman.h>

static void *volatile arena; /* the mapping's address, not a heap pointer */

static NOINLINE void keep_in_mapping(void)
{
    void **m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        die("mmap failed");
    m[1000] = malloc(96);
    if (!m[1000])
        die("malloc failed");
    arena = m;
}

static NOINLINE void lose_with_munmap(void)
{
    void **m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        die("mmap failed");
    m[3] = malloc(112);
    if (!m[3])
        die("malloc failed");
    munmap(m, 4096);
}

int main(void)
{
    keep_in_mapping();
    lose_with_munmap();
    control_leak();
    scrub();
    return 0;
}
