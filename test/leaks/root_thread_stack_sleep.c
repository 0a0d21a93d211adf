// case: an object referenced only from the stack of another thread blocked in sleep() is not reported
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: make_timer_state
/* The timer thread keeps its state (136 bytes) in a volatile local and sleeps; main returns
 * while it sleeps. (sleep() is restarted if it ever returns early: the spec forbids the stop
 * from cutting it short, but that is another test's business.) */
#include "leakcase.h"
#include <pthread.h>

static struct handshake ready;

static NOINLINE void *make_timer_state(void)
{
    void *s = malloc(136);
    if (!s)
        die("malloc failed");
    return s;
}

static void *timer(void *arg)
{
    (void)arg;
    void *volatile state = make_timer_state();
    scrub();
    handshake_signal(&ready);
    for (;;)
        sleep(1000);
    (void)state;
    return NULL;
}

int main(void)
{
    pthread_t t;
    handshake_init(&ready);
    if (pthread_create(&t, NULL, timer, NULL) != 0)
        die("pthread_create failed");
    handshake_wait(&ready);
    control_leak();
    scrub();
    return 0;
}
