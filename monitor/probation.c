/* monitor/probation.c - the probation of a freshly swapped version: pure,
 * deterministic logic fed with events and the current time. */
#include <stdint.h>

#include "monitor.h"
#include "util.h"

#define NS_PER_MS 1000000ull

void hb_probation_init(hb_probation *p, const hb_probation_options *opts, uint64_t now_ns)
{
    hb_probation_options d = HB_PROBATION_OPTIONS_INIT;
    p->opts = opts ? *opts : d;
    p->state = HB_PROBATION_ACTIVE;
    p->reason = HB_PROBATION_OK;
    p->start_ns = now_ns;
    p->calls_ok = 0;
    p->selftests_passed = false;
    hb_probation_tick(p, now_ns);
}

static bool time_met(const hb_probation *p, uint64_t now_ns)
{
    return now_ns >= p->start_ns && now_ns - p->start_ns >= (uint64_t)p->opts.ms * NS_PER_MS;
}

/* Re-evaluates the pass conditions of an ACTIVE probation. */
static hb_probation_state evaluate(hb_probation *p, uint64_t now_ns)
{
    if (p->state != HB_PROBATION_ACTIVE)
        return p->state;
    if (p->opts.has_selftests && !p->selftests_passed)
        return p->state;
    bool has_calls = p->opts.calls > 0, has_time = p->opts.ms > 0;
    bool calls = has_calls && p->calls_ok >= p->opts.calls;
    bool time = has_time && time_met(p, now_ns);
    bool pass;
    if (!has_calls && !has_time)
        pass = true; /* self-tests (if any) were the only condition */
    else if (p->opts.need_both)
        pass = (!has_calls || calls) && (!has_time || time);
    else
        pass = calls || time;
    if (pass)
        p->state = HB_PROBATION_PASSED;
    return p->state;
}

static hb_probation_state fail(hb_probation *p, hb_probation_reason why)
{
    if (p->state == HB_PROBATION_ACTIVE) {
        p->state = HB_PROBATION_FAILED;
        p->reason = why;
    }
    return p->state;
}

hb_probation_state hb_probation_call_ok(hb_probation *p, uint64_t now_ns)
{
    if (p->state == HB_PROBATION_ACTIVE)
        p->calls_ok++;
    return evaluate(p, now_ns);
}

hb_probation_state hb_probation_call_crashed(hb_probation *p, uint64_t now_ns)
{
    (void)now_ns;
    return fail(p, HB_PROBATION_CRASHED);
}

hb_probation_state hb_probation_call_hung(hb_probation *p, uint64_t now_ns)
{
    (void)now_ns;
    return fail(p, HB_PROBATION_HUNG);
}

hb_probation_state hb_probation_selftests_passed(hb_probation *p, uint64_t now_ns)
{
    if (p->state == HB_PROBATION_ACTIVE)
        p->selftests_passed = true;
    return evaluate(p, now_ns);
}

hb_probation_state hb_probation_selftest_failed(hb_probation *p, uint64_t now_ns)
{
    (void)now_ns;
    return fail(p, HB_PROBATION_SELFTEST_FAILED);
}

hb_probation_state hb_probation_tick(hb_probation *p, uint64_t now_ns)
{
    return evaluate(p, now_ns);
}

uint64_t hb_probation_due_ms(const hb_probation *p, uint64_t now_ns)
{
    if (p->state != HB_PROBATION_ACTIVE)
        return 0;
    if (!p->opts.ms)
        return UINT64_MAX;
    uint64_t due = p->start_ns + (uint64_t)p->opts.ms * NS_PER_MS;
    return due <= now_ns ? 0 : (due - now_ns + NS_PER_MS - 1) / NS_PER_MS;
}

HB_ENUM_NAMES(hb_probation_state_name, hb_probation_state,
              [HB_PROBATION_ACTIVE] = "on probation", [HB_PROBATION_PASSED] = "passed probation",
              [HB_PROBATION_FAILED] = "failed probation")

HB_ENUM_NAMES(hb_probation_reason_name, hb_probation_reason, [HB_PROBATION_OK] = "no failure",
              [HB_PROBATION_CRASHED] = "a call crashed the worker",
              [HB_PROBATION_HUNG] = "a call hung",
              [HB_PROBATION_SELFTEST_FAILED] = "a self-test failed")
