/* stress_common.h — helpers shared by the stress programs of test/progs/.
 *
 * Owns: the content pattern every stress program writes into its objects and checks before
 * freeing them, a small per-thread PRNG, a monotonic clock, and the failure exit.
 * The pattern is a function of (key, offset) where key mixes the object's address at the time
 * it was filled with a per-object seed, so an object that is handed out twice, overlaps
 * another one, or loses bytes on realloc shows up as a mismatch at a known offset.
 * Header-only (static functions) because the Makefile compiles one executable per .c file and
 * links nothing else.
 */
#ifndef STRESS_COMMON_H
#define STRESS_COMMON_H

#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t sc_mix(uint64_t x)
{
	/* splitmix64 finaliser: cheap, and every input bit reaches every output bit */
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* xorshift64*: state must be non-zero */
static inline uint64_t sc_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 2685821657736338717ULL;
}

static inline size_t sc_rand_range(uint64_t *s, size_t lo, size_t hi) /* [lo, hi] */
{
	return lo + (size_t)(sc_rand(s) % (uint64_t)(hi - lo + 1));
}

static inline uint64_t sc_key(const void *p, uint64_t seed)
{
	return sc_mix((uint64_t)(uintptr_t)p ^ (seed * 0x2545f4914f6cdd1dULL));
}

/* Fills n bytes at p with the pattern of key. */
static inline void sc_fill(void *p, size_t n, uint64_t key)
{
	unsigned char *b = p;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w = sc_mix(key + i);
		memcpy(b + i, &w, 8);
	}
	if (i < n) {
		uint64_t w = sc_mix(key + i);
		memcpy(b + i, &w, n - i);
	}
}

/* Returns the offset of the first byte of [p, p+n) that differs from the pattern of key, or
 * (size_t)-1 when all match. */
static inline size_t sc_check(const void *p, size_t n, uint64_t key)
{
	const unsigned char *b = p;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w = sc_mix(key + i);
		if (memcmp(b + i, &w, 8) != 0)
			break;
	}
	for (; i < n; i++) {
		uint64_t w = sc_mix(key + (i & ~(size_t)7));
		if (b[i] != (unsigned char)(w >> (8 * (i & 7))))
			return i;
	}
	return (size_t)-1;
}

static inline double sc_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints one diagnostic line on stderr and exits with status 1 at once (no atexit handlers:
 * other threads may still be running). Uses a stack buffer and write(2) so that it works in
 * fork children and with a broken heap. */
__attribute__((format(printf, 1, 2), noreturn, unused))
static void sc_die(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	ssize_t w = write(2, buf, (size_t)n);
	(void)w;
	_exit(1);
}

/* Keeps the compiler from proving an allocation unused (gcc removes malloc/free pairs whose
 * memory is never observed). */
static inline void *sc_escape(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

#endif
