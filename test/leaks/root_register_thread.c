// case: an object held only in a callee-saved register of a thread blocked in read() is not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: make_held_pair
/* The holder thread keeps a 64-byte object (which points to a 48-byte one) in r12 only, then
 * blocks in read(2) for good. Whether read() keeps r12 in the register or spills it into its
 * own frame, the object is in the thread's registers or live stack when the world stops at
 * exit. main never sees the pointer. */
#include "leakcase.h"
#include <pthread.h>

struct pair {
    struct pair *other;
    char payload[56];
};

static struct handshake ready;

static NOINLINE struct pair *make_held_pair(void)
{
    struct pair *a = malloc(64), *b = malloc(48);
    if (!a || !b)
        die("malloc failed");
    a->other = b;
    b->other = NULL;
    return a;
}

static void *holder(void *arg)
{
    (void)arg;
    register struct pair *held __asm__("r12") = make_held_pair();
    __asm__ volatile("" : "+r"(held));
    scrub();
    __asm__ volatile("" : "+r"(held));
    handshake_signal(&ready);
    block_in_read_forever();
    __asm__ volatile("" : : "r"(held));
    return NULL;
}

int main(void)
{
    pthread_t t;
    handshake_init(&ready);
    if (pthread_create(&t, NULL, holder, NULL) != 0)
        die("pthread_create failed");
    handshake_wait(&ready);
    control_leak();
    scrub();
    return 0;
}
