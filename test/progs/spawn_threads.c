/* spawn_threads.c — posix_spawn, vfork + exec and system() keep working in a program whose
 * other threads allocate all along (issue 18, section 2). None of them runs the fork
 * handlers (posix_spawn and system use clone(CLONE_VM | CLONE_VFORK) in glibc 2.36), so
 * the new process shares or copies a heap that other threads are changing: it must get to
 * exec without touching it.
 *
 * Usage: spawn_threads [ROUNDS]   (default 40 of each). Four threads allocate and free
 * blocks of every size while the main thread runs /bin/true (or `true` through the shell)
 * ROUNDS times each way and checks every exit status. Prints "spawn_threads: OK", exit 0.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static _Atomic int stop;
static _Atomic long nallocs;

static void *churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	void *slot[128] = { 0 };
	while (!atomic_load(&stop)) {
		seed = seed * 1103515245 + 12345;
		int i = (int)(seed >> 16) % 128;
		free(slot[i]);
		size_t n = (seed >> 8) % 8 == 0 ? (seed >> 4) % (256u << 10) + 1 : (seed >> 4) % 1000 + 1;
		slot[i] = malloc(n);
		if (slot[i])
			memset(slot[i], i, n < 64 ? n : 64);
		atomic_fetch_add(&nallocs, 1);
	}
	for (int i = 0; i < 128; i++)
		free(slot[i]);
	return NULL;
}

static int check(const char *what, int round, int st)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	fprintf(stderr, "spawn_threads: %s, round %d: status %#x\n", what, round, st);
	return 1;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 40;
	const char *truebin = access("/bin/true", X_OK) == 0 ? "/bin/true" : "/usr/bin/true";
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	int bad = 0;
	for (int r = 0; r < rounds && !bad; r++) {
		pid_t pid;
		char *args[] = { (char *)truebin, NULL };
		int st = 0;
		int rc = posix_spawn(&pid, truebin, NULL, NULL, args, environ);
		if (rc != 0 || waitpid(pid, &st, 0) != pid) {
			fprintf(stderr, "spawn_threads: posix_spawn failed (%d)\n", rc);
			bad = 1;
			break;
		}
		bad |= check("posix_spawn", r, st);

		pid = vfork();
		if (pid == 0) {
			execv(truebin, args);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid) {
			perror("spawn_threads: vfork");
			bad = 1;
			break;
		}
		bad |= check("vfork + exec", r, st);

		st = system("true");
		bad |= check("system(\"true\")", r, st);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	if (bad)
		return 1;
	printf("spawn_threads: OK %d rounds of posix_spawn, vfork + exec and system() while threads made %ld allocations\n",
	       rounds, atomic_load(&nallocs));
	return 0;
}
