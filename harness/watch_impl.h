/* harness/watch_impl.h - the watch's state, shared by watch.c (scanning,
 * change sets, builds), watch_pause.c (pausing auto-reload) and
 * watch_follow.c (inputs outside the roots). */
#ifndef HB_HARNESS_WATCH_IMPL_H
#define HB_HARNESS_WATCH_IMPL_H

#include <time.h>

#include "harness.h"
#include "watcher.h"

typedef struct wplug {
    char *name;
    char *dir;
    char **inputs;  /* the last stored version's inputs (a list) */
    char **followed; /* files outside the roots the watcher follows for it */
    bool loaded;
    bool stale;     /* its files changed during its last build: build again */
    bool failed;    /* its last build or swap failed (and was reported) */
    uint64_t built; /* the version its last good build made live (0: none) */
    bool untested;  /* a new version went live in a superseded build */
    bool orphaned;  /* its directory is gone; kept for a loaded dependent */
    bool deferred;  /* its files changed while auto-reload was paused */
} wplug;

struct hb_watch {
    hb_sandbox *sb;
    hb_watcher *w;
    char **roots;          /* absolute */
    bool *root_is_plugin;  /* the root itself is one plugin */
    size_t nroots;
    wplug *plugs;
    size_t nplugs;
    bool selftests;
    unsigned quiet_ms;  /* the watcher's coalescing window */
    hb_held_event held; /* a build failure, until it is known to be real */
    char **exclude;     /* the caller's extra exclude globs (hb_watch_options) */
    bool paused;        /* hb_watch_pause: remember changes, build nothing */
    bool gone_deferred; /* a directory went away while paused */
    unsigned retries;   /* retry wake-ups armed in a row for stale plugins */
    bool starting;          /* hb_watch_new's first builds */
    struct timespec since;  /* ... began then */
};

/* Builds the plugins marked in touched (and the stale ones), providers
 * first; returns how many it built. */
int hb__watch_build_marked(hb_watch *w, bool *touched);
/* Forgets (and unloads) plugins whose directory went away; returns how many. */
int hb__watch_drop_gone(hb_watch *w);
/* Has the watcher follow the files outside the roots that p's last build
 * read (watch_follow.c); since is when that build began. */
void hb__watch_follow_inputs(hb_watch *w, wplug *p, const struct timespec *since);
/* A digest of the files a build of p reads (watch_digest.c). */
void hb__watch_digest(const wplug *p, char out[HB_SHA256_HEX]);
/* While paused: remembers touched[] (one per plugin) for hb_watch_resume. */
void hb__watch_defer(hb_watch *w, const bool *touched);

#endif
