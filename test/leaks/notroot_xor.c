// case: objects reachable only through XOR-ed pointers (the middle of a XOR linked list, a masked pointer) are reported: hidden pointers cannot be seen
// expect: direct_objects=3 direct_bytes=112 indirect_objects=0 indirect_bytes=0
// expect-leak: function=xor_node kind=direct objects=2 bytes=48
// expect-leak: function=hide_pointer kind=direct objects=1 bytes=64
/* A XOR linked list of six 24-byte nodes, head and tail in globals: each node stores prev^next,
 * so the end nodes hold their one neighbour in clear (n0.link = n1, n5.link = n4) while the
 * links of n1..n4 are XORs of two heap addresses, which are small numbers, never pointers.
 * n2 and n3 are therefore hidden: reported, each direct, although the program can still walk
 * to them. And a 64-byte object whose address is kept only XOR-ed with a mask. This is the
 * spec's reason why leak mode, not collect mode, is the default. */
#include "leakcase.h"
#include <stdint.h>

#define MASK ((uintptr_t)0x5a5a5a5a5a5a5a5aull)

struct xnode {
    uintptr_t link; /* address of prev XOR address of next */
    long value;
    long spare;
};

static struct xnode *volatile head, *volatile tail;
static volatile uintptr_t masked;

static NOINLINE struct xnode *xor_node(long value)
{
    struct xnode *n = malloc(sizeof *n);
    if (!n)
        die("malloc failed");
    n->link = 0;
    n->value = value;
    return n;
}

static NOINLINE void build_xor_list(void)
{
    struct xnode *prev = NULL;
    for (long i = 0; i < 6; i++) {
        struct xnode *n = xor_node(i);
        if (prev) {
            prev->link ^= (uintptr_t)n;
            n->link = (uintptr_t)prev;
        } else {
            head = n;
        }
        prev = n;
    }
    tail = prev;
    prev = NULL;
}

static NOINLINE long walk_xor_list(void)
{
    long sum = 0;
    uintptr_t prev = 0;
    for (struct xnode *n = head; n;) {
        sum += n->value;
        struct xnode *next = (struct xnode *)(n->link ^ prev);
        prev = (uintptr_t)n;
        n = next;
    }
    return sum;
}

static NOINLINE void hide_pointer(void)
{
    void *p = malloc(64);
    if (!p)
        die("malloc failed");
    masked = (uintptr_t)p ^ MASK;
    p = NULL;
}

int main(void)
{
    build_xor_list();
    hide_pointer();
    if (walk_xor_list() != 15)
        die("XOR list broken");
    scrub();
    return 0;
}
