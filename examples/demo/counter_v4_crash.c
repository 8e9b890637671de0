/* counter v4: compiles, but its migrate hook crashes (a NULL dereference).
 * The worker dies in the middle of the swap; hotbox restarts it with v2 and
 * the state checkpoint taken just before the swap: nothing is lost. */
#include <hotbox/plugin.h>

#include <stdint.h>
#include <stddef.h>

static int64_t count;

HB_EXPORT_FN int64_t increment(void)
{
    return ++count;
}

static int migrate(const void *data, size_t len, uint32_t from_schema)
{
    volatile int64_t *p = NULL;
    (void)data;
    (void)len;
    (void)from_schema;
    count = *p; /* crashes */
    return 0;
}

HB_PLUGIN("counter", 4, 0, 0, 0, migrate);
