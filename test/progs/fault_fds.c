/* fault_fds.c — the program's file descriptors are its own.
 *
 *   fault_fds list          prints the open descriptors (from /proc/self/fd) at main, one per
 *                           line (a number, and "pipe", "file" or "other"); faults.sh compares this with a run
 *                           without the preload: the library must add none (a descriptor it
 *                           keeps is seen by programs that check or close theirs, e.g.
 *                           Python's subprocess close_fds / pass_fds tests).
 *   fault_fds closed-diag   closes every descriptor above 2 (as daemons and exec'ing programs
 *                           do), then double-frees an object: the diagnostic must still reach
 *                           stderr.
 */
#include "fault_common.h"

#include <dirent.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "list";
	if (!strcmp(what, "list")) {
		DIR *d = opendir("/proc/self/fd");
		if (!d)
			sc_die("opendir /proc/self/fd failed");
		int self = dirfd(d);
		struct dirent *e;
		int fds[1024], n = 0;
		while ((e = readdir(d)) && n < 1024)
			if (e->d_name[0] != '.' && atoi(e->d_name) != self)
				fds[n++] = atoi(e->d_name);
		closedir(d);
		for (int i = 0; i < n; i++)
			for (int k = i + 1; k < n; k++)
				if (fds[k] < fds[i]) {
					int x = fds[i];
					fds[i] = fds[k];
					fds[k] = x;
				}
		for (int i = 0; i < n; i++) {
			char path[64], target[512];
			snprintf(path, sizeof path, "/proc/self/fd/%d", fds[i]);
			ssize_t k = readlink(path, target, sizeof target - 1);
			target[k > 0 ? k : 0] = 0;
			printf("%d %s\n", fds[i], !strncmp(target, "pipe:", 5) ? "pipe" : target[0] == '/' ? "file" : "other");
		}
		return 0;
	}
	if (!strcmp(what, "closed-diag")) {
		syscall(SYS_close_range, 3u, ~0u, 0u);
		static void *volatile v;
		v = malloc(48);
		free(v);
		free(v);
		printf("fault_fds: double free done\n");
		return 0;
	}
	sc_die("usage: fault_fds list|closed-diag");
}
