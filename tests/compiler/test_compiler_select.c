/*
 * tests/compiler/test_compiler_select.c - AUTO selection and the on-disk
 * KVM verdict: the first context probes (a real boot under KVM, bounded by
 * the probe timeout) and stores the verdict; the next one reads it without
 * booting anything; a verdict stored under another key (another boot, QEMU
 * or kernel) is ignored and probed again. A context that never compiles
 * under microvm never starts its pool.
 */
#include "backend.h"
#include "ctest_util.h"

static hb_compiler *new_auto(const char *cache)
{
    hb_compiler_options o = HB_COMPILER_OPTIONS_INIT;
    o.probe_cache = cache;
    hb_compiler *c = NULL;
    char *err = NULL;
    HB_CHECK_OK(hb_compiler_new(&o, &c, &err));
    free(err);
    return c;
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    char *root = t_mkdtemp("hb-select-");
    char *cache = hb__path_join(root, "accel-probe");

    /* No microvm here at all: AUTO says why and falls back. */
    const hb__backend *mv = hb__microvm_backend();
    char *why = NULL;
    if (!mv || mv->probe(&why) != 0) {
        hb_compiler *c = new_auto(cache);
        const char *sel = hb_compiler_selection(c);
        printf("selection: %s\n", sel);
        HB_CHECK_CONTAINS(sel, "auto: ");
        HB_CHECK_CONTAINS(sel, "microvm: ");
        HB_CHECK(hb_compiler_selected(c) != HB_ISOLATION_MICROVM);
        hb_compiler_free(c);
        hb__rm_rf(root);
        HB_SKIP("microvm unavailable (%s); checked only the fallback text", why ? why : "?");
    }
    free(why);

    /* 1. Probe and store. */
    hb_compiler *c = new_auto(cache);
    uint64_t t0 = hb__now_ns();
    const char *sel = hb_compiler_selection(c);
    double probe_ms = hb__ms_since(t0);
    printf("first:  %.0f ms: %s\n", probe_ms, sel);
    HB_CHECK(strncmp(sel, "auto: ", 6) == 0);
    HB_CHECK(!strstr(sel, "[cached verdict]"));
    bool kvm = hb_compiler_selected(c) == HB_ISOLATION_MICROVM;
    HB_CHECK_EQ(kvm, strncmp(sel, "auto: microvm", 13) == 0);
    void *data = NULL;
    size_t len = 0;
    HB_CHECK_OK(hb__read_file(cache, 1 << 16, &data, &len));
    HB_CHECK_CONTAINS((char *)data, "hotbox-accel-probe v1\n");
    HB_CHECK_CONTAINS((char *)data, kvm ? "\nyes\n" : "\nno\n");
    char **lines = hb__split_lines(data);
    HB_CHECK(lines && hb__strv_len(lines) >= 4);
    char *real_key = strdup(lines[1]);
    hb__strv_free(lines);
    free(data);

    /* Selecting never started the pool. */
    hb_compiler_stats st;
    hb_compiler_stats_get(c, &st);
    HB_CHECK(!st.pool_started);
    hb_compiler_free(c);

    /* 2. The stored verdict is used: no boot, well under the probe time. */
    c = new_auto(cache);
    t0 = hb__now_ns();
    sel = hb_compiler_selection(c);
    double cached_ms = hb__ms_since(t0);
    printf("cached: %.1f ms: %s\n", cached_ms, sel);
    HB_CHECK_CONTAINS(sel, "[cached verdict]");
    HB_CHECK_EQ(hb_compiler_selected(c) == HB_ISOLATION_MICROVM, kvm);
    HB_CHECK(cached_ms < 1000);
    hb_compiler_free(c);

    /* 3. A verdict under another key (as after a reboot: the boot id is part
     * of it) is not trusted, even a "yes": probe again and store anew. */
    char *stale = hb__asprintf("hotbox-accel-probe v1\n%064d\n%s\nstale verdict\n", 0,
                               kvm ? "no" : "yes");
    HB_CHECK_OK(hb__write_file_atomic(cache, stale, strlen(stale), 0644));
    c = new_auto(cache);
    sel = hb_compiler_selection(c);
    printf("stale:  %s\n", sel);
    HB_CHECK(!strstr(sel, "[cached verdict]"));
    HB_CHECK(!strstr(sel, "stale verdict"));
    HB_CHECK_EQ(hb_compiler_selected(c) == HB_ISOLATION_MICROVM, kvm);
    HB_CHECK_OK(hb__read_file(cache, 1 << 16, &data, &len));
    HB_CHECK_CONTAINS((char *)data, real_key);
    free(data);
    hb_compiler_free(c);

    /* 4. A context forced to namespace compiles without any QEMU, where
     * the kernel grants user namespaces (not in a chroot, some containers). */
    char *ns_why = NULL;
    if (hb__namespace_backend()->probe(&ns_why) != 0) {
        hb__rm_rf(root);
        HB_SKIP("user namespaces refused (%s): checked the microvm selection only",
                ns_why ? ns_why : "?");
    }
    free(ns_why);
    hb_compiler_options o = HB_COMPILER_OPTIONS_INIT;
    o.isolation = HB_ISOLATION_NAMESPACE;
    o.probe_cache = cache;
    char *err = NULL;
    HB_CHECK_OK(hb_compiler_new(&o, &c, &err));
    {
        char *plugin = t_subdir(root, "p");
        t_write(plugin, "p.c", "int p(void) { return 3; }\n");
        char *job = t_job(root);
        hb_compile_request req = t_request(plugin, job, NULL);
        req.isolation = HB_ISOLATION_AUTO; /* the context's choice */
        hb_compile_result res;
        HB_CHECK_OK(hb_compiler_run_ctx(c, &req, &res, &err));
        HB_CHECK_STR(res.backend, "namespace");
        hb_compile_result_release(&res);
        free(job);
        free(plugin);
    }
    hb_compiler_stats_get(c, &st);
    HB_CHECK(!st.pool_started);
    HB_CHECK_STR(st.backend, "namespace");
    hb_compiler_free(c);
    free(err);

    free(stale);
    free(real_key);
    free(cache);
    hb__rm_rf(root);
    free(root);
    return 0;
}
