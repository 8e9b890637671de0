/* Wire codec: round trips, truncation at every byte, header validation,
 * and frames through a real socketpair. */
#include "hbtest.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sys/socket.h>
#include <unistd.h>

/* A frame with an fd attached (how the worker hands over its seccomp
 * listener): the fd arrives, CLOEXEC, and names the same file; a frame
 * without one gives -1; a plain recv of a frame with an fd drops it. */
static void test_fd_passing(void)
{
    int sv[2], pipefd[2];
    HB_CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    HB_CHECK_OK(pipe2(pipefd, O_CLOEXEC));
    hb_wbuf w = {0};
    hb__wire_begin(&w, HB_MSG_LISTENER, 0);
    hb__wire_put_u32(&w, 7);
    HB_CHECK_OK(hb__wire_finish(&w));
    HB_CHECK_OK(hb__wire_send_fd(sv[0], &w, pipefd[1]));
    hb_frame f;
    int got = -1;
    HB_CHECK_OK(hb__wire_recv_fd(sv[1], HB_WIRE_MAX_FRAME, &f, &got));
    HB_CHECK_EQ(f.type, HB_MSG_LISTENER);
    HB_CHECK_EQ(f.len, 4u);
    hb__frame_release(&f);
    HB_CHECK(got >= 0 && got != pipefd[1]);
    HB_CHECK_EQ(fcntl(got, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    HB_CHECK_EQ(write(got, "x", 1), 1L);
    char c = 0;
    HB_CHECK_EQ(read(pipefd[0], &c, 1), 1L);
    HB_CHECK_EQ(c, 'x');
    close(got);
    /* No fd attached. */
    HB_CHECK_OK(hb__wire_send(sv[0], &w));
    got = 5;
    HB_CHECK_OK(hb__wire_recv_fd(sv[1], HB_WIRE_MAX_FRAME, &f, &got));
    HB_CHECK_EQ(got, -1);
    hb__frame_release(&f);
    hb__wire_release(&w);
    close(sv[0]);
    close(sv[1]);
    close(pipefd[0]);
    close(pipefd[1]);
}

static void build_sample(hb_wbuf *w)
{
    hb__wire_begin(w, HB_MSG_LOAD, 0x01020304u);
    hb__wire_put_u8(w, 0xab);
    hb__wire_put_u32(w, 0xdeadbeefu);
    hb__wire_put_u64(w, 0x0102030405060708ull);
    hb__wire_put_f32(w, -1.5f);
    hb__wire_put_f64(w, 3.25);
    hb__wire_put_bytes(w, "\0\1\2", 3);
    hb__wire_put_str(w, "counter");
    hb__wire_put_str(w, NULL);
    HB_CHECK_OK(hb__wire_finish(w));
}

/* Decodes the sample payload; returns 0 only if every field came back. */
static int decode_sample(const uint8_t *p, size_t len, int check)
{
    hb_rbuf r;
    uint8_t u8 = 0;
    uint32_t u32 = 0;
    uint64_t u64 = 0;
    float f = 0;
    double d = 0;
    const void *b = NULL;
    size_t blen = 0;
    char *s1 = NULL, *s2 = NULL;
    hb__rbuf_init(&r, p, len);
    int rc = 0;
    rc |= hb__wire_get_u8(&r, &u8);
    rc |= hb__wire_get_u32(&r, &u32);
    rc |= hb__wire_get_u64(&r, &u64);
    rc |= hb__wire_get_f32(&r, &f);
    rc |= hb__wire_get_f64(&r, &d);
    rc |= hb__wire_get_bytes(&r, &b, &blen);
    rc |= hb__wire_get_str(&r, 100, &s1);
    rc |= hb__wire_get_str(&r, 100, &s2);
    if (check) {
        HB_CHECK_EQ(rc, 0);
        HB_CHECK_EQ(u8, 0xab);
        HB_CHECK_EQ(u32, 0xdeadbeefu);
        HB_CHECK(u64 == 0x0102030405060708ull);
        HB_CHECK_DBL(f, -1.5, 0);
        HB_CHECK_DBL(d, 3.25, 0);
        HB_CHECK_EQ(blen, 3);
        HB_CHECK(memcmp(b, "\0\1\2", 3) == 0);
        HB_CHECK_STR(s1, "counter");
        HB_CHECK_STR(s2, "");
        HB_CHECK(hb__wire_done(&r));
    } else if (rc == 0) {
        HB_CHECK(!hb__wire_done(&r) || r.left == 0);
    }
    free(s1);
    free(s2);
    return rc == 0 ? 0 : -1;
}

int main(void)
{
    hb_wbuf w = {0};
    build_sample(&w);
    HB_CHECK_EQ(w.len, HB_WIRE_HEADER + 1 + 4 + 8 + 4 + 8 + 7 + 11 + 4);

    uint8_t type;
    uint32_t id, len;
    HB_CHECK_OK(hb__wire_parse_header(w.data, HB_WIRE_MAX_FRAME, &type, &id, &len));
    HB_CHECK_EQ(type, HB_MSG_LOAD);
    HB_CHECK_EQ(id, 0x01020304u);
    HB_CHECK_EQ(len, w.len - HB_WIRE_HEADER);
    /* little endian on the wire, whatever the host */
    HB_CHECK_EQ(w.data[0], len & 0xff);
    HB_CHECK_EQ(w.data[8], 0x04);
    HB_CHECK_EQ(w.data[HB_WIRE_HEADER + 1], 0xef);

    decode_sample(w.data + HB_WIRE_HEADER, len, 1);
    /* Every truncation fails somewhere and leaves the reader failed. */
    for (size_t cut = 0; cut < len; cut++)
        HB_CHECK_EQ(decode_sample(w.data + HB_WIRE_HEADER, cut, 0), -1);

    /* after a failure every get fails, even one that would fit */
    hb_rbuf r;
    uint32_t v32;
    uint8_t v8;
    hb__rbuf_init(&r, "\1\2\3", 3);
    HB_CHECK_EQ(hb__wire_get_u32(&r, &v32), -EPROTO);
    HB_CHECK(r.failed);
    HB_CHECK_EQ(hb__wire_get_u8(&r, &v8), -EPROTO);
    HB_CHECK(!hb__wire_done(&r));

    /* byte length pointing past the end */
    hb__rbuf_init(&r, "\xff\xff\xff\xff" "ab", 6);
    const void *bp;
    size_t bl;
    HB_CHECK_EQ(hb__wire_get_bytes(&r, &bp, &bl), -EPROTO);

    /* str with a NUL inside, and over max_len */
    char *s = NULL;
    hb__rbuf_init(&r, "\3\0\0\0a\0b", 7);
    HB_CHECK_EQ(hb__wire_get_str(&r, 10, &s), -EPROTO);
    HB_CHECK(s == NULL);
    hb__rbuf_init(&r, "\3\0\0\0abc", 7);
    HB_CHECK_EQ(hb__wire_get_str(&r, 2, &s), -EPROTO);
    hb__rbuf_init(&r, "\3\0\0\0abc", 7);
    HB_CHECK_OK(hb__wire_get_str(&r, 3, &s));
    HB_CHECK_STR(s, "abc");
    free(s);
    /* trailing bytes mean not done */
    hb__rbuf_init(&r, "\1\2", 2);
    HB_CHECK_OK(hb__wire_get_u8(&r, &v8));
    HB_CHECK(!hb__wire_done(&r));

    /* headers: oversize, bad flags, bad zero field */
    uint8_t hdr[HB_WIRE_HEADER] = {0};
    hdr[0] = 0x01; hdr[1] = 0x00; hdr[2] = 0x00; hdr[3] = 0x04; /* 64 MiB + 1 */
    HB_CHECK_EQ(hb__wire_parse_header(hdr, HB_WIRE_MAX_FRAME, &type, &id, &len), -EMSGSIZE);
    memset(hdr, 0, sizeof(hdr));
    hdr[0] = 101;
    HB_CHECK_EQ(hb__wire_parse_header(hdr, 100, &type, &id, &len), -EMSGSIZE);
    hdr[0] = 100;
    HB_CHECK_OK(hb__wire_parse_header(hdr, 100, &type, &id, &len));
    hdr[5] = 1;
    HB_CHECK_EQ(hb__wire_parse_header(hdr, 100, &type, &id, &len), -EPROTO);
    hdr[5] = 0;
    hdr[7] = 1;
    HB_CHECK_EQ(hb__wire_parse_header(hdr, 100, &type, &id, &len), -EPROTO);

    /* a frame over the limit cannot be finished */
    hb_wbuf big = {0};
    hb__wire_begin(&big, HB_MSG_OK, 1);
    void *blob = calloc(1, HB_WIRE_MAX_FRAME);
    HB_CHECK(blob != NULL);
    hb__wire_put_bytes(&big, blob, HB_WIRE_MAX_FRAME - 4);
    HB_CHECK_OK(hb__wire_finish(&big));
    hb__wire_put_u8(&big, 0);
    HB_CHECK_EQ(hb__wire_finish(&big), -EMSGSIZE);
    free(blob);
    hb__wire_release(&big);

    /* through a socketpair: send, recv, EOF, bad header */
    int sv[2];
    HB_CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    HB_CHECK_OK(hb__wire_send(sv[0], &w));
    hb_frame f = {0};
    HB_CHECK_OK(hb__wire_recv(sv[1], HB_WIRE_MAX_FRAME, &f));
    HB_CHECK_EQ(f.type, HB_MSG_LOAD);
    HB_CHECK_EQ(f.id, 0x01020304u);
    decode_sample(f.payload, f.len, 1);
    hb__frame_release(&f);
    /* empty payload frames have a usable payload pointer */
    hb__wire_begin(&w, HB_MSG_PING, 7);
    HB_CHECK_OK(hb__wire_finish(&w));
    HB_CHECK_OK(hb__wire_send(sv[0], &w));
    HB_CHECK_OK(hb__wire_recv(sv[1], HB_WIRE_MAX_FRAME, &f));
    HB_CHECK_EQ(f.len, 0);
    HB_CHECK(f.payload != NULL);
    hb__frame_release(&f);
    /* bad flags on the wire */
    memset(hdr, 0, sizeof(hdr));
    hdr[5] = 0x80;
    HB_CHECK_EQ(write(sv[0], hdr, sizeof(hdr)), (long)sizeof(hdr));
    f.type = 0xee;
    HB_CHECK_EQ(hb__wire_recv(sv[1], HB_WIRE_MAX_FRAME, &f), -EPROTO);
    HB_CHECK_EQ(f.type, 0xee); /* untouched on error */
    /* oversize on the wire */
    memset(hdr, 0, sizeof(hdr));
    hdr[0] = 200;
    HB_CHECK_EQ(write(sv[0], hdr, sizeof(hdr)), (long)sizeof(hdr));
    HB_CHECK_EQ(hb__wire_recv(sv[1], 100, &f), -EMSGSIZE);
    /* a whole frame, then one cut inside its payload, then EOF */
    build_sample(&w);
    HB_CHECK_OK(hb__wire_send(sv[0], &w));
    HB_CHECK_EQ(write(sv[0], w.data, HB_WIRE_HEADER + 3), (long)HB_WIRE_HEADER + 3);
    close(sv[0]);
    HB_CHECK_OK(hb__wire_recv(sv[1], HB_WIRE_MAX_FRAME, &f));
    hb__frame_release(&f);
    f.type = 0xee;
    HB_CHECK_EQ(hb__wire_recv(sv[1], HB_WIRE_MAX_FRAME, &f), -EPIPE);
    HB_CHECK_EQ(f.type, 0xee);
    HB_CHECK_EQ(hb__wire_recv(sv[1], HB_WIRE_MAX_FRAME, &f), -EPIPE);
    close(sv[1]);

    /* send to a closed peer is -EPIPE, not SIGPIPE */
    HB_CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    close(sv[1]);
    HB_CHECK_EQ(hb__wire_send(sv[0], &w), -EPIPE);
    close(sv[0]);

    hb__wire_release(&w);
    test_fd_passing();
    printf("wire: ok\n");
    return 0;
}
