// case: a leaked doubly linked list with its header: the header is direct, every node (a cycle of prev/next links) indirect
// expect: direct_objects=1 direct_bytes=32 indirect_objects=4 indirect_bytes=96
// expect-leak: function=dlist_new kind=direct objects=1 bytes=32
// expect-leak: function=dlist_append kind=indirect objects=4 bytes=96
// expect-not-reported: dlist_remove_first
/* The 32-byte header points to the first and last of four 24-byte nodes, which point to each
 * other both ways; no node points back to the header. The list had five nodes: the first was
 * unlinked and freed, so it is not reported. */
#include "leakcase.h"

struct dnode {
    struct dnode *prev, *next;
    long value;
};

struct dlist {
    struct dnode *first, *last;
    long count;
    long generation;
};

static NOINLINE struct dlist *dlist_new(void)
{
    struct dlist *l = calloc(1, sizeof *l);
    if (!l)
        die("calloc failed");
    return l;
}

static NOINLINE void dlist_append(struct dlist *l, long value)
{
    struct dnode *n = malloc(sizeof *n);
    if (!n)
        die("malloc failed");
    n->value = value;
    n->next = NULL;
    n->prev = l->last;
    if (l->last)
        l->last->next = n;
    else
        l->first = n;
    l->last = n;
    l->count++;
}

static NOINLINE void dlist_remove_first(struct dlist *l)
{
    struct dnode *n = l->first;
    l->first = n->next;
    l->first->prev = NULL;
    l->count--;
    free(n);
}

static NOINLINE void build_and_drop(void)
{
    struct dlist *l = dlist_new();
    for (long i = 0; i < 5; i++)
        dlist_append(l, i);
    dlist_remove_first(l);
    l = NULL;
}

int main(void)
{
    build_and_drop();
    scrub();
    return 0;
}
