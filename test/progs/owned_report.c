/* owned_report.c — a leak report symbolizing on one thread while another collects
 * (test/integration/roots.sh). Run in collect mode with SCVGC_REPORT naming a file.
 *
 * The report's symbolizer (libdw) keeps its session and caches in memory it malloc'd and
 * that only the library's data points to. Those objects are the library's own (allocated
 * with scvgc_in_lib set): every cycle keeps them alive. Without that, a cycle that another
 * thread starts while the report is written frees them, the churn below writes over them,
 * and libdw crashes (SIGSEGV) or reports garbage.
 *
 *     owned_report SECONDS
 * Prints "ok N reports, M collections" and exits 0; any crash is the failure.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int done;
static void (*collect_fn)(void);
static size_t (*leak_check_fn)(void);

/* Objects dropped at a few call sites, so that each report has stacks to symbolize. */
static void *volatile sink;
__attribute__((noinline)) static void lose_a(void) { sink = malloc(48); sink = NULL; }
__attribute__((noinline)) static void lose_b(void) { sink = malloc(160); sink = NULL; }
__attribute__((noinline)) static void lose_c(void) { sink = malloc(1000); sink = NULL; }

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *collector(void *arg)
{
	long *n = arg;
	while (!atomic_load(&done)) {
		collect_fn();
		(*n)++;
		/* churn: what a cycle reclaimed is handed out again and overwritten */
		for (int i = 0; i < 2000; i++) {
			size_t sz = 16 + (size_t)(i % 64) * 24;
			char *p = malloc(sz);
			if (p) {
				memset(p, 0xa5, sz);
				free(p);
			}
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3;
	collect_fn = (void (*)(void))dlsym(RTLD_DEFAULT, "scvgc_collect");
	leak_check_fn = (size_t(*)(void))dlsym(RTLD_DEFAULT, "scvgc_leak_check");
	if (!collect_fn || !leak_check_fn) {
		fprintf(stderr, "owned_report: not running under libscvgc\n");
		return 2;
	}
	long ncollect = 0, nreport = 0;
	pthread_t t;
	if (pthread_create(&t, NULL, collector, &ncollect)) {
		fprintf(stderr, "owned_report: pthread_create failed\n");
		return 2;
	}
	double end = now() + secs;
	while (now() < end) {
		lose_a();
		lose_b();
		lose_c();
		leak_check_fn();
		nreport++;
	}
	atomic_store(&done, 1);
	pthread_join(t, NULL);
	printf("ok %ld reports, %ld collections\n", nreport, ncollect);
	return 0;
}
