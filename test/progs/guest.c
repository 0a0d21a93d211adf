/* guest — what the library does to a program that did not ask for it (issue 13 points 13
 * and 15), run by test/integration/guest.sh.
 *
 *   guest grow MB     allocate MB MiB in 4 KiB blocks kept live, free them, exit 0
 *   guest small       a few hundred small allocations, then unshare(CLONE_NEWUSER)
 *
 * Both print "threads: N" (the Threads: line of /proc/self/status after the allocations);
 * small also prints "unshare: ok" or "unshare: ERRNAME" (Linux refuses a new user namespace
 * to a multi-threaded process with EINVAL).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int threads(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  int n = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "Threads:", 8)) n = atoi(line + 8);
  if (f) fclose(f);
  return n;
}

int main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "grow")) {
    size_t n = (size_t)atoi(argv[2]) * 256;
    char **v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
      v[i] = malloc(4096);
      memset(v[i], (int)i, 64);
    }
    printf("threads: %d\n", threads());
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
    return 0;
  }
  if (argc >= 2 && !strcmp(argv[1], "small")) {
    void *v[300];
    for (int i = 0; i < 300; i++) v[i] = malloc((size_t)(i % 40) * 16 + 8);
    for (int i = 0; i < 300; i++) free(v[i]);
    printf("threads: %d\n", threads());
    fflush(stdout);
    if (unshare(CLONE_NEWUSER) == 0) printf("unshare: ok\n");
    else printf("unshare: %s\n", errno == EINVAL ? "EINVAL" : errno == EPERM ? "EPERM" : strerror(errno));
    return 0;
  }
  fprintf(stderr, "usage: guest grow MB | guest small\n");
  return 2;
}
