/* counter v2: state schema 2 widens the count to 64 bits and adds a count of
 * add() calls, so carrying v1's state needs a real conversion. */
#include <hotbox/plugin.h>

#include <stdlib.h>
#include <string.h>

struct state2 {
    uint32_t adds;
    uint32_t magic; /* 0xC0FFEE02, catches a v1 blob taken for a v2 one */
    int64_t total;
};

static struct state2 st;

HB_EXPORT_FN int32_t counter_add(int32_t n)
{
    st.total += n;
    st.adds++;
    return (int32_t)st.total;
}

HB_EXPORT_FN int32_t counter_get(void)
{
    return (int32_t)st.total;
}

HB_EXPORT_FN uint32_t counter_adds(void)
{
    return st.adds;
}

static int init(void)
{
    st = (struct state2){0, 0xC0FFEE02u, 0};
    return 0;
}

static int save(void **data, size_t *len)
{
    struct state2 *p = malloc(sizeof(*p));
    if (!p)
        return -1;
    *p = st;
    *data = p;
    *len = sizeof(*p);
    return 0;
}

static int migrate(const void *data, size_t len, uint32_t from_schema)
{
    if (from_schema == 1 && len == sizeof(int32_t)) {
        int32_t old;
        memcpy(&old, data, sizeof(old));
        st.total = old;
        st.adds = 0;
        return 0;
    }
    if (from_schema == 2 && len == sizeof(st)) {
        memcpy(&st, data, sizeof(st));
        return st.magic == 0xC0FFEE02u ? 0 : -1;
    }
    return -1;
}

HB_PLUGIN("counter", 2, init, 0, save, migrate);
