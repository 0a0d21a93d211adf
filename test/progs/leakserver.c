/* leakserver — a leaky server simulation: each "request" allocates a few buffers, keeps
 * some in a table of live sessions, and forgets one buffer of every request (the leak).
 * Prints its VmRSS (KiB) at the end, after rounds requests: bounded in collect mode,
 * growing with glibc. Usage: leakserver [rounds] (default 200000). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSIONS 4096

static void *sessions[SESSIONS];

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) v = strtol(line + 6, NULL, 10);
  if (f) fclose(f);
  return v;
}

int main(int argc, char **argv) {
  long rounds = argc > 1 ? atol(argv[1]) : 200000;
  unsigned r = 12345;
  for (long i = 0; i < rounds; i++) {
    r = r * 1103515245 + 12345;
    size_t n = 64 + (r >> 16) % 2000;
    char *req = malloc(n); /* the request: parsed, then freed */
    char *leak = malloc(n / 2 + 16); /* a header copy nobody frees */
    memset(req, 'r', n);
    memset(leak, 'l', n / 2 + 16);
    leak = NULL;
    int k = (int)((r >> 8) % SESSIONS);
    free(sessions[k]); /* a session replaced */
    sessions[k] = malloc(256);
    memset(sessions[k], 's', 256);
    free(req);
  }
  printf("%ld\n", rss_kib());
  return 0;
}
