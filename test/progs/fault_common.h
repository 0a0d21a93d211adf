/* fault_common.h — helpers of the fault programs (test/progs/fault_*.c, run by
 * test/integration/faults.sh), on top of stress_common.h: the library's collector when the
 * program runs under it, and a table of live, checked objects.
 * Header-only: the Makefile builds one executable per .c file.
 */
#ifndef FAULT_COMMON_H
#define FAULT_COMMON_H

#include "stress_common.h"

#include <dlfcn.h>
#include <pthread.h>

/* scvgc_collect of the preloaded library, or a no-op without it (found with dlsym: the
 * programs are not linked against the library). */
__attribute__((unused)) static void fc_nop(void) {}
__attribute__((unused)) static void (*fc_collect_fn(void))(void)
{
	void (*f)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "scvgc_collect");
	return f ? f : fc_nop;
}

/* One checked object: filled with the pattern of key, checked before it is freed. */
typedef struct {
	unsigned char *p;
	size_t n;
	uint64_t key;
} fc_obj_t;

__attribute__((unused)) static void fc_new(fc_obj_t *o, size_t n, uint64_t seed, const char *who)
{
	o->p = malloc(n);
	if (!o->p)
		sc_die("%s: malloc(%zu) returned NULL", who, n);
	o->n = n;
	o->key = sc_key(o->p, seed);
	sc_fill(o->p, n, o->key);
}

__attribute__((unused)) static void fc_check(const fc_obj_t *o, const char *who)
{
	size_t off = sc_check(o->p, o->n, o->key);
	if (off != (size_t)-1)
		sc_die("%s: object %p (%zu bytes) is corrupt at byte %zu (freed or reclaimed while live?)",
		       who, (void *)o->p, o->n, off);
}

__attribute__((unused)) static void fc_free(fc_obj_t *o, const char *who)
{
	if (!o->p)
		return;
	fc_check(o, who);
	free(o->p);
	o->p = NULL;
}

#endif
