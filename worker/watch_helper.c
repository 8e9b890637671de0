/* worker/watch_helper.c - the manager's watch helper:
 *   hotbox-worker --watch-helper FD
 *
 * One per manager process: harness/denial_watch.c starts it with its first
 * watched worker and ends it (closing FD) once the process has neither a
 * watched worker nor a live manager (hb__dwatch_hold/release), so a
 * program that makes and frees one sandbox at a time keeps one helper. It
 * holds what the manager
 * would otherwise hold per sandbox to watch a worker: the seccomp listener,
 * the pidfd it kills the worker through, and a copy of its wrapper's
 * (bwrap's) pidfd; the manager keeps the channel socket and one pidfd. It
 * names a denied call from the kernel's notification and kills that worker
 * at once, kills a worker whose wrapper died, and says both on FD, a
 * SOCK_SEQPACKET socket to the manager (messages in denial_watch.h). It is
 * not confined: it runs no plugin code and only ever reads the kernel's
 * notifications and the manager's messages.
 *
 * When the manager process dies (exit, crash or SIGKILL) the helper dies
 * with it: it is forked on the keeper thread with a parent-death SIGKILL
 * (util/keeper.h), and nothing here runs. The workers go by their own
 * parent-death signals, forked on the same keeper (the worker's, or bwrap's
 * --die-with-parent for a wrapped one). Only when FD reads end of file
 * while the helper still runs (the manager closed it, or its socket ended
 * before the death signal arrived) does the loop below end: it then kills
 * every worker it still holds and exits. */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "security.h"
#include "watch_msg.h"

typedef struct hwatch {
    uint64_t key; /* the manager's; 0: free entry */
    int listener, kill_pidfd, wrapper_pidfd; /* -1: none */
} hwatch;

static hwatch *tab;
static size_t ntab;
static int ep = -1, ctl = -1;

static void send_msg(uint32_t type, uint64_t key, const char *what)
{
    hb_watch_msg m = {.type = type, .key = key};
    if (what)
        snprintf(m.what, sizeof(m.what), "%s", what);
    ssize_t n;
    do
        n = send(ctl, &m, sizeof(m), MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
}

static void kill_worker(hwatch *w)
{
    if (w->kill_pidfd >= 0)
        (void)syscall(SYS_pidfd_send_signal, w->kill_pidfd, SIGKILL, NULL, 0);
}

static void drop_fd(int *fd)
{
    if (*fd >= 0) {
        (void)epoll_ctl(ep, EPOLL_CTL_DEL, *fd, NULL);
        close(*fd);
    }
    *fd = -1;
}

static void free_entry(hwatch *w)
{
    drop_fd(&w->listener);
    drop_fd(&w->wrapper_pidfd);
    drop_fd(&w->kill_pidfd);
    w->key = 0;
}

static hwatch *find(uint64_t key)
{
    for (size_t i = 0; i < ntab; i++)
        if (tab[i].key == key)
            return &tab[i];
    return NULL;
}

static hwatch *new_entry(void)
{
    for (size_t i = 0; i < ntab; i++)
        if (!tab[i].key)
            return &tab[i];
    size_t n = ntab ? 2 * ntab : 64;
    hwatch *t = realloc(tab, n * sizeof(*t));
    if (!t)
        return NULL;
    memset(t + ntab, 0, (n - ntab) * sizeof(*t));
    size_t first = ntab;
    tab = t;
    ntab = n;
    return &tab[first];
}

/* epoll data: the entry's index times 4 plus what the fd is; UINT64_MAX:
 * the manager's socket. */
enum { TAG_LISTENER = 0, TAG_WRAPPER = 1, TAG_EXIT = 2 };

static int watch_fd(int fd, size_t idx, unsigned tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)idx << 2 | tag};
    return fd < 0 ? 0 : epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* DEL: kills the worker; DONE goes out once it is gone (its pidfd turns
 * readable: TAG_EXIT), so one slow exit holds up no other watch. */
static void release(hwatch *w)
{
    kill_worker(w);
    drop_fd(&w->listener);
    drop_fd(&w->wrapper_pidfd);
    if (w->kill_pidfd >= 0 && watch_fd(w->kill_pidfd, (size_t)(w - tab), TAG_EXIT) == 0) {
        w->key |= 1ull << 63; /* leaving: no new ADD may reuse its key */
        return;
    }
    send_msg(HB_WATCH_DONE, w->key, NULL);
    free_entry(w);
}

static void add(const hb_watch_msg *m, const int *fds, size_t nfds)
{
    int got[3] = {-1, -1, -1};
    size_t k = 0;
    for (int i = 0; i < 3; i++)
        if (m->fds & (1u << i))
            got[i] = k < nfds ? fds[k++] : -1;
    hwatch *w = m->key && !find(m->key) ? new_entry() : NULL;
    if (!w) {
        for (int i = 0; i < 3; i++)
            if (got[i] >= 0)
                close(got[i]);
        send_msg(HB_WATCH_FAILED, m->key, "the watch helper has no room");
        return;
    }
    *w = (hwatch){.key = m->key, .listener = got[0], .kill_pidfd = got[1], .wrapper_pidfd = got[2]};
    size_t idx = (size_t)(w - tab);
    if (watch_fd(w->listener, idx, TAG_LISTENER) < 0 ||
        watch_fd(w->wrapper_pidfd, idx, TAG_WRAPPER) < 0) {
        send_msg(HB_WATCH_FAILED, m->key, strerror(errno));
        free_entry(w);
        return;
    }
    send_msg(HB_WATCH_ADDED, m->key, NULL);
}

/* A message from the manager; false when it went away. */
static bool from_manager(void)
{
    hb_watch_msg m;
    int fds[3];
    size_t nfds = 0;
    union {
        char buf[CMSG_SPACE(sizeof(fds))];
        struct cmsghdr align;
    } cm;
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
    struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
                       .msg_controllen = sizeof(cm.buf)};
    ssize_t n;
    do
        n = recvmsg(ctl, &h, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return false;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (nfds < 3)
                    fds[nfds++] = fd;
                else
                    close(fd);
            }
        }
    if (n != (ssize_t)sizeof(m) || (h.msg_flags & MSG_CTRUNC)) {
        for (size_t i = 0; i < nfds; i++)
            close(fds[i]);
        /* Fds lost on the way (out of fds here): the manager keeps
         * watching that worker itself. */
        if (n == (ssize_t)sizeof(m) && m.type == HB_WATCH_ADD)
            send_msg(HB_WATCH_FAILED, m.key, "its fds did not arrive");
        return true;
    }
    if (m.type == HB_WATCH_ADD) {
        add(&m, fds, nfds);
        return true;
    }
    for (size_t i = 0; i < nfds; i++)
        close(fds[i]);
    if (m.type == HB_WATCH_DEL) {
        hwatch *w = m.key ? find(m.key) : NULL;
        if (w)
            release(w);
        else
            send_msg(HB_WATCH_DONE, m.key, NULL);
    }
    return true;
}

static void on_event(uint64_t data, uint32_t events)
{
    size_t idx = (size_t)(data >> 2);
    if (idx >= ntab || !tab[idx].key)
        return;
    hwatch *w = &tab[idx];
    if ((data & 3) == TAG_EXIT) { /* a released worker is gone */
        send_msg(HB_WATCH_DONE, w->key & ~(1ull << 63), NULL);
        free_entry(w);
        return;
    }
    if ((data & 3) == TAG_WRAPPER) { /* the wrapper died: the worker goes too */
        kill_worker(w);
        drop_fd(&w->wrapper_pidfd);
        send_msg(HB_WATCH_LOST, w->key, NULL);
        return;
    }
    if (events & EPOLLIN) {
        char what[sizeof(((hb_watch_msg *)0)->what)];
        int r = hb_sec_listener_take(w->listener, what, sizeof(what));
        if (r == 0)
            return;
        /* A read error would leave the notification (and epoll) pending
         * for ever: it is still a denial, only unnamed. */
        if (r < 0)
            snprintf(what, sizeof(what), "a system call (not named: %s)", strerror(-r));
        /* Said first, then killed: whoever sees the death (which it then
         * reports on a DEL) finds the DENIED ahead of the DONE. */
        send_msg(HB_WATCH_DENIED, w->key, what);
        kill_worker(w);
        drop_fd(&w->listener);
        return;
    }
    drop_fd(&w->listener); /* hung up: no process under the filter is left */
}

int hb__watch_helper_main(int fd)
{
    ctl = fd;
    /* Up to three fds per sandbox of the manager: as many as the hard
     * limit allows (an ADD whose fds do not fit is refused, and the
     * manager keeps those itself). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event cev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ctl, &cev) < 0) {
        fprintf(stderr, "hotbox-worker --watch-helper: epoll: %s\n", strerror(errno));
        return 1;
    }
    for (;;) {
        struct epoll_event ev[32];
        int n = epoll_wait(ep, ev, 32, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        /* The manager's message last: an entry it frees or fills is then
         * never the target of an event taken in the same batch. */
        bool manager = false;
        for (int i = 0; i < n; i++) {
            if (ev[i].data.u64 == UINT64_MAX)
                manager = true;
            else
                on_event(ev[i].data.u64, ev[i].events);
        }
        if (manager && !from_manager())
            break;
    }
    /* The manager is gone: no worker it started outlives it. */
    for (size_t i = 0; i < ntab; i++)
        if (tab[i].key)
            kill_worker(&tab[i]);
    return 0;
}
