/* monitor/usage.c - resource usage of a process from /proc, and naming the
 * limit that most likely ended a worker. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"
#include "util.h"

#define MIB (1024.0 * 1024.0)

/* Reads a small /proc file; ENOENT means the process is gone. */
static int read_proc(pid_t pid, const char *what, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    size_t got = 0;
    while (got + 1 < len) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return e == ESRCH ? -ESRCH : -e;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return 0;
}

typedef struct stat_fields {
    char state;
    uint64_t utime, stime, threads, starttime, vsize;
} stat_fields;

/* /proc/pid/stat: "pid (comm) state ppid ...". comm may hold blanks and
 * parentheses, so fields are counted from the last ')'. */
static int parse_stat(const char *s, stat_fields *f)
{
    const char *p = strrchr(s, ')');
    if (!p || p[1] != ' ')
        return -EPROTO;
    p += 2;
    /* Field 3 is at p. We want 3 (state), 14, 15, 20, 22, 23. */
    unsigned field = 3;
    memset(f, 0, sizeof(*f));
    f->state = *p;
    while (*p && field < 23) {
        while (*p && *p != ' ')
            p++;
        while (*p == ' ')
            p++;
        field++;
        if (!*p)
            break;
        uint64_t v = strtoull(p, NULL, 10);
        switch (field) {
        case 14: f->utime = v; break;
        case 15: f->stime = v; break;
        case 20: f->threads = v; break;
        case 22: f->starttime = v; break;
        case 23: f->vsize = v; break;
        default: break;
        }
    }
    return field == 23 ? 0 : -EPROTO;
}

static int read_stat(pid_t pid, stat_fields *f)
{
    char buf[1024];
    int r = pid > 0 ? read_proc(pid, "stat", buf, sizeof(buf)) : -EINVAL;
    return r < 0 ? r : parse_stat(buf, f);
}

int hb_mon_start_time(pid_t pid, uint64_t *out)
{
    stat_fields f;
    int r = out ? read_stat(pid, &f) : -EINVAL;
    if (r == 0)
        *out = f.starttime;
    return r;
}

static unsigned count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    long n = hb__dir_count(path);
    return n < 0 ? 0 : (unsigned)n;
}

static unsigned count_children(pid_t pid)
{
    char what[64], buf[4096];
    snprintf(what, sizeof(what), "task/%d/children", (int)pid);
    if (read_proc(pid, what, buf, sizeof(buf)) < 0)
        return 0;
    unsigned n = 0;
    for (char *p = buf; *p;) {
        while (*p == ' ' || *p == '\n')
            p++;
        if (!*p)
            break;
        n++;
        while (*p && *p != ' ' && *p != '\n')
            p++;
    }
    return n;
}

int hb_mon_usage(pid_t pid, hb_usage *out)
{
    stat_fields f;
    char statm[256];
    int r = out ? read_stat(pid, &f) : -EINVAL;
    if (r == 0)
        r = read_proc(pid, "statm", statm, sizeof(statm));
    if (r < 0)
        return r;
    unsigned long long size_pages = 0, rss_pages = 0;
    if (sscanf(statm, "%llu %llu", &size_pages, &rss_pages) != 2)
        return -EPROTO;
    long tick = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    if (tick <= 0)
        tick = 100;
    if (page <= 0)
        page = 4096;
    struct timespec now;
    clock_gettime(CLOCK_BOOTTIME, &now); /* starttime counts from boot */
    uint64_t now_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
    uint64_t start_ms = f.starttime * 1000u / (uint64_t)tick;
    hb_usage u = {0};
    u.rss_bytes = (uint64_t)rss_pages * (uint64_t)page;
    u.vm_bytes = f.vsize;
    u.cpu_user_ms = f.utime * 1000u / (uint64_t)tick;
    u.cpu_sys_ms = f.stime * 1000u / (uint64_t)tick;
    u.uptime_ms = now_ms > start_ms ? now_ms - start_ms : 0;
    u.start_ticks = f.starttime;
    u.threads = (unsigned)f.threads;
    u.state = f.state;
    u.fds = count_fds(pid);
    u.children = count_children(pid);
    *out = u;
    return 0;
}

/* ---- why did it die -------------------------------------------------------- */

/* "near": within 5% (or 2 MiB) of the limit, the margin between the last
 * sample and the moment of death. */
static bool near_limit(uint64_t value, uint64_t limit)
{
    if (!limit)
        return false;
    uint64_t slack = limit / 20;
    if (slack < (2u << 20))
        slack = 2u << 20;
    return value + slack >= limit;
}

hb_limit_kind hb_mon_explain_death(int st, const hb_limits *lim, const hb_usage *last,
                                   const hb_death_cgroup *cg, char *buf, size_t len)
{
    static const hb_limits none;
    static const hb_usage nousage;
    static const hb_death_cgroup nocg;
    if (!lim)
        lim = &none;
    const hb_usage *u = last ? last : &nousage;
    if (!cg)
        cg = &nocg;
    char plain[160];
    hb__describe_wait_status(st, plain, sizeof(plain));
    int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    uint64_t cpu_ms = u->cpu_user_ms + u->cpu_sys_ms;

    /* Certain: the kernel sends SIGXCPU/SIGXFSZ only for these limits. */
    if (sig == SIGXCPU) {
        if (lim->cpu_seconds)
            snprintf(buf, len, "killed by SIGXCPU: CPU time limit %llu s exceeded (RLIMIT_CPU)",
                     (unsigned long long)lim->cpu_seconds);
        else
            snprintf(buf, len, "killed by SIGXCPU: a CPU time limit was exceeded (RLIMIT_CPU)");
        return HB_LIMIT_CPU;
    }
    if (sig == SIGXFSZ) {
        if (lim->file_size)
            snprintf(buf, len, "killed by SIGXFSZ: file size limit %.1f MiB exceeded (RLIMIT_FSIZE)",
                     (double)lim->file_size / MIB);
        else
            snprintf(buf, len, "killed by SIGXFSZ: a file size limit was exceeded (RLIMIT_FSIZE)");
        return HB_LIMIT_FSIZE;
    }
    if (sig == SIGKILL) {
        /* The cgroup's own OOM counter is evidence, not inference. */
        if (cg->oom_kills) {
            snprintf(buf, len, "killed by SIGKILL: the cgroup memory limit %.0f MiB was exceeded "
                     "(memory.events oom_kill %llu)", (double)cg->memory_max / MIB,
                     (unsigned long long)cg->oom_kills);
            return HB_LIMIT_MEMORY;
        }
        /* Past the soft RLIMIT_CPU the kernel sends SIGXCPU; a SIGKILL at the
         * limit is the hard limit (or a SIGXCPU handler that kept going). */
        if (lim->cpu_seconds && last && cpu_ms + 1000 >= lim->cpu_seconds * 1000) {
            snprintf(buf, len, "killed by SIGKILL after %.1f s of CPU time: likely the CPU time "
                     "limit of %llu s (hard RLIMIT_CPU)", (double)cpu_ms / 1000.0,
                     (unsigned long long)lim->cpu_seconds);
            return HB_LIMIT_CPU;
        }
        uint64_t mem_limit = cg->memory_max ? cg->memory_max : lim->memory_bytes;
        if (last && near_limit(u->rss_bytes, mem_limit)) {
            snprintf(buf, len, "killed by SIGKILL while RSS was %.0f MiB of a %.0f MiB memory "
                     "limit (likely the OOM killer)", (double)u->rss_bytes / MIB,
                     (double)mem_limit / MIB);
            return HB_LIMIT_MEMORY;
        }
        if (cg->pids_max && cg->pids_current + 1 >= cg->pids_max) {
            snprintf(buf, len, "killed by SIGKILL while the cgroup held %llu of %llu processes "
                     "(pids.max; likely killed after a fork failed)",
                     (unsigned long long)cg->pids_current, (unsigned long long)cg->pids_max);
            return HB_LIMIT_NPROC;
        }
    }
    /* RLIMIT_AS does not kill: malloc returns NULL and the plugin crashes or
     * aborts on it. Address space at the limit makes that the likely story. */
    if (sig && lim->memory_bytes && last && near_limit(u->vm_bytes, lim->memory_bytes)) {
        snprintf(buf, len, "%s while its address space was %.0f MiB of a %.0f MiB memory limit "
                 "(RLIMIT_AS; likely an allocation failed)", plain, (double)u->vm_bytes / MIB,
                 (double)lim->memory_bytes / MIB);
        return HB_LIMIT_MEMORY;
    }
    if (lim->open_files && last && u->fds + 1 >= lim->open_files) {
        snprintf(buf, len, "RLIMIT_NOFILE %llu reached: the worker had %u files open when it died (%s) "
                 "(likely it failed to open one more)", (unsigned long long)lim->open_files,
                 u->fds, plain);
        return HB_LIMIT_NOFILE;
    }
    if (lim->processes && last && u->children + 1 >= lim->processes) {
        snprintf(buf, len, "RLIMIT_NPROC %llu reached: the worker had %u child processes when it died "
                 "(%s) (likely a fork failed)", (unsigned long long)lim->processes, u->children,
                 plain);
        return HB_LIMIT_NPROC;
    }
    snprintf(buf, len, "%s", plain);
    return HB_LIMIT_NONE;
}
