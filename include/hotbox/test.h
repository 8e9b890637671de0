/*
 * hotbox/test.h - helpers for C test suites that drive plugins through
 * libhotbox (link -lhotbox, include this header).
 *
 * A test sandbox bundles what a test needs: a manager whose state directory
 * is a private temporary directory, one sandbox (one worker process), and a
 * private copy of the plugin's sources, loaded. Tests may edit that copy
 * (hb_test_write_source) without touching the original tree.
 *
 * Events. The manager's event callback records every event in the test
 * sandbox (the most recent 4096). hotbox raises events synchronously, on
 * the thread that makes the API call that causes them, before the call
 * returns (see hotbox/hotbox.h). So hb_test_wait_event() finds an event
 * that already happened, or one raised meanwhile by a call another thread
 * makes on this test sandbox; it never sleeps for a fixed time, and a
 * timeout is the failure path. Each recorded event satisfies one wait:
 * waiting twice for "swapped" needs two swaps.
 *
 * Threads. One test sandbox is used by one thread at a time, except that
 * hb_test_wait_event() may wait on one thread while another makes calls.
 *
 * Cleanup. hb_test_sandbox_free() stops the worker and checks that the
 * process is gone (killing it if it is not). Test sandboxes still open when
 * the program exits (say, after a failed HB_ASSERT_*, which calls exit(1))
 * are freed by an atexit handler, so a failing test leaves no worker.
 */
#ifndef HOTBOX_TEST_H
#define HOTBOX_TEST_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotbox/hotbox.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hb_test_sandbox hb_test_sandbox;

/* Copies the regular files of plugin_dir into a private temporary
 * directory (same base name, so the plugin keeps its name), creates a
 * manager (state in that temporary directory, HOTBOX_WORKER honoured) and a
 * sandbox, and loads the plugin. On a load failure returns the code (for a
 * compile error HB_ECOMPILE) and prints nothing; *out is untouched. */
HB_EXTERN int hb_test_sandbox_new(const char *plugin_dir, hb_test_sandbox **out);

/* Frees the sandbox, the manager and the temporary directory, then makes
 * sure the worker process is gone: returns 0 when it exited, -ETIMEDOUT when
 * it had to be killed after 5 s. Accepts NULL (returns 0). Unlike the other
 * _free functions it returns a code, so a test can assert no worker was
 * left behind. */
HB_EXTERN int hb_test_sandbox_free(hb_test_sandbox *ts);

/* The underlying handles, for hb_callf() and friends. Owned by ts. */
HB_EXTERN hb_sandbox *hb_test_sandbox_handle(hb_test_sandbox *ts);
HB_EXTERN hb_manager *hb_test_sandbox_manager(hb_test_sandbox *ts);
/* The plugin's name and the directory of the private copy of its sources. */
HB_EXTERN const char *hb_test_sandbox_plugin(hb_test_sandbox *ts);
HB_EXTERN const char *hb_test_sandbox_dir(hb_test_sandbox *ts);

/* Waits until an event of `type` has been recorded that no earlier wait
 * took, about `plugin` (NULL: any) and `version` (0: any), and takes it.
 * Returns 0, or -ETIMEDOUT after timeout_ms. */
HB_EXTERN int hb_test_wait_event(hb_test_sandbox *ts, hb_event_type type, const char *plugin,
                                 uint64_t version, unsigned timeout_ms);

/* Writes `text` as the file `file` (a plain name, no '/') of the plugin's
 * private source copy, atomically (temporary file + rename), then reloads
 * the plugin and checks that the rebuilt version is live. On success
 * *version_out (when not NULL) receives the active version: a new number,
 * or the same one when the text did not change the sources. A compile error
 * or a refused swap returns that code (details: hb_sandbox_last_error()).
 * The reload is synchronous; -ETIMEDOUT when it took longer than timeout_ms
 * (0: no limit beyond the manager's compile and swap timeouts). */
HB_EXTERN int hb_test_write_source(hb_test_sandbox *ts, const char *file, const char *text,
                                   unsigned timeout_ms, uint64_t *version_out);

/* ---- assertions --------------------------------------------------------- */

/* Each assertion prints the expression, both values and the location to
 * stderr, then runs HB_TEST_FAIL_ACTION (default: exit(1), which frees any
 * open test sandbox). Define HB_TEST_FAIL_ACTION before including this
 * header to do something else (e.g. `return 1`). */
#ifndef HB_TEST_FAIL_ACTION
#define HB_TEST_FAIL_ACTION exit(1)
#endif

#define HB_TEST_FAILED_(...)                                                 \
    do {                                                                     \
        fprintf(stderr, "%s:%d: assertion failed: ", __FILE__, __LINE__);    \
        fprintf(stderr, __VA_ARGS__);                                        \
        fputc('\n', stderr);                                                 \
        HB_TEST_FAIL_ACTION;                                                 \
    } while (0)

#define HB_ASSERT(cond)                                                      \
    do {                                                                     \
        if (!(cond))                                                         \
            HB_TEST_FAILED_("%s", #cond);                                    \
    } while (0)

#define HB_ASSERT_CMP_INT_(a, op, b)                                         \
    do {                                                                     \
        long long hb_a_ = (long long)(a), hb_b_ = (long long)(b);            \
        if (!(hb_a_ op hb_b_))                                               \
            HB_TEST_FAILED_("%s %s %s (%lld vs %lld)", #a, #op, #b, hb_a_,   \
                            hb_b_);                                          \
    } while (0)

#define HB_ASSERT_EQ_INT(a, b) HB_ASSERT_CMP_INT_(a, ==, b)
#define HB_ASSERT_NE_INT(a, b) HB_ASSERT_CMP_INT_(a, !=, b)
#define HB_ASSERT_LT_INT(a, b) HB_ASSERT_CMP_INT_(a, <, b)
#define HB_ASSERT_GT_INT(a, b) HB_ASSERT_CMP_INT_(a, >, b)

#define HB_ASSERT_EQ_U64(a, b)                                               \
    do {                                                                     \
        uint64_t hb_a_ = (uint64_t)(a), hb_b_ = (uint64_t)(b);               \
        if (hb_a_ != hb_b_)                                                  \
            HB_TEST_FAILED_("%s == %s (%" PRIu64 " vs %" PRIu64 ")", #a, #b, \
                            hb_a_, hb_b_);                                   \
    } while (0)

#define HB_ASSERT_EQ_DBL(a, b, eps)                                          \
    do {                                                                     \
        double hb_a_ = (double)(a), hb_b_ = (double)(b);                     \
        if (!(hb_a_ - hb_b_ <= (eps) && hb_b_ - hb_a_ <= (eps)))             \
            HB_TEST_FAILED_("%s == %s (%.17g vs %.17g)", #a, #b, hb_a_,      \
                            hb_b_);                                          \
    } while (0)

#define HB_ASSERT_EQ_STR(a, b)                                               \
    do {                                                                     \
        const char *hb_a_ = (a), *hb_b_ = (b);                               \
        if (!hb_a_ || !hb_b_ || strcmp(hb_a_, hb_b_) != 0)                   \
            HB_TEST_FAILED_("%s == %s (\"%s\" vs \"%s\")", #a, #b,           \
                            hb_a_ ? hb_a_ : "(null)",                        \
                            hb_b_ ? hb_b_ : "(null)");                       \
    } while (0)

/* An API call that must return 0; prints the code's name on failure. */
#define HB_ASSERT_OK(expr)                                                   \
    do {                                                                     \
        int hb_r_ = (expr);                                                  \
        if (hb_r_ != 0)                                                      \
            HB_TEST_FAILED_("%s returned %d (%s)", #expr, hb_r_,             \
                            hb_strerror(hb_r_));                             \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif /* HOTBOX_TEST_H */
