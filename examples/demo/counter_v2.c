/* counter v2: new behaviour (steps by `step`) and a new state layout
 * (schema 2 adds the step and the number of increments). migrate() converts
 * schema-1 bytes written by v1 and restores its own schema-2 bytes. */
#include <hotbox/plugin.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct state_v2 {
    int64_t count;
    int64_t step;
    int64_t increments;
};

static struct state_v2 st = {0, 10, 0};

HB_EXPORT_FN int64_t increment(void)
{
    st.count += st.step;
    st.increments += 1;
    return st.count;
}

HB_EXPORT_FN int64_t get(void)
{
    return st.count;
}

HB_EXPORT_FN int64_t increments(void)
{
    return st.increments;
}

HB_EXPORT_FN int32_t version(void)
{
    return 2;
}

HB_EXPORT_FN int hb_test_step_positive(void)
{
    return st.step > 0 ? 0 : 1;
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
    if (from_schema == 1 && len == sizeof(int64_t)) {
        memcpy(&st.count, data, sizeof(int64_t)); /* v1 kept only the count */
        st.step = 10;
        st.increments = 0;
        return 0;
    }
    if (from_schema == 2 && len == sizeof(st)) {
        memcpy(&st, data, sizeof(st));
        return 0;
    }
    return -1;
}

HB_PLUGIN("counter", 2, 0, 0, save, migrate);
