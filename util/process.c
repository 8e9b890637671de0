/* util/process.c - see process.h. */
#include "process.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <stdint.h>
#include <unistd.h>
#include <linux/sched.h>

#include "util.h"

extern char **environ;

/* What the child reports when a step before exec fails. */
typedef struct child_failure {
    int err;     /* errno */
    int step;    /* index into step_names */
} child_failure;

enum { STEP_SESSION, STEP_PARENT, STEP_SETUP, STEP_FDS, STEP_CWD, STEP_LIMITS, STEP_EXEC,
       STEP_CGROUP };
static const char *const step_names[] = {"setsid", "parent check", "setup", "fd map",
                                         "chdir",  "rlimits",      "exec",  "joining the cgroup"};

static _Noreturn void child_fail(int status_fd, int step, int err)
{
    child_failure f = {err, step};
    ssize_t w;
    do
        w = write(status_fd, &f, sizeof(f));
    while (w < 0 && errno == EINTR);
    _exit(127);
}

/* The map in two steps: every source first goes above every target (and
 * the status pipe), then each lands on its target; so a map may permute
 * fds. dup2 onto a new number clears close-on-exec. */
static int apply_fd_map(const hb_spawn *sp, int status_fd, int devnull_fd)
{
    int top = status_fd;
    for (size_t i = 0; i < sp->nfds; i++)
        if (sp->fds[i].to > top)
            top = sp->fds[i].to;
    int tmp[HB__SPAWN_MAX_FDS];
    for (size_t i = 0; i < sp->nfds; i++) {
        int from = sp->fds[i].from == HB_SPAWN_DEVNULL ? devnull_fd : sp->fds[i].from;
        tmp[i] = fcntl(from, F_DUPFD_CLOEXEC, top + 1);
        /* EINVAL here: top + 1 is past RLIMIT_NOFILE, no room either. */
        if (tmp[i] < 0)
            return errno == EINVAL ? -EMFILE : -errno;
    }
    for (size_t i = 0; i < sp->nfds; i++)
        if (dup2(tmp[i], sp->fds[i].to) < 0)
            return -errno;
    return 0;
}

/* Calls fn(fd) for every open fd of this process but the listing's own.
 * Async-signal-safe: raw getdents64, no allocation. */
static void each_open_fd(void (*fn)(int fd, const void *ctx), const void *ctx)
{
    int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return;
    char buf[4096];
    long n;
    while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < n;) {
            const struct dirent64 *d = (const void *)(buf + off);
            off += d->d_reclen;
            int fd = 0;
            const char *c = d->d_name;
            for (; *c >= '0' && *c <= '9'; c++)
                fd = fd * 10 + (*c - '0');
            if (!*c && c != d->d_name && fd != dfd)
                fn(fd, ctx);
        }
    }
    close(dfd);
}

typedef struct keep_set {
    int fd[HB__SPAWN_MAX_FDS + 4];
    size_t n;
} keep_set;

static bool kept(const keep_set *k, int fd)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->fd[i] == fd)
            return true;
    return false;
}

static void close_unless_kept(int fd, const void *ctx)
{
    if (!kept(ctx, fd))
        close(fd);
}

/* The child holds exactly 0-2, the fd map's targets and the status pipe (close-on-exec): whatever else this process has open, leaked
 * to it by its own parent or opened by another thread without
 * O_CLOEXEC, does not reach the program. */
static void close_other_fds(const hb_spawn *sp, int status_fd)
{
    keep_set k = {.n = 0};
    k.fd[k.n++] = 0;
    k.fd[k.n++] = 1;
    k.fd[k.n++] = 2;
    k.fd[k.n++] = status_fd;
    for (size_t i = 0; i < sp->nfds; i++)
        k.fd[k.n++] = sp->fds[i].to;
    each_open_fd(close_unless_kept, &k);
}

static void close_if_cloexec(int fd, const void *ctx)
{
    int flags = fcntl(fd, F_GETFD);
    if (fd != *(const int *)ctx && flags >= 0 && (flags & FD_CLOEXEC))
        close(fd);
}

/* The child joins sp->cgroup_dir itself (fork, not clone3): async-signal-safe. */
static int join_cgroup_dir(int dir)
{
    int fd = openat(dir, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n;
    do
        n = write(fd, "0", 1); /* "0": the writing process */
    while (n < 0 && errno == EINTR);
    int e = n < 0 ? errno : 0;
    close(fd);
    return -e;
}

/* fork(), or clone3 straight into sp->cgroup_dir; *placed says which. The
 * child only makes system calls before exec (no locks, no allocation), so
 * it does not need what glibc's fork() resets. */
static pid_t fork_into(const hb_spawn *sp, bool *placed)
{
    *placed = false;
#if defined(SYS_clone3) && defined(CLONE_INTO_CGROUP)
    if (sp->in_cgroup) {
        struct clone_args ca;
        memset(&ca, 0, sizeof(ca));
        ca.flags = CLONE_INTO_CGROUP;
        ca.exit_signal = SIGCHLD;
        ca.cgroup = (uint64_t)sp->cgroup_dir;
        long p = syscall(SYS_clone3, &ca, sizeof(ca));
        if (p >= 0) {
            *placed = true;
            return (pid_t)p;
        }
        /* An older kernel, or a refusal: the forked child's own write
         * then fails with the reason, or succeeds. */
    }
#endif
    return fork();
}

/* A child sharing the parent's memory (shared below) must not run one of
 * the parent's signal handlers before exec: every caught signal goes back
 * to its default first (as posix_spawn does); ignored ones stay ignored,
 * as exec would keep them. */
static void default_caught_signals(void)
{
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) < 0)
            continue;
        if (sa.sa_handler == SIG_IGN || sa.sa_handler == SIG_DFL)
            continue;
        sa.sa_handler = SIG_DFL;
        sa.sa_flags = 0;
        sigemptyset(&sa.sa_mask);
        (void)sigaction(sig, &sa, NULL);
    }
}

static _Noreturn void child(const hb_spawn *sp, pid_t parent, int status_fd, int devnull_fd,
                            bool placed, bool shared)
{
    if (shared)
        default_caught_signals();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    int r;
    if (sp->in_cgroup && !placed && (r = join_cgroup_dir(sp->cgroup_dir)) < 0)
        child_fail(status_fd, STEP_CGROUP, -r);
    if (sp->new_session && setsid() < 0)
        child_fail(status_fd, STEP_SESSION, errno);
    if (sp->new_pgroup && !sp->new_session)
        (void)setpgid(0, 0);
    if (sp->die_with_parent) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            child_fail(status_fd, STEP_PARENT, ESRCH);
    }
    if (sp->setup && (r = sp->setup(sp->setup_arg)) < 0)
        child_fail(status_fd, STEP_SETUP, -r);
    if ((r = apply_fd_map(sp, status_fd, devnull_fd)) < 0)
        child_fail(status_fd, STEP_FDS, -r);
    if (sp->argv)
        close_other_fds(sp, status_fd);
    if (sp->cwd && chdir(sp->cwd) < 0)
        child_fail(status_fd, STEP_CWD, errno);
    if (sp->limits && (r = hb__limits_apply(sp->limits, NULL)) < 0)
        child_fail(status_fd, STEP_LIMITS, -r);
    if (!sp->argv) {
        /* It holds what an exec'ed program would (another thread's pipes
         * closed: their reader would otherwise wait for this child). */
        each_open_fd(close_if_cloexec, &status_fd);
        close(status_fd); /* success: the parent stops waiting */
        _exit(sp->child_main(sp->arg));
    }
    char *const *envp = sp->envp ? sp->envp : environ;
    if (sp->search_path)
        execvpe(sp->argv[0], sp->argv, envp);
    else
        execve(sp->argv[0], sp->argv, envp);
    child_fail(status_fd, STEP_EXEC, errno);
}

pid_t hb__wait_pid(pid_t pid, int *status, int options)
{
    pid_t w;
    do
        w = waitpid(pid, status, options);
    while (w < 0 && errno == EINTR);
    return w < 0 ? -errno : w;
}

int hb__pidfd_open(pid_t pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : fd;
}

/* ---- the shared-memory start ------------------------------------------------ */

/* Not under AddressSanitizer: its instrumented frames in the child would
 * poison our (shared) shadow memory, and it warns about the foreign stack
 * on the child's stderr; an ASan build starts every program with fork. */
#if defined(__SANITIZE_ADDRESS__)
#define HB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HB_ASAN 1
#endif
#endif
#ifndef HB_ASAN
#define HB_ASAN 0
#endif

/* What the shared-memory child needs, on the parent's (suspended) stack. */
typedef struct shared_start {
    const hb_spawn *sp;
    pid_t parent;
    int status_fd, devnull_fd;
} shared_start;

static int shared_child(void *arg)
{
    const shared_start *ss = arg;
    child(ss->sp, ss->parent, ss->status_fd, ss->devnull_fd, false, true);
}

enum { SHARED_STACK = 256 * 1024 };

/* A program with no cgroup to start in begins as a child that shares this
 * process's memory until its exec (CLONE_VM | CLONE_VFORK, as posix_spawn
 * does), on a stack of its own: no copy of the manager's page tables at
 * the start and none torn down at the exec (~0.5-2 ms under load for the
 * manager's mappings, paid by every compile). The child does only what it
 * does after a fork: system calls, no allocation; the calling thread is
 * suspended until the exec, and the only memory the child writes besides
 * its stack is that thread's errno. Every signal is blocked across the
 * clone so no handler of this process runs on the child's stack before it
 * resets them. Returns the pid, or -errno (then nothing was started). */
static pid_t clone_shared(const hb_spawn *sp, pid_t parent, int status_fd, int devnull_fd)
{
    void *stack = mmap(NULL, SHARED_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        return -errno;
    shared_start ss = {sp, parent, status_fd, devnull_fd};
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t p = clone(shared_child, (char *)stack + SHARED_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD,
                    &ss);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stack, SHARED_STACK);
    return p < 0 ? -e : p;
}

int hb__spawn(const hb_spawn *sp, pid_t *pid, int *pidfd, char **err)
{
    const char *what = sp->argv ? sp->argv[0] : "a helper process";
    if (sp->nfds > HB__SPAWN_MAX_FDS)
        return hb__seterr(err, -E2BIG, "cannot start %s: too many fds to pass", what);
    int status[2] = {-1, -1}, devnull = -1, r = 0;
    for (size_t i = 0; i < sp->nfds && devnull < 0; i++) {
        if (sp->fds[i].from == HB_SPAWN_DEVNULL &&
            (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
            return hb__seterr(err, -errno, "cannot start %s: open /dev/null: %s", what,
                              strerror(errno));
    }
    if (pipe2(status, O_CLOEXEC) < 0) {
        r = hb__seterr(err, -errno, "cannot start %s: pipe: %s", what, strerror(errno));
        goto out;
    }
    pid_t parent = getpid();
    bool placed = false;
    pid_t p;
    if (sp->argv && !sp->in_cgroup && !HB_ASAN) {
        p = clone_shared(sp, parent, status[1], devnull);
        if (p < 0) {
            r = hb__seterr(err, p, "cannot start %s: clone: %s", what, strerror(-p));
            goto out;
        }
    } else {
        p = fork_into(sp, &placed);
        if (p < 0) {
            r = hb__seterr(err, -errno, "cannot start %s: %s: %s", what,
                           sp->in_cgroup ? "clone3 into its cgroup" : "fork", strerror(errno));
            goto out;
        }
        if (p == 0) {
            close(status[0]);
            child(sp, parent, status[1], devnull, placed, false);
        }
    }
    /* Also from the parent, so a kill(-pid) right after fork cannot miss. */
    if (sp->new_pgroup && !sp->new_session)
        (void)setpgid(p, p);
    close(status[1]);
    status[1] = -1;
    child_failure f;
    ssize_t n;
    do
        n = read(status[0], &f, sizeof(f));
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(f)) {
        (void)hb__wait_pid(p, NULL, 0);
        const char *step = f.step == STEP_SETUP && sp->setup_what ? sp->setup_what
                           : f.step >= 0 && (size_t)f.step < HB_ARRAY_SIZE(step_names)
                               ? step_names[f.step]
                               : "?";
        r = f.step == STEP_EXEC
                ? hb__seterr(err, -f.err, "cannot run %s: %s", what, strerror(f.err))
                : hb__seterr(err, -f.err, "cannot start %s: %s: %s", what, step,
                             strerror(f.err));
        goto out;
    }
    if (pidfd) {
        int fd = hb__pidfd_open(p);
        if (fd < 0) {
            r = hb__seterr(err, fd, "pidfd_open for %s: %s", what, strerror(-fd));
            kill(p, SIGKILL);
            (void)hb__wait_pid(p, NULL, 0);
            goto out;
        }
        *pidfd = fd;
    }
    *pid = p;
out:
    for (int i = 0; i < 2; i++)
        if (status[i] >= 0)
            close(status[i]);
    if (devnull >= 0)
        close(devnull);
    return r;
}

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
