/* libfault_early.c — threads that exist before libscvgc's constructor has run.
 *
 * Preloaded after the library (LD_PRELOAD="libscvgc.so libfault_early.so": the loader runs
 * the constructors of preloaded objects last to first, so this one runs first). Its
 * constructor starts three threads before the library has started its own threads:
 *   A  builds a 1000-node list whose head is only in its registers and stack, and walks
 *      it every millisecond until told to stop;
 *   B  keeps 64 objects only in its __thread array, then blocks in read() on a pipe;
 *   C  never calls malloc: it holds a pointer to an object (made by the constructor) on its
 *      stack only, and blocks in read() on the same pipe.
 * fault_early (the program) runs collections and allocation churn, then calls early_finish,
 * which stops the threads and returns the number of corrupt objects they found (0), or -1
 * if a thread failed to start. early_before_library() says whether the library's threads were
 * absent when the constructor ran (1), i.e. whether this really tested early threads.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct node {
	struct node *next;
	uintptr_t self;
	uint64_t val;
	char pad[40];
};

static int tasks_at_start;
static _Atomic int stop, bad, started;
static int pipefd[2];
static pthread_t ta, tb, tc;
static __thread struct node *tls_objs[64];
static void *c_arg; /* cleared once C has its copy */

static int ok(const struct node *n, uint64_t v) { return n->self == (uintptr_t)n && n->val == v; }

static struct node *mk(uint64_t v, struct node *next)
{
	struct node *n = malloc(sizeof *n);
	if (!n)
		abort();
	n->next = next;
	n->self = (uintptr_t)n;
	n->val = v;
	memset(n->pad, 0x5a, sizeof n->pad);
	return n;
}

static void *thread_a(void *arg)
{
	(void)arg;
	struct node *head = NULL;
	for (uint64_t i = 0; i < 1000; i++)
		head = mk(i * 7 + 1, head);
	atomic_fetch_add(&started, 1);
	struct timespec ms = {0, 1000000};
	while (!atomic_load(&stop)) {
		uint64_t i = 999;
		for (struct node *n = head; n; n = n->next, i--)
			if (!ok(n, i * 7 + 1))
				atomic_fetch_add(&bad, 1);
		nanosleep(&ms, NULL);
	}
	while (head) {
		struct node *n = head->next;
		free(head);
		head = n;
	}
	return NULL;
}

static void *thread_b(void *arg)
{
	(void)arg;
	for (int i = 0; i < 64; i++)
		tls_objs[i] = mk((uint64_t)i * 13 + 5, NULL);
	atomic_fetch_add(&started, 1);
	char c;
	while (read(pipefd[0], &c, 1) < 0)
		;
	for (int i = 0; i < 64; i++) {
		if (!ok(tls_objs[i], (uint64_t)i * 13 + 5))
			atomic_fetch_add(&bad, 1);
		free(tls_objs[i]);
	}
	return NULL;
}

static void *thread_c(void *arg)
{
	(void)arg;
	struct node *mine = c_arg; /* the only copy, once the constructor clears c_arg */
	atomic_fetch_add(&started, 1);
	char c;
	while (read(pipefd[0], &c, 1) < 0)
		;
	if (!ok(mine, 4242))
		atomic_fetch_add(&bad, 1);
	__asm__ volatile("" : : "r"(mine) : "memory");
	return NULL;
}

static int count_tasks(void)
{
	/* raw getdents64: no malloc */
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	char buf[4096];
	int n = 0;
	long k;
	while ((k = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
		for (long off = 0; off < k;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			if (d->d_name[0] != '.')
				n++;
			off += d->d_reclen;
		}
	close(fd);
	return n;
}

__attribute__((constructor)) static void early_start(void)
{
	tasks_at_start = count_tasks();
	if (pipe(pipefd) != 0)
		return;
	c_arg = mk(4242, NULL);
	if (pthread_create(&ta, NULL, thread_a, NULL) || pthread_create(&tb, NULL, thread_b, NULL) ||
	    pthread_create(&tc, NULL, thread_c, NULL))
		return;
	while (atomic_load(&started) < 3)
		sched_yield();
	c_arg = NULL;
}

int early_before_library(void) { return tasks_at_start == 1; }

int early_finish(void)
{
	if (atomic_load(&started) < 3)
		return -1;
	atomic_store(&stop, 1);
	if (write(pipefd[1], "xx", 2) != 2)
		return -1;
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_join(tc, NULL);
	return atomic_load(&bad);
}
