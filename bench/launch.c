/* launch: runs one benchmark child and reports its resource usage.
 *
 * usage: launch [-p preload] [-T timeout_s] program [args...]
 *
 * Runs program (argv as given, environment inherited, plus
 * LD_PRELOAD=preload when -p is given) and waits for it with wait4().
 * Writes one line to file descriptor 3:
 *   status=<wait status> utime=<s> stime=<s> maxrss=<KiB> wall=<s>
 * and exits 0 (127 when the program cannot be started or fd 3 is unusable).
 * The child is killed with SIGKILL after timeout_s seconds (fractions allowed).
 *
 * Why not measure from python directly: on Linux ru_maxrss of a child is
 * at least the high-water RSS of the process it was forked from, because
 * exec() keeps the old address space's peak (the python harness is ~18 MiB,
 * more than several workloads).  This launcher is small, so the peak RSS it
 * reports is the workload's own. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static volatile pid_t child;

static void on_alarm(int sig)
{
    (void)sig;
    if (child > 0)
        kill(child, SIGKILL);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

int main(int argc, char **argv)
{
    const char *preload = NULL;
    double timeout = 0;
    int c;
    while ((c = getopt(argc, argv, "+p:T:")) != -1) {
        if (c == 'p') {
            preload = optarg;
        } else if (c == 'T') {
            timeout = strtod(optarg, NULL);
        } else {
            fprintf(stderr, "usage: launch [-p preload] [-T timeout_s] program [args...]\n");
            return 127;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "launch: no program\n");
        return 127;
    }
    FILE *report = fdopen(3, "w");
    if (report == NULL) {
        perror("launch: fd 3");
        return 127;
    }

    /* the child's environment: ours, with LD_PRELOAD replaced */
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    char *pre = NULL;
    if (env == NULL)
        return 127;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
            env[k++] = environ[i];
    if (preload) {
        pre = malloc(strlen(preload) + 12);
        if (pre == NULL)
            return 127;
        strcpy(pre, "LD_PRELOAD=");
        strcat(pre, preload);
        env[k++] = pre;
    }
    env[k] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclose(&fa, 3);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);

    double t0 = now();
    pid_t pid;
    int err = posix_spawn(&pid, argv[optind], &fa, NULL, argv + optind, env);
    if (err != 0) {
        fprintf(stderr, "launch: cannot run %s: %s\n", argv[optind], strerror(err));
        return 127;
    }
    child = pid;
    struct itimerval it;
    memset(&it, 0, sizeof it);
    if (timeout > 0) {
        it.it_value.tv_sec = (time_t)timeout;
        it.it_value.tv_usec = (suseconds_t)((timeout - (double)(time_t)timeout) * 1e6);
        if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
            it.it_value.tv_usec = 1;
        setitimer(ITIMER_REAL, &it, NULL);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("launch: wait4");
            return 127;
        }
    }
    double wall = now() - t0;
    memset(&it, 0, sizeof it);
    setitimer(ITIMER_REAL, &it, NULL);
    fprintf(report, "status=%d utime=%.6f stime=%.6f maxrss=%ld wall=%.6f\n", status,
            seconds(ru.ru_utime), seconds(ru.ru_stime), ru.ru_maxrss, wall);
    free(env);
    free(pre);
    return fclose(report) == 0 ? 0 : 127;
}
