// case: an object referenced only from another thread's __thread variable is not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: keep_in_thread_tls
/* The worker stores a 184-byte object in its own instance of a __thread variable (main's stays
 * NULL), then blocks in read(2); main returns while it is blocked. The worker's static TLS sits
 * above its stack, in the mapping glibc made for the thread. */
#include "leakcase.h"
#include <pthread.h>

static __thread void *volatile cache;
static struct handshake ready;

static NOINLINE void keep_in_thread_tls(void)
{
    cache = malloc(184);
    if (!cache)
        die("malloc failed");
}

static void *worker(void *arg)
{
    (void)arg;
    keep_in_thread_tls();
    scrub();
    handshake_signal(&ready);
    block_in_read_forever();
    return NULL;
}

int main(void)
{
    pthread_t t;
    handshake_init(&ready);
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        die("pthread_create failed");
    handshake_wait(&ready);
    control_leak();
    scrub();
    return 0;
}
