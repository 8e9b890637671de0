/* A test that calls abort(). */
#include <hotbox/plugin.h>
#include <stdlib.h>

HB_EXPORT_FN int hb_test_aborts(void)
{
    abort();
}

HB_PLUGIN("tabort", 1, 0, 0, 0, 0);
