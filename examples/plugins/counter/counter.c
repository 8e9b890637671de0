/* counter v1: a plugin whose state survives hot reloads.
 *
 * State lives in static variables. save() writes it as bytes tagged with
 * schema 1; migrate() reads it back. Edit `increment` (say, add 10 instead
 * of 1), save, and watch the count carry across the reload. */
#include <hotbox/plugin.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int64_t count;

HB_EXPORT_FN int64_t increment(void)
{
    count += 1;
    return count;
}

HB_EXPORT_FN int64_t get(void)
{
    return count;
}

HB_EXPORT_FN int32_t version(void)
{
    return 1;
}

/* A self-test: hotbox runs every exported hb_test_* after a swap. */
HB_EXPORT_FN int hb_test_count_not_negative(void)
{
    return count >= 0 ? 0 : 1;
}

static int counter_save(void **data, size_t *len)
{
    int64_t *p = malloc(sizeof(*p));
    if (!p)
        return -1;
    *p = count;
    *data = p;
    *len = sizeof(*p);
    return 0;
}

static int counter_migrate(const void *data, size_t len, uint32_t from_schema)
{
    if (from_schema != 1 || len != sizeof(int64_t))
        return -1; /* unknown layout: refuse rather than guess */
    memcpy(&count, data, sizeof(count));
    return 0;
}

HB_PLUGIN("counter", 1, 0, 0, counter_save, counter_migrate);
