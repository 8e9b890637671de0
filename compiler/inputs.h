/*
 * compiler/inputs.h - private: the files a compile read.
 *
 * hb__collect_inputs turns a compile's depfiles into the sorted, unique,
 * absolute list of the files it read. hb__input_hash frames, in order: a
 * format tag, the compiler identity (resolved binary path and first line of
 * `cc --version`), the canonical flags (plan.h: hb__plan_hashed_flags) and
 * then every input (sorted) as its path and the SHA-256 of its content.
 *
 * hb__hash_files hashes each input's content (regular files only, see
 * hb__sha256_file), through the process-wide cache of util/hashcache.c:
 * an input whose identity did not change since anyone (the watcher, watch
 * mode's digests, an earlier compile) hashed it is not read again. The snapshot tells whether any input may have changed
 * while the compiler ran (the method is described in inputs.c): compiler.c
 * takes one before each attempt and checks it after hashing, and compiles
 * again, at most HB__COMPILE_ATTEMPTS times in all.
 */
#ifndef HB_COMPILER_INPUTS_H
#define HB_COMPILER_INPUTS_H

#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#include "fileid.h"
#include "util.h"

#define HB__COMPILE_ATTEMPTS 3

/* The inputs the depfiles name (relative ones are relative to cwd, the
 * compiler's working directory), absolute, sorted, without duplicates. 0
 * or a negative code with *err. */
int hb__collect_inputs(const char *cwd, char *const *depfiles, char ***out, char **err);

/* Adds path to the sorted inputs *inputs unless it is there (plugin.json,
 * which no depfile names). 0 or -ENOMEM. */
int hb__inputs_add(char ***inputs, const char *path);

/* A sorted deep copy of v; NULL on ENOMEM. */
char **hb__sorted_copy(char *const *v);

/* The input hash (see above); file_hashes[i] is sorted_inputs[i]'s. */
int hb__input_hash(const char *cc_real, const char *cc_version, char *const *flags,
                   char *const *sorted_inputs, const char (*file_hashes)[HB_SHA256_HEX],
                   char out[HB_SHA256_HEX]);

/* The SHA-256 of every input's content, in order, in a malloc'ed array. A
 * non-regular input (FIFO, device, /proc file) fails with -EINVAL and *bad
 * (when not NULL) names it; other errors are -errno. */
int hb__hash_files(char *const *inputs, char (**out)[HB_SHA256_HEX], const char **bad);

/* ---- what an isolated compile was shown ----------------------------------
 *
 * The depfiles and diagnostics of a compile are written by the compiler,
 * which may be hostile (plugin.json's "-MT", a "#line" directive, a "cc" or
 * "-wrapper" of the repository's): every path in them is a claim. The
 * manager reads, hashes, stores and watches inputs on the host, as its own
 * uid (root in CI), and a front end shows a diagnostic's source line, so
 * for a compile in an isolated backend only paths inside what the backend
 * showed it are taken at their word: the view. */

/* The view of an isolated compile: each of dirs (NULL entries skipped,
 * nd of them), its real path when that differs (a plugin directory that is
 * a symlink), and /usr. NULL on ENOMEM. */
char **hb__view_new(const char *const *dirs, size_t nd);

/* Whether path (absolute) is in the view: its real path (symlinks followed)
 * lies under one of view's directories; a path that does not resolve must
 * be under one as written and hold no "." or ".." component. */
bool hb__in_view(const char *path, char *const *view);

/* The first of inputs that is not in the view, or NULL. */
const char *hb__inputs_outside_view(char *const *inputs, char *const *view);

typedef struct hb__snap_ent {
    char *path;
    hb_file_id id;
    char hash[HB_SHA256_HEX];
} hb__snap_ent;

typedef struct hb__snapshot {
    struct timespec t0;
    hb__snap_ent *v;
    size_t n;
} hb__snapshot;

/* Replaces *s with a snapshot of sources and prev (either may list files
 * that are gone; prev may be NULL). 0 or -ENOMEM. */
int hb__snapshot_take(hb__snapshot *s, char *const *sources, char *const *prev);

/* hb_compiler_list_sources with a sentence in *err (NULL: none) for a
 * source whose name holds a control character (a newline): -EILSEQ,
 * naming the file (escaped) and the plugin directory. Such a name is
 * refused before any compile: the depfile and diagnostics are lines. */
int hb__compiler_list_sources(const char *plugin_dir, char ***out, char **err);

#define HB__SOURCES_MAX 4096

/* plugin.json's "sources" entries (relative, as written) expanded against
 * plugin_dir (sources.c): each file, or a directory's source files
 * recursively in sorted order, absolute, each once, in the order listed.
 * An entry that is missing, not a source, or leads outside the plugin
 * directory fails with *err naming it and plugin.json. */
int hb__sources_expand(const char *plugin_dir, char *const *entries, char ***out, char **err);

/* The first of inputs that may have changed since the snapshot, or NULL.
 * Call after hashing the inputs (hashes[i] is inputs[i]'s content). */
const char *hb__snapshot_changed(const hb__snapshot *s, char *const *inputs,
                                 const char (*hashes)[HB_SHA256_HEX]);

void hb__snapshot_release(hb__snapshot *s);

#endif /* HB_COMPILER_INPUTS_H */
