/* harness/pool.c - the manager's pool of pre-started workers
 * (hb_manager_options.worker_pool): started, confined and greeted (fork,
 * exec, bwrap namespaces, seccomp, listener, HELLO) before hb_sandbox_new
 * asks, so a new sandbox takes one instead of waiting for all that.
 *
 * What a worker is started with (hb_wspawn) is fixed at fork. The parts
 * that belong to one sandbox are late-bound: the pool makes a cgroup and
 * an (empty) objects view of its own for each pooled worker, starts the
 * worker inside them, and the sandbox that takes the worker adopts both;
 * a worker for sandboxes with an output file starts writing to /dev/null
 * and is handed the sandbox's file (opened as a fresh start opens it) in
 * an OUTPUT request, which it dup2()s onto stdout and stderr before it
 * serves anything else. Everything else is the key, compared in full
 * (wspawn.c): binary, profile, seccomp filter, view binds, rlimits, env,
 * data, allow-lists, sanitizer runtime, state limit, the cgroup's limits,
 * and whether output goes to a file. A worker pooled for one key is never
 * handed to a sandbox of another: a mismatch is a miss and the sandbox
 * starts its own, as without a pool.
 *
 * One entry per key, at most `max` entries; a refill for a new key evicts
 * the least recently used idle entry. Each entry is started on a thread of
 * its own (hb__wc_spawn forks on the process's keeper thread, so the
 * worker's death signal follows the manager process, like any worker's);
 * whoever unlinks an entry joins its thread. Pooled workers are recorded
 * in the run directory like sandbox workers, so a later manager reaps any
 * that outlived a manager killed with SIGKILL. A process forked after the
 * pool started keeps a copy of it that it never uses: the workers are the
 * parent's (test pool_fork_child_misses). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "jail.h"
#include "ring.h"
#include "thread.h"

#define HB_POOL_OUTPUT_MS 5000 /* the OUTPUT request's time limit */

typedef struct pool_entry {
    struct pool_entry *next;
    hb_manager *m;
    hb_wspawn_own key;  /* spawn settings, without cgroup and view */
    hb_pool_cgroup cgk; /* the cgroup's limits */
    pthread_t thread;
    bool running;       /* thread started, not joined */
    atomic_bool done;   /* the thread finished */
    int result;         /* hb__wc_spawn's (or the set-up's), once done */
    hb_wclient wc;      /* the worker when result == 0 */
    pid_t pid;          /* its pid as recorded in the run directory */
    hb_cgroup *cg;      /* its cgroup (NULL: the site has none) */
    char *view;         /* its objects view */
    uint64_t used_ns;   /* the last refill that asked for this key */
    struct pool_entry *victim; /* evicted for this one: released first */
} pool_entry;

struct hb_pool {
    pid_t owner; /* the process that made it: a forked child never takes, refills or ends its workers */
    pthread_mutex_t lock;
    pool_entry *list;
    unsigned n, max;
    uint64_t hits, misses;
};

int hb__pool_new(hb_manager *m, unsigned max)
{
    if (!max)
        return 0;
    struct hb_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    p->owner = getpid();
    p->max = max;
    m->pool = p;
    return 0;
}

static bool same_cgroup(const hb_pool_cgroup *a, const hb_pool_cgroup *b)
{
    return a->want == b->want && a->memory == b->memory && a->pids == b->pids &&
           a->cpu_percent == b->cpu_percent;
}

static void entry_release(pool_entry *e)
{
    if (!e)
        return;
    if (e->running)
        pthread_join(e->thread, NULL);
    if (e->result == 0) {
        hb__wc_kill(&e->wc);
        if (e->pid > 0 && e->m->run_dir)
            hb_mon_forget_worker(e->m->run_dir, e->pid);
    }
    hb_cgroup_destroy(e->cg); /* and anything left in it */
    hb_jail_view_free(e->view);
    hb__wspawn_own_release(&e->key);
    free(e);
}

static void *start_main(void *arg)
{
    pool_entry *e = arg;
    hb_manager *m = e->m;
    entry_release(e->victim);
    e->victim = NULL;
    char *err = NULL;
    hb_wspawn how = e->key.how;
    int r = hb_jail_view_new(m->run_dir, &e->view, &err);
    if (r == 0 && e->cgk.want) {
        /* Named sandbox-<serial>-0: sandbox numbers stay the sandboxes'. */
        e->cg = hb_cgroup_site_sandbox(&m->cg, 0, e->cgk.memory, e->cgk.pids,
                                       e->cgk.cpu_percent);
        if (!e->cg) /* a sandbox would have one: not the same confinement */
            r = -EAGAIN;
    }
    if (r == 0) {
        how.objects_view = e->view;
        how.cgroup = e->cg;
        if (how.output_path) /* the taker's file comes with OUTPUT */
            how.output_path = "/dev/null";
        r = hb__wc_spawn(&e->wc, &how, &err);
    }
    if (r == 0 && m->run_dir) {
        e->pid = e->wc.pid;
        hb_mon_record_worker(m->run_dir, e->pid, getpid());
    }
    free(err); /* the pool is silent: a sandbox starting its own says why */
    e->result = r;
    atomic_store(&e->done, true);
    return NULL;
}

/* Whether a pooled worker may stand for one started with key: nothing late
 * bound is compared; the output file must be the one it writes to. */
static bool matches(const pool_entry *e, const hb_wspawn *key, const hb_pool_cgroup *cgk)
{
    return same_cgroup(&e->cgk, cgk) && hb__wspawn_same(&e->key.how, key, true);
}

/* Hands the worker its sandbox's output file (OUTPUT, the fd attached),
 * opened as hb__wc_spawn opens it for a fresh worker. */
static bool hand_output(hb_wclient *wc, const char *path)
{
    if (!path)
        return true; /* both inherit the manager's stdout and stderr */
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return false; /* a fresh start says why */
    hb_wbuf w = {0};
    hb__proto_empty_encode(&w, HB_MSG_OUTPUT, hb__wc_next_id(wc));
    uint32_t id = 0;
    int r = hb__wire_finish(&w);
    if (r == 0) {
        id = hb__wire_frame_id(&w);
        r = hb__wire_send_fd(wc->fd, &w, fd);
    }
    hb__wire_release(&w);
    close(fd);
    if (r < 0)
        return false;
    if (wc->ring)
        hb__ring_post(wc->ring, HB_RING_KIND_SOCKET);
    hb_frame reply;
    char *err = NULL;
    r = hb__wc_await(wc, id, hb__now_ns() + HB_POOL_OUTPUT_MS * 1000000ull, HB_POOL_OUTPUT_MS,
                     NULL, NULL, &reply, &err);
    free(err);
    if (r < 0)
        return false;
    hb__frame_release(&reply);
    return true;
}

bool hb__pool_take(hb_manager *m, const hb_wspawn *key, const hb_pool_cgroup *cgk,
                   hb_wclient *wc, hb_cgroup **cg, char **view)
{
    struct hb_pool *p = m->pool;
    if (!p || p->owner != getpid())
        return false; /* a forked child's copy: the workers are the parent's */
    pool_entry *e = NULL;
    pthread_mutex_lock(&p->lock);
    for (pool_entry **pp = &p->list; *pp; pp = &(*pp)->next)
        if (matches(*pp, key, cgk)) {
            e = *pp;
            *pp = e->next;
            p->n--;
            break;
        }
    pthread_mutex_unlock(&p->lock);
    bool hit = false;
    if (e) {
        if (e->running) { /* still starting: it started before we asked */
            pthread_join(e->thread, NULL);
            e->running = false;
        }
        hit = e->result == 0 && hb__wc_alive(&e->wc) && hand_output(&e->wc, key->output_path);
    }
    if (hit) {
        *wc = e->wc;
        *cg = e->cg;
        *view = e->view;
        e->result = -EAGAIN; /* moved out: not killed with e */
        e->cg = NULL;
        e->view = NULL;
    }
    entry_release(e);
    pthread_mutex_lock(&p->lock);
    if (hit)
        p->hits++;
    else
        p->misses++;
    pthread_mutex_unlock(&p->lock);
    return hit;
}

void hb__pool_refill(hb_manager *m, const hb_wspawn *key, const hb_pool_cgroup *cgk)
{
    struct hb_pool *p = m->pool;
    if (!p || p->owner != getpid() || key->guest || key->scratch_dir)
        return; /* a guest worker lives in its VM; a scratch dir is a worker's own */
    pool_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return;
    e->m = m;
    e->cgk = *cgk;
    e->result = -EAGAIN;
    e->used_ns = hb__now_ns();
    e->wc.fd = e->wc.pidfd = e->wc.worker_pidfd = e->wc.listener = -1;
    if (hb__wspawn_own_copy(&e->key, key) < 0) {
        free(e);
        return;
    }
    e->key.how.cgroup = NULL; /* late-bound: the entry makes its own */
    e->key.how.objects_view = NULL;
    pool_entry *victim = NULL;
    bool wanted = true;
    pthread_mutex_lock(&p->lock);
    pool_entry **pv = NULL;
    for (pool_entry **pp = &p->list; *pp; pp = &(*pp)->next) {
        pool_entry *o = *pp;
        if (matches(o, &e->key.how, cgk)) {
            if (atomic_load(&o->done) && o->result != 0) {
                pv = pp; /* its start failed: try again in its place */
                break;
            }
            o->used_ns = e->used_ns; /* one per key, there already */
            wanted = false;
            break;
        }
        if (atomic_load(&o->done) && (!pv || o->used_ns < (*pv)->used_ns))
            pv = pp; /* the least recently used idle one */
    }
    if (wanted && (p->n >= p->max || (pv && matches(*pv, &e->key.how, cgk)))) {
        if (pv) {
            victim = *pv;
            *pv = victim->next;
            p->n--;
        } else {
            wanted = false; /* full of workers still starting */
        }
    }
    if (wanted) {
        e->victim = victim;
        if (hb__thread_start(&e->thread, false, 0, start_main, e) == 0) {
            e->running = true;
            e->next = p->list;
            p->list = e;
            p->n++;
            e = NULL;
            victim = NULL;
        } else {
            e->victim = NULL;
        }
    }
    pthread_mutex_unlock(&p->lock);
    entry_release(victim);
    entry_release(e);
}

void hb__pool_free(hb_manager *m)
{
    struct hb_pool *p = m->pool;
    if (!p)
        return;
    m->pool = NULL;
    if (p->owner != getpid())
        return; /* a forked child's copy: its entries (and threads) are the parent's */
    pthread_mutex_lock(&p->lock);
    pool_entry *list = p->list;
    p->list = NULL;
    pthread_mutex_unlock(&p->lock);
    while (list) {
        pool_entry *e = list;
        list = e->next;
        entry_release(e);
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int hb_manager_pool_stats(hb_manager *m, hb_pool_stats *out)
{
    if (!m || !out)
        return -EINVAL;
    hb_pool_stats s = {0};
    struct hb_pool *p = m->pool;
    if (p) {
        pthread_mutex_lock(&p->lock);
        for (pool_entry *e = p->list; e; e = e->next) {
            if (!atomic_load(&e->done))
                s.starting++;
            else if (e->result == 0)
                s.ready++;
        }
        s.hits = p->hits;
        s.misses = p->misses;
        pthread_mutex_unlock(&p->lock);
    }
    *out = s;
    return 0;
}
