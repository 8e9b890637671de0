/*
 * versions/store.c - content-addressed object store + SQLite catalogue.
 *
 * Durability argument (what a kill -9 at any point leaves behind):
 *  1. the object is copied to objects/.tmp-<pid>-XXXXXX while being hashed,
 *     fsynced, renamed to objects/<sha256>.so, and the directory fsynced;
 *  2. only then is the catalogue row inserted, in one SQLite transaction
 *     (WAL, synchronous=FULL) together with the plugin's version counter.
 * A crash before 2 commits leaves at worst a temp file or an unreferenced
 * object (verify warns, gc removes them); a crash after leaves a complete
 * version. A row never points to an object that was not durable first.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "policy.h"

#define OBJ_SUFFIX ".so"
#define TMP_PREFIX ".tmp-"
#define MAX_PLUGIN_NAME 127 /* fits hb_version_info.plugin[128] */
#define COPY_CHUNK (1u << 16)
#define MAX_OBJECT_SIZE ((uint64_t)1 << 30)

struct hb_store {
    sqlite3 *db;
    char *state_dir;
    char *objects_dir;
    char *db_path;
    char *last_error;
};

/* ------------------------------------------------------------------------ */
/* Schema and migrations                                                     */
/* ------------------------------------------------------------------------ */

/* migrations[i] takes the catalogue from user_version i to i+1. Append only. */
static const char *const migrations[] = {
    /* 0 -> 1 */
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
    /* Survives gc, so version numbers are never reused. */
    "CREATE TABLE counters ("
    "  plugin TEXT PRIMARY KEY,"
    "  last_version INTEGER NOT NULL);"
    "CREATE TABLE checkpoints ("
    "  plugin TEXT NOT NULL,"
    "  sandbox TEXT NOT NULL,"
    "  schema INTEGER NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  blob BLOB NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  PRIMARY KEY (plugin, sandbox, schema));",
    /* 1 -> 2: the outcome of `hotbox test --upgrade` for a version (an
     * hb_upgrade_result) and the base version it was upgraded from. */
    "ALTER TABLE versions ADD COLUMN upgrade_result INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE versions ADD COLUMN upgrade_base INTEGER NOT NULL DEFAULT 0;",
};
#define SCHEMA_VERSION ((int)HB_ARRAY_SIZE(migrations))

static int seterr(hb_store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int seterr(hb_store *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hb_sb sb = HB_SB_INIT;
    hb__sb_vaddf(&sb, fmt, ap);
    va_end(ap);
    free(s->last_error);
    s->last_error = sb.buf; /* may be NULL on ENOMEM; last_error copes */
    return code;
}

/* Copies the store's last error to *err (when err is non-NULL). */
static int report(hb_store *s, int code, char **err)
{
    if (err)
        hb__seterr(err, code, "%s", s->last_error ? s->last_error : "store error");
    return code;
}

/* What to do about a damaged catalogue, appended to every such error. */
#define RECOVER_HINT                                                                      \
    "nothing was changed; stop every hotbox using this state directory and run "          \
    "`hotbox store recover` (or hb_catalogue_recover): it keeps the damaged file and "        \
    "builds a new catalogue from what can be read"

static int dberr(hb_store *s, int rc, const char *what)
{
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
        return seterr(s, HB_ECATALOG, "catalogue %s is damaged: %s (%s); " RECOVER_HINT,
                      s->db_path, what, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    int code = (rc == SQLITE_FULL) ? -ENOSPC
               : (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? -EBUSY
               : (rc == SQLITE_NOMEM) ? -ENOMEM
                                      : -EIO;
    return seterr(s, code, "catalogue %s: %s (%s)", s->db_path, what,
                  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

static int exec_sql(hb_store *s, const char *sql, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int code = dberr(s, rc, what);
        if (msg)
            seterr(s, code, "catalogue %s: %s: %s", s->db_path, what, msg);
        sqlite3_free(msg);
        return code;
    }
    return 0;
}

static int prepare(hb_store *s, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK)
        return dberr(s, rc, "prepare");
    return 0;
}

static int user_version(hb_store *s, int *out)
{
    sqlite3_stmt *st = NULL;
    int r = prepare(s, "PRAGMA user_version", &st);
    if (r < 0)
        return r;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    else
        r = dberr(s, rc, "reading schema version");
    sqlite3_finalize(st);
    return r;
}

static int migrate(hb_store *s)
{
    int r = exec_sql(s, "BEGIN IMMEDIATE", "begin migration");
    if (r < 0)
        return r;
    int v = 0;
    r = user_version(s, &v);
    if (r < 0)
        goto rollback;
    if (v > SCHEMA_VERSION) {
        r = seterr(s, -EPROTONOSUPPORT,
                   "catalogue %s has schema version %d, newer than this hotbox "
                   "understands (%d)", s->db_path, v, SCHEMA_VERSION);
        goto rollback;
    }
    for (; v < SCHEMA_VERSION; v++) {
        r = exec_sql(s, migrations[v], "schema migration");
        if (r < 0)
            goto rollback;
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
        r = exec_sql(s, pragma, "setting schema version");
        if (r < 0)
            goto rollback;
    }
    return exec_sql(s, "COMMIT", "commit migration");
rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Open / close                                                              */
/* ------------------------------------------------------------------------ */

static bool is_hex_name(const char *name);

/* How many stored objects (<sha256>.so) objects/ holds. */
static int count_objects(hb_store *s, unsigned *n)
{
    DIR *d = opendir(s->objects_dir);
    if (!d)
        return errno == ENOENT ? (*n = 0, 0) : -errno;
    unsigned c = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        c += is_hex_name(e->d_name);
    closedir(d);
    *n = c;
    return 0;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Looks at the catalogue file before SQLite does, so an emptied, cut or
 * overwritten file is named for what it is (SQLite would take a 0-byte
 * file for a new database and quietly start an empty history). */
static int check_catalogue_file(hb_store *s)
{
    int fd = open(s->db_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return seterr(s, e == ENOENT ? HB_ECATALOG : -e, "catalogue %s: cannot open: %s",
                      s->db_path, strerror(e));
    }
    struct stat st;
    unsigned char hdr[100];
    ssize_t n = -1;
    int r = fstat(fd, &st) < 0 ? -errno : 0;
    if (r == 0) {
        do
            n = pread(fd, hdr, sizeof(hdr), 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            r = -errno;
    }
    close(fd);
    if (r < 0)
        return seterr(s, r, "catalogue %s: cannot read: %s", s->db_path, strerror(-r));
    if (st.st_size == 0)
        return seterr(s, HB_ECATALOG,
                      "catalogue %s is empty (0 bytes): it was truncated, and the version "
                      "history it held is not in it; " RECOVER_HINT, s->db_path);
    if (n < (ssize_t)sizeof(hdr) || memcmp(hdr, "SQLite format 3", 16) != 0)
        return seterr(s, HB_ECATALOG,
                      "catalogue %s is not an SQLite database (%lld bytes; its header is "
                      "garbled or cut short); " RECOVER_HINT, s->db_path, (long long)st.st_size);
    /* The page count in the header is valid when its "valid-for" counter
     * matches the change counter. With WAL frames pending (a crash during a
     * checkpoint) the file may be short legitimately: SQLite replays them. */
    uint32_t page = (uint32_t)hdr[16] << 8 | hdr[17];
    if (page == 1)
        page = 65536;
    uint32_t pages = be32(hdr + 28);
    char *wal = hb__asprintf("%s-wal", s->db_path);
    struct stat wst;
    bool wal_frames = !wal || (stat(wal, &wst) == 0 && wst.st_size > 0);
    free(wal);
    if (!wal_frames && pages && be32(hdr + 24) == be32(hdr + 92) &&
        (uint64_t)st.st_size < (uint64_t)pages * page)
        return seterr(s, HB_ECATALOG,
                      "catalogue %s is truncated: %lld bytes, its header says %" PRIu32
                      " pages of %" PRIu32 " bytes; " RECOVER_HINT,
                      s->db_path, (long long)st.st_size, pages, page);
    return 0;
}

/* Sets up a connection to a catalogue: busy timeout, WAL (persistent in the
 * file; only set when the file is not in WAL yet, which needs a lock), FULL
 * sync (per connection). */
static int setup_connection(hb_store *s)
{
    sqlite3_extended_result_codes(s->db, 0);
    sqlite3_busy_timeout(s->db, 5000);
    sqlite3_stmt *st = NULL;
    int r = prepare(s, "PRAGMA journal_mode", &st);
    if (r < 0)
        return r;
    int rc = sqlite3_step(st);
    bool wal = rc == SQLITE_ROW && sqlite3_column_text(st, 0) &&
               !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return dberr(s, rc, "reading the journal mode");
    /* WAL: readers never block the writer; FULL: a committed version
     * survives power loss, not just a process crash. */
    if (!wal && (r = exec_sql(s, "PRAGMA journal_mode=WAL", "set WAL mode")) < 0)
        return r;
    return exec_sql(s, "PRAGMA synchronous=FULL", "set synchronous mode");
}

static int migrate(hb_store *s);

/* Creates a catalogue where there is none, atomically: the schema is
 * written to a private file that is then linked into place. Whoever links
 * first wins; the others find a complete catalogue. So no opener ever sees
 * a half-made catalogue (the EBUSY race of several managers opening a
 * fresh state directory), and a hotbox.db that is empty is always damage. */
static int create_catalogue(hb_store *s)
{
    char *tmp = hb__asprintf("%s.new-%d-XXXXXX", s->db_path, (int)getpid());
    if (!tmp)
        return seterr(s, -ENOMEM, "out of memory");
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return seterr(s, -e, "cannot create a catalogue in %s: %s", s->state_dir, strerror(e));
    }
    close(fd);
    sqlite3 *keep = s->db;
    char *keep_path = s->db_path;
    s->db = NULL;
    s->db_path = tmp;
    int rc = sqlite3_open_v2(tmp, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    int r = rc == SQLITE_OK ? setup_connection(s) : dberr(s, rc, "create");
    if (r == 0)
        r = migrate(s);
    if (s->db)
        sqlite3_close_v2(s->db); /* checkpoints the WAL into the file */
    s->db = keep;
    s->db_path = keep_path;
    if (r == 0 && link(tmp, s->db_path) < 0 && errno != EEXIST) {
        int e = errno;
        r = seterr(s, -e, "cannot create catalogue %s: %s", s->db_path, strerror(e));
    }
    unlink(tmp);
    char *side = hb__asprintf("%s-wal", tmp);
    if (side)
        unlink(side);
    free(side);
    side = hb__asprintf("%s-shm", tmp);
    if (side)
        unlink(side);
    free(side);
    free(tmp);
    if (r == 0)
        hb__fsync_dir(s->state_dir);
    return r;
}

/* Opens the catalogue file (creating it when the state directory has none
 * and no stored objects either). */
static int open_catalogue(hb_store *s)
{
    struct stat st;
    if (lstat(s->db_path, &st) < 0 && errno == ENOENT) {
        unsigned nobj = 0;
        int r = count_objects(s, &nobj);
        if (r < 0)
            return seterr(s, r, "cannot read %s: %s", s->objects_dir, strerror(-r));
        if (nobj)
            return seterr(s, HB_ECATALOG,
                          "catalogue %s is missing, but %s holds %u stored object%s: the "
                          "version history was deleted; " RECOVER_HINT,
                          s->db_path, s->objects_dir, nobj, nobj == 1 ? "" : "s");
        if ((r = create_catalogue(s)) < 0)
            return r;
    }
    int r = check_catalogue_file(s);
    if (r < 0)
        return r;
    /* No SQLITE_OPEN_CREATE: a catalogue that vanished since is an error,
     * not a new empty history. */
    int rc = sqlite3_open_v2(s->db_path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK)
        return dberr(s, rc, "open");
    return setup_connection(s);
}

/* A store handle with its paths, the state and objects directories
 * created; no catalogue yet. */
static int store_init(hb_store *s, const char *state_dir)
{
    int r = hb__mkdir_p(state_dir, 0755);
    if (r < 0)
        return seterr(s, r, "cannot create state directory %s: %s", state_dir, strerror(-r));
    r = hb__realpath(state_dir, &s->state_dir);
    if (r < 0)
        return seterr(s, r, "cannot resolve state directory %s: %s", state_dir, strerror(-r));
    s->objects_dir = hb__path_join(s->state_dir, "objects");
    s->db_path = hb__path_join(s->state_dir, "hotbox.db");
    if (!s->objects_dir || !s->db_path)
        return seterr(s, -ENOMEM, "out of memory");
    r = hb__mkdir_p(s->objects_dir, 0755);
    if (r < 0)
        return seterr(s, r, "cannot create %s: %s", s->objects_dir, strerror(-r));
    return 0;
}

int hb_store_open(const char *state_dir, hb_store **out, char **err)
{
    if (!state_dir || !*state_dir || !out)
        return -EINVAL;
    hb_store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    int r = store_init(s, state_dir);
    if (r < 0)
        goto fail;
    r = open_catalogue(s);
    if (r < 0)
        goto fail;
    r = migrate(s);
    if (r < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    if (err)
        hb__seterr(err, r, "%s", s->last_error ? s->last_error : strerror(-r));
    hb_store_close(s);
    return r;
}

void hb_store_close(hb_store *s)
{
    if (!s)
        return;
    if (s->db)
        sqlite3_close_v2(s->db);
    free(s->state_dir);
    free(s->objects_dir);
    free(s->db_path);
    free(s->last_error);
    free(s);
}

const char *hb_store_last_error(hb_store *s)
{
    return (s && s->last_error) ? s->last_error : "";
}

const char *hb_store_objects_dir(hb_store *s)
{
    return s ? s->objects_dir : NULL;
}

char *hb_store_object_path(hb_store *s, const char *sha256)
{
    if (!s || !sha256)
        return NULL;
    return hb__asprintf("%s/%s" OBJ_SUFFIX, s->objects_dir, sha256);
}

/* ------------------------------------------------------------------------ */
/* Records                                                                   */
/* ------------------------------------------------------------------------ */

void hb_version_rec_release(hb_version_rec *r)
{
    if (!r)
        return;
    free(r->plugin);
    free(r->inputs);
    free(r->exports);
    free(r->imports);
    free(r->needed);
    free(r->depends);
    memset(r, 0, sizeof(*r));
}

void hb_store_list_free(hb_version_rec *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        hb_version_rec_release(&v[i]);
    free(v);
}

/* The columns a new row is inserted with; the rest keep their defaults. */
#define INSERT_COLUMNS                                                       \
    "plugin, version, object_sha256, input_hash, size, created, status, "   \
    "inputs, exports, imports, needed, depends"
#define REC_COLUMNS INSERT_COLUMNS ", upgrade_result, upgrade_base"

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

static void col_hex(sqlite3_stmt *st, int i, char out[HB_SHA256_HEX])
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, HB_SHA256_HEX, "%s", t ? (const char *)t : "");
}

static int read_rec(sqlite3_stmt *st, hb_version_rec *out)
{
    hb_version_rec r = {0};
    r.plugin = col_dup(st, 0);
    r.version = (uint64_t)sqlite3_column_int64(st, 1);
    col_hex(st, 2, r.object_sha256);
    col_hex(st, 3, r.input_hash);
    r.size = (uint64_t)sqlite3_column_int64(st, 4);
    r.created = sqlite3_column_int64(st, 5);
    r.status = (hb_version_status)sqlite3_column_int(st, 6);
    r.inputs = col_dup(st, 7);
    r.exports = col_dup(st, 8);
    r.imports = col_dup(st, 9);
    r.needed = col_dup(st, 10);
    r.depends = col_dup(st, 11);
    r.upgrade_result = sqlite3_column_int(st, 12);
    r.upgrade_base = (uint64_t)sqlite3_column_int64(st, 13);
    if (!r.plugin || !r.inputs || !r.exports || !r.imports || !r.needed || !r.depends) {
        hb_version_rec_release(&r);
        return -ENOMEM;
    }
    *out = r;
    return 0;
}

/* Runs a prepared single-row query; binds are done by the caller. */
static int query_one(hb_store *s, sqlite3_stmt *st, hb_version_rec *out)
{
    int rc = sqlite3_step(st);
    int r;
    if (rc == SQLITE_ROW)
        r = read_rec(st, out);
    else if (rc == SQLITE_DONE)
        r = -ENOENT;
    else
        r = dberr(s, rc, "query");
    sqlite3_finalize(st);
    return r;
}

static bool valid_plugin_name(const char *p)
{
    size_t n = p ? strlen(p) : 0;
    return n > 0 && n <= MAX_PLUGIN_NAME && !strchr(p, '\n');
}

int hb_store_get(hb_store *s, const char *plugin, uint64_t version, hb_version_rec *out)
{
    if (!s || !plugin || !out || version > INT64_MAX)
        return -EINVAL;
    sqlite3_stmt *st = NULL;
    int r = prepare(s, "SELECT " REC_COLUMNS " FROM versions WHERE plugin=?1 AND version=?2", &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
    r = query_one(s, st, out);
    if (r == -ENOENT)
        seterr(s, r, "%s has no version %" PRIu64 " in the store", plugin, version);
    return r;
}

int hb_store_find_input(hb_store *s, const char *plugin, const char *input_hash,
                        hb_version_rec *out)
{
    if (!s || !plugin || !input_hash || !*input_hash || !out)
        return -EINVAL;
    sqlite3_stmt *st = NULL;
    int r = prepare(s,
                    "SELECT " REC_COLUMNS " FROM versions WHERE plugin=?1 AND input_hash=?2 "
                    "ORDER BY version DESC LIMIT 1",
                    &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, input_hash, -1, SQLITE_TRANSIENT);
    return query_one(s, st, out);
}

int hb_store_latest(hb_store *s, const char *plugin, hb_version_rec *out)
{
    if (!s || !plugin || !out)
        return -EINVAL;
    sqlite3_stmt *st = NULL;
    int r = prepare(s,
                    "SELECT " REC_COLUMNS " FROM versions WHERE plugin=?1 "
                    "ORDER BY version DESC LIMIT 1",
                    &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    r = query_one(s, st, out);
    if (r == -ENOENT)
        seterr(s, r, "%s has no versions in the store", plugin);
    return r;
}

int hb_store_list(hb_store *s, const char *plugin, hb_version_rec **out, size_t *n)
{
    if (!s || !plugin || !out || !n)
        return -EINVAL;
    sqlite3_stmt *st = NULL;
    int r = prepare(s, "SELECT " REC_COLUMNS " FROM versions WHERE plugin=?1 ORDER BY version",
                    &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    hb_version_rec *v = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            hb_version_rec *nv = realloc(v, ncap * sizeof(*v));
            if (!nv) {
                r = -ENOMEM;
                goto fail;
            }
            v = nv;
            cap = ncap;
        }
        r = read_rec(st, &v[len]);
        if (r < 0)
            goto fail;
        len++;
    }
    if (rc != SQLITE_DONE) {
        r = dberr(s, rc, "listing versions");
        goto fail;
    }
    sqlite3_finalize(st);
    *out = v;
    *n = len;
    return 0;
fail:
    sqlite3_finalize(st);
    hb_store_list_free(v, len);
    return r;
}

int hb_store_plugins(hb_store *s, char ***out)
{
    if (!s || !out)
        return -EINVAL;
    sqlite3_stmt *st = NULL;
    int r = prepare(s, "SELECT DISTINCT plugin FROM versions ORDER BY plugin", &st);
    if (r < 0)
        return r;
    char **v = calloc(1, sizeof(char *));
    size_t len = 0;
    int rc;
    if (!v) {
        r = -ENOMEM;
        goto fail;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char **nv = realloc(v, (len + 2) * sizeof(char *));
        if (!nv) {
            r = -ENOMEM;
            goto fail;
        }
        v = nv;
        v[len] = col_dup(st, 0);
        v[len + 1] = NULL;
        if (!v[len]) {
            r = -ENOMEM;
            goto fail;
        }
        len++;
    }
    if (rc != SQLITE_DONE) {
        r = dberr(s, rc, "listing plugins");
        goto fail;
    }
    sqlite3_finalize(st);
    *out = v;
    return 0;
fail:
    sqlite3_finalize(st);
    hb__strv_free(v);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Status                                                                    */
/* ------------------------------------------------------------------------ */

static const char *status_name(hb_version_status st)
{
    switch (st) {
    case HB_VERSION_CANDIDATE: return "candidate";
    case HB_VERSION_ACTIVE: return "active";
    case HB_VERSION_GOOD: return "good";
    case HB_VERSION_BAD: return "bad";
    case HB_VERSION_ROLLED_BACK: return "rolled-back";
    }
    return "unknown";
}

bool hb_store_status_transition_ok(hb_version_status from, hb_version_status to)
{
    if (from == to)
        return true;
    switch (to) {
    case HB_VERSION_ACTIVE:
    case HB_VERSION_BAD:
        return true;
    case HB_VERSION_GOOD:
        return from == HB_VERSION_ACTIVE || from == HB_VERSION_ROLLED_BACK;
    case HB_VERSION_ROLLED_BACK: /* a candidate can be skipped by a pin */
        return from == HB_VERSION_ACTIVE || from == HB_VERSION_GOOD ||
               from == HB_VERSION_CANDIDATE;
    case HB_VERSION_CANDIDATE:
        return from == HB_VERSION_BAD;
    }
    return false;
}

int hb_store_set_status(hb_store *s, const char *plugin, uint64_t version,
                        hb_version_status status)
{
    if (!s || !plugin || version > INT64_MAX || (unsigned)status > HB_VERSION_ROLLED_BACK)
        return -EINVAL;
    int r = exec_sql(s, "BEGIN IMMEDIATE", "begin");
    if (r < 0)
        return r;
    hb_version_rec cur;
    r = hb_store_get(s, plugin, version, &cur);
    if (r < 0)
        goto rollback;
    hb_version_status from = cur.status;
    hb_version_rec_release(&cur);
    if (!hb_store_status_transition_ok(from, status)) {
        r = seterr(s, -EINVAL, "%s v%" PRIu64 ": status cannot change from %s to %s", plugin,
                   version, status_name(from), status_name(status));
        goto rollback;
    }
    sqlite3_stmt *st = NULL;
    r = prepare(s, "UPDATE versions SET status=?3 WHERE plugin=?1 AND version=?2", &st);
    if (r < 0)
        goto rollback;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
    sqlite3_bind_int(st, 3, (int)status);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        r = dberr(s, rc, "updating status");
        goto rollback;
    }
    return exec_sql(s, "COMMIT", "commit status");
rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

int hb_store_set_upgrade_result(hb_store *s, const char *plugin, uint64_t version,
                                uint64_t base, int result)
{
    if (!s || !plugin || version > INT64_MAX || base > INT64_MAX || result < 0 || result > 2)
        return -EINVAL;
    sqlite3_stmt *st = NULL;
    int r = prepare(s,
                    "UPDATE versions SET upgrade_result=?3, upgrade_base=?4 "
                    "WHERE plugin=?1 AND version=?2",
                    &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
    sqlite3_bind_int(st, 3, result);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)base);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return dberr(s, rc, "recording an upgrade test result");
    if (sqlite3_changes(s->db) == 0)
        return seterr(s, -ENOENT, "%s has no version %" PRIu64 " in the store", plugin, version);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Objects                                                                   */
/* ------------------------------------------------------------------------ */

/* Copies src into a fresh temp file in objects/ while hashing it; the temp
 * file is fsynced and closed. On failure nothing is left behind. */
static int copy_to_temp(hb_store *s, const char *src, char **tmp_out,
                        char sha[HB_SHA256_HEX], uint64_t *size_out)
{
    int in = -1, fd = -1, r = 0;
    uint64_t size = 0;
    hb_sha256 *h = NULL;
    char *buf = NULL;
    char *tmp = hb__asprintf("%s/" TMP_PREFIX "%ld-XXXXXX", s->objects_dir, (long)getpid());
    if (!tmp)
        return seterr(s, -ENOMEM, "out of memory");
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        r = seterr(s, -errno, "cannot open object %s: %s", src, strerror(errno));
        goto out_free;
    }
    struct stat stt;
    if (fstat(in, &stt) < 0 || !S_ISREG(stt.st_mode)) {
        r = seterr(s, -EINVAL, "object %s is not a regular file", src);
        goto out_free;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        r = seterr(s, -errno, "cannot create a temporary file in %s: %s", s->objects_dir,
                   strerror(errno));
        goto out_free;
    }
    h = hb__sha256_new();
    buf = malloc(COPY_CHUNK);
    if (!h || !buf) {
        r = seterr(s, -ENOMEM, "out of memory");
        goto out_unlink;
    }
    for (;;) {
        ssize_t n = read(in, buf, COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = seterr(s, -errno, "reading object %s: %s", src, strerror(errno));
            goto out_unlink;
        }
        if (n == 0)
            break;
        size += (uint64_t)n;
        if (size > MAX_OBJECT_SIZE) {
            r = seterr(s, -EFBIG, "object %s is larger than the limit of %" PRIu64 " bytes",
                       src, MAX_OBJECT_SIZE);
            goto out_unlink;
        }
        hb__sha256_update(h, buf, (size_t)n);
        /* The hook stands in for a full disk part-way through the copy. */
        r = hb__fault_active("store.enospc") ? -ENOSPC : hb__write_full(fd, buf, (size_t)n);
        if (r < 0) {
            seterr(s, r, "writing object to %s: %s%s", s->objects_dir, strerror(-r),
                   r == -ENOSPC ? " (the disk holding the state directory is full)" : "");
            goto out_unlink;
        }
    }
    if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
        r = seterr(s, -errno, "syncing object in %s: %s", s->objects_dir, strerror(errno));
        goto out_unlink;
    }
    int cr = close(fd);
    fd = -1;
    if (cr < 0) {
        r = seterr(s, -errno, "closing object in %s: %s", s->objects_dir, strerror(errno));
        goto out_unlink;
    }
    hb__sha256_final(h, sha);
    h = NULL;
    *tmp_out = tmp;
    *size_out = size;
    tmp = NULL;
    goto out_free;
out_unlink:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out_free:
    if (h) {
        char junk[HB_SHA256_HEX];
        hb__sha256_final(h, junk);
    }
    if (in >= 0)
        close(in);
    free(buf);
    free(tmp);
    return r;
}

static bool is_hex_sha(const char *sha)
{
    size_t n = strnlen(sha, HB_SHA256_HEX);
    if (n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdef", sha[i]))
            return false;
    return true;
}

/* Hashes path and compares with sha (and size unless size is UINT64_MAX). */
static int check_object(hb_store *s, const char *path, const char *sha, uint64_t size,
                        const char *whose)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        int e = errno;
        if (e == ENOENT)
            return seterr(s, -ENOENT, "object %.12s... of %s is missing from %s", sha, whose,
                          s->objects_dir);
        return seterr(s, -e, "object %.12s... of %s: cannot stat %s: %s", sha, whose, path,
                      strerror(e));
    }
    char got[HB_SHA256_HEX];
    int r = hb__sha256_file(path, got);
    if (r < 0)
        return seterr(s, r, "object %.12s... of %s: cannot read %s: %s", sha, whose, path,
                      strerror(-r));
    if (strcmp(got, sha) != 0)
        return seterr(s, HB_ECORRUPT,
                      "object %.12s... of %s is corrupt: %s hashes to %.12s... (%lld bytes)",
                      sha, whose, path, got, (long long)st.st_size);
    if (size != UINT64_MAX && (uint64_t)st.st_size != size)
        return seterr(s, HB_ECORRUPT, "object %.12s... of %s has %lld bytes, catalogue says %"
                      PRIu64, sha, whose, (long long)st.st_size, size);
    return 0;
}

int hb_store_object_verify(hb_store *s, const hb_version_rec *rec, char **err)
{
    if (!s || !rec || !rec->plugin)
        return -EINVAL;
    /* The checksum becomes a path: a tampered row must not point elsewhere. */
    if (!is_hex_sha(rec->object_sha256))
        return report(s, seterr(s, HB_ECORRUPT, "%s v%" PRIu64 " has an invalid object "
                                "checksum \"%.70s\" in the catalogue", rec->plugin,
                                rec->version, rec->object_sha256), err);
    char *path = hb_store_object_path(s, rec->object_sha256);
    char *whose = hb__asprintf("%s v%" PRIu64, rec->plugin, rec->version);
    int r = (!path || !whose) ? seterr(s, -ENOMEM, "out of memory")
                              : check_object(s, path, rec->object_sha256, rec->size, whose);
    free(path);
    free(whose);
    return r < 0 ? report(s, r, err) : 0;
}

/* Moves the finished temp file to objects/<sha>.so. An existing file of that
 * name is kept when it is intact (another plugin, or an earlier attempt that
 * died before committing) and replaced when it is not. */
static int install_object(hb_store *s, const char *tmp, const char *sha, const char *plugin)
{
    char *dst = hb_store_object_path(s, sha);
    if (!dst) {
        unlink(tmp);
        return seterr(s, -ENOMEM, "out of memory");
    }
    int r = 0;
    if (access(dst, F_OK) == 0 && check_object(s, dst, sha, UINT64_MAX, plugin) == 0) {
        unlink(tmp);
        goto out;
    }
    hb__fault_kill("store.after_object_tmp");
    if (rename(tmp, dst) < 0) {
        r = seterr(s, -errno, "cannot rename %s to %s: %s", tmp, dst, strerror(errno));
        unlink(tmp);
        goto out;
    }
    hb__fault_kill("store.after_object_rename");
    r = hb__fsync_dir(s->objects_dir);
    if (r < 0)
        seterr(s, r, "cannot sync %s: %s", s->objects_dir, strerror(-r));
out:
    free(dst);
    return r;
}

static int find_by_object(hb_store *s, const char *plugin, const char *sha, hb_version_rec *out)
{
    sqlite3_stmt *st = NULL;
    int r = prepare(s,
                    "SELECT " REC_COLUMNS " FROM versions WHERE plugin=?1 AND object_sha256=?2 "
                    "ORDER BY version DESC LIMIT 1",
                    &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, sha, -1, SQLITE_TRANSIENT);
    return query_one(s, st, out);
}

static int next_version(hb_store *s, const char *plugin, uint64_t *out)
{
    sqlite3_stmt *st = NULL;
    /* max() of both, so a counter row lost to an old bug or hand-editing can
     * never make a number be reused. */
    int r = prepare(s,
                    "SELECT max(coalesce((SELECT last_version FROM counters WHERE plugin=?1),0),"
                    "           coalesce((SELECT max(version) FROM versions WHERE plugin=?1),0))",
                    &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(st, 0) + 1;
    else
        r = dberr(s, rc, "reading version counter");
    sqlite3_finalize(st);
    return r;
}

static void bind_text_or_empty(sqlite3_stmt *st, int i, const char *t)
{
    sqlite3_bind_text(st, i, t ? t : "", -1, SQLITE_TRANSIENT);
}

static int insert_row(hb_store *s, const char *plugin, uint64_t version, const char *sha,
                      uint64_t size, int64_t created, const hb_version_rec *meta)
{
    sqlite3_stmt *st = NULL;
    int r = prepare(s,
                    "INSERT INTO versions (" INSERT_COLUMNS ") VALUES "
                    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                    &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
    sqlite3_bind_text(st, 3, sha, -1, SQLITE_TRANSIENT);
    bind_text_or_empty(st, 4, meta ? meta->input_hash : NULL);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)size);
    sqlite3_bind_int64(st, 6, created);
    sqlite3_bind_int(st, 7, HB_VERSION_CANDIDATE);
    bind_text_or_empty(st, 8, meta ? meta->inputs : NULL);
    bind_text_or_empty(st, 9, meta ? meta->exports : NULL);
    bind_text_or_empty(st, 10, meta ? meta->imports : NULL);
    bind_text_or_empty(st, 11, meta ? meta->needed : NULL);
    bind_text_or_empty(st, 12, meta ? meta->depends : NULL);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return dberr(s, rc, "inserting version");
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO counters (plugin, last_version) VALUES (?1, ?2) "
                           "ON CONFLICT(plugin) DO UPDATE SET last_version=excluded.last_version",
                           -1, &st, NULL) != SQLITE_OK)
        return dberr(s, sqlite3_errcode(s->db), "prepare counter");
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return dberr(s, rc, "updating version counter");
    return 0;
}

int hb_store_add(hb_store *s, const char *plugin, const char *object_path,
                 const hb_version_rec *meta, hb_version_rec *out, bool *created, char **err)
{
    if (!s || !object_path || !out || !created)
        return -EINVAL;
    if (!valid_plugin_name(plugin))
        return report(s, seterr(s, -EINVAL, "invalid plugin name \"%s\"",
                                plugin ? plugin : "(null)"), err);
    char *tmp = NULL;
    char sha[HB_SHA256_HEX];
    uint64_t size = 0;
    /* The slow part (copy + hash + fsync) runs without the catalogue lock. */
    int r = copy_to_temp(s, object_path, &tmp, sha, &size);
    if (r < 0)
        return report(s, r, err);

    /* From here on the write lock is held: installing the object and
     * committing its row are one step for any other process, and gc (which
     * unlinks unreferenced objects under the same lock) cannot slip between
     * them and leave a row without its object. */
    r = exec_sql(s, "BEGIN IMMEDIATE", "begin insert");
    if (r < 0) {
        unlink(tmp);
        free(tmp);
        return report(s, r, err);
    }
    /* Installed even for a duplicate, so a missing file is healed. */
    r = install_object(s, tmp, sha, plugin);
    free(tmp);
    if (r < 0)
        goto rollback;
    hb_version_rec existing;
    r = find_by_object(s, plugin, sha, &existing);
    if (r == 0) {
        /* Same bytes as a stored version: no new version. */
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        *out = existing;
        *created = false;
        return 0;
    }
    if (r != -ENOENT)
        goto rollback;
    uint64_t version = 0;
    r = next_version(s, plugin, &version);
    if (r < 0)
        goto rollback;
    r = insert_row(s, plugin, version, sha, size, (int64_t)time(NULL), meta);
    if (r < 0)
        goto rollback;
    hb__fault_kill("store.before_commit");
    r = exec_sql(s, "COMMIT", "commit insert");
    if (r < 0)
        goto rollback;
    hb__fault_kill("store.after_commit");
    r = hb_store_get(s, plugin, version, out);
    if (r < 0)
        return report(s, r, err);
    *created = true;
    return 0;
rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    /* An installed object stays: an unreferenced file, removed by gc. */
    return report(s, r, err);
}

/* ------------------------------------------------------------------------ */
/* Verify                                                                    */
/* ------------------------------------------------------------------------ */

static bool is_hex_name(const char *name)
{
    size_t n = strlen(name);
    if (n != 64 + strlen(OBJ_SUFFIX) || !hb__has_suffix(name, OBJ_SUFFIX))
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!strchr("0123456789abcdef", name[i]))
            return false;
    return true;
}

/* Whether any row references object sha. */
static int object_referenced(hb_store *s, const char *sha, bool *out)
{
    sqlite3_stmt *st = NULL;
    int r = prepare(s, "SELECT 1 FROM versions WHERE object_sha256=?1 LIMIT 1", &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, sha, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        *out = rc == SQLITE_ROW;
    else
        r = dberr(s, rc, "query");
    sqlite3_finalize(st);
    return r;
}

typedef void (*dir_entry_fn)(hb_store *s, const char *name, const struct stat *st,
                             bool referenced, void *ud);

/* Calls fn for every object or temp file in objects/ (referenced is only
 * meaningful for objects). */
static int scan_objects(hb_store *s, dir_entry_fn fn, void *ud)
{
    DIR *d = opendir(s->objects_dir);
    if (!d)
        return seterr(s, -errno, "cannot open %s: %s", s->objects_dir, strerror(errno));
    int r = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* vanished meanwhile */
        bool referenced = false;
        if (is_hex_name(e->d_name)) {
            char sha[HB_SHA256_HEX];
            memcpy(sha, e->d_name, 64);
            sha[64] = '\0';
            r = object_referenced(s, sha, &referenced);
            if (r < 0)
                break;
        }
        fn(s, e->d_name, &st, referenced, ud);
    }
    closedir(d);
    return r;
}

struct verify_ctx {
    hb_sb *report;
    unsigned errors, warnings;
};

static void verify_entry(hb_store *s, const char *name, const struct stat *st, bool referenced,
                         void *ud)
{
    struct verify_ctx *c = ud;
    if (is_hex_name(name)) {
        if (!referenced) {
            c->warnings++;
            hb__sb_addf(c->report, "warning: orphan object %s/%s is not referenced by the "
                        "catalogue (left by an interrupted insert or a gc; gc removes it)\n",
                        s->objects_dir, name);
        }
    } else if (!strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX))) {
        c->warnings++;
        hb__sb_addf(c->report, "warning: leftover temporary file %s/%s (%lld bytes) from an "
                    "interrupted write; gc removes it\n", s->objects_dir, name,
                    (long long)st->st_size);
    } else {
        c->warnings++;
        hb__sb_addf(c->report, "warning: unexpected file %s/%s in the object store\n",
                    s->objects_dir, name);
    }
}

int hb_store_verify_all(hb_store *s, hb_sb *report_sb)
{
    if (!s)
        return -EINVAL;
    hb_sb scratch = HB_SB_INIT;
    struct verify_ctx c = {report_sb ? report_sb : &scratch, 0, 0};
    sqlite3_stmt *st = NULL;
    unsigned catalogue_errors = 0;
    int r = prepare(s, "PRAGMA quick_check", &st);
    if (r < 0)
        goto out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *msg = (const char *)sqlite3_column_text(st, 0);
        if (msg && strcmp(msg, "ok") != 0) {
            c.errors++;
            catalogue_errors++;
            hb__sb_addf(c.report, "error: catalogue %s is damaged: %s\n", s->db_path, msg);
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE) {
        r = dberr(s, rc, "integrity check");
        goto out;
    }

    r = prepare(s, "SELECT " REC_COLUMNS " FROM versions ORDER BY plugin, version", &st);
    if (r < 0)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        hb_version_rec rec;
        r = read_rec(st, &rec);
        if (r < 0)
            goto out;
        if (hb_store_object_verify(s, &rec, NULL) < 0) {
            c.errors++;
            hb__sb_addf(c.report, "error: %s\n", hb_store_last_error(s));
        }
        if ((unsigned)rec.status > HB_VERSION_ROLLED_BACK) {
            c.errors++;
            hb__sb_addf(c.report, "error: %s v%" PRIu64 " has an unknown status %d\n",
                        rec.plugin, rec.version, (int)rec.status);
        }
        hb_version_rec_release(&rec);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE) {
        r = dberr(s, rc, "reading versions");
        goto out;
    }

    r = prepare(s,
                "SELECT v.plugin, max(v.version), coalesce(c.last_version, 0) FROM versions v "
                "LEFT JOIN counters c ON c.plugin = v.plugin GROUP BY v.plugin "
                "HAVING max(v.version) > coalesce(c.last_version, 0)",
                &st);
    if (r < 0)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        c.errors++;
        hb__sb_addf(c.report, "error: %s: version counter %lld is behind its newest version "
                    "%lld\n", (const char *)sqlite3_column_text(st, 0),
                    (long long)sqlite3_column_int64(st, 2),
                    (long long)sqlite3_column_int64(st, 1));
    }
    sqlite3_finalize(st);
    st = NULL;

    r = scan_objects(s, verify_entry, &c);
    if (r < 0)
        goto out;
    if (catalogue_errors) {
        hb__sb_addf(c.report, "hint: %s\n", "stop every hotbox using this state directory and "
                    "run `hotbox store recover`");
        r = seterr(s, HB_ECATALOG, "store %s: the catalogue is damaged: %u error(s), %u "
                   "warning(s)", s->state_dir, c.errors, c.warnings);
    } else if (c.errors) {
        r = seterr(s, HB_ECORRUPT, "store %s: %u error(s), %u warning(s)", s->state_dir,
                   c.errors, c.warnings);
    }
out:
    if (st)
        sqlite3_finalize(st);
    hb__sb_release(&scratch);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Garbage collection                                                        */
/* ------------------------------------------------------------------------ */

static bool is_protected(const hb_store_ref *protect, size_t n, const char *plugin, uint64_t v)
{
    for (size_t i = 0; i < n; i++)
        if (protect[i].plugin && protect[i].version == v && !strcmp(protect[i].plugin, plugin))
            return true;
    return false;
}

static int delete_row(hb_store *s, const char *plugin, uint64_t version)
{
    sqlite3_stmt *st = NULL;
    int r = prepare(s, "DELETE FROM versions WHERE plugin=?1 AND version=?2", &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : dberr(s, rc, "deleting version");
}

/* Decides and deletes the rows of one plugin (inside the gc transaction). */
static int gc_plugin(hb_store *s, const char *plugin, unsigned keep_n,
                     const hb_store_ref *protect, size_t nprotect, size_t *removed)
{
    hb_version_rec *v = NULL;
    size_t n = 0;
    int r = hb_store_list(s, plugin, &v, &n);
    if (r < 0)
        return r;
    size_t newest_good = hb_policy_gc_keep(v, n); /* versions/policy.c */
    for (size_t i = 0; i < n && r == 0; i++) {
        bool keep = i + keep_n >= n /* among the newest keep_n */
                    || i == newest_good || v[i].status == HB_VERSION_ACTIVE
                    || is_protected(protect, nprotect, plugin, v[i].version);
        if (keep)
            continue;
        r = delete_row(s, plugin, v[i].version);
        if (r == 0)
            (*removed)++;
    }
    hb_store_list_free(v, n);
    return r;
}

struct gc_ctx {
    time_t tmp_cutoff;
    unsigned failures;
};

static void gc_entry(hb_store *s, const char *name, const struct stat *st, bool referenced,
                     void *ud)
{
    struct gc_ctx *c = ud;
    bool obj = is_hex_name(name);
    bool tmp = !strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX));
    /* Unreferenced objects go at once: the sweep holds the write lock, and
     * inserts install their object and commit its row under that lock, so no
     * insert can be between the two. Temp files are written before the lock
     * is taken, so only old ones are surely abandoned. */
    if (obj ? referenced : (!tmp || st->st_mtime > c->tmp_cutoff))
        return;
    char *p = hb__path_join(s->objects_dir, name);
    if (!p || (unlink(p) < 0 && errno != ENOENT))
        c->failures++;
    free(p);
}

int hb_store_gc(hb_store *s, unsigned keep_n, const hb_store_ref *protect, size_t nprotect,
                size_t *removed, char **err)
{
    if (!s || (nprotect && !protect))
        return -EINVAL;
    size_t count = 0;
    char **plugins = NULL;
    int r = exec_sql(s, "BEGIN IMMEDIATE", "begin gc");
    if (r < 0)
        return report(s, r, err);
    r = hb_store_plugins(s, &plugins);
    if (r < 0)
        goto rollback;
    for (size_t i = 0; plugins[i]; i++) {
        r = gc_plugin(s, plugins[i], keep_n, protect, nprotect, &count);
        if (r < 0)
            goto rollback;
    }
    hb__strv_free(plugins);
    plugins = NULL;
    r = exec_sql(s, "COMMIT", "commit gc");
    if (r < 0)
        goto rollback;
    /* Rows are gone for good; now the files nobody references, under the
     * write lock (see gc_entry). A crash here leaves orphans, which verify
     * reports as warnings and the next gc removes. */
    r = exec_sql(s, "BEGIN IMMEDIATE", "lock for gc sweep");
    if (r < 0)
        return report(s, r, err);
    struct gc_ctx c = {time(NULL) - HB_STORE_GC_GRACE_S, 0};
    r = scan_objects(s, gc_entry, &c);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    if (r < 0)
        return report(s, r, err);
    if (c.failures)
        seterr(s, 0, "gc could not remove %u file(s) from %s", c.failures, s->objects_dir);
    if (removed)
        *removed = count;
    return 0;
rollback:
    hb__strv_free(plugins);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return report(s, r, err);
}

/* ------------------------------------------------------------------------ */
/* Checkpoints                                                               */
/* ------------------------------------------------------------------------ */

void hb_checkpoint_rec_release(hb_checkpoint_rec *c)
{
    if (!c)
        return;
    free(c->blob);
    memset(c, 0, sizeof(*c));
}

int hb_store_checkpoint_put(hb_store *s, const char *plugin, const char *sandbox,
                            uint64_t version, uint32_t schema, const void *blob, size_t len)
{
    if (!s || !valid_plugin_name(plugin) || !sandbox || (len && !blob) || version > INT64_MAX)
        return -EINVAL;
    if (len > HB_STORE_MAX_CHECKPOINT)
        return seterr(s, HB_ELIMIT, "checkpoint of %s is %zu bytes, the store's limit is %u",
                      plugin, len, HB_STORE_MAX_CHECKPOINT);
    sqlite3_stmt *st = NULL;
    /* seq orders checkpoints taken within the same second. */
    int r = prepare(s,
                    "INSERT OR REPLACE INTO checkpoints "
                    "(plugin, sandbox, schema, version, blob, created, seq) VALUES "
                    "(?1, ?2, ?3, ?4, ?5, ?6, "
                    " (SELECT coalesce(max(seq), 0) + 1 FROM checkpoints))",
                    &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, sandbox, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, schema);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)version);
    sqlite3_bind_blob64(st, 5, len ? blob : "", len, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : dberr(s, rc, "storing checkpoint");
}

int hb_store_checkpoint_get(hb_store *s, const char *plugin, const char *sandbox,
                            int64_t schema, hb_checkpoint_rec *out)
{
    if (!s || !plugin || !sandbox || !out)
        return -EINVAL;
    sqlite3_stmt *st = NULL;
    int r = prepare(s,
                    "SELECT version, schema, blob, created FROM checkpoints "
                    "WHERE plugin=?1 AND sandbox=?2 AND (?3 < 0 OR schema=?3) "
                    "ORDER BY seq DESC LIMIT 1",
                    &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, sandbox, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, schema);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        const void *b = sqlite3_column_blob(st, 2);
        void *copy = malloc(len ? len : 1);
        if (!copy) {
            r = -ENOMEM;
        } else {
            if (len)
                memcpy(copy, b, len);
            out->version = (uint64_t)sqlite3_column_int64(st, 0);
            out->schema = (uint32_t)sqlite3_column_int64(st, 1);
            out->blob = copy;
            out->len = len;
            out->created = sqlite3_column_int64(st, 3);
        }
    } else if (rc == SQLITE_DONE) {
        r = seterr(s, -ENOENT, "no checkpoint of %s in sandbox %s", plugin, sandbox);
    } else {
        r = dberr(s, rc, "reading checkpoint");
    }
    sqlite3_finalize(st);
    return r;
}

int hb_store_checkpoint_drop(hb_store *s, const char *plugin, const char *sandbox)
{
    if (!s || !plugin || !sandbox)
        return -EINVAL;
    sqlite3_stmt *st = NULL;
    int r = prepare(s, "DELETE FROM checkpoints WHERE plugin=?1 AND sandbox=?2", &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, sandbox, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : dberr(s, rc, "dropping checkpoints");
}

/* ------------------------------------------------------------------------ */
/* Recovery                                                                  */
/* ------------------------------------------------------------------------ */

/* Copies a file byte for byte (the damaged catalogue to a scratch copy
 * SQLite may write to while reading it). -ENOENT when src is absent. */
static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        int e = errno;
        close(in);
        return -e;
    }
    int r = 0;
    char buf[COPY_CHUNK];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : 0;
            break;
        }
        if ((r = hb__write_full(out, buf, (size_t)n)) < 0)
            break;
    }
    close(in);
    if (close(out) < 0 && r == 0)
        r = -errno;
    return r;
}

/* A file cut short is padded with zeros to the size its header states:
 * SQLite refuses to attach a file shorter than that at all, while the
 * pages before the cut are still readable. */
static void extend_to_header_size(const char *path)
{
    unsigned char hdr[100];
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) == 0 && pread(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr) &&
        !memcmp(hdr, "SQLite format 3", 16)) {
        uint32_t page = (uint32_t)hdr[16] << 8 | hdr[17];
        uint64_t want = (uint64_t)be32(hdr + 28) * (page == 1 ? 65536 : page);
        if ((uint64_t)st.st_size < want && want < ((uint64_t)1 << 40) &&
            ftruncate(fd, (off_t)want) < 0) {
            /* best effort: the attach then says what is wrong */
        }
    }
    close(fd);
}

/* Moves path+suffix to to+suffix when it exists. */
static int move_aside(const char *path, const char *to, const char *suffix)
{
    char *a = hb__asprintf("%s%s", path, suffix), *b = hb__asprintf("%s%s", to, suffix);
    int r = (!a || !b) ? -ENOMEM : rename(a, b) < 0 && errno != ENOENT ? -errno : 0;
    free(a);
    free(b);
    return r;
}

/* Copies the rows of one table from the damaged catalogue (its own
 * connection: a read error there cannot roll back the new catalogue's
 * transaction), one by one, until the end or the first row the damage
 * makes unreadable. */
static void salvage_table(hb_store *s, sqlite3 *old, const char *table, const char *cols,
                          hb_sb *rep)
{
    char *sql = hb__asprintf("SELECT %s FROM %s", cols, table);
    char *ins = NULL;
    sqlite3_stmt *sel = NULL, *put = NULL;
    int ncols = 1;
    for (const char *c = cols; *c; c++)
        ncols += *c == ',';
    hb_sb q = HB_SB_INIT;
    hb__sb_addf(&q, "INSERT OR IGNORE INTO %s (%s) VALUES (", table, cols);
    for (int i = 0; i < ncols; i++)
        hb__sb_adds(&q, i ? ", ?" : "?");
    hb__sb_adds(&q, ")");
    ins = hb__sb_detach(&q);
    if (!sql || !ins) {
        hb__sb_addf(rep, "%s: out of memory\n", table);
        goto out;
    }
    if (sqlite3_prepare_v2(old, sql, -1, &sel, NULL) != SQLITE_OK) {
        hb__sb_addf(rep, "%s: nothing readable (%s)\n", table, sqlite3_errmsg(old));
        goto out;
    }
    if (sqlite3_prepare_v2(s->db, ins, -1, &put, NULL) != SQLITE_OK) {
        hb__sb_addf(rep, "%s: cannot insert (%s)\n", table, sqlite3_errmsg(s->db));
        goto out;
    }
    unsigned n = 0;
    int rc;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        for (int i = 0; i < ncols; i++)
            sqlite3_bind_value(put, i + 1, sqlite3_column_value(sel, i));
        if (sqlite3_step(put) == SQLITE_DONE)
            n += sqlite3_changes(s->db) > 0;
        sqlite3_reset(put);
        sqlite3_clear_bindings(put);
    }
    if (rc == SQLITE_DONE)
        hb__sb_addf(rep, "%s: %u row%s recovered\n", table, n, n == 1 ? "" : "s");
    else
        hb__sb_addf(rep, "%s: %u row%s recovered; the rest is unreadable (%s)\n", table, n,
                    n == 1 ? "" : "s", sqlite3_errmsg(old));
out:
    sqlite3_finalize(sel);
    sqlite3_finalize(put);
    free(sql);
    free(ins);
}

/* Rows whose object is gone or altered cannot be loaded: they go, named. */
static void drop_unverifiable(hb_store *s, hb_sb *rep)
{
    hb_version_rec *bad = NULL;
    size_t nbad = 0, cap = 0;
    sqlite3_stmt *st = NULL;
    if (prepare(s, "SELECT " REC_COLUMNS " FROM versions", &st) < 0)
        return;
    while (sqlite3_step(st) == SQLITE_ROW) {
        hb_version_rec rec;
        if (read_rec(st, &rec) < 0)
            break;
        if (hb_store_object_verify(s, &rec, NULL) == 0) {
            hb_version_rec_release(&rec);
            continue;
        }
        hb__sb_addf(rep, "dropped %s v%" PRIu64 ": %s\n", rec.plugin, rec.version,
                    hb_store_last_error(s));
        if (nbad == cap) {
            size_t nc = cap ? cap * 2 : 8;
            hb_version_rec *nb = realloc(bad, nc * sizeof(*nb));
            if (!nb) {
                hb_version_rec_release(&rec);
                break;
            }
            bad = nb;
            cap = nc;
        }
        bad[nbad++] = rec;
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < nbad; i++) {
        if (prepare(s, "DELETE FROM versions WHERE plugin=?1 AND version=?2", &st) == 0) {
            sqlite3_bind_text(st, 1, bad[i].plugin, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, (sqlite3_int64)bad[i].version);
            sqlite3_step(st);
            sqlite3_finalize(st);
        }
    }
    hb_store_list_free(bad, nbad);
}

int hb_store_recover(const char *state_dir, bool force, hb_sb *rep)
{
    if (!state_dir || !*state_dir || !rep)
        return -EINVAL;
    hb_store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    char *damaged = NULL, *scratch = NULL;
    int r = store_init(s, state_dir);
    if (r < 0)
        goto fail;
    if (!force) {
        hb_store *probe = NULL;
        char *why = NULL;
        r = hb_store_open(state_dir, &probe, &why);
        if (r == 0) {
            hb_sb v = HB_SB_INIT;
            r = hb_store_verify_all(probe, &v);
            hb__sb_release(&v);
            hb_store_close(probe);
        }
        free(why);
        if (r != HB_ECATALOG) {
            r = seterr(s, -EEXIST, "catalogue %s is not damaged: nothing to recover (use "
                       "--force to rebuild it anyway)", s->db_path);
            goto fail;
        }
    }
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32];
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    damaged = hb__asprintf("%s.damaged-%s", s->db_path, stamp);
    scratch = hb__asprintf("%s.salvage-%d", s->db_path, (int)getpid());
    if (!damaged || !scratch) {
        r = seterr(s, -ENOMEM, "out of memory");
        goto fail;
    }
    struct stat st;
    bool had = lstat(s->db_path, &st) == 0;
    if (had) {
        /* The damaged file is kept as it is, with its WAL; recovery reads
         * a scratch copy (SQLite may write to what it opens). */
        if ((r = move_aside(s->db_path, damaged, "")) < 0 ||
            (r = move_aside(s->db_path, damaged, "-wal")) < 0 ||
            (r = move_aside(s->db_path, damaged, "-shm")) < 0) {
            seterr(s, r, "cannot move %s aside: %s", s->db_path, strerror(-r));
            goto fail;
        }
        hb__sb_addf(rep, "kept the damaged catalogue as %s\n", damaged);
    } else {
        hb__sb_addf(rep, "there was no catalogue %s\n", s->db_path);
    }
    if ((r = create_catalogue(s)) < 0 || (r = open_catalogue(s)) < 0 || (r = migrate(s)) < 0)
        goto fail;
    if (had) {
        char *dw = hb__asprintf("%s-wal", damaged), *sw = hb__asprintf("%s-wal", scratch);
        r = (!dw || !sw) ? -ENOMEM : copy_file(damaged, scratch);
        if (r == 0 && copy_file(dw, sw) < 0)
            unlink(sw);
        free(dw);
        free(sw);
        if (r < 0) {
            seterr(s, r, "cannot copy %s: %s", damaged, strerror(-r));
            goto fail;
        }
        extend_to_header_size(scratch);
        sqlite3 *old = NULL;
        sqlite3_stmt *uv = NULL;
        int rc = sqlite3_open_v2(scratch, &old, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_prepare_v2(old, "PRAGMA user_version", -1, &uv, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(uv);
        if (rc != SQLITE_ROW) {
            hb__sb_addf(rep, "the damaged catalogue cannot be read at all (%s)\n",
                        old ? sqlite3_errmsg(old) : sqlite3_errstr(rc));
        } else {
            int oldv = sqlite3_column_int(uv, 0);
            if ((r = exec_sql(s, "BEGIN IMMEDIATE", "begin recovery")) < 0) {
                sqlite3_finalize(uv);
                sqlite3_close_v2(old);
                goto fail;
            }
            salvage_table(s, old, "versions", oldv >= 2 ? REC_COLUMNS : INSERT_COLUMNS, rep);
            salvage_table(s, old, "counters", "plugin, last_version", rep);
            salvage_table(s, old, "checkpoints",
                          "plugin, sandbox, schema, version, blob, created, seq", rep);
            if ((r = exec_sql(s, "COMMIT", "commit recovery")) < 0) {
                sqlite3_finalize(uv);
                sqlite3_close_v2(old);
                goto fail;
            }
        }
        sqlite3_finalize(uv);
        sqlite3_close_v2(old);
    }
    drop_unverifiable(s, rep);
    /* Version numbers are never reused: every counter at least its
     * plugin's highest recovered version. */
    r = exec_sql(s,
                 "INSERT INTO counters (plugin, last_version) "
                 "SELECT plugin, max(version) FROM versions WHERE true GROUP BY plugin "
                 "ON CONFLICT(plugin) DO UPDATE SET last_version = "
                 "max(last_version, excluded.last_version)",
                 "fixing version counters");
    if (r < 0)
        goto fail;
    unsigned orphans = 0, total = 0;
    DIR *d = opendir(s->objects_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!is_hex_name(e->d_name))
            continue;
        char sha[HB_SHA256_HEX];
        snprintf(sha, sizeof(sha), "%.64s", e->d_name);
        bool ref = true;
        total++;
        if (object_referenced(s, sha, &ref) == 0 && !ref)
            orphans++;
    }
    if (d)
        closedir(d);
    if (orphans)
        hb__sb_addf(rep, "%u of %u stored objects have no catalogue row: their history is lost "
                    "(a build of the same sources stores them again; `hotbox gc` removes them)\n",
                    orphans, total);
    hb__sb_addf(rep, "catalogue %s rebuilt\n", s->db_path);
    r = 0;
fail:
    if (r < 0)
        hb__sb_addf(rep, "error: %s\n", s->last_error ? s->last_error : strerror(-r));
    if (scratch) {
        unlink(scratch);
        char *x = hb__asprintf("%s-wal", scratch);
        if (x)
            unlink(x);
        free(x);
        x = hb__asprintf("%s-shm", scratch);
        if (x)
            unlink(x);
        free(x);
    }
    free(damaged);
    free(scratch);
    hb_store_close(s);
    return r;
}
