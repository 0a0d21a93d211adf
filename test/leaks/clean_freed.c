// case: a program that frees everything it allocated (through every entry point, some from another thread) reports no leak
// expect: direct_objects=0 direct_bytes=0 indirect_objects=0 indirect_bytes=0
// expect-not-reported: alloc_and_free alloc_for_other_thread free_in_thread
/* Every entry point, realloc chains, a list freed node by node, and blocks allocated by main
 * and freed by another thread. */
#include "leakcase.h"
#include <malloc.h>
#include <pthread.h>

static void *handed[16];

static NOINLINE void alloc_and_free(void)
{
    void *p;
    free(malloc(10));
    free(calloc(4, 10));
    free(realloc(malloc(10), 5000));
    free(realloc(malloc(5000), 10));
    free(reallocarray(NULL, 3, 30));
    free(memalign(64, 100));
    free(aligned_alloc(64, 128));
    free(valloc(100));
    free(strdup("freed"));
    if (posix_memalign(&p, 256, 300) != 0)
        die("posix_memalign failed");
    free(p);
    free(malloc(1 << 20));
    free(NULL);
    struct node {
        struct node *next;
    } *head = NULL;
    for (int i = 0; i < 100; i++) {
        struct node *n = malloc(sizeof *n);
        if (!n)
            die("malloc failed");
        n->next = head;
        head = n;
    }
    while (head) {
        struct node *next = head->next;
        free(head);
        head = next;
    }
}

static NOINLINE void alloc_for_other_thread(void)
{
    for (int i = 0; i < 16; i++)
        if (!(handed[i] = malloc(16 * (i + 1))))
            die("malloc failed");
}

static NOINLINE void *free_in_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 16; i++) {
        free(handed[i]);
        handed[i] = NULL;
    }
    return NULL;
}

int main(void)
{
    pthread_t t;
    alloc_and_free();
    alloc_for_other_thread();
    if (pthread_create(&t, NULL, free_in_thread, NULL) != 0)
        die("pthread_create failed");
    pthread_join(t, NULL);
    scrub();
    return 0;
}
