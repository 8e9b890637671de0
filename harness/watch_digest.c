/* harness/watch_digest.c - a digest of the files a build of one watched
 * plugin reads, taken before and after its build: when they differ, the
 * files moved during the build and its outcome is judged again (watch.c).
 * The plugin directory's names come from util/dircache.c, so thousands of
 * unrelated files beside the sources cost a save nothing. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileid.h"
#include "watch_impl.h"
#include "watcher.h"

/* A name watch mode's digest covers: what the watcher's default patterns
 * include, not hidden. */
static bool watched_name(const char *name)
{
    if (name[0] == '.')
        return false;
    for (const char *const *pat = hb_watcher_default_include(); *pat; pat++)
        if (fnmatch(*pat, name, 0) == 0)
            return true;
    return false;
}

/* A header by its name: counted only when the last build read it. */
static bool header_name(const char *name)
{
    static const char *const ext[] = {".h", ".hh", ".hpp", ".hxx", ".inc", NULL};
    for (const char *const *e = ext; *e; e++)
        if (hb__has_suffix(name, *e))
            return true;
    return false;
}

/* A digest of the files a build of p reads: the watched files in its
 * directory (headers there only if its last build read them) and the
 * inputs (shared headers) its last build recorded, each by path and
 * content ("-" when missing). */
void hb__watch_digest(const wplug *p, char out[HB_SHA256_HEX])
{
    hb_sha256 *h = hb__sha256_new();
    if (!h) {
        memset(out, 0, HB_SHA256_HEX);
        return;
    }
    /* The directory is read again only when an entry in it was created,
     * removed or renamed (util/dircache.c): a save in place, or thousands
     * of unrelated files beside the sources, cost one stat here. */
    char **names = NULL;
    if (hb__dir_sources_cached(p->dir, &names) < 0)
        names = NULL;
    char fh[HB_SHA256_HEX];
    /* Headers beside the sources count when the last build read them: a
     * directory of thousands of generated headers is not hashed per save.
     * Before any build recorded its inputs, every header counts. Any new
     * or changed file in the directory is still an event of the watcher. */
    bool known = p->inputs && p->inputs[0];
    for (size_t i = 0; names && names[i]; i++) {
        char *one = watched_name(names[i]) ? hb__path_join(p->dir, names[i]) : NULL;
        if (one && known && header_name(names[i]) && !hb__strv_contains(p->inputs, one)) {
            free(one);
            continue;
        }
        if (!one)
            continue;
        if (hb__sha256_file_cached(one, fh) < 0)
            snprintf(fh, sizeof(fh), "-");
        hb__sha256_update_framed(h, one, strlen(one));
        hb__sha256_update_framed(h, fh, strlen(fh));
        free(one);
    }
    hb__strv_free(names);
    for (size_t i = 0; p->inputs && p->inputs[i]; i++) {
        const char *one = p->inputs[i];
        size_t dl = strlen(p->dir);
        if (strncmp(one, p->dir, dl) != 0 || one[dl] != '/') { /* outside p->dir */
            if (hb__sha256_file_cached(one, fh) < 0)
                snprintf(fh, sizeof(fh), "-");
            hb__sha256_update_framed(h, one, strlen(one));
            hb__sha256_update_framed(h, fh, strlen(fh));
        }
    }
    hb__sha256_final(h, out);
}

