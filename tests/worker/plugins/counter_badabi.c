/* A descriptor written for a future plugin ABI. */
#include <hotbox/plugin.h>

static int init(void)
{
    return 0;
}

HB_PLUGIN_API const hb_plugin_descriptor hb_plugin = {
    99u, (uint32_t)sizeof(hb_plugin_descriptor), "counter", 3, 0, init, 0, 0, 0};

HB_EXPORT_FN int32_t counter_get(void)
{
    return -1;
}
