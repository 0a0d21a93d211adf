/* fds — what the program sees of the library's file descriptors and signal handling.
 *   fds list      prints the program's open descriptors (none of them may be the library's)
 *   fds close2    leaks 100 bytes, closes fd 2 (as GNU coreutils do at exit) and exits: the
 *                 leak report must still reach the file fd 2 named
 *   fds reuse2 F  leaks 100 bytes, closes fd 2 and opens file F, which becomes fd 2 (a daemon
 *                 that closed stdio and whose data file took its place), writes "data" to it
 *                 and exits: the report must not go into F
 *   fds sigwait   blocks SIGUSR1 in the program's threads, makes the library's threads run
 *                 (allocation, collections), signals the process, and waits for it with
 *                 sigwait: the signal must not reach a library thread (whose default action
 *                 would kill the process) */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *volatile sink;

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "list";
  if (!strcmp(what, "list")) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 2;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)))
      if (e->d_name[0] != '.' && atoi(e->d_name) != self) printf("%s\n", e->d_name);
    closedir(d);
    return 0;
  }
  if (!strcmp(what, "close2")) {
    sink = malloc(100);
    sink = NULL;
    close(2);
    return 0;
  }
  if (!strcmp(what, "reuse2") && argc > 2) {
    sink = malloc(100);
    sink = NULL;
    close(2);
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd != 2) return 3;
    if (write(fd, "data\n", 5) != 5) return 4;
    return 0;
  }
  if (!strcmp(what, "sigwait")) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    for (int i = 0; i < 200000; i++) { /* several collections: markers and sweeper at work */
      sink = malloc(64 + i % 512);
    }
    kill(getpid(), SIGUSR1);
    int sig = 0;
    if (sigwait(&s, &sig) || sig != SIGUSR1) return 3;
    puts("got SIGUSR1");
    return 0;
  }
  return 2;
}
