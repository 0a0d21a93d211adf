/* last_thread_exit.c — the library's threads never keep a process alive.
 *
 * A thread forks; in the child that thread is the only thread of the program's own, it
 * allocates enough for the library to start its threads (the scavenger, in collect mode the
 * sweeper), then ends by returning from its start function. glibc ends a process when its last
 * thread ends (exit(0) from the last pthread_exit); a library thread still counted would keep
 * the child alive forever and the parent waiting (CPython's test_threading hung so in collect
 * mode: test_main_thread_after_fork_from_nonmain_thread). The main thread of the parent then
 * does the same: it calls pthread_exit after its last thread ended.
 * Prints "last_thread_exit: OK" from the parent's last thread; a hang is the failure.
 */
#include "stress_common.h"

#include <pthread.h>
#include <sys/wait.h>

static void churn(void)
{
	for (int i = 0; i < 20000; i++)
		free(sc_escape(malloc(100 + (size_t)(i % 5000))));
	void *big[8];
	for (int i = 0; i < 8; i++) /* free pages worth a scavenger */
		big[i] = sc_escape(malloc(1 << 20));
	for (int i = 0; i < 8; i++)
		free(big[i]);
}

static void *forker(void *arg)
{
	(void)arg;
	pid_t p = fork();
	if (p < 0)
		sc_die("last_thread_exit: fork failed");
	if (p == 0) {
		churn();
		return NULL; /* the child's last thread ends: glibc calls exit(0) */
	}
	int st = 0;
	if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		sc_die("last_thread_exit: the child ended with status %#x", st);
	return NULL;
}

static void *last(void *arg)
{
	pthread_join(*(pthread_t *)arg, NULL); /* the main thread has ended */
	churn();
	printf("last_thread_exit: OK\n");
	fflush(stdout);
	return NULL;
}

int main(void)
{
	churn();
	pthread_t t;
	if (pthread_create(&t, NULL, forker, NULL))
		sc_die("last_thread_exit: pthread_create failed");
	pthread_join(t, NULL);
	static pthread_t self;
	self = pthread_self();
	if (pthread_create(&t, NULL, last, &self))
		sc_die("last_thread_exit: pthread_create failed");
	pthread_exit(NULL); /* the process ends when `last` does */
}
