// case: an object referenced only from a pthread_setspecific() value of another, blocked thread is not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: keep_under_key
/* The worker stores a 280-byte object under a key (its descriptor lies in its own stack
 * mapping) and blocks in read(2); main returns while it is blocked, so no key destructor runs. */
#include "leakcase.h"
#include <pthread.h>

static pthread_key_t key;
static struct handshake ready;

static NOINLINE void keep_under_key(void)
{
    void *v = malloc(280);
    if (!v)
        die("malloc failed");
    if (pthread_setspecific(key, v) != 0)
        die("pthread_setspecific failed");
    v = NULL;
}

static void *worker(void *arg)
{
    (void)arg;
    keep_under_key();
    scrub();
    handshake_signal(&ready);
    block_in_read_forever();
    return NULL;
}

int main(void)
{
    pthread_t t;
    if (pthread_key_create(&key, NULL) != 0)
        die("pthread_key_create failed");
    handshake_init(&ready);
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        die("pthread_create failed");
    handshake_wait(&ready);
    control_leak();
    scrub();
    return 0;
}
