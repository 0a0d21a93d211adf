// case: an object referenced only from the stack of another thread blocked in pthread_cond_wait() is not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: make_job
/* The worker keeps its job (120 bytes) in a volatile local and waits on a condition variable
 * whose predicate never becomes true; main returns while it waits. */
#include "leakcase.h"
#include <pthread.h>

static struct handshake ready;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static volatile int work_available;

static NOINLINE void *make_job(void)
{
    void *j = malloc(120);
    if (!j)
        die("malloc failed");
    return j;
}

static void *worker(void *arg)
{
    (void)arg;
    void *volatile job = make_job();
    scrub();
    pthread_mutex_lock(&lock);
    handshake_signal(&ready);
    while (!work_available)
        pthread_cond_wait(&wake, &lock);
    pthread_mutex_unlock(&lock);
    (void)job;
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
