/*
 * compiler/report.c - hb_compiler_backend_report, the compiler part of
 * `hotbox doctor`: which backends work here and why, what the accelerator
 * decision is, and (measure) what one compile costs on each.
 *
 * The measured plugin is small and self-contained (libc headers only), so
 * the report needs no include directory and says the same on any machine.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "backend.h"

#define MEASURE_RUNS 3

static const char small_plugin[] =
    "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
    "static int counter;\n"
    "int bump(int by) { counter += by; return counter; }\n"
    "size_t greet(char *buf, size_t n, const char *who) {\n"
    "    snprintf(buf, n, \"hello, %s\", who); return strlen(buf); }\n";

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One compile into a fresh job directory; 0 and *ms, or <0 with *err. */
static int one_compile(hb_compiler *c, hb_isolation iso, const char *tmp, const char *plugin,
                       double *ms, char **err)
{
    char *job = NULL;
    int r = hb__mkdtemp_in(tmp, "job-", &job);
    if (r < 0)
        return hb__seterr(err, r, "cannot create a job directory: %s", strerror(-r));
    hb_compile_request req = {.plugin_dir = plugin, .job_dir = job, .cc = "cc",
                              .isolation = iso, .timeout_ms = 120000};
    hb_compile_result res;
    uint64_t t0 = hb__now_ns();
    r = hb_compiler_run_ctx(c, &req, &res, err);
    *ms = hb__ms_since(t0);
    hb_compile_result_release(&res);
    hb__rm_rf(job);
    free(job);
    return r;
}

static void measure(hb_sb *out, hb_compiler *c, hb_isolation iso, const char *tmp,
                    const char *plugin)
{
    const char *name = hb_compiler_backend_name(iso);
    double ms[MEASURE_RUNS], first = 0;
    char *err = NULL;
    if (iso == HB_ISOLATION_MICROVM) {
        uint64_t t0 = hb__now_ns();
        int r = hb_compiler_warm(c, &err);
        if (r == 0)
            r = hb_compiler_wait_warm(c, 300000, &err);
        if (r < 0) {
            hb__sb_addf(out, "  cost %-10s could not start the pool: %s\n", name, err ? err : "?");
            free(err);
            return;
        }
        hb_compiler_stats st;
        hb_compiler_stats_get(c, &st);
        hb__sb_addf(out, "  cost %-10s pool of 1 under %s: boot %.0f ms, boot+warm-up %.0f ms, "
                         "%.0f MiB RSS per VM\n",
                    name, st.accel, st.last_boot_ms, hb__ms_since(t0),
                    (double)st.rss_kib_per_vm / 1024.0);
    }
    for (int i = 0; i <= MEASURE_RUNS; i++) {
        double t = 0;
        int r = one_compile(c, iso, tmp, plugin, &t, &err);
        if (r < 0) {
            hb__sb_addf(out, "  cost %-10s compile failed: %s\n", name, err ? err : "?");
            free(err);
            return;
        }
        if (i == 0)
            first = t;
        else
            ms[i - 1] = t;
    }
    qsort(ms, MEASURE_RUNS, sizeof(double), cmp_dbl);
    hb__sb_addf(out, "  cost %-10s one compile: first %.1f ms, then median %.1f ms (of %d)\n",
                name, first, ms[MEASURE_RUNS / 2], MEASURE_RUNS);
}

int hb_compiler_backend_report(hb_sb *out, bool measure_cost)
{
    if (!out)
        return -EINVAL;
    hb_compiler_options o = HB_COMPILER_OPTIONS_INIT;
    hb_compiler *c = NULL;
    char *why = NULL, *tmp = NULL, *plugin = NULL;
    int r = hb_compiler_new(&o, &c, &why);
    if (r < 0)
        goto out;
    bool works[4] = {false};

    hb__sb_addf(out, "compiler backends:\n");
    works[HB_ISOLATION_LOCAL] = true;
    hb__sb_addf(out, "  local      works     NO ISOLATION: the compiler can read and write "
                     "every file you can (fallback only)\n");

    if (hb__namespace_backend()->probe(&why) == 0) {
        works[HB_ISOLATION_NAMESPACE] = true;
        hb__sb_addf(out, "  namespace  works     bubblewrap: user/mount/pid/net/ipc/uts "
                         "namespaces, toolchain read-only, no network\n");
    } else {
        hb__sb_addf(out, "  namespace  no        %s\n", why ? why : "?");
    }
    free(why);
    why = NULL;

    const hb__backend *mv = hb__microvm_backend();
    hb__vm_state *vm = NULL;
    if (!mv || !mv->vm) {
        hb__sb_addf(out, "  microvm    no        not built into this hotbox\n");
    } else if ((r = mv->vm->state_new(&o, &vm, &why)) < 0 || mv->vm->check(vm, &why) < 0) {
        hb__sb_addf(out, "  microvm    no        %s\n", why ? why : "?");
    } else {
        bool kvm = false, cached = false;
        double tms = 0;
        free(why);
        why = NULL;
        r = mv->vm->kvm_verdict(vm, &kvm, &cached, &why);
        hb__sb_addf(out, "  accelerator %s: %s%s\n", r == 0 && kvm ? "kvm" : "tcg",
                    why ? why : "?", cached ? " [cached verdict]" : "");
        free(why);
        why = NULL;
        int tr = mv->vm->boot_probe(vm, HB_COMPILER_ACCEL_TCG, &tms, &why);
        if (r == 0 && kvm) {
            works[HB_ISOLATION_MICROVM] = true;
            hb__sb_addf(out, "  microvm    works     QEMU microvm under KVM; the guest sees only "
                             "/usr (read-only) and the job\n");
        } else if (tr == 0) {
            works[HB_ISOLATION_MICROVM] = true;
            hb__sb_addf(out, "  microvm    works     under TCG only (software emulation: a guest "
                             "booted in %.0f ms; compiles are ~20x slower than bare cc); auto "
                             "will not pick it, isolation=microvm forces it\n",
                        tms);
        } else {
            hb__sb_addf(out, "  microvm    no        a guest does not boot under TCG either: "
                             "%s\n", why ? why : "?");
        }
        free(why);
        why = NULL;
    }
    if (vm)
        mv->vm->state_free(vm);
    r = 0;
    hb__sb_addf(out, "  selection  %s\n", hb_compiler_selection(c));

    if (measure_cost) {
        if ((r = hb__mkdtemp_in(getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR")
                                                                       : "/tmp",
                                "hotbox-doctor-", &tmp)) < 0)
            goto out;
        plugin = hb__path_join(tmp, "plugin");
        char *src = plugin ? hb__path_join(plugin, "small.c") : NULL;
        r = src ? hb__mkdir_p(plugin, 0755) : -ENOMEM;
        if (!r)
            r = hb__write_file_atomic(src, small_plugin, sizeof(small_plugin) - 1, 0644);
        free(src);
        if (r < 0)
            goto out;
        static const hb_isolation order[] = {HB_ISOLATION_LOCAL, HB_ISOLATION_NAMESPACE,
                                             HB_ISOLATION_MICROVM};
        for (size_t i = 0; i < HB_ARRAY_SIZE(order); i++) {
            if (!works[order[i]])
                continue;
            hb_compiler *mc = NULL;
            o.isolation = order[i];
            if (hb_compiler_new(&o, &mc, NULL) < 0)
                continue;
            measure(out, mc, order[i], tmp, plugin);
            hb_compiler_free(mc);
        }
    }
out:
    free(why);
    if (tmp) {
        hb__rm_rf(tmp);
        free(tmp);
    }
    free(plugin);
    hb_compiler_free(c);
    return r;
}
