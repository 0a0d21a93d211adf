/* fault_forkgc.c — a fork storm while threads allocate and collections run.
 *
 *   fault_forkgc [SECONDS]   (default 3)
 *
 * NWORKERS threads allocate, fill, check, free and hand objects to each other through a
 * shared table; a collector thread runs scvgc_collect back to back (a no-op without the
 * library and in mode off); the main thread forks children as fast as it can, up to
 * MAXKIDS at once. Each child checks every object of the shared table that was not being
 * written at the fork, allocates and frees (small, large, realloc), runs a collection itself,
 * starts a thread that allocates, and then ends: by exit(0) (the library's exit check runs
 * in the child), by _exit(0), or by exec of /bin/true, in turn; one in eight forks a
 * grandchild that does the same first. A child that does not end within 20 s kills itself
 * with SIGALRM (a lock inherited held looks like that).
 * Prints "fault_forkgc: OK N forks" and exits 0; one line on stderr and exit 1 otherwise.
 */
#include "fault_common.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define NWORKERS 3
#define NSHARED 256
#define MAXKIDS 6

/* The shared table: an entry is written only with its busy flag set, so a child that sees
 * busy == 0 sees a whole object. */
static struct {
	_Atomic int busy;
	fc_obj_t o;
} shared[NSHARED];
static pthread_mutex_t shared_lock[NSHARED];
static _Atomic int stop;
static _Atomic unsigned long collections;
static void (*collect)(void);

static void *worker(void *arg)
{
	uint64_t r = (uintptr_t)arg * 7919 + 1;
	fc_obj_t local[32] = {{0}};
	while (!atomic_load(&stop)) {
		int i = (int)(sc_rand(&r) % 32);
		fc_free(&local[i], "worker (own object)");
		size_t n = sc_rand(&r) % 16 ? sc_rand_range(&r, 1, 600) : sc_rand_range(&r, 4096, 200000);
		fc_new(&local[i], n, sc_rand(&r), "worker");
		/* hand an object to the table, taking the one that was there (freed here) */
		int k = (int)(sc_rand(&r) % NSHARED);
		pthread_mutex_lock(&shared_lock[k]);
		atomic_store(&shared[k].busy, 1);
		fc_obj_t old = shared[k].o;
		shared[k].o = local[i];
		atomic_store(&shared[k].busy, 0);
		pthread_mutex_unlock(&shared_lock[k]);
		local[i] = old;
	}
	for (int i = 0; i < 32; i++)
		fc_free(&local[i], "worker (at the end)");
	return NULL;
}

static void *collector(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		collect();
		atomic_fetch_add(&collections, 1);
		usleep(2000);
	}
	return NULL;
}

static void *child_thread(void *arg)
{
	uint64_t r = (uintptr_t)arg | 1;
	fc_obj_t o[16];
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 16; i++)
			fc_new(&o[i], sc_rand_range(&r, 1, 3000), sc_rand(&r), "child thread");
		for (int i = 0; i < 16; i++)
			fc_free(&o[i], "child thread");
	}
	return NULL;
}

__attribute__((noreturn)) static void child(int depth, uint64_t seed)
{
	alarm(20);
	for (int k = 0; k < NSHARED; k++)
		if (!atomic_load(&shared[k].busy) && shared[k].o.p)
			fc_check(&shared[k].o, "child (inherited object)");
	fc_obj_t o[64];
	uint64_t r = seed | 1;
	for (int i = 0; i < 64; i++)
		fc_new(&o[i], i % 9 ? sc_rand_range(&r, 1, 2000) : sc_rand_range(&r, 40000, 1 << 20), sc_rand(&r), "child");
	for (int i = 0; i < 64; i += 2) {
		fc_check(&o[i], "child before realloc");
		size_t n = sc_rand_range(&r, 1, 100000);
		unsigned char *q = realloc(o[i].p, n);
		if (!q)
			sc_die("child: realloc to %zu returned NULL", n);
		size_t keep = n < o[i].n ? n : o[i].n;
		size_t off = sc_check(q, keep, o[i].key);
		if (off != (size_t)-1)
			sc_die("child: realloc lost byte %zu", off);
		o[i].p = q;
		o[i].n = n;
		o[i].key = sc_key(q, seed + (uint64_t)i);
		sc_fill(q, n, o[i].key);
	}
	collect();
	for (int i = 0; i < 64; i++)
		fc_check(&o[i], "child after its collection");
	pthread_t t;
	if (pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)seed) != 0)
		sc_die("child: pthread_create failed");
	pthread_join(t, NULL);
	for (int i = 0; i < 64; i++)
		fc_free(&o[i], "child");
	if (depth == 0 && seed % 8 == 0) {
		pid_t g = fork();
		if (g < 0)
			sc_die("child: fork failed");
		if (g == 0)
			child(1, seed * 31 + 7);
		int st;
		if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			sc_die("child: its grandchild ended with status 0x%x", st);
	}
	switch (seed % 3) {
	case 0:
		exit(0);
	case 1:
		_exit(0);
	default:
		execl("/bin/true", "true", (char *)NULL);
		sc_die("child: exec of /bin/true failed");
	}
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3;
	collect = fc_collect_fn();
	for (int k = 0; k < NSHARED; k++)
		pthread_mutex_init(&shared_lock[k], NULL);
	pthread_t w[NWORKERS], c;
	for (int i = 0; i < NWORKERS; i++)
		if (pthread_create(&w[i], NULL, worker, (void *)(uintptr_t)(i + 1)) != 0)
			sc_die("pthread_create failed");
	if (pthread_create(&c, NULL, collector, NULL) != 0)
		sc_die("pthread_create failed");
	double t0 = sc_now();
	unsigned long forks = 0;
	int running = 0;
	while (sc_now() - t0 < secs) {
		while (running >= MAXKIDS) {
			int st;
			pid_t p = wait(&st);
			if (p < 0)
				sc_die("wait failed");
			running--;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				sc_die("a child ended with %s %d (fork %lu)", WIFSIGNALED(st) ? "signal" : "status",
				       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), forks);
		}
		pid_t p = fork();
		if (p < 0)
			sc_die("fork failed");
		if (p == 0)
			child(0, forks + 1);
		forks++;
		running++;
	}
	while (running > 0) {
		int st;
		if (wait(&st) < 0)
			sc_die("wait failed");
		running--;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			sc_die("a child ended with %s %d", WIFSIGNALED(st) ? "signal" : "status",
			       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < NWORKERS; i++)
		pthread_join(w[i], NULL);
	pthread_join(c, NULL);
	for (int k = 0; k < NSHARED; k++)
		fc_free(&shared[k].o, "main (shared object at the end)");
	printf("fault_forkgc: OK %lu forks, %lu collections\n", forks, atomic_load(&collections));
	return 0;
}
