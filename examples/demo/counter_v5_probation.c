/* counter, a bad edit: it compiles, swaps in fine (its migrate reads v2's
 * state), and then crashes on the first increment. It is on probation when
 * that happens, so hotbox rolls back to v2 automatically, with the state
 * checkpointed at the swap, and marks this version bad. */
#include <hotbox/plugin.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct state_v2 {
    int64_t count;
    int64_t step;
    int64_t increments;
};

static struct state_v2 st;

HB_EXPORT_FN int64_t increment(void)
{
    volatile int64_t *p = NULL;
    st.count += *p; /* the bug: crashes */
    return st.count;
}

HB_EXPORT_FN int64_t get(void)
{
    return st.count;
}

HB_EXPORT_FN int32_t version(void)
{
    return 5;
}

static int save(void **data, size_t *len)
{
    struct state_v2 *p = malloc(sizeof(*p));
    if (!p)
        return -1;
    *p = st;
    *data = p;
    *len = sizeof(*p);
    return 0;
}

static int migrate(const void *data, size_t len, uint32_t from_schema)
{
    if (from_schema != 2 || len != sizeof(st))
        return -1;
    memcpy(&st, data, sizeof(st));
    return 0;
}

HB_PLUGIN("counter", 2, 0, 0, save, migrate);
