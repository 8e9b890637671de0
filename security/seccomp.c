/* security/seccomp.c - the worker applies its profile to itself: rlimits,
 * no_new_privs, a SIGSYS reporter, and a libseccomp deny-list filter.
 *
 * Why a deny list (default allow) and not an allow list: plugins are
 * arbitrary C linked against glibc, whose set of harmless system calls
 * grows with every release (rseq, clone3, statx, getrandom, ...); an allow
 * list breaks working plugins on a libc update, while the dangerous calls
 * are a short, stable list. Every denied call traps (SECCOMP_RET_TRAP) so
 * the developer learns which call it was; clone3 alone answers ENOSYS, so
 * glibc falls back to clone, whose flags the filter can inspect.
 *
 * The SIGSYS handler is async-signal-safe: the names were resolved into a
 * static table at install time (seccomp_syscall_resolve_num_arch
 * allocates), the frame is built on the stack and written with write(2). */
#include "security.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NAME_SLOTS 1024

static const char *denied_names[NAME_SLOTS];
static int report_fd = -1;
static uint32_t native_arch;

/* Unconditionally denied in strict and standard. */
static const char *const deny_always[] = {
    "execve", "execveat", "fork", "vfork",
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "pidfd_open", "pidfd_getfd", "pidfd_send_signal",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "fsopen", "fsconfig",
    "fsmount", "fspick", "open_tree", "mount_setattr", "unshare", "setns",
    "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
    "init_module", "finit_module", "delete_module",
    "bpf", "perf_event_open", "userfaultfd", "fanotify_init",
    "keyctl", "add_key", "request_key", "personality",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "setfsuid", "setfsgid", "capset",
    "iopl", "ioperm", "open_by_handle_at", "name_to_handle_at", "acct", "quotactl",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname",
    "setdomainname", "vhangup", "lookup_dcookie", "uselib",
    /* io_uring performs operations (connect, openat, ...) the filter never
     * sees: it must not exist for plugin code. */
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    NULL,
};

/* Signals may only go to this process itself (raise, abort). */
static const char *const signal_self_only[] = {
    "kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", NULL,
};

static const char *const wx_calls[] = {"mmap", "mprotect", "pkey_mprotect", NULL};

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* "syscall 123" without snprintf (not async-signal-safe). */
static size_t fmt_number_name(char *buf, size_t cap, uint32_t nr)
{
    const char prefix[] = "syscall ";
    size_t n = sizeof(prefix) - 1;
    if (cap < n + 11)
        return 0;
    memcpy(buf, prefix, n);
    char digits[10];
    size_t d = 0;
    do {
        digits[d++] = (char)('0' + nr % 10);
        nr /= 10;
    } while (nr && d < sizeof(digits));
    while (d)
        buf[n++] = digits[--d];
    return n;
}

/* Writes the DENIED frame for syscall nr of architecture arch on the
 * report fd. Async-signal-safe. */
static void report_denied(uint32_t nr, uint32_t arch)
{
    char fallback[32];
    const char *name = NULL;
    size_t nlen;
    if (arch != native_arch) {
        name = "a system call of another ABI (int 0x80 / x32)";
    } else if (nr < NAME_SLOTS && denied_names[nr]) {
        name = denied_names[nr];
    }
    if (name) {
        nlen = strlen(name);
    } else {
        nlen = fmt_number_name(fallback, sizeof(fallback), nr);
        name = fallback;
    }
    if (nlen > 200)
        nlen = 200;
    if (report_fd >= 0) {
        uint8_t frame[HB_SEC_FRAME_HEADER + 8 + 200];
        uint32_t plen = 8 + (uint32_t)nlen;
        memset(frame, 0, HB_SEC_FRAME_HEADER);
        put_le32(frame, plen);
        frame[4] = HB_SEC_MSG_DENIED;
        /* id 0: the handler cannot know the request; the harness accepts a
         * DENIED frame during any request. */
        put_le32(frame + HB_SEC_FRAME_HEADER, nr);
        put_le32(frame + HB_SEC_FRAME_HEADER + 4, (uint32_t)nlen);
        memcpy(frame + HB_SEC_FRAME_HEADER + 8, name, nlen);
        size_t total = HB_SEC_FRAME_HEADER + plen, off = 0;
        while (off < total) {
            ssize_t w = write(report_fd, frame + off, total - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
}

static void on_sigsys(int sig, siginfo_t *si, void *uctx)
{
    (void)sig;
    (void)uctx;
    int saved = errno;
    report_denied((uint32_t)si->si_syscall, si->si_arch);
    /* SA_RESETHAND made the action the default (terminate); SA_NODEFER lets
     * this signal through at once, so the process dies of SIGSYS as a
     * crash the harness recognises. tgkill to ourselves is allowed. */
    syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGSYS);
    errno = saved;
    _exit(128 + SIGSYS);
}

/* Records the name a denial of `name` is reported with. */
static void note_name(int nr, const char *label)
{
    if (nr >= 0 && nr < NAME_SLOTS)
        denied_names[nr] = label;
}

static int add_rules(scmp_filter_ctx ctx, const hb_profile_spec *spec, pid_t self, char *err,
                     size_t errlen)
{
    int r;
    const char *what = NULL;
    for (size_t i = 0; deny_always[i]; i++) {
        int nr = seccomp_syscall_resolve_name(deny_always[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not a call on this architecture */
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_TRAP, nr, 0)) < 0) {
            what = deny_always[i];
            goto fail;
        }
        note_name(nr, deny_always[i]);
    }
    /* clone: threads yes (CLONE_THREAD), processes no. A user notification
     * rather than a trap: glibc's posix_spawn (system, popen) blocks every
     * signal around its clone, and a trap with SIGSYS blocked kills the
     * process before any handler can say which call it was. */
    what = "clone";
    if ((r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0))) < 0)
        goto fail;
    note_name(SCMP_SYS(clone), "clone (a new process)");
    what = "clone3";
    if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0)
        goto fail;
    for (size_t i = 0; signal_self_only[i]; i++) {
        int nr = seccomp_syscall_resolve_name(signal_self_only[i]);
        what = signal_self_only[i];
        if (nr == __NR_SCMP_ERROR)
            continue;
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_TRAP, nr, 1,
                                  SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)self))) < 0)
            goto fail;
    }
    note_name(SCMP_SYS(kill), "kill (of another process)");
    note_name(SCMP_SYS(tkill), "tkill (of another process)");
    note_name(SCMP_SYS(tgkill), "tgkill (of another process)");
    note_name(SCMP_SYS(rt_sigqueueinfo), "rt_sigqueueinfo (to another process)");
    note_name(SCMP_SYS(rt_tgsigqueueinfo), "rt_tgsigqueueinfo (to another process)");
    /* The reporter stays: a plugin may not replace the SIGSYS handler. */
    what = "rt_sigaction";
    if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(rt_sigaction), 2,
                              SCMP_A0(SCMP_CMP_EQ, SIGSYS), SCMP_A1(SCMP_CMP_NE, 0))) < 0)
        goto fail;
    if (spec->deny_wx) {
        for (size_t i = 0; wx_calls[i]; i++) {
            int nr = seccomp_syscall_resolve_name(wx_calls[i]);
            what = wx_calls[i];
            if (nr == __NR_SCMP_ERROR)
                continue;
            if ((r = seccomp_rule_add(ctx, SCMP_ACT_TRAP, nr, 1,
                                      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC,
                                              PROT_WRITE | PROT_EXEC))) < 0)
                goto fail;
        }
        note_name(SCMP_SYS(mmap), "mmap (writable and executable memory)");
        note_name(SCMP_SYS(mprotect), "mprotect (writable and executable memory)");
        note_name(SCMP_SYS(pkey_mprotect), "pkey_mprotect (writable and executable memory)");
    }
    return 0;
fail:
    snprintf(err, errlen, "seccomp rule for %s: %s", what ? what : "?", strerror(-r));
    return r;
}

/* The supervisor of SCMP_ACT_NOTIFY rules: a thread of the worker with
 * every signal blocked that waits on the listener fd. A notification means
 * a plugin thread is stopped inside a denied call; the supervisor reports
 * it and ends the process (exit status 128+SIGSYS, what a trap would give)
 * without ever letting the call proceed. */
static struct seccomp_notif *notif_req;
static struct seccomp_notif_resp *notif_resp;

static void *supervise(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    /* No allocation in here: the notification may come from a fork() that
     * holds malloc's locks while it waits for us. */
    struct seccomp_notif *req = notif_req;
    for (;;) {
        int r = seccomp_notify_receive(lfd, req);
        if (r == -EINTR || r == -ENOENT)
            continue;
        if (r < 0)
            break;
        report_denied((uint32_t)req->data.nr, req->data.arch);
        syscall(SYS_exit_group, 128 + SIGSYS);
    }
    /* The listener broke: nothing can answer notifications any more, so
     * a denied call would hang; end the process instead. */
    syscall(SYS_exit_group, 128 + SIGSYS);
    return NULL;
}

static int start_supervisor(int lfd, char *err, size_t errlen)
{
    int a = seccomp_notify_alloc(&notif_req, &notif_resp);
    if (a < 0) {
        snprintf(err, errlen, "seccomp_notify_alloc: %s", strerror(-a));
        return a;
    }
    /* Every signal but SIGSYS: if the supervisor itself hits a trap (glibc
     * makes every thread run setuid & co. through SIGSETXID), its handler
     * must run and report rather than the kernel killing silently. */
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSYS);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 << 10);
    int r = pthread_create(&t, &attr, supervise, (void *)(intptr_t)lfd);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        snprintf(err, errlen, "cannot start the seccomp supervisor thread: %s", strerror(r));
        return -r;
    }
    return 0;
}

int hb_sec_apply_profile(hb_profile p, int fd, char *err, size_t errlen)
{
    const hb_profile_spec *spec = hb_sec_profile(p);
    if (!spec) {
        snprintf(err, errlen, "unknown profile %d", (int)p);
        return -EINVAL;
    }
    hb_limits lim = spec->limits;
#if defined(__SANITIZE_ADDRESS__)
    lim.memory_bytes = 0; /* ASan reserves terabytes of shadow address space */
#endif
    const char *failed = NULL;
    int r = hb_sec_apply_limits(&lim, &failed);
    if (r < 0) {
        snprintf(err, errlen, "setrlimit %s: %s", failed ? failed : "?", strerror(-r));
        return r;
    }
    if (!spec->seccomp)
        return 0;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        r = -errno;
        snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        return r;
    }
    report_fd = fd;
    native_arch = seccomp_arch_native();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0) {
        r = -errno;
        snprintf(err, errlen, "sigaction SIGSYS: %s", strerror(errno));
        return r;
    }
    sigset_t sys;
    sigemptyset(&sys);
    sigaddset(&sys, SIGSYS);
    sigprocmask(SIG_UNBLOCK, &sys, NULL);

    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        snprintf(err, errlen, "seccomp_init failed");
        return -ENOMEM;
    }
    /* Calls through another ABI (int 0x80, x32) would skip every rule. */
    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
    r = add_rules(ctx, spec, getpid(), err, errlen);
    if (r == 0) {
        r = seccomp_load(ctx);
        if (r < 0)
            snprintf(err, errlen, "seccomp_load: %s", strerror(-r));
    }
    if (r == 0) {
        /* The thread is created under the filter: its clone has
         * CLONE_THREAD, which the filter allows. */
        int lfd = seccomp_notify_fd(ctx);
        r = lfd < 0 ? lfd : start_supervisor(lfd, err, errlen);
        if (lfd < 0)
            snprintf(err, errlen, "seccomp listener fd: %s", strerror(-lfd));
    }
    seccomp_release(ctx);
    return r;
}
