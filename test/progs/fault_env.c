/* fault_env.c — a small program for the SCVGC_* variable checks of faults.sh: it allocates
 * and frees a few thousand objects of mixed sizes on two threads (enough for a few
 * collections at extreme settings), checks them, and prints "fault_env: OK".
 *   fault_env [ROUNDS]   (default 20)
 */
#include "fault_common.h"

static int rounds = 20;

static void *work(void *arg)
{
	uint64_t r = (uintptr_t)arg | 1;
	fc_obj_t o[500];
	for (int round = 0; round < rounds; round++) {
		for (int i = 0; i < 500; i++)
			fc_new(&o[i], i % 50 ? sc_rand_range(&r, 1, 1500) : 100000, sc_rand(&r), "fault_env");
		for (int i = 0; i < 500; i++)
			fc_free(&o[i], "fault_env");
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		rounds = atoi(argv[1]);
	pthread_t t;
	if (pthread_create(&t, NULL, work, (void *)1) != 0)
		sc_die("pthread_create failed");
	work((void *)2);
	pthread_join(t, NULL);
	printf("fault_env: OK\n");
	return 0;
}
