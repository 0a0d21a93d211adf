/* fault_early.c — threads created before the library initialised keep their objects.
 *
 *   LD_PRELOAD="build/libscvgc.so build/test/progs/libfault_early.so" fault_early [--expect-early]
 *
 * The threads are libfault_early.so's (see there). This program runs collections (a no-op
 * without the library and in mode off) with allocation churn in between, so that anything
 * wrongly reclaimed is reused and overwritten, then asks the library for its verdict.
 * --expect-early: fail unless the threads really started before the library's own threads
 * (the preload order is wrong otherwise, and the test would prove nothing).
 * Prints "fault_early: OK" and exits 0; one line on stderr and exit 1 otherwise.
 */
#include "fault_common.h"

int main(int argc, char **argv)
{
	int (*before)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "early_before_library");
	int (*finish)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "early_finish");
	if (!before || !finish)
		sc_die("libfault_early.so is not preloaded");
	if (argc > 1 && !strcmp(argv[1], "--expect-early") && !before())
		sc_die("the early threads started after the library's own threads: fix the LD_PRELOAD order");
	void (*collect)(void) = fc_collect_fn();
	uint64_t r = 12345;
	for (int round = 0; round < 8; round++) {
		collect();
		fc_obj_t o[500];
		for (int i = 0; i < 500; i++)
			fc_new(&o[i], sc_rand_range(&r, 16, 200), sc_rand(&r), "main");
		for (int i = 0; i < 500; i++)
			fc_free(&o[i], "main");
		usleep(2000);
	}
	int bad = finish();
	if (bad < 0)
		sc_die("the early threads did not start");
	if (bad > 0)
		sc_die("%d objects of the early threads were corrupt (reclaimed while reachable?)", bad);
	printf("fault_early: OK (threads started %s the library's)\n", before() ? "before" : "after");
	return 0;
}
