/* harness/selftest.c - a plugin's exports from the store, and the one
 * self-test runner (exported `int hb_test_*(void)`, 0 = pass, with the
 * hb_setup/hb_teardown fixture; semantics in hotbox.h at hb_run_test), used
 * by watch mode and by `hotbox test`. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The stored exports (sorted) or depends list of a version (0: the
 * newest), packed: that list's rows only (versions/history.c). */
static int packed_list(hb_manager *m, const char *plugin, uint64_t version, bool depends,
                       char ***out)
{
    if (!m || !plugin || !out)
        return -EINVAL;
    char **lines = NULL;
    int r = hb_store_version_list(m->store, plugin, version,
                                  depends ? HB_STORE_LIST_DEPENDS : HB_STORE_LIST_EXPORTS, &lines);
    if (r == -ENOENT) {
        hb__set_mgr_error(m, "%s has no stored version %llu", plugin, (unsigned long long)version);
        return HB_ENOVERSION;
    }
    if (r < 0)
        return r;
    if (!depends)
        qsort(lines, hb__strv_len(lines), sizeof(char *), cmp_str);
    char **packed = hb__strv_pack((const char *const *)lines, hb__strv_len(lines));
    hb__strv_free(lines);
    if (!packed)
        return -ENOMEM;
    *out = packed;
    return 0;
}

int hb_version_exports(hb_manager *m, const char *plugin, uint64_t version, char ***out)
{
    return packed_list(m, plugin, version, false, out);
}

/* One step of a test: `int fn(void)`. Fills the result when it fails and
 * says whether it returned (so later steps may run). */
static bool run_step(hb_sandbox *sb, const char *plugin, const char *fn, bool first,
                     hb_test_result *res)
{
    int32_t rc = -1;
    int r = hb_callf(sb, plugin, fn, ")i", &rc);
    if (r == HB_ESTATELOST && first) /* a restart before this test, not its failure */
        r = hb_callf(sb, plugin, fn, ")i", &rc);
    if (r == 0 && rc == 0)
        return true;
    if (res->passed) {
        res->passed = 0;
        res->failed_in = fn;
        res->returned = r == 0 ? rc : 0;
        res->error = r;
    }
    return r == 0;
}

/* The exports of the plugin's active version (sorted, hb_free). */
static int active_exports(hb_sandbox *sb, const char *plugin, uint64_t *version, char ***exports)
{
    int r = hb_active_version(sb, plugin, version);
    return r < 0 ? r : hb_version_exports(sb->m, plugin, *version, exports);
}

int hb__test_fixture(hb_sandbox *sb, const char *plugin, bool *setup, bool *teardown)
{
    hb_slot *s = hb__slot_find(sb, plugin);
    if (s && s->version && s->fixture_version == s->version) {
        *setup = s->fixture_setup;
        *teardown = s->fixture_teardown;
        return 0;
    }
    uint64_t version = 0;
    char **exports = NULL;
    int r = active_exports(sb, plugin, &version, &exports);
    if (r < 0)
        return r;
    *setup = hb__strv_contains(exports, "hb_setup");
    *teardown = hb__strv_contains(exports, "hb_teardown");
    hb_free(exports);
    if ((s = hb__slot_find(sb, plugin)) && s->version == version) {
        s->fixture_version = version;
        s->fixture_setup = *setup;
        s->fixture_teardown = *teardown;
    }
    return 0;
}

int hb_run_test(hb_sandbox *sb, const char *plugin, const char *test, hb_test_result *out)
{
    if (!sb || !plugin || !test || !out)
        return -EINVAL;
    bool setup, teardown;
    int r = hb__test_fixture(sb, plugin, &setup, &teardown);
    if (r < 0)
        return r;
    hb_test_result res = {.passed = 1};
    uint64_t t0 = hb__now_ns();
    bool returned = true;
    if (setup)
        returned = run_step(sb, plugin, "hb_setup", true, &res);
    bool set_up = res.passed; /* no teardown for a fixture that was never set up */
    if (set_up)
        returned = run_step(sb, plugin, test, !setup, &res);
    if (teardown && set_up && returned)
        run_step(sb, plugin, "hb_teardown", false, &res);
    res.ms = hb__ms_since(t0);
    *out = res;
    return 0;
}

int hb_run_selftests(hb_sandbox *sb, const char *plugin, unsigned *passed, unsigned *failed)
{
    if (!sb || !plugin)
        return -EINVAL;
    uint64_t version = 0;
    char **exports = NULL;
    int r = active_exports(sb, plugin, &version, &exports);
    if (r < 0)
        return r;
    unsigned ok = 0, bad = 0;
    char first_failure[128] = "";
    unsigned long long v = (unsigned long long)version;
    for (char **e = exports; *e; e++) {
        if (strncmp(*e, "hb_test_", 8) != 0)
            continue;
        hb_test_result res;
        r = hb_run_test(sb, plugin, *e, &res);
        if (r < 0)
            res = (hb_test_result){.failed_in = *e, .error = r};
        hb_timings t = {.total_ms = res.ms};
        if (res.passed) {
            ok++;
            hb__emit(sb->m, sb, HB_EVENT_SELFTEST, plugin, version, 0, 0, &t,
                     "%s v%llu: %s passed (%.2f ms)", plugin, v, *e, res.ms);
            continue;
        }
        bad++;
        if (!first_failure[0])
            snprintf(first_failure, sizeof(first_failure), "%s", *e);
        const char *in = res.failed_in == *e ? "" : res.failed_in;
        if (res.error == 0)
            hb__emit(sb->m, sb, HB_EVENT_SELFTEST, plugin, version, 0, res.returned, &t,
                     "%s v%llu: %s FAILED (%s%sreturned %d)", plugin, v, *e, in, *in ? " " : "",
                     res.returned);
        else
            hb__emit(sb->m, sb, HB_EVENT_SELFTEST, plugin, version, 0, res.error, &t,
                     "%s v%llu: %s FAILED: %s%s%s", plugin, v, *e, in, *in ? ": " : "",
                     r < 0 ? hb_strerror(r) : hb_sandbox_last_error(sb));
    }
    hb_free(exports);
    if (ok + bad > 0)
        hb__probation_selftests(sb, plugin, bad, first_failure);
    if (passed)
        *passed = ok;
    if (failed)
        *failed = bad;
    return 0;
}

int hb_version_depends(hb_manager *m, const char *plugin, uint64_t version, char ***out)
{
    return packed_list(m, plugin, version, true, out);
}
