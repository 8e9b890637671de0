/*
 * tests/hbtest.h - the assertion kit and case runner every hotbox test uses.
 *
 * One assertion kit: the HB_CHECK_* names are the public kit of
 * <hotbox/test.h> (HB_ASSERT_*, which users' test suites get), plus the few
 * checks only hotbox's own tests need (CONTAINS, SKIP). A failed assertion
 * prints the expression, both values and where, then exits 1.
 * HB_SKIP(reason) prints "SKIP: reason" and exits 77, which CTest reports
 * as skipped (SKIP_RETURN_CODE 77). Tests wait for events with timeouts
 * (poll, pidfd, replies), never with sleeps.
 *
 * One case per process: hb_test_main() runs the case argv[1] names (CTest
 * registers one test per case); without an argument it runs every case in
 * a child process of its own, one after the other (libuv's runner), so a
 * crash or leak in one case cannot hide in another's.
 */
#ifndef HB_TEST_H_INTERNAL
#define HB_TEST_H_INTERNAL

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotbox/test.h>

#define HB_FAIL_(...) HB_TEST_FAILED_(__VA_ARGS__)
#define HB_CHECK(cond) HB_ASSERT(cond)
#define HB_CHECK_INT(a, op, b) HB_ASSERT_CMP_INT_(a, op, b)
#define HB_CHECK_EQ(a, b) HB_ASSERT_EQ_INT(a, b)
#define HB_CHECK_DBL(a, b, eps) HB_ASSERT_EQ_DBL(a, b, eps)
#define HB_CHECK_STR(a, b) HB_ASSERT_EQ_STR(a, b)

#define HB_CHECK_CONTAINS(hay, needle)                                   \
    do {                                                                 \
        const char *h_ = (hay), *n_ = (needle);                          \
        if (!h_ || !strstr(h_, n_))                                      \
            HB_FAIL_("%s contains \"%s\" (it is \"%s\")", #hay, n_,      \
                     h_ ? h_ : "(null)");                                \
    } while (0)

/* An API return code that must be 0. (Not HB_ASSERT_OK: module tests do
 * not link libhotbox's hb_strerror.) */
#define HB_CHECK_OK(expr)                                                \
    do {                                                                 \
        int r_ = (expr);                                                 \
        if (r_ != 0)                                                     \
            HB_FAIL_("%s returned %d", #expr, r_);                       \
    } while (0)

#define HB_SKIP(...)                                                     \
    do {                                                                 \
        printf("SKIP: ");                                                \
        printf(__VA_ARGS__);                                             \
        printf("\n");                                                    \
        exit(77);                                                        \
    } while (0)

typedef struct hb_test_case {
    const char *name;
    void (*fn)(void);
} hb_test_case;

/* Runs one case in a child process; its exit status (0, 77 skipped, else
 * failed). */
static inline int hb_test_fork_case_(const hb_test_case *c)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        HB_FAIL_("fork for case %s", c->name);
    if (pid == 0) {
        c->fn();
        fflush(NULL);
        _exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            HB_FAIL_("waitpid for case %s", c->name);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static inline int hb_test_main(int argc, char **argv, const hb_test_case *cases, size_t n)
{
    if (argc == 2) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(argv[1], cases[i].name) == 0) {
                cases[i].fn();
                printf("PASS %s\n", argv[1]);
                return 0;
            }
        fprintf(stderr, "%s: no case %s\n", argv[0], argv[1]);
        return 2;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: %s [CASE]\n", argv[0]);
        return 2;
    }
    unsigned failed = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        int st = hb_test_fork_case_(&cases[i]);
        printf("%s %s\n", st == 0 ? "PASS" : st == 77 ? "SKIP" : "FAIL", cases[i].name);
        failed += st != 0 && st != 77;
        skipped += st == 77;
    }
    return failed ? 1 : (n && skipped == n) ? 77 : 0;
}

#endif
