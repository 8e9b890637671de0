/* tests/versions/test_store_aliases.c - a build merged into a stored
 * version (its object byte for byte that version's) keeps its input hash
 * as another name of the version: hb_store_find_input finds the version
 * by it; the name goes with the version (gc); a catalogue of the previous
 * schema (6) gets the table on open; recovery keeps the names. One case
 * per process: test_store_aliases <case>. */
#include <stdio.h>
#include <string.h>

#include "vstore.h"

/* Stores an object of `body` for plugin "p" built from input hash ih;
 * returns the version it is (new or merged) and whether it was created. */
static uint64_t add(hb_store *s, const char *body, const char *ih, bool *created)
{
    char *path = vt_path(vs_dir, "obj");
    vt_write_str(path, body);
    hb_version_rec meta = {0}, rec;
    snprintf(meta.input_hash, sizeof(meta.input_hash), "%s", ih);
    char *err = NULL;
    if (hb_store_add(s, "p", path, &meta, &rec, created, &err) != 0)
        HB_FAIL_("hb_store_add %s: %s", ih, err ? err : "?");
    uint64_t v = rec.version;
    hb_version_rec_release(&rec);
    unlink(path);
    free(path);
    return v;
}

/* The version hb_store_find_input gives for ih, 0 when none. */
static uint64_t find(hb_store *s, const char *ih)
{
    hb_version_rec rec;
    int r = hb_store_find_input(s, "p", ih, &rec);
    if (r == -ENOENT)
        return 0;
    HB_CHECK_OK(r);
    uint64_t v = rec.version;
    HB_CHECK_STR(rec.plugin, "p");
    hb_version_rec_release(&rec);
    return v;
}

/* v1 from A (ih-a), v2 from B (ih-b), then A' (ih-a2) with A's bytes:
 * merged into v1, and ih-a2 names v1. */
static hb_store *merged(const char *state)
{
    hb_store *s = vs_open(state);
    bool created;
    HB_CHECK_EQ(add(s, "object A", "ih-a", &created), 1);
    HB_CHECK(created);
    HB_CHECK_EQ(add(s, "object B", "ih-b", &created), 2);
    HB_CHECK(created);
    HB_CHECK_EQ(find(s, "ih-a2"), 0);
    HB_CHECK_EQ(add(s, "object A", "ih-a2", &created), 1);
    HB_CHECK(!created);
    HB_CHECK_EQ(find(s, "ih-a2"), 1);
    return s;
}

static void case_found(void)
{
    char *state = vt_path(vs_dir, "state");
    hb_store *s = merged(state);
    /* The version's own hash still finds it; other hashes are unchanged. */
    HB_CHECK_EQ(find(s, "ih-a"), 1);
    HB_CHECK_EQ(find(s, "ih-b"), 2);
    HB_CHECK_EQ(find(s, "ih-none"), 0);
    hb_version_rec rec;
    HB_CHECK_OK(hb_store_get(s, "p", 1, &rec));
    HB_CHECK_STR(rec.input_hash, "ih-a"); /* its own hash is not replaced */
    hb_version_rec_release(&rec);
    /* The same bytes and its own hash again: nothing new to name. */
    bool created;
    HB_CHECK_EQ(add(s, "object A", "ih-a", &created), 1);
    /* A name moves to the version its content built last: ih-a2 now gives
     * B's bytes (say a provider changed), merged into v2. */
    HB_CHECK_EQ(add(s, "object B", "ih-a2", &created), 2);
    HB_CHECK_EQ(find(s, "ih-a2"), 2);
    /* A newer version built from a named hash wins over the name. */
    HB_CHECK_EQ(add(s, "object C", "ih-a2", &created), 3);
    HB_CHECK(created);
    HB_CHECK_EQ(find(s, "ih-a2"), 3);
    hb_store_close(s);
    free(state);
}

static void case_gc(void)
{
    char *state = vt_path(vs_dir, "state");
    hb_store *s = merged(state);
    size_t removed = 0;
    char *err = NULL;
    /* Keeps the newest (v2) only: v1 goes, and its name with it. */
    if (hb_store_gc(s, 1, NULL, 0, &removed, &err) != 0)
        HB_FAIL_("gc: %s", err ? err : "?");
    HB_CHECK_EQ(removed, 1);
    HB_CHECK_EQ(find(s, "ih-a2"), 0);
    HB_CHECK_EQ(find(s, "ih-b"), 2);
    hb_store_close(s);
    HB_CHECK_EQ(vs_raw_int(state, "SELECT count(*) FROM input_aliases"), 0);
    free(state);
}

/* A schema 6 catalogue (no input_aliases) opens, migrates, and names. */
static void case_migrate_v6(void)
{
    char *state = vt_path(vs_dir, "state");
    hb_store *s = vs_open(state);
    bool created;
    HB_CHECK_EQ(add(s, "object A", "ih-a", &created), 1);
    vs_downgrade(s, state,
                 "DROP TRIGGER input_aliases_follow; DROP TABLE input_aliases;"
                 "PRAGMA user_version = 6;", 6);
    s = vs_open(state);
    HB_CHECK_EQ(add(s, "object A", "ih-a2", &created), 1);
    HB_CHECK(!created);
    HB_CHECK_EQ(find(s, "ih-a2"), 1);
    hb_store_close(s);
    free(state);
}

/* Recovery keeps the names of the versions it keeps. */
static void case_recover(void)
{
    char *state = vt_path(vs_dir, "state");
    hb_store *s = merged(state);
    hb_store_close(s);
    hb_sb rep = HB_SB_INIT;
    if (hb_store_recover(state, true, &rep) != 0)
        HB_FAIL_("recover: %s", rep.buf ? rep.buf : "?");
    hb__sb_release(&rep);
    s = vs_open(state);
    HB_CHECK_EQ(find(s, "ih-a2"), 1);
    HB_CHECK_EQ(find(s, "ih-b"), 2);
    hb_store_close(s);
    free(state);
}

static void run_found(void) { vs_in_tmpdir("hb-aliases-", case_found); }
static void run_gc(void) { vs_in_tmpdir("hb-aliases-", case_gc); }
static void run_migrate(void) { vs_in_tmpdir("hb-aliases-", case_migrate_v6); }
static void run_recover(void) { vs_in_tmpdir("hb-aliases-", case_recover); }

int main(int argc, char **argv)
{
    static const hb_test_case cases[] = {
        {"found", run_found},
        {"gc", run_gc},
        {"migrate_v6", run_migrate},
        {"recover", run_recover},
    };
    return hb_test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
