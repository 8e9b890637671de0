/* Unit tests of monitor/: pidfd liveness, reaping with deadlines. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "monitor.h"
#include "util.h"

int main(void)
{
    /* A child that exits by itself with status 3. */
    pid_t p = fork();
    HB_CHECK(p >= 0);
    if (p == 0)
        _exit(3);
    int fd = hb_mon_pidfd_open(p);
    HB_CHECK(fd >= 0);
    int st = 0;
    HB_CHECK_OK(hb_mon_reap(p, fd, 10000, &st));
    HB_CHECK(WIFEXITED(st));
    HB_CHECK_EQ(WEXITSTATUS(st), 3);
    char buf[128];
    HB_CHECK_STR(hb__describe_wait_status(st, buf, sizeof(buf)), "exited with status 3");
    close(fd);

    /* A child blocked forever: alive, reap times out, kill_reap reports SIGKILL. */
    int pipefd[2];
    HB_CHECK(pipe(pipefd) == 0);
    p = fork();
    HB_CHECK(p >= 0);
    if (p == 0) {
        char c;
        close(pipefd[1]);
        while (read(pipefd[0], &c, 1) != 0) {
        }
        _exit(0);
    }
    fd = hb_mon_pidfd_open(p);
    HB_CHECK(fd >= 0);
    HB_CHECK(hb_mon_alive(fd));
    HB_CHECK_EQ(hb_mon_reap(p, fd, 50, &st), -ETIMEDOUT);
    HB_CHECK_OK(hb_mon_kill_reap(p, fd, &st));
    HB_CHECK(WIFSIGNALED(st));
    HB_CHECK_EQ(WTERMSIG(st), SIGKILL);
    HB_CHECK_CONTAINS(hb__describe_wait_status(st, buf, sizeof(buf)), "SIGKILL");
    HB_CHECK(!hb_mon_alive(fd));
    close(fd);
    close(pipefd[0]);
    close(pipefd[1]);
    HB_CHECK(hb_mon_pidfd_open(-5) < 0);
    puts("PASS test_monitor");
    return 0;
}
