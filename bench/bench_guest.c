/*
 * bench/bench_guest.c - a guest worker (HB_WORKER_MICROVM, issue 17) beside
 * a process worker, in the same run, through the public API:
 *   sandbox start   hb_sandbox_new until the worker answered its handshake
 *                   (guest: restore the worker snapshot, MOUNT, stage the
 *                   worker, WORKER, HELLO)
 *   call            one hb_callf round trip (int add)
 *   swap            the worker's swap as the SWAPPED event reports it (the
 *                   old version's state out, the new object in, state in),
 *                   and hb_reload's wall time (compile included)
 *   crash->serving  a call that crashes the worker until the next call
 *                   answers (restart from the checkpoint; guest: a new VM)
 *   memory          the worker's RSS (guest: QEMU's, the whole guest)
 * Usage: bench_guest [runs-scale]; `make bench` runs it. Without a guest
 * kernel or QEMU the microvm column says why and only process is measured.
 */
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_common.h"
#include "hotbox/hotbox.h"
#include "util.h"

static double last_swap_ms;

static void on_event(const hb_event *ev, void *ud)
{
    (void)ud;
    const char *s = ev->message ? strstr(ev->message, "swap ") : NULL;
    if (ev->type == HB_EVENT_SWAPPED && s)
        last_swap_ms = strtod(s + 5, NULL);
}

static char root[256];

static void write_plugin(int step)
{
    char path[512], src[2048];
    snprintf(path, sizeof(path), "%s/counter/counter.c", root);
    int n = snprintf(src, sizeof(src),
            "#include <hotbox/plugin.h>\n#include <stdint.h>\n#include <stdlib.h>\n"
            "#include <string.h>\n"
            "static int64_t count;\n"
            "int32_t add(int32_t a, int32_t b) { return a + b; }\n"
            "int64_t increment(void) { count += %d; return count; }\n"
            "int64_t crash(void) { volatile int *p = 0; *p = 1; return 0; }\n"
            "static int save(void **d, size_t *l) { int64_t *p = malloc(8); if (!p) return -1; "
            "*p = count; *d = p; *l = 8; return 0; }\n"
            "static int migrate(const void *d, size_t l, uint32_t s) { (void)s; if (l != 8) "
            "return -1; memcpy(&count, d, 8); return 0; }\n"
            "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);\n",
            step);
    if (hb__write_file_atomic(path, src, (size_t)n, 0644) < 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

typedef struct column {
    const char *kind;
    hb_bench_stats start, call, swap, reload, crash;
    double rss_mib;
    char note[600];
    bool ok;
} column;

static bool measure(hb_manager *m, hb_worker_kind kind, unsigned scale, column *c)
{
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.worker = kind;
    so.no_probation = 1;      /* the crash runs measure restarts, not rollbacks */
    so.crash_loop_max = 1000; /* ... and are not a crash loop */
    bool guest = kind == HB_WORKER_MICROVM;
    size_t nstart = guest ? 3 * scale : 10 * scale, ncall = guest ? 200 * scale : 2000 * scale,
           nswap = 5 * scale, ncrash = guest ? 3 * scale : 10 * scale;
    double *v = calloc(ncall > nstart ? ncall : nstart, sizeof(double));
    hb_sandbox *sb = NULL;
    for (size_t i = 0; i < nstart; i++) {
        double t0 = hb_bench_now_ms();
        int r = hb_sandbox_new(m, &so, &sb);
        if (r) {
            snprintf(c->note, sizeof(c->note), "%s", hb_manager_last_error(m));
            free(v);
            return false;
        }
        v[i] = hb_bench_now_ms() - t0;
        if (i + 1 < nstart)
            hb_sandbox_free(sb);
    }
    c->start = hb_bench_stats_of(v, nstart);
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/counter", root);
    write_plugin(1);
    if (hb_load(sb, dir) != 0) {
        snprintf(c->note, sizeof(c->note), "load: %s", hb_sandbox_last_error(sb));
        hb_sandbox_free(sb);
        free(v);
        return false;
    }
    int32_t sum = 0;
    for (size_t i = 0; i < ncall; i++) {
        double t0 = hb_bench_now_ms();
        if (hb_callf(sb, "counter", "add", "ii)i", 2, 3, &sum) != 0 || sum != 5) {
            snprintf(c->note, sizeof(c->note), "call: %s", hb_sandbox_last_error(sb));
            break;
        }
        v[i] = hb_bench_now_ms() - t0;
    }
    c->call = hb_bench_stats_of(v, ncall);
    double *rl = calloc(nswap, sizeof(double));
    for (size_t i = 0; i < nswap; i++) {
        write_plugin((int)i + 2 + (guest ? 100 : 0)); /* new sources: a real compile */
        double t0 = hb_bench_now_ms();
        last_swap_ms = -1;
        if (hb_reload(sb, "counter") != 0)
            snprintf(c->note, sizeof(c->note), "reload: %s", hb_sandbox_last_error(sb));
        rl[i] = hb_bench_now_ms() - t0;
        v[i] = last_swap_ms;
    }
    c->swap = hb_bench_stats_of(v, nswap);
    c->reload = hb_bench_stats_of(rl, nswap);
    free(rl);
    int64_t n = 0;
    for (size_t i = 0; i < ncrash; i++) {
        hb_checkpoint(sb, "counter");
        double t0 = hb_bench_now_ms();
        (void)hb_callf(sb, "counter", "crash", ")l", &n);
        if (hb_callf(sb, "counter", "increment", ")l", &n) != 0)
            snprintf(c->note, sizeof(c->note), "after a crash: %s", hb_sandbox_last_error(sb));
        v[i] = hb_bench_now_ms() - t0;
    }
    c->crash = hb_bench_stats_of(v, ncrash);
    hb_sandbox_usage u;
    if (hb_sandbox_usage_get(sb, &u) == 0)
        c->rss_mib = (double)u.rss_bytes / (1024.0 * 1024.0);
    const char *why = NULL;
    hb_worker_kind used;
    if (!c->note[0] && hb_sandbox_worker_kind(sb, &used, &why) == 0)
        snprintf(c->note, sizeof(c->note), "%s", why);
    hb_sandbox_free(sb);
    free(v);
    return true;
}

static void row(const char *what, const column *c, size_t off)
{
    printf("%-22s", what);
    for (int i = 0; i < 2; i++) {
        const hb_bench_stats *s = (const hb_bench_stats *)((const char *)&c[i] + off);
        if (c[i].ok)
            printf(" | %10.3f (p95 %10.3f)", s->median, s->p95);
        else
            printf(" | %-27s", "n/a");
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    unsigned scale = argc > 1 ? (unsigned)atoi(argv[1]) : 1;
    if (!scale)
        scale = 1;
    if (!getenv("HOTBOX_WORKER"))
        setenv("HOTBOX_WORKER", HB_WORKER_PATH, 0);
    snprintf(root, sizeof(root), "%s/hb-bench-guest-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(root))
        return 1;
    char p[300];
    snprintf(p, sizeof(p), "%s/counter", root);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/state", root);
    hb_manager_options o = HB_MANAGER_OPTIONS_INIT;
    o.state_dir = p;
    o.isolation = HB_ISOLATION_LOCAL;
    o.on_event = on_event;
    hb_manager *m = NULL;
    if (hb_manager_new(&o, &m) != 0)
        return 1;
    column c[2] = {{.kind = "process"}, {.kind = "microvm"}};
    c[0].ok = measure(m, HB_WORKER_PROCESS, scale, &c[0]);
    c[1].ok = measure(m, HB_WORKER_MICROVM, scale, &c[1]);
    printf("guest worker vs process worker, same run (ms, median and p95)\n");
    printf("%-22s | %-27s | %-27s\n", "", "process", "microvm");
    row("sandbox start", c, offsetof(column, start));
    row("call round trip", c, offsetof(column, call));
    row("swap (worker)", c, offsetof(column, swap));
    row("reload (with compile)", c, offsetof(column, reload));
    row("crash -> serving", c, offsetof(column, crash));
    printf("%-22s | %20.1f MiB | %20.1f MiB\n", "worker RSS", c[0].rss_mib, c[1].rss_mib);
    for (int i = 0; i < 2; i++)
        printf("%s: %s\n", c[i].kind, c[i].note);
    hb_manager_free(m);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 && c[0].ok ? 0 : 1;
}
