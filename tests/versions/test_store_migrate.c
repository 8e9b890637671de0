/* tests/versions/test_store_migrate.c - catalogues written by older hotbox
 * versions open and read correctly after the schema 3 migration (list
 * columns -> version_lists rows), and recovery of an old catalogue goes
 * through the same migration. One case per process: test_store_migrate
 * <case>. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"
#include "vtest.h"

static char *g_dir;

/* The schema exactly as hotbox wrote it at user_version 2 (migrations
 * 0->1 and 1->2 of the code before the list tables). */
static const char *const OLD_SCHEMA_V2 =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE versions ("
    "  plugin TEXT NOT NULL,"
    "  version INTEGER NOT NULL CHECK (version > 0),"
    "  object_sha256 TEXT NOT NULL,"
    "  input_hash TEXT NOT NULL DEFAULT '',"
    "  size INTEGER NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  inputs TEXT NOT NULL DEFAULT '',"
    "  exports TEXT NOT NULL DEFAULT '',"
    "  imports TEXT NOT NULL DEFAULT '',"
    "  needed TEXT NOT NULL DEFAULT '',"
    "  depends TEXT NOT NULL DEFAULT '',"
    "  PRIMARY KEY (plugin, version));"
    "CREATE INDEX versions_by_object ON versions(plugin, object_sha256);"
    "CREATE INDEX versions_by_input ON versions(plugin, input_hash);"
    "CREATE INDEX versions_sha ON versions(object_sha256);"
    "CREATE TABLE counters (plugin TEXT PRIMARY KEY, last_version INTEGER NOT NULL);"
    "CREATE TABLE checkpoints (plugin TEXT NOT NULL, sandbox TEXT NOT NULL,"
    "  schema INTEGER NOT NULL, version INTEGER NOT NULL, blob BLOB NOT NULL,"
    "  created INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (plugin, sandbox, schema));"
    "ALTER TABLE versions ADD COLUMN upgrade_result INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE versions ADD COLUMN upgrade_base INTEGER NOT NULL DEFAULT 0;"
    "PRAGMA user_version = 2;";

/* Stores content as an object file and returns its checksum. */
static void put_object(const char *state, const char *content, char sha[HB_SHA256_HEX])
{
    hb__sha256_hex(content, strlen(content), sha);
    char *objects = vt_path(state, "objects");
    mkdir(objects, 0755);
    char *name = hb__asprintf("%s/%s.so", objects, sha);
    HB_CHECK(name != NULL);
    vt_write_str(name, content);
    free(name);
    free(objects);
}

/* An old (schema 2) catalogue with two versions of "p" and one of "q", its
 * lists written the way the old code joined them (a trailing newline, none,
 * an empty line, empty lists). */
static char *make_old_state(void)
{
    char *state = vt_path(g_dir, "state");
    HB_CHECK_EQ(mkdir(state, 0755), 0);
    char sha1[HB_SHA256_HEX], sha2[HB_SHA256_HEX], sha3[HB_SHA256_HEX];
    put_object(state, "object one", sha1);
    put_object(state, "object two", sha2);
    put_object(state, "object three", sha3);
    char *db = vt_path(state, "hotbox.db");
    sqlite3 *raw;
    HB_CHECK_EQ(sqlite3_open(db, &raw), SQLITE_OK);
    HB_CHECK_EQ(sqlite3_exec(raw, OLD_SCHEMA_V2, NULL, NULL, NULL), SQLITE_OK);
    char *rows = hb__asprintf(
        "INSERT INTO versions (plugin, version, object_sha256, input_hash, size, created, status,"
        " inputs, exports, imports, needed, depends, upgrade_result, upgrade_base) VALUES"
        " ('p', 1, '%s', 'ih1', 10, 100, 2, '/src/p/a.c\n/src/inc/x.h\n', 'f\ng\nhb_test_one\n',"
        "  'malloc\nq_api', 'libm.so.6\nhotbox-plugin-q.so\n', 'q\n', 1, 0),"
        " ('p', 2, '%s', 'ih2', 10, 200, 0, '/src/p/a.c\n\n/src/p/b.c', '', '', '', '', 0, 0),"
        " ('q', 1, '%s', 'ih3', 12, 50, 1, '/src/q/q.c\n', 'q_api\n', '', '', '', 0, 0);"
        "INSERT INTO counters VALUES ('p', 2), ('q', 1);",
        sha1, sha2, sha3);
    HB_CHECK(rows != NULL);
    HB_CHECK_EQ(sqlite3_exec(raw, rows, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    free(rows);
    free(db);
    return state;
}

static void check_list(char **got, const char *const *want, const char *what)
{
    size_t n = 0;
    while (want[n])
        n++;
    if (hb__strv_len(got) != n)
        HB_FAIL_("%s: %zu elements, want %zu", what, hb__strv_len(got), n);
    for (size_t i = 0; i < n; i++)
        HB_CHECK_STR(got[i], want[i]);
}

/* The rows of make_old_state, read through the store. */
static void check_old_rows(hb_store *s)
{
    hb_version_rec r;
    HB_CHECK_OK(hb_store_get(s, "p", 1, &r));
    HB_CHECK_STR(r.input_hash, "ih1");
    HB_CHECK_EQ(r.status, HB_VERSION_GOOD);
    HB_CHECK_EQ(r.upgrade_result, 1);
    check_list(r.inputs, (const char *const[]){"/src/p/a.c", "/src/inc/x.h", NULL}, "p1 inputs");
    check_list(r.exports, (const char *const[]){"f", "g", "hb_test_one", NULL}, "p1 exports");
    check_list(r.imports, (const char *const[]){"malloc", "q_api", NULL}, "p1 imports");
    check_list(r.needed, (const char *const[]){"libm.so.6", "hotbox-plugin-q.so", NULL},
               "p1 needed");
    check_list(r.depends, (const char *const[]){"q", NULL}, "p1 depends");
    hb_version_rec_release(&r);
    HB_CHECK_OK(hb_store_get(s, "p", 2, &r));
    check_list(r.inputs, (const char *const[]){"/src/p/a.c", "/src/p/b.c", NULL}, "p2 inputs");
    check_list(r.exports, (const char *const[]){NULL}, "p2 exports");
    check_list(r.depends, (const char *const[]){NULL}, "p2 depends");
    HB_CHECK(r.imports && r.needed);
    hb_version_rec_release(&r);
    HB_CHECK_OK(hb_store_get(s, "q", 1, &r));
    check_list(r.exports, (const char *const[]){"q_api", NULL}, "q1 exports");
    hb_version_rec_release(&r);
}

static int count_rows(const char *state, const char *sql)
{
    char *db = vt_path(state, "hotbox.db");
    sqlite3 *raw;
    HB_CHECK_EQ(sqlite3_open(db, &raw), SQLITE_OK);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(raw, sql, -1, &st, NULL) != SQLITE_OK)
        HB_FAIL_("%s: %s", sql, sqlite3_errmsg(raw));
    HB_CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(raw);
    free(db);
    return n;
}

/* An old catalogue opens, is migrated once, and reads the same. */
static void case_open_v2(void)
{
    char *state = make_old_state();
    hb_store *s = NULL;
    char *err = NULL;
    if (hb_store_open(state, &s, &err) != 0)
        HB_FAIL_("open of a schema 2 catalogue: %s", err ? err : "?");
    check_old_rows(s);
    /* It verifies (objects, counters) and keeps numbering. */
    hb_sb rep = HB_SB_INIT;
    if (hb_store_verify_all(s, &rep) != 0)
        HB_FAIL_("verify after migration: %s", rep.buf ? rep.buf : "");
    hb__sb_release(&rep);
    char *obj = vt_path(g_dir, "new.so");
    vt_write_str(obj, "object four");
    char *deps[] = {"q", NULL};
    hb_version_rec meta = {.depends = deps}, out;
    bool created = false;
    HB_CHECK_OK(hb_store_add(s, "p", obj, &meta, &out, &created, &err));
    HB_CHECK(created);
    HB_CHECK_EQ(out.version, 3);
    check_list(out.depends, (const char *const[]){"q", NULL}, "p3 depends");
    hb_version_rec_release(&out);
    hb_store_close(s);
    /* Schema 3: the text columns are gone, the lists are rows. */
    HB_CHECK_EQ(count_rows(state, "PRAGMA user_version"), 7);
    HB_CHECK_EQ(count_rows(state, "SELECT count(*) FROM pragma_table_info('versions') "
                                  "WHERE name IN ('inputs','exports','imports','needed','depends')"),
                0);
    HB_CHECK_EQ(count_rows(state, "SELECT count(*) FROM version_lists"),
                10 /* p1 */ + 2 /* p2 */ + 2 /* q1 */ + 1 /* p3 */);
    /* Opening again does not migrate again. */
    HB_CHECK_OK(hb_store_open(state, &s, &err));
    check_old_rows(s);
    /* gc takes a removed version's list rows with it. */
    HB_CHECK_OK(hb_store_set_status(s, "p", 2, HB_VERSION_BAD));
    size_t removed = 0;
    HB_CHECK_OK(hb_store_gc(s, 1, NULL, 0, &removed, NULL));
    HB_CHECK_EQ(removed, 1);
    hb_store_close(s);
    HB_CHECK_EQ(count_rows(state, "SELECT count(*) FROM version_lists WHERE plugin='p' AND "
                                  "version=2"),
                0);
    HB_CHECK_EQ(count_rows(state, "SELECT count(*) FROM version_lists WHERE plugin='p' AND "
                                  "version=1"),
                10);
    free(obj);
    free(state);
}

/* `hotbox store recover --force` on an old catalogue: its rows are salvaged
 * in their own schema and migrated, lists included. */
static void case_recover_v2(void)
{
    char *state = make_old_state();
    hb_sb rep = HB_SB_INIT;
    int r = hb_store_recover(state, true, &rep);
    if (r != 0)
        HB_FAIL_("recover: %d\n%s", r, rep.buf ? rep.buf : "");
    HB_CHECK_CONTAINS(rep.buf, "versions: 3 rows recovered");
    hb__sb_release(&rep);
    hb_store *s = NULL;
    char *err = NULL;
    HB_CHECK_OK(hb_store_open(state, &s, &err));
    check_old_rows(s);
    hb_store_close(s);
    HB_CHECK_EQ(count_rows(state, "PRAGMA user_version"), 7);
    free(state);
}

/* Each case in a fresh directory of its own. */
static void in_tmpdir(void (*fn)(void))
{
    g_dir = vt_tmpdir("hb-migrate-");
    fn();
    hb__rm_rf(g_dir);
    free(g_dir);
}

static void case_open_v2_run(void)
{
    in_tmpdir(case_open_v2);
}

static void case_recover_v2_run(void)
{
    in_tmpdir(case_recover_v2);
}

int main(int argc, char **argv)
{
    static const hb_test_case cases[] = {
        {"open_v2", case_open_v2_run},
        {"recover_v2", case_recover_v2_run},
    };
    return hb_test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
