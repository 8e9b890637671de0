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
 * (no process is left under the filter) is dropped from the set. The
 * watcher also watches the worker's wrapper (bwrap) and kills the worker
 * when it dies.
 *
 * Lifetimes. hb__dwatch_start takes the listener; hb__dwatch_stop (called
 * before the pidfd it was given is closed) closes it and frees the watch:
 * after it returns the thread never touches either again. The thread and
 * its one epoll fd are started with the first watch and end with the last
 * (a process without sandboxes holds none); a child of fork() starts its
 * own.
 */
#ifndef HB_DENIAL_WATCH_H
#define HB_DENIAL_WATCH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hb_dwatch hb_dwatch;

/* Watches listener (taken on success; left to the caller on failure); a
 * denial kills the worker through kill_pidfd (borrowed until
 * hb__dwatch_stop). wrapper_pidfd (borrowed likewise; -1: none) is the
 * worker's wrapper (bwrap): when it dies the worker is killed too, at
 * once, so calls that ask only the ring's life word see it. Returns 0 and
 * *out, or -errno. */
int hb__dwatch_start(int listener, int kill_pidfd, int wrapper_pidfd, hb_dwatch **out);

/* Whether a denial was seen (no system call); when it was and what is
 * non-NULL, copies its name ("socket(AF_INET, ...)") into what. */
bool hb__dwatch_denied(hb_dwatch *w, char *what, size_t len);

/* Whether the watcher ended the worker: a denial, or its wrapper died (no
 * system call: the flag words the watcher sets). A caller that sees it
 * asks the pidfds. */
bool hb__dwatch_news(hb_dwatch *w);

/* Stops watching, closes the listener, frees w. NULL is fine. */
void hb__dwatch_stop(hb_dwatch *w);

#endif /* HB_DENIAL_WATCH_H */
