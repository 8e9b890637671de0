/* monitor/monitor.c - see monitor.h. */
#include "monitor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

int hb_mon_pidfd_open(pid_t pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : fd; /* pidfds are always close-on-exec */
}

bool hb_mon_alive(int pidfd)
{
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    int n;
    do
        n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    return n == 0;
}

static int waitpid_retry(pid_t pid, int *status)
{
    for (;;) {
        pid_t r = waitpid(pid, status, 0);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

int hb_mon_wait_exit(int pidfd, int timeout_ms)
{
    uint64_t deadline =
        timeout_ms < 0 ? UINT64_MAX : hb__now_ns() + (uint64_t)timeout_ms * 1000000ull;
    return hb__wait_fd(pidfd, POLLIN, deadline);
}

int hb_mon_reap(pid_t pid, int pidfd, int timeout_ms, int *status)
{
    if (pidfd >= 0) {
        int r = hb_mon_wait_exit(pidfd, timeout_ms);
        if (r < 0)
            return r;
    }
    return waitpid_retry(pid, status);
}

int hb_mon_kill_reap(pid_t pid, int pidfd, int *status)
{
    if (pidfd >= 0)
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    else
        kill(pid, SIGKILL);
    return waitpid_retry(pid, status);
}

int hb_mon_stop(pid_t pid, int pidfd, unsigned grace_ms, int *status)
{
    if (pid <= 0 || !status)
        return -EINVAL;
    int st = 0, r;
    if (pidfd >= 0 && !hb_mon_alive(pidfd)) {
        if ((r = waitpid_retry(pid, &st)) < 0)
            return r;
        *status = st;
        return HB_MON_STOP_ALREADY_EXITED;
    }
    if (pidfd >= 0)
        r = (int)syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0);
    else
        r = kill(pid, SIGTERM);
    if (r < 0 && errno != ESRCH)
        return -errno;
    if (pidfd >= 0) {
        r = hb_mon_reap(pid, pidfd, grace_ms > INT32_MAX ? INT32_MAX : (int)grace_ms, &st);
        if (r == 0) {
            *status = st;
            return HB_MON_STOP_TERM;
        }
        if (r != -ETIMEDOUT)
            return r;
    }
    /* Without a pidfd there is no event to wait on short of SIGCHLD, which
     * belongs to the application: no grace, straight to SIGKILL. */
    if ((r = hb_mon_kill_reap(pid, pidfd, &st)) < 0)
        return r;
    *status = st;
    /* It may have exited from SIGTERM in the instant after the deadline. */
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? HB_MON_STOP_KILL : HB_MON_STOP_TERM;
}
