/*
 * proto/ring.h - the shared-memory call path between the harness and its
 * worker: the one owner of the ring's layout and of the spin-then-futex
 * wait both sides use.
 *
 * The ring is a memfd of HB_RING_SIZE bytes the harness creates before the
 * worker starts; the worker maps it (before its seccomp filter is applied)
 * and both keep it mapped for the worker's life. Calls are synchronous per
 * sandbox, so the ring holds one request and one reply at a time: a slot
 * each way carrying a whole wire frame (wire.h), byte for byte what the
 * socket would carry. Nothing else changes: the frame is encoded, checked
 * and decoded by the same code as on the socket.
 *
 * The doorbell. Every request the worker's loop reads is announced by the
 * harness on `bell` (a futex word: a count, times two, plus the kind's
 * bit): kind HB_RING_KIND_RING (bit set) means the frame is in the request
 * slot, HB_RING_KIND_SOCKET that it was written on the socket (control
 * messages, frames larger than a slot). The request slot starts right
 * after the bell, in its cache line, and a frame's length is its own
 * header's: a call of a few small arguments (60 bytes) arrives whole with
 * the bell, in one cache-line transfer. The worker waits for the bell
 * only (spinning briefly, then in FUTEX_WAIT); it never blocks on the
 * socket except to read a frame the bell announced.
 *
 * The reply. `state` goes REQ (posted) -> DONE (reply in the reply slot) or
 * SOCKET (the reply was too large and went on the socket). The caller spins
 * on it for a short, adaptive budget; if the reply is not there by then it
 * moves REQ -> SLEEPING (compare-and-swap) and waits on the socket, where
 * it also watches the worker's pidfd and the seccomp listener: a worker that
 * finishes a reply and finds SLEEPING sends a WAKE frame (HB_MSG_RING_WAKE,
 * the request's id) on the socket. A worker that dies mid-call is therefore
 * seen by the same poll as before, at most one spin budget late, and the
 * call's time limit holds as before.
 *
 * Placement. Spinning pays only while the other side runs on another CPU:
 * on the same CPU the spinner holds the CPU the other side needs. Each side
 * publishes the CPU it last ran on; a side spins only when the other one was
 * last seen on a different CPU, and otherwise blocks at once.
 *
 * Death. The worker's serving thread holds `life` as a robust futex: it
 * writes its thread id there and links the word into the thread's robust
 * list (the one glibc registered with set_robust_list), before its seccomp
 * filter. When the thread ends (the process dies, by any signal, SIGKILL
 * included) the kernel itself sets FUTEX_OWNER_DIED in the word, before
 * the process's pidfd turns readable. The caller reads the word while it
 * spins and before every call, so a worker's death costs no system call
 * to notice; a word that says "dead" (or was never set) sends the caller
 * to the pidfd poll, which stays the authority.
 *
 * Trust. The worker's plugin code can write the whole mapping. The harness
 * reads a reply's length once, bounds it by the slot, copies the bytes out
 * before parsing them as an untrusted frame, and treats a state it did not
 * expect as a protocol violation; the worst a hostile worker can do is fail
 * its own calls. That includes `life`: a plugin that clears it sends the
 * caller to the poll (a system call more); one that unlinks it or forges
 * "alive" delays the report of its own death by one spin budget, after
 * which the socket poll (pidfds) sees it as before.
 */
#ifndef HB_RING_H
#define HB_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HB_RING_SIZE 16384u
/* Bytes of one frame (header included) each way. */
#define HB_RING_SLOT 8060u

/* The kind of request bell announces. */
enum { HB_RING_KIND_SOCKET = 1, HB_RING_KIND_RING = 2 };

/* The reply's state. */
enum {
    HB_RING_IDLE = 0,
    HB_RING_REQ = 1,      /* a ring request is posted, no reply yet */
    HB_RING_SLEEPING = 2, /* the caller stopped spinning: it waits for WAKE on the socket */
    HB_RING_DONE = 3,     /* the reply is in the reply slot */
    HB_RING_SOCKET = 4,   /* the reply went on the socket */
    HB_RING_DEAD = 5,     /* not a state: hb__ring_await's "SLEEPING, and the worker died" */
};

/* Spin budgets. A blocking hand-off to another CPU costs ~70 us on the
 * nested VMs hotbox is measured on (3.4 us on one CPU), a spinning one
 * ~0.4 us. The caller spins for up to twice what its last call took,
 * within [MIN, MAX] (MAX covers a cross-CPU wake-up, so a worker that was
 * asleep is still caught spinning and the next call finds it awake); the
 * worker waits this long for the next request before it sleeps. */
#define HB_RING_SPIN_MAX_NS 100000u
#define HB_RING_SPIN_MIN_NS 2000u
#define HB_RING_WORKER_SPIN_NS 100000u

/* The layout follows the round trip's cache-line transfers (each costs
 * ~0.1 us between CPUs on the VMs hotbox is measured on): the request
 * frame starts in the doorbell's line and the reply frame in the line the
 * caller spins on, so a small frame arrives with the word that announces
 * it instead of one transfer later; and the worker's own words live apart
 * from both, so it does not read the line the caller spins on before it
 * writes its reply there. */
typedef struct hb_ring {
    /* The worker's life (see "Death" above): a robust futex word, and room
     * for the robust-list node that points at it. */
    _Alignas(64) _Atomic uint32_t life;
    uint8_t life_node_room[60];
    /* The last bell the worker took: written by the worker on every
     * request, read by the harness only after a death; alone in its line,
     * so that write does not take away the line of the words below, which
     * the harness reads on every call (before, each post missed on it). */
    _Alignas(64) _Atomic uint32_t taken;
    /* Words off the round trip's path: the CPUs, written by their side
     * only when they change, `worker_sleeping` when the worker goes to
     * sleep and wakes. */
    _Alignas(64) _Atomic int32_t worker_cpu; /* where the worker last ran */
    _Atomic int32_t caller_cpu;             /* where the caller last posted from */
    _Atomic uint32_t worker_sleeping;       /* the worker waits in FUTEX_WAIT on bell */
    /* The doorbell's line, then the request frame (its length in its
     * header: nothing else to read). */
    _Alignas(64) _Atomic uint32_t bell;     /* futex word: count << 1 | RING */
    uint8_t req[HB_RING_SLOT];
    /* The line the caller spins on (written by the worker once per call:
     * the reply), then the reply frame. */
    _Alignas(64) _Atomic uint32_t state;    /* HB_RING_IDLE .. HB_RING_SOCKET */
    _Atomic uint32_t rep_len;               /* bytes in rep */
    uint8_t rep[HB_RING_SLOT];
} hb_ring;

_Static_assert(sizeof(hb_ring) == HB_RING_SIZE, "ring layout");
_Static_assert(offsetof(hb_ring, req) / 64 == offsetof(hb_ring, bell) / 64,
               "the request starts in the doorbell's line");
_Static_assert(offsetof(hb_ring, rep) / 64 == offsetof(hb_ring, state) / 64,
               "the reply starts in the state's line");

/* Harness: a new sealed memfd of HB_RING_SIZE bytes (O_CLOEXEC) and its
 * mapping. Returns 0 or -errno. */
int hb__ring_create(int *fd, hb_ring **ring);
/* Worker: maps fd, which must be a memfd of exactly HB_RING_SIZE bytes.
 * Returns 0 or -errno (-EINVAL for a wrong size). */
int hb__ring_map(int fd, hb_ring **ring);
void hb__ring_unmap(hb_ring *ring);

/* The CPU this thread runs on (-1 when unknown); cheap (no system call). */
int hb__ring_cpu(void);

/* The futex primitives (shared, not private: two processes). wait returns
 * 0 when woken or when *word != val, -ETIMEDOUT, -EINTR. */
int hb__futex_wait(_Atomic uint32_t *word, uint32_t val, uint64_t timeout_ns);
void hb__futex_wake(_Atomic uint32_t *word);

/* Spins until *word != old or spin_ns pass. Returns whether it changed. */
bool hb__ring_spin(_Atomic uint32_t *word, uint32_t old, uint64_t spin_ns);

/* Waits until *word != old: spins for spin_ns, then announces itself in
 * *sleeping and sleeps in FUTEX_WAIT. The other side pairs it with
 * hb__ring_signal, which wakes it only when it announced itself. */
void hb__ring_wait_ne(_Atomic uint32_t *word, uint32_t old, _Atomic uint32_t *sleeping,
                      uint64_t spin_ns);
void hb__ring_signal(_Atomic uint32_t *word, _Atomic uint32_t *sleeping);

/* Harness: announces a request of kind HB_RING_KIND_* (for RING, the
 * request frame is already in req) and wakes the worker if it sleeps.
 * Returns the bell's new value (what `taken` says once the worker took
 * it). */
uint32_t hb__ring_post(hb_ring *ring, uint32_t kind);

/* Harness: waits for the reply of a posted RING request, spinning up to
 * spin_ns when the worker was last seen on another CPU. Returns
 * HB_RING_DONE or HB_RING_SOCKET when the reply is there (in the ring or on
 * the socket), HB_RING_SLEEPING when the caller must now wait on the socket
 * for WAKE or the reply, HB_RING_DEAD when the same holds and the worker's
 * life word says it died (so the spin ended early: the pidfd will say how),
 * or another value (a protocol violation: plugin code wrote the state). */
uint32_t hb__ring_await(hb_ring *ring, uint64_t spin_ns);

/* Worker: makes ring->life a robust futex held by the calling thread
 * (see "Death"). Returns 0, or -errno when the thread has no robust list
 * the word can join (the caller then falls back to the poll). Call it
 * before the seccomp filter. */
int hb__ring_hold_life(hb_ring *ring);

/* Harness: whether the worker's serving thread is known to run (no system
 * call). false means "dead or unknown": ask the pidfd. */
static inline bool hb__ring_peer_alive(hb_ring *ring)
{
    uint32_t v = atomic_load_explicit(&ring->life, memory_order_acquire);
    return v != 0 && !(v & 0x40000000u); /* FUTEX_OWNER_DIED */
}

/* Worker: waits for the next bell after *seen (updating it) and returns its
 * kind. */
uint32_t hb__ring_next(hb_ring *ring, uint32_t *seen);

/* Worker: the RING request just announced, copied out of the ring (plugin
 * threads can write it too) before it is parsed: its header copied and
 * checked (a payload past the slot is -EPROTO), its payload copied into buf (HB_RING_SLOT bytes, the caller's: no allocation
 * per call) and *f pointing there (payload NULL when empty; not to be
 * released). Returns 0 or -EPROTO for a frame that does not fit. */
struct hb_frame;
int hb__ring_take_request(hb_ring *ring, uint8_t *buf, struct hb_frame *f);

/* Worker: publishes a reply. frame/len in the slot (len <= HB_RING_SLOT),
 * or NULL when the reply went on the socket. Returns true when the caller
 * is not spinning on it any more and needs a WAKE frame on the socket. */
bool hb__ring_reply(hb_ring *ring, const void *frame, size_t len);

#endif /* HB_RING_H */
