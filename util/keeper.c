/* util/keeper.c - see keeper.h. */
#include "keeper.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER; /* one request at a time */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;       /* guards the fields below */
static pthread_cond_t request_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static pid_t keeper_pid;           /* the process whose keeper runs; 0: none yet */
static void (*req_fn)(void *);
static void *req_arg;
static bool pending;

static void *keeper_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!pending)
            pthread_cond_wait(&request_cv, &lock);
        void (*fn)(void *) = req_fn;
        void *arg = req_arg;
        pthread_mutex_unlock(&lock);
        fn(arg);
        pthread_mutex_lock(&lock);
        pending = false;
        pthread_cond_broadcast(&done_cv);
    }
    return NULL;
}

/* Called with lock held. */
static int start_keeper(void)
{
    if (keeper_pid == getpid())
        return 0;
    /* A forked child inherits no threads: the old keeper is not ours. */
    pending = false;
    pthread_attr_t attr;
    int r = pthread_attr_init(&attr);
    if (r)
        return -r;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the keeper inherits "all blocked" */
    pthread_t t;
    r = pthread_create(&t, &attr, keeper_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (r)
        return -r;
    keeper_pid = getpid();
    return 0;
}

int hb__keeper_run(void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&call_lock);
    pthread_mutex_lock(&lock);
    int r = start_keeper();
    if (r == 0) {
        req_fn = fn;
        req_arg = arg;
        pending = true;
        pthread_cond_signal(&request_cv);
        while (pending)
            pthread_cond_wait(&done_cv, &lock);
    }
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&call_lock);
    return r;
}
