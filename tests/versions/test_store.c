/* Unit tests of the version store: add, dedupe, numbering, list, latest,
 * find_input, status rules, checkpoints, verify (corrupt, missing, orphan)
 * and gc rules, on a real state directory and SQLite catalogue. */
#include <sqlite3.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include "store.h"
#include "vtest.h"

static char *g_dir; /* temp root */

/* Writes an object file with distinct content and returns its path. */
static char *make_object(const char *tag)
{
    char name[64];
    snprintf(name, sizeof(name), "src-%s.so", tag);
    char *p = vt_path(g_dir, name);
    char body[256];
    snprintf(body, sizeof(body), "not really ELF, content %s\n", tag);
    vt_write_str(p, body);
    return p;
}

static char *imports_malloc[] = {"malloc", NULL};

static uint64_t add(hb_store *s, const char *plugin, const char *tag, bool want_created)
{
    char *obj = make_object(tag);
    hb_version_rec meta = {0};
    snprintf(meta.input_hash, sizeof(meta.input_hash), "input-%s", tag);
    char *exports[] = {"f", "g", NULL}, *imports[] = {"malloc", NULL};
    meta.exports = exports;
    meta.imports = imports;
    hb_version_rec rec;
    bool created = !want_created;
    char *err = NULL;
    int r = hb_store_add(s, plugin, obj, &meta, &rec, &created, &err);
    if (r != 0)
        HB_FAIL_("hb_store_add(%s, %s) = %d: %s", plugin, tag, r, err ? err : "");
    HB_CHECK_EQ(created, want_created);
    HB_CHECK_STR(rec.plugin, plugin);
    HB_CHECK_EQ(hb__strv_len(rec.exports), 2);
    HB_CHECK_STR(rec.exports[0], "f");
    HB_CHECK_STR(rec.exports[1], "g");
    HB_CHECK(rec.inputs && !rec.inputs[0] && rec.needed && !rec.needed[0]);
    HB_CHECK_EQ(strlen(rec.object_sha256), 64);
    uint64_t v = rec.version;
    hb_version_rec_release(&rec);
    free(obj);
    return v;
}

static void test_add_dedupe_numbering(hb_store *s)
{
    HB_CHECK_EQ(add(s, "counter", "a", true), 1);
    HB_CHECK_EQ(add(s, "counter", "b", true), 2);
    HB_CHECK_EQ(add(s, "counter", "a", false), 1); /* same bytes: same version */
    HB_CHECK_EQ(add(s, "counter", "c", true), 3);
    HB_CHECK_EQ(add(s, "other", "a", true), 1); /* numbering is per plugin */

    hb_version_rec *v = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb_store_list(s, "counter", &v, &n));
    HB_CHECK_EQ(n, 3);
    for (size_t i = 0; i < n; i++) {
        HB_CHECK_EQ(v[i].version, i + 1);
        HB_CHECK_EQ(v[i].status, HB_VERSION_CANDIDATE);
        HB_CHECK(v[i].created > 0);
        HB_CHECK(v[i].size > 0);
    }
    /* The same bytes in two plugins share one object file. */
    hb_version_rec oa;
    HB_CHECK_OK(hb_store_get(s, "other", 1, &oa));
    HB_CHECK_STR(oa.object_sha256, v[0].object_sha256);
    hb_version_rec_release(&oa);
    char *p = hb_store_object_path(s, v[1].object_sha256);
    HB_CHECK(access(p, R_OK) == 0);
    free(p);
    hb_store_list_free(v, n);

    hb_version_rec r;
    HB_CHECK_OK(hb_store_latest(s, "counter", &r));
    HB_CHECK_EQ(r.version, 3);
    hb_version_rec_release(&r);
    HB_CHECK_OK(hb_store_find_input(s, "counter", "input-b", &r));
    HB_CHECK_EQ(r.version, 2);
    HB_CHECK(hb__strv_equal(r.imports, imports_malloc));
    hb_version_rec_release(&r);
    HB_CHECK_EQ(hb_store_find_input(s, "counter", "input-zzz", &r), -ENOENT);
    HB_CHECK_EQ(hb_store_get(s, "counter", 99, &r), -ENOENT);
    HB_CHECK_CONTAINS(hb_store_last_error(s), "no version 99");
    HB_CHECK_EQ(hb_store_latest(s, "nobody", &r), -ENOENT);

    char **names = NULL;
    HB_CHECK_OK(hb_store_plugins(s, &names));
    HB_CHECK_EQ(hb__strv_len(names), 2);
    HB_CHECK_STR(names[0], "counter");
    HB_CHECK_STR(names[1], "other");
    hb__strv_free(names);

    /* Bad arguments. */
    bool created;
    char *obj = make_object("x");
    HB_CHECK_EQ(hb_store_add(s, "", obj, NULL, &r, &created, NULL), -EINVAL);
    HB_CHECK_EQ(hb_store_add(s, "p", "/nonexistent/obj.so", NULL, &r, &created, NULL), -ENOENT);
    free(obj);
}

static void test_status(hb_store *s)
{
    HB_CHECK_EQ(hb_store_set_status(s, "counter", 1, HB_VERSION_GOOD), -EINVAL);
    HB_CHECK_CONTAINS(hb_store_last_error(s), "from candidate to good");
    HB_CHECK_OK(hb_store_set_status(s, "counter", 1, HB_VERSION_ACTIVE));
    HB_CHECK_OK(hb_store_set_status(s, "counter", 1, HB_VERSION_GOOD));
    HB_CHECK_OK(hb_store_set_status(s, "counter", 2, HB_VERSION_BAD));
    HB_CHECK_EQ(hb_store_set_status(s, "counter", 2, HB_VERSION_GOOD), -EINVAL);
    HB_CHECK_EQ(hb_store_set_status(s, "counter", 42, HB_VERSION_BAD), -ENOENT);
    hb_version_rec r;
    HB_CHECK_OK(hb_store_get(s, "counter", 1, &r));
    HB_CHECK_EQ(r.status, HB_VERSION_GOOD);
    hb_version_rec_release(&r);
    HB_CHECK_OK(hb_store_get(s, "counter", 2, &r));
    HB_CHECK_EQ(r.status, HB_VERSION_BAD);
    hb_version_rec_release(&r);
}

static void test_checkpoints(hb_store *s)
{
    hb_checkpoint_rec c;
    HB_CHECK_EQ(hb_store_checkpoint_get(s, "counter", "sb1", -1, &c), -ENOENT);
    HB_CHECK_OK(hb_store_checkpoint_put(s, "counter", "sb1", 1, 1, "one", 3));
    HB_CHECK_OK(hb_store_checkpoint_put(s, "counter", "sb1", 2, 2, "two!", 4));
    HB_CHECK_OK(hb_store_checkpoint_put(s, "counter", "sb2", 3, 2, "", 0));
    HB_CHECK_OK(hb_store_checkpoint_get(s, "counter", "sb1", -1, &c));
    HB_CHECK_EQ(c.schema, 2);
    HB_CHECK_EQ(c.version, 2);
    HB_CHECK_EQ(c.len, 4);
    HB_CHECK(memcmp(c.blob, "two!", 4) == 0);
    hb_checkpoint_rec_release(&c);
    HB_CHECK_OK(hb_store_checkpoint_get(s, "counter", "sb1", 1, &c));
    HB_CHECK_EQ(c.version, 1);
    HB_CHECK(memcmp(c.blob, "one", 3) == 0);
    hb_checkpoint_rec_release(&c);
    /* Replacing a schema's checkpoint makes it the newest. */
    HB_CHECK_OK(hb_store_checkpoint_put(s, "counter", "sb1", 1, 1, "uno", 3));
    HB_CHECK_OK(hb_store_checkpoint_get(s, "counter", "sb1", -1, &c));
    HB_CHECK_EQ(c.schema, 1);
    HB_CHECK(memcmp(c.blob, "uno", 3) == 0);
    hb_checkpoint_rec_release(&c);
    HB_CHECK_OK(hb_store_checkpoint_get(s, "counter", "sb2", 2, &c));
    HB_CHECK_EQ(c.len, 0);
    HB_CHECK(c.blob != NULL);
    hb_checkpoint_rec_release(&c);
    HB_CHECK_EQ(hb_store_checkpoint_get(s, "counter", "sb2", 7, &c), -ENOENT);
    HB_CHECK_OK(hb_store_checkpoint_drop(s, "counter", "sb1"));
    HB_CHECK_EQ(hb_store_checkpoint_get(s, "counter", "sb1", -1, &c), -ENOENT);
}

static char *verify_report(hb_store *s, int *rc)
{
    hb_sb sb = HB_SB_INIT;
    *rc = hb_store_verify_all(s, &sb);
    return hb__sb_detach(&sb);
}

static void test_verify(hb_store *s)
{
    int rc;
    char *rep = verify_report(s, &rc);
    if (rc != 0)
        HB_FAIL_("fresh store does not verify (%d): %s", rc, rep);
    free(rep);

    hb_version_rec r;
    HB_CHECK_OK(hb_store_get(s, "counter", 3, &r));
    char *obj = hb_store_object_path(s, r.object_sha256);

    /* Corrupt the object (same size, one byte flipped). */
    size_t len;
    char *data = vt_read(obj, &len);
    data[0] ^= 0x55;
    vt_write(obj, data, len);
    char *err = NULL;
    HB_CHECK_EQ(hb_store_object_verify(s, &r, &err), HB_ECORRUPT);
    HB_CHECK_CONTAINS(err, "counter v3 is corrupt");
    free(err);
    err = NULL;
    rep = verify_report(s, &rc);
    HB_CHECK_EQ(rc, HB_ECORRUPT);
    HB_CHECK_CONTAINS(rep, "error: object");
    HB_CHECK_CONTAINS(rep, "corrupt");
    free(rep);

    /* Missing object. */
    HB_CHECK(unlink(obj) == 0);
    HB_CHECK_EQ(hb_store_object_verify(s, &r, &err), -ENOENT);
    HB_CHECK_CONTAINS(err, "of counter v3 is missing from ");
    HB_CHECK_CONTAINS(err, hb_store_objects_dir(s));
    free(err);
    err = NULL;
    rep = verify_report(s, &rc);
    HB_CHECK_EQ(rc, HB_ECORRUPT);
    HB_CHECK_CONTAINS(rep, "is missing from");
    free(rep);

    /* Adding the same bytes again heals the store without a new version. */
    data[0] ^= 0x55;
    char *src = vt_path(g_dir, "heal.so");
    vt_write(src, data, len);
    bool created = true;
    hb_version_rec h;
    HB_CHECK_OK(hb_store_add(s, "counter", src, NULL, &h, &created, NULL));
    HB_CHECK_EQ(created, false);
    HB_CHECK_EQ(h.version, 3);
    hb_version_rec_release(&h);
    HB_CHECK_OK(hb_store_object_verify(s, &r, NULL));

    /* A tampered checksum cannot make verify look outside objects/. */
    hb_version_rec bad = r;
    snprintf(bad.object_sha256, sizeof(bad.object_sha256), "../../../../etc/passwd");
    err = NULL;
    HB_CHECK_EQ(hb_store_object_verify(s, &bad, &err), HB_ECORRUPT);
    HB_CHECK_CONTAINS(err, "invalid object checksum");
    free(err);

    /* Orphans and temp files are warnings, not errors. */
    char *orphan = hb__asprintf("%s/%064d.so", hb_store_objects_dir(s), 0);
    vt_write_str(orphan, "orphan");
    char *tmp = hb__asprintf("%s/.tmp-1-abcdef", hb_store_objects_dir(s));
    vt_write_str(tmp, "partial");
    rep = verify_report(s, &rc);
    if (rc != 0)
        HB_FAIL_("orphans made verify fail (%d): %s", rc, rep);
    HB_CHECK_CONTAINS(rep, "warning: orphan object");
    HB_CHECK_CONTAINS(rep, "warning: leftover temporary file");
    free(rep);

    free(orphan);
    free(tmp);
    free(src);
    free(data);
    free(obj);
    hb_version_rec_release(&r);
}

static void set_status(hb_store *s, const char *p, uint64_t v, hb_version_status st)
{
    if (st == HB_VERSION_GOOD)
        HB_CHECK_OK(hb_store_set_status(s, p, v, HB_VERSION_ACTIVE));
    HB_CHECK_OK(hb_store_set_status(s, p, v, st));
}

static bool has_version(hb_store *s, const char *p, uint64_t v)
{
    hb_version_rec r;
    int rc = hb_store_get(s, p, v, &r);
    if (rc == 0)
        hb_version_rec_release(&r);
    return rc == 0;
}

static void test_gc(hb_store *s)
{
    /* g: v1 good, v2 bad, v3 good, v4 active, v5 candidate, v6 candidate. */
    const char *tags[] = {"g1", "g2", "g3", "g4", "g5", "g6"};
    for (size_t i = 0; i < 6; i++)
        HB_CHECK_EQ(add(s, "g", tags[i], true), i + 1);
    set_status(s, "g", 1, HB_VERSION_GOOD);
    set_status(s, "g", 2, HB_VERSION_BAD);
    set_status(s, "g", 3, HB_VERSION_GOOD);
    set_status(s, "g", 4, HB_VERSION_ACTIVE);
    hb_version_rec v1, v5;
    HB_CHECK_OK(hb_store_get(s, "g", 1, &v1));
    HB_CHECK_OK(hb_store_get(s, "g", 5, &v5));

    /* Protect v2 (say it is live in a sandbox). keep 1 -> v6 kept. */
    hb_store_ref protect[] = {{"g", 2}};
    size_t removed = 99;
    char *err = NULL;
    int r = hb_store_gc(s, 1, protect, 1, &removed, &err);
    if (r != 0)
        HB_FAIL_("gc: %d %s", r, err ? err : "");
    HB_CHECK(!has_version(s, "g", 1));
    HB_CHECK(has_version(s, "g", 2)); /* protected */
    HB_CHECK(has_version(s, "g", 3)); /* newest good */
    HB_CHECK(has_version(s, "g", 4)); /* active */
    HB_CHECK(!has_version(s, "g", 5));
    HB_CHECK(has_version(s, "g", 6)); /* newest keep_n */
    /* Other plugins' unprotected versions went too: counter keeps v3 and its
     * newest good (v1); other keeps its only version. */
    HB_CHECK(has_version(s, "counter", 1));
    HB_CHECK(!has_version(s, "counter", 2));
    HB_CHECK(has_version(s, "counter", 3));
    HB_CHECK(has_version(s, "other", 1));
    HB_CHECK_EQ(removed, 3);

    /* Objects of removed rows are gone, shared and kept ones stay; the
     * orphan from test_verify is gone; the fresh temp file stays. */
    char *p1 = hb_store_object_path(s, v1.object_sha256);
    char *p5 = hb_store_object_path(s, v5.object_sha256);
    HB_CHECK(access(p1, F_OK) != 0);
    HB_CHECK(access(p5, F_OK) != 0);
    char *orphan = hb__asprintf("%s/%064d.so", hb_store_objects_dir(s), 0);
    HB_CHECK(access(orphan, F_OK) != 0);
    char *tmp = hb__asprintf("%s/.tmp-1-abcdef", hb_store_objects_dir(s));
    HB_CHECK(access(tmp, F_OK) == 0);
    /* An old temp file is collected. */
    struct timeval old[2] = {{time(NULL) - 2 * HB_STORE_GC_GRACE_S, 0},
                             {time(NULL) - 2 * HB_STORE_GC_GRACE_S, 0}};
    HB_CHECK(utimes(tmp, old) == 0);
    HB_CHECK_OK(hb_store_gc(s, 1, NULL, 0, &removed, NULL));
    HB_CHECK(access(tmp, F_OK) != 0);
    /* v2 is bad and no longer protected: it goes now. */
    HB_CHECK_EQ(removed, 1);
    HB_CHECK(!has_version(s, "g", 2));
    HB_CHECK(has_version(s, "g", 3) && has_version(s, "g", 4) && has_version(s, "g", 6));
    free(p1);
    free(p5);
    free(orphan);
    free(tmp);
    hb_version_rec_release(&v1);
    hb_version_rec_release(&v5);

    /* keep 0 removes even the newest when it is not good or active, but
     * numbers are never reused. */
    HB_CHECK_EQ(add(s, "b", "b1", true), 1);
    HB_CHECK_EQ(add(s, "b", "b2", true), 2);
    HB_CHECK_OK(hb_store_gc(s, 0, NULL, 0, &removed, NULL));
    HB_CHECK(!has_version(s, "b", 1) && !has_version(s, "b", 2));
    HB_CHECK_EQ(add(s, "b", "b3", true), 3);
    /* Re-adding removed bytes makes a new version too. */
    HB_CHECK_EQ(add(s, "b", "b1", true), 4);

    int rc;
    char *rep = verify_report(s, &rc);
    if (rc != 0)
        HB_FAIL_("after gc the store does not verify (%d): %s", rc, rep);
    free(rep);
}

static void test_reopen_and_schema(const char *state)
{
    hb_store *s = NULL;
    char *err = NULL;
    HB_CHECK_OK(hb_store_open(state, &s, &err));
    HB_CHECK(has_version(s, "g", 4)); /* active: survived keep 0 */
    HB_CHECK(!has_version(s, "g", 6)); /* candidate: did not */
    HB_CHECK_EQ(add(s, "g", "g7", true), 7);
    /* The upgrade-test result of a version is kept (schema 2). */
    hb_version_rec rec;
    HB_CHECK_OK(hb_store_get(s, "g", 7, &rec));
    HB_CHECK_EQ(rec.upgrade_result, 0);
    hb_version_rec_release(&rec);
    HB_CHECK_OK(hb_store_set_upgrade_result(s, "g", 7, 4, 2));
    HB_CHECK_OK(hb_store_get(s, "g", 7, &rec));
    HB_CHECK_EQ(rec.upgrade_result, 2);
    HB_CHECK_EQ(rec.upgrade_base, 4);
    hb_version_rec_release(&rec);
    HB_CHECK_EQ(hb_store_set_upgrade_result(s, "g", 99, 4, 1), -ENOENT);
    hb_store_close(s);

    /* The catalogue is WAL with a schema version. */
    char *db = vt_path(state, "hotbox.db");
    sqlite3 *raw;
    HB_CHECK_EQ(sqlite3_open(db, &raw), SQLITE_OK);
    sqlite3_stmt *st;
    HB_CHECK_EQ(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    HB_CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    HB_CHECK_EQ(sqlite3_column_int(st, 0), 7);
    sqlite3_finalize(st);
    HB_CHECK_EQ(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    HB_CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    HB_CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    /* A catalogue from the future is refused with a clear error. */
    HB_CHECK_EQ(sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    HB_CHECK_EQ(hb_store_open(state, &s, &err), -EPROTONOSUPPORT);
    HB_CHECK_CONTAINS(err, "schema version 99");
    free(err);
    free(db);
}

int main(void)
{
    g_dir = vt_tmpdir("hb-store-");
    char *state = vt_path(g_dir, "state/.hotbox");
    hb_store *s = NULL;
    char *err = NULL;
    int r = hb_store_open(state, &s, &err);
    if (r != 0)
        HB_FAIL_("open: %d %s", r, err ? err : "");

    test_add_dedupe_numbering(s);
    test_status(s);
    test_checkpoints(s);
    test_verify(s);
    test_gc(s);
    hb_store_close(s);
    test_reopen_and_schema(state);

    free(state);
    hb__rm_rf(g_dir);
    free(g_dir);
    printf("test_store: ok\n");
    return 0;
}
