/* tests/util/test_keeper.c - the keeper thread (util/keeper.h): work handed
 * to it runs on one thread that outlives the threads that asked, children
 * it forks have it (not the asking thread) as their parent thread, and a
 * forked child of the process gets a keeper of its own. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "keeper.h"

static void record_tid(void *arg)
{
    *(pid_t *)arg = (pid_t)syscall(SYS_gettid);
}

struct ask {
    pid_t asker, keeper;
    int rc;
};

static void *ask_from_thread(void *arg)
{
    struct ask *a = arg;
    a->asker = (pid_t)syscall(SYS_gettid);
    a->rc = hb__keeper_run(record_tid, &a->keeper);
    return NULL;
}

/* Forks a child that asks for SIGKILL when its parent thread exits, the
 * way a worker does, then waits for a byte that never comes. */
static void fork_pdeathsig_child(void *arg)
{
    pid_t *out = arg;
    pid_t p = fork();
    if (p == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;)
            pause();
    }
    *out = p;
}

static void *spawn_from_thread(void *arg)
{
    hb__keeper_run(fork_pdeathsig_child, arg);
    return NULL;
}

int main(void)
{
    /* Two short-lived threads: the same keeper, neither of them. */
    struct ask a = {0}, b = {0};
    pthread_t t;
    HB_CHECK_EQ(pthread_create(&t, NULL, ask_from_thread, &a), 0);
    HB_CHECK_EQ(pthread_join(t, NULL), 0);
    HB_CHECK_EQ(pthread_create(&t, NULL, ask_from_thread, &b), 0);
    HB_CHECK_EQ(pthread_join(t, NULL), 0);
    HB_CHECK_OK(a.rc);
    HB_CHECK_OK(b.rc);
    HB_CHECK(a.keeper > 0);
    HB_CHECK_EQ(a.keeper, b.keeper);
    HB_CHECK(a.keeper != a.asker && a.keeper != b.asker);

    /* A child forked for an exited thread still runs: its death signal
     * belongs to the keeper. */
    pid_t child = 0;
    HB_CHECK_EQ(pthread_create(&t, NULL, spawn_from_thread, &child), 0);
    HB_CHECK_EQ(pthread_join(t, NULL), 0);
    HB_CHECK(child > 0);
    int cfd = (int)syscall(SYS_pidfd_open, child, 0);
    HB_CHECK(cfd >= 0);
    struct pollfd p = {.fd = cfd, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, 300), 0); /* a thread-bound child would be dead already */
    kill(child, SIGKILL);
    int st;
    HB_CHECK_EQ(waitpid(child, &st, 0), child);
    close(cfd);

    /* A forked child of this process gets its own keeper. */
    pid_t sub = fork();
    HB_CHECK(sub >= 0);
    if (sub == 0) {
        pid_t k = 0;
        _exit(hb__keeper_run(record_tid, &k) == 0 && k > 0 && k != a.keeper ? 0 : 1);
    }
    int sfd = (int)syscall(SYS_pidfd_open, sub, 0);
    HB_CHECK(sfd >= 0);
    struct pollfd sp = {.fd = sfd, .events = POLLIN};
    HB_CHECK_EQ(poll(&sp, 1, 10000), 1);
    HB_CHECK_EQ(waitpid(sub, &st, 0), sub);
    HB_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(sfd);
    printf("PASS keeper\n");
    return 0;
}
