/* A plugin without save/migrate: every version starts fresh. */
#include <hotbox/plugin.h>

HB_EXPORT_FN int32_t nostate_version(void)
{
    return 1;
}

HB_PLUGIN("nostate", 1, 0, 0, 0, 0);
