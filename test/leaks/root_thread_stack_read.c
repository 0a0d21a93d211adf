// case: an object referenced only from the stack of another thread blocked in read() is not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: make_session
/* The reader thread allocates its session (96 bytes) itself, keeps it in a volatile local and
 * blocks in read(2) on a pipe nobody writes; main returns while it is still blocked, so the
 * exit check must stop it and scan its stack from its stack pointer. */
#include "leakcase.h"
#include <pthread.h>

static struct handshake ready;

static NOINLINE void *make_session(void)
{
    void *s = malloc(96);
    if (!s)
        die("malloc failed");
    return s;
}

static void *reader(void *arg)
{
    (void)arg;
    void *volatile session = make_session();
    scrub();
    handshake_signal(&ready);
    block_in_read_forever();
    (void)session;
    return NULL;
}

int main(void)
{
    pthread_t t;
    handshake_init(&ready);
    if (pthread_create(&t, NULL, reader, NULL) != 0)
        die("pthread_create failed");
    handshake_wait(&ready);
    control_leak();
    scrub();
    return 0;
}
