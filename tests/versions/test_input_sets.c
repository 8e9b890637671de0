/* tests/versions/test_input_sets.c - hb_store_input_sets (the compile
 * cache's query: the distinct input sets, newest first, bounded) gives the
 * same answer as the scan it replaced (every version read with
 * hb_store_list, newest first, repeated (inputs, depends) pairs skipped),
 * on a catalogue with many versions and repeated sets: after adds, status
 * changes (a rollback), gc, on a catalogue of the previous schema (4)
 * migrated on open, and after recovery. One case per process:
 * test_input_sets <case>. */
#include <stdio.h>
#include <string.h>

#include "vstore.h"

/* The input sets the versions cycle through: 5 file lists, 2 of them with
 * a provider, so some pairs share inputs but differ in depends. */
static char *in_a[] = {"/p/a.c", NULL};
static char *in_ab[] = {"/p/a.c", "/p/b.h", NULL};
static char *in_ba[] = {"/p/b.h", "/p/a.c", NULL}; /* same files, other order: another set */
static char *in_abc[] = {"/p/a.c", "/p/b.h", "/p/c.h", NULL};
static char *dep_q[] = {"q", NULL};
/* Sets only a few old versions have: gc removes their newest versions. */
static char *in_x[] = {"/p/x.c", NULL};
static char *in_y[] = {"/p/y.c", NULL};
static char *in_z[] = {"/p/z.c", NULL};

static void meta_for(unsigned i, hb_version_rec *meta)
{
    memset(meta, 0, sizeof(*meta));
    snprintf(meta->input_hash, sizeof(meta->input_hash), "ih-%u", i);
    if (i == 3 || i == 9 || i == 12) { /* gc keeps v3 (the newest GOOD) */
        meta->inputs = in_x;
        return;
    }
    if (i == 11 || i == 15) { /* gc keeps v11 (ACTIVE) */
        meta->inputs = in_y;
        return;
    }
    if (i == 20 || i == 21) { /* gc removes both */
        meta->inputs = in_z;
        return;
    }
    switch ((i + i / 13) % 7) {
    case 0: meta->inputs = in_a; break;
    case 1: meta->inputs = in_ab; break;
    case 2: meta->inputs = in_ab; meta->depends = dep_q; break;
    case 3: meta->inputs = in_ba; break;
    case 4: meta->inputs = in_abc; break;
    case 5: meta->inputs = in_a; meta->depends = dep_q; break;
    case 6: break; /* no inputs (a prebuilt object): never a set */
    }
}

/* Adds version number i of plugin (distinct bytes: a new version). */
static void add_version(hb_store *s, const char *plugin, unsigned i)
{
    char name[64], body[96];
    snprintf(name, sizeof(name), "obj-%s-%u", plugin, i);
    snprintf(body, sizeof(body), "object %s %u", plugin, i);
    char *path = vt_path(vs_dir, name);
    vt_write_str(path, body);
    hb_version_rec meta, rec;
    meta_for(i, &meta);
    bool created = false;
    char *err = NULL;
    if (hb_store_add(s, plugin, path, &meta, &rec, &created, &err) != 0)
        HB_FAIL_("hb_store_add %s %u: %s", plugin, i, err ? err : "?");
    HB_CHECK(created);
    hb_version_rec_release(&rec);
    unlink(path);
    free(path);
}

/* The old scan of harness/build.c's cache lookup, on hb_store_list: the
 * versions tried, newest first, at most max. */
static size_t old_scan(hb_store *s, const char *plugin, size_t max, uint64_t *got)
{
    hb_version_rec *all = NULL;
    size_t n = 0, tried = 0;
    HB_CHECK_OK(hb_store_list(s, plugin, &all, &n));
    for (size_t i = n; i-- > 0 && tried < max;) {
        const hb_version_rec *v = &all[i];
        if (!v->inputs || !v->inputs[0])
            continue;
        bool seen = false;
        for (size_t k = i + 1; k < n && !seen; k++)
            seen = hb__strv_equal(all[k].inputs, v->inputs) &&
                   hb__strv_equal(all[k].depends, v->depends);
        if (!seen)
            got[tried++] = v->version;
    }
    hb_store_list_free(all, n);
    return tried;
}

/* hb_store_input_sets answers as the old scan does, for several bounds,
 * with full records (lists included). Returns the number of sets. */
static size_t check_same(hb_store *s, const char *plugin, const char *when)
{
    static const size_t bounds[] = {1, 3, 16, 1000};
    size_t total = 0;
    for (size_t b = 0; b < HB_ARRAY_SIZE(bounds); b++) {
        uint64_t want[1000];
        size_t nw = old_scan(s, plugin, bounds[b], want);
        hb_version_rec *v = NULL;
        size_t n = 0;
        HB_CHECK_OK(hb_store_input_sets(s, plugin, bounds[b], &v, &n));
        if (n != nw)
            HB_FAIL_("%s: %s, at most %zu: %zu sets, the old scan finds %zu", when, plugin,
                     bounds[b], n, nw);
        for (size_t i = 0; i < n; i++) {
            if (v[i].version != want[i])
                HB_FAIL_("%s: %s set %zu (at most %zu): v%llu, the old scan gives v%llu", when,
                         plugin, i, bounds[b], (unsigned long long)v[i].version,
                         (unsigned long long)want[i]);
            hb_version_rec full;
            HB_CHECK_OK(hb_store_get(s, plugin, v[i].version, &full));
            HB_CHECK(hb__strv_equal(v[i].inputs, full.inputs));
            HB_CHECK(hb__strv_equal(v[i].depends, full.depends));
            HB_CHECK_STR(v[i].input_hash, full.input_hash);
            hb_version_rec_release(&full);
        }
        hb_store_list_free(v, n);
        total = n;
    }
    return total;
}

#define NVERSIONS 400u

/* A state directory with NVERSIONS versions of "p" and a few of "q". */
static hb_store *make_store(const char *state)
{
    hb_store *s = vs_open(state);
    for (unsigned i = 1; i <= NVERSIONS; i++)
        add_version(s, "p", i);
    for (unsigned i = 1; i <= 20; i++)
        add_version(s, "q", i);
    return s;
}

/* Rows removed by gc: keeps the newest 30, the newest GOOD and the ACTIVE
 * ones, among them old versions whose set's newer versions all go. */
static void gc_and_check(hb_store *s)
{
    /* A rollback: the newest version rolled back, an older one active. */
    HB_CHECK_OK(hb_store_set_status(s, "p", NVERSIONS, HB_VERSION_ACTIVE));
    HB_CHECK_OK(hb_store_set_status(s, "p", NVERSIONS, HB_VERSION_ROLLED_BACK));
    HB_CHECK_OK(hb_store_set_status(s, "p", 200, HB_VERSION_ACTIVE));
    HB_CHECK_OK(hb_store_set_status(s, "p", 3, HB_VERSION_ACTIVE));
    HB_CHECK_OK(hb_store_set_status(s, "p", 3, HB_VERSION_GOOD));
    HB_CHECK_OK(hb_store_set_status(s, "p", 11, HB_VERSION_ACTIVE));
    check_same(s, "p", "after a rollback");
    size_t removed = 0;
    char *err = NULL;
    hb_store_ref prot[] = {{"p", 57}, {"p", 58}};
    if (hb_store_gc(s, 30, prot, HB_ARRAY_SIZE(prot), &removed, &err) != 0)
        HB_FAIL_("gc: %s", err ? err : "?");
    HB_CHECK(removed > NVERSIONS / 2);
    /* The 6 cycling sets, x (now v3's), y (now v11's); z went with v20, v21. */
    HB_CHECK_EQ(check_same(s, "p", "after gc"), 8);
    check_same(s, "q", "after gc");
    /* A new version after gc joins its set. */
    add_version(s, "p", NVERSIONS + 10);
    check_same(s, "p", "after gc and a new version");
}

static void case_same_as_scan(void)
{
    char *state = vt_path(vs_dir, "state");
    hb_store *s = make_store(state);
    /* 6 sets cycle through the versions (case 6 has no inputs), and x, y
     * and z: the old scan and the query agree. */
    HB_CHECK_EQ(check_same(s, "p", "after adds"), 9);
    check_same(s, "q", "after adds");
    /* No versions, and an unknown plugin: no sets. */
    hb_version_rec *v = (hb_version_rec *)1;
    size_t n = 99;
    HB_CHECK_OK(hb_store_input_sets(s, "nobody", 16, &v, &n));
    HB_CHECK_EQ(n, 0);
    hb_store_list_free(v, n);
    HB_CHECK_EQ(hb_store_input_sets(s, NULL, 16, &v, &n), -EINVAL);
    gc_and_check(s);
    hb_store_close(s);
    free(state);
}

/* Takes a catalogue back to schema 4 exactly as that code wrote it: no
 * input_set column, no input_sets table, index or triggers. */
static const char *const TO_SCHEMA_4 =
    "DROP TRIGGER input_sets_add; DROP TRIGGER input_sets_set; DROP TRIGGER input_sets_drop;"
    "DROP TABLE input_sets; DROP INDEX versions_by_input_set;"
    "ALTER TABLE versions DROP COLUMN input_set;"
    "DROP INDEX versions_by_status;" /* schema 6 */
    "DROP TRIGGER input_aliases_follow; DROP TABLE input_aliases;" /* schema 7 */
    "PRAGMA user_version = 4;";

/* A schema 4 catalogue with history is migrated on open: every old row
 * gets its key, the sets are those of the old scan, and new versions
 * join them. */
static void case_migrate_v4(void)
{
    char *state = vt_path(vs_dir, "state");
    hb_store *s = make_store(state);
    vs_downgrade(s, state, TO_SCHEMA_4, 4);
    s = vs_open(state); /* migrates */
    HB_CHECK_EQ(check_same(s, "p", "after the migration"), 9);
    check_same(s, "q", "after the migration");
    add_version(s, "p", NVERSIONS + 1);
    check_same(s, "p", "after the migration and a new version");
    gc_and_check(s);
    hb_store_close(s);
    free(state);
}

/* Recovery salvages rows without their keys; they are filled again. */
static void case_recover(void)
{
    char *state = vt_path(vs_dir, "state");
    hb_store *s = make_store(state);
    hb_store_close(s);
    hb_sb rep = HB_SB_INIT;
    if (hb_store_recover(state, true, &rep) != 0)
        HB_FAIL_("recover: %s", rep.buf ? rep.buf : "?");
    hb__sb_release(&rep);
    char *err = NULL;
    if (hb_store_open(state, &s, &err) != 0)
        HB_FAIL_("open after recovery: %s", err ? err : "?");
    HB_CHECK_EQ(check_same(s, "p", "after recovery"), 9);
    gc_and_check(s);
    hb_store_close(s);
    free(state);
}

static void run_same(void) { vs_in_tmpdir("hb-input-sets-", case_same_as_scan); }
static void run_migrate(void) { vs_in_tmpdir("hb-input-sets-", case_migrate_v4); }
static void run_recover(void) { vs_in_tmpdir("hb-input-sets-", case_recover); }

int main(int argc, char **argv)
{
    static const hb_test_case cases[] = {
        {"same_as_scan", run_same},
        {"migrate_v4", run_migrate},
        {"recover", run_recover},
    };
    return hb_test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
