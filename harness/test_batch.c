/* harness/test_batch.c - hb_run_tests: a batch of one plugin's self-tests
 * in one round trip (TESTS, proto/tests.c; run by worker/batch.c), with the
 * fixture rules of hb_run_test (selftest.c), a time limit per test (each
 * TEST_DONE restarts the clock), and crash isolation: a test that crashes
 * or hangs ends the batch, the worker is recovered as after any crash, and
 * the caller goes on with the rest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_impl.h"

typedef struct batch {
    const char *const *tests;
    size_t n, done;
    hb_test_outcome *out;
    hb_test_done_fn fn;
    void *ud;
} batch;

static const char *step_name(const batch *b, size_t i, uint8_t step)
{
    return step == HB_PROTO_STEP_SETUP      ? "hb_setup"
           : step == HB_PROTO_STEP_TEARDOWN ? "hb_teardown"
                                            : b->tests[i];
}

/* TEST_DONE: the next test's outcome. Returns 1 (the next test gets a
 * fresh time limit), or HB_EPROTO for anything out of order. */
static int on_test_done(const hb_frame *f, void *ud)
{
    batch *b = ud;
    hb_proto_test_done d;
    if (f->type != HB_MSG_TEST_DONE || b->done == b->n ||
        hb__proto_test_done_decode(f->payload, f->len, &d) < 0)
        return HB_EPROTO;
    int r = 1;
    if (d.index != b->done) {
        r = HB_EPROTO;
        goto out;
    }
    hb_test_outcome *o = &b->out[b->done];
    *o = (hb_test_outcome){.output_end = d.output_end};
    o->result.passed = d.failed_step == HB_PROTO_STEP_NONE;
    o->result.ms = (double)d.ns / 1e6;
    if (!o->result.passed) {
        o->result.failed_in = step_name(b, b->done, d.failed_step);
        o->result.returned = d.error ? 0 : d.returned;
        o->result.error = d.error;
        if (d.error)
            snprintf(o->error_text, sizeof(o->error_text), "%s", d.message);
    }
    b->done++;
    if (b->fn)
        b->fn(b->ud, b->done - 1, o);
out:
    hb__proto_test_done_release(&d);
    return r;
}

/* The test the batch was in when the worker crashed or hung: its outcome,
 * then the recovery every crash gets. */
static void ended_in(hb_sandbox *sb, const char *plugin, uint64_t version, batch *b, int r,
                     const char *err)
{
    hb_test_outcome *o = &b->out[b->done];
    *o = (hb_test_outcome){.output_end = UINT64_MAX};
    o->result = (hb_test_result){.failed_in = b->tests[b->done], .error = r};
    hb__sandbox_fail(sb, r, "test %s.%s (v%llu) %s", plugin, b->tests[b->done],
                     (unsigned long long)version, err ? err : "");
    snprintf(o->error_text, sizeof(o->error_text), "%s", sb->last_error);
    b->done++;
    char *what = strdup(sb->last_error);
    hb__recover(sb, plugin, version, r, what ? what : "");
    hb_slot *s = hb__slot_find(sb, plugin);
    if (s)
        s->state_lost = false; /* this outcome already says so */
    if (what)
        hb__sandbox_set_err(sb, what);
    if (b->fn)
        b->fn(b->ud, b->done - 1, o);
}

int hb_run_tests(hb_sandbox *sb, const char *plugin, const char *const *tests, size_t n,
                 hb_test_outcome *out, size_t *ran, hb_test_done_fn done, void *ud)
{
    if (!sb || !plugin || !tests || !n || !out || !ran)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!tests[i])
            return -EINVAL;
    if (n > HB_PROTO_MAX_TESTS)
        n = HB_PROTO_MAX_TESTS; /* the rest in the caller's next batch */
    bool setup, teardown;
    int r = hb__test_fixture(sb, plugin, &setup, &teardown);
    if (r < 0 || (r = hb__ensure_worker(sb)) < 0)
        return r;
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s)
        return hb__sandbox_fail(sb, HB_ENOPLUGIN, "plugin %s is not loaded in sandbox %s",
                                plugin, sb->name);
    if ((r = hb__maybe_checkpoint(sb, s)) < 0)
        return r;
    if (!(s = hb__slot_find(sb, plugin)))
        return hb__sandbox_fail(sb, HB_ENOPLUGIN, "plugin %s was lost when its worker restarted",
                                plugin);
    s->state_lost = false; /* a restart before this batch, not a test's failure */
    uint64_t version = s->version;
    unsigned steps = 1 + setup + teardown;
    unsigned limit = hb__slot_call_timeout(sb, s) * steps;
    hb_proto_tests req = {.plugin = (char *)plugin,
                          .flags = (setup ? HB_PROTO_TESTS_SETUP : 0) |
                                   (teardown ? HB_PROTO_TESTS_TEARDOWN : 0),
                          .n = (uint32_t)n,
                          .tests = (char **)tests};
    hb_wbuf w = {0};
    hb__proto_tests_encode(&w, hb__wc_next_id(&sb->wc), &req); /* failure: wc_request says */
    batch b = {.tests = tests, .n = n, .out = out, .fn = done, .ud = ud};
    hb_frame reply;
    char *err = NULL;
    r = hb__wc_request(&sb->wc, &w, limit, on_test_done, &b, &reply, &err);
    hb__wire_release(&w);
    sb->calls += b.done * steps;
    s->calls_since_ckpt += b.done * steps;
    if (r == 0) {
        hb__frame_release(&reply);
        if (b.done != n)
            r = hb__sandbox_fail(sb, HB_EPROTO, "the worker ended a batch of %zu tests after %zu",
                                 n, b.done);
    } else if ((r == HB_ECRASHED || r == HB_EHUNG || (r == HB_EPROTO && sb->wc.pid <= 0)) &&
               b.done < n) {
        ended_in(sb, plugin, version, &b, r, err);
        r = 0;
    } else {
        hb__sandbox_fail(sb, r, "%s", err ? err : hb_strerror(r));
    }
    free(err);
    if (r < 0 && b.done == 0)
        return r;
    *ran = b.done;
    return 0;
}
