// case: objects held only in callee-saved registers when scvgc_leak_check() runs are not reported, nor what they point to
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: make_chain make_buffer
/* A chain of three objects is reachable only from rbx, and a 200-byte buffer only from r15,
 * which points 100 bytes into it. The allocators return in rax; explicit register variables,
 * pinned by asm constraints, move the pointers into rbx and r15, and scrub() removes every
 * other copy. At -O0 hold_in_registers() keeps no stack copy of either (objdump -d shows rbx
 * and r15 saved by its prologue and never stored). The report checked is the one
 * scvgc_leak_check() writes: main then _exit()s, so no exit report replaces it. */
#include "leakcase.h"

struct link {
    struct link *next;
    char payload[32];
};

static NOINLINE struct link *make_chain(void)
{
    struct link *head = NULL;
    for (int i = 0; i < 3; i++) {
        struct link *l = malloc(sizeof *l);
        if (!l)
            die("malloc failed");
        l->next = head;
        head = l;
    }
    return head;
}

static NOINLINE char *make_buffer(void)
{
    char *b = malloc(200);
    if (!b)
        die("malloc failed");
    return b + 100;
}

static NOINLINE void hold_in_registers(leak_check_fn check)
{
    register struct link *chain __asm__("rbx") = make_chain();
    register char *inside __asm__("r15") = make_buffer();
    __asm__ volatile("" : "+r"(chain), "+r"(inside));
    scrub();
    __asm__ volatile("" : "+r"(chain), "+r"(inside));
    if (check)
        check();
    __asm__ volatile("" : : "r"(chain), "r"(inside));
}

int main(void)
{
    leak_check_fn check = find_leak_check();
    control_leak();
    scrub();
    hold_in_registers(check);
    _exit(0);
}
