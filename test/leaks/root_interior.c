// case: objects referenced only by interior pointers (into the middle, at the last byte, an intrusive list's embedded links) are not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: keep_middle keep_last_byte make_item
/* A global holds p+50 of a 100-byte object; another holds p+99 (its last byte) of another
 * 100-byte object. A circular intrusive list (as in the Linux kernel) links two 48-byte items
 * through their embedded links at offset 24: the global list head points to &a->link,
 * a->link.next to &b->link, and back to the head; no pointer to the start of an item exists. */
#include "leakcase.h"

struct list_link {
    struct list_link *next, *prev;
};

struct item {
    char name[24];
    struct list_link link; /* offset 24 */
    long value;
};

static char *volatile middle;
static char *volatile last_byte;
static struct list_link items = {&items, &items};

static NOINLINE void keep_middle(void)
{
    char *p = malloc(100);
    if (!p)
        die("malloc failed");
    middle = p + 50;
}

static NOINLINE void keep_last_byte(void)
{
    char *p = malloc(100);
    if (!p)
        die("malloc failed");
    last_byte = p + 99;
}

static NOINLINE struct item *make_item(long value)
{
    struct item *it = malloc(sizeof *it);
    if (!it)
        die("malloc failed");
    it->value = value;
    return it;
}

static NOINLINE void add_item(long value)
{
    struct item *it = make_item(value);
    it->link.next = &items;
    it->link.prev = items.prev;
    items.prev->next = &it->link;
    items.prev = &it->link;
    BARRIER();
}

int main(void)
{
    keep_middle();
    keep_last_byte();
    add_item(1);
    add_item(2);
    control_leak();
    scrub();
    return 0;
}
