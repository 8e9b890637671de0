/* monitor/policy.c - crash-loop policy: exponential restart backoff and the
 * decision to stop restarting. Pure bookkeeping over timestamps the caller
 * passes in; the caller does the waiting (on its own events). */
#include <errno.h>
#include <stdlib.h>

#include "monitor.h"

#define NS_PER_MS 1000000ull

struct hb_mon_policy {
    hb_mon_policy_options o;
    /* Ring of the last HB_MON_POLICY_MAX_CRASHES crash times; enough both for
     * K (clamped to it) and for the backoff, which saturates long before. */
    uint64_t at[HB_MON_POLICY_MAX_CRASHES];
    unsigned head;  /* next slot to write */
    unsigned count; /* valid entries, <= HB_MON_POLICY_MAX_CRASHES */
};

int hb_mon_policy_new(const hb_mon_policy_options *opts, hb_mon_policy **out)
{
    if (!out)
        return -EINVAL;
    hb_mon_policy *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    hb_mon_policy_options d = HB_MON_POLICY_OPTIONS_INIT;
    p->o = opts ? *opts : d;
    if (!p->o.max_crashes)
        p->o.max_crashes = d.max_crashes;
    if (p->o.max_crashes > HB_MON_POLICY_MAX_CRASHES)
        p->o.max_crashes = HB_MON_POLICY_MAX_CRASHES;
    if (!p->o.window_ms)
        p->o.window_ms = d.window_ms;
    if (!p->o.backoff_first_ms)
        p->o.backoff_first_ms = d.backoff_first_ms;
    if (!p->o.backoff_max_ms)
        p->o.backoff_max_ms = d.backoff_max_ms;
    *out = p;
    return 0;
}

void hb_mon_policy_free(hb_mon_policy *p)
{
    free(p);
}

void hb_mon_policy_crash(hb_mon_policy *p, uint64_t now_ns)
{
    p->at[p->head] = now_ns;
    p->head = (p->head + 1) % HB_MON_POLICY_MAX_CRASHES;
    if (p->count < HB_MON_POLICY_MAX_CRASHES)
        p->count++;
}

void hb_mon_policy_reset(hb_mon_policy *p)
{
    p->head = p->count = 0;
}

/* The i-th most recent crash (0 = last). */
static uint64_t nth_last(const hb_mon_policy *p, unsigned i)
{
    return p->at[(p->head + HB_MON_POLICY_MAX_CRASHES - 1 - i) % HB_MON_POLICY_MAX_CRASHES];
}

unsigned hb_mon_policy_recent(const hb_mon_policy *p, uint64_t now_ns)
{
    uint64_t window = p->o.window_ms * NS_PER_MS;
    unsigned n = 0;
    while (n < p->count) {
        uint64_t t = nth_last(p, n);
        if (t + window <= now_ns) /* older than the window (or exactly its length) */
            break;
        n++;
    }
    return n;
}

uint64_t hb_mon_backoff_ms(const hb_mon_policy *p, uint64_t now_ns)
{
    unsigned n = hb_mon_policy_recent(p, now_ns);
    if (n <= 1)
        return 0;
    uint64_t delay = p->o.backoff_first_ms;
    for (unsigned i = 2; i < n && delay < p->o.backoff_max_ms; i++)
        delay *= 2;
    if (delay > p->o.backoff_max_ms)
        delay = p->o.backoff_max_ms;
    uint64_t due = nth_last(p, 0) + delay * NS_PER_MS;
    if (due <= now_ns)
        return 0;
    return (due - now_ns + NS_PER_MS - 1) / NS_PER_MS; /* round up: never early */
}

bool hb_mon_should_fail(const hb_mon_policy *p, uint64_t now_ns)
{
    return hb_mon_policy_recent(p, now_ns) >= p->o.max_crashes;
}
