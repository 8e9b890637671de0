/* harness/selftest.c - a plugin's exports from the store, and running its
 * self-tests (exported `int hb_test_*(void)`, 0 = pass) in the worker. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Packs a string list into one allocation: the pointer array, then the
 * strings, so one free() releases everything. */
static char **pack_strv(char *const *v)
{
    size_t n = 0, bytes = 0;
    for (; v[n]; n++)
        bytes += strlen(v[n]) + 1;
    char **out = malloc((n + 1) * sizeof(char *) + bytes);
    if (!out)
        return NULL;
    char *p = (char *)(out + n + 1);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]) + 1;
        memcpy(p, v[i], l);
        out[i] = p;
        p += l;
    }
    out[n] = NULL;
    return out;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int hb_version_exports(hb_manager *m, const char *plugin, uint64_t version, char ***out)
{
    if (!m || !plugin || !out)
        return -EINVAL;
    hb_version_rec rec = {0};
    int r = version ? hb_store_get(m->store, plugin, version, &rec)
                    : hb_store_latest(m->store, plugin, &rec);
    if (r < 0) {
        hb__set_mgr_error(m, "%s has no stored version %llu", plugin, (unsigned long long)version);
        return HB_ENOVERSION;
    }
    char **lines = rec.exports; /* taken over from rec */
    rec.exports = NULL;
    hb_version_rec_release(&rec);
    if (!lines)
        return -ENOMEM;
    qsort(lines, hb__strv_len(lines), sizeof(char *), cmp_str);
    char **packed = pack_strv(lines);
    hb__strv_free(lines);
    if (!packed)
        return -ENOMEM;
    *out = packed;
    return 0;
}

int hb_run_selftests(hb_sandbox *sb, const char *plugin, unsigned *passed, unsigned *failed)
{
    if (!sb || !plugin)
        return -EINVAL;
    uint64_t version = 0;
    int r = hb_active_version(sb, plugin, &version);
    if (r < 0)
        return r;
    char **exports = NULL;
    r = hb_version_exports(sb->m, plugin, version, &exports);
    if (r < 0)
        return r;
    unsigned ok = 0, bad = 0;
    char first_failure[128] = "";
    for (char **e = exports; *e; e++) {
        if (strncmp(*e, "hb_test_", 8) != 0)
            continue;
        int32_t rc = -1;
        uint64_t t0 = hb__now_ns();
        r = hb_callf(sb, plugin, *e, ")i", &rc);
        if (r == HB_ESTATELOST) /* a restart before this test, not its failure */
            r = hb_callf(sb, plugin, *e, ")i", &rc);
        hb_timings t = {.total_ms = hb__ms_since(t0)};
        if (r == 0 && rc == 0) {
            ok++;
            hb__emit(sb->m, sb, HB_EVENT_SELFTEST, plugin, version, 0, 0, &t,
                     "%s v%llu: %s passed (%.2f ms)", plugin, (unsigned long long)version, *e,
                     t.total_ms);
        } else {
            bad++;
            if (!first_failure[0])
                snprintf(first_failure, sizeof(first_failure), "%s", *e);
            if (r == 0)
                hb__emit(sb->m, sb, HB_EVENT_SELFTEST, plugin, version, 0, rc ? rc : -1, &t,
                         "%s v%llu: %s FAILED (returned %d)", plugin,
                         (unsigned long long)version, *e, rc);
            else
                hb__emit(sb->m, sb, HB_EVENT_SELFTEST, plugin, version, 0, r, &t,
                         "%s v%llu: %s FAILED: %s", plugin, (unsigned long long)version, *e,
                         hb_sandbox_last_error(sb));
        }
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
    if (!m || !plugin || !out)
        return -EINVAL;
    hb_version_rec rec = {0};
    int r = version ? hb_store_get(m->store, plugin, version, &rec)
                    : hb_store_latest(m->store, plugin, &rec);
    if (r < 0) {
        hb__set_mgr_error(m, "%s has no stored version %llu", plugin, (unsigned long long)version);
        return HB_ENOVERSION;
    }
    char **lines = rec.depends; /* taken over from rec */
    rec.depends = NULL;
    hb_version_rec_release(&rec);
    char **packed = lines ? pack_strv(lines) : NULL;
    hb__strv_free(lines);
    if (!packed)
        return -ENOMEM;
    *out = packed;
    return 0;
}
