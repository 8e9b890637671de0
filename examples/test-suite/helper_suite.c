/* examples/test-suite/helper_suite.c - a test suite written with the
 * test-helper API (hotbox/test.h) against the counter example plugin:
 * one-call sandbox, waiting on events instead of sleeping, assertions that
 * print both values, a fixture that writes a new source version and waits
 * until it is live, and cleanup that proves no worker is left.
 *
 *     cc helper_suite.c $(pkg-config --cflags --libs hotbox) -lpthread -o helper_suite
 *     ./helper_suite path/to/examples/plugins/counter
 *
 * The original directory is never modified: the helper works on a copy. */
#include <hotbox/test.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The counter's source with its increment changed from 1 to `step`. */
static char *counter_source(hb_test_sandbox *ts, int step)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/counter.c", hb_test_sandbox_dir(ts));
    FILE *f = fopen(path, "r");
    HB_ASSERT(f != NULL);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *at = strstr(buf, "count += 1;");
    HB_ASSERT(at != NULL);
    char *out = malloc(n + 32);
    HB_ASSERT(out != NULL);
    snprintf(out, n + 32, "%.*scount += %d;%s", (int)(at - buf), buf, step, at + strlen("count += 1;"));
    return out;
}

typedef struct waiter {
    hb_test_sandbox *ts;
    uint64_t version;
    int result;
} waiter;

static void *wait_for_swap(void *arg)
{
    waiter *w = arg;
    w->result = hb_test_wait_event(w->ts, HB_EVENT_SWAPPED, "counter", w->version, 30000);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s COUNTER_PLUGIN_DIR\n", argv[0]);
        return 2;
    }
    hb_test_sandbox *ts = NULL;
    HB_ASSERT_OK(hb_test_sandbox_new(argv[1], &ts));
    hb_sandbox *sb = hb_test_sandbox_handle(ts);
    HB_ASSERT_EQ_STR(hb_test_sandbox_plugin(ts), "counter");
    /* The load already happened: waiting finds the recorded event. */
    HB_ASSERT_OK(hb_test_wait_event(ts, HB_EVENT_LOADED, "counter", 1, 1000));

    int64_t v = 0;
    for (int i = 0; i < 3; i++)
        HB_ASSERT_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_ASSERT_EQ_INT(v, 3);

    /* Another thread waits for the swap to v2 while this one causes it. */
    waiter w = {ts, 2, -1};
    pthread_t th;
    HB_ASSERT_EQ_INT(pthread_create(&th, NULL, wait_for_swap, &w), 0);
    char *src = counter_source(ts, 5);
    uint64_t version = 0;
    HB_ASSERT_OK(hb_test_write_source(ts, "counter.c", src, 60000, &version));
    free(src);
    pthread_join(th, NULL);
    HB_ASSERT_OK(w.result);
    HB_ASSERT_EQ_U64(version, 2);
    HB_ASSERT_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_ASSERT_EQ_INT(v, 8); /* state carried (3), new step (+5) */

    /* A source that does not compile: the error comes back, v2 keeps serving. */
    int r = hb_test_write_source(ts, "counter.c", "this is not C\n", 60000, &version);
    HB_ASSERT_EQ_INT(r, HB_ECOMPILE);
    HB_ASSERT_OK(hb_test_wait_event(ts, HB_EVENT_COMPILE_FAILED, "counter", 0, 1000));
    HB_ASSERT_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_ASSERT_EQ_INT(v, 13);

    /* An event that does not come: the wait times out, it does not hang. */
    HB_ASSERT_EQ_INT(hb_test_wait_event(ts, HB_EVENT_CRASHED, NULL, 0, 50), -ETIMEDOUT);

    HB_ASSERT_OK(hb_rollback(sb, "counter", 1));
    HB_ASSERT_OK(hb_test_wait_event(ts, HB_EVENT_ROLLED_BACK, "counter", 1, 1000));
    HB_ASSERT_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_ASSERT_EQ_INT(v, 14);

    int pid = hb_sandbox_worker_pid(sb);
    HB_ASSERT_GT_INT(pid, 0);
    HB_ASSERT_OK(hb_test_sandbox_free(ts)); /* 0: the worker is gone */
    printf("helper_suite passed\n");
    return 0;
}
