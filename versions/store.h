/*
 * versions/store.h - the version store: content-addressed objects under
 * <state_dir>/objects/<sha256>.so and a SQLite catalogue <state_dir>/hotbox.db
 * (WAL). Each plugin's versions are numbered from 1, monotonically.
 *
 * Object files are written atomically (temp, rename) before their
 * catalogue row is committed, so a killed process leaves at worst an
 * unreferenced object, never a row without its object. Syncing to disk
 * (objects, objects/, the catalogue's WAL) is deferred to hb_store_flush,
 * off the swap path; the argument is at the top of objects.c. An object's
 * checksum is its name; hb_store_object_verify re-hashes before a load.
 *
 * A store handle is thread-safe: it has its own lock, taken by every entry
 * point for the duration of that call (the copy and hash of a new object in
 * hb_store_add runs outside it), so callers need no lock of their own
 * around store calls. SQLite's own locking orders this process against
 * others sharing the state directory.
 *
 * The files: catalog.c (schema, migrations, opening), records.c (version
 * rows and queries), input_sets.c (the input-set keys the compile cache's
 * query uses), objects.c (object files, hb_store_add, verification),
 * gc.c, checkpoints.c, recover.c; store_int.h is private to them.
 */
#ifndef HB_STORE_H
#define HB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hotbox/hotbox.h"
#include "util.h"

typedef struct hb_store hb_store;

/* A catalogue row. Strings are owned by the record; release with
 * hb_version_rec_release. */
typedef struct hb_version_rec {
    char *plugin;
    uint64_t version;
    char object_sha256[HB_SHA256_HEX];
    char input_hash[HB_SHA256_HEX];
    uint64_t size;
    int64_t created;               /* unix seconds */
    hb_version_status status;
    /* Lists: NULL-terminated arrays (hb__strv_*), in order; empty (never
     * NULL) in a record the store returns; NULL in `meta` means empty.
     * Stored as rows of the version_lists table, one per element. */
    char **inputs;                 /* input files the compile read (depfile) */
    char **exports;                /* dynamic exports */
    char **imports;                /* undefined dynamic symbols */
    char **needed;                 /* DT_NEEDED */
    char **depends;                /* names of the plugins it depends on */
    int upgrade_result;            /* an hb_upgrade_result: `hotbox test --upgrade` */
    uint64_t upgrade_base;         /* the version that upgrade run started from */
    /* Where the object came from: empty for a compile; for a prebuilt
     * object loaded with hb_load_object, {HB_ORIGIN_PREBUILT, the file's
     * absolute path} (a list: rows of version_lists like the others). */
    char **origin;
} hb_version_rec;

#define HB_ORIGIN_PREBUILT "prebuilt"

/* The source path of a prebuilt version, or NULL for a compiled one. */
const char *hb_version_rec_prebuilt_from(const hb_version_rec *r);

void hb_version_rec_release(hb_version_rec *r);

/* Opens or creates the store in state_dir (creating objects/ and hotbox.db).
 * On failure *err explains. A new catalogue is made in a private file and
 * linked into place, so any number of processes may open a fresh state
 * directory at once, and no opener ever sees a half-made catalogue.
 * History is never discarded silently: a hotbox.db that is empty, cut
 * short, not an SQLite file, or that SQLite finds damaged, and a missing
 * hotbox.db next to stored objects, fail with HB_ECATALOG naming the file
 * and the condition (and hb_store_recover as the way out); nothing is
 * changed on disk. */
int hb_store_open(const char *state_dir, hb_store **out, char **err);

/* Rebuilds a damaged or missing catalogue. Unless force, refuses
 * (-EEXIST) when the store opens and verifies without catalogue errors.
 * The damaged hotbox.db (with its -wal/-shm) is kept, renamed
 * hotbox.db.damaged-<UTC time>; a new catalogue gets every row of the old
 * one that can still be read (versions, counters, checkpoints), minus
 * versions whose object is missing or does not match its checksum; version
 * counters never go back. Appends an account, one line per finding, to
 * *report. Other processes must not use the store meanwhile. */
int hb_store_recover(const char *state_dir, bool force, hb_sb *report);
/* Flushes first (hb_store_flush; its error is dropped). */
void hb_store_close(hb_store *s);

/* Makes everything this handle committed durable against power loss:
 * fsyncs the objects added since the last flush, objects/, then the
 * catalogue's WAL when this handle changed rows since. Commits are already
 * safe against a killed process without it (objects.c). The harness calls
 * it right after a reload, load or rollback. */
int hb_store_flush(hb_store *s, char **err);

/* Adds the object at object_path (a finished compile output) as a new
 * version of plugin. The object is copied into objects/ under its checksum.
 * When a version of this plugin with the same object checksum exists, no new
 * version is created: that version's record is returned and *created is
 * false; meta's input hash, when set and not that version's own, becomes
 * another name of it (hb_store_find_input finds it). Fields of `meta` that are set (input_hash, inputs, exports, imports,
 * needed, depends) are stored; plugin/version/sha/size/created/status are
 * computed. New versions start as HB_VERSION_CANDIDATE. */
int hb_store_add(hb_store *s, const char *plugin, const char *object_path,
                 const hb_version_rec *meta, hb_version_rec *out, bool *created,
                 char **err);

/* Looks up one version. -ENOENT (HB_ENOVERSION from the harness) if absent. */
int hb_store_get(hb_store *s, const char *plugin, uint64_t version, hb_version_rec *out);

/* The newest version of plugin whose input_hash equals hash (cache hit),
 * or that hash names: a build whose object was byte for byte a stored
 * version's (hb_store_add made no version) keeps its input hash as another
 * name of that version. */
int hb_store_find_input(hb_store *s, const char *plugin, const char *input_hash,
                        hb_version_rec *out);

/* The newest version (any status), or -ENOENT. */
int hb_store_latest(hb_store *s, const char *plugin, hb_version_rec *out);

/* All versions of a plugin, oldest first. Free with hb_store_list_free. */
int hb_store_list(hb_store *s, const char *plugin, hb_version_rec **out, size_t *n);
void hb_store_list_free(hb_version_rec *v, size_t n);

/* The distinct input sets of plugin's versions, newest first, at most max:
 * for each set (the inputs and depends lists of a compiled version; a
 * version without inputs has none), the newest version built from it, as
 * a record whose only lists are inputs and depends (exports, imports,
 * needed and origin are NULL: the compile cache hashes the inputs, and
 * reads its hit whole with hb_store_find_input). What the compile cache
 * tries; the same answer as scanning hb_store_list from the newest and
 * skipping repeated (inputs, depends) pairs, but a few index steps
 * whatever the history's length. Free with hb_store_list_free. */
int hb_store_input_sets(hb_store *s, const char *plugin, size_t max, hb_version_rec **out,
                        size_t *n);

/* The newest version of plugin whose status is in `statuses` (a set of
 * bits, 1u << status), older than `below` and other than `exclude` (0:
 * none): 0 and *out, -ENOENT when there is none, or an error. A few index
 * steps (versions_by_status) however long the history is: the fallback
 * policy's question (versions/policy.h). */
int hb_store_newest_of(hb_store *s, const char *plugin, unsigned statuses, uint64_t below,
                       uint64_t exclude, hb_version_rec *out);

/* (history.c) The same question, answering only the version number. */
int hb_store_newest_version(hb_store *s, const char *plugin, unsigned statuses, uint64_t below,
                            uint64_t exclude, uint64_t *out);

/* (history.c) The version and status of each version of plugin newer than
 * `above` (0: all), oldest first: two columns of the versions table, none
 * of the lists. *out: malloc'ed (free), *n entries (0 and NULL when none). */
typedef struct hb_version_stat {
    uint64_t version;
    hb_version_status status;
} hb_version_stat;
int hb_store_statuses(hb_store *s, const char *plugin, uint64_t above, hb_version_stat **out,
                      size_t *n);

/* (history.c) One list of one version (0: the newest), in its stored
 * order, NULL-terminated (hb__strv_free; empty when it has none): the rows
 * of that list only. -ENOENT when there is no such version. */
typedef enum hb_store_list_kind {
    HB_STORE_LIST_EXPORTS,
    HB_STORE_LIST_DEPENDS,
} hb_store_list_kind;
int hb_store_version_list(hb_store *s, const char *plugin, uint64_t version,
                          hb_store_list_kind list, char ***out);

/* How many list items (rows of version_lists) this handle has read so
 * far: tests count what a path reads with it. */
uint64_t hb_store_list_items_read(hb_store *s);

/* Names of all plugins with at least one version, sorted (NULL-terminated). */
int hb_store_plugins(hb_store *s, char ***out);

/* The plugins other than `plugin` whose newest version exports one of
 * imports (NULL: none), sorted (NULL-terminated; empty when none): an
 * index step per import, not a read of every plugin's record. */
int hb_store_providers(hb_store *s, const char *plugin, char *const *imports, char ***out);

int hb_store_set_status(hb_store *s, const char *plugin, uint64_t version,
                        hb_version_status status);

/* A version's status alone (one column: not its lists); -ENOENT when the
 * store has no such version. */
int hb_store_status(hb_store *s, const char *plugin, uint64_t version, hb_version_status *out);

/* Records the outcome of an upgrade-path test run of plugin `version`
 * started from `base` (result: an hb_upgrade_result). -ENOENT when there is
 * no such version. */
int hb_store_set_upgrade_result(hb_store *s, const char *plugin, uint64_t version,
                                uint64_t base, int result);

/* Absolute path of an object by checksum (malloc'ed). */
char *hb_store_object_path(hb_store *s, const char *sha256);

/* Checks the object of rec against its checksum and size before a load:
 * 0, -ENOENT (missing file) or HB_ECORRUPT; *err says which and where.
 * Each object is hashed once per handle: a file this handle wrote (its
 * digest taken while copying it in) or already hashed, and that is
 * unchanged since (same device, inode, size and mtime in nanoseconds: a
 * write changes mtime; only a deliberate utimes() could hide one), is not
 * hashed again. hb_store_verify_all always hashes. */
int hb_store_object_verify(hb_store *s, const hb_version_rec *rec, char **err);

/* Whether the ELF analysis of the object named sha256 passed, as recorded
 * with hb_store_object_set_analysed for the same unchanged file (see
 * hb_store_object_verify); so each object is analysed once. */
bool hb_store_object_analysed(hb_store *s, const char *sha256);
void hb_store_object_set_analysed(hb_store *s, const char *sha256);

/* Object files hashed by any store in this process (copy-in and
 * verification), for tests and benches: one per new object per reload. */
uint64_t hb_store_objects_hashed(void);

/* ---- Additions (versions module; compatible extensions) ---------------- */

/* Text of the calling thread's last failed store call (also for the calls
 * without an err parameter); per thread, since threads share a store.
 * Never NULL; "" when there was none. */
const char *hb_store_last_error(hb_store *s);

/* The objects directory (absolute, no trailing slash). */
const char *hb_store_objects_dir(hb_store *s);

/* Which status changes hb_store_set_status accepts. A version only becomes
 * GOOD after it was ACTIVE (or ROLLED_BACK, i.e. it was live before); a BAD
 * version only leaves BAD by being made ACTIVE again on explicit request (a
 * user rollback to it) or CANDIDATE. Setting the current status is a no-op
 * and always allowed. Anything else is -EINVAL with the reason as last
 * error. */
bool hb_store_status_transition_ok(hb_version_status from, hb_version_status to);

/* Checks the whole store: SQLite's quick_check, every row's object exists
 * with the recorded checksum and size, the version counter of every plugin
 * is at least its highest version. Problems are appended to *report one per
 * line, prefixed "error: " (inconsistencies) or "warning: " (unreferenced
 * objects, leftover temporary files: a crash can leave them, they are
 * harmless and hb_store_gc removes them). Returns 0 when there is no error
 * (warnings allowed), HB_ECORRUPT when there is one, or a negative errno
 * when the check itself could not run. report may be NULL. */
int hb_store_verify_all(hb_store *s, hb_sb *report);

/* A (plugin, version) pair, e.g. a version live in some sandbox. */
typedef struct hb_store_ref {
    const char *plugin;
    uint64_t version;
} hb_store_ref;

/* Removes old versions: for every plugin keeps its newest keep_n versions,
 * every version in `protect` (the harness passes the versions live in its
 * sandboxes), every version whose status is ACTIVE, and the newest GOOD
 * version; removes the rest (rows first, in one transaction, then object
 * files no remaining row references). Also removes every other unreferenced
 * object (crash leftovers) and temporary files older than
 * HB_STORE_GC_GRACE_S (younger ones may belong to an insert in progress in
 * another process). Safe against concurrent inserts from other processes.
 * Version numbers are never reused after gc. *removed (may be NULL) is the
 * number of rows removed. */
#define HB_STORE_GC_GRACE_S 600
int hb_store_gc(hb_store *s, unsigned keep_n, const hb_store_ref *protect,
                size_t nprotect, size_t *removed, char **err);

/* State checkpoints. The store keeps, per (plugin, sandbox, schema), the
 * newest checkpoint; put replaces the previous one of the same schema. */
#define HB_STORE_MAX_CHECKPOINT (256u << 20)
typedef struct hb_checkpoint_rec {
    uint64_t version;   /* version whose save() produced the blob */
    uint32_t schema;    /* state schema of the blob */
    void *blob;         /* malloc'ed (non-NULL even when len is 0) */
    size_t len;
    int64_t created;    /* unix seconds */
} hb_checkpoint_rec;

int hb_store_checkpoint_put(hb_store *s, const char *plugin, const char *sandbox,
                            uint64_t version, uint32_t schema, const void *blob,
                            size_t len);

/* The newest checkpoint of plugin in sandbox, of state schema `schema`, or of
 * any schema when schema is negative. -ENOENT when there is none. */
int hb_store_checkpoint_get(hb_store *s, const char *plugin, const char *sandbox,
                            int64_t schema, hb_checkpoint_rec *out);
void hb_checkpoint_rec_release(hb_checkpoint_rec *c);

/* Removes every checkpoint of plugin in sandbox (e.g. on unload). */
int hb_store_checkpoint_drop(hb_store *s, const char *plugin, const char *sandbox);

/* Named state snapshots (snapshots.c): per (plugin, name), the state blob,
 * the version whose save() wrote it and its state schema. put replaces a
 * snapshot of the same name. get: -ENOENT when there is none. Names are
 * 1 to HB_STORE_MAX_SNAPSHOT_NAME bytes of [A-Za-z0-9._-]. */
#define HB_STORE_MAX_SNAPSHOT_NAME 128
bool hb_store_valid_snapshot_name(const char *name);
int hb_store_snapshot_put(hb_store *s, const char *plugin, const char *name, uint64_t version,
                          uint32_t schema, const void *blob, size_t len);
int hb_store_snapshot_get(hb_store *s, const char *plugin, const char *name,
                          hb_checkpoint_rec *out);
/* Names of plugin's snapshots, sorted, as a malloc'ed array of malloc'ed
 * strings (free with hb_store_snapshot_names_free). */
int hb_store_snapshot_list(hb_store *s, const char *plugin, char ***names, size_t *n);
void hb_store_snapshot_names_free(char **names, size_t n);
/* -ENOENT when there is no such snapshot. */
int hb_store_snapshot_delete(hb_store *s, const char *plugin, const char *name);

/* SQL statements compiled by any store in this process (each text once
 * per connection: later uses reuse it), for tests and benches. */
uint64_t hb_store_statements_prepared(void);

#endif /* HB_STORE_H */
