/* monitor/orphans.c - the run-directory registry of workers and the reaper
 * of workers a crashed manager left behind.
 *
 * PR_SET_PDEATHSIG normally takes workers down with their manager; this is
 * the second line, for what it misses (a worker that reset it, a manager
 * thread other than the one that forked, an exec'ed setuid helper, ...).
 * A pid alone is not an identity - pids are reused - so every record holds
 * the start time (/proc/pid/stat field 22) of both processes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "monitor.h"
#include "util.h"

#define RECORD_PREFIX "worker-"
#define RECORD_SUFFIX ".rec"
#define RECORD_MAGIC "hotbox-worker-record 1"

static char *record_path(const char *run_dir, pid_t worker)
{
    return hb__asprintf("%s/" RECORD_PREFIX "%d" RECORD_SUFFIX, run_dir, (int)worker);
}

int hb_mon_record_worker(const char *run_dir, pid_t worker, pid_t manager)
{
    if (!run_dir || worker <= 0 || manager <= 0)
        return -EINVAL;
    uint64_t wstart, mstart;
    int r = hb_mon_start_time(worker, &wstart);
    if (r < 0)
        return r;
    if ((r = hb_mon_start_time(manager, &mstart)) < 0)
        return r;
    char text[256];
    int n = snprintf(text, sizeof(text),
                     RECORD_MAGIC "\nworker %d %llu\nmanager %d %llu\n", (int)worker,
                     (unsigned long long)wstart, (int)manager, (unsigned long long)mstart);
    char *path = record_path(run_dir, worker);
    if (!path)
        return -ENOMEM;
    /* No fsync: it is on every worker start and restart, and a pid record
     * means nothing after a machine crash (every process is gone). */
    r = hb__write_file_replace(path, text, (size_t)n, 0600);
    free(path);
    return r;
}

int hb_mon_forget_worker(const char *run_dir, pid_t worker)
{
    if (!run_dir || worker <= 0)
        return -EINVAL;
    char *path = record_path(run_dir, worker);
    if (!path)
        return -ENOMEM;
    int r = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
    free(path);
    return r;
}

typedef struct record {
    int worker, manager;
    unsigned long long wstart, mstart;
} record;

static int parse_record(const char *text, record *rec)
{
    char magic[64];
    int n = 0;
    if (sscanf(text, "%63[^\n]\nworker %d %llu\nmanager %d %llu\n%n", magic, &rec->worker,
               &rec->wstart, &rec->manager, &rec->mstart, &n) != 5 ||
        strcmp(magic, RECORD_MAGIC) != 0 || rec->worker <= 0 || rec->manager <= 0)
        return -EPROTO;
    return 0;
}

/* The process pid still is the one that started at `start` (and is not a
 * zombie, which has finished running). */
static bool same_process(int pid, unsigned long long start)
{
    hb_usage u;
    /* hb_mon_usage reads more than needed; the stat fields suffice. */
    uint64_t t;
    if (hb_mon_start_time(pid, &t) < 0 || t != start)
        return false;
    if (hb_mon_usage(pid, &u) == 0 && u.state == 'Z')
        return false;
    return true;
}

/* SIGKILL through a pidfd opened first and re-verified after, so a pid
 * reused between the check and the kill is never hit. */
static int kill_orphan(const record *rec)
{
    int fd = hb_mon_pidfd_open(rec->worker);
    if (fd < 0)
        return fd == -ESRCH ? 0 : fd;
    if (!same_process(rec->worker, rec->wstart)) {
        close(fd);
        return 0; /* gone (or replaced) since the first look */
    }
    int r = 0;
    if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
        r = -errno;
    /* Not our child: the pidfd turns readable when it exits (its new parent
     * reaps it). Bounded: a process in uninterruptible sleep takes a while. */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    do
        n = poll(&p, 1, 2000);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (r == 0 && n == 0)
        r = -ETIMEDOUT;
    return r == 0 ? 1 : r;
}

int hb_mon_reap_orphans(const char *run_dir, hb_orphan_report *report)
{
    if (!run_dir)
        return -EINVAL;
    hb_orphan_report rep = {0};
    hb_sb text = HB_SB_INIT;
    int dfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        if (errno == ENOENT) {
            if (report)
                *report = rep;
            return 0;
        }
        return -errno;
    }
    DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        return -e;
    }
    int ret = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, RECORD_PREFIX, strlen(RECORD_PREFIX)) != 0 ||
            !hb__has_suffix(e->d_name, RECORD_SUFFIX))
            continue;
        char *path = hb__path_join(run_dir, e->d_name);
        if (!path) {
            ret = -ENOMEM;
            break;
        }
        void *data = NULL;
        size_t len = 0;
        record rec = {0};
        int r = hb__read_file(path, 4096, &data, &len);
        if (r == -ENOENT) { /* another manager's reaper was faster */
            free(path);
            continue;
        }
        if (r < 0 || parse_record(data, &rec) < 0) {
            rep.bad++;
            hb__sb_addf(&text, "removed unreadable record %s\n", e->d_name);
            unlink(path);
        } else if (same_process(rec.manager, rec.mstart)) {
            rep.live++; /* a running manager's worker: not ours to touch */
        } else if (!same_process(rec.worker, rec.wstart)) {
            rep.stale++;
            hb__sb_addf(&text, "removed stale record of worker %d (manager %d gone, worker gone)\n",
                        rec.worker, rec.manager);
            unlink(path);
        } else {
            r = kill_orphan(&rec);
            if (r > 0) {
                rep.killed++;
                hb__sb_addf(&text, "killed orphaned worker %d (its manager %d is gone)\n",
                            rec.worker, rec.manager);
                unlink(path);
            } else if (r == 0) {
                rep.stale++;
                hb__sb_addf(&text, "removed stale record of worker %d (exited meanwhile)\n",
                            rec.worker);
                unlink(path);
            } else {
                hb__sb_addf(&text, "could not kill orphaned worker %d: %s\n", rec.worker,
                            strerror(-r));
                if (!ret)
                    ret = r;
            }
        }
        free(data);
        free(path);
    }
    closedir(d);
    if (report) {
        rep.text = text.len ? hb__sb_detach(&text) : NULL;
        *report = rep;
    }
    hb__sb_release(&text);
    return ret;
}

void hb_orphan_report_release(hb_orphan_report *r)
{
    if (!r)
        return;
    free(r->text);
    memset(r, 0, sizeof(*r));
}
