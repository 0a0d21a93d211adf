// case: an object referenced only from a local variable of a live frame, two calls above scvgc_leak_check(), is not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: make_record
/* outer() keeps the record (80 bytes, pointing to a 30-byte name) in a volatile local and calls
 * middle(), which calls the check: the record lies in the main thread's live stack, above the
 * stack pointer of the check. Ends with _exit(0): the report checked is the check's. */
#include "leakcase.h"

struct record {
    char *name;
    char payload[72];
};

static NOINLINE struct record *make_record(void)
{
    struct record *r = malloc(sizeof *r);
    if (!r || !(r->name = malloc(30)))
        die("malloc failed");
    return r;
}

static NOINLINE void middle(leak_check_fn check)
{
    if (check)
        check();
}

static NOINLINE void outer(leak_check_fn check)
{
    struct record *volatile mine = make_record();
    scrub();
    middle(check);
    mine->payload[0] = 1;
}

int main(void)
{
    leak_check_fn check = find_leak_check();
    control_leak();
    scrub();
    outer(check);
    _exit(0);
}
