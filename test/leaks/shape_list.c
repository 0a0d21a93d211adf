// case: a leaked singly linked list of five nodes is one direct leak (the head) and four indirect ones
// expect: direct_objects=1 direct_bytes=48 indirect_objects=4 indirect_bytes=192
// expect-leak: function=list_push kind=direct objects=1 bytes=48 groups=1
// expect-leak: function=list_push kind=indirect objects=4 bytes=192 groups=1
/* Five 48-byte nodes pushed from one call site (one allocation stack); the program drops the
 * head. Only the head is pointed to by nothing; each other node is pointed to by a leaked one. */
#include "leakcase.h"

struct node {
    struct node *next;
    char payload[40];
};

static NOINLINE struct node *list_push(struct node *head)
{
    struct node *n = malloc(sizeof *n);
    if (!n)
        die("malloc failed");
    n->next = head;
    return n;
}

static NOINLINE void build_and_drop(void)
{
    struct node *head = NULL;
    for (int i = 0; i < 5; i++)
        head = list_push(head);
    head = NULL;
}

int main(void)
{
    build_and_drop();
    scrub();
    return 0;
}
