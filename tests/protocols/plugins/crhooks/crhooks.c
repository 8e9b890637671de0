/* cr.h's crash test, ported: a new version that crashes in its first call
 * is rolled back, and the previous version serves again with the state it
 * had when the new one was swapped in (its checkpoint, through save). The
 * tests set CRASH to 1 with sed. */
#include <hotbox/plugin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CRASH 0

static int64_t counter;

HB_EXPORT_FN int64_t bump(void)
{
    if (CRASH)
        *(volatile int *)0 = 1;
    return ++counter;
}

static int save(void **data, size_t *len)
{
    int64_t *p = malloc(sizeof *p);
    if (!p)
        return -1;
    *p = counter;
    *data = p;
    *len = sizeof *p;
    return 0;
}

static int migrate(const void *data, size_t len, uint32_t from_schema)
{
    if (from_schema != 1 || len != sizeof counter)
        return -1;
    memcpy(&counter, data, sizeof counter);
    return 0;
}

HB_PLUGIN("crhooks", 1, 0, 0, save, migrate);
