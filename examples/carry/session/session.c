/* session: save/migrate for the state whose layout evolves, HB_CARRY for
 * the statics that should simply survive a reload (docs/state.md).
 *
 * `settings` is versioned by hand: save() writes it under schema 1 and
 * migrate() reads it back. `requests` and the function-local `calls` are
 * plain counters nobody wants to serialise: HB_CARRY marks them, and
 * hotbox copies them from the old version's memory after init and before
 * migrate, as long as their type layout (from the debug info) did not
 * change. `scratch` is neither saved nor marked: it starts fresh on every
 * reload. Edit `handle` (say, `requests += 2`) while `hotbox watch` runs and
 * the swap line says "state carried; statics: 2 carried (marked), ...". */
#include <hotbox/plugin.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct settings {
    int32_t level;
    int32_t limit;
};

static struct settings settings = {1, 100};
static int64_t requests;
HB_CARRY(requests);
static int64_t scratch;

HB_EXPORT_FN int64_t handle(int32_t n)
{
    static int64_t calls;
    HB_CARRY(calls);
    calls++;
    requests += 1;
    scratch += n;
    return requests * settings.level;
}

HB_EXPORT_FN int64_t get_requests(void)
{
    return requests;
}

HB_EXPORT_FN int64_t get_scratch(void)
{
    return scratch;
}

HB_EXPORT_FN int32_t set_level(int32_t level)
{
    settings.level = level;
    return level;
}

static int session_save(void **data, size_t *len)
{
    struct settings *p = malloc(sizeof(*p));
    if (!p)
        return -1;
    *p = settings;
    *data = p;
    *len = sizeof(*p);
    return 0;
}

static int session_migrate(const void *data, size_t len, uint32_t from_schema)
{
    if (from_schema != 1 || len != sizeof(settings))
        return -1; /* unknown layout: refuse rather than guess */
    memcpy(&settings, data, sizeof(settings));
    return 0;
}

HB_PLUGIN("session", 1, 0, 0, session_save, session_migrate);
