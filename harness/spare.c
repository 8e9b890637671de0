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
 * hb_spare it was given (its own copy of the parameters, wspawn.c, and its
 * own client) and the sandbox's cgroup and view, which outlive it: every
 * taker and hb__spare_free join it first. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"
#include "thread.h"

struct hb_spare {
    pthread_t thread;
    bool running; /* thread started and not joined */
    int result;   /* hb__wc_spawn's, once joined */
    char *err;
    hb_wclient wc;     /* the spare when result == 0 */
    hb_wspawn_own how; /* what it was started with */
};

static void spare_release(struct hb_spare *sp)
{
    if (!sp)
        return;
    if (sp->running)
        pthread_join(sp->thread, NULL);
    if (sp->result == 0)
        hb__wc_kill(&sp->wc);
    free(sp->err);
    hb__wspawn_own_release(&sp->how);
    free(sp);
}

static void *refill_main(void *arg)
{
    struct hb_spare *sp = arg;
    sp->result = hb__wc_spawn(&sp->wc, &sp->how.how, &sp->err);
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
    if (hb__wspawn_own_copy(&sp->how, how) < 0) {
        free(sp);
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
    if (sp->result != 0 || !hb__wspawn_same(&sp->how.how, how, false) ||
        !hb__wc_alive(&sp->wc)) {
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
