/* snapleak — a long-running program that leaks steadily, for the report signal
 * (SCVGC_REPORT_SIGNAL, test/integration/snapshot.sh).
 *   snapleak STOPFILE [own | fork]
 * Every 10 ms it loses one 100-byte object (leak_one), until STOPFILE exists (at most 120 s).
 * Its sleep loop is EINTR-proof: an absolute deadline, slept again when a handler interrupts
 * it, so a signal the library handles changes nothing the program does. With `own` it
 * installs its own SIGUSR2 handler first (the program wins over the library's) and prints
 * how many times it ran. With `fork` the loop runs in a child (the parent waits for it and
 * exits with its status). Output (stdout): two fixed lines, and the `own` count. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t own_runs;
static void own_handler(int sig) { (void)sig; own_runs++; }

/* The leaked object's only pointer is dropped when this returns. */
__attribute__((noinline)) static void leak_one(int i) {
  char *p = malloc(100);
  if (p) memset(p, i, 100);
  __asm__ volatile("" : : "r"(p) : "memory");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: snapleak STOPFILE [own]\n");
    return 2;
  }
  if (argc > 2 && !strcmp(argv[2], "fork")) {
    pid_t c = fork();
    if (c < 0) return 4;
    if (c > 0) {
      int st;
      if (waitpid(c, &st, 0) != c) return 5;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
  }
  if (argc > 2 && !strcmp(argv[2], "own")) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = own_handler;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, NULL);
  }
  printf("snapleak: leaking\n");
  fflush(stdout);
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  long interrupted = 0;
  for (int i = 0; i < 12000 && access(argv[1], F_OK) != 0; i++) {
    leak_one(i);
    t.tv_nsec += 10000000;
    if (t.tv_nsec >= 1000000000) t.tv_sec++, t.tv_nsec -= 1000000000;
    int e;
    while ((e = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL)) == EINTR) interrupted++;
    if (e) return 3;
  }
  printf("snapleak: done\n");
  if (argc > 2 && !strcmp(argv[2], "own")) printf("snapleak: own handler ran %d times\n", (int)own_runs);
  fprintf(stderr, "snapleak: %ld sleeps interrupted\n", interrupted);
  return 0;
}
