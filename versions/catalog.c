/*
 * versions/catalog.c - the SQLite catalogue: schema and its migrations,
 * opening (and refusing a damaged or missing catalogue), creating one
 * atomically, and the error helpers every store file reports through.
 */
#include "store_int.h"

#include <dirent.h>
#include <stdarg.h>
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
    /* 2 -> 3: the list columns (inputs, exports, imports, needed, depends),
     * newline-joined text until now, become rows of a child table: one row
     * per element, in order. Existing rows are split (empty lines were never
     * elements), then the text columns go. A version's rows go with it. */
    "CREATE TABLE version_lists ("
    "  plugin TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  list INTEGER NOT NULL," /* enum hb__store_list */
    "  pos INTEGER NOT NULL,"
    "  item TEXT NOT NULL,"
    "  PRIMARY KEY (plugin, version, list, pos));"
    "CREATE INDEX version_lists_by_item ON version_lists(list, item);"
    "WITH RECURSIVE split(plugin, version, list, pos, item, rest) AS ("
    "  SELECT plugin, version, 0, -1, '', inputs || char(10) FROM versions"
    "  UNION ALL SELECT plugin, version, 1, -1, '', exports || char(10) FROM versions"
    "  UNION ALL SELECT plugin, version, 2, -1, '', imports || char(10) FROM versions"
    "  UNION ALL SELECT plugin, version, 3, -1, '', needed || char(10) FROM versions"
    "  UNION ALL SELECT plugin, version, 4, -1, '', depends || char(10) FROM versions"
    "  UNION ALL SELECT plugin, version, list, pos + 1,"
    "    substr(rest, 1, instr(rest, char(10)) - 1), substr(rest, instr(rest, char(10)) + 1)"
    "    FROM split WHERE rest <> '')"
    "INSERT INTO version_lists (plugin, version, list, pos, item)"
    "  SELECT plugin, version, list, pos, item FROM split WHERE pos >= 0 AND item <> '';"
    "ALTER TABLE versions DROP COLUMN inputs;"
    "ALTER TABLE versions DROP COLUMN exports;"
    "ALTER TABLE versions DROP COLUMN imports;"
    "ALTER TABLE versions DROP COLUMN needed;"
    "ALTER TABLE versions DROP COLUMN depends;"
    "CREATE TRIGGER version_lists_follow AFTER DELETE ON versions BEGIN"
    "  DELETE FROM version_lists WHERE plugin = old.plugin AND version = old.version;"
    "END;",
    /* 3 -> 4: named state snapshots (snapshots.c), with the plugin version
     * whose save() wrote them and its state schema. */
    "CREATE TABLE snapshots ("
    "  plugin TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  schema INTEGER NOT NULL,"
    "  blob BLOB NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  PRIMARY KEY (plugin, name));",
    /* 4 -> 5: the compile cache's lookup and hb_store_add in a few index
     * steps, whatever the length of the history. The distinct input sets of
     * a plugin's versions (input_sets.c): each version's set as one key
     * (input_set: a digest of its inputs and depends lists, '' without
     * inputs), and per (plugin, set) the newest version built from it, kept
     * by triggers, so the lookup reads a few rows, not the whole history.
     * The keys of existing rows are filled in C (hb__store_input_sets_fill)
     * in the same transaction. */
    "ALTER TABLE versions ADD COLUMN input_set TEXT NOT NULL DEFAULT '';"
    /* The newest version by input hash (the cache's hit) and by object
     * (hb_store_add's dedupe) ordered by version inside the index: with
     * (plugin, key) alone SQLite walked the whole history backwards in
     * primary-key order to satisfy ORDER BY version DESC. */
    "DROP INDEX IF EXISTS versions_by_input;"
    "CREATE INDEX versions_by_input ON versions(plugin, input_hash, version);"
    "DROP INDEX IF EXISTS versions_by_object;"
    "CREATE INDEX versions_by_object ON versions(plugin, object_sha256, version);"
    "CREATE INDEX versions_by_input_set ON versions(plugin, input_set, version);"
    "CREATE TABLE input_sets ("
    "  plugin TEXT NOT NULL,"
    "  input_set TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  PRIMARY KEY (plugin, input_set));"
    "CREATE INDEX input_sets_newest ON input_sets(plugin, version);"
    "CREATE TRIGGER input_sets_add AFTER INSERT ON versions WHEN new.input_set <> '' BEGIN"
    "  INSERT INTO input_sets (plugin, input_set, version)"
    "    VALUES (new.plugin, new.input_set, new.version)"
    "    ON CONFLICT (plugin, input_set) DO UPDATE SET version = max(version, excluded.version);"
    "END;"
    "CREATE TRIGGER input_sets_set AFTER UPDATE OF input_set ON versions"
    "  WHEN new.input_set <> '' BEGIN"
    "  INSERT INTO input_sets (plugin, input_set, version)"
    "    VALUES (new.plugin, new.input_set, new.version)"
    "    ON CONFLICT (plugin, input_set) DO UPDATE SET version = max(version, excluded.version);"
    "END;"
    /* A deleted version (gc) that was its set's newest hands the set to
     * the next newest, or the set goes with its last version. */
    "CREATE TRIGGER input_sets_drop AFTER DELETE ON versions WHEN old.input_set <> '' BEGIN"
    "  DELETE FROM input_sets WHERE plugin = old.plugin AND input_set = old.input_set"
    "    AND NOT EXISTS (SELECT 1 FROM versions"
    "                    WHERE plugin = old.plugin AND input_set = old.input_set);"
    "  UPDATE input_sets SET version = (SELECT max(version) FROM versions"
    "                                   WHERE plugin = old.plugin AND input_set = old.input_set)"
    "    WHERE plugin = old.plugin AND input_set = old.input_set AND version = old.version;"
    "END;",
};
#define SCHEMA_VERSION ((int)HB_ARRAY_SIZE(migrations))

int hb__store_schema_version(void)
{
    return SCHEMA_VERSION;
}

/* The last error text is per thread (several threads may share a store):
 * it is what the calling thread's last failed store call said. */
static _Thread_local char last_error[4096];

int hb__store_seterr(hb_store *s, int code, const char *fmt, ...)
{
    (void)s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    return code;
}

/* Copies the store's last error to *err (when err is non-NULL). */
int hb__store_report(hb_store *s, int code, char **err)
{
    (void)s;
    if (err)
        hb__seterr(err, code, "%s", last_error[0] ? last_error : "store error");
    return code;
}

int hb__store_dberr(hb_store *s, int rc, const char *what)
{
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
        return hb__store_seterr(s, HB_ECATALOG, "catalogue %s is damaged: %s (%s); " RECOVER_HINT,
                s->db_path, what, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    int code = (rc == SQLITE_FULL) ? -ENOSPC
               : (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? -EBUSY
               : (rc == SQLITE_NOMEM) ? -ENOMEM
                                      : -EIO;
    return hb__store_seterr(s, code, "catalogue %s: %s (%s)", s->db_path, what,
                            s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

int hb__store_exec(hb_store *s, const char *sql, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int code = hb__store_dberr(s, rc, what);
        if (msg)
            hb__store_seterr(s, code, "catalogue %s: %s: %s", s->db_path, what, msg);
        sqlite3_free(msg);
        return code;
    }
    return 0;
}

int hb__store_end_tx(hb_store *s, int r, const char *what)
{
    if (r >= 0)
        return hb__store_exec(s, "COMMIT", what);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

int hb__store_prepare(hb_store *s, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK)
        return hb__store_dberr(s, rc, "prepare");
    return 0;
}

/* Binds ?1, ?2, ... of st in order, one per character of fmt. */
static void bind_va(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    int n = 0;
    for (int i = 1; *fmt; fmt++, i++, n++) {
        switch (*fmt) {
        case 't': sqlite3_bind_text(st, i, va_arg(ap, const char *), -1, SQLITE_TRANSIENT); break;
        case 'u': sqlite3_bind_int64(st, i, (sqlite3_int64)va_arg(ap, uint64_t)); break;
        case 'I': sqlite3_bind_int64(st, i, va_arg(ap, int64_t)); break;
        case 'i': sqlite3_bind_int(st, i, va_arg(ap, int)); break;
        case 'b': {
            const void *p = va_arg(ap, const void *);
            size_t len = va_arg(ap, size_t);
            sqlite3_bind_blob64(st, i, len ? p : "", len, SQLITE_TRANSIENT);
            break;
        }
        default: abort(); /* a format this file does not know: a bug in the caller */
        }
    }
    if (n != sqlite3_bind_parameter_count(st))
        abort(); /* fewer or more values than the statement's ?N: a bug in the caller */
}

int hb__store_vprepare_bind(hb_store *s, sqlite3_stmt **st, const char *sql, const char *fmt,
                            va_list ap)
{
    int r = hb__store_prepare(s, sql, st);
    if (r == 0)
        bind_va(*st, fmt, ap);
    return r;
}

int hb__store_prepare_bind(hb_store *s, sqlite3_stmt **st, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = hb__store_vprepare_bind(s, st, sql, fmt, ap);
    va_end(ap);
    return r;
}

int hb__store_run(hb_store *s, const char *what, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = hb__store_vprepare_bind(s, &st, sql, fmt, ap);
    va_end(ap);
    if (r < 0)
        return r;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : hb__store_dberr(s, rc, what);
}

int hb__store_query_int(hb_store *s, int64_t *out, const char *what, const char *sql,
                        const char *key)
{
    sqlite3_stmt *st = NULL;
    int r = hb__store_prepare_bind(s, &st, sql, key ? "t" : "", key);
    if (r < 0)
        return r;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        r = rc == SQLITE_DONE ? 1 : hb__store_dberr(s, rc, what);
    sqlite3_finalize(st);
    return r;
}

static int user_version(hb_store *s, int *out)
{
    int64_t v = 0;
    int r = hb__store_query_int(s, &v, "reading schema version", "PRAGMA user_version", NULL);
    *out = (int)v;
    return r < 0 ? r : 0;
}

int hb__store_migrate(hb_store *s)
{
    return hb__store_migrate_to(s, SCHEMA_VERSION);
}

int hb__store_migrate_to(hb_store *s, int target)
{
    int r = hb__store_exec(s, "BEGIN IMMEDIATE", "begin migration");
    if (r < 0)
        return r;
    int v = 0;
    r = user_version(s, &v);
    if (r == 0 && v > SCHEMA_VERSION)
        r = hb__store_seterr(s, -EPROTONOSUPPORT,
                             "catalogue %s has schema version %d, newer than this hotbox "
                             "understands (%d)", s->db_path, v, SCHEMA_VERSION);
    for (; r == 0 && v < target; v++) {
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
        r = hb__store_exec(s, migrations[v], "schema migration");
        if (r == 0 && v + 1 == HB__STORE_SCHEMA_INPUT_SETS)
            r = hb__store_input_sets_fill(s);
        if (r == 0)
            r = hb__store_exec(s, pragma, "setting schema version");
    }
    return hb__store_end_tx(s, r, "commit migration");
}

/* ------------------------------------------------------------------------ */
/* Open / close                                                              */
/* ------------------------------------------------------------------------ */


/* How many stored objects (<sha256>.so) objects/ holds. */
static int count_objects(hb_store *s, unsigned *n)
{
    DIR *d = opendir(s->objects_dir);
    if (!d)
        return errno == ENOENT ? (*n = 0, 0) : -errno;
    unsigned c = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        c += hb__store_is_object_name(e->d_name);
    closedir(d);
    *n = c;
    return 0;
}

uint32_t hb__store_be32(const unsigned char *p)
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
        return hb__store_seterr(s, e == ENOENT ? HB_ECATALOG : -e, "catalogue %s: cannot open: %s",
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
        return hb__store_seterr(s, r, "catalogue %s: cannot read: %s", s->db_path, strerror(-r));
    if (st.st_size == 0)
        return hb__store_seterr(s, HB_ECATALOG,
                "catalogue %s is empty (0 bytes): it was truncated, and the version "
                "history it held is not in it; " RECOVER_HINT, s->db_path);
    if (n < (ssize_t)sizeof(hdr) || memcmp(hdr, "SQLite format 3", 16) != 0)
        return hb__store_seterr(s, HB_ECATALOG,
                "catalogue %s is not an SQLite database (%lld bytes; its header is "
                "garbled or cut short); " RECOVER_HINT, s->db_path, (long long)st.st_size);
    /* The page count in the header is valid when its "valid-for" counter
     * matches the change counter. With WAL frames pending (a crash during a
     * checkpoint) the file may be short legitimately: SQLite replays them. */
    uint32_t page = (uint32_t)hdr[16] << 8 | hdr[17];
    if (page == 1)
        page = 65536;
    uint32_t pages = hb__store_be32(hdr + 28);
    char *wal = hb__asprintf("%s-wal", s->db_path);
    struct stat wst;
    bool wal_frames = !wal || (stat(wal, &wst) == 0 && wst.st_size > 0);
    free(wal);
    if (!wal_frames && pages && hb__store_be32(hdr + 24) == hb__store_be32(hdr + 92) &&
        (uint64_t)st.st_size < (uint64_t)pages * page)
        return hb__store_seterr(s, HB_ECATALOG,
                                "catalogue %s is truncated: %lld bytes, its header says %" PRIu32
                                " pages of %" PRIu32 " bytes; " RECOVER_HINT,
                                s->db_path, (long long)st.st_size, pages, page);
    return 0;
}

/* Sets up a connection to a catalogue: busy timeout, WAL (persistent in the
 * file; only set when the file is not in WAL yet, which needs a lock),
 * NORMAL sync (per connection; hb_store_flush syncs the WAL). */
static int setup_connection(hb_store *s)
{
    sqlite3_extended_result_codes(s->db, 0);
    sqlite3_busy_timeout(s->db, 5000);
    sqlite3_stmt *st = NULL;
    int r = hb__store_prepare(s, "PRAGMA journal_mode", &st);
    if (r < 0)
        return r;
    int rc = sqlite3_step(st);
    bool wal = rc == SQLITE_ROW && sqlite3_column_text(st, 0) &&
               !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return hb__store_dberr(s, rc, "reading the journal mode");
    /* WAL: readers never block the writer; NORMAL: a commit survives a
     * killed process without a sync of its own; hb_store_flush, right
     * after the swap, makes it survive power loss (objects.c). */
    if (!wal && (r = hb__store_exec(s, "PRAGMA journal_mode=WAL", "set WAL mode")) < 0)
        return r;
    return hb__store_exec(s, "PRAGMA synchronous=NORMAL", "set synchronous mode");
}


void hb__store_unlink_db(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < HB_ARRAY_SIZE(suffixes); i++) {
        char *p = hb__asprintf("%s%s", path, suffixes[i]);
        if (p)
            unlink(p);
        free(p);
    }
}

/* Creates a catalogue where there is none, atomically: the schema is
 * written to a private file that is then linked into place. Whoever links
 * first wins; the others find a complete catalogue. So no opener ever sees
 * a half-made catalogue (the EBUSY race of several managers opening a
 * fresh state directory), and a hotbox.db that is empty is always damage. */
int hb__store_create_catalogue(hb_store *s, int target)
{
    char *tmp = hb__asprintf("%s.new-%d-XXXXXX", s->db_path, (int)getpid());
    if (!tmp)
        return hb__store_seterr(s, -ENOMEM, "out of memory");
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return hb__store_seterr(s, -e, "cannot create a catalogue in %s: %s", s->state_dir,
                                strerror(e));
    }
    close(fd);
    sqlite3 *keep = s->db;
    char *keep_path = s->db_path;
    s->db = NULL;
    s->db_path = tmp;
    int rc = sqlite3_open_v2(tmp, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    int r = rc == SQLITE_OK ? setup_connection(s) : hb__store_dberr(s, rc, "create");
    if (r == 0)
        r = hb__store_migrate_to(s, target > 0 ? target : SCHEMA_VERSION);
    if (s->db)
        sqlite3_close_v2(s->db); /* checkpoints the WAL into the file */
    s->db = keep;
    s->db_path = keep_path;
    if (r == 0 && link(tmp, s->db_path) < 0 && errno != EEXIST) {
        int e = errno;
        r = hb__store_seterr(s, -e, "cannot create catalogue %s: %s", s->db_path, strerror(e));
    }
    hb__store_unlink_db(tmp);
    free(tmp);
    if (r == 0)
        hb__fsync_dir(s->state_dir);
    return r;
}

/* Opens the catalogue file (creating it when the state directory has none
 * and no stored objects either). */
int hb__store_open_catalogue(hb_store *s)
{
    struct stat st;
    if (lstat(s->db_path, &st) < 0 && errno == ENOENT) {
        unsigned nobj = 0;
        int r = count_objects(s, &nobj);
        if (r < 0)
            return hb__store_seterr(s, r, "cannot read %s: %s", s->objects_dir, strerror(-r));
        if (nobj)
            return hb__store_seterr(s, HB_ECATALOG,
                                    "catalogue %s is missing, but %s holds %u stored object%s: the "
                                    "version history was deleted; " RECOVER_HINT,
                                    s->db_path, s->objects_dir, nobj, nobj == 1 ? "" : "s");
        if ((r = hb__store_create_catalogue(s, 0)) < 0)
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
        return hb__store_dberr(s, rc, "open");
    return setup_connection(s);
}

/* A store handle with its paths, the state and objects directories
 * created; no catalogue yet. */
int hb__store_init(hb_store *s, const char *state_dir)
{
    int r = hb__mkdir_p(state_dir, 0755);
    if (r < 0)
        return hb__store_seterr(s, r, "cannot create state directory %s: %s", state_dir,
                                strerror(-r));
    r = hb__realpath(state_dir, &s->state_dir);
    if (r < 0)
        return hb__store_seterr(s, r, "cannot resolve state directory %s: %s", state_dir,
                                strerror(-r));
    s->objects_dir = hb__path_join(s->state_dir, "objects");
    s->db_path = hb__path_join(s->state_dir, "hotbox.db");
    if (!s->objects_dir || !s->db_path)
        return hb__store_seterr(s, -ENOMEM, "out of memory");
    r = hb__mkdir_p(s->objects_dir, 0755);
    if (r < 0)
        return hb__store_seterr(s, r, "cannot create %s: %s", s->objects_dir, strerror(-r));
    return 0;
}

int hb_store_open(const char *state_dir, hb_store **out, char **err)
{
    if (!state_dir || !*state_dir || !out)
        return -EINVAL;
    hb_store *s = hb__store_alloc();
    if (!s)
        return -ENOMEM;
    last_error[0] = '\0';
    int r = hb__store_init(s, state_dir);
    if (r < 0)
        goto fail;
    r = hb__store_open_catalogue(s);
    if (r < 0)
        goto fail;
    r = hb__store_migrate(s);
    if (r < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    if (err)
        hb__seterr(err, r, "%s", last_error[0] ? last_error : strerror(-r));
    hb_store_close(s);
    return r;
}

void hb_store_close(hb_store *s)
{
    if (!s)
        return;
    hb__store_lock(s);
    if (s->db)
        hb__store_flush(s);
    hb__store_unlock(s);
    sqlite3_finalize(s->lists_st);
    sqlite3_finalize(s->cache_lists_st);
    if (s->db)
        sqlite3_close_v2(s->db);
    HB_FREE_ALL(s->state_dir, s->objects_dir, s->db_path);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

hb_store *hb__store_alloc(void)
{
    hb_store *s = calloc(1, sizeof(*s));
    pthread_mutexattr_t a;
    if (!s || pthread_mutexattr_init(&a) != 0) {
        free(s);
        return NULL;
    }
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    int r = pthread_mutex_init(&s->lock, &a);
    pthread_mutexattr_destroy(&a);
    if (r != 0) {
        free(s);
        return NULL;
    }
    return s;
}

void hb__store_lock(hb_store *s)
{
    pthread_mutex_lock(&s->lock);
}

void hb__store_unlock(hb_store *s)
{
    pthread_mutex_unlock(&s->lock);
}

const char *hb_store_last_error(hb_store *s)
{
    (void)s;
    return last_error;
}

const char *hb_store_objects_dir(hb_store *s)
{
    return s ? s->objects_dir : NULL;
}

