/*
 * proto/wire.h - framing and a bounds-checked field codec of the harness
 * <-> worker channel. The messages built from these fields, the message
 * types and every limit are in proto.h (the catalogue in prose is
 * PROTOCOL.md); the harness and the worker use those, and the fields here
 * only for frame I/O.
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

#include "proto.h" /* the limits, the message types */

/* An encoder appending to a growable buffer. On allocation failure `failed`
 * is set and further puts do nothing; hb__wire_finish then reports -ENOMEM.
 * A fixed buffer (hb__wire_init_fixed) never allocates: running out of room
 * fails it the same way. */
struct hb_wbuf {
    uint8_t *data;
    size_t len, cap;
    bool failed;
    bool fixed; /* data is the caller's; never reallocated or freed */
};

/* Makes w encode into buf[0..cap) without allocating, so frames can be
 * built in a signal handler (the worker's FAULT report). */
void hb__wire_init_fixed(hb_wbuf *w, void *buf, size_t cap);

/* Starts a frame: writes a header with a placeholder length. */
void hb__wire_begin(hb_wbuf *w, uint8_t type, uint32_t id);
void hb__wire_put_u8(hb_wbuf *w, uint8_t v);
void hb__wire_put_u32(hb_wbuf *w, uint32_t v);
void hb__wire_put_u64(hb_wbuf *w, uint64_t v);
/* Floats travel as the IEEE-754 bits in the unsigned integer of their width
 * (defined together, with the fixed-width getters, by macros in wire.c). */
void hb__wire_put_f32(hb_wbuf *w, float v);
void hb__wire_put_f64(hb_wbuf *w, double v);
void hb__wire_put_bytes(hb_wbuf *w, const void *data, size_t len);
void hb__wire_put_str(hb_wbuf *w, const char *s); /* NULL encodes as "" */
/* Patches the length. Returns 0, -ENOMEM, or -EMSGSIZE past the limit. */
int hb__wire_finish(hb_wbuf *w);
void hb__wire_release(hb_wbuf *w);

/* The id in the header of a frame begun in w (0 when none was). */
uint32_t hb__wire_frame_id(const hb_wbuf *w);

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

/* A bump allocator over memory its owner keeps and reuses: a decode into
 * it allocates nothing (the worker's ring CALLs). Nothing taken from it
 * is freed; the owner sets `used` back to 0. */
struct hb_arena {
    uint8_t *base;
    size_t cap, used;
};

/* A decoder over a payload. Every get fails (returns -EPROTO and sets
 * `failed`) when the payload is too short; after a failure all gets fail.
 * With an arena, the copies a decode makes (strings, values) come from it
 * instead of malloc. */
struct hb_rbuf {
    const uint8_t *p;
    size_t left;
    bool failed;
    hb_arena *arena;
};

/* A reader without an arena. */
void hb__rbuf_init(hb_rbuf *r, const void *data, size_t len);
/* n bytes (aligned for any scalar) for a decoded copy: from r's arena, or
 * malloc without one. NULL when there is no room. */
void *hb__rbuf_alloc(hb_rbuf *r, size_t n);
int hb__wire_get_u8(hb_rbuf *r, uint8_t *v);
int hb__wire_get_u32(hb_rbuf *r, uint32_t *v);
int hb__wire_get_u64(hb_rbuf *r, uint64_t *v);
int hb__wire_get_f32(hb_rbuf *r, float *v);
int hb__wire_get_f64(hb_rbuf *r, double *v);
/* A view into the payload (not copied, not NUL-terminated). */
int hb__wire_get_bytes(hb_rbuf *r, const void **data, size_t *len);
/* A NUL-terminated copy (hb__rbuf_alloc); -EPROTO if the bytes contain a NUL or
 * are longer than max_len. */
int hb__wire_get_str(hb_rbuf *r, size_t max_len, char **out);
/* Whether the whole payload was consumed without failure. */
bool hb__wire_done(const hb_rbuf *r);

#endif /* HB_WIRE_H */
