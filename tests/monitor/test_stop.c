/* hb_mon_stop: SIGTERM, grace, SIGKILL - with children that obey, that
 * ignore SIGTERM, and that are already gone. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "monitor.h"
#include "util.h"

/* A child that sets its SIGTERM disposition, says so, and blocks. */
static pid_t spawn(void (*term)(int))
{
    int p[2];
    HB_CHECK(pipe2(p, O_CLOEXEC) == 0);
    pid_t pid = fork();
    HB_CHECK(pid >= 0);
    if (pid == 0) {
        signal(SIGTERM, term);
        char c = 'r';
        if (write(p[1], &c, 1) != 1)
            _exit(9);
        for (;;)
            pause();
    }
    close(p[1]);
    char c;
    HB_CHECK_EQ(read(p[0], &c, 1), 1);
    close(p[0]);
    return pid;
}

static void exit_clean(int sig)
{
    (void)sig;
    _exit(0); /* stands in for "runs fini hooks, then exits" */
}

int main(void)
{
    int st = -1;
    /* Default SIGTERM: ends within the grace period. */
    pid_t pid = spawn(SIG_DFL);
    int fd = hb_mon_pidfd_open(pid);
    HB_CHECK(fd >= 0);
    HB_CHECK_EQ(hb_mon_stop(pid, fd, 5000, &st), HB_MON_STOP_TERM);
    HB_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    close(fd);

    /* A handler that cleans up and exits 0. */
    pid = spawn(exit_clean);
    fd = hb_mon_pidfd_open(pid);
    HB_CHECK_EQ(hb_mon_stop(pid, fd, 5000, &st), HB_MON_STOP_TERM);
    HB_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(fd);

    /* Ignores SIGTERM: killed after the grace period, which is honoured. */
    pid = spawn(SIG_IGN);
    fd = hb_mon_pidfd_open(pid);
    uint64_t t0 = hb__now_ns();
    HB_CHECK_EQ(hb_mon_stop(pid, fd, 200, &st), HB_MON_STOP_KILL);
    double took = hb__ms_since(t0);
    HB_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    HB_CHECK_INT(took, >=, 200);
    HB_CHECK_INT(took, <, 5000);
    close(fd);

    /* Already exited (waited for with WNOWAIT, not reaped): reported as such. */
    pid = fork();
    HB_CHECK(pid >= 0);
    if (pid == 0)
        _exit(7);
    fd = hb_mon_pidfd_open(pid);
    HB_CHECK(fd >= 0);
    siginfo_t si;
    HB_CHECK(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0);
    HB_CHECK(!hb_mon_alive(fd));
    HB_CHECK_EQ(hb_mon_stop(pid, fd, 5000, &st), HB_MON_STOP_ALREADY_EXITED);
    HB_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);
    close(fd);

    /* Without a pidfd: no event to wait on, straight to SIGKILL. */
    pid = spawn(SIG_IGN);
    int r = hb_mon_stop(pid, -1, 100, &st);
    HB_CHECK_EQ(r, HB_MON_STOP_KILL);
    HB_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

    HB_CHECK_EQ(hb_mon_stop(0, -1, 0, &st), -EINVAL);
    puts("PASS test_mon_stop");
    return 0;
}
