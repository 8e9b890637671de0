/*
 * compiler/microvm/pool.c - the warm pool: a keeper thread that boots and warms VMs, jobs
 * taking a warm VM (one retry on a VM fault), recycling, and statistics.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "pool_internal.h"
#include "thread.h"

#define MAX_BOOT_FAILURES 3u     /* consecutive; then the pool reports broken */

HB_ENUM_NAMES(hb_vm_accel_name, hb_vm_accel, [HB_VM_ACCEL_AUTO] = "auto",
              [HB_VM_ACCEL_KVM] = "kvm", [HB_VM_ACCEL_TCG] = "tcg")

void hb_vm_pool_options_init(hb_vm_pool_options *o)
{
    hb_vm_pool_options d = HB_VM_POOL_OPTIONS_INIT;
    *o = d;
}


static uint64_t rss_kib(pid_t pid)
{
    char p[64], line[256];
    snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "re");
    uint64_t kib = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %" SCNu64, &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static int warmup(vm *v, const char *cc, unsigned timeout_ms, char **err)
{
    static const char src[] =
        "#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
        "int hb_warmup(const char *s) { char b[64]; snprintf(b, sizeof b, \"%s\", s);"
        " return (int)strlen(b) + (int)(intptr_t)getenv(\"X\"); }\n";
    char *dir = hb__path_join(v->dir, "warmup");
    char *file = dir ? hb__path_join(dir, "warmup.c") : NULL;
    int r = file ? hb__mkdir_p(dir, 0755) : -ENOMEM;
    if (!r)
        r = hb__write_file_atomic(file, src, sizeof(src) - 1, 0644);
    if (r) {
        free(dir);
        free(file);
        return hb__seterr(err, r, "cannot write the warm-up source: %s", strerror(-r));
    }
    const char *sources[] = {"warmup.c", NULL};
    /* Two compiles: translated code is kept per guest address (no ASLR in
     * a compile guest), so cc1's -O2 -g paths (the harness's flags) and its
     * -O0 paths are both translated before the first real job. */
    const char *argv[][12] = {
        {cc, "-shared", "-fPIC", "-g", "-O2", "-MD", "-MF", HB_VM_GUEST_OUT "/" HB_VM_DEPFILE_NAME,
         "-o", HB_VM_GUEST_OUT "/" HB_VM_OBJECT_NAME, HB_VM_GUEST_SRC "/warmup.c", NULL},
        {cc, "-shared", "-fPIC", "-O0", "-o", HB_VM_GUEST_OUT "/" HB_VM_OBJECT_NAME,
         HB_VM_GUEST_SRC "/warmup.c", NULL}};
    for (size_t i = 0; !r && i < HB_ARRAY_SIZE(argv); i++) {
        hb_vm_job job = {.plugin_dir = dir, .sources = sources, .argv = argv[i], .out_dir = dir};
        hb_vm_result res;
        bool fault;
        r = hb__vm_run(v, &job, timeout_ms, &res, &fault, err);
        if (!r) {
            if (res.exit_status != 0)
                r = hb__seterr(err, -EIO, "the warm-up compile failed (exit %d): %s",
                               res.exit_status, res.output);
            hb_vm_result_release(&res);
        }
    }
    free(dir);
    free(file);
    return r;
}


static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *ring, uint64_t n, double q)
{
    size_t k = n < LAT_RING ? (size_t)n : LAT_RING;
    if (!k)
        return 0;
    double tmp[LAT_RING];
    memcpy(tmp, ring, k * sizeof(double));
    qsort(tmp, k, sizeof(double), cmp_dbl);
    size_t i = (size_t)(q * (double)(k - 1) + 0.5);
    return tmp[i < k ? i : k - 1];
}

static void wake_keeper(hb_vm_pool *p)
{
    uint64_t one = 1;
    ssize_t n = write(p->wakefd, &one, sizeof(one));
    (void)n;
}

/* Waits until a started VM can take jobs: READY then MOUNT after a boot,
 * MOUNTED after a restore; then the warm-up compile. */
static int bring_up(hb_vm_pool *p, vm *v, uint64_t deadline, double *ms, char **err)
{
    int r;
    if (v->restored) {
        r = hb__vm_wait_ready(v, deadline, HB_VMP_MOUNTED, err);
        *ms = hb__ms_since(v->spawn_ns);
    } else {
        r = hb__vm_wait_ready(v, deadline, HB_VMP_READY, err);
        *ms = hb__ms_since(v->spawn_ns);
        if (!r)
            r = hb__vm_mount(v, deadline + (uint64_t)p->cfg.boot_timeout_ms * 1000000u, err);
    }
    if (!r && !p->o.no_warmup)
        r = warmup(v, p->warmup_cc, p->cfg.boot_timeout_ms, err);
    return r;
}

/* Starts every empty slot and waits for starting VMs; runs under p->mu. */
static void *keeper_main(void *arg)
{
    hb_vm_pool *p = arg;
    hb__vm_pool_prepare_snapshot(p);
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        for (unsigned i = 0; i < p->nvm && !p->broken; i++) {
            if (p->vms[i].state != VM_EMPTY)
                continue;
            char *err = NULL;
            if (hb__vm_pool_start_vm(p, &p->vms[i], &err) != 0) {
                p->failures++;
                if (++p->boot_fail_streak >= MAX_BOOT_FAILURES)
                    p->broken = hb__asprintf("cannot start QEMU: %s", err ? err : "?");
                free(err);
            }
        }
        struct pollfd pf[1 + 3 * 16];
        unsigned idx[16], nb = 0;
        uint64_t first_deadline = UINT64_MAX;
        pf[0] = (struct pollfd){p->wakefd, POLLIN, 0};
        for (unsigned i = 0; i < p->nvm && nb < 16; i++) {
            vm *v = &p->vms[i];
            if (v->state != VM_BOOTING)
                continue;
            idx[nb] = i;
            pf[1 + 3 * nb] = (struct pollfd){v->sock, POLLIN, 0};
            pf[2 + 3 * nb] = (struct pollfd){v->pidfd, POLLIN, 0};
            pf[3 + 3 * nb] = (struct pollfd){v->errfd, POLLIN, 0};
            uint64_t dl = v->spawn_ns + (uint64_t)p->cfg.boot_timeout_ms * 1000000u;
            if (dl < first_deadline)
                first_deadline = dl;
            nb++;
        }
        pthread_mutex_unlock(&p->mu);
        int timeout = first_deadline == UINT64_MAX ? -1 : hb__vm_ms_left(first_deadline);
        int n = poll(pf, 1 + 3 * nb, timeout);
        pthread_mutex_lock(&p->mu);
        if (n < 0 && errno != EINTR)
            break;
        if (pf[0].revents & POLLIN) {
            uint64_t junk;
            ssize_t k = read(p->wakefd, &junk, sizeof(junk));
            (void)k;
        }
        for (unsigned j = 0; j < nb && !p->stop; j++) {
            vm *v = &p->vms[idx[j]];
            uint64_t dl = v->spawn_ns + (uint64_t)p->cfg.boot_timeout_ms * 1000000u;
            bool ready_to_check = pf[1 + 3 * j].revents || pf[2 + 3 * j].revents ||
                                  pf[3 + 3 * j].revents || hb__now_ns() >= dl;
            if (!ready_to_check)
                continue;
            /* The VM is ours until it is marked warm: nobody else touches a
             * booting VM, so the lock can go while we talk to it. */
            pthread_mutex_unlock(&p->mu);
            char *err = NULL;
            double boot_ms = 0;
            int r = bring_up(p, v, hb__now_ns() >= dl ? hb__now_ns() : dl, &boot_ms, &err);
            pthread_mutex_lock(&p->mu);
            if (r) {
                if (!p->stop && v->restored)
                    hb__vm_pool_drop_snapshot(p, err);
                if (!p->stop) {
                    p->failures++;
                    if (++p->boot_fail_streak >= MAX_BOOT_FAILURES && !p->broken)
                        p->broken = hb__asprintf("%u boots in a row failed; last: %s",
                                                 p->boot_fail_streak, err ? err : "?");
                }
                hb__vm_kill(v);
            } else {
                p->boot_fail_streak = 0;
                p->boots++;
                if (v->restored) {
                    p->restores++;
                    p->restore_lat[p->nrestore_lat++ % LAT_RING] = boot_ms;
                } else {
                    p->boot_lat[p->nboot_lat++ % LAT_RING] = boot_ms;
                }
                v->state = VM_WARM;
            }
            free(err);
            pthread_cond_broadcast(&p->cv);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int hb_vm_pool_new(const hb_vm_pool_options *opts, hb_vm_pool **out, char **err)
{
    hb_vm_pool_options d = HB_VM_POOL_OPTIONS_INIT;
    if (!out || (opts && (opts->version < 1 || opts->version > HB_VM_POOL_OPTIONS_VERSION)))
        return -EINVAL;
    hb_vm_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->o = d;
    if (opts) /* an older caller's struct ends before the newer fields */
        memcpy(&p->o, opts, opts->version >= 2 ? sizeof(*opts)
                                               : offsetof(hb_vm_pool_options, no_snapshot));
    p->o.version = HB_VM_POOL_OPTIONS_VERSION;
    p->snap_vm.pid = -1;
    p->snap_vm.pidfd = p->snap_vm.sock = p->snap_vm.errfd = -1;
    p->wakefd = -1;
    pthread_mutex_init(&p->mu, NULL);
    hb__cond_init_monotonic(&p->cv);
    p->nvm = p->o.size ? p->o.size : 1;
    if (p->nvm > 16)
        p->nvm = 16;
    if (!p->o.jobs_per_vm)
        p->o.jobs_per_vm = 50;
    if (!p->o.job_timeout_ms)
        p->o.job_timeout_ms = 60000;
    p->warmup_cc = strdup(p->o.warmup_cc ? p->o.warmup_cc : "cc");
    p->vms = calloc(p->nvm, sizeof(*p->vms));
    int r = p->vms && p->warmup_cc ? 0 : -ENOMEM;
    for (unsigned i = 0; p->vms && i < p->nvm; i++) {
        p->vms[i].pid = -1;
        p->vms[i].pidfd = p->vms[i].sock = p->vms[i].errfd = -1;
    }
    if (!r)
        r = hb__vm_make_run_dir(&p->o, &p->dir, err);
    if (!r)
        r = hb__vm_cfg_init(&p->o, p->dir, &p->cfg, err);
    if (!r)
        r = hb__vm_cfg_compile_guest(&p->cfg);
    if (!r)
        r = hb__vm_resolve_accel(&p->cfg, p->dir, p->o.accel, &p->cfg.accel, &p->accel_why);
    if (!r && (p->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        r = -errno;
    if (!r) {
        r = -pthread_create(&p->keeper, NULL, keeper_main, p);
        p->keeper_started = r == 0;
    }
    if (r) {
        if (err && !*err)
            hb__seterr(err, r, "cannot create the VM pool: %s", strerror(-r));
        hb_vm_pool_free(p);
        return r;
    }
    *out = p;
    return 0;
}

void hb_vm_pool_free(hb_vm_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    /* A keeper talking to a booting VM notices its death at once. */
    for (unsigned i = 0; p->vms && i < p->nvm; i++)
        if (p->vms[i].pid > 0)
            kill(p->vms[i].pid, SIGKILL);
    if (p->snap_vm.pid > 0)
        kill(p->snap_vm.pid, SIGKILL);
    pthread_mutex_unlock(&p->mu);
    if (p->keeper_started) {
        wake_keeper(p);
        pthread_join(p->keeper, NULL);
    }
    for (unsigned i = 0; p->vms && i < p->nvm; i++)
        hb__vm_kill(&p->vms[i]);
    free(p->vms);
    if (p->wakefd >= 0)
        close(p->wakefd);
    hb__vm_cfg_release(&p->cfg);
    if (p->dir)
        hb__rm_rf(p->dir);
    HB_FREE_ALL(p->dir, p->warmup_cc, p->accel_why, p->broken, p->snap_note);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static void deadline_ts(uint64_t deadline_ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(deadline_ns / 1000000000u);
    ts->tv_nsec = (long)(deadline_ns % 1000000000u);
}

int hb_vm_pool_wait_warm(hb_vm_pool *p, unsigned timeout_ms, char **err)
{
    if (!p)
        return -EINVAL;
    uint64_t deadline = hb__now_ns() + (uint64_t)timeout_ms * 1000000u;
    struct timespec ts;
    deadline_ts(deadline, &ts);
    int r = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        unsigned warm = 0;
        for (unsigned i = 0; i < p->nvm; i++)
            warm += p->vms[i].state == VM_WARM;
        if (warm == p->nvm)
            break;
        if (p->broken) {
            r = hb__seterr(err, -EIO, "%s", p->broken);
            break;
        }
        if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT) {
            r = hb__seterr(err, -ETIMEDOUT, "VMs not warm within %u ms", timeout_ms);
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return r;
}

/* Takes a warm VM, waiting up to the deadline. */
static int acquire(hb_vm_pool *p, uint64_t deadline, vm **out, char **err)
{
    struct timespec ts;
    deadline_ts(deadline, &ts);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        for (unsigned i = 0; i < p->nvm; i++) {
            if (p->vms[i].state == VM_WARM) {
                p->vms[i].state = VM_BUSY;
                *out = &p->vms[i];
                pthread_mutex_unlock(&p->mu);
                return 0;
            }
        }
        if (p->broken) {
            int r = hb__seterr(err, -EIO, "no VM available: %s", p->broken);
            pthread_mutex_unlock(&p->mu);
            return r;
        }
        if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->mu);
            return hb__seterr(err, -ETIMEDOUT, "no warm VM became available in time");
        }
    }
}

static void release_vm(hb_vm_pool *p, vm *v, bool fault, bool ran, double ms)
{
    pthread_mutex_lock(&p->mu);
    if (ran) {
        p->jobs++;
        p->lat[p->nlat++ % LAT_RING] = ms;
        v->jobs++;
    }
    if (fault)
        p->failures++;
    if (fault || v->jobs >= p->o.jobs_per_vm) {
        if (!fault)
            p->recycled++;
        /* The slot is free at once; the slow part (reap, rm -rf) of
         * retiring the old VM happens on a copy, outside the lock. */
        vm dead = *v;
        memset(v, 0, sizeof(*v));
        v->pid = -1;
        v->pidfd = v->sock = v->errfd = -1;
        v->state = VM_EMPTY;
        wake_keeper(p);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        hb__vm_kill(&dead);
        return;
    } else {
        v->state = VM_WARM;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int hb_vm_pool_compile(hb_vm_pool *p, const hb_vm_job *job, hb_vm_result *res, char **err)
{
    if (!p || !job || !res || !job->plugin_dir || !job->sources || !job->argv ||
        !job->argv[0] || !job->out_dir)
        return -EINVAL;
    for (size_t i = 0; job->sources[i]; i++)
        if (!hb__vm_safe_relname(job->sources[i]))
            return hb__seterr(err, -EINVAL, "bad source name \"%s\" (must be relative, no \"..\")",
                              job->sources[i]);
    unsigned timeout = job->timeout_ms ? job->timeout_ms : p->o.job_timeout_ms;
    uint64_t t0 = hb__now_ns();
    char *first = NULL;
    int r = -EIO;
    for (unsigned attempt = 1; attempt <= 2; attempt++) {
        /* A boot (maybe two, after a failure) plus the job's own limit. */
        uint64_t deadline = hb__now_ns() + (uint64_t)(2 * p->cfg.boot_timeout_ms + timeout) * 1000000u;
        vm *v = NULL;
        char *e = NULL;
        r = acquire(p, deadline, &v, &e);
        if (r) {
            hb__seterr(err, r, "%s%s%s", first ? first : "", first ? "; then: " : "", e ? e : "");
            free(e);
            break;
        }
        bool fault = false;
        uint64_t j0 = hb__now_ns();
        hb_vm_result tmp;
        r = hb__vm_run(v, job, timeout, &tmp, &fault, &e);
        release_vm(p, v, fault, r == 0, hb__ms_since(j0));
        if (r == 0) {
            tmp.attempts = attempt;
            tmp.elapsed_ms = hb__ms_since(t0);
            *res = tmp;
            free(e);
            break;
        }
        if (!fault || attempt == 2) {
            if (first)
                hb__seterr(err, r, "job failed twice: first: %s; then: %s", first, e ? e : "?");
            else
                hb__seterr(err, r, "%s", e ? e : strerror(-r));
            free(e);
            break;
        }
        first = e;
    }
    free(first);
    return r;
}

void hb_vm_result_release(hb_vm_result *res)
{
    if (!res)
        return;
    HB_FREE_ALL(res->output, res->object_path, res->depfile_path);
    memset(res, 0, sizeof(*res));
}

void hb_vm_pool_stats_get(hb_vm_pool *p, hb_vm_pool_stats *out)
{
    hb_vm_pool_stats s;
    memset(&s, 0, sizeof(s));
    if (!p || !out)
        return;
    pthread_mutex_lock(&p->mu);
    s.size = p->nvm;
    for (unsigned i = 0; i < p->nvm; i++) {
        vm *v = &p->vms[i];
        s.warm += v->state == VM_WARM;
        s.busy += v->state == VM_BUSY;
        s.booting += v->state == VM_BOOTING;
        if (v->pid > 0)
            s.qemu_rss_kib += rss_kib(v->pid);
    }
    s.boots = p->boots;
    s.failures = p->failures;
    s.jobs = p->jobs;
    s.recycled = p->recycled;
    s.last_job_ms = p->nlat ? p->lat[(p->nlat - 1) % LAT_RING] : 0;
    s.median_job_ms = percentile(p->lat, p->nlat, 0.5);
    s.p95_job_ms = percentile(p->lat, p->nlat, 0.95);
    s.last_boot_ms = p->nboot_lat ? p->boot_lat[(p->nboot_lat - 1) % LAT_RING] : 0;
    s.median_boot_ms = percentile(p->boot_lat, p->nboot_lat, 0.5);
    s.restores = p->restores;
    s.last_restore_ms = p->nrestore_lat ? p->restore_lat[(p->nrestore_lat - 1) % LAT_RING] : 0;
    s.median_restore_ms = percentile(p->restore_lat, p->nrestore_lat, 0.5);
    s.snapshot_save_ms = p->snapshot_save_ms;
    snprintf(s.snapshot_note, sizeof(s.snapshot_note), "%s", p->snap_note ? p->snap_note : "");
    s.accel = p->cfg.accel;
    s.accel_why = p->accel_why;
    pthread_mutex_unlock(&p->mu);
    *out = s;
}

