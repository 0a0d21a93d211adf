// case: an object referenced only from a global below a coroutine stack in .bss is not reported while a thread runs on that stack
// expect: direct_objects=1 direct_bytes=13 indirect_objects=0 indirect_bytes=0
// expect-leak: function=control_leak kind=direct objects=1 bytes=13
// expect-not-reported: keep_below_coroutine
/* A coroutine stack (makecontext) that is a static array lives in the bss mapping with the
 * program's other globals. A thread switches to it and blocks there, so at the exit check its
 * stack pointer is inside the bss: only a thread's own stack has a dead part below the stack
 * pointer, and the global below the coroutine stack (same anonymous mapping, lower address)
 * is a root like any other. */
#include "leakcase.h"
#include <pthread.h>
#include <semaphore.h>
#include <ucontext.h>

/* pad: well past the file-backed page where .bss starts, so that keep and stack share one
 * anonymous mapping */
static struct {
    char pad[128 * 1024];
    void *volatile keep;
    char stack[256 * 1024];
} g __attribute__((aligned(4096)));

static ucontext_t main_ctx, co_ctx;
static sem_t on_coroutine;

static void coroutine(void)
{
    sem_post(&on_coroutine);
    for (;;)
        pause(); /* blocked with sp inside g.stack until the process exits */
}

static void *thread_main(void *arg)
{
    (void)arg;
    getcontext(&co_ctx);
    co_ctx.uc_stack.ss_sp = g.stack;
    co_ctx.uc_stack.ss_size = sizeof g.stack;
    co_ctx.uc_link = &main_ctx;
    makecontext(&co_ctx, coroutine, 0);
    swapcontext(&main_ctx, &co_ctx);
    return NULL;
}

static NOINLINE void keep_below_coroutine(void)
{
    g.keep = malloc(77);
    if (!g.keep)
        die("malloc failed");
}

int main(void)
{
    pthread_t t;
    sem_init(&on_coroutine, 0, 0);
    if (pthread_create(&t, NULL, thread_main, NULL))
        die("pthread_create failed");
    sem_wait(&on_coroutine);
    keep_below_coroutine();
    control_leak();
    scrub();
    return 0;
}
