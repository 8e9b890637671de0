/* The test batch messages (proto/tests.c), TESTS and TEST_DONE, against
 * the bytes PROTOCOL.md describes, built here by hand: encoded byte for
 * byte, decoded back, and out-of-range fields and cuts refused. */
#include "hbtest.h"
#include "proto.h"
#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gold.h"

static void check_frame(const hb_wbuf *w, uint8_t type, uint32_t id, const gold *p)
{
    HB_CHECK_EQ(w->len, HB_WIRE_HEADER + p->n);
    HB_CHECK_EQ(hb__wire_frame_id(w), id);
    HB_CHECK_EQ(w->data[4], type); /* header: u32 length, u8 type, 3 reserved, u32 id */
    HB_CHECK(memcmp(w->data + HB_WIRE_HEADER, p->b, p->n) == 0);
}

static void case_tests_request(void)
{
    char *names[] = {"hb_test_a", "hb_test_bb"};
    hb_proto_tests m = {.plugin = "counter", .flags = HB_PROTO_TESTS_SETUP, .n = 2,
                        .tests = names};
    hb_wbuf w = {0};
    HB_CHECK_OK(hb__proto_tests_encode(&w, 9, &m));
    gold p = {0};
    g_str(&p, "counter");
    g_u32(&p, 1);
    g_u32(&p, 2);
    g_str(&p, "hb_test_a");
    g_str(&p, "hb_test_bb");
    check_frame(&w, HB_MSG_TESTS, 9, &p);
    hb_proto_tests d;
    HB_CHECK_OK(hb__proto_tests_decode(p.b, p.n, &d));
    HB_CHECK_STR(d.plugin, "counter");
    HB_CHECK_EQ(d.flags, 1u);
    HB_CHECK_EQ(d.n, 2u);
    HB_CHECK_STR(d.tests[1], "hb_test_bb");
    hb__proto_tests_release(&d);
    /* Every cut is refused. */
    for (size_t cut = 0; cut < p.n; cut++)
        HB_CHECK_EQ(hb__proto_tests_decode(p.b, cut, &d), -EPROTO);
    /* No tests, too many, unknown flags. */
    gold bad = {0};
    g_str(&bad, "counter");
    g_u32(&bad, 0);
    g_u32(&bad, 0);
    HB_CHECK_EQ(hb__proto_tests_decode(bad.b, bad.n, &d), -EPROTO);
    bad.n = 0;
    g_str(&bad, "counter");
    g_u32(&bad, 0);
    g_u32(&bad, HB_PROTO_MAX_TESTS + 1);
    HB_CHECK_EQ(hb__proto_tests_decode(bad.b, bad.n, &d), -EPROTO);
    bad.n = 0;
    g_str(&bad, "counter");
    g_u32(&bad, 4);
    g_u32(&bad, 1);
    g_str(&bad, "hb_test_a");
    HB_CHECK_EQ(hb__proto_tests_decode(bad.b, bad.n, &d), -EPROTO);
    hb__wire_release(&w);
}

static void case_test_done(void)
{
    hb_proto_test_done m = {.index = 3, .failed_step = HB_PROTO_STEP_TEST, .error = HB_EHOOK,
                            .returned = 0, .ns = 12345, .output_end = 77,
                            .message = "std::runtime_error: boom"};
    hb_wbuf w = {0};
    HB_CHECK_OK(hb__proto_test_done_encode(&w, 9, &m));
    gold p = {0};
    g_u32(&p, 3);
    g_u8(&p, 2);
    g_u32(&p, (uint32_t)HB_EHOOK);
    g_u32(&p, 0);
    g_u64(&p, 12345);
    g_u64(&p, 77);
    g_str(&p, "std::runtime_error: boom");
    check_frame(&w, HB_MSG_TEST_DONE, 9, &p);
    hb_proto_test_done d;
    HB_CHECK_OK(hb__proto_test_done_decode(p.b, p.n, &d));
    HB_CHECK_EQ(d.index, 3u);
    HB_CHECK_EQ(d.error, HB_EHOOK);
    HB_CHECK_EQ(d.output_end, 77u);
    HB_CHECK_STR(d.message, "std::runtime_error: boom");
    hb__proto_test_done_release(&d);
    for (size_t cut = 0; cut < p.n; cut++)
        HB_CHECK_EQ(hb__proto_test_done_decode(p.b, cut, &d), -EPROTO);
    /* A step past teardown; a pass with a return value; a positive error. */
    p.b[4] = 4;
    HB_CHECK_EQ(hb__proto_test_done_decode(p.b, p.n, &d), -EPROTO);
    gold q = {0};
    g_u32(&q, 0);
    g_u8(&q, HB_PROTO_STEP_NONE);
    g_u32(&q, 0);
    g_u32(&q, 5);
    g_u64(&q, 1);
    g_u64(&q, 0);
    g_str(&q, "");
    HB_CHECK_EQ(hb__proto_test_done_decode(q.b, q.n, &d), -EPROTO);
    q.n = 0;
    g_u32(&q, 0);
    g_u8(&q, HB_PROTO_STEP_TEST);
    g_u32(&q, 5);
    g_u32(&q, 0);
    g_u64(&q, 1);
    g_u64(&q, 0);
    g_str(&q, "");
    HB_CHECK_EQ(hb__proto_test_done_decode(q.b, q.n, &d), -EPROTO);
    hb__wire_release(&w);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    if (!strcmp(argv[1], "tests_request"))
        case_tests_request();
    else if (!strcmp(argv[1], "test_done"))
        case_test_done();
    else
        return 2;
    return 0;
}
