/* cli/test/prepare.c - the pipeline of a `hotbox test` run (see test.h):
 * while a job runs its tests, the next jobs' sandboxes are started and
 * their plugins loaded on helper threads (at most -j ahead, so at most
 * twice -j workers exist), and a finished job's sandbox is ended on a
 * helper thread. Tests still run one at a time per job thread. A helper
 * that cannot be started is no error: the job thread does the work. */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"

typedef struct prep {
    pthread_t th;
    int state; /* 0: not started, 1: preparing or ready, 2: claimed by its job */
    run *R;
    size_t jobno;
    jctx j;
} prep;

struct pipeline {
    pthread_mutex_t mu;
    prep *p;         /* [njobs] */
    size_t inflight; /* started, not yet claimed */
    size_t ahead;    /* most in flight: -j */
    pthread_t *closers;
    size_t nclosers;
};

void cli_test_pipeline_init(run *R)
{
    struct pipeline *pl = calloc(1, sizeof(*pl));
    if (pl && !(pl->p = calloc(R->njobs ? R->njobs : 1, sizeof(*pl->p)))) {
        free(pl);
        pl = NULL;
    }
    if (!pl)
        return; /* no pipeline: each job thread opens and ends its own */
    pthread_mutex_init(&pl->mu, NULL);
    /* A worker's start is mostly the kernel making namespaces and bwrap
     * waiting on it, so a few starts overlap well even on few cores. */
    pl->ahead = 2 * (size_t)(R->jobs_n ? R->jobs_n : 1) + 2;
    R->pipe = pl;
}

static void *prepare_main(void *arg)
{
    prep *p = arg;
    cli_test_job_setup(p->R, p->jobno, &p->j, true);
    return NULL;
}

void cli_test_prepare_ahead(run *R)
{
    struct pipeline *pl = R->pipe;
    if (!pl || atomic_load(&R->stop))
        return;
    pthread_mutex_lock(&R->lock);
    size_t next = R->next_job;
    pthread_mutex_unlock(&R->lock);
    pthread_mutex_lock(&pl->mu);
    for (size_t i = next; i < R->njobs && pl->inflight < pl->ahead; i++) {
        prep *p = &pl->p[i];
        if (p->state != 0)
            continue;
        p->R = R;
        p->jobno = i;
        if (pthread_create(&p->th, NULL, prepare_main, p) != 0)
            break; /* its job thread opens it */
        p->state = 1;
        pl->inflight++;
    }
    pthread_mutex_unlock(&pl->mu);
}

jctx *cli_test_prepared(run *R, size_t jobno)
{
    struct pipeline *pl = R->pipe;
    if (!pl)
        return NULL;
    pthread_mutex_lock(&pl->mu);
    prep *p = &pl->p[jobno];
    int was = p->state;
    p->state = 2; /* never prepared after this */
    if (was == 1)
        pl->inflight--;
    pthread_mutex_unlock(&pl->mu);
    if (was != 1)
        return NULL;
    pthread_join(p->th, NULL);
    return &p->j;
}

static void *close_main(void *arg)
{
    hb_sandbox *sb = arg;
    double t0 = cli_test_now_ms();
    hb_sandbox_free(sb);
    /* The time the worker took to end (off the job's path), in µs. */
    return (void *)(uintptr_t)((cli_test_now_ms() - t0) * 1000.0);
}

void cli_test_close_later(run *R, hb_sandbox *sb)
{
    struct pipeline *pl = R->pipe;
    pthread_t th;
    if (pl) {
        pthread_mutex_lock(&pl->mu);
        pthread_t *n = realloc(pl->closers, (pl->nclosers + 1) * sizeof(*n));
        if (n) {
            pl->closers = n;
            if (pthread_create(&th, NULL, close_main, sb) == 0) {
                n[pl->nclosers++] = th;
                sb = NULL;
            }
        }
        pthread_mutex_unlock(&pl->mu);
    }
    if (sb) { /* no helper: here */
        double t0 = cli_test_now_ms();
        hb_sandbox_free(sb);
        cli_test_stage_add(R, CLI_STAGE_SANDBOX_END, cli_test_now_ms() - t0);
    }
}

void cli_test_pipeline_finish(run *R)
{
    struct pipeline *pl = R->pipe;
    if (!pl)
        return;
    for (size_t i = 0; i < R->njobs; i++) {
        prep *p = &pl->p[i];
        if (p->state != 1)
            continue; /* every job is claimed by a job thread; this is a guard */
        pthread_join(p->th, NULL);
        cli_test_job_release(&p->j);
    }
    for (size_t i = 0; i < pl->nclosers; i++) {
        void *us = NULL;
        pthread_join(pl->closers[i], &us);
        cli_test_stage_add(R, CLI_STAGE_SANDBOX_END, (double)(uintptr_t)us / 1000.0);
    }
    free(pl->closers);
    free(pl->p);
    pthread_mutex_destroy(&pl->mu);
    free(pl);
    R->pipe = NULL;
}

/* ---- the first worker, started during the builds ------------------------ */

struct prestart {
    pthread_t th;
    bool joined;
    run *R;
    tplugin *p;
    char *cap_path;
    hb_sandbox *sb;
    double ms;
};

static void *prestart_main(void *arg)
{
    struct prestart *ps = arg;
    double t0 = cli_test_now_ms();
    if (cli_test_sandbox_new(ps->R, ps->p, ps->cap_path, &ps->sb) < 0)
        ps->sb = NULL; /* the job starts one itself and reports why not */
    ps->ms = cli_test_now_ms() - t0;
    return NULL;
}

void cli_test_prestart(run *R)
{
    if (!R->nplugins || !R->plugins[0].dir || R->from_snapshot || R->record || R->upgrade ||
        R->sanitize)
        return;
    struct prestart *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return;
    ps->R = R;
    ps->p = &R->plugins[0];
    ps->cap_path = cli_test_cap_path(R, 0);
    if (!ps->cap_path || pthread_create(&ps->th, NULL, prestart_main, ps) != 0) {
        free(ps->cap_path);
        free(ps);
        return;
    }
    R->pre = ps;
}

void cli_test_prestart_wait(run *R)
{
    struct prestart *ps = R->pre;
    if (!ps || ps->joined)
        return;
    pthread_join(ps->th, NULL);
    ps->joined = true;
}

hb_sandbox *cli_test_prestarted(run *R, const tplugin *p)
{
    struct prestart *ps = R->pre;
    if (!ps)
        return NULL;
    cli_test_prestart_wait(R);
    hb_sandbox *sb = ps->sb;
    ps->sb = NULL;
    if (sb && p != ps->p) { /* the first job is another plugin's */
        cli_test_close_later(R, sb);
        sb = NULL;
    }
    return sb;
}

void cli_test_prestart_finish(run *R)
{
    struct prestart *ps = R->pre;
    if (!ps)
        return;
    cli_test_prestart_wait(R);
    if (ps->sb)
        hb_sandbox_free(ps->sb);
    free(ps->cap_path);
    free(ps);
    R->pre = NULL;
}
