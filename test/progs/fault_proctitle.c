/* fault_proctitle.c — a program that reuses its argv/environment block for its process title
 * (setproctitle, as redis, nginx and postgres do) still gets its report where SCVGC_REPORT
 * and SCVGC_JSON say: the library must not keep pointers into that block.
 *
 *   SCVGC_REPORT=PATH SCVGC_JSON=PATH fault_proctitle
 *
 * Like redis's spt_init: the environment is copied to the heap (environ points at the
 * copies), then the original block, from argv[0] to the end of the last environment string,
 * is overwritten with the new title and zeros. Then one object is leaked and the program
 * exits; faults.sh checks both report files. Prints "fault_proctitle: OK".
 */
#include "fault_common.h"

extern char **environ;
static void *volatile leaked;

int main(int argc, char **argv)
{
	(void)argc;
	char *start = argv[0], *end = argv[0] + strlen(argv[0]) + 1;
	for (int i = 1; argv[i]; i++)
		if (argv[i] == end)
			end = argv[i] + strlen(argv[i]) + 1;
	int n = 0;
	while (environ[n]) {
		if (environ[n] == end)
			end = environ[n] + strlen(environ[n]) + 1;
		n++;
	}
	char **copy = malloc(sizeof *copy * (size_t)(n + 1));
	if (!copy)
		sc_die("malloc failed");
	for (int i = 0; i < n; i++)
		copy[i] = strdup(environ[i]);
	copy[n] = NULL;
	environ = copy;
	memset(start, 0, (size_t)(end - start));
	snprintf(start, (size_t)(end - start), "fault_proctitle: title");
	leaked = malloc(1234);
	leaked = NULL;
	printf("fault_proctitle: OK\n");
	return 0;
}
