/* versions/policy.c - which stored version to fall back to (policy.h says
 * which statuses count, and why). */
#include "policy.h"

bool hb_policy_fallback_ok(hb_version_status st)
{
    return st == HB_VERSION_GOOD || st == HB_VERSION_ACTIVE || st == HB_VERSION_ROLLED_BACK;
}

size_t hb_policy_fallback(const hb_version_rec *v, size_t from, uint64_t below,
                          uint64_t exclude)
{
    for (size_t i = from; i-- > 0;)
        if (v[i].version < below && v[i].version != exclude && hb_policy_fallback_ok(v[i].status))
            return i;
    return HB_POLICY_NONE;
}

size_t hb_policy_pin_target(const hb_version_rec *v, size_t n, uint64_t below)
{
    for (size_t i = n; i-- > 0;)
        if (v[i].version < below &&
            (v[i].status == HB_VERSION_GOOD || v[i].status == HB_VERSION_ACTIVE))
            return i;
    return HB_POLICY_NONE;
}

size_t hb_policy_gc_keep(const hb_version_rec *v, size_t n)
{
    for (size_t i = n; i-- > 0;)
        if (v[i].status == HB_VERSION_GOOD)
            return i;
    return HB_POLICY_NONE;
}
