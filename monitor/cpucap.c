/* monitor/cpucap.c - a CPU cap for a sandbox's worker on a machine whose
 * cpu controller lives in a cgroup v1 hierarchy (the "hybrid" layout:
 * cgroup v2 mounted, but cpu bound to /sys/fs/cgroup/cpu). Where cgroup v2
 * has the cpu controller, the sandbox's v2 cgroup carries cpu.max instead
 * (cgroup.c) and this file is not used. One job: find the v1 cpu
 * hierarchy, create <own cpu cgroup>/hotbox-<pid>-<name> with
 * cpu.cfs_quota_us, put processes in it, remove it (and the ones of
 * managers that died without removing theirs). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "monitor.h"
#include "util.h"

struct hb_cpucap {
    char *path;
};

#define CFS_PERIOD_US 100000u

/* Removes the caps a manager that died without cleaning up left behind
 * (hotbox-<pid>-* of a pid that is gone; rmdir fails while one is in use). */
static void reap_stale(const char *parent)
{
    DIR *d = opendir(parent);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        int pid;
        if (sscanf(e->d_name, "hotbox-%d-", &pid) != 1 || pid <= 0 ||
            (kill(pid, 0) == 0 || errno != ESRCH))
            continue;
        char *p = hb__path_join(parent, e->d_name);
        if (p)
            rmdir(p);
        free(p);
    }
    closedir(d);
}

int hb_cpucap_new(const char *name, unsigned percent, hb_cpucap **out, char **err)
{
    if (!name || !*name || strchr(name, '/') || !percent || percent > 100000)
        return hb__seterr(err, -EINVAL, "cpu cap: bad name or percentage %u", percent);
    char *mnt = NULL, *own = NULL;
    int r = hb__cgfs_mount("cgroup", "cpu", &mnt);
    if (r < 0)
        return hb__seterr(err, -EOPNOTSUPP, "no cgroup v1 cpu hierarchy is mounted and cgroup "
                          "v2 does not delegate cpu here: no CPU cap");
    r = hb__cgfs_own("cpu", &own);
    if (r < 0) {
        free(mnt);
        return hb__seterr(err, -EOPNOTSUPP, "this process has no place in the cgroup v1 cpu "
                          "hierarchy (/proc/self/cgroup): no CPU cap");
    }
    char *parent = hb__asprintf("%s%s", mnt, strcmp(own, "/") ? own : "");
    free(mnt);
    free(own);
    if (!parent)
        return -ENOMEM;
    reap_stale(parent);
    char *path = hb__asprintf("%s/hotbox-%d-%s", parent, (int)getpid(), name);
    free(parent);
    if (!path)
        return -ENOMEM;
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        r = -errno;
        hb__seterr(err, r, "%s: %s (a CPU cap on cgroup v1 needs root or a delegated "
                   "cpu hierarchy)", path, strerror(-r));
        free(path);
        return r;
    }
    char v[32];
    snprintf(v, sizeof(v), "%u", CFS_PERIOD_US);
    if ((r = hb__cgfs_write(path, "cpu.cfs_period_us", v)) == 0) {
        snprintf(v, sizeof(v), "%llu",
                 (unsigned long long)percent * CFS_PERIOD_US / 100ull);
        r = hb__cgfs_write(path, "cpu.cfs_quota_us", v);
    }
    if (r < 0) {
        hb__seterr(err, r, "%s/cpu.cfs_quota_us: %s", path, strerror(-r));
        rmdir(path);
        free(path);
        return r;
    }
    hb_cpucap *c = calloc(1, sizeof(*c));
    if (!c) {
        rmdir(path);
        free(path);
        return -ENOMEM;
    }
    c->path = path;
    *out = c;
    return 0;
}

int hb_cpucap_add_pid(hb_cpucap *c, pid_t pid)
{
    return c ? hb__cgfs_add_pid(c->path, pid) : -EINVAL;
}

const char *hb_cpucap_path(const hb_cpucap *c)
{
    return c ? c->path : NULL;
}

void hb_cpucap_free(hb_cpucap *c)
{
    if (!c)
        return;
    /* Its processes are gone (the worker was stopped first); a v1 cgroup
     * with none left is removed with rmdir. */
    rmdir(c->path);
    free(c->path);
    free(c);
}
