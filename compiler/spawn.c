/*
 * compiler/spawn.c - run one command with limits, capture its output, and
 * enforce a wall-clock deadline. Used by the namespace backend, and it is
 * the whole of the "local" backend (at the end): the compiler as a plain
 * child process with rlimits and a wall-clock deadline, seeing the whole
 * file system the caller sees; the fallback when namespaces are missing,
 * and the harness says so loudly (hotbox doctor names the backend in use).
 *
 * The child runs in its own process group so that a timeout kills the
 * compiler driver and everything it started (cc1, as, ld, or a script's
 * children) with one kill(-pgid). The deadline is waited for with poll() on
 * a pidfd and the output pipe, never with a sleep.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "edittrace.h"
#include "jail.h"
#include "process.h"

static void capture(hb__run_outcome *out, const char *buf, size_t n, bool *truncated)
{
    if (*truncated)
        return;
    size_t room = HB__MAX_CAPTURE > out->output.len ? HB__MAX_CAPTURE - out->output.len : 0;
    if (n > room) {
        (void)hb__sb_add(&out->output, buf, room);
        (void)hb__sb_adds(&out->output, "\n[hotbox: compiler output truncated at 1 MiB]\n");
        *truncated = true;
        return;
    }
    (void)hb__sb_add(&out->output, buf, n);
}

/* Reads what is available; returns 1 at EOF, 0 otherwise. */
static int drain(int fd, hb__run_outcome *out, bool *truncated)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            capture(out, buf, (size_t)n, truncated);
            continue;
        }
        if (n == 0)
            return 1;
        if (errno == EINTR)
            continue;
        return 0; /* EAGAIN */
    }
}

static int ms_until(uint64_t deadline_ns)
{
    uint64_t now = hb__now_ns();
    if (now >= deadline_ns)
        return 0;
    uint64_t ms = (deadline_ns - now + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* bwrap is told where its user namespace (--userns) and info pipe
 * (--info-fd) are: they are put at those numbers. */
static int spawn_compiler(const hb__run_ctx *ctx, char *const *argv, int out_fd, pid_t *pid,
                          int *pidfd, char **err)
{
    hb_spawn_fd fds[6] = {{HB_SPAWN_DEVNULL, 0}, {out_fd, 1}, {out_fd, 2}};
    size_t nfds = 3;
    if (ctx->drop_root)
        fds[nfds++] = (hb_spawn_fd){ctx->userns_fd, HB_JAIL_USERNS_FD};
    if (ctx->has_jail_info)
        fds[nfds++] = (hb_spawn_fd){ctx->jail_info_wr, HB__JAIL_INFO_FD};
    if (ctx->has_jail_done)
        fds[nfds++] = (hb_spawn_fd){ctx->jail_done_child, HB__JAIL_DONE_FD};
    const hb_limits limits = {
        .memory_bytes = ctx->max_memory_bytes,
        .file_size = ctx->max_output_bytes,
        .cpu_seconds = ctx->timeout_ms / 1000 + 2,
        /* A fork or thread bomb (plugin.json's "-wrapper") keeps to the
         * share a worker gets: a pid namespace does not bound host pids. */
        .processes = hb__host_task_share(),
        .no_core = 1,
    };
    hb_spawn sp = {
        .argv = argv,
        .envp = ctx->envp,
        .fds = fds,
        .nfds = nfds,
        /* A compile runs in its plugin directory (bwrap --chdir too), so
         * relative paths in plugin.json's cflags and libs ("-include
         * config.h", "-Wl,--version-script=feat.map") and in the depfiles
         * name the plugin's files; a probe without one runs in its job
         * directory. */
        .cwd = ctx->req ? hb__compile_cwd(ctx->req) : NULL,
        .limits = &limits,
        .new_pgroup = true,
    };
    return hb__spawn(&sp, pid, pidfd, err);
}

/* A pidfd of the jail's init (pid 1 of its pid namespace), from what bwrap
 * wrote on its --info-fd; -1 when it said nothing (yet) or is gone. Opened
 * as soon as bwrap reports it, so the pid cannot be reused under us. */
static int jail_init_pidfd(int info_rd, pid_t *pid)
{
    pid_t init;
    if (hb_jail_child_pid(info_rd, &init) < 0)
        return -1;
    int fd = hb__pidfd_open(init);
    if (fd >= 0)
        *pid = init;
    return fd < 0 ? -1 : fd;
}

/* The jail said its command is done (namespace.c's handover) and waits:
 * the backend collects what it left (its pid stays the jail's init while
 * we hold jail_init and the jail waits), then the jail is told to end.
 * Returns 1 when the handover happened or the jail closed its end, 0 when
 * nothing is there yet, or a collect error. */
static int handover(const hb__run_ctx *ctx, int jail_init, pid_t jail_pid, char **err)
{
    char buf[32];
    ssize_t n;
    while ((n = read(ctx->jail_done, buf, sizeof(buf))) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return errno == EAGAIN ? 0 : 1;
    if (n == 0)
        return 1;
    if (jail_init < 0)
        return hb__seterr(err, HB_EISOLATION, "namespace backend: the jail's init is unknown, so "
                                              "its job directory cannot be collected");
    int r = ctx->collect(ctx, jail_pid, err);
    if (r < 0)
        return r;
    /* MSG_NOSIGNAL: a jail gone meanwhile must not SIGPIPE the manager. */
    while (send(ctx->jail_done, "\n", 1, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
    return 1;
}

/* Killing a pid namespace's init kills every process in it (a compiler's
 * helpers that left bwrap's session and process group included), and its
 * pidfd turns readable only once they are all gone. Bounded: a process
 * stuck in the kernel (D state) must not hang the compile for ever. */
static void kill_jail(int init_pidfd)
{
    if (init_pidfd < 0)
        return;
    (void)syscall(SYS_pidfd_send_signal, init_pidfd, SIGKILL, NULL, 0);
    struct pollfd p = {init_pidfd, POLLIN, 0};
    uint64_t deadline = hb__now_ns() + 5000000000ull;
    while (poll(&p, 1, ms_until(deadline)) < 0 && errno == EINTR)
        ;
}

int hb__spawn_limited(const hb__run_ctx *ctx, char *const *argv, hb__run_outcome *out,
                      char **err)
{
    int r = 0, pipefd[2] = {-1, -1}, pidfd = -1, jail_init = -1;
    pid_t pid = -1, jail_pid = -1;
    bool truncated = false;

    hb__et_mark(HB_ET_PREP);
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        r = hb__seterr(err, -errno, "pipe: %s", strerror(errno));
        goto out_close;
    }
    r = spawn_compiler(ctx, argv, pipefd[1], &pid, &pidfd, err);
    hb__et_mark(HB_ET_SPAWNED);
    close(pipefd[1]);
    pipefd[1] = -1;
    if (r < 0)
        goto out_close;
    (void)fcntl(pipefd[0], F_SETFL, O_NONBLOCK);

    bool pipe_open = true, exited = false, info_open = ctx->has_jail_info,
         done_open = ctx->has_jail_done;
    while (!exited) {
        struct pollfd p[4] = {{pidfd, POLLIN, 0},
                              {pipe_open ? pipefd[0] : -1, POLLIN, 0},
                              {info_open ? ctx->jail_info_rd : -1, POLLIN, 0},
                              {done_open ? ctx->jail_done : -1, POLLIN, 0}};
        int timeout = ms_until(ctx->deadline_ns);
        int pr = poll(p, 4, timeout);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            r = hb__seterr(err, -errno, "poll: %s", strerror(errno));
            kill(-pid, SIGKILL);
            kill_jail(jail_init);
            goto out_reap;
        }
        if (pr == 0 && ms_until(ctx->deadline_ns) == 0) {
            out->timed_out = true;
            kill(-pid, SIGKILL);
            break;
        }
        if (p[1].revents && drain(pipefd[0], out, &truncated))
            pipe_open = false;
        if (p[2].revents || (p[3].revents && info_open)) {
            info_open = false;
            jail_init = jail_init_pidfd(ctx->jail_info_rd, &jail_pid);
        }
        if (p[3].revents) {
            int h = handover(ctx, jail_init, jail_pid, err);
            if (h < 0) {
                r = h;
                kill(-pid, SIGKILL);
                kill_jail(jail_init);
                goto out_reap;
            }
            done_open = h == 0;
        }
        if (p[0].revents & POLLIN) {
            exited = true;
            hb__et_mark(HB_ET_EXITED);
        }
    }
    if (info_open)
        jail_init = jail_init_pidfd(ctx->jail_info_rd, &jail_pid);
    kill_jail(jail_init);
    /* The driver is done (or killed). Its group may still hold stragglers
     * that keep the pipe open; the zombie leader still reserves the group
     * id, so this kill cannot hit an unrelated process. */
    kill(-pid, SIGKILL);
    while (pipe_open) {
        struct pollfd p = {pipefd[0], POLLIN, 0};
        int pr = poll(&p, 1, 1000);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0 || drain(pipefd[0], out, &truncated))
            pipe_open = false;
    }

out_reap:;
    int st = 0;
    (void)hb__wait_pid(pid, &st, 0);
    if (r == 0)
        out->wait_status = st;
    pid = -1;
    hb__et_mark(HB_ET_REAPED);

out_close:
    HB_CLOSE_ALL(pidfd, jail_init, pipefd[0], pipefd[1]);
    return r;
}

/* ---- the local backend -------------------------------------------------------- */

static int local_probe(char **why)
{
    (void)why;
    return 0;
}

static const hb__backend local_backend = {"local", local_probe, hb__spawn_limited, NULL};

const hb__backend *hb__local_backend(void)
{
    return &local_backend;
}
