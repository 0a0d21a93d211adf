/* leakcase.h — what every program of the leak corpus shares (the header format: run.sh).
 *
 * A case's ground truth is exact only if no stale copy of a dropped pointer survives where the
 * collector looks: an unused slot of a live stack frame, a caller-saved register, the frames
 * malloc (and its stack capture) left below the caller. So every case follows one discipline:
 *   - allocate in a NOINLINE function that stores the pointer where the case wants it (or
 *     nowhere); main's own frame never holds a pointer to a heap object;
 *   - call scrub() afterwards from the frame that stays live: it zeroes SCRUB_BYTES of stack
 *     below that frame and the caller-saved registers (general and vector), so the frames of
 *     the functions that returned leave nothing a later frame could expose;
 *   - keep roots in volatile objects so that the compiler cannot drop the store.
 * Helpers are static and marked unused: each case takes what it needs. Built with -O0 -g.
 */
#ifndef LEAKCASE_H
#define LEAKCASE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, unused))
#define BARRIER() __asm__ volatile("" ::: "memory")

/* Deeper than anything the allocation path (malloc, its stack capture) uses below a caller. */
#define SCRUB_BYTES (64 * 1024)

/* Zeroes the SCRUB_BYTES below this frame and every caller-saved register. Callee-saved
   registers (rbx, rbp, r12-r15) are left alone: they belong to the callers. */
static NOINLINE void scrub(void)
{
    /* CPU feature detection first: it may push callee-saved registers (cpuid clobbers rbx)
       into the area the next step zeroes. */
    __builtin_cpu_init();
    int avx = __builtin_cpu_supports("avx"), avx512 = __builtin_cpu_supports("avx512f");
    /* rsp is lowered first so the zeroed area is never below the stack pointer while written. */
    __asm__ volatile("sub %[n], %%rsp\n\t"
                     "mov %%rsp, %%rdi\n\t"
                     "mov %[q], %%rcx\n\t"
                     "xor %%eax, %%eax\n\t"
                     "cld\n\t"
                     "rep stosq\n\t"
                     "add %[n], %%rsp\n\t"
                     :
                     : [n] "i"(SCRUB_BYTES), [q] "i"(SCRUB_BYTES / 8)
                     : "rax", "rcx", "rdi", "memory", "cc");
    /* glibc's string functions copy through vector registers (the EVEX variants through
       ymm16-31, to avoid vzeroupper); a collector may scan them. */
    if (avx)
        __asm__ volatile("vzeroall" ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                         "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
                         "xmm15");
    else
        __asm__ volatile("pxor %%xmm0, %%xmm0\n\t pxor %%xmm1, %%xmm1\n\t"
                         "pxor %%xmm2, %%xmm2\n\t pxor %%xmm3, %%xmm3\n\t"
                         "pxor %%xmm4, %%xmm4\n\t pxor %%xmm5, %%xmm5\n\t"
                         "pxor %%xmm6, %%xmm6\n\t pxor %%xmm7, %%xmm7\n\t"
                         "pxor %%xmm8, %%xmm8\n\t pxor %%xmm9, %%xmm9\n\t"
                         "pxor %%xmm10, %%xmm10\n\t pxor %%xmm11, %%xmm11\n\t"
                         "pxor %%xmm12, %%xmm12\n\t pxor %%xmm13, %%xmm13\n\t"
                         "pxor %%xmm14, %%xmm14\n\t pxor %%xmm15, %%xmm15\n\t"
                         ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                         "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    if (avx512)
        __asm__ volatile("vpxord %%zmm16, %%zmm16, %%zmm16\n\t vpxord %%zmm17, %%zmm17, %%zmm17\n\t"
                         "vpxord %%zmm18, %%zmm18, %%zmm18\n\t vpxord %%zmm19, %%zmm19, %%zmm19\n\t"
                         "vpxord %%zmm20, %%zmm20, %%zmm20\n\t vpxord %%zmm21, %%zmm21, %%zmm21\n\t"
                         "vpxord %%zmm22, %%zmm22, %%zmm22\n\t vpxord %%zmm23, %%zmm23, %%zmm23\n\t"
                         "vpxord %%zmm24, %%zmm24, %%zmm24\n\t vpxord %%zmm25, %%zmm25, %%zmm25\n\t"
                         "vpxord %%zmm26, %%zmm26, %%zmm26\n\t vpxord %%zmm27, %%zmm27, %%zmm27\n\t"
                         "vpxord %%zmm28, %%zmm28, %%zmm28\n\t vpxord %%zmm29, %%zmm29, %%zmm29\n\t"
                         "vpxord %%zmm30, %%zmm30, %%zmm30\n\t vpxord %%zmm31, %%zmm31, %%zmm31\n\t"
                         ::: "memory");
    /* Last, so that nothing above refills them. */
    __asm__ volatile("xor %%eax, %%eax\n\t xor %%ecx, %%ecx\n\t xor %%edx, %%edx\n\t"
                     "xor %%esi, %%esi\n\t xor %%edi, %%edi\n\t"
                     "xor %%r8d, %%r8d\n\t xor %%r9d, %%r9d\n\t"
                     "xor %%r10d, %%r10d\n\t xor %%r11d, %%r11d\n\t"
                     ::: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11");
}

/* Prints why the program cannot go on and exits 1: a case's own precondition failed (under
   plain glibc too), so its ground truth would not hold. */
static NOINLINE void die(const char *what)
{
    fprintf(stderr, "leak case: %s\n", what);
    exit(1);
}

/* The control leak: one object of CONTROL_BYTES nothing points to, so that a case whose point
   is "this is not reported" still fails on a collector that reports nothing at all.
   Cases that use it carry:
     // expect-leak: function=control_leak kind=direct objects=1 bytes=13 */
#define CONTROL_BYTES 13
static NOINLINE void control_leak(void)
{
    char *volatile p = (char *)malloc(CONTROL_BYTES);
    if (!p)
        die("malloc failed");
    p[0] = 'c';
    p = NULL;
}

/* scvgc_leak_check() when the program runs under libscvgc, NULL under plain glibc (the case
   then runs the same code without the check). Cases that use it end with _exit(0) right after
   the check, so that the report on disk is the one the check wrote, not the exit report. */
typedef size_t (*leak_check_fn)(void);
static NOINLINE leak_check_fn find_leak_check(void)
{
    leak_check_fn fn;
    *(void **)&fn = dlsym(RTLD_DEFAULT, "scvgc_leak_check");
    return fn;
}

/* A one-byte handshake through a pipe: no allocation, no lock, and the waiting side blocks in
   read(2). Threads use it to say "my pointers are where the case wants them". */
struct handshake {
    int fd[2];
};
static NOINLINE void handshake_init(struct handshake *h)
{
    if (pipe(h->fd) != 0)
        die("pipe failed");
}
static NOINLINE void handshake_signal(struct handshake *h)
{
    char c = 1;
    if (write(h->fd[1], &c, 1) != 1)
        die("handshake write failed");
}
static NOINLINE void handshake_wait(struct handshake *h)
{
    char c;
    if (read(h->fd[0], &c, 1) != 1)
        die("handshake read failed");
}

/* Blocks the calling thread in read(2) on a pipe whose write end stays open and is never
   written: the thread is still blocked when main returns and the process exits. */
static NOINLINE void block_in_read_forever(void)
{
    int fd[2];
    char c;
    if (pipe(fd) != 0)
        die("pipe failed");
    for (;;)
        if (read(fd[0], &c, 1) < 0)
            die("read failed");
}

/* dlopen()s a library built by run.sh next to this program (build/test/leaks/NAME). */
static NOINLINE void *open_sibling_library(const char *name, int flags)
{
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        die("readlink /proc/self/exe failed");
    path[n] = 0;
    char *slash = strrchr(path, '/');
    if (!slash || (size_t)(slash - path) + 2 + strlen(name) > sizeof path)
        die("path too long");
    strcpy(slash + 1, name);
    void *h = dlopen(path, flags);
    if (!h && !(flags & RTLD_NOLOAD)) {
        fprintf(stderr, "leak case: dlopen %s: %s\n", path, dlerror());
        exit(1);
    }
    return h;
}

/* dlsym() that dies when the symbol is missing. */
static NOINLINE void *sibling_symbol(void *handle, const char *sym)
{
    void *p = dlsym(handle, sym);
    if (!p)
        die("dlsym failed");
    return p;
}

#endif
