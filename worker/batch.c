/* worker/batch.c - TESTS: a batch of one plugin's self-tests run here, one
 * after another, each with its fixture (hb_setup before, hb_teardown after a
 * test that returned: the rules of hb_run_test in hotbox.h), and one
 * TEST_DONE frame per test as it ends. The frame carries where the test's
 * output ends in the worker's stdout file, so the harness can give each
 * test exactly its own output. A test that crashes ends the worker (the
 * harness reports that test and runs the rest in a fresh worker); one that
 * hangs is killed by the harness at the test's deadline. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "worker.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Where the test's output ends: the size of stdout's file once stdio is
 * flushed (O_APPEND: each write lands at the end). */
static uint64_t output_end(void)
{
    fflush(NULL);
    struct stat st;
    if (fstat(1, &st) < 0 || !S_ISREG(st.st_mode))
        return HB_PROTO_OUTPUT_UNKNOWN;
    return (uint64_t)st.st_size;
}

/* One step, `int fn(void)`: 0 with *returned, or a negative code with one
 * line in msg (no such function, an exception escaping a C++ plugin). */
static int run_step(worker *w, const char *plugin, const char *fn, const hb_sig *sig,
                    int32_t *returned, char *msg, size_t msglen)
{
    void *guard = NULL;
    int code = 0;
    void *f = hb__worker_fn(w, plugin, fn, &guard, msg, msglen, &code);
    if (!f)
        return code;
    hb_wvalue ret = {0};
    char why[512];
    int r = hb__ffi_call(f, guard, sig, NULL, 0, &ret, why, sizeof(why));
    if (r < 0) {
        snprintf(msg, msglen, "call of %s in %s: %s", fn, plugin, why);
        return r;
    }
    *returned = (int32_t)ret.n.i;
    hb__value_release(&ret);
    return 0;
}

/* Runs test i of the batch with its fixture into d. */
static void run_one(worker *w, const hb_proto_tests *q, uint32_t i, const hb_sig *sig,
                    hb_proto_test_done *d, char *msg, size_t msglen)
{
    static const char *const fixture[] = {"hb_setup", NULL, "hb_teardown"};
    uint64_t t0 = now_ns();
    *d = (hb_proto_test_done){.index = i};
    msg[0] = '\0';
    bool set_up = true, returned = true;
    for (unsigned s = 0; s < 3; s++) {
        if (s == 0 && !(q->flags & HB_PROTO_TESTS_SETUP))
            continue;
        if (s == 2 && (!(q->flags & HB_PROTO_TESTS_TEARDOWN) || !set_up || !returned))
            continue;
        if (s == 1 && !set_up)
            break; /* no test, and no teardown, after a failed setup */
        int32_t rc = 0;
        char later[512]; /* the text of a failure after the first: dropped */
        int r = run_step(w, q->plugin, fixture[s] ? fixture[s] : q->tests[i], sig, &rc,
                         d->failed_step ? later : msg, d->failed_step ? sizeof(later) : msglen);
        bool ok = r == 0 && rc == 0;
        if (!ok && !d->failed_step) { /* the first failure is the one reported */
            d->failed_step = (uint8_t)(s + 1);
            d->error = r;
            d->returned = r == 0 ? rc : 0;
        }
        if (s == 0)
            set_up = ok;
        if (s == 1)
            returned = r == 0;
    }
    d->ns = now_ns() - t0;
    d->output_end = output_end();
    d->message = msg;
}

int hb__worker_tests(worker *w, const hb_frame *f, char *msg, size_t msglen)
{
    hb_proto_tests q;
    int r = hb__proto_tests_decode(f->payload, f->len, &q);
    if (r < 0) {
        snprintf(msg, msglen, "malformed TESTS request");
        return r == -ENOMEM ? r : HB_EPROTO;
    }
    hb_sig sig;
    hb_sig_error serr;
    r = hb__sig_parse(")i", &sig, &serr);
    bool channel = true;
    for (uint32_t i = 0; r == 0 && channel && i < q.n; i++) {
        char text[1024];
        hb_proto_test_done d;
        run_one(w, &q, i, &sig, &d, text, sizeof(text));
        r = hb__proto_test_done_encode(hb__worker_out(w), f->id, &d);
        channel = r < 0 || hb__worker_send(w);
    }
    if (!channel) {
        r = 0; /* the channel failed: the worker stops, nothing more to say */
    } else if (r == 0) {
        hb__proto_empty_encode(hb__worker_out(w), HB_MSG_OK, f->id);
        hb__worker_send(w);
    } else {
        snprintf(msg, msglen, "cannot run the test batch of %s: %s", q.plugin, strerror(-r));
    }
    hb__proto_tests_release(&q);
    return r;
}
