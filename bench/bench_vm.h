/*
 * bench/bench_vm.h - what the microVM benchmarks (bench_microvm, bench_compile)
 * share: a one-VM pool, one compile job on it with its in-guest time and
 * the QEMU CPU time it cost, and where the QEMU's memory is. Header-only
 * (static), like bench_common.h; include after bench_common.h and microvm.h.
 * Set hb_bench_vm's fields before the first job.
 */
#ifndef HB_BENCH_VM_H
#define HB_BENCH_VM_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_common.h"
#include "microvm.h"

static struct {
    const char *plugin, *inc, *out; /* the job: plugin dir (counter.c), include dir, out dir */
    unsigned memory_mb;             /* guest RAM; 0 = the pool's default */
    double last_cpu_ms;             /* QEMU CPU time of the last job */
} hb_bench_vm;

/* The pid of the pool's QEMU (a child of the pool's keeper thread; a pool
 * of one VM has one), 0 when there is none. */
static inline int hb_bench_vm_qemu_pid(void)
{
    char path[300];
    int pid = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && !pid && (e = readdir(d))) {
        snprintf(path, sizeof(path), "/proc/self/task/%s/children", e->d_name);
        FILE *c = e->d_name[0] != '.' ? fopen(path, "re") : NULL;
        if (c) {
            if (fscanf(c, "%d", &pid) != 1)
                pid = 0;
            fclose(c);
        }
    }
    if (d)
        closedir(d);
    return pid;
}

/* QEMU's CPU time (user + system) so far, ms: what a job costs the
 * machine, far less sensitive to other load than wall time. */
static inline double hb_bench_vm_cpu_ms(void)
{
    char path[64], buf[1024];
    int pid = hb_bench_vm_qemu_pid();
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = pid ? fopen(path, "re") : NULL;
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    /* after "pid (comm)": state ppid pgrp session tty tpgid flags minflt
     * cminflt majflt cmajflt utime stime */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* Where a QEMU child's RSS is: the guest RAM mapping (its size is the
 * guest's -m), TCG's translation cache (the rwx mapping) and the rest. */
static inline void hb_bench_vm_rss_breakdown(unsigned memory_mb)
{
    char path[300], line[512];
    int pid = hb_bench_vm_qemu_pid();
    if (!pid)
        return;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
    if (!(f = fopen(path, "re")))
        return;
    unsigned long long size = 0, rss, ram = 0, tb = 0, other = 0;
    char perms[8] = "";
    while (fgets(line, sizeof(line), f)) {
        unsigned long long a, b;
        char pm[8];
        if (sscanf(line, "%llx-%llx %7s", &a, &b, pm) == 3) {
            size = (b - a) >> 10;
            snprintf(perms, sizeof(perms), "%s", pm);
        } else if (sscanf(line, "Rss: %llu kB", &rss) == 1) {
            if (size >= (unsigned long long)memory_mb * 1024 && size <= (unsigned long long)memory_mb * 1024 + 4096 && perms[2] != 'x')
                ram += rss;
            else if (perms[0] == 'r' && perms[1] == 'w' && perms[2] == 'x')
                tb += rss;
            else
                other += rss;
        }
    }
    fclose(f);
    printf("%-34s guest RAM %.0f MiB, TCG translation cache %.0f MiB, QEMU itself %.0f MiB\n",
           "  RSS breakdown", ram / 1024.0, tb / 1024.0, other / 1024.0);
}

/* One job; *guest_ms gets the in-guest time, hb_bench_vm.last_cpu_ms the
 * QEMU CPU time. Exits on failure. */
static inline double hb_bench_vm_job(hb_vm_pool *pool, const char *const *argv, double *guest_ms)
{
    const char *sources[] = {"counter.c", NULL};
    hb_vm_job j = {.plugin_dir = hb_bench_vm.plugin, .include_dir = hb_bench_vm.inc, .sources = sources,
                   .argv = argv, .out_dir = hb_bench_vm.out, .host_paths = true};
    hb_vm_result res;
    char *err = NULL;
    double c0 = hb_bench_vm_cpu_ms(), t0 = hb_bench_now_ms();
    int r = hb_vm_pool_compile(pool, &j, &res, &err);
    double ms = hb_bench_now_ms() - t0;
    hb_bench_vm.last_cpu_ms = hb_bench_vm_cpu_ms() - c0;
    if (r || res.exit_status != 0) {
        fprintf(stderr, "job %s failed: %s%s\n", argv[0], err ? err : "",
                r ? "" : res.output);
        exit(1);
    }
    if (guest_ms)
        *guest_ms = res.guest_ms;
    hb_vm_result_release(&res);
    free(err);
    return ms;
}

/* A one-VM pool as a harness starts it (snapshot and warm-up as asked),
 * ready; *ready_ms from hb_vm_pool_new to every VM warm. Exits 0 with a
 * message when the microVM backend is unavailable. */
static inline hb_vm_pool *hb_bench_vm_pool(bool snapshot, bool warmup, hb_vm_pool_stats *st, double *ready_ms)
{
    hb_vm_pool_options o = HB_VM_POOL_OPTIONS_INIT;
    o.size = 1;
    o.jobs_per_vm = 1000;
    o.no_snapshot = !snapshot;
    o.no_warmup = !warmup;
    o.memory_mb = hb_bench_vm.memory_mb;
    hb_vm_pool *p = NULL;
    char *err = NULL;
    double t0 = hb_bench_now_ms();
    if (hb_vm_pool_new(&o, &p, &err) != 0 || hb_vm_pool_wait_warm(p, 600000, &err) != 0) {
        printf("microvm: unavailable: %s\n", err ? err : "?");
        exit(0);
    }
    *ready_ms = hb_bench_now_ms() - t0;
    hb_vm_pool_stats_get(p, st);
    free(err);
    return p;
}

/* The machine's 1-minute load average, to read wall times by: on a shared
 * 2-CPU machine a load of 20 makes a TCG job's wall time 4-6x its CPU time. */
static inline double hb_bench_vm_load(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "re");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

#endif /* HB_BENCH_VM_H */
