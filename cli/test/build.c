/* cli/test/build.c - building the plugins of a `hotbox test` run, finding
 * each one's upgrade base (--upgrade), and recording upgrade outcomes. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* The base of p's upgrade run: --from, or the library's choice (never a
 * bad version nor one whose own upgrade tests failed). */
static int find_previous(run *R, tplugin *p)
{
    int r;
    if (R->from) {
        r = hb_version_upgrade_result(R->m, p->name, R->from, NULL, NULL);
        if (r < 0) {
            p->build_error = tr_printf("--from %" PRIu64 ": %s has no such stored version",
                                       R->from, p->name);
            return r;
        }
        if (R->from >= p->version) {
            p->build_error = tr_printf("--from %" PRIu64 ": %s v%" PRIu64 " is the version under "
                                       "test; the base must be older", R->from, p->name,
                                       p->version);
            return -EINVAL;
        }
        p->prev = R->from;
    } else {
        uint64_t base = 0;
        r = hb_upgrade_base(R->m, p->name, p->version, &base);
        if (r == HB_ENOVERSION)
            return 0;
        if (r < 0)
            return r;
        p->prev = base;
    }
    return hb_version_exports(R->m, p->name, p->prev, &p->prev_exports);
}

/* --object: stores the object and names the plugin after its descriptor
 * (a name another plugin of the run has is an error). */
static int build_object(run *R, tplugin *p, hb_version_info *v)
{
    int r = hb_build_object(R->m, p->object, NULL, v);
    if (r < 0)
        return r;
    for (size_t i = 0; i < R->nplugins; i++)
        if (&R->plugins[i] != p && !strcmp(R->plugins[i].name, v->plugin)) {
            p->build_error = tr_printf("two plugins named %s: %s and the object %s", v->plugin,
                                       R->plugins[i].dir ? R->plugins[i].dir
                                                         : R->plugins[i].object,
                                       p->object);
            return -EEXIST;
        }
    char *name = strdup(v->plugin);
    if (!name)
        return -ENOMEM;
    free(p->name);
    p->name = name;
    return 0;
}

/* One plugin's result of the first pass (cli_test_build_all). */
typedef struct first_build {
    int r;
    hb_version_info v;
    double ms, t0;
} first_build;

/* Builds serially: the manager's last-error text (the diagnostics) is one
 * slot shared by all threads. Builds are cached by input hash, so a second
 * run costs little. */
void cli_test_build_all(run *R)
{
    /* A plugin built before the plugin it imports from is linked again once
     * that provider exists: a quiet first pass settles the dependencies,
     * the second pass is the one reported. When the first pass compiled
     * nothing and failed nowhere (a warm cache: every plugin found with
     * the providers it had), a second pass would find exactly the same
     * versions, so its results are the first pass's. */
    first_build *fb = calloc(R->nplugins ? R->nplugins : 1, sizeof(*fb));
    atomic_store(&R->compiled, false);
    for (size_t i = 0; i < R->nplugins; i++) {
        if (!R->plugins[i].dir)
            continue;
        double t0 = cli_test_now_ms();
        if (fb)
            fb[i].t0 = cli_test_wall();
        hb_version_info v;
        int r = hb_build(R->m, R->plugins[i].dir, &v);
        R->builds++;
        if (!fb)
            continue;
        fb[i] = (first_build){r, v, cli_test_now_ms() - t0, fb[i].t0};
    }
    /* Nothing compiled (the event callback says so) and nothing failed:
     * every plugin was found in the cache with the providers it had. */
    bool settled = fb && !atomic_load(&R->compiled);
    for (size_t i = 0; settled && i < R->nplugins; i++)
        settled = !R->plugins[i].dir || fb[i].r == 0;
    for (size_t i = 0; i < R->nplugins; i++) {
        tplugin *p = &R->plugins[i];
        hb_version_info v;
        double t0 = cli_test_now_ms();
        p->build_t0 = cli_test_wall();
        int r;
        if (p->object) {
            r = build_object(R, p, &v);
        } else if (settled) {
            r = fb[i].r;
            v = fb[i].v;
            p->build_t0 = fb[i].t0;
            t0 -= fb[i].ms;
        } else {
            r = hb_build(R->m, p->dir, &v);
            R->builds++;
        }
        p->build_ms = cli_test_now_ms() - t0;
        if (r < 0) /* the early worker's start may set the manager's last error too */
            cli_test_prestart_wait(R);
        if (r < 0 && !p->build_error)
            p->build_error = tr_printf("%s", hb_manager_last_error(R->m));
        if (r < 0) {
            cli_test_json_stage(R, "build", p->name, p->build_ms, false, 0);
            continue;
        }
        p->built = true;
        p->version = v.version;
        cli_test_json_stage(R, "build", p->name, p->build_ms, true, v.version);
        r = hb_version_exports(R->m, p->name, v.version, &p->exports);
        if (r < 0) {
            cli_test_prestart_wait(R);
            p->built = false;
            p->build_error = tr_printf("cannot read the exports of %s v%" PRIu64 ": %s", p->name,
                                       v.version, hb_manager_last_error(R->m));
            continue;
        }
        p->ntests = cli_test_count_tests(p->exports);
        if (R->upgrade && find_previous(R, p) < 0) {
            p->prev = 0;
            if (p->build_error) { /* a bad --from: this plugin fails */
                p->built = false;
                p->bad_from = true;
                continue;
            }
        }
        if (R->upgrade && !p->prev)
            cli_test_note(R, "%s has no earlier good version in the store: plain tests only",
                          p->name);
    }
    free(fb);
}

/* Keeps each upgrade run's outcome in the catalogue, so a version whose
 * migration failed is not the base of the next run. A run cut short
 * (skipped or unfinished cases, another shard) or from a --from base
 * records nothing. */
void cli_test_record_upgrades(run *R)
{
    if (R->from)
        return; /* an explicit base is an experiment: the automatic choice stays */
    for (size_t i = 0; i < R->nplugins; i++) {
        tplugin *p = &R->plugins[i];
        if (!p->built || !p->prev || p->up_end <= p->up_first)
            continue;
        bool failed = false, complete = true;
        for (size_t c = p->up_first; c < p->up_end; c++) {
            failed |= R->cases[c].status == TR_FAIL;
            complete &= R->cases[c].status == TR_PASS;
        }
        if (!failed && !complete)
            continue;
        int r = hb_version_set_upgrade_result(R->m, p->name, p->version, p->prev,
                                              failed ? HB_UPGRADE_FAILED : HB_UPGRADE_PASSED);
        if (r < 0)
            cli_error("cannot record the upgrade result of %s v%" PRIu64 ": %s", p->name,
                      p->version, hb_manager_last_error(R->m));
        else if (failed)
            cli_test_note(R, "%s v%" PRIu64 " failed its upgrade from v%" PRIu64
                          "; later upgrade runs will not start from it",
                          p->name, p->version, p->prev);
    }
}
