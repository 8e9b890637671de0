/*
 * worker/wire.h - the harness <-> worker wire protocol: framing and a
 * bounds-checked field codec. Both sides link this file; the harness is the
 * only other module that includes it. The message catalogue is documented in
 * worker/PROTOCOL.md; keep the two in step.
 *
 * A frame is a 12-byte header followed by `len` payload bytes:
 *   u32 len    payload length, little endian, at most HB_WIRE_MAX_FRAME
 *   u8  type   an hb_msg value
 *   u8  flags  0
 *   u16 zero
 *   u32 id     request id; a reply carries its request's id
 * The payload is a sequence of fields with no padding:
 *   u8 / u32 / u64 (little endian), f32 / f64 (IEEE, little endian),
 *   bytes = u32 length + that many bytes, str = bytes whose content has no
 *   NUL (the decoder NUL-terminates a copy-free view for you).
 */
#ifndef HB_WIRE_H
#define HB_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HB_WIRE_HEADER 12u
#define HB_WIRE_MAX_FRAME (64u << 20) /* 64 MiB */
#define HB_WIRE_MAGIC_HELLO 0x48425831u /* "HBX1" */

typedef enum hb_msg {
    /* requests, harness -> worker */
    HB_MSG_HELLO = 1,   /* u32 magic, u64 max_state_size */
    HB_MSG_LOAD = 2,    /* str plugin, str path, u64 version, u8 has_state,
                           u32 state_schema, bytes state */
    HB_MSG_SWAP = 3,    /* str plugin, str path, u64 version [, u8 wait_ack] */
    HB_MSG_CALL = 4,    /* str plugin, str symbol, str signature, u32 nargs,
                           nargs x value (see PROTOCOL.md) */
    HB_MSG_SAVE = 5,    /* str plugin */
    HB_MSG_UNLOAD = 6,  /* str plugin */
    HB_MSG_SHUTDOWN = 7,/* (empty) */
    HB_MSG_PING = 8,    /* (empty) */
    HB_MSG_CHECKPOINT_ACK = 9, /* (empty, same id as the SWAP): the checkpoint is durable */
    /* worker -> harness, interim (same id as the request, more follows) */
    HB_MSG_CHECKPOINT = 64, /* str plugin, u64 version, u32 schema, bytes state */
    HB_MSG_SWITCHED = 65,   /* str plugin, u64 version: a SWAP passed its switch point */
    HB_MSG_DENIED = 66,     /* retired: denials are observed by the harness on
                               the seccomp listener, never reported by the
                               worker; the harness treats this frame as a
                               protocol violation (a forgery). */
    HB_MSG_LISTENER = 67,   /* u32 flags (HB_LISTENER_*), id 0: the first frame
                               of a worker under a seccomp profile, sent
                               before it reads any request, with the filter's
                               user-notification listener attached
                               (SCM_RIGHTS); the worker keeps no copy. */
    HB_MSG_FAULT = 68,      /* u32 signo, u64 pc, u64 addr, str plugin, u64 version,
                               u8 retired: a fatal signal, and the plugin version
                               whose code faulted ("" when none); the worker dies
                               of it next. Id 0, during any request. */
    /* replies, worker -> harness */
    HB_MSG_OK = 128,    /* request-specific payload, see PROTOCOL.md */
    HB_MSG_ERR = 129,   /* i32 code (as u32), str message */
} hb_msg;

/* HB_MSG_LISTENER flags: what else the profile set up. */
#define HB_LISTENER_FILES_LOCKED 1u /* files it can write, it cannot read (strict) */

/* An encoder appending to a growable buffer. On allocation failure `failed`
 * is set and further puts do nothing; hb__wire_finish then reports -ENOMEM. */
typedef struct hb_wbuf {
    uint8_t *data;
    size_t len, cap;
    bool failed;
} hb_wbuf;

/* Starts a frame: writes a header with a placeholder length. */
void hb__wire_begin(hb_wbuf *w, uint8_t type, uint32_t id);
void hb__wire_put_u8(hb_wbuf *w, uint8_t v);
void hb__wire_put_u32(hb_wbuf *w, uint32_t v);
void hb__wire_put_u64(hb_wbuf *w, uint64_t v);
void hb__wire_put_f32(hb_wbuf *w, float v);
void hb__wire_put_f64(hb_wbuf *w, double v);
void hb__wire_put_bytes(hb_wbuf *w, const void *data, size_t len);
void hb__wire_put_str(hb_wbuf *w, const char *s); /* NULL encodes as "" */
/* Patches the length. Returns 0, -ENOMEM, or -EMSGSIZE past the limit. */
int hb__wire_finish(hb_wbuf *w);
void hb__wire_reset(hb_wbuf *w); /* len = 0 */
void hb__wire_release(hb_wbuf *w);

/* Sends a finished frame (all of it, retrying on EINTR). 0 or -errno. */
int hb__wire_send(int fd, const hb_wbuf *w);
/* hb__wire_send that gives up at deadline_ns (hb__now_ns clock) with
 * -ETIMEDOUT: a peer that stops reading cannot hold the sender. fd must be
 * a socket for the deadline to hold (other fds are written as by
 * hb__wire_send). */
int hb__wire_send_until(int fd, const hb_wbuf *w, uint64_t deadline_ns);

/* hb__wire_send with one fd attached to the frame's first byte
 * (SCM_RIGHTS); the caller keeps its copy. sock must be a UNIX socket. */
int hb__wire_send_fd(int sock, const hb_wbuf *w, int passfd);

/* A received frame. payload is owned by the frame. */
typedef struct hb_frame {
    uint8_t type;
    uint32_t id;
    uint8_t *payload;
    uint32_t len;
} hb_frame;

/* Parses a 12-byte header. Returns 0, or -EPROTO for bad flags/zero fields,
 * -EMSGSIZE when len exceeds max_frame. */
int hb__wire_parse_header(const uint8_t hdr[HB_WIRE_HEADER], uint32_t max_frame,
                          uint8_t *type, uint32_t *id, uint32_t *len);

/* Blocking receive of one whole frame. Returns 0, -EPIPE on EOF, -EPROTO,
 * -EMSGSIZE, -ENOMEM or -errno. On error *f is untouched. */
int hb__wire_recv(int fd, uint32_t max_frame, hb_frame *f);
/* hb__wire_recv that also takes the fd attached to the frame (see
 * hb__wire_send_fd): *passed receives it (O_CLOEXEC), or -1 when none was
 * attached. Extra fds are closed. On error nothing is left open. */
int hb__wire_recv_fd(int sock, uint32_t max_frame, hb_frame *f, int *passed);
void hb__frame_release(hb_frame *f);

/* Receive of one whole frame that gives up at deadline_ns (hb__now_ns
 * clock): every read waits in poll for at most the time left, so a peer
 * that sends half a frame and stops cannot hold the reader. A header
 * announcing more than max_frame is refused as soon as it is read
 * (-EMSGSIZE), before any payload is awaited; the payload buffer grows as
 * bytes arrive, so an announced length costs nothing until it is sent.
 * Returns 0, -EPIPE on EOF (at a frame boundary or inside one), -ETIMEDOUT
 * at the deadline, -EPROTO, -EMSGSIZE, -ENOMEM or -errno. *got (may be
 * NULL) is the number of bytes of the unfinished frame read when it
 * fails. On error *f is untouched. */
int hb__wire_recv_until(int fd, uint32_t max_frame, uint64_t deadline_ns, hb_frame *f,
                        size_t *got);

/* A decoder over a payload. Every get fails (returns -EPROTO and sets
 * `failed`) when the payload is too short; after a failure all gets fail. */
typedef struct hb_rbuf {
    const uint8_t *p;
    size_t left;
    bool failed;
} hb_rbuf;

void hb__rbuf_init(hb_rbuf *r, const void *data, size_t len);
int hb__wire_get_u8(hb_rbuf *r, uint8_t *v);
int hb__wire_get_u32(hb_rbuf *r, uint32_t *v);
int hb__wire_get_u64(hb_rbuf *r, uint64_t *v);
int hb__wire_get_f32(hb_rbuf *r, float *v);
int hb__wire_get_f64(hb_rbuf *r, double *v);
/* A view into the payload (not copied, not NUL-terminated). */
int hb__wire_get_bytes(hb_rbuf *r, const void **data, size_t *len);
/* A malloc'ed NUL-terminated copy; -EPROTO if the bytes contain a NUL or
 * are longer than max_len. */
int hb__wire_get_str(hb_rbuf *r, size_t max_len, char **out);
/* Whether the whole payload was consumed without failure. */
bool hb__wire_done(const hb_rbuf *r);

#endif /* HB_WIRE_H */
