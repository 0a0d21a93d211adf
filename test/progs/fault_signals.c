/* fault_signals.c — signal handlers meet the allocator.
 *
 *   fault_signals interrupt [SECONDS]   handlers interrupt malloc and free at random
 *   fault_signals handler-malloc [SECONDS]   handlers that malloc and free themselves
 *   fault_signals sigwait [COUNT]   a process-directed signal reaches the program's sigwait
 *
 * interrupt: NWORKERS threads allocate, fill, check and free without pause while a sender
 * thread hits them with SIGUSR1 (pthread_kill, every ~20 us) and an interval timer sends the
 * process SIGALRM every millisecond; a collector thread runs scvgc_collect back to back (a
 * no-op without the library and in mode off). The handlers do only async-signal-safe
 * work (counters, a write to a static buffer), as POSIX requires of a handler that may
 * interrupt malloc. Checks: the objects stay intact, every thread made progress, handlers ran.
 *
 * handler-malloc: the same load, and a receiver thread that keeps SIGUSR2 blocked except in
 * sigsuspend(), so that its handler never interrupts malloc; that handler mallocs, fills,
 * checks and frees objects, and keeps the last one in a static ring (reachable: a collection
 * must keep it). POSIX allows async-signal-unsafe calls in a handler that interrupted no
 * unsafe function, and the library (SPEC: any thread, free from any thread) must too.
 *
 * sigwait: the program blocks SIGUSR2 in the main thread before it starts any thread (so in
 * every thread it creates), starts a thread that loops in sigwait(SIGUSR2), and sends the
 * process COUNT (default 200) signals with kill(getpid()), each waited for. A process-directed
 * signal goes to a thread that does not block it: if the library's own threads (markers,
 * sweeper) left it unblocked, the kernel delivers it there and its default action kills
 * the process.
 *
 * Prints "fault_signals: OK ..." and exits 0; one line on stderr and exit 1 otherwise.
 */
#include "fault_common.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>

#define NWORKERS 3

static _Atomic int stop;
static _Atomic unsigned long hits_usr1, hits_alrm, hits_usr2, progress[NWORKERS];
static volatile sig_atomic_t scratch[64];
static void (*collect)(void);
static pthread_t workers[NWORKERS];

static void on_async_safe(int sig)
{
	int e = errno;
	if (sig == SIGUSR1)
		atomic_fetch_add(&hits_usr1, 1);
	else
		atomic_fetch_add(&hits_alrm, 1);
	scratch[(hits_usr1 + hits_alrm) % 64] = sig;
	errno = e;
}

#define RING 32
static fc_obj_t ring[RING]; /* only the receiver's handler touches it */
static uint64_t ring_seed = 1;

static void on_usr2_malloc(int sig)
{
	(void)sig;
	int e = errno;
	unsigned long k = atomic_fetch_add(&hits_usr2, 1);
	fc_obj_t tmp[4];
	for (int i = 0; i < 4; i++)
		fc_new(&tmp[i], sc_rand_range(&ring_seed, 1, i == 3 ? 100000 : 700), sc_rand(&ring_seed), "handler");
	for (int i = 0; i < 3; i++)
		fc_free(&tmp[i], "handler");
	fc_obj_t *slot = &ring[k % RING];
	fc_free(slot, "handler (ring)");
	*slot = tmp[3];
	errno = e;
}

static void *worker(void *arg)
{
	int id = (int)(uintptr_t)arg;
	uint64_t r = (uint64_t)id * 104729 + 3;
	fc_obj_t o[24] = {{0}};
	while (!atomic_load(&stop)) {
		int i = (int)(sc_rand(&r) % 24);
		fc_free(&o[i], "worker");
		size_t n = sc_rand(&r) % 32 ? sc_rand_range(&r, 1, 1000) : sc_rand_range(&r, 33000, 300000);
		fc_new(&o[i], n, sc_rand(&r), "worker");
		if (sc_rand(&r) % 8 == 0) { /* realloc too */
			fc_check(&o[i], "worker before realloc");
			size_t m = sc_rand_range(&r, 1, 5000);
			unsigned char *q = realloc(o[i].p, m);
			if (!q)
				sc_die("worker: realloc returned NULL");
			size_t keep = m < o[i].n ? m : o[i].n;
			if (sc_check(q, keep, o[i].key) != (size_t)-1)
				sc_die("worker: realloc lost bytes");
			o[i].p = q;
			o[i].n = m;
			o[i].key = sc_key(q, sc_rand(&r));
			sc_fill(q, m, o[i].key);
		}
		atomic_fetch_add(&progress[id], 1);
	}
	for (int i = 0; i < 24; i++)
		fc_free(&o[i], "worker at the end");
	return NULL;
}

static void *collector(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		collect();
		usleep(3000);
	}
	return NULL;
}

static pthread_t receiver_t;
static _Atomic int receiver_ready;

static void *receiver(void *arg)
{
	(void)arg;
	sigset_t none;
	sigemptyset(&none);
	atomic_store(&receiver_ready, 1);
	while (!atomic_load(&stop))
		sigsuspend(&none); /* the only place SIGUSR2 is unblocked in this thread */
	return NULL;
}

static void *sender(void *arg)
{
	int with_usr2 = (int)(uintptr_t)arg;
	uint64_t r = 99;
	while (!atomic_load(&stop)) {
		pthread_kill(workers[sc_rand(&r) % NWORKERS], SIGUSR1);
		if (with_usr2 && atomic_load(&receiver_ready) && sc_rand(&r) % 8 == 0)
			pthread_kill(receiver_t, SIGUSR2);
		usleep(20);
	}
	return NULL;
}

static int run_load(double secs, int with_usr2)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_async_safe;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	if (with_usr2) {
		sa.sa_handler = on_usr2_malloc;
		sigaction(SIGUSR2, &sa, NULL);
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGUSR2);
		pthread_sigmask(SIG_BLOCK, &s, NULL); /* inherited by every thread below */
		if (pthread_create(&receiver_t, NULL, receiver, NULL) != 0)
			sc_die("pthread_create failed");
	}
	for (int i = 0; i < NWORKERS; i++)
		if (pthread_create(&workers[i], NULL, worker, (void *)(uintptr_t)i) != 0)
			sc_die("pthread_create failed");
	pthread_t c, s;
	if (pthread_create(&c, NULL, collector, NULL) != 0 ||
	    pthread_create(&s, NULL, sender, (void *)(uintptr_t)with_usr2) != 0)
		sc_die("pthread_create failed");
	struct itimerval it = {{0, 1000}, {0, 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
	double t0 = sc_now();
	while (sc_now() - t0 < secs)
		usleep(10000); /* EINTR from SIGALRM is ours: SA_RESTART does not cover usleep */
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	atomic_store(&stop, 1);
	pthread_join(s, NULL);
	if (with_usr2) {
		pthread_kill(receiver_t, SIGUSR2); /* wake it from sigsuspend to see stop */
		pthread_join(receiver_t, NULL);
	}
	for (int i = 0; i < NWORKERS; i++)
		pthread_join(workers[i], NULL);
	pthread_join(c, NULL);
	for (int i = 0; i < NWORKERS; i++)
		if (!atomic_load(&progress[i]))
			sc_die("worker %d made no progress", i);
	if (!atomic_load(&hits_usr1) || !atomic_load(&hits_alrm))
		sc_die("the handlers did not run (SIGUSR1 %lu, SIGALRM %lu)", atomic_load(&hits_usr1),
		       atomic_load(&hits_alrm));
	if (with_usr2) {
		if (!atomic_load(&hits_usr2))
			sc_die("the malloc'ing handler did not run");
		for (int i = 0; i < RING; i++)
			fc_free(&ring[i], "main (objects the handler kept)");
	}
	return 0;
}

static _Atomic unsigned long waited;

static void *waiter(void *arg)
{
	sigset_t *set = arg;
	for (;;) {
		int sig;
		if (sigwait(set, &sig) != 0)
			sc_die("sigwait failed");
		atomic_fetch_add(&waited, 1);
	}
	return NULL;
}

static int run_sigwait(unsigned long count)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_t w, c;
	if (pthread_create(&w, NULL, waiter, &set) != 0 || pthread_create(&c, NULL, collector, NULL) != 0)
		sc_die("pthread_create failed");
	for (unsigned long i = 0; i < count; i++) {
		kill(getpid(), SIGUSR2);
		double t0 = sc_now();
		while (atomic_load(&waited) <= i) {
			if (sc_now() - t0 > 5)
				sc_die("signal %lu of %lu never reached sigwait (taken by another thread?)", i + 1, count);
			usleep(50);
		}
	}
	atomic_store(&stop, 1);
	pthread_join(c, NULL);
	printf("fault_signals: OK %lu signals reached sigwait\n", atomic_load(&waited));
	return 0;
}

int main(int argc, char **argv)
{
	collect = fc_collect_fn();
	const char *what = argc > 1 ? argv[1] : "interrupt";
	if (!strcmp(what, "sigwait"))
		return run_sigwait(argc > 2 ? strtoul(argv[2], NULL, 0) : 200);
	double secs = argc > 2 ? atof(argv[2]) : 2;
	int usr2 = !strcmp(what, "handler-malloc");
	if (!usr2 && strcmp(what, "interrupt"))
		sc_die("usage: fault_signals interrupt|handler-malloc [SECONDS] | sigwait [COUNT]");
	run_load(secs, usr2);
	printf("fault_signals: OK %s: %lu SIGUSR1, %lu SIGALRM, %lu malloc'ing handlers\n", what,
	       atomic_load(&hits_usr1), atomic_load(&hits_alrm), atomic_load(&hits_usr2));
	return 0;
}
