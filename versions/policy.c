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

/* The statuses hb_policy_fallback_ok accepts, as a set of bits. */
static unsigned fallback_set(void)
{
    unsigned set = 0;
    for (unsigned st = 0; st <= HB_VERSION_ROLLED_BACK; st++)
        if (hb_policy_fallback_ok((hb_version_status)st))
            set |= 1u << st;
    return set;
}

int hb_policy_fallback_find(hb_store *s, const char *plugin, uint64_t below, uint64_t exclude,
                            hb_version_rec *out)
{
    return hb_store_newest_of(s, plugin, fallback_set(), below, exclude, out);
}

int hb_policy_fallback_version(hb_store *s, const char *plugin, uint64_t below,
                               uint64_t exclude, uint64_t *out)
{
    return hb_store_newest_version(s, plugin, fallback_set(), below, exclude, out);
}

int hb_policy_pin_find(hb_store *s, const char *plugin, uint64_t below, hb_version_rec *out)
{
    return hb_store_newest_of(s, plugin, 1u << HB_VERSION_GOOD | 1u << HB_VERSION_ACTIVE, below,
                              0, out);
}

size_t hb_policy_gc_keep(const hb_version_rec *v, size_t n)
{
    for (size_t i = n; i-- > 0;)
        if (v[i].status == HB_VERSION_GOOD)
            return i;
    return HB_POLICY_NONE;
}
