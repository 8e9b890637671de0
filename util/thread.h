/*
 * util/thread.h - the one way hotbox starts a library thread: with every
 * signal blocked, so none of the application's process-directed signals
 * is delivered to a thread of ours (the keeper, the denial watcher, the
 * spare worker's refill thread).
 */
#ifndef HB_UTIL_THREAD_H
#define HB_UTIL_THREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* Starts fn(arg) in a new thread that has all signals blocked; detached
 * when asked, with a stack of stack bytes unless 0 (the default). The
 * caller's signal mask is left as it was. 0 or -errno. */
int hb__thread_start(pthread_t *out, bool detached, size_t stack, void *(*fn)(void *),
                     void *arg);

/* Initialises cv to time its waits on CLOCK_MONOTONIC, so a deadline
 * (pthread_cond_timedwait) does not move when the wall clock is set. */
void hb__cond_init_monotonic(pthread_cond_t *cv);

#endif
