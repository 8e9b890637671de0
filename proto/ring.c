/* proto/ring.c - the shared-memory call ring (see ring.h). */
#include "ring.h"

#include "wire.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int hb__ring_create(int *fd, hb_ring **ring)
{
    int m = memfd_create("hotbox-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (m < 0)
        return -errno;
    int r = 0;
    /* Sealed at its size: neither side can shrink it under the other's
     * mapping (a SIGBUS in the harness). */
    if (ftruncate(m, HB_RING_SIZE) < 0 ||
        fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        r = -errno;
        close(m);
        return r;
    }
    void *p = mmap(NULL, HB_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
    if (p == MAP_FAILED) {
        r = -errno;
        close(m);
        return r;
    }
    *fd = m;
    *ring = p;
    return 0;
}

int hb__ring_map(int fd, hb_ring **ring)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode) || st.st_size != (off_t)HB_RING_SIZE)
        return -EINVAL;
    void *p = mmap(NULL, HB_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    *ring = p;
    return 0;
}

void hb__ring_unmap(hb_ring *ring)
{
    if (ring)
        munmap(ring, HB_RING_SIZE);
}

int hb__ring_cpu(void)
{
    return sched_getcpu(); /* rseq or the vDSO: no system call */
}

int hb__futex_wait(_Atomic uint32_t *word, uint32_t val, uint64_t timeout_ns)
{
    struct timespec ts = {(time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull)};
    long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, val, timeout_ns ? &ts : NULL,
                     NULL, 0);
    if (r == 0 || errno == EAGAIN)
        return 0;
    return -errno;
}

void hb__futex_wake(_Atomic uint32_t *word)
{
    (void)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Spins until *word != old, the ring's peer dies (ring non-NULL) or
 * spin_ns pass. Returns whether it stopped before the time ran out. */
static bool spin_on(_Atomic uint32_t *word, uint32_t old, hb_ring *ring, uint64_t spin_ns)
{
    if (atomic_load_explicit(word, memory_order_acquire) != old)
        return true;
    if (!spin_ns)
        return false;
    /* The clock is read every 64 pauses only, and first after 64 (a
     * clock read costs ~0.1 us on a VM, a fast reply less). */
    uint64_t end = 0;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (atomic_load_explicit(word, memory_order_acquire) != old)
                return true;
            if (ring && !hb__ring_peer_alive(ring))
                return true;
            cpu_relax();
        }
        uint64_t now = mono_ns();
        if (!end)
            end = now + spin_ns;
        else if (now >= end)
            return false;
    }
}

bool hb__ring_spin(_Atomic uint32_t *word, uint32_t old, uint64_t spin_ns)
{
    return spin_on(word, old, NULL, spin_ns);
}

void hb__ring_wait_ne(_Atomic uint32_t *word, uint32_t old, _Atomic uint32_t *sleeping,
                      uint64_t spin_ns)
{
    if (hb__ring_spin(word, old, spin_ns))
        return;
    /* Announce, then re-check (both sequentially consistent): the signaller
     * changes the word, then reads the announcement, so one of the two sees
     * the other. */
    atomic_store(sleeping, 1);
    while (atomic_load(word) == old)
        (void)hb__futex_wait(word, old, 0);
    atomic_store(sleeping, 0);
}

void hb__ring_signal(_Atomic uint32_t *word, _Atomic uint32_t *sleeping)
{
    atomic_fetch_add(word, 1);
    if (atomic_load(sleeping))
        hb__futex_wake(word);
}

uint32_t hb__ring_post(hb_ring *ring, uint32_t kind)
{
    int me = hb__ring_cpu();
    if (atomic_load_explicit(&ring->caller_cpu, memory_order_relaxed) != me)
        atomic_store_explicit(&ring->caller_cpu, me, memory_order_relaxed);
    if (kind == HB_RING_KIND_RING)
        atomic_store_explicit(&ring->state, HB_RING_REQ, memory_order_relaxed);
    /* The harness is the bell's only writer. A locked exchange, as
     * hb__ring_signal's increment: it orders the frame and the state
     * before the bell, and the bell before the read of the sleep flag
     * (hb__ring_wait_ne's other half). */
    uint32_t b = atomic_load_explicit(&ring->bell, memory_order_relaxed);
    b = (((b >> 1) + 1) << 1) | (kind == HB_RING_KIND_RING);
    atomic_exchange(&ring->bell, b);
    if (atomic_load(&ring->worker_sleeping))
        hb__futex_wake(&ring->bell);
    return b;
}

uint32_t hb__ring_await(hb_ring *ring, uint64_t spin_ns)
{
    int peer = atomic_load_explicit(&ring->worker_cpu, memory_order_relaxed);
    int me = hb__ring_cpu();
    uint64_t budget = peer >= 0 && me >= 0 && peer == me ? 0 : spin_ns;
    /* The life word is watched once it was ever set (a word never set is
     * the poll's to judge); one that says "dead" ends the spin. */
    bool watch = atomic_load_explicit(&ring->life, memory_order_relaxed) != 0;
    (void)spin_on(&ring->state, HB_RING_REQ, watch ? ring : NULL, budget);
    bool dead = watch && !hb__ring_peer_alive(ring);
    uint32_t expect = HB_RING_REQ;
    if (atomic_compare_exchange_strong(&ring->state, &expect, HB_RING_SLEEPING))
        return dead ? HB_RING_DEAD : HB_RING_SLEEPING;
    return expect; /* what the worker (or plugin code) left there */
}

int hb__ring_hold_life(hb_ring *ring)
{
    struct robust_list_head *head = NULL;
    size_t len = 0;
    if (syscall(SYS_get_robust_list, 0, &head, &len) < 0)
        return -errno;
    if (!head || len != sizeof(*head))
        return -ENOTSUP;
    /* The kernel finds the word at node + futex_offset (glibc's offset,
     * the same for every node of the list): the node goes where that lands
     * on life, which must be inside life's own line. */
    char *node = (char *)&ring->life - head->futex_offset;
    char *lo = (char *)ring->life_node_room, *hi = lo + sizeof(ring->life_node_room);
    if (node < lo || node + sizeof(struct robust_list) > hi ||
        (uintptr_t)node % _Alignof(struct robust_list))
        return -ENOTSUP;
    struct robust_list *n = (struct robust_list *)(void *)node;
    atomic_store(&ring->life, (uint32_t)syscall(SYS_gettid));
    /* Linked at the head, as glibc links a robust mutex; glibc's own walks
     * (unlocking one of its mutexes) pass over it. Only this thread touches
     * its list, so plain stores suffice. */
    n->next = head->list.next;
    head->list.next = n;
    return 0;
}

/* Worker: publishes the CPU it runs on, writing only when it changed (the
 * caller reads the word before each spin). */
static void note_cpu(hb_ring *ring)
{
    int me = hb__ring_cpu();
    if (atomic_load_explicit(&ring->worker_cpu, memory_order_relaxed) != me)
        atomic_store_explicit(&ring->worker_cpu, me, memory_order_relaxed);
}

uint32_t hb__ring_next(hb_ring *ring, uint32_t *seen)
{
    int peer = atomic_load_explicit(&ring->caller_cpu, memory_order_relaxed);
    int me = hb__ring_cpu();
    uint64_t budget = peer >= 0 && me >= 0 && peer == me ? 0 : HB_RING_WORKER_SPIN_NS;
    hb__ring_wait_ne(&ring->bell, *seen, &ring->worker_sleeping, budget);
    *seen = atomic_load(&ring->bell);
    uint32_t kind = *seen & 1 ? HB_RING_KIND_RING : HB_RING_KIND_SOCKET;
    if (kind == HB_RING_KIND_RING) {
        /* The frame's first 60 bytes came with the bell; the lines after
         * them (a larger frame) are fetched now, while the worker sets
         * about the request. */
        uint32_t len;
        memcpy(&len, ring->req, sizeof(len)); /* the header's, little endian */
        len = le32toh(len);
        for (uint32_t off = 60; off < len + HB_WIRE_HEADER && off < HB_RING_SLOT; off += 64)
            __builtin_prefetch(ring->req + off);
    }
    atomic_store_explicit(&ring->taken, *seen, memory_order_relaxed);
    note_cpu(ring);
    return kind;
}

bool hb__ring_reply(hb_ring *ring, const void *frame, size_t len)
{
    note_cpu(ring);
    if (!frame)
        return atomic_exchange(&ring->state, HB_RING_SOCKET), false;
    memcpy(ring->rep, frame, len);
    atomic_store_explicit(&ring->rep_len, (uint32_t)len, memory_order_relaxed);
    /* Only a caller still spinning (REQ) needs no WAKE; anything else is a
     * sleeping caller, or plugin code that wrote the state, and a WAKE
     * then keeps the caller from waiting out its time limit. */
    return atomic_exchange(&ring->state, HB_RING_DONE) != HB_RING_REQ;
}

int hb__ring_take_request(hb_ring *ring, uint8_t *buf, hb_frame *f)
{
    uint8_t hdr[HB_WIRE_HEADER];
    memcpy(hdr, ring->req, sizeof(hdr));
    uint32_t plen;
    /* The length is read once, from the copy, and bounded by the slot. */
    if (hb__wire_parse_header(hdr, HB_RING_SLOT - HB_WIRE_HEADER, &f->type, &f->id, &plen) < 0)
        return -EPROTO;
    memcpy(buf, ring->req + HB_WIRE_HEADER, plen);
    f->len = plen;
    f->payload = plen ? buf : NULL;
    return 0;
}
