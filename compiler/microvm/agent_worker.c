/*
 * compiler/microvm/agent_worker.c - the guest agent's worker (WORKER,
 * vmproto.h; guest workers, issue 17): starts hotbox-worker as uid 65534
 * with no_new_privs under the sandbox's rlimits (util/rlimit.c), relays its
 * socket to the port HB_VMP_WORKER_PORT_NAME, holds its seccomp listener,
 * and reports its end (WORKER_EXIT) with its exit status, signal or denied
 * system call. Its stdout+stderr go to the output port, when there is one.
 * Part of the static agent.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "agent.h"
#include "rlimit.h"

static pid_t g_worker = -1, g_relay = -1;

/* Set by the relay when the worker's seccomp filter stopped a denied call:
 * the syscall number + 1 (shared memory: the relay is a child). */
static volatile uint64_t *g_denied;

/* The worker's first frame under a seccomp profile carries its filter's
 * listener (SCM_RIGHTS). The relay keeps that fd (the host cannot receive
 * one across the VM) and forwards the frame's bytes; a readable listener
 * means a plugin thread is stopped in a denied call: the relay records the
 * call and kills the worker, and the agent reports it (WORKER_EXIT with
 * kind HB_VMP_DENIED). */
static ssize_t relay_read(int fd, void *buf, size_t len, int *listener)
{
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {buf, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                        .msg_controllen = sizeof(ctl)};
    ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == ENOTSOCK)
        return read(fd, buf, len);
    for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int got;
            memcpy(&got, CMSG_DATA(c), sizeof(got));
            if (*listener < 0)
                *listener = got;
            else
                close(got);
        }
    return n;
}

static void relay_denied(int listener, pid_t worker)
{
    struct seccomp_notif_sizes sz;
    uint64_t nr = 0;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) == 0) {
        void *req = calloc(1, sz.seccomp_notif > sizeof(struct seccomp_notif)
                                  ? sz.seccomp_notif : sizeof(struct seccomp_notif));
        if (req && ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) == 0)
            nr = (uint64_t)((struct seccomp_notif *)req)->data.nr + 1;
        free(req);
    }
    *g_denied = nr ? nr : ~0ull;
    kill(worker, SIGKILL);
    _exit(0);
}

/* Copies bytes both ways between the worker's socket and its port until
 * either side ends; then the process exits (the worker's death is reported
 * by the agent, from its wait status). */
static __attribute__((noreturn)) void relay(int port, int sock, pid_t worker)
{
    static uint8_t buf[65536];
    int listener = -1;
    for (;;) {
        struct pollfd p[3] = {{port, POLLIN, 0}, {sock, POLLIN, 0}, {listener, POLLIN, 0}};
        if (poll(p, listener >= 0 ? 3 : 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        if (listener >= 0 && p[2].revents)
            relay_denied(listener, worker);
        for (int i = 0; i < 2; i++) {
            if (!p[i].revents)
                continue;
            ssize_t n = i == 1 ? relay_read(sock, buf, sizeof(buf), &listener)
                               : read(port, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0 || hb__write_full(p[1 - i].fd, buf, (size_t)n) != 0)
                _exit(0);
        }
    }
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    if ((flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT)
        agent_log("cannot remove %s: %s", path, strerror(errno));
    return 0;
}

/* What an earlier worker (uid 65534) left in the guest's /tmp, the only
 * place it can write: a worker restarted in the same VM (after a crash,
 * maybe rolled back to the version before) starts without it, as a
 * process worker's jail starts with an empty /tmp. Symlinks are removed,
 * never followed. */
static void clear_worker_tmp(void)
{
    DIR *d = opendir("/tmp");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[300];
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            snprintf(p, sizeof(p), "/tmp/%s", e->d_name) >= (int)sizeof(p))
            continue;
        if (lstat(p, &st) == 0 && st.st_uid == 65534)
            nftw(p, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    if (d)
        closedir(d);
}

void agent_start_worker(hb_vmp_r *r, int port, uint8_t *wbuf, size_t wcap)
{
    const char *path_p, *prof_p;
    size_t path_n, prof_n;
    uint64_t err = 0;
    char msg[512] = "", path[256], prof[32], dev[300];
    int sv[2] = {-1, -1}, wport = -1, oport = -1;
    pid_t pid = -1;
    if (!hb_vmp_get_str(r, &path_p, &path_n) || !hb_vmp_get_str(r, &prof_p, &prof_n) ||
        path_n >= sizeof(path) || prof_n >= sizeof(prof)) {
        err = EPROTO;
        snprintf(msg, sizeof(msg), "malformed WORKER request");
        goto reply;
    }
    /* The limits are optional (an older host sends none); a partial set is
     * malformed. */
    hb_limits lim = {0};
    if (r->left > 0) {
        uint64_t nc = 0;
        if (!hb_vmp_get_u64(r, &lim.memory_bytes) || !hb_vmp_get_u64(r, &lim.cpu_seconds) ||
            !hb_vmp_get_u64(r, &lim.open_files) || !hb_vmp_get_u64(r, &lim.processes) ||
            !hb_vmp_get_u64(r, &lim.file_size) || !hb_vmp_get_u64(r, &nc)) {
            err = EPROTO;
            snprintf(msg, sizeof(msg), "malformed limits in the WORKER request");
            goto reply;
        }
        lim.no_core = nc != 0;
    }
    memcpy(path, path_p, path_n);
    path[path_n] = 0;
    memcpy(prof, prof_p, prof_n);
    prof[prof_n] = 0;
    if (!g_denied) {
        void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        g_denied = m == MAP_FAILED ? NULL : m;
    }
    if (!g_denied) {
        err = ENOMEM;
        snprintf(msg, sizeof(msg), "mmap: %s", strerror(errno));
        goto reply;
    }
    *g_denied = 0;
    if (g_relay > 0) { /* the last worker's, held open by a child it left */
        kill(g_relay, SIGKILL);
        while (waitpid(g_relay, NULL, 0) < 0 && errno == EINTR)
            ;
        g_relay = -1;
    }
    if (g_worker > 0) {
        err = EBUSY;
        snprintf(msg, sizeof(msg), "a worker (pid %d) is already running", (int)g_worker);
        goto reply;
    }
    clear_worker_tmp();
    if (agent_find_port(HB_VMP_WORKER_PORT_NAME, dev, sizeof(dev)) != 0 ||
        (wport = open(dev, O_RDWR | O_CLOEXEC)) < 0) {
        err = ENODEV;
        snprintf(msg, sizeof(msg), "no virtio-serial port %s in this guest",
                 HB_VMP_WORKER_PORT_NAME);
        goto reply;
    }
    /* The worker's stdout+stderr: the output port where the host gave one. */
    if (agent_find_port(HB_VMP_OUTPUT_PORT_NAME, dev, sizeof(dev)) == 0)
        oport = open(dev, O_WRONLY | O_CLOEXEC);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        err = (uint64_t)errno;
        snprintf(msg, sizeof(msg), "socketpair: %s", strerror(errno));
        goto reply;
    }
    if ((pid = fork()) == 0) {
        static char *envp[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=/tmp", NULL};
        char *argv[] = {path, "--fd", "3", "--profile", prof, NULL};
        const char *which = NULL;
        setsid();
        if (oport >= 0 && (dup2(oport, 1) != 1 || dup2(oport, 2) != 2))
            _exit(126);
        if (dup2(sv[1], 3) != 3 || setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
            setuid(65534) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            chdir("/tmp") != 0)
            _exit(126);
        if (hb__limits_apply(&lim, &which) != 0) { /* to the console log */
            static const char m[] = "hotbox-agent: cannot set the worker's limit ";
            (void)!write(2, m, sizeof(m) - 1);
            (void)!write(2, which ? which : "?", which ? strlen(which) : 1);
            (void)!write(2, "\n", 1);
            _exit(125);
        }
        execve(path, argv, envp);
        _exit(127);
    }
    if (pid < 0) {
        err = (uint64_t)errno;
        snprintf(msg, sizeof(msg), "fork: %s", strerror(errno));
        goto reply;
    }
    g_worker = pid;
    if ((g_relay = fork()) == 0) {
        close(sv[1]);
        relay(wport, sv[0], pid);
    }
    if (g_relay < 0) {
        err = (uint64_t)errno;
        snprintf(msg, sizeof(msg), "fork (relay): %s", strerror(errno));
        kill(pid, SIGKILL);
    }
reply:
    if (wport >= 0)
        close(wport);
    if (oport >= 0)
        close(oport);
    for (int i = 0; i < 2; i++)
        if (sv[i] >= 0)
            close(sv[i]);
    hb_vmp_w w = {wbuf, wcap, 0, false};
    hb_vmp_begin(&w, HB_VMP_WORKER_STARTED);
    hb_vmp_put_u64(&w, err);
    hb_vmp_put_u64(&w, err ? 0 : (uint64_t)pid);
    hb_vmp_put_str(&w, msg);
    if (agent_send_frame(port, &w) != 0)
        agent_log("cannot send WORKER_STARTED");
}

/* Reaps every ended child; the worker's end is reported on the port. */
static void reap(int port)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        if (pid == g_relay)
            g_relay = -1;
        if (pid != g_worker)
            continue;
        g_worker = -1; /* its relay ends by itself once it has forwarded the rest */
        uint8_t buf[HB_VMP_HEADER + 16];
        hb_vmp_w w = {buf, sizeof(buf), 0, false};
        hb_vmp_begin(&w, HB_VMP_WORKER_EXIT);
        if (g_denied && *g_denied) { /* killed by the relay for a denied call */
            hb_vmp_put_u64(&w, HB_VMP_DENIED);
            hb_vmp_put_u64(&w, *g_denied == ~0ull ? ~0ull : *g_denied - 1);
        } else {
            hb_vmp_put_u64(&w, WIFSIGNALED(st) ? HB_VMP_SIGNALED : HB_VMP_EXITED);
            hb_vmp_put_u64(&w, (uint64_t)(WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st)));
        }
        if (port >= 0 && agent_send_frame(port, &w) != 0)
            agent_log("cannot send WORKER_EXIT");
    }
}

/* Waits for the port to be readable, reaping children (and reporting the
 * worker's end) every 50 ms meanwhile. */
void agent_wait_request(int port)
{
    for (;;) {
        reap(port);
        struct pollfd p = {port, POLLIN, 0};
        int n = poll(&p, 1, g_worker > 0 ? 50 : -1);
        if (n != 0 && !(n < 0 && errno == EINTR))
            return;
    }
}

