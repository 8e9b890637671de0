/*
 * harness/denial_watch.h - the one reader of every worker's seccomp
 * listener: a process-wide thread that waits on all listeners at once
 * (epoll), so that no call has to ask a listener whether a plugin thread
 * sits in a denied system call.
 *
 * When a listener reports a denial, the watcher names the call (from the
 * kernel's notification, never from the worker), records it on the watch,
 * and kills the worker through the pidfd it was given. The caller learns
 * of it the way it learns of any death (the ring's life word, the pidfd),
 * then reads the name with hb__dwatch_denied(). A listener that hangs up
 * (no process is left under the filter) is dropped from the set.
 *
 * Lifetimes. hb__dwatch_start takes the listener; hb__dwatch_stop (called
 * before the pidfd it was given is closed) closes it and frees the watch:
 * after it returns the thread never touches either again. The thread is
 * started on first use and never joined (like util/keeper.h); a child of
 * fork() starts its own. It owns one epoll fd for the whole process.
 */
#ifndef HB_DENIAL_WATCH_H
#define HB_DENIAL_WATCH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hb_dwatch hb_dwatch;

/* Watches listener (taken on success; left to the caller on failure); a
 * denial kills the worker through kill_pidfd (borrowed until
 * hb__dwatch_stop). Returns 0 and *out, or -errno. */
int hb__dwatch_start(int listener, int kill_pidfd, hb_dwatch **out);

/* Whether a denial was seen (no system call); when it was and what is
 * non-NULL, copies its name ("socket(AF_INET, ...)") into what. */
bool hb__dwatch_denied(hb_dwatch *w, char *what, size_t len);

/* Stops watching, closes the listener, frees w. NULL is fine. */
void hb__dwatch_stop(hb_dwatch *w);

#endif /* HB_DENIAL_WATCH_H */
