// case: in collect mode (periodic GC off, every stack captured: SCVGC_SAMPLE=0) the exit report says mode "collect" and lists the leaks found at exit
// env: SCVGC_MODE=collect SCVGC_GOGC=off SCVGC_SAMPLE=0
// expect: direct_objects=1 direct_bytes=48 indirect_objects=2 indirect_bytes=96
// expect-leak: function=list_push kind=direct objects=1 bytes=48
// expect-leak: function=list_push kind=indirect objects=2 bytes=96
// expect-not-reported: keep_list
/* With SCVGC_GOGC=off no cycle runs before exit, so the exit check is the first to see the
 * dropped three-node list (1 direct + 2 indirect); the kept list (two nodes) is reachable. */
#include "leakcase.h"

struct node {
    struct node *next;
    char payload[40];
};

static struct node *volatile kept;

static NOINLINE struct node *list_push(struct node *head)
{
    struct node *n = malloc(sizeof *n);
    if (!n)
        die("malloc failed");
    n->next = head;
    return n;
}

static NOINLINE void drop_list(void)
{
    struct node *head = NULL;
    for (int i = 0; i < 3; i++)
        head = list_push(head);
    head = NULL;
}

static NOINLINE void keep_list(void)
{
    kept = list_push(list_push(NULL));
}

int main(void)
{
    drop_list();
    keep_list();
    scrub();
    return 0;
}
