/* proto/wire.c - framing and field codec of the harness <-> worker channel.
 * See wire.h. Shared by the library (hb_proto) and the worker executable. */
#include "wire.h"

#include "util.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- little-endian helpers (explicit, so the code is endian-neutral) ------ */

static void le32_store(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t le32_load(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void le64_store(uint8_t *p, uint64_t v)
{
    le32_store(p, (uint32_t)v);
    le32_store(p + 4, (uint32_t)(v >> 32));
}

static uint64_t le64_load(const uint8_t *p)
{
    return (uint64_t)le32_load(p) | (uint64_t)le32_load(p + 4) << 32;
}

/* ---- writer --------------------------------------------------------------- */

/* Makes room for n more bytes; on failure marks the buffer failed. */
static uint8_t *wbuf_reserve(hb_wbuf *w, size_t n)
{
    if (w->failed)
        return NULL;
    if (n > SIZE_MAX / 2 - w->len) {
        w->failed = true;
        return NULL;
    }
    if (w->len + n > w->cap && w->fixed) {
        w->failed = true;
        return NULL;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *p = realloc(w->data, cap);
        if (!p) {
            w->failed = true;
            return NULL;
        }
        w->data = p;
        w->cap = cap;
    }
    uint8_t *at = w->data + w->len;
    w->len += n;
    return at;
}

void hb__wire_init_fixed(hb_wbuf *w, void *buf, size_t cap)
{
    w->data = buf;
    w->len = 0;
    w->cap = cap;
    w->failed = false;
    w->fixed = true;
}

void hb__wire_begin(hb_wbuf *w, uint8_t type, uint32_t id)
{
    /* A frame always starts a fresh buffer, so an earlier failure does not
     * poison the next reply. */
    w->len = 0;
    w->failed = false;
    uint8_t *p = wbuf_reserve(w, HB_WIRE_HEADER);
    if (!p)
        return;
    le32_store(p, 0); /* patched by hb__wire_finish */
    p[4] = type;
    p[5] = 0;
    p[6] = 0;
    p[7] = 0;
    le32_store(p + 8, id);
}

void hb__wire_put_u8(hb_wbuf *w, uint8_t v)
{
    uint8_t *p = wbuf_reserve(w, 1);
    if (p)
        *p = v;
}

void hb__wire_put_u32(hb_wbuf *w, uint32_t v)
{
    uint8_t *p = wbuf_reserve(w, 4);
    if (p)
        le32_store(p, v);
}

void hb__wire_put_u64(hb_wbuf *w, uint64_t v)
{
    uint8_t *p = wbuf_reserve(w, 8);
    if (p)
        le64_store(p, v);
}

void hb__wire_put_bytes(hb_wbuf *w, const void *data, size_t len)
{
    if (len > UINT32_MAX) {
        w->failed = true;
        return;
    }
    uint8_t *p = wbuf_reserve(w, 4 + len);
    if (!p)
        return;
    le32_store(p, (uint32_t)len);
    if (len)
        memcpy(p + 4, data, len);
}

void hb__wire_put_str(hb_wbuf *w, const char *s)
{
    hb__wire_put_bytes(w, s ? s : "", s ? strlen(s) : 0);
}

int hb__wire_finish(hb_wbuf *w)
{
    if (w->failed)
        return -ENOMEM;
    assert(w->len >= HB_WIRE_HEADER);
    size_t payload = w->len - HB_WIRE_HEADER;
    if (payload > HB_WIRE_MAX_FRAME)
        return -EMSGSIZE;
    le32_store(w->data, (uint32_t)payload);
    return 0;
}

void hb__wire_release(hb_wbuf *w)
{
    if (!w->fixed)
        free(w->data);
    w->data = NULL;
    w->len = w->cap = 0;
    w->failed = false;
    w->fixed = false;
}

uint32_t hb__wire_frame_id(const hb_wbuf *w)
{
    return w->len >= HB_WIRE_HEADER ? le32_load(w->data + 8) : 0;
}

int hb__wire_send_until(int fd, const hb_wbuf *w, uint64_t deadline_ns)
{
    int r = hb__send_full_until(fd, w->data, w->len, deadline_ns);
    if (r == -ENOTSOCK)
        return hb__wire_send(fd, w); /* not a socket: no deadline to offer */
    return r;
}

int hb__wire_send(int fd, const hb_wbuf *w)
{
    const uint8_t *p = w->data;
    size_t left = w->len;
    while (left) {
        /* MSG_NOSIGNAL: a dead peer is -EPIPE here, not a process-wide
         * SIGPIPE in the library's host program. */
        ssize_t n = send(fd, p, left, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            return hb__write_full(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        left -= (size_t)n;
    }
    return 0;
}

int hb__wire_send_fd(int sock, const hb_wbuf *w, int passfd)
{
    if (w->len == 0)
        return -EINVAL;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct iovec iov = {.iov_base = w->data, .iov_len = w->len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                        .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &passfd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    /* The fd went with the first byte; the rest is an ordinary send. */
    if ((size_t)n < w->len) {
        hb_wbuf rest = {.data = w->data + n, .len = w->len - (size_t)n};
        return hb__wire_send(sock, &rest);
    }
    return 0;
}

/* Closes every fd an SCM_RIGHTS message carried except the first, which
 * it returns (-1 when there was none). */
static int take_fds(struct msghdr *mh)
{
    int first = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (first < 0)
                first = fd;
            else
                close(fd);
        }
    }
    return first;
}

/* ---- frames --------------------------------------------------------------- */

int hb__wire_parse_header(const uint8_t hdr[HB_WIRE_HEADER], uint32_t max_frame,
                          uint8_t *type, uint32_t *id, uint32_t *len)
{
    uint32_t l = le32_load(hdr);
    if (hdr[5] != 0 || hdr[6] != 0 || hdr[7] != 0)
        return -EPROTO;
    if (l > max_frame || l > HB_WIRE_MAX_FRAME)
        return -EMSGSIZE;
    *type = hdr[4];
    *id = le32_load(hdr + 8);
    *len = l;
    return 0;
}

/* Reads the rest of a frame whose first `have` header bytes are in hdr:
 * the header's other bytes, then its payload, into *f. */
static int read_frame(int fd, uint8_t hdr[HB_WIRE_HEADER], size_t have, uint32_t max_frame,
                      hb_frame *f)
{
    uint8_t type;
    uint32_t id, len;
    int r = hb__read_full(fd, hdr + have, HB_WIRE_HEADER - have);
    if (r == 0)
        r = hb__wire_parse_header(hdr, max_frame, &type, &id, &len);
    if (r < 0)
        return r;
    /* Never NULL, so an empty payload is still a valid pointer to decode. */
    uint8_t *payload = malloc(len ? len : 1);
    if (!payload)
        return -ENOMEM;
    r = hb__read_full(fd, payload, len);
    if (r < 0) {
        free(payload);
        return r;
    }
    *f = (hb_frame){.type = type, .id = id, .payload = payload, .len = len};
    return 0;
}

int hb__wire_recv(int fd, uint32_t max_frame, hb_frame *f)
{
    uint8_t hdr[HB_WIRE_HEADER];
    return read_frame(fd, hdr, 0, max_frame, f);
}

int hb__wire_recv_fd(int sock, uint32_t max_frame, hb_frame *f, int *passed)
{
    uint8_t hdr[HB_WIRE_HEADER];
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(4 * sizeof(int))];
    } ctl;
    struct iovec iov = {.iov_base = hdr, .iov_len = sizeof(hdr)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                        .msg_controllen = sizeof(ctl.buf)};
    ssize_t n;
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return -EPIPE;
    int fd = take_fds(&mh);
    /* More fds than anyone sends: not our peer's frame. */
    int r = (mh.msg_flags & MSG_CTRUNC) ? -EPROTO : read_frame(sock, hdr, (size_t)n, max_frame, f);
    if (r < 0) {
        if (fd >= 0)
            close(fd);
        return r;
    }
    *passed = fd;
    return 0;
}

/* Reads up to len bytes once data is there, waiting at most until the
 * deadline. Returns the count (> 0), -EPIPE on EOF, -ETIMEDOUT or -errno. */
static ssize_t read_some_until(int fd, void *buf, size_t len, uint64_t deadline_ns)
{
    for (;;) {
        int w = hb__wait_fd(fd, POLLIN, deadline_ns);
        if (w < 0)
            return w;
        /* Readable (data, EOF or an error): read returns without blocking. */
        ssize_t r = read(fd, buf, len);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -EPIPE;
        return r;
    }
}

int hb__wire_recv_until(int fd, uint32_t max_frame, uint64_t deadline_ns, hb_frame *f,
                        size_t *got)
{
    uint8_t hdr[HB_WIRE_HEADER];
    size_t have = 0;
    uint8_t type;
    uint32_t id, len;
    uint8_t *payload = NULL;
    size_t cap = 0;
    ssize_t n;
    int r;
    while (have < sizeof(hdr)) {
        n = read_some_until(fd, hdr + have, sizeof(hdr) - have, deadline_ns);
        if (n < 0) {
            r = (int)n;
            goto fail;
        }
        have += (size_t)n;
    }
    r = hb__wire_parse_header(hdr, max_frame, &type, &id, &len);
    if (r < 0)
        goto fail;
    /* Never NULL, so an empty payload is still a valid pointer to decode. */
    cap = len < 65536u ? (len ? len : 1) : 65536u;
    payload = malloc(cap);
    if (!payload) {
        r = -ENOMEM;
        goto fail;
    }
    size_t done = 0;
    while (done < len) {
        if (done == cap) {
            size_t ncap = cap * 2 < len ? cap * 2 : len;
            uint8_t *np = realloc(payload, ncap);
            if (!np) {
                r = -ENOMEM;
                goto fail;
            }
            payload = np;
            cap = ncap;
        }
        n = read_some_until(fd, payload + done, cap - done, deadline_ns);
        if (n < 0) {
            r = (int)n;
            have += done;
            goto fail;
        }
        done += (size_t)n;
    }
    f->type = type;
    f->id = id;
    f->payload = payload;
    f->len = len;
    return 0;
fail:
    free(payload);
    if (got)
        *got = have;
    return r;
}

void hb__frame_release(hb_frame *f)
{
    if (!f)
        return;
    free(f->payload);
    f->payload = NULL;
    f->len = 0;
}

/* ---- reader --------------------------------------------------------------- */

void hb__rbuf_init(hb_rbuf *r, const void *data, size_t len)
{
    r->p = data;
    r->left = data ? len : 0;
    r->failed = false;
    r->arena = NULL;
}

void *hb__rbuf_alloc(hb_rbuf *r, size_t n)
{
    hb_arena *a = r->arena;
    if (!a)
        return malloc(n);
    size_t at = (a->used + 7) & ~(size_t)7;
    if (at > a->cap || n > a->cap - at)
        return NULL;
    a->used = at + n;
    return a->base + at;
}

/* Takes n bytes off the front, or fails the reader for good. */
static const uint8_t *rbuf_take(hb_rbuf *r, size_t n)
{
    if (r->failed || r->left < n) {
        r->failed = true;
        return NULL;
    }
    const uint8_t *at = r->p;
    r->p += n;
    r->left -= n;
    return at;
}

/* The fixed-width getters differ only in width and load: one definition
 * makes all three. */
#define WIRE_GET_UINT(name, type, width, load)                                                     \
    int hb__wire_get_##name(hb_rbuf *r, type *v)                                                   \
    {                                                                                              \
        const uint8_t *p = rbuf_take(r, width);                                                    \
        if (!p)                                                                                    \
            return -EPROTO;                                                                        \
        *v = load(p);                                                                              \
        return 0;                                                                                  \
    }

static uint8_t u8_load(const uint8_t *p)
{
    return *p;
}

WIRE_GET_UINT(u8, uint8_t, 1, u8_load)
WIRE_GET_UINT(u32, uint32_t, 4, le32_load)
WIRE_GET_UINT(u64, uint64_t, 8, le64_load)

/* A float travels as the unsigned integer of its width holding its IEEE-754
 * bits; one definition makes the put and get of both widths. */
#define WIRE_FLOAT(name, type, uname, utype)                                                       \
    void hb__wire_put_##name(hb_wbuf *w, type v)                                                   \
    {                                                                                              \
        utype u;                                                                                   \
        memcpy(&u, &v, sizeof(u));                                                                 \
        hb__wire_put_##uname(w, u);                                                                \
    }                                                                                              \
    int hb__wire_get_##name(hb_rbuf *r, type *v)                                                   \
    {                                                                                              \
        utype u;                                                                                   \
        int rc = hb__wire_get_##uname(r, &u);                                                      \
        if (rc == 0)                                                                               \
            memcpy(v, &u, sizeof(*v));                                                             \
        return rc;                                                                                 \
    }

WIRE_FLOAT(f32, float, u32, uint32_t)
WIRE_FLOAT(f64, double, u64, uint64_t)

int hb__wire_get_bytes(hb_rbuf *r, const void **data, size_t *len)
{
    const uint8_t *p = rbuf_take(r, 4);
    if (!p)
        return -EPROTO;
    uint32_t n = le32_load(p);
    const uint8_t *body = rbuf_take(r, n);
    if (!body)
        return -EPROTO;
    *data = body;
    *len = n;
    return 0;
}

int hb__wire_get_str(hb_rbuf *r, size_t max_len, char **out)
{
    const void *data;
    size_t len;
    int rc = hb__wire_get_bytes(r, &data, &len);
    if (rc < 0)
        return rc;
    if (len > max_len || memchr(data, '\0', len)) {
        r->failed = true;
        return -EPROTO;
    }
    char *s = hb__rbuf_alloc(r, len + 1);
    if (!s) {
        r->failed = true;
        return -ENOMEM;
    }
    memcpy(s, data, len);
    s[len] = '\0';
    *out = s;
    return 0;
}

bool hb__wire_done(const hb_rbuf *r)
{
    return !r->failed && r->left == 0;
}
