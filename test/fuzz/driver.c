/* driver.c — the standalone fuzz driver, for machines without clang's libFuzzer: random
 * inputs for the engine (engine.c), no coverage guidance.
 *
 *   fuzz-driver [-t SECONDS] [-n RUNS] [-s SEED] [-l MAXLEN] [-o DIR] [FILE...]
 *
 * With FILEs, runs each once (a saved input, or a libFuzzer crash file) and exits. Otherwise
 * runs random inputs of 1..MAXLEN bytes (default 4096) until SECONDS (default 10) or RUNS
 * have passed; input k of seed S is the same bytes on every machine. A failing check aborts;
 * the input that failed is written first to DIR/crash-SEED-RUN (default: the current
 * directory), and the message names it. The last line is
 *   fuzz-driver: mode M: N runs in T s (seed S): K operations, H hand-offs, C collections: ok
 * The mode comes from SCVGC_MODE (collect when unset).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

#define MAXLEN_LIMIT 65536
static uint8_t input[MAXLEN_LIMIT];
static size_t input_len;
static char crash_path[4096];

/* SIGABRT from a failed check: save the input (write and open are async-signal-safe). */
static void on_abort(int sig) {
  int fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    size_t off = 0;
    while (off < input_len) {
      ssize_t w = write(fd, input + off, input_len - off);
      if (w <= 0) break;
      off += (size_t)w;
    }
    close(fd);
    static const char m[] = "fuzz-driver: the failing input is saved in ";
    if (write(2, m, sizeof m - 1) < 0 || write(2, crash_path, strlen(crash_path)) < 0 ||
        write(2, "\n", 1) < 0) {
    }
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

static uint64_t rng;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return 2;
  }
  input_len = fread(input, 1, sizeof input, f);
  fclose(f);
  snprintf(crash_path, sizeof crash_path, "%s.again", path);
  scvgc_fuzz_one(input, input_len);
  fprintf(stderr, "fuzz-driver: %s (%zu bytes): ok\n", path, input_len);
  return 0;
}

int main(int argc, char **argv) {
  double seconds = 10;
  unsigned long runs = 0, seed = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
  size_t maxlen = 4096;
  const char *dir = ".";
  int c;
  while ((c = getopt(argc, argv, "t:n:s:l:o:")) != -1) {
    switch (c) {
    case 't': seconds = atof(optarg); break;
    case 'n': runs = strtoul(optarg, NULL, 0); break;
    case 's': seed = strtoul(optarg, NULL, 0); break;
    case 'l': maxlen = strtoul(optarg, NULL, 0); break;
    case 'o': dir = optarg; break;
    default:
      fprintf(stderr, "usage: %s [-t SECONDS] [-n RUNS] [-s SEED] [-l MAXLEN] [-o DIR] [FILE...]\n", argv[0]);
      return 2;
    }
  }
  if (maxlen < 1 || maxlen > MAXLEN_LIMIT) maxlen = MAXLEN_LIMIT;
  signal(SIGABRT, on_abort);
  scvgc_fuzz_init();
  if (optind < argc) {
    int rc = 0;
    for (int i = optind; i < argc; i++) rc |= run_file(argv[i]);
    return rc;
  }
  double t0 = now(), t = 0;
  unsigned long k = 0;
  while ((!runs || k < runs) && (runs || t < seconds)) {
    rng = (seed * 0x9E3779B97F4A7C15ull) ^ (k + 1) * 0xD1B54A32D192ED03ull;
    if (!rng) rng = 1;
    for (int w = 0; w < 4; w++) next();
    /* mostly short inputs, some long ones */
    input_len = 1 + next() % (next() % 4 ? (maxlen < 512 ? maxlen : 512) : maxlen);
    for (size_t i = 0; i < input_len; i++) input[i] = (uint8_t)(next() >> 24);
    snprintf(crash_path, sizeof crash_path, "%s/crash-%lu-%lu", dir, seed, k);
    scvgc_fuzz_one(input, input_len);
    k++;
    t = now() - t0;
  }
  scvgc_fuzz_totals_t tot;
  scvgc_fuzz_totals(&tot);
  printf("fuzz-driver: mode %s: %lu runs in %.0f s (seed %lu): %lu operations, %lu hand-offs,"
         " %lu collections (%lu requested): ok\n",
         scvgc_fuzz_mode(), k, t, seed, tot.ops, tot.handoffs, tot.cycles, tot.requested_cycles);
  return 0;
}
