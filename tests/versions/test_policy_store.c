/* tests/versions/test_policy_store.c - the fallback policy asked of the
 * store (hb_policy_fallback_find, hb_policy_pin_find: an index search on
 * (plugin, status, version)) gives the same answer as the scans of the
 * whole history it replaced (hb_policy_fallback over hb_store_list, and
 * the old pin scan), for every bound, with and without an excluded
 * version; the search uses the index; and a catalogue of the previous
 * schema (5) gets the index when it is opened. One case per process:
 * test_policy_store <case>. */
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "vstore.h"

#define NVERSIONS 300u

/* Adds version i of plugin "p" (distinct bytes: a new version) and gives
 * it a status that cycles through all five. */
static void add_version(hb_store *s, unsigned i)
{
    char name[64], body[96];
    snprintf(name, sizeof(name), "obj-%u", i);
    snprintf(body, sizeof(body), "object p %u", i);
    char *path = vt_path(vs_dir, name);
    vt_write_str(path, body);
    hb_version_rec meta = {0}, rec;
    bool created = false;
    char *err = NULL;
    if (hb_store_add(s, "p", path, &meta, &rec, &created, &err) != 0)
        HB_FAIL_("hb_store_add p %u: %s", i, err ? err : "?");
    HB_CHECK(created);
    HB_CHECK_EQ(rec.version, i);
    hb_version_rec_release(&rec);
    unlink(path);
    free(path);
    /* Runs of one status now and then, so a search must skip many rows. */
    unsigned k = (i / 40) % 2 ? 3 : (i * 7 + i / 11) % 5;
    switch (k) {
    case 0: break; /* candidate */
    case 1: HB_CHECK_OK(hb_store_set_status(s, "p", i, HB_VERSION_ACTIVE)); break;
    case 2:
        HB_CHECK_OK(hb_store_set_status(s, "p", i, HB_VERSION_ACTIVE));
        HB_CHECK_OK(hb_store_set_status(s, "p", i, HB_VERSION_GOOD));
        break;
    case 3: HB_CHECK_OK(hb_store_set_status(s, "p", i, HB_VERSION_BAD)); break;
    case 4:
        HB_CHECK_OK(hb_store_set_status(s, "p", i, HB_VERSION_ACTIVE));
        HB_CHECK_OK(hb_store_set_status(s, "p", i, HB_VERSION_ROLLED_BACK));
        break;
    }
}

static hb_store *make_store(const char *state)
{
    hb_store *s = vs_open(state);
    for (unsigned i = 1; i <= NVERSIONS; i++)
        add_version(s, i);
    return s;
}

/* The pin rule as harness/load.c scanned it before: the newest GOOD or
 * ACTIVE version older than below, 0 when none. */
static uint64_t old_pin_scan(const hb_version_rec *v, size_t n, uint64_t below)
{
    for (size_t i = n; i-- > 0;)
        if (v[i].version < below &&
            (v[i].status == HB_VERSION_GOOD || v[i].status == HB_VERSION_ACTIVE))
            return v[i].version;
    return 0;
}

static uint64_t found_version(int r, hb_version_rec *rec, const char *what, uint64_t below)
{
    if (r == -ENOENT)
        return 0;
    if (r != 0)
        HB_FAIL_("%s below v%llu: %d", what, (unsigned long long)below, r);
    uint64_t v = rec->version;
    HB_CHECK_STR(rec->plugin, "p");
    hb_version_rec_release(rec);
    return v;
}

/* Every bound from 0 to past the newest, with no excluded version and
 * with each of a few: the store's answer is the scan's. */
static void check_same(hb_store *s, const char *when)
{
    hb_version_rec *all = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb_store_list(s, "p", &all, &n));
    HB_CHECK(n >= 100);
    const uint64_t excludes[] = {0, 2, 57, 160, NVERSIONS};
    unsigned compared = 0, none = 0;
    for (uint64_t below = 0; below <= NVERSIONS + 2; below++) {
        uint64_t b = below == NVERSIONS + 2 ? UINT64_MAX : below;
        for (size_t e = 0; e < HB_ARRAY_SIZE(excludes); e++) {
            size_t i = hb_policy_fallback(all, n, b, excludes[e]);
            uint64_t want = i == HB_POLICY_NONE ? 0 : all[i].version;
            hb_version_rec rec;
            uint64_t got = found_version(hb_policy_fallback_find(s, "p", b, excludes[e], &rec),
                                         &rec, "fallback", b);
            if (got != want)
                HB_FAIL_("%s: fallback below v%llu excluding v%llu: v%llu, the scan gives v%llu",
                         when, (unsigned long long)b, (unsigned long long)excludes[e],
                         (unsigned long long)got, (unsigned long long)want);
            compared++;
            none += want == 0;
        }
        uint64_t want = old_pin_scan(all, n, b);
        hb_version_rec rec;
        uint64_t got = found_version(hb_policy_pin_find(s, "p", b, &rec), &rec, "pin", b);
        if (got != want)
            HB_FAIL_("%s: pin target below v%llu: v%llu, the scan gives v%llu", when,
                     (unsigned long long)b, (unsigned long long)got, (unsigned long long)want);
    }
    /* Both outcomes were met: some bounds have no candidate. */
    HB_CHECK(none > 0 && none < compared);
    hb_store_list_free(all, n);
}

/* The plan SQLite makes for the store's search: it must name the index. */
static void check_plan(const char *state)
{
    sqlite3 *raw = vs_raw_open(state);
    sqlite3_stmt *st;
    HB_CHECK_EQ(sqlite3_prepare_v2(raw,
                                   "EXPLAIN QUERY PLAN SELECT version FROM versions WHERE "
                                   "plugin='p' AND status=2 AND version<100 AND version<>7 "
                                   "ORDER BY version DESC LIMIT 1",
                                   -1, &st, NULL),
                SQLITE_OK);
    char plan[512] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 3);
        strncat(plan, d ? d : "", sizeof(plan) - strlen(plan) - 2);
        strcat(plan, ";");
    }
    sqlite3_finalize(st);
    sqlite3_close(raw);
    HB_CHECK_CONTAINS(plan, "versions_by_status");
    if (strstr(plan, "TEMP B-TREE"))
        HB_FAIL_("the search sorts instead of walking the index: %s", plan);
}


static void case_same_as_scan(void)
{
    char *state = vt_path(vs_dir, "state");
    hb_store *s = make_store(state);
    check_same(s, "after adds");
    /* An unknown plugin has no candidate; bad arguments are refused. */
    hb_version_rec rec;
    HB_CHECK_EQ(hb_policy_fallback_find(s, "nobody", UINT64_MAX, 0, &rec), -ENOENT);
    HB_CHECK_EQ(hb_policy_pin_find(s, "nobody", UINT64_MAX, &rec), -ENOENT);
    HB_CHECK_EQ(hb_store_newest_of(s, NULL, 1, 5, 0, &rec), -EINVAL);
    /* After gc (rows gone) the answers still agree. */
    size_t removed = 0;
    char *err = NULL;
    if (hb_store_gc(s, 100, NULL, 0, &removed, &err) != 0)
        HB_FAIL_("gc: %s", err ? err : "?");
    HB_CHECK(removed > 0);
    check_same(s, "after gc");
    hb_store_close(s);
    check_plan(state);
    free(state);
}

/* Takes a catalogue back to schema 5 exactly as that code wrote it. */
static const char *const TO_SCHEMA_5 =
    "DROP TRIGGER input_aliases_follow; DROP TABLE input_aliases;" /* schema 7 */
    "DROP INDEX versions_by_status; PRAGMA user_version = 5;";

static void case_migrate_v5(void)
{
    char *state = vt_path(vs_dir, "state");
    hb_store *s = make_store(state);
    vs_downgrade(s, state, TO_SCHEMA_5, 5);
    s = vs_open(state);
    HB_CHECK_EQ(vs_raw_int(state, "PRAGMA user_version"), 7);
    check_same(s, "after the migration");
    hb_store_close(s);
    check_plan(state);
    free(state);
}

static void run_same(void) { vs_in_tmpdir("hb-policy-store-", case_same_as_scan); }
static void run_migrate(void) { vs_in_tmpdir("hb-policy-store-", case_migrate_v5); }

int main(int argc, char **argv)
{
    static const hb_test_case cases[] = {
        {"same_as_scan", run_same},
        {"migrate_v5", run_migrate},
    };
    return hb_test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
