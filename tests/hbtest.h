/*
 * tests/hbtest.h - the tiny assertion kit every hotbox test uses.
 *
 * Each test is its own executable run by CTest with a time limit. A failed
 * assertion prints the expression, both values and where, then exits 1.
 * HB_SKIP(reason) prints "SKIP: reason" and exits 77, which CTest reports as
 * skipped (SKIP_RETURN_CODE 77). Tests wait for events with timeouts
 * (poll, pidfd, replies), never with sleeps.
 */
#ifndef HB_TEST_H_INTERNAL
#define HB_TEST_H_INTERNAL

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HB_FAIL_(...)                                                    \
    do {                                                                 \
        fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);            \
        fprintf(stderr, __VA_ARGS__);                                    \
        fputc('\n', stderr);                                             \
        exit(1);                                                         \
    } while (0)

#define HB_CHECK(cond)                                                   \
    do {                                                                 \
        if (!(cond))                                                     \
            HB_FAIL_("%s", #cond);                                       \
    } while (0)

#define HB_CHECK_INT(a, op, b)                                           \
    do {                                                                 \
        long long a_ = (long long)(a), b_ = (long long)(b);              \
        if (!(a_ op b_))                                                 \
            HB_FAIL_("%s %s %s (%lld vs %lld)", #a, #op, #b, a_, b_);    \
    } while (0)

#define HB_CHECK_EQ(a, b) HB_CHECK_INT(a, ==, b)

#define HB_CHECK_DBL(a, b, eps)                                          \
    do {                                                                 \
        double a_ = (double)(a), b_ = (double)(b);                       \
        if (!(a_ - b_ <= (eps) && b_ - a_ <= (eps)))                     \
            HB_FAIL_("%s == %s (%g vs %g)", #a, #b, a_, b_);             \
    } while (0)

#define HB_CHECK_STR(a, b)                                               \
    do {                                                                 \
        const char *a_ = (a), *b_ = (b);                                 \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                           \
            HB_FAIL_("%s == %s (\"%s\" vs \"%s\")", #a, #b,              \
                     a_ ? a_ : "(null)", b_ ? b_ : "(null)");            \
    } while (0)

#define HB_CHECK_CONTAINS(hay, needle)                                   \
    do {                                                                 \
        const char *h_ = (hay), *n_ = (needle);                          \
        if (!h_ || !strstr(h_, n_))                                      \
            HB_FAIL_("%s contains \"%s\" (it is \"%s\")", #hay, n_,      \
                     h_ ? h_ : "(null)");                                \
    } while (0)

/* Checks an API return code, printing hb_strerror-style context. */
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

#endif
