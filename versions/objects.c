/*
 * versions/objects.c - content-addressed object files: copying a compile
 * output in while hashing it, installing it under its checksum, adding it
 * as a version (hb_store_add), verifying one object or the whole store.
 *
 * Durability argument (what a kill -9 at any point leaves behind):
 *  1. the object is copied to objects/.tmp-<pid>-XXXXXX while being hashed,
 *     closed, and renamed to objects/<sha256>.so;
 *  2. only then is the catalogue row inserted, in one SQLite transaction
 *     (WAL, synchronous=NORMAL) together with the plugin's version counter.
 * A killed process loses nothing it wrote: its writes are in the kernel's
 * page cache, which outlives it, and SQLite's WAL with synchronous=NORMAL
 * keeps every committed transaction across an application crash. So a kill
 * before 2 commits leaves at worst a temp file or an unreferenced object
 * (verify warns, gc removes them); a kill after leaves a complete version,
 * and a row never points to an object whose rename had not happened.
 *
 * What fsync adds is survival of power loss or a kernel crash, and that is
 * taken off the swap path: the objects written since the last flush are
 * remembered, and hb_store_flush (called by the harness right after a
 * reload, load or rollback has emitted its event, and by hb_store_close)
 * fsyncs them, then objects/, then the catalogue's WAL. A power loss in the
 * few milliseconds between a commit and its flush may lose that commit, or
 * keep the row while the object's bytes are lost; the object check before
 * every load (hb_store_object_verify) then refuses the damaged object with
 * HB_ECORRUPT, and every earlier version, flushed before, is intact.
 */
#include "store_int.h"

#include <dirent.h>
#include "fault.h"
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

/* How many object files the store has hashed, process-wide (tests and
 * benches count hashes per reload with it). */
static _Atomic uint64_t objects_hashed;

uint64_t hb_store_objects_hashed(void)
{
    return objects_hashed;
}

char *hb_store_object_path(hb_store *s, const char *sha256)
{
    if (!s || !sha256)
        return NULL;
    return hb__asprintf("%s/%s" OBJ_SUFFIX, s->objects_dir, sha256);
}

/* ------------------------------------------------------------------------ */
/* Records                                                                   */
static int copy_to_temp(hb_store *s, const char *src, char **tmp_out,
                        char sha[HB_SHA256_HEX], uint64_t *size_out)
{
    int in = -1, fd = -1, r = 0;
    uint64_t size = 0;
    hb_sha256 *h = NULL;
    char *buf = NULL;
    char *tmp = hb__asprintf("%s/" TMP_PREFIX "%ld-XXXXXX", s->objects_dir, (long)getpid());
    if (!tmp)
        return hb__store_seterr(s, -ENOMEM, "out of memory");
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        r = hb__store_seterr(s, -errno, "cannot open object %s: %s", src, strerror(errno));
        goto out_free;
    }
    struct stat stt;
    if (fstat(in, &stt) < 0 || !S_ISREG(stt.st_mode)) {
        r = hb__store_seterr(s, -EINVAL, "object %s is not a regular file", src);
        goto out_free;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        r = hb__store_seterr(s, -errno, "cannot create a temporary file in %s: %s", s->objects_dir,
                             strerror(errno));
        goto out_free;
    }
    h = hb__sha256_new();
    buf = malloc(COPY_CHUNK);
    objects_hashed++;
    if (!h || !buf) {
        r = hb__store_seterr(s, -ENOMEM, "out of memory");
        goto out_unlink;
    }
    for (;;) {
        ssize_t n = read(in, buf, COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = hb__store_seterr(s, -errno, "reading object %s: %s", src, strerror(errno));
            goto out_unlink;
        }
        if (n == 0)
            break;
        size += (uint64_t)n;
        if (size > MAX_OBJECT_SIZE) {
            r = hb__store_seterr(s, -EFBIG,
                                 "object %s is larger than the limit of %" PRIu64 " bytes",
                                 src, MAX_OBJECT_SIZE);
            goto out_unlink;
        }
        hb__sha256_update(h, buf, (size_t)n);
        /* The hook stands in for a full disk part-way through the copy. */
        r = hb__fault_active("store.enospc") ? -ENOSPC : hb__write_full(fd, buf, (size_t)n);
        if (r < 0) {
            hb__store_seterr(s, r, "writing object to %s: %s%s", s->objects_dir, strerror(-r),
                             r == -ENOSPC ? " (the disk holding the state directory is full)" : "");
            goto out_unlink;
        }
    }
    if (fchmod(fd, 0644) < 0) { /* fsync: hb_store_flush, off the swap path */
        r = hb__store_seterr(s, -errno, "setting the mode of an object in %s: %s",
                             s->objects_dir, strerror(errno));
        goto out_unlink;
    }
    int cr = close(fd);
    fd = -1;
    if (cr < 0) {
        r = hb__store_seterr(s, -errno, "closing object in %s: %s", s->objects_dir,
                             strerror(errno));
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

/* The entry for sha whose file is still exactly st, or NULL. */
static hb__seen_object *seen_find(hb_store *s, const char *sha, const struct stat *st)
{
    for (unsigned i = 0; i < HB__SEEN_MAX; i++) {
        hb__seen_object *e = &s->seen[i];
        if (!strcmp(e->sha, sha))
            return hb__file_id_same_bytes(&e->id, st) ? e : NULL;
    }
    return NULL;
}

/* Remembers that the file st holds the bytes named sha. */
static void seen_note(hb_store *s, const char *sha, const struct stat *st)
{
    hb__seen_object *e = NULL;
    for (unsigned i = 0; i < HB__SEEN_MAX && !e; i++)
        if (!strcmp(s->seen[i].sha, sha))
            e = &s->seen[i];
    if (e && hb__file_id_same_bytes(&e->id, st))
        return;
    if (!e)
        e = &s->seen[s->seen_next++ % HB__SEEN_MAX];
    *e = (hb__seen_object){.id = hb__file_id(st), .elf_ok = false};
    memcpy(e->sha, sha, HB_SHA256_HEX);
}

/* Hashes path and compares with sha (and size unless size is UINT64_MAX).
 * Unless full, a file this handle already hashed (or wrote) and that has
 * not changed since is taken as it is. */
static int check_object(hb_store *s, const char *path, const char *sha, uint64_t size,
                        const char *whose, bool full)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        int e = errno;
        if (e == ENOENT)
            return hb__store_seterr(s, -ENOENT, "object %.12s... of %s is missing from %s", sha,
                                    whose,
                                    s->objects_dir);
        return hb__store_seterr(s, -e, "object %.12s... of %s: cannot stat %s: %s", sha, whose,
                                path,
                                strerror(e));
    }
    bool size_ok = size == UINT64_MAX || (uint64_t)st.st_size == size;
    if (!full && size_ok && seen_find(s, sha, &st))
        return 0;
    char got[HB_SHA256_HEX];
    objects_hashed++;
    int r = hb__sha256_file(path, got);
    if (r < 0)
        return hb__store_seterr(s, r, "object %.12s... of %s: cannot read %s: %s", sha, whose, path,
                                strerror(-r));
    if (strcmp(got, sha) != 0)
        return hb__store_seterr(s, HB_ECORRUPT,
                "object %.12s... of %s is corrupt: %s hashes to %.12s... (%lld bytes)",
                sha, whose, path, got, (long long)st.st_size);
    if (!size_ok)
        return hb__store_seterr(s, HB_ECORRUPT,
                                "object %.12s... of %s has %lld bytes, catalogue says %"
                                PRIu64, sha, whose, (long long)st.st_size, size);
    seen_note(s, sha, &st);
    return 0;
}

static int verify_rec(hb_store *s, const hb_version_rec *rec, char **err, bool full)
{
    if (!s || !rec || !rec->plugin)
        return -EINVAL;
    /* The checksum becomes a path: a tampered row must not point elsewhere. */
    if (!is_hex_sha(rec->object_sha256))
        return hb__store_report(s, hb__store_seterr(s, HB_ECORRUPT,
                                                    "%s v%" PRIu64 " has an invalid object "
                                "checksum \"%.70s\" in the catalogue", rec->plugin,
                                rec->version, rec->object_sha256), err);
    char *path = hb_store_object_path(s, rec->object_sha256);
    char *whose = hb__asprintf("%s v%" PRIu64, rec->plugin, rec->version);
    int r = (!path || !whose) ? hb__store_seterr(s, -ENOMEM, "out of memory")
                              : check_object(s, path, rec->object_sha256, rec->size, whose, full);
    free(path);
    free(whose);
    return r < 0 ? hb__store_report(s, r, err) : 0;
}

int hb_store_object_verify(hb_store *s, const hb_version_rec *rec, char **err)
{
    if (!s)
        return -EINVAL;
    hb__store_lock(s);
    int r = verify_rec(s, rec, err, false);
    hb__store_unlock(s);
    return r;
}

int hb__store_verify_full(hb_store *s, const hb_version_rec *rec, char **err)
{
    return verify_rec(s, rec, err, true);
}

/* The entry of an object the last verify (or insert) of this handle saw,
 * still unchanged on disk. */
static hb__seen_object *seen_current(hb_store *s, const char *sha)
{
    char *path = hb_store_object_path(s, sha);
    struct stat st;
    hb__seen_object *e = path && stat(path, &st) == 0 ? seen_find(s, sha, &st) : NULL;
    free(path);
    return e;
}

bool hb_store_object_analysed(hb_store *s, const char *sha256)
{
    if (!s || !sha256)
        return false;
    hb__store_lock(s);
    hb__seen_object *e = seen_current(s, sha256);
    bool ok = e && e->elf_ok;
    hb__store_unlock(s);
    return ok;
}

void hb_store_object_set_analysed(hb_store *s, const char *sha256)
{
    if (!s || !sha256)
        return;
    hb__store_lock(s);
    hb__seen_object *e = seen_current(s, sha256);
    if (e)
        e->elf_ok = true;
    hb__store_unlock(s);
}

/* Remembers an object hb_store_flush must make durable; when the list is
 * full, flushes first (so it never grows without bound). */
static int note_unsynced(hb_store *s, const char *sha)
{
    if (s->nunsynced == HB__UNSYNCED_MAX) {
        int r = hb__store_flush(s);
        if (r < 0)
            return r;
    }
    memcpy(s->unsynced[s->nunsynced++], sha, HB_SHA256_HEX);
    return 0;
}

/* fsyncs one file by path (a missing one is fine: gc removed it). */
static int sync_path(hb_store *s, const char *path, bool data_only)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : hb__store_seterr(s, -errno, "cannot open %s to sync it: %s",
                                                      path, strerror(errno));
    int r = (data_only ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
    close(fd);
    return r < 0 ? hb__store_seterr(s, r, "cannot sync %s: %s", path, strerror(-r)) : 0;
}

int hb__store_flush(hb_store *s)
{
    hb__fault_kill("store.before_flush");
    int r = 0;
    for (unsigned i = 0; i < s->nunsynced && r == 0; i++) {
        char *path = hb_store_object_path(s, s->unsynced[i]);
        r = path ? sync_path(s, path, false) : hb__store_seterr(s, -ENOMEM, "out of memory");
        free(path);
    }
    if (r == 0 && s->nunsynced)
        r = sync_path(s, s->objects_dir, false);
    if (r < 0)
        return r;
    s->nunsynced = 0;
    /* The WAL holds every commit since the last checkpoint: syncing it makes
     * them durable (what synchronous=FULL did at each commit). */
    int changes = s->db ? sqlite3_total_changes(s->db) : 0;
    if (changes != s->synced_changes) {
        char *wal = hb__asprintf("%s-wal", s->db_path);
        r = wal ? sync_path(s, wal, true) : hb__store_seterr(s, -ENOMEM, "out of memory");
        free(wal);
        if (r == 0)
            s->synced_changes = changes;
    }
    return r;
}

int hb_store_flush(hb_store *s, char **err)
{
    if (!s)
        return -EINVAL;
    hb__store_lock(s);
    int r = hb__store_flush(s);
    hb__store_unlock(s);
    return r < 0 ? hb__store_report(s, r, err) : 0;
}

/* Moves the finished temp file to objects/<sha>.so. An existing file of that
 * name is kept when it is intact (another plugin, or an earlier attempt that
 * died before committing) and replaced when it is not. */
static int install_object(hb_store *s, const char *tmp, const char *sha, const char *plugin)
{
    char *dst = hb_store_object_path(s, sha);
    if (!dst) {
        unlink(tmp);
        return hb__store_seterr(s, -ENOMEM, "out of memory");
    }
    int r = 0;
    if (access(dst, F_OK) == 0 && check_object(s, dst, sha, UINT64_MAX, plugin, false) == 0) {
        unlink(tmp);
        goto out;
    }
    hb__fault_kill("store.after_object_tmp");
    if (rename(tmp, dst) < 0) {
        r = hb__store_seterr(s, -errno, "cannot rename %s to %s: %s", tmp, dst, strerror(errno));
        unlink(tmp);
        goto out;
    }
    hb__fault_kill("store.after_object_rename");
    r = note_unsynced(s, sha);
    /* Hashed while it was copied in: a load need not hash it again. */
    struct stat st;
    if (r == 0 && stat(dst, &st) == 0)
        seen_note(s, sha, &st);
out:
    free(dst);
    return r;
}

int hb_store_add(hb_store *s, const char *plugin, const char *object_path,
                 const hb_version_rec *meta, hb_version_rec *out, bool *created, char **err)
{
    if (!s || !object_path || !out || !created)
        return -EINVAL;
    if (!hb__store_valid_plugin(plugin))
        return hb__store_report(s, hb__store_seterr(s, -EINVAL, "invalid plugin name \"%s\"",
                                plugin ? plugin : "(null)"), err);
    char *tmp = NULL;
    char sha[HB_SHA256_HEX];
    uint64_t size = 0;
    /* The slow part (copy + hash + fsync) runs without the catalogue lock
     * and without the handle's lock. */
    int r = copy_to_temp(s, object_path, &tmp, sha, &size);
    if (r < 0)
        return hb__store_report(s, r, err);

    /* From here on the write lock is held: installing the object and
     * committing its row are one step for any other process, and gc (which
     * unlinks unreferenced objects under the same lock) cannot slip between
     * them and leave a row without its object. */
    hb__store_lock(s);
    r = hb__store_exec(s, "BEGIN IMMEDIATE", "begin insert");
    if (r < 0) {
        hb__store_unlock(s);
        unlink(tmp);
        free(tmp);
        return hb__store_report(s, r, err);
    }
    /* Installed even for a duplicate, so a missing file is healed. */
    r = install_object(s, tmp, sha, plugin);
    free(tmp);
    if (r < 0)
        goto rollback;
    hb_version_rec existing;
    r = hb__store_find_by_object(s, plugin, sha, &existing);
    if (r == 0) {
        /* Same bytes as a stored version: no new version. Built from other
         * inputs, it is that version under another input hash: kept, so the
         * compile cache finds it and the same content is not compiled
         * again. A name that cannot be kept only costs that compile. */
        if (hb__store_add_alias(s, &existing, meta) <= 0 ||
            hb__store_exec(s, "COMMIT", "commit an input alias") < 0)
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        hb__store_unlock(s);
        *out = existing;
        *created = false;
        return 0;
    }
    if (r != -ENOENT)
        goto rollback;
    uint64_t version = 0;
    r = hb__store_next_version(s, plugin, &version);
    if (r < 0)
        goto rollback;
    r = hb__store_insert_row(s, plugin, version, sha, size, (int64_t)time(NULL), meta);
    if (r < 0)
        goto rollback;
    hb__fault_kill("store.before_commit");
    r = hb__store_exec(s, "COMMIT", "commit insert");
    if (r < 0)
        goto rollback;
    hb__fault_kill("store.after_commit");
    r = hb_store_get(s, plugin, version, out);
    hb__store_unlock(s);
    if (r < 0)
        return hb__store_report(s, r, err);
    *created = true;
    return 0;
rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    hb__store_unlock(s);
    /* An installed object stays: an unreferenced file, removed by gc. */
    return hb__store_report(s, r, err);
}

/* ------------------------------------------------------------------------ */
bool hb__store_is_object_name(const char *name)
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
int hb__store_object_referenced(hb_store *s, const char *sha, bool *out)
{
    int64_t one;
    int r = hb__store_query_int(s, &one, "query",
                                "SELECT 1 FROM versions WHERE object_sha256=?1 LIMIT 1", sha);
    if (r < 0)
        return r;
    *out = r == 0;
    return 0;
}

int hb__store_scan_objects(hb_store *s, hb__store_entry_fn fn, void *ud)
{
    DIR *d = opendir(s->objects_dir);
    if (!d)
        return hb__store_seterr(s, -errno, "cannot open %s: %s", s->objects_dir, strerror(errno));
    int r = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* vanished meanwhile */
        bool referenced = false;
        if (hb__store_is_object_name(e->d_name)) {
            char sha[HB_SHA256_HEX];
            memcpy(sha, e->d_name, 64);
            sha[64] = '\0';
            r = hb__store_object_referenced(s, sha, &referenced);
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
    if (hb__store_is_object_name(name)) {
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

static int verify_all_locked(hb_store *s, hb_sb *report_sb)
{
    if (!s)
        return -EINVAL;
    hb_sb scratch = HB_SB_INIT;
    struct verify_ctx c = {report_sb ? report_sb : &scratch, 0, 0};
    sqlite3_stmt *st = NULL;
    unsigned catalogue_errors = 0;
    int r = hb__store_prepare(s, "PRAGMA quick_check", &st);
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
    hb__store_finish(s, st);
    st = NULL;
    if (rc != SQLITE_DONE) {
        r = hb__store_dberr(s, rc, "integrity check");
        goto out;
    }

    r = hb__store_prepare(s, "SELECT " REC_COLUMNS " FROM versions ORDER BY plugin, version", &st);
    if (r < 0)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        hb_version_rec rec;
        r = hb__store_read_rec(s, st, &rec);
        if (r < 0)
            goto out;
        if (hb__store_verify_full(s, &rec, NULL) < 0) {
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
    hb__store_finish(s, st);
    st = NULL;
    if (rc != SQLITE_DONE) {
        r = hb__store_dberr(s, rc, "reading versions");
        goto out;
    }

    r = hb__store_prepare(s,
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
    hb__store_finish(s, st);
    st = NULL;

    r = hb__store_scan_objects(s, verify_entry, &c);
    if (r < 0)
        goto out;
    if (catalogue_errors) {
        hb__sb_addf(c.report, "hint: %s\n", "stop every hotbox using this state directory and "
                    "run `hotbox store recover`");
        r = hb__store_seterr(s, HB_ECATALOG, "store %s: the catalogue is damaged: %u error(s), %u "
                             "warning(s)", s->state_dir, c.errors, c.warnings);
    } else if (c.errors) {
        r = hb__store_seterr(s, HB_ECORRUPT, "store %s: %u error(s), %u warning(s)", s->state_dir,
                             c.errors, c.warnings);
    }
out:
    if (st)
        hb__store_finish(s, st);
    hb__sb_release(&scratch);
    return r;
}

int hb_store_verify_all(hb_store *s, hb_sb *report_sb)
{
    if (!s)
        return -EINVAL;
    hb__store_lock(s);
    int r = verify_all_locked(s, report_sb);
    hb__store_unlock(s);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Garbage collection                                                        */
/* ------------------------------------------------------------------------ */
