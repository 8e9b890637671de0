/* security/seccomp.c - the worker applies its profile to itself (rlimits,
 * no_new_privs, a libseccomp deny-list filter), and the harness reads the
 * filter's denials (hb_sec_listener_*).
 *
 * Why a deny list (default allow) and not an allow list: plugins are
 * arbitrary C linked against glibc, whose set of harmless system calls
 * grows with every release (rseq, clone3, statx, getrandom, ...); an allow
 * list breaks working plugins on a libc update, while the dangerous calls
 * are a short, stable list. clone3 answers ENOSYS, so glibc falls back to
 * clone, whose flags the filter can inspect (clone3 keeps them in memory,
 * out of a filter's reach).
 *
 * Why every denial is a user notification (SCMP_ACT_NOTIFY) read by the
 * harness, not a SIGSYS the worker reports: anything the worker says can be
 * said by plugin code, which shares its address space and its channel. The
 * kernel stops the denied thread and queues the call (number, arguments)
 * on the filter's listener fd; the worker passes that fd to the harness
 * before any plugin code runs and keeps no copy, so only the harness reads
 * denials, and only the kernel writes them. The stopped thread never
 * resumes: the harness kills the worker. */
#include "security.h"

#include <errno.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Unconditionally denied in strict and standard. unshare and setns are
 * here; clone's namespace flags have their own rules below. */
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

/* A thread may not start in namespaces of its own. (CLONE_NEWTIME shares
 * its bit with the exit signal in clone's flags; only clone3 and unshare
 * take it, and both are denied.) */
static const unsigned long clone_ns_flags[] = {
    CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
    CLONE_NEWNET,
};

#define DENY SCMP_ACT_NOTIFY

/* ioctls that change a terminal: the worker's stdout and stderr may be the
 * developer's terminal, and its modes (echo off, a stopped output, a new
 * line discipline, input pushed into it) would outlive hotbox. They fail
 * with EPERM instead of ending the worker: a plugin that only asks (isatty,
 * tcgetattr) keeps working, one that tries to change it learns it may not. */
/* The termios2 forms (struct termios2 is 44 bytes on every Linux ABI;
 * <asm/termbits.h> cannot be included beside glibc's <termios.h>). */
#define HB_TCSETS2 _IOW('T', 0x2B, char[44])
#define HB_TCSETSW2 _IOW('T', 0x2C, char[44])
#define HB_TCSETSF2 _IOW('T', 0x2D, char[44])
static const unsigned long tty_changes[] = {
    TCSETS, TCSETSW, TCSETSF, TCSETA, TCSETAW, TCSETAF, HB_TCSETS2, HB_TCSETSW2, HB_TCSETSF2,
    TIOCSWINSZ, TCFLSH, TCXONC, TCSBRK, TCSBRKP, TIOCSBRK, TIOCCBRK, TIOCSETD, TIOCSTI,
    TIOCLINUX, TIOCCONS, TIOCSCTTY, TIOCNOTTY, TIOCSPGRP, TIOCSLCKTRMIOS, TIOCVHANGUP,
    TIOCEXCL, TIOCNXCL, TIOCSSERIAL, TIOCMSET, TIOCMBIS, TIOCMBIC,
};

static int add_named(scmp_filter_ctx ctx, const char *name, unsigned n,
                     const struct scmp_arg_cmp *cmp)
{
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR)
        return 0; /* not a call on this architecture */
    return seccomp_rule_add_array(ctx, DENY, nr, n, cmp);
}

/* strict's W^X: no memory is ever writable and executable, no mapping
 * becomes executable after it was made, and executable memory comes only
 * from private mappings of files (what the dynamic loader makes of the
 * plugin and its libraries; RELRO's mprotect is PROT_READ). That leaves no
 * way to run generated code through memory: not RW->RX flips, not a
 * second executable view of memory written through the first (memfd,
 * MAP_SHARED, SysV shm with SHM_EXEC). */
static int add_wx_rules(scmp_filter_ctx ctx, const char **what)
{
    const scmp_datum_t wx = PROT_WRITE | PROT_EXEC;
    const struct scmp_arg_cmp both[] = {SCMP_A2(SCMP_CMP_MASKED_EQ, wx, wx)};
    const struct scmp_arg_cmp exec[] = {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)};
    const struct scmp_arg_cmp exec_anon[] = {
        SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC),
        SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, MAP_ANONYMOUS)};
    /* MAP_SHARED_VALIDATE has the MAP_SHARED bit too. */
    const struct scmp_arg_cmp exec_shared[] = {
        SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC),
        SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_SHARED, MAP_SHARED)};
    const struct scmp_arg_cmp shm_exec[] = {SCMP_A2(SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC)};
    int r;
    if ((r = add_named(ctx, *what = "mmap", 1, both)) < 0 ||
        (r = add_named(ctx, *what = "mmap", 2, exec_anon)) < 0 ||
        (r = add_named(ctx, *what = "mmap", 2, exec_shared)) < 0 ||
        (r = add_named(ctx, *what = "mprotect", 1, exec)) < 0 ||
        (r = add_named(ctx, *what = "pkey_mprotect", 1, exec)) < 0 ||
        (r = add_named(ctx, *what = "memfd_create", 0, NULL)) < 0 ||
        (r = add_named(ctx, *what = "shmat", 1, shm_exec)) < 0)
        return r;
    return 0;
}

/* An allow-list's UNIX socket (HB_SEC_ALLOW_UNIX): socket() of another
 * family is still denied, connect() is allowed. */
static bool opened_by_allow(const char *name, unsigned allow)
{
    return (allow & HB_SEC_ALLOW_UNIX) && (!strcmp(name, "socket") || !strcmp(name, "connect"));
}

/* fd may not be closed or replaced (hb_sec_apply_profile_guard). The
 * arguments are unsigned int to the kernel, which ignores a register's
 * upper half; libseccomp compares all 64 bits (SCMP_CMP32 only truncates
 * the datum), so a number is matched through a 32-bit mask, and a
 * close_range whose first argument has upper bits set is refused too (its
 * range cannot be compared as the kernel reads it). */
static int add_guard_rules(scmp_filter_ctx ctx, int fd, const char **what)
{
    const scmp_datum_t d = (scmp_datum_t)(unsigned)fd, low = 0xffffffffu;
    int r;
    *what = "close (the channel)";
    if ((r = seccomp_rule_add(ctx, DENY, SCMP_SYS(close), 1,
                              SCMP_A0_64(SCMP_CMP_MASKED_EQ, low, d))) < 0)
        return r;
    *what = "dup2 (onto the channel)";
    if ((r = seccomp_rule_add(ctx, DENY, SCMP_SYS(dup2), 1,
                              SCMP_A1_64(SCMP_CMP_MASKED_EQ, low, d))) < 0)
        return r;
    *what = "dup3 (onto the channel)";
    if ((r = seccomp_rule_add(ctx, DENY, SCMP_SYS(dup3), 1,
                              SCMP_A1_64(SCMP_CMP_MASKED_EQ, low, d))) < 0)
        return r;
    *what = "close_range (over the channel)";
    if ((r = seccomp_rule_add(ctx, DENY, SCMP_SYS(close_range), 1,
                              SCMP_A0_64(SCMP_CMP_GT, low))) < 0)
        return r;
    return seccomp_rule_add(ctx, DENY, SCMP_SYS(close_range), 3, SCMP_A0_64(SCMP_CMP_LE, d),
                            SCMP_A1_64(SCMP_CMP_GE, d),
                            SCMP_A2_64(SCMP_CMP_MASKED_EQ, CLOSE_RANGE_CLOEXEC, 0));
}

static int add_rules(scmp_filter_ctx ctx, const hb_profile_spec *spec, unsigned allow,
                     pid_t self, int guard_fd, char *err, size_t errlen)
{
    int r;
    const char *what = NULL;
    if (guard_fd >= 0 && (r = add_guard_rules(ctx, guard_fd, &what)) < 0)
        goto fail;
    for (size_t i = 0; deny_always[i]; i++)
        if (!opened_by_allow(deny_always[i], allow) &&
            (r = add_named(ctx, what = deny_always[i], 0, NULL)) < 0)
            goto fail;
    const struct scmp_arg_cmp not_unix[] = {SCMP_A0(SCMP_CMP_NE, AF_UNIX)};
    if ((allow & HB_SEC_ALLOW_UNIX) && (r = add_named(ctx, what = "socket", 1, not_unix)) < 0)
        goto fail;
    /* clone: threads yes (CLONE_THREAD), processes no; and no thread in a
     * namespace of its own. */
    what = "clone";
    if ((r = seccomp_rule_add(ctx, DENY, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0))) < 0)
        goto fail;
    for (size_t i = 0; i < HB_ARRAY_SIZE(clone_ns_flags); i++)
        if ((r = seccomp_rule_add(ctx, DENY, SCMP_SYS(clone), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i],
                                          clone_ns_flags[i]))) < 0)
            goto fail;
    what = "clone3";
    if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0)
        goto fail;
    const struct scmp_arg_cmp other[] = {SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)self)};
    for (size_t i = 0; signal_self_only[i]; i++)
        if ((r = add_named(ctx, what = signal_self_only[i], 1, other)) < 0)
            goto fail;
    /* prlimit64 of another process (its pid): the manager's RLIMIT_CPU
     * would kill it where no pid namespace hides it. getrlimit, setrlimit
     * and prlimit(0, ...) name pid 0. */
    const struct scmp_arg_cmp not_self[] = {SCMP_A0(SCMP_CMP_NE, 0)};
    if ((r = add_named(ctx, what = "prlimit64", 1, not_self)) < 0)
        goto fail;
    what = "ioctl (changing a terminal)";
    for (size_t i = 0; i < HB_ARRAY_SIZE(tty_changes); i++)
        if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, tty_changes[i]))) < 0)
            goto fail;
    if (spec->deny_wx && (r = add_wx_rules(ctx, &what)) < 0)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "seccomp rule for %s: %s", what ? what : "?", strerror(-r));
    return r;
}

int hb_sec_apply_profile(hb_profile p, hb_sec_applied *out, char *err, size_t errlen)
{
    return hb_sec_apply_profile_allow(p, 0, out, err, errlen);
}

int hb_sec_apply_profile_allow(hb_profile p, unsigned allow, hb_sec_applied *out, char *err,
                               size_t errlen)
{
    return hb_sec_apply_profile_guard(p, allow, -1, out, err, errlen);
}

int hb_sec_apply_profile_guard(hb_profile p, unsigned allow, int guard_fd, hb_sec_applied *out,
                               char *err, size_t errlen)
{
    const hb_profile_spec *spec = hb_sec_profile(p);
    if (!spec || !out) {
        snprintf(err, errlen, "unknown profile %d", (int)p);
        return -EINVAL;
    }
    out->listener = -1;
    out->files_locked = false;
    hb_limits lim = spec->limits;
#if defined(__SANITIZE_ADDRESS__)
    lim.memory_bytes = 0; /* ASan reserves terabytes of shadow address space */
#endif
    const char *failed = NULL;
    int r = hb__limits_apply(&lim, &failed);
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
    if ((r = hb__sec_scope_process(err, errlen)) < 0)
        return r;
    if (spec->deny_wx) {
        r = hb__sec_lock_written_files(err, errlen);
        if (r < 0)
            return r;
        out->files_locked = r == 1;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        snprintf(err, errlen, "seccomp_init failed");
        return -ENOMEM;
    }
    /* Calls through another ABI (int 0x80, x32) would skip every rule:
     * they are denials too, reported like the others. */
    r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, DENY);
    if (r < 0)
        snprintf(err, errlen, "seccomp: deny other ABIs: %s", strerror(-r));
    if (r == 0)
        r = add_rules(ctx, spec, allow, getpid(), guard_fd, err, errlen);
    if (r == 0) {
        r = seccomp_load(ctx);
        if (r < 0)
            snprintf(err, errlen, "seccomp_load: %s", strerror(-r));
    }
    if (r == 0) {
        /* The kernel made it O_CLOEXEC. */
        int lfd = seccomp_notify_fd(ctx);
        if (lfd < 0) {
            r = lfd;
            snprintf(err, errlen, "seccomp listener fd: %s", strerror(-lfd));
        } else {
            out->listener = lfd;
            r = 0;
        }
    }
    seccomp_release(ctx);
    return r;
}

/* ---- the harness's side ----------------------------------------------------- */

int hb_sec_listener_check(int fd)
{
    /* Only a listener knows SECCOMP_IOCTL_NOTIF_ID_VALID; no notification
     * has id 0 pending, so a listener answers ENOENT. */
    uint64_t id = 0;
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0 || errno == ENOENT)
        return 0;
    return errno == EBADF ? -EBADF : -ENOTTY;
}

static bool is_call(int nr, const char *name)
{
    return nr == seccomp_syscall_resolve_name(name);
}

void hb_sec_describe_denial(uint32_t arch, int nr, const uint64_t args[6], char *buf,
                            size_t len)
{
    if (arch != seccomp_arch_native()) {
        snprintf(buf, len, "a system call of another ABI (int 0x80 / x32)");
        return;
    }
    const uint64_t wx = PROT_WRITE | PROT_EXEC;
    const char *name = NULL, *why = NULL;
    char *resolved = seccomp_syscall_resolve_num_arch(arch, nr);
    name = resolved;
    if (is_call(nr, "clone")) {
        why = args[0] & CLONE_THREAD ? "namespace flags on a thread" : "a new process";
    } else if (is_call(nr, "kill") || is_call(nr, "tkill") || is_call(nr, "tgkill")) {
        why = "of another process";
    } else if (is_call(nr, "rt_sigqueueinfo") || is_call(nr, "rt_tgsigqueueinfo")) {
        why = "to another process";
    } else if (is_call(nr, "prlimit64")) {
        why = "of another process";
    } else if (is_call(nr, "mmap")) {
        if ((args[2] & wx) == wx)
            why = "writable and executable memory";
        else if (args[3] & MAP_ANONYMOUS)
            why = "executable anonymous memory";
        else
            why = "an executable shared mapping";
    } else if (is_call(nr, "mprotect") || is_call(nr, "pkey_mprotect")) {
        why = (args[2] & wx) == wx ? "writable and executable memory"
                                   : "making memory executable";
    } else if (is_call(nr, "shmat")) {
        why = "executable shared memory";
    }
    if (name && why)
        snprintf(buf, len, "%s (%s)", name, why);
    else if (name)
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "system call %d", nr);
    free(resolved);
}

int hb_sec_listener_take(int fd, char *what, size_t len)
{
    struct seccomp_notif *req = NULL;
    struct seccomp_notif_resp *resp = NULL;
    int r = seccomp_notify_alloc(&req, &resp);
    if (r < 0)
        return r;
    /* Only called when poll says a notification is pending; if its thread
     * died in between, the kernel answers at once with an error. */
    r = seccomp_notify_receive(fd, req);
    if (r == 0) {
        uint64_t args[6];
        for (int i = 0; i < 6; i++)
            args[i] = req->data.args[i];
        hb_sec_describe_denial(req->data.arch, req->data.nr, args, what, len);
        r = 1;
    } else if (r == -ENOENT || r == -ECANCELED || r == -EINTR) {
        r = 0;
    }
    seccomp_notify_free(req, resp);
    return r;
}
