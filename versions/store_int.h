/*
 * versions/store_int.h - private to the store's files (catalog.c,
 * records.c, objects.c, gc.c, checkpoints.c, recover.c): the handle, the
 * catalogue's column lists, and the helpers every file reports through.
 *
 * Every helper here expects the caller to hold s->lock (the public entry
 * points take it; see store.h).
 */
#ifndef HB_STORE_INT_H
#define HB_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "fileid.h"
#include "store.h"

#define OBJ_SUFFIX ".so"
#define TMP_PREFIX ".tmp-"
#define MAX_PLUGIN_NAME 127 /* fits hb_version_info.plugin[128] */
#define COPY_CHUNK (1u << 16)
#define MAX_OBJECT_SIZE ((uint64_t)1 << 30)

/* An object file this handle hashed (or wrote) and found matching its
 * name, by its identity (util/fileid.h), compared without ctime
 * (hb__file_id_same_bytes): the harness hard-links objects into its jails,
 * which moves ctime but not the bytes. */
typedef struct hb__seen_object {
    char sha[HB_SHA256_HEX];
    hb_file_id id;
    bool elf_ok; /* the ELF analysis of these bytes passed */
} hb__seen_object;
#define HB__SEEN_MAX 64
#define HB__UNSYNCED_MAX 32

/* A prepared statement kept for the next use of the same SQL text on the
 * same connection (catalog.c, hb__store_prepare): compiling a statement
 * (an INSERT into versions compiles its triggers too) cost more than
 * running it, several times per reload. `busy` while a caller holds it;
 * hb__store_finish resets it. */
typedef struct hb__stmt_slot {
    sqlite3 *db;
    char *sql; /* a copy of the text */
    sqlite3_stmt *st;
    bool busy;
} hb__stmt_slot;
#define HB__STMT_CACHE 48

struct hb_store {
    pthread_mutex_t lock; /* recursive: entry points call each other */
    hb__seen_object seen[HB__SEEN_MAX]; /* a ring, newest at seen_next - 1 */
    unsigned seen_next;
    sqlite3 *db;
    hb__stmt_slot stmts[HB__STMT_CACHE];
    size_t nstmts;
    uint64_t list_items_read; /* rows read_lists read (hb_store_list_items_read) */
    char *state_dir;
    char *objects_dir;
    char *db_path;
    /* Objects written since the last hb_store_flush, not fsynced yet, and
     * sqlite3_total_changes at that flush (the WAL needs a sync when it
     * moved). See the durability argument in objects.c. */
    char unsynced[HB__UNSYNCED_MAX][HB_SHA256_HEX];
    unsigned nunsynced;
    int synced_changes;
};

/* What to do about a damaged catalogue, appended to every such error. */
#define RECOVER_HINT                                                                      \
    "nothing was changed; stop every hotbox using this state directory and run "          \
    "`hotbox store recover` (or hb_catalogue_recover): it keeps the damaged file and "        \
    "builds a new catalogue from what can be read"

/* The columns a new row is inserted with; the rest keep their defaults. */
#define INSERT_COLUMNS "plugin, version, object_sha256, input_hash, size, created, status"
#define REC_COLUMNS INSERT_COLUMNS ", upgrade_result, upgrade_base"
/* The versions table's columns in older schemas (recovery salvages an old
 * catalogue in its own schema, then migrates it). */
#define V1_COLUMNS INSERT_COLUMNS ", inputs, exports, imports, needed, depends"
#define V2_COLUMNS V1_COLUMNS ", upgrade_result, upgrade_base"
#define LIST_COLUMNS "plugin, version, list, pos, item"

/* version_lists.list: which list of a version a row belongs to. */
enum hb__store_list {
    HB__LIST_INPUTS,
    HB__LIST_EXPORTS,
    HB__LIST_IMPORTS,
    HB__LIST_NEEDED,
    HB__LIST_DEPENDS,
    HB__LIST_ORIGIN, /* appended: a catalogue of an older hotbox skips rows it does not know */
    HB__NLISTS
};

/* ---- catalog.c ---- */
/* Sets the store's last error; returns code. */
int hb__store_seterr(hb_store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Copies the store's last error to *err (when err is non-NULL); returns code. */
int hb__store_report(hb_store *s, int code, char **err);
/* An SQLite result as a hotbox code, with the last error naming the file. */
int hb__store_dberr(hb_store *s, int rc, const char *what);
int hb__store_exec(hb_store *s, const char *sql, const char *what);
/* Ends the open transaction by r, the result of its work: commits when r is
 * 0 or more (returning the commit's result, `what` naming it in an error),
 * else rolls back and returns r. */
int hb__store_end_tx(hb_store *s, int r, const char *what);
/* Prepares sql, or takes the statement kept from an earlier use of the
 * same text on this connection. Every
 * statement from here (and from the prepare_bind forms) ends with
 * hb__store_finish, never sqlite3_finalize. */
int hb__store_prepare(hb_store *s, const char *sql, sqlite3_stmt **st);
/* Done with st: a kept statement is reset for its next use (so it holds no
 * read transaction open), any other finalized. NULL is fine. */
void hb__store_finish(hb_store *s, sqlite3_stmt *st);
/* Closes a connection of s (the catalogue's, or a scratch one being
 * created), finalizing the statements kept for it first. */
void hb__store_close_db(hb_store *s, sqlite3 *db);
/* Prepares sql and binds ?1, ?2, ... from the arguments, one per character
 * of fmt: 't' const char * (text), 'u' uint64_t, 'I' int64_t, 'i' int,
 * 'b' const void * and size_t (a blob). */
int hb__store_prepare_bind(hb_store *s, sqlite3_stmt **st, const char *sql, const char *fmt, ...);
int hb__store_vprepare_bind(hb_store *s, sqlite3_stmt **st, const char *sql, const char *fmt,
                            va_list ap);
/* prepare_bind, one step that must finish (an INSERT, UPDATE or DELETE),
 * finish: 0 or an error naming `what`. */
int hb__store_run(hb_store *s, const char *what, const char *sql, const char *fmt, ...);
/* Column 0 of the first row of sql (?1 bound to key unless NULL) into
 * *out: 0, 1 when there is no row (*out untouched), or an error naming
 * `what`. */
int hb__store_query_int(hb_store *s, int64_t *out, const char *what, const char *sql,
                        const char *key);
/* Steps st, a SELECT of (version, schema, blob, created) from the
 * checkpoints or snapshots table, into *out (the blob copied), when r (the
 * result of preparing st) is 0; else returns r. Gives 0, -ENOENT with the
 * error text missing_fmt, ... when there is no row, or an error naming
 * `what`. Finishes st. */
int hb__store_state_row(hb_store *s, int r, sqlite3_stmt *st, const char *what,
                        hb_checkpoint_rec *out, const char *missing_fmt, ...)
    __attribute__((format(printf, 6, 7)));
uint32_t hb__store_be32(const unsigned char *p);
/* Brings the open catalogue's schema up to date (one transaction). */
int hb__store_migrate(hb_store *s);
/* The schema version this code writes (the number of migrations). */
int hb__store_schema_version(void);
/* Brings it to schema version `target` only (recovery). */
int hb__store_migrate_to(hb_store *s, int target);
/* Creates a catalogue of schema version target (<= 0: the current one). */
int hb__store_create_catalogue(hb_store *s, int target);
int hb__store_open_catalogue(hb_store *s);
/* ---- input_sets.c ---- */
/* The schema version that added versions.input_set and input_sets. */
#define HB__STORE_SCHEMA_INPUT_SETS 5
/* The schema version that added input_aliases (records.c, objects.c). */
#define HB__STORE_SCHEMA_ALIASES 7
/* The key of a version's input set: a digest of its inputs and depends
 * lists (framed, in order); "" when inputs is empty (no compile inputs: a
 * prebuilt object, which no cache lookup can hit). */
void hb__store_input_set_key(char *const *inputs, char *const *depends,
                             char out[HB_SHA256_HEX]);
/* Sets input_set of every row that has inputs but no key yet (rows of a
 * catalogue from before schema 5, rows salvaged by recovery); the
 * triggers then fill input_sets. */
int hb__store_input_sets_fill(hb_store *s);
/* Removes an SQLite file and its -wal and -shm files (missing ones are fine). */
void hb__store_unlink_db(const char *path);
/* Fills the handle's paths and creates the state and objects directories. */
int hb__store_init(hb_store *s, const char *state_dir);
/* A handle with its lock initialised, nothing else (free: hb_store_close). */
hb_store *hb__store_alloc(void);
/* The handle's lock, taken by every public entry point. */
void hb__store_lock(hb_store *s);
void hb__store_unlock(hb_store *s);

/* ---- records.c ---- */
/* Reads the current row of st (REC_COLUMNS) and the version's lists. */
int hb__store_read_rec(hb_store *s, sqlite3_stmt *st, hb_version_rec *out);
/* Steps st (from hb__store_prepare_bind), a query of REC_COLUMNS, for one
 * row: 0, -ENOENT when there is no row, or an error. Finishes st. */
int hb__store_query_one(hb_store *s, sqlite3_stmt *st, hb_version_rec *out);
bool hb__store_valid_plugin(const char *p);
/* Column 0 of every row of sql (?1 bound to key unless NULL) as a
 * NULL-terminated list (hb__strv_free), under the store's lock. */
int hb__store_query_texts(hb_store *s, char ***out, const char *what, const char *sql,
                          const char *key);
int hb__store_find_by_object(hb_store *s, const char *plugin, const char *sha,
                             hb_version_rec *out);
int hb__store_next_version(hb_store *s, const char *plugin, uint64_t *out);
int hb__store_insert_row(hb_store *s, const char *plugin, uint64_t version, const char *sha,
                         uint64_t size, int64_t created, const hb_version_rec *meta);
/* Inside a transaction: keeps meta's input hash as another name of the
 * stored version `to` (whose object a new build reproduced byte for byte)
 * when it has one and it is not to's own. 1 when it wrote a row, 0 when
 * there was nothing to keep, or an error. */
int hb__store_add_alias(hb_store *s, const hb_version_rec *to, const hb_version_rec *meta);

/* ---- objects.c ---- */
/* Hashes the object of rec and compares (checksum, size) - always, unlike
 * hb_store_object_verify, which trusts an unchanged file it hashed before.
 * For verify_all and recovery. */
int hb__store_verify_full(hb_store *s, const hb_version_rec *rec, char **err);
/* Whether name is "<64 hex>.so", a stored object's file name. */
bool hb__store_is_object_name(const char *name);
int hb__store_object_referenced(hb_store *s, const char *sha, bool *out);
typedef void (*hb__store_entry_fn)(hb_store *s, const char *name, const struct stat *st,
                                   bool referenced, void *ud);
/* Calls fn for every object or temp file in objects/ (referenced is only
 * meaningful for objects). */
int hb__store_scan_objects(hb_store *s, hb__store_entry_fn fn, void *ud);
/* hb_store_flush with the lock held. */
int hb__store_flush(hb_store *s);

#endif /* HB_STORE_INT_H */
