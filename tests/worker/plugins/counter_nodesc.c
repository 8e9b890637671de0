/* A "version" of counter that forgot its descriptor. */
#include <hotbox/plugin.h>

HB_EXPORT_FN int32_t counter_get(void)
{
    return -1;
}
