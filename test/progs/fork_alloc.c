/* fork_alloc.c — fork() from a multithreaded program leaves a usable heap in the child.
 *
 * NWORKERS threads allocate, fill, check and free objects in a loop (so allocator locks are
 * taken at every moment) while the main thread forks NFORKS times. The main thread holds a
 * table of live objects of many sizes; each child checks every inherited object, frees half of
 * them, mallocs/callocs/reallocs many new ones of various sizes (a few MiB too), starts a
 * thread that allocates and frees, and _exit(0)s. Child 0 also forks a grandchild which forks a
 * great-grandchild, each doing the same; every seventh child execs /bin/true instead of exiting
 * (exec after fork keeps working). A child that does not finish within CHILD_TIMEOUT seconds
 * is killed by its own alarm (a deadlock on an allocator lock inherited locked looks like that).
 * Exit 0 on success; one line on stderr and exit 1 on failure.
 */
#include "stress_common.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define NWORKERS 4
#define NFORKS 50
#define NLIVE 300
#define CHILD_TIMEOUT 20

struct obj {
	unsigned char *p;
	size_t size;
	uint64_t key;
};

static struct obj live[NLIVE];  /* owned by the main thread */
static atomic_int stop;

static size_t some_size(uint64_t *rs)
{
	unsigned r = (unsigned)(sc_rand(rs) % 1000);
	if (r < 800)
		return sc_rand_range(rs, 1, 2048);
	if (r < 950)
		return sc_rand_range(rs, 2049, 65536);
	if (r < 995)
		return sc_rand_range(rs, 65537, 400000);
	return sc_rand_range(rs, 1 << 20, 3 << 20);
}

static void new_obj(struct obj *o, uint64_t *rs, const char *who)
{
	o->size = some_size(rs);
	o->p = malloc(o->size);
	if (!o->p)
		sc_die("fork_alloc: %s: malloc(%zu) returned NULL (errno %d)", who, o->size, errno);
	o->key = sc_key(o->p, sc_rand(rs));
	sc_fill(o->p, o->size, o->key);
}

static void check_obj(const struct obj *o, const char *who)
{
	size_t bad = sc_check(o->p, o->size, o->key);
	if (bad != (size_t)-1)
		sc_die("fork_alloc: %s: object %p of %zu bytes differs at offset %zu", who,
		       (void *)o->p, o->size, bad);
}

static void new_small_obj(struct obj *o, uint64_t *rs)
{
	o->size = sc_rand(rs) % 64 == 0 ? some_size(rs) : sc_rand_range(rs, 1, 512);
	o->p = malloc(o->size);
	if (!o->p)
		sc_die("fork_alloc: worker: malloc(%zu) returned NULL (errno %d)", o->size, errno);
	o->key = sc_key(o->p, sc_rand(rs));
	sc_fill(o->p, o->size, o->key);
}

static void *worker(void *arg)
{
	uint64_t rs = sc_mix((uint64_t)(intptr_t)arg + 7) | 1;
	struct obj mine[64];
	unsigned long n = 0;
	for (int i = 0; i < 64; i++)
		new_small_obj(&mine[i], &rs);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int i = (int)(sc_rand(&rs) % 64);
		check_obj(&mine[i], "worker");
		free(mine[i].p);
		new_small_obj(&mine[i], &rs);
		if (++n % 64 == 0) /* leave the CPUs to the forking thread and the children now and then */
			nanosleep(&(struct timespec){ 0, 20000 }, NULL);
	}
	for (int i = 0; i < 64; i++) {
		check_obj(&mine[i], "worker");
		free(mine[i].p);
	}
	return NULL;
}

static void *child_thread(void *arg)
{
	uint64_t rs = (uint64_t)(uintptr_t)arg | 1;
	for (int i = 0; i < 200; i++) {
		struct obj o;
		new_obj(&o, &rs, "thread in child");
		check_obj(&o, "thread in child");
		free(o.p);
	}
	return (void *)1;
}

/* The work every descendant does: inherited objects first, then fresh ones, then a thread. */
static void child_work(int depth, uint64_t seed)
{
	char who[64];
	uint64_t rs = sc_mix(seed) | 1;
	snprintf(who, sizeof who, "child at depth %d", depth);

	for (int i = 0; i < NLIVE; i++) {
		check_obj(&live[i], who);
		if (i % 2 == 0) {
			free(live[i].p);
			new_obj(&live[i], &rs, who);
		}
	}

	struct obj mine[256];
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 256; i++) {
			if (i % 3 == 0) {
				size_t n = some_size(&rs);
				unsigned char *p = calloc(n, 1);
				if (!p)
					sc_die("fork_alloc: %s: calloc(%zu, 1) returned NULL", who, n);
				for (size_t k = 0; k < n; k++)
					if (p[k])
						sc_die("fork_alloc: %s: calloc(%zu, 1) byte %zu is 0x%02x", who, n, k, p[k]);
				mine[i].p = p;
				mine[i].size = n;
				mine[i].key = sc_key(p, (uint64_t)i);
				sc_fill(p, n, mine[i].key);
			} else {
				new_obj(&mine[i], &rs, who);
			}
		}
		for (int i = 0; i < 256; i++) {
			check_obj(&mine[i], who);
			if (i % 5 == 0) {
				size_t n = some_size(&rs);
				size_t keep = n < mine[i].size ? n : mine[i].size;
				unsigned char *q = realloc(mine[i].p, n);
				if (!q)
					sc_die("fork_alloc: %s: realloc to %zu returned NULL", who, n);
				if (sc_check(q, keep, mine[i].key) != (size_t)-1)
					sc_die("fork_alloc: %s: realloc %zu -> %zu lost contents", who, mine[i].size, n);
				free(q);
			} else {
				free(mine[i].p);
			}
		}
	}

	pthread_t t;
	void *rv = NULL;
	int rc = pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)rs);
	if (rc)
		sc_die("fork_alloc: %s: pthread_create: %s", who, strerror(rc));
	pthread_join(t, &rv);
	if (rv != (void *)1)
		sc_die("fork_alloc: %s: thread did not finish its work", who);

	for (int i = 0; i < NLIVE; i++)
		check_obj(&live[i], who);
}

/* Waits for pid and returns "" when it exited 0, else a description. */
static const char *status_of(pid_t pid, char *buf, size_t len)
{
	int st;
	pid_t r;
	while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (r < 0)
		snprintf(buf, len, "waitpid: %s", strerror(errno));
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return "";
	else if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
		snprintf(buf, len, "did not finish in %d s (deadlock after fork?)", CHILD_TIMEOUT);
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(buf, len, "ended with wait status %#x", st);
	return buf;
}

/* A descendant at depth d (1 = child) does its work and, while d < max_depth, forks the next
 * generation and reports its failure as its own. */
static void descendant(int depth, int max_depth, uint64_t seed)
{
	alarm(CHILD_TIMEOUT);
	child_work(depth, seed);
	if (depth < max_depth) {
		pid_t pid = fork();
		if (pid < 0)
			sc_die("fork_alloc: fork at depth %d: %s", depth, strerror(errno));
		if (pid == 0) {
			descendant(depth + 1, max_depth, seed * 31 + 1);
			_exit(0);
		}
		char buf[128];
		const char *s = status_of(pid, buf, sizeof buf);
		if (*s)
			sc_die("fork_alloc: descendant at depth %d %s", depth + 1, s);
	}
}

int main(void)
{
	uint64_t rs = 0x5eed5eedULL;
	pthread_t th[NWORKERS];
	int failures = 0;

	for (int i = 0; i < NLIVE; i++)
		new_obj(&live[i], &rs, "main");
	for (int i = 0; i < NWORKERS; i++) {
		int rc = pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
		if (rc)
			sc_die("fork_alloc: pthread_create: %s", strerror(rc));
	}

	for (int f = 0; f < NFORKS; f++) {
		/* let the workers get going between forks, and churn the parent's own table */
		for (int i = 0; i < 50; i++) {
			int k = (int)(sc_rand(&rs) % NLIVE);
			check_obj(&live[k], "main");
			free(live[k].p);
			new_obj(&live[k], &rs, "main");
		}
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0)
			sc_die("fork_alloc: fork %d: %s", f, strerror(errno));
		if (pid == 0) {
			descendant(1, f == 0 ? 3 : 1, (uint64_t)f + 1);
			if (f % 7 == 3) {
				execl("/bin/true", "true", (char *)NULL);
				sc_die("fork_alloc: child %d: execl /bin/true: %s", f, strerror(errno));
			}
			_exit(0);
		}
		char buf[128];
		const char *s = status_of(pid, buf, sizeof buf);
		if (*s) {
			fprintf(stderr, "fork_alloc: child %d %s\n", f, s);
			failures++;
		}
	}

	atomic_store(&stop, 1);
	for (int i = 0; i < NWORKERS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < NLIVE; i++) {
		check_obj(&live[i], "main at end");
		free(live[i].p);
	}
	if (failures)
		sc_die("fork_alloc: %d of %d children failed", failures, NFORKS);
	printf("fork_alloc: %d forks from a process with %d allocating threads: OK\n", NFORKS, NWORKERS);
	return 0;
}
