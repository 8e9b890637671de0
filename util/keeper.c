/* util/keeper.c - see keeper.h. */
#include "keeper.h"
#include "thread.h"

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

/* In the child of a fork() only the forking thread exists: a lock held by
 * another thread (a spawn in progress, the keeper between two requests)
 * would never be released there. The child starts afresh, without a
 * keeper until it spawns. */
static void after_fork_in_child(void)
{
    pthread_mutex_t m0 = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c0 = PTHREAD_COND_INITIALIZER;
    call_lock = m0;
    lock = m0;
    request_cv = c0;
    done_cv = c0;
    keeper_pid = 0;
    pending = false;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, after_fork_in_child);
}

/* Called with lock held. */
static int start_keeper(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_atfork);
    if (keeper_pid == getpid())
        return 0;
    pending = false;
    pthread_t t;
    int r = hb__thread_start(&t, true, 0, keeper_main, NULL);
    if (r < 0)
        return r;
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
