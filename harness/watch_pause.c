/* harness/watch_pause.c - pausing and resuming a watch's auto-reload:
 * while paused, change sets are still read (so the watcher's queue does not
 * fill and its fd does not stay readable) and the plugins they touch are
 * remembered; resuming builds each of those once and unloads the plugins
 * whose directories went away meanwhile. */
#include <errno.h>
#include <stdlib.h>

#include "watch_impl.h"

/* Paused: remembers touched[] for hb_watch_resume. */
void hb__watch_defer(hb_watch *w, const bool *touched)
{
    for (size_t i = 0; i < w->nplugs; i++)
        w->plugs[i].deferred |= touched[i];
}

int hb_watch_pause(hb_watch *w)
{
    if (!w)
        return -EINVAL;
    if (!w->paused)
        hb__emit(w->sb->m, w->sb, HB_EVENT_NOTICE, NULL, 0, 0, 0, NULL, "auto-reload paused");
    w->paused = true;
    return 0;
}

int hb_watch_resume(hb_watch *w)
{
    if (!w)
        return -EINVAL;
    if (!w->paused)
        return 0;
    w->paused = false;
    hb__emit(w->sb->m, w->sb, HB_EVENT_NOTICE, NULL, 0, 0, 0, NULL, "auto-reload resumed");
    int count = 0;
    if (w->gone_deferred)
        count = hb__watch_drop_gone(w) + hb__watch_drop_gone(w);
    w->gone_deferred = false;
    bool *touched = calloc(w->nplugs + 1, sizeof(bool));
    if (!touched)
        return -ENOMEM;
    for (size_t i = 0; i < w->nplugs; i++) {
        touched[i] = w->plugs[i].deferred;
        w->plugs[i].deferred = false;
    }
    int built = hb__watch_build_marked(w, touched);
    free(touched);
    return built < 0 ? built : count + built;
}

