/* harness/watch_follow.c - the files outside the watched roots that a
 * plugin's build read: a header beside its directory (`#include
 * "../include/x.h"` when the plugin directory itself is watched), one
 * elsewhere through -I, the target of a symlinked source. The watcher
 * follows each one (hb_watcher_follow), so saving it reloads the plugins
 * that read it, as for a file under a root. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileid.h"
#include "watch_impl.h"

static bool under_a_root(const hb_watch *w, const char *path)
{
    for (size_t i = 0; i < w->nroots; i++) {
        size_t l = strlen(w->roots[i]);
        if (strncmp(path, w->roots[i], l) == 0 && path[l] == '/')
            return true;
    }
    return false;
}

/* Follows what p's last build read outside the roots (p->inputs, just
 * refreshed). The first time p follows a file, one written at or after
 * since (the start of that build) may have been read in its old content:
 * p is built again (stale). */
void hb__watch_follow_inputs(hb_watch *w, wplug *p, const struct timespec *since)
{
    for (size_t i = 0; p->inputs && p->inputs[i]; i++) {
        const char *in = p->inputs[i];
        struct stat st;
        if (lstat(in, &st) < 0)
            continue;
        char *target = NULL;
        if (S_ISLNK(st.st_mode)) {
            if (hb__realpath(in, &target) < 0)
                continue;
        } else if (under_a_root(w, in)) {
            continue; /* its root's watches see it */
        }
        const char *path = target ? target : in;
        if (!hb__strv_contains(p->followed, path)) {
            char *err = NULL;
            int r = hb_watcher_follow(w->w, path, &err);
            if (r < 0) {
                hb__emit(w->sb->m, w->sb, HB_EVENT_WARNING, p->name, 0, 0, r, NULL,
                         "%s: %s, which its build read, is not watched: %s", p->name, path,
                         err ? err : hb_strerror(r));
            } else if (hb__strv_push(&p->followed, path) == 0 && stat(path, &st) == 0) {
                hb_file_id id = hb__file_id(&st);
                if (hb__file_id_racy(&id, since))
                    p->stale = true;
            }
            free(err);
        }
        free(target);
    }
}
