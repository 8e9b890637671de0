/* A test that calls exit(0) mid-test: the worker is gone, the test fails. */
#include <hotbox/plugin.h>
#include <stdlib.h>

HB_EXPORT_FN int hb_test_exits(void)
{
    exit(0);
}
HB_EXPORT_FN int hb_test_z_after_exit(void) { return 0; }

HB_PLUGIN("texit", 1, 0, 0, 0, 0);
