/*
 * compiler/microvm/agent_jail.c - the box one RUN job (a compile) runs in
 * inside the guest. Part of the static agent.
 *
 * A warm guest serves many jobs, of different plugins, one after another,
 * and a job's compiler may be hostile (a "-wrapper" or "-fplugin" in a
 * plugin.json's cflags runs any program). Without this box it ran as root
 * with every capability in the guest's own namespaces, and could leave a
 * process behind (setsid escapes the process group the agent kills), a file
 * in the guest's /tmp or root (/etc/ld.so.preload), or talk to the agent's
 * port, the console, the kernel's knobs: the next job, another plugin's,
 * would then be compiled by that. Now each job gets
 *   - its own pid namespace: when the job ends its namespace's init does,
 *     and the kernel kills everything left in it;
 *   - its own mount namespace: a fresh /tmp, a /proc of its pid namespace
 *     mounted read-only, no /sys, a /dev holding null, zero, full, random
 *     and urandom only (no agent port, no console), the binds the host
 *     asked for (vmproto.h RUN), then the root read-only;
 *   - its own IPC namespace;
 *   - uid 0 with only CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER
 *     (the 9p job directory shows the host's owners), bounding set to
 *     match, no_new_privs: it cannot mount, unmount, make devices, trace,
 *     load modules or change the clock.
 * What stays writable is the fresh /tmp and the job directory, which the
 * host empties before every job (stage.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"

#define KEEP_CAPS ((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH) | (1u << CAP_FOWNER))

static int fail(const char *what, const char *path)
{
    dprintf(2, "agent: job box: %s %s: %s\n", what, path ? path : "", strerror(errno));
    return -1;
}

static int make_dev(void)
{
    static const struct {
        const char *name;
        unsigned minor;
    } nodes[] = {{"null", 3}, {"zero", 5}, {"full", 7}, {"random", 8}, {"urandom", 9}};
    if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") != 0)
        return fail("mount tmpfs on", "/dev");
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        char p[64];
        snprintf(p, sizeof(p), "/dev/%s", nodes[i].name);
        if (mknod(p, S_IFCHR | 0666, makedev(1, nodes[i].minor)) != 0 || chmod(p, 0666) != 0)
            return fail("mknod", p);
    }
    static const char *const links[][2] = {{"/proc/self/fd", "/dev/fd"},
                                           {"/proc/self/fd/0", "/dev/stdin"},
                                           {"/proc/self/fd/1", "/dev/stdout"},
                                           {"/proc/self/fd/2", "/dev/stderr"}};
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        if (symlink(links[i][0], links[i][1]) != 0)
            return fail("symlink", links[i][1]);
    if (mount(NULL, "/dev", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) != 0)
        return fail("remount read-only", "/dev");
    return 0;
}

/* In the job's pid namespace's init, before the job starts. */
static int make_mounts(char **binds, uint64_t nbinds)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return fail("make private", "/");
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m") != 0)
        return fail("mount tmpfs on", "/tmp");
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) != 0)
        return fail("mount proc on", "/proc");
    if (umount2("/sys", MNT_DETACH) != 0)
        return fail("unmount", "/sys");
    if (make_dev() != 0)
        return -1;
    for (uint64_t i = 0; i < nbinds; i++) {
        const char *from = binds[2 * i], *to = binds[2 * i + 1];
        if (agent_mkdir_p(to) != 0)
            return fail("cannot create", to);
        if (mount(from, to, NULL, MS_BIND | MS_REC, NULL) != 0)
            return fail("bind", to);
    }
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0)
        return fail("remount read-only", "/");
    return 0;
}

static int drop_powers(void)
{
    for (unsigned c = 0; c <= 63; c++)
        if (!(c < 32 && (KEEP_CAPS & (1u << c))) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 &&
            errno != EINVAL)
            return fail("drop from the bounding set: capability", NULL);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof(d));
    d[0].effective = d[0].permitted = KEEP_CAPS;
    if (syscall(SYS_capset, &h, d) != 0)
        return fail("capset", NULL);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return fail("clear ambient capabilities", NULL);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fail("no_new_privs", NULL);
    return 0;
}

void agent_job_run(char **binds, uint64_t nbinds, const char *cwd, char **argv, char **envp,
                   const hb_limits *lim)
{
    /* The job's wait status, from the namespace's init to this process. */
    volatile int *status = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (status == MAP_FAILED || unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC) != 0) {
        fail("new namespaces", NULL);
        _exit(127);
    }
    *status = -1;
    pid_t init = fork();
    if (init < 0) {
        fail("fork", NULL);
        _exit(127);
    }
    if (init > 0) {
        /* Ends as the job ended, once its namespace is gone. */
        while (waitpid(init, NULL, 0) < 0 && errno == EINTR)
            ;
        int st = *status;
        if (st == -1)
            _exit(127); /* the box could not be made; the output says why */
        if (WIFSIGNALED(st)) {
            signal(WTERMSIG(st), SIG_DFL);
            sigset_t all;
            sigfillset(&all);
            sigprocmask(SIG_UNBLOCK, &all, NULL);
            kill(getpid(), WTERMSIG(st));
        }
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 127);
    }
    /* pid 1 of the job's namespace */
    if (make_mounts(binds, nbinds) != 0)
        _exit(127);
    pid_t job = fork();
    if (job < 0)
        _exit(127);
    if (job == 0) {
        if (chdir(cwd) != 0) {
            dprintf(2, "agent: chdir %s: %s\n", cwd, strerror(errno));
            _exit(127);
        }
        if (drop_powers() != 0)
            _exit(127);
        (void)hb__limits_apply(lim, NULL);
        signal(SIGPIPE, SIG_DFL);
        execvpe(argv[0], argv, envp);
        dprintf(2, "agent: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    for (;;) {
        int st;
        pid_t p = wait(&st);
        if (p == job) {
            *status = st;
            _exit(0); /* the kernel kills what the job left */
        }
        if (p < 0 && errno != EINTR)
            _exit(127);
    }
}
