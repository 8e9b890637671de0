/*
 * compiler/inputs.c - the files a compile read: their content hashes, and
 * whether any changed while the compiler ran. See inputs.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "inputs.h"

int hb__hash_files(char *const *inputs, char (**out)[HB_SHA256_HEX], const char **bad)
{
    size_t n = hb__strv_len(inputs);
    char(*h)[HB_SHA256_HEX] = calloc(n + 1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int r = hb__sha256_file_cached(inputs[i], h[i]);
        if (r < 0) {
            if (bad)
                *bad = inputs[i];
            free(h);
            return r;
        }
    }
    *out = h;
    return 0;
}

/* ---- inputs changing under a running compile ---------------------------
 *
 * The object must be built from exactly the contents the input hash covers.
 * Before each compile hotbox takes a snapshot: the time t0 (from the coarse
 * real-time clock the kernel stamps files with), then the identity (inode,
 * size, mtime, ctime) and content hash of every input it already knows (the
 * sources, and on a retry every input the previous attempt read). After the
 * compile it hashes every input the depfile names and stats it again. An
 * input is unchanged when it is in the snapshot with the same identity and
 * hash, or when it is not and its ctime is before t0 (every write moves
 * ctime, and userspace cannot set it back). Anything else may have changed
 * while the compiler ran: the compile is repeated (a header written just
 * before the build also looks "new" once), and after HB__COMPILE_ATTEMPTS
 * attempts the result is HB_ECHANGED and nothing is reported as built. A
 * step of the real-time clock backwards during a compile can hide a change;
 * the content check of snapshotted files cannot be fooled that way. */

void hb__snapshot_release(hb__snapshot *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].path);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static void snapshot_add(hb__snapshot *s, size_t cap, const char *path)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].path, path))
            return;
    hb__snap_ent e = {0};
    /* stat before hashing: a write between the two shows in the hash. */
    if (s->n >= cap || stat(path, &e.st) < 0 || hb__sha256_file_cached(path, e.hash) < 0)
        return; /* unknown: judged by its ctime after the compile */
    if (!(e.path = strdup(path)))
        return;
    s->v[s->n++] = e;
}

int hb__snapshot_take(hb__snapshot *s, char *const *sources, char *const *prev)
{
    hb__snapshot_release(s);
    clock_gettime(CLOCK_REALTIME_COARSE, &s->t0);
    size_t cap = hb__strv_len(sources) + hb__strv_len(prev);
    if (!(s->v = calloc(cap + 1, sizeof(*s->v))))
        return -ENOMEM;
    for (size_t i = 0; sources[i]; i++)
        snapshot_add(s, cap, sources[i]);
    for (size_t i = 0; prev && prev[i]; i++)
        snapshot_add(s, cap, prev[i]);
    return 0;
}

static bool same_identity(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

const char *hb__snapshot_changed(const hb__snapshot *s, char *const *inputs,
                                    const char (*hashes)[HB_SHA256_HEX])
{
    for (size_t i = 0; inputs[i]; i++) {
        struct stat st;
        if (stat(inputs[i], &st) < 0)
            return inputs[i];
        const hb__snap_ent *e = NULL;
        for (size_t k = 0; k < s->n && !e; k++)
            if (!strcmp(s->v[k].path, inputs[i]))
                e = &s->v[k];
        if (e) {
            if (!same_identity(&e->st, &st) || strcmp(e->hash, hashes[i]) != 0)
                return inputs[i];
            continue;
        }
        if (st.st_ctim.tv_sec > s->t0.tv_sec ||
            (st.st_ctim.tv_sec == s->t0.tv_sec && st.st_ctim.tv_nsec >= s->t0.tv_nsec))
            return inputs[i];
    }
    return NULL;
}
