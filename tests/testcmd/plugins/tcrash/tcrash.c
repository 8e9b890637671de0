/* A test that dereferences NULL; the next test must still run and pass. */
#include <hotbox/plugin.h>

HB_EXPORT_FN int hb_test_a_segv(void)
{
    volatile int *p = 0;
    return *p;
}
HB_EXPORT_FN int hb_test_b_after_crash(void) { return 0; }

HB_PLUGIN("tcrash", 1, 0, 0, 0, 0);
