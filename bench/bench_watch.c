/* bench/bench_watch.c - edit-to-swap latency through watch mode: write a new
 * version of a small plugin's source (an editor's atomic save), wait for
 * the `swapped` event, 50 runs; beside the bare `cc` of the same source in
 * the same run. Local backend (the target: median edit-to-swap no more
 * than bare cc + 5 ms), then the namespace backend for comparison. Where
 * the time goes, per stage (medians, from the swapped event's timings):
 * detect (save -> change set: inotify and the settle at the save's
 * close/rename), compile (the compiler run, input hashing included),
 * verify (ELF checks), store (copying the object in, committing its
 * version; the disk sync comes after the event), load (checking the stored
 * object, the import policy, handing it to the worker, the probation
 * set-up), swap (the worker's swap), and the rest (watch mode's own work
 * and the event's delivery). Two baselines from the same run: the plain
 * `cc -O2 -g` a user would type, and the very command line hotbox's local
 * backend runs (same flags, environment and job directory), so the
 * difference to the latter is hotbox's own work. `bench_watch [RUNS]
 * [local]`: with `local`, the local backend only. Not a test. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "hotbox/hotbox.h"

static double pct(double *v, size_t n, double q)
{
    hb_bench_stats st = hb_bench_stats_of(v, n);
    return q < 0.9 ? st.median : st.p95;
}

static void write_src(const char *dir, int salt)
{
    char path[4200], src[1024];
    snprintf(src, sizeof(src),
             "#include <hotbox/plugin.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n"
             "static int64_t n;\nint64_t bump(void) { return n += %d; }\n"
             "static int save(void **d, size_t *l) { int64_t *p = malloc(8); if (!p) return -1; *p = n; *d = p; *l = 8; return 0; }\n"
             "static int mig(const void *d, size_t l, uint32_t s) { if (l != 8) return -1; memcpy(&n, d, 8); return 0; }\n"
             "HB_PLUGIN(\"w\", 1, 0, 0, save, mig);\n",
             salt);
    snprintf(path, sizeof(path), "%s/w.c", dir);
    hb_bench_write(path, src);
}

static int swaps;
static hb_event last_swap; /* the timings of the last swapped event */
static double last_swap_ms; /* when it was raised */
static void on_event(const hb_event *ev, void *ud)
{
    (void)ud;
    if (ev->type == HB_EVENT_SWAPPED) {
        last_swap_ms = hb_bench_now_ms();
        swaps++;
        last_swap = *ev;
        last_swap.message = NULL;
        last_swap.plugin = NULL;
    }
}

static double bare_cc(const char *src, const char *inc, const char *out)
{
    double t0 = hb_bench_now_ms();
    pid_t p = fork();
    if (p == 0) {
        execlp("cc", "cc", "-O2", "-g", "-shared", "-fPIC", "-I", inc, "-o", out, src, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    return hb_bench_now_ms() - t0;
}

/* The same compile as hotbox's local backend runs (compiler/plan.c), by
 * hand: its flags (JSON diagnostics, prefix maps, the depfile, the
 * SONAME), its minimal environment, in a job directory of its own as cwd
 * and TMPDIR. So the difference to it is hotbox's own work, not the
 * compiler's; the plain `cc -O2 -g` beside it is what a user would type. */
static double same_flags_cc(const char *src, const char *inc, const char *root)
{
    char job[4300], dep[4400], obj[4400], iflag[4400], fmap[4400], dmap[4400], tmp[4400],
        home[4400];
    snprintf(job, sizeof(job), "%s/job", root);
    mkdir(job, 0755);
    snprintf(dep, sizeof(dep), "%s/plugin.d", job);
    snprintf(obj, sizeof(obj), "%s/plugin.so", job);
    snprintf(iflag, sizeof(iflag), "-I%s", inc);
    snprintf(fmap, sizeof(fmap), "-ffile-prefix-map=%s=.", job);
    snprintf(dmap, sizeof(dmap), "-fdebug-prefix-map=%s=.", job);
    snprintf(tmp, sizeof(tmp), "TMPDIR=%s", job);
    snprintf(home, sizeof(home), "HOME=%s", job);
    const char *path = getenv("PATH");
    char pathv[4400];
    snprintf(pathv, sizeof(pathv), "PATH=%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    char *env[] = {pathv, tmp, home, "LC_ALL=C", "LANG=C", NULL};
    char *argv[] = {"cc", "-fdiagnostics-color=never", "-fdiagnostics-format=json", fmap, dmap,
                    "-g", "-O2", "-g", "-shared", "-fPIC", iflag, "-MD", "-MF", dep, "-o", obj,
                    (char *)src, "-Wl,-soname,hotbox-plugin-w.so", NULL};
    double t0 = hb_bench_now_ms();
    pid_t p = fork();
    if (p == 0) {
        if (chdir(job) != 0)
            _exit(126);
        execvpe("cc", argv, env);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    double t = hb_bench_now_ms() - t0;
    unlink(dep);
    unlink(obj);
    return t;
}

static void run(hb_isolation iso, const char *name, int runs)
{
    hb_bench_tree t;
    hb_bench_tree_new(&t, "watch", "w");
    const char *root = t.root, *dir = t.dir, *state = t.state;
    char src[4300], inc[4300], out[4300];
    write_src(dir, 0);
    hb_manager *m = hb_bench_manager(state, iso, on_event);
    hb_sandbox *sb;
    hb_watch *w;
    const char *roots[] = {dir, NULL};
    hb_watch_options wo = HB_WATCH_OPTIONS_INIT;
    wo.run_selftests = -1;
    if (hb_sandbox_new(m, NULL, &sb) < 0 ||
        hb_watch_new(sb, roots, &wo, &w) < 0) {
        fprintf(stderr, "set-up failed (%s)\n", name);
        exit(1);
    }
    snprintf(src, sizeof(src), "%s/w.c", dir);
    snprintf(inc, sizeof(inc), "%s/include", state);
    snprintf(out, sizeof(out), "%s/bare.so", root);
    double *e2s = calloc((size_t)runs, sizeof(double));
    double *cc = calloc((size_t)runs, sizeof(double));
    double *ccf = calloc((size_t)runs, sizeof(double));
    enum { DETECT, COMPILE, VERIFY, STORE, LOAD, SWAP, REST, NSTAGE };
    static const char *stage_name[NSTAGE] = {"detect", "compile", "verify", "store", "load",
                                             "swap", "rest"};
    double *stage[NSTAGE];
    for (int s = 0; s < NSTAGE; s++)
        stage[s] = calloc((size_t)runs, sizeof(double));
    int got = 0;
    for (int i = 0; i < runs; i++) {
        int before = swaps;
        double t0 = hb_bench_now_ms();
        write_src(dir, i + 1);
        while (swaps == before) {
            struct pollfd p = {.fd = hb_watch_fd(w), .events = POLLIN};
            if (poll(&p, 1, 30000) <= 0) {
                fprintf(stderr, "no swap within 30 s (run %d)\n", i);
                exit(1);
            }
            hb_watch_process(w);
        }
        e2s[got] = last_swap_ms - t0; /* save -> swapped event */
        const hb_event *ev = &last_swap;
        stage[DETECT][got] = ev->detect_ms;
        stage[COMPILE][got] = ev->compile_ms;
        stage[VERIFY][got] = ev->verify_ms;
        stage[STORE][got] = ev->store_ms;
        stage[LOAD][got] = ev->total_ms - ev->compile_ms - ev->verify_ms - ev->store_ms -
                           ev->swap_ms;
        stage[SWAP][got] = ev->swap_ms;
        stage[REST][got] = e2s[got] - ev->detect_ms - ev->total_ms;
        /* Alternating which baseline runs first, so neither always
         * follows the swap's page-cache and CPU-frequency state. */
        if (i % 2) {
            cc[got] = bare_cc(src, inc, out);
            ccf[got] = same_flags_cc(src, inc, root);
        } else {
            ccf[got] = same_flags_cc(src, inc, root);
            cc[got] = bare_cc(src, inc, out);
        }
        got++;
    }
    double m_e = pct(e2s, (size_t)got, 0.5), p_e = pct(e2s, (size_t)got, 0.95);
    double m_c = pct(cc, (size_t)got, 0.5), p_c = pct(cc, (size_t)got, 0.95);
    printf("  %-9s edit-to-swap median %7.1f ms  p95 %7.1f ms | bare cc median %7.1f ms  p95 %7.1f ms"
           " | overhead %+6.1f ms (%.2fx)\n",
           name, m_e, p_e, m_c, p_c, m_e - m_c, m_e / m_c);
    double m_f = pct(ccf, (size_t)got, 0.5), p_f = pct(ccf, (size_t)got, 0.95);
    printf("  %-9s same cc command as hotbox's (its flags, env, job dir) median %7.1f ms  p95 "
           "%7.1f ms | overhead %+6.1f ms\n",
           "", m_f, p_f, m_e - m_f);
    printf("  %-9s stages (median / p95 ms):", "");
    for (int s = 0; s < NSTAGE; s++) {
        printf(" %s %.2f/%.2f", stage_name[s], pct(stage[s], (size_t)got, 0.5),
               pct(stage[s], (size_t)got, 0.95));
        free(stage[s]);
    }
    printf("\n");
    hb_watch_free(w);
    hb_sandbox_free(sb);
    hb_manager_free(m);
    hb_bench_rm_rf(root);
    free(e2s);
    free(cc);
    free(ccf);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 50;
    if (runs < 5)
        runs = 5;
    if (!getenv("HOTBOX_WORKER"))
        setenv("HOTBOX_WORKER", HB_WORKER_PATH, 0);
    printf("hotbox %s: save -> swapped event through watch mode (%d runs; the build starts at "
           "the save's close/rename)\n",
           hb_version(), runs);
    run(HB_ISOLATION_LOCAL, "local", runs);
    if (argc <= 2 || strcmp(argv[2], "local") != 0) /* `bench_watch RUNS local`: that one only */
        run(HB_ISOLATION_NAMESPACE, "namespace", runs);
    return 0;
}
