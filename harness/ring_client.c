/* harness/ring_client.c - the harness side of the shared-memory call ring
 * (proto/ring.h): CALL requests posted in the ring, their replies read out
 * of it. Everything else about a request (deadlines, crashes, denials, the
 * socket) is worker_client.c's, shared through harness.h. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "ring.h"

static int ring_violation(hb_wclient *wc, char **err, const char *what)
{
    hb__wc_kill(wc);
    return hb__seterr(err, HB_EPROTO, "protocol violation on the call ring: %s; worker killed",
                      what);
}

/* Reads the reply of ring request id out of the ring. Plugin code can write
 * the ring: the length is read once and bounded, the bytes are copied out
 * once (into wc->ring_rep for an OK of this request, the usual answer, so
 * no allocation per call) before anything parses them, and anything but
 * OK or ERR for id is refused. */
int hb__wc_take_ring_reply(hb_wclient *wc, uint32_t id, hb_frame *reply, char **err)
{
    hb_ring *ring = wc->ring;
    wc->ring_pending = wc->ring_sleeping = false;
    if (atomic_load(&ring->state) != HB_RING_DONE)
        return ring_violation(wc, err, "no reply in the ring");
    uint32_t len = atomic_load_explicit(&ring->rep_len, memory_order_relaxed);
    if (len < HB_WIRE_HEADER || len > HB_RING_SLOT)
        return ring_violation(wc, err, "reply length out of bounds");
    uint8_t hdr[HB_WIRE_HEADER];
    memcpy(hdr, ring->rep, sizeof(hdr));
    hb_frame f = {0};
    uint32_t plen;
    if (hb__wire_parse_header(hdr, HB_RING_SLOT, &f.type, &f.id, &plen) < 0 ||
        plen != len - HB_WIRE_HEADER)
        return ring_violation(wc, err, "malformed reply frame");
    f.len = plen;
    if (f.type == HB_MSG_OK && f.id == id) {
        if (!wc->ring_rep && !(wc->ring_rep = malloc(HB_RING_SLOT)))
            return hb__seterr(err, -ENOMEM, "out of memory");
        memcpy(wc->ring_rep, ring->rep + HB_WIRE_HEADER, plen);
        f.payload = wc->ring_rep;
        *reply = f;
        return 0;
    }
    if (plen && !(f.payload = malloc(plen)))
        return hb__seterr(err, -ENOMEM, "out of memory");
    if (plen)
        memcpy(f.payload, ring->rep + HB_WIRE_HEADER, plen);
    int r = hb__wc_settle(wc, id, &f, reply, err);
    if (r != 1)
        return r;
    hb__frame_release(&f);
    return ring_violation(wc, err, "a reply that is neither OK nor ERR");
}

void hb__wc_reply_release(hb_wclient *wc, hb_frame *reply)
{
    if (reply->payload && reply->payload == wc->ring_rep) {
        reply->payload = NULL;
        reply->len = 0;
        return;
    }
    hb__frame_release(reply);
}

/* Whether a wrapped worker's bwrap was killed (by a signal, from
 * outside), as opposed to alive or exited: bwrap exits when its worker
 * dies, which may be this very call crashing, a death the ordinary path
 * reports. Asked without reaping (WNOWAIT): bwrap is this process's child. */
static bool wrapper_killed(hb_wclient *wc)
{
    if (!wc->wrapped || wc->pid <= 0 || hb_mon_alive(wc->pidfd))
        return false;
    siginfo_t si = {0};
    int r;
    do
        r = waitid(P_PIDFD, (id_t)wc->pidfd, &si, WEXITED | WNOHANG | WNOWAIT);
    while (r < 0 && errno == EINTR);
    return r == 0 && si.si_pid != 0 && (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED);
}

/* A wrapped worker's bwrap found killed once the call was posted (it was
 * left to the call: hb__wc_alive_for_call). The worker is killed with it
 * before anything it did is read, so the call is answered by nothing that
 * ran after bwrap's death could be seen: it reads as a worker found dead
 * before the call, which the caller recovers from (call.c). */
static int wrapper_gone(hb_wclient *wc, char **err)
{
    hb__wc_kill(wc);
    wc->undelivered = true;
    return hb__seterr(err, HB_ECRASHED,
                      "had died: its jail (bwrap) ended before the call was answered");
}

/* The next call spins for twice what this one took (a reply that would
 * have come while spinning), up to the budget; a call that took longer
 * than that spins for the minimum only. Judged on the time taken, not on
 * whether the spin caught it, so a worker that was asleep once (a wake-up
 * costs what a spin does) does not shorten the spins after it. */
static void adapt_spin(hb_wclient *wc, uint64_t took_ns)
{
    uint64_t next = took_ns <= HB_RING_SPIN_MAX_NS ? 2 * took_ns : HB_RING_SPIN_MIN_NS;
    if (next > HB_RING_SPIN_MAX_NS)
        next = HB_RING_SPIN_MAX_NS;
    if (next < HB_RING_SPIN_MIN_NS)
        next = HB_RING_SPIN_MIN_NS;
    wc->spin_ns = (uint32_t)next;
}

/* The ring call proper; *clock as for hb__wc_call. */
static int ring_call(hb_wclient *wc, hb_wbuf *req, unsigned timeout_ms, uint64_t *clock,
                     hb_frame *reply, char **err)
{
    hb_ring *ring = wc->ring;
    wc->denied[0] = 0;
    wc->fault.valid = false;
    wc->undelivered = false;
    /* A plugin thread stopped in a denied call (seen by the denial
     * watcher, or by the liveness poll before this call) ends the worker
     * before anything else runs, as the socket path's poll would. */
    if (wc->denial_pending || wc->dwatch) {
        int dr = hb__wc_take_denial(wc, err);
        if (dr < 0)
            return dr;
    }
    uint32_t id = hb__wire_frame_id(req);
    uint64_t t0 = *clock;
    uint64_t deadline = t0 + (uint64_t)timeout_ms * 1000000ull;
    memcpy(ring->req, req->data, req->len);
    wc->ring_bell = hb__ring_post(ring, HB_RING_KIND_RING);
    wc->undelivered = false;
    wc->ring_pending = true;
    /* bwrap's death, asked now that the worker has the call: a caller
     * that saw bwrap killed before it called (its pidfd readable) is
     * answered by no reply, and the poll overlaps the worker's work on
     * another CPU instead of adding to the round trip. */
    if (wrapper_killed(wc))
        return wrapper_gone(wc, err);
    uint32_t st = hb__ring_await(ring, wc->spin_ns);
    if (st == HB_RING_DONE) {
        *clock = hb__now_ns();
        adapt_spin(wc, *clock - t0);
        return hb__wc_take_ring_reply(wc, id, reply, err);
    }
    /* DEAD: the kernel marked the worker's life word while we spun; the
     * socket wait (its pidfds) reaps it and says how it died. */
    if (st == HB_RING_SLEEPING || st == HB_RING_SOCKET || st == HB_RING_DEAD) {
        wc->ring_sleeping = st != HB_RING_SOCKET;
        int r = hb__wc_await(wc, id, deadline, timeout_ms, NULL, NULL, reply, err);
        wc->ring_pending = wc->ring_sleeping = false;
        *clock = hb__now_ns();
        adapt_spin(wc, *clock - t0);
        return r;
    }
    wc->ring_pending = false;
    return ring_violation(wc, err, "unknown reply state");
}

int hb__wc_call(hb_wclient *wc, hb_wbuf *req, unsigned timeout_ms, uint64_t *clock,
                hb_frame *reply, char **err)
{
    uint64_t start = *clock;
    int r;
    if (!wc->ring || wc->pid <= 0 || hb__wire_finish(req) < 0 || req->len > HB_RING_SLOT)
        r = wrapper_killed(wc) ? wrapper_gone(wc, err)
                               : hb__wc_request(wc, req, timeout_ms, NULL, NULL, reply, err);
    else
        r = ring_call(wc, req, timeout_ms, clock, reply, err);
    if (*clock == start) /* not read at the end yet (the socket, an error) */
        *clock = hb__now_ns();
    return r;
}
