// case: when a list's head is dropped but a global still points to its fourth node, only the first three nodes are reported
// expect: direct_objects=1 direct_bytes=48 indirect_objects=2 indirect_bytes=96
// expect-leak: function=list_append kind=direct objects=1 bytes=48
// expect-leak: function=list_append kind=indirect objects=2 bytes=96
/* Six 48-byte nodes n0 -> n1 -> ... -> n5; a global keeps n3 (say, a cursor). n0 is direct,
 * n1 and n2 indirect (reached only from n0), n3..n5 reachable. */
#include "leakcase.h"

struct node {
    struct node *next;
    char payload[40];
};

static struct node *volatile cursor;

static NOINLINE struct node *list_append(struct node *tail)
{
    struct node *n = malloc(sizeof *n);
    if (!n)
        die("malloc failed");
    n->next = NULL;
    if (tail)
        tail->next = n;
    return n;
}

static NOINLINE void build_keep_cursor(void)
{
    struct node *head = list_append(NULL), *tail = head;
    for (int i = 1; i < 6; i++) {
        tail = list_append(tail);
        if (i == 3)
            cursor = tail;
    }
    head = tail = NULL;
}

int main(void)
{
    build_keep_cursor();
    scrub();
    return 0;
}
