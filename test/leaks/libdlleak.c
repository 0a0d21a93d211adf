/* Library for dlopen_leak_in_library.c: leaks one object and keeps another in its .bss. */
#include <stdlib.h>

void *dlleak_kept;

__attribute__((noinline)) void dlleak_alloc(void)
{
    void *volatile p = malloc(77);
    if (!p)
        abort();
    p = NULL;
}

__attribute__((noinline)) void dlleak_keep_one(void)
{
    dlleak_kept = malloc(78);
}

void dlleak_run(void)
{
    dlleak_alloc();
    dlleak_keep_one();
}
