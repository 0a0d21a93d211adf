// case: objects whose only pointers are stored at addresses that are not 8-byte aligned are reported; the same pointer stored aligned keeps its object
// expect: direct_objects=2 direct_bytes=280 indirect_objects=0 indirect_bytes=0
// expect-leak: function=store_packed kind=direct objects=1 bytes=136
// expect-leak: function=store_at_offset_4 kind=direct objects=1 bytes=144
// expect-not-reported: store_aligned
/* The spec counts only word-aligned values. A packed struct puts a pointer at offset 1; a byte
 * buffer gets another at offset 4 (4-byte alignment is not enough on x86-64) and a third at
 * offset 16, which is aligned. The aligned words overlapping a misaligned pointer hold its
 * bytes shifted by 8 or 32 bits, which are not heap addresses (for any user-space heap above
 * 2^40 they are non-canonical or tiny). */
#include "leakcase.h"

static struct __attribute__((packed)) {
    char tag;
    void *p; /* offset 1 */
} packed_slot;
static _Alignas(8) unsigned char bytes[32];

static NOINLINE void store_packed(void)
{
    void *p = malloc(136);
    if (!p)
        die("malloc failed");
    packed_slot.p = p;
    p = NULL;
}

static NOINLINE void store_at_offset_4(void)
{
    void *p = malloc(144);
    if (!p)
        die("malloc failed");
    memcpy(bytes + 4, &p, sizeof p);
    p = NULL;
}

static NOINLINE void store_aligned(void)
{
    void *p = malloc(152);
    if (!p)
        die("malloc failed");
    memcpy(bytes + 16, &p, sizeof p);
    p = NULL;
}

int main(void)
{
    packed_slot.tag = 'x';
    store_packed();
    store_at_offset_4();
    store_aligned();
    BARRIER();
    scrub();
    return 0;
}
