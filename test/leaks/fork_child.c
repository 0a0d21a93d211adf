// case: after fork() each process writes its own report (SCVGC_JSON with %p): its own leaks, plus the leak both inherited
// reports: 2
// expect: direct_objects=2 direct_bytes=80 indirect_objects=0 indirect_bytes=0
// expect-leak: function=leak_before_fork kind=direct objects=1 bytes=24
// expect-leak: function=leak_in_parent kind=direct objects=1 bytes=56
// expect-not-reported: leak_in_child keep_before_fork
// child-expect: direct_objects=2 direct_bytes=64 indirect_objects=0 indirect_bytes=0
// child-expect-leak: function=leak_before_fork kind=direct objects=1 bytes=24
// child-expect-leak: function=leak_in_child kind=direct objects=1 bytes=40
// child-expect-not-reported: leak_in_parent keep_before_fork
/* Before fork: 24 bytes leaked and 32 bytes kept in a global, inherited by both processes.
 * The child leaks 40 bytes and exit()s (its exit report goes to NAME.<child pid>.json); the
 * parent waits for it, leaks 56 bytes and returns. */
#include "leakcase.h"
#include <sys/wait.h>

static void *volatile kept;

static NOINLINE void leak_before_fork(void)
{
    void *p = malloc(24);
    if (!p)
        die("malloc failed");
    p = NULL;
}

static NOINLINE void keep_before_fork(void)
{
    if (!(kept = malloc(32)))
        die("malloc failed");
}

static NOINLINE void leak_in_child(void)
{
    void *p = malloc(40);
    if (!p)
        die("malloc failed");
    p = NULL;
}

static NOINLINE void leak_in_parent(void)
{
    void *p = malloc(56);
    if (!p)
        die("malloc failed");
    p = NULL;
}

int main(void)
{
    leak_before_fork();
    keep_before_fork();
    scrub();
    pid_t pid = fork();
    if (pid < 0)
        die("fork failed");
    if (pid == 0) {
        leak_in_child();
        scrub();
        exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("child failed");
    leak_in_parent();
    scrub();
    return 0;
}
