/*
 * util/dircache.c - a directory's filtered list of names remembered by the
 * directory's identity (util/fileid.h), so that a plugin directory holding
 * 100,000 unrelated files is read once, not at every reload by every step
 * that asks "which sources are here?" (watch mode's digest, the compile
 * cache's sibling scan).
 *
 * Creating, removing or renaming an entry moves the directory's mtime and
 * ctime, so an unchanged stat(dir) means an unchanged list of names. The
 * same-tick race as for file contents (see util/hashcache.c) is closed the
 * same way: a list is remembered only when the directory's ctime is before
 * the coarse time read before the directory was read, it did not move
 * while it was read, and its file system keeps nanosecond timestamps.
 * Only names are remembered: what a file holds, or whether a name is
 * now a directory, the caller asks itself.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fileid.h"
#include "util.h"

#define DIR_SLOTS 32u /* least recently used replaced */

struct dlist {
    char *dir;
    hb_file_id id;
    char **names;
    uint64_t used;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct dlist slots[DIR_SLOTS];
static uint64_t tick;
static unsigned long n_reads;

/* Whether name may be a build's input (see fileid.h): by its extension
 * alone, so a directory of 100,000 other files is filtered at readdir's
 * pace. */
static bool source_like(const char *name)
{
    static const char *const ext[] = {"c", "h", "inc", "cc", "cpp", "cxx", "hh", "hpp", "hxx",
                                      "S", "s", "json", "toml", NULL};
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return false;
    for (const char *const *e = ext; *e; e++)
        if (strcmp(dot + 1, *e) == 0)
            return true;
    return false;
}

/* A copy of a NULL-terminated list in one pass (hb__strv_dup grows it one
 * name at a time: quadratic for a directory of many headers). */
static char **copy_names(char *const *v)
{
    size_t n = hb__strv_len(v);
    char **out = calloc(n + 1, sizeof(*out));
    for (size_t i = 0; out && i < n; i++)
        if (!(out[i] = strdup(v[i]))) {
            hb__strv_free(out);
            return NULL;
        }
    return out;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_names(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    char **v = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        if ((name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]))) ||
            !source_like(name))
            continue;
        if (n + 1 >= cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nv = realloc(v, nc * sizeof(*nv));
            if (!nv) {
                r = -ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        if (!(v[n] = strdup(name))) {
            r = -ENOMEM;
            break;
        }
        v[++n] = NULL;
    }
    closedir(d);
    if (r == 0 && !v && !(v = calloc(1, sizeof(*v))))
        r = -ENOMEM;
    if (r < 0) {
        if (v)
            v[n] = NULL;
        hb__strv_free(v);
        return r;
    }
    qsort(v, n, sizeof(*v), cmp_name);
    *out = v;
    return 0;
}

int hb__dir_sources_cached(const char *dir, char ***out)
{
    struct stat st;
    bool have = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    if (have) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < DIR_SLOTS; i++) {
            struct dlist *s = &slots[i];
            if (!s->dir || strcmp(s->dir, dir) != 0 ||
                !hb__file_id_same(&s->id, &st))
                continue;
            s->used = ++tick;
            char **copy = copy_names(s->names);
            pthread_mutex_unlock(&lock);
            if (!copy)
                return -ENOMEM;
            *out = copy;
            return 0;
        }
        pthread_mutex_unlock(&lock);
    }
    struct timespec t0;
    clock_gettime(CLOCK_REALTIME_COARSE, &t0);
    char **names = NULL;
    int r = read_names(dir, &names);
    pthread_mutex_lock(&lock);
    n_reads++;
    pthread_mutex_unlock(&lock);
    if (r < 0)
        return r;
    *out = names;
    struct stat after;
    hb_file_id id = hb__file_id(&st);
    if (!have || stat(dir, &after) < 0 || !hb__file_id_same(&id, &after) ||
        hb__file_id_racy(&id, &t0) || !hb__fine_timestamps(dir))
        return 0;
    char *dcopy = strdup(dir);
    char **ncopy = copy_names(names);
    if (!dcopy || !ncopy) {
        free(dcopy);
        hb__strv_free(ncopy);
        return 0;
    }
    pthread_mutex_lock(&lock);
    struct dlist *victim = &slots[0];
    for (size_t i = 0; i < DIR_SLOTS; i++) {
        struct dlist *s = &slots[i];
        if (s->dir && strcmp(s->dir, dir) == 0) {
            victim = s; /* the same key listed again: replace it */
            break;
        }
        if (!s->dir || s->used < victim->used)
            victim = s;
        if (!s->dir)
            break;
    }
    free(victim->dir);
    hb__strv_free(victim->names);
    *victim = (struct dlist){.dir = dcopy, .id = id, .names = ncopy, .used = ++tick};
    pthread_mutex_unlock(&lock);
    return 0;
}

unsigned long hb__dir_cache_reads(void)
{
    pthread_mutex_lock(&lock);
    unsigned long n = n_reads;
    pthread_mutex_unlock(&lock);
    return n;
}
