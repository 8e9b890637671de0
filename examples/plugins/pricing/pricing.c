/* pricing: a dependent plugin. It calls scale() from the scale plugin;
 * hotbox records the dependency from the imports and binds pricing to
 * whichever version of scale is live. */
#include <hotbox/plugin.h>

#include "../scale/scale.h"

int64_t price(int64_t units)
{
    return scale(units) + 1;
}

int hb_test_price_positive(void)
{
    return price(1) > 0 ? 0 : 1;
}

HB_PLUGIN("pricing", 1, 0, 0, 0, 0);
