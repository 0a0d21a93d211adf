/* threads.h — the unit suites' ways to leave nothing of a test's own behind for the
 * conservative marker: scrub() drops the dead stack area and the caller-saved registers;
 * in_thread(fn) runs fn on a thread whose stack is unmapped afterwards, so what fn dropped is
 * exactly garbage (a stale copy in the caller's frames would be a root). Included by one .c. */
#ifndef SCVGC_TEST_THREADS_H
#define SCVGC_TEST_THREADS_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

__attribute__((noinline, unused)) static void scrub(void) {
  volatile char pad[65536];
  memset((char *)pad, 0, sizeof pad);
  __asm__ volatile("xor %%eax,%%eax; xor %%ecx,%%ecx; xor %%edx,%%edx; xor %%esi,%%esi;"
                   "xor %%edi,%%edi; xor %%r8d,%%r8d; xor %%r9d,%%r9d; xor %%r10d,%%r10d;"
                   "xor %%r11d,%%r11d" ::: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
}

static void *call(void *fn) {
  ((void (*)(void))fn)();
  return NULL;
}

__attribute__((unused)) static void in_thread(void (*fn)(void)) {
  size_t sz = 1 << 20;
  void *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setstack(&a, stack, sz);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, &a, call, (void *)fn), 0);
  pthread_join(t, NULL);
  munmap(stack, sz);
}

#endif
