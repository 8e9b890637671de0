/* counter v1: state schema 1 is one int32_t, the count. */
#include <hotbox/plugin.h>

#include <stdlib.h>
#include <string.h>

static int32_t count;

HB_EXPORT_FN int32_t counter_add(int32_t n)
{
    count += n;
    return count;
}

HB_EXPORT_FN int32_t counter_get(void)
{
    return count;
}

static int init(void)
{
    count = 0;
    return 0;
}

static int save(void **data, size_t *len)
{
    int32_t *p = malloc(sizeof(*p));
    if (!p)
        return -1;
    *p = count;
    *data = p;
    *len = sizeof(*p);
    return 0;
}

static int migrate(const void *data, size_t len, uint32_t from_schema)
{
    if (from_schema != 1 || len != sizeof(int32_t))
        return -1;
    memcpy(&count, data, sizeof(count));
    return 0;
}

HB_PLUGIN("counter", 1, init, 0, save, migrate);
