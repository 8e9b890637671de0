/*
 * harness/denial_watch.h - the one watcher of every worker's seccomp
 * listener and wrapper, so that no call has to ask a listener whether a
 * plugin thread sits in a denied system call, or bwrap's pidfd whether it
 * still runs; and the one interface through which a started worker is
 * watched (a pooled one too).
 *
 * The watching is done by the process's watch helper
 * (worker/watch_helper.c: the worker binary started with --watch-helper on
 * the keeper thread), which holds each worker's listener, the pidfd it
 * kills the worker through and a copy of the wrapper's pidfd; the manager
 * keeps only the channel socket and one pidfd per sandbox. When a listener
 * reports a denial, the helper names the call (from the kernel's
 * notification, never from the worker), kills the worker and says so; when
 * a wrapper dies it kills the worker too. A thread here reads what it says
 * into flag words the caller reads without a system call
 * (hb__dwatch_news), and learns of the death itself the way it learns of
 * any death (the ring's life word, the pidfd).
 *
 * A manager that dies, SIGKILL included, takes its helper with it (the
 * socket ends; its parent-death signal): the helper kills every worker it
 * holds first. A helper that dies has every worker it watched flagged and
 * its wrapper (or, unwrapped, the worker) killed: each sandbox restarts
 * its worker under a new helper on its next operation, and a worker its
 * wrapper's death did not take along ends when its channel closes (its
 * lifeline, worker/main.c).
 *
 * Lifetimes. The helper and the reading thread start with the first watch
 * and end with the last (a process without sandboxes holds none of them);
 * a child of fork() starts its own.
 */
#ifndef HB_DENIAL_WATCH_H
#define HB_DENIAL_WATCH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hb_dwatch hb_dwatch;

/* Hands a started worker to the watch helper (started from helper_path,
 * the worker binary, when this process has none): listener (taken on
 * success: closed here; -1: none), kill_pidfd (the helper gets a copy: a
 * denial or the wrapper's death kills the worker through it) and
 * wrapper_pidfd (bwrap's; a copy likewise; -1: none). The caller may close
 * its own kill_pidfd when it gave a wrapper_pidfd, and keeps the other
 * (the wrapper's, else kill_pidfd) open until hb__dwatch_stop: should the
 * helper die, the worker is killed through it. Returns 0 and *out, or
 * -errno with every fd left to the caller. */
int hb__dwatch_start(const char *helper_path, int listener, int kill_pidfd, int wrapper_pidfd,
                     hb_dwatch **out);

/* The helper's lifetime: started by the first hb__dwatch_start, it stays
 * while a manager holds it (hb_manager_new to hb_manager_free) or a worker
 * is watched, so a program that creates and frees one sandbox at a time
 * does not start a helper per sandbox; the last release with nothing
 * watched stops it. */
void hb__dwatch_hold(void);
void hb__dwatch_release(void);

/* Whether a denial was seen (no system call); when it was and what is
 * non-NULL, copies its name ("socket(AF_INET, ...)") into what. */
bool hb__dwatch_denied(hb_dwatch *w, char *what, size_t len);

/* Whether the watcher ended the worker: a denial, or its wrapper died (no
 * system call: the flag words the watcher sets). A caller that sees it
 * asks the pidfds. */
bool hb__dwatch_news(hb_dwatch *w);

/* Stops watching: the helper kills the worker and returns when it is gone
 * (bounded), closing its copies; frees w. NULL is fine. denied (len bytes;
 * may be NULL) gets the name of a denial seen, read once every report the
 * helper sent before it let go of the worker is in, else "". */
void hb__dwatch_stop(hb_dwatch *w, char *denied, size_t len);

#endif /* HB_DENIAL_WATCH_H */
