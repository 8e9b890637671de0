/* Unit tests of the crash-loop policy and the probation state machine:
 * pure logic, time passed in, so every case is exact. */
#include <errno.h>
#include <stdint.h>

#include "hbtest.h"
#include "monitor.h"

#define MS 1000000ull
#define T0 (1000 * MS) /* an arbitrary monotonic origin */

static void test_backoff_sequence(void)
{
    hb_mon_policy *p = NULL;
    HB_CHECK_OK(hb_mon_policy_new(NULL, &p));
    HB_CHECK_EQ(hb_mon_backoff_ms(p, T0), 0);
    HB_CHECK(!hb_mon_should_fail(p, T0));
    /* Crashes in quick succession: 0, 10, 20, 40 ms from the last crash. */
    uint64_t expect[] = {0, 10, 20, 40};
    for (unsigned i = 0; i < 4; i++) {
        hb_mon_policy_crash(p, T0 + i * MS);
        HB_CHECK_EQ(hb_mon_backoff_ms(p, T0 + i * MS), expect[i]);
        HB_CHECK_EQ(hb_mon_policy_recent(p, T0 + i * MS), i + 1);
        HB_CHECK(!hb_mon_should_fail(p, T0 + i * MS));
    }
    /* Time already waited counts; never early (rounded up). */
    HB_CHECK_EQ(hb_mon_backoff_ms(p, T0 + 3 * MS + 15 * MS), 25);
    HB_CHECK_EQ(hb_mon_backoff_ms(p, T0 + 3 * MS + 39 * MS + 1), 1);
    HB_CHECK_EQ(hb_mon_backoff_ms(p, T0 + 3 * MS + 40 * MS), 0);
    /* The 5th crash within 10 s fails the sandbox. */
    hb_mon_policy_crash(p, T0 + 100 * MS);
    HB_CHECK(hb_mon_should_fail(p, T0 + 100 * MS));
    HB_CHECK_EQ(hb_mon_backoff_ms(p, T0 + 100 * MS), 80);
    /* ... and no longer once the first crashes leave the window. */
    HB_CHECK(hb_mon_should_fail(p, T0 + 10000 * MS - 1));
    HB_CHECK(!hb_mon_should_fail(p, T0 + 10000 * MS));
    HB_CHECK_EQ(hb_mon_policy_recent(p, T0 + 10000 * MS), 4);
    /* Long after: the window is empty, backoff restarts from 0. */
    HB_CHECK_EQ(hb_mon_policy_recent(p, T0 + 20000 * MS), 0);
    HB_CHECK_EQ(hb_mon_backoff_ms(p, T0 + 20000 * MS), 0);
    hb_mon_policy_reset(p);
    HB_CHECK_EQ(hb_mon_policy_recent(p, T0 + 100 * MS), 0);
    hb_mon_policy_free(p);
}

static void test_cap_and_options(void)
{
    hb_mon_policy_options o = HB_MON_POLICY_OPTIONS_INIT;
    o.max_crashes = 1000; /* clamped */
    o.window_ms = 60000;
    hb_mon_policy *p = NULL;
    HB_CHECK_OK(hb_mon_policy_new(&o, &p));
    for (unsigned i = 0; i < 40; i++)
        hb_mon_policy_crash(p, T0 + i * MS);
    HB_CHECK_EQ(hb_mon_backoff_ms(p, T0 + 39 * MS), 2000); /* capped at 2 s */
    HB_CHECK(!hb_mon_should_fail(p, T0 + 39 * MS));        /* 40 < 64 */
    for (unsigned i = 40; i < 64; i++)
        hb_mon_policy_crash(p, T0 + i * MS);
    HB_CHECK(hb_mon_should_fail(p, T0 + 64 * MS));
    hb_mon_policy_free(p);

    o = (hb_mon_policy_options){.max_crashes = 2, .window_ms = 100, .backoff_first_ms = 7,
                                .backoff_max_ms = 20};
    HB_CHECK_OK(hb_mon_policy_new(&o, &p));
    hb_mon_policy_crash(p, T0);
    hb_mon_policy_crash(p, T0 + 50 * MS);
    HB_CHECK(hb_mon_should_fail(p, T0 + 50 * MS));
    HB_CHECK_EQ(hb_mon_backoff_ms(p, T0 + 50 * MS), 7);
    HB_CHECK(!hb_mon_should_fail(p, T0 + 100 * MS)); /* first one left the window */
    hb_mon_policy_crash(p, T0 + 60 * MS);
    hb_mon_policy_crash(p, T0 + 70 * MS);
    HB_CHECK_EQ(hb_mon_backoff_ms(p, T0 + 70 * MS), 20); /* 7,14,28 -> cap 20 */
    hb_mon_policy_free(p);
    HB_CHECK_EQ(hb_mon_policy_new(NULL, NULL), -EINVAL);
    hb_mon_policy_free(NULL);
}

static void test_probation(void)
{
    hb_probation p;
    /* Defaults: 20 calls or 2 s, whichever first. */
    hb_probation_init(&p, NULL, T0);
    HB_CHECK_EQ(p.state, HB_PROBATION_ACTIVE);
    for (int i = 0; i < 19; i++)
        HB_CHECK_EQ(hb_probation_call_ok(&p, T0 + (uint64_t)i * MS), HB_PROBATION_ACTIVE);
    HB_CHECK_EQ(hb_probation_due_ms(&p, T0 + 500 * MS), 1500);
    HB_CHECK_EQ(hb_probation_call_ok(&p, T0 + 20 * MS), HB_PROBATION_PASSED);
    /* Final: a crash after passing is not a probation failure. */
    HB_CHECK_EQ(hb_probation_call_crashed(&p, T0 + 21 * MS), HB_PROBATION_PASSED);
    HB_CHECK_EQ(p.reason, HB_PROBATION_OK);
    HB_CHECK_EQ(hb_probation_due_ms(&p, T0), 0);

    /* Time passes it without calls. */
    hb_probation_init(&p, NULL, T0);
    HB_CHECK_EQ(hb_probation_tick(&p, T0 + 1999 * MS), HB_PROBATION_ACTIVE);
    HB_CHECK_EQ(hb_probation_tick(&p, T0 + 2000 * MS), HB_PROBATION_PASSED);

    /* A crash during probation fails it, with the reason; final. */
    hb_probation_init(&p, NULL, T0);
    hb_probation_call_ok(&p, T0 + MS);
    HB_CHECK_EQ(hb_probation_call_crashed(&p, T0 + 2 * MS), HB_PROBATION_FAILED);
    HB_CHECK_EQ(p.reason, HB_PROBATION_CRASHED);
    HB_CHECK_EQ(hb_probation_tick(&p, T0 + 5000 * MS), HB_PROBATION_FAILED);
    HB_CHECK_EQ(hb_probation_call_hung(&p, T0 + 5000 * MS), HB_PROBATION_FAILED);
    HB_CHECK_EQ(p.reason, HB_PROBATION_CRASHED); /* the first reason stays */
    HB_CHECK_STR(hb_probation_reason_name(p.reason), "a call crashed the worker");

    hb_probation_init(&p, NULL, T0);
    HB_CHECK_EQ(hb_probation_call_hung(&p, T0 + MS), HB_PROBATION_FAILED);
    HB_CHECK_EQ(p.reason, HB_PROBATION_HUNG);

    /* Self-tests gate everything: calls and time do not pass it before them. */
    hb_probation_options o = HB_PROBATION_OPTIONS_INIT;
    o.has_selftests = true;
    hb_probation_init(&p, &o, T0);
    for (int i = 0; i < 50; i++)
        hb_probation_call_ok(&p, T0 + 3000 * MS);
    HB_CHECK_EQ(hb_probation_tick(&p, T0 + 3000 * MS), HB_PROBATION_ACTIVE);
    HB_CHECK_EQ(hb_probation_selftests_passed(&p, T0 + 3001 * MS), HB_PROBATION_PASSED);
    hb_probation_init(&p, &o, T0);
    HB_CHECK_EQ(hb_probation_selftest_failed(&p, T0 + MS), HB_PROBATION_FAILED);
    HB_CHECK_EQ(p.reason, HB_PROBATION_SELFTEST_FAILED);

    /* Self-tests only: passes as soon as they pass. */
    o = (hb_probation_options){.has_selftests = true, .calls = 0, .ms = 0};
    hb_probation_init(&p, &o, T0);
    HB_CHECK_EQ(p.state, HB_PROBATION_ACTIVE);
    HB_CHECK_EQ(hb_probation_due_ms(&p, T0), UINT64_MAX);
    HB_CHECK_EQ(hb_probation_selftests_passed(&p, T0), HB_PROBATION_PASSED);

    /* Nothing configured: passes at once. */
    o = (hb_probation_options){0};
    hb_probation_init(&p, &o, T0);
    HB_CHECK_EQ(p.state, HB_PROBATION_PASSED);

    /* need_both: 3 calls AND 100 ms. */
    o = (hb_probation_options){.calls = 3, .ms = 100, .need_both = true};
    hb_probation_init(&p, &o, T0);
    for (int i = 0; i < 5; i++)
        HB_CHECK_EQ(hb_probation_call_ok(&p, T0 + 10 * MS), HB_PROBATION_ACTIVE);
    HB_CHECK_EQ(hb_probation_tick(&p, T0 + 99 * MS), HB_PROBATION_ACTIVE);
    HB_CHECK_EQ(hb_probation_tick(&p, T0 + 100 * MS), HB_PROBATION_PASSED);
    hb_probation_init(&p, &o, T0);
    HB_CHECK_EQ(hb_probation_tick(&p, T0 + 500 * MS), HB_PROBATION_ACTIVE);
    hb_probation_call_ok(&p, T0 + 501 * MS);
    hb_probation_call_ok(&p, T0 + 502 * MS);
    HB_CHECK_EQ(hb_probation_call_ok(&p, T0 + 503 * MS), HB_PROBATION_PASSED);

    /* Calls only (time not a condition). */
    o = (hb_probation_options){.calls = 2};
    hb_probation_init(&p, &o, T0);
    HB_CHECK_EQ(hb_probation_tick(&p, T0 + 100000 * MS), HB_PROBATION_ACTIVE);
    hb_probation_call_ok(&p, T0);
    HB_CHECK_EQ(hb_probation_call_ok(&p, T0), HB_PROBATION_PASSED);
    HB_CHECK_STR(hb_probation_state_name(p.state), "passed probation");
}

int main(void)
{
    test_backoff_sequence();
    test_cap_and_options();
    test_probation();
    puts("PASS test_policy");
    return 0;
}
