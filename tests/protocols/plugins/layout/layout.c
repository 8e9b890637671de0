/* RCC++ / Live++ "struct layout change" checks, ported: the struct holding
 * the state gains a member. Under an unchanged state_schema the reload is
 * refused (the old version keeps serving, its state intact); with the
 * schema bumped, migrate converts the old bytes. The tests edit LAYOUT
 * and SCHEMA with sed. */
#include <hotbox/plugin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LAYOUT 1
#define SCHEMA 1

#if LAYOUT == 1
struct player {
    int32_t hp;
};
#else
struct player {
    int64_t xp;
    int32_t hp;
};
#endif

static struct player pl = {.hp = 100};

HB_EXPORT_FN int64_t hit(void) { return --pl.hp; }
#if LAYOUT == 1
HB_EXPORT_FN int64_t xp(void) { return -1; }
#else
HB_EXPORT_FN int64_t xp(void) { return pl.xp += 10; }
#endif

static int save(void **data, size_t *len)
{
    void *p = malloc(sizeof pl);
    if (!p)
        return -1;
    memcpy(p, &pl, sizeof pl);
    *data = p;
    *len = sizeof pl;
    return 0;
}

static int migrate(const void *data, size_t len, uint32_t from_schema)
{
    if (from_schema == SCHEMA && len == sizeof pl) {
        memcpy(&pl, data, sizeof pl);
        return 0;
    }
    if (from_schema == 1 && len == sizeof(int32_t)) { /* the first layout: hp only */
        memset(&pl, 0, sizeof pl);
        memcpy(&pl.hp, data, sizeof(int32_t));
        return 0;
    }
    return -1; /* refuse, don't guess */
}

HB_PLUGIN("layout", SCHEMA, 0, 0, save, migrate);
