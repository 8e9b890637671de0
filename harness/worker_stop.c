/* harness/worker_stop.c - ending a worker: SHUTDOWN (its fini hooks run)
 * with a grace period, the reply awaited, the process reaped; a worker that
 * does not answer in time is killed (hb__wc_kill). hb__wc_stop_begin sends
 * SHUTDOWN to many workers at once (hb_manager_free) before each is
 * waited for. */
#include <stdlib.h>

#include "harness.h"
#include "monitor.h"
#include "proto.h"
#include "ring.h"

void hb__wc_stop_begin(hb_wclient *wc, unsigned grace_ms)
{
    if (wc->pid <= 0 || wc->stopping)
        return;
    hb_wbuf w = {0};
    hb__proto_empty_encode(&w, HB_MSG_SHUTDOWN, hb__wc_next_id(wc));
    uint64_t deadline = hb__now_ns() + (uint64_t)grace_ms * 1000000ull;
    if (hb__wire_finish(&w) == 0 && hb__wire_send_until(wc->fd, &w, deadline) == 0) {
        if (wc->ring)
            hb__ring_post(wc->ring, HB_RING_KIND_SOCKET);
        wc->stop_id = hb__wire_frame_id(&w);
        wc->stop_deadline = deadline;
        wc->stopping = true;
    }
    hb__wire_release(&w);
}

void hb__wc_stop(hb_wclient *wc, unsigned grace_ms)
{
    wc->guest_reusable = false; /* a parked guest VM goes too */
    if (wc->pid <= 0) {
        hb__wc_reset(wc);
        return;
    }
    hb_frame reply;
    char *err = NULL;
    int r;
    if (wc->stopping) {
        /* SHUTDOWN went out with hb__wc_stop_begin: wait for its reply
         * until the deadline set then. */
        wc->stopping = false;
        wc->denied[0] = 0;
        wc->fault.valid = false;
        r = hb__wc_await(wc, wc->stop_id, wc->stop_deadline, grace_ms, NULL, NULL, &reply, &err);
    } else {
        hb_wbuf w = {0};
        hb__proto_empty_encode(&w, HB_MSG_SHUTDOWN, hb__wc_next_id(wc));
        r = hb__wc_request(wc, &w, grace_ms, NULL, NULL, &reply, &err);
        hb__wire_release(&w);
    }
    free(err);
    if (r == 0 && wc->guest) { /* the worker is done; QEMU never exits by itself */
        hb__frame_release(&reply);
        hb__wc_kill(wc);
        return;
    }
    if (r == 0) {
        hb__frame_release(&reply);
        int st;
        if (hb_mon_reap(wc->pid, wc->pidfd, (int)grace_ms, &st) == 0) {
            wc->wait_status = hb__wc_unwrap_status(wc, st);
            wc->reaped = true;
            hb__wc_reset(wc);
            return;
        }
    }
    hb__wc_kill(wc);
}
