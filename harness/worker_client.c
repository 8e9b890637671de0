/* harness/worker_client.c - starting a worker and talking to it.
 *
 * The worker is fork+exec'ed (never a bare fork of the manager: the manager
 * may hold locks, threads and open databases). The child asks for SIGKILL
 * when the manager dies and re-checks its parent right after, which closes
 * the race where the manager died before the prctl. */
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
#include <unistd.h>

#include "harness.h"
#include "monitor.h"
#include "jail.h"
#include "security.h"

#define HB_WORKER_FD 3
#define HB_INFO_FD 4 /* bwrap's --info-fd, in the child only */

static void reset_client(hb_wclient *wc)
{
    if (wc->fd >= 0)
        close(wc->fd);
    if (wc->pidfd >= 0)
        close(wc->pidfd);
    if (wc->worker_pidfd >= 0)
        close(wc->worker_pidfd);
    wc->fd = wc->pidfd = wc->worker_pidfd = -1;
    wc->pid = 0;
    wc->worker_pid = 0;
}

/* bwrap reports a worker killed by signal n as its own exit status 128+n;
 * turn that back into the wait status of a signal death, so crashes read
 * the same wrapped or not. (A plugin calling exit(128+n) under bwrap reads
 * as signal n: the worker's own statuses are 0, 1, 2 and 64.) */
static int unwrap_status(const hb_wclient *wc, int st)
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
            wc->wait_status = unwrap_status(wc, st);
            wc->reaped = true;
        }
    }
    reset_client(wc);
}

/* The worker is gone or going: reap it (it closed its end or died). */
static void reap_dead(hb_wclient *wc)
{
    int st = 0;
    if (hb_mon_reap(wc->pid, wc->pidfd, 2000, &st) == 0) {
        wc->wait_status = unwrap_status(wc, st);
        wc->reaped = true;
        reset_client(wc);
        return;
    }
    /* Closed its channel but did not exit: treat as dead, make it so. */
    hb__wc_kill(wc);
}

int hb__wc_spawn(hb_wclient *wc, const hb_wspawn *how, char **err)
{
    const char *worker_path = how->worker_path;
    uint64_t max_state = how->max_state;
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
    hb_sec_spawn sp = {
        .worker_path = worker_path,
        .profile = how->profile,
        .channel_fd = HB_WORKER_FD,
        .objects_dir = how->objects_dir,
        .scratch_dir = how->scratch_dir,
        .objects_src = how->objects_view,
        .worker_src = worker_src,
        .info_fd = HB_INFO_FD,
    };
    hb_sec_cmd cmd = {0};
    r = hb_sec_wrap(&sp, &cmd, err);
    free(worker_src);
    if (r < 0) {
        close(info[0]);
        close(info[1]);
        return r;
    }
    char **argv = cmd.argv;
    bool wrapped = cmd.wrapped;
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
    int cgfd = how->cgroup ? hb_cgroup_procs_fd(how->cgroup) : -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        if (outfd >= 0)
            close(outfd);
        if (cgfd >= 0)
            close(cgfd);
        r = hb__seterr(err, HB_EWORKER, "fork: %s", strerror(e));
        goto fail_argv;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls until exec. A root manager's
         * child stays root (bwrap joins the jail's root-owned user namespace
         * and becomes the jail's host uid there, jail.h); it only lets bwrap
         * inherit that namespace's fd. */
        if (cgfd >= 0 && hb_cgroup_join_self(cgfd) < 0)
            _exit(125);
        if (cmd.drop_root && hb_jail_drop_root(cmd.userns_fd) < 0)
            _exit(126);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        signal(SIGPIPE, SIG_DFL);
        if (outfd >= 0 && (dup2(outfd, STDOUT_FILENO) < 0 || dup2(outfd, STDERR_FILENO) < 0))
            _exit(127);
        if (hb_sec_apply_limits(&how->limits, NULL) < 0)
            _exit(126);
        if (sv[1] == HB_WORKER_FD) {
            if (fcntl(sv[1], F_SETFD, 0) < 0) /* dup2 onto itself keeps CLOEXEC */
                _exit(127);
        } else if (dup2(sv[1], HB_WORKER_FD) < 0) {
            _exit(127);
        }
        if (wrapped && dup2(info_w, HB_INFO_FD) < 0)
            _exit(127);
        execve(argv[0], argv, cmd.envp);
        _exit(127);
    }
    argv = NULL;
    close(info_w);
    info_w = -1;
    close(sv[1]);
    if (outfd >= 0)
        close(outfd);
    if (cgfd >= 0)
        close(cgfd);
    memset(wc, 0, sizeof(*wc));
    wc->worker_pidfd = -1;
    wc->pid = pid;
    wc->fd = sv[0];
    wc->next_id = 1;
    wc->profile = how->profile;
    wc->limits = how->limits;
    wc->wrapped = wrapped;
    if (cmd.warning)
        snprintf(wc->warning, sizeof(wc->warning), "%s", cmd.warning);
    hb_sec_cmd_release(&cmd);
    wc->pidfd = hb_mon_pidfd_open(pid);
    if (wc->pidfd < 0) {
        close(info[0]);
        hb__wc_kill(wc);
        return hb__seterr(err, HB_EWORKER, "pidfd_open: %s", strerror(-wc->pidfd));
    }
    /* Handshake: proves the binary is a hotbox worker of our protocol. */
    hb_wbuf w = {0};
    hb__wc_begin(wc, &w, HB_MSG_HELLO);
    hb__wire_put_u32(&w, HB_WIRE_MAGIC_HELLO);
    hb__wire_put_u64(&w, max_state);
    hb_frame reply;
    r = hb__wc_request(wc, &w, 10000, NULL, NULL, &reply, err);
    hb__wire_release(&w);
    if (r < 0) {
        char *inner = *err;
        *err = NULL;
        hb__seterr(err, HB_EWORKER, "worker %s did not start%s: %s", worker_path,
                   wrapped ? " under bwrap (its messages are on the worker's stderr)" : "",
                   inner ? inner : hb_strerror(r));
        free(inner);
        close(info[0]);
        hb__wc_kill(wc);
        return HB_EWORKER;
    }
    hb_rbuf rb;
    uint32_t magic = 0;
    hb__rbuf_init(&rb, reply.payload, reply.len);
    hb__wire_get_u32(&rb, &magic);
    hb__frame_release(&reply);
    if (magic != HB_WIRE_MAGIC_HELLO) {
        close(info[0]);
        hb__wc_kill(wc);
        return hb__seterr(err, HB_EWORKER, "%s answered the handshake with the wrong magic",
                          worker_path);
    }
    /* The worker answered, so bwrap has written its child's pid: the pid
     * a developer gives to gdb -p, and whose memory the usage shows. */
    wc->worker_pid = pid;
    pid_t inner = 0;
    if (wrapped && hb_jail_child_pid(info[0], &inner) == 0) {
        wc->worker_pid = inner;
        /* Its death is the worker's death even while bwrap (which holds
         * the channel open) has not noticed yet. */
        int wfd = hb_mon_pidfd_open(inner);
        wc->worker_pidfd = wfd >= 0 ? wfd : -1;
    }
    close(info[0]);
    return 0;
fail_argv:
    hb_sec_cmd_release(&cmd);
    if (info_w >= 0)
        close(info_w);
    close(info[0]);
    return r;
}

void hb__wc_begin(hb_wclient *wc, hb_wbuf *w, uint8_t type)
{
    hb__wire_reset(w);
    hb__wire_begin(w, type, wc->next_id++);
}

bool hb__wc_alive(hb_wclient *wc)
{
    if (wc->pid <= 0)
        return false;
    if (hb_mon_alive(wc->pidfd) && (wc->worker_pidfd < 0 || hb_mon_alive(wc->worker_pidfd)))
        return true;
    reap_dead(wc);
    return false;
}

static int describe_death(hb_wclient *wc, char **err, const char *what)
{
    char buf[160];
    const char *profile = hb_profile_name(wc->profile);
    if (wc->denied[0])
        return hb__seterr(err, HB_ECRASHED, "worker %s plugin called %s (denied by the %s profile)",
                          what, wc->denied, profile);
    hb__describe_wait_status(wc->wait_status, buf, sizeof(buf));
    if (wc->reaped && WIFSIGNALED(wc->wait_status) && WTERMSIG(wc->wait_status) == SIGSYS &&
        hb_sec_profile(wc->profile) && hb_sec_profile(wc->profile)->seccomp)
        return hb__seterr(err, HB_ECRASHED,
                          "worker %s %s: a system call denied by the %s profile (not identified)",
                          what, buf, profile);
    /* A death a resource limit explains is reported with the limit and its
     * value ("killed by SIGXCPU: CPU time limit 5 s exceeded"). */
    char why[256];
    if (wc->reaped &&
        hb_mon_explain_death(wc->wait_status, &wc->limits, NULL, NULL, why, sizeof(why)) !=
            HB_LIMIT_NONE)
        return hb__seterr(err, HB_ECRASHED, "worker %s %s", what, why);
    return hb__seterr(err, HB_ECRASHED, "worker %s %s", what, buf);
}

/* HB_MSG_DENIED: u32 syscall number, str name. Kept for describe_death. */
static void record_denied(hb_wclient *wc, const hb_frame *f)
{
    hb_rbuf rb;
    uint32_t nr = 0;
    char *name = NULL;
    hb__rbuf_init(&rb, f->payload, f->len);
    hb__wire_get_u32(&rb, &nr);
    hb__wire_get_str(&rb, 200, &name);
    if (name && *name)
        snprintf(wc->denied, sizeof(wc->denied), "%s", name);
    else
        snprintf(wc->denied, sizeof(wc->denied), "system call %u", nr);
    free(name);
}

int hb__wc_request(hb_wclient *wc, hb_wbuf *req, unsigned timeout_ms, hb_interim_fn interim,
                   void *ud, hb_frame *reply, char **err)
{
    if (wc->pid <= 0)
        return hb__seterr(err, HB_ECRASHED, "no worker is running");
    wc->denied[0] = 0;
    int r = hb__wire_finish(req);
    if (r < 0)
        return hb__seterr(err, r == -EMSGSIZE ? HB_ELIMIT : r,
                          "request too large for the worker channel (%zu bytes)", req->len);
    uint32_t id = (uint32_t)req->data[8] | (uint32_t)req->data[9] << 8 |
                  (uint32_t)req->data[10] << 16 | (uint32_t)req->data[11] << 24;
    r = hb__wire_send(wc->fd, req);
    if (r < 0) {
        /* EPIPE: the worker is gone. */
        reap_dead(wc);
        return describe_death(wc, err, "had died:");
    }
    uint64_t deadline = hb__now_ns() + (uint64_t)timeout_ms * 1000000ull;
    for (;;) {
        uint64_t now = hb__now_ns();
        if (now >= deadline) {
            hb__wc_kill(wc);
            return hb__seterr(err, HB_EHUNG,
                              "worker did not answer within %u ms and was killed", timeout_ms);
        }
        struct pollfd p[2] = {{.fd = wc->fd, .events = POLLIN}, {.fd = wc->pidfd, .events = POLLIN}};
        int n = poll(p, 2, (int)((deadline - now) / 1000000ull) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return hb__seterr(err, -errno, "poll: %s", strerror(errno));
        if (n == 0)
            continue;
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            /* Process exited and nothing is left to read. */
            reap_dead(wc);
            return describe_death(wc, err, "died:");
        }
        hb_frame f;
        r = hb__wire_recv(wc->fd, HB_WIRE_MAX_FRAME, &f);
        if (r == -EPIPE || r == -ECONNRESET) {
            reap_dead(wc);
            return describe_death(wc, err, "died:");
        }
        if (r < 0) {
            hb__wc_kill(wc);
            return hb__seterr(err, HB_EPROTO, "bad frame from worker (%s); worker killed",
                              strerror(-r));
        }
        if (f.type == HB_MSG_DENIED) {
            /* Written by the worker's SIGSYS handler, which cannot know the
             * request id; the worker dies right after. */
            record_denied(wc, &f);
            hb__frame_release(&f);
            continue;
        }
        if (f.id != id) {
            hb__frame_release(&f);
            hb__wc_kill(wc);
            return hb__seterr(err, HB_EPROTO, "reply for request %u while waiting for %u",
                              f.id, id);
        }
        if (f.type == HB_MSG_OK) {
            *reply = f;
            return 0;
        }
        if (f.type == HB_MSG_ERR) {
            hb_rbuf rb;
            uint32_t code = 0;
            char *msg = NULL;
            hb__rbuf_init(&rb, f.payload, f.len);
            hb__wire_get_u32(&rb, &code);
            hb__wire_get_str(&rb, 65536, &msg);
            hb__frame_release(&f);
            int c = (int32_t)code;
            if (c >= 0)
                c = HB_EPROTO;
            hb__seterr(err, c, "%s", msg ? msg : "worker error");
            free(msg);
            return c;
        }
        if (interim) {
            r = interim(&f, ud);
            hb__frame_release(&f);
            if (r < 0) {
                hb__wc_kill(wc);
                return hb__seterr(err, r, "interim message rejected; worker killed");
            }
            continue;
        }
        hb__frame_release(&f);
    }
}

void hb__wc_stop(hb_wclient *wc, unsigned grace_ms)
{
    if (wc->pid <= 0) {
        reset_client(wc);
        return;
    }
    hb_wbuf w = {0};
    hb__wc_begin(wc, &w, HB_MSG_SHUTDOWN);
    hb_frame reply;
    char *err = NULL;
    int r = hb__wc_request(wc, &w, grace_ms, NULL, NULL, &reply, &err);
    hb__wire_release(&w);
    free(err);
    if (r == 0) {
        hb__frame_release(&reply);
        int st;
        if (hb_mon_reap(wc->pid, wc->pidfd, (int)grace_ms, &st) == 0) {
            wc->wait_status = unwrap_status(wc, st);
            wc->reaped = true;
            reset_client(wc);
            return;
        }
    }
    hb__wc_kill(wc);
}
