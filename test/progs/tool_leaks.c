/* tool_leaks.c — the program test/integration/tool.sh runs under the scvgc wrapper: known
 * leaks from known functions, a chosen exit status, a fork, a fatal signal.
 *
 *   tool_leaks leak          leak_alpha: 1 x 100 bytes direct; leak_list: a 3-node list
 *                            (1 direct + 2 indirect, 48 bytes each); exit 0
 *   tool_leaks leak-extra    the same, plus leak_gamma: 1 x 64 bytes direct
 *   tool_leaks clean         allocates, frees, keeps one object in a global; exit 0
 *   tool_leaks exit N        clean, then exit(N)
 *   tool_leaks leak-exit N   leak, then exit(N)
 *   tool_leaks fork          leak_in_child in a fork child that exit()s, leak_in_parent in
 *                            the parent after waiting for it; exit 0
 *   tool_leaks signal        leak, then kill itself with SIGUSR1 (no report: not an exit)
 *
 * Follows the discipline of test/leaks/leakcase.h (allocation in NOINLINE functions, scrub()
 * afterwards) so that the reported leaks are exactly these. Built by tool.sh with -O0 -g.
 */
#include "../leaks/leakcase.h"

#include <signal.h>
#include <sys/wait.h>

struct node {
    struct node *next;
    char payload[40];
};

static void *volatile kept;

static NOINLINE void leak_alpha(void)
{
    void *volatile p = malloc(100);
    if (!p)
        die("malloc failed");
    p = NULL;
}

static NOINLINE struct node *list_node(struct node *next)
{
    struct node *n = malloc(sizeof *n);
    if (!n)
        die("malloc failed");
    n->next = next;
    return n;
}

static NOINLINE void leak_list(void)
{
    struct node *volatile head = NULL;
    for (int i = 0; i < 3; i++)
        head = list_node(head);
    head = NULL;
}

static NOINLINE void leak_gamma(void)
{
    void *volatile p = malloc(64);
    if (!p)
        die("malloc failed");
    p = NULL;
}

static NOINLINE void leak_in_child(void)
{
    void *volatile p = malloc(40);
    if (!p)
        die("malloc failed");
    p = NULL;
}

static NOINLINE void leak_in_parent(void)
{
    void *volatile p = malloc(56);
    if (!p)
        die("malloc failed");
    p = NULL;
}

static NOINLINE void no_leak(void)
{
    free(malloc(30));
    if (!(kept = malloc(20)))
        die("malloc failed");
}

static NOINLINE void leak(void)
{
    leak_alpha();
    leak_list();
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "leak";
    int status = argc > 2 ? atoi(argv[2]) : 0;
    if (!strcmp(what, "leak")) {
        leak();
    } else if (!strcmp(what, "leak-extra")) {
        leak();
        leak_gamma();
    } else if (!strcmp(what, "clean")) {
        no_leak();
    } else if (!strcmp(what, "exit")) {
        no_leak();
        scrub();
        exit(status);
    } else if (!strcmp(what, "leak-exit")) {
        leak();
        scrub();
        exit(status);
    } else if (!strcmp(what, "fork")) {
        pid_t pid = fork();
        if (pid < 0)
            die("fork failed");
        if (pid == 0) {
            leak_in_child();
            scrub();
            exit(0);
        }
        /* any status: under --exitcode the child's leak makes it exit with that code */
        int st;
        if (waitpid(pid, &st, 0) != pid)
            die("waitpid failed");
        leak_in_parent();
    } else if (!strcmp(what, "signal")) {
        leak();
        signal(SIGUSR1, SIG_DFL);
        raise(SIGUSR1);
    } else {
        die("unknown mode (see the header of tool_leaks.c)");
    }
    scrub();
    return 0;
}
