/* proto/tests.c - the test batch messages: TESTS (a plugin's self-tests,
 * run in the worker one after another) and its interim TEST_DONE (one per
 * test, in order). Layout in proto.h and PROTOCOL.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "proto_int.h"

int hb__proto_tests_encode(hb_wbuf *w, uint32_t id, const hb_proto_tests *m)
{
    hb__wire_begin(w, HB_MSG_TESTS, id);
    hb__wire_put_str(w, m->plugin);
    hb__wire_put_u32(w, m->flags);
    hb__wire_put_u32(w, m->n);
    for (uint32_t i = 0; i < m->n; i++)
        hb__wire_put_str(w, m->tests[i]);
    return hb__wire_finish(w);
}

void hb__proto_tests_release(hb_proto_tests *m)
{
    free(m->plugin);
    for (uint32_t i = 0; m->tests && i < m->n; i++)
        free(m->tests[i]);
    free(m->tests);
    memset(m, 0, sizeof(*m));
}

int hb__proto_tests_decode(const void *payload, size_t len, hb_proto_tests *out)
{
    hb_rbuf r;
    hb_proto_tests q = {0};
    hb__rbuf_init(&r, payload, len);
    int rc = hb__proto_get_str(&r, HB_PROTO_MAX_STR, &q.plugin);
    uint32_t flags = 0, n = 0;
    hb__wire_get_u32(&r, &flags);
    hb__wire_get_u32(&r, &n);
    if (rc == 0 && !r.failed &&
        (n == 0 || n > HB_PROTO_MAX_TESTS ||
         (flags & ~(HB_PROTO_TESTS_SETUP | HB_PROTO_TESTS_TEARDOWN))))
        rc = -EPROTO;
    if (rc == 0 && !r.failed && !(q.tests = calloc(n, sizeof(char *))))
        rc = -ENOMEM;
    for (uint32_t i = 0; rc == 0 && q.tests && i < n; i++) {
        rc = hb__proto_get_str(&r, HB_PROTO_MAX_STR, &q.tests[i]);
        q.n = i + 1;
    }
    rc = hb__proto_finish(&r, rc);
    if (rc < 0) {
        hb__proto_tests_release(&q);
        return rc;
    }
    q.flags = flags;
    q.n = n;
    *out = q;
    return 0;
}

int hb__proto_test_done_encode(hb_wbuf *w, uint32_t id, const hb_proto_test_done *m)
{
    hb__wire_begin(w, HB_MSG_TEST_DONE, id);
    hb__wire_put_u32(w, m->index);
    hb__wire_put_u8(w, m->failed_step);
    hb__wire_put_u32(w, (uint32_t)m->error);
    hb__wire_put_u32(w, (uint32_t)m->returned);
    hb__wire_put_u64(w, m->ns);
    hb__wire_put_u64(w, m->output_end);
    hb__wire_put_str(w, m->message);
    return hb__wire_finish(w);
}

void hb__proto_test_done_release(hb_proto_test_done *m)
{
    free(m->message);
    m->message = NULL;
}

int hb__proto_test_done_decode(const void *payload, size_t len, hb_proto_test_done *out)
{
    hb_rbuf r;
    hb_proto_test_done q = {0};
    uint32_t error = 0, returned = 0;
    hb__rbuf_init(&r, payload, len);
    hb__wire_get_u32(&r, &q.index);
    hb__wire_get_u8(&r, &q.failed_step);
    hb__wire_get_u32(&r, &error);
    hb__wire_get_u32(&r, &returned);
    hb__wire_get_u64(&r, &q.ns);
    hb__wire_get_u64(&r, &q.output_end);
    int rc = hb__proto_get_str(&r, HB_PROTO_MAX_ERR, &q.message);
    q.error = (int32_t)error;
    q.returned = (int32_t)returned;
    if (rc == 0 && (q.failed_step > HB_PROTO_STEP_TEARDOWN || q.error > 0 ||
                    (q.failed_step == HB_PROTO_STEP_NONE && (q.error || q.returned))))
        rc = -EPROTO;
    rc = hb__proto_finish(&r, rc);
    if (rc < 0) {
        hb__proto_test_done_release(&q);
        return rc;
    }
    *out = q;
    return 0;
}
