/* cli/test/cancel.c - a cancelled CI job still gets its reports: SIGTERM
 * and SIGINT are blocked from the start of `hotbox test` and read from a
 * signalfd while the job threads run. A signal stops the run (no further
 * case starts), kills the worker of every open sandbox so a running case
 * returns at once (reported as cancelled), and lets cmd_test write the
 * JUnit and --json reports before it exits with 128+signal. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "test.h"

static void cancel_mask(sigset_t *m)
{
    sigemptyset(m);
    sigaddset(m, SIGTERM);
    sigaddset(m, SIGINT);
}

void cli_test_block_signals(void)
{
    sigset_t m;
    cancel_mask(&m);
    pthread_sigmask(SIG_BLOCK, &m, NULL); /* threads started later inherit it */
}

void cli_test_set_live(run *R, size_t jobno, hb_sandbox *sb)
{
    pthread_mutex_lock(&R->lock);
    if (R->live)
        R->live[jobno] = sb;
    pthread_mutex_unlock(&R->lock);
}

static void cancel(run *R, int sig)
{
    atomic_store(&R->cancel_sig, sig);
    atomic_store(&R->stop, true);
    fprintf(R->human, "%s: stopping the workers and writing the reports\n", strsignal(sig));
    fflush(R->human);
    pthread_mutex_lock(&R->lock);
    for (size_t i = 0; R->live && i < R->njobs; i++) {
        int pid = R->live[i] ? hb_sandbox_worker_pid(R->live[i]) : -1;
        if (pid > 0)
            kill(pid, SIGKILL);
    }
    pthread_mutex_unlock(&R->lock);
}

void cli_test_wait_jobs(run *R)
{
    sigset_t m;
    cancel_mask(&m);
    int sfd = signalfd(-1, &m, SFD_CLOEXEC | SFD_NONBLOCK);
    while (atomic_load(&R->running) > 0) {
        struct pollfd p[2] = {{.fd = R->done_fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        int n = poll(p, sfd >= 0 ? 2 : 1, -1);
        if (n < 0 && errno != EINTR)
            break;
        struct signalfd_siginfo si;
        if (n > 0 && sfd >= 0 && (p[1].revents & POLLIN) &&
            read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            if (!atomic_load(&R->cancel_sig))
                cancel(R, (int)si.ssi_signo);
            else /* a second signal while stopping: kill the workers again */
                cancel(R, atomic_load(&R->cancel_sig));
        }
        if (n > 0 && (p[0].revents & POLLIN)) {
            uint64_t v;
            if (read(R->done_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                break;
        }
    }
    if (sfd >= 0) {
        /* A signal that came after the last case still cancels: the
         * reports are written either way, the exit code says so. */
        struct signalfd_siginfo si;
        if (!atomic_load(&R->cancel_sig) && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            atomic_store(&R->cancel_sig, (int)si.ssi_signo);
        close(sfd);
    }
}
