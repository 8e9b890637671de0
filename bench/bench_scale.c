/* bench/bench_scale.c - many idle sandboxes in one manager: the time to
 * create each (hb_sandbox_new + hb_load of a small plugin), the private
 * memory of each worker process (and of its bwrap wrapper, when the profile
 * wraps it), and the manager's fds per sandbox. No baseline exists for
 * these: the figures are absolute (targets: <= 1 MiB private per worker,
 * <= 2 fds per sandbox).
 *   bench_scale [sandboxes=500] [standard|permissive|strict] */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_common.h"
#include "hotbox/hotbox.h"

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the DIR's own fd */
}

/* Private_Clean + Private_Dirty of pid, in KiB (-1: unreadable). */
static long private_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long sum = 0, v;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Private_Clean: %ld kB", &v) == 1 ||
            sscanf(line, "Private_Dirty: %ld kB", &v) == 1)
            sum += v;
    fclose(f);
    return sum;
}

static hb_bench_stats report_kib(const char *what, double *v, size_t n)
{
    hb_bench_stats s = hb_bench_stats_of(v, n);
    printf("%-34s n=%-4zu median %9.0f KiB p95 %9.0f KiB min %9.0f  max %9.0f\n", what, s.n,
           s.median, s.p95, s.min, s.max);
    return s;
}

static int parent_of(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    int pp = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "PPid: %d", &pp) == 1)
            break;
    fclose(f);
    return pp;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 500;
    const char *prof = argc > 2 ? argv[2] : "standard";
    hb_profile profile = strcmp(prof, "permissive") == 0 ? HB_PROFILE_PERMISSIVE
                         : strcmp(prof, "strict") == 0   ? HB_PROFILE_STRICT
                                                         : HB_PROFILE_STANDARD;
    if (n < 1)
        n = 1;
    if (!getenv("HOTBOX_WORKER"))
        setenv("HOTBOX_WORKER", HB_WORKER_PATH, 0);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    hb_bench_tree t;
    hb_bench_tree_new(&t, "scale", "idle");
    const char *root = t.root, *dir = t.dir;
    hb_bench_write(t.src, "#include <hotbox/plugin.h>\nint add(int a, int b) { return a + b; }\n"
                          "HB_PLUGIN(\"idle\", 1, 0, 0, 0, 0);\n");
    hb_manager *m = hb_bench_manager(t.state, HB_ISOLATION_LOCAL, NULL);
    hb_sandbox **sb = calloc((size_t)n, sizeof(*sb));
    double *create = calloc((size_t)n, sizeof(double));
    double *mem = calloc((size_t)n, sizeof(double));
    double *wrap = calloc((size_t)n, sizeof(double));
    /* The first sandbox compiles the plugin; it is not counted. */
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.profile = profile;
    hb_sandbox *first;
    if (hb_sandbox_new(m, &so, &first) < 0 || hb_load(first, dir) < 0) {
        fprintf(stderr, "first sandbox: %s\n", first ? hb_sandbox_last_error(first) : "failed");
        return 1;
    }
    int fds0 = count_fds();
    for (int i = 0; i < n; i++) {
        double t0 = hb_bench_now_ms();
        if (hb_sandbox_new(m, &so, &sb[i]) < 0 || hb_load(sb[i], dir) < 0) {
            fprintf(stderr, "sandbox %d: %s\n", i,
                    sb[i] ? hb_sandbox_last_error(sb[i]) : hb_manager_last_error(m));
            return 1;
        }
        create[i] = hb_bench_now_ms() - t0;
    }
    int fds1 = count_fds();
    size_t nwrap = 0;
    for (int i = 0; i < n; i++) {
        int32_t r;
        if (hb_callf(sb[i], "idle", "add", "ii)i", i, 1, &r) < 0 || r != i + 1) {
            fprintf(stderr, "call in sandbox %d: %s\n", i, hb_sandbox_last_error(sb[i]));
            return 1;
        }
        int pid = hb_sandbox_worker_pid(sb[i]);
        mem[i] = (double)private_kib(pid);
        int pp = parent_of(pid);
        if (pp > 0 && pp != getpid())
            wrap[nwrap++] = (double)private_kib(pp);
    }
    printf("hotbox %s: %d idle sandboxes in one manager, %s profile\n", hb_version(), n, prof);
    hb_bench_report("create (new + load)", create, (size_t)n);
    hb_bench_stats s = report_kib("worker private memory", mem, (size_t)n);
    if (nwrap) {
        hb_bench_stats w = report_kib("bwrap wrapper private memory", wrap, nwrap);
        printf("per sandbox, worker + wrapper: median %.0f KiB\n", s.median + w.median);
    }
    printf("manager fds per sandbox: %.2f (%d for %d sandboxes)\n", (double)(fds1 - fds0) / n,
           fds1 - fds0, n);
    double t0 = hb_bench_now_ms();
    for (int i = 0; i < n; i++)
        hb_sandbox_free(sb[i]);
    printf("freeing %d sandboxes: %.1f ms\n", n, hb_bench_now_ms() - t0);
    hb_sandbox_free(first);
    hb_manager_free(m);
    hb_bench_rm_rf(root);
    return 0;
}
