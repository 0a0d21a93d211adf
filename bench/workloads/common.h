/* Shared helpers for the libscvgc allocator benchmarks (bench/workloads/).
 *
 * Every workload is deterministic: its pseudo-random choices come from a
 * seeded xorshift generator, and the checksum it prints is computed from
 * values the program wrote into its objects (never from addresses), so the
 * line must be identical under every allocator.  Objects carry a small
 * header that is verified before each free; a corrupted object aborts the
 * run with a message on stderr and exit status 2. */
#ifndef SCVGC_BENCH_COMMON_H
#define SCVGC_BENCH_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* xorshift64* (Vigna): fast, good enough for choosing sizes and slots. */
typedef struct {
    uint64_t s;
} rng_t;

static inline void rng_seed(rng_t *r, uint64_t seed)
{
    /* splitmix64 step so that small seeds give unrelated streams */
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    r->s = z ? z : 1;
}

static inline uint64_t rng_next(rng_t *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* uniform in [0, n), n > 0 (the modulo bias is irrelevant here) */
static inline uint64_t rng_below(rng_t *r, uint64_t n)
{
    return (rng_next(r) >> 11) % n;
}

/* uniform in [lo, hi] */
static inline size_t rng_range(rng_t *r, size_t lo, size_t hi)
{
    return lo + (size_t)rng_below(r, (uint64_t)(hi - lo + 1));
}

/* roughly log-uniform in [lo, hi]: a power-of-two class, then uniform in it */
static inline size_t rng_logsize(rng_t *r, size_t lo, size_t hi)
{
    unsigned lo_bits = 0, hi_bits = 0;
    while (((size_t)1 << (lo_bits + 1)) <= lo)
        lo_bits++;
    while (((size_t)1 << (hi_bits + 1)) <= hi)
        hi_bits++;
    unsigned k = lo_bits + (unsigned)rng_below(r, hi_bits - lo_bits + 1);
    size_t base = (size_t)1 << k;
    size_t n = base + (size_t)rng_below(r, base);
    if (n < lo)
        n = lo;
    if (n > hi)
        n = hi;
    return n;
}

static inline uint64_t mix64(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

static inline void die(const char *msg)
{
    fprintf(stderr, "%s\n", msg);
    exit(2);
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "malloc(%zu) failed\n", n);
        exit(2);
    }
    return p;
}

/* Object layout used by most workloads (size >= 16):
 *   bytes 0..7   tag (a value from the generator)
 *   bytes 8..11  size
 *   byte  n-1    low byte of the tag
 * obj_touch additionally writes one byte in every 4 KiB page, so that large
 * objects are really faulted in and show up in the peak RSS. */
#define OBJ_MIN 16

static inline void obj_init(unsigned char *p, size_t n, uint64_t tag)
{
    uint32_t n32 = (uint32_t)n;
    memcpy(p, &tag, 8);
    memcpy(p + 8, &n32, 4);
    p[n - 1] = (unsigned char)tag;
}

static inline void obj_touch(unsigned char *p, size_t n, uint64_t tag)
{
    obj_init(p, n, tag);
    for (size_t off = 4096; off < n - 1; off += 4096)
        p[off] = (unsigned char)(tag >> 8);
}

/* Verifies an object written by obj_init/obj_touch and returns its tag. */
static inline uint64_t obj_check(const unsigned char *p)
{
    uint64_t tag;
    uint32_t n32;
    memcpy(&tag, p, 8);
    memcpy(&n32, p + 8, 4);
    if (n32 < OBJ_MIN || p[n32 - 1] != (unsigned char)tag) {
        fprintf(stderr, "corrupted object %p (size field %" PRIu32 ")\n", (const void *)p, n32);
        exit(2);
    }
    return tag + n32;
}

/* Parses a positive integer argument (accepts 10k / 3M suffixes). */
static inline long parse_count(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end == 'k' || *end == 'K') {
        v *= 1000;
        end++;
    } else if (*end == 'm' || *end == 'M') {
        v *= 1000000;
        end++;
    }
    if (errno || *end != '\0' || v <= 0) {
        fprintf(stderr, "bad %s: %s\n", what, s);
        exit(2);
    }
    return v;
}

static inline void print_checksum(uint64_t sum)
{
    printf("checksum %016" PRIx64 "\n", sum);
}

#endif
