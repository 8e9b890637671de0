/*
 * compiler/spawn.c - run one command with limits, capture its output, and
 * enforce a wall-clock deadline. Used by the local and namespace backends.
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "jail.h"

int hb__find_program(const char *name, char **out)
{
    if (!name || !*name)
        return -EINVAL;
    if (strchr(name, '/')) {
        if (access(name, X_OK) != 0)
            return -errno;
        if (name[0] == '/') {
            *out = strdup(name);
            return *out ? 0 : -ENOMEM;
        }
        return hb__realpath(name, out);
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    const char *p = path;
    while (*p) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 0 && p[0] == '/') {
            char *cand = hb__asprintf("%.*s/%s", (int)n, p, name);
            if (!cand)
                return -ENOMEM;
            struct stat st;
            if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
                *out = cand;
                return 0;
            }
            free(cand);
        }
        p += n;
        if (*p == ':')
            p++;
    }
    return -ENOENT;
}

static int pidfd_open_(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void set_limit(int res, uint64_t v)
{
    struct rlimit rl = {(rlim_t)v, (rlim_t)v};
    (void)setrlimit(res, &rl);
}

/* Only async-signal-safe calls from here to execve: the caller may be one
 * thread of many, and another thread may hold the malloc lock. */
static _Noreturn void child_exec(const hb__run_ctx *ctx, char *const *argv, int devnull,
                                 int out_fd, int status_fd, rlim_t cpu_s)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    setpgid(0, 0);
    if (dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
        goto fail;
    /* A compile runs in its job directory on every backend (bwrap --chdir,
     * the microvm agent), so relative depfile entries and the prefix map
     * mean the same everywhere. */
    if (ctx->req && ctx->req->job_dir && chdir(ctx->req->job_dir) < 0)
        goto fail;
    set_limit(RLIMIT_AS, ctx->max_memory_bytes);
    set_limit(RLIMIT_FSIZE, ctx->max_output_bytes);
    set_limit(RLIMIT_CPU, cpu_s);
    set_limit(RLIMIT_CORE, 0);
    if (ctx->drop_root && hb_jail_drop_root(ctx->userns_fd) < 0)
        goto fail;
    execve(argv[0], argv, ctx->envp);
fail:;
    int e = errno;
    ssize_t w = write(status_fd, &e, sizeof(e));
    (void)w;
    _exit(127);
}

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

int hb__spawn_limited(const hb__run_ctx *ctx, char *const *argv, hb__run_outcome *out,
                      char **err)
{
    int r = 0, devnull = -1, pipefd[2] = {-1, -1}, status_pipe[2] = {-1, -1}, pidfd = -1;
    pid_t pid = -1;
    bool truncated = false;

    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) {
        r = hb__cerr(err, -errno, "open /dev/null: %s", strerror(errno));
        goto out_close;
    }
    if (pipe2(pipefd, O_CLOEXEC) < 0 || pipe2(status_pipe, O_CLOEXEC) < 0) {
        r = hb__cerr(err, -errno, "pipe: %s", strerror(errno));
        goto out_close;
    }
    rlim_t cpu_s = (rlim_t)ctx->timeout_ms / 1000 + 2;

    pid = fork();
    if (pid < 0) {
        r = hb__cerr(err, -errno, "fork: %s", strerror(errno));
        goto out_close;
    }
    if (pid == 0)
        child_exec(ctx, argv, devnull, pipefd[1], status_pipe[1], cpu_s);

    /* Also from the parent, so a kill(-pid) right after fork cannot miss. */
    (void)setpgid(pid, pid);
    close(pipefd[1]);
    pipefd[1] = -1;
    close(status_pipe[1]);
    status_pipe[1] = -1;

    int exec_errno = 0;
    ssize_t n;
    do
        n = read(status_pipe[0], &exec_errno, sizeof(exec_errno));
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(exec_errno)) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        pid = -1;
        r = hb__cerr(err, -exec_errno, "cannot run %s: %s", argv[0], strerror(exec_errno));
        goto out_close;
    }

    pidfd = pidfd_open_(pid);
    if (pidfd < 0) {
        r = hb__cerr(err, -errno, "pidfd_open: %s", strerror(errno));
        kill(-pid, SIGKILL);
        goto out_reap;
    }
    (void)fcntl(pipefd[0], F_SETFL, O_NONBLOCK);

    bool pipe_open = true, exited = false;
    while (!exited) {
        struct pollfd p[2] = {{pidfd, POLLIN, 0}, {pipe_open ? pipefd[0] : -1, POLLIN, 0}};
        int timeout = ms_until(ctx->deadline_ns);
        int pr = poll(p, 2, timeout);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            r = hb__cerr(err, -errno, "poll: %s", strerror(errno));
            kill(-pid, SIGKILL);
            goto out_reap;
        }
        if (pr == 0 && ms_until(ctx->deadline_ns) == 0) {
            out->timed_out = true;
            kill(-pid, SIGKILL);
            break;
        }
        if (p[1].revents && drain(pipefd[0], out, &truncated))
            pipe_open = false;
        if (p[0].revents & POLLIN)
            exited = true;
    }
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
    pid_t w;
    do
        w = waitpid(pid, &st, 0);
    while (w < 0 && errno == EINTR);
    if (r == 0)
        out->wait_status = st;
    pid = -1;

out_close:
    if (pidfd >= 0)
        close(pidfd);
    for (int i = 0; i < 2; i++) {
        if (pipefd[i] >= 0)
            close(pipefd[i]);
        if (status_pipe[i] >= 0)
            close(status_pipe[i]);
    }
    if (devnull >= 0)
        close(devnull);
    return r;
}
