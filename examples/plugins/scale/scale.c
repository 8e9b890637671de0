/* scale: a provider plugin. pricing imports scale() from it, so hotbox
 * loads scale first, and reloading scale re-binds pricing to the new
 * version (with both plugins' state carried). Change the factor, save, and
 * watch pricing's results follow. */
#include <hotbox/plugin.h>

#include <stdlib.h>
#include <string.h>

#include "scale.h"

static int64_t calls; /* state: how often scale() was called */

int64_t scale_factor(void)
{
    return 2;
}

int64_t scale(int64_t x)
{
    calls++;
    return x * scale_factor();
}

int64_t scale_calls(void)
{
    return calls;
}

static int save(void **data, size_t *len)
{
    int64_t *p = malloc(sizeof(*p));
    if (!p)
        return -1;
    *p = calls;
    *data = p;
    *len = sizeof(*p);
    return 0;
}

static int migrate(const void *data, size_t len, uint32_t from_schema)
{
    if (from_schema != 1 || len != sizeof(calls))
        return -1;
    memcpy(&calls, data, sizeof(calls));
    return 0;
}

HB_PLUGIN("scale", 1, 0, 0, save, migrate);
