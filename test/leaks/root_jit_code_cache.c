// case: an object referenced only as an unaligned 64-bit immediate in a writable and executable mapping (a JIT's code cache) is not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: emit_code
/* OpenJDK's tiered compilers emit `movabs $holder, %rax` for an inline cache: the pointer to a
 * malloc'd holder lies at an odd offset inside the generated code, in an rwx mapping. The
 * collector reads writable and executable mappings at every byte offset (docs/limitations.md:
 * unaligned pointers elsewhere are still not roots, see notroot_unaligned). */
#include "leakcase.h"
#include <stdint.h>
#include <sys/mman.h>

static unsigned char *volatile code; /* the code cache's address, not a heap pointer */

static NOINLINE void emit_code(void)
{
    unsigned char *c = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE | PROT_EXEC,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (c == MAP_FAILED)
        die("mmap of an rwx mapping failed");
    void *holder = malloc(56);
    if (!holder)
        die("malloc failed");
    c[101] = 0x48; /* movabs $holder, %rax; ret */
    c[102] = 0xb8;
    uintptr_t v = (uintptr_t)holder;
    memcpy(c + 103, &v, sizeof v);
    c[111] = 0xc3;
    holder = NULL;
    v = 0;
    code = c;
}

int main(void)
{
    emit_code();
    control_leak();
    scrub();
    return 0;
}
