/* harness/worker_client.c - starting a worker and talking to it.
 *
 * The worker is fork+exec'ed (never a bare fork of the manager: the manager
 * may hold locks, threads and open databases). The child asks for SIGKILL
 * when the manager dies and re-checks its parent right after, which closes
 * the race where the manager died before the prctl. The fork happens on
 * the process's keeper thread (util/keeper.h): the death signal fires when
 * the forking thread exits, and the API may be called from threads that
 * exit long before the sandbox is freed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guest.h"
#include "denial_watch.h"
#include "harness.h"
#include "keeper.h"
#include "process.h"
#include "ring.h"
#include "monitor.h"
#include "jail.h"
#include "security.h"

#define HB_WORKER_FD 3
#define HB_INFO_FD 4 /* bwrap's --info-fd, in the child only */
#define HB_RING_FD 5 /* the call ring's memfd (proto/ring.h), in the child only */
#define HB_WORKER_EXIT_WAIT_MS 5000 /* a killed worker's exit, at most */
#define HB_WRAPPER_EXIT_WAIT_MS 500 /* bwrap's exit after its worker's, at most */

void hb__wc_reset(hb_wclient *wc)
{
    /* The watcher's word on a denial is kept for hb__wc_describe_death, and the
     * watch ends before the pidfd it kills through is closed. */
    if (wc->dwatch) {
        char what[sizeof(wc->denied)];
        hb__dwatch_stop(wc->dwatch, what, sizeof(what));
        if (what[0] && !wc->denied[0])
            memcpy(wc->denied, what, sizeof(what));
        wc->dwatch = NULL;
    }
    if (wc->fd >= 0)
        close(wc->fd);
    if (wc->pidfd >= 0)
        close(wc->pidfd);
    if (wc->worker_pidfd >= 0) {
        /* The real worker goes with its client, whatever happened to its
         * wrapper (a killed bwrap does not take a root manager's jailed
         * worker with it: no parent-death signal crosses the uid change). */
        (void)syscall(SYS_pidfd_send_signal, wc->worker_pidfd, SIGKILL, NULL, 0);
        /* ... and is gone when we return: a caller (hb_sandbox_free, a
         * restart) must not see the old worker still exiting. Bounded: a
         * killed process only takes long to exit when it has much memory to
         * give back. */
        (void)hb_mon_wait_exit(wc->worker_pidfd, HB_WORKER_EXIT_WAIT_MS);
        close(wc->worker_pidfd);
    }
    if (wc->has_listener)
        close(wc->listener);
    wc->has_listener = false;
    hb__ring_unmap(wc->ring);
    wc->ring = NULL;
    free(wc->ring_rep);
    wc->ring_rep = NULL;
    wc->ring_pending = wc->ring_sleeping = false;
    wc->fd = wc->pidfd = wc->worker_pidfd = wc->listener = -1;
    wc->pid = 0;
    wc->stopping = false;
    wc->worker_pid = 0;
    if (!wc->guest_reusable) {
        hb__guest_free(wc->guest);
        wc->guest = NULL;
    }
}

/* bwrap reports a worker killed by signal n as its own exit status 128+n;
 * turn that back into the wait status of a signal death, so crashes read
 * the same wrapped or not. (A plugin calling exit(128+n) under bwrap reads
 * as signal n: the worker's own statuses are 0, 1, 2 and 64.) */
int hb__wc_unwrap_status(const hb_wclient *wc, int st)
{
    if (wc->wrapped && WIFEXITED(st) && WEXITSTATUS(st) > 128 && WEXITSTATUS(st) < 128 + 65)
        return WEXITSTATUS(st) - 128;
    return st;
}

void hb__wc_kill(hb_wclient *wc)
{
    if (wc->pid > 0) {
        int st = 0;
        if (hb_mon_kill_reap(wc->pid, wc->pidfd, &st) == 0) {
            wc->wait_status = hb__wc_unwrap_status(wc, st);
            wc->reaped = true;
        }
    }
    hb__wc_reset(wc);
}


/* A worker that died between requests may have said where it faulted
 * (HB_MSG_FAULT) just before: read what it left on the channel. It should
 * be dead, but only its wrapper may be: reads are bounded all the same. */
static void drain_fault(hb_wclient *wc, int wait_ms)
{
    for (;;) {
        struct pollfd p = {.fd = wc->fd, .events = POLLIN};
        if (wc->fd < 0 || poll(&p, 1, wait_ms) <= 0 || !(p.revents & POLLIN))
            return;
        hb_frame f;
        if (hb__wire_recv_until(wc->fd, HB_WIRE_MAX_FRAME, hb__now_ns() + 200000000ull, &f,
                                NULL) < 0)
            return;
        if (f.type == HB_MSG_FAULT)
            hb__wc_record_fault(wc, &f);
        hb__frame_release(&f);
    }
}

static void reap_dead(hb_wclient *wc)
{
    /* A ring CALL whose bell the worker never took never ran. */
    if (wc->ring_pending && wc->ring)
        wc->undelivered = atomic_load(&wc->ring->taken) != wc->ring_bell;
    int st = 0;
    wc->death_seen_ns = hb__now_ns();
    if (hb_mon_reap(wc->pid, wc->pidfd, 2000, &st) == 0) {
        wc->reaped_ns = hb__now_ns();
        wc->wait_status = hb__wc_unwrap_status(wc, st);
        wc->reaped = true;
        wc->vm_died = wc->guest != NULL; /* QEMU itself exited */
        drain_fault(wc, 0);
        hb__wc_reset(wc);
        return;
    }
    /* Closed its channel but did not exit: treat as dead, make it so. */
    hb__wc_kill(wc);
}

/* A guest worker's end, as its agent reported it (QEMU keeps the port open:
 * no EOF). Its FAULT frames travel on the worker's own port: read them,
 * bounded, then the VM goes. Returns true when the worker is gone. */
static bool guest_reaped(hb_wclient *wc)
{
    int st = 0;
    char denied[sizeof(wc->denied)];
    int r = hb__guest_take_exit(wc->guest, &st, denied, sizeof(denied));
    if (r == 0)
        return false;
    if (r < 0) { /* the agent's channel broke: the VM is as good as dead */
        hb__wc_kill(wc);
        wc->vm_died = true;
        return true;
    }
    drain_fault(wc, 100);
    hb__guest_park(wc); /* the VM lives: a restart starts a worker in it */
    hb__wc_reset(wc);
    wc->wait_status = st;
    wc->reaped = true;
    snprintf(wc->denied, sizeof(wc->denied), "%s", denied);
    return true;
}

/* Receives HB_MSG_LISTENER, the worker's first frame under a seccomp
 * profile, and keeps the listener it carries. */
static int take_listener(hb_wclient *wc, unsigned timeout_ms, char **err)
{
    struct pollfd p[2] = {{.fd = wc->fd, .events = POLLIN}, {.fd = wc->pidfd, .events = POLLIN}};
    int n;
    do
        n = poll(p, 2, (int)timeout_ms);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return hb__seterr(err, -errno, "poll: %s", strerror(errno));
    if (n == 0)
        return hb__seterr(err, HB_EHUNG, "no seccomp listener within %u ms", timeout_ms);
    if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
        return hb__seterr(err, HB_ECRASHED, "it exited before passing its seccomp listener");
    hb_frame f;
    int lfd = -1;
    int r = hb__wire_recv_fd(wc->fd, HB_PROTO_LISTENER_LEN, &f, &lfd);
    if (r == -EPIPE || r == -ECONNRESET)
        return hb__seterr(err, HB_ECRASHED, "it exited before passing its seccomp listener");
    if (r < 0)
        return hb__seterr(err, HB_EPROTO, "no seccomp listener: %s", strerror(-r));
    bool ok = f.type == HB_MSG_LISTENER && f.id == 0 && lfd >= 0;
    hb_proto_listener li = {0};
    ok = ok && hb__proto_listener_decode(f.payload, f.len, &li) == 0;
    hb__frame_release(&f);
    if (ok && (r = hb_sec_listener_check(lfd)) < 0)
        ok = false;
    if (!ok) {
        if (lfd >= 0)
            close(lfd);
        return hb__seterr(err, HB_EPROTO,
                          "its first frame is not the seccomp listener (type %u)", f.type);
    }
    wc->listener = lfd;
    wc->has_listener = true;
    /* strict's W^X for files needs Landlock; say so when it is missing. */
    const hb_profile_spec *spec = hb_sec_profile(wc->profile);
    if (spec && spec->deny_wx && wc->wrapped && !(li.flags & HB_LISTENER_FILES_LOCKED) &&
        !wc->warning[0])
        snprintf(wc->warning, sizeof(wc->warning),
                 "Landlock unavailable: under the %s profile, files the plugin writes can "
                 "still be mapped executable (memory W^X still holds)",
                 spec->name);
    return 0;
}

/* What the child needs between fork and exec (built before the fork: the
 * child may not allocate). */
struct fork_job {
    char **argv;
    const hb_limits *limits;
    char **envp;       /* the jail's minimal environment */
    bool drop_root;    /* a root manager's worker runs as the jail's host uid */
    int userns_fd;     /* with drop_root: the jail's root-owned user namespace */
    int channel, outfd, cgfd;
    int info_fd;       /* bwrap's --info-fd, or -1 when not wrapped */
    int ring_fd;       /* the call ring's memfd, or -1 */
    pid_t pid; /* out: the child, or -1 with err and why */
    int err;
    char *why;
};

/* Runs on the keeper thread (util/keeper.h), so the worker's death signal
 * follows the manager process, not the thread that asked for the worker.
 * A root manager's child stays root (bwrap joins the jail's root-owned
 * user namespace, handed over as fd HB_JAIL_USERNS_FD, and becomes the
 * jail's host uid there, jail.h). */
static void fork_worker(void *arg)
{
    struct fork_job *j = arg;
    hb_spawn_fd fds[6];
    size_t n = 0;
    fds[n++] = (hb_spawn_fd){j->channel, HB_WORKER_FD};
    if (j->outfd >= 0) {
        fds[n++] = (hb_spawn_fd){j->outfd, STDOUT_FILENO};
        fds[n++] = (hb_spawn_fd){j->outfd, STDERR_FILENO};
    }
    if (j->info_fd >= 0)
        fds[n++] = (hb_spawn_fd){j->info_fd, HB_INFO_FD};
    if (j->drop_root)
        fds[n++] = (hb_spawn_fd){j->userns_fd, HB_JAIL_USERNS_FD};
    if (j->ring_fd >= 0)
        fds[n++] = (hb_spawn_fd){j->ring_fd, HB_RING_FD};
    hb_spawn sp = {.argv = j->argv, .envp = j->envp, .fds = fds, .nfds = n,
                   .limits = j->limits, .die_with_parent = true,
                   .in_cgroup = j->cgfd >= 0, .cgroup_dir = j->cgfd};
    int r = hb__spawn(&sp, &j->pid, NULL, &j->why);
    if (r < 0) {
        j->err = -r;
        j->pid = -1;
    }
}

static int spawn_local(hb_wclient *wc, const hb_wspawn *how, bool *wrapped_out, char **err);

int hb__wc_spawn(hb_wclient *wc, const hb_wspawn *how, char **err)
{
    if (how->guest)
        return hb__guest_spawn(wc, how, err);
    bool wrapped = false;
    int r = spawn_local(wc, how, &wrapped, err);
    /* A jailed worker that did not start may have met a bwrap that stopped
     * working since its verdict was cached (security/jail.h): that verdict
     * is probed again, and when it no longer holds, the worker starts as an
     * uncached probe would have started it (the profile's fallback, with
     * its warning), never on the stale word. */
    if (r < 0 && wrapped && hb_jail_recheck()) {
        if (err) {
            free(*err);
            *err = NULL;
        }
        r = spawn_local(wc, how, &wrapped, err);
    }
    return r;
}

static int spawn_local(hb_wclient *wc, const hb_wspawn *how, bool *wrapped_out, char **err)
{
    const char *worker_path = how->worker_path;
    uint64_t max_state = how->max_state, ts[HB_WS_COUNT + 1] = {hb__now_ns()};
    int sv[2];
    if (access(worker_path, X_OK) < 0)
        return hb__seterr(err, HB_EWORKER, "worker binary %s: %s (set HOTBOX_WORKER)",
                          worker_path, strerror(errno));
    /* The command line is built before fork: the child may not allocate.
     * It is bwrap around the worker when the profile wants namespaces and
     * this machine has them (security/wrap.c). */
    char *worker_src = NULL;
    int r;
    if (how->objects_view &&
        (r = hb_jail_view_worker(how->objects_view, worker_path, &worker_src, err)) < 0)
        return r;
    /* bwrap reports the worker's host pid on this pipe (--info-fd). */
    int info[2] = {-1, -1};
    if (pipe2(info, O_CLOEXEC | O_NONBLOCK) < 0) {
        free(worker_src);
        return hb__seterr(err, HB_EWORKER, "pipe: %s", strerror(errno));
    }
    /* The call ring; without one (no memfd) calls take the socket. Above
     * every fd the child dup2()s onto. */
    hb_ring *ring = NULL;
    int ring_fd = -1, ring_tmp;
    if (hb__ring_create(&ring_tmp, &ring) == 0) {
        ring_fd = fcntl(ring_tmp, F_DUPFD_CLOEXEC, 10);
        close(ring_tmp);
        if (ring_fd < 0) {
            hb__ring_unmap(ring);
            ring = NULL;
        }
    }
    hb_sec_spawn sp = {
        .worker_path = worker_path,
        .profile = how->profile,
        .channel_fd = HB_WORKER_FD,
        .objects_dir = how->objects_dir,
        .scratch_dir = how->scratch_dir,
        .objects_src = how->objects_view,
        .worker_src = worker_src,
        .info_fd = HB_INFO_FD,
        .ring_fd = ring_fd >= 0 ? HB_RING_FD : 0,
        .env = how->env,
        .data_dirs = how->data_dirs,
        .preload = how->preload,
        .write_dir = how->write_dir,
        .inst_env = how->inst_env,
        .allow_read = how->allow[0],
        .allow_write = how->allow[1],
        .allow_unix = how->allow[2],
    };
    hb_sec_cmd cmd = {0};
    r = hb_sec_wrap(&sp, &cmd, err);
    free(worker_src);
    if (r < 0) {
        close(info[0]);
        close(info[1]);
        goto fail_ring;
    }
    char **argv = cmd.argv;
    bool wrapped = cmd.wrapped;
    *wrapped_out = wrapped;
    /* Above every fd the child dup2()s onto. */
    int info_w = fcntl(info[1], F_DUPFD_CLOEXEC, 10);
    close(info[1]);
    if (info_w < 0) {
        r = hb__seterr(err, HB_EWORKER, "fcntl: %s", strerror(errno));
        goto fail_argv;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        r = hb__seterr(err, HB_EWORKER, "socketpair: %s", strerror(errno));
        goto fail_argv;
    }
    int outfd = -1;
    if (how->output_path) {
        outfd = open(how->output_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (outfd < 0) {
            int e = errno;
            close(sv[0]);
            close(sv[1]);
            r = hb__seterr(err, -e, "worker output file %s: %s", how->output_path, strerror(e));
            goto fail_argv;
        }
    }
    /* The worker joins its sandbox's cgroup (when there is one) before it
     * runs a single instruction of its own. */
    int cgfd = how->cgroup ? hb_cgroup_dir_fd(how->cgroup) : -1;
    hb_limits lim = how->limits;
    hb_sec_limits_host(how->profile, &lim); /* a thread bomb keeps to its share */
    struct fork_job job = {
        .argv = argv, .envp = cmd.envp, .drop_root = cmd.drop_root,
        .userns_fd = cmd.userns_fd, .limits = &lim,
        .channel = sv[1], .outfd = outfd, .cgfd = cgfd, .info_fd = wrapped ? info_w : -1,
        .ring_fd = ring_fd, .pid = -1, .err = 0,
    };
    ts[HB_WS_FORK] = hb__now_ns();
    int kr = hb__keeper_run(fork_worker, &job);
    pid_t pid = job.pid;
    if (kr < 0 || pid < 0) {
        int e = kr < 0 ? -kr : job.err;
        close(sv[0]);
        close(sv[1]);
        if (outfd >= 0)
            close(outfd);
        if (cgfd >= 0)
            close(cgfd);
        if (kr < 0)
            r = hb__seterr(err, HB_EWORKER, "starting the keeper thread: %s", strerror(e));
        else
            r = hb__seterr(err, HB_EWORKER, "%s", job.why ? job.why : strerror(e));
        free(job.why);
        goto fail_argv;
    }
    argv = NULL;
    close(info_w);
    info_w = -1;
    close(sv[1]);
    if (outfd >= 0)
        close(outfd);
    if (cgfd >= 0)
        close(cgfd);
    if (ring_fd >= 0)
        close(ring_fd);
    memset(wc, 0, sizeof(*wc));
    wc->ring = ring;
    wc->spin_ns = HB_RING_SPIN_MAX_NS;
    wc->store = how->store;
    wc->worker_pidfd = -1;
    wc->listener = -1;
    wc->pid = pid;
    wc->fd = sv[0];
    wc->next_id = 1;
    wc->profile = how->profile;
    wc->limits = how->limits;
    wc->wrapped = wrapped;
    wc->run_as = cmd.run_as;
    if (cmd.warning)
        snprintf(wc->warning, sizeof(wc->warning), "%s", cmd.warning);
    hb_sec_cmd_release(&cmd);
    wc->pidfd = hb_mon_pidfd_open(pid);
    if (wc->pidfd < 0) {
        close(info[0]);
        hb__wc_kill(wc);
        return hb__seterr(err, HB_EWORKER, "pidfd_open: %s", strerror(-wc->pidfd));
    }
    /* Under a seccomp profile the worker's first frame carries the filter's
     * listener: denials are read there, by us. */
    const hb_profile_spec *spec = hb_sec_profile(how->profile);
    /* Then the handshake: proves the binary is a hotbox worker of our protocol. */
    ts[HB_WS_CONFINE] = hb__now_ns();
    if (!(spec && spec->seccomp && (r = take_listener(wc, 10000, err)) < 0)) {
        ts[HB_WS_HELLO] = hb__now_ns();
        r = hb__wc_hello(wc, max_state, 10000, NULL, err);
    }
    if (r < 0) {
        char *inner = *err;
        *err = NULL;
        hb__seterr(err, HB_EWORKER, "worker %s did not start%s: %s", worker_path,
                   wrapped ? " under bwrap (its messages are on the worker's stderr)"
                   : wc->run_as ? " (without the jail it must first drop root to the jail's "
                                  "host uid; its messages are on the worker's stderr)"
                                : "",
                   inner ? inner : hb_strerror(r));
        free(inner);
        close(info[0]);
        hb__wc_kill(wc);
        return HB_EWORKER;
    }
    /* The worker answered, so bwrap has written its child's pid: the pid
     * a developer gives to gdb -p, and whose memory the usage shows. */
    wc->worker_pid = pid;
    ts[HB_WS_WATCH] = hb__now_ns();
    pid_t inner = 0;
    if (wrapped && hb_jail_child_pid(info[0], &inner) == 0) {
        wc->worker_pid = inner;
        /* Its death is the worker's death even while bwrap (which holds
         * the channel open) has not noticed yet. */
        int wfd = hb_mon_pidfd_open(inner);
        wc->worker_pidfd = wfd >= 0 ? wfd : -1;
    }
    close(info[0]);
    /* From here on the process's denial watcher reads the listener, and
     * calls need not ask it (they ask the ring's life word). If it cannot,
     * the listener stays here and every call polls it, as before. */
    /* The watch helper holds the listener and the pidfd that kills the
     * worker (bwrap's too, as a copy): this process keeps the socket and
     * one pidfd per sandbox. */
    if ((wc->has_listener || wc->worker_pidfd >= 0) &&
        hb__dwatch_start(worker_path, wc->has_listener ? wc->listener : -1,
                         wc->worker_pidfd >= 0 ? wc->worker_pidfd : wc->pidfd,
                         wc->worker_pidfd >= 0 ? wc->pidfd : -1, &wc->dwatch) == 0) {
        wc->listener = -1;
        wc->has_listener = false;
        if (wc->worker_pidfd >= 0)
            close(wc->worker_pidfd);
        wc->worker_pidfd = -1;
    }
    ts[HB_WS_COUNT] = hb__now_ns();
    for (int k = 0; k < HB_WS_COUNT; k++)
        wc->start_ns[k] = ts[k + 1] - ts[k];
    return 0;
fail_argv:
    hb_sec_cmd_release(&cmd);
    if (info_w >= 0)
        close(info_w);
    close(info[0]);
fail_ring:
    if (ring_fd >= 0)
        close(ring_fd);
    hb__ring_unmap(ring);
    return r;
}

int hb__wc_hello(hb_wclient *wc, uint64_t max_state, unsigned timeout_ms, uint32_t *pid,
                 char **err)
{
    hb_wbuf w = {0};
    hb_proto_hello hello = {HB_WIRE_MAGIC_HELLO, max_state};
    hb__proto_hello_encode(&w, hb__wc_next_id(wc), &hello); /* failure: hb__wc_request says */
    hb_frame reply;
    int r = hb__wc_request(wc, &w, timeout_ms, NULL, NULL, &reply, err);
    hb__wire_release(&w);
    if (r < 0)
        return r;
    hb_proto_hello_ok hok = {0};
    int hr = hb__proto_hello_ok_decode(reply.payload, reply.len, &hok);
    hb__frame_release(&reply);
    if (hr < 0 || hok.magic != HB_WIRE_MAGIC_HELLO)
        return hb__seterr(err, HB_EPROTO, "it answered the handshake with the wrong magic");
    if (pid)
        *pid = hok.pid;
    return 0;
}

uint32_t hb__wc_next_id(hb_wclient *wc)
{
    return wc->next_id++;
}

/* The ring's life word answers without a system call (proto/ring.h);
 * without it (no ring, a word that says "dead", a listener still read
 * here) one poll asks both processes whether they run and the seccomp
 * listener whether a plugin thread waits in a denied call; the next CALL
 * reports that denial (hb__wc_call) before it is posted. wrapper_later:
 * a wrapped worker's bwrap is left to the call about to be made, which
 * asks it while the worker serves (hb__wc_call). */
static bool alive(hb_wclient *wc, bool wrapper_later)
{
    if (wc->pid <= 0)
        return false;
    /* No system call while the kernel's word says the worker runs and the
     * denial watcher saw nothing (a stopped plugin thread or a dead bwrap
     * makes it kill the worker, which the word then says). A wrapped
     * worker's bwrap is asked too (one fd): its death is news the word
     * does not carry yet (the watcher kills the worker then, but after
     * whoever saw bwrap go may already call; a root manager's jailed
     * worker gets no parent-death signal from its bwrap: the uid differs,
     * and bwrap has dropped the capability that would let the signal
     * through). A call asks after posting instead (wrapper_later). */
    if (wc->ring && !wc->has_listener && hb__ring_peer_alive(wc->ring) &&
        !(wc->dwatch && hb__dwatch_news(wc->dwatch)) &&
        (!wc->wrapped || wrapper_later || hb_mon_alive(wc->pidfd)))
        return true;
    struct pollfd p[3] = {{.fd = wc->pidfd, .events = POLLIN},
                          {.fd = wc->worker_pidfd, .events = POLLIN},
                          {.fd = wc->has_listener ? wc->listener : -1, .events = POLLIN}};
    if (wc->guest)
        p[2].fd = hb__guest_event_fd(wc->guest);
    /* A wrapped worker's own pidfd is the watch helper's: when the life
     * word says it died, bwrap (which exits with it) is given a moment to
     * say so, so its death is seen here and not by the next request. */
    int wait_ms = 0;
    if (wc->wrapped && wc->worker_pidfd < 0 && wc->ring &&
        atomic_load_explicit(&wc->ring->life, memory_order_relaxed) != 0 &&
        !hb__ring_peer_alive(wc->ring))
        wait_ms = HB_WRAPPER_EXIT_WAIT_MS;
    int n;
    do
        n = poll(p, 3, wait_ms);
    while (n < 0 && errno == EINTR);
    if (wc->guest && n > 0 && p[2].revents && !p[0].revents)
        return !guest_reaped(wc);
    if (n == 0 || (n > 0 && !p[0].revents && !p[1].revents)) {
        wc->denial_pending = p[2].revents != 0;
        return true;
    }
    if (n < 0 && hb_mon_alive(wc->pidfd) &&
        (wc->worker_pidfd < 0 || hb_mon_alive(wc->worker_pidfd)))
        return true;
    reap_dead(wc);
    return false;
}

bool hb__wc_alive(hb_wclient *wc)
{
    return alive(wc, false);
}

bool hb__wc_alive_for_call(hb_wclient *wc)
{
    return alive(wc, true);
}

int hb__wc_request(hb_wclient *wc, hb_wbuf *req, unsigned timeout_ms, hb_interim_fn interim,
                   void *ud, hb_frame *reply, char **err)
{
    wc->undelivered = true;
    if (wc->pid <= 0)
        return hb__seterr(err, HB_ECRASHED, "no worker is running");
    wc->denied[0] = 0;
    wc->fault.valid = false;
    int r = hb__wire_finish(req);
    if (r < 0)
        return hb__seterr(err, r == -EMSGSIZE ? HB_ELIMIT : r,
                          "request too large for the worker channel (%zu bytes)", req->len);
    uint32_t id = hb__wire_frame_id(req);
    /* The send counts against the request's deadline: a worker that does
     * not read (stopped, or plugin code holding it) cannot hold us. */
    uint64_t deadline = hb__now_ns() + (uint64_t)timeout_ms * 1000000ull;
    r = hb__wire_send_until(wc->fd, req, deadline);
    if (r == -ETIMEDOUT) {
        hb__wc_kill(wc);
        return hb__seterr(err, HB_EHUNG,
                          "worker did not read the request within %u ms and was killed",
                          timeout_ms);
    }
    wc->undelivered = r < 0;
    if (r < 0) {
        /* EPIPE: the worker is gone. */
        reap_dead(wc);
        return hb__wc_describe_death(wc, err, "had died:");
    }
    if (wc->ring)
        hb__ring_post(wc->ring, HB_RING_KIND_SOCKET);
    return hb__wc_await(wc, id, deadline, timeout_ms, interim, ud, reply, err);
}

/* Waits for the reply to request id until deadline (timeout_ms is only
 * named in messages); see hb__wc_request for the results. */
int hb__wc_await(hb_wclient *wc, uint32_t id, uint64_t deadline, unsigned timeout_ms,
                 hb_interim_fn interim, void *ud, hb_frame *reply, char **err)
{
    int r;
    for (;;) {
        uint64_t now = hb__now_ns();
        if (now >= deadline) {
            hb__wc_kill(wc);
            return hb__seterr(err, HB_EHUNG,
                              "worker did not answer within %u ms and was killed", timeout_ms);
        }
        struct pollfd p[3] = {{.fd = wc->fd, .events = POLLIN},
                              {.fd = wc->pidfd, .events = POLLIN},
                              {.fd = wc->has_listener ? wc->listener : -1, .events = POLLIN}};
        if (wc->guest)
            p[2].fd = hb__guest_event_fd(wc->guest);
        int n = poll(p, 3, (int)((deadline - now) / 1000000ull) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return hb__seterr(err, -errno, "poll: %s", strerror(errno));
        if (n == 0)
            continue;
        /* A guest worker's end, reported by its agent, after what it sent. */
        if (wc->guest && p[2].revents && !(p[0].revents & POLLIN) && !p[1].revents) {
            if (guest_reaped(wc))
                return hb__wc_describe_death(wc, err, wc->denied[0] ? "ended:" : "died:");
            continue;
        }
        /* A denial first: the worker is ended before anything it says. */
        if (!wc->guest && p[2].revents && hb__wc_observe_denial(wc, p[2].revents)) {
            hb__wc_kill(wc);
            return hb__wc_describe_death(wc, err, "ended:");
        }
        if (!p[0].revents && !p[1].revents)
            continue;
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            /* Process exited and nothing is left to read. */
            reap_dead(wc);
            return hb__wc_describe_death(wc, err, "died:");
        }
        /* The frame itself is read against the same deadline: plugin code
         * can write on the channel, and half a frame followed by silence
         * must not hold the manager past the request's time limit. */
        hb_frame f;
        size_t got = 0;
        r = hb__wire_recv_until(wc->fd, HB_WIRE_MAX_FRAME, deadline, &f, &got);
        if (r == -EPIPE || r == -ECONNRESET) {
            reap_dead(wc);
            return hb__wc_describe_death(wc, err, "died:");
        }
        if (r == -ETIMEDOUT) {
            hb__wc_kill(wc);
            return hb__seterr(err, HB_EHUNG,
                              "worker did not answer within %u ms and was killed (it had sent "
                              "%zu bytes of an unfinished frame)",
                              timeout_ms, got);
        }
        if (r == -EMSGSIZE) {
            hb__wc_kill(wc);
            return hb__seterr(err, HB_EPROTO,
                              "worker announced a frame larger than the protocol limit of %u "
                              "bytes; worker killed",
                              HB_WIRE_MAX_FRAME);
        }
        if (r < 0) {
            hb__wc_kill(wc);
            return hb__seterr(err, HB_EPROTO, "bad frame from worker (%s); worker killed",
                              strerror(-r));
        }
        if (f.type == HB_MSG_FAULT) {
            hb__wc_record_fault(wc, &f); /* from the worker's fault handler; it dies next */
            hb__frame_release(&f);
            continue;
        }
        if (f.type == HB_MSG_DENIED || f.type == HB_MSG_LISTENER) {
            /* Denials are read from the seccomp listener; a worker that
             * claims one is lying (plugin code writing on its channel). */
            hb__frame_release(&f);
            hb__wc_kill(wc);
            return hb__seterr(err, HB_EPROTO,
                              "protocol violation: the worker sent a %s frame, which only the "
                              "kernel may report (forged by plugin code?); worker killed",
                              f.type == HB_MSG_DENIED ? "DENIED" : "LISTENER");
        }
        if (f.type == HB_MSG_RING_WAKE) {
            bool expected = wc->ring_sleeping && f.id == id && f.len == 0;
            hb__frame_release(&f);
            if (!expected) {
                hb__wc_kill(wc);
                return hb__seterr(err, HB_EPROTO,
                                  "protocol violation: a WAKE frame while no ring call "
                                  "sleeps; worker killed");
            }
            return hb__wc_take_ring_reply(wc, id, reply, err);
        }
        r = hb__wc_settle(wc, id, &f, reply, err);
        if (r != 1)
            return r;
        if (interim) {
            r = interim(&f, ud);
            hb__frame_release(&f);
            if (r < 0) {
                hb__wc_kill(wc);
                return hb__seterr(err, r, "interim message rejected; worker killed");
            }
            if (r > 0) /* progress: what comes next has a time limit of its own */
                deadline = hb__now_ns() + (uint64_t)timeout_ms * 1000000ull;
            continue;
        }
        hb__frame_release(&f);
    }
}

/* The frame that ends request id: OK (returns 0, *reply takes it), ERR (its
 * code and message), or one for another request (HB_EPROTO, worker
 * killed). Returns 1, f untouched, for any other frame of this request. */
int hb__wc_settle(hb_wclient *wc, uint32_t id, hb_frame *f, hb_frame *reply, char **err)
{
    if (f->id != id) {
        uint32_t got = f->id;
        hb__frame_release(f);
        hb__wc_kill(wc);
        return hb__seterr(err, HB_EPROTO, "reply for request %u while waiting for %u", got,
                          id);
    }
    if (f->type == HB_MSG_OK) {
        *reply = *f;
        return 0;
    }
    if (f->type == HB_MSG_ERR) {
        hb_proto_err e = {0};
        int dr = hb__proto_err_decode(f->payload, f->len, &e);
        hb__frame_release(f);
        int c = dr < 0 || e.code >= 0 ? HB_EPROTO : e.code;
        hb__seterr(err, c, "%s", dr < 0 ? "malformed ERR reply from the worker" : e.message);
        hb__proto_err_release(&e);
        return c;
    }
    return 1;
}
