/* A counter whose migrate refuses every blob. */
#include <hotbox/plugin.h>

HB_EXPORT_FN int32_t counter_get(void)
{
    return 999;
}

static int migrate(const void *data, size_t len, uint32_t from_schema)
{
    (void)data;
    (void)len;
    (void)from_schema;
    return -1;
}

HB_PLUGIN("counter", 9, 0, 0, 0, migrate);
