/* harness/denial_watch.c - see denial_watch.h.
 *
 * Each watch has a slot in a table; the helper's messages carry a key of
 * (generation, slot), not a pointer, so a message about a watch that was
 * stopped since finds a slot of another generation and is dropped: a
 * stopped watch is freed at once, never touched again. */
#include "denial_watch.h"
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keeper.h"
#include "process.h"
#include "security.h"
#include "thread.h"
#include "watch_msg.h"

#define HELPER_FD 3
/* A DEL's answer: the helper waits up to 5 s for a killed worker's exit. */
#define DEL_WAIT_MS 6000

struct hb_dwatch {
    pid_t owner; /* the process whose helper watches it */
    uint32_t slot;
    uint64_t key;
    int keep_pidfd; /* borrowed: the caller's (wrapper's, else the worker's) */
    bool answered; /* the helper answered ADD or DEL (with lock) */
    bool failed;   /* its answer to ADD was FAILED */
    _Atomic bool denied;
    _Atomic bool wrapper_lost; /* the wrapper died (and the worker was killed) */
    char what[96]; /* written before denied is set, never after */
};

struct slot {
    hb_dwatch *w; /* NULL: free */
    uint32_t gen;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* guards all below */
static pthread_cond_t answer_cv = PTHREAD_COND_INITIALIZER;
static pid_t helper_owner; /* the process whose helper runs; 0: none */
static int helper_fd = -1; /* our end of the helper's socket */
static pid_t helper_pid;
static pthread_t reader;   /* reads helper_fd; cancelled at its recv */
static bool helper_gone;   /* its socket ended: every watch is lost */
static struct slot *slots;
static uint32_t nslots, nwatching; /* slots in use */
static uint32_t nholds; /* managers alive in this process (hb__dwatch_hold) */

/* With lock held: the watch the key names, if it still exists. */
static hb_dwatch *by_key(uint64_t key)
{
    key--; /* keys start at 1: the helper's 0 is "no watch" */
    uint32_t idx = (uint32_t)key, gen = (uint32_t)(key >> 32);
    if (idx < nslots && slots[idx].w && slots[idx].gen == gen)
        return slots[idx].w;
    return NULL;
}

/* Reads the helper's messages until its socket ends (the helper died) or
 * it is cancelled (the last watch stopped). Its one cancellation point is
 * recv, where it never holds the lock. */
static void *reader_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (;;) {
        hb_watch_msg m;
        ssize_t n = recv(fd, &m, sizeof(m), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (n != (ssize_t)sizeof(m))
            continue;
        pthread_mutex_lock(&lock);
        hb_dwatch *w = by_key(m.key);
        if (w) {
            switch (m.type) {
            case HB_WATCH_DENIED:
                m.what[sizeof(m.what) - 1] = '\0';
                memcpy(w->what, m.what, sizeof(w->what));
                atomic_store_explicit(&w->denied, true, memory_order_release);
                break;
            case HB_WATCH_LOST:
                atomic_store_explicit(&w->wrapper_lost, true, memory_order_release);
                break;
            case HB_WATCH_ADDED:
            case HB_WATCH_FAILED:
            case HB_WATCH_DONE:
                w->answered = true;
                w->failed = m.type == HB_WATCH_FAILED;
                pthread_cond_broadcast(&answer_cv);
                break;
            default:
                break;
            }
        }
        pthread_mutex_unlock(&lock);
    }
    /* The helper is gone (or never ran: a worker binary without
     * --watch-helper): nobody watches these workers any more. Each one's
     * wrapper (unwrapped: the worker) is killed through the pidfd this
     * process kept, and the watch flagged, so its sandbox restarts it; a
     * worker that outlives its wrapper ends when the sandbox closes its
     * channel. A waiting ADD fails (the caller keeps its fds). */
    pthread_mutex_lock(&lock);
    if (helper_fd == fd) {
        helper_gone = true;
        for (uint32_t i = 0; i < nslots; i++) {
            hb_dwatch *w = slots[i].w;
            if (!w)
                continue;
            if (w->answered && w->keep_pidfd >= 0)
                (void)syscall(SYS_pidfd_send_signal, w->keep_pidfd, SIGKILL, NULL, 0);
            w->failed = !w->answered;
            w->answered = true;
            atomic_store_explicit(&w->wrapper_lost, true, memory_order_release);
        }
        pthread_cond_broadcast(&answer_cv);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* In a fork() child only the forking thread exists: start afresh there
 * (the parent's helper and watches are the parent's). */
static void after_fork_in_child(void)
{
    pthread_mutex_t m0 = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c0 = PTHREAD_COND_INITIALIZER;
    lock = m0;
    answer_cv = c0;
    if (helper_fd >= 0)
        close(helper_fd);
    helper_fd = -1;
    helper_owner = helper_pid = 0;
    helper_gone = false;
    slots = NULL; /* the parent's table: its copy is left alone */
    nslots = nwatching = nholds = 0;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, after_fork_in_child);
}

struct spawn_job {
    const char *path;
    int fd;
    pid_t pid;
    int err;
};

/* On the keeper thread (util/keeper.h): the helper dies with the process. */
static void spawn_helper(void *arg)
{
    struct spawn_job *j = arg;
    char fdarg[16];
    snprintf(fdarg, sizeof(fdarg), "%d", HELPER_FD);
    char *argv[] = {(char *)j->path, "--watch-helper", fdarg, NULL};
    hb_spawn_fd fds[] = {{j->fd, HELPER_FD}};
    hb_spawn sp = {.argv = argv, .fds = fds, .nfds = 1, .die_with_parent = true};
    j->err = hb__spawn(&sp, &j->pid, NULL, NULL);
}

/* With lock held: the helper of this process, started when there is none
 * (or the last one died). */
static int start_helper(const char *path)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_atfork);
    if (helper_owner == getpid() && !helper_gone)
        return 0;
    /* None yet, or the last one died: a new one (the dead one's watches
     * were flagged; their DELs get a DONE from the new one). */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    struct spawn_job j = {.path = path, .fd = sv[1], .pid = -1};
    int r = hb__keeper_run(spawn_helper, &j);
    close(sv[1]);
    if (r == 0)
        r = j.err;
    pthread_t t;
    if (r == 0 && (r = hb__thread_start(&t, true, 64 * 1024, reader_main,
                                        (void *)(intptr_t)sv[0])) < 0) {
        kill(j.pid, SIGKILL);
        (void)waitpid(j.pid, NULL, 0);
    }
    if (r < 0) {
        close(sv[0]);
        return r;
    }
    if (helper_owner == getpid() && helper_fd >= 0) { /* the dead one's */
        close(helper_fd);
        (void)waitpid(helper_pid, NULL, WNOHANG);
    }
    reader = t;
    helper_fd = sv[0];
    helper_pid = j.pid;
    helper_owner = getpid();
    helper_gone = false;
    return 0;
}

/* With lock held, when the last watch stopped: the reader is cancelled
 * (at its next recv; it is detached and holds nothing), the socket closed,
 * and the helper, which reads end of file and holds no worker by now,
 * reaped: a process that freed its sandboxes holds nothing of ours. */
static void stop_helper(void)
{
    pid_t pid = helper_pid;
    if (!helper_gone)
        pthread_cancel(reader);
    close(helper_fd);
    helper_fd = -1;
    helper_owner = helper_pid = 0;
    helper_gone = false;
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

/* With lock held: a free slot (the table grows by doubling). */
static int take_slot(hb_dwatch *w)
{
    for (uint32_t i = 0; i < nslots; i++)
        if (!slots[i].w) {
            slots[i].w = w;
            w->slot = i;
            return 0;
        }
    uint32_t n = nslots ? 2 * nslots : 64;
    struct slot *s = realloc(slots, n * sizeof(*s));
    if (!s)
        return -ENOMEM;
    memset(s + nslots, 0, (n - nslots) * sizeof(*s));
    slots = s;
    w->slot = nslots;
    slots[nslots].w = w;
    nslots = n;
    return 0;
}

/* With lock held: sends m (with fds) and waits for the helper's answer. */
static int ask(hb_dwatch *w, hb_watch_msg *m, const int *fds, size_t nfds)
{
    union {
        char buf[CMSG_SPACE(3 * sizeof(int))];
        struct cmsghdr align;
    } cm;
    struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
    struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds) {
        memset(&cm, 0, sizeof(cm));
        h.msg_control = cm.buf;
        h.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    w->answered = w->failed = false;
    ssize_t n;
    do
        n = sendmsg(helper_fd, &h, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(*m))
        return n < 0 ? -errno : -EIO;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += DEL_WAIT_MS / 1000;
    while (!w->answered)
        if (pthread_cond_timedwait(&answer_cv, &lock, &until) == ETIMEDOUT)
            return -ETIMEDOUT;
    return w->failed ? -EIO : 0;
}

int hb__dwatch_start(const char *helper_path, int listener, int kill_pidfd, int wrapper_pidfd,
                     hb_dwatch **out)
{
    hb_dwatch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    pthread_mutex_lock(&lock);
    int r = start_helper(helper_path);
    if (r == 0)
        r = take_slot(w);
    if (r == 0) {
        w->key = ((uint64_t)slots[w->slot].gen << 32 | w->slot) + 1;
        w->keep_pidfd = wrapper_pidfd >= 0 ? wrapper_pidfd : kill_pidfd;
        w->owner = getpid();
        nwatching++;
        hb_watch_msg m = {.type = HB_WATCH_ADD, .key = w->key};
        int fds[3];
        size_t n = 0;
        int mine[3] = {listener, kill_pidfd, wrapper_pidfd};
        for (int i = 0; i < 3; i++)
            if (mine[i] >= 0) {
                m.fds |= 1u << i;
                fds[n++] = mine[i];
            }
        r = ask(w, &m, fds, n);
        if (r < 0) {
            slots[w->slot].w = NULL;
            slots[w->slot].gen++;
            if (--nwatching == 0 && nholds == 0)
                stop_helper();
        }
    } else if (helper_owner == getpid() && nwatching == 0 && nholds == 0) {
        stop_helper();
    }
    pthread_mutex_unlock(&lock);
    if (r < 0) {
        free(w);
        return r;
    }
    /* The helper holds its own copies now. */
    if (listener >= 0)
        close(listener);
    *out = w;
    return 0;
}

bool hb__dwatch_denied(hb_dwatch *w, char *what, size_t len)
{
    if (!atomic_load_explicit(&w->denied, memory_order_acquire))
        return false;
    if (what && len)
        snprintf(what, len, "%s", w->what);
    return true;
}

bool hb__dwatch_news(hb_dwatch *w)
{
    return atomic_load_explicit(&w->denied, memory_order_acquire) ||
           atomic_load_explicit(&w->wrapper_lost, memory_order_acquire);
}

void hb__dwatch_stop(hb_dwatch *w, char *denied, size_t len)
{
    if (!w)
        return;
    pthread_mutex_lock(&lock);
    if (w->owner == helper_owner && w->owner == getpid() && w->slot < nslots &&
        slots[w->slot].w == w) {
        if (!helper_gone) {
            hb_watch_msg m = {.type = HB_WATCH_DEL, .key = w->key};
            (void)ask(w, &m, NULL, 0); /* the worker is gone when it answers */
        }
        slots[w->slot].w = NULL;
        slots[w->slot].gen++;
        if (--nwatching == 0 && nholds == 0)
            stop_helper();
    }
    pthread_mutex_unlock(&lock);
    /* Read after the DONE: a DENIED the helper sent before it is in. */
    if (denied && len && !hb__dwatch_denied(w, denied, len))
        denied[0] = '\0';
    free(w);
}

/* ---- the listener a client kept (no watcher), and the take after a call ---- */

/* The listener is readable: a plugin thread is stopped in a denied call.
 * Returns 1 when there was a denial (wc->denied names it), 0 when there
 * was nothing to read after all. */
int hb__wc_observe_denial(hb_wclient *wc, short revents)
{
    if (revents & POLLIN) {
        char what[sizeof(wc->denied)];
        int r = hb_sec_listener_take(wc->listener, what, sizeof(what));
        if (r == 0)
            return 0;
        /* A read error would leave the notification (and poll) pending
         * for ever: it is still a denial, only unnamed. */
        if (r < 0)
            snprintf(what, sizeof(what), "a system call (not named: %s)", strerror(-r));
        snprintf(wc->denied, sizeof(wc->denied), "%s", what);
        return 1;
    }
    /* POLLHUP: no process under the filter is left; the pidfd and the
     * channel tell the rest. Stop polling the listener. */
    close(wc->listener);
    wc->listener = -1;
    wc->has_listener = false;
    return 0;
}


int hb__wc_take_denial(hb_wclient *wc, char **err)
{
    wc->denial_pending = false;
    if (wc->dwatch && hb__dwatch_denied(wc->dwatch, NULL, 0)) {
        hb__wc_kill(wc); /* keeps the watcher's name of the call */
        return hb__wc_describe_death(wc, err, "ended:");
    }
    if (!wc->has_listener)
        return 0;
    struct pollfd p = {.fd = wc->listener, .events = POLLIN};
    int n;
    do
        n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0 || !hb__wc_observe_denial(wc, p.revents))
        return 0;
    hb__wc_kill(wc);
    return hb__wc_describe_death(wc, err, "ended:");
}

void hb__dwatch_hold(void)
{
    pthread_mutex_lock(&lock);
    nholds++;
    pthread_mutex_unlock(&lock);
}

void hb__dwatch_release(void)
{
    pthread_mutex_lock(&lock);
    if (nholds)
        nholds--;
    if (nholds == 0 && nwatching == 0 && helper_owner == getpid() && helper_fd >= 0)
        stop_helper();
    pthread_mutex_unlock(&lock);
}
