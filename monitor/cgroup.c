/* monitor/cgroup.c - a cgroup v2 sub-tree per sandbox, where the machine
 * lets hotbox make one.
 *
 * Layout: <own cgroup>/hotbox-<manager pid>/<sandbox>. The manager itself
 * stays in its own cgroup; the per-manager parent holds no processes, so it
 * may delegate controllers to its children (cgroup v2's "no internal
 * processes" rule). For the parent to have memory/cpu/pids at all, the
 * manager's own cgroup must list them in cgroup.subtree_control, which the
 * same rule forbids to change while the manager lives in it (unless it is
 * the root). That, and hybrid systems whose controllers are bound to cgroup
 * v1, are the usual reasons this falls back to rlimits: the probe says
 * which. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "monitor.h"
#include "util.h"

struct hb_cgroup {
    char *path;
    char *parent;
    unsigned controllers;
};

static const struct {
    unsigned bit;
    const char *name;
} ctl_names[] = {{HB_CG_MEMORY, "memory"}, {HB_CG_CPU, "cpu"}, {HB_CG_PIDS, "pids"}};

/* Whether a blank-separated list holds word. */
static bool has_word(const char *list, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += wl) {
        bool start = p == list || p[-1] == ' ' || p[-1] == '\n';
        bool end = p[wl] == '\0' || p[wl] == ' ' || p[wl] == '\n';
        if (start && end)
            return true;
    }
    return false;
}

static unsigned ctl_mask(const char *list)
{
    unsigned m = 0;
    for (size_t i = 0; i < HB_ARRAY_SIZE(ctl_names); i++)
        if (has_word(list, ctl_names[i].name))
            m |= ctl_names[i].bit;
    return m;
}

static void add_names(hb_sb *sb, unsigned mask)
{
    bool first = true;
    for (size_t i = 0; i < HB_ARRAY_SIZE(ctl_names); i++)
        if (mask & ctl_names[i].bit) {
            hb__sb_addf(sb, "%s%s", first ? "" : ", ", ctl_names[i].name);
            first = false;
        }
}

/* ---- where is cgroup v2 ---------------------------------------------------- */

/* Our cgroup v2 path ("0::/path") and, for explanations, which of
 * memory/cpu/pids are bound to a v1 hierarchy. */
static int own_cgroup(char **path, unsigned *v1_bound)
{
    *v1_bound = 0;
    for (size_t i = 0; i < HB_ARRAY_SIZE(ctl_names); i++) {
        char *v1 = NULL;
        if (hb__cgfs_own(ctl_names[i].name, &v1) == 0)
            *v1_bound |= ctl_names[i].bit;
        free(v1);
    }
    return hb__cgfs_own(NULL, path);
}

/* The manager's own cgroup directory (mount + own path). */
static int base_dir(char **out, unsigned *v1_bound, char **why)
{
    char *mnt = NULL, *own = NULL;
    int r = hb__cgfs_mount("cgroup2", NULL, &mnt);
    if (r < 0) {
        hb__seterr(why, r, "no cgroup v2 file system is mounted (%s); limits use rlimits",
                   strerror(-r));
        return r;
    }
    r = own_cgroup(&own, v1_bound);
    if (r < 0) {
        hb__seterr(why, r, "this process has no cgroup v2 membership in /proc/self/cgroup; "
                   "limits use rlimits");
        free(mnt);
        return r;
    }
    *out = strcmp(own, "/") == 0 ? strdup(mnt) : hb__asprintf("%s%s", mnt, own);
    free(mnt);
    free(own);
    return *out ? 0 : -ENOMEM;
}

static char *parent_dir(const char *base)
{
    return hb__asprintf("%s/hotbox-%d", base, (int)getpid());
}

/* Makes the per-manager parent with `want` delegated to its children.
 * Returns the mask it could delegate (>= 0) or -errno when even the
 * directory cannot be made; *why explains anything missing. */
static int prepare_parent(const char *base, const char *parent, unsigned want,
                          unsigned v1_bound, bool *created, char **why)
{
    char avail_s[512] = "", sub_s[512] = "";
    int r = hb__cgfs_read(base, "cgroup.controllers", avail_s, sizeof(avail_s));
    if (r < 0)
        return hb__seterr(why, r, "%s/cgroup.controllers: %s; limits use rlimits", base,
                          strerror(-r));
    hb__cgfs_read(base, "cgroup.subtree_control", sub_s, sizeof(sub_s));
    unsigned avail = ctl_mask(avail_s) & want;
    unsigned sub = ctl_mask(sub_s) & want;
    hb_sb msg = HB_SB_INIT;
    if (avail != want) {
        unsigned missing = want & ~avail;
        hb__sb_adds(&msg, "cgroup v2 at ");
        hb__sb_adds(&msg, base);
        hb__sb_adds(&msg, " does not offer ");
        add_names(&msg, missing);
        char *nl = strchr(avail_s, '\n');
        if (nl)
            *nl = '\0';
        hb__sb_addf(&msg, " (its cgroup.controllers lists \"%s\")", avail_s);
        if (missing & v1_bound)
            hb__sb_adds(&msg, ": bound to cgroup v1 hierarchies (hybrid layout)");
        else
            hb__sb_adds(&msg, ": not delegated to this cgroup");
    }
    /* Delegate what is available but not yet enabled below base. */
    for (size_t i = 0; i < HB_ARRAY_SIZE(ctl_names); i++) {
        unsigned bit = ctl_names[i].bit;
        if (!(avail & bit) || (sub & bit))
            continue;
        char cmd[32];
        snprintf(cmd, sizeof(cmd), "+%s", ctl_names[i].name);
        r = hb__cgfs_write(base, "cgroup.subtree_control", cmd);
        if (r == 0) {
            sub |= bit;
            continue;
        }
        hb__sb_addf(&msg, "%scannot enable %s below %s: %s%s", msg.len ? "; " : "",
                    ctl_names[i].name, base, strerror(-r),
                    r == -EBUSY ? " (the \"no internal processes\" rule: that cgroup holds "
                                  "processes, this manager among them; run hotbox in a leaf "
                                  "cgroup with delegation, e.g. systemd-run --scope -p "
                                  "Delegate=yes)" : "");
    }
    *created = false;
    if (mkdir(parent, 0755) == 0) {
        *created = true;
    } else if (errno != EEXIST) {
        int e = errno;
        hb__sb_release(&msg);
        return hb__seterr(why, -e, "cannot create cgroup %s: %s; limits use rlimits", parent,
                          strerror(e));
    }
    unsigned got = 0;
    for (size_t i = 0; i < HB_ARRAY_SIZE(ctl_names); i++) {
        unsigned bit = ctl_names[i].bit;
        if (!(sub & bit))
            continue;
        char cmd[32];
        snprintf(cmd, sizeof(cmd), "+%s", ctl_names[i].name);
        r = hb__cgfs_write(parent, "cgroup.subtree_control", cmd);
        if (r == 0)
            got |= bit;
        else
            hb__sb_addf(&msg, "%scannot enable %s in %s: %s", msg.len ? "; " : "",
                        ctl_names[i].name, parent, strerror(-r));
    }
    if (msg.len) {
        free(*why);
        *why = hb__sb_detach(&msg);
    }
    hb__sb_release(&msg);
    return (int)got;
}

int hb_cgroup_probe(char **why)
{
    char *base = NULL, *parent = NULL, *text = NULL;
    unsigned v1 = 0;
    int r = base_dir(&base, &v1, &text);
    if (r < 0)
        goto out;
    if (!(parent = parent_dir(base))) {
        r = -ENOMEM;
        goto out;
    }
    bool created = false;
    r = prepare_parent(base, parent, HB_CG_MEMORY | HB_CG_CPU | HB_CG_PIDS, v1, &created, &text);
    if (r < 0)
        goto out;
    if (created)
        rmdir(parent);
    hb_sb s = HB_SB_INIT;
    if (r == (HB_CG_MEMORY | HB_CG_CPU | HB_CG_PIDS)) {
        hb__sb_addf(&s, "cgroup v2 usable under %s: memory, cpu and pids limits", base);
    } else {
        hb__sb_addf(&s, "cgroup v2 under %s: ", base);
        if (r) {
            hb__sb_adds(&s, "only ");
            add_names(&s, (unsigned)r);
            hb__sb_adds(&s, " limits; ");
        } else {
            hb__sb_adds(&s, "accounting and cgroup.kill only, no limits; ");
        }
        hb__sb_addf(&s, "%s; the rest use rlimits", text ? text : "");
    }
    free(text);
    text = hb__sb_detach(&s);
out:
    if (why) {
        free(*why);
        *why = text;
    } else {
        free(text);
    }
    free(parent);
    free(base);
    return r;
}

static unsigned needed(const hb_cgroup_limits *l)
{
    unsigned m = 0;
    if (l && l->memory_max)
        m |= HB_CG_MEMORY;
    if (l && l->cpu_percent)
        m |= HB_CG_CPU;
    if (l && l->pids_max)
        m |= HB_CG_PIDS;
    return m;
}

static int write_limits(hb_cgroup *cg, const hb_cgroup_limits *l, char **err)
{
    char v[64];
    int r;
    if (l->memory_max) {
        snprintf(v, sizeof(v), "%llu", (unsigned long long)l->memory_max);
        if ((r = hb__cgfs_write(cg->path, "memory.max", v)) < 0)
            return hb__seterr(err, r, "%s/memory.max: %s", cg->path, strerror(-r));
        /* Swap would let the worker outgrow the limit slowly instead of dying. */
        hb__cgfs_write(cg->path, "memory.swap.max", "0");
    }
    if (l->pids_max) {
        snprintf(v, sizeof(v), "%llu", (unsigned long long)l->pids_max);
        if ((r = hb__cgfs_write(cg->path, "pids.max", v)) < 0)
            return hb__seterr(err, r, "%s/pids.max: %s", cg->path, strerror(-r));
    }
    if (l->cpu_percent) {
        snprintf(v, sizeof(v), "%u 100000", l->cpu_percent * 1000u);
        if ((r = hb__cgfs_write(cg->path, "cpu.max", v)) < 0)
            return hb__seterr(err, r, "%s/cpu.max: %s", cg->path, strerror(-r));
    }
    return 0;
}

int hb_cgroup_create(const char *name, const hb_cgroup_limits *limits, hb_cgroup **out,
                     char **err)
{
    if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0 || !out)
        return -EINVAL;
    unsigned want = needed(limits);
    char *base = NULL, *why = NULL;
    unsigned v1 = 0;
    hb_cgroup *cg = NULL;
    int r = base_dir(&base, &v1, err);
    if (r < 0)
        goto out;
    if (!(cg = calloc(1, sizeof(*cg))) || !(cg->parent = parent_dir(base))) {
        r = -ENOMEM;
        goto out;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        bool created;
        r = prepare_parent(base, cg->parent, want, v1, &created, &why);
        if (r < 0) {
            hb__seterr(err, r, "%s", why ? why : "cannot prepare the cgroup parent");
            goto out;
        }
        if ((unsigned)r != want) {
            hb__seterr(err, -EOPNOTSUPP, "cannot enforce limits with cgroup v2: %s; use rlimits",
                       why ? why : "controllers missing");
            r = -EOPNOTSUPP;
            if (created)
                rmdir(cg->parent);
            goto out;
        }
        cg->controllers = want;
        free(cg->path);
        if (!(cg->path = hb__path_join(cg->parent, name))) {
            r = -ENOMEM;
            goto out;
        }
        if (mkdir(cg->path, 0755) == 0)
            break;
        r = -errno;
        /* ENOENT: another sandbox's destroy removed the empty parent between
         * our mkdir of it and ours of the child: once more. */
        if (r != -ENOENT || attempt == 1) {
            hb__seterr(err, r, "cannot create cgroup %s: %s", cg->path, strerror(-r));
            goto out;
        }
    }
    if (limits && (r = write_limits(cg, limits, err)) < 0) {
        rmdir(cg->path);
        goto out;
    }
    *out = cg;
    cg = NULL;
    r = 0;
out:
    if (cg) {
        HB_FREE_ALL(cg->path, cg->parent, cg);
    }
    free(why);
    free(base);
    return r;
}

int hb_cgroup_add_pid(hb_cgroup *cg, pid_t pid)
{
    return cg ? hb__cgfs_add_pid(cg->path, pid) : -EINVAL;
}

int hb_cgroup_procs_fd(hb_cgroup *cg)
{
    if (!cg)
        return -EINVAL;
    char *p = hb__path_join(cg->path, "cgroup.procs");
    if (!p)
        return -ENOMEM;
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    free(p);
    return fd < 0 ? -errno : fd;
}

int hb_cgroup_dir_fd(hb_cgroup *cg)
{
    if (!cg)
        return -EINVAL;
    int fd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int hb_cgroup_join_self(int procs_fd)
{
    /* "0" means the writing process; write(2) is async-signal-safe. */
    ssize_t n;
    do
        n = write(procs_fd, "0", 1);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : 0;
}

/* "key value" lines (cpu.stat, memory.events). */
static uint64_t keyed(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
            return strtoull(p + kl + 1, NULL, 10);
    return 0;
}

static uint64_t single(const char *dir, const char *file)
{
    char buf[64];
    if (hb__cgfs_read(dir, file, buf, sizeof(buf)) < 0 || strncmp(buf, "max", 3) == 0)
        return 0;
    return strtoull(buf, NULL, 10);
}

uint64_t hb_cgroup_oom_kills(hb_cgroup *cg)
{
    char buf[512];
    if (!cg || hb__cgfs_read(cg->path, "memory.events", buf, sizeof(buf)) < 0)
        return 0;
    return keyed(buf, "oom_kill");
}

static unsigned count_procs(const char *dir)
{
    char buf[8192];
    if (hb__cgfs_read(dir, "cgroup.procs", buf, sizeof(buf)) < 0)
        return 0;
    unsigned n = 0;
    for (char *p = buf; *p; p++)
        n += *p == '\n';
    return n;
}

int hb_cgroup_usage(hb_cgroup *cg, hb_cgroup_stats *out)
{
    if (!cg || !out)
        return -EINVAL;
    char buf[1024];
    int r = hb__cgfs_read(cg->path, "cpu.stat", buf, sizeof(buf));
    if (r < 0)
        return r;
    hb_cgroup_stats s = {0};
    s.cpu_usage_usec = keyed(buf, "usage_usec");
    if (cg->controllers & HB_CG_MEMORY) {
        s.memory_current = single(cg->path, "memory.current");
        s.memory_max = single(cg->path, "memory.max");
        s.oom_kills = hb_cgroup_oom_kills(cg);
    }
    if (cg->controllers & HB_CG_PIDS) {
        s.pids_current = single(cg->path, "pids.current");
        s.pids_max = single(cg->path, "pids.max");
    }
    s.populated = count_procs(cg->path);
    *out = s;
    return 0;
}

unsigned hb_cgroup_controllers(const hb_cgroup *cg)
{
    return cg ? cg->controllers : 0;
}

const char *hb_cgroup_path(const hb_cgroup *cg)
{
    return cg ? cg->path : "";
}

static void kill_listed(const char *dir)
{
    char buf[8192];
    if (hb__cgfs_read(dir, "cgroup.procs", buf, sizeof(buf)) < 0)
        return;
    for (char *p = buf; *p;) {
        long pid = strtol(p, &p, 10);
        if (pid > 0)
            kill((pid_t)pid, SIGKILL);
        while (*p == '\n')
            p++;
    }
}

/* Waits (bounded) for "populated 0" in cgroup.events, which the kernel
 * signals with POLLPRI. */
static void wait_empty(const char *dir, int timeout_ms)
{
    char *p = hb__path_join(dir, "cgroup.events");
    if (!p)
        return;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    free(p);
    if (fd < 0)
        return;
    uint64_t deadline = hb__now_ns() + (uint64_t)timeout_ms * 1000000ull;
    for (;;) {
        char buf[256];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        buf[n] = '\0';
        if (keyed(buf, "populated") == 0)
            break;
        uint64_t now = hb__now_ns();
        if (now >= deadline)
            break;
        /* Processes SIGKILLed without cgroup.kill: kill late forks too. */
        kill_listed(dir);
        struct pollfd pf = {.fd = fd, .events = POLLPRI};
        int wait = (int)((deadline - now) / 1000000ull) + 1;
        if (wait > 50)
            wait = 50; /* re-check for forks that raced the kill */
        if (poll(&pf, 1, wait) < 0 && errno != EINTR)
            break;
    }
    close(fd);
}

int hb_cgroup_destroy(hb_cgroup *cg)
{
    if (!cg)
        return 0;
    if (hb__cgfs_write(cg->path, "cgroup.kill", "1") < 0)
        kill_listed(cg->path);
    wait_empty(cg->path, 2000);
    int r = 0;
    if (rmdir(cg->path) < 0 && errno != ENOENT)
        r = -errno;
    /* Other sandboxes may still use the parent: EBUSY there is normal. */
    rmdir(cg->parent);
    HB_FREE_ALL(cg->path, cg->parent, cg);
    return r;
}

/* Removes the per-manager parents (hotbox-<pid>) that managers which died
 * without cleaning up left under this process's cgroup: whatever still runs
 * in them is killed first. A parent whose manager is alive is left alone. */
int hb_cgroup_reap_stale(unsigned *removed)
{
    char *base = NULL, *why = NULL;
    unsigned v1 = 0;
    int r = base_dir(&base, &v1, &why);
    free(why);
    if (r < 0)
        return r;
    DIR *d = opendir(base);
    if (!d) {
        r = -errno;
        free(base);
        return r;
    }
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid = 0;
        if (sscanf(e->d_name, "hotbox-%d", &pid) != 1 || pid <= 0 || pid == (int)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno == EPERM)
            continue; /* that manager still runs */
        char *parent = hb__path_join(base, e->d_name);
        DIR *pd = parent ? opendir(parent) : NULL;
        struct dirent *c;
        while (pd && (c = readdir(pd))) {
            if (c->d_type != DT_DIR || c->d_name[0] == '.')
                continue;
            char *child = hb__path_join(parent, c->d_name);
            if (!child)
                continue;
            if (hb__cgfs_write(child, "cgroup.kill", "1") < 0)
                kill_listed(child);
            wait_empty(child, 2000);
            rmdir(child);
            free(child);
        }
        if (pd)
            closedir(pd);
        if (parent && rmdir(parent) == 0)
            n++;
        free(parent);
    }
    closedir(d);
    free(base);
    if (removed)
        *removed = n;
    return 0;
}

/* ---- a manager's site: probe once, a sub-tree per sandbox ---------------- */

bool hb_cgroup_site_probe(hb_cgroup_site *site)
{
    if (site->probed)
        return false;
    site->probed = true;
    site->mask = hb_cgroup_probe(&site->why);
    return true;
}

const char *hb_cgroup_site_summary(const hb_cgroup_site *site, bool *warn)
{
    *warn = site->mask <= 0;
    return site->mask > 0 ? "rlimits and a cgroup v2 sub-tree per sandbox"
                          : "rlimits only (no cgroup v2 limits)";
}

bool hb_cgroup_site_has_cpu(const hb_cgroup_site *site)
{
    return site->probed && site->mask > 0 && (site->mask & HB_CG_CPU);
}

hb_cgroup *hb_cgroup_site_sandbox(const hb_cgroup_site *site, unsigned n, uint64_t memory_max,
                                  uint64_t pids_max, unsigned cpu_percent)
{
    if (!site->probed || site->mask < 0)
        return NULL;
    hb_cgroup_limits lim = {0};
    if (site->mask & HB_CG_MEMORY)
        lim.memory_max = memory_max;
    if (site->mask & HB_CG_PIDS)
        lim.pids_max = pids_max;
    if (site->mask & HB_CG_CPU)
        lim.cpu_percent = cpu_percent;
    /* Unique in the process: several managers may live in one program. */
    static _Atomic unsigned serial;
    char name[64];
    snprintf(name, sizeof(name), "sandbox-%u-%u", ++serial, n);
    hb_cgroup *cg = NULL;
    char *err = NULL;
    if (hb_cgroup_create(name, &lim, &cg, &err) < 0)
        cg = NULL;
    free(err);
    return cg;
}

void hb_cgroup_site_release(hb_cgroup_site *site)
{
    free(site->why);
    *site = (hb_cgroup_site){0};
}
