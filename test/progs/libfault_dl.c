/* libfault_dl.c — the library fault_dlloop dlopens and dlcloses in a loop: heap objects
 * reachable only from its globals and from its __thread variables (dynamic TLS: the library
 * is dlopen'd, so glibc allocates its TLS blocks with malloc, per thread, at first use).
 * Each object holds a pattern of its own address and a seed, checked by dl_check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NGLOBAL 16
#define NTLS 4

struct node {
	uintptr_t self;
	uint64_t seed;
	struct node *next;
	unsigned char pad[200];
};

static struct node *globals[NGLOBAL];      /* .bss of the library */
struct node *dl_exported_list = NULL;      /* .data/.bss, exported */
static __thread struct node *tls_obj[NTLS]; /* dynamic TLS of each thread */
static __thread char tls_pad[4096];         /* a TLS block big enough to need malloc */

static struct node *mk(uint64_t seed, struct node *next)
{
	struct node *n = malloc(sizeof *n);
	if (!n)
		return NULL;
	n->self = (uintptr_t)n;
	n->seed = seed;
	n->next = next;
	memset(n->pad, (int)(seed & 0xff), sizeof n->pad);
	return n;
}

static int ok(const struct node *n, uint64_t seed)
{
	if (n->self != (uintptr_t)n || n->seed != seed)
		return 0;
	for (size_t i = 0; i < sizeof n->pad; i++)
		if (n->pad[i] != (unsigned char)(seed & 0xff))
			return 0;
	return 1;
}

/* Fill the globals (main == 1) or this thread's TLS with chains of 3 objects. 0: out of memory. */
int dl_fill(int main_thread, uint64_t seed)
{
	tls_pad[seed % sizeof tls_pad] = 1;
	if (main_thread) {
		for (int i = 0; i < NGLOBAL; i++) {
			struct node *c = NULL;
			for (int k = 0; k < 3; k++)
				if (!(c = mk(seed + (uint64_t)i, c)))
					return 0;
			globals[i] = c;
		}
		dl_exported_list = mk(seed ^ 0xabc, NULL);
		return dl_exported_list != NULL;
	}
	for (int i = 0; i < NTLS; i++) {
		struct node *c = NULL;
		for (int k = 0; k < 3; k++)
			if (!(c = mk(seed * 3 + (uint64_t)i, c)))
				return 0;
		tls_obj[i] = c;
	}
	return 1;
}

/* 1 when every object of the globals (main) or of this thread's TLS is intact. */
int dl_check(int main_thread, uint64_t seed)
{
	if (main_thread) {
		for (int i = 0; i < NGLOBAL; i++)
			for (struct node *c = globals[i]; c; c = c->next)
				if (!ok(c, seed + (uint64_t)i))
					return 0;
		return dl_exported_list && ok(dl_exported_list, seed ^ 0xabc);
	}
	for (int i = 0; i < NTLS; i++)
		for (struct node *c = tls_obj[i]; c; c = c->next)
			if (!ok(c, seed * 3 + (uint64_t)i))
				return 0;
	return 1;
}

/* Free them (the caller may also leave them: garbage once the library or thread is gone). */
void dl_free(int main_thread)
{
	struct node **v = main_thread ? globals : tls_obj;
	int n = main_thread ? NGLOBAL : NTLS;
	for (int i = 0; i < n; i++) {
		while (v[i]) {
			struct node *next = v[i]->next;
			free(v[i]);
			v[i] = next;
		}
	}
	if (main_thread) {
		free(dl_exported_list);
		dl_exported_list = NULL;
	}
}
