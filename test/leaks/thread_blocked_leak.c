// case: a leak made by a thread that is still blocked in read() at exit is reported
// expect: direct_objects=1 direct_bytes=88 indirect_objects=0 indirect_bytes=0
// expect-leak: function=leak_then_block kind=direct objects=1 bytes=88
/* The thread allocates 88 bytes, drops the pointer, scrubs its stack and blocks in read(2);
 * main returns while it is blocked. Its live stack holds no copy. */
#include "leakcase.h"
#include <pthread.h>

static struct handshake ready;

static NOINLINE void leak_then_block_alloc(void)
{
    void *p = malloc(88);
    if (!p)
        die("malloc failed");
    p = NULL;
}

static void *leak_then_block(void *arg)
{
    (void)arg;
    leak_then_block_alloc();
    scrub();
    handshake_signal(&ready);
    block_in_read_forever();
    return NULL;
}

int main(void)
{
    pthread_t t;
    handshake_init(&ready);
    if (pthread_create(&t, NULL, leak_then_block, NULL) != 0)
        die("pthread_create failed");
    handshake_wait(&ready);
    scrub();
    return 0;
}
