/* security/report.c - what this machine supports, for `hotbox doctor`.
 * Each capability is tried for real in a short-lived child (a filter
 * loaded, a namespace created), not guessed from version numbers. */
#include "jail.h"
#include "process.h"
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

static int call_body(void *arg)
{
    return ((int (*)(void))arg)();
}

/* Runs body in a forked child; its exit status is the result (0 = works,
 * otherwise an errno value). */
static int in_child(int (*body)(void))
{
    hb_spawn sp = {.child_main = call_body, .arg = (void *)body};
    pid_t p = -1;
    int r = hb__spawn(&sp, &p, NULL, NULL);
    if (r < 0)
        return -r;
    int st = 0;
    (void)hb__wait_pid(p, &st, 0);
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

    const char *why = hb_jail_unavailable();
    line(out, "bubblewrap namespaces", why == NULL,
         why ? why
         : hb_jail_verdict_cached()
             ? "user, pid, net, ipc, uts, mount; minimal read-only root [cached verdict]"
             : "user, pid, net, ipc, uts, mount; minimal read-only root");

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

/* The first line of /proc/<pid>/<file> that starts with key (without the
 * key and leading blanks, newline cut) into buf; "" when absent. */
static void proc_field(pid_t pid, const char *file, const char *key, char *buf, size_t len)
{
    char path[64], l[512];
    buf[0] = 0;
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    size_t kl = strlen(key);
    while (fgets(l, sizeof(l), f)) {
        if (strncmp(l, key, kl) != 0)
            continue;
        const char *v = l + kl;
        while (*v == ' ' || *v == '\t')
            v++;
        snprintf(buf, len, "%s", v);
        buf[strcspn(buf, "\n")] = 0;
        /* collapse runs of blanks */
        char *w = buf;
        for (const char *r = buf; *r; r++)
            if (!((*r == ' ' || *r == '\t') && w > buf && w[-1] == ' '))
                *w++ = *r == '\t' ? ' ' : *r;
        *w = 0;
        break;
    }
    fclose(f);
}

int hb_sec_process_report(hb_sb *out, const char *role, pid_t pid)
{
    if (!out || !role || pid <= 0)
        return -EINVAL;
    char uid[128], map[128], eff[64], bnd[64], sec[16], nnp[16];
    proc_field(pid, "status", "Uid:", uid, sizeof(uid));
    proc_field(pid, "uid_map", "", map, sizeof(map));
    proc_field(pid, "status", "CapEff:", eff, sizeof(eff));
    proc_field(pid, "status", "CapBnd:", bnd, sizeof(bnd));
    proc_field(pid, "status", "Seccomp:", sec, sizeof(sec));
    proc_field(pid, "status", "NoNewPrivs:", nnp, sizeof(nnp));
    if (!uid[0])
        return hb__sb_addf(out, "  %s pid %d: gone (cannot read /proc/%d/status)\n", role,
                           (int)pid, (int)pid),
               -ESRCH;
    unsigned inside = 0, outside = 0, count = 0;
    bool mapped = sscanf(map, "%u %u %u", &inside, &outside, &count) == 3;
    bool no_eff = strspn(eff, "0") == strlen(eff), no_bnd = strspn(bnd, "0") == strlen(bnd);
    const char *seccomp = !strcmp(sec, "2") ? "filter" : !strcmp(sec, "1") ? "strict" : "NONE";
    hb__sb_addf(out, "  %s pid %d: host uid %s; ", role, (int)pid, uid);
    if (mapped && strcmp(map, "0 0 4294967295") != 0)
        hb__sb_addf(out, "uid %u inside = host uid %u%s; ", inside, outside,
                    outside == 0 ? " (ROOT)" : "");
    else
        hb__sb_adds(out, "no user namespace; ");
    hb__sb_addf(out, "capabilities %s (CapEff %s, CapBnd %s); seccomp %s; no_new_privs %s\n",
                !no_eff ? "PRESENT" : no_bnd ? "none" : "none effective", eff, bnd, seccomp, nnp);
    return 0;
}
