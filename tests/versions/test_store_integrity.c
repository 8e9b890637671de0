/* tests/versions/test_store_integrity.c - the store under accident and
 * attack: many processes opening a fresh state directory at once, a
 * catalogue that is empty, truncated or garbled, a deleted catalogue next
 * to stored objects, and recovery that keeps the damaged file.
 * Each case runs as: test_store_integrity CASE. */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/wait.h>

#include "store.h"
#include "vtest.h"

static char *g_dir;

#define NOPENERS 16

/* NOPENERS processes open the same fresh state directory at the same
 * moment (released together by closing a pipe): every one must succeed. */
static void case_concurrent_open(void)
{
    for (int round = 0; round < 10; round++) {
        char name[64];
        snprintf(name, sizeof(name), "fresh-%d", round);
        char *state = vt_path(g_dir, name);
        int gate[2];
        HB_CHECK_EQ(pipe(gate), 0);
        pid_t pids[NOPENERS];
        for (int i = 0; i < NOPENERS; i++) {
            pids[i] = fork();
            HB_CHECK(pids[i] >= 0);
            if (pids[i] == 0) {
                close(gate[1]);
                char c;
                while (read(gate[0], &c, 1) < 0 && errno == EINTR)
                    ;
                hb_store *s = NULL;
                char *err = NULL;
                int r = hb_store_open(state, &s, &err);
                if (r < 0) {
                    fprintf(stderr, "opener %d: %d %s\n", i, r, err ? err : "");
                    _exit(1);
                }
                hb_store_close(s);
                _exit(0);
            }
        }
        close(gate[0]);
        close(gate[1]); /* go */
        int failed = 0;
        for (int i = 0; i < NOPENERS; i++) {
            int st;
            HB_CHECK_EQ(waitpid(pids[i], &st, 0), pids[i]);
            failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        if (failed)
            HB_FAIL_("round %d: %d of %d concurrent opens of a fresh state directory failed",
                     round, failed, NOPENERS);
        free(state);
    }
}

/* The same from threads of one process, each with its own store handle
 * (a handle is not shared between threads). */
typedef struct opener {
    pthread_barrier_t *go;
    const char *state;
    int result;
    char *err;
} opener;

static void *open_thread(void *arg)
{
    opener *o = arg;
    pthread_barrier_wait(o->go);
    hb_store *s = NULL;
    o->result = hb_store_open(o->state, &s, &o->err);
    hb_store_close(s);
    return NULL;
}

static void case_concurrent_open_threads(void)
{
    for (int round = 0; round < 10; round++) {
        char name[64];
        snprintf(name, sizeof(name), "fresh-t%d", round);
        char *state = vt_path(g_dir, name);
        pthread_barrier_t go;
        HB_CHECK_EQ(pthread_barrier_init(&go, NULL, NOPENERS), 0);
        pthread_t th[NOPENERS];
        opener o[NOPENERS];
        for (int i = 0; i < NOPENERS; i++) {
            o[i] = (opener){&go, state, -1, NULL};
            HB_CHECK_EQ(pthread_create(&th[i], NULL, open_thread, &o[i]), 0);
        }
        int failed = 0;
        for (int i = 0; i < NOPENERS; i++) {
            HB_CHECK_EQ(pthread_join(th[i], NULL), 0);
            if (o[i].result != 0) {
                fprintf(stderr, "thread %d: %d %s\n", i, o[i].result, o[i].err ? o[i].err : "");
                failed++;
            }
            free(o[i].err);
        }
        pthread_barrier_destroy(&go);
        if (failed)
            HB_FAIL_("round %d: %d of %d concurrent opens (threads) failed", round, failed,
                     NOPENERS);
        free(state);
    }
}

/* ---- a store with history ------------------------------------------------- */

#define NPLUGINS 8
#define NVERSIONS 5

static char *object_file(const char *tag)
{
    char name[64];
    snprintf(name, sizeof(name), "src-%s.so", tag);
    char *p = vt_path(g_dir, name);
    char body[256];
    snprintf(body, sizeof(body), "not really ELF, content %s\n", tag);
    vt_write_str(p, body);
    return p;
}

/* NPLUGINS plugins of NVERSIONS versions, a 64 KiB checkpoint each: a
 * catalogue of many pages, so damage lands on data. */
static char *populate(void)
{
    char *state = vt_path(g_dir, "state");
    hb_store *s = NULL;
    char *err = NULL;
    HB_CHECK_OK(hb_store_open(state, &s, &err));
    static char blob[65536];
    for (int p = 0; p < NPLUGINS; p++) {
        char plugin[16];
        snprintf(plugin, sizeof(plugin), "p%d", p);
        for (int v = 0; v < NVERSIONS; v++) {
            char tag[32];
            snprintf(tag, sizeof(tag), "%s-%d", plugin, v);
            char *obj = object_file(tag);
            hb_version_rec meta = {0}, rec;
            bool created = false;
            HB_CHECK_OK(hb_store_add(s, plugin, obj, &meta, &rec, &created, &err));
            HB_CHECK(created);
            hb_version_rec_release(&rec);
            free(obj);
        }
        memset(blob, 'a' + p, sizeof(blob));
        HB_CHECK_OK(hb_store_checkpoint_put(s, plugin, "sb", NVERSIONS, 1, blob, sizeof(blob)));
    }
    hb_store_close(s);
    return state;
}

static off_t file_size(const char *path)
{
    struct stat st;
    HB_CHECK_EQ(stat(path, &st), 0);
    return st.st_size;
}

/* Opening must fail with HB_ECATALOG, name the file, the condition and the
 * way out, and change nothing. */
static void expect_refused(const char *state, const char *condition)
{
    char *db = vt_path(state, "hotbox.db");
    struct stat before, after;
    bool existed = stat(db, &before) == 0;
    hb_store *s = NULL;
    char *err = NULL;
    int r = hb_store_open(state, &s, &err);
    printf("open -> %d: %s\n", r, err ? err : "");
    HB_CHECK_EQ(r, HB_ECATALOG);
    HB_CHECK(s == NULL);
    HB_CHECK_CONTAINS(err, db);
    HB_CHECK_CONTAINS(err, condition);
    HB_CHECK_CONTAINS(err, "hotbox store recover");
    HB_CHECK(strstr(err, "does not match its checksum") == NULL);
    free(err);
    bool exists = stat(db, &after) == 0;
    HB_CHECK_EQ(exists, existed);
    if (existed)
        HB_CHECK_EQ(after.st_size, before.st_size);
    free(db);
}

/* The damaged catalogue is kept; the store opens and verifies afterwards;
 * version numbers do not go back. Returns the recovery report. */
static char *recover_ok(const char *state, size_t want_min_rows, bool force)
{
    hb_sb rep = HB_SB_INIT;
    int r = hb_store_recover(state, force, &rep);
    printf("recover -> %d:\n%s", r, rep.buf ? rep.buf : "");
    HB_CHECK_OK(r);
    HB_CHECK_CONTAINS(rep.buf, "kept the damaged catalogue as");
    /* exactly one hotbox.db.damaged-* next to the new catalogue */
    DIR *d = opendir(state);
    HB_CHECK(d != NULL);
    int kept = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        kept += !strncmp(e->d_name, "hotbox.db.damaged-", 18) && !strchr(e->d_name + 18, '-');
    closedir(d);
    HB_CHECK_EQ(kept, 1);
    hb_store *s = NULL;
    char *err = NULL;
    HB_CHECK_OK(hb_store_open(state, &s, &err));
    hb_sb v = HB_SB_INIT;
    r = hb_store_verify_all(s, &v);
    if (r != 0)
        HB_FAIL_("after recovery the store does not verify (%d): %s", r, v.buf ? v.buf : "");
    hb__sb_release(&v);
    size_t rows = 0;
    char **plugins = NULL;
    HB_CHECK_OK(hb_store_plugins(s, &plugins));
    for (size_t i = 0; plugins[i]; i++) {
        hb_version_rec *list = NULL;
        size_t n = 0;
        HB_CHECK_OK(hb_store_list(s, plugins[i], &list, &n));
        uint64_t newest = n ? list[n - 1].version : 0;
        rows += n;
        hb_store_list_free(list, n);
        /* a new version is numbered after every recovered one */
        char tag[64];
        snprintf(tag, sizeof(tag), "after-%s", plugins[i]);
        char *obj = object_file(tag);
        hb_version_rec meta = {0}, rec;
        bool created = false;
        HB_CHECK_OK(hb_store_add(s, plugins[i], obj, &meta, &rec, &created, &err));
        HB_CHECK(rec.version > newest);
        hb_version_rec_release(&rec);
        free(obj);
    }
    hb__strv_free(plugins);
    printf("%zu version rows recovered\n", rows);
    HB_CHECK(rows >= want_min_rows);
    hb_store_close(s);
    return rep.buf;
}

/* A 0-byte hotbox.db is refused, not taken for a new empty history. */
static void case_zero_byte(void)
{
    char *state = populate();
    char *db = vt_path(state, "hotbox.db");
    HB_CHECK_EQ(truncate(db, 0), 0);
    expect_refused(state, "empty (0 bytes)");
    char *rep = recover_ok(state, 0, false);
    /* the objects survive and are named: nothing deleted silently */
    char want[64];
    snprintf(want, sizeof(want), "%d of %d stored objects have no catalogue row",
             NPLUGINS * NVERSIONS, NPLUGINS * NVERSIONS);
    HB_CHECK_CONTAINS(rep, want);
    free(rep);
    free(db);
    free(state);
}

/* A catalogue cut short is "truncated", not "an object does not match its
 * checksum"; recovery keeps the rows before the cut. */
static void case_truncated(void)
{
    char *state = populate();
    char *db = vt_path(state, "hotbox.db");
    off_t size = file_size(db);
    HB_CHECK_EQ(truncate(db, size / 2), 0);
    expect_refused(state, "truncated");
    free(recover_ok(state, 1, false));
    free(db);
    free(state);
}

/* Garbage over the middle of the file: whichever operation meets it says
 * the catalogue is damaged (HB_ECATALOG, with the path), never that an
 * object is corrupt. */
static void case_garbled(void)
{
    char *state = populate();
    char *db = vt_path(state, "hotbox.db");
    off_t size = file_size(db);
    int fd = open(db, O_WRONLY | O_CLOEXEC);
    HB_CHECK(fd >= 0);
    static char junk[16384];
    memset(junk, 0xa5, sizeof(junk));
    HB_CHECK_EQ(pwrite(fd, junk, sizeof(junk), 4096), (ssize_t)sizeof(junk));
    HB_CHECK_EQ(pwrite(fd, junk, sizeof(junk), size / 2), (ssize_t)sizeof(junk));
    close(fd);
    hb_store *s = NULL;
    char *err = NULL;
    int r = hb_store_open(state, &s, &err);
    if (r == 0) {
        hb_sb rep = HB_SB_INIT;
        r = hb_store_verify_all(s, &rep);
        printf("verify -> %d:\n%s", r, rep.buf ? rep.buf : "");
        HB_CHECK_CONTAINS(rep.buf, "catalogue");
        HB_CHECK_CONTAINS(rep.buf, "is damaged");
        hb__sb_release(&rep);
        hb_store_close(s);
    } else {
        printf("open -> %d: %s\n", r, err ? err : "");
        HB_CHECK_CONTAINS(err, db);
        HB_CHECK_CONTAINS(err, "hotbox store recover");
    }
    free(err);
    HB_CHECK_EQ(r, HB_ECATALOG);
    free(recover_ok(state, 0, false));
    free(db);
    free(state);
}

/* The first bytes overwritten: not an SQLite file any more. */
static void case_garbled_header(void)
{
    char *state = populate();
    char *db = vt_path(state, "hotbox.db");
    int fd = open(db, O_WRONLY | O_CLOEXEC);
    HB_CHECK(fd >= 0);
    HB_CHECK_EQ(pwrite(fd, "garbage garbage!", 16, 0), 16);
    close(fd);
    expect_refused(state, "not an SQLite database");
    free(recover_ok(state, 0, false));
    free(db);
    free(state);
}

/* hotbox.db deleted next to stored objects: refused, not recreated empty. */
static void case_missing(void)
{
    char *state = populate();
    char *db = vt_path(state, "hotbox.db");
    HB_CHECK_EQ(unlink(db), 0);
    expect_refused(state, "is missing");
    hb_sb rep = HB_SB_INIT;
    HB_CHECK_OK(hb_store_recover(state, false, &rep));
    HB_CHECK_CONTAINS(rep.buf, "no catalogue");
    HB_CHECK_CONTAINS(rep.buf, "have no catalogue row");
    hb__sb_release(&rep);
    hb_store *s = NULL;
    char *err = NULL;
    HB_CHECK_OK(hb_store_open(state, &s, &err));
    hb_store_close(s);
    free(db);
    free(state);
}

/* A healthy catalogue is left alone unless forced; forced, nothing is lost. */
static void case_recover_healthy(void)
{
    char *state = populate();
    hb_sb rep = HB_SB_INIT;
    HB_CHECK_EQ(hb_store_recover(state, false, &rep), -EEXIST);
    HB_CHECK_CONTAINS(rep.buf, "not damaged");
    hb__sb_release(&rep);
    free(recover_ok(state, NPLUGINS * NVERSIONS, true));
    free(state);
}

/* A catalogue written by the previous schema (1) opens, keeps its rows and
 * gains the upgrade-result columns. */
static void case_migrate_v1(void)
{
    char *state = vt_path(g_dir, "old");
    HB_CHECK_EQ(mkdir(state, 0755), 0);
    char *db = vt_path(state, "hotbox.db");
    sqlite3 *raw;
    HB_CHECK_EQ(sqlite3_open(db, &raw), SQLITE_OK);
    HB_CHECK_EQ(sqlite3_exec(raw,
                             "PRAGMA journal_mode=WAL;"
                             "CREATE TABLE versions (plugin TEXT NOT NULL, version INTEGER NOT NULL "
                             "CHECK (version > 0), object_sha256 TEXT NOT NULL, input_hash TEXT NOT "
                             "NULL DEFAULT '', size INTEGER NOT NULL, created INTEGER NOT NULL, status "
                             "INTEGER NOT NULL, inputs TEXT NOT NULL DEFAULT '', exports TEXT NOT NULL "
                             "DEFAULT '', imports TEXT NOT NULL DEFAULT '', needed TEXT NOT NULL DEFAULT "
                             "'', depends TEXT NOT NULL DEFAULT '', PRIMARY KEY (plugin, version));"
                             "CREATE TABLE counters (plugin TEXT PRIMARY KEY, last_version INTEGER NOT NULL);"
                             "CREATE TABLE checkpoints (plugin TEXT NOT NULL, sandbox TEXT NOT NULL, "
                             "schema INTEGER NOT NULL, version INTEGER NOT NULL, blob BLOB NOT NULL, "
                             "created INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (plugin, sandbox, schema));"
                             "INSERT INTO versions (plugin, version, object_sha256, size, created, status) "
                             "VALUES ('old', 3, 'aa', 1, 0, 2);"
                             "INSERT INTO counters VALUES ('old', 3);"
                             "PRAGMA user_version = 1;",
                             NULL, NULL, NULL),
                SQLITE_OK);
    sqlite3_close(raw);
    hb_store *s = NULL;
    char *err = NULL;
    HB_CHECK_OK(hb_store_open(state, &s, &err));
    hb_version_rec rec;
    HB_CHECK_OK(hb_store_get(s, "old", 3, &rec));
    HB_CHECK_EQ(rec.status, HB_VERSION_GOOD);
    HB_CHECK_EQ(rec.upgrade_result, 0);
    hb_version_rec_release(&rec);
    HB_CHECK_OK(hb_store_set_upgrade_result(s, "old", 3, 2, 2));
    hb_store_close(s);
    free(db);
    free(state);
}

typedef struct tcase {
    const char *name;
    void (*fn)(void);
} tcase;

int main(int argc, char **argv)
{
    static const tcase cases[] = {
        {"concurrent_open", case_concurrent_open},
        {"concurrent_open_threads", case_concurrent_open_threads},
        {"zero_byte", case_zero_byte},
        {"truncated", case_truncated},
        {"garbled", case_garbled},
        {"garbled_header", case_garbled_header},
        {"missing", case_missing},
        {"recover_healthy", case_recover_healthy},
        {"migrate_v1", case_migrate_v1},
    };
    if (argc != 2) {
        fprintf(stderr, "usage: %s CASE\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (strcmp(argv[1], cases[i].name) != 0)
            continue;
        g_dir = vt_tmpdir("hb-integrity-");
        cases[i].fn();
        hb__rm_rf(g_dir);
        free(g_dir);
        printf("PASS %s\n", argv[1]);
        return 0;
    }
    fprintf(stderr, "unknown case %s\n", argv[1]);
    return 2;
}
