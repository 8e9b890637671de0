/*
 * compiler/microvm/vmproto.h - the host <-> guest agent protocol over the
 * virtio-serial port "org.hotbox.agent". Header-only so the static guest
 * agent and the host share one definition without sharing a library.
 *
 * A frame is a 12-byte header followed by `len` payload bytes. Both ends are
 * x86-64, so integers are little endian in memory and on the wire alike:
 *   u32 magic  HB_VMP_MAGIC
 *   u32 type   an hb_vmp_type value
 *   u32 len    payload length, at most HB_VMP_MAX_FRAME
 * Payload fields: u64 (8 bytes), str (u32 length + bytes, no NUL on the wire).
 *
 * Messages:
 *   READY    guest -> host once the port is open: str kernel release. The
 *            guest has not mounted its 9p exports yet (QEMU 7.2 refuses to
 *            migrate a VM with a mounted 9p export), so a VM can be saved
 *            as a snapshot in this state and restored many times.
 *   MOUNT    host -> guest, once per boot or restore, before any RUN: u64
 *            host CLOCK_REALTIME in ns (a restored guest's clock is the
 *            snapshot's), str seed (random bytes mixed into the guest's
 *            /dev/urandom, so restored VMs do not share one RNG state). The
 *            guest sets its clock, mounts /usr and /job over 9p and answers
 *            MOUNTED.
 *   MOUNTED  guest -> host: u64 errno (0 = mounted), str message.
 *   SCRUB    host -> guest, empty, only before saving a snapshot: the guest
 *            drops its caches and zero-fills its free memory (migration
 *            skips zero pages: a smaller snapshot, a faster restore and a
 *            smaller restored VM), then answers PONG.
 *   RUN      host -> guest: u64 timeout_ms, u64 max_memory (RLIMIT_AS),
 *            u64 max_fsize (RLIMIT_FSIZE), u64 max_output (bytes of stdout+
 *            stderr kept), str cwd, u64 argc, argc x str argv, and then,
 *            optionally (an older host sends nothing more): u64 nbinds,
 *            nbinds x (str from, str to). The agent runs the command in a
 *            private mount namespace where each `from` (a guest directory,
 *            e.g. /job/src) is bind-mounted on `to` (created if missing), in
 *            the order given, before it changes to cwd. The host uses this to
 *            show the plugin, include and job directories at their host
 *            paths, so argv, __FILE__, depfiles and diagnostics need no path
 *            translation and objects are byte-identical to a host compile.
 *   RESULT   guest -> host: u64 kind (hb_vmp_kind), u64 code (exit status or
 *            signal number), u64 elapsed_us, str output (stdout+stderr, cut
 *            at max_output; a "[output truncated]" line says so).
 *   PING     host -> guest, empty; answered with PONG (empty).
 *   SHUTDOWN host -> guest, empty; the guest reboots, which with QEMU's
 *            -no-reboot and the kernel's reboot=t ends QEMU.
 *   WORKER   host -> guest (guest workers, issue 17; after MOUNTED): str
 *            path of hotbox-worker in the guest, str profile. The agent starts
 *            it as uid/gid 65534 with no_new_privs, `--fd 3 --profile P`, fd 3
 *            one end of a socketpair whose other end a relay process joins to
 *            the port HB_VMP_WORKER_PORT_NAME (the worker's wire code needs a
 *            socket; a virtio port is a character device). One at a time.
 *            Optionally (an older host sends nothing more) the sandbox's
 *            limits follow: u64 memory_bytes, u64 cpu_seconds, u64
 *            open_files, u64 processes, u64 file_size, u64 no_core (the
 *            fields of util/rlimit.h's hb_limits, 0 = unchanged); the agent
 *            applies them to the worker before exec, as hb__spawn does for a
 *            process worker, so a limit death reads the same on the host.
 *            Where the guest has the port HB_VMP_OUTPUT_PORT_NAME (a write-
 *            only port whose host end QEMU appends to the sandbox's output
 *            file), the worker's stdout and stderr are that port; else they
 *            are the agent's (the guest console log).
 *   WORKER_STARTED guest -> host: u64 errno (0 = started), u64 guest pid,
 *            str message.
 *   WORKER_EXIT guest -> host, unasked, when the worker ends: u64 kind
 *            (HB_VMP_EXITED, HB_VMP_SIGNALED, or HB_VMP_DENIED: the relay
 *            holds the seccomp listener the worker hands over and kills the
 *            worker when a call is denied), u64 code. (A worker's death
 *            gives the host no EOF: QEMU keeps the port's chardev open.)
 *   OBJECT   host -> guest (guest workers, after MOUNTED): str digest (the
 *            SHA-256 of a plugin object, 64 lowercase hex digits), str path
 *            (absolute). The host has staged the object as
 *            HB_VMP_OBJECT_DIR/<digest>; the agent reads it into memory,
 *            checks its SHA-256, and writes those bytes root-owned, mode 0444,
 *            at path (directories created; every one on the way must be
 *            root's and writable by no one else, or sticky), where the
 *            worker's LOAD/SWAP will name it. At most HB_VMP_MAX_OBJECT bytes.
 *   OBJECT_OK guest -> host: u64 errno (0 = in place; EBADMSG = the digest
 *            did not match), str message.
 */
#ifndef HB_VMPROTO_H
#define HB_VMPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HB_VMP_MAGIC 0x4d564248u /* "HBVM" */
#define HB_VMP_HEADER 12u
#define HB_VMP_MAX_FRAME (8u << 20)
#define HB_VMP_PORT_NAME "org.hotbox.agent"
#define HB_VMP_WORKER_PORT_NAME "org.hotbox.worker"
#define HB_VMP_OUTPUT_PORT_NAME "org.hotbox.output"
#define HB_VMP_MAX_BINDS 16u
#define HB_VMP_OBJECT_DIR "/job/objects"
#define HB_VMP_MAX_OBJECT (128u << 20)

enum hb_vmp_type {
    HB_VMP_READY = 1,
    HB_VMP_RUN = 2,
    HB_VMP_RESULT = 3,
    HB_VMP_PING = 4,
    HB_VMP_PONG = 5,
    HB_VMP_SHUTDOWN = 6,
    HB_VMP_MOUNT = 7,
    HB_VMP_MOUNTED = 8,
    HB_VMP_SCRUB = 9,
    HB_VMP_WORKER = 10,
    HB_VMP_WORKER_STARTED = 11,
    HB_VMP_WORKER_EXIT = 12,
    HB_VMP_OBJECT = 13,
    HB_VMP_OBJECT_OK = 14,
};

enum hb_vmp_kind {
    HB_VMP_EXITED = 0,   /* code = exit status */
    HB_VMP_SIGNALED = 1, /* code = signal number */
    HB_VMP_TIMEOUT = 2,  /* killed at its time limit */
    HB_VMP_SETUP = 3,    /* the agent could not start it; output says why */
    HB_VMP_DENIED = 4,   /* WORKER_EXIT only: killed for a call its seccomp profile
                            denies; code = the syscall number (~0: unknown) */
};

/* Appends into a caller-owned fixed buffer; `failed` latches on overflow. */
typedef struct hb_vmp_w {
    uint8_t *buf;
    size_t cap, len;
    bool failed;
} hb_vmp_w;

static inline void hb_vmp_put(hb_vmp_w *w, const void *p, size_t n)
{
    if (w->failed || w->cap - w->len < n) {
        w->failed = true;
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static inline void hb_vmp_put_u32(hb_vmp_w *w, uint32_t v) { hb_vmp_put(w, &v, 4); }
static inline void hb_vmp_put_u64(hb_vmp_w *w, uint64_t v) { hb_vmp_put(w, &v, 8); }
static inline void hb_vmp_put_strn(hb_vmp_w *w, const char *s, size_t n)
{
    if (n > UINT32_MAX) {
        w->failed = true;
        return;
    }
    hb_vmp_put_u32(w, (uint32_t)n);
    hb_vmp_put(w, s, n);
}
static inline void hb_vmp_put_str(hb_vmp_w *w, const char *s)
{
    hb_vmp_put_strn(w, s ? s : "", s ? strlen(s) : 0);
}

/* Starts a frame at the beginning of the buffer; hb_vmp_end patches len. */
static inline void hb_vmp_begin(hb_vmp_w *w, uint32_t type)
{
    w->len = 0;
    w->failed = false;
    hb_vmp_put_u32(w, HB_VMP_MAGIC);
    hb_vmp_put_u32(w, type);
    hb_vmp_put_u32(w, 0);
}
static inline int hb_vmp_end(hb_vmp_w *w)
{
    if (w->failed || w->len - HB_VMP_HEADER > HB_VMP_MAX_FRAME)
        return -1;
    uint32_t n = (uint32_t)(w->len - HB_VMP_HEADER);
    memcpy(w->buf + 8, &n, 4);
    return 0;
}

/* Header check: returns 0 and the type/len, or -1 on a bad magic/size. */
static inline int hb_vmp_header(const uint8_t h[HB_VMP_HEADER], uint32_t *type, uint32_t *len)
{
    uint32_t m, t, n;
    memcpy(&m, h, 4);
    memcpy(&t, h + 4, 4);
    memcpy(&n, h + 8, 4);
    if (m != HB_VMP_MAGIC || n > HB_VMP_MAX_FRAME)
        return -1;
    *type = t;
    *len = n;
    return 0;
}

/* Bounds-checked reader; every get fails once `failed` is set. */
typedef struct hb_vmp_r {
    const uint8_t *p;
    size_t left;
    bool failed;
} hb_vmp_r;

static inline bool hb_vmp_get_u64(hb_vmp_r *r, uint64_t *v)
{
    if (r->failed || r->left < 8)
        return !(r->failed = true);
    memcpy(v, r->p, 8);
    r->p += 8;
    r->left -= 8;
    return true;
}

/* A view (not NUL-terminated) of a str field. */
static inline bool hb_vmp_get_str(hb_vmp_r *r, const char **s, size_t *n)
{
    uint32_t len;
    if (r->failed || r->left < 4)
        return !(r->failed = true);
    memcpy(&len, r->p, 4);
    if (r->left - 4 < len)
        return !(r->failed = true);
    *s = (const char *)r->p + 4;
    *n = len;
    r->p += 4 + (size_t)len;
    r->left -= 4 + (size_t)len;
    return true;
}

#endif /* HB_VMPROTO_H */
