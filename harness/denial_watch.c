/* harness/denial_watch.c - see denial_watch.h.
 *
 * Each watch has a slot in a table; epoll carries (generation, slot), not
 * a pointer, so an event the thread took before a watch was stopped finds
 * a slot of another generation and is dropped: a stopped watch is freed
 * at once, never touched again. */
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
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "security.h"
#include "thread.h"

struct hb_dwatch {
    int listener;
    int kill_pidfd;
    int wrapper_pidfd; /* borrowed: its readability means the wrapper died; -1: none */
    bool wrapper_in_epoll;
    pid_t owner; /* the process whose thread watches it */
    uint32_t slot;
    bool in_epoll;
    _Atomic bool denied;
    _Atomic bool wrapper_lost; /* the wrapper died (and the worker was killed) */
    char what[96]; /* written before denied is set, never after */
};

struct slot {
    hb_dwatch *w; /* NULL: free */
    uint32_t gen;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* guards all below */
static pid_t thread_pid; /* the process whose thread runs; 0: none yet */
static pthread_t thread;
static int epfd = -1;
static struct slot *slots;
static uint32_t nslots, nwatching; /* slots in use */

static void forget(hb_dwatch *w)
{
    if (w->in_epoll)
        (void)epoll_ctl(epfd, EPOLL_CTL_DEL, w->listener, NULL);
    w->in_epoll = false;
}

static void forget_all(hb_dwatch *w)
{
    forget(w);
    if (w->wrapper_in_epoll)
        (void)epoll_ctl(epfd, EPOLL_CTL_DEL, w->wrapper_pidfd, NULL);
    w->wrapper_in_epoll = false;
}

/* With lock held: the worker's wrapper (bwrap) died. The worker goes
 * too: a root manager's jailed worker gets no parent-death signal from
 * its root bwrap, and a worker nobody supervises must not keep serving. */
static void wrapper_died(hb_dwatch *w)
{
    (void)syscall(SYS_pidfd_send_signal, w->kill_pidfd, SIGKILL, NULL, 0);
    atomic_store_explicit(&w->wrapper_lost, true, memory_order_release);
    if (w->wrapper_in_epoll)
        (void)epoll_ctl(epfd, EPOLL_CTL_DEL, w->wrapper_pidfd, NULL);
    w->wrapper_in_epoll = false;
}

/* With lock held: a readable or hung-up listener. */
static void handle(hb_dwatch *w, uint32_t events)
{
    if (events & EPOLLIN) {
        char what[sizeof(w->what)];
        int r = hb_sec_listener_take(w->listener, what, sizeof(what));
        if (r == 0)
            return;
        /* A read error would leave the notification (and epoll) pending
         * for ever: it is still a denial, only unnamed. */
        if (r < 0)
            snprintf(what, sizeof(what), "a system call (not named: %s)", strerror(-r));
        memcpy(w->what, what, sizeof(what));
        atomic_store_explicit(&w->denied, true, memory_order_release);
        /* The worker ends before it says anything more; its death is what
         * the caller sees (life word, pidfd). */
        (void)syscall(SYS_pidfd_send_signal, w->kill_pidfd, SIGKILL, NULL, 0);
        forget(w);
        return;
    }
    /* EPOLLHUP: no process under the filter is left. */
    forget(w);
}

static void *watch_main(void *arg)
{
    int ep = (int)(intptr_t)arg;
    struct epoll_event ev[32];
    for (;;) {
        int n = epoll_wait(ep, ev, 32, -1); /* where a stop cancels it */
        if (n < 0)
            continue; /* EINTR (every signal is blocked here: not expected) */
        pthread_mutex_lock(&lock);
        for (int i = 0; i < n; i++) {
            uint32_t lo = (uint32_t)ev[i].data.u64, gen = (uint32_t)(ev[i].data.u64 >> 32);
            uint32_t idx = lo >> 1;
            if (idx < nslots && slots[idx].w && slots[idx].gen == gen) {
                if (lo & 1)
                    wrapper_died(slots[idx].w);
                else
                    handle(slots[idx].w, ev[i].events);
            }
        }
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

/* In a fork() child only the forking thread exists: start afresh there
 * (its inherited watches belong to the parent's thread). */
static void after_fork_in_child(void)
{
    pthread_mutex_t m0 = PTHREAD_MUTEX_INITIALIZER;
    lock = m0;
    if (epfd >= 0)
        close(epfd);
    epfd = -1;
    thread_pid = 0;
    slots = NULL; /* the parent's table: its copy is left alone */
    nslots = nwatching = 0;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, after_fork_in_child);
}

/* With lock held. */
static int start_thread(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_atfork);
    if (thread_pid == getpid())
        return 0;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return -errno;
    pthread_t t;
    int r = hb__thread_start(&t, true, 64 * 1024, watch_main, (void *)(intptr_t)ep);
    if (r < 0) {
        close(ep);
        return r;
    }
    epfd = ep;
    thread = t;
    thread_pid = getpid();
    return 0;
}

/* With lock held, when the last watch stopped: the thread and its epoll
 * fd end (a process that freed its sandboxes holds nothing of ours). The
 * thread is cancelled at its next epoll_wait (a cancellation point, and
 * the only one it reaches: it never holds the lock there); it is detached,
 * so nothing waits for it. */
static void stop_thread(void)
{
    pthread_cancel(thread);
    close(epfd);
    epfd = -1;
    thread_pid = 0;
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

int hb__dwatch_start(int listener, int kill_pidfd, int wrapper_pidfd, hb_dwatch **out)
{
    hb_dwatch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->listener = listener;
    w->kill_pidfd = kill_pidfd;
    w->wrapper_pidfd = wrapper_pidfd;
    pthread_mutex_lock(&lock);
    int r = start_thread();
    if (r == 0)
        r = take_slot(w);
    if (r == 0) {
        uint64_t key = (uint64_t)slots[w->slot].gen << 32 | (uint64_t)w->slot << 1;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = key};
        struct epoll_event wev = {.events = EPOLLIN, .data.u64 = key | 1};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev) < 0) {
            r = -errno;
            slots[w->slot].w = NULL;
        } else if (wrapper_pidfd >= 0 &&
                   epoll_ctl(epfd, EPOLL_CTL_ADD, wrapper_pidfd, &wev) < 0) {
            r = -errno;
            (void)epoll_ctl(epfd, EPOLL_CTL_DEL, listener, NULL);
            slots[w->slot].w = NULL;
        } else {
            w->wrapper_in_epoll = wrapper_pidfd >= 0;
        }
    }
    if (r == 0) {
        w->in_epoll = true;
        w->owner = getpid();
        nwatching++;
    } else if (thread_pid == getpid() && nwatching == 0) {
        stop_thread();
    }
    pthread_mutex_unlock(&lock);
    if (r < 0) {
        free(w);
        return r;
    }
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

void hb__dwatch_stop(hb_dwatch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&lock);
    if (w->owner == thread_pid && w->owner == getpid() && w->slot < nslots &&
        slots[w->slot].w == w) {
        forget_all(w);
        slots[w->slot].w = NULL;
        slots[w->slot].gen++;
        if (--nwatching == 0)
            stop_thread();
    }
    pthread_mutex_unlock(&lock);
    close(w->listener);
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
