/* harness/spare.c - a sandbox's spare worker: started, confined and
 * greeted (fork, exec, bwrap namespaces, seccomp, listener, HELLO) before
 * it is needed, so a restart after a crash hands over to it instead of
 * waiting for all that.
 *
 * A spare is armed by a sandbox's first restart and refilled after each
 * one, on a thread of its own, off the caller's path: idle sandboxes that
 * never crash carry none (memory stays one worker per sandbox); one that
 * crashed once likely crashes again (the edit-and-retry loop), and gets a
 * spare from then on. It is started with the sandbox's spawn parameters of
 * the time (profile, limits, cgroup, view, output, runtime env and data);
 * when they changed since (a load that brought a new runtime env), the
 * spare is dropped and the restart starts a worker as before.
 *
 * The sandbox is single-threaded API; the refill thread touches only the
 * hb_spare it was given (its own copy of the parameters and its own
 * client) and the sandbox's cgroup and view, which outlive it: every taker
 * and hb__spare_free join it first. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "thread.h"

struct hb_spare {
    pthread_t thread;
    bool running; /* thread started and not joined */
    int result;   /* hb__wc_spawn's, once joined */
    char *err;
    hb_wclient wc; /* the spare when result == 0 */
    hb_wspawn how; /* what it was started with (strings owned) */
    char *worker_path, *output_path, *objects_dir, *objects_view, *preload, *write_dir;
    char **env, **data_dirs, **inst_env, **allow[3];
};

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_strv(char *const *a, char *const *b)
{
    if (!a || !b)
        return (!a || !*a) && (!b || !*b);
    for (; *a && *b; a++, b++)
        if (strcmp(*a, *b) != 0)
            return false;
    return !*a && !*b;
}

static bool same_limits(const hb_limits *a, const hb_limits *b)
{
    return a->memory_bytes == b->memory_bytes && a->cpu_seconds == b->cpu_seconds &&
           a->open_files == b->open_files && a->processes == b->processes &&
           a->file_size == b->file_size && a->no_core == b->no_core;
}

static bool same_how(const hb_wspawn *a, const hb_wspawn *b)
{
    return same_str(a->worker_path, b->worker_path) &&
           same_str(a->output_path, b->output_path) && a->profile == b->profile &&
           a->max_state == b->max_state && same_str(a->objects_dir, b->objects_dir) &&
           same_str(a->objects_view, b->objects_view) &&
           same_str(a->scratch_dir, b->scratch_dir) &&
           same_limits(&a->limits, &b->limits) && a->cgroup == b->cgroup &&
           a->store == b->store && same_strv(a->env, b->env) &&
           same_strv(a->data_dirs, b->data_dirs) && same_str(a->preload, b->preload) &&
           same_str(a->write_dir, b->write_dir) && same_strv(a->inst_env, b->inst_env) &&
           same_strv(a->allow[0], b->allow[0]) && same_strv(a->allow[1], b->allow[1]) &&
           same_strv(a->allow[2], b->allow[2]) && a->guest == b->guest;
}

static void spare_release(struct hb_spare *sp)
{
    if (!sp)
        return;
    if (sp->running)
        pthread_join(sp->thread, NULL);
    if (sp->result == 0)
        hb__wc_kill(&sp->wc);
    free(sp->err);
    free(sp->worker_path);
    free(sp->output_path);
    free(sp->objects_dir);
    HB_FREE_ALL(sp->objects_view, sp->preload, sp->write_dir);
    HB_STRV_FREE_ALL(sp->env, sp->data_dirs, sp->inst_env, sp->allow[0], sp->allow[1],
                     sp->allow[2]);
    free(sp);
}

static void *refill_main(void *arg)
{
    struct hb_spare *sp = arg;
    sp->result = hb__wc_spawn(&sp->wc, &sp->how, &sp->err);
    return NULL;
}

void hb__spare_refill(hb_sandbox *sb, const hb_wspawn *how)
{
    if (sb->spare || how->scratch_dir || how->guest)
        return; /* one at a time; a scratch dir is a worker's own; a guest
                   worker restarts in its VM (guest_worker.c) */
    struct hb_spare *sp = calloc(1, sizeof(*sp));
    if (!sp)
        return;
    sp->result = -EAGAIN;
    sp->wc.fd = sp->wc.pidfd = sp->wc.worker_pidfd = sp->wc.listener = -1;
    /* The copy owns every string it points at: the sandbox's may change or
     * go while the refill thread reads them. */
    sp->how = *how;
    bool ok = true;
#define DUP_STR(field) \
    ok = ok && (!how->field || (sp->how.field = sp->field = strdup(how->field)))
#define DUP_STRV(dst, src) \
    ok = ok && (!(src) || ((dst) = hb__strv_dup((char **)(src))))
    DUP_STR(worker_path);
    DUP_STR(output_path);
    DUP_STR(objects_dir);
    DUP_STR(objects_view);
    DUP_STR(preload);
    DUP_STR(write_dir);
    DUP_STRV(sp->env, how->env);
    DUP_STRV(sp->data_dirs, how->data_dirs);
    DUP_STRV(sp->inst_env, how->inst_env);
    for (size_t k = 0; k < 3; k++)
        DUP_STRV(sp->allow[k], how->allow[k]);
#undef DUP_STR
#undef DUP_STRV
    sp->how.env = sp->env;
    sp->how.data_dirs = sp->data_dirs;
    sp->how.inst_env = sp->inst_env;
    for (size_t k = 0; k < 3; k++)
        sp->how.allow[k] = sp->allow[k];
    if (!ok) {
        spare_release(sp);
        return;
    }
    if (hb__thread_start(&sp->thread, false, 0, refill_main, sp) < 0) {
        spare_release(sp);
        return;
    }
    sp->running = true;
    sb->spare = sp;
}

bool hb__spare_take(hb_sandbox *sb, const hb_wspawn *how, hb_wclient *out)
{
    struct hb_spare *sp = sb->spare;
    if (!sp)
        return false;
    sb->spare = NULL;
    if (sp->running) {
        pthread_join(sp->thread, NULL);
        sp->running = false;
    }
    /* A spare that died while it waited, or one started with parameters
     * the sandbox no longer has, is of no use. */
    if (sp->result != 0 || !same_how(&sp->how, how) || !hb__wc_alive(&sp->wc)) {
        spare_release(sp);
        return false;
    }
    *out = sp->wc;
    sp->result = -EAGAIN; /* moved out: not killed with sp */
    spare_release(sp);
    return true;
}

void hb__spare_free(hb_sandbox *sb)
{
    spare_release(sb->spare);
    sb->spare = NULL;
}
