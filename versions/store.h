/*
 * versions/store.h - the version store: content-addressed objects under
 * <state_dir>/objects/<sha256>.so and a SQLite catalogue <state_dir>/hotbox.db
 * (WAL). Each plugin's versions are numbered from 1, monotonically.
 *
 * Object files are written atomically (temp, fsync, rename, directory
 * fsync) before their catalogue row is committed, so a crash leaves at worst
 * an unreferenced object, never a row without its object. An object's
 * checksum is its name; hb_store_object_verify re-hashes before a load.
 *
 * A store handle is not thread-safe; the harness serialises access.
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
    char *inputs;                  /* newline-separated input file list (depfile) */
    char *exports;                 /* newline-separated dynamic exports (may be "") */
    char *imports;                 /* newline-separated undefined symbols */
    char *needed;                  /* newline-separated DT_NEEDED */
    char *depends;                 /* newline-separated plugin names it depends on */
} hb_version_rec;

void hb_version_rec_release(hb_version_rec *r);

/* Opens or creates the store in state_dir (creating objects/ and hotbox.db).
 * On failure *err explains. */
int hb_store_open(const char *state_dir, hb_store **out, char **err);
void hb_store_close(hb_store *s);

/* Adds the object at object_path (a finished compile output) as a new
 * version of plugin. The object is copied into objects/ under its checksum.
 * When a version of this plugin with the same object checksum exists, no new
 * version is created: that version's record is returned and *created is
 * false. Fields of `meta` that are set (input_hash, inputs, exports, imports,
 * needed, depends) are stored; plugin/version/sha/size/created/status are
 * computed. New versions start as HB_VERSION_CANDIDATE. */
int hb_store_add(hb_store *s, const char *plugin, const char *object_path,
                 const hb_version_rec *meta, hb_version_rec *out, bool *created,
                 char **err);

/* Looks up one version. -ENOENT (HB_ENOVERSION from the harness) if absent. */
int hb_store_get(hb_store *s, const char *plugin, uint64_t version, hb_version_rec *out);

/* The newest version of plugin whose input_hash equals hash (cache hit). */
int hb_store_find_input(hb_store *s, const char *plugin, const char *input_hash,
                        hb_version_rec *out);

/* The newest version (any status), or -ENOENT. */
int hb_store_latest(hb_store *s, const char *plugin, hb_version_rec *out);

/* All versions of a plugin, oldest first. Free with hb_store_list_free. */
int hb_store_list(hb_store *s, const char *plugin, hb_version_rec **out, size_t *n);
void hb_store_list_free(hb_version_rec *v, size_t n);

/* Names of all plugins with at least one version, sorted (NULL-terminated). */
int hb_store_plugins(hb_store *s, char ***out);

int hb_store_set_status(hb_store *s, const char *plugin, uint64_t version,
                        hb_version_status status);

/* Absolute path of an object by checksum (malloc'ed). */
char *hb_store_object_path(hb_store *s, const char *sha256);

/* Re-hashes the object of rec and compares with its checksum: 0, -ENOENT
 * (missing file) or HB_ECORRUPT; *err says which and where. */
int hb_store_object_verify(hb_store *s, const hb_version_rec *rec, char **err);

#endif /* HB_STORE_H */
