/*
 * util/keeper.h - the process's keeper thread: one long-lived internal
 * thread that forks every child whose lifetime must follow the process.
 *
 * PR_SET_PDEATHSIG (and bwrap's --die-with-parent, which uses it) fires
 * when the *thread* that forked the child exits, not the process. The
 * public API may be called from any thread, including short-lived ones:
 * a worker forked on such a thread would be killed the moment that thread
 * returns. Forking on the keeper instead ties the child to the process:
 * the keeper runs until the process ends (it is never joined), so the
 * death signal fires exactly when the whole process dies, SIGKILL
 * included, and never earlier.
 *
 * The keeper blocks every signal, so it never takes a process-directed
 * signal meant for the application's threads. A child of fork() gets a
 * keeper of its own on first use.
 */
#ifndef HB_KEEPER_H
#define HB_KEEPER_H

/* Runs fn(arg) on the keeper thread (started on first use) and returns
 * when it has returned. Calls from several threads are serialised. fn
 * typically forks; whatever it forks has the keeper as its parent thread.
 * Returns 0, or -errno when the keeper thread cannot be started (fn did
 * not run). */
int hb__keeper_run(void (*fn)(void *arg), void *arg);

#endif /* HB_KEEPER_H */
