/*
 * util/hashcache.c - file content hashes remembered by identity, so that
 * one reload reads each input once: the watcher, watch mode's digests and
 * the compiler's input hashes all ask here (see util.h).
 *
 * An entry is the SHA-256 of a path's content together with the identity
 * the file had while it was read (util/fileid.h: device, inode, size, mtime
 * and ctime to the nanosecond; the identity functions live here too). It is reused only while stat() still gives that exact
 * identity. That is sound only if every later write changes the identity,
 * and the one write that may not is a write in the same clock tick as the
 * hash ("racy git"): the kernel stamps ctime from the coarse real-time
 * clock, so a file whose ctime is not strictly before the coarse time read
 * before hashing began is hashed but not remembered. Any write after that
 * time stamps a ctime at or after it, which differs from the entry's. The
 * argument needs timestamps kept to the nanosecond, so only files on file
 * systems known to keep them (ext4, xfs, btrfs, tmpfs, f2fs) are
 * remembered; elsewhere every call reads the file, as hb__sha256_file does.
 * ctime cannot be set from userspace; a step of the real-time clock
 * backwards can hide a change, as it can from the compiler's snapshot.
 */
#include <errno.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>

#include "fileid.h"
#include "util.h"

#define CACHE_SLOTS 4096u /* direct-mapped by path: a collision replaces */

#ifndef F2FS_SUPER_MAGIC
#define F2FS_SUPER_MAGIC 0xF2F52010
#endif

struct cached {
    char *path;
    hb_file_id id;
    char hash[HB_SHA256_HEX];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached slots[CACHE_SLOTS];
static uint64_t n_hits, n_reads;

static size_t slot_of(const char *path)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *s = path; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)(h % CACHE_SLOTS);
}

/* ---- file identity (fileid.h) ---------------------------------------------- */

static bool same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

hb_file_id hb__file_id(const struct stat *st)
{
    return (hb_file_id){.dev = st->st_dev, .ino = st->st_ino, .size = st->st_size,
                        .mtime = st->st_mtim, .ctime = st->st_ctim};
}

bool hb__file_id_same_bytes(const hb_file_id *id, const struct stat *st)
{
    return id->dev == st->st_dev && id->ino == st->st_ino && id->size == st->st_size &&
           same_time(&id->mtime, &st->st_mtim);
}

bool hb__file_id_same(const hb_file_id *id, const struct stat *st)
{
    return hb__file_id_same_bytes(id, st) && same_time(&id->ctime, &st->st_ctim);
}

bool hb__file_id_racy(const hb_file_id *id, const struct timespec *t0)
{
    return id->ctime.tv_sec > t0->tv_sec ||
           (id->ctime.tv_sec == t0->tv_sec && id->ctime.tv_nsec >= t0->tv_nsec);
}

/* ---- the content-hash cache ------------------------------------------------ */

bool hb__fine_timestamps(const char *path)
{
    struct statfs sfs;
    if (statfs(path, &sfs) < 0)
        return false;
    switch ((unsigned long)sfs.f_type) {
    case EXT4_SUPER_MAGIC: /* also ext2/ext3: same magic; ext4 driver, ns with 256-byte inodes */
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case TMPFS_MAGIC:
    case F2FS_SUPER_MAGIC:
        return true;
    default:
        return false;
    }
}

int hb__sha256_file_cached(const char *path, char out[HB_SHA256_HEX])
{
    struct stat st;
    bool regular = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    if (regular) {
        size_t i = slot_of(path);
        pthread_mutex_lock(&lock);
        struct cached *c = &slots[i];
        bool hit = c->path && strcmp(c->path, path) == 0 && hb__file_id_same(&c->id, &st);
        if (hit) {
            memcpy(out, c->hash, HB_SHA256_HEX);
            n_hits++;
        }
        pthread_mutex_unlock(&lock);
        if (hit)
            return 0;
    }
    struct timespec t0;
    clock_gettime(CLOCK_REALTIME_COARSE, &t0);
    char hash[HB_SHA256_HEX];
    int r = hb__sha256_file(path, hash);
    pthread_mutex_lock(&lock);
    n_reads++;
    pthread_mutex_unlock(&lock);
    if (r < 0)
        return r;
    memcpy(out, hash, HB_SHA256_HEX);
    /* Remembered only when the file did not move while it was read and its
     * last change is in an earlier tick than the read (see the top). */
    struct stat after;
    hb_file_id id = hb__file_id(&st);
    if (!regular || stat(path, &after) < 0 || !hb__file_id_same(&id, &after) ||
        hb__file_id_racy(&id, &t0) || !hb__fine_timestamps(path))
        return 0;
    char *copy = strdup(path);
    if (!copy)
        return 0;
    pthread_mutex_lock(&lock);
    struct cached *c = &slots[slot_of(path)];
    free(c->path);
    *c = (struct cached){.path = copy, .id = id};
    memcpy(c->hash, hash, HB_SHA256_HEX);
    pthread_mutex_unlock(&lock);
    return 0;
}

void hb__hash_cache_stats(uint64_t *hits, uint64_t *reads)
{
    pthread_mutex_lock(&lock);
    if (hits)
        *hits = n_hits;
    if (reads)
        *reads = n_reads;
    pthread_mutex_unlock(&lock);
}

void hb__hash_cache_clear(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        free(slots[i].path);
        slots[i].path = NULL;
    }
    n_hits = n_reads = 0;
    pthread_mutex_unlock(&lock);
}
