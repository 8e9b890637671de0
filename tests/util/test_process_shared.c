/* util/process.c's shared-memory start (CLONE_VM | CLONE_VFORK) of a
 * program, one case per process (argv[1]):
 *   nofork    starting a program forks nothing: no copy of the manager's
 *             address space (pthread_atfork's prepare handler, run by every
 *             fork(), is not run), and the program runs with its limits,
 *             cwd and process group;
 *   signals   the parent's handlers, ignored signals and signal mask are
 *             as before the start; a signal the parent ignores stays
 *             ignored in the program (as after a fork), one it catches is
 *             back to its default there;
 *   failure   a failed step before exec (chdir) and a failed exec are
 *             reported and leave no child; the parent's memory (a value
 *             on its stack, a global) is untouched by the child. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "process.h"
#include "util.h"

static int forks; /* pthread_atfork prepare calls */
static void on_fork(void) { forks++; }

static volatile sig_atomic_t usr1;
static void on_usr1(int sig) { (void)sig; usr1++; }

/* Runs argv with stdout into a pipe; returns its exit status and what it
 * printed (up to n - 1 bytes) in out. */
static int run(char *const *argv, const hb_limits *lim, const char *cwd, char *out, size_t n)
{
    int p[2];
    HB_CHECK_OK(pipe2(p, O_CLOEXEC));
    hb_spawn_fd fds[] = {{HB_SPAWN_DEVNULL, 0}, {p[1], 1}};
    hb_spawn sp = {.argv = argv, .fds = fds, .nfds = 2, .limits = lim, .cwd = cwd,
                   .new_pgroup = true};
    pid_t pid = -1;
    char *err = NULL;
    int r = hb__spawn(&sp, &pid, NULL, &err);
    if (r < 0)
        HB_FAIL_("hb__spawn %s: %s", argv[0], err ? err : "?");
    close(p[1]);
    size_t got = 0;
    ssize_t k;
    while ((k = read(p[0], out + got, n - 1 - got)) > 0)
        got += (size_t)k;
    out[got] = 0;
    close(p[0]);
    int st = -1;
    HB_CHECK_EQ(hb__wait_pid(pid, &st, 0), pid);
    HB_CHECK(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void test_nofork(void)
{
#if defined(__SANITIZE_ADDRESS__)
    printf("SKIP: an AddressSanitizer build starts programs with fork (util/process.c)\n");
    exit(77);
#endif
    HB_CHECK_OK(pthread_atfork(on_fork, NULL, NULL));
    hb_limits lim = {.open_files = 77, .no_core = 1};
    char out[256];
    char *argv[] = {"/bin/sh", "-c", "echo $(ulimit -n) $(pwd) $(ps -o pgid= -p $$ | tr -d ' ') $$",
                    NULL};
    HB_CHECK_EQ(run(argv, &lim, "/tmp", out, sizeof(out)), 0);
    unsigned nofile = 0, pgid = 0, pid = 0;
    char cwd[64] = "";
    if (sscanf(out, "%u %63s %u %u", &nofile, cwd, &pgid, &pid) != 4)
        HB_FAIL_("unexpected output '%s'", out);
    HB_CHECK_EQ(nofile, 77);
    HB_CHECK_STR(cwd, "/tmp");
    HB_CHECK_EQ(pgid, pid); /* its own process group */
    HB_CHECK_EQ(forks, 0);  /* no fork(): the shared start */
}

static void test_signals(void)
{
    struct sigaction sa = {.sa_handler = on_usr1};
    sigemptyset(&sa.sa_mask);
    HB_CHECK_OK(sigaction(SIGUSR1, &sa, NULL));
    HB_CHECK(signal(SIGUSR2, SIG_IGN) != SIG_ERR);
    sigset_t mask, now;
    sigemptyset(&mask);
    sigaddset(&mask, SIGHUP);
    HB_CHECK_OK(pthread_sigmask(SIG_SETMASK, &mask, NULL));
    char out[256];
    /* SIGUSR2 ignored: the shell survives it. SIGUSR1 caught by us: the
     * shell gets it at its default (it dies), so it is sent to a child. */
    char *argv[] = {"/bin/sh", "-c",
                    "kill -USR2 $$; sh -c 'kill -USR1 $$; exit 0'; echo alive $?", NULL};
    HB_CHECK_EQ(run(argv, NULL, NULL, out, sizeof(out)), 0);
    HB_CHECK_STR(out, "alive 138\n"); /* 128 + SIGUSR1 (10) */
    struct sigaction back;
    HB_CHECK_OK(sigaction(SIGUSR1, NULL, &back));
    HB_CHECK(back.sa_handler == on_usr1);
    HB_CHECK(signal(SIGUSR2, SIG_IGN) == SIG_IGN);
    HB_CHECK_OK(pthread_sigmask(SIG_SETMASK, NULL, &now));
    HB_CHECK(sigismember(&now, SIGHUP) && !sigismember(&now, SIGUSR1));
    HB_CHECK_EQ(usr1, 0);
    HB_CHECK_OK(raise(SIGUSR1)); /* the handler still works here */
    HB_CHECK_EQ(usr1, 1);
}

static int marker = 1234;

static void test_failure(void)
{
    volatile int on_stack = 5678;
    char *argv[] = {"/bin/true", NULL};
    hb_spawn sp = {.argv = argv, .cwd = "/nonexistent/hb-no-such-dir"};
    pid_t pid = -1;
    char *err = NULL;
    HB_CHECK_EQ(hb__spawn(&sp, &pid, NULL, &err), -ENOENT);
    HB_CHECK_CONTAINS(err, "chdir");
    free(err);
    err = NULL;
    char *missing[] = {"/nonexistent/hb-no-such-program", NULL};
    hb_spawn sp2 = {.argv = missing};
    HB_CHECK_EQ(hb__spawn(&sp2, &pid, NULL, &err), -ENOENT);
    HB_CHECK_CONTAINS(err, "hb-no-such-program");
    free(err);
    HB_CHECK_EQ(hb__wait_pid(-1, NULL, WNOHANG), -ECHILD); /* both reaped */
    HB_CHECK_EQ(on_stack, 5678);
    HB_CHECK_EQ(marker, 1234);
}

int main(int argc, char **argv)
{
    const char *c = argc > 1 ? argv[1] : "";
    if (!strcmp(c, "nofork"))
        test_nofork();
    else if (!strcmp(c, "signals"))
        test_signals();
    else if (!strcmp(c, "failure"))
        test_failure();
    else
        HB_FAIL_("unknown case '%s'", c);
    return 0;
}
