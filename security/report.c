/* security/report.c - what this machine supports, for `hotbox doctor`.
 * Each capability is tried for real in a short-lived child (a filter
 * loaded, a namespace created), not guessed from version numbers. */
#include "security.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* Runs body in a forked child; its exit status is the result (0 = works,
 * otherwise an errno value). */
static int in_child(int (*body)(void))
{
    pid_t p = fork();
    if (p < 0)
        return errno;
    if (p == 0)
        _exit(body());
    int st = 0;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return ECHILD;
}

static int try_seccomp(void)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return errno;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return ENOMEM;
    int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EXDEV), SCMP_SYS(getppid), 0);
    if (r == 0)
        r = seccomp_load(ctx);
    seccomp_release(ctx);
    if (r < 0)
        return -r;
    errno = 0;
    long v = syscall(SYS_getppid);
    return v == -1 && errno == EXDEV ? 0 : ENOSYS;
}

static int try_userns(void)
{
    return unshare(CLONE_NEWUSER) < 0 ? errno : 0;
}

static void line(hb_sb *out, const char *name, bool ok, const char *detail)
{
    hb__sb_addf(out, "%s: %s%s%s%s\n", name, ok ? "yes" : "no", detail && *detail ? " (" : "",
                detail ? detail : "", detail && *detail ? ")" : "");
}

int hb_sec_report(hb_sb *out)
{
    if (!out)
        return -EINVAL;
    size_t before = out->len;
    int e = in_child(try_seccomp);
    char buf[512];
    const struct scmp_version *v = seccomp_version();
    snprintf(buf, sizeof(buf), "libseccomp %u.%u.%u, API level %u%s%s", v->major, v->minor,
             v->micro, seccomp_api_get(), e ? ", loading a filter failed: " : "",
             e ? strerror(e) : "");
    line(out, "seccomp filters", e == 0, buf);

    e = in_child(try_userns);
    line(out, "user namespaces", e == 0, e ? strerror(e) : "unshare(CLONE_NEWUSER) works");

    const char *why = hb_sec_namespaces_unavailable();
    line(out, "bubblewrap namespaces", why == NULL,
         why ? why : "user, pid, net, ipc, uts, mount; minimal read-only root");

    struct statfs sf;
    if (statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
        line(out, "cgroup v2", true, "unified hierarchy at /sys/fs/cgroup");
    else if (statfs("/sys/fs/cgroup/unified", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
        line(out, "cgroup v2", true, "hybrid: v2 at /sys/fs/cgroup/unified, controllers on v1");
    else
        line(out, "cgroup v2", false, "no cgroup2 mount at /sys/fs/cgroup");

    for (hb_profile p = HB_PROFILE_STRICT; p <= HB_PROFILE_PERMISSIVE; p++) {
        const hb_profile_spec *s = hb_sec_profile(p);
        const char *effective = "";
        if (s->namespaces && why)
            effective = " [here: without namespaces]";
        hb__sb_addf(out, "profile %s: %s%s\n", s->name, s->summary, effective);
    }
    return out->len > before ? 0 : -ENOMEM;
}
