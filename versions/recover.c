/*
 * versions/recover.c - rebuilding a damaged or missing catalogue from what
 * can still be read (hb_store_recover).
 */
#include "store_int.h"

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
        uint64_t want = (uint64_t)hb__store_be32(hdr + 28) * (page == 1 ? 65536 : page);
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
    if (hb__store_prepare(s, "SELECT " REC_COLUMNS " FROM versions", &st) < 0)
        return;
    while (sqlite3_step(st) == SQLITE_ROW) {
        hb_version_rec rec;
        if (hb__store_read_rec(s, st, &rec) < 0)
            break;
        if (hb__store_verify_full(s, &rec, NULL) == 0) {
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
    hb__store_finish(s, st);
    for (size_t i = 0; i < nbad; i++) {
        if (hb__store_prepare(s, "DELETE FROM versions WHERE plugin=?1 AND version=?2", &st) == 0) {
            sqlite3_bind_text(st, 1, bad[i].plugin, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, (sqlite3_int64)bad[i].version);
            sqlite3_step(st);
            hb__store_finish(s, st);
        }
    }
    hb_store_list_free(bad, nbad);
}

/* Copies the damaged catalogue to scratch and opens the copy: *old is NULL
 * (and the report says so) when it cannot be read at all; else *oldv is
 * its schema version. */
static int open_damaged(hb_store *s, const char *damaged, const char *scratch, sqlite3 **old,
                        int *oldv, hb_sb *rep)
{
    char *dw = hb__asprintf("%s-wal", damaged), *sw = hb__asprintf("%s-wal", scratch);
    int r = (!dw || !sw) ? -ENOMEM : hb__copy_file(damaged, scratch, 0600);
    if (r == 0 && hb__copy_file(dw, sw, 0600) < 0)
        unlink(sw);
    free(dw);
    free(sw);
    if (r < 0)
        return hb__store_seterr(s, r, "cannot copy %s: %s", damaged, strerror(-r));
    extend_to_header_size(scratch);
    sqlite3 *db = NULL;
    sqlite3_stmt *uv = NULL;
    int rc = sqlite3_open_v2(scratch, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &uv, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(uv);
    if (rc != SQLITE_ROW) {
        hb__sb_addf(rep, "the damaged catalogue cannot be read at all (%s)\n",
                    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_finalize(uv);
        sqlite3_close_v2(db);
        *old = NULL;
        return 0;
    }
    *oldv = sqlite3_column_int(uv, 0);
    sqlite3_finalize(uv);
    *old = db;
    return 0;
}

/* Copies every readable row of the damaged catalogue (schema oldv) into
 * the new one, created with the same schema, in one transaction. */
static int salvage_all(hb_store *s, sqlite3 *old, int oldv, hb_sb *rep)
{
    int r = hb__store_exec(s, "BEGIN IMMEDIATE", "begin recovery");
    if (r < 0)
        return r;
    salvage_table(s, old, "versions",
                  oldv >= 3 ? REC_COLUMNS : oldv == 2 ? V2_COLUMNS : V1_COLUMNS, rep);
    if (oldv >= 3)
        salvage_table(s, old, "version_lists", LIST_COLUMNS, rep);
    salvage_table(s, old, "counters", "plugin, last_version", rep);
    salvage_table(s, old, "checkpoints",
                  "plugin, sandbox, schema, version, blob, created, seq", rep);
    if (oldv >= 4)
        salvage_table(s, old, "snapshots", "plugin, name, version, schema, blob, created", rep);
    if (oldv >= HB__STORE_SCHEMA_ALIASES)
        salvage_table(s, old, "input_aliases", "plugin, input_hash, version", rep);
    return hb__store_exec(s, "COMMIT", "commit recovery");
}

int hb_store_recover(const char *state_dir, bool force, hb_sb *rep)
{
    if (!state_dir || !*state_dir || !rep)
        return -EINVAL;
    hb_store *s = hb__store_alloc();
    if (!s)
        return -ENOMEM;
    char *damaged = NULL, *scratch = NULL;
    int r = hb__store_init(s, state_dir);
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
            r = hb__store_seterr(s, -EEXIST, "catalogue %s is not damaged: nothing to recover (use "
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
        r = hb__store_seterr(s, -ENOMEM, "out of memory");
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
            hb__store_seterr(s, r, "cannot move %s aside: %s", s->db_path, strerror(-r));
            goto fail;
        }
        hb__sb_addf(rep, "kept the damaged catalogue as %s\n", damaged);
    } else {
        hb__sb_addf(rep, "there was no catalogue %s\n", s->db_path);
    }
    sqlite3 *old = NULL;
    int oldv = 0;
    if (had && (r = open_damaged(s, damaged, scratch, &old, &oldv, rep)) < 0)
        goto fail;
    /* The rows are salvaged into a catalogue of the damaged one's schema,
     * then migrated like any old catalogue: one conversion, not two. */
    int target = old && oldv >= 1 && oldv <= hb__store_schema_version() ? oldv : 0;
    if ((r = hb__store_create_catalogue(s, target)) < 0 ||
        (r = hb__store_open_catalogue(s)) < 0) {
        sqlite3_close_v2(old);
        goto fail;
    }
    if (old) {
        r = salvage_all(s, old, oldv, rep);
        sqlite3_close_v2(old);
        if (r < 0)
            goto fail;
    }
    if ((r = hb__store_migrate(s)) < 0)
        goto fail;
    /* Salvaged rows come without their input-set keys (the columns above
     * are the same for every schema from 3 on): the triggers need them. */
    if ((r = hb__store_exec(s, "BEGIN IMMEDIATE", "begin filling input sets")) < 0)
        goto fail;
    if ((r = hb__store_input_sets_fill(s)) < 0 ||
        (r = hb__store_exec(s, "COMMIT", "commit input sets")) < 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        goto fail;
    }
    drop_unverifiable(s, rep);
    /* Version numbers are never reused: every counter at least its
     * plugin's highest recovered version. */
    r = hb__store_exec(s,
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
        if (!hb__store_is_object_name(e->d_name))
            continue;
        char sha[HB_SHA256_HEX];
        snprintf(sha, sizeof(sha), "%.64s", e->d_name);
        bool ref = true;
        total++;
        if (hb__store_object_referenced(s, sha, &ref) == 0 && !ref)
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
        hb__sb_addf(rep, "error: %s\n",
                    hb_store_last_error(s)[0] ? hb_store_last_error(s) : strerror(-r));
    if (scratch)
        hb__store_unlink_db(scratch);
    free(damaged);
    free(scratch);
    hb_store_close(s);
    return r;
}

