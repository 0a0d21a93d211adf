// case: a pointer left in a dead frame of another thread's stack, below its stack pointer, does not keep its object alive
// expect: direct_objects=1 direct_bytes=104 indirect_objects=0 indirect_bytes=0
// expect-leak: function=make_buried kind=direct objects=1 bytes=104
/* The thread's stack is the block glibc allocated and recorded for it: the collector finds
 * that block in the thread's descriptor and skips its part below the stack pointer (SPEC root
 * class 2). bury() has a 1 MiB frame and leaves the pointer at its lowest address, then the
 * thread blocks in pause() from the frame above: the pointer lies 1 MiB below its sp. */
#include "leakcase.h"
#include <pthread.h>
#include <semaphore.h>

static sem_t buried;

static NOINLINE void *make_buried(void)
{
    return malloc(104);
}

static NOINLINE void bury(void)
{
    void *volatile deep[128 * 1024]; /* deep[0] is the lowest address of the frame */
    deep[0] = make_buried();
    if (!deep[0])
        die("malloc failed");
}

static void *thread_main(void *arg)
{
    (void)arg;
    bury();
    sem_post(&buried);
    for (;;)
        pause();
    return NULL;
}

int main(void)
{
    pthread_t t;
    sem_init(&buried, 0, 0);
    if (pthread_create(&t, NULL, thread_main, NULL))
        die("pthread_create failed");
    sem_wait(&buried);
    scrub();
    return 0;
}
