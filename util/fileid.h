/*
 * util/fileid.h - the one "has this file changed since I looked?" test:
 * a file's identity as stat() gives it, compared to the nanosecond. Every
 * cache of what a file holds keys on it: the content-hash cache
 * (util/hashcache.c), the compiler's input snapshot (compiler/inputs.c),
 * the watcher's stat fast path (watcher/settle.c) and the store's record
 * of the objects it wrote or verified (versions/objects.c).
 *
 * Identity is device, inode, size, mtime and ctime. A write always moves
 * mtime and ctime, but two writes in the same clock tick leave them equal
 * ("racy git"), so a cache may trust an identity only for a file whose
 * ctime is before the moment it started reading (hb__file_id_racy).
 * ctime cannot be set from userspace; mtime can (touch -d, utimensat).
 *
 * hb__file_id_same_bytes leaves ctime out. It is only for content-addressed
 * files that nobody but their owner writes (the store's objects): the
 * harness hard-links them into worker jails (security/jail.c, link()), and
 * every link() and unlink() of a name moves the inode's ctime (it changes
 * st_nlink) while the bytes stay the same, so with ctime every load would
 * hash the object again. A writer that restores mtime by hand defeats it;
 * hb__store_verify_full (hotbox verify) always reads the bytes.
 */
#ifndef HB_UTIL_FILEID_H
#define HB_UTIL_FILEID_H

#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

typedef struct hb_file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
} hb_file_id;

/* The identity st describes. */
hb_file_id hb__file_id(const struct stat *st);
/* Whether st still shows exactly id (every field, to the nanosecond). */
bool hb__file_id_same(const hb_file_id *id, const struct stat *st);
/* The same without ctime (see the top: the store's objects only). */
bool hb__file_id_same_bytes(const hb_file_id *id, const struct stat *st);
/* Whether a file with identity id may have been written at or after t0 (a
 * CLOCK_REALTIME_COARSE time read before its content was): then a later
 * write in the same tick could leave the identity unchanged, and its
 * content must not be remembered by identity. */
bool hb__file_id_racy(const hb_file_id *id, const struct timespec *t0);
/* Whether path's file system keeps timestamps to the nanosecond (ext4, xfs,
 * btrfs, tmpfs, f2fs): only there may anything be remembered by identity. */
bool hb__fine_timestamps(const char *path);

/* The names in directory dir that may be a build's input: C and C++
 * sources and headers, assembly, .inc, and .json/.toml settings (a
 * superset: each caller filters further), sorted, NULL-terminated, into
 * *out (free with hb__strv_free). Remembered by the directory's identity
 * (util/dircache.c): a directory's mtime and ctime move with every entry
 * created, removed or renamed in it, so while stat(dir) is unchanged the
 * list is answered without reading the directory again, however many
 * unrelated files it holds, and every step of one reload (watch mode's
 * digest, the sibling scan, the list of sources) shares one read.
 * 0, or a negative -errno from opening the directory. */
int hb__dir_sources_cached(const char *dir, char ***out);
/* Calls of hb__dir_sources_cached that read the directory (a test's probe). */
unsigned long hb__dir_cache_reads(void);

#endif /* HB_UTIL_FILEID_H */
